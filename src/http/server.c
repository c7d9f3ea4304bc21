/* server.c — the HTTP/1.1 server's connections: accept, read, parse, write, time out,
 * close, and shut down, all on the loop thread.
 *
 * Reading. Every connection with nothing pending reads into one shared 64 KiB buffer
 * and parses it at once, so an idle keep-alive connection holds no read buffer. When
 * http-parser pauses at the end of a request (the handler has it now), the bytes after
 * it move into the connection's own buffer (lbuf). Reading goes on while the handler
 * works, into lbuf, so a client that goes away is seen (dm_http_req_closed) — until lbuf
 * is full, then reading stops: a client cannot pipeline more than 64 KiB ahead. Once the
 * reply is out, parsing resumes on lbuf, then on new reads.
 *
 * Writing. A reply is status line + headers from a stack buffer and the caller's body,
 * tried with uv_try_write (no copy, no allocation in the common case); only what the
 * socket did not take is copied into a uv_write request.
 *
 * Re-entry. A handler may answer at once, inside conn_input's loop: then
 * dm_http_conn_reply_done only sets the state back to READING and the loop goes on.
 * An answer given later (from a timer, a thread-pool callback) resumes parsing itself.
 *
 * Closing. A last reply (Connection: close, a server-made error, a draining server) is
 * followed by shutdown(SHUT_WR) and a short linger that reads and discards input until
 * the peer's EOF, so the peer is not hit by a RST (which could destroy the reply, e.g. a
 * 413 sent while the client is still sending its body). Memory is freed only in the
 * close callbacks of both handles. A request whose connection closed stays allocated,
 * marked closed, until its handler calls dm_http_respond, which then just frees it.
 *
 * Timer, one per connection, meaning by state: READING with no byte of a request yet ->
 * close quietly (idle keep-alive); READING with part of a request -> 408 and close;
 * WRITING (peer not reading) and LINGERING -> close.
 */
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diamond/error.h"
#include "diamond/log.h"
#include "http_int.h"

typedef struct wreq {
  uv_write_t w;
  conn *c;
  int final;
  char data[];
} wreq;

static void conn_input(conn *c, const char *data, size_t n, int from_lbuf);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);

/* ---- reading ---- */

static void update_read(conn *c) {
  if (c->state == C_CLOSING) return;
  int want = (c->state == C_LINGERING || !(c->lbuf && c->lend == RBUF_SIZE && c->loff == 0));
  if (want && !c->reading) {
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0) c->reading = 1;
  } else if (!want && c->reading) {
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = 0;
  }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  conn *c = h->data;
  if (c->lbuf != NULL && c->state != C_LINGERING) {
    if (c->loff > 0) {
      memmove(c->lbuf, c->lbuf + c->loff, c->lend - c->loff);
      c->lend -= c->loff;
      c->loff = 0;
    }
    *buf = uv_buf_init(c->lbuf + c->lend, (unsigned)(RBUF_SIZE - c->lend));
    return;
  }
  if (c->srv == NULL) { /* cannot happen: a connection is closed when its server goes */
    *buf = uv_buf_init(NULL, 0);
    return;
  }
  *buf = uv_buf_init(c->srv->rbuf, RBUF_SIZE);
}

/* Keeps n bytes read while a request is out, to parse after its reply. */
static void stash(conn *c, const char *data, size_t n) {
  if (c->lbuf == NULL) {
    c->lbuf = malloc(RBUF_SIZE);
    c->loff = c->lend = 0;
    if (c->lbuf == NULL) {
      dm_http_conn_close(c);
      return;
    }
  }
  if (c->loff > 0) {
    memmove(c->lbuf, c->lbuf + c->loff, c->lend - c->loff);
    c->lend -= c->loff;
    c->loff = 0;
  }
  if (n > RBUF_SIZE - c->lend) { /* cannot happen: lbuf is empty when the shared one is used */
    dm_http_conn_close(c);
    return;
  }
  memcpy(c->lbuf + c->lend, data, n);
  c->lend += n;
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
  conn *c = st->data;
  if (nread == UV_ENOBUFS) { /* lbuf full: wait for the reply */
    uv_read_stop(st);
    c->reading = 0;
    return;
  }
  if (nread < 0) { /* EOF or error: the client is gone */
    dm_http_conn_close(c);
    return;
  }
  if (nread == 0) return;
  if (c->state == C_LINGERING || c->state == C_CLOSING ||
      (c->state == C_WRITING && c->close_after))
    return; /* nothing more will be parsed on this connection */
  size_t n = (size_t)nread;
  if (c->lbuf != NULL && buf->base == c->lbuf + c->lend) {
    c->lend += n;
    if (c->state == C_READING) conn_input(c, c->lbuf + c->loff, c->lend - c->loff, 1);
    else update_read(c);
    return;
  }
  if (c->state == C_READING) {
    conn_input(c, buf->base, n, 0);
  } else {
    stash(c, buf->base, n);
    update_read(c);
  }
}

static void input_error(conn *c, enum http_errno e) {
  int status = c->err_status ? c->err_status : e == HPE_HEADER_OVERFLOW ? 431 : 400;
  char msg[160];
  if (c->err_msg != NULL)
    snprintf(msg, sizeof msg, "%s", c->err_msg);
  else if (e == HPE_HEADER_OVERFLOW)
    snprintf(msg, sizeof msg, "request headers too large");
  else
    snprintf(msg, sizeof msg, "malformed HTTP request: %s", http_errno_description(e));
  char q[200];
  dm_log_debug("http_bad_request", "status=%d reason=%s", status, dm_log_quote(q, sizeof q, msg));
  dm_http_req_free(c->cur);
  c->cur = NULL;
  c->msg_begun = 0;
  dm_http_send_error_close(c, status, c->err_route, msg,
                           status == 503 ? "Retry-After: 1\r\n" : NULL);
}

/* Parses data and dispatches the requests in it, until the data runs out or a request is
 * left with its handler; keeps what is left for later. */
static void conn_input(conn *c, const char *data, size_t n, int from_lbuf) {
  c->in_input++;
  while (n > 0 && c->state == C_READING) {
    size_t used = http_parser_execute(&c->parser, &dm_http_parser_settings, data, n);
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    if (used > n || (used == 0 && e == HPE_OK)) break; /* cannot happen; never spin */
    data += used;
    n -= used;
    if (c->state != C_READING) break; /* a write failed inside a callback: closing */
    if (e == HPE_PAUSED) {
      http_parser_pause(&c->parser, 0);
      if (c->parser.upgrade) n = 0; /* the rest is another protocol: dropped, we close */
      dm_http_dispatch(c);
    } else if (e != HPE_OK) {
      input_error(c, e);
      n = 0;
    }
  }
  c->in_input--;
  if (c->state == C_CLOSING) return;
  if (n > 0 && c->state != C_READING && !c->close_after) {
    if (from_lbuf)
      c->loff = (size_t)(data - c->lbuf);
    else
      stash(c, data, n);
  } else if (from_lbuf || c->lbuf != NULL) {
    free(c->lbuf);
    c->lbuf = NULL;
    c->loff = c->lend = 0;
  }
  update_read(c);
}

/* ---- writing ---- */

static void on_write(uv_write_t *w, int status) {
  wreq *q = w->data;
  conn *c = q->c;
  int final = q->final;
  free(q);
  if (status < 0) {
    dm_http_conn_close(c);
    return;
  }
  if (final && c->state == C_WRITING) dm_http_conn_reply_done(c);
}

int dm_http_conn_write(conn *c, const char *hdr, size_t hlen, const char *body, size_t blen,
                       int final) {
  if (c->state == C_CLOSING) return DM_ECLOSED;
  if (final) c->state = C_WRITING;
  uv_buf_t bufs[2] = {uv_buf_init((char *)hdr, (unsigned)hlen),
                      uv_buf_init((char *)body, (unsigned)blen)};
  size_t total = hlen + blen;
  int w = uv_try_write((uv_stream_t *)&c->tcp, bufs, blen ? 2 : 1);
  if (w == UV_EAGAIN || w == UV_ENOSYS) w = 0;
  if (w < 0) {
    dm_http_conn_close(c);
    return DM_EIO;
  }
  if ((size_t)w == total) {
    if (final) dm_http_conn_reply_done(c);
    return 0;
  }
  size_t done = (size_t)w, rest = total - done;
  wreq *q = malloc(sizeof *q + rest);
  if (q == NULL) {
    dm_http_conn_close(c);
    return DM_ENOMEM;
  }
  size_t o = 0;
  if (done < hlen) {
    memcpy(q->data, hdr + done, hlen - done);
    o = hlen - done;
    done = hlen;
  }
  if (blen) memcpy(q->data + o, body + (done - hlen), blen - (done - hlen));
  q->c = c;
  q->final = final;
  q->w.data = q;
  uv_buf_t b = uv_buf_init(q->data, (unsigned)rest);
  if (uv_write(&q->w, (uv_stream_t *)&c->tcp, &b, 1, on_write) < 0) {
    free(q);
    dm_http_conn_close(c);
    return DM_EIO;
  }
  if (final) dm_http_conn_arm(c, c->srv ? c->srv->o.idle_timeout_ms : LINGER_MS);
  return 0;
}

/* ---- closing ---- */

static void on_shutdown(uv_shutdown_t *req, int status) {
  conn *c = req->data;
  if (status < 0) dm_http_conn_close(c);
}

static void start_linger(conn *c) {
  c->state = C_LINGERING;
  c->shut.data = c;
  if (uv_shutdown(&c->shut, (uv_stream_t *)&c->tcp, on_shutdown) < 0) {
    dm_http_conn_close(c);
    return;
  }
  dm_http_conn_arm(c, c->srv ? c->srv->linger_ms : LINGER_MS);
  update_read(c);
}

void dm_http_conn_reply_done(conn *c) {
  if (c->close_after) {
    start_linger(c);
    return;
  }
  c->state = C_READING;
  dm_http_conn_arm(c, c->srv ? c->srv->o.idle_timeout_ms : LINGER_MS);
  if (c->in_input) return; /* conn_input's loop goes on with the bytes it has */
  if (c->lbuf != NULL && c->lend > c->loff)
    conn_input(c, c->lbuf + c->loff, c->lend - c->loff, 1);
  else if (c->srv != NULL && c->srv->draining)
    dm_http_conn_close(c); /* a reply begun before the shutdown is out: idle now, close */
  else
    update_read(c);
}

static void maybe_done(dm_http_server *s);

static void free_handle(uv_handle_t *h) { free(h); }

static void on_handle_closed(uv_handle_t *h) {
  conn *c = h->data;
  if (--c->handles_open > 0) return;
  dm_http_server *s = c->srv;
  if (s != NULL) {
    if (c->prev) c->prev->next = c->next;
    else s->conns = c->next;
    if (c->next) c->next->prev = c->prev;
  }
  dm_http_req_free(c->cur);
  free(c->lbuf);
  free(c);
  if (s != NULL) maybe_done(s);
}

void dm_http_conn_close(conn *c) {
  if (c->state == C_CLOSING) return;
  c->state = C_CLOSING;
  if (c->inflight != NULL) { /* its handler still has it: mark, free on respond */
    c->inflight->c = NULL;
    c->inflight->closed = 1;
    c->inflight = NULL;
  }
  if (c->counted && c->srv != NULL) c->srv->nactive--;
  c->counted = 0;
  uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
  uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}

static void on_timer(uv_timer_t *t) {
  conn *c = t->data;
  if (c->state == C_READING && c->msg_begun) {
    dm_http_req_free(c->cur);
    c->cur = NULL;
    c->msg_begun = 0;
    dm_http_send_error_close(c, 408, "", "request not received in time", NULL);
  } else if (c->state != C_HANDLING) {
    dm_http_conn_close(c);
  }
}

void dm_http_conn_arm(conn *c, uint64_t ms) {
  if (c->state == C_CLOSING) return;
  if (ms == 0)
    uv_timer_stop(&c->timer);
  else
    uv_timer_start(&c->timer, on_timer, ms, 0);
}

/* ---- accepting ---- */

static int is_loopback(const struct sockaddr_storage *ss) {
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
    return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
  }
  if (ss->ss_family == AF_INET6) {
    const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
    return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
  }
  return 0;
}

static void on_connection(uv_stream_t *server, int status) {
  dm_http_server *s = server->data;
  if (s == NULL) return;
  if (status < 0) {
    dm_log_warn("http_accept", "error=%s", uv_err_name(status));
    return;
  }
  conn *c = calloc(1, sizeof *c);
  if (c == NULL) {
    dm_log_error("http_accept", "error=ENOMEM");
    return;
  }
  c->srv = s;
  c->state = C_READING;
  uv_tcp_init(s->loop, &c->tcp);
  uv_timer_init(s->loop, &c->timer);
  c->tcp.data = c->timer.data = c;
  c->handles_open = 2;
  c->next = s->conns;
  if (s->conns) s->conns->prev = c;
  s->conns = c;
  if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
    dm_http_conn_close(c);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  struct sockaddr_storage ss;
  int len = sizeof ss;
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) c->loopback = is_loopback(&ss);
  http_parser_init(&c->parser, HTTP_REQUEST);
  c->parser.data = c;
  if (s->nactive >= s->o.max_conns) {
    dm_http_send_error_close(c, 503, "", "too many connections", "Retry-After: 1\r\n");
    return;
  }
  c->counted = 1;
  s->nactive++;
  dm_http_conn_arm(c, s->o.idle_timeout_ms);
  update_read(c);
}

/* ---- the server ---- */

int dm_http_server_new(dm_http_server **out, uv_loop_t *loop, const dm_http_opts *o,
                       char *err, size_t errlen) {
  static uint32_t parser_max_header = 80 * 1024; /* http-parser's limit is process-wide */
  dm_http_server *s = calloc(1, sizeof *s);
  if (s == NULL) goto oom;
  s->loop = loop;
  s->o = *o;
  if (s->o.max_body == 0) s->o.max_body = 32u << 20;
  if (s->o.max_header == 0) s->o.max_header = 64u << 10;
  if (s->o.max_conns == 0) s->o.max_conns = 1024;
  if (s->o.idle_timeout_ms == 0) s->o.idle_timeout_ms = 60000;
  s->linger_ms = s->o.idle_timeout_ms < LINGER_MS ? s->o.idle_timeout_ms : LINGER_MS;
  s->listen_addr = strdup(o->listen ? o->listen : "127.0.0.1:8080");
  s->rbuf = malloc(RBUF_SIZE);
  if (s->listen_addr == NULL || s->rbuf == NULL) goto oom;
  s->o.listen = s->listen_addr;
  /* a write to a socket the peer closed must fail with EPIPE, not kill the process */
  struct sigaction sa;
  if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) signal(SIGPIPE, SIG_IGN);
  /* let our own count (URL + names + values) decide; http-parser also counts CRLFs */
  uint64_t want = (uint64_t)s->o.max_header * 2 + 8192;
  if (want > UINT32_MAX) want = UINT32_MAX;
  if (want > parser_max_header) {
    parser_max_header = (uint32_t)want;
    http_parser_set_max_header_size(parser_max_header);
  }
  *out = s;
  return 0;
oom:
  if (s) {
    free(s->listen_addr);
    free(s->rbuf);
    free(s);
  }
  snprintf(err, errlen, "out of memory");
  return DM_ENOMEM;
}

/* "host:port", "[v6]:port", ":port" (all IPv4 addresses). */
static int parse_addr(const char *a, struct sockaddr_storage *ss, char *err, size_t errlen) {
  char host[256];
  const char *colon, *hs = a;
  size_t hl;
  if (a[0] == '[') {
    const char *rb = strchr(a, ']');
    if (rb == NULL || rb[1] != ':') goto bad;
    hs = a + 1;
    hl = (size_t)(rb - hs);
    colon = rb + 1;
  } else {
    colon = strrchr(a, ':');
    if (colon == NULL) goto bad;
    hl = (size_t)(colon - a);
  }
  if (hl >= sizeof host) goto bad;
  memcpy(host, hs, hl);
  host[hl] = '\0';
  if (hl == 0) snprintf(host, sizeof host, "0.0.0.0");
  char *end;
  long port = strtol(colon + 1, &end, 10);
  if (colon[1] == '\0' || *end != '\0' || port < 0 || port > 65535) goto bad;
  memset(ss, 0, sizeof *ss);
  if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss) == 0) return 0;
  if (uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)ss) == 0) return 0;
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
  if (getaddrinfo(host, NULL, &hints, &res) != 0) { /* start-up only: may block */
    snprintf(err, errlen, "cannot resolve listen host %s", host);
    return DM_EINVAL;
  }
  memcpy(ss, res->ai_addr, res->ai_addrlen);
  if (ss->ss_family == AF_INET) ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
  else ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
  freeaddrinfo(res);
  return 0;
bad:
  snprintf(err, errlen, "bad listen address \"%s\" (want host:port or [v6]:port)", a);
  return DM_EINVAL;
}

static void on_listener_closed(uv_handle_t *h) {
  dm_http_server *s = h->data;
  free(h);
  if (s == NULL) return;
  s->listener = NULL;
  s->listener_closing = 0;
  maybe_done(s);
}

int dm_http_listen(dm_http_server *s, char *err, size_t errlen) {
  struct sockaddr_storage ss;
  if (s->listener != NULL || s->draining) {
    snprintf(err, errlen, "already listening");
    return DM_EINVAL;
  }
  int rc = parse_addr(s->o.listen, &ss, err, errlen);
  if (rc < 0) return rc;
  s->listener = malloc(sizeof *s->listener);
  if (s->listener == NULL) {
    snprintf(err, errlen, "out of memory");
    return DM_ENOMEM;
  }
  uv_tcp_init(s->loop, s->listener);
  s->listener->data = s;
  int uv = uv_tcp_bind(s->listener, (struct sockaddr *)&ss, 0);
  if (uv == 0) uv = uv_listen((uv_stream_t *)s->listener, 511, on_connection);
  if (uv < 0) {
    snprintf(err, errlen, "cannot listen on %s: %s", s->o.listen, uv_strerror(uv));
    s->listener->data = NULL;
    uv_close((uv_handle_t *)s->listener, on_listener_closed);
    s->listener = NULL;
    return DM_EIO;
  }
  struct sockaddr_storage bound;
  int len = sizeof bound;
  uv_tcp_getsockname(s->listener, (struct sockaddr *)&bound, &len);
  s->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                              : ((struct sockaddr_in *)&bound)->sin_port);
  return 0;
}

int dm_http_port(const dm_http_server *s) { return s->port; }

void dm_http_set_observer(dm_http_server *s, void (*fn)(void *, const char *, int), void *arg) {
  s->obs = fn;
  s->obs_arg = arg;
}

void dm_http_set_gate(dm_http_server *s, dm_http_gate fn, void *arg) {
  s->gate = fn;
  s->gate_arg = arg;
}

static void maybe_done(dm_http_server *s) {
  if (!s->draining || s->shutdown_done || s->listener != NULL || s->conns != NULL) return;
  s->shutdown_done = 1;
  if (s->shutdown_timer != NULL) {
    uv_close((uv_handle_t *)s->shutdown_timer, free_handle);
    s->shutdown_timer = NULL;
  }
  if (s->shutdown_cb != NULL) s->shutdown_cb(s->shutdown_arg); /* may free s */
}

static void on_shutdown_timeout(uv_timer_t *t) {
  dm_http_server *s = t->data;
  for (conn *c = s->conns; c != NULL; c = c->next) dm_http_conn_close(c);
  maybe_done(s);
}

void dm_http_shutdown(dm_http_server *s, uint64_t timeout_ms, void (*cb)(void *), void *arg) {
  if (s->draining) return;
  s->draining = 1;
  s->shutdown_cb = cb;
  s->shutdown_arg = arg;
  if (s->listener != NULL && !s->listener_closing) {
    s->listener_closing = 1;
    uv_close((uv_handle_t *)s->listener, on_listener_closed);
  }
  for (conn *c = s->conns; c != NULL; c = c->next) {
    if (c->state == C_READING && !c->msg_begun) dm_http_conn_close(c);
  }
  /* the timer also makes cb asynchronous when there is nothing to wait for */
  s->shutdown_timer = malloc(sizeof *s->shutdown_timer);
  if (s->shutdown_timer == NULL) {
    for (conn *c = s->conns; c != NULL; c = c->next) dm_http_conn_close(c);
    return; /* the close callbacks finish the shutdown */
  }
  uv_timer_init(s->loop, s->shutdown_timer);
  s->shutdown_timer->data = s;
  uint64_t wait = (s->listener == NULL && s->conns == NULL) ? 0 : timeout_ms;
  uv_timer_start(s->shutdown_timer, on_shutdown_timeout, wait, 0);
}

void dm_http_server_free(dm_http_server *s) {
  if (s == NULL) return;
  if (s->listener != NULL) {
    s->listener->data = NULL;
    if (!s->listener_closing) uv_close((uv_handle_t *)s->listener, on_listener_closed);
  }
  if (s->shutdown_timer != NULL) uv_close((uv_handle_t *)s->shutdown_timer, free_handle);
  for (conn *c = s->conns, *next; c != NULL; c = next) {
    next = c->next;
    if (c->counted) s->nactive--;
    c->counted = 0;
    c->srv = NULL;
    dm_http_conn_close(c);
  }
  for (size_t i = 0; i < s->nroutes; i++) {
    free(s->routes[i]->segs);
    free(s->routes[i]->segs_store);
    free(s->routes[i]->name);
    free(s->routes[i]);
  }
  free(s->routes);
  free(s->rbuf);
  free(s->listen_addr);
  free(s);
}
