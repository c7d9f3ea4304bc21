/* test_http_harness.h — shared by the HTTP server's unit tests: a real server on
 * 127.0.0.1 port 0 driven by the test's loop, a blocking-socket client in a second thread,
 * and the handlers the tests route to. The client thread only records what it received;
 * the test asserts after joining it (cmocka asserts belong to the main thread). */
#ifndef TEST_HTTP_HARNESS_H
#define TEST_HTTP_HARNESS_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>
#include <uv.h>

#include "diamond/buf.h"
#include "diamond/http.h"

/* ---- client side (runs in the client thread) ---- */

typedef struct resp {
  int status;
  char head[4096];
  char *body;
  size_t blen;
} resp;

typedef struct cl {
  int fd;
  char *buf;
  size_t len, cap;
} cl;

static int cl_open(cl *c, int port) {
  memset(c, 0, sizeof *c);
  c->fd = socket(AF_INET, SOCK_STREAM, 0);
  if (c->fd < 0) return -1;
  struct timeval tv = {.tv_sec = 20};
  setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0) return -1;
  c->cap = 1 << 16;
  c->buf = malloc(c->cap);
  return c->buf ? 0 : -1;
}

static void cl_close(cl *c) {
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  free(c->buf);
  c->buf = NULL;
}

static int cl_sendn(cl *c, const char *s, size_t n) {
  while (n > 0) {
    ssize_t w = send(c->fd, s, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    s += w;
    n -= (size_t)w;
  }
  return 0;
}

static int cl_send(cl *c, const char *s) { return cl_sendn(c, s, strlen(s)); }

/* Reads more bytes; 0 on EOF or error. */
static ssize_t cl_fill(cl *c) {
  if (c->len == c->cap) {
    c->cap *= 2;
    c->buf = realloc(c->buf, c->cap);
  }
  ssize_t r;
  do r = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
  while (r < 0 && errno == EINTR);
  if (r <= 0) return 0;
  c->len += (size_t)r;
  return r;
}

/* Value of a header of a response (case-insensitive name), copied into out; NULL if absent. */
static const char *resp_hdr(const resp *r, const char *name, char *out, size_t cap) {
  size_t nl = strlen(name);
  const char *p = strstr(r->head, "\r\n");
  while (p != NULL && p[2] != '\0') {
    p += 2;
    const char *e = strstr(p, "\r\n");
    if (e == NULL) break;
    if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
      const char *v = p + nl + 1;
      while (*v == ' ') v++;
      snprintf(out, cap, "%.*s", (int)(e - v), v);
      return out;
    }
    p = e;
  }
  return NULL;
}

/* Reads one response (Content-Length framed; HEAD: head_only). -1 if the connection ends
 * before a whole one. */
static int cl_resp_x(cl *c, resp *r, int head_only) {
  memset(r, 0, sizeof *r);
  char *end;
  while ((end = memmem(c->buf, c->len, "\r\n\r\n", 4)) == NULL) {
    if (cl_fill(c) == 0) return -1;
  }
  size_t hl = (size_t)(end - c->buf) + 4;
  if (hl >= sizeof r->head) return -1;
  memcpy(r->head, c->buf, hl);
  r->head[hl] = '\0';
  r->status = atoi(r->head + 9);
  char v[64];
  size_t cl_len = 0;
  if (!head_only && resp_hdr(r, "Content-Length", v, sizeof v)) cl_len = strtoul(v, NULL, 10);
  while (c->len < hl + cl_len) {
    if (cl_fill(c) == 0) return -1;
  }
  r->body = malloc(cl_len + 1);
  memcpy(r->body, c->buf + hl, cl_len);
  r->body[cl_len] = '\0';
  r->blen = cl_len;
  memmove(c->buf, c->buf + hl + cl_len, c->len - hl - cl_len);
  c->len -= hl + cl_len;
  return 0;
}

static int cl_resp(cl *c, resp *r) { return cl_resp_x(c, r, 0); }

/* 1 when the server closed the connection (EOF or reset) with nothing more to read. */
static int cl_eof(cl *c) {
  if (c->len > 0) return 0;
  return cl_fill(c) == 0;
}

/* ---- server side (the test's loop thread) ---- */

typedef struct T T;
typedef void (*client_fn)(T *t);

struct T {
  uv_loop_t loop;
  dm_http_server *srv;
  int port;
  uv_async_t done;
  pthread_t th;
  client_fn client;
  resp r[8];
  int x[8];                /* scenario-specific results */
  char obs[32][48];        /* observer calls: "route status" */
  int nobs;
  int shutting, shut_called;
  int saw_closed;          /* /waitclose saw dm_http_req_closed() */
  int poll_ticks;
  int started;             /* /waitclose's handler runs (set atomically) */
  int fail;                /* client-side setup failed */
};

static void observer(void *arg, const char *route, int status) {
  T *t = arg;
  if (t->nobs < 32) snprintf(t->obs[t->nobs++], sizeof t->obs[0], "%s %d", route, status);
}

static const char *nz(const char *s) { return s ? s : "-"; }

static void h_echo(dm_http_req *r, void *arg) {
  (void)arg;
  size_t bl;
  const char *b = dm_http_body(r, &bl);
  dm_buf o;
  dm_buf_init(&o);
  dm_buf_printf(&o, "m=%d p=%s b=", dm_http_method(r), dm_http_path(r));
  dm_buf_add(&o, b, bl);
  dm_http_respond(r, 200, "text/plain", o.p, o.len, "");
  dm_buf_free(&o);
}

static void h_items(dm_http_req *r, void *arg) {
  (void)arg;
  char out[512];
  int n = snprintf(out, sizeof out, "a=%s p=%s q=%s|%s|%s k=%s e=%s x=%s", nz(dm_http_param(r, 0)),
                   dm_http_path(r), nz(dm_http_query(r, "name", 0)), nz(dm_http_query(r, "name", 1)),
                   nz(dm_http_query(r, "name", 2)), nz(dm_http_query(r, "k", 0)),
                   nz(dm_http_query(r, "empty", 0)), nz(dm_http_param(r, 1)));
  dm_http_respond(r, 200, "text/plain", out, (size_t)n, "X-Extra: 1\r\n");
}

static void h_form(dm_http_req *r, void *arg) {
  (void)arg;
  char out[512];
  int n = snprintf(out, sizeof out, "t=%s,%s,%s,%s f=%s", nz(dm_http_query(r, "target", 0)),
                   nz(dm_http_query(r, "target", 1)), nz(dm_http_query(r, "target", 2)),
                   nz(dm_http_query(r, "target", 3)), nz(dm_http_query(r, "from", 0)));
  dm_http_respond(r, 200, "text/plain", out, (size_t)n, NULL);
}

static void h_hdr(dm_http_req *r, void *arg) {
  (void)arg;
  char out[256];
  int n = snprintf(out, sizeof out, "x=%s lo=%d", nz(dm_http_header(r, "x-TEST")),
                   dm_http_peer_is_loopback(r));
  dm_http_respond(r, 200, "text/plain", out, (size_t)n, "");
}

static void h_err(dm_http_req *r, void *arg) {
  (void)arg;
  dm_http_respond_error(r, 400, "bad \"%s\"\n%d", "x\\y", 5);
}

static void h_busy(dm_http_req *r, void *arg) {
  (void)arg;
  dm_http_respond_error_h(r, 503, "Retry-After: 7\r\n", "busy");
}

static void h_big(dm_http_req *r, void *arg) {
  (void)arg;
  size_t bl;
  const char *b = dm_http_body(r, &bl);
  dm_http_respond(r, 200, "application/octet-stream", b, bl, "");
}

typedef struct later {
  uv_timer_t tm;
  dm_http_req *req;
  T *t;
} later;

static void later_closed(uv_handle_t *h) { free(h->data); }

static void on_later(uv_timer_t *tm) {
  later *l = tm->data;
  dm_http_respond(l->req, 200, "text/plain", "A", 1, "");
  uv_close((uv_handle_t *)tm, later_closed);
}

static void start_later(dm_http_req *r, T *t, uint64_t ms) {
  later *l = calloc(1, sizeof *l);
  l->req = r;
  l->t = t;
  uv_timer_init(&t->loop, &l->tm);
  l->tm.data = l;
  uv_timer_start(&l->tm, on_later, ms, 0);
}

static void h_async(dm_http_req *r, void *arg) { start_later(r, arg, 20); }

/* Waits (polling) until the client is gone, then answers into the void. */
static void on_poll(uv_timer_t *tm) {
  later *l = tm->data;
  l->t->poll_ticks++;
  if (!dm_http_req_closed(l->req) && l->t->poll_ticks < 2000) return;
  l->t->saw_closed = dm_http_req_closed(l->req);
  dm_http_respond(l->req, 200, "text/plain", "late", 4, "");
  uv_timer_stop(tm);
  uv_close((uv_handle_t *)tm, later_closed);
}

static void h_waitclose(dm_http_req *r, void *arg) {
  T *t = arg;
  __atomic_store_n(&t->started, 1, __ATOMIC_SEQ_CST);
  later *l = calloc(1, sizeof *l);
  l->req = r;
  l->t = t;
  uv_timer_init(&t->loop, &l->tm);
  l->tm.data = l;
  uv_timer_start(&l->tm, on_poll, 5, 5);
}

static void on_shut(void *arg) {
  T *t = arg;
  t->shut_called++;
  dm_http_server_free(t->srv);
  t->srv = NULL;
}

/* Starts the server's shutdown with this request in flight, answers it 20 ms later. */
static void h_shutdown(dm_http_req *r, void *arg) {
  T *t = arg;
  t->shutting = 1;
  dm_http_shutdown(t->srv, 5000, on_shut, t);
  start_later(r, t, 20);
}

static void on_done(uv_async_t *a) {
  T *t = a->data;
  uv_close((uv_handle_t *)a, NULL);
  if (!t->shutting) {
    t->shutting = 1;
    dm_http_shutdown(t->srv, 2000, on_shut, t);
  }
}

static void *client_main(void *arg) {
  T *t = arg;
  t->client(t);
  uv_async_send(&t->done);
  return NULL;
}

static const dm_http_opts default_opts = {
    .listen = "127.0.0.1:0", .max_body = 1 << 21, .max_header = 4096, .max_conns = 16,
    .idle_timeout_ms = 10000};

/* Runs one scenario: server with every test route, client thread, loop until all closed. */
static void run_with(T *t, const dm_http_opts *o, client_fn client) {
  memset(t, 0, sizeof *t);
  char err[256];
  assert_int_equal(uv_loop_init(&t->loop), 0);
  assert_int_equal(dm_http_server_new(&t->srv, &t->loop, o, err, sizeof err), 0);
  dm_http_set_observer(t->srv, observer, t);
  assert_int_equal(dm_http_route(t->srv, DM_HTTP_GET | DM_HTTP_POST, "/echo", "echo", h_echo, t), 0);
  assert_int_equal(dm_http_route(t->srv, DM_HTTP_GET, "/items/:/x", "items", h_items, t), 0);
  assert_int_equal(dm_http_route(t->srv, DM_HTTP_GET, "/items/:/:/y", "items2", h_items, t), 0);
  assert_int_equal(dm_http_route(t->srv, DM_HTTP_GET | DM_HTTP_PUT, "/only", "only", h_echo, t), 0);
  assert_int_equal(dm_http_route(t->srv, DM_HTTP_POST, "/only", "only_post", h_echo, t), 0);
  assert_int_equal(dm_http_route(t->srv, DM_HTTP_GET | DM_HTTP_POST, "/form", "form", h_form, t), 0);
  assert_int_equal(dm_http_route(t->srv, DM_HTTP_GET, "/hdr", "hdr", h_hdr, t), 0);
  assert_int_equal(dm_http_route(t->srv, DM_HTTP_GET, "/err", "err", h_err, t), 0);
  assert_int_equal(dm_http_route(t->srv, DM_HTTP_GET, "/busy", "busy", h_busy, t), 0);
  assert_int_equal(dm_http_route(t->srv, DM_HTTP_POST, "/big", "big", h_big, t), 0);
  assert_int_equal(dm_http_route(t->srv, DM_HTTP_GET, "/async", "async", h_async, t), 0);
  assert_int_equal(dm_http_route(t->srv, DM_HTTP_GET, "/waitclose", "waitclose", h_waitclose, t), 0);
  assert_int_equal(dm_http_route(t->srv, DM_HTTP_GET, "/shutdown", "shutdown", h_shutdown, t), 0);
  assert_int_equal(dm_http_route(t->srv, DM_HTTP_GET, "/", "root", h_echo, t), 0);
  assert_int_equal(dm_http_listen(t->srv, err, sizeof err), 0);
  t->port = dm_http_port(t->srv);
  assert_true(t->port > 0);
  t->client = client;
  assert_int_equal(uv_async_init(&t->loop, &t->done, on_done), 0);
  t->done.data = t;
  assert_int_equal(pthread_create(&t->th, NULL, client_main, t), 0);
  assert_int_equal(uv_run(&t->loop, UV_RUN_DEFAULT), 0);
  pthread_join(t->th, NULL);
  assert_int_equal(uv_loop_close(&t->loop), 0);
  assert_int_equal(t->shut_called, 1);
  assert_null(t->srv);
  assert_int_equal(t->fail, 0);
}

static void run(T *t, client_fn client) { run_with(t, &default_opts, client); }

static void free_resps(T *t) {
  for (int i = 0; i < 8; i++) free(t->r[i].body);
}

/* One request on a fresh connection, its response into t->r[i] (status -1: none). */
static void one(T *t, int i, const char *req) {
  cl c;
  if (cl_open(&c, t->port) < 0 || cl_send(&c, req) < 0) t->fail = 1;
  if (cl_resp(&c, &t->r[i]) < 0) t->r[i].status = -1;
  cl_close(&c);
}

#endif
