/* window.h — storage of the points of one memory-cache window (internal to src/cache).
 *
 * A window keeps its points either as an append log (parallel arrays of uint32 slot
 * offsets and doubles, 12 bytes a point) or, once the log would cost more than one double
 * per slot, as a dense slot array with a presence bitmap (8 bytes a slot + 1 bit). The
 * design and the numbers are in memory.c. Every allocation is counted in a dm_cache_acct
 * so the cache can report the bytes it holds.
 */
#ifndef DIAMOND_CACHE_WINDOW_H
#define DIAMOND_CACHE_WINDOW_H

#include <stddef.h>
#include <stdint.h>

#include "diamond/point.h"

/* What the cache holds: bytes allocated (payload sizes, not malloc overhead) and points. */
typedef struct dm_cache_acct {
  uint64_t bytes;
  uint64_t points; /* log entries are counted until compaction drops duplicates */
} dm_cache_acct;

typedef struct dm_cache_win {
  double *val;    /* NULL until the first point; log: val[cap] then uint32 off[cap];
                     dense: val[nslots] then uint64 bits[(nslots + 63) / 64] */
  uint32_t n;     /* log: entries (duplicates included until compaction); dense: slots set */
  uint32_t cap;   /* log capacity (unused when dense) */
  uint32_t last;  /* log: offset of the last entry appended */
  uint8_t dense;  /* 1: dense slot array */
  uint8_t sorted; /* log: offsets strictly increasing, hence no duplicates */
} dm_cache_win;

/* Sets slot `off` (< nslots) to v; a later put to the same slot wins. Returns 0 or
 * DM_ENOMEM (the window is unchanged). */
int dm_cache_win_put(dm_cache_win *w, uint32_t nslots, uint32_t off, double v, dm_cache_acct *a);
/* Hints the CPU to load what a put to slot `off` will touch (the append path calls it a
 * few entries ahead). */
void dm_cache_win_prefetch(const dm_cache_win *w, uint32_t nslots, uint32_t off);
/* Sorts the log and keeps the last value per slot (no-op when sorted or dense). Never
 * fails: without memory for the fast path it sorts in place. */
void dm_cache_win_compact(dm_cache_win *w, dm_cache_acct *a);
/* Writes the points with from <= t <= until, sorted, to out (room for w->n points);
 * t = start + off * step. Compacts first. Returns the count. */
size_t dm_cache_win_copy(dm_cache_win *w, uint32_t nslots, int64_t start, int64_t step,
                         int64_t from, int64_t until, dm_point *out, dm_cache_acct *a);
/* The newest point; 0, or DM_ENOENT when the window is empty. */
int dm_cache_win_last(dm_cache_win *w, uint32_t nslots, int64_t start, int64_t step, dm_point *out,
                      dm_cache_acct *a);
/* Frees the points (the struct itself belongs to the caller). */
void dm_cache_win_free(dm_cache_win *w, uint32_t nslots, dm_cache_acct *a);

#endif
