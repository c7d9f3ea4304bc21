/* test_codec.c — the Gorilla chunk codec: exact bytes of small chunks, bit-exact round
 * trips of edge values and times, the three value modes, capacity errors, and robustness
 * against truncated, bit-flipped and random input. */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "diamond/error.h"
#include "diamond/gorilla.h"
#include "diamond/point.h"

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;
static uint64_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

static uint64_t bits_of(double v) {
  uint64_t u;
  memcpy(&u, &v, sizeof u);
  return u;
}

static double from_bits(uint64_t u) {
  double v;
  memcpy(&v, &u, sizeof v);
  return v;
}

/* encodes into a buffer of exactly dm_chunk_bound(n) bytes (ASan catches overruns) */
static uint8_t *encode(const dm_point *p, size_t n, int *len) {
  size_t cap = dm_chunk_bound(n);
  uint8_t *buf = malloc(cap);
  assert_non_null(buf);
  *len = dm_chunk_encode(p, n, buf, cap);
  assert_true(*len > 0);
  assert_true((size_t)*len <= cap);
  return buf;
}

/* encode, decode into an exactly sized array, compare bit for bit; returns the size */
static int round_trip(const dm_point *p, size_t n) {
  int len;
  uint8_t *buf = encode(p, n, &len);
  size_t count = 99;
  int64_t first = 99;
  assert_int_equal(dm_chunk_info(buf, (size_t)len, &count, &first), 0);
  assert_int_equal(count, n);
  assert_true(first == (n > 0 ? p[0].t : 0));
  dm_point *out = malloc((n > 0 ? n : 1) * sizeof *out);
  assert_non_null(out);
  assert_int_equal(dm_chunk_decode(buf, (size_t)len, out, n), (int)n);
  for (size_t i = 0; i < n; i++) {
    if (out[i].t != p[i].t || bits_of(out[i].v) != bits_of(p[i].v)) {
      fail_msg("point %zu: got (%lld, %a) want (%lld, %a)", i, (long long)out[i].t,
               out[i].v, (long long)p[i].t, p[i].v);
    }
  }
  free(out);
  free(buf);
  return len;
}

static void test_empty(void **state) {
  (void)state;
  uint8_t buf[2];
  assert_int_equal(dm_chunk_bound(0), 2);
  assert_int_equal(dm_chunk_encode(NULL, 0, buf, sizeof buf), 2);
  assert_int_equal(buf[0], 0x01);
  assert_int_equal(buf[1], 0x00);
  size_t count = 7;
  int64_t first = 7;
  assert_int_equal(dm_chunk_info(buf, 2, &count, &first), 0);
  assert_int_equal(count, 0);
  assert_int_equal(first, 0);
  assert_int_equal(dm_chunk_decode(buf, 2, NULL, 0), 0);
  assert_int_equal(dm_chunk_encode(NULL, 0, buf, 1), DM_ERANGE);
  uint8_t longer[3] = {0x01, 0x00, 0x00}; /* trailing byte */
  assert_int_equal(dm_chunk_decode(longer, 3, NULL, 0), DM_ECORRUPT);
}

static void test_one_point_bytes(void **state) {
  (void)state;
  dm_point p = {60, 1.0};
  uint8_t buf[32];
  /* decimal mode 1, n 1, zigzag(60) = 120, e 0, zigzag(1) = 2 */
  const uint8_t want[] = {0x11, 0x01, 0x78, 0x00, 0x02};
  assert_int_equal(dm_chunk_encode(&p, 1, buf, sizeof buf), sizeof want);
  assert_memory_equal(buf, want, sizeof want);
  dm_point out;
  assert_int_equal(dm_chunk_decode(buf, sizeof want, &out, 1), 1);
  assert_int_equal(out.t, 60);
  assert_true(bits_of(out.v) == bits_of(1.0));

  /* -0.0 is not m / 10^e: XOR mode, the raw bits little-endian */
  p.v = -0.0;
  const uint8_t want_xor[] = {0x01, 0x01, 0x78, 0, 0, 0, 0, 0, 0, 0, 0x80};
  assert_int_equal(dm_chunk_encode(&p, 1, buf, sizeof buf), sizeof want_xor);
  assert_memory_equal(buf, want_xor, sizeof want_xor);
  assert_int_equal(dm_chunk_decode(buf, sizeof want_xor, &out, 1), 1);
  assert_true(bits_of(out.v) == bits_of(-0.0));
}

static void test_regular_bytes(void **state) {
  (void)state;
  dm_point p[4] = {{0, 1.0}, {60, 1.0}, {120, 1.0}, {180, 1.0}};
  uint8_t buf[64];
  /* header 11 04 00 00 02; bits: dod 60 = 10 0111100, value 0, then 00 00, padding */
  const uint8_t want[] = {0x11, 0x04, 0x00, 0x00, 0x02, 0x9E, 0x00};
  assert_int_equal(dm_chunk_encode(p, 4, buf, sizeof buf), sizeof want);
  assert_memory_equal(buf, want, sizeof want);
  assert_int_equal(round_trip(p, 4), sizeof want);
}

static void test_edge_values(void **state) {
  (void)state;
  const double vals[] = {0.0,      -0.0,      0.0,     DBL_MAX, -DBL_MAX, DBL_MIN,
                         -DBL_MIN, 4.9e-324,  -4.9e-324, 2.225073858507201e-308,
                         1.0,      -1.0,      0.1,     1e308,   123456789.125,
                         9007199254740993.0, 9007199254740992.0, -0.0, -0.0, 0.0,
                         from_bits(0x7ff0000000000000ull), from_bits(0x7ff8000000000123ull)};
  size_t n = sizeof vals / sizeof vals[0];
  dm_point p[sizeof vals / sizeof vals[0]];
  for (size_t i = 0; i < n; i++) p[i] = (dm_point){1700000000 + 60 * (int64_t)i, vals[i]};
  round_trip(p, n);
  /* each pair alone, both orders */
  for (size_t i = 0; i < n; i++) {
    for (size_t j = 0; j < n; j++) {
      dm_point q[2] = {{-5, vals[i]}, {7, vals[j]}};
      round_trip(q, 2);
    }
  }
}

static void test_time_gaps(void **state) {
  (void)state;
  const int64_t ts[] = {INT64_MIN,   INT64_MIN + 1, -4000000001LL, -4000000000LL, -61, -1,
                        0,           1,             2,             4000000002LL,  4000000062LL,
                        4000000122LL, 8000000000LL, INT64_MAX - 1, INT64_MAX};
  size_t n = sizeof ts / sizeof ts[0];
  dm_point p[sizeof ts / sizeof ts[0]];
  for (size_t i = 0; i < n; i++) p[i] = (dm_point){ts[i], (double)i * 0.5};
  round_trip(p, n);
  dm_point extreme[2] = {{INT64_MIN, 1.0}, {INT64_MAX, 2.0}};
  round_trip(extreme, 2);
  dm_point gap[3] = {{1, 3.25}, {4000000001LL, -3.25}, {4000000002LL, 3.25}};
  round_trip(gap, 3);
  /* every dod bucket boundary, positive and negative */
  const int64_t dods[] = {63, 64, -64, -65, 2047, 2048, -2048, -2049, 524287, 524288,
                          -524288, -524289, 1LL << 40};
  for (size_t i = 0; i < sizeof dods / sizeof dods[0]; i++) {
    int64_t d0 = 600000000; /* large first delta so that d0 + dod stays positive */
    dm_point q[3] = {{0, 1}, {d0, 2}, {2 * d0 + dods[i], 3}};
    round_trip(q, 3);
  }
}

static void test_large_regular(void **state) {
  (void)state;
  size_t n = 100000;
  dm_point *p = malloc(n * sizeof *p);
  assert_non_null(p);
  for (size_t i = 0; i < n; i++) p[i] = (dm_point){1700000000 + 60 * (int64_t)i, 42.0};
  /* header: 11, varint 100000 (3), zigzag t0 (5), e (1), zigzag 42 (1); bits: the first
   * point 9 + 1, then 2 per point: 200006 bits = 25001 bytes */
  assert_int_equal(round_trip(p, n), 1 + 3 + 5 + 1 + 1 + 25001);

  /* a counter with a constant increment: second differences are 0 */
  for (size_t i = 0; i < n; i++) p[i].v = 1000.0 + 17.0 * (double)i;
  int len = round_trip(p, n);
  assert_true(len < 25100);

  /* 2-decimal random walk gauge: decimal mode, far below XOR's ~6 bytes a point */
  double v = 50.0;
  for (size_t i = 0; i < n; i++) {
    v += (double)((int64_t)(rnd() % 201) - 100) / 100.0;
    v = round(v * 100.0) / 100.0;
    p[i].v = v;
  }
  len = round_trip(p, n);
  assert_true((double)len / (double)n < 2.2);

  /* random doubles, irregular times: XOR mode */
  int64_t t = -1000000;
  for (size_t i = 0; i < n; i++) {
    t += 1 + (int64_t)(rnd() % 100000);
    p[i] = (dm_point){t, from_bits(rnd() & ~(0x7ffull << 52) /* finite */)};
  }
  round_trip(p, n);
  free(p);
}

static void test_mode_switches(void **state) {
  (void)state;
  /* decimal exponents 0..15, plus values that force XOR after the fact */
  dm_point p[64];
  for (int e = 0; e <= 17; e++) {
    double scale = pow(10.0, e);
    for (int i = 0; i < 64; i++) {
      int64_t m = 123456789 - 1000 * (int64_t)i * i;
      p[i] = (dm_point){60 * (int64_t)i, (double)m / scale};
    }
    round_trip(p, 64);
  }
  /* magnitude at the 2^53 limit and just above */
  for (int i = 0; i < 64; i++) p[i] = (dm_point){i, 9007199254740992.0 - (i % 2) * 2};
  round_trip(p, 64);
  for (int i = 0; i < 64; i++) p[i] = (dm_point){i, -9007199254740992.0 * ((i % 3) + 1)};
  round_trip(p, 64);
  /* counters with noise and jumps, gauges that repeat */
  for (int i = 0; i < 64; i++) p[i] = (dm_point){i * 10, (double)(i * 1000 + (i % 7))};
  round_trip(p, 64);
  for (int i = 0; i < 64; i++) p[i] = (dm_point){i * 10, (i / 8) % 2 ? 0.5 : 0.25};
  round_trip(p, 64);
}

static void test_bad_input_to_encode(void **state) {
  (void)state;
  uint8_t buf[256];
  dm_point unsorted[3] = {{0, 1}, {120, 2}, {60, 3}};
  assert_int_equal(dm_chunk_encode(unsorted, 3, buf, sizeof buf), DM_EINVAL);
  dm_point dup[3] = {{0, 1}, {60, 2}, {60, 3}};
  assert_int_equal(dm_chunk_encode(dup, 3, buf, sizeof buf), DM_EINVAL);
  assert_int_equal(dm_chunk_encode(NULL, 3, buf, sizeof buf), DM_EINVAL);

  /* out-of-order input goes through dm_points_sort_dedup (last write wins) first */
  dm_point mixed[6] = {{180, 4}, {0, 1}, {120, 3}, {60, 2}, {120, 33}, {0, 11}};
  size_t n = dm_points_sort_dedup(mixed, 6);
  assert_int_equal(n, 4);
  int len = dm_chunk_encode(mixed, n, buf, sizeof buf);
  assert_true(len > 0);
  dm_point out[4];
  assert_int_equal(dm_chunk_decode(buf, (size_t)len, out, 4), 4);
  const dm_point want[4] = {{0, 11}, {60, 2}, {120, 33}, {180, 4}};
  for (int i = 0; i < 4; i++) {
    assert_int_equal(out[i].t, want[i].t);
    assert_true(out[i].v == want[i].v);
  }
}

static void test_capacity(void **state) {
  (void)state;
  dm_point p[200];
  for (int i = 0; i < 200; i++) p[i] = (dm_point){i * 61 + (i % 5), sin(i) * 1e6};
  int len;
  uint8_t *full = encode(p, 200, &len);
  for (int cap = 0; cap < len; cap++) {
    uint8_t *buf = malloc((size_t)cap + 1);
    assert_int_equal(dm_chunk_encode(p, 200, buf, (size_t)cap), DM_ERANGE);
    free(buf);
  }
  uint8_t *exact = malloc((size_t)len);
  assert_int_equal(dm_chunk_encode(p, 200, exact, (size_t)len), len);
  assert_memory_equal(exact, full, (size_t)len);
  dm_point out[200];
  assert_int_equal(dm_chunk_decode(full, (size_t)len, out, 199), DM_ERANGE);
  assert_int_equal(dm_chunk_decode(full, (size_t)len, out, 200), 200);
  free(exact);
  free(full);
}

static void test_header_errors(void **state) {
  (void)state;
  size_t count;
  int64_t first;
  const uint8_t empty[1] = {0};
  assert_int_equal(dm_chunk_info(empty, 0, &count, &first), DM_ECORRUPT);
  assert_int_equal(dm_chunk_info(NULL, 0, &count, &first), DM_ECORRUPT);
  const uint8_t one[1] = {0x01};
  assert_int_equal(dm_chunk_info(one, 1, &count, &first), DM_ECORRUPT);
  const uint8_t bad_version[2] = {0x02, 0x00};
  assert_int_equal(dm_chunk_info(bad_version, 2, &count, &first), DM_ECORRUPT);
  const uint8_t bad_mode[2] = {0x31, 0x00};
  assert_int_equal(dm_chunk_info(bad_mode, 2, &count, &first), DM_ECORRUPT);
  /* a count of a billion in 5 bytes of chunk */
  const uint8_t huge[] = {0x11, 0x80, 0x94, 0xeb, 0xdc, 0x03, 0x00, 0x00, 0x00};
  assert_int_equal(dm_chunk_info(huge, sizeof huge, &count, &first), DM_ECORRUPT);
  /* over-long varint */
  const uint8_t overlong[] = {0x11, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
  assert_int_equal(dm_chunk_info(overlong, sizeof overlong, &count, &first), DM_ECORRUPT);
  /* decimal exponent 16 */
  const uint8_t bad_exp[] = {0x11, 0x01, 0x00, 0x10, 0x00};
  assert_int_equal(dm_chunk_info(bad_exp, sizeof bad_exp, &count, &first), DM_ECORRUPT);
  /* m0 = 2^53 + 1 */
  const uint8_t big_m[] = {0x11, 0x01, 0x00, 0x00, 0x82, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20};
  assert_int_equal(dm_chunk_info(big_m, sizeof big_m, &count, &first), DM_ECORRUPT);
  /* a time that does not increase: dod = -60 after t0 (10 1000100, value 0) */
  const uint8_t backwards[] = {0x11, 0x02, 0x00, 0x00, 0x02, 0xA2, 0x00};
  dm_point out[2];
  assert_int_equal(dm_chunk_info(backwards, sizeof backwards, &count, &first), 0);
  assert_int_equal(dm_chunk_decode(backwards, sizeof backwards, out, 2), DM_ECORRUPT);
  /* nonzero padding after the last point: 10 0111100 0 then 1 */
  const uint8_t padding[] = {0x11, 0x02, 0x00, 0x00, 0x02, 0x9E, 0x40};
  const uint8_t good[] = {0x11, 0x02, 0x00, 0x00, 0x02, 0x9E, 0x00};
  assert_int_equal(dm_chunk_decode(good, sizeof good, out, 2), 2);
  assert_int_equal(out[1].t, 60);
  assert_int_equal(dm_chunk_decode(padding, sizeof padding, out, 2), DM_ECORRUPT);
  /* XOR: dod 1 (10 0000001), then value '10' (reuse the window) before any window */
  const uint8_t no_window[] = {0x01, 0x02, 0x00, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0x80, 0xC0};
  assert_int_equal(dm_chunk_decode(no_window, sizeof no_window, out, 2), DM_ECORRUPT);
  const uint8_t same_value[] = {0x01, 0x02, 0x00, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0x80, 0x80};
  assert_int_equal(dm_chunk_decode(same_value, sizeof same_value, out, 2), 2);
  assert_int_equal(out[1].t, 1);
  assert_true(out[1].v == 1.0);
}

/* checks a decode result of arbitrary input */
static void check_decoded(int rc, const dm_point *out, size_t cap) {
  assert_true(rc == DM_ECORRUPT || rc == DM_ERANGE || (rc >= 0 && (size_t)rc <= cap));
  for (int i = 1; i < rc; i++) assert_true(out[i].t > out[i - 1].t);
}

static void test_fuzz(void **state) {
  (void)state;
  enum { N = 300 };
  dm_point *p = malloc(N * sizeof *p), *out = malloc(N * sizeof *out);
  assert_non_null(p);
  assert_non_null(out);
  for (int r = 0; r < 36; r++) {
    /* XOR values, a 2-decimal gauge, a counter; regular or irregular times */
    int64_t t = (int64_t)(rnd() % 4000000000ull) - 2000000000;
    double v = 10.0;
    for (int i = 0; i < N; i++) {
      t += r % 2 ? 60 : 1 + (int64_t)(rnd() % 5000);
      if (r % 3 == 0) v = from_bits(rnd() & ~(1ull << 62));
      else if (r % 3 == 1) v = round((v + (double)(rnd() % 100) / 100.0 - 0.5) * 100.0) / 100.0;
      else v += (double)(rnd() % 3);
      p[i] = (dm_point){t, v};
    }
    int len;
    uint8_t *chunk = encode(p, N, &len);

    /* every truncation is detected */
    for (int cut = 0; cut < len; cut++) {
      uint8_t *b = malloc(cut > 0 ? (size_t)cut : 1);
      memcpy(b, chunk, (size_t)cut);
      assert_int_equal(dm_chunk_decode(b, (size_t)cut, out, N), DM_ECORRUPT);
      free(b);
    }
    /* single bit flips (all of the header, a sample of the rest): an error or a
     * well-formed result, never a crash */
    /* len > 0 (encode asserted it), but GCC -O2 with ASan does not see that through
     * cmocka's assert and warns alloc-size-larger-than without the guard */
    uint8_t *b = malloc(len > 0 ? (size_t)len : 1);
    memcpy(b, chunk, (size_t)len);
    for (int k = 0; k < 1500; k++) {
      int bit = k < 256 ? k % (len * 8) : (int)(rnd() % (uint64_t)(len * 8));
      b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
      check_decoded(dm_chunk_decode(b, (size_t)len, out, N), out, N);
      b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    /* random bytes after a plausible first byte and count */
    for (int k = 0; k < 200; k++) {
      size_t glen = (size_t)(rnd() % (size_t)len) + 1;
      uint8_t *g = malloc(glen);
      for (size_t i = 0; i < glen; i++) g[i] = (uint8_t)rnd();
      if (k % 2 == 0) g[0] = (uint8_t)(0x01 + 0x10 * (rnd() % 3));
      if (k % 4 == 0 && glen > 1) g[1] = (uint8_t)(rnd() % 128);
      check_decoded(dm_chunk_decode(g, glen, out, N), out, N);
      free(g);
    }
    free(b);
    free(chunk);
  }
  free(p);
  free(out);
}

/* The XOR-only encoding (the paper's, the bench baseline) decodes like any chunk, and the
 * default encoder is never larger than it by more than its mode header. */
static void test_xor_only_mode(void **state) {
  (void)state;
  enum { N = 500 };
  dm_point p[N];
  for (int i = 0; i < N; i++) p[i] = (dm_point){1700000000 + 60 * i, (double)(i % 37) / 100.0};
  uint8_t a[8192], b[8192];
  int na = dm_chunk_encode(p, N, a, sizeof a), nb = dm_chunk_encode_xor(p, N, b, sizeof b);
  assert_true(na > 0 && nb > 0);
  assert_true(na < nb);
  dm_point out[N];
  assert_int_equal(dm_chunk_decode(b, (size_t)nb, out, N), N);
  assert_memory_equal(out, p, sizeof p);
  assert_int_equal(dm_chunk_encode_xor(p, 0, b, sizeof b) > 0, 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_empty),
      cmocka_unit_test(test_xor_only_mode),
      cmocka_unit_test(test_one_point_bytes),
      cmocka_unit_test(test_regular_bytes),
      cmocka_unit_test(test_edge_values),
      cmocka_unit_test(test_time_gaps),
      cmocka_unit_test(test_large_regular),
      cmocka_unit_test(test_mode_switches),
      cmocka_unit_test(test_bad_input_to_encode),
      cmocka_unit_test(test_capacity),
      cmocka_unit_test(test_header_errors),
      cmocka_unit_test(test_fuzz),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
