/* point.h — points, series ranges and the batch: the unit every ingest path fills and the
 * WAL and the cache consume.
 *
 * A batch keeps its series names in one arena and its entries in one array, so a parser
 * appends without a malloc per point. Times in a batch are already floored to the step.
 */
#ifndef DIAMOND_POINT_H
#define DIAMOND_POINT_H

#include <stddef.h>
#include <stdint.h>

typedef struct dm_point {
  int64_t t; /* Unix seconds, floored to the step */
  double v;  /* finite */
} dm_point;

typedef struct dm_batch_entry {
  uint32_t name_off; /* into dm_batch.names */
  uint32_t name_len;
  int64_t t;
  double v;
} dm_batch_entry;

typedef struct dm_batch {
  dm_batch_entry *e;
  size_t n, cap;
  char *names; /* arena; names are NOT NUL-terminated */
  size_t names_len, names_cap;
} dm_batch;

void dm_batch_init(dm_batch *b);
void dm_batch_reset(dm_batch *b); /* n = 0, keeps the memory */
void dm_batch_free(dm_batch *b);
/* Appends one point; the name is copied. Returns 0 or DM_ENOMEM. */
int dm_batch_add(dm_batch *b, const char *name, size_t name_len, int64_t t, double v);
/* Appends a point whose name is the same as entry `prev` (no copy). */
int dm_batch_add_same(dm_batch *b, size_t prev, int64_t t, double v);
static inline const char *dm_batch_name(const dm_batch *b, size_t i, size_t *len) {
  *len = b->e[i].name_len;
  return b->names + b->e[i].name_off;
}

/* Wire form used by the WAL: count, then per entry varint name length, name, int64 time
 * (zigzag varint), double (8 bytes little-endian). dm_batch_encoded_size() is exact. */
size_t dm_batch_encoded_size(const dm_batch *b);
size_t dm_batch_encode(const dm_batch *b, uint8_t *out);
int dm_batch_decode(dm_batch *b, const uint8_t *in, size_t len); /* appends; DM_ECORRUPT */

/* Sorts points by time and keeps the LAST occurrence of each time (stable: later input
 * wins). Returns the new count. */
size_t dm_points_sort_dedup(dm_point *p, size_t n);

/* Merges two sorted, de-duplicated runs into out (capacity na + nb); on equal times the
 * point from `hi` (the higher-precedence tier) wins. Returns the count written. */
size_t dm_points_merge(const dm_point *hi, size_t nhi, const dm_point *lo, size_t nlo,
                       dm_point *out);

static inline int64_t dm_floor(int64_t t, int64_t unit) {
  int64_t r = t % unit;
  return r < 0 ? t - r - unit : t - r;
}

#endif
