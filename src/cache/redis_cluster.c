/* redis_cluster.c — routing commands to Redis or Redis Cluster nodes (redis_cluster.h).
 *
 * Topology. open() only parses the seeds. A timer then sends CLUSTER SLOTS to a seed: an
 * error "... cluster support disabled" means a single server (every slot is that node);
 * an array is the slot map of a cluster (master of each slot range; an empty address
 * means "the node you asked"). Commands sent before the first answer wait for it, within
 * their deadline; when it fails they fail (DM_EBUSY), and later ones fail at once until
 * the next attempt (seeds in turn, backoff 100 ms .. 5 s) is under way. In a cluster the
 * map is read again (at most every 100 ms) after a MOVED, a CLUSTERDOWN, a command for a
 * slot without a master, or a lost connection to a master.
 *
 * Redirects. MOVED <slot> <addr>: the slot now lives there — the map entry is updated at
 * once, the command re-sent there, a full refresh scheduled. ASK <slot> <addr>: this
 * command only (a slot being migrated) — re-sent there preceded by ASKING. TRYAGAIN (a
 * multi-key command during a migration): re-sent after 20 ms. NOSCRIPT (a node that lost
 * its scripts, e.g. SCRIPT FLUSH or a fresh replica promoted): re-sent once as EVAL with
 * the script's body. At most 5 redirects per command, then DM_EIO: a map that keeps
 * bouncing is an error, not a loop.
 *
 * Deadlines. A command carries deadline = created + timeout. A reply after it counts as a
 * failure (DM_EBUSY) even when it is a success: the cache relies on "an acknowledged
 * command was executed within timeout of being sent" (redis.c, release). A command
 * waiting (for a map, a TRYAGAIN, a node that is about to connect) fails at its deadline.
 * A node whose oldest command has waited longer than the timeout is stuck (Redis answers
 * in order): its connection is dropped, failing everything on it, and remade. A tick
 * timer checks this while any command is alive (every timeout/4, at most 20 ms).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diamond/backoff.h"
#include "diamond/error.h"
#include "diamond/metrics.h"
#include "redis_rc.h"

#define REFRESH_GAP_NS (100ull * 1000000)
#define TRYAGAIN_NS (20ull * 1000000)
#define WAIT_NODE_NS (2ull * 1000000)
#define MAX_REDIRECTS 5

static const char slots_cmd[] = "*2\r\n$7\r\nCLUSTER\r\n$5\r\nSLOTS\r\n";

uint64_t dm_rc_now(void) { return uv_hrtime(); }

/* ---- requests ---- */

void dm_rc_req_link(rc_req **head, rc_req **tail, rc_req *q) {
  q->next = NULL;
  q->prev = *tail;
  if (*tail)
    (*tail)->next = q;
  else
    *head = q;
  *tail = q;
}

void dm_rc_req_unlink(rc_req **head, rc_req **tail, rc_req *q) {
  if (q->prev)
    q->prev->next = q->next;
  else
    *head = q->next;
  if (q->next)
    q->next->prev = q->prev;
  else
    *tail = q->prev;
  q->prev = q->next = NULL;
}

rc_req *dm_rc_req_new(dm_rc *c, int slot, const char *cmd, size_t len) {
  rc_req *q = calloc(1, sizeof *q);
  if (q == NULL) return NULL;
  q->rc = c;
  q->slot = slot;
  q->cmd = cmd;
  q->len = len;
  q->deadline = dm_rc_now() + c->timeout_ns;
  c->nreqs++;
  dm_rc_tick_start(c);
  return q;
}

void dm_rc_req_free(rc_req *q) {
  q->rc->nreqs--;
  free(q->own);
  free(q);
}

/* ---- metrics: the hot tier's backend view on /metrics (backend="cache") ---- */

static dm_counter *m_errors;
static dm_histogram *m_seconds;
static const dm_rc *m_client; /* the client the stats gauges read; NULL once freed */

static double g_stat(const dm_rc *c, size_t off) {
  return c ? (double)*(const uint64_t *)((const char *)&c->st + off) : 0;
}
static double g_writes(void *a) { (void)a; return g_stat(m_client, offsetof(dm_rc_stats, writes)); }
static double g_replies(void *a) { (void)a; return g_stat(m_client, offsetof(dm_rc_stats, replies)); }
static double g_redirects(void *a) { (void)a; return g_stat(m_client, offsetof(dm_rc_stats, redirects)); }
static double g_refreshes(void *a) { (void)a; return g_stat(m_client, offsetof(dm_rc_stats, refreshes)); }
static double g_connects(void *a) { (void)a; return g_stat(m_client, offsetof(dm_rc_stats, connects)); }

static void register_metrics(dm_rc *c) {
  m_client = c;
  const char *l = "backend=\"cache\"";
  m_errors = dm_metric_counter("diamond_redis_errors_total", l,
                               "Redis commands that failed (error reply, timeout, node down).");
  m_seconds = dm_metric_histogram("diamond_redis_command_seconds", l,
                                  "Redis command latency, send to reply (redirects included).");
  dm_metric_counter_fn("diamond_redis_round_trips_total", l,
                       "Socket writes carrying commands: one per pipelined round per node.",
                       g_writes, NULL);
  dm_metric_counter_fn("diamond_redis_replies_total", l, "Redis replies received.", g_replies,
                       NULL);
  dm_metric_counter_fn("diamond_redis_redirects_total", l, "MOVED and ASK redirects followed.",
                       g_redirects, NULL);
  dm_metric_counter_fn("diamond_redis_slot_refreshes_total", l, "Cluster slot maps read.",
                       g_refreshes, NULL);
  dm_metric_counter_fn("diamond_redis_connects_total", l, "Connections made (reconnects too).",
                       g_connects, NULL);
}

static void finish(rc_req *q, int status, redisReply *r) {
  uint64_t start = q->deadline - q->rc->timeout_ns;
  dm_histogram_observe(m_seconds, (double)(dm_rc_now() - start) / 1e9);
  if (status < 0) dm_counter_add(m_errors, 1);
  dm_rc_cb cb = q->cb;
  void *arg = q->arg;
  dm_rc_req_free(q);
  cb(arg, status, r);
}

static void wait_push(dm_rc *c, rc_req *q) {
  q->node = NULL;
  dm_rc_req_link(&c->wait_head, &c->wait_tail, q);
}

/* Waiting requests carry the node they wait for in iarg (user requests have no icb). */
static rc_node *wait_target(rc_req *q) { return q->icb ? NULL : q->iarg; }

/* ---- routing ---- */

static void topo_soon(dm_rc *c, uint64_t ms);

static rc_node *pick(dm_rc *c, int slot) {
  if (c->mode == 0) return c->single;
  if (slot >= 0) return c->slots[slot];
  rc_node *any = NULL;
  for (size_t i = 0; i < c->nnodes; i++) {
    rc_node *n = c->nodes[i];
    if (!n->wanted) continue;
    if (n->state == RN_READY) return n;
    if (any == NULL) any = n;
  }
  return any;
}

/* Sends q to `to`, or where its slot lives. 0: sent or waiting; < 0: not started. */
static int route(dm_rc *c, rc_req *q, rc_node *to) {
  if (c->closing) return DM_ECLOSED;
  if (to == NULL) {
    if (c->mode < 0) {
      if (!c->topo_busy && c->topo_attempt > 0) return DM_EBUSY; /* map unknown: fail fast */
      wait_push(c, q);
      return 0;
    }
    to = pick(c, q->slot);
    if (to == NULL) {
      topo_soon(c, 0);
      return DM_EBUSY;
    }
  }
  if (to->state == RN_DOWN && uv_is_active((uv_handle_t *)&to->timer) && to->attempt == 0) {
    /* a node just learned of (MOVED, new map): it connects on its next timer */
    q->iarg = to;
    q->not_before = dm_rc_now() + WAIT_NODE_NS;
    wait_push(c, q);
    return 0;
  }
  return dm_rcn_send(to, q);
}

int dm_rc_send(dm_rc *c, int slot, const char *cmd, size_t len, int script, dm_rc_cb cb,
               void *arg) {
  if (c->closing) return DM_ECLOSED;
  rc_req *q = dm_rc_req_new(c, slot, cmd, len);
  if (q == NULL) return DM_ENOMEM;
  q->script = script;
  q->cb = cb;
  q->arg = arg;
  int rc = route(c, q, NULL);
  if (rc < 0) dm_rc_req_free(q);
  return rc < 0 ? rc : 0;
}

static void resend(rc_req *q, rc_node *to) {
  dm_rc *c = q->rc;
  if (++q->redirects > MAX_REDIRECTS) {
    finish(q, DM_EIO, NULL);
    return;
  }
  if (dm_rc_now() > q->deadline) {
    finish(q, DM_EBUSY, NULL);
    return;
  }
  int rc = route(c, q, to);
  if (rc < 0) finish(q, rc, NULL);
}

static rc_node *node_get(dm_rc *c, const char *host, int port) {
  for (size_t i = 0; i < c->nnodes; i++)
    if (c->nodes[i]->port == port && strcmp(c->nodes[i]->host, host) == 0) return c->nodes[i];
  return dm_rcn_new(c, host, port);
}

/* "MOVED 3999 127.0.0.1:6381" / "ASK 3999 127.0.0.1:6381" (host may be empty: the node
 * that answered). */
static void redirect(rc_req *q, const char *msg, rc_node *from) {
  dm_rc *c = q->rc;
  int moved = msg[0] == 'M';
  const char *p = strchr(msg, ' ');
  char *end;
  long slot = p ? strtol(p + 1, &end, 10) : -1;
  const char *addr = (p && slot >= 0 && slot < DM_RC_SLOTS && *end == ' ') ? end + 1 : NULL;
  const char *colon = addr ? strrchr(addr, ':') : NULL;
  char host[64];
  int port = colon ? atoi(colon + 1) : 0;
  if (colon == NULL || port <= 0 || port > 65535 || (size_t)(colon - addr) >= sizeof host) {
    finish(q, DM_EIO, NULL);
    return;
  }
  if (colon == addr)
    snprintf(host, sizeof host, "%s", from->host);
  else
    snprintf(host, sizeof host, "%.*s", (int)(colon - addr), addr);
  rc_node *n = node_get(c, host, port);
  if (n == NULL) {
    finish(q, DM_ENOMEM, NULL);
    return;
  }
  c->st.redirects++;
  if (moved) {
    c->slots[slot] = n;
    n->wanted = 1;
    topo_soon(c, 0);
  } else {
    q->asking = 1;
  }
  dm_rcn_connect_soon(n, 0);
  resend(q, n);
}

/* EVALSHA <sha> ... -> EVAL <body> ...: the arguments after the SHA-1 are kept. */
static int to_eval(rc_req *q) {
  static const char pre[] = "$7\r\nEVALSHA\r\n$40\r\n";
  const char *star_end = memchr(q->cmd, '\n', q->len);
  if (star_end == NULL) return DM_EINVAL;
  size_t h = (size_t)(star_end - q->cmd) + 1, skip = h + sizeof pre - 1 + 42;
  if (q->len < skip || memcmp(q->cmd + h, pre, sizeof pre - 1) != 0) return DM_EINVAL;
  const char *body = q->rc->scripts[q->script - 1];
  size_t blen = strlen(body);
  char *own = malloc(q->len + blen + 64);
  if (own == NULL) return DM_ENOMEM;
  int k = snprintf(own, 64, "%.*s$4\r\nEVAL\r\n$%zu\r\n", (int)h, q->cmd, blen);
  memcpy(own + k, body, blen);
  memcpy(own + k + blen, "\r\n", 2);
  memcpy(own + k + blen + 2, q->cmd + skip, q->len - skip);
  q->len = (size_t)k + blen + 2 + q->len - skip;
  q->cmd = own;
  q->own = own;
  return 0;
}

void dm_rc_on_reply(rc_req *q, redisReply *r) {
  dm_rc *c = q->rc;
  rc_node *from = q->node;
  int status = r ? 0 : c->closing ? DM_ECLOSED : DM_EBUSY;
  if (r) c->st.replies++;
  if (q->icb) {
    q->icb(q, status, r);
    dm_rc_req_free(q);
    return;
  }
  if (r == NULL) {
    finish(q, status, NULL);
    return;
  }
  uint64_t now = dm_rc_now();
  if (r->type == REDIS_REPLY_ERROR && !c->closing && r->str != NULL) {
    const char *m = r->str;
    if (strncmp(m, "MOVED ", 6) == 0 || strncmp(m, "ASK ", 4) == 0) {
      redirect(q, m, from);
      return;
    }
    if (strncmp(m, "TRYAGAIN", 8) == 0 && now + TRYAGAIN_NS < q->deadline) {
      q->not_before = now + TRYAGAIN_NS;
      q->iarg = NULL;
      wait_push(c, q);
      return;
    }
    if (strncmp(m, "NOSCRIPT", 8) == 0 && q->script > 0 && q->own == NULL && to_eval(q) == 0) {
      resend(q, from);
      return;
    }
    if (strncmp(m, "CLUSTERDOWN", 11) == 0) topo_soon(c, 0);
  }
  if (now > q->deadline) {
    finish(q, DM_EBUSY, NULL);
    return;
  }
  finish(q, 0, r);
}

/* ---- waiting requests and deadlines ---- */

static void run_waiting(dm_rc *c) {
  rc_req *q = c->wait_head;
  c->wait_head = c->wait_tail = NULL;
  uint64_t now = dm_rc_now();
  while (q != NULL) {
    rc_req *next = q->next;
    q->prev = q->next = NULL;
    rc_node *to = wait_target(q);
    if (c->closing) {
      finish(q, DM_ECLOSED, NULL);
    } else if (now >= q->deadline) {
      finish(q, DM_EBUSY, NULL);
    } else if (c->mode < 0 || now < q->not_before ||
               (to && to->state == RN_DOWN && uv_is_active((uv_handle_t *)&to->timer) &&
                to->attempt == 0)) {
      dm_rc_req_link(&c->wait_head, &c->wait_tail, q);
    } else {
      q->iarg = NULL;
      int rc = route(c, q, to);
      if (rc < 0) finish(q, rc, NULL);
    }
    q = next;
  }
}

static void fail_waiting(dm_rc *c, int status) {
  rc_req *q = c->wait_head;
  c->wait_head = c->wait_tail = NULL;
  while (q != NULL) {
    rc_req *next = q->next;
    finish(q, status, NULL);
    q = next;
  }
}

static void on_tick(uv_timer_t *t) {
  dm_rc *c = t->data;
  if (c->closing) return;
  uint64_t now = dm_rc_now();
  for (size_t i = 0; i < c->nnodes; i++) {
    rc_node *n = c->nodes[i];
    if (c->closing) return;
    if (n->head != NULL && n->head->sent + c->timeout_ns < now) {
      char why[80];
      snprintf(why, sizeof why, "no reply within %llu ms",
               (unsigned long long)(c->timeout_ns / 1000000));
      dm_rcn_fail(n, why);
    }
  }
  run_waiting(c);
  if (c->nreqs == 0) uv_timer_stop(&c->tick);
}

void dm_rc_tick_start(dm_rc *c) {
  if (c->closing || uv_is_active((uv_handle_t *)&c->tick)) return;
  uint64_t ms = c->timeout_ns / 4000000;
  if (ms > 20) ms = 20;
  if (ms < 1) ms = 1;
  uv_timer_start(&c->tick, on_tick, ms, ms);
}

/* ---- topology ---- */

static void topo_start(dm_rc *c);
static void on_topo_timer(uv_timer_t *t) { topo_start(t->data); }

static void topo_soon(dm_rc *c, uint64_t ms) {
  if (c->closing || c->topo_busy || uv_is_active((uv_handle_t *)&c->topo_timer)) return;
  uint64_t now = dm_rc_now();
  if (c->mode == 1 && c->topo_last + REFRESH_GAP_NS > now) {
    uint64_t gap = (c->topo_last + REFRESH_GAP_NS - now) / 1000000 + 1;
    if (gap > ms) ms = gap;
  }
  uv_timer_start(&c->topo_timer, on_topo_timer, ms, 0);
}

static void topo_failed(dm_rc *c, rc_node *n, const char *what) {
  c->topo_busy = 0;
  snprintf(c->why, sizeof c->why, "redis %s: %s", n->addr, what ? what : n->why);
  uint64_t ms = dm_backoff_ms(c->topo_attempt, 100, 5000);
  c->topo_attempt++;
  if (c->mode < 0) fail_waiting(c, DM_EBUSY);
  if (!c->closing) uv_timer_start(&c->topo_timer, on_topo_timer, ms < 10 ? 10 : ms, 0);
}

static void set_single(dm_rc *c, rc_node *n) {
  c->mode = 0;
  c->single = n;
  for (size_t i = 0; i < c->nnodes; i++) c->nodes[i]->wanted = 0;
  n->wanted = 1;
  for (int s = 0; s < DM_RC_SLOTS; s++) c->slots[s] = n;
}

static int apply_slots(dm_rc *c, rc_node *from, const redisReply *r) {
  rc_node **map = calloc(DM_RC_SLOTS, sizeof *map);
  if (map == NULL) return DM_ENOMEM;
  size_t assigned = 0;
  for (size_t i = 0; i < r->elements; i++) {
    const redisReply *e = r->element[i];
    if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
        e->element[0]->type != REDIS_REPLY_INTEGER || e->element[1]->type != REDIS_REPLY_INTEGER ||
        e->element[2]->type != REDIS_REPLY_ARRAY || e->element[2]->elements < 2)
      continue;
    const redisReply *m = e->element[2];
    long long lo = e->element[0]->integer, hi = e->element[1]->integer;
    if (m->element[0]->type != REDIS_REPLY_STRING || m->element[1]->type != REDIS_REPLY_INTEGER ||
        lo < 0 || hi >= DM_RC_SLOTS || lo > hi || strcmp(m->element[0]->str, "?") == 0)
      continue;
    const char *host = m->element[0]->len ? m->element[0]->str : from->host;
    rc_node *n = node_get(c, host, (int)m->element[1]->integer);
    if (n == NULL) {
      free(map);
      return DM_ENOMEM;
    }
    for (long long s = lo; s <= hi; s++) map[s] = n;
    assigned += (size_t)(hi - lo + 1);
  }
  if (assigned == 0) {
    free(map);
    return DM_ENOENT;
  }
  for (size_t i = 0; i < c->nnodes; i++) c->nodes[i]->wanted = 0;
  for (int s = 0; s < DM_RC_SLOTS; s++)
    if (map[s] != NULL) map[s]->wanted = 1;
  memcpy(c->slots, map, DM_RC_SLOTS * sizeof *map);
  free(map);
  c->mode = 1;
  for (size_t i = 0; i < c->nnodes; i++)
    if (c->nodes[i]->wanted) dm_rcn_connect_soon(c->nodes[i], 0);
  return 0;
}

static void topo_reply(rc_req *q, int status, redisReply *r) {
  dm_rc *c = q->rc;
  rc_node *from = q->node;
  c->topo_busy = 0;
  if (c->closing) return;
  char what[200];
  if (status == 0 && r->type == REDIS_REPLY_ERROR && strstr(r->str, "cluster support disabled")) {
    set_single(c, from);
  } else if (status == 0 && r->type == REDIS_REPLY_ARRAY) {
    int rc = apply_slots(c, from, r);
    if (rc < 0) {
      snprintf(what, sizeof what, "CLUSTER SLOTS: %s",
               rc == DM_ENOENT ? "no slot has a master" : "out of memory");
      topo_failed(c, from, what);
      return;
    }
  } else {
    if (status == 0)
      snprintf(what, sizeof what, "CLUSTER SLOTS: %s", r->str ? r->str : "bad reply");
    topo_failed(c, from, status == 0 ? what : NULL);
    return;
  }
  c->topo_attempt = 0;
  c->topo_last = dm_rc_now();
  c->why[0] = '\0';
  c->st.refreshes++;
  run_waiting(c);
}

static void topo_start(dm_rc *c) {
  if (c->closing || c->topo_busy) return;
  rc_node *n = NULL;
  if (c->mode == 1)
    for (size_t i = 0; i < c->nnodes && n == NULL; i++)
      if (c->nodes[i]->wanted && c->nodes[i]->state == RN_READY) n = c->nodes[i];
  if (n == NULL) n = c->seeds[c->next_seed++ % c->nseeds];
  if (n->state == RN_DOWN) dm_rcn_connect_now(n);
  rc_req *q = dm_rc_req_new(c, DM_RC_ANY, slots_cmd, sizeof slots_cmd - 1);
  if (q == NULL) {
    topo_failed(c, n, "out of memory");
    return;
  }
  q->icb = topo_reply;
  c->topo_busy = 1;
  if (n->state == RN_DOWN || dm_rcn_send(n, q) < 0) {
    dm_rc_req_free(q);
    topo_failed(c, n, NULL);
  }
}

void dm_rc_node_down(rc_node *n) {
  if (n->rc->mode == 1 && n->wanted) topo_soon(n->rc, 0);
}

/* ---- the client ---- */

static int parse_seed(const char *s, size_t n, char *host, size_t hostlen, int *port) {
  while (n > 0 && *s == ' ') s++, n--;
  while (n > 0 && s[n - 1] == ' ') n--;
  const char *colon = NULL;
  for (size_t i = 0; i < n; i++)
    if (s[i] == ':') colon = s + i;
  if (colon == NULL || colon == s) return DM_EINVAL;
  const char *h = s;
  size_t hl = (size_t)(colon - s);
  if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') h++, hl -= 2;
  if (hl == 0 || hl >= hostlen) return DM_EINVAL;
  memcpy(host, h, hl);
  host[hl] = '\0';
  char digits[8];
  size_t pl = (size_t)(s + n - colon - 1);
  if (pl == 0 || pl >= sizeof digits) return DM_EINVAL;
  memcpy(digits, colon + 1, pl);
  digits[pl] = '\0';
  char *end;
  long p = strtol(digits, &end, 10);
  if (*end != '\0' || p <= 0 || p > 65535) return DM_EINVAL;
  *port = (int)p;
  return 0;
}

static void free_rc(dm_rc *c) {
  if (m_client == c) m_client = NULL;
  for (size_t i = 0; i < c->nnodes; i++) free(c->nodes[i]);
  free(c->nodes);
  free(c->seeds);
  free(c->slots);
  free(c);
}

int dm_rc_open(dm_rc **out, uv_loop_t *loop, const dm_rc_opts *o, char *err, size_t errlen) {
  dm_rc *c = calloc(1, sizeof *c);
  if (c == NULL) return DM_ENOMEM;
  int rc = DM_ENOMEM;
  c->loop = loop;
  c->mode = -1;
  register_metrics(c);
  c->timeout_ns = (uint64_t)(o->timeout_ms > 0 ? o->timeout_ms : 1) * 1000000;
  c->scripts = o->scripts;
  c->shas = o->shas;
  c->nscripts = o->nscripts;
  if (o->password && strlen(o->password) >= sizeof c->password) {
    snprintf(err, errlen, "cache redis: password too long");
    rc = DM_EINVAL;
    goto fail;
  }
  snprintf(c->password, sizeof c->password, "%s", o->password ? o->password : "");
  c->slots = calloc(DM_RC_SLOTS, sizeof *c->slots);
  if (c->slots == NULL) goto fail;
  /* every seed is checked before any node (and its timer) exists */
  size_t nseeds = 0;
  for (const char *p = o->seeds ? o->seeds : ""; *p != '\0'; nseeds++) {
    const char *end = strchr(p, ',');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    char host[64];
    int port;
    if (parse_seed(p, n, host, sizeof host, &port) < 0) {
      snprintf(err, errlen, "cache redis: seed \"%.*s\": expected host:port", (int)n, p);
      rc = DM_EINVAL;
      goto fail;
    }
    p = end ? end + 1 : p + n;
  }
  if (nseeds == 0) {
    snprintf(err, errlen, "cache redis: no seed node (host:port)");
    rc = DM_EINVAL;
    goto fail;
  }
  c->seeds = calloc(nseeds, sizeof *c->seeds);
  c->nodes = calloc(nseeds, sizeof *c->nodes);
  if (c->seeds == NULL || c->nodes == NULL) goto fail;
  c->capnodes = nseeds;
  uv_timer_init(loop, &c->tick);
  uv_timer_init(loop, &c->topo_timer);
  c->tick.data = c->topo_timer.data = c;
  c->handles += 2;
  for (const char *p = o->seeds; *p != '\0';) {
    const char *end = strchr(p, ',');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    char host[64];
    int port;
    parse_seed(p, n, host, sizeof host, &port);
    rc_node *node = node_get(c, host, port);
    if (node == NULL) { /* out of memory: timers exist, so close the usual way */
      dm_rc_close(c, NULL, NULL);
      return DM_ENOMEM;
    }
    c->seeds[c->nseeds++] = node;
    p = end ? end + 1 : p + n;
  }
  topo_soon(c, 0);
  *out = c;
  return 0;
fail:
  free(c->seeds);
  free(c->nodes);
  free(c->slots);
  free(c);
  return rc;
}

void dm_rc_unref(dm_rc *c) {
  if (--c->handles > 0 || !c->closing) return;
  void (*done)(void *) = c->done;
  void *arg = c->done_arg;
  free_rc(c);
  if (done) done(arg);
}

static void on_closed(uv_handle_t *h) { dm_rc_unref(h->data); }

void dm_rc_close(dm_rc *c, void (*done)(void *arg), void *arg) {
  c->closing = 1;
  c->done = done;
  c->done_arg = arg;
  fail_waiting(c, DM_ECLOSED);
  for (size_t i = 0; i < c->nnodes; i++) dm_rcn_close(c->nodes[i]);
  uv_close((uv_handle_t *)&c->tick, on_closed);
  uv_close((uv_handle_t *)&c->topo_timer, on_closed);
}

/* ---- questions ---- */

size_t dm_rc_masters(dm_rc *c, int *slots, size_t max) {
  if (c->mode < 0 || max == 0) return 0;
  if (c->mode == 0) {
    slots[0] = 0;
    return 1;
  }
  size_t k = 0;
  for (size_t i = 0; i < c->nnodes && k < max; i++) {
    if (!c->nodes[i]->wanted) continue;
    for (int s = 0; s < DM_RC_SLOTS; s++)
      if (c->slots[s] == c->nodes[i]) {
        slots[k++] = s;
        break;
      }
  }
  return k;
}

int dm_rc_health(dm_rc *c, char *why, size_t len) {
  if (c->closing) {
    snprintf(why, len, "redis: closed");
    return 0;
  }
  if (c->mode < 0) {
    if (c->why[0])
      snprintf(why, len, "%s", c->why);
    else
      snprintf(why, len, "redis %s: connecting", c->seeds[0]->addr);
    return 0;
  }
  for (size_t i = 0; i < c->nnodes; i++) {
    rc_node *n = c->nodes[i];
    if (n->wanted && n->state != RN_READY) {
      snprintf(why, len, "redis %s: %s", n->addr,
               n->state == RN_DOWN ? (n->why[0] ? n->why : "down") : "connecting");
      return 0;
    }
  }
  if (c->mode == 1)
    for (int s = 0; s < DM_RC_SLOTS; s++)
      if (c->slots[s] == NULL) {
        snprintf(why, len, "redis cluster: slot %d has no master", s);
        return 0;
      }
  if (len > 0) why[0] = '\0';
  return 1;
}

int dm_rc_mode(const dm_rc *c) { return c->mode; }

void dm_rc_stats_get(const dm_rc *c, dm_rc_stats *out) { *out = c->st; }

int dm_rc_reply_code(const redisReply *r) {
  static const char *const later[] = {"OOM",       "LOADING",    "BUSY",    "TRYAGAIN",
                                      "CLUSTERDOWN", "MASTERDOWN", "READONLY", NULL};
  if (r->str != NULL)
    for (int i = 0; later[i]; i++)
      if (strncmp(r->str, later[i], strlen(later[i])) == 0) return DM_EBUSY;
  return DM_EIO;
}
