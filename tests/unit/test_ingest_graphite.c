/* test_ingest_graphite.c — Graphite plaintext lines: every accepted variation, the dropped
 * ones (nan, empty) and every rejection message. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "diamond/error.h"
#include "diamond/ingest.h"
#include "diamond/point.h"

#define NOW 1700000030

static const dm_ingest_limits lim = {
    .max_points = 10, .max_name_len = 32, .step = 60,
    .min_time = 1600000000, .max_time = 1800000000,
};

static dm_batch b;
static char err[256];

static int setup(void **state) {
  (void)state;
  dm_batch_init(&b);
  err[0] = '\0';
  return 0;
}

static int teardown(void **state) {
  (void)state;
  dm_batch_free(&b);
  return 0;
}

static int line(const char *s) {
  return dm_ingest_graphite_line(s, strlen(s), NOW, &lim, &b, err, sizeof err);
}

/* The line gives exactly one point (path, t, v), appended as the last entry. */
static void assert_point(const char *s, const char *path, int64_t t, double v) {
  size_t n0 = b.n, len;
  assert_int_equal(line(s), 1);
  assert_int_equal(b.n, n0 + 1);
  const char *name = dm_batch_name(&b, n0, &len);
  assert_int_equal(len, strlen(path));
  assert_memory_equal(name, path, len);
  assert_int_equal(b.e[n0].t, t);
  assert_true(b.e[n0].v == v);
  assert_true(signbit(b.e[n0].v) == signbit(v));
}

#define assert_rejected(s, msg)                                                              \
  do {                                                                                       \
    size_t n0_ = b.n;                                                                        \
    assert_int_equal(line(s), DM_EINVAL);                                                    \
    assert_string_equal(err, msg);                                                           \
    assert_int_equal(b.n, n0_);                                                              \
  } while (0)

#define assert_dropped(s)                                                                    \
  do {                                                                                       \
    size_t n0_ = b.n;                                                                        \
    assert_int_equal(line(s), 0);                                                            \
    assert_int_equal(b.n, n0_);                                                              \
  } while (0)

/* NOW = 1700000030 floors to 1699999980 (1700000000 % 60 == 20). */
#define NOW_FLOORED 1699999980

static void test_accepted(void **state) {
  (void)state;
  assert_point("a.b.c 1.5 1700000000", "a.b.c", 1699999980, 1.5);
  assert_point("a.b.c 1.5 1700000100", "a.b.c", 1700000100, 1.5);
  assert_point("a 42", "a", NOW_FLOORED, 42.0);                  /* no timestamp: now */
  assert_point("a 42 -1", "a", NOW_FLOORED, 42.0);               /* -1: now */
  assert_point("a 42 -1.0", "a", NOW_FLOORED, 42.0);
  assert_point("a 1 1700000100.9", "a", 1700000100, 1.0);        /* float time floored */
  assert_point("a 1 1.7000001e9", "a", 1700000100, 1.0);
  assert_point("a\t\t2  \t 1700000100", "a", 1700000100, 2.0);   /* runs of spaces/tabs */
  assert_point("a 3 1700000100\r", "a", 1700000100, 3.0);        /* trailing \r */
  assert_point("  a 4 1700000100  ", "a", 1700000100, 4.0);      /* surrounding blanks */
  assert_point("a 5\r", "a", NOW_FLOORED, 5.0);
  assert_point("a -0", "a", NOW_FLOORED, -0.0);                  /* negative zero kept */
  assert_point("a -2.5e-3", "a", NOW_FLOORED, -2.5e-3);
  assert_point("a +7", "a", NOW_FLOORED, 7.0);
  assert_point("a .5", "a", NOW_FLOORED, 0.5);
  assert_point("a 5.", "a", NOW_FLOORED, 5.0);
  assert_point("A-Z_0.9-x 1e300", "A-Z_0.9-x", NOW_FLOORED, 1e300);
  assert_point("x 1 1800000000", "x", 1800000000, 1.0);
  assert_point("x1234567890123456789012345678901 1", "x1234567890123456789012345678901",
               NOW_FLOORED, 1.0); /* 32 bytes: the limit */
  assert_int_equal(b.n, 19);
}

static void test_dropped(void **state) {
  (void)state;
  assert_dropped("");
  assert_dropped("   ");
  assert_dropped("\r");
  assert_dropped(" \t \r");
  assert_dropped("a nan 1700000000");
  assert_dropped("a NaN");
  assert_dropped("a NAN -1");
  assert_dropped("a -nan 1700000000");
  assert_dropped("a nan garbage"); /* dropped before the timestamp is looked at */
}

static void test_rejected_shape(void **state) {
  (void)state;
  assert_rejected("a", "expected \"<path> <value> [<timestamp>]\", got 1 field");
  assert_rejected("  a\r", "expected \"<path> <value> [<timestamp>]\", got 1 field");
  assert_rejected("a 1 1700000000 x",
                  "expected \"<path> <value> [<timestamp>]\", got 4 fields or more");
}

static void test_rejected_path(void **state) {
  (void)state;
  assert_rejected("a/b 1", "path: invalid character '/' at byte 1");
  assert_rejected("a..b 1", "path: empty segment at byte 2");
  assert_rejected(".a 1", "path: empty segment at byte 0");
  assert_rejected("a. 1", "path: empty segment at byte 1");
  assert_rejected("caf\xc3\xa9 1", "path: invalid character '\\xc3' at byte 3");
  assert_rejected("a*b 1", "path: invalid character '*' at byte 1");
  assert_rejected("x12345678901234567890123456789012 1", "path: longer than 32 bytes");
}

static void test_rejected_value(void **state) {
  (void)state;
  assert_rejected("a abc", "value: \"abc\" is not a number");
  assert_rejected("a 1,5", "value: \"1,5\" is not a number");
  assert_rejected("a 0x10", "value: \"0x10\" is not a number");
  assert_rejected("a 1e", "value: \"1e\" is not a number");
  assert_rejected("a -", "value: \"-\" is not a number");
  assert_rejected("a .", "value: \".\" is not a number");
  assert_rejected("a 1\"2", "value: \"1?2\" is not a number");
  assert_rejected("a 123456789012345678901234567890123456789x",
                  "value: \"12345678901234567890123456789012...\" is not a number");
  assert_rejected("a inf", "value: must be a finite number");
  assert_rejected("a -Infinity", "value: must be a finite number");
  assert_rejected("a +INF 1700000000", "value: must be a finite number");
  assert_rejected("a 1e999", "value: must be a finite number");
}

static void test_rejected_time(void **state) {
  (void)state;
  assert_rejected("a 1 soon", "timestamp: \"soon\" is not a number");
  assert_rejected("a 1 17e", "timestamp: \"17e\" is not a number");
  assert_rejected("a 1 nan", "timestamp: \"nan\" is not a number");
  assert_rejected("a 1 1e20",
                  "timestamp: 1e20 is out of the accepted range [1600000000, 1800000000]");
  assert_rejected("a 1 1800000001",
                  "timestamp: 1800000001 is out of the accepted range [1600000000, 1800000000]");
  assert_rejected("a 1 -2",
                  "timestamp: -2 is out of the accepted range [1600000000, 1800000000]");
  assert_rejected("a 1 0",
                  "timestamp: 0 is out of the accepted range [1600000000, 1800000000]");
  assert_rejected("a 1 99999999999999999999",
                  "timestamp: 99999999999999999999 is out of the accepted range [1600000000, "
                  "1800000000]");
}

/* Limits as wide as int64: a timestamp that floors to 2^63 is out of range, not an
 * undefined double-to-int64 conversion (found by tests/fuzz/fuzz_mackerel.c). */
static void test_time_int64_edges(void **state) {
  (void)state;
  dm_ingest_limits wide = lim;
  wide.step = 1;
  wide.min_time = INT64_MIN;
  wide.max_time = INT64_MAX;
  const char *top = "a 1 9223372036854775807.9";
  assert_int_equal(dm_ingest_graphite_line(top, strlen(top), NOW, &wide, &b, err, sizeof err),
                   DM_EINVAL);
  assert_string_equal(err, "timestamp: 9223372036854775807.9 is out of the accepted range "
                           "[-9223372036854775808, 9223372036854775807]");
  const char *low = "a 1 -9223372036854775808.5";
  assert_int_equal(dm_ingest_graphite_line(low, strlen(low), NOW, &wide, &b, err, sizeof err),
                   1);
  assert_true(b.e[0].t == INT64_MIN);
}

static void test_many_lines_one_batch(void **state) {
  (void)state;
  assert_int_equal(line("a.b 1 1700000100"), 1);
  assert_int_equal(line("bad/line 1"), DM_EINVAL);
  assert_int_equal(line("a.c nan"), 0);
  assert_int_equal(line("a.d 2 1700000160"), 1);
  assert_int_equal(b.n, 2);
  size_t len;
  const char *s = dm_batch_name(&b, 1, &len);
  assert_int_equal(len, 3);
  assert_memory_equal(s, "a.d", 3);
  assert_int_equal(b.e[1].t, 1700000160);
}

static void test_not_nul_terminated(void **state) {
  (void)state;
  const char buf[] = "a.b 7 1700000100999";
  assert_int_equal(dm_ingest_graphite_line(buf, 16, NOW, &lim, &b, err, sizeof err), 1);
  assert_int_equal(b.e[0].t, 1700000100); /* the bytes after len are never read */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_accepted, setup, teardown),
      cmocka_unit_test_setup_teardown(test_dropped, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rejected_shape, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rejected_path, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rejected_value, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rejected_time, setup, teardown),
      cmocka_unit_test_setup_teardown(test_many_lines_one_batch, setup, teardown),
      cmocka_unit_test_setup_teardown(test_not_nul_terminated, setup, teardown),
      cmocka_unit_test_setup_teardown(test_time_int64_edges, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
