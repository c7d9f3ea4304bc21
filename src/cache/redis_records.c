/* redis_records.c — the 16-byte record codec of Redis window values (redis_records.h). */
#include <string.h>

#include "diamond/error.h"
#include "redis_records.h"

static void put_be64(unsigned char *p, uint64_t x) {
  for (int i = 7; i >= 0; i--, x >>= 8) p[i] = (unsigned char)x;
}

static uint64_t get_be64(const unsigned char *p) {
  uint64_t x = 0;
  for (int i = 0; i < 8; i++) x = x << 8 | p[i];
  return x;
}

void dm_rr_put(unsigned char out[DM_RR_SIZE], int64_t t, double v) {
  uint64_t bits;
  memcpy(&bits, &v, sizeof bits);
  put_be64(out, (uint64_t)t);
  put_be64(out + 8, bits);
}

int dm_rr_decode(const void *in, size_t len, dm_point *out, size_t *n) {
  *n = 0;
  if (len % DM_RR_SIZE != 0) return DM_ECORRUPT;
  const unsigned char *p = in;
  size_t k = len / DM_RR_SIZE;
  for (size_t i = 0; i < k; i++, p += DM_RR_SIZE) {
    uint64_t bits = get_be64(p + 8);
    out[i].t = (int64_t)get_be64(p);
    memcpy(&out[i].v, &bits, sizeof bits);
  }
  *n = dm_points_sort_dedup(out, k);
  return 0;
}
