/* test_api_graphite_fetch.c — /render's fetch (dm_gfetch) over a real engine: whisper's
 * grid (the first step boundary after from through the one at or after until), until
 * clamped to now (a point accepted ahead of the clock shows once its time has come), a
 * range that starts after now matching no series, a range inside one interval being that
 * interval, series sorted by name. */
#include <math.h>

#include "../../src/api/graphite_fetch.h"
#include "test_engine_fx.h"

typedef struct got {
  int done, status;
  size_t n;
  char names[4][32];
  int64_t start, step;
  size_t slots;
  double v[256];
} got;

static void on_fetch(void *arg, int status, const char *err, dm_gseries *s, size_t n) {
  got *g = arg;
  (void)err;
  g->done = 1;
  g->status = status;
  g->n = n;
  for (size_t i = 0; i < n && i < 4; i++) snprintf(g->names[i], 32, "%s", s[i].name);
  if (n > 0) {
    g->start = s[0].start;
    g->step = s[0].step;
    g->slots = s[0].n;
    for (size_t k = 0; k < s[0].n && k < 256; k++) g->v[k] = s[0].v[k];
  }
}

static got fetch(fx *f, const char *pattern, int64_t from, int64_t until, int64_t now) {
  got g = {0};
  dm_gfetch_opts o = {from, until, now, 100, 1000000};
  assert_int_equal(dm_gfetch(f->e, &pattern, 1, &o, on_fetch, &g), 0);
  while (!g.done) uv_run(&f->loop, UV_RUN_ONCE);
  assert_int_equal(g.status, 0);
  return g;
}

static void test_until_is_clamped_to_now(void **state) {
  fx *f = *state;
  int64_t t = dm_now() / 60 * 60 - 600; /* a step boundary 10 minutes ago */
  dm_point p[] = {{t, 1.0}, {t + 60, 2.0}, {t + 600, 3.0}, {t + 660, 4.0}};
  write_points(f, "a.b", p, 4);
  write_points(f, "a.c", p, 1);
  int64_t now = t + 630; /* the clock of the query: t + 660 is still ahead of it */

  got g = fetch(f, "a.*", t - 60, t + 3600, now);
  assert_int_equal(g.n, 2);
  assert_string_equal(g.names[0], "a.b");
  assert_string_equal(g.names[1], "a.c");
  assert_int_equal(g.start, t);
  assert_int_equal(g.step, 60);
  assert_int_equal(g.slots, 11); /* t .. t + 600: until = now, whose slot is t + 600 */
  assert_true(g.v[0] == 1.0 && g.v[1] == 2.0 && g.v[10] == 3.0);
  for (int k = 2; k < 10; k++) assert_true(isnan(g.v[k]));

  g = fetch(f, "a.b", t - 60, t + 3600, t + 700); /* later: t + 660 has come */
  assert_int_equal(g.slots, 12);
  assert_true(g.v[11] == 4.0);

  g = fetch(f, "a.b", t + 1, t + 121, now); /* unaligned: t + 60 and t + 120 */
  assert_int_equal(g.start, t + 60);
  assert_int_equal(g.slots, 2);
  assert_true(g.v[0] == 2.0);
}

static void test_range_after_now_has_no_series(void **state) {
  fx *f = *state;
  int64_t t = dm_now() / 60 * 60 - 600;
  dm_point p[] = {{t, 1.0}};
  write_points(f, "x.y", p, 1);
  got g = fetch(f, "x.y", t + 3600, t + 7200, t + 60);
  assert_int_equal(g.n, 0);
  g = fetch(f, "x.*", t + 61, t + 7200, t + 60);
  assert_int_equal(g.n, 0);
  g = fetch(f, "x.y", t + 60, t + 7200, t + 60); /* from == now: the interval of now */
  assert_int_equal(g.n, 1);
  assert_int_equal(g.start, t + 120);
  assert_int_equal(g.slots, 1);
  g = fetch(f, "x.y", t - 59, t - 55, t + 60); /* inside one interval: that interval */
  assert_int_equal(g.start, t);
  assert_int_equal(g.slots, 1);
  assert_true(g.v[0] == 1.0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_until_is_clamped_to_now, setup, teardown),
      cmocka_unit_test_setup_teardown(test_range_after_now_has_no_series, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
