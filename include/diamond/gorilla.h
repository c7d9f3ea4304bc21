/* gorilla.h — the chunk codec: one window (table item) or one series-day (blob chunk) of
 * points in Gorilla encoding (delta-of-delta times, XOR'd values; Pelkonen et al., VLDB
 * 2015). The byte layout is described at the top of src/codec/gorilla.c.
 */
#ifndef DIAMOND_GORILLA_H
#define DIAMOND_GORILLA_H

#include <stddef.h>
#include <stdint.h>

#include "diamond/point.h"

#define DM_CHUNK_VERSION 1

/* Upper bound of the encoded size of n points. */
size_t dm_chunk_bound(size_t n);
/* Encodes n points, sorted by strictly increasing time. Returns the byte count (> 0) or
 * DM_EINVAL (unsorted, duplicate times) / DM_ERANGE (cap too small). n may be 0. */
int dm_chunk_encode(const dm_point *p, size_t n, uint8_t *out, size_t cap);
/* Reads the header: point count, first and last time (last needs a full decode and is
 * optional: pass NULL). Returns 0 or DM_ECORRUPT. */
int dm_chunk_info(const uint8_t *in, size_t len, size_t *count, int64_t *first);
/* Decodes into out (capacity cap >= count). Returns the count or DM_ECORRUPT/DM_ERANGE.
 * Never reads past len, whatever the input bytes. */
int dm_chunk_decode(const uint8_t *in, size_t len, dm_point *out, size_t cap);

#endif
