/* test_engine.c — the engine on a real loop and a temp data dir, without HTTP: the write
 * path, reads merged over cache > table > blob through flush and age, latest, names,
 * restart from the WAL and from the table, and the retry backoff policy. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_engine_fx.h"

static void three_tiers_and_restart(void **state) {
  fx *f = *state;
  int64_t now = dm_floor(dm_now(), 60);
  int64_t old = dm_floor(now - 20 * 86400, 86400) + 3600, mid = now - 3 * 86400;
  const char *s = "host.h1.cpu.user";
  dm_point p_old[] = {{old, 1}, {old + 60, 2}}, p_mid[] = {{mid, 3}}, p_now[] = {{now, 4}};
  write_points(f, s, p_old, 2);
  write_points(f, s, p_mid, 1);
  run_admin(f, 0); /* flush: old and mid windows to the table */
  run_admin(f, 1); /* age: the old day into a blob */
  uint64_t flushed, aged;
  dm_engine_last_counts(f->e, &flushed, &aged);
  assert_int_equal(aged, 1);
  write_points(f, s, p_now, 1);
  const dm_point want[] = {{old, 1}, {old + 60, 2}, {mid, 3}, {now, 4}};
  expect((result[]){read_series(f, s, old - 86400, now)}, want, 4);
  /* a late write into the aged day overrides the blob: cache > blob, then table > blob */
  dm_point late[] = {{old + 60, 20}};
  write_points(f, s, late, 1);
  const dm_point want2[] = {{old, 1}, {old + 60, 20}, {mid, 3}, {now, 4}};
  expect((result[]){read_series(f, s, old - 86400, now)}, want2, 4);
  run_admin(f, 0);
  expect((result[]){read_series(f, s, old - 86400, now)}, want2, 4);
  /* restart: now-point comes back from the WAL, the rest from table and blob */
  close_engine(f);
  open_engine(f);
  expect((result[]){read_series(f, s, old - 86400, now)}, want2, 4);
  run_admin(f, 1); /* repack the old day with the late point */
  expect((result[]){read_series(f, s, old - 86400, now)}, want2, 4);
  /* clipped ranges */
  expect((result[]){read_series(f, s, old + 1, mid)}, want2 + 1, 2);
  result none = read_series(f, "host.h1.absent", old, now);
  assert_int_equal(none.status, 0);
  assert_int_equal(none.n, 0);
}

static void latest_and_names(void **state) {
  fx *f = *state;
  int64_t now = dm_floor(dm_now(), 60);
  dm_point a[] = {{now - 7200, 1}, {now - 60, 2}};
  write_points(f, "host.h1.a", a, 2);
  write_points(f, "host.h1.b.c", a, 1);
  write_points(f, "host.h2.a", a, 1);
  result r = {0};
  assert_int_equal(dm_engine_latest(f->e, "host.h1.a", 9, on_points, &r), 0);
  wait_for(f, &r);
  expect(&r, &a[1], 1);
  run_admin(f, 0);
  memset(&r, 0, sizeof r);
  assert_int_equal(dm_engine_latest(f->e, "host.h1.a", 9, on_points, &r), 0);
  wait_for(f, &r);
  expect(&r, &a[1], 1);
  memset(&r, 0, sizeof r);
  assert_int_equal(dm_engine_latest(f->e, "host.h9.a", 9, on_points, &r), 0);
  wait_for(f, &r);
  assert_int_equal(r.status, DM_ENOENT);
}

static void collect(void *arg, const char *name, size_t len) {
  char *out = arg;
  strncat(out, name, len);
  strcat(out, ";");
}

static void names_survive_restart(void **state) {
  fx *f = *state;
  int64_t now = dm_floor(dm_now(), 60);
  dm_point a[] = {{now, 1}};
  write_points(f, "host.h1.z", a, 1);
  write_points(f, "host.h1.a", a, 1);
  write_points(f, "host.h10.a", a, 1);
  char got[256] = "";
  dm_engine_names(f->e, "host.h1.", 8, collect, got);
  assert_string_equal(got, "host.h1.a;host.h1.z;");
  run_admin(f, 0);
  close_engine(f);
  open_engine(f);
  got[0] = '\0';
  dm_engine_names(f->e, "host.h1", 7, collect, got);
  assert_string_equal(got, "host.h1.a;host.h1.z;host.h10.a;");
}

static void backpressure_when_cache_full(void **state) {
  fx *f = *state;
  close_engine(f);
  f->cfg.cache_max_bytes = 1;
  open_engine(f);
  int64_t now = dm_floor(dm_now(), 60);
  dm_batch b; /* the cache's own structures already exceed 1 byte */
  dm_batch_init(&b);
  dm_batch_add(&b, "host.h1.a", 9, now, 2);
  result r = {0};
  assert_int_equal(dm_engine_write(f->e, &b, on_done, &r), DM_EBUSY);
  assert_true(dm_engine_retry_after(f->e) >= 1);
  char why[128];
  assert_int_equal(dm_engine_ready(f->e, why, sizeof why), 0);
  assert_non_null(strstr(why, "backpressure"));
  dm_batch_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(three_tiers_and_restart, setup, teardown),
      cmocka_unit_test_setup_teardown(latest_and_names, setup, teardown),
      cmocka_unit_test_setup_teardown(names_survive_restart, setup, teardown),
      cmocka_unit_test_setup_teardown(backpressure_when_cache_full, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
