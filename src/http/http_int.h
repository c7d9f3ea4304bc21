/* http_int.h — what the files of src/http share: the server, connection and request
 * structs, and the functions one file calls in another.
 *
 *   server.c   listener, accept, connection life cycle, reading, writing, shutdown
 *   parse.c    http-parser callbacks that build a dm_http_req, limits (413, 431)
 *   request.c  percent-decoding, path split, routing, query/form parameters, accessors
 *   reply.c    dm_http_respond*, status lines, 404/405, server-made errors
 */
#ifndef DIAMOND_HTTP_INT_H
#define DIAMOND_HTTP_INT_H

#include <http_parser.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "diamond/buf.h"
#include "diamond/http.h"

#define RBUF_SIZE (64 * 1024)   /* one read; also the most a paused connection buffers */
#define LINGER_MS 2000          /* after a closing reply: wait this long for the peer's EOF */
#define MAX_SEGS 64             /* paths with more segments match no route */

typedef struct route {
  int methods;          /* DM_HTTP_* mask */
  char *name;
  char *segs_store;     /* the pattern's segments, NUL-separated */
  const char **segs;    /* ":" = any one non-empty segment */
  int nseg;
  dm_http_handler h;
  void *arg;
} route;

typedef struct hdr_ent {
  size_t name, value; /* offsets into req->store, NUL-terminated */
} hdr_ent;

typedef struct conn conn;

struct dm_http_req {
  conn *c;              /* NULL once the connection is gone */
  int method;           /* DM_HTTP_*, 0 for methods no route can have */
  unsigned keep_alive : 1, http10 : 1, closed : 1, loopback : 1, form : 1;
  const char *bad;      /* set: answer 400 with this message (NUL in path) */

  /* URL, header names and values, NUL-separated: url at offset 0. */
  dm_buf store;
  size_t url_len;
  int url_done;
  hdr_ent *hdrs;
  size_t nhdr, hdr_cap;
  int last_cb;          /* 0 none, 1 field, 2 value: how the last header byte arrived */
  size_t hdr_bytes;     /* counted against max_header */

  size_t qstart, qlen;  /* raw query string inside the URL */
  char *path;           /* decoded path, then the decoded segments, one allocation */
  const char *segs[MAX_SEGS];
  int nseg;
  const route *route;   /* NULL: 404 or 405 */
  const route *path_route; /* first route whose path matched (names a 405) */
  int allow;            /* methods of every route whose path matched */

  char *qbuf;           /* decoded query (and form) parameters: name\0value\0... */
  size_t *qoff;         /* offset of each name; its value follows */
  size_t nq;

  char *body;
  size_t body_len, body_cap;
};

typedef enum {
  C_READING,   /* waiting for or receiving a request; the idle/receive timer runs */
  C_HANDLING,  /* a handler has the request; reading only buffers (to see EOF) */
  C_WRITING,   /* the reply did not go out at once; uv_write pending */
  C_LINGERING, /* last reply sent, write side shut: discard input until EOF or LINGER_MS */
  C_CLOSING,   /* uv_close called; freed when both handles are closed */
} conn_state;
/* READING -> HANDLING -> (WRITING ->) READING | LINGERING -> CLOSING; any -> CLOSING.
 * READING -> (WRITING ->) LINGERING for a server-made error (400, 408, 413, 431, 503). */

struct conn {
  uv_tcp_t tcp;
  uv_timer_t timer;
  uv_shutdown_t shut;
  dm_http_server *srv;  /* NULL after dm_http_server_free */
  conn *prev, *next;
  http_parser parser;
  conn_state state;
  dm_http_req *cur;      /* being received */
  dm_http_req *inflight; /* handed to its handler, not answered yet */
  int close_after;       /* the reply being written is the last one */
  int msg_begun;         /* some bytes of the current request have arrived */
  int err_status;        /* set by a parser callback that stopped the parser */
  const char *err_msg;
  const char *err_route; /* route name for the observer, "" if none */
  int in_input;          /* inside conn_input: a synchronous reply must not recurse */
  int reading, counted, loopback, handles_open;
  char *lbuf;            /* bytes read but not parsed yet (while a request is out) */
  size_t loff, lend;
};

struct dm_http_server {
  uv_loop_t *loop;
  dm_http_opts o;
  char *listen_addr;
  uv_tcp_t *listener;   /* own allocation: its close callback frees it */
  int listener_closing;
  int port;
  route **routes;       /* each its own allocation: requests point at them */
  size_t nroutes;
  conn *conns;          /* every open connection, rejected and lingering ones too */
  size_t nactive;       /* connections counted against max_conns */
  char *rbuf;           /* shared read buffer: connections with nothing pending use it */
  void (*obs)(void *, const char *, int);
  void *obs_arg;
  dm_http_gate gate;    /* checks a routed request before its body is read */
  void *gate_arg;
  int draining;
  uv_timer_t *shutdown_timer;
  void (*shutdown_cb)(void *);
  void *shutdown_arg;
  int shutdown_done;
  uint64_t linger_ms;
};

/* parse.c */
extern const http_parser_settings dm_http_parser_settings;
void dm_http_req_free(dm_http_req *r);

/* request.c */
int dm_http_req_route(dm_http_server *s, dm_http_req *r);     /* at headers complete */
int dm_http_req_params(dm_http_req *r);                       /* at message complete */
const char *dm_http_req_hdr(const dm_http_req *r, const char *name);

/* reply.c */
void dm_http_send_error_close(conn *c, int status, const char *route, const char *msg,
                              const char *extra);
void dm_http_dispatch(conn *c);

/* server.c */
/* Writes header+body; returns 0 when queued or sent, <0 when the connection closed. */
int dm_http_conn_write(conn *c, const char *hdr, size_t hlen, const char *body, size_t blen,
                       int final);
void dm_http_conn_close(conn *c);
/* (Re)starts the connection's timer for ms (0 stops it); what a firing means depends on
 * the state (see on_timer in server.c). */
void dm_http_conn_arm(conn *c, uint64_t ms);
void dm_http_conn_reply_done(conn *c);

#endif
