/* test_table_dynamodb_age.c — the DynamoDB table's ageing indexes against a real
 * dynalite, with the LMDB table's semantics (test_table_age.c): pending sorted by day and
 * shard, scan_day lists exactly a (day, shard)'s series in byte order, mark_aged clears
 * pending, a late put makes a day pending again, a put between scan_day and mark_aged
 * leaves it pending, sweep is a no-op (TTL deletes), names across shards sorted and read
 * back by a second handle (another node). */
#include "test_table_dynamodb_fx.h"

static const char *S[] = {"host.a.cpu", "host.b.cpu", "host.c.mem", "svc.x.req", "svc.y.err"};
#define NS 5

static void put_days(fx *f) {
  dm_item in[NS * 3];
  for (int s = 0; s < NS; s++) {
    in[s * 3 + 0] = mk_item(S[s], 0, 10, s);
    in[s * 3 + 1] = mk_item(S[s], 82800, 10, s);
    in[s * 3 + 2] = mk_item(S[s], DAY + 3600, 10, s);
    for (int k = 0; k < 3; k++) in[s * 3 + k].known_new = 1;
  }
  put_ok(f, in, NS * 3);
  free_items(in, NS * 3);
  dm_item d2 = mk_item(S[0], 2 * DAY, 5, 0);
  put_ok(f, &d2, 1);
  free_items(&d2, 1);
}

static size_t shards_used(uint32_t *out) {
  int used[SHARDS] = {0};
  for (int s = 0; s < NS; s++) used[shard_of(S[s])] = 1;
  size_t n = 0;
  for (uint32_t i = 0; i < SHARDS; i++)
    if (used[i]) out[n++] = i;
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
  res r = pending(f, 2);
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
  r = pending(f, INT64_MAX);
  assert_int_equal(r.n, 2 * nsh + 1);
  res_free(&r);
  dm_table_stats st;
  dm_table_stats_get(f->t, &st);
  assert_int_equal(st.pending_dayshards, 2 * nsh + 1);

  for (size_t i = 0; i < nsh; i++) {
    r = scan_day(f, (dm_dayshard){0, sh[i]});
    size_t want = 0;
    for (int s = 0; s < NS; s++) {
      if (shard_of(S[s]) != sh[i]) continue;
      assert_true(want < r.n);
      assert_string_equal(r.names[want], S[s]);
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
}

static void test_mark_aged_and_late_put(void **state) {
  fx *f = *state;
  put_days(f);
  uint32_t sh[SHARDS];
  size_t nsh = shards_used(sh);
  age_day(f, 0, sh, nsh);
  res r = pending(f, 3);
  assert_int_equal(r.n, nsh + 1);
  assert_int_equal(r.ds[0].day, 1);
  res_free(&r);
  yajl_val root;
  char pk[48];
  ddb_aged_pk(pk, 0, sh[0]);
  assert_non_null(raw_get(f, pk, 0, &root)); /* the aged marker */
  yajl_tree_free(root);

  /* a late point into an aged day makes it pending again */
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

  /* a put between scan_day and mark_aged leaves the day pending for the next run, even
   * from another node (a second handle) */
  dm_table *g = ddb_open_other(f, NULL);
  dm_dayshard d1 = {1, shard_of(S[2])};
  r = scan_day(f, d1);
  res_free(&r);
  dm_item racer = mk_item(S[2], DAY + 7200, 1, 5);
  ON_TABLE(f, g, put_ok(f, &racer, 1));
  mark_aged(f, d1);
  r = pending(f, 2);
  assert_int_equal(r.n, nsh);
  int found = 0;
  for (size_t i = 0; i < r.n; i++) found += r.ds[i].day == 1 && r.ds[i].shard == d1.shard;
  assert_int_equal(found, 1);
  res_free(&r);
  r = scan_day(f, d1);
  res_free(&r);
  mark_aged(f, d1);
  r = pending(f, 2);
  assert_int_equal(r.n, nsh - 1);
  res_free(&r);

  /* a (day, shard) that had no pending item at scan time but got one before mark_aged */
  dm_dayshard d9 = {9, shard_of(S[3])};
  r = scan_day(f, d9);
  assert_int_equal(r.n, 0);
  res_free(&r);
  dm_item nine = mk_item(S[3], 9 * DAY, 1, 1);
  ON_TABLE(f, g, put_ok(f, &nine, 1));
  mark_aged(f, d9);
  r = pending(f, 10);
  found = 0;
  for (size_t i = 0; i < r.n; i++) found += r.ds[i].day == 9;
  assert_int_equal(found, 1);
  res_free(&r);

  /* sweep deletes nothing itself: DynamoDB's TTL does */
  sweep(f, 10 * DAY);
  r = query(f, S[0], 0, DAY - 1);
  assert_int_equal(r.n, 2);
  res_free(&r);
  dm_table_close(g);
  run(f);
  free_items(&late, 1);
  free_items(&racer, 1);
  free_items(&nine, 1);
}

static void test_names_across_shards(void **state) {
  fx *f = *state;
  enum { N = 40 };
  char nm[N][24];
  dm_item in[N];
  int used[SHARDS] = {0};
  for (int i = 0; i < N; i++) {
    snprintf(nm[i], sizeof nm[i], "n.%c%02d", 'z' - i % 26, i); /* put out of order */
    in[i] = mk_item(nm[i], 0, 1, i);
    in[i].known_new = 1;
    used[shard_of(nm[i])] = 1;
  }
  for (int s = 0; s < SHARDS; s++) assert_true(used[s]);
  put_ok(f, in, N);
  put_ok(f, in, N / 2); /* again (merges): names are not written twice */
  dm_table *g = ddb_open_other(f, NULL);
  res r;
  ON_TABLE(f, g, r = names(f));
  assert_int_equal(r.n, N);
  for (size_t i = 1; i < r.n; i++) assert_true(strcmp(r.names[i - 1], r.names[i]) < 0);
  res_free(&r);
  dm_table_close(g);
  run(f);
  free_items(in, N);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_pending_and_scan_day, ddb_setup, ddb_teardown),
      cmocka_unit_test_setup_teardown(test_mark_aged_and_late_put, ddb_setup, ddb_teardown),
      cmocka_unit_test_setup_teardown(test_names_across_shards, ddb_setup, ddb_teardown),
  };
  return cmocka_run_group_tests(tests, dyn_start, dyn_group_teardown);
}
