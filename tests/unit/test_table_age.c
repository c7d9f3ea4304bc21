/* test_table_age.c — the LMDB table's ageing indexes: the contract of every engine
 * (test_table_age_contract.h: pending, scan_day, mark_aged, a put after ageing, a put
 * between scan_day and mark_aged), then LMDB's sweep: only aged, not pending, whole days
 * before the bound; aged marker kept; more deletions than one txn takes. */
#include "test_table_age_contract.h"

static size_t count_items(fx *f, const char *s, int64_t from, int64_t until) {
  res r = query(f, s, from, until);
  size_t n = r.n;
  res_free(&r);
  return n;
}

static void test_pending_and_scan_day(void **state) { age_pending_and_scan_day(*state); }

/* The contract, then the stats: what is left pending is day 1 but for the shard of S[2],
 * day 2 and day 9. */
static void test_mark_aged_and_late_put(void **state) {
  fx *f = *state;
  age_mark_aged_and_late_put(f, f->t);
  uint32_t sh[SHARDS];
  size_t nsh = shards_used(sh);
  res r = pending(f, INT64_MAX);
  assert_int_equal(r.n, nsh + 1);
  res_free(&r);
  dm_table_stats st;
  dm_table_stats_get(f->t, &st);
  assert_int_equal(st.pending_dayshards, nsh + 1);
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
