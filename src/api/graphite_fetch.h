/* graphite_fetch.h — private to src/api: the data side of /render. Expands Graphite path
 * patterns against the engine's name index and reads every matching series through the
 * engine's merged read path (cache > table > blob), as whisper-style step arrays.
 */
#ifndef DIAMOND_GRAPHITE_FETCH_H
#define DIAMOND_GRAPHITE_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "diamond/engine.h"

/* One fetched series: values[i] is the point at start + i * step, NaN where none.
 * As graphite-web's whisper fetch: until is clamped to now, start = from - from % step +
 * step, end = until - until % step + step (one step more when equal to start: a range inside
 * one interval is that interval), n = (end - start) / step; a range that starts
 * after now matches no series (whisper returns nothing, graphite-web drops the series). */
typedef struct dm_gseries {
  char *name;
  size_t name_len;
  size_t pattern; /* index of the pattern it matched */
  int64_t start, step;
  size_t n;
  double *v;
} dm_gseries;

typedef struct dm_gfetch_opts {
  int64_t from, until;
  int64_t now;        /* whisper's clock: the end of every range */
  size_t max_series;  /* over all patterns: more is DM_ERANGE */
  uint64_t max_points; /* series x points: more is DM_ERANGE */
} dm_gfetch_opts;

/* status 0: s[0..n) (sorted by pattern, then name; owned by the callee: freed after the
 * callback); < 0: err says why (DM_ERANGE: a budget; else the engine's error). */
typedef void (*dm_gfetch_cb)(void *arg, int status, const char *err, dm_gseries *s,
                             size_t n);

/* Starts the fetch; the callback runs exactly once (maybe inside the call). Returns 0 or
 * DM_ENOMEM (nothing started). patterns are copied. */
int dm_gfetch(dm_engine *e, const char *const *patterns, size_t np, const dm_gfetch_opts *o,
              dm_gfetch_cb cb, void *arg);

/* The literal part of a pattern before its first glob character (the prefix every match
 * starts with). */
size_t dm_glob_literal_prefix(const char *pattern);

#endif
