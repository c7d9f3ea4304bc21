/* cache.h — the hot tier: every window that holds points not yet durable in the table.
 *
 * Window life: OPEN/DIRTY (has unflushed points) -> FLUSHING (snapshot taken by
 * take_ready) -> released: dropped if nothing was appended meanwhile, else DIRTY again
 * (only the points appended since the snapshot still need a flush, but re-flushing all of
 * them is harmless: the table merges, last write wins).
 *
 * Each window remembers the lowest WAL segment whose points it holds unflushed; the
 * minimum over all windows (stats.min_wal_seg) tells the engine which WAL segments are
 * fully durable in the table and may be deleted.
 */
#ifndef DIAMOND_CACHE_H
#define DIAMOND_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "diamond/config.h"
#include "diamond/tier.h"

typedef struct dm_cache dm_cache;

/* A flush snapshot of one window: sorted, de-duplicated copy of its points. Owned by the
 * cache until passed back to release. */
typedef struct dm_window_snap {
  const char *series;
  uint32_t series_len;
  int64_t start; /* window start */
  dm_point *pts;
  size_t n;
  uint8_t known_new; /* 1: the cache knows no part of this window was ever flushed, so the
                        table may write it without reading first; 0: unknown (merge) */
  void *ref; /* the cache's own reference; do not touch */
} dm_window_snap;

typedef void (*dm_snaps_cb)(void *arg, int status, dm_window_snap *w, size_t n);

typedef struct dm_cache_stats {
  uint64_t series, windows, points, bytes; /* bytes: memory held (snapshots included), for
                                              backpressure; points may count overwritten
                                              ones until the window is next sorted */
  uint64_t flushing;                       /* windows in FLUSHING */
  uint64_t min_wal_seg;                    /* UINT64_MAX when nothing is unflushed */
  int64_t oldest_dirty_end;                /* end of the oldest DIRTY window (FLUSHING ones
                                              not counted), 0 if none */
} dm_cache_stats;

typedef void (*dm_lease_cb)(void *arg, int status, int held);

typedef struct dm_cache_ops {
  int version; /* 2 */
  const char *name;
  /* 1: an append that called back with 0 is durable in the cache itself (redis), so the
   * engine keeps no WAL; 0: the engine makes it durable with its WAL first (memory). */
  int durable;
  /* Applies a batch (already in the WAL segment `seg`). The memory cache returns 0 and
   * reports a failure midway (DM_ENOMEM) through cb: the entries before it are applied,
   * which is harmless since replaying the batch is idempotent, but the batch must not be
   * acknowledged. */
  int (*append)(dm_cache *c, const dm_batch *b, uint64_t seg, dm_done_cb cb, void *arg);
  /* Points of one series with from <= t <= until. */
  int (*read)(dm_cache *c, const char *series, size_t len, int64_t from, int64_t until,
              dm_points_cb cb, void *arg);
  /* The newest point of a series (n = 1), or DM_ENOENT status. */
  int (*latest)(dm_cache *c, const char *series, size_t len, dm_points_cb cb, void *arg);
  /* Snapshots up to max DIRTY windows whose end (start + window) <= close_before, oldest
   * first, and marks them FLUSHING. close_before = INT64_MAX takes open windows too. */
  int (*take_ready)(dm_cache *c, int64_t close_before, size_t max, dm_snaps_cb cb, void *arg);
  /* Gives snapshots back. status 0: their points are durable in the table; < 0: the
   * flush failed and the windows become DIRTY again. Frees the snapshots. The snapshots
   * of one take_ready may come back in several calls (any subsets); until then they are
   * read-only and stable, so another thread may encode them. */
  int (*release)(dm_cache *c, dm_window_snap *w, size_t n, int status, dm_done_cb cb,
                 void *arg);
  void (*stats)(dm_cache *c, dm_cache_stats *out);
  /* Refuses new calls (DM_ECLOSED); accepted calls still call back (a remote cache may
   * fail them with DM_ECLOSED). Frees c at once when nothing is in flight, else after the
   * last callback: keep running the loop until uv_run returns 0. */
  void (*close)(dm_cache *c);
  /* ---- version 2; each may be NULL (the inline wrappers below then do the obvious) ---- */
  /* Tells the other nodes sharing this cache about series names new to this node; sent
   * with the next append (same round trip), best effort. */
  int (*announce)(dm_cache *c, const dm_name_ref *names, size_t n);
  /* From now on calls fn (on the loop) with names other nodes announced. */
  int (*watch_names)(dm_cache *c, dm_names_cb fn, void *arg);
  /* Takes or renews the lease `name` ("ager", ...) for ms milliseconds: held = 1 when this
   * node holds it now. Without the op every lease is held (one node). */
  int (*lease)(dm_cache *c, const char *name, int64_t ms, dm_lease_cb cb, void *arg);
  /* 1 when the cache works; 0 with a reason ("redis 127.0.0.1:6379: connection refused"). */
  int (*health)(dm_cache *c, char *why, size_t len);
  /* Reaches the cache once (--check-config): cb status 0, or < 0 with health() saying why. */
  int (*probe)(dm_cache *c, dm_done_cb cb, void *arg);
} dm_cache_ops;

struct dm_cache {
  const dm_cache_ops *ops;
  int64_t step, window;
};

/* Implementations. */
int dm_cache_memory_open(dm_cache **out, const dm_config *cfg);
/* Redis or Redis Cluster at cfg->cache_redis (src/cache/redis.c has the key layout and
 * the lease protocol). Returns at once; the connection is made (and remade) in the
 * background: until it is up, calls fail through their callbacks and health() says why. */
int dm_cache_redis_open(dm_cache **out, uv_loop_t *loop, const dm_config *cfg,
                        const char *node_id, char *err, size_t errlen);

static inline int dm_cache_append(dm_cache *c, const dm_batch *b, uint64_t seg, dm_done_cb cb,
                                  void *arg) {
  return c->ops->append(c, b, seg, cb, arg);
}
static inline int dm_cache_read(dm_cache *c, const char *s, size_t len, int64_t from,
                                int64_t until, dm_points_cb cb, void *arg) {
  return c->ops->read(c, s, len, from, until, cb, arg);
}
static inline int dm_cache_latest(dm_cache *c, const char *s, size_t len, dm_points_cb cb,
                                  void *arg) {
  return c->ops->latest(c, s, len, cb, arg);
}
static inline int dm_cache_take_ready(dm_cache *c, int64_t close_before, size_t max,
                                      dm_snaps_cb cb, void *arg) {
  return c->ops->take_ready(c, close_before, max, cb, arg);
}
static inline int dm_cache_release(dm_cache *c, dm_window_snap *w, size_t n, int status,
                                   dm_done_cb cb, void *arg) {
  return c->ops->release(c, w, n, status, cb, arg);
}
static inline void dm_cache_stats_get(dm_cache *c, dm_cache_stats *out) { c->ops->stats(c, out); }
static inline void dm_cache_close(dm_cache *c) { c->ops->close(c); }
static inline int dm_cache_durable(const dm_cache *c) { return c->ops->durable; }
static inline int dm_cache_announce(dm_cache *c, const dm_name_ref *names, size_t n) {
  return c->ops->announce ? c->ops->announce(c, names, n) : 0;
}
static inline int dm_cache_watch_names(dm_cache *c, dm_names_cb fn, void *arg) {
  return c->ops->watch_names ? c->ops->watch_names(c, fn, arg) : 0;
}
/* Without a lease op the callback runs inside the call with held = 1. */
static inline int dm_cache_lease(dm_cache *c, const char *name, int64_t ms, dm_lease_cb cb,
                                 void *arg) {
  if (c->ops->lease) return c->ops->lease(c, name, ms, cb, arg);
  cb(arg, 0, 1);
  return 0;
}
static inline int dm_cache_health(dm_cache *c, char *why, size_t len) {
  return c->ops->health ? c->ops->health(c, why, len) : 1;
}
static inline int dm_cache_probe(dm_cache *c, dm_done_cb cb, void *arg) {
  if (c->ops->probe) return c->ops->probe(c, cb, arg);
  cb(arg, 0);
  return 0;
}

#endif
