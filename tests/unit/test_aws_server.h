/* test_aws_server.h — a scripted HTTP/1.1 server for the remote-client tests, on the test's
 * own libuv loop (127.0.0.1, a port the kernel picks). Each request (head and body) goes to
 * the test's handler, which answers it (now or after a delay), holds it unanswered, or
 * resets the connection. The server counts connections, requests and the most requests open
 * at once, and keeps the last request for assertions. Include once per test file, after
 * <cmocka.h>.
 */
#ifndef DM_TEST_AWS_SERVER_H
#define DM_TEST_AWS_SERVER_H

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

#include "diamond/buf.h"

typedef enum { ANSWER, HOLD, RESET } action_kind;

typedef struct action {
  action_kind kind;
  int status;
  const char *body;
  const char *headers; /* extra header lines, each ending "\r\n" */
  int delay_ms;
  int no_body; /* a reply to HEAD: headers (with their own Content-Length) only */
} action;

typedef struct srv srv;
typedef struct conn conn;
typedef action (*handler_fn)(srv *s, const char *head, const char *body, size_t blen);

struct conn {
  uv_tcp_t tcp;
  uv_timer_t delay;
  srv *s;
  dm_buf in;
  dm_buf out;
  int open_req;  /* a request received and not answered */
  int closing;
  conn *next;
};

struct srv {
  uv_loop_t *loop;
  uv_tcp_t tcp;
  int port;
  handler_fn handler;
  int accepted, requests, open_reqs, max_open;
  dm_buf last_head, last_body;
  conn *conns;
  int fail_count; /* for the scripts */
};

static void conn_closed(uv_handle_t *h) {
  conn *c = h->data;
  if (uv_is_closing((uv_handle_t *)&c->delay) == 0) return;
  dm_buf_free(&c->in);
  dm_buf_free(&c->out);
  free(c);
}

static void conn_close(conn *c, int reset) {
  if (c->closing) return;
  c->closing = 1;
  if (c->open_req) {
    c->open_req = 0;
    c->s->open_reqs--;
  }
  conn **pp = &c->s->conns;
  while (*pp != c) pp = &(*pp)->next;
  *pp = c->next;
  uv_close((uv_handle_t *)&c->delay, NULL);
  if (reset) uv_tcp_close_reset(&c->tcp, conn_closed);
  else uv_close((uv_handle_t *)&c->tcp, conn_closed);
}

static void on_written(uv_write_t *w, int status) {
  (void)status;
  free(w);
}

static void send_out(conn *c) {
  uv_write_t *w = malloc(sizeof *w);
  uv_buf_t b = uv_buf_init(c->out.p, (unsigned)c->out.len);
  uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, on_written); /* libuv copies nothing: keep out */
  if (c->open_req) {
    c->open_req = 0;
    c->s->open_reqs--;
  }
}

static void on_delay(uv_timer_t *t) { send_out(t->data); }

static size_t content_length(const char *head) {
  const char *p = strcasestr(head, "\r\ncontent-length:");
  return p != NULL ? (size_t)strtoul(p + 17, NULL, 10) : 0;
}

static void handle(conn *c) {
  for (;;) {
    char *end = c->in.p != NULL ? strstr(c->in.p, "\r\n\r\n") : NULL;
    if (end == NULL) return;
    size_t hlen = (size_t)(end - c->in.p) + 4;
    c->in.p[hlen - 2] = '\0';
    size_t blen = content_length(c->in.p);
    if (c->in.len < hlen + blen) {
      c->in.p[hlen - 2] = '\r';
      return;
    }
    srv *s = c->s;
    s->requests++;
    s->open_reqs++;
    if (s->open_reqs > s->max_open) s->max_open = s->open_reqs;
    c->open_req = 1;
    s->last_head.len = 0;
    dm_buf_adds(&s->last_head, c->in.p);
    s->last_body.len = 0;
    dm_buf_add(&s->last_body, c->in.p + hlen, blen);
    dm_buf_add(&s->last_body, "", 0);
    action a = s->handler(s, c->in.p, c->in.p + hlen, blen);
    memmove(c->in.p, c->in.p + hlen + blen, c->in.len - hlen - blen);
    c->in.len -= hlen + blen;
    c->in.p[c->in.len] = '\0';
    if (a.kind == RESET) {
      conn_close(c, 1);
      return;
    }
    if (a.kind == HOLD) return; /* the client gives up (timeout) or closes */
    const char *body = a.body ? a.body : "";
    c->out.len = 0;
    if (a.no_body)
      dm_buf_printf(&c->out, "HTTP/1.1 %d X\r\n%s\r\n", a.status, a.headers ? a.headers : "");
    else
      dm_buf_printf(&c->out, "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n%s\r\n%s", a.status,
                    strlen(body), a.headers ? a.headers : "", body);
    if (a.delay_ms > 0) uv_timer_start(&c->delay, on_delay, (uint64_t)a.delay_ms, 0);
    else send_out(c);
  }
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b) {
  (void)h;
  b->base = malloc(hint);
  b->len = hint;
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b) {
  conn *c = st->data;
  if (n < 0) {
    conn_close(c, 0);
  } else if (n > 0) {
    dm_buf_add(&c->in, b->base, (size_t)n);
    handle(c);
  }
  free(b->base);
}

static void on_conn(uv_stream_t *l, int status) {
  srv *s = l->data;
  if (status < 0) return;
  conn *c = calloc(1, sizeof *c);
  c->s = s;
  uv_tcp_init(s->loop, &c->tcp);
  uv_timer_init(s->loop, &c->delay);
  c->tcp.data = c->delay.data = c;
  dm_buf_init(&c->in);
  dm_buf_init(&c->out);
  uv_accept(l, (uv_stream_t *)&c->tcp);
  c->next = s->conns;
  s->conns = c;
  s->accepted++;
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void srv_start(srv *s, uv_loop_t *loop) {
  memset(s, 0, sizeof *s);
  s->loop = loop;
  dm_buf_init(&s->last_head);
  dm_buf_init(&s->last_body);
  uv_tcp_init(loop, &s->tcp);
  s->tcp.data = s;
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", 0, &a);
  assert_int_equal(uv_tcp_bind(&s->tcp, (const struct sockaddr *)&a, 0), 0);
  assert_int_equal(uv_listen((uv_stream_t *)&s->tcp, 64, on_conn), 0);
  struct sockaddr_storage ss;
  int len = sizeof ss;
  uv_tcp_getsockname(&s->tcp, (struct sockaddr *)&ss, &len);
  s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void srv_stop(srv *s) {
  while (s->conns != NULL) conn_close(s->conns, 0);
  if (!uv_is_closing((uv_handle_t *)&s->tcp)) uv_close((uv_handle_t *)&s->tcp, NULL);
  dm_buf_free(&s->last_head);
  dm_buf_free(&s->last_body);
}

#endif
