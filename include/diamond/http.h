/* http.h — the HTTP/1.1 server: libuv TCP + http-parser, keep-alive, chunked request
 * bodies, limits, a router, and replies that may be sent later (asynchronously).
 *
 * Routes are "/api/v0/hosts/:/metrics": each ':' segment matches one non-empty path
 * segment and is available with dm_http_param(). A path that matches a route but not its
 * method gets 405 with Allow; no route gets 404. The server answers on its own:
 * 400 malformed request, 413 body over max_body, 431 headers over max_header, 503 when
 * max_conns is reached (then closes), 408 on an idle or too-slow connection.
 *
 * A handler is called once the whole body is in (bodies are buffered up to max_body). It
 * must eventually call dm_http_respond*() exactly once; until then the request stays
 * alive. If the client goes away first, dm_http_req_closed() becomes true and the reply is
 * discarded. Pipelined requests are answered in order (reading pauses until the reply).
 * Everything runs on the loop thread.
 */
#ifndef DIAMOND_HTTP_H
#define DIAMOND_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct dm_http_server dm_http_server;
typedef struct dm_http_req dm_http_req;

enum { DM_HTTP_GET = 1, DM_HTTP_POST = 2, DM_HTTP_PUT = 4, DM_HTTP_DELETE = 8, DM_HTTP_HEAD = 16 };

typedef void (*dm_http_handler)(dm_http_req *req, void *arg);

typedef struct dm_http_opts {
  const char *listen;        /* "127.0.0.1:8080" (IPv6: "[::1]:8080") */
  size_t max_body;
  size_t max_header;
  size_t max_conns;
  uint64_t idle_timeout_ms;  /* keep-alive idle, and max time to receive one request */
} dm_http_opts;

int dm_http_server_new(dm_http_server **out, uv_loop_t *loop, const dm_http_opts *o,
                       char *err, size_t errlen);
/* methods: a mask of DM_HTTP_*. name labels metrics ("mackerel_post"). */
int dm_http_route(dm_http_server *s, int methods, const char *pattern, const char *name,
                  dm_http_handler h, void *arg);
int dm_http_listen(dm_http_server *s, char *err, size_t errlen);
/* The bound port (useful with port 0). */
int dm_http_port(const dm_http_server *s);
/* Stops accepting, closes idle connections, waits for in-flight requests to be answered
 * (at most timeout_ms, then closes them), then calls cb. */
void dm_http_shutdown(dm_http_server *s, uint64_t timeout_ms, void (*cb)(void *), void *arg);
void dm_http_server_free(dm_http_server *s);

/* Observer called after every reply: route name ("" if none), status. */
void dm_http_set_observer(dm_http_server *s, void (*fn)(void *arg, const char *route, int status),
                          void *arg);

/* Request accessors. Strings are NUL-terminated and live as long as the request. */
int dm_http_method(const dm_http_req *r);
const char *dm_http_path(const dm_http_req *r);   /* percent-decoded, no query */
const char *dm_http_param(const dm_http_req *r, int i); /* i-th ':' segment */
const char *dm_http_header(const dm_http_req *r, const char *name); /* case-insensitive */
/* i-th value of a query (or application/x-www-form-urlencoded body) parameter, decoded;
 * NULL when absent. */
const char *dm_http_query(const dm_http_req *r, const char *name, int i);
const char *dm_http_body(const dm_http_req *r, size_t *len);
int dm_http_peer_is_loopback(const dm_http_req *r);
int dm_http_req_closed(const dm_http_req *r);

/* Replies. extra_headers: "" or lines each ending in "\r\n". body is copied. */
void dm_http_respond(dm_http_req *r, int status, const char *content_type, const char *body,
                     size_t len, const char *extra_headers);
/* {"error":{"message":"..."}} with the formatted message, JSON-escaped. */
void dm_http_respond_error(dm_http_req *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Same, with extra headers (e.g. "Retry-After: 1\r\n"). */
void dm_http_respond_error_h(dm_http_req *r, int status, const char *extra_headers,
                             const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
