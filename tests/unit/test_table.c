/* test_table.c — the LMDB table's items: put/query round trip, merge on a second put,
 * query boundaries, negative and large times, last, the name index, a 10k-item put, puts
 * queued behind a running one, a full map, bad arguments, close with work in flight and
 * reopen. Ageing (pending, scan_day, mark_aged, sweep) is in test_table_age.c. */
#include "test_table_fx.h"

static void test_round_trip(void **state) {
  fx *f = *state;
  dm_item in[3] = {mk_item("host.h1.cpu", 0, 60, 1.0), mk_item("host.h1.cpu", 3600, 1, 5.5),
                   mk_item("host.h1.cpu", 7200, 30, -3.0)};
  put_ok(f, in, 3);
  res r = query(f, "host.h1.cpu", 0, 10799);
  assert_int_equal(r.n, 3);
  for (size_t i = 0; i < 3; i++) {
    assert_string_equal(r.items[i].series, "host.h1.cpu");
    assert_int_equal(r.items[i].series_len, 11);
    assert_int_equal(r.items[i].start, in[i].start);
    assert_int_equal(r.items[i].count, in[i].count);
    assert_int_equal(r.items[i].chunk_len, in[i].chunk_len);
    assert_memory_equal(r.items[i].chunk, in[i].chunk, in[i].chunk_len);
  }
  res_free(&r);
  r = query(f, "host.h1.mem", 0, 10799); /* another series: nothing */
  assert_int_equal(r.n, 0);
  res_free(&r);

  dm_table_stats st;
  dm_table_stats_get(f->t, &st);
  assert_int_equal(st.items_written, 3);
  assert_int_equal(st.items_merged, 0);
  assert_int_equal(st.bytes_written, in[0].chunk_len + in[1].chunk_len + in[2].chunk_len);
  assert_int_equal(st.reads, 2);
  assert_int_equal(st.read_items, 3);
  assert_int_equal(st.pending_dayshards, 1);
  assert_true(st.size_bytes > 0);
  free_items(in, 3);
}

static void test_merge_second_put(void **state) {
  fx *f = *state;
  dm_point a[] = {{0, 1}, {60, 2}, {120, 3}};
  dm_point b[] = {{60, 20}, {180, 4}};
  dm_item i1 = {.series = "s", .series_len = 1, .start = 0, .count = 3};
  dm_item i2 = {.series = "s", .series_len = 1, .start = 0, .count = 2};
  i1.chunk = mk_chunk_pts(a, 3, &i1.chunk_len);
  i2.chunk = mk_chunk_pts(b, 2, &i2.chunk_len);
  put_ok(f, &i1, 1);
  put_ok(f, &i2, 1);
  res r = query(f, "s", 0, 3599);
  assert_int_equal(r.n, 1);
  assert_int_equal(r.items[0].count, 4);
  dm_point p[8];
  assert_int_equal(decode(&r, 0, p, 8), 4);
  dm_point want[] = {{0, 1}, {60, 20}, {120, 3}, {180, 4}};
  for (int i = 0; i < 4; i++) {
    assert_int_equal(p[i].t, want[i].t);
    assert_true(p[i].v == want[i].v);
  }
  res_free(&r);

  /* The same (series, start) twice in one put: the later item wins too. */
  dm_point c[] = {{0, 100}};
  dm_point d[] = {{0, 200}, {240, 5}};
  dm_item two[2] = {{.series = "s", .series_len = 1, .start = 0, .count = 1},
                    {.series = "s", .series_len = 1, .start = 0, .count = 2}};
  two[0].chunk = mk_chunk_pts(c, 1, &two[0].chunk_len);
  two[1].chunk = mk_chunk_pts(d, 2, &two[1].chunk_len);
  put_ok(f, two, 2);
  r = query(f, "s", 0, 0);
  assert_int_equal(r.n, 1);
  assert_int_equal(decode(&r, 0, p, 8), 5);
  assert_int_equal(p[0].t, 0);
  assert_true(p[0].v == 200);
  assert_int_equal(p[4].t, 240);
  res_free(&r);

  dm_table_stats st;
  dm_table_stats_get(f->t, &st);
  assert_int_equal(st.items_written, 4);
  assert_int_equal(st.items_merged, 3);
  free((void *)i1.chunk);
  free((void *)i2.chunk);
  free_items(two, 2);
}

static void test_query_boundaries(void **state) {
  fx *f = *state;
  dm_item in[] = {mk_item("a", 0, 1, 0), mk_item("a", 3600, 1, 1), mk_item("a", 7200, 1, 2),
                  mk_item("a.b", 3600, 1, 9), mk_item("a-", 3600, 1, 9)};
  put_ok(f, in, 5);
  struct {
    int64_t from, until;
    size_t n;
    int64_t first;
  } cases[] = {
      {3599, 3599, 1, 0},           {3600, 3600, 1, 3600},     {3599, 3600, 2, 0},
      {-3600, -1, 0, 0},            {10799, 1 << 30, 1, 7200}, {10800, 20000, 0, 0},
      {INT64_MIN, INT64_MAX, 3, 0}, {5000, 4000, 0, 0},        {-1, 0, 1, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    res r = query(f, "a", cases[i].from, cases[i].until);
    assert_int_equal(r.n, cases[i].n);
    if (r.n > 0) assert_int_equal(r.items[0].start, cases[i].first);
    for (size_t k = 0; k < r.n; k++) assert_string_equal(r.items[k].series, "a");
    res_free(&r);
  }
  free_items(in, 5);
}

static void test_negative_and_large_times(void **state) {
  fx *f = *state;
  int64_t big = 4102444800LL * 100; /* year ~ 132000 */
  int64_t starts[] = {-86400LL * 365 * 100, -3600, 0, big};
  dm_item in[4];
  for (int i = 0; i < 4; i++) in[i] = mk_item("neg", starts[i], 10, (double)i);
  put_ok(f, in, 4);
  res r = query(f, "neg", INT64_MIN, INT64_MAX);
  assert_int_equal(r.n, 4);
  for (int i = 0; i < 4; i++) {
    assert_int_equal(r.items[i].start, starts[i]);
    dm_point p[16];
    assert_int_equal(decode(&r, (size_t)i, p, 16), 10);
    assert_int_equal(p[9].t, starts[i] + 540);
  }
  res_free(&r);
  r = query(f, "neg", -3600, -1);
  assert_int_equal(r.n, 1);
  assert_int_equal(r.items[0].start, -3600);
  res_free(&r);
  r = last(f, "neg");
  assert_int_equal(r.n, 1);
  assert_int_equal(r.items[0].start, big);
  res_free(&r);
  /* pending holds the negative days before the positive ones */
  r = pending(f, INT64_MAX);
  assert_int_equal(r.n, 4);
  assert_int_equal(r.ds[0].day, -36500);
  assert_int_equal(r.ds[1].day, -1);
  assert_int_equal(r.ds[2].day, 0);
  assert_int_equal(r.ds[3].day, big / DAY);
  res_free(&r);
  free_items(in, 4);
}

static void test_last(void **state) {
  fx *f = *state;
  res r = last(f, "nothing"); /* empty table */
  assert_int_equal(r.n, 0);
  res_free(&r);
  dm_item in[] = {mk_item("m", 0, 1, 0), mk_item("m", 7200, 3, 1), mk_item("m.x", 99000, 1, 2),
                  mk_item("z", 3600, 2, 3), mk_item("a", 3600, 2, 3)};
  put_ok(f, in, 5);
  r = last(f, "m"); /* a longer name with later windows sorts right after */
  assert_int_equal(r.n, 1);
  assert_int_equal(r.items[0].start, 7200);
  assert_int_equal(r.items[0].count, 3);
  assert_memory_equal(r.items[0].chunk, in[1].chunk, in[1].chunk_len);
  res_free(&r);
  r = last(f, "z"); /* the last key of the table */
  assert_int_equal(r.n, 1);
  assert_int_equal(r.items[0].start, 3600);
  res_free(&r);
  r = last(f, "a"); /* the first series */
  assert_int_equal(r.n, 1);
  res_free(&r);
  r = last(f, "l"); /* between series */
  assert_int_equal(r.n, 0);
  res_free(&r);
  r = last(f, "zz"); /* after every key */
  assert_int_equal(r.n, 0);
  res_free(&r);
  free_items(in, 5);
}

static void test_names_sorted(void **state) {
  fx *f = *state;
  res r = names(f);
  assert_int_equal(r.n, 0);
  res_free(&r);
  dm_item in[] = {mk_item("b", 0, 1, 0), mk_item("c.x", 0, 1, 0), mk_item("a.z", 3600, 1, 0),
                  mk_item("a", 0, 1, 0), mk_item("b", 3600, 1, 0)};
  put_ok(f, in, 5);
  put_ok(f, in, 2); /* again: no duplicates */
  r = names(f);
  assert_int_equal(r.n, 4);
  assert_string_equal(r.names[0], "a");
  assert_string_equal(r.names[1], "a.z");
  assert_string_equal(r.names[2], "b");
  assert_string_equal(r.names[3], "c.x");
  res_free(&r);
  free_items(in, 5);
}

#define MANY 10000

static dm_item *many_items(char (*names)[32], double base) {
  dm_item *in = calloc(MANY, sizeof *in);
  for (int i = 0; i < MANY; i++) {
    snprintf(names[i], 32, "host.h%05d.cpu", i);
    in[i] = mk_item(names[i], 3600 * (i % 48), 60, base + i);
  }
  return in;
}

static void test_many_items(void **state) {
  fx *f = *state;
  char (*nm)[32] = calloc(MANY, 32);
  dm_item *in = many_items(nm, 0);
  put_ok(f, in, MANY);
  res r = names(f);
  assert_int_equal(r.n, MANY);
  assert_string_equal(r.names[0], "host.h00000.cpu");
  assert_string_equal(r.names[MANY - 1], "host.h09999.cpu");
  res_free(&r);
  for (int i = 0; i < MANY; i += 997) {
    r = query(f, nm[i], 0, 48 * 3600);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.items[0].start, 3600 * (i % 48));
    assert_memory_equal(r.items[0].chunk, in[i].chunk, in[i].chunk_len);
    res_free(&r);
  }
  dm_table_stats st;
  dm_table_stats_get(f->t, &st);
  assert_int_equal(st.items_written, MANY);
  assert_int_equal(st.pending_dayshards, 2 * SHARDS);
  free_items(in, MANY);
  free(in);
  free(nm);
}

typedef struct order {
  int seq[4];
  int n;
} order;
static order g_order;
static void ordered_cb(void *arg, int status) {
  assert_int_equal(status, 0);
  g_order.seq[g_order.n++] = (int)(intptr_t)arg;
}

static void test_put_while_running(void **state) {
  fx *f = *state;
  char (*nm)[32] = calloc(MANY, 32);
  dm_item *a = many_items(nm, 0);
  dm_item b = mk_item(nm[5], 3600 * 5, 60, 1000); /* overwrites a[5] */
  memset(&g_order, 0, sizeof g_order);
  assert_int_equal(dm_table_put(f->t, a, MANY, ordered_cb, (void *)1), 0);
  assert_int_equal(dm_table_put(f->t, &b, 1, ordered_cb, (void *)2), 0);
  res q = {0};
  assert_int_equal(dm_table_query(f->t, nm[5], 5, 0, INT64_MAX, items_cb, &q), 0);
  assert_int_equal(dm_table_mark_aged(f->t, (dm_dayshard){0, 0}, ordered_cb, (void *)3), 0);
  run(f);
  assert_int_equal(g_order.n, 3);
  assert_int_equal(g_order.seq[0], 1);
  assert_int_equal(g_order.seq[1], 2);
  assert_int_equal(g_order.seq[2], 3);
  assert_int_equal(q.called, 1); /* a read does not wait for the writes */
  res_free(&q);
  res r = query(f, nm[5], 0, INT64_MAX);
  assert_int_equal(r.n, 1);
  assert_memory_equal(r.items[0].chunk, b.chunk, b.chunk_len); /* b ran after a */
  res_free(&r);
  free_items(a, MANY);
  free(a);
  free_items(&b, 1);
  free(nm);
}

static int setup_small_map(void **state) { return fx_setup_map(state, 1 << 20); }

static void test_map_full(void **state) {
  fx *f = *state;
  char (*nm)[32] = calloc(MANY, 32);
  dm_item *in = many_items(nm, 0.5); /* ~10k chunks of 60 points: far over 1 MiB */
  res r = {0};
  assert_int_equal(dm_table_put(f->t, in, MANY, done_cb, &r), 0);
  run(f);
  assert_int_equal(r.called, 1);
  assert_int_equal(r.status, DM_ERANGE);
  res q = names(f); /* the failed txn stored nothing */
  assert_int_equal(q.n, 0);
  res_free(&q);
  q = pending(f, INT64_MAX);
  assert_int_equal(q.n, 0);
  res_free(&q);
  put_ok(f, in, 10); /* a smaller batch still fits */
  q = names(f);
  assert_int_equal(q.n, 10);
  res_free(&q);
  free_items(in, MANY);
  free(in);
  free(nm);
}

static void test_bad_arguments(void **state) {
  fx *f = *state;
  res r = {0};
  char longname[600];
  memset(longname, 'x', sizeof longname);
  dm_item it = mk_item("ok", 0, 3, 0);
  dm_item bad = it;
  bad.series_len = 0;
  assert_int_equal(dm_table_put(f->t, &bad, 1, done_cb, &r), DM_EINVAL);
  bad = it;
  bad.series = "o\0k";
  bad.series_len = 3;
  assert_int_equal(dm_table_put(f->t, &bad, 1, done_cb, &r), DM_EINVAL);
  bad = it;
  bad.series = longname;
  bad.series_len = sizeof longname;
  assert_int_equal(dm_table_put(f->t, &bad, 1, done_cb, &r), DM_EINVAL);
  bad = it;
  bad.chunk = NULL;
  assert_int_equal(dm_table_put(f->t, &bad, 1, done_cb, &r), DM_EINVAL);
  assert_int_equal(dm_table_put(f->t, NULL, 1, done_cb, &r), DM_EINVAL);
  assert_int_equal(dm_table_query(f->t, "", 0, 0, 1, items_cb, &r), DM_EINVAL);
  assert_int_equal(dm_table_last(f->t, longname, sizeof longname, items_cb, &r), DM_EINVAL);
  run(f);
  assert_int_equal(r.called, 0);

  /* A chunk that does not decode fails the whole put; the good item is not stored. */
  uint8_t junk[] = {0xff, 0xff, 0xff};
  dm_item two[2] = {it, it};
  two[1].series = "junk";
  two[1].series_len = 4;
  two[1].chunk = junk;
  two[1].chunk_len = sizeof junk;
  assert_int_equal(dm_table_put(f->t, two, 2, done_cb, &r), 0);
  run(f);
  assert_int_equal(r.called, 1);
  assert_int_equal(r.status, DM_ECORRUPT);
  res q = names(f);
  assert_int_equal(q.n, 0);
  res_free(&q);
  put_ok(f, NULL, 0); /* an empty put is fine */
  free_items(&it, 1);
}

static void test_close_in_flight_and_reopen(void **state) {
  fx *f = *state;
  dm_item in[] = {mk_item("keep.me", 3600, 60, 7), mk_item("keep.me", 7200, 60, 8)};
  res p = {0}, q = {0}, n = {0};
  assert_int_equal(dm_table_put(f->t, in, 2, done_cb, &p), 0);
  assert_int_equal(dm_table_put(f->t, in + 1, 1, done_cb, &p), 0);
  assert_int_equal(dm_table_query(f->t, "keep.me", 7, 0, INT64_MAX, items_cb, &q), 0);
  assert_int_equal(dm_table_names(f->t, names_cb, &n), 0);
  dm_table_close(f->t);
  f->t = NULL;
  run(f); /* queued work still completes, then the table frees itself */
  assert_int_equal(p.called, 2);
  assert_int_equal(p.status, 0);
  assert_int_equal(q.called, 1);
  assert_int_equal(n.called, 1);
  res_free(&q);
  res_free(&n);
  fx_open(f); /* a committed put is on disk */
  res r = query(f, "keep.me", 0, INT64_MAX);
  assert_int_equal(r.n, 2);
  assert_memory_equal(r.items[1].chunk, in[1].chunk, in[1].chunk_len);
  res_free(&r);
  dm_table_stats st;
  dm_table_stats_get(f->t, &st);
  assert_int_equal(st.pending_dayshards, 1);
  free_items(in, 2);
}

static void test_open_fails(void **state) {
  fx *f = *state;
  char err[256] = "";
  dm_config c = f->cfg;
  dm_table *t = NULL;
  c.window = 0;
  assert_int_equal(dm_table_lmdb_open(&t, &f->loop, &c, err, sizeof err), DM_EINVAL);
  c = f->cfg;
  snprintf(c.data_dir, sizeof c.data_dir, "%s/file", f->dir);
  FILE *fp = fopen(c.data_dir, "w");
  fclose(fp);
  assert_true(dm_table_lmdb_open(&t, &f->loop, &c, err, sizeof err) < 0);
  assert_non_null(strstr(err, "cannot create"));
  assert_null(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_round_trip, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_merge_second_put, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_query_boundaries, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_negative_and_large_times, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_last, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_names_sorted, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_many_items, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_put_while_running, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_map_full, setup_small_map, fx_teardown),
      cmocka_unit_test_setup_teardown(test_bad_arguments, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_close_in_flight_and_reopen, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_open_fails, fx_setup, fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
