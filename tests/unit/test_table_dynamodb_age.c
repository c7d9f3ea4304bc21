/* test_table_dynamodb_age.c — the DynamoDB table's ageing indexes against a real
 * dynalite: the contract of every engine (test_table_age_contract.h: pending sorted by day
 * and shard, scan_day lists exactly a (day, shard)'s series in byte order, mark_aged clears
 * pending, a late put makes a day pending again, a put between scan_day and mark_aged
 * leaves it pending, here from another node), then DynamoDB's own: aged markers, sweep is
 * a no-op (TTL deletes), names across shards sorted and read back by a second handle. */
#include "test_table_dynamodb_fx.h"
#include "test_table_age_contract.h"

static void test_pending_and_scan_day(void **state) { age_pending_and_scan_day(*state); }

/* The contract with the racing puts from another node (a second handle), then what is
 * DynamoDB's own: aged markers stay, and sweep deletes nothing itself (TTL does). */
static void test_mark_aged_and_late_put(void **state) {
  fx *f = *state;
  dm_table *g = ddb_open_other(f, NULL);
  age_mark_aged_and_late_put(f, g);
  uint32_t sh[SHARDS];
  size_t nsh = shards_used(sh);
  for (size_t i = 0; i < nsh; i++) {
    yajl_val root;
    char pk[48];
    ddb_aged_pk(pk, 0, sh[i]);
    assert_non_null(raw_get(f, pk, 0, &root)); /* the aged marker */
    yajl_tree_free(root);
  }
  sweep(f, 10 * DAY);
  res r = query(f, S[0], 0, DAY - 1);
  assert_int_equal(r.n, 2);
  res_free(&r);
  dm_table_close(g);
  run(f);
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
