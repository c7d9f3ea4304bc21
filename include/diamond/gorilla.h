/* gorilla.h — the chunk codec: one window (table item) or one series-day (blob chunk) of
 * points in Gorilla encoding (delta-of-delta times, XOR'd values; Pelkonen et al., VLDB
 * 2015), with an exact decimal mode for values like 12.34. The byte layout is described at
 * the top of src/codec/gorilla.c.
 *
 * Round trips are bit-exact for every double (+0.0 and -0.0, denormals, DBL_MAX, even NaN
 * payloads) and every int64 time. All functions are pure and thread-safe.
 */
#ifndef DIAMOND_GORILLA_H
#define DIAMOND_GORILLA_H

#include <stddef.h>
#include <stdint.h>

#include "diamond/point.h"

#define DM_CHUNK_VERSION 1

/* Upper bound of the encoded size of n points (about 18 bytes a point, 2 for n = 0).
 * Typical chunks are far smaller: ~0.3 bytes a point for a steady counter. */
size_t dm_chunk_bound(size_t n);
/* Encodes n points, sorted by strictly increasing time. Returns the byte count (> 0) or
 * DM_EINVAL (unsorted, duplicate times, n > INT_MAX) / DM_ERANGE (cap too small). n may
 * be 0. cap >= dm_chunk_bound(n) always suffices. */
int dm_chunk_encode(const dm_point *p, size_t n, uint8_t *out, size_t cap);
/* The same, always in XOR value mode: the Gorilla paper's encoding, the baseline
 * bench/codec_bench.c compares against. Decoded by dm_chunk_decode like any chunk. */
int dm_chunk_encode_xor(const dm_point *p, size_t n, uint8_t *out, size_t cap);
/* Reads the header only (no decode): point count and first time (0 when count is 0); either
 * pointer may be NULL. Returns 0 or DM_ECORRUPT. */
int dm_chunk_info(const uint8_t *in, size_t len, size_t *count, int64_t *first);
/* Decodes into out (capacity cap >= count). Returns the count or DM_ECORRUPT/DM_ERANGE.
 * Never reads past len, whatever the input bytes; decoded times strictly increase. */
int dm_chunk_decode(const uint8_t *in, size_t len, dm_point *out, size_t cap);

#endif
