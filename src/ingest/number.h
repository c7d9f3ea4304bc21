/* number.h — strict decimal number parsing shared by the ingest parsers (internal).
 *
 * Accepts [+-]digits[.digits][(e|E)[+-]digits] (at least one mantissa digit; "1." and ".5"
 * too, as Graphite's float() does). JSON numbers are a subset. No hex, inf, nan or spaces.
 */
#ifndef DIAMOND_INGEST_NUMBER_H
#define DIAMOND_INGEST_NUMBER_H

#include <stddef.h>
#include <stdint.h>

enum {
  DM_NUM_INT = 1,  /* no '.' and no exponent: an integer literal */
  DM_NUM_REAL = 2, /* has a fraction or an exponent */
};

/* 0 if s is not a number; else DM_NUM_INT or DM_NUM_REAL. */
int dm_num_kind(const char *s, size_t len);
/* Parses a number (dm_num_kind() != 0) to the nearest double; 0 or -1 (not a number, or
 * out of memory for a very long literal). Overflow gives ±inf, as strtod does. */
int dm_num_double(const char *s, size_t len, double *out);
/* Parses an integer literal (DM_NUM_INT) into *out; 0, or -1 if it does not fit. */
int dm_num_int64(const char *s, size_t len, int64_t *out);

#endif
