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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "bench_http.h"

enum { FMT_MACKEREL, FMT_VM };

static struct {
  bh_url url;
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
  bh_conn bh; /* first: the bh_conn callbacks cast back */
  bh_sbuf out;
} conn_t;

static uv_loop_t *loop;
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
  bh_lat lat;
} st;

static void send_request(conn_t *c);
static void start_round(void);

/* Appends s percent-encoded (everything but unreserved characters). */
static void add_escaped(bh_sbuf *b, const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  bh_sb_reserve(b, strlen(s) * 3 + 1);
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

static void add_i64(bh_sbuf *b, int64_t v) {
  char tmp[32];
  snprintf(tmp, sizeof tmp, "%" PRId64, v);
  bh_sb_adds(b, tmp);
}

static void build_request(bh_sbuf *b, const series_t *s) {
  int64_t from = opt.end - opt.range, to = opt.end;
  b->len = 0;
  if (opt.format == FMT_VM) {
    char sel[400];
    snprintf(sel, sizeof sel, "{__name__=\"%s\",host=\"%s\"}", s->name, s->host);
    bh_sb_adds(b, "GET /api/v1/export?match[]=");
    add_escaped(b, sel);
    bh_sb_adds(b, "&start=");
    add_i64(b, from);
    bh_sb_adds(b, "&end=");
    add_i64(b, to);
  } else {
    bh_sb_adds(b, "GET /api/v0/hosts/");
    add_escaped(b, s->host);
    bh_sb_adds(b, "/metrics?name=");
    add_escaped(b, s->name);
    bh_sb_adds(b, "&from=");
    add_i64(b, from);
    bh_sb_adds(b, "&to=");
    add_i64(b, to);
  }
  char tail[512];
  snprintf(tail, sizeof tail, " HTTP/1.1\r\nHost: %s:%d\r\n%s%s%s\r\n", opt.url.host, opt.url.port,
           opt.key ? "X-Api-Key: " : "", opt.key ? opt.key : "", opt.key ? "\r\n" : "");
  bh_sb_adds(b, tail);
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

static void on_closed(bh_conn *c) {
  (void)c;
  nconns--;
}

static void on_fail(bh_conn *c, const char *what, int err) {
  st.errors++;
  if (!opt.quiet && st.errors < 5)
    fprintf(stderr, "dm_readbench: connection %d: %s: %s\n", c->index, what, uv_strerror(err));
  bh_conn_close(c);
  if (c->waiting && opt.fanout > 0 && --round_pending == 0) start_round();
  c->waiting = 0;
}

static void stop_all(void) {
  stopping = 1;
  for (int i = 0; i < (opt.fanout > 0 ? opt.fanout : opt.conns); i++)
    if (conns[i].bh.connected) bh_conn_close(&conns[i].bh);
}

static void on_response(bh_conn *c, const bh_response *r) {
  uint64_t now = uv_hrtime();
  done_requests++;
  t_end = now;
  if (r->status == 200) {
    st.points += count_points(r->body, r->body_len);
    st.bytes += r->body_len;
  } else {
    st.non2xx++;
    if (!opt.quiet && st.non2xx < 4)
      fprintf(stderr, "dm_readbench: HTTP %d: %.*s\n", r->status,
              (int)(r->body_len < 200 ? r->body_len : 200), r->body);
  }
  if (opt.fanout > 0) {
    if (--round_pending == 0) {
      bh_lat_add(&st.lat, (double)(now - round_start) / 1e6);
      rounds_done++;
      start_round();
    }
  } else {
    bh_lat_add(&st.lat, (double)(now - c->sent_ns) / 1e6);
    send_request((conn_t *)c);
  }
}

static void send_request(conn_t *c) {
  if (stopping || c->bh.waiting || !c->bh.connected) return;
  if (opt.fanout == 0 && issued >= opt.requests) {
    if (done_requests >= opt.requests) stop_all();
    return;
  }
  const series_t *s = &series[next_series++ % nseries];
  build_request(&c->out, s);
  uv_buf_t b = uv_buf_init(c->out.data, (unsigned)c->out.len);
  issued++;
  bh_conn_send(&c->bh, &b, 1);
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

static void on_connected(bh_conn *c, int status) {
  (void)c;
  if (status < 0) {
    fprintf(stderr, "dm_readbench: connect to %s:%d: %s\n", opt.url.host, opt.url.port,
            uv_strerror(status));
    exit(1);
  }
  int want = opt.fanout > 0 ? opt.fanout : opt.conns;
  if (++connected_count < want) return;
  t_begin = t_end = uv_hrtime(); /* every connection is up: start measuring */
  if (opt.fanout > 0) start_round();
  else
    for (int i = 0; i < opt.conns; i++) send_request(&conns[i]);
}

static const bh_conn_ops conn_ops = {
    .connected = on_connected,
    .response = on_response,
    .fail = on_fail,
    .closed = on_closed,
};

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
  bh_prog = "dm_readbench";
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
  if (url == NULL || bh_parse_url(url, &opt.url) < 0 || opt.conns < 1 || opt.requests < 1 ||
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
    conns[i].bh.index = i;
    conns[i].bh.ops = &conn_ops;
    if (bh_conn_start(&conns[i].bh, loop, (struct sockaddr *)&opt.url.addr) < 0) return 1;
  }
  uv_run(loop, UV_RUN_DEFAULT);

  double secs = (double)(t_end - t_begin) / 1e9;
  if (secs <= 0) secs = 1e-9;
  double p50, p99, mx;
  bh_lat_summary(&st.lat, &p50, &p99, &mx);
  double ppr = done_requests ? (double)st.points / done_requests : 0;
  if (!opt.quiet) {
    printf("target       %s:%d (%s), range %" PRId64 " s ending %" PRId64 ", %zu series\n",
           opt.url.host, opt.url.port, opt.format == FMT_VM ? "vm export" : "mackerel host metrics",
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
    bh_conn_free(&conns[i].bh);
  }
  free(conns);
  free(series);
  bh_lat_free(&st.lat);
  uv_loop_close(loop);
  return st.non2xx || st.errors ? 1 : 0;
}
