/* bench_http.c — the HTTP/1.1 client plumbing of the benchmark tools (dm_load,
 * dm_readbench): buffers, URL and response parsing, keep-alive connections, percentiles.
 * bench_http.h is the contract.
 */
#include "bench_http.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *bh_prog = "bench";

static void out_of_memory(void) {
  fprintf(stderr, "%s: out of memory\n", bh_prog);
  exit(2);
}

/* ---- growable buffer ---------------------------------------------------------------- */

void bh_sb_reserve(bh_sbuf *b, size_t more) {
  if (b->len + more <= b->cap) return;
  size_t cap = b->cap ? b->cap : 4096;
  while (cap < b->len + more) cap *= 2;
  char *p = realloc(b->data, cap);
  if (p == NULL) out_of_memory();
  b->data = p;
  b->cap = cap;
}

void bh_sb_add(bh_sbuf *b, const void *s, size_t n) {
  bh_sb_reserve(b, n);
  memcpy(b->data + b->len, s, n);
  b->len += n;
}

void bh_sb_adds(bh_sbuf *b, const char *s) { bh_sb_add(b, s, strlen(s)); }

void bh_sb_printf(bh_sbuf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  bh_sb_reserve(b, (size_t)n + 1);
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

/* ---- target address ------------------------------------------------------------------ */

int bh_parse_url(const char *s, bh_url *u) {
  if (strncmp(s, "http://", 7) == 0) s += 7;
  const char *colon = strrchr(s, ':');
  if (colon == NULL || colon == s) return -1;
  size_t hl = (size_t)(colon - s);
  if (hl >= sizeof u->host) return -1;
  memcpy(u->host, s, hl);
  u->host[hl] = 0;
  u->port = atoi(colon + 1);
  if (u->port <= 0 || u->port > 65535) return -1;
  const char *ip = strcmp(u->host, "localhost") == 0 ? "127.0.0.1" : u->host;
  if (uv_ip4_addr(ip, u->port, (struct sockaddr_in *)&u->addr) == 0) return 0;
  char h6[sizeof u->host];
  const char *src = ip[0] == '[' ? ip + 1 : ip;
  size_t n = strcspn(src, "]");
  if (n >= sizeof h6) return -1;
  memcpy(h6, src, n);
  h6[n] = 0;
  return uv_ip6_addr(h6, u->port, (struct sockaddr_in6 *)&u->addr) == 0 ? 0 : -1;
}

/* ---- responses --------------------------------------------------------------------- */

/* Chunked body starting at p + off: the offset just past its last CRLF, or 0 if it is not
 * all in p[0..n) yet. */
static size_t chunked_end(const char *p, size_t n, size_t off) {
  for (;;) {
    const char *nl = memmem(p + off, n - off, "\r\n", 2);
    if (nl == NULL) return 0;
    size_t sz = strtoul(p + off, NULL, 16);
    off = (size_t)(nl - p) + 2;
    if (sz == 0) { /* trailers, then an empty line */
      const char *fin = memmem(p + off - 2, n - off + 2, "\r\n\r\n", 4);
      return fin == NULL ? 0 : (size_t)(fin - p) + 4;
    }
    if (n < off + sz + 2) return 0;
    off += sz + 2;
  }
}

/* Moves the data of a chunked body at p + off, complete before p + n (chunked_end() said
 * so), together at p + off; returns its length. */
static size_t dechunk(char *p, size_t n, size_t off) {
  size_t rd = off, wr = off;
  for (;;) {
    const char *nl = memmem(p + rd, n - rd, "\r\n", 2);
    size_t sz = strtoul(p + rd, NULL, 16);
    rd = (size_t)(nl - p) + 2;
    if (sz == 0) return wr - off;
    memmove(p + wr, p + rd, sz);
    wr += sz;
    rd += sz + 2;
  }
}

int bh_parse_response(char *p, size_t n, bh_response *r) {
  const char *end = memmem(p, n, "\r\n\r\n", 4);
  if (end == NULL) return n > 65536 ? -1 : 0;
  size_t hlen = (size_t)(end - p) + 4;
  if (n < 12 || memcmp(p, "HTTP/1.", 7) != 0) return -1;
  r->status = atoi(p + 9);
  r->close_after = p[7] == '0';
  long long clen = -1;
  int chunked = 0;
  const char *l = memchr(p, '\n', hlen); /* end of the status line */
  while (l != NULL && ++l < end) {
    const char *eol = memchr(l, '\n', (size_t)(end + 2 - l));
    size_t ll = (size_t)(eol - l);
    if (ll > 15 && strncasecmp(l, "content-length:", 15) == 0) {
      clen = atoll(l + 15);
    } else if (ll > 18 && strncasecmp(l, "transfer-encoding:", 18) == 0) {
      chunked = memmem(l, ll, "chunked", 7) != NULL;
    } else if (ll > 11 && strncasecmp(l, "connection:", 11) == 0) {
      if (memmem(l, ll, "close", 5) != NULL) r->close_after = 1;
      if (memmem(l, ll, "keep-alive", 10) != NULL) r->close_after = 0;
    }
    l = eol;
  }
  r->body = p + hlen;
  r->body_len = 0;
  if (r->status == 204 || r->status == 304 || (r->status >= 100 && r->status < 200)) {
    r->consumed = hlen;
    return 1;
  }
  if (chunked) {
    size_t fin = chunked_end(p, n, hlen);
    if (fin == 0) return 0;
    r->consumed = fin;
    r->body_len = dechunk(p, n, hlen);
    return 1;
  }
  if (clen < 0 || n < hlen + (size_t)clen) return 0;
  r->consumed = hlen + (size_t)clen;
  r->body_len = (size_t)clen;
  return 1;
}

/* ---- keep-alive connections ------------------------------------------------------- */

static void on_close(uv_handle_t *h) {
  bh_conn *c = h->data;
  c->connected = 0;
  c->writing = 0;
  c->in.len = 0;
  c->ops->closed(c);
}

void bh_conn_close(bh_conn *c) {
  if (!uv_is_closing((uv_handle_t *)&c->tcp)) uv_close((uv_handle_t *)&c->tcp, on_close);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  bh_conn *c = h->data;
  (void)hint;
  bh_sb_reserve(&c->in, 65536);
  *buf = uv_buf_init(c->in.data + c->in.len, (unsigned)(c->in.cap - c->in.len));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  bh_conn *c = s->data;
  (void)buf;
  if (nread < 0) {
    c->ops->fail(c, "read", (int)nread);
    return;
  }
  c->in.len += (size_t)nread;
  for (;;) {
    bh_response r;
    int rc = bh_parse_response(c->in.data, c->in.len, &r);
    if (rc == 0) return;
    if (rc < 0 || !c->waiting) {
      c->ops->fail(c, "bad response", UV_EPROTO);
      return;
    }
    c->waiting = 0;
    c->ops->response(c, &r);
    memmove(c->in.data, c->in.data + r.consumed, c->in.len - r.consumed);
    c->in.len -= r.consumed;
    if (r.close_after) {
      c->ops->fail(c, "server closed the connection", UV_EOF);
      return;
    }
    if (c->ops->ready != NULL) c->ops->ready(c);
    if (c->in.len == 0) return;
  }
}

static void on_write(uv_write_t *w, int status) {
  bh_conn *c = w->data;
  c->writing = 0;
  if (status < 0) c->ops->fail(c, "write", status);
  else if (!c->waiting && c->ops->ready != NULL) c->ops->ready(c);
}

static void on_connect(uv_connect_t *req, int status) {
  bh_conn *c = req->data;
  if (status == 0) {
    c->connected = 1;
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  }
  c->ops->connected(c, status);
}

int bh_conn_start(bh_conn *c, uv_loop_t *loop, const struct sockaddr *addr) {
  uv_tcp_init(loop, &c->tcp);
  c->tcp.data = c;
  c->connect_req.data = c;
  return uv_tcp_connect(&c->connect_req, &c->tcp, addr, on_connect);
}

void bh_conn_send(bh_conn *c, const uv_buf_t *bufs, unsigned nbufs) {
  c->writing = c->waiting = 1;
  c->sent_ns = uv_hrtime();
  c->write_req.data = c;
  int rc = uv_write(&c->write_req, (uv_stream_t *)&c->tcp, bufs, nbufs, on_write);
  if (rc < 0) {
    c->writing = 0;
    c->ops->fail(c, "write", rc);
  }
}

void bh_conn_free(bh_conn *c) {
  free(c->in.data);
  c->in = (bh_sbuf){0};
}

/* ---- latency percentiles --------------------------------------------------------- */

void bh_lat_add(bh_lat *l, double ms) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 4096;
    double *p = realloc(l->ms, cap * sizeof *p);
    if (p == NULL) out_of_memory();
    l->ms = p;
    l->cap = cap;
  }
  l->ms[l->n++] = ms;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Nearest rank: the smallest sample with at least p% of the samples at or below it. */
static double pct(const double *v, size_t n, double p) {
  if (n == 0) return 0;
  size_t i = (size_t)ceil(p / 100.0 * (double)n);
  return v[i == 0 ? 0 : i - 1];
}

void bh_lat_summary(bh_lat *l, double *p50, double *p99, double *max) {
  if (l->n > 0) qsort(l->ms, l->n, sizeof *l->ms, cmp_double);
  *p50 = pct(l->ms, l->n, 50);
  *p99 = pct(l->ms, l->n, 99);
  *max = l->n ? l->ms[l->n - 1] : 0;
}

void bh_lat_free(bh_lat *l) {
  free(l->ms);
  *l = (bh_lat){0};
}
