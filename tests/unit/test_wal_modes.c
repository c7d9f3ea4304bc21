/* test_wal_modes.c — the WAL's fsync policies and failure paths on real files: interval
 * and off acknowledge after write() and still replay, interval syncs on its own timer,
 * close drains and syncs in every mode, backpressure (DM_EBUSY) while the disk is behind,
 * and the permanent failed state after a write error. */
#include <signal.h>
#include <sys/resource.h>

#include "test_wal_fixture.h"

static void test_interval_and_off(void **state) {
  fx *f = *state;
  dm_batch b;
  dm_batch_init(&b);
  const dm_fsync_mode modes[2] = {DM_FSYNC_INTERVAL, DM_FSYNC_OFF};
  int k = 0;
  for (int m = 0; m < 2; m++) {
    dm_wal *w = open_wal(f, modes[m], 0);
    assert_int_equal(dm_wal_replay(w, collect, &(got){0}, NULL, NULL), 0);
    done d[5] = {{0}};
    for (int i = 0; i < 5; i++) {
      fill(&b, ++k, 4);
      assert_int_equal(dm_wal_append(w, &b, on_done, &d[i]), 0);
    }
    uv_run(&f->loop, UV_RUN_DEFAULT);
    for (int i = 0; i < 5; i++) {
      assert_int_equal(d[i].status, 0);
      assert_int_equal(d[i].seg, (uint64_t)m + 1);
    }
    dm_wal_stats s;
    dm_wal_stats_get(w, &s);
    if (modes[m] == DM_FSYNC_OFF) assert_int_equal(s.fsyncs, 0); /* never before close */
    close_wal(f, w);
  }
  dm_wal *w = open_wal(f, DM_FSYNC_ALWAYS, 0);
  got g = {0};
  uint64_t recs, pts;
  assert_int_equal(dm_wal_replay(w, collect, &g, &recs, &pts), 0);
  assert_int_equal(recs, 10);
  assert_int_equal(pts, 40);
  for (int i = 0; i < 10; i++) assert_int_equal(g.k[i], i + 1);
  close_wal(f, w);
  dm_batch_free(&b);
}

static void test_backpressure(void **state) {
  fx *f = *state;
  dm_batch b;
  dm_batch_init(&b);
  fill(&b, 3, 50);
  size_t r = rec_size(&b);
  dm_wal_opts o = {.dir = f->dir, .fsync = DM_FSYNC_ALWAYS, .max_queued_bytes = 2 * r};
  dm_wal *w;
  assert_int_equal(dm_wal_open(&w, &f->loop, &o), 0);
  assert_int_equal(dm_wal_replay(w, collect, &(got){0}, NULL, NULL), 0);
  gate gt = {.hold = 1};
  uv_sem_init(&gt.entered, 0);
  uv_sem_init(&gt.release, 0);
  dm_wal_set_fsync_observer(w, gate_fn, &gt);
  done d[4] = {{0}};
  assert_int_equal(dm_wal_append(w, &b, on_done, &d[0]), 0);
  uv_run(&f->loop, UV_RUN_NOWAIT); /* end of the loop turn: the writer takes record 0 */
  uv_sem_wait(&gt.entered); /* the writer holds record 0, written, not yet handed back */
  assert_int_equal(dm_wal_append(w, &b, on_done, &d[1]), 0);        /* 2r queued */
  assert_int_equal(dm_wal_append(w, &b, on_done, &d[2]), DM_EBUSY); /* 3r > limit */
  dm_wal_stats s;
  dm_wal_stats_get(w, &s);
  assert_int_equal(s.queued_bytes, 2 * r);
  gt.hold = 0;
  uv_sem_post(&gt.release);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(d[0].status, 0);
  assert_int_equal(d[1].status, 0);
  assert_int_equal(d[2].calls, 0); /* rejected: never called */
  assert_int_equal(dm_wal_append(w, &b, on_done, &d[3]), 0); /* room again */
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(d[3].status, 0);
  assert_true(gt.calls >= 2);
  dm_wal_stats_get(w, &s);
  assert_int_equal(s.fsyncs, gt.calls);
  assert_true(s.fsync_ns_max >= gt.last_ns);
  assert_true(s.fsync_ns_total >= s.fsync_ns_max);
  close_wal(f, w);
  uv_sem_destroy(&gt.entered);
  uv_sem_destroy(&gt.release);
  dm_batch_free(&b);
}

/* interval: callbacks come after write(), and the writer fdatasyncs on its own timer */
static void test_interval_syncs_alone(void **state) {
  fx *f = *state;
  dm_batch b;
  dm_batch_init(&b);
  fill(&b, 5, 8);
  dm_wal *w = open_wal(f, DM_FSYNC_INTERVAL, 0); /* fsync_ms = 5 */
  assert_int_equal(dm_wal_replay(w, collect, &(got){0}, NULL, NULL), 0);
  gate gt = {.hold = 1};
  uv_sem_init(&gt.entered, 0);
  uv_sem_init(&gt.release, 0);
  dm_wal_set_fsync_observer(w, gate_fn, &gt);
  done d = {0};
  assert_int_equal(dm_wal_append(w, &b, on_done, &d), 0);
  uv_run(&f->loop, UV_RUN_DEFAULT); /* acknowledged after write(), before any fsync */
  assert_int_equal(d.status, 0);
  uv_sem_wait(&gt.entered); /* the interval fsync comes without further appends */
  gt.hold = 0;
  uv_sem_post(&gt.release);
  close_wal(f, w);
  assert_true(gt.calls >= 1);
  uv_sem_destroy(&gt.entered);
  uv_sem_destroy(&gt.release);
  dm_batch_free(&b);
}

/* close writes, syncs and acknowledges what is still queued, in every mode */
static void test_close_drains(void **state) {
  fx *f = *state;
  dm_batch b;
  dm_batch_init(&b);
  const dm_fsync_mode modes[3] = {DM_FSYNC_ALWAYS, DM_FSYNC_INTERVAL, DM_FSYNC_OFF};
  for (int m = 0; m < 3; m++) {
    dm_wal *w = open_wal(f, modes[m], 0);
    assert_int_equal(dm_wal_replay(w, collect, &(got){0}, NULL, NULL), 0);
    done d[3] = {{0}};
    for (int i = 0; i < 3; i++) {
      fill(&b, 3 * m + i + 1, 2);
      assert_int_equal(dm_wal_append(w, &b, on_done, &d[i]), 0);
    }
    dm_wal_close(w); /* the loop never ran: close does the work */
    for (int i = 0; i < 3; i++) {
      assert_int_equal(d[i].calls, 1);
      assert_int_equal(d[i].status, 0);
      assert_int_equal(d[i].seg, (uint64_t)m + 1);
    }
    uv_run(&f->loop, UV_RUN_DEFAULT);
  }
  dm_wal *w = open_wal(f, DM_FSYNC_ALWAYS, 0);
  got g = {0};
  uint64_t recs;
  assert_int_equal(dm_wal_replay(w, collect, &g, &recs, NULL), 0);
  assert_int_equal(recs, 9);
  for (int i = 0; i < 9; i++) assert_int_equal(g.k[i], i + 1);
  close_wal(f, w);
  dm_batch_free(&b);
}

/* A write error (file size limit, EFBIG) fails the group and every later append; the
 * partial record it left is a torn tail on the next replay. */
static void test_write_error(void **state) {
  fx *f = *state;
  dm_batch b;
  dm_batch_init(&b);
  dm_wal *w = open_wal(f, DM_FSYNC_ALWAYS, 0);
  assert_int_equal(dm_wal_replay(w, collect, &(got){0}, NULL, NULL), 0);
  fill(&b, 1, 2);
  size_t r0 = rec_size(&b);
  done d0 = {0}, d1 = {0};
  assert_int_equal(dm_wal_append(w, &b, on_done, &d0), 0);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(d0.status, 0);

  struct rlimit old, lim;
  getrlimit(RLIMIT_FSIZE, &old);
  lim = old;
  lim.rlim_cur = 4096;
  signal(SIGXFSZ, SIG_IGN);
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
  fill(&b, 2, 400); /* about 8 KB: cannot fit under 4096 */
  assert_int_equal(dm_wal_append(w, &b, on_done, &d1), 0);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
  signal(SIGXFSZ, SIG_DFL);
  assert_int_equal(d1.status, DM_EIO);
  assert_int_equal(dm_wal_append(w, &b, on_done, &d1), DM_EIO); /* failed for good */
  dm_wal_stats s;
  dm_wal_stats_get(w, &s);
  assert_int_equal(s.failed, 1);
  close_wal(f, w);

  w = open_wal(f, DM_FSYNC_ALWAYS, 0);
  got g = {0};
  uint64_t recs;
  assert_int_equal(dm_wal_replay(w, collect, &g, &recs, NULL), 0);
  assert_int_equal(recs, 1);
  assert_int_equal(g.k[0], 1);
  assert_int_equal(seg_size(f->dir, 1), (long long)(DM_WAL_HEADER_BYTES + r0)); /* cut */
  close_wal(f, w);
  dm_batch_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_interval_and_off, setup, teardown),
      cmocka_unit_test_setup_teardown(test_backpressure, setup, teardown),
      cmocka_unit_test_setup_teardown(test_interval_syncs_alone, setup, teardown),
      cmocka_unit_test_setup_teardown(test_close_drains, setup, teardown),
      cmocka_unit_test_setup_teardown(test_write_error, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
