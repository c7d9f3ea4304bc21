/* test_core_buf.c — the reply buffer: JSON strings and numbers exactly as emitted. */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "diamond/buf.h"

static void expect_double(double v, const char *want) {
  dm_buf b;
  dm_buf_init(&b);
  dm_buf_json_double(&b, v);
  assert_non_null(b.p);
  assert_string_equal(b.p, want);
  dm_buf_free(&b);
}

static void doubles_exact(void **state) {
  (void)state;
  expect_double(0, "0");
  expect_double(-0.0, "-0");
  expect_double(1, "1");
  expect_double(-42, "-42");
  expect_double(1.5, "1.5");
  expect_double(1.05, "1.05");
  expect_double(-0.001, "-0.001");
  expect_double(123456.789, "123456.789");
  expect_double(0.1, "0.1");
  expect_double(1e15, "1000000000000000");
  expect_double(NAN, "null");
  expect_double(INFINITY, "null");
  expect_double(1.0 / 3, "0.3333333333333333");
}

static void doubles_round_trip(void **state) {
  (void)state;
  const double v[] = {DBL_MAX, DBL_MIN, 4.9e-324, 1e-7, 0.1 + 0.2, 9007199254740993.0,
                      1e16, -1e300, 3.141592653589793, 2.5e-5, 99.99, 1e21};
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    dm_buf b;
    dm_buf_init(&b);
    dm_buf_json_double(&b, v[i]);
    assert_true(strtod(b.p, NULL) == v[i]);
    dm_buf_free(&b);
  }
  srand(3);
  for (int i = 0; i < 100000; i++) { /* random decimals and random bit patterns */
    double x = (double)(rand() % 2000001 - 1000000) / (double)(1 << (rand() % 12));
    if (i % 2) {
      uint64_t bits = ((uint64_t)rand() << 33) ^ ((uint64_t)rand() << 11) ^ (uint64_t)rand();
      memcpy(&x, &bits, sizeof x);
      if (!isfinite(x)) continue;
    }
    dm_buf b;
    dm_buf_init(&b);
    dm_buf_json_double(&b, x);
    assert_true(strtod(b.p, NULL) == x);
    dm_buf_free(&b);
  }
}

static void integers_and_strings(void **state) {
  (void)state;
  dm_buf b;
  dm_buf_init(&b);
  dm_buf_i64(&b, 0);
  dm_buf_add(&b, " ", 1);
  dm_buf_i64(&b, INT64_MIN);
  dm_buf_add(&b, " ", 1);
  dm_buf_i64(&b, INT64_MAX);
  dm_buf_add(&b, " ", 1);
  dm_buf_json_str(&b, "a\"b\\c\n\x01", 7);
  assert_string_equal(b.p, "0 -9223372036854775808 9223372036854775807 \"a\\\"b\\\\c\\n\\u0001\"");
  size_t len;
  char *s = dm_buf_steal(&b, &len);
  assert_int_equal(len, strlen(s));
  assert_null(b.p);
  free(s);
}

static void expect_str(const char *in, size_t len, const char *want) {
  dm_buf b;
  dm_buf_init(&b);
  dm_buf_json_str(&b, in, len);
  assert_non_null(b.p);
  assert_string_equal(b.p, want);
  dm_buf_free(&b);
}

/* Strings echoed from a request (a path, a hostId) may hold any byte: the reply must still
 * be valid JSON, so well-formed UTF-8 passes and every other byte >= 0x80 is U+FFFD. */
static void strings_utf8(void **state) {
  (void)state;
  expect_str("h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 12,
             "\"h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
  expect_str("/\xff\xfe", 3, "\"/\\ufffd\\ufffd\"");
  expect_str("\xc3", 1, "\"\\ufffd\"");                     /* truncated */
  expect_str("\xc3(", 2, "\"\\ufffd(\"");                  /* bad continuation */
  expect_str("\xc0\xaf", 2, "\"\\ufffd\\ufffd\"");         /* overlong '/' */
  expect_str("\xe0\x80\xaf", 3, "\"\\ufffd\\ufffd\\ufffd\""); /* overlong */
  expect_str("\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\""); /* surrogate */
  expect_str("\xf4\x90\x80\x80", 4, "\"\\ufffd\\ufffd\\ufffd\\ufffd\""); /* > U+10FFFF */
  expect_str("\xf4\x8f\xbf\xbf", 4, "\"\xf4\x8f\xbf\xbf\"");  /* U+10FFFF */
  expect_str("a\x7f\x80" "b", 4, "\"a\x7f\\ufffdb\"");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(doubles_exact),
      cmocka_unit_test(doubles_round_trip),
      cmocka_unit_test(integers_and_strings),
      cmocka_unit_test(strings_utf8),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
