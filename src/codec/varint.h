/* varint.h — LEB128 varints and zigzag, shared by the codec's files (private header). */
#ifndef DIAMOND_CODEC_VARINT_H
#define DIAMOND_CODEC_VARINT_H

#include <stddef.h>
#include <stdint.h>

#define VARINT_MAX 10

static inline uint64_t zigzag(uint64_t v) { return (v << 1) ^ (0 - (v >> 63)); }
static inline uint64_t unzigzag(uint64_t u) { return (u >> 1) ^ (0 - (u & 1)); }

static inline size_t varint_len(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

static inline size_t put_varint(uint8_t *p, uint64_t v) {
  size_t n = 0;
  while (v >= 0x80) {
    p[n++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  p[n++] = (uint8_t)v;
  return n;
}

/* Returns bytes read, 0 on truncation or an over-long (> 64-bit) encoding. */
static inline size_t get_varint(const uint8_t *p, size_t len, uint64_t *out) {
  uint64_t v = 0;
  for (size_t i = 0; i < len && i < VARINT_MAX; i++) {
    uint64_t b = p[i];
    if (i == 9 && b > 1) return 0;
    v |= (b & 0x7f) << (7 * i);
    if (b < 0x80) {
      *out = v;
      return i + 1;
    }
  }
  return 0;
}

#endif
