/* test_table_age_contract.h — what every table engine's ageing indexes must do
 * (include/diamond/table.h: pending, scan_day, mark_aged), as case bodies that
 * test_table_age.c (LMDB) and test_table_dynamodb_age.c (DynamoDB against dynalite) run on
 * the fx of test_table_fx.h, each from a cmocka case of its own. What differs stays there:
 * LMDB's sweep deletes, DynamoDB's is a no-op (TTL deletes) and leaves aged markers, and
 * DynamoDB has a second node to race with.
 *
 * The data: five series over days 0 and 1 (two windows on day 0, one on day 1), one of
 * them on day 2 too. */
#ifndef TEST_TABLE_AGE_CONTRACT_H
#define TEST_TABLE_AGE_CONTRACT_H

#include "test_table_fx.h"

static const char *S[] = {"host.a.cpu", "host.b.cpu", "host.c.mem", "svc.x.req", "svc.y.err"};
#define NS 5

static inline void put_days(fx *f) {
  dm_item in[NS * 3];
  for (int s = 0; s < NS; s++) {
    in[s * 3 + 0] = mk_item(S[s], 0, 10, s);          /* day 0 */
    in[s * 3 + 1] = mk_item(S[s], 82800, 10, s);      /* day 0, last window */
    in[s * 3 + 2] = mk_item(S[s], DAY + 3600, 10, s); /* day 1 */
    for (int k = 0; k < 3; k++) in[s * 3 + k].known_new = 1; /* first writes: true */
  }
  put_ok(f, in, NS * 3);
  free_items(in, NS * 3);
  dm_item d2 = mk_item(S[0], 2 * DAY, 5, 0); /* day 2: one series */
  put_ok(f, &d2, 1);
  free_items(&d2, 1);
}

/* The sorted distinct shards of the series, and how many there are. */
static inline size_t shards_used(uint32_t *out) {
  int used[SHARDS] = {0};
  for (int s = 0; s < NS; s++) used[shard_of(S[s])] = 1;
  size_t n = 0;
  for (uint32_t i = 0; i < SHARDS; i++)
    if (used[i]) out[n++] = i;
  return n;
}

/* What the ager does with a day: scan_day, then mark_aged, for each shard. */
static inline void age_day(fx *f, int64_t day, const uint32_t *sh, size_t nsh) {
  for (size_t i = 0; i < nsh; i++) {
    res r = scan_day(f, (dm_dayshard){day, sh[i]});
    res_free(&r);
    mark_aged(f, (dm_dayshard){day, sh[i]});
  }
}

/* put_ok through table t (another node's handle) instead of f->t. */
static inline void put_through(fx *f, dm_table *t, const dm_item *in, size_t n) {
  dm_table *mine = f->t;
  f->t = t;
  put_ok(f, in, n);
  f->t = mine;
}

/* pending is sorted by day then shard and bounded by day; scan_day lists exactly the
 * series of that (day, shard), in byte order; the stats count pending (day, shard)s. */
static void age_pending_and_scan_day(fx *f) {
  put_days(f);
  uint32_t sh[SHARDS];
  size_t nsh = shards_used(sh);
  res r = pending(f, 2); /* days 0 and 1 */
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
}

/* mark_aged clears pending; a late put makes an aged day pending again; a put between
 * scan_day and mark_aged (through writer: f->t, or another node's handle) leaves the day
 * pending for the next run, also when scan_day found nothing there. */
static void age_mark_aged_and_late_put(fx *f, dm_table *writer) {
  put_days(f);
  uint32_t sh[SHARDS];
  size_t nsh = shards_used(sh);
  age_day(f, 0, sh, nsh);
  res r = pending(f, 3); /* day 0 is gone from pending */
  assert_int_equal(r.n, nsh + 1);
  assert_int_equal(r.ds[0].day, 1);
  res_free(&r);

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

  dm_dayshard d1 = {1, shard_of(S[2])};
  r = scan_day(f, d1);
  res_free(&r);
  dm_item racer = mk_item(S[2], DAY + 7200, 1, 5);
  put_through(f, writer, &racer, 1);
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

  /* a (day, shard) with nothing at scan time that got an item before mark_aged */
  dm_dayshard d9 = {9, shard_of(S[3])};
  r = scan_day(f, d9);
  assert_int_equal(r.n, 0);
  res_free(&r);
  dm_item nine = mk_item(S[3], 9 * DAY, 1, 1);
  put_through(f, writer, &nine, 1);
  mark_aged(f, d9);
  r = pending(f, 10);
  found = 0;
  for (size_t i = 0; i < r.n; i++) found += r.ds[i].day == 9;
  assert_int_equal(found, 1);
  res_free(&r);
  free_items(&late, 1);
  free_items(&racer, 1);
  free_items(&nine, 1);
}

#endif
