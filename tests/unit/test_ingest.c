/* test_ingest.c — the Mackerel JSON batch parser: good batches, every error message, and
 * that a rejected batch leaves nothing behind. */
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
#include "diamond/ingest.h"
#include "diamond/point.h"

#define T0 1700000000 /* 1700000000 % 60 == 20 */

static const dm_ingest_limits lim = {
    .max_points = 10, .max_name_len = 256, .step = 60,
    .min_time = 1600000000, .max_time = 1800000000,
};

static dm_batch b;
static char err[512];

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

static int parse_svc(const char *body, const char *service) {
  return dm_ingest_mackerel(body, strlen(body), service, &lim, &b, err, sizeof err);
}
static int parse(const char *body) { return parse_svc(body, NULL); }

static void assert_name(size_t i, const char *want) {
  size_t len;
  const char *s = dm_batch_name(&b, i, &len);
  assert_int_equal(len, strlen(want));
  assert_memory_equal(s, want, len);
}

/* The body is rejected with exactly this message and the batch stays empty. */
#define assert_rejected(body, code, msg)                                                     \
  do {                                                                                       \
    assert_int_equal(parse(body), code);                                                     \
    assert_string_equal(err, msg);                                                           \
    assert_int_equal(b.n, 0);                                                                \
    assert_int_equal(b.names_len, 0);                                                        \
  } while (0)

#define P(h, n, t, v) "{\"hostId\":\"" h "\",\"name\":\"" n "\",\"time\":" t ",\"value\":" v "}"

static void test_simple(void **state) {
  (void)state;
  assert_int_equal(parse("[" P("h1", "cpu.user", "1700000000", "1.5") "," P("2eQGEaLxibb",
                         "custom.nginx.requests.total", "1700000059", "-42") "]"), 0);
  assert_int_equal(b.n, 2);
  assert_name(0, "host.h1.cpu.user");
  assert_int_equal(b.e[0].t, 1699999980);
  assert_true(b.e[0].v == 1.5);
  assert_name(1, "host.2eQGEaLxibb.custom.nginx.requests.total");
  assert_int_equal(b.e[1].t, 1700000040);
  assert_true(b.e[1].v == -42.0);
}

static void test_field_order_and_whitespace(void **state) {
  (void)state;
  assert_int_equal(parse(" \n[ {\"value\" : 2.25 , \"time\":1700000100,\t\"name\":\"m\","
                         "\"hostId\":\"h\"} ]\r\n"), 0);
  assert_int_equal(b.n, 1);
  assert_name(0, "host.h.m");
  assert_int_equal(b.e[0].t, 1700000100);
  assert_true(b.e[0].v == 2.25);
}

static void test_step_flooring(void **state) {
  (void)state;
  assert_int_equal(parse("[" P("h", "a", "1700000040", "1") "," P("h", "a", "1700000099", "2")
                         "," P("h", "a", "1700000100", "3") "]"), 0);
  assert_int_equal(b.n, 3);
  assert_int_equal(b.e[0].t, 1700000040);
  assert_int_equal(b.e[1].t, 1700000040);
  assert_int_equal(b.e[2].t, 1700000100);
  dm_ingest_limits one = lim;
  one.step = 1;
  dm_batch_reset(&b);
  assert_int_equal(dm_ingest_mackerel("[" P("h", "a", "1700000099", "2") "]",
                                      strlen("[" P("h", "a", "1700000099", "2") "]"), NULL,
                                      &one, &b, err, sizeof err), 0);
  assert_int_equal(b.e[0].t, 1700000099);
}

static void test_integral_float_times(void **state) {
  (void)state;
  assert_int_equal(parse("[" P("h", "a", "1700000000.0", "1") "," P("h", "a", "1.7e9", "1") ","
                         P("h", "a", "17000001.2e2", "1") "," P("h", "a", "1800000000", "1") ","
                         P("h", "a", "1600000000", "1") "]"), 0);
  assert_int_equal(b.n, 5);
  assert_int_equal(b.e[0].t, 1699999980);
  assert_int_equal(b.e[1].t, 1699999980);
  assert_int_equal(b.e[2].t, 1700000100);
  assert_int_equal(b.e[3].t, 1800000000);
  assert_int_equal(b.e[4].t, 1599999960); /* floored below min_time: fine */
}

static void test_values(void **state) {
  (void)state;
  assert_int_equal(parse("[" P("h", "a", "1700000000", "-0") "," P("h", "a", "1700000000", "-0.0")
                         "," P("h", "a", "1700000000", "1e308") ","
                         P("h", "a", "1700000000", "4.9e-324") ","
                         P("h", "a", "1700000000", "123456789012345678901234567890") ","
                         P("h", "a", "1700000000", "0.1") "]"), 0);
  assert_int_equal(b.n, 6);
  assert_true(b.e[0].v == 0.0 && signbit(b.e[0].v)); /* negative zero kept */
  assert_true(b.e[1].v == 0.0 && signbit(b.e[1].v));
  assert_true(b.e[2].v == 1e308);
  assert_true(b.e[3].v == 4.9e-324);
  assert_true(b.e[4].v == 123456789012345678901234567890.0);
  assert_true(b.e[5].v == 0.1);
}

static void test_unknown_fields_ignored(void **state) {
  (void)state;
  assert_int_equal(parse("[{\"x\":{\"a\":[1,{\"b\":null},[[]],\"s\"],\"c\":{}},\"hostId\":\"h\","
                         "\"y\":[true,false,null,1.5,\"q\",{\"time\":\"bad\"}],\"name\":\"m\","
                         "\"z\":null,\"w\":\"str\",\"time\":1700000000,\"v\":7,"
                         "\"value\":3,\"n\":[]}]"), 0);
  assert_int_equal(b.n, 1);
  assert_name(0, "host.h.m");
  assert_true(b.e[0].v == 3.0);
}

static void test_duplicate_fields_last_wins(void **state) {
  (void)state;
  assert_int_equal(parse("[{\"hostId\":\"h1\",\"name\":\"a\",\"time\":1700000000,\"value\":1,"
                         "\"name\":\"b\",\"value\":2,\"hostId\":\"h2\",\"time\":1700000060}]"),
                   0);
  assert_int_equal(b.n, 1);
  assert_name(0, "host.h2.b");
  assert_int_equal(b.e[0].t, 1700000040);
  assert_true(b.e[0].v == 2.0);
}

static void test_service(void **state) {
  (void)state;
  assert_int_equal(parse_svc("[{\"name\":\"req.count\",\"time\":1700000000,\"value\":5,"
                             "\"hostId\":[1,2]}]", "web-1"), 0);
  assert_int_equal(b.n, 1);
  assert_name(0, "service.web-1.req.count");
  assert_int_equal(parse_svc("[{\"name\":\"a\",\"time\":1700000000}]", "svc"), DM_EINVAL);
  assert_string_equal(err, "point 0: missing \"value\"");
  assert_int_equal(b.n, 1); /* rolled back to the one point it held */
  assert_int_equal(parse_svc("[{\"name\":\"a\",\"time\":1700000000,\"value\":1}]", "a.b"),
                   DM_EINVAL);
  assert_string_equal(err, "service: invalid character '.' at byte 1");
  assert_int_equal(parse_svc("[{\"name\":\"a\",\"time\":1700000000,\"value\":1}]", ""),
                   DM_EINVAL);
  assert_string_equal(err, "service: must not be empty");
  assert_int_equal(b.n, 1);
}

static void test_body_errors(void **state) {
  (void)state;
  assert_rejected("", DM_EINVAL, "body: expected a JSON array of points");
  assert_rejected(" \r\n\t", DM_EINVAL, "body: expected a JSON array of points");
  assert_rejected("{}", DM_EINVAL, "body: expected a JSON array of points");
  assert_rejected("{\"hostId\":\"h\"}", DM_EINVAL, "body: expected a JSON array of points");
  assert_rejected("42", DM_EINVAL, "body: expected a JSON array of points");
  assert_rejected("\"x\"", DM_EINVAL, "body: expected a JSON array of points");
  assert_rejected("null", DM_EINVAL, "body: expected a JSON array of points");
  assert_rejected("[]", DM_EINVAL, "body: empty batch");
  assert_rejected(" [ ] ", DM_EINVAL, "body: empty batch");
  assert_rejected("[" P("h", "a", "1700000000", "1"), DM_EINVAL, "body: truncated JSON");
  assert_rejected("[{\"a\":1,}]", DM_EINVAL,
                  "body: invalid JSON at byte 9: invalid object key (must be a string)");
  assert_rejected("[" P("h", "a", "1700000000", "1") "] x", DM_EINVAL,
                  "body: invalid JSON at byte 57: trailing garbage");
  assert_rejected("[" P("h", "a", "1700000000", "1") "][]", DM_EINVAL,
                  "body: invalid JSON at byte 56: trailing garbage");
  assert_rejected("[{hostId:1}]", DM_EINVAL,
                  "body: invalid JSON at byte 3: lexical error: invalid char in json text.");
  assert_rejected("[-]", DM_EINVAL,
                  "body: invalid JSON at byte 2: lexical error: malformed number, a digit is "
                  "required after the minus sign.");
  assert_rejected("[1]", DM_EINVAL, "point 0: expected a JSON object");
  assert_rejected("[" P("h", "a", "1700000000", "1") ",[]]", DM_EINVAL,
                  "point 1: expected a JSON object");
  assert_rejected("[" P("h", "a", "1700000000", "1") ",null]", DM_EINVAL,
                  "point 1: expected a JSON object");
  assert_rejected("[\"p\"]", DM_EINVAL, "point 0: expected a JSON object");
}

static void test_value_errors(void **state) {
  (void)state;
  assert_rejected("[" P("h", "a", "1", "1") "]", DM_EINVAL,
                  "point 0: \"time\": 1 is out of the accepted range [1600000000, 1800000000]");
  const char *bad[] = {"\"1\"", "true", "false", "null", "{}", "[1]", "1e999", "-1e999"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    char body[256];
    snprintf(body, sizeof body,
             "[" P("h", "a", "1700000000", "1") "," P("h", "a", "1700000000", "2") ","
             P("h", "a", "1700000000", "3") ",{\"hostId\":\"h\",\"name\":\"a\","
             "\"time\":1700000000,\"value\":%s}]", bad[i]);
    assert_rejected(body, DM_EINVAL, "point 3: \"value\": must be a finite number");
  }
}

static void test_time_errors(void **state) {
  (void)state;
  const char *bad[] = {"1700000000.5", "\"1700000000\"", "true", "null", "{}", "[]",
                       "{\"a\":1}", "1700000000.000001"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    char body[512];
    snprintf(body, sizeof body, "[" P("h", "a", "1700000000", "1") "," P("h", "a", "1700000000",
             "1") "," P("h", "a", "1700000000", "1") "," P("h", "a", "1700000000", "1") ","
             "{\"hostId\":\"h\",\"name\":\"a\",\"value\":1,\"time\":%s}]", bad[i]);
    assert_rejected(body, DM_EINVAL, "point 4: \"time\": must be an integer");
  }
  assert_rejected("[" P("h", "a", "1e20", "1") "]", DM_EINVAL,
                  "point 0: \"time\": 1e20 is out of the accepted range [1600000000, "
                  "1800000000]");
  assert_rejected("[" P("h", "a", "1800000001", "1") "]", DM_EINVAL,
                  "point 0: \"time\": 1800000001 is out of the accepted range [1600000000, "
                  "1800000000]");
  assert_rejected("[" P("h", "a", "1599999999", "1") "]", DM_EINVAL,
                  "point 0: \"time\": 1599999999 is out of the accepted range [1600000000, "
                  "1800000000]");
  assert_rejected("[" P("h", "a", "-1700000000", "1") "]", DM_EINVAL,
                  "point 0: \"time\": -1700000000 is out of the accepted range [1600000000, "
                  "1800000000]");
  assert_rejected("[" P("h", "a", "99999999999999999999999", "1") "]", DM_EINVAL,
                  "point 0: \"time\": 99999999999999999999999 is out of the accepted range "
                  "[1600000000, 1800000000]");
  assert_rejected("[" P("h", "a", "1e999", "1") "]", DM_EINVAL,
                  "point 0: \"time\": 1e999 is out of the accepted range [1600000000, "
                  "1800000000]");
}

static void test_missing_fields(void **state) {
  (void)state;
  char body[1024] = "[";
  for (int i = 0; i < 7; i++) strcat(body, P("h", "a", "1700000000", "1") ",");
  strcat(body, "{\"name\":\"a\",\"time\":1700000000,\"value\":1}]");
  assert_rejected(body, DM_EINVAL, "point 7: missing \"hostId\"");
  assert_rejected("[{\"hostId\":\"h\",\"time\":1700000000,\"value\":1}]", DM_EINVAL,
                  "point 0: missing \"name\"");
  assert_rejected("[{\"hostId\":\"h\",\"name\":\"a\",\"value\":1}]", DM_EINVAL,
                  "point 0: missing \"time\"");
  assert_rejected("[{\"hostId\":\"h\",\"name\":\"a\",\"time\":1700000000}]", DM_EINVAL,
                  "point 0: missing \"value\"");
  assert_rejected("[{}]", DM_EINVAL, "point 0: missing \"hostId\"");
  /* case matters: "HostId" is an unknown field */
  assert_rejected("[{\"HostId\":\"h\",\"name\":\"a\",\"time\":1700000000,\"value\":1}]",
                  DM_EINVAL, "point 0: missing \"hostId\"");
}

static void test_name_errors(void **state) {
  (void)state;
  assert_rejected("[" P("h", "a", "1700000000", "1") "," P("h", "a", "1700000000", "1") ","
                  P("h", "cpu/user", "1700000000", "1") "]", DM_EINVAL,
                  "point 2: \"name\": invalid character '/' at byte 3");
  assert_rejected("[" P("h", "a b", "1700000000", "1") "]", DM_EINVAL,
                  "point 0: \"name\": invalid character ' ' at byte 1");
  assert_rejected("[" P("h", "a..b", "1700000000", "1") "]", DM_EINVAL,
                  "point 0: \"name\": empty segment at byte 2");
  assert_rejected("[" P("h", ".a", "1700000000", "1") "]", DM_EINVAL,
                  "point 0: \"name\": empty segment at byte 0");
  assert_rejected("[" P("h", "a.", "1700000000", "1") "]", DM_EINVAL,
                  "point 0: \"name\": empty segment at byte 1");
  assert_rejected("[" P("h", "", "1700000000", "1") "]", DM_EINVAL,
                  "point 0: \"name\": must not be empty");
  /* unicode escapes decode to bytes outside the name alphabet */
  assert_rejected("[" P("h", "caf\\u00e9", "1700000000", "1") "]", DM_EINVAL,
                  "point 0: \"name\": invalid character '\\xc3' at byte 3");
  assert_rejected("[" P("h", "a\\u002fb", "1700000000", "1") "]", DM_EINVAL,
                  "point 0: \"name\": invalid character '/' at byte 1");
  assert_rejected("[" P("h", "a\\u0000b", "1700000000", "1") "]", DM_EINVAL,
                  "point 0: \"name\": invalid character '\\x00' at byte 1");
  assert_rejected("[" P("h", "a\\nb", "1700000000", "1") "]", DM_EINVAL,
                  "point 0: \"name\": invalid character '\\x0a' at byte 1");
  assert_rejected("[" P("h", "caf\xc3\xa9", "1700000000", "1") "]", DM_EINVAL,
                  "point 0: \"name\": invalid character '\\xc3' at byte 3");
  const char *types[] = {"1", "true", "null", "{}", "[\"a\"]"};
  for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
    char body[256];
    snprintf(body, sizeof body, "[{\"hostId\":\"h\",\"name\":%s,\"time\":1700000000,\"value\":1}]",
             types[i]);
    assert_rejected(body, DM_EINVAL, "point 0: \"name\": must be a string");
    snprintf(body, sizeof body, "[{\"name\":\"a\",\"hostId\":%s,\"time\":1700000000,\"value\":1}]",
             types[i]);
    assert_rejected(body, DM_EINVAL, "point 0: \"hostId\": must be a string");
  }
}

static void test_host_errors(void **state) {
  (void)state;
  char body[1024] = "[";
  for (int i = 0; i < 5; i++) strcat(body, P("h", "a", "1700000000", "1") ",");
  strcat(body, P("h.x", "a", "1700000000", "1") "]");
  assert_rejected(body, DM_EINVAL, "point 5: \"hostId\": invalid character '.' at byte 1");
  assert_rejected("[" P("", "a", "1700000000", "1") "]", DM_EINVAL,
                  "point 0: \"hostId\": must not be empty");
  assert_rejected("[" P("a/b", "a", "1700000000", "1") "]", DM_EINVAL,
                  "point 0: \"hostId\": invalid character '/' at byte 1");
}

/* A body with one point whose series name "host.h.<name>" is exactly total bytes. */
static char *long_name_body(size_t total) {
  size_t nl = total - strlen("host.h.");
  char *body = malloc(nl + 128);
  int off = sprintf(body, "[{\"hostId\":\"h\",\"name\":\"");
  memset(body + off, 'x', nl);
  sprintf(body + off + nl, "\",\"time\":1700000000,\"value\":1}]");
  return body;
}

static void test_name_length(void **state) {
  (void)state;
  char *ok = long_name_body(256), *over = long_name_body(257), *way = long_name_body(5000);
  assert_int_equal(parse(ok), 0);
  assert_int_equal(b.e[0].name_len, 256);
  dm_batch_reset(&b);
  assert_rejected(over, DM_EINVAL, "point 0: \"name\": longer than 256 bytes");
  assert_rejected(way, DM_EINVAL, "point 0: \"name\": longer than 256 bytes");
  free(ok);
  free(over);
  free(way);
  char hbody[600];
  int off = sprintf(hbody, "[{\"name\":\"a\",\"hostId\":\"");
  memset(hbody + off, 'h', 300);
  sprintf(hbody + off + 300, "\",\"time\":1700000000,\"value\":1}]");
  assert_rejected(hbody, DM_EINVAL, "point 0: \"hostId\": longer than 256 bytes");
}

static void test_max_points(void **state) {
  (void)state;
  char body[2048] = "[";
  for (int i = 0; i < 10; i++) strcat(body, i ? "," P("h", "a", "1700000000", "1")
                                              : P("h", "a", "1700000000", "1"));
  strcat(body, "]");
  assert_int_equal(parse(body), 0); /* exactly max_points */
  assert_int_equal(b.n, 10);
  dm_batch_reset(&b);
  body[strlen(body) - 1] = '\0';
  strcat(body, "," P("h", "a", "1700000000", "1") "]");
  assert_rejected(body, DM_ERANGE, "batch: more than 10 points");
  body[strlen(body) - strlen(P("h", "a", "1700000000", "1") "]")] = '\0';
  strcat(body, "7]"); /* an 11th element of the wrong type still counts as too many */
  assert_rejected(body, DM_ERANGE, "batch: more than 10 points");
}

static void test_large_batch(void **state) {
  (void)state;
  dm_ingest_limits big = lim;
  big.max_points = 100000;
  size_t cap = 100000 * 128, len = 0;
  char *body = malloc(cap);
  body[len++] = '[';
  for (int i = 0; i < 100000; i++)
    len += (size_t)sprintf(body + len, "%s{\"hostId\":\"host%d\",\"name\":\"custom.m%d\","
                           "\"time\":%d,\"value\":%d.25}", i ? "," : "", i % 100, i,
                           T0 + i * 60, i);
  body[len++] = ']';
  assert_int_equal(dm_ingest_mackerel(body, len, NULL, &big, &b, err, sizeof err), 0);
  assert_int_equal(b.n, 100000);
  assert_name(99999, "host.host99.custom.m99999");
  assert_int_equal(b.e[99999].t, 1699999980 + 99999 * 60);
  assert_true(b.e[99999].v == 99999.25);
  assert_name(12345, "host.host45.custom.m12345");
  dm_batch_reset(&b);
  big.max_points = 99999;
  assert_int_equal(dm_ingest_mackerel(body, len, NULL, &big, &b, err, sizeof err), DM_ERANGE);
  assert_string_equal(err, "batch: more than 99999 points");
  assert_int_equal(b.n, 0);
  free(body);
}

static void test_truncated_everywhere(void **state) {
  (void)state;
  const char *body = "[{\"hostId\":\"h1\",\"x\":[{\"y\":null}],\"name\":\"cpu.user\","
                     "\"time\":1700000000.0,\"value\":-1.5e3},"
                     "{\"hostId\":\"h2\",\"name\":\"m\",\"value\":true,\"time\":1700000060}]";
  /* fix the second point so the whole body is valid */
  char good[512];
  snprintf(good, sizeof good, "%.*s1%s", (int)(strstr(body, "true") - body), body,
           strstr(body, "true") + 4);
  size_t len = strlen(good);
  assert_int_equal(parse(good), 0);
  assert_int_equal(b.n, 2);
  for (size_t cut = 0; cut < len; cut++) {
    char *copy = malloc(cut + 1); /* exact size: ASan catches any read past the cut */
    memcpy(copy, good, cut);
    int rc = dm_ingest_mackerel(copy, cut, NULL, &lim, &b, err, sizeof err);
    assert_int_equal(rc, DM_EINVAL);
    assert_true(err[0] != '\0');
    assert_int_equal(b.n, 2); /* the two points parsed before stay, nothing else */
    free(copy);
  }
}

/* Limits as wide as int64: a real time that rounds to 2^63 is out of range, not an
 * undefined double-to-int64 conversion (found by tests/fuzz/fuzz_mackerel.c). */
static void test_time_int64_edges(void **state) {
  (void)state;
  dm_ingest_limits wide = {.max_points = 10, .max_name_len = 256, .step = 1,
                           .min_time = INT64_MIN, .max_time = INT64_MAX};
  const char *top = "[{\"hostId\":\"h\",\"name\":\"n\",\"time\":9223372036854775807.8,"
                    "\"value\":1}]";
  assert_int_equal(dm_ingest_mackerel(top, strlen(top), NULL, &wide, &b, err, sizeof err),
                   DM_EINVAL);
  assert_string_equal(err, "point 0: \"time\": 9223372036854775807.8 is out of the accepted "
                           "range [-9223372036854775808, 9223372036854775807]");
  assert_int_equal(b.n, 0);
  const char *ok = "[{\"hostId\":\"h\",\"name\":\"n\",\"time\":9223372036854774784.0,"
                   "\"value\":1},{\"hostId\":\"h\",\"name\":\"n\","
                   "\"time\":-9223372036854775808.0,\"value\":2}]";
  assert_int_equal(dm_ingest_mackerel(ok, strlen(ok), NULL, &wide, &b, err, sizeof err), 0);
  assert_int_equal(b.n, 2);
  assert_true(b.e[0].t == INT64_MAX - 1023); /* the largest double below 2^63 */
  assert_true(b.e[1].t == INT64_MIN);
}

static void test_tiny_errbuf(void **state) {
  (void)state;
  char small[8];
  assert_int_equal(dm_ingest_mackerel("[]", 2, NULL, &lim, &b, small, sizeof small), DM_EINVAL);
  assert_string_equal(small, "body: e");
  assert_int_equal(dm_ingest_mackerel("[]", 2, NULL, &lim, &b, NULL, 0), DM_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_simple, setup, teardown),
      cmocka_unit_test_setup_teardown(test_field_order_and_whitespace, setup, teardown),
      cmocka_unit_test_setup_teardown(test_step_flooring, setup, teardown),
      cmocka_unit_test_setup_teardown(test_integral_float_times, setup, teardown),
      cmocka_unit_test_setup_teardown(test_values, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unknown_fields_ignored, setup, teardown),
      cmocka_unit_test_setup_teardown(test_duplicate_fields_last_wins, setup, teardown),
      cmocka_unit_test_setup_teardown(test_service, setup, teardown),
      cmocka_unit_test_setup_teardown(test_body_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_value_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_time_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_missing_fields, setup, teardown),
      cmocka_unit_test_setup_teardown(test_name_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_host_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_name_length, setup, teardown),
      cmocka_unit_test_setup_teardown(test_max_points, setup, teardown),
      cmocka_unit_test_setup_teardown(test_large_batch, setup, teardown),
      cmocka_unit_test_setup_teardown(test_truncated_everywhere, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tiny_errbuf, setup, teardown),
      cmocka_unit_test_setup_teardown(test_time_int64_edges, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
