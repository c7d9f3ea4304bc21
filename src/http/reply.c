/* reply.c — turning a request into a reply: dispatch to the route's handler (or 400,
 * 404, 405), the status line and headers, JSON errors, and the errors the server makes
 * itself before a request is complete (408, 413, 431, 400, 503). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diamond/error.h"
#include "diamond/log.h"
#include "http_int.h"

static const char *reason(int status) {
  const char *s = http_status_str((enum http_status)status);
  return (s == NULL || s[0] == '<') ? "Unknown" : s;
}

/* Status line, headers and body out on c. head: a HEAD reply (length, no body). */
static void send_reply(conn *c, int status, const char *ct, const char *body, size_t len,
                       const char *extra, int close, int head, int keep_alive10) {
  char small[512];
  char *hdr = small;
  int no_body = status < 200 || status == 204 || status == 304;
  size_t need = 128 + (ct ? strlen(ct) : 0) + strlen(extra) + strlen(reason(status));
  if (need > sizeof small) {
    hdr = malloc(need);
    if (hdr == NULL) {
      dm_http_conn_close(c);
      return;
    }
  }
  int n = snprintf(hdr, need, "HTTP/1.1 %d %s\r\n", status, reason(status));
  if (ct != NULL && !no_body) n += snprintf(hdr + n, need - (size_t)n, "Content-Type: %s\r\n", ct);
  if (status >= 200 && status != 204)
    n += snprintf(hdr + n, need - (size_t)n, "Content-Length: %zu\r\n", no_body ? 0 : len);
  n += snprintf(hdr + n, need - (size_t)n, "%s%s\r\n", extra,
                close ? "Connection: close\r\n" : keep_alive10 ? "Connection: keep-alive\r\n" : "");
  c->close_after = close;
  dm_http_conn_write(c, hdr, (size_t)n, (head || no_body) ? NULL : body,
                     (head || no_body) ? 0 : len, 1);
  if (hdr != small) free(hdr);
}

static void observe(dm_http_server *s, const char *route, int status) {
  if (s != NULL && s->obs != NULL) s->obs(s->obs_arg, route, status);
}

void dm_http_respond(dm_http_req *r, int status, const char *content_type, const char *body,
                     size_t len, const char *extra_headers) {
  if (r == NULL) return;
  conn *c = r->c;
  if (c == NULL) { /* the client left: nobody to tell */
    dm_http_req_free(r);
    return;
  }
  c->inflight = NULL;
  const char *name = r->route ? r->route->name
                     : (status == 405 && r->path_route) ? r->path_route->name
                                                        : "";
  observe(c->srv, name, status);
  int close = !r->keep_alive || c->srv == NULL || c->srv->draining;
  send_reply(c, status, content_type, body, len, extra_headers ? extra_headers : "", close,
             r->method == DM_HTTP_HEAD, r->http10 && !close);
  dm_http_req_free(r);
}

/* {"error":{"message":<msg, JSON-escaped>}} */
static void error_json(dm_buf *b, const char *msg, size_t len) {
  dm_buf_adds(b, "{\"error\":{\"message\":");
  dm_buf_json_str(b, msg, len);
  dm_buf_adds(b, "}}");
}

static void respond_error_v(dm_http_req *r, int status, const char *extra, const char *fmt,
                            va_list ap) {
  dm_buf msg, b;
  dm_buf_init(&msg);
  dm_buf_init(&b);
  char small[256];
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  if (n < 0) n = 0;
  if ((size_t)n < sizeof small) {
    error_json(&b, small, (size_t)n);
  } else if (dm_buf_reserve(&msg, (size_t)n) == 0) {
    vsnprintf(msg.p, (size_t)n + 1, fmt, ap2);
    error_json(&b, msg.p, (size_t)n);
  }
  va_end(ap2);
  if (b.oom) {
    static const char oom[] = "{\"error\":{\"message\":\"out of memory\"}}";
    dm_http_respond(r, 503, "application/json", oom, sizeof oom - 1, extra);
  } else {
    dm_http_respond(r, status, "application/json", b.p, b.len, extra);
  }
  dm_buf_free(&b);
  dm_buf_free(&msg);
}

void dm_http_respond_error(dm_http_req *r, int status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  respond_error_v(r, status, "", fmt, ap);
  va_end(ap);
}

void dm_http_respond_error_h(dm_http_req *r, int status, const char *extra_headers,
                             const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  respond_error_v(r, status, extra_headers, fmt, ap);
  va_end(ap);
}

void dm_http_send_error_close(conn *c, int status, const char *route, const char *msg,
                              const char *extra) {
  dm_buf b;
  dm_buf_init(&b);
  error_json(&b, msg, strlen(msg));
  observe(c->srv, route ? route : "", status);
  if (b.oom) {
    dm_http_conn_close(c);
  } else {
    send_reply(c, status, "application/json", b.p, b.len, extra ? extra : "", 1, 0, 0);
  }
  dm_buf_free(&b);
}

static void allow_header(char *out, size_t cap, int m) {
  static const struct { int bit; const char *name; } names[] = {
      {DM_HTTP_GET, "GET"}, {DM_HTTP_HEAD, "HEAD"}, {DM_HTTP_POST, "POST"},
      {DM_HTTP_PUT, "PUT"}, {DM_HTTP_DELETE, "DELETE"},
  };
  if (m & DM_HTTP_GET) m |= DM_HTTP_HEAD;
  size_t n = (size_t)snprintf(out, cap, "Allow: ");
  const char *sep = "";
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    if (!(m & names[i].bit)) continue;
    n += (size_t)snprintf(out + n, cap - n, "%s%s", sep, names[i].name);
    sep = ", ";
  }
  snprintf(out + n, cap - n, "\r\n");
}

void dm_http_dispatch(conn *c) {
  dm_http_req *r = c->cur;
  c->cur = NULL;
  c->inflight = r;
  c->state = C_HANDLING;
  if (r->bad != NULL) {
    dm_http_respond_error(r, 400, "%s", r->bad);
    return;
  }
  if (r->route == NULL) {
    const char *m = http_method_str((enum http_method)c->parser.method);
    if (r->allow == 0) {
      dm_http_respond_error(r, 404, "no such endpoint: %s %s", m, r->path);
    } else {
      char allow[96];
      allow_header(allow, sizeof allow, r->allow);
      dm_http_respond_error_h(r, 405, allow, "method %s not allowed on %s", m, r->path);
    }
    return;
  }
  int rc = dm_http_req_params(r);
  if (rc == DM_ENOMEM) {
    dm_http_respond_error_h(r, 503, "Retry-After: 1\r\n", "out of memory");
    return;
  }
  if (rc < 0) {
    dm_http_respond_error(r, 400, "NUL byte in a query or form parameter");
    return;
  }
  r->route->h(r, r->route->arg);
}
