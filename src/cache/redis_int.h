/* redis_int.h — inside the Redis cache (redis.c, redis_batch.c, redis_flush.c,
 * redis_names.c, redis_poll.c): the cache object, command batches, flush snapshots, and
 * hooks for its unit tests. Not for other modules. */
#ifndef DIAMOND_REDIS_INT_H
#define DIAMOND_REDIS_INT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "diamond/buf.h"
#include "diamond/cache.h"
#include "redis_cluster.h"

typedef struct rcache rcache;
typedef struct rsnap rsnap;
typedef struct rel_op rel_op;

/* ---- a batch of commands sent together (redis_batch.c) ----
 * Commands are formatted back to back into one buffer, then all sent in one go: hiredis
 * writes everything queued in one loop turn with one write per connection, so a batch
 * is one round trip per node it touches. on_reply sees every reply (or failure);
 * on_done runs once after the last, possibly inside dm_rb_send. */
typedef struct rb rb;
typedef struct rb_cmd {
  rb *b;
  size_t off, len;
  int slot, script;
  size_t aux; /* the builder's tag: which window, shard, ... */
} rb_cmd;
typedef void (*rb_reply_fn)(rb *b, rb_cmd *cmd, int status, redisReply *r);
typedef void (*rb_done_fn)(rb *b);
struct rb {
  rcache *c;
  dm_buf buf;
  rb_cmd *cmd;
  size_t n, cap, begin;
  int script;          /* of the command being built: 0, or 1 + its script */
  size_t pending;
  int status;          /* first failure */
  rb_reply_fn on_reply; /* NULL: a failure or an error reply sets status */
  rb_done_fn on_done;
  void *ctx;
};
void dm_rb_init(rb *b, rcache *c, rb_reply_fn on_reply, rb_done_fn on_done, void *ctx);
void dm_rb_free(rb *b);
void dm_rb_begin(rb *b, size_t nargs);
/* "EVALSHA <sha> <nkeys>": the start of a script command of 3 + nkeys + nargv args. */
void dm_rb_evalsha(rb *b, int script, size_t nkeys, size_t nargv);
/* A key argument; returns its slot. */
int dm_rb_key(rb *b, const char *pre, const char *name, size_t len, const char *post,
              int has_num, int64_t num);
void dm_rb_end(rb *b, int slot, size_t aux); /* the command is complete */
/* Sends every command; on_done is called once all are answered (or failed). A batch that
 * ran out of memory while being built fails with DM_ENOMEM through on_done. */
void dm_rb_send(rb *b);
/* status for one reply: the failure, the error reply's code, or 0. */
int dm_rb_status(int status, const redisReply *r);

/* ---- the cache ---- */
struct rcache {
  dm_cache base;
  uv_loop_t *loop;
  dm_rc *rc;
  char node[128];
  int64_t shards, lease_ms, max_future, flag_ttl_ms, timeout_ms;
  uint64_t settle_ns; /* cluster: a release waits this long after the take read counters */
  int closing, refs;
  uv_timer_t tick;    /* every second: stats, names, pending announcements */
  uv_timer_t settle;  /* releases waiting for their settle time */
  rel_op *settle_head;
  /* stats, from the last poll */
  uint64_t used_memory, dirty_windows;
  int64_t oldest_dirty_end;
  int polling;
  uint64_t flushing; /* snapshots handed out and not yet released */
  /* windows this node is flushing (taken, not yet fully released): member -> snapshot */
  rsnap **busy;
  size_t busy_cap, nbusy;
  /* names: announced but not yet sent ('\n'-separated), and the watch */
  dm_buf ann;
  size_t ann_n;
  int ann_sent_by_append;
  dm_names_cb names_fn;
  void *names_arg;
  char names_last[48];
  int names_busy;
  int64_t (*now)(void);
  uint32_t rr;
};

/* Key layout (the essay in redis.c explains each). */
#define K_WIN "dm:w:{"
#define K_INDEX "dm:s:{"
#define K_FLAG "dm:f:{"
#define K_DIRTY "dm:dirty:{s"
#define K_GEN "dm:gen:{s"
#define K_LEASE "dm:lease:{"
#define K_NAMES "dm:names"
#define NAMES_MAXLEN "1000000"

/* redis_flush.c */
int dm_rcache_take_ready(dm_cache *c, int64_t close_before, size_t max, dm_snaps_cb cb,
                         void *arg);
int dm_rcache_release(dm_cache *c, dm_window_snap *w, size_t n, int status, dm_done_cb cb,
                      void *arg);
void dm_rcache_settle_fail(rcache *c); /* closing: fail releases still waiting */
void dm_rcache_renew_leases(rcache *c); /* tick: keep the leases of shards being flushed */
void dm_rcache_free_snaps(rcache *c);  /* freeing: snapshots never released */
/* redis_names.c */
int dm_rcache_announce(dm_cache *c, const dm_name_ref *names, size_t n);
int dm_rcache_watch_names(dm_cache *c, dm_names_cb fn, void *arg);
int dm_rcache_lease(dm_cache *c, const char *name, int64_t ms, dm_lease_cb cb, void *arg);
/* Appends the pending announcements to b as XADD commands (aux = AUX_NAME) and forgets
 * them. */
#define AUX_NAME ((size_t)-1)
void dm_rcache_names_flush_into(rcache *c, rb *b);
void dm_rcache_names_poll(rcache *c);
/* redis_poll.c */
void dm_rcache_poll(rcache *c);
void dm_rcache_on_tick(uv_timer_t *t); /* the one-second tick */

/* ---- for tests ---- */
void dm_cache_redis_set_clock(dm_cache *c, int64_t (*now)(void));
dm_rc *dm_cache_redis_client(dm_cache *c);
void dm_cache_redis_poll_now(dm_cache *c); /* a stats (and names) poll now */

#endif
