/* test_ingest_number.c — the strict number parser behind both ingest formats: syntax,
 * integer limits, and bit-for-bit agreement of the fast double path with strtod. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/ingest/number.h"

static int kind(const char *s) { return dm_num_kind(s, strlen(s)); }

static void test_kind(void **state) {
  (void)state;
  assert_int_equal(kind("0"), DM_NUM_INT);
  assert_int_equal(kind("-12"), DM_NUM_INT);
  assert_int_equal(kind("+12"), DM_NUM_INT);
  assert_int_equal(kind("1.0"), DM_NUM_REAL);
  assert_int_equal(kind("1e3"), DM_NUM_REAL);
  assert_int_equal(kind("1E-3"), DM_NUM_REAL);
  assert_int_equal(kind(".5"), DM_NUM_REAL);
  assert_int_equal(kind("5."), DM_NUM_REAL);
  const char *bad[] = {"", "-", "+", ".", "e5", "1e", "1e+", "1.2.3", "0x10", "1 ", " 1",
                       "inf", "nan", "1_000", "--1", "1e5.0", "1,5"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) assert_int_equal(kind(bad[i]), 0);
}

static int64_t int64_of(const char *s, int *rc) {
  int64_t v = 12345;
  *rc = dm_num_int64(s, strlen(s), &v);
  return v;
}

static void test_int64(void **state) {
  (void)state;
  int rc;
  assert_true(int64_of("0", &rc) == 0 && rc == 0);
  assert_true(int64_of("-1", &rc) == -1 && rc == 0);
  assert_true(int64_of("+1700000000", &rc) == 1700000000 && rc == 0);
  assert_true(int64_of("9223372036854775807", &rc) == INT64_MAX && rc == 0);
  assert_true(int64_of("-9223372036854775808", &rc) == INT64_MIN && rc == 0);
  int64_of("9223372036854775808", &rc);
  assert_int_equal(rc, -1);
  int64_of("-9223372036854775809", &rc);
  assert_int_equal(rc, -1);
  int64_of("99999999999999999999999", &rc);
  assert_int_equal(rc, -1);
  int64_of("1.0", &rc);
  assert_int_equal(rc, -1);
  int64_of("", &rc);
  assert_int_equal(rc, -1);
  int64_of("-", &rc);
  assert_int_equal(rc, -1);
}

static void same_as_strtod(const char *s) {
  double got = 0, want = strtod(s, NULL);
  assert_int_equal(dm_num_double(s, strlen(s), &got), 0);
  if (memcmp(&got, &want, sizeof got) != 0) fail_msg("%s: got %.17g want %.17g", s, got, want);
}

static void test_double_fixed(void **state) {
  (void)state;
  const char *lits[] = {
      "0", "-0", "0.0", "-0.0", "0e10", "1", "-1", "1.5", "0.1", "0.2", "0.3", "123.456",
      "9007199254740992", "9007199254740993", "9007199254740991.5", "1e22", "1e23", "1e-22",
      "1e-23", "1.7976931348623157e308", "1.8e308", "4.9e-324", "2.4e-324", "1e-400",
      "2.2250738585072014e-308", "123456789012345678", "1234567890123456789",
      "12345678901234567890123", "0.000000000000000000000000000001", "3.14159265358979323846",
      "100000000000000000000000000000000000", "1.00000000000000011102230246251565404236316680908203125",
      "7.038531e-26", "5e-324", "+2.5", ".5", "5.", "00012.500", "1E+2"};
  for (size_t i = 0; i < sizeof lits / sizeof *lits; i++) same_as_strtod(lits[i]);
  double d = 1;
  assert_int_equal(dm_num_double("1e999", 5, &d), 0);
  assert_true(isinf(d) && d > 0);
  assert_int_equal(dm_num_double("-1e999", 6, &d), 0);
  assert_true(isinf(d) && d < 0);
  assert_int_equal(dm_num_double("abc", 3, &d), -1);
  assert_int_equal(dm_num_double("", 0, &d), -1);
}

static void test_double_long_literal(void **state) {
  (void)state;
  char s[400];
  memset(s, '1', sizeof s - 1); /* longer than the stack copy: the heap path */
  s[sizeof s - 1] = '\0';
  s[200] = '.';
  same_as_strtod(s);
}

/* A huge exponent is capped while reading; with as many leading fraction zeros the capped
 * exponent minus the zeros used to land in the fast path's range: "0.<99990 zeros>1e1000000"
 * gave 1e9 instead of inf (found while writing tests/fuzz/fuzz_graphite.c). */
static void test_double_capped_exponent(void **state) {
  (void)state;
  const size_t zeros = 99990;
  char *s = malloc(zeros + 64);
  assert_non_null(s);
  size_t n = (size_t)sprintf(s, "0.");
  memset(s + n, '0', zeros);
  n += zeros;
  strcpy(s + n, "1e1000000");
  same_as_strtod(s); /* inf */
  strcpy(s + n, "1e99999");
  same_as_strtod(s); /* not capped: 1e-99991 * 1e99999 = 1e8, on the fast path */
  strcpy(s + n, "1e9999999999999999999999");
  same_as_strtod(s);
  free(s);
}

static uint64_t rng = 88172645463325252ULL; /* xorshift64: a fixed sequence */
static uint64_t next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

/* Random decimals: 1-20 digits, a '.' anywhere (or none), sometimes an exponent. */
static void test_double_random(void **state) {
  (void)state;
  char s[64];
  for (int i = 0; i < 200000; i++) {
    size_t n = 0, digits = next() % 20 + 1, dot = next() % (digits + 2);
    if (next() & 1) s[n++] = '-';
    for (size_t d = 0; d < digits; d++) {
      if (d == dot && d > 0) s[n++] = '.';
      s[n++] = (char)('0' + next() % 10);
    }
    if (next() % 3 == 0)
      n += (size_t)snprintf(s + n, sizeof s - n, "e%d", (int)(next() % 61) - 30);
    s[n] = '\0';
    same_as_strtod(s);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_kind),
      cmocka_unit_test(test_int64),
      cmocka_unit_test(test_double_fixed),
      cmocka_unit_test(test_double_long_literal),
      cmocka_unit_test(test_double_capped_exponent),
      cmocka_unit_test(test_double_random),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
