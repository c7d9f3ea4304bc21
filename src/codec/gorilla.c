/* gorilla.c — the chunk codec: the points of one window (table item) or one series-day
 * (blob chunk), encoded after Facebook's Gorilla (Pelkonen et al., VLDB 2015).
 *
 * Byte layout
 *
 *   byte 0     low nibble: DM_CHUNK_VERSION (1); high nibble: value mode
 *                0 XOR      values as Gorilla's XOR of IEEE bits
 *                1 DEC1     values are m / 10^e, m coded as first differences
 *                2 DEC2     values are m / 10^e, m coded as second differences
 *   varint     n, the point count (LEB128); n == 0 ends the chunk here
 *   varint     zigzag(t0)
 *   XOR:       8 bytes, the bits of v0, little-endian
 *   DEC1/2:    1 byte e (0..15), then varint zigzag(m0)
 *   bits       points 1..n-1, most significant bit first, each a time field then a
 *              value field; zero bits pad the last byte; the chunk ends there.
 *
 * Time field: delta-of-delta. D(i) = t(i) - t(i-1), D(0) = 0 (so the first field holds the
 * first delta itself), dod = D(i) - D(i-1), two's complement, wrapping in 64 bits:
 *
 *     0                      dod = 0              the usual case: a constant step
 *     10   + 7 bits          -64 .. 63            one missed or late step at <= 60 s
 *     110  + 12 bits         -2048 .. 2047        a gap of up to ~34 steps of 60 s
 *     1110 + 20 bits         -2^19 .. 2^19-1      about six days
 *     1111 + 64 bits         anything
 *
 * Gorilla's buckets (7/9/12/32 bits) were sized for irregular millisecond-ish deltas;
 * diamond's times are floored to a step (60 s by default), so the dod is 0 nearly always
 * and otherwise a multiple of the step: the second bucket covers gaps of tens of steps
 * and the third covers days, which keeps a chunk spanning outages small.
 *
 * Value field, XOR mode: x = bits(v(i)) ^ bits(v(i-1))
 *
 *     0                              x = 0 (same value)
 *     10  + m bits                   x fits the current window (L leading zeros, m bits)
 *     11  + 5 bits L + 6 bits m + m bits    new window; L <= 31, m = 64 is written as 0
 *
 * The encoder keeps the current window unless a new one is cheaper for this value.
 *
 * Value field, decimal modes. Gauges are mostly written with a few decimals ("12.34"),
 * and XOR of such doubles leaves ~40 meaningful bits: 6 bytes a point. When every value
 * of the chunk is exactly (IEEE division) m / 10^e with |m| <= 2^53 and e <= 15, the chunk
 * stores the integers m instead: DEC1 codes d = m(i) - m(i-1) (gauges, random walks),
 * DEC2 codes d - d_prev (counters at a steady rate), both with these buckets:
 *
 *     0                      0
 *     10   + 7 bits          -64 .. 63
 *     110  + 12 bits         -2048 .. 2047
 *     1110 + 24 bits         -2^23 .. 2^23-1
 *     1111 + 64 bits         anything
 *
 * The encoder checks every value (bit-exact, so -0.0, NaN and infinities never qualify)
 * and picks the cheapest of XOR, DEC1 and DEC2 by counting bits; the decoder divides by
 * the same exact power of ten, so the round trip is exact bit for bit.
 *
 * Decoding is defensive: the header's count must be possible within len (every point after
 * the first takes at least 2 bits), the reader never loads a byte past len (it reads zero
 * bits there and counts them), times must strictly increase, decimal integers must stay
 * within 2^53, and the stream must end exactly at len with zero padding. Anything else is
 * DM_ECORRUPT. The reader refills a 64-bit register 7 bytes at a time and takes a fast path
 * for the common "0 0" point (same step, same value or same rate).
 */
#include "diamond/gorilla.h"

#include <limits.h>
#include <string.h>

#include "diamond/error.h"
#include "varint.h"

enum { MODE_XOR = 0, MODE_DEC1 = 1, MODE_DEC2 = 2 };

#define MAX_EXP 15
#define DEC_LIMIT (1ull << 53)
#define MAX_POINT_BITS 145 /* time 4 + 64, XOR value 2 + 5 + 6 + 64 */
#define HEADER_MAX (1 + 10 + 10 + 11)

/* bucket widths: time fields, decimal value fields */
#define T1 7
#define T2 12
#define T3 20
#define V1 7
#define V2 12
#define V3 24

static const double pow10_tab[MAX_EXP + 1] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                              1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};

static inline uint64_t dbits(double v) {
  uint64_t u;
  memcpy(&u, &v, sizeof u);
  return u;
}

static inline double bitsd(uint64_t u) {
  double v;
  memcpy(&v, &u, sizeof v);
  return v;
}

static inline uint64_t mask(unsigned k) { return k >= 64 ? ~0ull : (1ull << k) - 1; }
/* u, read as a two's complement number, fits in k bits (1 <= k <= 63) */
static inline int fits(uint64_t u, unsigned k) { return u + (1ull << (k - 1)) < (1ull << k); }
static inline uint64_t sign_extend(uint64_t x, unsigned k) {
  uint64_t m = 1ull << (k - 1);
  return (x ^ m) - m;
}

/* ---- bit writer ---- */

typedef struct bw {
  uint8_t *p, *end;
  uint64_t acc; /* pending bits in the low n bits */
  unsigned n;
  int full;
} bw;

static inline void put(bw *w, uint64_t v, unsigned k) { /* k <= 32 */
  w->acc = (w->acc << k) | v;
  w->n += k;
  while (w->n >= 8) {
    w->n -= 8;
    if (w->p < w->end) *w->p++ = (uint8_t)(w->acc >> w->n);
    else w->full = 1;
  }
}

static inline void put_long(bw *w, uint64_t v, unsigned k) { /* 1 <= k <= 64 */
  if (k > 32) {
    put(w, v >> 32 & mask(k - 32), k - 32);
    put(w, v & 0xffffffffull, 32);
  } else {
    put(w, v & mask(k), k);
  }
}

static void put_flush(bw *w) {
  if (w->n > 0) put(w, 0, 8 - w->n);
}

/* a bucketed signed field (time dod, decimal difference) */
static inline void put_field(bw *w, uint64_t u, unsigned b1, unsigned b2, unsigned b3) {
  if (u == 0) {
    put(w, 0, 1);
  } else if (fits(u, b1)) {
    put(w, (2ull << b1) | (u & mask(b1)), 2 + b1);
  } else if (fits(u, b2)) {
    put(w, (6ull << b2) | (u & mask(b2)), 3 + b2);
  } else if (fits(u, b3)) {
    put(w, (14ull << b3) | (u & mask(b3)), 4 + b3);
  } else {
    put(w, 15, 4);
    put_long(w, u, 64);
  }
}

static inline unsigned field_bits(uint64_t u, unsigned b1, unsigned b2, unsigned b3) {
  if (u == 0) return 1;
  if (fits(u, b1)) return 2 + b1;
  if (fits(u, b2)) return 3 + b2;
  if (fits(u, b3)) return 4 + b3;
  return 68;
}

/* XOR value field; (lead, mlen) is the current window (mlen 0: none yet). */
static inline unsigned xor_field(bw *w, uint64_t x, unsigned *lead, unsigned *mlen) {
  if (x == 0) {
    if (w) put(w, 0, 1);
    return 1;
  }
  unsigned l = (unsigned)__builtin_clzll(x), tz = (unsigned)__builtin_ctzll(x);
  if (l > 31) l = 31;
  unsigned m = 64 - l - tz;
  if (*mlen != 0 && l >= *lead && tz >= 64 - *lead - *mlen && *mlen <= m + 11) {
    if (w) {
      put(w, 2, 2);
      put_long(w, x >> (64 - *lead - *mlen), *mlen);
    }
    return 2 + *mlen;
  }
  *lead = l;
  *mlen = m;
  if (w) {
    put(w, (3u << 11) | (l << 6) | (m & 63), 13);
    put_long(w, x >> tz, m);
  }
  return 13 + m;
}

/* ---- choosing the value mode ---- */

/* v == m / 10^e exactly, |m| <= 2^53 */
static inline int dec_exact(double v, int e, int64_t *m) {
  double x = v * pow10_tab[e];
  if (!(x > -(double)DEC_LIMIT && x < (double)DEC_LIMIT)) return 0;
  int64_t k = (int64_t)(x < 0 ? x - 0.5 : x + 0.5);
  if (dbits((double)k / pow10_tab[e]) != dbits(v)) return 0;
  *m = k;
  return 1;
}

/* Finds the value mode with the fewest bits; *e is the decimal exponent. */
static int choose_mode(const dm_point *p, size_t n, int *e_out) {
  int e = 0;
  int64_t m;
  for (size_t i = 0; i < n; i++) {
    while (!dec_exact(p[i].v, e, &m)) {
      if (++e > MAX_EXP) return MODE_XOR;
    }
  }
  uint64_t c_xor = 0, c_dec1 = 0, c_dec2 = 0;
  unsigned lead = 0, mlen = 0;
  uint64_t prev_m = 0, prev_d = 0;
  for (size_t i = 0; i < n; i++) {
    if (!dec_exact(p[i].v, e, &m)) return MODE_XOR; /* exact at a smaller e only */
    if (i > 0) {
      uint64_t d = (uint64_t)m - prev_m;
      c_dec1 += field_bits(d, V1, V2, V3);
      c_dec2 += field_bits(d - prev_d, V1, V2, V3);
      c_xor += xor_field(NULL, dbits(p[i].v) ^ dbits(p[i - 1].v), &lead, &mlen);
      prev_d = d;
    }
    prev_m = (uint64_t)m;
  }
  *e_out = e;
  /* the decimal header is 1 byte e + varint m0 instead of 8 bytes: at most 3 bytes more */
  if (c_xor + 24 < c_dec1 && c_xor + 24 < c_dec2) return MODE_XOR;
  return c_dec2 < c_dec1 ? MODE_DEC2 : MODE_DEC1;
}

/* ---- encoder ---- */

size_t dm_chunk_bound(size_t n) {
  if (n == 0) return 2;
  return HEADER_MAX + ((n - 1) * MAX_POINT_BITS + 7) / 8;
}

static int encode(const dm_point *p, size_t n, uint8_t *out, size_t cap, int xor_only) {
  if (n > INT_MAX || (n > 0 && p == NULL)) return DM_EINVAL;
  for (size_t i = 1; i < n; i++)
    if (p[i].t <= p[i - 1].t) return DM_EINVAL;

  uint8_t hdr[HEADER_MAX];
  int e = 0;
  int mode = n > 0 && !xor_only ? choose_mode(p, n, &e) : MODE_XOR;
  size_t h = 0;
  hdr[h++] = (uint8_t)(DM_CHUNK_VERSION | mode << 4);
  h += put_varint(hdr + h, n);
  if (n > 0) {
    h += put_varint(hdr + h, zigzag((uint64_t)p[0].t));
    if (mode == MODE_XOR) {
      uint64_t b = dbits(p[0].v);
      for (int k = 0; k < 8; k++) hdr[h++] = (uint8_t)(b >> (8 * k));
    } else {
      int64_t m0 = 0;
      dec_exact(p[0].v, e, &m0);
      hdr[h++] = (uint8_t)e;
      h += put_varint(hdr + h, zigzag((uint64_t)m0));
    }
  }
  if (cap < h) return DM_ERANGE;
  memcpy(out, hdr, h);

  bw w = {.p = out + h, .end = out + cap};
  uint64_t delta = 0;
  if (mode == MODE_XOR) {
    unsigned lead = 0, mlen = 0;
    for (size_t i = 1; i < n && !w.full; i++) {
      uint64_t d = (uint64_t)p[i].t - (uint64_t)p[i - 1].t;
      put_field(&w, d - delta, T1, T2, T3);
      delta = d;
      xor_field(&w, dbits(p[i].v) ^ dbits(p[i - 1].v), &lead, &mlen);
    }
  } else {
    int64_t m = 0;
    uint64_t prev_m = 0, prev_d = 0;
    dec_exact(p[0].v, e, &m);
    prev_m = (uint64_t)m;
    for (size_t i = 1; i < n && !w.full; i++) {
      uint64_t d = (uint64_t)p[i].t - (uint64_t)p[i - 1].t;
      put_field(&w, d - delta, T1, T2, T3);
      delta = d;
      dec_exact(p[i].v, e, &m);
      uint64_t dv = (uint64_t)m - prev_m;
      put_field(&w, mode == MODE_DEC1 ? dv : dv - prev_d, V1, V2, V3);
      prev_d = dv;
      prev_m = (uint64_t)m;
    }
  }
  put_flush(&w);
  if (w.full) return DM_ERANGE;
  size_t total = (size_t)(w.p - out);
  if (total > INT_MAX) return DM_ERANGE;
  return (int)total;
}

int dm_chunk_encode(const dm_point *p, size_t n, uint8_t *out, size_t cap) {
  return encode(p, n, out, cap, 0);
}

int dm_chunk_encode_xor(const dm_point *p, size_t n, uint8_t *out, size_t cap) {
  return encode(p, n, out, cap, 1);
}

/* ---- decoder ---- */

typedef struct br {
  const uint8_t *p, *end;
  uint64_t acc; /* next bits, most significant first; n of them are valid */
  unsigned n;
  size_t virt; /* zero bits supplied past the end */
} br;

static inline uint64_t load_be64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  v = __builtin_bswap64(v);
#endif
  return v;
}

static void refill_slow(br *r) {
  while (r->n < 56) {
    if (r->p < r->end) r->acc |= (uint64_t)*r->p++ << (56 - r->n);
    else r->virt += 8;
    r->n += 8;
  }
}

/* Afterwards 56 <= n <= 63. Bits below the valid ones are either zero or the stream's
 * next bits, so or-ing a reload over them is harmless. */
static inline void refill(br *r) {
  if (r->end - r->p >= 8) {
    r->acc |= load_be64(r->p) >> r->n;
    r->p += (63 - r->n) >> 3;
    r->n |= 56;
  } else {
    refill_slow(r);
  }
}

static inline uint64_t take(br *r, unsigned k) { /* 1 <= k <= n */
  uint64_t v = r->acc >> (64 - k);
  r->acc <<= k;
  r->n -= k;
  return v;
}

static inline uint64_t take_long(br *r, unsigned k) { /* 1 <= k <= 64 */
  refill(r);
  if (k <= 56) return take(r, k);
  uint64_t hi = take(r, k - 32);
  refill(r);
  return hi << 32 | take(r, 32);
}

/* a bucketed field; needs n >= 24 on entry */
static inline uint64_t get_field(br *r, unsigned b1, unsigned b2, unsigned b3) {
  unsigned ones = (unsigned)__builtin_clzll(~r->acc | (1ull << 59));
  switch (ones) {
  case 0:
    take(r, 1);
    return 0;
  case 1:
    return sign_extend(take(r, 2 + b1) & mask(b1), b1);
  case 2:
    return sign_extend(take(r, 3 + b2) & mask(b2), b2);
  case 3:
    return sign_extend(take(r, 4 + b3) & mask(b3), b3);
  default:
    take(r, 4);
    return take_long(r, 64);
  }
}

typedef struct header {
  int mode, e;
  size_t n;
  uint64_t t0, v0; /* v0: bits (XOR) or m0 (decimal) */
  size_t size;     /* bytes before the bit stream */
} header;

static int parse_header(const uint8_t *in, size_t len, header *h) {
  if (in == NULL || len < 2) return DM_ECORRUPT;
  if ((in[0] & 15) != DM_CHUNK_VERSION || (in[0] >> 4) > MODE_DEC2) return DM_ECORRUPT;
  h->mode = in[0] >> 4;
  h->e = 0;
  h->t0 = h->v0 = 0;
  size_t off = 1, k;
  uint64_t n;
  if ((k = get_varint(in + off, len - off, &n)) == 0) return DM_ECORRUPT;
  off += k;
  if (n > INT_MAX) return DM_ECORRUPT;
  h->n = (size_t)n;
  if (n > 0) {
    uint64_t z;
    if ((k = get_varint(in + off, len - off, &z)) == 0) return DM_ECORRUPT;
    off += k;
    h->t0 = unzigzag(z);
    if (h->mode == MODE_XOR) {
      if (len - off < 8) return DM_ECORRUPT;
      for (int i = 0; i < 8; i++) h->v0 |= (uint64_t)in[off + i] << (8 * i);
      off += 8;
    } else {
      if (off >= len || in[off] > MAX_EXP) return DM_ECORRUPT;
      h->e = in[off++];
      if ((k = get_varint(in + off, len - off, &z)) == 0) return DM_ECORRUPT;
      off += k;
      h->v0 = unzigzag(z);
      if (h->v0 + DEC_LIMIT > 2 * DEC_LIMIT) return DM_ECORRUPT;
    }
    /* every point after the first takes at least 2 bits */
    if ((n - 1 + 3) / 4 > len - off) return DM_ECORRUPT;
  } else if (off != len) {
    return DM_ECORRUPT;
  }
  h->size = off;
  return 0;
}

int dm_chunk_info(const uint8_t *in, size_t len, size_t *count, int64_t *first) {
  header h;
  int rc = parse_header(in, len, &h);
  if (rc < 0) return rc;
  if (count) *count = h.n;
  if (first) *first = (int64_t)h.t0;
  return 0;
}

/* the stream must end exactly at len, padded with zero bits */
static int check_end(br *r, const uint8_t *stream, size_t stream_len) {
  size_t used = (size_t)(r->p - stream) * 8 + r->virt - r->n;
  if (used > stream_len * 8 || (used + 7) / 8 != stream_len) return DM_ECORRUPT;
  unsigned pad = (unsigned)((8 - used % 8) % 8);
  if (pad > 0) {
    refill(r);
    if (take(r, pad) != 0) return DM_ECORRUPT;
  }
  return 0;
}

#define SIGN (1ull << 63)
/* strictly increasing as signed 64-bit numbers */
#define AFTER(a, b) (((a) ^ SIGN) > ((b) ^ SIGN))

static int decode_xor(br *r, const header *h, dm_point *out) {
  uint64_t t = h->t0, delta = 0, v = h->v0;
  unsigned lead = 0, mlen = 0;
  for (size_t i = 1; i < h->n; i++) {
    refill(r);
    if ((r->acc >> 62) == 0) {
      r->acc <<= 2;
      r->n -= 2;
    } else {
      delta += get_field(r, T1, T2, T3);
      refill(r);
      if (take(r, 1)) {
        if (take(r, 1)) {
          lead = (unsigned)take(r, 5);
          mlen = (unsigned)take(r, 6);
          if (mlen == 0) mlen = 64;
          if (lead + mlen > 64) return DM_ECORRUPT;
        } else if (mlen == 0) {
          return DM_ECORRUPT;
        }
        v ^= take_long(r, mlen) << (64 - lead - mlen);
      }
    }
    uint64_t nt = t + delta;
    if (!AFTER(nt, t)) return DM_ECORRUPT;
    t = nt;
    out[i].t = (int64_t)t;
    out[i].v = bitsd(v);
  }
  return 0;
}

static int decode_dec(br *r, const header *h, dm_point *out) {
  uint64_t t = h->t0, delta = 0, m = h->v0, d = 0;
  const double scale = pow10_tab[h->e];
  const int dod = h->mode == MODE_DEC2;
  double v = out[0].v;
  for (size_t i = 1; i < h->n; i++) {
    refill(r);
    if ((r->acc >> 62) == 0) {
      r->acc <<= 2;
      r->n -= 2;
      if (dod && d != 0) {
        m += d;
        if (m + DEC_LIMIT > 2 * DEC_LIMIT) return DM_ECORRUPT;
        v = (double)(int64_t)m / scale;
      }
    } else {
      delta += get_field(r, T1, T2, T3);
      refill(r);
      uint64_t x = get_field(r, V1, V2, V3);
      if (dod) d += x;
      else d = x;
      if (d != 0) {
        m += d;
        if (m + DEC_LIMIT > 2 * DEC_LIMIT) return DM_ECORRUPT;
        v = (double)(int64_t)m / scale;
      }
    }
    uint64_t nt = t + delta;
    if (!AFTER(nt, t)) return DM_ECORRUPT;
    t = nt;
    out[i].t = (int64_t)t;
    out[i].v = v;
  }
  return 0;
}

int dm_chunk_decode(const uint8_t *in, size_t len, dm_point *out, size_t cap) {
  header h;
  int rc = parse_header(in, len, &h);
  if (rc < 0) return rc;
  if (h.n == 0) return 0;
  if (cap < h.n || out == NULL) return DM_ERANGE;
  out[0].t = (int64_t)h.t0;
  out[0].v = h.mode == MODE_XOR ? bitsd(h.v0) : (double)(int64_t)h.v0 / pow10_tab[h.e];
  br r = {.p = in + h.size, .end = in + len};
  rc = h.mode == MODE_XOR ? decode_xor(&r, &h, out) : decode_dec(&r, &h, out);
  if (rc < 0) return rc;
  rc = check_end(&r, in + h.size, len - h.size);
  if (rc < 0) return rc;
  return (int)h.n;
}
