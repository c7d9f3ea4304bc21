/* test_ingest_influx.c — InfluxDB line protocol: naming and its decoding, escapes, every
 * field type, every precision, and the rejections with their line numbers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "diamond/error.h"
#include "diamond/ingest.h"
#include "diamond/point.h"
#include "test_ingest_fx.h"

#define NOW 1700000030

static int parse_unit(const char *s, int64_t unit) {
  return dm_ingest_influx(s, strlen(s), unit, NOW, &lim, &b, &skipped, err, sizeof err);
}

static int parse(const char *s) { return parse_unit(s, 1); }

static void assert_rejected(const char *body, const char *msg) {
  size_t n0 = b.n;
  assert_int_equal(parse(body), DM_EINVAL);
  assert_string_equal(err, msg);
  assert_int_equal(b.n, n0);
}

static void test_naming_and_tags_sorted(void **state) {
  (void)state;
  assert_int_equal(parse("cpu,host=web.1,cpu=cpu0 usage_idle=98.5,usage_user=1 1700000000000000000\n"), 0);
  assert_int_equal(b.n, 2);
  assert_entry(0, "cpu.cpu.cpu0.host.web_x2E1.usage_idle", 1699999980, 98.5);
  assert_entry(1, "cpu.cpu.cpu0.host.web_x2E1.usage_user", 1699999980, 1.0);
  /* no tags, no timestamp: now (floored to the step) */
  assert_int_equal(parse("mem free=7"), 0);
  assert_entry(2, "mem.free", 1699999980, 7.0);
}

static void test_escapes_reversible(void **state) {
  (void)state;
  /* measurement: "\," and "\ "; tag key/value and field key: "\,", "\=", "\ " */
  assert_int_equal(parse("my\\ meas\\,x,t\\=k=v\\ 1\\,2 f\\ 1=1 1700000000000000000"), 0);
  assert_entry(0, "my_x20meas_x2Cx.t_x3Dk.v_x201_x2C2.f_x201", 1699999980, 1.0);
  /* '_' before 'x' is escaped, other '_' stay; a lone backslash is literal */
  assert_int_equal(parse("a_x,b_y=c\\d e=2 1700000000000000000"), 0);
  assert_entry(1, "a_x5Fx.b_y.c_x5Cd.e", 1699999980, 2.0);
  /* decoding gives the bytes back */
  const char *enc[] = {"my_x20meas_x2Cx", "t_x3Dk", "v_x201_x2C2", "a_x5Fx", "c_x5Cd", "b_y",
                       "web_x2E1"};
  const char *dec[] = {"my meas,x", "t=k", "v 1,2", "a_x", "c\\d", "b_y", "web.1"};
  for (size_t i = 0; i < sizeof enc / sizeof enc[0]; i++) {
    char out[64];
    size_t n = dm_ingest_influx_decode(enc[i], strlen(enc[i]), out);
    assert_int_equal(n, strlen(dec[i]));
    assert_memory_equal(out, dec[i], n);
  }
  /* UTF-8 bytes */
  assert_int_equal(parse("t\xc3\xa9 v=1 1700000000000000000"), 0);
  assert_entry(2, "t_xC3_xA9.v", 1699999980, 1.0);
}

static void test_field_types(void **state) {
  (void)state;
  assert_int_equal(parse("m a=1,b=-1.5e3,c=42i,d=-7i,e=18446744073709551615u,f=t,g=FALSE,"
                         "h=\"a \\\"q\\\" , = x\",i=True 1700000000000000000"), 0);
  assert_int_equal(b.n, 8);
  assert_entry(0, "m.a", 1699999980, 1.0);
  assert_entry(1, "m.b", 1699999980, -1500.0);
  assert_entry(2, "m.c", 1699999980, 42.0);
  assert_entry(3, "m.d", 1699999980, -7.0);
  assert_entry(4, "m.e", 1699999980, 18446744073709551615.0);
  assert_entry(5, "m.f", 1699999980, 1.0);
  assert_entry(6, "m.g", 1699999980, 0.0);
  assert_entry(7, "m.i", 1699999980, 1.0);
  assert_int_equal(skipped, 1);
  /* only a string field: accepted, nothing stored */
  assert_int_equal(parse("m s=\"text\""), 0);
  assert_int_equal(b.n, 8);
  assert_int_equal(skipped, 1);
  const char *bools[] = {"t", "T", "true", "True", "TRUE", "f", "F", "false", "False", "FALSE"};
  for (size_t i = 0; i < 10; i++) {
    char line[64];
    snprintf(line, sizeof line, "bool v=%s 1700000000", bools[i]);
    dm_batch_reset(&b);
    assert_int_equal(parse_unit(line, 1000000000), 0);
    assert_true(b.e[b.n - 1].v == (i < 5 ? 1.0 : 0.0));
  }
}

static void test_precisions(void **state) {
  (void)state;
  static const struct {
    const char *p;
    int v2_ok;
    int64_t ns;
    const char *ts;
  } cases[] = {
      {"ns", 1, 1, "1700000123456789012"},     {"n", 0, 1, "1700000123456789012"},
      {"us", 1, 1000, "1700000123456789"},     {"u", 0, 1000, "1700000123456789"},
      {"ms", 1, 1000000, "1700000123456"},     {"s", 1, 1000000000, "1700000123"},
      {"m", 0, 60000000000, "28333335"},       {"h", 0, 3600000000000, "472222"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int64_t unit = 0;
    assert_int_equal(dm_ingest_influx_precision(cases[i].p, 0, &unit), 0);
    assert_int_equal(unit, cases[i].ns);
    assert_int_equal(dm_ingest_influx_precision(cases[i].p, 1, &unit),
                     cases[i].v2_ok ? 0 : DM_EINVAL);
    char line[80];
    snprintf(line, sizeof line, "p v=%zu %s", i, cases[i].ts);
    dm_batch_reset(&b);
    assert_int_equal(parse_unit(line, cases[i].ns), 0);
    int64_t want = cases[i].ns == 60000000000   ? 28333335LL * 60
                   : cases[i].ns == 3600000000000 ? 472222LL * 3600
                                                  : 1700000123;
    assert_int_equal(b.e[0].t, want - want % 60);
  }
  int64_t unit = 0;
  assert_int_equal(dm_ingest_influx_precision(NULL, 1, &unit), 0);
  assert_int_equal(unit, 1);
  assert_int_equal(dm_ingest_influx_precision("", 0, &unit), 0);
  assert_int_equal(unit, 1);
  assert_int_equal(dm_ingest_influx_precision("sec", 0, &unit), DM_EINVAL);
  /* negative nanoseconds floor down: -1 ns is second -1 */
  const dm_ingest_limits wide = {.max_points = 10, .max_name_len = 64, .step = 1,
                                 .min_time = -100, .max_time = 100};
  dm_batch_reset(&b);
  assert_int_equal(dm_ingest_influx("m v=1 -1", 8, 1, 0, &wide, &b, NULL, err, sizeof err), 0);
  assert_int_equal(b.e[0].t, -1);
}

static void test_lines_comments_crlf(void **state) {
  (void)state;
  assert_int_equal(parse("# comment\n\r\n  m v=1 1700000000000000000\r\n\nm v=2  1700000060000000000  \n"),
                   0);
  assert_int_equal(b.n, 2);
  assert_entry(0, "m.v", 1699999980, 1.0);
  assert_entry(1, "m.v", 1700000040, 2.0);
}

static void test_rejected(void **state) {
  (void)state;
  assert_rejected("m v=1\nm v=x\n",
                  "line 2: field \"v\": \"x\" is not a float, integer (42i), unsigned (42u), "
                  "boolean or string");
  assert_rejected("m", "line 1: no fields (want \"measurement[,tags] field=value\")");
  assert_rejected("m ", "line 1: no fields (want \"measurement[,tags] field=value\")");
  assert_rejected(",t=1 v=1", "line 1: empty measurement");
  assert_rejected("m,t v=1", "line 1: tag \"t\": missing '='");
  assert_rejected("m,t= v=1", "line 1: tag \"t\": empty value");
  assert_rejected("m,=v v=1", "line 1: empty tag key");
  assert_rejected("m,a=1,a=2 v=1", "line 1: tag key \"a\" given twice");
  assert_rejected("m v", "line 1: field \"v\": missing '='");
  assert_rejected("m v=", "line 1: field \"v\": empty value");
  assert_rejected("m v=1,", "line 1: empty field key");
  assert_rejected("m s=\"abc", "line 1: field \"s\": unterminated string");
  assert_rejected("m v=1i2", "line 1: field \"v\": \"1i2\" is not a float, integer (42i), "
                  "unsigned (42u), boolean or string");
  assert_rejected("m v=-1u", "line 1: field \"v\": \"-1u\" is not a float, integer (42i), "
                  "unsigned (42u), boolean or string");
  assert_rejected("m v=99999999999999999999i", "line 1: field \"v\": \"99999999999999999999i\" "
                  "is not a float, integer (42i), unsigned (42u), boolean or string");
  assert_rejected("m v=nan", "line 1: field \"v\": \"nan\" is not a float, integer (42i), "
                  "unsigned (42u), boolean or string");
  assert_rejected("m v=1 12x", "line 1: timestamp \"12x\" is not an integer");
  assert_rejected("m v=1 1.5", "line 1: timestamp \"1.5\" is not an integer");
  assert_rejected("m v=1 1 2", "line 1: unexpected text after the timestamp");
  assert_rejected("m v=1 1700000000",
                  "line 1: timestamp 1700000000 is out of the accepted range [1600000000, "
                  "1800000000] (Unix seconds; is the precision right?)");
  assert_rejected("m v=\"a\"x", "line 1: field \"v\": unexpected 'x' after the value");
  assert_rejected("a_very_long_measurement_name_xxxxxxxxxxxxxxx,tag=value_value_value v=1",
                  "line 1: series name longer than 64 bytes (measurement, tags and field, "
                  "encoded)");
  /* one bad line rejects the whole body: nothing of the good lines stays */
  assert_int_equal(b.n, 0);
  assert_int_equal(parse("m v=1\nm v=2\n\nm v=3 bad\n"), DM_EINVAL);
  assert_string_equal(err, "line 4: timestamp \"bad\" is not an integer");
  assert_int_equal(b.n, 0);
}

static void test_too_many_points(void **state) {
  (void)state;
  assert_int_equal(parse("m a=1,b=2,c=3,d=4,e=5,f=6\nm a=1,b=2,c=3,d=4,e=5,f=6\n"), DM_ERANGE);
  assert_string_equal(err, "line 2: more than 10 points in the body");
  assert_int_equal(b.n, 0);
}

static void test_not_nul_terminated(void **state) {
  (void)state;
  const char buf[] = "m v=1 1700000000000000000m v=2";
  assert_int_equal(dm_ingest_influx(buf, 25, 1, NOW, &lim, &b, NULL, err, sizeof err), 0);
  assert_int_equal(b.n, 1);
  assert_entry(0, "m.v", 1699999980, 1.0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_naming_and_tags_sorted, setup, teardown),
      cmocka_unit_test_setup_teardown(test_escapes_reversible, setup, teardown),
      cmocka_unit_test_setup_teardown(test_field_types, setup, teardown),
      cmocka_unit_test_setup_teardown(test_precisions, setup, teardown),
      cmocka_unit_test_setup_teardown(test_lines_comments_crlf, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rejected, setup, teardown),
      cmocka_unit_test_setup_teardown(test_too_many_points, setup, teardown),
      cmocka_unit_test_setup_teardown(test_not_nul_terminated, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
