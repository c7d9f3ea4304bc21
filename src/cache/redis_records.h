/* redis_records.h — the value of a Redis window key: a string of 16-byte records, each a
 * big-endian int64 time then the IEEE-754 double's bits big-endian, in append order.
 * Appending the same time again overwrites (the LAST record of a time wins). */
#ifndef DIAMOND_REDIS_RECORDS_H
#define DIAMOND_REDIS_RECORDS_H

#include <stddef.h>
#include <stdint.h>

#include "diamond/point.h"

#define DM_RR_SIZE 16

void dm_rr_put(unsigned char out[DM_RR_SIZE], int64_t t, double v);
/* Decodes len bytes into out (capacity len / DM_RR_SIZE): sorted by time, one point per
 * time, the last record of each time kept. *n gets the count. Returns 0, or DM_ECORRUPT
 * (nothing decoded) when len is not a multiple of DM_RR_SIZE (a torn value). */
int dm_rr_decode(const void *in, size_t len, dm_point *out, size_t *n);

#endif
