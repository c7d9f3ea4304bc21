/* test_core_names.c — series name rules, the shard hash and Graphite glob matching. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "diamond/error.h"
#include "diamond/names.h"

static int check(const char *s, size_t max, size_t *bad) {
  *bad = 999;
  return dm_name_check(s, strlen(s), max, bad);
}

static void test_name_valid(void **state) {
  (void)state;
  size_t bad;
  assert_int_equal(check("a", 256, &bad), 0);
  assert_int_equal(check("host.2eQGEaLxibb.custom.nginx.requests_total", 256, &bad), 0);
  assert_int_equal(check("A-Z_a-z.0-9", 256, &bad), 0);
  assert_int_equal(check("-._", 256, &bad), 0);
  assert_int_equal(bad, 999); /* untouched on success */
}

static void test_name_bad_char(void **state) {
  (void)state;
  size_t bad;
  assert_int_equal(check("cpu/user", 256, &bad), DM_EINVAL);
  assert_int_equal(bad, 3);
  assert_int_equal(check("cpu user", 256, &bad), DM_EINVAL);
  assert_int_equal(bad, 3);
  assert_int_equal(check("a.b*", 256, &bad), DM_EINVAL);
  assert_int_equal(bad, 3);
  assert_int_equal(check("\xc3\xa9t\xc3\xa9", 256, &bad), DM_EINVAL);
  assert_int_equal(bad, 0);
  assert_int_equal(dm_name_check("ab\0c", 4, 256, &bad), DM_EINVAL);
  assert_int_equal(bad, 2);
}

static void test_name_empty_segments(void **state) {
  (void)state;
  size_t bad;
  assert_int_equal(check("", 256, &bad), DM_EINVAL);
  assert_int_equal(bad, 0);
  assert_int_equal(check(".a", 256, &bad), DM_EINVAL);
  assert_int_equal(bad, 0);
  assert_int_equal(check("a..b", 256, &bad), DM_EINVAL);
  assert_int_equal(bad, 2);
  assert_int_equal(check("a.b.", 256, &bad), DM_EINVAL);
  assert_int_equal(bad, 3);
  assert_int_equal(check(".", 256, &bad), DM_EINVAL);
  assert_int_equal(bad, 0);
}

static void test_name_length(void **state) {
  (void)state;
  char s[300];
  size_t bad = 7;
  memset(s, 'x', sizeof s);
  assert_int_equal(dm_name_check(s, 256, 256, &bad), 0);
  assert_int_equal(dm_name_check(s, 257, 256, &bad), DM_ERANGE);
  assert_int_equal(bad, 7);
  assert_int_equal(dm_name_check("ab", 2, 1, NULL), DM_ERANGE);
  assert_int_equal(dm_name_check("a/", 2, 256, NULL), DM_EINVAL); /* NULL bad_at is fine */
}

static void test_segment(void **state) {
  (void)state;
  assert_int_equal(dm_segment_check("2eQGEaLxibb", 11), 0);
  assert_int_equal(dm_segment_check("a-b_c", 5), 0);
  assert_int_equal(dm_segment_check("", 0), DM_EINVAL);
  assert_int_equal(dm_segment_check("a.b", 3), DM_EINVAL);
  assert_int_equal(dm_segment_check("a b", 3), DM_EINVAL);
  assert_int_equal(dm_segment_span("ab/c", 4), 2);
  assert_int_equal(dm_segment_span("abc", 3), 3);
  assert_int_equal(dm_segment_span("", 0), 0);
  assert_int_equal(dm_name_char_ok('z'), 1);
  assert_int_equal(dm_name_char_ok('.'), 0);
  assert_int_equal(dm_name_char_ok(0xff), 0);
}

static void test_hash(void **state) {
  (void)state;
  /* FNV-1a 64 reference values. */
  assert_true(dm_name_hash("", 0) == 0xcbf29ce484222325ULL);
  assert_true(dm_name_hash("a", 1) == 0xaf63dc4c8601ec8cULL);
  assert_true(dm_name_hash("foobar", 6) == 0x85944171f73967e8ULL);
}

static int gm(const char *pat, const char *name) {
  return dm_glob_match(pat, name, strlen(name));
}

static void test_glob_literal(void **state) {
  (void)state;
  assert_int_equal(gm("a.b.c", "a.b.c"), 1);
  assert_int_equal(gm("a.b.c", "a.b.d"), 0);
  assert_int_equal(gm("a.b", "a.b.c"), 0);
  assert_int_equal(gm("a.b.c", "a.b"), 0);
  assert_int_equal(gm("", ""), 1);
  assert_int_equal(gm("", "a"), 0);
}

static void test_glob_star(void **state) {
  (void)state;
  assert_int_equal(gm("*", "abc"), 1);
  assert_int_equal(gm("*", "a.b"), 0); /* never crosses a '.' */
  assert_int_equal(gm("*.*", "a.b"), 1);
  assert_int_equal(gm("a.*.c", "a.bbb.c"), 1);
  assert_int_equal(gm("a.*.c", "a.b.b.c"), 0);
  assert_int_equal(gm("a.*", "a.b.c"), 0); /* same number of segments */
  assert_int_equal(gm("host.*.cpu*", "host.h1.cpu_user"), 1);
  assert_int_equal(gm("host.*.cpu*", "host.h1.cpu"), 1);
  assert_int_equal(gm("host.*.cpu*", "host.h1.mem"), 0);
  assert_int_equal(gm("*a*b*", "xxaxxbxx"), 1);
  assert_int_equal(gm("*a*b*", "xxbxxaxx"), 0);
  assert_int_equal(gm("a**b", "ab"), 1);
  assert_int_equal(gm("a.*", "a."), 1); /* '*' may be empty (such names never exist) */
}

static void test_glob_question(void **state) {
  (void)state;
  assert_int_equal(gm("a?c", "abc"), 1);
  assert_int_equal(gm("a?c", "ac"), 0);
  assert_int_equal(gm("a?c", "a.c"), 0);
  assert_int_equal(gm("???", "abc"), 1);
}

static void test_glob_class(void **state) {
  (void)state;
  assert_int_equal(gm("cpu[0-9]", "cpu7"), 1);
  assert_int_equal(gm("cpu[0-9]", "cpux"), 0);
  assert_int_equal(gm("[a-z0-9]x", "Qx"), 0);
  assert_int_equal(gm("[a-z0-9]x", "qx"), 1);
  assert_int_equal(gm("[a-z0-9]x", "5x"), 1);
  assert_int_equal(gm("[!x]y", "ay"), 1);
  assert_int_equal(gm("[!x]y", "xy"), 0);
  assert_int_equal(gm("[!x]", "."), 0); /* a class never matches '.' */
  assert_int_equal(gm("[]a]", "]"), 1); /* ']' first is a member */
  assert_int_equal(gm("[abc", "[abc"), 1); /* unclosed: literal */
  assert_int_equal(gm("[abc", "a"), 0);
  assert_int_equal(gm("[-a]", "-"), 1);
  assert_int_equal(gm("[a-]", "-"), 1);
}

static void test_glob_braces(void **state) {
  (void)state;
  assert_int_equal(gm("{a,b,c}.x", "b.x"), 1);
  assert_int_equal(gm("{a,b,c}.x", "d.x"), 0);
  assert_int_equal(gm("cpu.{user,sys}", "cpu.sys"), 1);
  assert_int_equal(gm("cpu.{user,sys}", "cpu.idle"), 0);
  assert_int_equal(gm("x{,y}", "x"), 1); /* empty alternative */
  assert_int_equal(gm("x{,y}", "xy"), 1);
  assert_int_equal(gm("{a*,b?}z", "aaaz"), 1);
  assert_int_equal(gm("{a*,b?}z", "bqz"), 1);
  assert_int_equal(gm("{a*,b?}z", "bqqz"), 0);
  assert_int_equal(gm("{a,{b,c}d}", "cd"), 1); /* nested */
  assert_int_equal(gm("{a,{b,c}d}", "c"), 0);
  assert_int_equal(gm("{a.b,c}.z", "a.b.z"), 1); /* as graphite-web's brace expansion */
  assert_int_equal(gm("{a.b,c}.z", "c.z"), 1);
  assert_int_equal(gm("{ab", "{ab"), 1); /* unclosed: literal */
  assert_int_equal(gm("host.{h1,h2}.cpu.*", "host.h2.cpu.user"), 1);
  assert_int_equal(gm("host.{h1,h2}.cpu.*", "host.h3.cpu.user"), 0);
}

static void test_glob_is_pattern(void **state) {
  (void)state;
  assert_int_equal(dm_glob_is_pattern("a.b.c"), 0);
  assert_int_equal(dm_glob_is_pattern(""), 0);
  assert_int_equal(dm_glob_is_pattern("a.*"), 1);
  assert_int_equal(dm_glob_is_pattern("a?"), 1);
  assert_int_equal(dm_glob_is_pattern("a[0-9]"), 1);
  assert_int_equal(dm_glob_is_pattern("{a,b}"), 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_name_valid),      cmocka_unit_test(test_name_bad_char),
      cmocka_unit_test(test_name_empty_segments), cmocka_unit_test(test_name_length),
      cmocka_unit_test(test_segment),         cmocka_unit_test(test_hash),
      cmocka_unit_test(test_glob_literal),    cmocka_unit_test(test_glob_star),
      cmocka_unit_test(test_glob_question),   cmocka_unit_test(test_glob_class),
      cmocka_unit_test(test_glob_braces),     cmocka_unit_test(test_glob_is_pattern),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
