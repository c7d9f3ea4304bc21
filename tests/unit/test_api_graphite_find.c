/* test_api_graphite_find.c — /metrics/find's core (dm_api_graphite_find_json) over a real
 * engine holding 100,000 names plus a few that exercise the corner cases: a node that is
 * both leaf and branch, '-' sorting before '.', graphite-web's dedup of treejson entries
 * by text, the completer and json formats, leavesOnly, wildcards and the budget. */
#include <time.h>

#include "../../src/api/api_int.h"
#include "diamond/buf.h"
#include "test_engine_fx.h"

enum { HOSTS = 100, METRICS = 1000 };

static void add_names(fx *f) {
  int64_t now = (int64_t)time(NULL);
  char name[64];
  for (int h = 0; h < HOSTS; h++) {
    dm_batch b;
    dm_batch_init(&b);
    for (int m = 0; m < METRICS; m++) {
      int n = snprintf(name, sizeof name, "host.h%03d.m%03d", h, m);
      assert_int_equal(dm_batch_add(&b, name, (size_t)n, now, 1.0), 0);
    }
    result r = {0};
    assert_int_equal(dm_engine_write(f->e, &b, on_done, &r), 0);
    wait_for(f, &r);
    assert_int_equal(r.status, 0);
    dm_batch_free(&b);
  }
  static const char *odd[] = {"a.b", "a.b.c", "a.b-x.y", "a.bc", "z"};
  for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
    dm_point p = {now, 2.0};
    write_points(f, odd[i], &p, 1);
  }
}

static int setup_names(void **state) {
  setup(state);
  add_names(*state);
  return 0;
}

/* The reply for query, or NULL after storing the error code in *rc. */
static char *find(fx *f, const char *query, const char *format, int leaves, int wild,
                  size_t budget, int *rc) {
  dm_buf b;
  dm_buf_init(&b);
  *rc = dm_api_graphite_find_json(f->e, query, format, leaves, wild, budget, &b);
  if (*rc < 0) {
    dm_buf_free(&b);
    return NULL;
  }
  dm_buf_add(&b, "", 1);
  return dm_buf_steal(&b, NULL);
}

static void expect_find(fx *f, const char *query, const char *format, int leaves, int wild,
                        const char *want) {
  int rc;
  char *got = find(f, query, format, leaves, wild, 1000, &rc);
  assert_int_equal(rc, 0);
  assert_string_equal(got, want);
  free(got);
}

#define BR(t, id) "{\"text\":\"" t "\",\"id\":\"" id "\",\"allowChildren\":1,\"expandable\":1,\"leaf\":0}"
#define LF(t, id) "{\"text\":\"" t "\",\"id\":\"" id "\",\"allowChildren\":0,\"expandable\":0,\"leaf\":1}"

static void test_top_level(void **state) {
  fx *f = *state;
  expect_find(f, "*", "treejson", 0, 0, "[" BR("a", "a") "," BR("host", "host") "," LF("z", "z") "]");
  expect_find(f, "?", "treejson", 0, 0, "[" BR("a", "a") "," LF("z", "z") "]");
  expect_find(f, "[a-h]*", "treejson", 0, 0, "[" BR("a", "a") "," BR("host", "host") "]");
  expect_find(f, "nope", "treejson", 0, 0, "[]");
  expect_find(f, "host", "treejson", 0, 0, "[" BR("host", "host") "]");
}

static void test_leaf_and_branch(void **state) {
  fx *f = *state;
  /* "a.b" is a leaf and a branch: one treejson entry, as a branch; branches before leaves */
  expect_find(f, "a.*", "treejson", 0, 0,
              "[" BR("b", "a.b") "," BR("b-x", "a.b-x") "," LF("bc", "a.bc") "]");
  expect_find(f, "a.*", "treejson", 1, 0, "[" LF("b", "a.b") "," LF("bc", "a.bc") "]");
  expect_find(f, "a.*", "treejson", 0, 1,
              "[" BR("*", "a.*") "," BR("b", "a.b") "," BR("b-x", "a.b-x") "," LF("bc", "a.bc") "]");
  expect_find(f, "a.{b,bc}", "json", 0, 0,
              "[{\"path\":\"a.b\",\"is_leaf\":false},{\"path\":\"a.b\",\"is_leaf\":true},"
              "{\"path\":\"a.bc\",\"is_leaf\":true}]");
  /* completer: ".." is "*." and a trailing '*' is implied */
  expect_find(f, "a.b", "completer", 0, 0,
              "{\"metrics\":[{\"path\":\"a.b.\",\"name\":\"b\",\"is_leaf\":\"0\"},"
              "{\"path\":\"a.b\",\"name\":\"b\",\"is_leaf\":\"1\"},"
              "{\"path\":\"a.b-x.\",\"name\":\"b-x\",\"is_leaf\":\"0\"},"
              "{\"path\":\"a.bc\",\"name\":\"bc\",\"is_leaf\":\"1\"}]}");
  expect_find(f, "a.b..", "completer", 0, 0, /* "a.b*.*": by name, c before y */
              "{\"metrics\":[{\"path\":\"a.b.c\",\"name\":\"c\",\"is_leaf\":\"1\"},"
              "{\"path\":\"a.b-x.y\",\"name\":\"y\",\"is_leaf\":\"1\"}]}");
  expect_find(f, "a.b.*", "treejson", 0, 0, "[" LF("c", "a.b.c") "]");
  expect_find(f, "a.b*.*", "treejson", 0, 0, "[" LF("c", "a.b*.c") "," LF("y", "a.b*.y") "]");
}

static void test_globs_in_100k(void **state) {
  fx *f = *state;
  /* treejson lists each text once (graphite-web dedups by node name); id keeps the glob */
  expect_find(f, "host.h05?.m00[0-2]", "treejson", 0, 0,
              "[" LF("m000", "host.h05?.m000") "," LF("m001", "host.h05?.m001") ","
              LF("m002", "host.h05?.m002") "]");
  expect_find(f, "host.{h001,h099}.m999", "json", 0, 0,
              "[{\"path\":\"host.h001.m999\",\"is_leaf\":true},"
              "{\"path\":\"host.h099.m999\",\"is_leaf\":true}]");
  expect_find(f, "host.h0[!0-8]*", "treejson", 0, 0,
              "[" BR("h090", "host.h090") "," BR("h091", "host.h091") "," BR("h092", "host.h092")
              "," BR("h093", "host.h093") "," BR("h094", "host.h094") "," BR("h095", "host.h095")
              "," BR("h096", "host.h096") "," BR("h097", "host.h097") "," BR("h098", "host.h098")
              "," BR("h099", "host.h099") "]");
  /* globs before a selective level: the level is checked alone and prunes whole hosts */
  expect_find(f, "*.h00[1-2].m99[8-9]", "json", 0, 0,
              "[{\"path\":\"host.h001.m998\",\"is_leaf\":true},"
              "{\"path\":\"host.h001.m999\",\"is_leaf\":true},"
              "{\"path\":\"host.h002.m998\",\"is_leaf\":true},"
              "{\"path\":\"host.h002.m999\",\"is_leaf\":true}]");
  expect_find(f, "*.{b,h042}.m00[0-1]", "json", 0, 0,
              "[{\"path\":\"host.h042.m000\",\"is_leaf\":true},"
              "{\"path\":\"host.h042.m001\",\"is_leaf\":true}]");
  expect_find(f, "?.b*.*", "treejson", 0, 0, "[" LF("c", "?.b*.c") "," LF("y", "?.b*.y") "]");
  /* a '.' inside {}: no pruning; the id keeps graphite-web's naive base path ("{a.") */
  expect_find(f, "{a.b,z}", "treejson", 0, 0, "[" LF("z", "{a.z") "]");
  /* every host: 100 branches, one visit each */
  int rc;
  char *all = find(f, "host.*", "json", 0, 0, 1000, &rc);
  assert_int_equal(rc, 0);
  size_t n = 0;
  for (const char *p = all; (p = strstr(p, "\"is_leaf\":false")) != NULL; p++) n++;
  assert_int_equal(n, HOSTS);
  free(all);
  /* a metric on every host: 100 leaves out of 100,000 names */
  all = find(f, "host.*.m123", "json", 1, 0, 1000, &rc);
  assert_int_equal(rc, 0);
  n = 0;
  for (const char *p = all; (p = strstr(p, "\"is_leaf\":true")) != NULL; p++) n++;
  assert_int_equal(n, HOSTS);
  assert_non_null(strstr(all, "{\"path\":\"host.h042.m123\",\"is_leaf\":true}"));
  free(all);
}

static void test_budget(void **state) {
  fx *f = *state;
  int rc;
  assert_null(find(f, "host.*.*", "json", 0, 0, 1000, &rc)); /* 100,000 paths */
  assert_int_equal(rc, DM_ERANGE);
  assert_null(find(f, "host.*.*", "treejson", 0, 0, 999, &rc)); /* 1,000 names */
  assert_int_equal(rc, DM_ERANGE);
  char *names = find(f, "host.*.*", "treejson", 0, 0, 1000, &rc);
  assert_int_equal(rc, 0);
  assert_non_null(strstr(names, LF("m999", "host.*.m999") "]"));
  free(names);
  assert_null(find(f, "host.h00*.*", "json", 0, 0, 9999, &rc));
  assert_int_equal(rc, DM_ERANGE);
  char *ok = find(f, "host.h00*.*", "json", 0, 0, 10000, &rc); /* exactly the budget */
  assert_int_equal(rc, 0);
  free(ok);
  /* treejson merges by name during the walk: 300 paths, 3 names, within a budget of 3 */
  char *few = find(f, "host.*.m00[0-2]", "treejson", 0, 0, 3, &rc);
  assert_int_equal(rc, 0);
  assert_string_equal(few, "[" LF("m000", "host.*.m000") "," LF("m001", "host.*.m001") ","
                           LF("m002", "host.*.m002") "]");
  free(few);
  assert_null(find(f, "host.*.m00[0-3]", "treejson", 0, 0, 3, &rc));
  assert_int_equal(rc, DM_ERANGE);
  assert_null(find(f, "host.*.m00[0-2]", "json", 0, 0, 299, &rc));
  assert_int_equal(rc, DM_ERANGE);
  assert_null(find(f, "*", "pickle", 0, 0, 1000, &rc));
  assert_int_equal(rc, DM_EINVAL);
}

/* Seeking to a level's literal text (graphite_find.c, step 5) around the names that sort
 * next to the key: shorter ("m"), '-' before '.' ("m7-a", "y-1"), a leaf that is also a
 * branch ("m7" and "m7.q"), longer ("m70"), past it ("m8", "n7"), deeper ("z.a.m7"). */
static void test_seek(void **state) {
  fx *f = *state;
  static const char *names[] = {"s.x.m",   "s.x.m6",   "s.x.m7",   "s.x.m7-a", "s.x.m7.q",
                                "s.x.m70", "s.x.m8",   "s.x.n7",   "s.y.m7",   "s.y-1.m7",
                                "s.y-1.m8", "s.ya.m",  "s.z.a.m7", "s.m7",     "s.w.m",
                                "t.x.m7",  "t.x.m7x.m7"};
  int64_t now = (int64_t)time(NULL);
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    dm_point p = {now, 1.0};
    write_points(f, names[i], &p, 1);
  }
#define P(x, leaf) "{\"path\":\"" x "\",\"is_leaf\":" leaf "}"
  expect_find(f, "s.*.m7", "json", 0, 0,
              "[" P("s.x.m7", "false") "," P("s.x.m7", "true") "," P("s.y-1.m7", "true") ","
              P("s.y.m7", "true") "]");
  expect_find(f, "s.*.m7*", "json", 0, 0,
              "[" P("s.x.m7", "false") "," P("s.x.m7", "true") "," P("s.x.m7-a", "true") ","
              P("s.x.m70", "true") "," P("s.y-1.m7", "true") "," P("s.y.m7", "true") "]");
  expect_find(f, "s.*.m7.*", "json", 0, 0, "[" P("s.x.m7.q", "true") "]");
  expect_find(f, "*.x.m7", "json", 0, 0,
              "[" P("s.x.m7", "false") "," P("s.x.m7", "true") "," P("t.x.m7", "true") "]");
  expect_find(f, "*.*.m7*.m7", "json", 0, 0, "[" P("t.x.m7x.m7", "true") "]");
  expect_find(f, "s.*.n*", "json", 0, 0, "[" P("s.x.n7", "true") "]");
  expect_find(f, "s.*.m", "json", 0, 0,
              "[" P("s.w.m", "true") "," P("s.x.m", "true") "," P("s.ya.m", "true") "]");
  expect_find(f, "s.{x,y}.m7", "json", 0, 0,
              "[" P("s.x.m7", "false") "," P("s.x.m7", "true") "," P("s.y.m7", "true") "]");
  expect_find(f, "s.*.m7", "treejson", 0, 0, "[" BR("m7", "s.*.m7") "]");
  expect_find(f, "s.*.q", "json", 0, 0, "[]");
  expect_find(f, "s.*.m7-a", "json", 0, 0, "[" P("s.x.m7-a", "true") "]");
  expect_find(f, "s.*.m7.q", "json", 0, 0, "[" P("s.x.m7.q", "true") "]");
  expect_find(f, "?.x.m7", "json", 1, 0, "[" P("s.x.m7", "true") "," P("t.x.m7", "true") "]");
#undef P
}

/* Not an assertion on time (sanitizers, loaded machines): the figure is printed. */
static void test_speed(void **state) {
  fx *f = *state;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  int rc;
  for (int i = 0; i < 100; i++) free(find(f, "*", "treejson", 0, 0, 1000, &rc));
  for (int i = 0; i < 100; i++) free(find(f, "host.*", "treejson", 0, 0, 1000, &rc));
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
  fprintf(stderr, "find '*' + 'host.*' over %d names: %.3f ms per pair\n", HOSTS * METRICS,
          ms / 100);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int i = 0; i < 100; i++) free(find(f, "host.*.m123", "treejson", 0, 0, 1000, &rc));
  clock_gettime(CLOCK_MONOTONIC, &t1);
  ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
  fprintf(stderr, "find 'host.*.m123' (a literal last level, every host): %.3f ms\n", ms / 100);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_top_level),     cmocka_unit_test(test_leaf_and_branch),
      cmocka_unit_test(test_globs_in_100k), cmocka_unit_test(test_budget),
      cmocka_unit_test(test_speed),
      cmocka_unit_test_setup_teardown(test_seek, setup, teardown),
  };
  return cmocka_run_group_tests(tests, setup_names, teardown);
}
