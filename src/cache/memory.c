/* memory.c — the default hot tier: every window not yet durable in the table, held in
 * process memory (the WAL makes it durable). Runs on the loop thread only and completes
 * every call before returning (the callback runs inside the call), so there are no locks.
 *
 * Layout (the indexes are in index.c, the window storage in window.c)
 *   series   an open-addressing hash (linear probing, backward-shift delete)
 *            name -> series; a series owns a small array of windows sorted by start
 *            (usually one or two: the open hour and the one waiting for its flush) and is
 *            freed with its last window.
 *   window   the points of one (series, window start). Storage is an append log of
 *            (uint32 slot offset, double) = 12 bytes a point, in arrival order, sorted and
 *            de-duplicated lazily (on read, on snapshot, or when the log is full), until a
 *            bigger log would cost more than a dense array of one double per slot plus a
 *            presence bit; then it turns dense. With the defaults (60 slots) a sparse
 *            window costs 12 B a point; a full one 488 B of points + an 88 B struct for 60
 *            points, and with the series struct, its name and the hash table the 100k
 *            series x 60 points load of test_cache_model measures 11.2 B a point (DESIGN
 *            §5 asks for <= 16).
 *   dirty    windows in state DIRTY sit in per-start buckets: a sorted array of window
 *            starts, each with a FIFO list of its dirty windows. take_ready walks it from
 *            the oldest start and never looks at a clean or flushing window.
 *   WAL segs each window that holds unflushed points counts once under the lowest WAL
 *            segment of those points, in a small sorted array seg -> windows; the minimum
 *            segment with a count is stats.min_wal_seg, read in O(1).
 *
 * Append cost: one hash lookup per run of entries with the same name (dm_batch_add_same
 * entries share the name bytes, so the comparison is a pointer check), one compare with
 * the series' newest window, then a store into the log or the dense array. With many
 * series per batch each of those is a cache miss, so the loop prefetches the hash slot,
 * series, window and slot of the entries a few places ahead. Measured by test_cache_model
 * (-O2, this shared 2-core machine): 75-130 ns a point when each entry is another of 100k
 * series (memory-bound: ~70 MB of cache), 13-20 ns in runs of one series.
 *
 * Window states (asserted):
 *   (none) --append--> DIRTY --take_ready--> FLUSHING
 *   FLUSHING --release ok, nothing appended since the snapshot--> (dropped)
 *   FLUSHING --release ok after appends--> DIRTY (min seg = lowest seg appended since)
 *   FLUSHING --release failed--> DIRTY (min seg unchanged)
 * Appends to a FLUSHING window are allowed: they land in the live window, the snapshot is
 * a copy, and the window keeps all its points (re-flushing them is harmless).
 *
 * Snapshots: take_ready allocates one block (header, the dm_window_snap array, all their
 * points) and counts the windows still out; release frees the block when its last window
 * comes back, so the engine may release a take in several parts; close frees blocks
 * never released.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "diamond/cache.h"
#include "diamond/error.h"
#include "memory.h"
#include "window.h"

/* ---- the ops ---- */

/* Prefetch distances (entries ahead) for the hash slot, the series and its newest window:
 * with many series a batch touches memory all over the heap, and each of these is
 * otherwise a cache miss in turn. */
#define PF_SLOT 12
#define PF_SERIES 8
#define PF_WINDOW 4
#define PF_DATA 2

static uint64_t entry_hash(const dm_batch *b, size_t j, const uint64_t *ring) {
  const dm_batch_entry *e = &b->e[j];
  if (j > 0 && e->name_off == e[-1].name_off && e->name_len == e[-1].name_len)
    return ring[(j - 1) & 15];
  return dm_cache_name_hash(b->names + e->name_off, e->name_len);
}

/* 1 if entry j has the name of entry j - 1 by reference (dm_batch_add_same): its series,
 * window and data are in cache already, nothing to prefetch. */
static int same_as_prev(const dm_batch *b, size_t j) {
  return j > 0 && b->e[j].name_off == b->e[j - 1].name_off;
}

static void prefetch(const mem *m, const dm_batch *b, size_t i, uint64_t *ring) {
  size_t mask = m->tab_cap - 1, j;
  if ((j = i + PF_SLOT) < b->n) {
    uint64_t h = entry_hash(b, j, ring);
    ring[j & 15] = h;
    if (!same_as_prev(b, j)) __builtin_prefetch(&m->tab[h & mask]);
  }
  if ((j = i + PF_SERIES) < b->n && !same_as_prev(b, j)) {
    const series *s = m->tab[ring[j & 15] & mask];
    if (s != NULL) __builtin_prefetch(s);
  }
  if ((j = i + PF_WINDOW) < b->n && !same_as_prev(b, j)) {
    const series *s = m->tab[ring[j & 15] & mask];
    if (s != NULL && s->nw > 0) __builtin_prefetch(s->w[s->nw - 1]);
  }
  if ((j = i + PF_DATA) < b->n && !same_as_prev(b, j)) {
    const series *s = m->tab[ring[j & 15] & mask];
    if (s != NULL && s->nw > 0) {
      const window *w = s->w[s->nw - 1];
      int64_t t = dm_floor(b->e[j].t, m->base.step);
      if (dm_floor(t, m->base.window) == w->start)
        dm_cache_win_prefetch(&w->pts, m->nslots, (uint32_t)((t - w->start) / m->base.step));
    }
  }
}

static int mem_append(dm_cache *c, const dm_batch *b, uint64_t seg, dm_done_cb cb, void *arg) {
  mem *m = (mem *)c;
  const int64_t step = c->step, wlen = c->window;
  series *s = NULL;
  window *w = NULL;
  const char *pname = NULL;
  uint32_t plen = 0;
  uint64_t ring[16]; /* name hashes of entries i .. i + PF_SLOT */
  int rc = 0;
  for (size_t j = 0; j < PF_SLOT && j < b->n; j++) ring[j & 15] = entry_hash(b, j, ring);
  for (size_t i = 0; i < b->n; i++) {
    const dm_batch_entry *e = &b->e[i];
    const char *name = b->names + e->name_off;
    prefetch(m, b, i, ring);
    if (s == NULL || e->name_len != plen || (name != pname && memcmp(name, pname, plen) != 0)) {
      if ((rc = dm_cache_series_get(m, name, e->name_len, ring[i & 15], &s)) < 0) break;
      pname = name;
      plen = e->name_len;
      w = NULL;
    }
    int64_t t = dm_floor(e->t, step), start = dm_floor(t, wlen);
    if (w == NULL || w->start != start) {
      if ((rc = dm_cache_window_get(m, s, start, seg, &w)) < 0 ||
          (rc = dm_cache_window_note_seg(m, w, seg)) < 0) {
        if (s->nw == 0) dm_cache_series_free(m, s);
        break;
      }
    }
    rc = dm_cache_win_put(&w->pts, m->nslots, (uint32_t)((t - start) / step), e->v, &m->acct);
    if (rc < 0) {
      if (w->pts.n == 0 && w->state == W_DIRTY) {
        dm_cache_bucket_remove(m, w);
        dm_cache_window_drop(m, w);
      }
      break;
    }
  }
  if (cb) cb(arg, rc);
  return 0;
}

static series *find_series(mem *m, const char *name, size_t len) {
  size_t slot;
  return dm_cache_tab_get(m, name, len, dm_cache_name_hash(name, len), &slot);
}

/* Handed to callbacks with n = 0, so that a memcpy(dst, p, 0) never sees NULL. */
static const dm_point no_point;

static int mem_read(dm_cache *c, const char *name, size_t len, int64_t from, int64_t until,
                    dm_points_cb cb, void *arg) {
  mem *m = (mem *)c;
  series *s = find_series(m, name, len);
  size_t cap = 0, n = 0;
  uint32_t lo = 0, hi = 0; /* windows [lo, hi) overlap the range */
  if (s != NULL && from <= until) {
    while (lo < s->nw && s->w[lo]->start + c->window <= from) lo++;
    for (hi = lo; hi < s->nw && s->w[hi]->start <= until; hi++) cap += s->w[hi]->pts.n;
  }
  if (cap == 0) {
    cb(arg, 0, &no_point, 0);
    return 0;
  }
  dm_point *p = malloc(cap * sizeof *p);
  if (p == NULL) return DM_ENOMEM;
  for (uint32_t i = lo; i < hi; i++) {
    window *w = s->w[i];
    n += dm_cache_win_copy(&w->pts, m->nslots, w->start, c->step, from, until, p + n, &m->acct);
  }
  cb(arg, 0, p, n);
  free(p);
  return 0;
}

static int mem_latest(dm_cache *c, const char *name, size_t len, dm_points_cb cb, void *arg) {
  mem *m = (mem *)c;
  series *s = find_series(m, name, len);
  dm_point p;
  int rc = DM_ENOENT;
  if (s != NULL) {
    window *w = s->w[s->nw - 1];
    rc = dm_cache_win_last(&w->pts, m->nslots, w->start, c->step, &p, &m->acct);
  }
  if (rc < 0)
    cb(arg, rc, &no_point, 0);
  else
    cb(arg, 0, &p, 1);
  return 0;
}

static int is_closed(int64_t start, int64_t wlen, int64_t close_before) {
  if (close_before == INT64_MAX) return 1;
  if (close_before < INT64_MIN + wlen) return 0;
  return start <= close_before - wlen;
}

static int mem_take_ready(dm_cache *c, int64_t close_before, size_t max, dm_snaps_cb cb,
                          void *arg) {
  mem *m = (mem *)c;
  /* Pass 1: count the windows and their points (compacting them) in take order. */
  size_t k = 0, npts = 0;
  for (size_t i = 0; i < m->nbk && k < max && is_closed(m->bk[i].start, c->window, close_before);
       i++) {
    for (window *w = m->bk[i].head; w != NULL && k < max; w = w->next, k++) {
      dm_cache_win_compact(&w->pts, &m->acct);
      npts += w->pts.n;
    }
  }
  if (k == 0) {
    cb(arg, 0, NULL, 0);
    return 0;
  }
  size_t bytes = sizeof(take) + k * sizeof(dm_window_snap) + npts * sizeof(dm_point);
  take *t = malloc(bytes);
  if (t == NULL) return DM_ENOMEM;
  m->acct.bytes += bytes;
  t->bytes = bytes;
  t->live = k;
  t->free_next = NULL;
  t->prev = NULL;
  t->next = m->takes;
  if (m->takes) m->takes->prev = t;
  m->takes = t;
  /* Pass 2: the same windows, always the head of the oldest bucket. */
  dm_point *pts = (dm_point *)(t->snaps + k);
  for (size_t j = 0; j < k; j++) {
    window *w = m->bk[0].head;
    dm_cache_bucket_remove(m, w);
    size_t n = dm_cache_win_copy(&w->pts, m->nslots, w->start, c->step, INT64_MIN, INT64_MAX, pts,
                                 &m->acct);
    t->snaps[j] = (dm_window_snap){w->s->name, w->s->len, w->start, pts, n, 0, w};
    pts += n;
    w->state = W_FLUSHING;
    w->take = t;
    w->seg_after = UINT64_MAX;
    m->nflushing++;
  }
  cb(arg, 0, t->snaps, k);
  return 0;
}

static void take_unlink(mem *m, take *t) {
  if (t->prev)
    t->prev->next = t->next;
  else
    m->takes = t->next;
  if (t->next) t->next->prev = t->prev;
}

static int mem_release(dm_cache *c, dm_window_snap *snaps, size_t n, int status, dm_done_cb cb,
                       void *arg) {
  mem *m = (mem *)c;
  /* Reserve first so nothing below can fail: a window going back to DIRTY may need a new
   * bucket (snapshots come oldest first, so count changes of start), a window with
   * appends since its snapshot may move to a new segment. */
  size_t nb = 0, ns = 0;
  int64_t prev = 0;
  for (size_t i = 0; i < n; i++) {
    const window *w = snaps[i].ref;
    if (w == NULL || w->state != W_FLUSHING) continue;
    if (nb == 0 || w->start != prev) nb++;
    prev = w->start;
    ns += w->seg_after != UINT64_MAX;
  }
  int rc;
  if ((rc = dm_cache_bucket_reserve(m, nb)) < 0 || (rc = dm_cache_seg_reserve(m, ns)) < 0)
    return rc;
  take *to_free = NULL;
  for (size_t i = 0; i < n; i++) {
    window *w = snaps[i].ref;
    if (w == NULL || w->state != W_FLUSHING) continue; /* released already */
    take *t = w->take;
    snaps[i].ref = NULL;
    w->take = NULL;
    m->nflushing--;
    if (status == 0 && w->seg_after == UINT64_MAX) {
      dm_cache_window_drop(m, w);
    } else {
      if (status == 0) (void)dm_cache_seg_move(m, w, w->seg_after); /* reserved: cannot fail */
      w->seg_after = UINT64_MAX;
      dm_cache_bucket_add(m, w);
    }
    if (--t->live == 0) {
      take_unlink(m, t);
      t->free_next = to_free;
      to_free = t;
    }
  }
  dm_cache_shrink(m, (void **)&m->bk, &m->capbk, m->nbk, sizeof *m->bk);
  dm_cache_shrink(m, (void **)&m->segs, &m->capsegs, m->nsegs, sizeof *m->segs);
  while (to_free != NULL) {
    take *t = to_free;
    to_free = t->free_next;
    m->acct.bytes -= t->bytes;
    free(t);
  }
  if (cb) cb(arg, 0);
  return 0;
}

static void mem_stats(dm_cache *c, dm_cache_stats *out) {
  mem *m = (mem *)c;
  out->series = m->nseries;
  out->windows = m->nwindows;
  out->points = m->acct.points;
  out->bytes = m->acct.bytes;
  out->flushing = m->nflushing;
  out->min_wal_seg = m->nsegs ? m->segs[0].seg : UINT64_MAX;
  out->oldest_dirty_end = m->nbk ? m->bk[0].start + c->window : 0;
}

static void mem_close(dm_cache *c) {
  mem *m = (mem *)c;
  if (m == NULL) return;
  for (size_t i = 0; i < m->tab_cap; i++) {
    series *s = m->tab[i];
    if (s == NULL) continue;
    for (uint32_t j = 0; j < s->nw; j++) {
      dm_cache_win_free(&s->w[j]->pts, m->nslots, &m->acct);
      free(s->w[j]);
    }
    if (s->w != s->inl) free(s->w);
    free(s);
  }
  while (m->takes != NULL) {
    take *t = m->takes;
    m->takes = t->next;
    free(t);
  }
  free(m->tab);
  free(m->bk);
  free(m->segs);
  free(m);
}

static const dm_cache_ops memory_ops = {
    .version = 2,
    .name = "memory",
    .durable = 0,
    .append = mem_append,
    .read = mem_read,
    .latest = mem_latest,
    .take_ready = mem_take_ready,
    .release = mem_release,
    .stats = mem_stats,
    .close = mem_close,
};

int dm_cache_memory_open(dm_cache **out, const dm_config *cfg) {
  if (cfg->step <= 0 || cfg->window <= 0 || cfg->window % cfg->step != 0 ||
      cfg->window / cfg->step > UINT32_MAX)
    return DM_EINVAL;
  mem *m = calloc(1, sizeof *m);
  if (m == NULL) return DM_ENOMEM;
  m->base.ops = &memory_ops;
  m->base.step = cfg->step;
  m->base.window = cfg->window;
  m->nslots = (uint32_t)(cfg->window / cfg->step);
  int rc = dm_cache_tab_resize(m, TAB_MIN);
  if (rc < 0) goto fail;
  *out = &m->base;
  return 0;
fail:
  free(m);
  return rc;
}
