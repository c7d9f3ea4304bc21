/* bench_http.h — the HTTP/1.1 client plumbing shared by the benchmark tools dm_load and
 * dm_readbench: a growable byte buffer, HOST:PORT parsing, response parsing, keep-alive
 * connections on a libuv loop, and latency percentiles.
 *
 * A connection (bh_conn) has at most one request in flight. The tool embeds a bh_conn as
 * the FIRST member of its own connection struct and gives it a table of callbacks
 * (bh_conn_ops); every callback runs on the loop thread. bh_conn reads and parses the
 * responses itself and hands each complete one to ops->response with c->waiting already 0.
 * Allocation failures print "<bh_prog>: out of memory" and exit(2): these are command-line
 * tools, not the server.
 */
#ifndef DM_BENCH_HTTP_H
#define DM_BENCH_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

extern const char *bh_prog; /* the tool's name for messages; main() sets it */

/* ---- growable buffer ---------------------------------------------------------------- */

typedef struct {
  char *data;
  size_t len, cap;
} bh_sbuf;

void bh_sb_reserve(bh_sbuf *b, size_t more); /* room for `more` bytes after len */
void bh_sb_add(bh_sbuf *b, const void *s, size_t n);
void bh_sb_adds(bh_sbuf *b, const char *s); /* a NUL-terminated string, without the NUL */
void bh_sb_printf(bh_sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- target address ------------------------------------------------------------------ */

typedef struct {
  char host[256]; /* as given (for the Host header and messages) */
  int port;
  struct sockaddr_storage addr;
} bh_url;

/* Parses "[http://]HOST:PORT" (HOST an IPv4 or IPv6 address, optionally in brackets, or
 * "localhost") into *u; 0, or -1 if it is not of that form. No name lookup. */
int bh_parse_url(const char *s, bh_url *u);

/* ---- responses --------------------------------------------------------------------- */

typedef struct {
  int status;
  int close_after;  /* the server will close the connection after this response */
  size_t consumed;  /* bytes of the input this response took */
  const char *body; /* inside the input; de-chunked in place when it was chunked */
  size_t body_len;
} bh_response;

/* Parses one response at the start of p[0..n): 1 complete (fills *r), 0 need more bytes,
 * -1 malformed. Understands Content-Length, chunked bodies (compacted in place, so p is
 * modified) and bodiless statuses (1xx, 204, 304). A body delimited by the close of the
 * connection is never complete: the servers measured do not send one. */
int bh_parse_response(char *p, size_t n, bh_response *r);

/* ---- keep-alive connections ------------------------------------------------------- */

typedef struct bh_conn bh_conn;

typedef struct {
  /* The connect finished: status 0 (the connection now reads) or a negative UV_E* code. */
  void (*connected)(bh_conn *c, int status);
  /* One complete response to the request in flight. */
  void (*response)(bh_conn *c, const bh_response *r);
  /* Optional: a response was handled and the connection stays open, or a write finished
   * while no response is due; the tool may send its next request. */
  void (*ready)(bh_conn *c);
  /* A read, write or protocol error, or the server closed: `what` says which. The tool
   * normally counts it and calls bh_conn_close(). */
  void (*fail)(bh_conn *c, const char *what, int err);
  /* The handle is closed (after bh_conn_close); connected, writing and the input are
   * reset, waiting is left for the tool to judge. The bh_conn may be started again. */
  void (*closed)(bh_conn *c);
} bh_conn_ops;

struct bh_conn {
  uv_tcp_t tcp;
  uv_connect_t connect_req;
  uv_write_t write_req;
  bh_sbuf in;                      /* bytes read and not yet parsed */
  int connected, writing, waiting; /* waiting: a response is due */
  uint64_t sent_ns;                /* uv_hrtime() when the request in flight was sent */
  int index;
  const bh_conn_ops *ops;
};

/* Starts connecting c (its ops and index set by the caller) to addr; 0 or a negative UV_E*
 * code (then no callback comes). */
int bh_conn_start(bh_conn *c, uv_loop_t *loop, const struct sockaddr *addr);

/* Sends one request (the buffers stay the caller's until the write finishes): sets waiting
 * and writing and sent_ns. A failing uv_write is reported through ops->fail. */
void bh_conn_send(bh_conn *c, const uv_buf_t *bufs, unsigned nbufs);

/* Closes c unless it is already closing; ops->closed follows. */
void bh_conn_close(bh_conn *c);

/* Frees c's input buffer (after the loop has stopped). */
void bh_conn_free(bh_conn *c);

/* ---- latency percentiles --------------------------------------------------------- */

typedef struct {
  double *ms;
  size_t n, cap;
} bh_lat;

void bh_lat_add(bh_lat *l, double ms);

/* Sorts the samples and gives the nearest-rank p50 and p99 and the maximum (0 if none). */
void bh_lat_summary(bh_lat *l, double *p50, double *p99, double *max);

void bh_lat_free(bh_lat *l);

#endif
