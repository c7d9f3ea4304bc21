/* redis_poll.c — the Redis cache's one-second tick: stats for backpressure and the
 * flusher (used_memory from INFO memory summed over masters; dirty windows and the
 * oldest dirty end from every shard's dirty set), announcements no append has carried
 * yet, and the names watch. */
#include <stdlib.h>
#include <string.h>

#include "diamond/error.h"
#include "redis_int.h"
#include "redis_resp.h"

#define MAX_MASTERS 256
enum { AUX_INFO, AUX_OLDEST, AUX_COUNT };

typedef struct poll_op {
  uint64_t mem, windows;
  int64_t oldest;
  int mem_ok, win_ok;
  rb b;
} poll_op;

static void poll_reply(rb *b, rb_cmd *cmd, int status, redisReply *r) {
  poll_op *op = b->ctx;
  int ok = dm_rb_status(status, r) == 0;
  switch (cmd->aux) {
  case AUX_INFO: {
    const char *p = ok && r->type == REDIS_REPLY_STRING ? strstr(r->str, "used_memory:") : NULL;
    if (p == NULL || (p != r->str && p[-1] != '\n'))
      op->mem_ok = 0;
    else
      op->mem += strtoull(p + 12, NULL, 10);
    break;
  }
  case AUX_OLDEST:
    if (!ok || r->type != REDIS_REPLY_ARRAY) {
      op->win_ok = 0;
    } else if (r->elements == 2 && r->element[1]->type == REDIS_REPLY_STRING) {
      int64_t end = (int64_t)strtod(r->element[1]->str, NULL);
      if (op->oldest == 0 || end < op->oldest) op->oldest = end;
    }
    break;
  default:
    if (!ok || r->type != REDIS_REPLY_INTEGER)
      op->win_ok = 0;
    else
      op->windows += (uint64_t)r->integer;
  }
}

static void poll_done(rb *b) {
  poll_op *op = b->ctx;
  rcache *c = b->c;
  if (op->mem_ok) c->used_memory = op->mem;
  if (op->win_ok) {
    c->dirty_windows = op->windows;
    c->oldest_dirty_end = op->oldest;
  }
  c->polling = 0;
  dm_rb_free(b);
  free(op);
}

static void shard_key(rb *b, const char *pre, int64_t shard, int *slot) {
  char sn[24];
  size_t len = dm_resp_i64_str(sn, shard);
  *slot = dm_rb_key(b, pre, sn, len, "}", 0, 0);
}

void dm_rcache_poll(rcache *c) {
  int slots[MAX_MASTERS];
  if (c->polling || c->closing) return;
  size_t nm = dm_rc_masters(c->rc, slots, MAX_MASTERS);
  if (nm == 0) return;
  poll_op *op = calloc(1, sizeof *op);
  if (op == NULL) return;
  op->mem_ok = op->win_ok = 1;
  rb *b = &op->b;
  dm_rb_init(b, c, poll_reply, poll_done, op);
  for (size_t i = 0; i < nm; i++) {
    dm_rb_begin(b, 2);
    dm_resp_str(&b->buf, "INFO");
    dm_resp_str(&b->buf, "memory");
    dm_rb_end(b, slots[i], AUX_INFO);
  }
  for (int64_t s = 0; s < c->shards; s++) {
    int slot;
    dm_rb_begin(b, 5);
    dm_resp_str(&b->buf, "ZRANGE");
    shard_key(b, K_DIRTY, s, &slot);
    dm_resp_str(&b->buf, "0");
    dm_resp_str(&b->buf, "0");
    dm_resp_str(&b->buf, "WITHSCORES");
    dm_rb_end(b, slot, AUX_OLDEST);
    dm_rb_begin(b, 2);
    dm_resp_str(&b->buf, "ZCARD");
    shard_key(b, K_DIRTY, s, &slot);
    dm_rb_end(b, slot, AUX_COUNT);
  }
  c->polling = 1;
  dm_rb_send(b);
}

/* Announcements on their own, when no append carried them within a second. */
static void ann_done(rb *b) {
  dm_rb_free(b);
  free(b);
}

static void send_announcements(rcache *c) {
  if (c->ann_n == 0 || c->closing) return;
  rb *b = malloc(sizeof *b);
  if (b == NULL) return;
  dm_rb_init(b, c, NULL, ann_done, b);
  dm_rcache_names_flush_into(c, b);
  dm_rb_send(b);
}

void dm_rcache_on_tick(uv_timer_t *t) {
  rcache *c = t->data;
  if (c->closing) return;
  send_announcements(c);
  dm_rcache_renew_leases(c);
  dm_rcache_poll(c);
  dm_rcache_names_poll(c);
}

void dm_cache_redis_poll_now(dm_cache *dc) {
  rcache *c = (rcache *)dc;
  if (c->closing) return;
  dm_rcache_poll(c);
  dm_rcache_names_poll(c);
}
