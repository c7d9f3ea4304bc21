/* test_table_age.c — the LMDB table's ageing indexes: pending, scan_day, mark_aged, a put
 * after ageing (pending again), a put between scan_day and mark_aged (stays pending), and
 * sweep (only aged, not pending, whole days before the bound; aged marker kept). */
#include "test_table_fx.h"

/* Three series over days 0, 1 and 2. */
static const char *S[] = {"host.a.cpu", "host.b.cpu", "host.c.mem", "svc.x.req", "svc.y.err"};
#define NS 5

static void put_days(fx *f) {
  dm_item in[NS * 3];
  for (int s = 0; s < NS; s++) {
    in[s * 3 + 0] = mk_item(S[s], 0, 10, s);       /* day 0 */
    in[s * 3 + 1] = mk_item(S[s], 82800, 10, s);   /* day 0, last window */
    in[s * 3 + 2] = mk_item(S[s], DAY + 3600, 10, s); /* day 1 */
  }
  put_ok(f, in, NS * 3);
  free_items(in, NS * 3);
  dm_item d2 = mk_item(S[0], 2 * DAY, 5, 0); /* day 2: one series */
  put_ok(f, &d2, 1);
  free_items(&d2, 1);
}

/* The sorted distinct shards of the series, and how many there are. */
static size_t shards_used(uint32_t *out) {
  int used[SHARDS] = {0};
  for (int s = 0; s < NS; s++) used[shard_of(S[s])] = 1;
  size_t n = 0;
  for (uint32_t i = 0; i < SHARDS; i++)
    if (used[i]) out[n++] = i;
  return n;
}

static size_t count_items(fx *f, const char *s, int64_t from, int64_t until) {
  res r = query(f, s, from, until);
  size_t n = r.n;
  res_free(&r);
  return n;
}

static void age_day(fx *f, int64_t day, const uint32_t *sh, size_t nsh) {
  for (size_t i = 0; i < nsh; i++) {
    res r = scan_day(f, (dm_dayshard){day, sh[i]});
    res_free(&r);
    mark_aged(f, (dm_dayshard){day, sh[i]});
  }
}

static void test_pending_and_scan_day(void **state) {
  fx *f = *state;
  put_days(f);
  uint32_t sh[SHARDS];
  size_t nsh = shards_used(sh);
  res r = pending(f, 2); /* days 0 and 1, sorted by day then shard */
  assert_int_equal(r.n, 2 * nsh);
  for (size_t i = 0; i < r.n; i++) {
    assert_int_equal(r.ds[i].day, (int64_t)(i / nsh));
    assert_int_equal(r.ds[i].shard, sh[i % nsh]);
  }
  res_free(&r);
  r = pending(f, 3);
  assert_int_equal(r.n, 2 * nsh + 1);
  assert_int_equal(r.ds[2 * nsh].day, 2);
  assert_int_equal(r.ds[2 * nsh].shard, shard_of(S[0]));
  res_free(&r);
  r = pending(f, 0);
  assert_int_equal(r.n, 0);
  res_free(&r);

  /* scan_day lists exactly the series of that (day, shard), in byte order. */
  for (size_t i = 0; i < nsh; i++) {
    r = scan_day(f, (dm_dayshard){0, sh[i]});
    size_t want = 0;
    for (int s = 0; s < NS; s++) {
      if (shard_of(S[s]) != sh[i]) continue;
      assert_true(want < r.n);
      assert_string_equal(r.names[want], S[s]); /* S is sorted */
      want++;
    }
    assert_int_equal(r.n, want);
    res_free(&r);
  }
  r = scan_day(f, (dm_dayshard){2, shard_of(S[0])});
  assert_int_equal(r.n, 1);
  assert_string_equal(r.names[0], S[0]);
  res_free(&r);
  r = scan_day(f, (dm_dayshard){5, 0});
  assert_int_equal(r.n, 0);
  res_free(&r);

  dm_table_stats st;
  dm_table_stats_get(f->t, &st);
  assert_int_equal(st.pending_dayshards, 2 * nsh + 1);
}

static void test_mark_aged_and_late_put(void **state) {
  fx *f = *state;
  put_days(f);
  uint32_t sh[SHARDS];
  size_t nsh = shards_used(sh);
  age_day(f, 0, sh, nsh);
  res r = pending(f, 3); /* day 0 is gone from pending */
  assert_int_equal(r.n, nsh + 1);
  assert_int_equal(r.ds[0].day, 1);
  res_free(&r);
  dm_table_stats st;
  dm_table_stats_get(f->t, &st);
  assert_int_equal(st.pending_dayshards, nsh + 1);

  /* A late point into an aged day makes it pending again. */
  dm_item late = mk_item(S[1], 7200, 1, 99);
  put_ok(f, &late, 1);
  r = pending(f, 1);
  assert_int_equal(r.n, 1);
  assert_int_equal(r.ds[0].day, 0);
  assert_int_equal(r.ds[0].shard, shard_of(S[1]));
  res_free(&r);
  mark_aged(f, (dm_dayshard){0, shard_of(S[1])}); /* no scan_day before: clears */
  r = pending(f, 1);
  assert_int_equal(r.n, 0);
  res_free(&r);

  /* A put between scan_day and mark_aged leaves the day pending for the next run. */
  dm_dayshard d1 = {1, shard_of(S[2])};
  r = scan_day(f, d1);
  res_free(&r);
  dm_item racer = mk_item(S[2], DAY + 7200, 1, 5);
  put_ok(f, &racer, 1);
  mark_aged(f, d1);
  r = pending(f, 2);
  assert_int_equal(r.n, nsh);
  int found = 0;
  for (size_t i = 0; i < r.n; i++) found += r.ds[i].day == 1 && r.ds[i].shard == d1.shard;
  assert_int_equal(found, 1);
  res_free(&r);
  r = scan_day(f, d1); /* the next run sees it and can clear it */
  res_free(&r);
  mark_aged(f, d1);
  r = pending(f, 2);
  assert_int_equal(r.n, nsh - 1);
  res_free(&r);
  free_items(&late, 1);
  free_items(&racer, 1);
}

static void test_sweep(void **state) {
  fx *f = *state;
  put_days(f);
  uint32_t sh[SHARDS];
  size_t nsh = shards_used(sh);

  sweep(f, 10 * DAY); /* nothing is aged: nothing goes */
  for (int s = 0; s < NS; s++) assert_int_equal(count_items(f, S[s], 0, 3 * DAY), 3 + (s == 0));

  age_day(f, 0, sh, nsh);
  age_day(f, 1, sh, nsh);
  sweep(f, DAY - 1); /* day 0 does not end before the bound yet */
  assert_int_equal(count_items(f, S[1], 0, DAY - 1), 2);
  sweep(f, DAY); /* day 0 ends at the bound: swept; day 1 stays */
  for (int s = 0; s < NS; s++) {
    assert_int_equal(count_items(f, S[s], 0, DAY - 1), 0);
    assert_int_equal(count_items(f, S[s], DAY, 2 * DAY - 1), 1);
  }
  res r = scan_day(f, (dm_dayshard){0, shard_of(S[0])}); /* manifest emptied */
  assert_int_equal(r.n, 0);
  res_free(&r);
  r = names(f); /* the name index is never swept */
  assert_int_equal(r.n, NS);
  res_free(&r);

  /* Late data into the swept day: pending again, manifest lists only the late series,
   * and a sweep leaves it alone until it is aged again. */
  dm_item late = mk_item(S[3], 3600, 2, 1);
  put_ok(f, &late, 1);
  dm_dayshard d0 = {0, shard_of(S[3])};
  r = scan_day(f, d0);
  assert_int_equal(r.n, 1);
  assert_string_equal(r.names[0], S[3]);
  res_free(&r);
  sweep(f, 5 * DAY);
  assert_int_equal(count_items(f, S[3], 0, DAY - 1), 1);
  for (int s = 0; s < NS; s++) /* day 1 was aged and not pending: swept now */
    assert_int_equal(count_items(f, S[s], DAY, 2 * DAY - 1), 0);
  assert_int_equal(count_items(f, S[0], 2 * DAY, 3 * DAY - 1), 1); /* day 2: not aged */
  mark_aged(f, d0);
  sweep(f, 5 * DAY);
  assert_int_equal(count_items(f, S[3], 0, DAY - 1), 0);
  r = pending(f, INT64_MAX);
  assert_int_equal(r.n, 1);
  assert_int_equal(r.ds[0].day, 2);
  res_free(&r);
  free_items(&late, 1);
}

/* More deletions than one sweep txn takes: the sweep continues in further txns. */
static void test_sweep_many(void **state) {
  fx *f = *state;
  enum { N = 600, W = 24 };
  char (*nm)[32] = calloc(N, 32);
  dm_item *in = calloc(N * W, sizeof *in);
  for (int i = 0; i < N; i++) {
    snprintf(nm[i], 32, "s%04d", i);
    for (int w = 0; w < W; w++) in[i * W + w] = mk_item(nm[i], w * WINDOW, 2, w);
  }
  put_ok(f, in, N * W);
  for (uint32_t s = 0; s < SHARDS; s++) mark_aged(f, (dm_dayshard){0, s});
  sweep(f, DAY);
  for (int i = 0; i < N; i += 37) assert_int_equal(count_items(f, nm[i], 0, DAY), 0);
  for (uint32_t s = 0; s < SHARDS; s++) {
    res r = scan_day(f, (dm_dayshard){0, s});
    assert_int_equal(r.n, 0);
    res_free(&r);
  }
  free_items(in, N * W);
  free(in);
  free(nm);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_pending_and_scan_day, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_mark_aged_and_late_put, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_sweep, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_sweep_many, fx_setup, fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
