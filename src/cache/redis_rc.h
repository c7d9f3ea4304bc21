/* redis_rc.h — inside the Redis client (redis_conn.c: one node's connection;
 * redis_cluster.c: routing, topology, deadlines). Not for other modules. */
#ifndef DIAMOND_REDIS_RC_H
#define DIAMOND_REDIS_RC_H

#include <hiredis/async.h>

#include "redis_cluster.h"

/* Node states:
 *   DOWN --connect--> RESOLVING (host name) --> CONNECTING --handshake ok--> READY
 *   any --error, timeout, close--> DOWN (then a reconnect after a backoff when wanted)
 * DOWN refuses commands (callers fail fast); RESOLVING queues them; CONNECTING hands them
 * to hiredis, which writes them after the handshake once the socket connects. */
enum { RN_DOWN, RN_RESOLVING, RN_CONNECTING, RN_READY };

typedef struct rc_node rc_node;
typedef struct rc_req rc_req;

/* Internal requests (handshake, slot map) are told with the request itself. */
typedef void (*rc_icb)(rc_req *q, int status, redisReply *r);

struct rc_req {
  dm_rc *rc;
  rc_req *prev, *next; /* on a node's list (sent or queued) or on the client's wait list */
  rc_node *node;       /* the node it was last sent to (kept until its reply is handled) */
  const char *cmd;
  size_t len;
  char *own;           /* command bytes this request owns (an EVAL rewrite), or NULL */
  int slot, script;
  uint32_t gen;        /* node->gen when sent: replies of an older connection are told so */
  uint8_t redirects, asking, queued, in_hiredis;
  uint64_t deadline;   /* uv_hrtime ns: no reply by then is a failure (DM_EBUSY) */
  uint64_t sent;       /* when handed to the current node (stuck-connection check) */
  uint64_t not_before; /* TRYAGAIN: wait until then */
  dm_rc_cb cb;
  void *arg;
  rc_icb icb;
  void *iarg;
};

struct rc_node {
  dm_rc *rc;
  char host[64];
  int port;
  char addr[80]; /* "host:port", for messages */
  char ip[64];   /* numeric address hiredis connects to */
  int state;
  uint32_t gen;  /* bumped at every connection attempt */
  redisAsyncContext *ac;
  uv_timer_t timer; /* reconnect backoff when DOWN, connect timeout otherwise */
  uint32_t attempt; /* failures since the last good handshake */
  int handshake;    /* handshake replies still expected */
  int wanted;       /* in the slot map (or the single server): keep it connected */
  rc_req *head, *tail;
  char why[160];    /* last failure, "connection refused" */
};

struct dm_rc {
  uv_loop_t *loop;
  char password[128];
  uint64_t timeout_ns;
  const char *const *scripts;
  const char *const *shas;
  int nscripts;
  rc_node **nodes;
  size_t nnodes, capnodes;
  rc_node **seeds;
  size_t nseeds, next_seed;
  rc_node **slots;      /* DM_RC_SLOTS entries; NULL: no known master */
  rc_node *single;      /* mode 0: the server */
  int mode;             /* -1 unknown, 0 single, 1 cluster */
  int topo_busy;        /* a slot-map request is out */
  uint32_t topo_attempt;
  uint64_t topo_last;   /* when the last map was read (refreshes are spaced) */
  uv_timer_t topo_timer;
  uv_timer_t tick;      /* deadlines: runs while requests are alive */
  rc_req *wait_head, *wait_tail; /* waiting for a slot map or a TRYAGAIN retry */
  size_t nreqs;
  int closing, handles;
  void (*done)(void *arg);
  void *done_arg;
  char why[320];        /* why the slot map could not be read */
  dm_rc_stats st;
};

uint64_t dm_rc_now(void); /* uv_hrtime */

/* redis_conn.c */
rc_node *dm_rcn_new(dm_rc *c, const char *host, int port);
void dm_rcn_connect_soon(rc_node *n, uint64_t ms); /* DOWN, no retry timer: connect after ms */
void dm_rcn_connect_now(rc_node *n); /* DOWN: connect now (only from a timer callback) */
int dm_rcn_send(rc_node *n, rc_req *q);             /* 0 or DM_EBUSY (node down) */
void dm_rcn_fail(rc_node *n, const char *why);      /* drop the connection */
void dm_rcn_close(rc_node *n);                      /* client closing: drop, close timer */

/* redis_cluster.c, called by redis_conn.c */
void dm_rc_on_reply(rc_req *q, redisReply *r); /* r NULL: the connection is gone */
void dm_rc_node_down(rc_node *n);
void dm_rc_unref(dm_rc *c); /* a handle or a resolver request of c is done */
void dm_rc_req_link(rc_req **head, rc_req **tail, rc_req *q);
void dm_rc_req_unlink(rc_req **head, rc_req **tail, rc_req *q);
rc_req *dm_rc_req_new(dm_rc *c, int slot, const char *cmd, size_t len);
void dm_rc_req_free(rc_req *q);
void dm_rc_tick_start(dm_rc *c);

#endif
