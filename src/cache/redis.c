/* redis.c — the hot tier in Redis or Redis Cluster, shared by any number of stateless
 * diamond nodes. An append is acknowledged once Redis replied (ops.durable = 1: no WAL;
 * how durable that is depends on Redis's appendonly / appendfsync).
 *
 * Keys (every key puts one name in braces, so all keys of a series — or of a shard —
 * hash to one cluster slot and a script may touch them together):
 *   dm:w:{<series>}:<start>  STRING  the window's points: 16-byte records (big-endian
 *                                    int64 time, IEEE-754 double big-endian), APPENDed;
 *                                    decoding keeps the LAST record of a time, sorts
 *                                    (redis_records.c). Times floored to the step.
 *   dm:s:{<series>}          ZSET    the series' window starts present (score = start),
 *                                    so read/latest find windows in one script call.
 *   dm:f:{<series>}:<start>  STRING  "flushed" flag, set by every release, with a TTL
 *                                    (see known_new).
 *   dm:dirty:{s<shard>}      ZSET    member "<start>:<series>", score = window end:
 *                                    windows holding points not yet in the table.
 *   dm:gen:{s<shard>}        HASH    member -> counter bumped by every append to it.
 *   dm:lease:{s<shard>}      STRING  node id of the node flushing the shard, PX lease_ms.
 *   dm:lease:{<name>}        STRING  named leases ("ager"); a name "s<digits>" would be
 *                                    a shard's, so lease() refuses those.
 *   dm:names                 STREAM  entries {name, node}: names announced by a node.
 * shard = dm_name_hash(series) % cache.shards.
 *
 * Append. A batch is grouped by (series, window). For each: APPEND the records (in
 * batch order, so the last write of a time stays last) and ZADD the start to the series
 * index; then for each shard touched, one script: ZADD NX the members into the dirty set
 * and HINCRBY their counters; then the pending name announcements (XADD). All of it is
 * formatted into one buffer and sent at once: one write and one round trip per node,
 * never a command per point. The callback runs once, after every reply: 0, or the first
 * failure (DM_EBUSY when a node is down, timed out, or Redis says OOM/LOADING: the HTTP
 * layer answers 503; DM_EIO for other error replies). A failed batch may have been
 * partly applied; re-sending it is harmless (last write wins).
 *
 * Read / latest. One script on the series' slot: ZRANGEBYSCORE the index over the
 * windows that overlap the range (start >= floor(from, window), start <= until), GET
 * each; latest takes the newest window that has data and its newest point.
 *
 * Flush protocol.
 *   take_ready(close_before, max) visits the shards round-robin from a random one. Per
 *   shard one script: take the lease (SET NX PX lease_ms, or PEXPIRE when it is already
 *   ours; a shard another node holds is skipped), ZRANGEBYSCORE -inf..close_before
 *   LIMIT max, HGET each member's counter. Then per window one script: GET, EXISTS of
 *   the flushed flag, SHA-1 of the bytes. The snapshot remembers shard, member, counter,
 *   the byte length L and SHA-1 read, and when the counters were read. It stops at max
 *   windows or when every shard was visited. Windows this node is already flushing
 *   (taken, release not finished) are skipped, so a take that overlaps a release in
 *   flight never hands out a window twice. A dirty member without data (its APPEND not
 *   executed yet, or gone) is not handed out; it goes through the release below at once.
 *   release(status 0), per window, a script on its slot: set the flushed flag; if the
 *   first L bytes are still the bytes flushed (same SHA-1), drop exactly them (DEL and
 *   ZREM from the index when nothing is left, else SET the rest); return the bytes left.
 *   Then for the windows with nothing left, per shard a script: remove the member (ZREM
 *   + HDEL) only if its counter still equals the one read at take. Otherwise the window
 *   stays dirty and is flushed again with whatever it holds: harmless, the table merges.
 *   release(status < 0) changes nothing in Redis: the windows simply stay dirty.
 * Why each check:
 *   - The counter: an append between take and release bumps it, so the member stays
 *     even though the prefix was dropped.
 *   - Bytes left > 0 keeps the window dirty even when the counter did not move: the
 *     append's APPEND and its counter bump are separate commands (and in a cluster on
 *     different nodes), so the bump may be read by the take before the APPEND lands.
 *   - The SHA-1, not just "length >= L" (the plan's rule): after a lease takeover (a node
 *     stalled longer than lease_ms mid-flush) two nodes may hold snapshots of one window.
 *     The second to release would find the window trimmed by the first and refilled by
 *     new appends — long enough, but its first L bytes are new, unflushed points. Same
 *     bytes means same points, so dropping them is safe whatever happened in between.
 *   - Settle delay (cluster only): in a cluster the APPEND and the counter bump of one
 *     append may run on two nodes in any order, and a take could read the bumped counter,
 *     miss the points (APPEND still in flight), and a quick release find the window empty
 *     and forget it before the APPEND lands: an acknowledged point never flushed. An
 *     acknowledged append had every command executed within cache.redis_timeout_ms of
 *     being sent (a later reply counts as a failure, redis_cluster.c), and the bump ran
 *     after the send, before the take read it. So a release that starts at least the
 *     timeout (+10% + 10 ms) after the take read the counters finds those points in the
 *     window: bytes left > 0, the window stays dirty. Releases wait for that; on a single
 *     server one connection runs an append's commands in order (APPENDs are sent before
 *     the shard scripts) and no wait is needed. All nodes must use the same timeout.
 *   - What is left: an append that failed (not acknowledged) and is never retried may
 *     leave records that no dirty member points to; a later append to that window picks
 *     them up again, otherwise they stay in Redis.
 *
 * known_new. The table may write a window blindly (no read, no merge) only when no part
 * of it was ever flushed; a blind write over an earlier flush would lose those points.
 * Every release sets dm:f:{series}:start with TTL
 *   flag_ttl = window + flusher.grace + limits.max_future + window   (seconds).
 * The earliest point of a window is accepted at start - max_future (the clock may not be
 * further behind), so any flush happened at or after that, and its flag lives at least
 * until start - max_future + flag_ttl. So: known_new = 1 only if the flag is absent AND
 * now < start - max_future + flag_ttl; after that instant an absent flag may just have
 * expired, and the window goes through the merge. The normal first flush (window end +
 * grace) comes a whole window before that instant. Node clocks are assumed to agree to
 * well within a window; Redis keeps the TTL itself.
 *
 * Leases, names, stats. lease(name, ms): the lease script on dm:lease:{name}. announce()
 * queues XADD dm:names MAXLEN ~ 1000000 * name <n> node <id>; they go with the next
 * append's round trip, or within a second on their own. watch_names polls every second
 * with XREAD COUNT 10000 from id 0 (so a new node learns every name still in the stream;
 * names also live in the table) and skips its own entries. Stats are polled every
 * second: bytes = used_memory (INFO memory, summed over masters), windows = ZCARD of the
 * dirty sets, oldest_dirty_end = the lowest dirty score; series and points are 0
 * (Redis would need a scan); min_wal_seg = UINT64_MAX (no WAL).
 *
 * Connections (redis_cluster.c, redis_conn.c): host names resolved with uv_getaddrinfo,
 * AUTH and SCRIPT LOAD at connect, CLUSTER SLOTS to detect a cluster and read its map,
 * MOVED/ASK followed by us, a deadline per command, reconnect with backoff. Nothing here
 * blocks the loop: no synchronous hiredis call anywhere.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diamond/error.h"
#include "diamond/log.h"
#include "diamond/names.h"
#include "diamond/timefmt.h"
#include "redis_int.h"
#include "redis_records.h"
#include "redis_resp.h"
#include "redis_scripts.h"

/* Handed to callbacks with n = 0, so that a memcpy(dst, p, 0) never sees NULL. */
static const dm_point no_point;

/* ---- append ---- */

typedef struct grp {
  const char *name;
  uint32_t len, count, pos;
  int64_t start;
  uint64_t nhash; /* dm_name_hash(name) */
} grp;

/* A write (rc_append) or a PING (rc_probe): the caller's callback and the command batch. */
typedef struct app_op {
  dm_done_cb cb;
  void *arg;
  rb b;
} app_op;

#define EMPTY UINT32_MAX

/* Groups the entries by (series, window start): g[0..*ng), order = entry indexes sorted
 * by group, batch order kept inside a group. */
static int group_batch(const dm_batch *b, int64_t step, int64_t wlen, grp *g, size_t *ng,
                       uint32_t *order) {
  size_t n = b->n, cap = 16, k = 0;
  while (cap < 2 * n) cap *= 2;
  uint32_t *tab = malloc(cap * sizeof *tab), *gid = malloc(n * sizeof *gid);
  if (tab == NULL || gid == NULL) {
    free(tab);
    free(gid);
    return DM_ENOMEM;
  }
  memset(tab, 0xff, cap * sizeof *tab);
  for (size_t i = 0; i < n; i++) {
    const dm_batch_entry *e = &b->e[i];
    const char *name = b->names + e->name_off;
    int64_t start = dm_floor(dm_floor(e->t, step), wlen);
    int same_name = i > 0 && e->name_off == e[-1].name_off && e->name_len == e[-1].name_len;
    if (same_name && g[gid[i - 1]].start == start) {
      gid[i] = gid[i - 1];
      continue;
    }
    uint64_t nh = same_name ? g[gid[i - 1]].nhash : dm_name_hash(name, e->name_len);
    uint64_t h = nh ^ ((uint64_t)start * 0x9E3779B97F4A7C15ull);
    h ^= h >> 29;
    for (size_t s = h & (cap - 1);; s = (s + 1) & (cap - 1)) {
      if (tab[s] == EMPTY) {
        tab[s] = (uint32_t)k;
        g[k] = (grp){name, e->name_len, 0, 0, start, nh};
        gid[i] = (uint32_t)k++;
        break;
      }
      const grp *x = &g[tab[s]];
      if (x->start == start && x->nhash == nh && x->len == e->name_len &&
          memcmp(x->name, name, e->name_len) == 0) {
        gid[i] = tab[s];
        break;
      }
    }
  }
  for (size_t i = 0; i < n; i++) g[gid[i]].count++;
  uint32_t pos = 0;
  for (size_t j = 0; j < k; j++) {
    g[j].pos = pos;
    pos += g[j].count;
  }
  for (size_t i = 0; i < n; i++) order[g[gid[i]].pos++] = (uint32_t)i;
  for (size_t j = 0; j < k; j++) g[j].pos -= g[j].count;
  *ng = k;
  free(tab);
  free(gid);
  return 0;
}

static void put_shard_key(rb *b, const char *pre, int64_t shard, int *slot) {
  char sn[24];
  size_t len = dm_resp_i64_str(sn, shard);
  *slot = dm_rb_key(b, pre, sn, len, "}", 0, 0);
}

/* The commands of a batch, in the order the protocol needs (redis.c essay). */
static int build_append(rcache *c, const dm_batch *bt, rb *b) {
  const int64_t step = c->base.step, wlen = c->base.window;
  size_t n = bt->n, ng = 0;
  grp *g = malloc(n * sizeof *g);
  uint32_t *order = malloc(n * sizeof *order);
  size_t *per_shard = calloc((size_t)c->shards + 1, sizeof *per_shard);
  uint32_t *by_shard = NULL;
  int rc = DM_ENOMEM;
  if (g == NULL || order == NULL || per_shard == NULL) goto out;
  if ((rc = group_batch(bt, step, wlen, g, &ng, order)) < 0) goto out;
  rc = DM_ENOMEM;
  if ((by_shard = malloc(ng * sizeof *by_shard)) == NULL) goto out;
  for (size_t j = 0; j < ng; j++) {
    grp *x = &g[j];
    dm_rb_begin(b, 3);
    dm_resp_str(&b->buf, "APPEND");
    int slot = dm_rb_key(b, K_WIN, x->name, x->len, "}:", 1, x->start);
    size_t bytes = (size_t)x->count * DM_RR_SIZE;
    dm_resp_arg_head(&b->buf, bytes);
    if (dm_buf_reserve(&b->buf, bytes) == 0) {
      unsigned char *p = (unsigned char *)b->buf.p + b->buf.len;
      for (uint32_t k = 0; k < x->count; k++, p += DM_RR_SIZE) {
        const dm_batch_entry *e = &bt->e[order[x->pos + k]];
        dm_rr_put(p, dm_floor(e->t, step), e->v);
      }
      b->buf.len += bytes;
    }
    dm_resp_arg_end(&b->buf);
    dm_rb_end(b, slot, 0);
    dm_rb_begin(b, 4);
    dm_resp_str(&b->buf, "ZADD");
    slot = dm_rb_key(b, K_INDEX, x->name, x->len, "}", 0, 0);
    dm_resp_i64(&b->buf, x->start);
    dm_resp_i64(&b->buf, x->start);
    dm_rb_end(b, slot, 0);
    per_shard[x->nhash % (uint64_t)c->shards + 1]++;
  }
  /* groups by shard (counting sort), then one script per shard touched */
  for (int64_t s = 0; s < c->shards; s++) per_shard[s + 1] += per_shard[s];
  for (size_t j = 0; j < ng; j++)
    by_shard[per_shard[g[j].nhash % (uint64_t)c->shards]++] = (uint32_t)j;
  for (size_t j = 0; j < ng;) {
    int64_t shard = (int64_t)(g[by_shard[j]].nhash % (uint64_t)c->shards);
    size_t e = j;
    while (e < ng && (int64_t)(g[by_shard[e]].nhash % (uint64_t)c->shards) == shard) e++;
    int slot, slot2;
    dm_rb_evalsha(b, DM_RS_SHARD_ADD, 2, 2 * (e - j));
    put_shard_key(b, K_DIRTY, shard, &slot);
    put_shard_key(b, K_GEN, shard, &slot2);
    for (size_t k = j; k < e; k++) {
      const grp *x = &g[by_shard[k]];
      char pre[24];
      size_t pl = dm_resp_i64_str(pre, x->start);
      pre[pl] = ':';
      pre[pl + 1] = '\0';
      dm_resp_key(&b->buf, pre, x->name, x->len, "", 0, 0);
      dm_resp_i64(&b->buf, x->start + wlen);
    }
    dm_rb_end(b, slot, 0);
    j = e;
  }
  dm_rcache_names_flush_into(c, b);
  rc = b->buf.oom ? DM_ENOMEM : 0;
out:
  free(g);
  free(order);
  free(per_shard);
  free(by_shard);
  return rc;
}

static void append_reply(rb *b, rb_cmd *cmd, int status, redisReply *r) {
  if (cmd->aux == AUX_NAME) return; /* announcements are best effort */
  int st = dm_rb_status(status, r);
  if (st < 0 && b->status == 0) b->status = st;
}

static void append_done(rb *b) {
  app_op *op = b->ctx;
  int status = b->status;
  dm_rb_free(b);
  dm_done_cb cb = op->cb;
  void *arg = op->arg;
  free(op);
  if (cb) cb(arg, status);
}

static int rc_append(dm_cache *dc, const dm_batch *bt, uint64_t seg, dm_done_cb cb, void *arg) {
  rcache *c = (rcache *)dc;
  (void)seg;
  if (c->closing) return DM_ECLOSED;
  if (bt->n == 0) {
    if (cb) cb(arg, 0);
    return 0;
  }
  app_op *op = calloc(1, sizeof *op);
  if (op == NULL) return DM_ENOMEM;
  dm_rb_init(&op->b, c, append_reply, append_done, op);
  int rc = build_append(c, bt, &op->b);
  if (rc < 0) {
    dm_rb_free(&op->b);
    free(op);
    return rc;
  }
  op->cb = cb;
  op->arg = arg;
  dm_rb_send(&op->b);
  return 0;
}

/* ---- read and latest ---- */

typedef struct read_op {
  int64_t from, until;
  int latest, called, status;
  dm_points_cb cb;
  void *arg;
  rb b;
} read_op;

/* Decodes a window value into p (capacity len / 16); a torn tail (never written by us)
 * is logged and ignored. */
static size_t decode_window(const redisReply *v, dm_point *p) {
  size_t n = 0, len = v->len - v->len % DM_RR_SIZE;
  if (len != v->len) dm_log_warn("redis_torn_window", "bytes=%zu", v->len);
  dm_rr_decode(v->str, len, p, &n);
  return n;
}

static void read_reply(rb *b, rb_cmd *cmd, int status, redisReply *r) {
  (void)cmd;
  read_op *op = b->ctx;
  int st = dm_rb_status(status, r);
  if (st == 0 && (r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0)) st = DM_EIO;
  size_t cap = 0;
  for (size_t i = 1; st == 0 && i < r->elements; i += 2) {
    if (r->element[i]->type != REDIS_REPLY_STRING) st = DM_EIO;
    else cap += r->element[i]->len / DM_RR_SIZE;
  }
  if (st == 0 && op->latest && r->elements == 0) st = DM_ENOENT;
  if (st < 0) {
    op->status = st;
    return;
  }
  dm_point *p = malloc((cap ? cap : 1) * sizeof *p);
  if (p == NULL) {
    op->status = DM_ENOMEM;
    return;
  }
  size_t n = 0;
  for (size_t i = 1; i < r->elements; i += 2) {
    size_t base = n, k = decode_window(r->element[i], p + base);
    for (size_t j = 0; j < k; j++) /* n <= base + j: compacting in place */
      if (op->latest || (p[base + j].t >= op->from && p[base + j].t <= op->until))
        p[n++] = p[base + j];
  }
  op->called = 1;
  if (op->latest) {
    if (n == 0)
      op->cb(op->arg, DM_ENOENT, &no_point, 0);
    else
      op->cb(op->arg, 0, &p[n - 1], 1);
  } else {
    op->cb(op->arg, 0, n ? p : &no_point, n);
  }
  free(p);
}

static void read_done(rb *b) {
  read_op *op = b->ctx;
  dm_rb_free(b);
  if (!op->called) op->cb(op->arg, op->status ? op->status : DM_EIO, &no_point, 0);
  free(op);
}

static void put_score(dm_buf *b, int64_t v, const char *inf) {
  if (v <= INT64_MIN / 2 || v >= INT64_MAX / 2)
    dm_resp_str(b, inf);
  else
    dm_resp_i64(b, v);
}

static int start_read(rcache *c, const char *s, size_t len, int64_t from, int64_t until,
                      int latest, dm_points_cb cb, void *arg) {
  if (c->closing) return DM_ECLOSED;
  read_op *op = calloc(1, sizeof *op);
  if (op == NULL) return DM_ENOMEM;
  *op = (read_op){from, until, latest, 0, 0, cb, arg, {0}};
  rb *b = &op->b;
  dm_rb_init(b, c, read_reply, read_done, op);
  int slot;
  if (latest) {
    dm_rb_evalsha(b, DM_RS_LATEST, 1, 1);
    slot = dm_rb_key(b, K_INDEX, s, len, "}", 0, 0);
  } else {
    dm_rb_evalsha(b, DM_RS_READ, 1, 3);
    slot = dm_rb_key(b, K_INDEX, s, len, "}", 0, 0);
    put_score(&b->buf, from <= INT64_MIN / 2 ? from : dm_floor(from, c->base.window), "-inf");
    put_score(&b->buf, until, "+inf");
  }
  dm_rb_key(b, K_WIN, s, len, "}:", 0, 0);
  dm_rb_end(b, slot, 0);
  if (b->buf.oom) {
    dm_rb_free(b);
    free(op);
    return DM_ENOMEM;
  }
  dm_rb_send(b);
  return 0;
}

static int rc_read(dm_cache *dc, const char *s, size_t len, int64_t from, int64_t until,
                   dm_points_cb cb, void *arg) {
  rcache *c = (rcache *)dc;
  if (c->closing) return DM_ECLOSED;
  if (from > until) {
    cb(arg, 0, &no_point, 0);
    return 0;
  }
  return start_read(c, s, len, from, until, 0, cb, arg);
}

static int rc_latest(dm_cache *dc, const char *s, size_t len, dm_points_cb cb, void *arg) {
  return start_read((rcache *)dc, s, len, INT64_MIN, INT64_MAX, 1, cb, arg);
}

/* ---- health, probe, stats ---- */

static int rc_health(dm_cache *dc, char *why, size_t len) {
  rcache *c = (rcache *)dc;
  if (c->closing) {
    snprintf(why, len, "redis: closed");
    return 0;
  }
  return dm_rc_health(c->rc, why, len);
}

/* A PING through the same batch machinery as a write: app_op and append_done serve it. */
static int rc_probe(dm_cache *dc, dm_done_cb cb, void *arg) {
  rcache *c = (rcache *)dc;
  if (c->closing) return DM_ECLOSED;
  app_op *op = calloc(1, sizeof *op);
  if (op == NULL) return DM_ENOMEM;
  op->cb = cb;
  op->arg = arg;
  dm_rb_init(&op->b, c, NULL, append_done, op);
  dm_rb_begin(&op->b, 1);
  dm_resp_str(&op->b.buf, "PING");
  dm_rb_end(&op->b, DM_RC_ANY, 0);
  dm_rb_send(&op->b);
  return 0;
}

static void rc_stats(dm_cache *dc, dm_cache_stats *out) {
  rcache *c = (rcache *)dc;
  memset(out, 0, sizeof *out);
  out->windows = c->dirty_windows;
  out->bytes = c->used_memory;
  out->flushing = c->flushing;
  out->min_wal_seg = UINT64_MAX;
  out->oldest_dirty_end = c->oldest_dirty_end;
}

/* ---- open and close ---- */

static void unref(rcache *c) {
  if (--c->refs > 0) return;
  dm_rcache_free_snaps(c);
  dm_buf_free(&c->ann);
  free(c->busy);
  free(c);
}

static void on_closed(uv_handle_t *h) { unref(h->data); }

static void on_rc_done(void *arg) {
  rcache *c = arg;
  c->rc = NULL;
  unref(c);
}

static void rc_close(dm_cache *dc) {
  rcache *c = (rcache *)dc;
  if (c == NULL || c->closing) return;
  c->closing = 1;
  dm_rcache_settle_fail(c);
  uv_close((uv_handle_t *)&c->tick, on_closed);
  uv_close((uv_handle_t *)&c->settle, on_closed);
  dm_rc_close(c->rc, on_rc_done, c);
}

static const dm_cache_ops redis_ops = {
    .version = 2,
    .name = "redis",
    .durable = 1,
    .append = rc_append,
    .read = rc_read,
    .latest = rc_latest,
    .take_ready = dm_rcache_take_ready,
    .release = dm_rcache_release,
    .stats = rc_stats,
    .close = rc_close,
    .announce = dm_rcache_announce,
    .watch_names = dm_rcache_watch_names,
    .lease = dm_rcache_lease,
    .health = rc_health,
    .probe = rc_probe,
};

int dm_cache_redis_open(dm_cache **out, uv_loop_t *loop, const dm_config *cfg,
                        const char *node_id, char *err, size_t errlen) {
  if (cfg->step <= 0 || cfg->window <= 0 || cfg->window % cfg->step != 0 ||
      cfg->cache_shards < 1 || cfg->cache_lease_ms < 1 || cfg->cache_redis_timeout_ms < 1) {
    snprintf(err, errlen, "cache redis: bad step/window/shards/lease_ms/redis_timeout_ms");
    return DM_EINVAL;
  }
  if (node_id == NULL || node_id[0] == '\0' || strlen(node_id) >= sizeof ((rcache *)0)->node) {
    snprintf(err, errlen, "cache redis: node id must be 1..127 bytes");
    return DM_EINVAL;
  }
  rcache *c = calloc(1, sizeof *c);
  if (c == NULL) return DM_ENOMEM;
  c->base.ops = &redis_ops;
  c->base.step = cfg->step;
  c->base.window = cfg->window;
  c->loop = loop;
  snprintf(c->node, sizeof c->node, "%s", node_id);
  c->shards = cfg->cache_shards;
  c->lease_ms = cfg->cache_lease_ms;
  c->max_future = cfg->max_future;
  c->timeout_ms = cfg->cache_redis_timeout_ms;
  c->flag_ttl_ms = (2 * cfg->window + cfg->flush_grace + cfg->max_future) * 1000;
  c->settle_ns = (uint64_t)cfg->cache_redis_timeout_ms * 1100000ull + 10000000ull;
  c->now = dm_now;
  c->rr = (uint32_t)random();
  snprintf(c->names_last, sizeof c->names_last, "0");
  dm_buf_init(&c->ann);
  dm_rc_opts o = {cfg->cache_redis, cfg->cache_redis_password, cfg->cache_redis_timeout_ms,
                  dm_rs_body, dm_rs_sha, DM_RS_COUNT};
  int rc = dm_rc_open(&c->rc, loop, &o, err, errlen);
  if (rc < 0) {
    free(c);
    return rc;
  }
  uv_timer_init(loop, &c->tick);
  uv_timer_init(loop, &c->settle);
  c->tick.data = c->settle.data = c;
  c->refs = 3; /* tick, settle, the client */
  uv_timer_start(&c->tick, dm_rcache_on_tick, 1000, 1000);
  *out = &c->base;
  return 0;
}

/* ---- for tests ---- */

void dm_cache_redis_set_clock(dm_cache *c, int64_t (*now)(void)) { ((rcache *)c)->now = now; }
dm_rc *dm_cache_redis_client(dm_cache *c) { return ((rcache *)c)->rc; }
