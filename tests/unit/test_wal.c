/* test_wal.c — the WAL's write side on real files and a real uv loop: append + replay
 * round trip, group commit, rotation by size and by request, retire and its clamps, open
 * errors. The fsync modes, backpressure and the failed state are in test_wal_modes.c;
 * torn tails and corruption in test_wal_replay.c. */
#include "test_wal_fixture.h"

/* ---- tests ---- */

static void test_roundtrip(void **state) {
  fx *f = *state;
  dm_batch b;
  dm_batch_init(&b);
  dm_wal *w = open_wal(f, DM_FSYNC_ALWAYS, 0);
  got g0 = {0};
  uint64_t recs = 99, pts = 99;
  assert_int_equal(dm_wal_replay(w, collect, &g0, &recs, &pts), 0); /* empty dir */
  assert_int_equal(recs, 0);
  assert_int_equal(pts, 0);
  assert_int_equal(dm_wal_current_seg(w), 1);
  done d[3] = {{0}};
  size_t bytes = DM_WAL_HEADER_BYTES;
  for (int k = 0; k < 3; k++) {
    fill(&b, k + 1, 10 * (k + 1));
    bytes += rec_size(&b);
    assert_int_equal(dm_wal_append(w, &b, on_done, &d[k]), 0);
  }
  assert_int_equal(dm_wal_replay(w, collect, &g0, NULL, NULL), DM_EINVAL); /* after append */
  uv_run(&f->loop, UV_RUN_DEFAULT); /* returns once every callback ran */
  for (int k = 0; k < 3; k++) {
    assert_int_equal(d[k].calls, 1);
    assert_int_equal(d[k].status, 0);
    assert_int_equal(d[k].seg, 1);
  }
  assert_true(d[0].order < d[1].order && d[1].order < d[2].order);
  dm_wal_stats s;
  dm_wal_stats_get(w, &s);
  assert_int_equal(s.segments, 1);
  assert_int_equal(s.bytes, bytes);
  assert_int_equal(s.appended_bytes, bytes - DM_WAL_HEADER_BYTES);
  assert_int_equal(s.first_seg, 1);
  assert_int_equal(s.cur_seg, 1);
  assert_int_equal(s.queued_bytes, 0);
  assert_int_equal(s.failed, 0);
  assert_true(s.fsyncs >= 1);
  close_wal(f, w);
  assert_int_equal(seg_size(f->dir, 1), (long long)bytes);

  w = open_wal(f, DM_FSYNC_ALWAYS, 0);
  got g = {0};
  assert_int_equal(dm_wal_replay(w, collect, &g, &recs, &pts), 0);
  assert_int_equal(recs, 3);
  assert_int_equal(pts, 60);
  assert_int_equal(g.n, 3);
  for (int k = 0; k < 3; k++) {
    assert_int_equal(g.k[k], k + 1);
    assert_int_equal(g.npts[k], 10 * (k + 1));
    assert_int_equal(g.seg[k], 1);
  }
  assert_int_equal(dm_wal_current_seg(w), 2); /* a fresh segment after replay */
  done d4 = {0};
  fill(&b, 4, 1);
  assert_int_equal(dm_wal_append(w, &b, on_done, &d4), 0);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(d4.status, 0);
  assert_int_equal(d4.seg, 2);
  close_wal(f, w);

  w = open_wal(f, DM_FSYNC_ALWAYS, 0);
  got g2 = {0};
  assert_int_equal(dm_wal_replay(w, collect, &g2, &recs, &pts), 0);
  assert_int_equal(recs, 4);
  assert_int_equal(pts, 61);
  assert_int_equal(g2.k[3], 4);
  assert_int_equal(g2.seg[3], 2);
  assert_int_equal(dm_wal_current_seg(w), 3);
  close_wal(f, w);
  dm_batch_free(&b);
}

static void test_group_commit(void **state) {
  fx *f = *state;
  dm_batch b;
  dm_batch_init(&b);
  dm_wal *w = open_wal(f, DM_FSYNC_ALWAYS, 0);
  assert_int_equal(dm_wal_replay(w, collect, &(got){0}, NULL, NULL), 0);
  enum { N = 200 };
  static done d[N];
  memset(d, 0, sizeof d);
  g_order = 0;
  for (int i = 0; i < N; i++) { /* all in one loop turn */
    fill(&b, i, 3);
    assert_int_equal(dm_wal_append(w, &b, on_done, &d[i]), 0);
  }
  uv_run(&f->loop, UV_RUN_DEFAULT);
  for (int i = 0; i < N; i++) {
    assert_int_equal(d[i].calls, 1);
    assert_int_equal(d[i].status, 0);
    assert_int_equal(d[i].order, i + 1); /* callbacks in append order */
  }
  dm_wal_stats s;
  dm_wal_stats_get(w, &s);
  print_message("group commit: %d appends, %llu fsyncs\n", N, (unsigned long long)s.fsyncs);
  assert_true(s.fsyncs >= 1);
  assert_true(s.fsyncs < N);
  close_wal(f, w);
  dm_batch_free(&b);
}

static void test_rotation(void **state) {
  fx *f = *state;
  dm_batch b;
  dm_batch_init(&b);
  fill(&b, 7, 20);
  size_t r = rec_size(&b);
  /* a segment takes records until header + records >= segment_bytes: 3 per segment */
  int64_t seg_bytes = (int64_t)(DM_WAL_HEADER_BYTES + 2 * r + 1);
  dm_wal *w = open_wal(f, DM_FSYNC_ALWAYS, seg_bytes);
  assert_int_equal(dm_wal_replay(w, collect, &(got){0}, NULL, NULL), 0);
  done d[8] = {{0}};
  for (int i = 0; i < 8; i++) assert_int_equal(dm_wal_append(w, &b, on_done, &d[i]), 0);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  const uint64_t want[8] = {1, 1, 1, 2, 2, 2, 3, 3};
  for (int i = 0; i < 8; i++) {
    assert_int_equal(d[i].status, 0);
    assert_int_equal(d[i].seg, want[i]);
  }
  assert_int_equal(dm_wal_current_seg(w), 3);
  assert_int_equal(seg_size(f->dir, 1), (long long)(DM_WAL_HEADER_BYTES + 3 * r));
  assert_int_equal(seg_size(f->dir, 2), (long long)(DM_WAL_HEADER_BYTES + 3 * r));
  assert_int_equal(seg_size(f->dir, 3), (long long)(DM_WAL_HEADER_BYTES + 2 * r));

  /* explicit rotation: appends before go to 3, after to 4; twice in a row = once */
  assert_int_equal(dm_wal_rotate(w), 0);
  assert_int_equal(dm_wal_current_seg(w), 4);
  assert_int_equal(dm_wal_rotate(w), 0);
  assert_int_equal(dm_wal_current_seg(w), 4);
  done d9 = {0};
  assert_int_equal(dm_wal_append(w, &b, on_done, &d9), 0);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(d9.seg, 4);
  dm_wal_stats s;
  dm_wal_stats_get(w, &s);
  assert_int_equal(s.segments, 4);
  assert_int_equal(s.first_seg, 1);
  assert_int_equal(s.bytes, 4 * DM_WAL_HEADER_BYTES + 9 * r);
  close_wal(f, w);

  w = open_wal(f, DM_FSYNC_ALWAYS, seg_bytes);
  got g = {0};
  uint64_t recs, pts;
  assert_int_equal(dm_wal_replay(w, collect, &g, &recs, &pts), 0);
  assert_int_equal(recs, 9);
  assert_int_equal(pts, 180);
  for (int i = 0; i < 8; i++) assert_int_equal(g.seg[i], want[i]);
  assert_int_equal(g.seg[8], 4);
  assert_int_equal(dm_wal_current_seg(w), 5);
  close_wal(f, w);
  dm_batch_free(&b);
}

static void test_retire(void **state) {
  fx *f = *state;
  dm_batch b;
  dm_batch_init(&b);
  fill(&b, 1, 5);
  dm_wal *w = open_wal(f, DM_FSYNC_ALWAYS, 0);
  assert_int_equal(dm_wal_replay(w, collect, &(got){0}, NULL, NULL), 0);
  done d = {0};
  for (int i = 0; i < 4; i++) { /* segments 1..4, current 5 */
    assert_int_equal(dm_wal_append(w, &b, on_done, &d), 0);
    assert_int_equal(dm_wal_rotate(w), 0);
  }
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(count_segments(f->dir), 4);
  assert_int_equal(dm_wal_retire(w, 3), 0);
  close_wal(f, w); /* close waits for the writer, which retires first */
  assert_int_equal(seg_exists(f->dir, 1), 0);
  assert_int_equal(seg_exists(f->dir, 2), 0);
  assert_int_equal(seg_exists(f->dir, 3), 1);
  assert_int_equal(seg_exists(f->dir, 4), 1);

  /* never the current one: UINT64_MAX clamps to the current segment */
  w = open_wal(f, DM_FSYNC_ALWAYS, 0);
  assert_int_equal(dm_wal_replay(w, collect, &(got){0}, NULL, NULL), 0);
  assert_int_equal(dm_wal_append(w, &b, on_done, &d), 0); /* segment 5, current */
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(dm_wal_retire(w, UINT64_MAX), 0);
  close_wal(f, w);
  assert_int_equal(count_segments(f->dir), 1);
  assert_int_equal(seg_exists(f->dir, 5), 1);

  /* never a segment whose record has not been acknowledged yet */
  w = open_wal(f, DM_FSYNC_ALWAYS, 0);
  assert_int_equal(dm_wal_replay(w, collect, &(got){0}, NULL, NULL), 0);
  done d7 = {0};
  assert_int_equal(dm_wal_append(w, &b, on_done, &d7), 0); /* segment 6, callback owed */
  assert_int_equal(dm_wal_rotate(w), 0);                   /* current 7 */
  assert_int_equal(dm_wal_retire(w, UINT64_MAX), 0);       /* clamped to 6 */
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(d7.seg, 6);
  close_wal(f, w);
  assert_int_equal(seg_exists(f->dir, 5), 0);
  assert_int_equal(seg_exists(f->dir, 6), 1);
  dm_batch_free(&b);
}

static void test_open_errors(void **state) {
  fx *f = *state;
  dm_wal *w = NULL, *w2 = NULL;
  dm_wal_opts o = {.dir = f->dir};
  dm_wal_opts bad = o;
  bad.dir = NULL;
  assert_int_equal(dm_wal_open(&w, &f->loop, &bad), DM_EINVAL);
  bad = o;
  bad.segment_bytes = -1;
  assert_int_equal(dm_wal_open(&w, &f->loop, &bad), DM_EINVAL);
  bad = o;
  bad.fsync_ms = -5;
  assert_int_equal(dm_wal_open(&w, &f->loop, &bad), DM_EINVAL);
  bad = o;
  bad.fsync = (dm_fsync_mode)7;
  assert_int_equal(dm_wal_open(&w, &f->loop, &bad), DM_EINVAL);

  /* a missing nested dir is created; stray files are ignored */
  char sub[128];
  snprintf(sub, sizeof sub, "%s/a/b/wal", f->dir);
  o.dir = sub;
  assert_int_equal(dm_wal_open(&w, &f->loop, &o), 0);
  assert_int_equal(dm_wal_open(&w2, &f->loop, &o), DM_EBUSY); /* locked */
  close_wal(f, w);
  char stray[192];
  snprintf(stray, sizeof stray, "%s/123.log", sub);
  FILE *fp = fopen(stray, "w");
  fputs("junk", fp);
  fclose(fp);
  assert_int_equal(dm_wal_open(&w, &f->loop, &o), 0);
  uint64_t recs = 7;
  assert_int_equal(dm_wal_replay(w, collect, &(got){0}, &recs, NULL), 0);
  assert_int_equal(recs, 0);
  assert_int_equal(dm_wal_replay(w, collect, &(got){0}, &recs, NULL), DM_EINVAL); /* twice */
  assert_int_equal(dm_wal_current_seg(w), 1);
  close_wal(f, w);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
      cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
      cmocka_unit_test_setup_teardown(test_retire, setup, teardown),
      cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
