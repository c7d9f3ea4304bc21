/* ingest_util.h — helpers shared by the ingest parsers (internal to src/ingest). */
#ifndef DIAMOND_INGEST_UTIL_H
#define DIAMOND_INGEST_UTIL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "diamond/ingest.h"

enum {
  DM_INGEST_NOT_NUMBER = -1,
  DM_INGEST_NOT_INTEGER = -2,   /* has a fraction and reals are not floored */
  DM_INGEST_OUT_OF_RANGE = -3,  /* outside [lim->min_time, lim->max_time] */
};

/* Parses a time literal (not yet floored to the step) into *out. floor_reals: "12.7" is
 * 12 (Graphite) instead of DM_INGEST_NOT_INTEGER (JSON; "12.0" and "1.2e1" are fine). */
int dm_ingest_time(const char *s, size_t len, const dm_ingest_limits *lim, int floor_reals,
                   int64_t *out);

/* Writes c for an error message: 'x' when printable, else '\xNN'. buf holds 8 bytes. */
const char *dm_ingest_show_char(char buf[8], char c);

/* Text for an error message: the first max (<= 40) bytes of s[0..len), "..." when cut,
 * non-printable bytes and '"' as '?'. buf holds 48 bytes. */
const char *dm_ingest_show(char buf[48], const char *s, size_t len, size_t max);

static inline int dm_finite(double v) { return isfinite(v); }

#endif
