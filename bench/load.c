/* load.c — dm_load, the ingest load generator: posts Mackerel JSON batches (or
 * VictoriaMetrics JSON lines, --format vm) over N keep-alive connections on one libuv loop,
 * and prints points/s, requests/s and request latency. --format graphite writes Graphite
 * plaintext lines (`<name> <value> <time>\n`) instead, over N plain TCP connections, or
 * with --udp as datagrams of whole lines: see "graphite plaintext" below.
 *
 * The point stream: S series (host<h> x custom.metric.<n>), visited in rounds. Point p is
 * series p % S at time start + (p / S) * step, so every point is new (never an overwrite)
 * and consecutive batches walk forward in time. --days D backfills D days ending now
 * (start = now - D days, D*86400/step rounds). Values follow three shapes, chosen per series
 * so the on-disk size is measured on data that looks like monitoring data: 40% counters
 * (integers growing by 0..99 a step), 30% gauges (one decimal, random walk in 0..100),
 * 30% near-constant (a fixed value that changes about once a day).
 *
 * Bodies are not formatted per point: every series' JSON prefix (hostId, name) is built
 * once, and a request body is a run of memcpy's plus fixed-width integer digits for time
 * and value, about 20 ns a point; one client thread produces far more than 1M points/s
 * (`dm_load --url 127.0.0.1:1 --gen-only --points 10000000` measures it without a server).
 * A connection has one request in flight; its next one starts after the answer and the
 * end of the write.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "bench_http.h"

/* Writes v (>= 0) in decimal into b; returns the digit count. */
static size_t put_u64(char *b, uint64_t v) {
  char tmp[24];
  size_t n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v != 0);
  for (size_t i = 0; i < n; i++) b[i] = tmp[n - 1 - i];
  return n;
}

/* ---- options and the point stream ---------------------------------------------------- */

enum { FMT_MACKEREL, FMT_VM, FMT_GRAPHITE };

static struct {
  bh_url url;
  int conns;
  int batch;
  int64_t series, hosts, names;
  double duration;
  int64_t points; /* total; 0 = by duration */
  int64_t start, step;
  int days;
  int format;
  const char *path;
  const char *key;
  int quiet;
  int gen_only;
  const char *names_tmpl; /* graphite: series name, {h} = host number, {n} = name number */
  int udp;                /* graphite: datagrams instead of TCP */
  int datagram;           /* graphite --udp: most bytes a datagram */
  double rate;            /* graphite: points/s over all connections, 0 = as fast as possible */
} opt = {.conns = 4, .batch = 5000, .series = 10000, .names = 10, .step = 60,
         .names_tmpl = "bench.h{h}.m{n}", .datagram = 1400};

typedef struct {
  char *prefix; /* `{"hostId":"host00001","name":"custom.metric.3","time":` or vm's */
  size_t prefix_len;
  int shape;    /* 0 counter, 1 gauge, 2 near-constant */
  int64_t base; /* shape parameter */
} series_t;

static series_t *series;
static int64_t next_point; /* next point index to send */
static int64_t total_points = INT64_MAX;
static uint64_t stop_at_ns;
static int stopping;

static uint64_t mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

static void build_series(void) {
  series = calloc((size_t)opt.series, sizeof *series);
  if (series == NULL) exit(2);
  for (int64_t i = 0; i < opt.series; i++) {
    bh_sbuf b = {0};
    int64_t h = i / opt.names, n = i % opt.names;
    if (opt.format == FMT_GRAPHITE) {
      for (const char *t = opt.names_tmpl; *t; t++) {
        if (t[0] == '{' && (t[1] == 'h' || t[1] == 'n') && t[2] == '}') {
          bh_sb_printf(&b, "%" PRId64, t[1] == 'h' ? h : n);
          t += 2;
        } else {
          bh_sb_add(&b, t, 1);
        }
      }
      bh_sb_add(&b, " ", 1);
    } else if (opt.format == FMT_VM)
      bh_sb_printf(&b, "{\"metric\":{\"__name__\":\"custom.metric.%" PRId64 "\",\"host\":\"host%05"
                PRId64 "\"},\"values\":[", n, h);
    else
      bh_sb_printf(&b, "{\"hostId\":\"host%05" PRId64 "\",\"name\":\"custom.metric.%" PRId64
                "\",\"time\":", h, n);
    /* a copy of its own size: a bh_sbuf starts at 4 KiB, a page per series (1 M series
     * would touch 4 GiB) */
    series[i].prefix = malloc(b.len);
    if (series[i].prefix == NULL) exit(2);
    memcpy(series[i].prefix, b.data, b.len);
    series[i].prefix_len = b.len;
    free(b.data);
    uint64_t r = mix64((uint64_t)i + 1);
    series[i].shape = (int)(r % 10) < 4 ? 0 : (int)(r % 10) < 7 ? 1 : 2;
    series[i].base = (int64_t)((r >> 8) % 100000);
  }
}

/* The value of series i at round r, as fixed-point with one decimal (value * 10). */
static int64_t value_x10(const series_t *s, int64_t i, int64_t r) {
  switch (s->shape) {
  case 0: { /* counter: base + sum of per-step increments 0..99 (a cheap closed form) */
    return (s->base + r * 50 + (int64_t)(mix64((uint64_t)(i * 7919 + r)) % 50)) * 10;
  }
  case 1: { /* gauge 0..100 with one decimal: smooth in r */
    int64_t x = (s->base + r * 3 + (int64_t)(mix64((uint64_t)(i * 31 + r)) % 7)) % 2000;
    return x <= 1000 ? x : 2000 - x;
  }
  default: /* changes about once a day */
    return (s->base + (r * opt.step + i) / 86400) * 10;
  }
}

/* Appends point p to body b. */
static void add_point(bh_sbuf *b, int64_t p) {
  int64_t i = p % opt.series, r = p / opt.series;
  const series_t *s = &series[i];
  int64_t t = opt.start + r * opt.step;
  int64_t v = value_x10(s, i, r);
  bh_sb_reserve(b, s->prefix_len + 96);
  char *w = b->data + b->len;
  memcpy(w, s->prefix, s->prefix_len);
  w += s->prefix_len;
  if (opt.format == FMT_GRAPHITE) {
    w += put_u64(w, (uint64_t)(v / 10));
    *w++ = '.';
    *w++ = (char)('0' + v % 10);
    *w++ = ' ';
    w += put_u64(w, (uint64_t)t);
    *w++ = '\n';
  } else if (opt.format == FMT_VM) {
    w += put_u64(w, (uint64_t)(v / 10));
    *w++ = '.';
    *w++ = (char)('0' + v % 10);
    memcpy(w, "],\"timestamps\":[", 16);
    w += 16;
    w += put_u64(w, (uint64_t)t * 1000);
    memcpy(w, "]}\n", 3);
    w += 3;
  } else {
    w += put_u64(w, (uint64_t)t);
    memcpy(w, ",\"value\":", 9);
    w += 9;
    w += put_u64(w, (uint64_t)(v / 10));
    *w++ = '.';
    *w++ = (char)('0' + v % 10);
    *w++ = '}';
  }
  b->len = (size_t)(w - b->data);
}

/* ---- connections ------------------------------------------------------------------------ */

typedef struct conn {
  bh_conn bh;      /* first: the bh_conn callbacks cast back */
  bh_sbuf head, body;
  int64_t npoints; /* points in the request in flight */
} conn_t;

static uv_loop_t *loop;
static conn_t *conns;
static int live_conns;
static uint64_t t_begin, t_end;

static struct {
  uint64_t requests, ok_points, non2xx, errors, reconnects;
  bh_lat lat;
  int last_bad_status;
  char last_bad_body[200];
} st;

static void conn_start(conn_t *c);

/* Stops at the point count, the deadline, or after many connection errors. */
static void check_done(void) {
  if (!stopping && (next_point >= total_points || uv_hrtime() >= stop_at_ns ||
                    st.errors > 1000))
    stopping = 1;
}

static void on_closed(bh_conn *b) {
  conn_t *c = (conn_t *)b;
  if (c->bh.waiting) { /* the request in flight is lost: count it as an error */
    c->bh.waiting = 0;
    st.errors++;
  }
  check_done();
  if (!stopping) {
    st.reconnects++;
    conn_start(c);
  } else {
    live_conns--;
  }
}

static void on_fail(bh_conn *c, const char *what, int err) {
  if (!opt.quiet && st.errors < 5)
    fprintf(stderr, "dm_load: connection %d: %s: %s\n", c->index, what, uv_strerror(err));
  bh_conn_close(c);
}

static void on_response(bh_conn *b, const bh_response *r) {
  conn_t *c = (conn_t *)b;
  st.requests++;
  bh_lat_add(&st.lat, (double)(uv_hrtime() - c->bh.sent_ns) / 1e6);
  if (r->status >= 200 && r->status < 300) {
    st.ok_points += (uint64_t)c->npoints;
  } else {
    st.non2xx++;
    st.last_bad_status = r->status;
    size_t k = r->body_len < sizeof st.last_bad_body - 1 ? r->body_len
                                                          : sizeof st.last_bad_body - 1;
    memcpy(st.last_bad_body, r->body, k);
    st.last_bad_body[k] = 0;
  }
  t_end = uv_hrtime();
}

/* Sends the next batch when the connection is idle, or closes it once the run is over. */
static void send_next(bh_conn *b) {
  conn_t *c = (conn_t *)b;
  if (c->bh.writing || c->bh.waiting) return;
  check_done();
  if (stopping) {
    bh_conn_close(&c->bh);
    return;
  }
  int64_t n = total_points - next_point;
  if (n > opt.batch) n = opt.batch;
  c->body.len = 0;
  if (opt.format == FMT_MACKEREL) bh_sb_add(&c->body, "[", 1);
  for (int64_t k = 0; k < n; k++) {
    if (k > 0 && opt.format == FMT_MACKEREL) bh_sb_add(&c->body, ",", 1);
    add_point(&c->body, next_point + k);
  }
  if (opt.format == FMT_MACKEREL) bh_sb_add(&c->body, "]", 1);
  next_point += n;
  c->npoints = n;
  c->head.len = 0;
  bh_sb_printf(&c->head, "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: %s\r\n"
               "Content-Length: %zu\r\n%s%s%s\r\n", opt.path, opt.url.host, opt.url.port,
               opt.format == FMT_VM ? "application/x-ndjson" : "application/json",
               c->body.len, opt.key ? "X-Api-Key: " : "", opt.key ? opt.key : "",
               opt.key ? "\r\n" : "");
  uv_buf_t bufs[2] = {uv_buf_init(c->head.data, (unsigned)c->head.len),
                      uv_buf_init(c->body.data, (unsigned)c->body.len)};
  bh_conn_send(&c->bh, bufs, 2);
}

static void on_connected(bh_conn *c, int status) {
  if (status < 0) {
    st.errors++;
    on_fail(c, "connect", status);
    if (st.errors > 100 && st.requests == 0) {
      fprintf(stderr, "dm_load: cannot connect to %s:%d\n", opt.url.host, opt.url.port);
      exit(1);
    }
    return;
  }
  send_next(c);
}

static const bh_conn_ops conn_ops = {
    .connected = on_connected,
    .response = on_response,
    .ready = send_next,
    .fail = on_fail,
    .closed = on_closed,
};

static void conn_start(conn_t *c) {
  c->bh.ops = &conn_ops;
  int rc = bh_conn_start(&c->bh, loop, (struct sockaddr *)&opt.url.addr);
  if (rc < 0) {
    fprintf(stderr, "dm_load: connect: %s\n", uv_strerror(rc));
    exit(1);
  }
}

/* ---- graphite plaintext ------------------------------------------------------------------ */

/* Graphite plaintext has no acknowledgement, so this mode only sends: --conns threads, one
 * blocking socket each, take the next chunk of --batch points of the same point stream (an
 * atomic counter), format them and write them whole (TCP), or as datagrams of whole lines
 * of at most --datagram bytes (--udp). Over TCP a server that reads no faster than it
 * stores pushes back through the socket buffers, so sent/s is what it takes in (up to the
 * last socket buffer's worth); over UDP nothing pushes back and a server drops what it
 * cannot take, so the caller must count what was stored (bench/graphite.sh reads each
 * server's counters). --rate P paces the senders to P points/s in total. */

typedef struct {
  uv_thread_t tid;
  uint64_t points, bytes, datagrams, errors;
} gsender;

static int64_t g_next; /* next point index, taken in chunks with __atomic_fetch_add */
static uint64_t g_t0;

static int send_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) return -1;
    p += k;
    n -= (size_t)k;
  }
  return 0;
}

/* Sends body as datagrams of whole lines, each at most opt.datagram bytes (a longer line
 * goes alone); counts the lines of the datagrams the kernel took. */
static void send_datagrams(int fd, gsender *g, const char *p, size_t n) {
  while (n > 0) {
    size_t len = 0, lines = 0;
    for (;;) {
      const char *nl = memchr(p + len, '\n', n - len);
      size_t next = nl ? (size_t)(nl - p) + 1 : n;
      if (len > 0 && next > (size_t)opt.datagram) break;
      len = next;
      lines++;
      if (len == n || len >= (size_t)opt.datagram) break;
    }
    ssize_t k = send(fd, p, len, 0);
    if (k == (ssize_t)len) {
      g->points += lines;
      g->bytes += len;
      g->datagrams++;
    } else if (!(k < 0 && errno == EINTR)) {
      g->errors++; /* ECONNREFUSED (nobody listening), ENOBUFS: the datagram is lost */
    }
    p += len;
    n -= len;
  }
}

static void gsend_thread(void *arg) {
  gsender *g = arg;
  const struct sockaddr *sa = (const struct sockaddr *)&opt.url.addr;
  socklen_t alen = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                             : sizeof(struct sockaddr_in);
  int fd = socket(sa->sa_family, opt.udp ? SOCK_DGRAM : SOCK_STREAM, 0);
  if (fd < 0 || connect(fd, sa, alen) < 0) {
    fprintf(stderr, "dm_load: connect %s:%d: %s\n", opt.url.host, opt.url.port, strerror(errno));
    g->errors++;
    if (fd >= 0) close(fd);
    return;
  }
  bh_sbuf body = {0};
  for (;;) {
    if (uv_hrtime() >= stop_at_ns) break;
    int64_t p = __atomic_fetch_add(&g_next, (int64_t)opt.batch, __ATOMIC_RELAXED);
    if (p >= total_points) break;
    int64_t n = total_points - p < opt.batch ? total_points - p : opt.batch;
    if (opt.rate > 0) { /* chunk p is due at t0 + p / rate */
      uint64_t due = g_t0 + (uint64_t)((double)p / opt.rate * 1e9), now = uv_hrtime();
      if (due > now) uv_sleep((unsigned)((due - now) / 1000000));
    }
    body.len = 0;
    for (int64_t k = 0; k < n; k++) add_point(&body, p + k);
    if (opt.udp) {
      send_datagrams(fd, g, body.data, body.len);
    } else if (send_all(fd, body.data, body.len) < 0) {
      fprintf(stderr, "dm_load: send: %s\n", strerror(errno));
      g->errors++;
      break;
    } else {
      g->points += (uint64_t)n;
      g->bytes += body.len;
    }
  }
  close(fd);
  free(body.data);
}

static int run_graphite(void) {
  gsender *gs = calloc((size_t)opt.conns, sizeof *gs);
  if (gs == NULL) return 2;
  g_t0 = uv_hrtime();
  stop_at_ns = opt.duration > 0 ? g_t0 + (uint64_t)(opt.duration * 1e9) : UINT64_MAX;
  for (int i = 0; i < opt.conns; i++)
    if (uv_thread_create(&gs[i].tid, gsend_thread, &gs[i]) != 0) return 2;
  uint64_t points = 0, bytes = 0, datagrams = 0, errors = 0;
  for (int i = 0; i < opt.conns; i++) {
    uv_thread_join(&gs[i].tid);
    points += gs[i].points;
    bytes += gs[i].bytes;
    datagrams += gs[i].datagrams;
    errors += gs[i].errors;
  }
  double secs = (double)(uv_hrtime() - g_t0) / 1e9;
  if (!opt.quiet)
    printf("target       %s:%d graphite plaintext over %s, %d senders x %d-point chunks\n"
           "sent         %" PRIu64 " points in %.2f s = %.0f points/s (%" PRIu64 " bytes"
           "%s), errors %" PRIu64 "\n", opt.url.host, opt.url.port, opt.udp ? "udp" : "tcp",
           opt.conns, opt.batch, points, secs, (double)points / secs, bytes,
           opt.udp ? ", datagrams counted below" : "", errors);
  printf("{\"points\":%" PRIu64 ",\"seconds\":%.3f,\"points_per_sec\":%.0f,\"bytes\":%" PRIu64
         ",\"datagrams\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"start\":%" PRId64
         ",\"series\":%" PRId64 "}\n", points, secs, (double)points / secs, bytes, datagrams,
         errors, opt.start, opt.series);
  free(gs);
  for (int64_t i = 0; i < opt.series; i++) free(series[i].prefix);
  free(series);
  return (errors && (!opt.udp || points == 0)) ? 1 : 0;
}

/* ---- main --------------------------------------------------------------------------------- */

/* Builds request bodies as send_next does, without a network: the client's own speed. */
static int gen_only(void) {
  if (total_points == INT64_MAX) total_points = 10000000;
  bh_sbuf body = {0};
  uint64_t bytes = 0, t0 = uv_hrtime();
  for (int64_t p = 0; p < total_points; p += opt.batch) {
    int64_t n = total_points - p < opt.batch ? total_points - p : opt.batch;
    int json = opt.format == FMT_MACKEREL;
    body.len = 0;
    if (json) bh_sb_add(&body, "[", 1);
    for (int64_t k = 0; k < n; k++) {
      if (k > 0 && json) bh_sb_add(&body, ",", 1);
      add_point(&body, p + k);
    }
    if (json) bh_sb_add(&body, "]", 1);
    bytes += body.len;
  }
  double secs = (double)(uv_hrtime() - t0) / 1e9;
  printf("{\"gen_points\":%" PRId64 ",\"seconds\":%.3f,\"points_per_sec\":%.0f,"
         "\"bytes_per_point\":%.1f}\n", total_points, secs, (double)total_points / secs,
         (double)bytes / (double)total_points);
  free(body.data);
  for (int64_t i = 0; i < opt.series; i++) free(series[i].prefix);
  free(series);
  return 0;
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: dm_load --url HOST:PORT [options]\n"
          "  --conns N        keep-alive connections (4)\n"
          "  --batch B        points per POST (5000)\n"
          "  --series S       series count, hosts x names (10000)\n"
          "  --names M        metric names per host (10); hosts = S / M\n"
          "  --duration SECS  run this long (10 unless --points or --days)\n"
          "  --points N       send exactly N points\n"
          "  --start-time T   time of the first round (default now - 10 days)\n"
          "  --step SECS      seconds between rounds (60)\n"
          "  --days D         backfill D days ending now (sets start and points)\n"
          "  --format F       mackerel (POST /api/v0/tsdb) | vm (POST /api/v1/import) |\n"
          "                   graphite (plaintext lines over TCP, no acks: only sent)\n"
          "  --names-template T  graphite: series name, {h} host and {n} name number\n"
          "                   (bench.h{h}.m{n})\n"
          "  --udp            graphite: datagrams of whole lines instead of TCP\n"
          "  --datagram B     graphite --udp: most bytes a datagram (1400)\n"
          "  --rate P         graphite: send P points/s in total (default: at once)\n"
          "  --path P         override the request path\n"
          "  --key K          X-Api-Key header\n"
          "  --quiet          only the JSON line\n"
          "  --gen-only       build the bodies without sending: client speed\n");
}

int main(int argc, char **argv) {
  static const struct option lo[] = {
      {"url", 1, 0, 'u'},      {"conns", 1, 0, 'c'},  {"batch", 1, 0, 'b'},
      {"series", 1, 0, 's'},   {"names", 1, 0, 'n'},  {"duration", 1, 0, 'd'},
      {"points", 1, 0, 'p'},   {"start-time", 1, 0, 'T'}, {"step", 1, 0, 'S'},
      {"days", 1, 0, 'D'},     {"format", 1, 0, 'f'}, {"path", 1, 0, 'P'},
      {"key", 1, 0, 'k'},      {"quiet", 0, 0, 'q'},  {"help", 0, 0, 'h'},
      {"gen-only", 0, 0, 'G'}, {"names-template", 1, 0, 'N'}, {"udp", 0, 0, 'U'},
      {"datagram", 1, 0, 'g'}, {"rate", 1, 0, 'r'},
      {0, 0, 0, 0}};
  const char *url = NULL;
  int has_start = 0;
  bh_prog = "dm_load";
  int ch;
  while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
    switch (ch) {
    case 'u': url = optarg; break;
    case 'c': opt.conns = atoi(optarg); break;
    case 'b': opt.batch = atoi(optarg); break;
    case 's': opt.series = atoll(optarg); break;
    case 'n': opt.names = atoll(optarg); break;
    case 'd': opt.duration = atof(optarg); break;
    case 'p': opt.points = atoll(optarg); break;
    case 'T': opt.start = atoll(optarg); has_start = 1; break;
    case 'S': opt.step = atoll(optarg); break;
    case 'D': opt.days = atoi(optarg); break;
    case 'f':
      if (strcmp(optarg, "vm") == 0) opt.format = FMT_VM;
      else if (strcmp(optarg, "mackerel") == 0) opt.format = FMT_MACKEREL;
      else if (strcmp(optarg, "graphite") == 0) opt.format = FMT_GRAPHITE;
      else { usage(stderr); return 2; }
      break;
    case 'P': opt.path = optarg; break;
    case 'k': opt.key = optarg; break;
    case 'q': opt.quiet = 1; break;
    case 'G': opt.gen_only = 1; break;
    case 'N': opt.names_tmpl = optarg; break;
    case 'U': opt.udp = 1; break;
    case 'g': opt.datagram = atoi(optarg); break;
    case 'r': opt.rate = atof(optarg); break;
    case 'h': usage(stdout); return 0;
    default: usage(stderr); return 2;
    }
  }
  if (url == NULL || bh_parse_url(url, &opt.url) < 0 || opt.conns < 1 || opt.batch < 1 || opt.series < 1 ||
      opt.names < 1 || opt.step < 1 || opt.datagram < 1 ||
      (opt.udp && opt.format != FMT_GRAPHITE)) {
    usage(stderr);
    return 2;
  }
  if (opt.names > opt.series) opt.names = opt.series;
  if (opt.path == NULL) opt.path = opt.format == FMT_VM ? "/api/v1/import" : "/api/v0/tsdb";
  int64_t now = (int64_t)time(NULL);
  if (opt.days > 0) {
    if (!has_start) opt.start = now - (int64_t)opt.days * 86400;
    opt.start -= opt.start % opt.step;
    if (opt.points == 0) opt.points = (int64_t)opt.days * 86400 / opt.step * opt.series;
  } else if (!has_start) {
    opt.start = now - 10 * 86400; /* room for ~1 min at 2 M points/s over 10k series */
    opt.start -= opt.start % opt.step;
  }
  if (opt.points > 0) total_points = opt.points;
  if (opt.points == 0 && opt.duration <= 0) opt.duration = 10;

  build_series();
  if (opt.gen_only) return gen_only();
  if (opt.format == FMT_GRAPHITE) return run_graphite();
  loop = uv_default_loop();
  conns = calloc((size_t)opt.conns, sizeof *conns);
  if (conns == NULL) return 2;
  t_begin = t_end = uv_hrtime();
  stop_at_ns = opt.duration > 0 ? t_begin + (uint64_t)(opt.duration * 1e9) : UINT64_MAX;
  live_conns = opt.conns;
  for (int i = 0; i < opt.conns; i++) {
    conns[i].bh.index = i;
    conn_start(&conns[i]);
  }
  uv_run(loop, UV_RUN_DEFAULT);

  double secs = (double)(t_end - t_begin) / 1e9;
  if (secs <= 0) secs = 1e-9;
  double p50, p99, mx;
  bh_lat_summary(&st.lat, &p50, &p99, &mx);
  if (!opt.quiet) {
    printf("target       %s:%d%s (%s)\n", opt.url.host, opt.url.port, opt.path,
           opt.format == FMT_VM ? "vm json lines" : "mackerel json");
    printf("load         %d conns x %d points/batch, %" PRId64 " series, start %" PRId64
           " step %" PRId64 "\n", opt.conns, opt.batch, opt.series, opt.start, opt.step);
    printf("acked        %" PRIu64 " points in %.2f s = %.0f points/s\n", st.ok_points, secs,
           (double)st.ok_points / secs);
    printf("requests     %" PRIu64 " (%.1f/s), non-2xx %" PRIu64 ", errors %" PRIu64 "\n",
           st.requests, (double)st.requests / secs, st.non2xx, st.errors);
    printf("latency ms   p50 %.2f  p99 %.2f  max %.2f\n", p50, p99, mx);
    if (st.non2xx)
      printf("last non-2xx %d %s\n", st.last_bad_status, st.last_bad_body);
  }
  printf("{\"points\":%" PRIu64 ",\"seconds\":%.3f,\"points_per_sec\":%.0f,\"requests\":%"
         PRIu64 ",\"requests_per_sec\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,"
         "\"non_2xx\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"start\":%" PRId64 ",\"series\":%"
         PRId64 "}\n", st.ok_points, secs, (double)st.ok_points / secs, st.requests,
         (double)st.requests / secs, p50, p99, mx, st.non2xx, st.errors, opt.start,
         opt.series);
  for (int64_t i = 0; i < opt.series; i++) free(series[i].prefix);
  free(series);
  for (int i = 0; i < opt.conns; i++) {
    free(conns[i].head.data);
    free(conns[i].body.data);
    bh_conn_free(&conns[i].bh);
  }
  free(conns);
  bh_lat_free(&st.lat);
  uv_loop_close(loop);
  return st.non2xx || (st.errors && st.ok_points == 0) ? 1 : 0;
}
