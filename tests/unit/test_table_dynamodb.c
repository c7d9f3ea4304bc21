/* test_table_dynamodb.c — the DynamoDB table against a real dynalite: create (idempotent,
 * the TTL warning), the item layout as stored, known_new puts, merges (old points kept,
 * new win, duplicates in one put), two tables racing merges on ver, queries over several
 * pages (small Limit and DynamoDB's 1 MB), expired items ignored, last, consumed capacity,
 * requests per put, quarantine of an oversized item, probe on a missing table and a closed
 * port, close with a put in flight. Ageing is in test_table_dynamodb_age.c. */
#include "test_table_dynamodb_fx.h"

/* Runs create with stderr in a file; returns its status and whether ttl_unsupported was
 * logged. */
static int create_logged(fx *f, int *warned) {
  char path[] = "/tmp/dm_ddb_log_XXXXXX";
  int fd = mkstemp(path), saved = dup(2);
  dm_log_set_level(DM_LOG_WARN);
  dup2(fd, 2);
  int st = run_done(f, dm_table_create);
  dup2(saved, 2);
  close(saved);
  dm_log_set_level(DM_LOG_ERROR);
  char buf[8192] = "";
  ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  buf[n > 0 ? n : 0] = '\0';
  close(fd);
  unlink(path);
  *warned = strstr(buf, "event=ttl_unsupported") != NULL;
  return st;
}

static void test_create_idempotent(void **state) {
  fx *f = *state; /* ddb_setup created it once already */
  int warned = 0;
  assert_int_equal(create_logged(f, &warned), 0);
  assert_true(warned); /* dynalite has no UpdateTimeToLive */
  char why[256];
  assert_int_equal(dm_table_health(f->t, why, sizeof why), 1);
  /* a second handle on the same name: create finds it */
  dm_table *g = ddb_open_other(f, NULL);
  assert_int_equal(run_done_on(f, g, dm_table_create), 0);
  assert_int_equal(run_done_on(f, g, dm_table_probe), 0);
  dm_table_close(g);
  run(f);
}

static void test_layout_as_stored(void **state) {
  fx *f = *state;
  dm_item it = mk_item("host.a.cpu", 7200, 10, 1.0);
  it.known_new = 1;
  int64_t t0 = dm_now();
  put_ok(f, &it, 1);
  yajl_val root;
  yajl_val item = raw_get(f, "host.a.cpu", 7200, &root);
  assert_non_null(item);
  int64_t v;
  assert_int_equal(ddb_attr_i64(item, "n", &v), 0);
  assert_int_equal(v, 10);
  assert_int_equal(ddb_attr_i64(item, "ver", &v), 0);
  assert_int_equal(v, 1);
  assert_int_equal(ddb_attr_i64(item, "ttl", &v), 0); /* an old window: now + grace */
  assert_true(v >= t0 + f->cfg.ager_grace && v <= dm_now() + f->cfg.ager_grace);
  const char *b64 = ddb_attr(item, "v", "B");
  uint8_t chunk[512];
  assert_int_equal(ddb_b64_decode(b64, strlen(b64), chunk), (int)it.chunk_len);
  assert_memory_equal(chunk, it.chunk, it.chunk_len);
  yajl_tree_free(root);

  int64_t h = ddb_hash63("host.a.cpu", 10);
  uint32_t sh = shard_of("host.a.cpu");
  char pk[48];
  ddb_manifest_pk(pk, 0, sh);
  item = raw_get(f, pk, h, &root);
  assert_non_null(item);
  assert_string_equal(ddb_attr(item, "name", "S"), "host.a.cpu");
  assert_int_equal(ddb_attr_i64(item, "ttl", &v), 0);
  yajl_tree_free(root);
  ddb_names_pk(pk, sh);
  item = raw_get(f, pk, h, &root);
  assert_non_null(item);
  assert_string_equal(ddb_attr(item, "name", "S"), "host.a.cpu");
  assert_int_equal(ddb_attr_i64(item, "ttl", &v), 0);
  assert_true(v >= t0 + f->cfg.blob_keep + f->cfg.ager_grace);
  yajl_tree_free(root);
  item = raw_get(f, DDB_PENDING_PK, ddb_pending_sk((dm_dayshard){0, sh}), &root);
  assert_non_null(item);
  assert_int_equal(ddb_attr_i64(item, "tx", &v), 0);
  assert_int_equal(v, 1);
  yajl_tree_free(root);
  assert_int_equal(raw_count(f), 4); /* data, manifest, name, pending */

  /* the next window of the same day: one data item more, one tx more, nothing else */
  dm_item it2 = mk_item("host.a.cpu", 10800, 5, 1.0);
  it2.known_new = 1;
  put_ok(f, &it2, 1);
  assert_int_equal(raw_count(f), 5);
  item = raw_get(f, DDB_PENDING_PK, ddb_pending_sk((dm_dayshard){0, sh}), &root);
  assert_int_equal(ddb_attr_i64(item, "tx", &v), 0);
  assert_int_equal(v, 2);
  yajl_tree_free(root);
  free_items(&it, 1);
  free_items(&it2, 1);
}

static void test_round_trip_known_new(void **state) {
  fx *f = *state;
  dm_item in[3] = {mk_item("host.h1.cpu", 0, 60, 1.0), mk_item("host.h1.cpu", 3600, 1, 5.5),
                   mk_item("host.h1.cpu", 7200, 30, -3.0)};
  for (int i = 0; i < 3; i++) in[i].known_new = 1;
  put_ok(f, in, 3);
  res r = query(f, "host.h1.cpu", 0, 10799);
  assert_int_equal(r.n, 3);
  for (size_t i = 0; i < 3; i++) {
    assert_string_equal(r.items[i].series, "host.h1.cpu");
    assert_int_equal(r.items[i].start, in[i].start);
    assert_int_equal(r.items[i].count, in[i].count);
    assert_int_equal(r.items[i].chunk_len, in[i].chunk_len);
    assert_memory_equal(r.items[i].chunk, in[i].chunk, in[i].chunk_len);
  }
  res_free(&r);
  r = query(f, "host.h1.cpu", 3599, 3600); /* window overlap, as LMDB */
  assert_int_equal(r.n, 2);
  res_free(&r);
  r = query(f, "host.h1.cpu", 5000, 4000);
  assert_int_equal(r.n, 0);
  res_free(&r);
  r = query(f, "host.h1.mem", 0, 10799);
  assert_int_equal(r.n, 0);
  res_free(&r);
  dm_table_stats st;
  dm_table_stats_get(f->t, &st);
  assert_int_equal(st.items_written, 3);
  assert_int_equal(st.items_merged, 0);
  assert_int_equal(st.bytes_written, in[0].chunk_len + in[1].chunk_len + in[2].chunk_len);
  assert_int_equal(st.reads, 4);
  assert_int_equal(st.read_items, 5);
  free_items(in, 3);
}

static void expect_points(fx *f, const char *s, int64_t start, const dm_point *want, size_t n) {
  res r = query(f, s, start, start);
  assert_int_equal(r.n, 1);
  assert_int_equal(r.items[0].count, n);
  dm_point p[64];
  assert_int_equal(decode(&r, 0, p, 64), n);
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(p[i].t, want[i].t);
    assert_true(p[i].v == want[i].v);
  }
  res_free(&r);
}

static void test_merge(void **state) {
  fx *f = *state;
  dm_point a[] = {{0, 1}, {60, 2}, {120, 3}};
  dm_point b[] = {{60, 20}, {180, 4}};
  dm_item i1 = {.series = "s", .series_len = 1, .start = 0, .count = 3};
  dm_item i2 = {.series = "s", .series_len = 1, .start = 0, .count = 2};
  i1.chunk = mk_chunk_pts(a, 3, &i1.chunk_len);
  i2.chunk = mk_chunk_pts(b, 2, &i2.chunk_len);
  put_ok(f, &i1, 1); /* merge path into nothing: attribute_not_exists */
  put_ok(f, &i2, 1);
  dm_point want[] = {{0, 1}, {60, 20}, {120, 3}, {180, 4}};
  expect_points(f, "s", 0, want, 4);
  yajl_val root;
  yajl_val item = raw_get(f, "s", 0, &root);
  int64_t v;
  assert_int_equal(ddb_attr_i64(item, "ver", &v), 0);
  assert_int_equal(v, 2);
  yajl_tree_free(root);

  /* the same (series, start) twice in one put: the later item wins */
  dm_point c[] = {{0, 100}};
  dm_point d[] = {{0, 200}, {240, 5}};
  dm_item two[2] = {{.series = "s", .series_len = 1, .start = 0, .count = 1},
                    {.series = "s", .series_len = 1, .start = 0, .count = 2}};
  two[0].chunk = mk_chunk_pts(c, 1, &two[0].chunk_len);
  two[1].chunk = mk_chunk_pts(d, 2, &two[1].chunk_len);
  put_ok(f, two, 2);
  dm_point want2[] = {{0, 200}, {60, 20}, {120, 3}, {180, 4}, {240, 5}};
  expect_points(f, "s", 0, want2, 5);
  dm_table_stats st;
  dm_table_stats_get(f->t, &st);
  assert_int_equal(st.items_written, 3);
  assert_int_equal(st.items_merged, 2);
  free((void *)i1.chunk);
  free((void *)i2.chunk);
  free_items(two, 2);
}

/* Two nodes merge into the same items at once: one loses on ver, reads again, and every
 * point of both survives. */
static void test_conflict(void **state) {
  fx *f = *state;
  dm_table *g = ddb_open_other(f, NULL);
  enum { N = 50 };
  dm_item base[N], x[N], y[N];
  char nm[N][16];
  for (int i = 0; i < N; i++) {
    snprintf(nm[i], sizeof nm[i], "race.%02d", i);
    dm_point p0[] = {{0, 1}}, px[] = {{60, 2}}, py[] = {{120, 3}};
    base[i] = (dm_item){.series = nm[i], .series_len = 7, .start = 0, .count = 1};
    x[i] = base[i], y[i] = base[i];
    base[i].chunk = mk_chunk_pts(p0, 1, &base[i].chunk_len);
    x[i].chunk = mk_chunk_pts(px, 1, &x[i].chunk_len);
    y[i].chunk = mk_chunk_pts(py, 1, &y[i].chunk_len);
  }
  put_ok(f, base, N);
  uint64_t before = counter("diamond_table_conflicts_total", "");
  res rx = {0}, ry = {0};
  assert_int_equal(dm_table_put(f->t, x, N, done_cb, &rx), 0);
  assert_int_equal(dm_table_put(g, y, N, done_cb, &ry), 0);
  run(f);
  assert_int_equal(rx.status, 0);
  assert_int_equal(ry.status, 0);
  uint64_t conflicts = counter("diamond_table_conflicts_total", "") - before;
  /* how often they collide depends on timing (1 to 4 of 50 here); test_table_dynamodb_fault
   * makes a conflict happen for sure */
  fprintf(stderr, "conflicts: %llu of %d racing merges\n", (unsigned long long)conflicts, N);
  dm_point want[] = {{0, 1}, {60, 2}, {120, 3}};
  for (int i = 0; i < N; i++) expect_points(f, nm[i], 0, want, 3);
  dm_table_close(g);
  run(f);
  free_items(base, N);
  free_items(x, N);
  free_items(y, N);
}

static void put_random_items(fx *f, const char *s, int n, size_t points) {
  dm_item *in = calloc((size_t)n, sizeof *in);
  dm_point *p = malloc(points * sizeof *p);
  uint64_t x = 88172645463325252ULL;
  for (int i = 0; i < n; i++) {
    for (size_t k = 0; k < points; k++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      double v;
      memcpy(&v, &x, sizeof v);
      p[k] = (dm_point){(int64_t)i * WINDOW + (int64_t)k, (v == v) ? v : 0.5};
    }
    in[i] = (dm_item){.series = s, .series_len = (uint32_t)strlen(s),
                      .start = (int64_t)i * WINDOW, .count = (uint32_t)points, .known_new = 1};
    in[i].chunk = mk_chunk_pts(p, points, &in[i].chunk_len);
  }
  put_ok(f, in, (size_t)n);
  free_items(in, (size_t)n);
  free(in);
  free(p);
}

static void test_query_pages_1mb(void **state) {
  fx *f = *state;
  put_random_items(f, "big", 12, 3000); /* ~25 KB chunks: ... */
  put_random_items(f, "huge", 12, 11000); /* ~95 KB each: 1.1 MB, two pages */
  res r = query(f, "huge", INT64_MIN, INT64_MAX);
  assert_int_equal(r.n, 12);
  for (size_t i = 0; i < r.n; i++) {
    assert_int_equal(r.items[i].start, (int64_t)i * WINDOW);
    assert_int_equal(r.items[i].count, 11000);
    assert_true(r.items[i].chunk_len > 80000);
  }
  res_free(&r);
  r = query(f, "big", WINDOW * 3, WINDOW * 5);
  assert_int_equal(r.n, 3);
  res_free(&r);
}

static void test_query_small_pages(void **state) {
  fx *f = *state;
  fx_close(f);
  setenv("DM_TEST_DDB_QUERY_LIMIT", "2", 1);
  ddb_open(f);
  unsetenv("DM_TEST_DDB_QUERY_LIMIT");
  dm_item in[7];
  for (int i = 0; i < 7; i++) in[i] = mk_item("paged", i * WINDOW, 3, i), in[i].known_new = 1;
  put_ok(f, in, 7);
  res r = query(f, "paged", 0, 7 * WINDOW);
  assert_int_equal(r.n, 7); /* four pages */
  for (int i = 0; i < 7; i++) {
    assert_int_equal(r.items[i].start, i * WINDOW);
    assert_memory_equal(r.items[i].chunk, in[i].chunk, in[i].chunk_len);
  }
  res_free(&r);
  r = names(f); /* names pages too */
  assert_int_equal(r.n, 1);
  res_free(&r);
  free_items(in, 7);
}

/* An item whose ttl has passed (DynamoDB has not deleted it yet) is not read. */
static void test_expired_ignored(void **state) {
  fx *f = *state;
  dm_item live = mk_item("exp", 0, 2, 1);
  live.known_new = 1;
  put_ok(f, &live, 1);
  char json[1024];
  snprintf(json, sizeof json,
           "{\"TableName\":\"%s\",\"Item\":{\"pk\":{\"S\":\"exp\"},\"sk\":{\"N\":\"3600\"},"
           "\"v\":{\"B\":\"AQID\"},\"n\":{\"N\":\"3\"},\"ver\":{\"N\":\"1\"},\"ttl\":{\"N\":\"%lld\"}}}",
           f->cfg.table_name, (long long)(dm_now() - 10));
  int st;
  yajl_tree_free(raw(f, "PutItem", json, &st));
  assert_int_equal(st, 0);
  res r = query(f, "exp", 0, 7200);
  assert_int_equal(r.n, 1);
  assert_int_equal(r.items[0].start, 0);
  res_free(&r);
  r = last(f, "exp"); /* the newest is expired: the one before */
  assert_int_equal(r.n, 1);
  assert_int_equal(r.items[0].start, 0);
  res_free(&r);
  /* a merge into an expired item does not bring its points back */
  dm_point p[] = {{3660, 9}};
  dm_item m = {.series = "exp", .series_len = 3, .start = 3600, .count = 1};
  m.chunk = mk_chunk_pts(p, 1, &m.chunk_len);
  put_ok(f, &m, 1);
  expect_points(f, "exp", 3600, p, 1);
  free_items(&live, 1);
  free_items(&m, 1);
}

static void test_last(void **state) {
  fx *f = *state;
  res r = last(f, "nothing");
  assert_int_equal(r.n, 0);
  res_free(&r);
  dm_item in[] = {mk_item("l", -7200, 1, 0), mk_item("l", 0, 1, 1), mk_item("l", 86400 * 400, 2, 2),
                  mk_item("l.x", 86400 * 500, 1, 3)};
  put_ok(f, in, 4);
  r = last(f, "l");
  assert_int_equal(r.n, 1);
  assert_int_equal(r.items[0].start, 86400 * 400);
  assert_int_equal(r.items[0].count, 2);
  res_free(&r);
  free_items(in, 4);
}

static void test_capacity_and_requests(void **state) {
  fx *f = *state;
  dm_table_stats st;
  dm_table_stats_get(f->t, &st);
  double w0 = st.write_units, r0 = st.read_units;
  dm_item one = mk_item("cap", 0, 5, 1);
  one.known_new = 1;
  put_ok(f, &one, 1);
  dm_table_stats_get(f->t, &st);
  assert_true(st.write_units - w0 == 4); /* data, manifest, name (one batch) + pending */
  res r = query(f, "cap", 0, 0);
  res_free(&r);
  dm_table_stats_get(f->t, &st);
  assert_true(st.read_units - r0 == 1);
  free_items(&one, 1);

  /* writes per put: 50 series x 2 windows of today, all new (the manifest of days older
   * than table.keep is written on every put: late data) */
  int64_t today = dm_floor(dm_now(), DAY);
  const char *bw = "backend=\"table\",op=\"BatchWriteItem\"";
  const char *up = "backend=\"table\",op=\"UpdateItem\"";
  uint64_t b0 = counter("diamond_remote_requests_total", bw);
  uint64_t u0 = counter("diamond_remote_requests_total", up);
  enum { S = 50 };
  char nm[S][16];
  dm_item in[S * 2];
  for (int s = 0; s < S; s++) {
    snprintf(nm[s], sizeof nm[s], "w.%02d", s);
    for (int w = 0; w < 2; w++) {
      in[s * 2 + w] = mk_item(nm[s], today + w * WINDOW, 60, s);
      in[s * 2 + w].known_new = 1;
    }
  }
  int64_t items0 = raw_count(f);
  put_ok(f, in, S * 2);
  int64_t items = raw_count(f) - items0;
  uint64_t batches = counter("diamond_remote_requests_total", bw) - b0;
  uint64_t updates = counter("diamond_remote_requests_total", up) - u0;
  uint32_t sh[SHARDS] = {0};
  uint64_t nsh = 0;
  for (int s = 0; s < S; s++) nsh += sh[shard_of(nm[s])]++ == 0;
  fprintf(stderr, "put of %d windows: %lld items written (%d data + %d manifest + %d names + "
                  "%llu pending) in %llu BatchWriteItem + %llu UpdateItem requests\n",
          S * 2, (long long)items, S * 2, S, S, (unsigned long long)nsh,
          (unsigned long long)batches, (unsigned long long)updates);
  assert_int_equal(items, S * 4 + (int64_t)nsh);
  assert_int_equal(batches, (S * 4 + 24) / 25);
  assert_int_equal(updates, nsh);
  /* the same windows again, now merges: the index items are not written again */
  for (int i = 0; i < S * 2; i++) in[i].known_new = 0;
  put_ok(f, in, S * 2);
  assert_int_equal(raw_count(f) - items0, items);
  assert_int_equal(counter("diamond_remote_requests_total", bw) - b0, batches);
  free_items(in, S * 2);
}

/* A flush-sized put: 4000 windows of 1000 series blind, then 1000 of them merged. */
static void test_big_put(void **state) {
  fx *f = *state;
  enum { S = 1000, W = 4 };
  char (*nm)[16] = calloc(S, 16);
  dm_item *in = calloc(S * W, sizeof *in);
  int64_t today = dm_floor(dm_now(), DAY);
  for (int s = 0; s < S; s++) {
    snprintf(nm[s], 16, "big.%04d", s);
    for (int w = 0; w < W; w++) {
      in[s * W + w] = mk_item(nm[s], today + w * WINDOW, 60, s);
      in[s * W + w].known_new = 1;
    }
  }
  uint64_t t0 = dm_mono_ns();
  put_ok(f, in, S * W);
  double blind_ms = (double)(dm_mono_ns() - t0) / 1e6;
  for (int i = 0; i < S; i++) in[i].known_new = 0; /* S / W series, every window merged */
  t0 = dm_mono_ns();
  put_ok(f, in, S);
  double merge_ms = (double)(dm_mono_ns() - t0) / 1e6;
  fprintf(stderr, "%d windows blind (+%d index items): %.0f ms; %d merged: %.0f ms\n", S * W,
          2 * S, blind_ms, S, merge_ms);
  dm_table_stats st;
  dm_table_stats_get(f->t, &st);
  assert_int_equal(st.items_written, S * W + S);
  assert_int_equal(st.items_merged, S);
  res r = names(f);
  assert_int_equal(r.n, S);
  res_free(&r);
  r = query(f, nm[S - 1], today, today + DAY);
  assert_int_equal(r.n, W);
  res_free(&r);
  free_items(in, S * W);
  free(in);
  free(nm);
}

static void test_quarantine(void **state) {
  fx *f = *state;
  uint64_t q0 = counter("diamond_table_quarantined_total", "");
  put_random_items(f, "fat", 1, 50000); /* ~420 KB: over the item limit */
  assert_int_equal(counter("diamond_table_quarantined_total", "") - q0, 1);
  res r = query(f, "fat", INT64_MIN, INT64_MAX);
  assert_int_equal(r.n, 0);
  res_free(&r);
  r = names(f); /* the name was still written: only the data item is dropped */
  assert_int_equal(r.n, 1);
  res_free(&r);
}

static void test_probe_missing_and_closed(void **state) {
  fx *f = *state;
  char why[640];
  dm_config cfg = f->cfg;
  snprintf(cfg.table_name, sizeof cfg.table_name, "nosuch");
  dm_table *g = ddb_open_other(f, &cfg);
  assert_true(run_done_on(f, g, dm_table_probe) < 0);
  assert_int_equal(dm_table_health(g, why, sizeof why), 0);
  assert_string_equal(why, "table nosuch does not exist (run diamondd --create-storage)");
  dm_table_close(g);
  run(f);

  int port = free_port();
  snprintf(cfg.table_endpoint, sizeof cfg.table_endpoint, "http://127.0.0.1:%d", port);
  cfg.remote_max_attempts = 1;
  g = ddb_open_other(f, &cfg);
  assert_int_equal(dm_table_health(g, why, sizeof why), 1);
  assert_true(run_done_on(f, g, dm_table_probe) < 0);
  assert_int_equal(dm_table_health(g, why, sizeof why), 0);
  fprintf(stderr, "closed port: %s\n", why);
  assert_non_null(strstr(why, cfg.table_endpoint));
  dm_table_close(g);
  run(f);
  assert_int_equal(run_done(f, dm_table_probe), 0); /* the real one is fine */
  assert_int_equal(dm_table_health(f->t, why, sizeof why), 1);
}

static void test_bad_args_and_close(void **state) {
  fx *f = *state;
  dm_item bad = {.series = "~m:x", .series_len = 4, .chunk = (const uint8_t *)"x", .chunk_len = 1};
  assert_int_equal(dm_table_put(f->t, &bad, 1, done_cb, NULL), DM_EINVAL);
  bad.series = "";
  bad.series_len = 0;
  assert_int_equal(dm_table_put(f->t, &bad, 1, done_cb, NULL), DM_EINVAL);
  res rr = {0};
  assert_int_equal(dm_table_query(f->t, "~n:0", 4, 0, 1, items_cb, &rr), DM_EINVAL);
  dm_item junk = {.series = "j", .series_len = 1, .chunk = (const uint8_t *)"\xff\xff", .chunk_len = 2};
  res r = {0};
  assert_int_equal(dm_table_put(f->t, &junk, 1, done_cb, &r), 0);
  run(f);
  assert_int_equal(r.status, DM_ECORRUPT);
  /* close with a put and a sweep in flight: both still call back */
  dm_item it = mk_item("c", 0, 3, 1);
  res p = {0}, s = {0};
  assert_int_equal(dm_table_put(f->t, &it, 1, done_cb, &p), 0);
  assert_int_equal(dm_table_sweep(f->t, 0, done_cb, &s), 0);
  dm_table_close(f->t);
  f->t = NULL;
  run(f);
  assert_int_equal(p.called, 1);
  assert_int_equal(p.status, 0);
  assert_int_equal(s.called, 1);
  assert_int_equal(s.status, 0);
  ddb_open(f);
  res q = query(f, "c", 0, 0);
  assert_int_equal(q.n, 1);
  res_free(&q);
  free_items(&it, 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_create_idempotent, ddb_setup, ddb_teardown),
      cmocka_unit_test_setup_teardown(test_layout_as_stored, ddb_setup, ddb_teardown),
      cmocka_unit_test_setup_teardown(test_round_trip_known_new, ddb_setup, ddb_teardown),
      cmocka_unit_test_setup_teardown(test_merge, ddb_setup, ddb_teardown),
      cmocka_unit_test_setup_teardown(test_conflict, ddb_setup, ddb_teardown),
      cmocka_unit_test_setup_teardown(test_query_pages_1mb, ddb_setup, ddb_teardown),
      cmocka_unit_test_setup_teardown(test_query_small_pages, ddb_setup, ddb_teardown),
      cmocka_unit_test_setup_teardown(test_expired_ignored, ddb_setup, ddb_teardown),
      cmocka_unit_test_setup_teardown(test_last, ddb_setup, ddb_teardown),
      cmocka_unit_test_setup_teardown(test_capacity_and_requests, ddb_setup, ddb_teardown),
      cmocka_unit_test_setup_teardown(test_big_put, ddb_setup, ddb_teardown),
      cmocka_unit_test_setup_teardown(test_quarantine, ddb_setup, ddb_teardown),
      cmocka_unit_test_setup_teardown(test_probe_missing_and_closed, ddb_setup, ddb_teardown),
      cmocka_unit_test_setup_teardown(test_bad_args_and_close, ddb_setup, ddb_teardown),
  };
  return cmocka_run_group_tests(tests, dyn_start, dyn_group_teardown);
}
