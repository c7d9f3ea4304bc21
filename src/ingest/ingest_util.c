/* ingest_util.c — time literals and message helpers shared by the ingest parsers. */
#include "ingest_util.h"

#include <stdio.h>

#include "number.h"

int dm_ingest_time(const char *s, size_t len, const dm_ingest_limits *lim, int floor_reals,
                   int64_t *out) {
  int kind = dm_num_kind(s, len);
  if (kind == 0) return DM_INGEST_NOT_NUMBER;
  if (kind == DM_NUM_INT) {
    int64_t t;
    if (dm_num_int64(s, len, &t) < 0) return DM_INGEST_OUT_OF_RANGE;
    if (t < lim->min_time || t > lim->max_time) return DM_INGEST_OUT_OF_RANGE;
    *out = t;
    return 0;
  }
  double d;
  if (dm_num_double(s, len, &d) < 0) return DM_INGEST_NOT_NUMBER;
  if (!isfinite(d)) return DM_INGEST_OUT_OF_RANGE;
  double f = floor(d);
  if (f != d && !floor_reals) return DM_INGEST_NOT_INTEGER;
  /* converting a double outside [-2^63, 2^63) to int64 is undefined; comparing with
   * (double)lim->max_time is not enough, since INT64_MAX rounds up to 2^63 */
  if (!(f >= -0x1p63 && f < 0x1p63)) return DM_INGEST_OUT_OF_RANGE;
  int64_t t = (int64_t)f;
  if (t < lim->min_time || t > lim->max_time) return DM_INGEST_OUT_OF_RANGE;
  *out = t;
  return 0;
}

const char *dm_ingest_show_char(char buf[8], char c) {
  unsigned char u = (unsigned char)c;
  if (u >= 0x20 && u < 0x7f && u != '\'' && u != '\\') snprintf(buf, 8, "'%c'", c);
  else snprintf(buf, 8, "'\\x%02x'", u);
  return buf;
}

const char *dm_ingest_show(char buf[48], const char *s, size_t len, size_t max) {
  size_t n = len > max ? max : len, i;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    buf[i] = c >= 0x20 && c < 0x7f && c != '"' ? (char)c : '?';
  }
  if (n < len) buf[i++] = '.', buf[i++] = '.', buf[i++] = '.';
  buf[i] = '\0';
  return buf;
}
