/* parse.c — http-parser callbacks that build a dm_http_req from the bytes of one request.
 *
 * The URL and every header name and value are copied into one growing store (a request
 * may arrive in many reads, and the read buffer is reused), NUL-terminated, with the
 * headers indexed by offset. The body goes into its own buffer, sized from Content-Length
 * when there is one and doubled up to max_body when chunked.
 *
 * A callback that finds the request over a limit sets conn.err_status (413, 431, 503 on
 * allocation failure) and returns -1: http-parser stops, and server.c answers with that
 * status and closes. A complete message pauses the parser (http_parser_pause) so the
 * bytes after it stay unparsed until the reply is out: pipelined requests are answered
 * in order, and a client cannot push requests faster than it reads replies.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_int.h"

static const char continue_100[] = "HTTP/1.1 100 Continue\r\n\r\n";

static int fail(conn *c, int status, const char *msg) {
  c->err_status = status;
  c->err_msg = msg;
  return -1;
}

static int count_header_bytes(conn *c, size_t len) {
  dm_http_req *r = c->cur;
  r->hdr_bytes += len;
  if (r->hdr_bytes > c->srv->o.max_header) return fail(c, 431, "request headers too large");
  return 0;
}

/* Ends the value being stored: trailing blanks trimmed, NUL added. */
static void end_value(dm_http_req *r) {
  size_t start = r->hdrs[r->nhdr - 1].value;
  while (r->store.len > start &&
         (r->store.p[r->store.len - 1] == ' ' || r->store.p[r->store.len - 1] == '\t'))
    r->store.len--;
  dm_buf_add(&r->store, "", 1);
}

/* Closes whatever the header callbacks left open (URL, a name, a value). */
static int end_headers(dm_http_req *r) {
  if (!r->url_done) {
    r->url_len = r->store.len;
    dm_buf_add(&r->store, "", 1);
    r->url_done = 1;
  }
  if (r->last_cb == 1) { /* a name with no value callback: empty value */
    dm_buf_add(&r->store, "", 1);
    r->hdrs[r->nhdr - 1].value = r->store.len;
    dm_buf_add(&r->store, "", 1);
  } else if (r->last_cb == 2) {
    end_value(r);
  }
  r->last_cb = 0;
  return r->store.oom ? -1 : 0;
}

static int on_message_begin(http_parser *p) {
  conn *c = p->data;
  dm_http_req *r = calloc(1, sizeof *r);
  if (r == NULL) return fail(c, 503, "out of memory");
  r->c = c;
  r->loopback = (unsigned)c->loopback;
  dm_buf_init(&r->store);
  c->cur = r;
  c->msg_begun = 1;
  dm_http_conn_arm(c, c->srv->o.idle_timeout_ms);
  return 0;
}

static int on_url(http_parser *p, const char *at, size_t len) {
  conn *c = p->data;
  if (count_header_bytes(c, len) < 0) return -1;
  dm_buf_add(&c->cur->store, at, len);
  return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len) {
  conn *c = p->data;
  dm_http_req *r = c->cur;
  if (count_header_bytes(c, len) < 0) return -1;
  if (!r->url_done || r->last_cb == 2) end_headers(r);
  if (r->last_cb != 1) {
    if (r->nhdr == r->hdr_cap) {
      size_t cap = r->hdr_cap ? r->hdr_cap * 2 : 16;
      hdr_ent *h = realloc(r->hdrs, cap * sizeof *h);
      if (h == NULL) return fail(c, 503, "out of memory");
      r->hdrs = h;
      r->hdr_cap = cap;
    }
    r->hdrs[r->nhdr].name = r->store.len;
    r->hdrs[r->nhdr].value = 0;
    r->nhdr++;
    r->last_cb = 1;
  }
  dm_buf_add(&r->store, at, len);
  return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len) {
  conn *c = p->data;
  dm_http_req *r = c->cur;
  if (count_header_bytes(c, len) < 0) return -1;
  if (r->last_cb != 2) {
    if (r->last_cb != 1) return fail(c, 400, "header value without a name");
    dm_buf_add(&r->store, "", 1);
    r->hdrs[r->nhdr - 1].value = r->store.len;
    r->last_cb = 2;
  }
  dm_buf_add(&r->store, at, len);
  return 0;
}

static int map_method(unsigned m) {
  switch (m) {
  case HTTP_GET: return DM_HTTP_GET;
  case HTTP_POST: return DM_HTTP_POST;
  case HTTP_PUT: return DM_HTTP_PUT;
  case HTTP_DELETE: return DM_HTTP_DELETE;
  case HTTP_HEAD: return DM_HTTP_HEAD;
  default: return 0;
  }
}

static int on_headers_complete(http_parser *p) {
  conn *c = p->data;
  dm_http_req *r = c->cur;
  const dm_http_opts *o = &c->srv->o;
  if (end_headers(r) < 0) return fail(c, 503, "out of memory");
  r->http10 = p->http_major == 1 && p->http_minor == 0;
  r->keep_alive = http_should_keep_alive(p) ? 1 : 0;
  r->method = map_method(p->method);
  if (dm_http_req_route(c->srv, r) < 0) return fail(c, 503, "out of memory");
  if (c->srv->gate != NULL && r->route != NULL) {
    const char *msg = "refused";
    int status = c->srv->gate(c->srv->gate_arg, r, r->route->arg, &msg);
    if (status != 0) {
      c->err_route = r->route->name;
      return fail(c, status, msg);
    }
  }
  int has_len = (p->flags & F_CONTENTLENGTH) && p->content_length != ULLONG_MAX;
  if (has_len && p->content_length > o->max_body) {
    c->err_route = r->route ? r->route->name : "";
    return fail(c, 413, "request body too large");
  }
  if (has_len && p->content_length > 0) {
    r->body_cap = (size_t)p->content_length + 1;
    r->body = malloc(r->body_cap);
    if (r->body == NULL) return fail(c, 503, "out of memory");
  }
  int chunked = (p->flags & F_CHUNKED) != 0;
  const char *expect = dm_http_req_hdr(r, "expect");
  if (expect != NULL && strcasecmp(expect, "100-continue") == 0 && !r->http10 &&
      (chunked || (has_len && p->content_length > 0)))
    dm_http_conn_write(c, continue_100, sizeof continue_100 - 1, NULL, 0, 0);
  return 0;
}

static int on_body(http_parser *p, const char *at, size_t len) {
  conn *c = p->data;
  dm_http_req *r = c->cur;
  size_t max = c->srv->o.max_body;
  if (len > max - r->body_len) {
    c->err_route = r->route ? r->route->name : "";
    return fail(c, 413, "request body too large");
  }
  size_t need = r->body_len + len + 1;
  if (need > r->body_cap) {
    size_t cap = r->body_cap ? r->body_cap * 2 : 16384;
    while (cap < need) cap *= 2;
    if (cap > max + 1) cap = max + 1;
    char *b = realloc(r->body, cap);
    if (b == NULL) return fail(c, 503, "out of memory");
    r->body = b;
    r->body_cap = cap;
  }
  memcpy(r->body + r->body_len, at, len);
  r->body_len += len;
  return 0;
}

static int on_message_complete(http_parser *p) {
  conn *c = p->data;
  dm_http_req *r = c->cur;
  if (end_headers(r) < 0) return fail(c, 503, "out of memory"); /* trailers */
  if (r->body != NULL) r->body[r->body_len] = '\0';
  if (p->upgrade) r->keep_alive = 0; /* no protocol switch: answer, then close */
  c->msg_begun = 0;
  dm_http_conn_arm(c, 0);
  http_parser_pause(p, 1);
  return 0;
}

const http_parser_settings dm_http_parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void dm_http_req_free(dm_http_req *r) {
  if (r == NULL) return;
  dm_buf_free(&r->store);
  free(r->hdrs);
  free(r->path);
  free(r->qbuf);
  free(r->qoff);
  free(r->body);
  free(r);
}
