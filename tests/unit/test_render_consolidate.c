/* test_render_consolidate.c — maxDataPoints as graphite-web 1.1's render view applies it,
 * the whisper-shaped grid, and the json and csv writers. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "diamond/error.h"
#include "diamond/render.h"

#define N NAN

static dm_render_series *mk(const char *name, int64_t start, int64_t step, size_t n,
                            const double *v) {
  dm_render_series *s = dm_render_series_new(name, strlen(name), start, step, n);
  assert_non_null(s);
  memcpy(s->v, v, n * sizeof *v);
  return s;
}

static void expect_json(const dm_render_list *l, int no_null, const char *want) {
  dm_buf b;
  dm_buf_init(&b);
  dm_render_json(&b, l, no_null);
  dm_buf_add(&b, "", 1);
  assert_string_equal(b.p, want);
  dm_buf_free(&b);
}

static const double ten[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};

/* One series of v[10] at start, step 10 through maxpoints(mdp), as json points. */
static void expect_mdp(int64_t start, dm_render_cf cf, size_t mdp,
                       const double *v, const char *want) {
  dm_render_list l = {0};
  dm_render_series *s = mk("m", start, 10, 10, v);
  s->cf = cf;
  assert_int_equal(dm_render_list_add(&l, s), 0);
  assert_int_equal(dm_render_maxpoints(&l, 0, 0, mdp), 0);
  char full[512];
  snprintf(full, sizeof full, "[{\"target\":\"m\",\"tags\":{\"name\":\"m\"},\"datapoints\":[%s]}]",
           want);
  expect_json(&l, 0, full);
  dm_render_list_free(&l);
}

static void test_no_consolidation_needed(void **state) {
  (void)state;
  expect_mdp(1000, DM_CF_AVG, 10, ten,
             "[1,1000],[2,1010],[3,1020],[4,1030],[5,1040],[6,1050],[7,1060],[8,1070],[9,1080],"
             "[10,1090]");
  expect_mdp(1000, DM_CF_AVG, 0, ten,
             "[1,1000],[2,1010],[3,1020],[4,1030],[5,1040],[6,1050],[7,1060],[8,1070],[9,1080],"
             "[10,1090]");
}

static void test_aligned_start(void **state) {
  (void)state;
  /* vpp = 2, spp = 20, nudge = 20: start 1020, one value dropped (nudge/step - 1) */
  expect_mdp(1000, DM_CF_AVG, 5, ten,
             "[2.5,1020],[4.5,1040],[6.5,1060],[8.5,1080],[10,1100]");
  /* vpp = 3, spp = 30, nudge = 30 - 1000 % 30 = 20 */
  expect_mdp(1000, DM_CF_AVG, 4, ten, "[3,1020],[6,1050],[9,1080]");
}

static void test_misaligned_start(void **state) {
  (void)state;
  /* start 1010: nudge = 20 - 10 = 10, nothing dropped */
  expect_mdp(1010, DM_CF_AVG, 5, ten,
             "[1.5,1020],[3.5,1040],[5.5,1060],[7.5,1080],[9.5,1100]");
}

static void test_functions(void **state) {
  (void)state;
  expect_mdp(1010, DM_CF_SUM, 5, ten, "[3,1020],[7,1040],[11,1060],[15,1080],[19,1100]");
  expect_mdp(1010, DM_CF_MAX, 5, ten, "[2,1020],[4,1040],[6,1060],[8,1080],[10,1100]");
  expect_mdp(1010, DM_CF_MIN, 5, ten, "[1,1020],[3,1040],[5,1060],[7,1080],[9,1100]");
  expect_mdp(1010, DM_CF_FIRST, 5, ten, "[1,1020],[3,1040],[5,1060],[7,1080],[9,1100]");
  expect_mdp(1010, DM_CF_LAST, 5, ten, "[2,1020],[4,1040],[6,1060],[8,1080],[10,1100]");
}

static void test_nulls_in_buckets(void **state) {
  (void)state;
  const double v[10] = {N, N, N, 4, 5, N, N, N, 9, N};
  /* buckets {N,N} {N,4} {5,N} {N,N} {9,N}: nulls ignored, all-null = null */
  expect_mdp(1010, DM_CF_AVG, 5, v, "[null,1020],[4,1040],[5,1060],[null,1080],[9,1100]");
  expect_mdp(1010, DM_CF_SUM, 5, v, "[null,1020],[4,1040],[5,1060],[null,1080],[9,1100]");
}

static void test_range_of_the_results(void **state) {
  (void)state;
  /* timeRange spans both series (1000 .. 1200): 20 steps for mdp 10 -> vpp 2 for both */
  dm_render_list l = {0};
  assert_int_equal(dm_render_list_add(&l, mk("a", 1000, 10, 10, ten)), 0);
  assert_int_equal(dm_render_list_add(&l, mk("b", 1100, 10, 10, ten)), 0);
  assert_int_equal(dm_render_maxpoints(&l, 0, 0, 10), 0);
  assert_int_equal(l.s[0]->step, 20);
  assert_int_equal(l.s[0]->start, 1020);
  assert_int_equal(l.s[0]->n, 5);
  assert_int_equal(l.s[1]->step, 20);
  assert_int_equal(l.s[1]->start, 1120);
  assert_true(l.s[1]->v[0] == 2.5);
  dm_render_list_free(&l);
}

static void test_one_point(void **state) {
  (void)state;
  expect_mdp(1000, DM_CF_AVG, 1, ten, "[5.5,1000]");
  expect_mdp(1000, DM_CF_MAX, 1, ten, "[10,1000]");
}

static void test_grid(void **state) {
  (void)state;
  const int64_t ts[4] = {990, 1000, 1020, 1050};
  const double vs[4] = {9, 1, 3, 6};
  /* [999, 1049] at step 10: 1000 .. 1040; 990 and 1050 are outside */
  dm_render_series *s = dm_render_series_grid("g", 1, 999, 1049, 10, ts, vs, 4);
  assert_non_null(s);
  assert_int_equal(s->start, 1000);
  assert_int_equal(s->n, 5);
  dm_render_list l = {0};
  assert_int_equal(dm_render_list_add(&l, s), 0);
  expect_json(&l, 0, "[{\"target\":\"g\",\"tags\":{\"name\":\"g\"},\"datapoints\":"
                     "[[1,1000],[null,1010],[3,1020],[null,1030],[null,1040]]}]");
  expect_json(&l, 1, "[{\"target\":\"g\",\"tags\":{\"name\":\"g\"},\"datapoints\":"
                     "[[1,1000],[3,1020]]}]");
  dm_render_list_free(&l);
  /* an aligned from is excluded, as whisper excludes it */
  s = dm_render_series_grid("g", 1, 1000, 1040, 10, ts, vs, 4);
  assert_int_equal(s->start, 1010);
  assert_int_equal(s->n, 4);
  dm_render_series_free(s);
  /* inside one interval: that interval */
  s = dm_render_series_grid("g", 1, 1001, 1005, 10, ts, vs, 4);
  assert_int_equal(s->start, 1010);
  assert_int_equal(s->n, 1);
  dm_render_series_free(s);
  s = dm_render_series_grid("g", 1, 1100, 1000, 10, ts, vs, 4);
  assert_int_equal(s->n, 0);
  dm_render_series_free(s);
}

static void test_json_no_null_and_escapes(void **state) {
  (void)state;
  dm_render_list l = {0};
  assert_int_equal(dm_render_list_add(&l, mk("empty", 0, 60, 2, (double[]){N, N})), 0);
  assert_int_equal(dm_render_list_add(&l, mk("q\"\\x", 60, 60, 2, (double[]){0.25, -3})), 0);
  expect_json(&l, 0, "[{\"target\":\"empty\",\"tags\":{\"name\":\"empty\"},\"datapoints\":"
                     "[[null,0],[null,60]]},{\"target\":\"q\\\"\\\\x\",\"tags\":{\"name\":"
                     "\"q\\\"\\\\x\"},\"datapoints\":[[0.25,60],[-3,120]]}]");
  expect_json(&l, 1, "[{\"target\":\"q\\\"\\\\x\",\"tags\":{\"name\":\"q\\\"\\\\x\"},"
                     "\"datapoints\":[[0.25,60],[-3,120]]}]");
  dm_render_list_free(&l);
  expect_json(&l, 0, "[]");
}

static void test_csv(void **state) {
  (void)state;
  dm_render_list l = {0};
  assert_int_equal(dm_render_list_add(&l, mk("a.b", 1700000000, 60, 2, (double[]){1.5, N})), 0);
  assert_int_equal(dm_render_list_add(&l, mk("sumSeries(a,b)", 0, 60, 1, (double[]){2})), 0);
  dm_buf b;
  dm_buf_init(&b);
  dm_render_csv(&b, &l);
  dm_buf_add(&b, "", 1);
  assert_string_equal(b.p, "a.b,2023-11-14 22:13:20,1.5\r\n"
                           "a.b,2023-11-14 22:14:20,\r\n"
                           "\"sumSeries(a,b)\",1970-01-01 00:00:00,2.0\r\n");
  dm_buf_free(&b);
  dm_render_list_free(&l);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_no_consolidation_needed), cmocka_unit_test(test_aligned_start),
      cmocka_unit_test(test_misaligned_start),        cmocka_unit_test(test_functions),
      cmocka_unit_test(test_nulls_in_buckets),        cmocka_unit_test(test_one_point), cmocka_unit_test(test_range_of_the_results),
      cmocka_unit_test(test_grid),                    cmocka_unit_test(test_json_no_null_and_escapes),
      cmocka_unit_test(test_csv),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
