/* redis_flush.c — take_ready and release of the Redis cache: the flush protocol the essay
 * in redis.c describes (lease and list per shard, per-window snapshot with SHA-1 and
 * flushed flag; release drops the flushed prefix, then forgets windows whose counter did
 * not move; in a cluster a release first waits out the settle delay).
 *
 * A snapshot (rsnap) lives from the take that listed its window to the end of its
 * release, and sits meanwhile in the busy set (member -> snapshot), so no take of this
 * node lists the window again until Redis has been updated. Handed-out snapshots of one
 * take share one dm_window_snap array (rtake), freed with the last of them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diamond/error.h"
#include "diamond/log.h"
#include "diamond/names.h"
#include "redis_int.h"
#include "redis_records.h"
#include "redis_resp.h"
#include "redis_scripts.h"

#define K_SLEASE "dm:lease:{s"

typedef struct rtake {
  size_t live;
  dm_window_snap snaps[];
} rtake;

struct rsnap {
  rsnap *hnext; /* busy set chain */
  rtake *take;  /* set when handed out */
  uint64_t hash;
  int64_t shard, start;
  size_t L;            /* bytes read */
  char sha[41];        /* their SHA-1 (hex), "" when L = 0 */
  char counter[24];    /* the member's counter at take, "" when it had none */
  uint64_t taken_ns;   /* when the counters were read (uv_hrtime) */
  uint8_t flag, failed, out, known_new;
  dm_point *pts;
  size_t n;
  uint32_t series_len;
  size_t member_len;
  char member[]; /* "<start>:<series>" */
};

/* ---- the busy set ---- */

static rsnap *busy_find(rcache *c, const char *m, size_t len, uint64_t h) {
  if (c->busy_cap == 0) return NULL;
  for (rsnap *s = c->busy[h & (c->busy_cap - 1)]; s != NULL; s = s->hnext)
    if (s->hash == h && s->member_len == len && memcmp(s->member, m, len) == 0) return s;
  return NULL;
}

static int busy_add(rcache *c, rsnap *s) {
  if (c->nbusy + 1 > c->busy_cap) {
    size_t cap = c->busy_cap ? c->busy_cap * 2 : 64;
    rsnap **t = calloc(cap, sizeof *t);
    if (t == NULL) return DM_ENOMEM;
    for (size_t i = 0; i < c->busy_cap; i++) {
      for (rsnap *x = c->busy[i], *next; x != NULL; x = next) {
        next = x->hnext;
        x->hnext = t[x->hash & (cap - 1)];
        t[x->hash & (cap - 1)] = x;
      }
    }
    free(c->busy);
    c->busy = t;
    c->busy_cap = cap;
  }
  rsnap **head = &c->busy[s->hash & (c->busy_cap - 1)];
  s->hnext = *head;
  *head = s;
  c->nbusy++;
  return 0;
}

static void busy_remove(rcache *c, rsnap *s) {
  for (rsnap **p = &c->busy[s->hash & (c->busy_cap - 1)]; *p != NULL; p = &(*p)->hnext) {
    if (*p == s) {
      *p = s->hnext;
      c->nbusy--;
      return;
    }
  }
}

static void snap_free(rcache *c, rsnap *s) {
  busy_remove(c, s);
  if (s->out) {
    c->flushing--;
    if (--s->take->live == 0) free(s->take);
  }
  free(s->pts);
  free(s);
}

void dm_rcache_free_snaps(rcache *c) {
  for (size_t i = 0; i < c->busy_cap; i++)
    while (c->busy[i] != NULL) snap_free(c, c->busy[i]);
}

/* "<start>:<series>" with counter ctr, or NULL (bad member, out of memory). */
static rsnap *snap_new(const char *m, size_t len, const char *ctr, size_t ctrlen, int64_t shard) {
  const char *colon = memchr(m, ':', len);
  if (colon == NULL || colon == m || colon + 1 == m + len || ctrlen >= 24) return NULL;
  char num[24];
  size_t nl = (size_t)(colon - m);
  if (nl >= sizeof num) return NULL;
  memcpy(num, m, nl);
  num[nl] = '\0';
  char *end;
  long long start = strtoll(num, &end, 10);
  if (*end != '\0') return NULL;
  rsnap *s = calloc(1, sizeof *s + len + 1);
  if (s == NULL) return NULL;
  memcpy(s->member, m, len);
  s->member_len = len;
  s->series_len = (uint32_t)(len - nl - 1);
  s->start = start;
  s->shard = shard;
  s->hash = dm_name_hash(m, len);
  memcpy(s->counter, ctr, ctrlen);
  return s;
}

static const char *snap_series(const rsnap *s) { return s->member + s->member_len - s->series_len; }

static int push(rsnap ***arr, size_t *n, size_t *cap, rsnap *s) {
  if (*n == *cap) {
    size_t nc = *cap ? *cap * 2 : 16;
    rsnap **p = realloc(*arr, nc * sizeof *p);
    if (p == NULL) return DM_ENOMEM;
    *arr = p;
    *cap = nc;
  }
  (*arr)[(*n)++] = s;
  return 0;
}

static void shard_key(rb *b, const char *pre, int64_t shard, int *slot) {
  char sn[24];
  size_t len = dm_resp_i64_str(sn, shard);
  int s = dm_rb_key(b, pre, sn, len, "}", 0, 0);
  if (slot) *slot = s;
}

/* ---- release ---- */

struct rel_op {
  rcache *c;
  rel_op *next; /* settle queue */
  uint64_t due;
  rsnap **s;
  size_t n;
  int64_t *left; /* bytes left after phase 1, -1 when it failed */
  int set_flag, status;
  dm_done_cb cb;
  void *arg;
  rb b;
};

static void rel_finish(rel_op *op) {
  rcache *c = op->c;
  for (size_t i = 0; i < op->n; i++) snap_free(c, op->s[i]);
  dm_done_cb cb = op->cb;
  void *arg = op->arg;
  int status = op->status;
  free(op->s);
  free(op->left);
  free(op);
  if (cb) cb(arg, status);
}

static void rel_shard_done(rb *b) {
  rel_op *op = b->ctx;
  if (b->status < 0 && op->status == 0) op->status = b->status;
  dm_rb_free(b);
  rel_finish(op);
}

static int by_shard(const void *a, const void *b) {
  const rsnap *x = *(rsnap *const *)a, *y = *(rsnap *const *)b;
  return (x->shard > y->shard) - (x->shard < y->shard);
}

static void rel_window_done(rb *b) {
  rel_op *op = b->ctx;
  rcache *c = op->c;
  if (b->status < 0 && op->status == 0) op->status = b->status;
  dm_rb_free(b);
  /* windows with nothing left: forget them, shard by shard, if their counter held */
  rsnap **gone = malloc((op->n ? op->n : 1) * sizeof *gone);
  if (gone == NULL) {
    op->status = DM_ENOMEM;
    rel_finish(op);
    return;
  }
  size_t k = 0;
  for (size_t i = 0; i < op->n; i++)
    if (op->left[i] == 0) gone[k++] = op->s[i];
  if (k == 0 || c->closing) {
    free(gone);
    rel_finish(op);
    return;
  }
  qsort(gone, k, sizeof *gone, by_shard);
  dm_rb_init(b, c, NULL, rel_shard_done, op);
  for (size_t j = 0; j < k;) {
    size_t e = j;
    while (e < k && gone[e]->shard == gone[j]->shard) e++;
    int slot;
    dm_rb_evalsha(b, DM_RS_SRELEASE, 2, 2 * (e - j));
    shard_key(b, K_DIRTY, gone[j]->shard, &slot);
    shard_key(b, K_GEN, gone[j]->shard, NULL);
    for (size_t i = j; i < e; i++) {
      dm_resp_arg(&b->buf, gone[i]->member, gone[i]->member_len);
      dm_resp_str(&b->buf, gone[i]->counter);
    }
    dm_rb_end(b, slot, 0);
    j = e;
  }
  free(gone);
  dm_rb_send(b);
}

static void rel_window_reply(rb *b, rb_cmd *cmd, int status, redisReply *r) {
  rel_op *op = b->ctx;
  int st = dm_rb_status(status, r);
  if (st == 0 && r->type != REDIS_REPLY_INTEGER) st = DM_EIO;
  if (st < 0) {
    op->left[cmd->aux] = -1;
    if (b->status == 0) b->status = st;
  } else {
    op->left[cmd->aux] = r->integer;
  }
}

static void rel_run(rel_op *op) {
  rcache *c = op->c;
  if (c->closing) {
    op->status = DM_ECLOSED;
    rel_finish(op);
    return;
  }
  rb *b = &op->b;
  dm_rb_init(b, c, rel_window_reply, rel_window_done, op);
  for (size_t i = 0; i < op->n; i++) {
    const rsnap *s = op->s[i];
    const char *series = snap_series(s);
    int slot;
    op->left[i] = -1;
    dm_rb_evalsha(b, DM_RS_WRELEASE, 3, 4);
    slot = dm_rb_key(b, K_WIN, series, s->series_len, "}:", 1, s->start);
    dm_rb_key(b, K_FLAG, series, s->series_len, "}:", 1, s->start);
    dm_rb_key(b, K_INDEX, series, s->series_len, "}", 0, 0);
    dm_resp_i64(&b->buf, (int64_t)s->L);
    dm_resp_str(&b->buf, s->sha);
    dm_resp_i64(&b->buf, s->start);
    dm_resp_i64(&b->buf, op->set_flag ? c->flag_ttl_ms : 0);
    dm_rb_end(b, slot, i);
  }
  dm_rb_send(b);
}

static void on_settle(uv_timer_t *t) {
  rcache *c = t->data;
  uint64_t now = uv_hrtime();
  while (c->settle_head != NULL && c->settle_head->due <= now) {
    rel_op *op = c->settle_head;
    c->settle_head = op->next;
    rel_run(op);
  }
  if (c->settle_head != NULL && !c->closing) {
    uint64_t d = c->settle_head->due;
    uv_timer_start(&c->settle, on_settle, d > now ? (d - now) / 1000000 + 1 : 0, 0);
  }
}

static void rel_start(rel_op *op) {
  rcache *c = op->c;
  uint64_t due = 0;
  if (dm_rc_mode(c->rc) == 1)
    for (size_t i = 0; i < op->n; i++)
      if (op->s[i]->taken_ns + c->settle_ns > due) due = op->s[i]->taken_ns + c->settle_ns;
  uint64_t now = uv_hrtime();
  if (due <= now) {
    rel_run(op);
    return;
  }
  op->due = due;
  rel_op **p = &c->settle_head;
  while (*p != NULL && (*p)->due <= due) p = &(*p)->next;
  op->next = *p;
  *p = op;
  uv_timer_start(&c->settle, on_settle, (c->settle_head->due - now) / 1000000 + 1, 0);
}

void dm_rcache_settle_fail(rcache *c) {
  while (c->settle_head != NULL) {
    rel_op *op = c->settle_head;
    c->settle_head = op->next;
    op->status = DM_ECLOSED;
    rel_finish(op);
  }
}

/* Releases s[0..n) (taken from the caller). set_flag 0: windows found empty by a take,
 * nothing was flushed. */
static int release_snaps(rcache *c, rsnap **s, size_t n, int set_flag, dm_done_cb cb,
                         void *arg) {
  rel_op *op = calloc(1, sizeof *op);
  int64_t *left = malloc((n ? n : 1) * sizeof *left);
  if (op == NULL || left == NULL) {
    free(op);
    free(left);
    return DM_ENOMEM;
  }
  op->c = c;
  op->s = s;
  op->n = n;
  op->left = left;
  op->set_flag = set_flag;
  op->cb = cb;
  op->arg = arg;
  rel_start(op);
  return 0;
}

int dm_rcache_release(dm_cache *dc, dm_window_snap *w, size_t n, int status, dm_done_cb cb,
                      void *arg) {
  rcache *c = (rcache *)dc;
  if (c->closing) return DM_ECLOSED;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) k += w[i].ref != NULL;
  rsnap **s = NULL;
  if (status == 0 && k > 0 && (s = malloc(k * sizeof *s)) == NULL) return DM_ENOMEM;
  size_t j = 0;
  for (size_t i = 0; i < n; i++) {
    rsnap *x = w[i].ref;
    if (x == NULL) continue;
    w[i].ref = NULL;
    if (s != NULL)
      s[j++] = x;
    else
      snap_free(c, x); /* the flush failed: Redis keeps the window dirty as it is */
  }
  if (s == NULL) {
    if (cb) cb(arg, 0);
    return 0;
  }
  int rc = release_snaps(c, s, k, 1, cb, arg);
  if (rc < 0) { /* the windows stay dirty and are flushed again */
    for (size_t i = 0; i < k; i++) snap_free(c, s[i]);
    free(s);
    if (cb) cb(arg, rc);
  }
  return 0;
}

/* ---- take_ready ---- */

typedef struct take_op {
  rcache *c;
  int64_t close_before;
  size_t max;
  int64_t shard, left;
  rsnap **got, **cur, **empty;
  size_t ngot, capgot, ncur, capcur, nempty, capempty;
  int status, stepping, again;
  int64_t now;
  dm_snaps_cb cb;
  void *arg;
  rb b;
} take_op;

static void take_finish(take_op *op) {
  rcache *c = op->c;
  dm_snaps_cb cb = op->cb;
  void *arg = op->arg;
  if (op->nempty > 0 && !c->closing) {
    if (release_snaps(c, op->empty, op->nempty, 0, NULL, NULL) == 0) op->empty = NULL;
    else
      for (size_t i = 0; i < op->nempty; i++) snap_free(c, op->empty[i]);
  } else {
    for (size_t i = 0; i < op->nempty; i++) snap_free(c, op->empty[i]);
  }
  free(op->empty);
  free(op->cur);
  rtake *t = NULL;
  int status = op->status;
  if (c->closing) { /* nothing handed out while closing */
    for (size_t i = 0; i < op->ngot; i++) snap_free(c, op->got[i]);
    op->ngot = 0;
    status = DM_ECLOSED;
  }
  if (op->ngot > 0 && (t = malloc(sizeof *t + op->ngot * sizeof t->snaps[0])) == NULL) {
    for (size_t i = 0; i < op->ngot; i++) snap_free(c, op->got[i]);
    status = DM_ENOMEM;
  }
  size_t n = t ? op->ngot : 0;
  if (t != NULL) {
    t->live = n;
    for (size_t i = 0; i < n; i++) {
      rsnap *s = op->got[i];
      s->take = t;
      s->out = 1;
      c->flushing++;
      t->snaps[i] = (dm_window_snap){snap_series(s), s->series_len, s->start, s->pts, s->n,
                                     s->known_new, s};
    }
  }
  free(op->got);
  free(op);
  if (t != NULL)
    cb(arg, 0, t->snaps, n);
  else
    cb(arg, status, NULL, 0);
}

static void shard_step(take_op *op);

static void wtake_reply(rb *b, rb_cmd *cmd, int status, redisReply *r) {
  take_op *op = b->ctx;
  rsnap *s = op->cur[cmd->aux];
  int st = dm_rb_status(status, r);
  if (st == 0 && (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
                  r->element[0]->type != REDIS_REPLY_STRING ||
                  r->element[1]->type != REDIS_REPLY_INTEGER ||
                  r->element[2]->type != REDIS_REPLY_STRING || r->element[2]->len > 40))
    st = DM_EIO;
  if (st < 0) {
    s->failed = 1;
    if (op->status == 0) op->status = st;
    return;
  }
  const redisReply *v = r->element[0];
  size_t whole = v->len - v->len % DM_RR_SIZE;
  if (whole != v->len)
    dm_log_warn("redis_torn_window", "member=%.*s bytes=%zu", (int)s->member_len, s->member,
                v->len);
  s->pts = malloc((whole ? whole / DM_RR_SIZE : 1) * sizeof *s->pts);
  if (s->pts == NULL) {
    s->failed = 1;
    op->status = DM_ENOMEM;
    return;
  }
  dm_rr_decode(v->str, whole, s->pts, &s->n);
  s->L = v->len;
  memcpy(s->sha, r->element[2]->str, r->element[2]->len);
  s->sha[r->element[2]->len] = '\0';
  s->flag = r->element[1]->integer != 0;
  s->known_new = !s->flag && op->now < s->start - op->c->max_future + op->c->flag_ttl_ms / 1000;
}

static void wtake_done(rb *b) {
  take_op *op = b->ctx;
  rcache *c = op->c;
  dm_rb_free(b);
  for (size_t i = 0; i < op->ncur; i++) {
    rsnap *s = op->cur[i];
    int rc = 0;
    if (s->failed)
      snap_free(c, s);
    else if (s->L == 0)
      rc = push(&op->empty, &op->nempty, &op->capempty, s);
    else
      rc = push(&op->got, &op->ngot, &op->capgot, s);
    if (rc < 0) {
      snap_free(c, s);
      op->status = rc;
    }
  }
  op->ncur = 0;
  shard_step(op);
}

static void take_reply(rb *b, rb_cmd *cmd, int status, redisReply *r) {
  (void)cmd;
  take_op *op = b->ctx;
  rcache *c = op->c;
  int st = dm_rb_status(status, r);
  if (st == 0 && (r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 1 ||
                  r->element[0]->type != REDIS_REPLY_INTEGER))
    st = DM_EIO;
  if (st < 0) {
    if (op->status == 0) op->status = st;
    return;
  }
  if (r->element[0]->integer != 1) return; /* another node holds the lease */
  uint64_t now = uv_hrtime();
  for (size_t i = 1; i + 1 < r->elements; i += 2) {
    const redisReply *m = r->element[i], *g = r->element[i + 1];
    if (m->type != REDIS_REPLY_STRING || g->type != REDIS_REPLY_STRING) continue;
    if (busy_find(c, m->str, m->len, dm_name_hash(m->str, m->len)) != NULL) continue;
    rsnap *s = snap_new(m->str, m->len, g->str, g->len, op->shard);
    if (s == NULL) {
      dm_log_warn("redis_bad_member", "member=%.*s", (int)(m->len > 200 ? 200 : m->len), m->str);
      continue;
    }
    s->taken_ns = now;
    if (busy_add(c, s) < 0 || push(&op->cur, &op->ncur, &op->capcur, s) < 0) {
      busy_remove(c, s);
      free(s);
      op->status = DM_ENOMEM;
      return;
    }
  }
}

static void take_done(rb *b) {
  take_op *op = b->ctx;
  rcache *c = op->c;
  dm_rb_free(b);
  if (op->ncur == 0 || c->closing) {
    for (size_t i = 0; i < op->ncur; i++) snap_free(c, op->cur[i]);
    op->ncur = 0;
    shard_step(op);
    return;
  }
  /* this shard's windows: bytes, flag, SHA-1, one script each, all at once */
  dm_rb_init(b, c, wtake_reply, wtake_done, op);
  for (size_t i = 0; i < op->ncur; i++) {
    const rsnap *s = op->cur[i];
    const char *series = snap_series(s);
    dm_rb_evalsha(b, DM_RS_WTAKE, 2, 0);
    int slot = dm_rb_key(b, K_WIN, series, s->series_len, "}:", 1, s->start);
    dm_rb_key(b, K_FLAG, series, s->series_len, "}:", 1, s->start);
    dm_rb_end(b, slot, i);
  }
  dm_rb_send(b);
}

/* One shard: lease + list. Returns 1 when op is finished (and freed). */
static int shard_once(take_op *op) {
  rcache *c = op->c;
  if (c->closing && op->status == 0) op->status = DM_ECLOSED;
  if (c->closing || op->ngot >= op->max || op->left == 0) {
    take_finish(op);
    return 1;
  }
  op->left--;
  op->shard = (op->shard + 1) % c->shards;
  rb *b = &op->b;
  dm_rb_init(b, c, take_reply, take_done, op);
  int slot;
  dm_rb_evalsha(b, DM_RS_TAKE, 3, 4);
  shard_key(b, K_DIRTY, op->shard, &slot);
  shard_key(b, K_GEN, op->shard, NULL);
  shard_key(b, K_SLEASE, op->shard, NULL);
  dm_resp_str(&b->buf, c->node);
  dm_resp_i64(&b->buf, c->lease_ms);
  if (op->close_before == INT64_MAX)
    dm_resp_str(&b->buf, "+inf");
  else
    dm_resp_i64(&b->buf, op->close_before);
  dm_resp_i64(&b->buf, (int64_t)(op->max - op->ngot + c->nbusy));
  dm_rb_end(b, slot, 0);
  dm_rb_send(b);
  return 0;
}

/* Runs shards one after the other; a shard whose commands all fail at once completes
 * inside dm_rb_send, so this loops instead of recursing. */
static void shard_step(take_op *op) {
  if (op->stepping) {
    op->again = 1;
    return;
  }
  op->stepping = 1;
  for (;;) {
    op->again = 0;
    if (shard_once(op)) return;
    if (!op->again) break;
  }
  op->stepping = 0;
}

int dm_rcache_take_ready(dm_cache *dc, int64_t close_before, size_t max, dm_snaps_cb cb,
                         void *arg) {
  rcache *c = (rcache *)dc;
  if (c->closing) return DM_ECLOSED;
  if (max == 0) {
    cb(arg, 0, NULL, 0);
    return 0;
  }
  take_op *op = calloc(1, sizeof *op);
  if (op == NULL) return DM_ENOMEM;
  op->c = c;
  op->close_before = close_before;
  op->max = max;
  op->left = c->shards;
  op->shard = (int64_t)((uint64_t)random() % (uint64_t)c->shards) - 1; /* +1 before use */
  if (op->shard < 0) op->shard = c->shards - 1;
  op->now = c->now();
  op->cb = cb;
  op->arg = arg;
  shard_step(op);
  return 0;
}

/* ---- keeping the leases of shards being flushed ----
 * A round (take, the table write, the release and, in a cluster, the settle delay) can
 * outlast lease_ms on a slow table; another node would then take the shard and flush the
 * same windows. Every tick (1 s) the lease of each shard that has windows in the busy set
 * is renewed (the lease script: PEXPIRE when ours, SET NX when free), so a live node keeps
 * what it flushes and only a dead one loses its shards after lease_ms. */

static void renew_done(rb *b) {
  dm_rb_free(b);
  free(b);
}

void dm_rcache_renew_leases(rcache *c) {
  if (c->closing || c->nbusy == 0 || c->shards <= 0) return;
  size_t words = ((size_t)c->shards + 63) / 64;
  uint64_t *seen = calloc(words, sizeof *seen);
  rb *b = malloc(sizeof *b);
  if (seen == NULL || b == NULL) {
    free(seen);
    free(b);
    return;
  }
  dm_rb_init(b, c, NULL, renew_done, b);
  for (size_t i = 0; i < c->busy_cap; i++) {
    for (rsnap *s = c->busy[i]; s != NULL; s = s->hnext) {
      uint64_t bit = (uint64_t)1 << (s->shard % 64);
      if (s->shard < 0 || s->shard >= c->shards || (seen[s->shard / 64] & bit)) continue;
      seen[s->shard / 64] |= bit;
      int slot;
      dm_rb_evalsha(b, DM_RS_LEASE, 1, 2);
      shard_key(b, K_SLEASE, s->shard, &slot);
      dm_resp_str(&b->buf, c->node);
      dm_resp_i64(&b->buf, c->lease_ms);
      dm_rb_end(b, slot, 0);
    }
  }
  free(seen);
  dm_rb_send(b);
}
