/* test_render_parse.c — the /render target grammar: what parses, what the paths phase lists,
 * and the position named by each syntax error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "diamond/error.h"
#include "diamond/render.h"

static char err[256];

static int parse1(const char *t, dm_render_ast **a) {
  const char *ts[1] = {t};
  size_t ls[1] = {strlen(t)};
  return dm_render_parse(a, ts, ls, 1, err, sizeof err);
}

static void expect_error(const char *t, const char *msg) {
  dm_render_ast *a = NULL;
  assert_int_equal(parse1(t, &a), DM_EINVAL);
  assert_string_equal(err, msg);
}

static void test_plain_path(void **state) {
  (void)state;
  dm_render_ast *a;
  assert_int_equal(parse1("servers.web-1.cpu_user", &a), 0);
  const dm_render_path *p;
  assert_int_equal(dm_render_paths(a, &p), 1);
  assert_string_equal(p[0].pattern, "servers.web-1.cpu_user");
  assert_int_equal(p[0].shift, 0);
  assert_int_equal(p[0].preview, 0);
  dm_render_ast_free(a);
}

static void test_globs_in_calls(void **state) {
  (void)state;
  dm_render_ast *a;
  assert_int_equal(parse1("sumSeries(a.{b,c}.*, x.[0-9]?.y, averageSeries(q:r.s))", &a), 0);
  const dm_render_path *p;
  assert_int_equal(dm_render_paths(a, &p), 3);
  assert_string_equal(p[0].pattern, "a.{b,c}.*");
  assert_string_equal(p[1].pattern, "x.[0-9]?.y");
  assert_string_equal(p[2].pattern, "q:r.s");
  dm_render_ast_free(a);
}

static void test_args_of_every_kind(void **state) {
  (void)state;
  dm_render_ast *a;
  assert_int_equal(parse1("f( a.b , 'it''s', \"x\\\"y\", -1.5e3, 42, TRUE, false, k = 'v', n=3)",
                          &a), DM_EINVAL); /* 'it' then 's' is not a separator */
  assert_string_equal(err, "target 1: position 13: expected ')' or ','");
  assert_int_equal(parse1("f( a.b , 'it', \"x\\\"y\", -1.5e3, 42, TRUE, false, k = 'v', n=3)", &a), 0);
  const dm_render_path *p;
  assert_int_equal(dm_render_paths(a, &p), 1);
  assert_string_equal(p[0].pattern, "a.b");
  dm_render_ast_free(a);
  /* a number only when followed by ',' or ')': 1a.b is a path */
  assert_int_equal(parse1("f(1a.b, 2)", &a), 0);
  assert_int_equal(dm_render_paths(a, &p), 1);
  assert_string_equal(p[0].pattern, "1a.b");
  dm_render_ast_free(a);
  /* true.x is a path, not a boolean */
  assert_int_equal(parse1("f(true.x)", &a), 0);
  assert_int_equal(dm_render_paths(a, &p), 1);
  assert_string_equal(p[0].pattern, "true.x");
  dm_render_ast_free(a);
  assert_int_equal(parse1("f()", &a), 0);
  assert_int_equal(dm_render_paths(a, &p), 0);
  dm_render_ast_free(a);
}

static void test_pipes_none_inf(void **state) {
  (void)state;
  dm_render_ast *a;
  const dm_render_path *p;
  /* a.b | timeShift('1h') is timeShift(a.b, '1h'): the shifted fetch proves the rewrite */
  assert_int_equal(parse1("a.b | timeShift('1h') |alias('x')", &a), 0);
  assert_int_equal(dm_render_paths(a, &p), 2);
  assert_string_equal(p[0].pattern, "a.b");
  assert_int_equal(p[1].shift, 3600);
  dm_render_ast_free(a);
  expect_error("a.b|c.d", "target 1: position 4: expected a function call after '|'");
  assert_int_equal(parse1("keepLastValue(a.b, INF)", &a), 0);
  dm_render_ast_free(a);
  assert_int_equal(parse1("perSecond(a.b, None, 0)", &a), 0);
  dm_render_ast_free(a);
  /* '=' is a metric character; name= starts a keyword argument */
  assert_int_equal(parse1("f(a.b=c, x=d.e)", &a), 0);
  assert_int_equal(dm_render_paths(a, &p), 2);
  assert_string_equal(p[0].pattern, "a.b=c");
  assert_string_equal(p[1].pattern, "d.e");
  dm_render_ast_free(a);
}

static void test_grafana_wrapper(void **state) {
  (void)state;
  dm_render_ast *a;
  assert_int_equal(parse1("aliasSub(sumSeries(a.*), \"(^.*$)\", \"\\1 A\")", &a), 0);
  const dm_render_path *p;
  assert_int_equal(dm_render_paths(a, &p), 1);
  assert_string_equal(p[0].pattern, "a.*");
  dm_render_ast_free(a);
}

static void test_time_contexts(void **state) {
  (void)state;
  dm_render_ast *a;
  const dm_render_path *p;
  assert_int_equal(parse1("timeShift(a.b, \"1d\")", &a), 0);
  assert_int_equal(dm_render_paths(a, &p), 2);
  assert_int_equal(p[0].shift, 0);
  assert_int_equal(p[1].shift, 86400);
  int64_t f, u;
  dm_render_path_range(&p[1], 1000000, 1003600, 60, &f, &u);
  assert_int_equal(f, 1000000 - 86400);
  assert_int_equal(u, 1003600 - 86400);
  dm_render_ast_free(a);
  assert_int_equal(parse1("timeShift(a.b, \"+1h\")", &a), 0);
  assert_int_equal(dm_render_paths(a, &p), 2);
  assert_int_equal(p[1].shift, -3600);
  dm_render_ast_free(a);
  assert_int_equal(parse1("movingAverage(timeShift(a.b,'1h'), '10min')", &a), 0);
  assert_int_equal(dm_render_paths(a, &p), 2);
  assert_int_equal(p[0].preview, 600);
  assert_int_equal(p[0].shift, 0);
  assert_int_equal(p[1].preview, 600);
  assert_int_equal(p[1].shift, 3600);
  dm_render_ast_free(a);
  assert_int_equal(parse1("movingAverage(a.b, 5)", &a), 0);
  assert_int_equal(dm_render_paths(a, &p), 1);
  assert_int_equal(p[0].preview_steps, 5);
  dm_render_path_range(&p[0], 6000, 9000, 60, &f, &u);
  assert_int_equal(f, 6000 - 300);
  assert_int_equal(u, 9000);
  dm_render_ast_free(a);
}

static void test_errors(void **state) {
  (void)state;
  expect_error("sumSeries(a.b", "target 1: position 13: expected ')' or ','");
  expect_error("sumSeries(a.b c)", "target 1: position 14: expected ')' or ','");
  expect_error("", "target 1: position 0: expected an expression");
  expect_error("f(,a)", "target 1: position 2: expected an expression, found ','");
  expect_error("alias(a, 'x)", "target 1: position 9: unterminated string");
  expect_error("a.b)", "target 1: position 3: unexpected ')' after the expression");
  expect_error("f(a,", "target 1: position 4: expected an argument");
  const char *ts[2] = {"a.b", "f(x y)"};
  size_t ls[2] = {3, 6};
  dm_render_ast *a;
  assert_int_equal(dm_render_parse(&a, ts, ls, 2, err, sizeof err), DM_EINVAL);
  assert_string_equal(err, "target 2: position 4: expected ')' or ','");
}

static void test_limits(void **state) {
  (void)state;
  char t[200] = "";
  for (int i = 0; i < 32; i++) strcat(t, "f(");
  strcat(t, "a");
  for (int i = 0; i < 32; i++) strcat(t, ")");
  dm_render_ast *a;
  assert_int_equal(parse1(t, &a), 0);
  dm_render_ast_free(a);
  char t2[200] = "";
  for (int i = 0; i < 33; i++) strcat(t2, "f(");
  strcat(t2, "a");
  for (int i = 0; i < 33; i++) strcat(t2, ")");
  expect_error(t2, "target 1: position 64: calls nested deeper than 32");
  static char big[8194];
  memset(big, 'a', 8193);
  expect_error(big, "target 1: position 8192: target longer than 8192 bytes");
  big[8192] = '\0';
  assert_int_equal(parse1(big, &a), 0);
  dm_render_ast_free(a);
}

/* Random bytes from the grammar's alphabet: parse either succeeds or names a position
 * inside the target; never a crash or a leak (run under ASan/UBSan). */
static void test_random_bytes(void **state) {
  (void)state;
  static const char alphabet[] = "ab.*?[]{},()'\"=|\\ -1e5.tTrueFalsNn_x9";
  unsigned st = 99;
  char t[64];
  for (int it = 0; it < 20000; it++) {
    st = st * 1103515245u + 12345u;
    size_t len = (st >> 16) % sizeof t;
    for (size_t i = 0; i < len; i++) {
      st = st * 1103515245u + 12345u;
      t[i] = alphabet[(st >> 16) % (sizeof alphabet - 1)];
    }
    const char *ts[1] = {t};
    size_t ls[1] = {len};
    dm_render_ast *a = NULL;
    int rc = dm_render_parse(&a, ts, ls, 1, err, sizeof err);
    if (rc == 0) {
      const dm_render_path *p;
      size_t n = dm_render_paths(a, &p);
      for (size_t i = 0; i < n; i++) assert_true(strlen(p[i].pattern) > 0);
      dm_render_ast_free(a);
    } else {
      assert_int_equal(rc, DM_EINVAL);
      assert_int_equal(strncmp(err, "target 1: position ", 19), 0);
      assert_true((size_t)atoi(err + 19) <= len);
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plain_path),      cmocka_unit_test(test_globs_in_calls),
      cmocka_unit_test(test_args_of_every_kind), cmocka_unit_test(test_grafana_wrapper),
      cmocka_unit_test(test_pipes_none_inf),
      cmocka_unit_test(test_time_contexts),   cmocka_unit_test(test_errors),
      cmocka_unit_test(test_limits),          cmocka_unit_test(test_random_bytes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
