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

typedef struct dm_cache_ops {
  int version; /* 1 */
  const char *name;
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
  void (*close)(dm_cache *c); /* frees everything, synchronously */
} dm_cache_ops;

struct dm_cache {
  const dm_cache_ops *ops;
  int64_t step, window;
};

/* Implementations. */
int dm_cache_memory_open(dm_cache **out, const dm_config *cfg);

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

#endif
