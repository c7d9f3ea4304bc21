/* load.c — dm_load, the ingest load generator: posts Mackerel JSON batches (or
 * VictoriaMetrics JSON lines, --format vm) over N keep-alive connections on one libuv loop,
 * and prints points/s, requests/s and request latency.
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
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <uv.h>

typedef struct {
  char *data;
  size_t len, cap;
} sbuf;

static void sb_reserve(sbuf *b, size_t more) {
  if (b->len + more <= b->cap) return;
  size_t cap = b->cap ? b->cap : 4096;
  while (cap < b->len + more) cap *= 2;
  char *p = realloc(b->data, cap);
  if (p == NULL) {
    fprintf(stderr, "dm_load: out of memory\n");
    exit(2);
  }
  b->data = p;
  b->cap = cap;
}

static void sb_add(sbuf *b, const void *s, size_t n) {
  sb_reserve(b, n);
  memcpy(b->data + b->len, s, n);
  b->len += n;
}

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  sb_reserve(b, (size_t)n + 1);
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

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

enum { FMT_MACKEREL, FMT_VM };

static struct {
  char host[256];
  int port;
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
} opt = {.conns = 4, .batch = 5000, .series = 10000, .names = 10, .step = 60};

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
    sbuf b = {0};
    int64_t h = i / opt.names, n = i % opt.names;
    if (opt.format == FMT_VM)
      sb_printf(&b, "{\"metric\":{\"__name__\":\"custom.metric.%" PRId64 "\",\"host\":\"host%05"
                PRId64 "\"},\"values\":[", n, h);
    else
      sb_printf(&b, "{\"hostId\":\"host%05" PRId64 "\",\"name\":\"custom.metric.%" PRId64
                "\",\"time\":", h, n);
    series[i].prefix = b.data;
    series[i].prefix_len = b.len;
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
static void add_point(sbuf *b, int64_t p) {
  int64_t i = p % opt.series, r = p / opt.series;
  const series_t *s = &series[i];
  int64_t t = opt.start + r * opt.step;
  int64_t v = value_x10(s, i, r);
  sb_reserve(b, s->prefix_len + 96);
  char *w = b->data + b->len;
  memcpy(w, s->prefix, s->prefix_len);
  w += s->prefix_len;
  if (opt.format == FMT_VM) {
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
  uv_tcp_t tcp;
  uv_connect_t connect_req;
  uv_write_t write_req;
  sbuf head, body, in;
  int connected, writing, waiting; /* waiting: a response is due */
  int64_t npoints;                 /* points in the request in flight */
  uint64_t sent_ns;
  int index;
} conn_t;

static uv_loop_t *loop;
static struct sockaddr_storage addr;
static conn_t *conns;
static int live_conns;
static uint64_t t_begin, t_end;

static struct {
  uint64_t requests, ok_points, non2xx, errors, reconnects;
  double *lat_ms;
  size_t nlat, caplat;
  int last_bad_status;
  char last_bad_body[200];
} st;

static void conn_start(conn_t *c);
static void send_next(conn_t *c);

/* Stops at the point count, the deadline, or after many connection errors. */
static void check_done(void) {
  if (!stopping && (next_point >= total_points || uv_hrtime() >= stop_at_ns ||
                    st.errors > 1000))
    stopping = 1;
}

static void record_latency(double ms) {
  if (st.nlat == st.caplat) {
    st.caplat = st.caplat ? st.caplat * 2 : 4096;
    st.lat_ms = realloc(st.lat_ms, st.caplat * sizeof *st.lat_ms);
    if (st.lat_ms == NULL) exit(2);
  }
  st.lat_ms[st.nlat++] = ms;
}

static void on_close(uv_handle_t *h) {
  conn_t *c = h->data;
  c->connected = 0;
  c->writing = 0;
  if (c->waiting) { /* the request in flight is lost: count it as an error */
    c->waiting = 0;
    st.errors++;
  }
  c->in.len = 0;
  check_done();
  if (!stopping) {
    st.reconnects++;
    conn_start(c);
  } else {
    live_conns--;
  }
}

static void conn_fail(conn_t *c, const char *what, int err) {
  if (!opt.quiet && st.errors < 5)
    fprintf(stderr, "dm_load: connection %d: %s: %s\n", c->index, what, uv_strerror(err));
  if (!uv_is_closing((uv_handle_t *)&c->tcp)) uv_close((uv_handle_t *)&c->tcp, on_close);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  conn_t *c = h->data;
  (void)hint;
  sb_reserve(&c->in, 65536);
  *buf = uv_buf_init(c->in.data + c->in.len, (unsigned)(c->in.cap - c->in.len));
}

/* Parses one complete response at the start of c->in: 1 done (sets *status, *consumed,
 * *close), 0 need more, -1 malformed. Understands Content-Length, chunked, and 204. */
static int parse_response(const char *p, size_t n, int *status, size_t *consumed,
                          int *close_after, const char **body, size_t *body_len) {
  const char *end = memmem(p, n, "\r\n\r\n", 4);
  if (end == NULL) return n > 65536 ? -1 : 0;
  size_t hlen = (size_t)(end - p) + 4;
  if (n < 12 || memcmp(p, "HTTP/1.", 7) != 0) return -1;
  *status = atoi(p + 9);
  long long clen = -1;
  int chunked = 0;
  *close_after = p[7] == '0';
  const char *l = memchr(p, '\n', hlen); /* end of the status line */
  while (l != NULL && ++l < end) {
    const char *eol = memchr(l, '\n', (size_t)(end + 2 - l));
    size_t ll = (size_t)(eol - l);
    if (ll > 15 && strncasecmp(l, "content-length:", 15) == 0) {
      clen = atoll(l + 15);
    } else if (ll > 18 && strncasecmp(l, "transfer-encoding:", 18) == 0) {
      chunked = memmem(l, ll, "chunked", 7) != NULL;
    } else if (ll > 11 && strncasecmp(l, "connection:", 11) == 0) {
      if (memmem(l, ll, "close", 5) != NULL) *close_after = 1;
      if (memmem(l, ll, "keep-alive", 10) != NULL) *close_after = 0;
    }
    l = eol;
  }
  *body = p + hlen;
  if (*status == 204 || *status == 304 || (*status >= 100 && *status < 200)) {
    *consumed = hlen;
    *body_len = 0;
    return 1;
  }
  if (chunked) {
    size_t off = hlen;
    for (;;) {
      const char *nl = memmem(p + off, n - off, "\r\n", 2);
      if (nl == NULL) return 0;
      size_t sz = strtoul(p + off, NULL, 16);
      off = (size_t)(nl - p) + 2;
      if (sz == 0) {
        const char *fin = memmem(p + off - 2, n - off + 2, "\r\n\r\n", 4);
        if (fin == NULL) return 0;
        *consumed = (size_t)(fin - p) + 4;
        *body_len = 0; /* chunked bodies are not reassembled here */
        return 1;
      }
      if (n < off + sz + 2) return 0;
      off += sz + 2;
    }
  }
  if (clen < 0) return 0; /* read until close: not used by the servers measured */
  if (n < hlen + (size_t)clen) return 0;
  *consumed = hlen + (size_t)clen;
  *body_len = (size_t)clen;
  return 1;
}

static void finish_request(conn_t *c, int status, const char *body, size_t blen) {
  double ms = (double)(uv_hrtime() - c->sent_ns) / 1e6;
  c->waiting = 0;
  st.requests++;
  record_latency(ms);
  if (status >= 200 && status < 300) {
    st.ok_points += (uint64_t)c->npoints;
  } else {
    st.non2xx++;
    st.last_bad_status = status;
    size_t k = blen < sizeof st.last_bad_body - 1 ? blen : sizeof st.last_bad_body - 1;
    memcpy(st.last_bad_body, body, k);
    st.last_bad_body[k] = 0;
  }
  t_end = uv_hrtime();
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  conn_t *c = s->data;
  (void)buf;
  if (nread < 0) {
    conn_fail(c, "read", (int)nread);
    return;
  }
  c->in.len += (size_t)nread;
  for (;;) {
    int status = 0, close_after = 0;
    size_t consumed = 0, blen = 0;
    const char *body = NULL;
    int rc = parse_response(c->in.data, c->in.len, &status, &consumed, &close_after, &body,
                            &blen);
    if (rc == 0) return;
    if (rc < 0 || !c->waiting) {
      conn_fail(c, "bad response", UV_EPROTO);
      return;
    }
    finish_request(c, status, body, blen);
    memmove(c->in.data, c->in.data + consumed, c->in.len - consumed);
    c->in.len -= consumed;
    if (close_after) {
      conn_fail(c, "server closed", UV_EOF);
      return;
    }
    send_next(c);
    if (c->in.len == 0) return;
  }
}

static void on_write(uv_write_t *w, int status) {
  conn_t *c = w->data;
  c->writing = 0;
  if (status < 0) {
    conn_fail(c, "write", status);
    return;
  }
  if (!c->waiting) send_next(c);
}


static void send_next(conn_t *c) {
  if (c->writing || c->waiting) return;
  check_done();
  if (stopping) {
    if (!uv_is_closing((uv_handle_t *)&c->tcp)) uv_close((uv_handle_t *)&c->tcp, on_close);
    return;
  }
  int64_t n = total_points - next_point;
  if (n > opt.batch) n = opt.batch;
  c->body.len = 0;
  if (opt.format == FMT_MACKEREL) sb_add(&c->body, "[", 1);
  for (int64_t k = 0; k < n; k++) {
    if (k > 0 && opt.format == FMT_MACKEREL) sb_add(&c->body, ",", 1);
    add_point(&c->body, next_point + k);
  }
  if (opt.format == FMT_MACKEREL) sb_add(&c->body, "]", 1);
  next_point += n;
  c->npoints = n;
  c->head.len = 0;
  sb_printf(&c->head, "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: %s\r\n"
            "Content-Length: %zu\r\n%s%s%s\r\n", opt.path, opt.host, opt.port,
            opt.format == FMT_VM ? "application/x-ndjson" : "application/json", c->body.len,
            opt.key ? "X-Api-Key: " : "", opt.key ? opt.key : "", opt.key ? "\r\n" : "");
  uv_buf_t bufs[2] = {uv_buf_init(c->head.data, (unsigned)c->head.len),
                      uv_buf_init(c->body.data, (unsigned)c->body.len)};
  c->writing = c->waiting = 1;
  c->sent_ns = uv_hrtime();
  c->write_req.data = c;
  int rc = uv_write(&c->write_req, (uv_stream_t *)&c->tcp, bufs, 2, on_write);
  if (rc < 0) {
    c->writing = 0;
    conn_fail(c, "write", rc);
  }
}

static void on_connect(uv_connect_t *req, int status) {
  conn_t *c = req->data;
  if (status < 0) {
    st.errors++;
    conn_fail(c, "connect", status);
    if (st.errors > 100 && st.requests == 0) {
      fprintf(stderr, "dm_load: cannot connect to %s:%d\n", opt.host, opt.port);
      exit(1);
    }
    return;
  }
  c->connected = 1;
  uv_tcp_nodelay(&c->tcp, 1);
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  send_next(c);
}

static void conn_start(conn_t *c) {
  uv_tcp_init(loop, &c->tcp);
  c->tcp.data = c;
  c->connect_req.data = c;
  int rc = uv_tcp_connect(&c->connect_req, &c->tcp, (struct sockaddr *)&addr, on_connect);
  if (rc < 0) {
    fprintf(stderr, "dm_load: connect: %s\n", uv_strerror(rc));
    exit(1);
  }
}

/* ---- main --------------------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double pct(const double *v, size_t n, double p) {
  if (n == 0) return 0;
  size_t i = (size_t)ceil(p / 100.0 * (double)n);
  return v[i == 0 ? 0 : i - 1];
}

/* Builds request bodies as send_next does, without a network: the client's own speed. */
static int gen_only(void) {
  if (total_points == INT64_MAX) total_points = 10000000;
  sbuf body = {0};
  uint64_t bytes = 0, t0 = uv_hrtime();
  for (int64_t p = 0; p < total_points; p += opt.batch) {
    int64_t n = total_points - p < opt.batch ? total_points - p : opt.batch;
    body.len = 0;
    sb_add(&body, "[", 1);
    for (int64_t k = 0; k < n; k++) {
      if (k > 0) sb_add(&body, ",", 1);
      add_point(&body, p + k);
    }
    sb_add(&body, "]", 1);
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
          "  --start-time T   time of the first round (default now - 3 days)\n"
          "  --step SECS      seconds between rounds (60)\n"
          "  --days D         backfill D days ending now (sets start and points)\n"
          "  --format F       mackerel (POST /api/v0/tsdb) | vm (POST /api/v1/import)\n"
          "  --path P         override the request path\n"
          "  --key K          X-Api-Key header\n"
          "  --quiet          only the JSON line\n"
          "  --gen-only       build the bodies without sending: client speed\n");
}

static int parse_url(const char *u) {
  if (strncmp(u, "http://", 7) == 0) u += 7;
  const char *colon = strrchr(u, ':');
  if (colon == NULL || colon == u) return -1;
  size_t hl = (size_t)(colon - u);
  if (hl >= sizeof opt.host) return -1;
  memcpy(opt.host, u, hl);
  opt.host[hl] = 0;
  opt.port = atoi(colon + 1);
  if (opt.port <= 0 || opt.port > 65535) return -1;
  const char *ip = strcmp(opt.host, "localhost") == 0 ? "127.0.0.1" : opt.host;
  if (uv_ip4_addr(ip, opt.port, (struct sockaddr_in *)&addr) == 0) return 0;
  char h6[sizeof opt.host];
  const char *src = ip[0] == '[' ? ip + 1 : ip;
  size_t n = strcspn(src, "]");
  if (n >= sizeof h6) return -1;
  memcpy(h6, src, n);
  h6[n] = 0;
  return uv_ip6_addr(h6, opt.port, (struct sockaddr_in6 *)&addr) == 0 ? 0 : -1;
}

int main(int argc, char **argv) {
  static const struct option lo[] = {
      {"url", 1, 0, 'u'},      {"conns", 1, 0, 'c'},  {"batch", 1, 0, 'b'},
      {"series", 1, 0, 's'},   {"names", 1, 0, 'n'},  {"duration", 1, 0, 'd'},
      {"points", 1, 0, 'p'},   {"start-time", 1, 0, 'T'}, {"step", 1, 0, 'S'},
      {"days", 1, 0, 'D'},     {"format", 1, 0, 'f'}, {"path", 1, 0, 'P'},
      {"key", 1, 0, 'k'},      {"quiet", 0, 0, 'q'},  {"help", 0, 0, 'h'},
      {"gen-only", 0, 0, 'G'},
      {0, 0, 0, 0}};
  const char *url = NULL;
  int has_start = 0;
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
      else { usage(stderr); return 2; }
      break;
    case 'P': opt.path = optarg; break;
    case 'k': opt.key = optarg; break;
    case 'q': opt.quiet = 1; break;
    case 'G': opt.gen_only = 1; break;
    case 'h': usage(stdout); return 0;
    default: usage(stderr); return 2;
    }
  }
  if (url == NULL || parse_url(url) < 0 || opt.conns < 1 || opt.batch < 1 || opt.series < 1 ||
      opt.names < 1 || opt.step < 1) {
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
    opt.start = now - 3 * 86400;
    opt.start -= opt.start % opt.step;
  }
  if (opt.points > 0) total_points = opt.points;
  if (opt.points == 0 && opt.duration <= 0) opt.duration = 10;

  build_series();
  if (opt.gen_only) return gen_only();
  loop = uv_default_loop();
  conns = calloc((size_t)opt.conns, sizeof *conns);
  if (conns == NULL) return 2;
  t_begin = t_end = uv_hrtime();
  stop_at_ns = opt.duration > 0 ? t_begin + (uint64_t)(opt.duration * 1e9) : UINT64_MAX;
  live_conns = opt.conns;
  for (int i = 0; i < opt.conns; i++) {
    conns[i].index = i;
    conn_start(&conns[i]);
  }
  uv_run(loop, UV_RUN_DEFAULT);

  double secs = (double)(t_end - t_begin) / 1e9;
  if (secs <= 0) secs = 1e-9;
  qsort(st.lat_ms, st.nlat, sizeof *st.lat_ms, cmp_double);
  double p50 = pct(st.lat_ms, st.nlat, 50), p99 = pct(st.lat_ms, st.nlat, 99);
  double mx = st.nlat ? st.lat_ms[st.nlat - 1] : 0;
  if (!opt.quiet) {
    printf("target       %s:%d%s (%s)\n", opt.host, opt.port, opt.path,
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
    free(conns[i].in.data);
  }
  free(conns);
  free(st.lat_ms);
  uv_loop_close(loop);
  return st.non2xx || (st.errors && st.ok_points == 0) ? 1 : 0;
}
