/* test_ingest_collectd.c — collectd write_http JSON: naming (instances, dsname segment,
 * host dots), several values, raw counters, null values, float times and every
 * rejection. */
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


static int parse(const char *s) {
  return dm_ingest_collectd(s, strlen(s), &lim, &b, &skipped, err, sizeof err);
}

static void assert_rejected(const char *body, const char *msg) {
  assert_int_equal(parse(body), DM_EINVAL);
  assert_string_equal(err, msg);
  assert_int_equal(b.n, 0);
}

#define EL(values, dstypes, dsnames, host, plugin, pinst, type, tinst)                        \
  "{\"values\":" values ",\"dstypes\":" dstypes ",\"dsnames\":" dsnames                        \
  ",\"time\":1700000000.317,\"interval\":10.000,\"host\":\"" host "\",\"plugin\":\"" plugin \
  "\",\"plugin_instance\":\"" pinst "\",\"type\":\"" type "\",\"type_instance\":\"" tinst  \
  "\"}"

static void test_naming(void **state) {
  (void)state;
  const char *body =
      "[" EL("[1901474177]", "[\"derive\"]", "[\"value\"]", "leeloo.octo.it", "cpu", "0", "cpu",
             "idle") ","
      EL("[0.5,0.25,0.125]", "[\"gauge\",\"gauge\",\"gauge\"]",
         "[\"shortterm\",\"midterm\",\"longterm\"]", "h1", "load", "", "load", "") ","
      EL("[1024]", "[\"gauge\"]", "[\"value\"]", "h1", "memory", "", "memory", "used") ","
      EL("[10,20]", "[\"derive\",\"derive\"]", "[\"rx\",\"tx\"]", "h1", "interface", "eth0",
         "if_octets", "") ","
      EL("[3]", "[\"gauge\"]", "[\"count\"]", "h1", "p", "a/b c", "t", "x.y") "]";
  assert_int_equal(parse(body), 0);
  assert_int_equal(b.n, 8);
  int64_t t = 1699999980;
  assert_entry(0, "collectd.leeloo_octo_it.cpu-0.cpu-idle", t, 1901474177.0);
  assert_entry(1, "collectd.h1.load.load.shortterm", t, 0.5);
  assert_entry(2, "collectd.h1.load.load.midterm", t, 0.25);
  assert_entry(3, "collectd.h1.load.load.longterm", t, 0.125);
  assert_entry(4, "collectd.h1.memory.memory-used", t, 1024.0);
  assert_entry(5, "collectd.h1.interface-eth0.if_octets.rx", t, 10.0);
  assert_entry(6, "collectd.h1.interface-eth0.if_octets.tx", t, 20.0);
  assert_entry(7, "collectd.h1.p-a_b_c.t-x_y.count", t, 3.0);
  assert_int_equal(skipped, 0);
}

static void test_nulls_order_unknown_keys(void **state) {
  (void)state;
  /* keys in any order, unknown keys (with nested values) ignored, no dstypes, a null value
   * (NaN) skipped, integral time */
  assert_int_equal(parse("[{\"type\":\"t\",\"meta\":{\"a\":[1,{\"b\":null}]},\"time\":1700000061,"
                         "\"host\":\"h\",\"dsnames\":[\"a\",\"b\"],\"values\":[null,2],"
                         "\"plugin\":\"p\"}]"),
                   0);
  assert_int_equal(b.n, 1);
  assert_entry(0, "collectd.h.p.t.b", 1700000040, 2.0);
  assert_int_equal(skipped, 1);
  /* one value without dsnames: no dsname segment */
  assert_int_equal(parse("[{\"values\":[7],\"time\":1700000000,\"host\":\"h\",\"plugin\":\"p\","
                         "\"type\":\"t\"}]"),
                   0);
  assert_entry(1, "collectd.h.p.t", 1699999980, 7.0);
}

static void test_rejected(void **state) {
  (void)state;
  assert_rejected("{}", "body: expected a JSON array of value lists");
  assert_rejected("", "body: expected a JSON array of value lists");
  assert_rejected("[1]", "element 0: expected a JSON object");
  const char *ok = "{\"values\":[1],\"time\":1700000000,\"host\":\"h\",\"plugin\":\"p\","
                   "\"type\":\"t\"}";
  char body[1024];
  snprintf(body, sizeof body, "[%s,{\"values\":[\"x\"],\"time\":1700000000,\"host\":\"h\","
                              "\"plugin\":\"p\",\"type\":\"t\"}]", ok);
  assert_rejected(body, "element 1: \"values\": must be an array of numbers");
  assert_rejected("[{\"values\":1}]", "element 0: \"values\": must be an array of numbers");
  assert_rejected("[{\"values\":[1],\"time\":\"now\"}]", "element 0: \"time\": must be a number");
  assert_rejected("[{\"values\":[1],\"time\":1,\"host\":\"h\"}]",
                  "element 0: \"time\": 1 is out of the accepted range [1600000000, 1800000000]");
  assert_rejected("[{\"values\":[1],\"host\":7}]", "element 0: \"host\": must be a string");
  assert_rejected("[{\"values\":[1],\"time\":1700000000,\"plugin\":\"p\",\"type\":\"t\"}]",
                  "element 0: missing \"host\"");
  assert_rejected("[{\"values\":[1],\"time\":1700000000,\"host\":\"\",\"plugin\":\"p\","
                  "\"type\":\"t\"}]",
                  "element 0: \"host\": must not be empty");
  assert_rejected("[{\"values\":[],\"time\":1700000000,\"host\":\"h\",\"plugin\":\"p\","
                  "\"type\":\"t\"}]",
                  "element 0: \"values\": must not be empty");
  assert_rejected("[{\"values\":[1,2],\"dsnames\":[\"a\"],\"time\":1700000000,\"host\":\"h\","
                  "\"plugin\":\"p\",\"type\":\"t\"}]",
                  "element 0: \"dsnames\": 1 names for 2 values");
  assert_rejected("[{\"values\":[1,2],\"dstypes\":[\"gauge\"],\"dsnames\":[\"a\",\"b\"],"
                  "\"time\":1700000000,\"host\":\"h\",\"plugin\":\"p\",\"type\":\"t\"}]",
                  "element 0: \"dstypes\": 1 types for 2 values");
  assert_rejected("[{\"values\":[1,2],\"time\":1700000000,\"host\":\"h\",\"plugin\":\"p\","
                  "\"type\":\"t\"}]",
                  "element 0: missing \"dsnames\" (2 values)");
  assert_rejected("[{\"values\":[1],\"dsnames\":[3]}]",
                  "element 0: \"dsnames\": must be an array of strings");
  assert_rejected("[{\"values\":[1e999]}]", "element 0: \"values\"[0]: must be a finite number");
  assert_rejected("[{\"values\":[1],\"time\":1700000000,\"host\":\"a_very_long_host_name_"
                  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\",\"plugin\":\"p\",\"type\":\"t\"}]",
                  "element 0: series name longer than 64 bytes");
  assert_rejected("[{\"values\":[1]", "body: truncated JSON");
  assert_rejected("[{\"values\":[1]]", "body: invalid JSON at byte 14: after key and value, "
                  "inside map, I expect ',' or '}'");
}

static void test_too_many_points(void **state) {
  (void)state;
  assert_int_equal(parse("[{\"values\":[1,2,3,4,5,6],\"dsnames\":[\"a\",\"b\",\"c\",\"d\",\"e\","
                         "\"f\"],\"time\":1700000000,\"host\":\"h\",\"plugin\":\"p\",\"type\":\"t\"},"
                         "{\"values\":[1,2,3,4,5,6],\"dsnames\":[\"a\",\"b\",\"c\",\"d\",\"e\","
                         "\"f\"],\"time\":1700000000,\"host\":\"h\",\"plugin\":\"p\",\"type\":\"t\"}]"),
                   DM_ERANGE);
  assert_string_equal(err, "batch: more than 10 points");
  assert_int_equal(b.n, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_naming, setup, teardown),
      cmocka_unit_test_setup_teardown(test_nulls_order_unknown_keys, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rejected, setup, teardown),
      cmocka_unit_test_setup_teardown(test_too_many_points, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
