/* graphite_plain.c — the Graphite plaintext listener (graphite.h): TCP on libuv, lines into
 * batches, batches through dm_engine_write.
 *
 * A connection owns one buffer of graphite_max_line + READ_CHUNK bytes. libuv reads into
 * the free space after the pending partial line; after each read every complete line is
 * parsed into the connection's batch and the partial tail is moved to the front. Since a
 * tail longer than max_line is dropped on the spot (the line is counted bad and the rest of
 * it skipped up to the next '\n'), at least READ_CHUNK bytes are always free.
 *
 * Flow control: once a read produced points, reading stops (uv_read_stop) until the
 * engine's callback says the batch is durable; DM_EBUSY from the engine re-tries the same
 * batch every RETRY_MS, still without reading. The kernel's socket buffer then fills and
 * TCP pushes back on the sender.
 *
 * Connection states (flags of conn):
 *   reading      -> (read produced points) writing -> (engine cb) reading
 *   writing      -> (DM_EBUSY) retrying -> (timer) writing
 *   any          -> closing (EOF after the last write, error, idle, stop, write failure)
 * A closing connection is freed when both its handles are closed and no engine callback is
 * outstanding (refs == 0); the engine holds a pointer to its batch until then.
 *
 * UDP (graphite.udp). Each datagram is parsed whole, line by line, by the same line parser:
 * its last line needs no '\n', and nothing is carried over to the next datagram (UDP keeps
 * no stream: a line split over two datagrams becomes two bad lines, or two wrong ones).
 * Lines go into the listener's `live` batch. When no write is in flight, `live` is swapped
 * with the empty `inflight` batch and handed to the engine; datagrams arriving meanwhile
 * pile up in `live`, so one WAL write carries every datagram of a busy loop turn. Above
 * UDP_MAX_PENDING points waiting, receiving stops (uv_udp_recv_stop) until the write
 * completes: the kernel's socket buffer absorbs the rest and then drops datagrams
 * (counted by the kernel, /proc/net/snmp Udp: RcvbufErrors), since UDP cannot push back.
 * DM_EBUSY re-tries the same points every RETRY_MS. A datagram larger than the 64 KiB
 * buffer cannot arrive over IPv4/IPv6 without jumbograms; a truncated one is counted bad.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "diamond/error.h"
#include "diamond/graphite.h"
#include "diamond/ingest.h"
#include "diamond/log.h"
#include "diamond/metrics.h"
#include "diamond/point.h"
#include "diamond/timefmt.h"

#define READ_CHUNK (64 * 1024)
#define UDP_BUF (64 * 1024)
#define UDP_MAX_PENDING 100000
#define RETRY_MS 100
#define WARN_EVERY_MS 1000

typedef struct conn conn;

struct dm_graphite {
  uv_loop_t *loop;
  dm_engine *e;
  const dm_config *cfg;
  uv_tcp_t server;
  int port;
  int stopping;
  int server_open; /* the listening handle is not closed yet */
  int handles;     /* open handles of g itself: server, udp socket, udp timer */
  size_t nconns;   /* conn structs alive (closing ones too) */
  conn *conns;
  uint64_t last_refused_log;
  dm_counter *m_points, *m_bad, *m_refused;
  /* UDP */
  uv_udp_t udp;
  uv_timer_t udp_timer; /* DM_EBUSY retry */
  int udp_on, udp_port, udp_writing, udp_retrying, udp_paused;
  char *udp_buf;
  dm_batch live, inflight;
  uint64_t udp_datagram_no, udp_last_warn_ms, udp_unlogged_bad;
  dm_counter *m_udp_points, *m_udp_datagrams;
  void (*stop_cb)(void *);
  void *stop_arg;
};

struct conn {
  dm_graphite *g;
  uv_tcp_t tcp;
  uv_timer_t timer; /* idle timeout, or the DM_EBUSY retry while retrying */
  char *buf;
  size_t len, cap;
  int discarding; /* inside an over-long line: skip to the next '\n' */
  int writing;    /* dm_engine_write accepted the batch; its callback is due */
  int retrying;   /* the engine said DM_EBUSY; the timer re-tries */
  int eof;        /* the peer finished sending: close once the last batch is written */
  int closing;
  int refs;       /* open handles + outstanding engine callback */
  uint64_t line_no;
  uint64_t last_warn_ms, unlogged_bad;
  dm_batch batch;
  char peer[64];
  conn *prev, *next;
};

static void close_conn(conn *c);
static void conn_free(conn *c);
static void maybe_stopped(dm_graphite *g);
static void server_closed(uv_handle_t *h);
static void udp_submit_timer(uv_timer_t *t);
static void udp_stop(dm_graphite *g);
static int parse_addr(const char *a, struct sockaddr_storage *ss);
static int bound_port(const struct sockaddr_storage *ss);
static void udp_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf);
static void udp_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                     const struct sockaddr *addr, unsigned flags);

/* ---- bad lines ---- */

static void bad_line(conn *c, const char *why) {
  dm_counter_add(c->g->m_bad, 1);
  uint64_t now = uv_now(c->g->loop);
  if (c->last_warn_ms != 0 && now - c->last_warn_ms < WARN_EVERY_MS) {
    c->unlogged_bad++;
    return;
  }
  char q[600];
  dm_log_warn("graphite_bad_line", "peer=%s line=%llu reason=%s suppressed=%llu", c->peer,
              (unsigned long long)c->line_no, dm_log_quote(q, sizeof q, why),
              (unsigned long long)c->unlogged_bad);
  c->last_warn_ms = now ? now : 1;
  c->unlogged_bad = 0;
}

/* ---- writing ---- */

static void idle_or_retry(uv_timer_t *t);

static void arm_idle(conn *c) {
  int64_t ms = c->g->cfg->idle_timeout_ms;
  if (ms > 0) uv_timer_start(&c->timer, idle_or_retry, (uint64_t)ms, 0);
  else uv_timer_stop(&c->timer);
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf);
static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void write_done(void *arg, int status) {
  conn *c = arg;
  c->writing = 0;
  if (status == 0) {
    dm_counter_add(c->g->m_points, c->batch.n);
  } else {
    dm_log_error("graphite_write_failed", "peer=%s points=%zu error=\"%s\"", c->peer,
                 c->batch.n, dm_strerror(status));
    c->eof = 1; /* close: the sender sees the drop and can resend */
  }
  dm_batch_reset(&c->batch);
  if (--c->refs == 0) { /* its handles closed while the engine held the batch */
    conn_free(c);
    return;
  }
  if (c->closing || c->eof || c->g->stopping) {
    close_conn(c);
    return;
  }
  uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
  arm_idle(c);
}

/* Hands the batch to the engine; reading stays stopped until write_done. */
static void submit(conn *c) {
  /* flags first: an embedded engine may call write_done before dm_engine_write returns */
  c->retrying = 0;
  c->writing = 1;
  c->refs++;
  int rc = dm_engine_write(c->g->e, &c->batch, write_done, c);
  if (rc == 0) return;
  c->writing = 0; /* nothing started: no callback will come */
  c->refs--;
  if (rc == DM_EBUSY) {
    c->retrying = 1;
    uv_timer_start(&c->timer, idle_or_retry, RETRY_MS, 0);
    return;
  }
  c->retrying = 0;
  dm_log_error("graphite_write_failed", "peer=%s points=%zu error=\"%s\"", c->peer,
               c->batch.n, dm_strerror(rc));
  dm_batch_reset(&c->batch);
  close_conn(c);
}

static void idle_or_retry(uv_timer_t *t) {
  conn *c = t->data;
  if (c->closing) return;
  if (c->retrying) {
    submit(c);
  } else if (!c->writing) {
    dm_log_debug("graphite_idle_close", "peer=%s", c->peer);
    close_conn(c);
  }
}

/* ---- reading ---- */

static void parse_line(conn *c, const char *s, size_t len, const dm_ingest_limits *lim,
                       int64_t now) {
  char err[256];
  c->line_no++;
  if (len > (size_t)c->g->cfg->graphite_max_line) {
    snprintf(err, sizeof err, "line longer than %lld bytes",
             (long long)c->g->cfg->graphite_max_line);
    bad_line(c, err);
    return;
  }
  if (dm_ingest_graphite_line(s, len, now, lim, &c->batch, err, sizeof err) < 0)
    bad_line(c, err);
}

/* Parses every complete line in the buffer (and the tail too at EOF), keeps the partial
 * tail, and submits the batch if it holds points. */
static void process(conn *c, int at_eof) {
  const dm_config *cfg = c->g->cfg;
  int64_t now = dm_now();
  dm_ingest_limits lim = {.max_points = SIZE_MAX, .max_name_len = (size_t)cfg->max_name_len,
                          .step = cfg->step, .min_time = now - cfg->blob_keep,
                          .max_time = now + cfg->max_future};
  char *p = c->buf, *end = c->buf + c->len, *nl;
  while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
    if (c->discarding) c->discarding = 0; /* the end of an over-long line */
    else parse_line(c, p, (size_t)(nl - p), &lim, now);
    p = nl + 1;
  }
  size_t rest = (size_t)(end - p);
  if (c->discarding) {
    rest = 0;
  } else if (rest > 0 && at_eof) {
    parse_line(c, p, rest, &lim, now);
    rest = 0;
  } else if (rest > (size_t)cfg->graphite_max_line) {
    parse_line(c, p, rest, &lim, now); /* counts it as bad: too long */
    c->discarding = 1;
    rest = 0;
  }
  memmove(c->buf, p, rest);
  c->len = rest;
  if (c->batch.n > 0) {
    uv_read_stop((uv_stream_t *)&c->tcp);
    uv_timer_stop(&c->timer);
    submit(c);
  }
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  conn *c = h->data;
  (void)hint;
  *buf = uv_buf_init(c->buf + c->len, (unsigned)(c->cap - c->len));
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  conn *c = s->data;
  (void)buf;
  if (c->closing) return;
  if (nread > 0) {
    c->len += (size_t)nread;
    arm_idle(c);
    process(c, 0);
    return;
  }
  if (nread == 0) return;
  uv_read_stop(s);
  if (nread != UV_EOF)
    dm_log_debug("graphite_read_error", "peer=%s error=\"%s\"", c->peer,
                 uv_strerror((int)nread));
  c->eof = 1;
  if (nread == UV_EOF) process(c, 1);
  if (!c->writing && !c->retrying) close_conn(c);
}

/* ---- connections ---- */

static void conn_free(conn *c) {
  dm_graphite *g = c->g;
  if (c->prev) c->prev->next = c->next;
  else g->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  g->nconns--;
  dm_batch_free(&c->batch);
  free(c->buf);
  free(c);
  maybe_stopped(g);
}

static void conn_handle_closed(uv_handle_t *h) {
  conn *c = h->data;
  if (--c->refs == 0) conn_free(c);
}

static void close_conn(conn *c) {
  if (c->closing) return;
  c->closing = 1;
  if (c->retrying && c->batch.n > 0)
    dm_log_warn("graphite_dropped", "peer=%s points=%zu reason=closing_while_busy", c->peer,
                c->batch.n);
  c->retrying = 0;
  uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
  uv_close((uv_handle_t *)&c->timer, conn_handle_closed);
}

static void peer_name(uv_tcp_t *t, char *out, size_t len) {
  struct sockaddr_storage ss;
  int sl = sizeof ss;
  snprintf(out, len, "unknown");
  if (uv_tcp_getpeername(t, (struct sockaddr *)&ss, &sl) != 0) return;
  char ip[48];
  if (ss.ss_family == AF_INET6) {
    uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof ip);
    snprintf(out, len, "[%s]:%d", ip, ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
  } else {
    uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof ip);
    snprintf(out, len, "%s:%d", ip, ntohs(((struct sockaddr_in *)&ss)->sin_port));
  }
}

static void refused_closed(uv_handle_t *h) { free(h); }

/* Over max_connections: accept (so the kernel's queue drains) and close at once. */
static void refuse(dm_graphite *g, uv_stream_t *server) {
  uv_tcp_t *t = malloc(sizeof *t);
  if (t == NULL) return;
  uv_tcp_init(g->loop, t);
  uv_accept(server, (uv_stream_t *)t);
  uv_close((uv_handle_t *)t, refused_closed);
  dm_counter_add(g->m_refused, 1);
  uint64_t now = uv_now(g->loop);
  if (g->last_refused_log == 0 || now - g->last_refused_log >= WARN_EVERY_MS) {
    dm_log_warn("graphite_refused", "reason=max_connections limit=%lld",
                (long long)g->cfg->max_connections);
    g->last_refused_log = now ? now : 1;
  }
}

static void on_connection(uv_stream_t *server, int status) {
  dm_graphite *g = server->data;
  if (status < 0) {
    dm_log_warn("graphite_accept_failed", "error=\"%s\"", uv_strerror(status));
    return;
  }
  if (g->stopping || g->nconns >= (size_t)g->cfg->max_connections) {
    refuse(g, server);
    return;
  }
  conn *c = calloc(1, sizeof *c);
  size_t cap = (size_t)g->cfg->graphite_max_line + READ_CHUNK;
  char *buf = malloc(cap);
  if (c == NULL || buf == NULL) {
    free(c);
    free(buf);
    refuse(g, server);
    return;
  }
  c->g = g;
  c->buf = buf;
  c->cap = cap;
  dm_batch_init(&c->batch);
  uv_tcp_init(g->loop, &c->tcp);
  uv_timer_init(g->loop, &c->timer);
  c->tcp.data = c->timer.data = c;
  c->refs = 2;
  c->next = g->conns;
  if (g->conns) g->conns->prev = c;
  g->conns = c;
  g->nconns++;
  int rc = uv_accept(server, (uv_stream_t *)&c->tcp);
  if (rc == 0) rc = uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
  if (rc < 0) {
    dm_log_warn("graphite_accept_failed", "error=\"%s\"", uv_strerror(rc));
    close_conn(c);
    return;
  }
  peer_name(&c->tcp, c->peer, sizeof c->peer);
  arm_idle(c);
}

/* ---- UDP ---- */

static void udp_bad_line(dm_graphite *g, const char *peer, uint64_t line, const char *why) {
  dm_counter_add(g->m_bad, 1);
  uint64_t now = uv_now(g->loop);
  if (g->udp_last_warn_ms != 0 && now - g->udp_last_warn_ms < WARN_EVERY_MS) {
    g->udp_unlogged_bad++;
    return;
  }
  char q[600];
  dm_log_warn("graphite_bad_line", "proto=udp peer=%s datagram=%llu line=%llu reason=%s "
              "suppressed=%llu", peer, (unsigned long long)g->udp_datagram_no,
              (unsigned long long)line, dm_log_quote(q, sizeof q, why),
              (unsigned long long)g->udp_unlogged_bad);
  g->udp_last_warn_ms = now ? now : 1;
  g->udp_unlogged_bad = 0;
}

static void udp_submit(dm_graphite *g);

static void udp_write_done(void *arg, int status) {
  dm_graphite *g = arg;
  g->udp_writing = 0;
  if (status == 0) {
    dm_counter_add(g->m_udp_points, g->inflight.n);
  } else {
    dm_log_error("graphite_write_failed", "proto=udp points=%zu error=\"%s\"", g->inflight.n,
                 dm_strerror(status));
  }
  dm_batch_reset(&g->inflight);
  if (g->udp_paused && !g->stopping) {
    g->udp_paused = 0;
    uv_udp_recv_start(&g->udp, udp_alloc, udp_recv);
  }
  if (g->live.n > 0 && !g->udp_retrying) udp_submit(g);
  maybe_stopped(g);
}

static void udp_swap(dm_graphite *g) {
  dm_batch t = g->live;
  g->live = g->inflight;
  g->inflight = t;
}

/* Hands every waiting point to the engine (live becomes inflight). */
static void udp_submit(dm_graphite *g) {
  udp_swap(g);
  g->udp_retrying = 0;
  g->udp_writing = 1; /* first: the engine may call back before it returns */
  int rc = dm_engine_write(g->e, &g->inflight, udp_write_done, g);
  if (rc == 0) return;
  g->udp_writing = 0;
  udp_swap(g); /* live is empty here: the points go back to it */
  if (rc == DM_EBUSY && !g->stopping) {
    g->udp_retrying = 1;
    uv_timer_start(&g->udp_timer, udp_submit_timer, RETRY_MS, 0);
    return;
  }
  dm_log_error("graphite_write_failed", "proto=udp points=%zu error=\"%s\"", g->live.n,
               dm_strerror(rc));
  dm_batch_reset(&g->live);
}

static void udp_submit_timer(uv_timer_t *t) {
  dm_graphite *g = t->data;
  if (!g->udp_retrying || g->udp_writing) return;
  udp_submit(g);
}

static void udp_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  dm_graphite *g = h->data;
  (void)hint;
  *buf = uv_buf_init(g->udp_buf, UDP_BUF);
}

static void addr_name(const struct sockaddr *sa, char *out, size_t len) {
  char ip[48];
  snprintf(out, len, "unknown");
  if (sa == NULL) return;
  if (sa->sa_family == AF_INET6) {
    uv_ip6_name((const struct sockaddr_in6 *)sa, ip, sizeof ip);
    snprintf(out, len, "[%s]:%d", ip, ntohs(((const struct sockaddr_in6 *)sa)->sin6_port));
  } else if (sa->sa_family == AF_INET) {
    uv_ip4_name((const struct sockaddr_in *)sa, ip, sizeof ip);
    snprintf(out, len, "%s:%d", ip, ntohs(((const struct sockaddr_in *)sa)->sin_port));
  }
}

static void udp_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                     const struct sockaddr *addr, unsigned flags) {
  dm_graphite *g = h->data;
  if (nread == 0 && addr == NULL) return; /* nothing more to read now */
  char peer[64];
  if (nread < 0) {
    dm_log_debug("graphite_read_error", "proto=udp error=\"%s\"", uv_strerror((int)nread));
    return;
  }
  if (g->stopping) return;
  dm_counter_add(g->m_udp_datagrams, 1);
  g->udp_datagram_no++;
  const dm_config *cfg = g->cfg;
  if (flags & UV_UDP_PARTIAL) {
    addr_name(addr, peer, sizeof peer);
    udp_bad_line(g, peer, 0, "datagram truncated (over 64 KiB): dropped");
    return;
  }
  int64_t now = dm_now();
  dm_ingest_limits lim = {.max_points = SIZE_MAX, .max_name_len = (size_t)cfg->max_name_len,
                          .step = cfg->step, .min_time = now - cfg->blob_keep,
                          .max_time = now + cfg->max_future};
  const char *p = buf->base, *end = buf->base + nread;
  uint64_t line = 0;
  char err[256];
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t len = (size_t)((nl ? nl : end) - p);
    line++;
    int rc;
    if (len > (size_t)cfg->graphite_max_line) {
      snprintf(err, sizeof err, "line longer than %lld bytes", (long long)cfg->graphite_max_line);
      rc = DM_EINVAL;
    } else {
      rc = dm_ingest_graphite_line(p, len, now, &lim, &g->live, err, sizeof err);
    }
    if (rc < 0) {
      addr_name(addr, peer, sizeof peer);
      udp_bad_line(g, peer, line, err);
    }
    p += len + (nl ? 1 : 0);
  }
  if (g->live.n == 0) return;
  if (!g->udp_writing && !g->udp_retrying) {
    udp_submit(g);
  } else if (g->live.n >= UDP_MAX_PENDING && !g->udp_paused) {
    g->udp_paused = 1;
    uv_udp_recv_stop(&g->udp);
  }
}

static int udp_start(dm_graphite *g, char *err, size_t errlen) {
  const dm_config *cfg = g->cfg;
  struct sockaddr_storage ss;
  if (parse_addr(cfg->graphite_udp, &ss) < 0) {
    snprintf(err, errlen, "bad graphite udp address \"%s\" (want ip:port or [v6]:port)",
             cfg->graphite_udp);
    return DM_EINVAL;
  }
  g->udp_buf = malloc(UDP_BUF);
  if (g->udp_buf == NULL) {
    snprintf(err, errlen, "out of memory");
    return DM_ENOMEM;
  }
  g->m_udp_points = dm_metric_counter("diamond_points_total", "source=\"graphite_udp\"",
                                      "Points accepted, by ingest source.");
  g->m_udp_datagrams = dm_metric_counter("diamond_graphite_udp_datagrams_total", "",
                                         "Graphite plaintext UDP datagrams received.");
  uv_udp_init(g->loop, &g->udp);
  uv_timer_init(g->loop, &g->udp_timer);
  g->udp.data = g->udp_timer.data = g;
  g->udp_on = 1;
  g->handles += 2;
  int rc = uv_udp_bind(&g->udp, (struct sockaddr *)&ss, 0);
  if (rc == 0) rc = uv_udp_recv_start(&g->udp, udp_alloc, udp_recv);
  if (rc < 0) {
    snprintf(err, errlen, "cannot bind udp %s: %s", cfg->graphite_udp, uv_strerror(rc));
    return DM_EIO;
  }
  struct sockaddr_storage bound;
  int len = sizeof bound;
  uv_udp_getsockname(&g->udp, (struct sockaddr *)&bound, &len);
  g->udp_port = bound_port(&bound);
  return 0;
}

/* Stops receiving. Points already parsed are still written (now, or when the write in
 * flight completes); points waiting to retry after DM_EBUSY are dropped. */
static void udp_stop(dm_graphite *g) {
  uv_udp_recv_stop(&g->udp);
  if (g->udp_retrying) {
    dm_log_warn("graphite_dropped", "proto=udp points=%zu reason=stopping_while_busy",
                g->live.n);
    g->udp_retrying = 0;
    dm_batch_reset(&g->live);
  } else if (!g->udp_writing && g->live.n > 0) {
    udp_submit(g);
  }
  uv_close((uv_handle_t *)&g->udp, server_closed);
  uv_close((uv_handle_t *)&g->udp_timer, server_closed);
}

/* ---- listener ---- */

/* "host:port", "[v6]:port", ":port" (all IPv4 addresses), "localhost:port". */
static int parse_addr(const char *a, struct sockaddr_storage *ss) {
  char host[256];
  const char *colon, *hs = a;
  size_t hl;
  if (a[0] == '[') {
    const char *rb = strchr(a, ']');
    if (rb == NULL || rb[1] != ':') return DM_EINVAL;
    hs = a + 1;
    hl = (size_t)(rb - hs);
    colon = rb + 1;
  } else {
    colon = strrchr(a, ':');
    if (colon == NULL) return DM_EINVAL;
    hl = (size_t)(colon - a);
  }
  if (hl >= sizeof host) return DM_EINVAL;
  memcpy(host, hs, hl);
  host[hl] = '\0';
  if (hl == 0) snprintf(host, sizeof host, "0.0.0.0");
  if (strcmp(host, "localhost") == 0) snprintf(host, sizeof host, "127.0.0.1");
  char *end;
  long port = strtol(colon + 1, &end, 10);
  if (colon[1] == '\0' || *end != '\0' || port < 0 || port > 65535) return DM_EINVAL;
  memset(ss, 0, sizeof *ss);
  if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss) == 0) return 0;
  if (uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)ss) == 0) return 0;
  return DM_EINVAL;
}

static int disabled(const char *addr) { return addr[0] == '\0' || strcmp(addr, "off") == 0; }

static int bound_port(const struct sockaddr_storage *ss) {
  return ntohs(ss->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)ss)->sin6_port
                                         : ((const struct sockaddr_in *)ss)->sin_port);
}

/* Closes whatever start opened; server_closed frees g (there is no stop callback). */
static void start_failed(dm_graphite *g) {
  g->stopping = 1;
  g->handles++; /* held while closing, so g outlives the uv_close calls below */
  if (g->server_open) uv_close((uv_handle_t *)&g->server, server_closed);
  if (g->udp_on) {
    uv_close((uv_handle_t *)&g->udp, server_closed);
    uv_close((uv_handle_t *)&g->udp_timer, server_closed);
  }
  g->handles--;
  maybe_stopped(g);
}

static int udp_start(dm_graphite *g, char *err, size_t errlen);

int dm_graphite_start(dm_graphite **out, uv_loop_t *loop, dm_engine *e, const dm_config *cfg,
                      char *err, size_t errlen) {
  struct sockaddr_storage ss;
  *out = NULL;
  int tcp = !disabled(cfg->graphite), udp = !disabled(cfg->graphite_udp);
  if (!tcp && !udp) return 0;
  if (tcp && parse_addr(cfg->graphite, &ss) < 0) {
    snprintf(err, errlen, "bad graphite listen address \"%s\" (want ip:port or [v6]:port)",
             cfg->graphite);
    return DM_EINVAL;
  }
  dm_graphite *g = calloc(1, sizeof *g);
  if (g == NULL) {
    snprintf(err, errlen, "out of memory");
    return DM_ENOMEM;
  }
  g->loop = loop;
  g->e = e;
  g->cfg = cfg;
  dm_batch_init(&g->live);
  dm_batch_init(&g->inflight);
  g->m_points = dm_metric_counter("diamond_points_total", "source=\"graphite\"",
                                  "Points accepted, by ingest source.");
  g->m_bad = dm_metric_counter("diamond_graphite_bad_lines_total", "",
                               "Graphite plaintext lines rejected (and skipped).");
  g->m_refused = dm_metric_counter("diamond_graphite_refused_total", "",
                                   "Graphite connections closed at once (max_connections).");
  if (tcp) {
    uv_tcp_init(loop, &g->server);
    g->server.data = g;
    g->server_open = 1;
    g->handles++;
    int rc = uv_tcp_bind(&g->server, (struct sockaddr *)&ss, 0);
    if (rc == 0) rc = uv_listen((uv_stream_t *)&g->server, 511, on_connection);
    if (rc < 0) {
      snprintf(err, errlen, "cannot listen on %s: %s", cfg->graphite, uv_strerror(rc));
      start_failed(g);
      return DM_EIO;
    }
    struct sockaddr_storage bound;
    int len = sizeof bound;
    uv_tcp_getsockname(&g->server, (struct sockaddr *)&bound, &len);
    g->port = bound_port(&bound);
  }
  if (udp) {
    int rc = udp_start(g, err, errlen);
    if (rc < 0) {
      start_failed(g);
      return rc;
    }
  }
  *out = g;
  return 0;
}

int dm_graphite_port(const dm_graphite *g) { return g ? g->port : 0; }

int dm_graphite_udp_port(const dm_graphite *g) { return g ? g->udp_port : 0; }

static void maybe_stopped(dm_graphite *g) {
  if (!g->stopping || g->handles > 0 || g->nconns > 0 || g->udp_writing) return;
  void (*cb)(void *) = g->stop_cb;
  void *arg = g->stop_arg;
  dm_batch_free(&g->live);
  dm_batch_free(&g->inflight);
  free(g->udp_buf);
  free(g);
  if (cb) cb(arg);
}

static void server_closed(uv_handle_t *h) {
  dm_graphite *g = h->data;
  if (h == (uv_handle_t *)&g->server) g->server_open = 0;
  g->handles--;
  maybe_stopped(g);
}

void dm_graphite_stop(dm_graphite *g, void (*cb)(void *), void *arg) {
  if (g == NULL) {
    if (cb) cb(arg);
    return;
  }
  g->stopping = 1;
  g->stop_cb = cb;
  g->stop_arg = arg;
  if (g->server_open && !uv_is_closing((uv_handle_t *)&g->server))
    uv_close((uv_handle_t *)&g->server, server_closed);
  if (g->udp_on) udp_stop(g);
  for (conn *c = g->conns; c != NULL; c = c->next) {
    if (c->writing) {
      c->eof = 1; /* write_done closes it */
      uv_read_stop((uv_stream_t *)&c->tcp);
    } else {
      close_conn(c);
    }
  }
}
