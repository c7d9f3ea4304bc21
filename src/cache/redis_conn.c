/* redis_conn.c — one Redis node's connection: resolve, connect, handshake, reconnect.
 *
 * hiredis's connect calls getaddrinfo itself, blocking, so a host name is resolved first
 * with uv_getaddrinfo (thread pool) and hiredis is handed the numeric address. The
 * handshake is AUTH (when a password is set) and one SCRIPT LOAD per script, written
 * before anything else on the connection; the node is READY when all of them answered
 * as expected. A connection that does not get there within the timeout, loses its socket,
 * or sees a stuck command (redis_cluster.c) goes DOWN: every command on it fails with
 * DM_EBUSY, and a node still wanted reconnects after
 * dm_backoff_ms(attempt, 100 ms, 5 s) (at least 10 ms): never a tight loop.
 *
 * hiredis lifetimes: a request handed to hiredis is freed only in its hiredis callback,
 * which always comes (with a NULL reply when the context is freed); redisAsyncFree called
 * inside one of that context's callbacks is deferred by hiredis until the callback
 * returns, so everything here may drop a connection from anywhere except hiredis's
 * connect callback, which only records the failure (hiredis frees the context itself).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diamond/backoff.h"
#include "diamond/buf.h"
#include "diamond/error.h"
#include "diamond/log.h"
#include "redis_rc.h"
#include "redis_resp.h"
#include "redis_uv.h"

#define BACKOFF_BASE_MS 100
#define BACKOFF_CAP_MS 5000
#define BACKOFF_MIN_MS 10

static const char asking_cmd[] = "*1\r\n$6\r\nASKING\r\n";

typedef struct gai_req {
  uv_getaddrinfo_t req;
  rc_node *n;
  uint32_t gen;
} gai_req;

static void on_timer(uv_timer_t *t);

rc_node *dm_rcn_new(dm_rc *c, const char *host, int port) {
  if (c->nnodes == c->capnodes) {
    size_t cap = c->capnodes ? c->capnodes * 2 : 8;
    rc_node **p = realloc(c->nodes, cap * sizeof *p);
    if (p == NULL) return NULL;
    c->nodes = p;
    c->capnodes = cap;
  }
  rc_node *n = calloc(1, sizeof *n);
  if (n == NULL) return NULL;
  n->rc = c;
  snprintf(n->host, sizeof n->host, "%s", host);
  n->port = port;
  snprintf(n->addr, sizeof n->addr, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
  snprintf(n->why, sizeof n->why, "not connected yet");
  uv_timer_init(c->loop, &n->timer);
  n->timer.data = n;
  c->handles++;
  c->nodes[c->nnodes++] = n;
  return n;
}

/* "Connection refused" -> "connection refused" (but "AUTH: ..." stays) */
static void set_why(rc_node *n, const char *why) {
  snprintf(n->why, sizeof n->why, "%s", why);
  if (isupper((unsigned char)n->why[0]) && islower((unsigned char)n->why[1]))
    n->why[0] = (char)tolower((unsigned char)n->why[0]);
}

static const char *ac_error(const redisAsyncContext *ac) {
  return ac->c.err && ac->c.errstr[0] ? ac->c.errstr : "connection closed";
}

static void node_down(rc_node *n, const char *why, redisAsyncContext *free_ac) {
  dm_rc *c = n->rc;
  int was = n->state;
  if (why != NULL) set_why(n, why);
  n->ac = NULL;
  n->state = RN_DOWN;
  n->gen++;
  n->handshake = 0;
  uv_timer_stop(&n->timer);
  /* requests queued while resolving never reached hiredis: fail them here */
  rc_req *queued = NULL, *q = n->head;
  while (q != NULL) {
    rc_req *next = q->next;
    if (q->queued) {
      dm_rc_req_unlink(&n->head, &n->tail, q);
      q->next = queued;
      queued = q;
    }
    q = next;
  }
  if (free_ac != NULL) redisAsyncFree(free_ac); /* its pending callbacks: NULL replies */
  while (queued != NULL) {
    q = queued;
    queued = q->next;
    q->queued = 0;
    dm_rc_on_reply(q, NULL);
  }
  if (c->closing) return;
  if (was == RN_READY || n->attempt == 0)
    dm_log_warn("redis_down", "node=%s error=\"%s\"", n->addr, n->why);
  if (n->wanted) {
    uint64_t ms = dm_backoff_ms(n->attempt, BACKOFF_BASE_MS, BACKOFF_CAP_MS);
    n->attempt++;
    uv_timer_start(&n->timer, on_timer, ms < BACKOFF_MIN_MS ? BACKOFF_MIN_MS : ms, 0);
  } else {
    n->attempt++;
  }
  dm_rc_node_down(n);
}

void dm_rcn_fail(rc_node *n, const char *why) { node_down(n, why, n->ac); }

static int hiredis_send(rc_node *n, rc_req *q);

static void on_hiredis_reply(redisAsyncContext *ac, void *reply, void *priv) {
  rc_req *q = priv;
  rc_node *n = q->node;
  q->in_hiredis = 0;
  dm_rc_req_unlink(&n->head, &n->tail, q);
  /* the first NULL reply of a connection hiredis is dropping itself marks the node down,
   * so callers told now already see why in health() */
  if (reply == NULL && n->ac == ac && !n->rc->closing) node_down(n, ac_error(ac), NULL);
  dm_rc_on_reply(q, reply);
}

static int hiredis_send(rc_node *n, rc_req *q) {
  if (q->asking &&
      redisAsyncFormattedCommand(n->ac, NULL, NULL, asking_cmd, sizeof asking_cmd - 1) != REDIS_OK)
    return DM_EBUSY;
  if (redisAsyncFormattedCommand(n->ac, on_hiredis_reply, q, q->cmd, q->len) != REDIS_OK)
    return DM_EBUSY;
  q->asking = 0;
  q->in_hiredis = 1;
  return 0;
}

int dm_rcn_send(rc_node *n, rc_req *q) {
  if (n->state == RN_DOWN) return DM_EBUSY;
  q->node = n;
  q->gen = n->gen;
  q->sent = dm_rc_now();
  if (n->state == RN_RESOLVING) {
    q->queued = 1;
  } else if (hiredis_send(n, q) < 0) {
    return DM_EBUSY;
  }
  dm_rc_req_link(&n->head, &n->tail, q);
  dm_rc_tick_start(n->rc);
  return 0;
}

/* ---- handshake ---- */

static void handshake_reply(rc_req *q, int status, redisReply *r) {
  rc_node *n = q->iarg;
  dm_rc *c = n->rc;
  if (status < 0 || q->gen != n->gen || n->state != RN_CONNECTING) return; /* gone already */
  char why[200];
  if (r->type == REDIS_REPLY_ERROR) {
    snprintf(why, sizeof why, "%s: %s", q->script ? "SCRIPT LOAD" : "AUTH", r->str);
    dm_rcn_fail(n, why);
    return;
  }
  if (q->script && (r->type != REDIS_REPLY_STRING ||
                    strcmp(r->str, c->shas[q->script - 1]) != 0)) {
    snprintf(why, sizeof why, "SCRIPT LOAD: script %d has SHA-1 %s, expected %s", q->script - 1,
             r->type == REDIS_REPLY_STRING ? r->str : "?", c->shas[q->script - 1]);
    dm_rcn_fail(n, why);
    return;
  }
  if (--n->handshake > 0) return;
  n->state = RN_READY;
  if (n->attempt > 0) dm_log_info("redis_up", "node=%s", n->addr);
  n->attempt = 0;
  n->why[0] = '\0';
  uv_timer_stop(&n->timer);
  c->st.connects++;
}

static int send_handshake(rc_node *n, int script, const char *arg) {
  dm_buf b;
  dm_buf_init(&b);
  if (script) {
    dm_resp_begin(&b, 3);
    dm_resp_str(&b, "SCRIPT");
    dm_resp_str(&b, "LOAD");
  } else {
    dm_resp_begin(&b, 2);
    dm_resp_str(&b, "AUTH");
  }
  dm_resp_str(&b, arg);
  if (b.oom) {
    dm_buf_free(&b);
    return DM_ENOMEM;
  }
  rc_req *q = dm_rc_req_new(n->rc, DM_RC_ANY, b.p, b.len);
  if (q == NULL) {
    dm_buf_free(&b);
    return DM_ENOMEM;
  }
  q->own = b.p;
  q->script = script;
  q->icb = handshake_reply;
  q->iarg = n;
  q->deadline = UINT64_MAX; /* the connect timeout covers it */
  int rc = dm_rcn_send(n, q);
  if (rc < 0) {
    dm_rc_req_free(q);
    return rc;
  }
  n->handshake++;
  return 0;
}

static void on_connect(const redisAsyncContext *ac, int status) {
  rc_node *n = ac->data;
  /* hiredis frees the context after this returns: only record the failure */
  if (status != REDIS_OK && n->ac == ac) node_down(n, ac_error(ac), NULL);
}

static void on_disconnect(const redisAsyncContext *ac, int status) {
  (void)status;
  rc_node *n = ac->data;
  if (n->ac == ac) node_down(n, ac_error(ac), NULL);
}

static void start_connect(rc_node *n) {
  dm_rc *c = n->rc;
  char why[200];
  redisAsyncContext *ac = redisAsyncConnect(n->ip, n->port);
  if (ac == NULL) {
    dm_rcn_fail(n, "out of memory");
    return;
  }
  if (ac->err) {
    snprintf(why, sizeof why, "%s", ac->errstr);
    redisAsyncFree(ac);
    dm_rcn_fail(n, why);
    return;
  }
  if (dm_redis_uv_attach(ac, c->loop, &c->st.writes) < 0) {
    redisAsyncFree(ac);
    dm_rcn_fail(n, "cannot watch the socket");
    return;
  }
  ac->data = n;
  n->ac = ac;
  n->state = RN_CONNECTING;
  redisAsyncSetConnectCallback(ac, on_connect);
  redisAsyncSetDisconnectCallback(ac, on_disconnect);
  uint64_t gen = n->gen;
  int rc = 0;
  if (c->password[0] != '\0') rc = send_handshake(n, 0, c->password);
  for (int i = 0; rc == 0 && i < c->nscripts; i++) rc = send_handshake(n, i + 1, c->scripts[i]);
  if (n->gen != gen) return; /* failed while sending */
  if (rc < 0) {
    dm_rcn_fail(n, "out of memory");
    return;
  }
  if (n->handshake == 0) { /* nothing to check: ready as soon as it connects */
    n->state = RN_READY;
    n->attempt = 0;
    n->why[0] = '\0';
    c->st.connects++;
  }
  /* then what was queued while resolving, in order */
  for (rc_req *q = n->head; q != NULL; q = q->next) {
    if (!q->queued) continue;
    q->queued = 0;
    if (hiredis_send(n, q) < 0) {
      dm_rcn_fail(n, "cannot send");
      return;
    }
  }
}

static void on_gai(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  struct addrinfo *all = res;
  gai_req *g = (gai_req *)req;
  rc_node *n = g->n;
  dm_rc *c = n->rc;
  int current = !c->closing && g->gen == n->gen && n->state == RN_RESOLVING;
  char why[200];
  free(g);
  if (current) {
    if (status < 0 || res == NULL) {
      snprintf(why, sizeof why, "resolve %s: %s", n->host,
               uv_strerror(status < 0 ? status : UV_EAI_NONAME));
      dm_rcn_fail(n, why);
    } else {
      /* an IPv4 address first: "localhost" often lists ::1 first, and a Redis bound to
       * 127.0.0.1 (the default) would refuse it */
      for (struct addrinfo *x = res; x != NULL; x = x->ai_next)
        if (x->ai_family == AF_INET) {
          res = x;
          break;
        }
      const void *a = res->ai_family == AF_INET6
                          ? (const void *)&((struct sockaddr_in6 *)res->ai_addr)->sin6_addr
                          : (const void *)&((struct sockaddr_in *)res->ai_addr)->sin_addr;
      if (inet_ntop(res->ai_family, a, n->ip, sizeof n->ip) == NULL)
        dm_rcn_fail(n, "resolve: bad address");
      else
        start_connect(n);
    }
  }
  if (all != NULL) uv_freeaddrinfo(all);
  dm_rc_unref(c);
}

static int is_numeric(const char *host) {
  unsigned char tmp[16];
  return inet_pton(AF_INET, host, tmp) == 1 || inet_pton(AF_INET6, host, tmp) == 1;
}

void dm_rcn_connect_now(rc_node *n) {
  dm_rc *c = n->rc;
  if (c->closing || n->state != RN_DOWN) return;
  uv_timer_stop(&n->timer);
  n->gen++;
  uv_timer_start(&n->timer, on_timer, (uint64_t)(c->timeout_ns / 1000000) + 1, 0);
  if (is_numeric(n->host)) {
    snprintf(n->ip, sizeof n->ip, "%s", n->host);
    start_connect(n);
    return;
  }
  gai_req *g = calloc(1, sizeof *g);
  if (g == NULL) {
    dm_rcn_fail(n, "out of memory");
    return;
  }
  g->n = n;
  g->gen = n->gen;
  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  n->state = RN_RESOLVING;
  int rc = uv_getaddrinfo(c->loop, &g->req, on_gai, n->host, NULL, &hints);
  if (rc < 0) {
    free(g);
    char why[200];
    snprintf(why, sizeof why, "resolve %s: %s", n->host, uv_strerror(rc));
    dm_rcn_fail(n, why);
    return;
  }
  c->handles++;
}

static void on_timer(uv_timer_t *t) {
  rc_node *n = t->data;
  if (n->rc->closing) return;
  if (n->state == RN_DOWN)
    dm_rcn_connect_now(n);
  else if (n->state != RN_READY)
    dm_rcn_fail(n, "connect timed out");
}

void dm_rcn_connect_soon(rc_node *n, uint64_t ms) {
  if (n->rc->closing || n->state != RN_DOWN || uv_is_active((uv_handle_t *)&n->timer)) return;
  uv_timer_start(&n->timer, on_timer, ms, 0);
}

static void on_timer_closed(uv_handle_t *h) {
  rc_node *n = h->data;
  dm_rc_unref(n->rc);
}

void dm_rcn_close(rc_node *n) {
  node_down(n, n->state == RN_DOWN ? NULL : "closed", n->ac);
  uv_close((uv_handle_t *)&n->timer, on_timer_closed);
}
