/* readbench.c — dm_readbench, the read benchmark: GET one series' range per request
 * (Mackerel host metrics API, or VictoriaMetrics /api/v1/export with --format vm) over C
 * keep-alive connections on one libuv loop, and prints latency p50/p99 and requests/s.
 *
 * Series are named as dm_load writes them: host<h> x custom.metric.<n> (--hosts, --names),
 * or given with --series "host00001:custom.metric.3,..."; requests visit them round-robin.
 * --fanout K changes what is measured: one round issues K requests at once (K distinct
 * series, K connections) and its time is until the last of the K answers; --requests
 * rounds are run, and the percentiles are over round times.
 */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
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
    fprintf(stderr, "dm_readbench: out of memory\n");
    exit(2);
  }
  b->data = p;
  b->cap = cap;
}

enum { FMT_MACKEREL, FMT_VM };

static struct {
  char host[256];
  int port;
  int conns;
  int requests;
  int fanout;
  int64_t hosts, names;
  int64_t range, end;
  int format;
  const char *key;
  int quiet;
} opt = {.conns = 1, .requests = 1000, .hosts = 100, .names = 10, .range = 86400};

typedef struct {
  char host[128], name[128];
} series_t;

static series_t *series;
static size_t nseries;

typedef struct conn {
  uv_tcp_t tcp;
  uv_connect_t connect_req;
  uv_write_t write_req;
  sbuf out, in;
  int connected, waiting, writing;
  uint64_t sent_ns;
  int index;
} conn_t;

static uv_loop_t *loop;
static struct sockaddr_storage addr;
static conn_t *conns;
static int nconns;
static size_t next_series;
static int issued, done_requests, stopping;
static uint64_t t_begin, t_end;
static int round_pending;      /* fanout: answers still due in this round */
static uint64_t round_start;
static int rounds_done;

static struct {
  uint64_t non2xx, errors, points, bytes;
  double *lat_ms;
  size_t nlat, caplat;
  int last_bad;
} st;

static void send_request(conn_t *c);
static void start_round(void);

static void record_latency(double ms) {
  if (st.nlat == st.caplat) {
    st.caplat = st.caplat ? st.caplat * 2 : 4096;
    st.lat_ms = realloc(st.lat_ms, st.caplat * sizeof *st.lat_ms);
    if (st.lat_ms == NULL) exit(2);
  }
  st.lat_ms[st.nlat++] = ms;
}

/* Appends s percent-encoded (everything but unreserved characters). */
static void add_escaped(sbuf *b, const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  sb_reserve(b, strlen(s) * 3 + 1);
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
        ch == '-' || ch == '_' || ch == '.' || ch == '~') {
      b->data[b->len++] = (char)ch;
    } else {
      b->data[b->len++] = '%';
      b->data[b->len++] = hex[ch >> 4];
      b->data[b->len++] = hex[ch & 15];
    }
  }
}

static void add_str(sbuf *b, const char *s) {
  size_t n = strlen(s);
  sb_reserve(b, n);
  memcpy(b->data + b->len, s, n);
  b->len += n;
}

static void add_i64(sbuf *b, int64_t v) {
  char tmp[32];
  snprintf(tmp, sizeof tmp, "%" PRId64, v);
  add_str(b, tmp);
}

static void build_request(sbuf *b, const series_t *s) {
  int64_t from = opt.end - opt.range, to = opt.end;
  b->len = 0;
  if (opt.format == FMT_VM) {
    char sel[400];
    snprintf(sel, sizeof sel, "{__name__=\"%s\",host=\"%s\"}", s->name, s->host);
    add_str(b, "GET /api/v1/export?match[]=");
    add_escaped(b, sel);
    add_str(b, "&start=");
    add_i64(b, from);
    add_str(b, "&end=");
    add_i64(b, to);
  } else {
    add_str(b, "GET /api/v0/hosts/");
    add_escaped(b, s->host);
    add_str(b, "/metrics?name=");
    add_escaped(b, s->name);
    add_str(b, "&from=");
    add_i64(b, from);
    add_str(b, "&to=");
    add_i64(b, to);
  }
  char tail[512];
  snprintf(tail, sizeof tail, " HTTP/1.1\r\nHost: %s:%d\r\n%s%s%s\r\n", opt.host, opt.port,
           opt.key ? "X-Api-Key: " : "", opt.key ? opt.key : "", opt.key ? "\r\n" : "");
  add_str(b, tail);
}

/* Counts the points of a reply body: `"time"` keys (Mackerel) or timestamps (vm). */
static uint64_t count_points(const char *p, size_t n) {
  uint64_t k = 0;
  if (opt.format == FMT_VM) {
    const char *ts = memmem(p, n, "\"timestamps\":[", 14);
    while (ts != NULL) {
      const char *e = memchr(ts, ']', n - (size_t)(ts - p));
      if (e == NULL) break;
      k++;
      for (const char *q = ts; q < e; q++) k += *q == ',';
      ts = memmem(e, n - (size_t)(e - p), "\"timestamps\":[", 14);
    }
    return k;
  }
  for (const char *q = p; (q = memmem(q, n - (size_t)(q - p), "\"time\"", 6)) != NULL; q += 6)
    k++;
  return k;
}

/* Parses one complete response at the start of p: 1 done, 0 need more, -1 malformed.
 * Chunked bodies are de-chunked in place (the body then starts at *body). */
static int parse_response(char *p, size_t n, int *status, size_t *consumed, int *close_after,
                          const char **body, size_t *body_len) {
  const char *end = memmem(p, n, "\r\n\r\n", 4);
  if (end == NULL) return n > 65536 ? -1 : 0;
  size_t hlen = (size_t)(end - p) + 4;
  if (n < 12 || memcmp(p, "HTTP/1.", 7) != 0) return -1;
  *status = atoi(p + 9);
  *close_after = p[7] == '0';
  long long clen = -1;
  int chunked = 0;
  const char *l = memchr(p, '\n', hlen);
  while (l != NULL && ++l < end) {
    const char *eol = memchr(l, '\n', (size_t)(end + 2 - l));
    size_t ll = (size_t)(eol - l);
    if (ll > 15 && strncasecmp(l, "content-length:", 15) == 0) clen = atoll(l + 15);
    else if (ll > 18 && strncasecmp(l, "transfer-encoding:", 18) == 0)
      chunked = memmem(l, ll, "chunked", 7) != NULL;
    else if (ll > 11 && strncasecmp(l, "connection:", 11) == 0 && memmem(l, ll, "close", 5))
      *close_after = 1;
    l = eol;
  }
  *body = p + hlen;
  *body_len = 0;
  if (*status == 204 || *status == 304) {
    *consumed = hlen;
    return 1;
  }
  if (chunked) { /* first check that every chunk is in, then compact them */
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
        break;
      }
      if (n < off + sz + 2) return 0;
      off += sz + 2;
    }
    size_t rd = hlen, wr = hlen;
    for (;;) {
      char *nl = memmem(p + rd, n - rd, "\r\n", 2);
      size_t sz = strtoul(p + rd, NULL, 16);
      rd = (size_t)(nl - p) + 2;
      if (sz == 0) break;
      memmove(p + wr, p + rd, sz);
      wr += sz;
      rd += sz + 2;
    }
    *body_len = wr - hlen;
    return 1;
  }
  if (clen < 0) return 0;
  if (n < hlen + (size_t)clen) return 0;
  *consumed = hlen + (size_t)clen;
  *body_len = (size_t)clen;
  return 1;
}

static void on_close(uv_handle_t *h) {
  conn_t *c = h->data;
  c->connected = 0;
  nconns--;
}

static void conn_fail(conn_t *c, const char *what, int err) {
  st.errors++;
  if (!opt.quiet && st.errors < 5)
    fprintf(stderr, "dm_readbench: connection %d: %s: %s\n", c->index, what, uv_strerror(err));
  if (!uv_is_closing((uv_handle_t *)&c->tcp)) uv_close((uv_handle_t *)&c->tcp, on_close);
  if (c->waiting && opt.fanout > 0 && --round_pending == 0) start_round();
  c->waiting = 0;
}

static void stop_all(void) {
  stopping = 1;
  for (int i = 0; i < (opt.fanout > 0 ? opt.fanout : opt.conns); i++)
    if (conns[i].connected && !uv_is_closing((uv_handle_t *)&conns[i].tcp))
      uv_close((uv_handle_t *)&conns[i].tcp, on_close);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  conn_t *c = h->data;
  (void)hint;
  sb_reserve(&c->in, 65536);
  *buf = uv_buf_init(c->in.data + c->in.len, (unsigned)(c->in.cap - c->in.len));
}

static void answered(conn_t *c, int status, const char *body, size_t blen) {
  uint64_t now = uv_hrtime();
  c->waiting = 0;
  done_requests++;
  t_end = now;
  if (status == 200) {
    st.points += count_points(body, blen);
    st.bytes += blen;
  } else {
    st.non2xx++;
    if (!opt.quiet && st.non2xx < 4)
      fprintf(stderr, "dm_readbench: HTTP %d: %.*s\n", status, (int)(blen < 200 ? blen : 200),
              body);
  }
  if (opt.fanout > 0) {
    if (--round_pending == 0) {
      record_latency((double)(now - round_start) / 1e6);
      rounds_done++;
      start_round();
    }
  } else {
    record_latency((double)(now - c->sent_ns) / 1e6);
    send_request(c);
  }
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
    answered(c, status, body, blen);
    memmove(c->in.data, c->in.data + consumed, c->in.len - consumed);
    c->in.len -= consumed;
    if (close_after) {
      conn_fail(c, "server closed the connection", UV_EOF);
      return;
    }
    if (c->in.len == 0) return;
  }
}

static void on_write(uv_write_t *w, int status) {
  conn_t *c = w->data;
  c->writing = 0;
  if (status < 0) conn_fail(c, "write", status);
}

static void send_request(conn_t *c) {
  if (stopping || c->waiting || !c->connected) return;
  if (opt.fanout == 0 && issued >= opt.requests) {
    if (done_requests >= opt.requests) stop_all();
    return;
  }
  const series_t *s = &series[next_series++ % nseries];
  build_request(&c->out, s);
  uv_buf_t b = uv_buf_init(c->out.data, (unsigned)c->out.len);
  c->waiting = c->writing = 1;
  c->sent_ns = uv_hrtime();
  c->write_req.data = c;
  issued++;
  int rc = uv_write(&c->write_req, (uv_stream_t *)&c->tcp, &b, 1, on_write);
  if (rc < 0) {
    c->writing = 0;
    conn_fail(c, "write", rc);
  }
}

/* Fanout: one round = one request on every connection, all at once. */
static void start_round(void) {
  if (stopping) return;
  if (rounds_done >= opt.requests || nconns < opt.fanout) {
    stop_all();
    return;
  }
  round_pending = opt.fanout;
  round_start = uv_hrtime();
  for (int i = 0; i < opt.fanout; i++) send_request(&conns[i]);
}

static int connected_count;

static void on_connect(uv_connect_t *req, int status) {
  conn_t *c = req->data;
  if (status < 0) {
    fprintf(stderr, "dm_readbench: connect to %s:%d: %s\n", opt.host, opt.port,
            uv_strerror(status));
    exit(1);
  }
  c->connected = 1;
  uv_tcp_nodelay(&c->tcp, 1);
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  int want = opt.fanout > 0 ? opt.fanout : opt.conns;
  if (++connected_count < want) return;
  t_begin = t_end = uv_hrtime(); /* every connection is up: start measuring */
  if (opt.fanout > 0) start_round();
  else
    for (int i = 0; i < opt.conns; i++) send_request(&conns[i]);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double pct(const double *v, size_t n, double p) {
  if (n == 0) return 0;
  size_t i = (size_t)ceil(p / 100.0 * (double)n);
  return v[i == 0 ? 0 : i - 1];
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: dm_readbench --url HOST:PORT [options]\n"
          "  --hosts H --names M   series host00000..H-1 x custom.metric.0..M-1 (100 x 10)\n"
          "  --series LIST         or explicit host:name,host:name,...\n"
          "  --range SECS          read [end - range, end] (86400)\n"
          "  --end T               end of the range (now)\n"
          "  --requests N          requests (or fanout rounds) (1000)\n"
          "  --conns C             keep-alive connections (1)\n"
          "  --fanout K            rounds of K concurrent requests, K series\n"
          "  --format F            mackerel | vm (GET /api/v1/export)\n"
          "  --key K               X-Api-Key header\n"
          "  --quiet               only the JSON line\n");
}

static int parse_url(const char *u) {
  if (strncmp(u, "http://", 7) == 0) u += 7;
  const char *colon = strrchr(u, ':');
  if (colon == NULL || colon == u || (size_t)(colon - u) >= sizeof opt.host) return -1;
  memcpy(opt.host, u, (size_t)(colon - u));
  opt.host[colon - u] = 0;
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

static int parse_series_list(const char *list) {
  size_t cap = 1;
  for (const char *p = list; *p; p++) cap += *p == ',';
  series = calloc(cap, sizeof *series);
  if (series == NULL) return -1;
  char *copy = strdup(list), *save = NULL;
  for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    char *colon = strchr(tok, ':');
    if (colon == NULL) {
      free(copy);
      return -1;
    }
    *colon = 0;
    snprintf(series[nseries].host, sizeof series[nseries].host, "%s", tok);
    snprintf(series[nseries].name, sizeof series[nseries].name, "%s", colon + 1);
    nseries++;
  }
  free(copy);
  return nseries > 0 ? 0 : -1;
}

int main(int argc, char **argv) {
  static const struct option lo[] = {
      {"url", 1, 0, 'u'},   {"hosts", 1, 0, 'H'},    {"names", 1, 0, 'n'},
      {"series", 1, 0, 's'}, {"range", 1, 0, 'r'},   {"end", 1, 0, 'e'},
      {"requests", 1, 0, 'N'}, {"conns", 1, 0, 'c'}, {"fanout", 1, 0, 'F'},
      {"format", 1, 0, 'f'}, {"key", 1, 0, 'k'},     {"quiet", 0, 0, 'q'},
      {"help", 0, 0, 'h'},  {0, 0, 0, 0}};
  const char *url = NULL, *list = NULL;
  int ch;
  while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
    switch (ch) {
    case 'u': url = optarg; break;
    case 'H': opt.hosts = atoll(optarg); break;
    case 'n': opt.names = atoll(optarg); break;
    case 's': list = optarg; break;
    case 'r': opt.range = atoll(optarg); break;
    case 'e': opt.end = atoll(optarg); break;
    case 'N': opt.requests = atoi(optarg); break;
    case 'c': opt.conns = atoi(optarg); break;
    case 'F': opt.fanout = atoi(optarg); break;
    case 'f':
      if (strcmp(optarg, "vm") == 0) opt.format = FMT_VM;
      else if (strcmp(optarg, "mackerel") == 0) opt.format = FMT_MACKEREL;
      else { usage(stderr); return 2; }
      break;
    case 'k': opt.key = optarg; break;
    case 'q': opt.quiet = 1; break;
    case 'h': usage(stdout); return 0;
    default: usage(stderr); return 2;
    }
  }
  if (url == NULL || parse_url(url) < 0 || opt.conns < 1 || opt.requests < 1 ||
      opt.fanout < 0 || opt.hosts < 1 || opt.names < 1 || opt.range < 0) {
    usage(stderr);
    return 2;
  }
  if (list != NULL) {
    if (parse_series_list(list) < 0) {
      fprintf(stderr, "dm_readbench: --series wants host:name,host:name,...\n");
      return 2;
    }
  } else {
    nseries = (size_t)(opt.hosts * opt.names);
    series = calloc(nseries, sizeof *series);
    if (series == NULL) return 2;
    for (size_t i = 0; i < nseries; i++) {
      /* spread consecutive requests over hosts: host i % H, name i / H */
      snprintf(series[i].host, sizeof series[i].host, "host%05" PRId64,
               (int64_t)i % opt.hosts);
      snprintf(series[i].name, sizeof series[i].name, "custom.metric.%" PRId64,
               (int64_t)i / opt.hosts);
    }
  }
  if (opt.end == 0) opt.end = (int64_t)time(NULL);

  loop = uv_default_loop();
  int n = opt.fanout > 0 ? opt.fanout : opt.conns;
  conns = calloc((size_t)n, sizeof *conns);
  if (conns == NULL) return 2;
  nconns = n;
  for (int i = 0; i < n; i++) {
    conns[i].index = i;
    uv_tcp_init(loop, &conns[i].tcp);
    conns[i].tcp.data = &conns[i];
    conns[i].connect_req.data = &conns[i];
    if (uv_tcp_connect(&conns[i].connect_req, &conns[i].tcp, (struct sockaddr *)&addr,
                       on_connect) < 0)
      return 1;
  }
  uv_run(loop, UV_RUN_DEFAULT);

  double secs = (double)(t_end - t_begin) / 1e9;
  if (secs <= 0) secs = 1e-9;
  qsort(st.lat_ms, st.nlat, sizeof *st.lat_ms, cmp_double);
  double p50 = pct(st.lat_ms, st.nlat, 50), p99 = pct(st.lat_ms, st.nlat, 99);
  double mx = st.nlat ? st.lat_ms[st.nlat - 1] : 0;
  double ppr = done_requests ? (double)st.points / done_requests : 0;
  if (!opt.quiet) {
    printf("target       %s:%d (%s), range %" PRId64 " s ending %" PRId64 ", %zu series\n",
           opt.host, opt.port, opt.format == FMT_VM ? "vm export" : "mackerel host metrics",
           opt.range, opt.end, nseries);
    if (opt.fanout > 0)
      printf("fanout       %d rounds of %d concurrent requests\n", rounds_done, opt.fanout);
    else
      printf("requests     %d on %d conns\n", done_requests, opt.conns);
    printf("latency ms   p50 %.3f  p99 %.3f  max %.3f%s\n", p50, p99, mx,
           opt.fanout > 0 ? "  (per round)" : "");
    printf("throughput   %.1f requests/s, %.1f points/request, %.0f bytes/request\n",
           done_requests / secs, ppr, done_requests ? (double)st.bytes / done_requests : 0);
    printf("non-2xx      %" PRIu64 ", errors %" PRIu64 "\n", st.non2xx, st.errors);
  }
  printf("{\"requests\":%d,\"rounds\":%d,\"fanout\":%d,\"seconds\":%.3f,\"requests_per_sec\":"
         "%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,\"points_per_request\":%.1f,"
         "\"non_2xx\":%" PRIu64 ",\"errors\":%" PRIu64 "}\n", done_requests, rounds_done,
         opt.fanout, secs, done_requests / secs, p50, p99, mx, ppr, st.non2xx, st.errors);
  for (int i = 0; i < n; i++) {
    free(conns[i].out.data);
    free(conns[i].in.data);
  }
  free(conns);
  free(series);
  free(st.lat_ms);
  uv_loop_close(loop);
  return st.non2xx || st.errors ? 1 : 0;
}
