/* test_wal_bench.c — measures (prints, never asserts) WAL appends/s and points/s with
 * 5000-point batches and fsync = always, keeping 1 or 4 appends in flight the way 1 or 4
 * keep-alive connections would. It only asserts that every append was acknowledged and
 * replays back. DM_WAL_BENCH_BATCHES sets the batches per run (default 100). */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "diamond/error.h"
#include "diamond/wal.h"

enum { POINTS = 5000 };

typedef struct run {
  dm_wal *w;
  dm_batch *b;
  int to_send, sent, acked, failed;
} run;

static void on_done(void *arg, int status, uint64_t seg) {
  (void)seg;
  run *r = arg;
  r->acked++;
  if (status != 0) r->failed++;
  if (r->sent < r->to_send) { /* this "connection" sends its next batch */
    r->sent++;
    if (dm_wal_append(r->w, r->b, on_done, r) != 0) r->failed++;
  }
}

static int count(void *arg, const dm_batch *b, uint64_t seg) {
  (void)seg;
  *(uint64_t *)arg += b->n;
  return 0;
}

static void rm_dir(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *de;
  char p[512];
  while ((de = readdir(d)) != NULL) {
    if (de->d_name[0] == '.') continue;
    snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
    unlink(p);
  }
  closedir(d);
  rmdir(dir);
}

static void bench(int inflight, int batches) {
  char dir[64];
  snprintf(dir, sizeof dir, "/tmp/dm_walb_XXXXXX");
  assert_non_null(mkdtemp(dir));
  uv_loop_t loop;
  uv_loop_init(&loop);
  dm_batch b;
  dm_batch_init(&b);
  char name[64];
  for (int i = 0; i < POINTS; i++) { /* Mackerel-like: 50 hosts x 100 metrics */
    int len = snprintf(name, sizeof name, "host.h%03d.custom.app.metric_%03d", i % 50, i / 50);
    assert_int_equal(dm_batch_add(&b, name, (size_t)len, 1700000000 + 60 * (i % 7), i * 0.25), 0);
  }
  dm_wal_opts o = {.dir = dir, .fsync = DM_FSYNC_ALWAYS, .segment_bytes = 64 << 20};
  dm_wal *w;
  assert_int_equal(dm_wal_open(&w, &loop, &o), 0);
  assert_int_equal(dm_wal_replay(w, count, &(uint64_t){0}, NULL, NULL), 0);
  run r = {.w = w, .b = &b, .to_send = batches};
  uint64_t t0 = uv_hrtime();
  for (int i = 0; i < inflight && r.sent < batches; i++) {
    r.sent++;
    assert_int_equal(dm_wal_append(w, &b, on_done, &r), 0);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  double secs = (double)(uv_hrtime() - t0) / 1e9;
  assert_int_equal(r.acked, batches);
  assert_int_equal(r.failed, 0);
  dm_wal_stats s;
  dm_wal_stats_get(w, &s);
  print_message("wal bench: fsync=always batch=%d points in_flight=%d: %d appends in %.3f s = "
                "%.0f appends/s, %.0f points/s, %.1f MB/s; %llu fsyncs (avg %.0f us, max %.0f us), "
                "%.1f bytes/point in the WAL\n",
                POINTS, inflight, batches, secs, batches / secs, (double)batches * POINTS / secs,
                (double)s.appended_bytes / secs / 1e6, (unsigned long long)s.fsyncs,
                s.fsyncs ? (double)s.fsync_ns_total / (double)s.fsyncs / 1e3 : 0.0,
                (double)s.fsync_ns_max / 1e3, (double)s.appended_bytes / ((double)batches * POINTS));
  dm_wal_close(w);
  uv_run(&loop, UV_RUN_DEFAULT);

  assert_int_equal(dm_wal_open(&w, &loop, &o), 0);
  uint64_t pts = 0, recs = 0;
  t0 = uv_hrtime();
  assert_int_equal(dm_wal_replay(w, count, &pts, &recs, NULL), 0);
  secs = (double)(uv_hrtime() - t0) / 1e9;
  assert_int_equal(recs, (uint64_t)batches);
  assert_int_equal(pts, (uint64_t)batches * POINTS);
  print_message("wal bench: replay %llu points in %.3f s = %.0f points/s\n",
                (unsigned long long)pts, secs, (double)pts / secs);
  dm_wal_close(w);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
  dm_batch_free(&b);
  rm_dir(dir);
}

static int batches(void) {
  const char *s = getenv("DM_WAL_BENCH_BATCHES");
  int n = s ? atoi(s) : 100;
  return n > 0 ? n : 100;
}

static void test_bench_1(void **state) {
  (void)state;
  bench(1, batches());
}

static void test_bench_4(void **state) {
  (void)state;
  bench(4, batches());
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bench_1),
      cmocka_unit_test(test_bench_4),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
