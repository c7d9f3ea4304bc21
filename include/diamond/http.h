/* http.h — the HTTP/1.1 server: libuv TCP + http-parser, keep-alive, chunked request
 * bodies, limits, a router, and replies that may be sent later (asynchronously).
 *
 * Routes are "/api/v0/hosts/:/metrics": each ':' segment matches one non-empty path
 * segment and is available with dm_http_param(). The segment count must match exactly
 * ("/a/b/" is not "/a/b"). Routes are tried in the order they were added; HEAD is served
 * by a GET route (reply without body) unless a route lists HEAD. The path is split on '/'
 * and then percent-decoded once ("%2F" stays inside its segment).
 *
 * A path that matches a route but not its method gets 405 with Allow; no route gets 404.
 * The server answers on its own (always a JSON error body and Content-Length):
 *   400  malformed request (connection closed); NUL byte in the decoded path or in a
 *        query/form parameter (connection kept)
 *   404  no route; 405 + "Allow: GET, HEAD, ..." method not routed for that path
 *   408  part of a request received but not all of it within idle_timeout_ms (closed)
 *   413  Content-Length over max_body (before the body is read, no 100 Continue), or a
 *        chunked body passing max_body (closed)
 *   431  URL + header names + header values over max_header (closed)
 *   503  + "Retry-After: 1": a connection above max_conns (answered at accept, closed),
 *        or out of memory
 * A connection idle for idle_timeout_ms between requests is closed without a reply.
 * "Closed" means: reply with "Connection: close", shut the write side, discard input
 * until the client's EOF (at most 2 s), close.
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

/* A zero field takes its default (shown). */
typedef struct dm_http_opts {
  const char *listen;        /* "127.0.0.1:8080" (IPv6: "[::1]:8080", all IPv4: ":8080") */
  size_t max_body;           /* 32 MiB */
  size_t max_header;         /* 64 KiB */
  size_t max_conns;          /* 1024 */
  uint64_t idle_timeout_ms;  /* 60000: keep-alive idle, and max time to receive one request */
} dm_http_opts;

/* Also sets SIGPIPE to SIG_IGN if it was SIG_DFL (writes to a gone peer must not kill). */
int dm_http_server_new(dm_http_server **out, uv_loop_t *loop, const dm_http_opts *o,
                       char *err, size_t errlen);
/* methods: a mask of DM_HTTP_*. name labels metrics ("mackerel_post"). */
int dm_http_route(dm_http_server *s, int methods, const char *pattern, const char *name,
                  dm_http_handler h, void *arg);
int dm_http_listen(dm_http_server *s, char *err, size_t errlen);
/* The bound port (useful with port 0). */
int dm_http_port(const dm_http_server *s);
/* Stops accepting, closes idle connections (and each one that becomes idle, e.g. once a
 * reply begun before the shutdown is written), waits for in-flight requests to be answered
 * (at most timeout_ms, then closes them), then calls cb (always later, from the loop).
 * Replies sent while draining carry "Connection: close". */
void dm_http_shutdown(dm_http_server *s, uint64_t timeout_ms, void (*cb)(void *), void *arg);
/* After the shutdown callback, or when dm_http_listen was never called or failed. */
void dm_http_server_free(dm_http_server *s);

/* Observer called for every reply the server sends: route name ("" for 404 and for the
 * errors made before a request is complete; the path's route for 405), status. Not called
 * for a reply to a client that already left. */
void dm_http_set_observer(dm_http_server *s, void (*fn)(void *arg, const char *route, int status),
                          void *arg);

/* A gate runs when a request's headers are complete and it matched a route, before its
 * body is read: it returns 0 to go on, or an HTTP status (401, 403, ...) and points *msg
 * at a static message to refuse the request at once (the server replies with the JSON
 * error and closes the connection, without reading the body). route_arg is the arg given
 * to dm_http_route. The API uses it to check X-Api-Key before buffering up to max_body. */
typedef int (*dm_http_gate)(void *arg, const dm_http_req *r, void *route_arg, const char **msg);
void dm_http_set_gate(dm_http_server *s, dm_http_gate fn, void *arg);

/* Request accessors. Strings are NUL-terminated and live as long as the request. */
/* DM_HTTP_* (HEAD stays HEAD on a GET route); 0 for methods no route can have. */
int dm_http_method(const dm_http_req *r);
const char *dm_http_path(const dm_http_req *r);   /* percent-decoded, no query */
const char *dm_http_param(const dm_http_req *r, int i); /* i-th ':' segment */
const char *dm_http_header(const dm_http_req *r, const char *name); /* case-insensitive */
/* i-th value of a query (or application/x-www-form-urlencoded body) parameter, decoded
 * ('+' is a space); "" for a bare "key"; NULL when absent. Query values come first. */
const char *dm_http_query(const dm_http_req *r, const char *name, int i);
/* Every value of parameter name in one pass (dm_http_query per index is linear each):
 * the first max into out (out may be NULL when max is 0); returns how many there are. */
size_t dm_http_query_all(const dm_http_req *r, const char *name, const char **out, size_t max);
const char *dm_http_body(const dm_http_req *r, size_t *len); /* NUL-terminated; "" if none */
int dm_http_peer_is_loopback(const dm_http_req *r);
int dm_http_req_closed(const dm_http_req *r);

/* Replies. extra_headers: "" (or NULL) or lines each ending in "\r\n"; content_type NULL:
 * none. body is copied (only when the socket does not take it at once). */
void dm_http_respond(dm_http_req *r, int status, const char *content_type, const char *body,
                     size_t len, const char *extra_headers);
/* {"error":{"message":"..."}} with the formatted message, JSON-escaped. */
void dm_http_respond_error(dm_http_req *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Same, with extra headers (e.g. "Retry-After: 1\r\n"). */
void dm_http_respond_error_h(dm_http_req *r, int status, const char *extra_headers,
                             const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
