/* test_cache.c — the memory cache: append/read, last write wins, window storage (log and
 * dense), take_ready/release and their window states, WAL segment tracking, accounting. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "diamond/cache.h"
#include "diamond/error.h"

#define T0 1699999200 /* 2023-11-14T22:00:00Z, a window start (3600 s) */

typedef struct got {
  int calls, status;
  size_t n;
  dm_point p[512];
} got;

static void points_cb(void *arg, int status, const dm_point *p, size_t n) {
  got *g = arg;
  g->calls++;
  g->status = status;
  g->n = n;
  assert_true(n <= 512);
  if (n) memcpy(g->p, p, n * sizeof *p);
}

typedef struct snaps {
  int calls, status;
  dm_window_snap *w;
  size_t n;
} snaps;

static void snaps_cb(void *arg, int status, dm_window_snap *w, size_t n) {
  snaps *s = arg;
  s->calls++;
  s->status = status;
  s->w = w;
  s->n = n;
}

static void done_cb(void *arg, int status) {
  int *st = arg;
  *st = status;
}

static dm_cache *open_cache(int64_t step, int64_t window) {
  dm_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.step = step;
  cfg.window = window;
  dm_cache *c = NULL;
  assert_int_equal(dm_cache_memory_open(&c, &cfg), 0);
  return c;
}

/* Appends (name, t, v) triples as one batch under WAL segment seg. */
static void put(dm_cache *c, uint64_t seg, const char *name, const int64_t *t, const double *v,
                size_t n) {
  dm_batch b;
  dm_batch_init(&b);
  for (size_t i = 0; i < n; i++)
    assert_int_equal(dm_batch_add(&b, name, strlen(name), t[i], v[i]), 0);
  int st = 1;
  assert_int_equal(dm_cache_append(c, &b, seg, done_cb, &st), 0);
  assert_int_equal(st, 0);
  dm_batch_free(&b);
}

static void put1(dm_cache *c, uint64_t seg, const char *name, int64_t t, double v) {
  put(c, seg, name, &t, &v, 1);
}

static got *read_s(dm_cache *c, const char *name, int64_t from, int64_t until) {
  static got g;
  memset(&g, 0, sizeof g);
  assert_int_equal(dm_cache_read(c, name, strlen(name), from, until, points_cb, &g), 0);
  assert_int_equal(g.calls, 1);
  assert_int_equal(g.status, 0);
  return &g;
}

static dm_cache_stats stats(dm_cache *c) {
  dm_cache_stats s;
  dm_cache_stats_get(c, &s);
  return s;
}

static snaps take(dm_cache *c, int64_t close_before, size_t max) {
  snaps s = {0};
  assert_int_equal(dm_cache_take_ready(c, close_before, max, snaps_cb, &s), 0);
  assert_int_equal(s.calls, 1);
  assert_int_equal(s.status, 0);
  return s;
}

static void release(dm_cache *c, dm_window_snap *w, size_t n, int status) {
  int st = 1;
  assert_int_equal(dm_cache_release(c, w, n, status, done_cb, &st), 0);
  assert_int_equal(st, 0);
}

static void test_open_invalid(void **state) {
  (void)state;
  dm_config cfg;
  memset(&cfg, 0, sizeof cfg);
  dm_cache *c = NULL;
  cfg.step = 0, cfg.window = 3600;
  assert_int_equal(dm_cache_memory_open(&c, &cfg), DM_EINVAL);
  cfg.step = 60, cfg.window = 90;
  assert_int_equal(dm_cache_memory_open(&c, &cfg), DM_EINVAL);
  cfg.step = 60, cfg.window = -3600;
  assert_int_equal(dm_cache_memory_open(&c, &cfg), DM_EINVAL);
  assert_null(c);
}

static void test_round_trip(void **state) {
  (void)state;
  dm_cache *c = open_cache(60, 3600);
  assert_string_equal(c->ops->name, "memory");
  int64_t t[] = {T0, T0 + 60, T0 + 185}; /* 185 floors to 180 */
  double v[] = {1.5, -0.0, 1e300};
  put(c, 1, "host.h1.cpu.user", t, v, 3);
  got *g = read_s(c, "host.h1.cpu.user", T0, T0 + 3599);
  assert_int_equal(g->n, 3);
  assert_int_equal(g->p[0].t, T0);
  assert_true(g->p[0].v == 1.5);
  assert_int_equal(g->p[1].t, T0 + 60);
  assert_true(g->p[1].v == 0.0 && signbit(g->p[1].v));
  assert_int_equal(g->p[2].t, T0 + 180);
  assert_true(g->p[2].v == 1e300);
  /* sub-ranges are inclusive on both ends */
  g = read_s(c, "host.h1.cpu.user", T0 + 60, T0 + 180);
  assert_int_equal(g->n, 2);
  assert_int_equal(g->p[0].t, T0 + 60);
  g = read_s(c, "host.h1.cpu.user", T0 + 1, T0 + 59);
  assert_int_equal(g->n, 0);
  g = read_s(c, "host.h1.cpu.user", T0 + 200, T0);
  assert_int_equal(g->n, 0);
  g = read_s(c, "host.h1.cpu.use", 0, INT64_MAX);
  assert_int_equal(g->n, 0);
  dm_cache_stats s = stats(c);
  assert_int_equal(s.series, 1);
  assert_int_equal(s.windows, 1);
  assert_int_equal(s.points, 3);
  assert_int_equal(s.flushing, 0);
  assert_int_equal(s.min_wal_seg, 1);
  assert_int_equal(s.oldest_dirty_end, T0 + 3600);
  assert_true(s.bytes > 0);
  dm_cache_close(c);
}

static void test_last_write_wins(void **state) {
  (void)state;
  dm_cache *c = open_cache(60, 3600);
  /* within one batch, also through times that floor to the same step */
  int64_t t[] = {T0 + 120, T0 + 60, T0 + 120, T0 + 125, T0 + 60};
  double v[] = {1, 2, 3, 4, 5};
  put(c, 1, "a", t, v, 5);
  got *g = read_s(c, "a", 0, INT64_MAX);
  assert_int_equal(g->n, 2);
  assert_int_equal(g->p[0].t, T0 + 60);
  assert_true(g->p[0].v == 5);
  assert_int_equal(g->p[1].t, T0 + 120);
  assert_true(g->p[1].v == 4);
  assert_int_equal(stats(c).points, 2); /* the read compacted the log */
  /* across batches, after the window was sorted by the read */
  put1(c, 2, "a", T0 + 60, 6);
  put1(c, 3, "a", T0 + 60, 7);
  g = read_s(c, "a", 0, INT64_MAX);
  assert_int_equal(g->n, 2);
  assert_true(g->p[0].v == 7);
  assert_true(g->p[1].v == 4);
  assert_int_equal(stats(c).min_wal_seg, 1);
  dm_cache_close(c);
}

/* Several series in one batch, interleaved and in runs (runs reuse the lookup). */
static void test_batch_many_series(void **state) {
  (void)state;
  dm_cache *c = open_cache(60, 3600);
  dm_batch b;
  dm_batch_init(&b);
  assert_int_equal(dm_batch_add(&b, "x", 1, T0, 1), 0);
  assert_int_equal(dm_batch_add_same(&b, 0, T0 + 60, 2), 0);
  assert_int_equal(dm_batch_add(&b, "y", 1, T0, 3), 0);
  assert_int_equal(dm_batch_add(&b, "x", 1, T0 + 120, 4), 0);
  assert_int_equal(dm_batch_add(&b, "xx", 2, T0, 5), 0);
  int st = 1;
  assert_int_equal(dm_cache_append(c, &b, 9, done_cb, &st), 0);
  assert_int_equal(st, 0);
  dm_batch_free(&b);
  got *g = read_s(c, "x", 0, INT64_MAX);
  assert_int_equal(g->n, 3);
  assert_true(g->p[0].v == 1 && g->p[1].v == 2 && g->p[2].v == 4);
  g = read_s(c, "y", 0, INT64_MAX);
  assert_int_equal(g->n, 1);
  assert_true(g->p[0].v == 3);
  g = read_s(c, "xx", 0, INT64_MAX);
  assert_int_equal(g->n, 1);
  assert_true(g->p[0].v == 5);
  assert_int_equal(stats(c).series, 3);
  assert_int_equal(stats(c).windows, 3);
  dm_cache_close(c);
}

static void test_out_of_order(void **state) {
  (void)state;
  dm_cache *c = open_cache(60, 3600);
  /* a permutation of the 60 slots with repeats, one point per batch: the log fills,
   * compacts, grows and finally turns dense */
  double want[60];
  int have[60] = {0};
  for (int i = 0; i < 150; i++) {
    int slot = (i * 37 + i / 7) % 60;
    put1(c, 1, "s", T0 + slot * 60, i);
    want[slot] = i;
    have[slot] = 1;
    if (i % 40 == 0) read_s(c, "s", 0, INT64_MAX); /* sorts in between */
  }
  got *g = read_s(c, "s", 0, INT64_MAX);
  size_t k = 0;
  for (int slot = 0; slot < 60; slot++) {
    if (!have[slot]) continue;
    assert_int_equal(g->p[k].t, T0 + slot * 60);
    assert_true(g->p[k].v == want[slot]);
    k++;
  }
  assert_int_equal(g->n, k);
  assert_int_equal(stats(c).points, k);
  /* reversed order in one batch, second series */
  int64_t t[30];
  double v[30];
  for (int i = 0; i < 30; i++) t[i] = T0 + (29 - i) * 120, v[i] = i;
  put(c, 2, "r", t, v, 30);
  g = read_s(c, "r", T0, T0 + 600);
  assert_int_equal(g->n, 6);
  for (int i = 0; i < 6; i++) {
    assert_int_equal(g->p[i].t, T0 + i * 120);
    assert_true(g->p[i].v == 29 - i);
  }
  dm_cache_close(c);
}

/* Overwrites of a few slots must not grow the log without bound. */
static void test_overwrite_bounded(void **state) {
  (void)state;
  dm_cache *c = open_cache(1, 86400); /* 86400 slots: stays a log */
  put1(c, 1, "o", T0, -1);
  uint64_t before = stats(c).bytes;
  for (int i = 0; i < 5000; i++) put1(c, 1, "o", T0 + (i % 2 ? 10 : 5), i);
  assert_true(stats(c).bytes <= before + 64 * 12);
  got *g = read_s(c, "o", 0, INT64_MAX);
  assert_int_equal(g->n, 3);
  assert_true(g->p[0].v == -1);
  assert_int_equal(g->p[1].t, T0 + 5);
  assert_true(g->p[1].v == 4998);
  assert_int_equal(g->p[2].t, T0 + 10);
  assert_true(g->p[2].v == 4999);
  dm_cache_close(c);
}

/* A long unsorted log (86400 slots never turn dense at this size): sorted with a
 * temporary array, last write wins per slot. */
static void test_long_log(void **state) {
  (void)state;
  dm_cache *c = open_cache(1, 86400);
  const int64_t base = T0 - 79200; /* the day's start */
  static double want[2000];
  static int have[2000];
  memset(have, 0, sizeof have);
  dm_batch b;
  dm_batch_init(&b);
  for (int i = 0; i < 3000; i++) {
    int slot = (int)(((unsigned)i * 7919u) % 2000u);
    if (i % 3 == 0) slot = 1999 - slot;
    assert_int_equal(dm_batch_add(&b, "long", 4, base + slot, i), 0);
    want[slot] = i;
    have[slot] = 1;
  }
  int st = 1;
  assert_int_equal(dm_cache_append(c, &b, 1, done_cb, &st), 0);
  assert_int_equal(st, 0);
  dm_batch_free(&b);
  got *g = read_s(c, "long", base + 100, base + 299);
  size_t k = 0;
  for (int slot = 100; slot < 300; slot++) {
    if (!have[slot]) continue;
    assert_int_equal(g->p[k].t, base + slot);
    assert_true(g->p[k].v == want[slot]);
    k++;
  }
  assert_int_equal(g->n, k);
  size_t distinct = 0;
  for (int slot = 0; slot < 2000; slot++) distinct += (size_t)have[slot];
  assert_int_equal(stats(c).points, distinct);
  dm_cache_close(c);
}

static void test_dense_full_window(void **state) {
  (void)state;
  dm_cache *c = open_cache(60, 3600);
  int64_t t[60];
  double v[60];
  for (int i = 0; i < 60; i++) t[i] = T0 + i * 60, v[i] = i * 0.5;
  put(c, 1, "d", t, v, 60);
  dm_cache_stats s = stats(c);
  assert_int_equal(s.points, 60);
  /* dense: 60 doubles + one bitmap word; with the window and series structs and the hash
   * table, still under 16 bytes a point */
  assert_true(s.bytes / 60 <= 16);
  put1(c, 2, "d", T0 + 59 * 60, 100);
  put1(c, 2, "d", T0, 200);
  got *g = read_s(c, "d", T0 + 30 * 60, INT64_MAX);
  assert_int_equal(g->n, 30);
  assert_int_equal(g->p[0].t, T0 + 1800);
  assert_true(g->p[0].v == 15);
  assert_true(g->p[29].v == 100);
  g = read_s(c, "d", 0, T0);
  assert_int_equal(g->n, 1);
  assert_true(g->p[0].v == 200);
  assert_int_equal(stats(c).points, 60);
  got lg = {0};
  assert_int_equal(dm_cache_latest(c, "d", 1, points_cb, &lg), 0);
  assert_int_equal(lg.status, 0);
  assert_int_equal(lg.n, 1);
  assert_int_equal(lg.p[0].t, T0 + 3540);
  assert_true(lg.p[0].v == 100);
  dm_cache_close(c);
}

/* window == step: one slot a window, dense from the first point. */
static void test_one_slot_windows(void **state) {
  (void)state;
  dm_cache *c = open_cache(60, 60);
  int64_t t[] = {T0 + 120, T0, T0 + 60, T0};
  double v[] = {3, 1, 2, 4};
  put(c, 1, "z", t, v, 4);
  assert_int_equal(stats(c).windows, 3);
  got *g = read_s(c, "z", 0, INT64_MAX);
  assert_int_equal(g->n, 3);
  assert_true(g->p[0].v == 4 && g->p[1].v == 2 && g->p[2].v == 3);
  dm_cache_close(c);
}

static void test_reads_span_windows(void **state) {
  (void)state;
  dm_cache *c = open_cache(60, 3600);
  /* written newest window first, so the series' window array is filled out of order */
  put1(c, 1, "m", T0 + 7200 + 60, 3);
  put1(c, 1, "m", T0 + 3540, 1);
  put1(c, 1, "m", T0 + 3600, 2);
  put1(c, 1, "m", T0 - 3600, 0);
  assert_int_equal(stats(c).windows, 4);
  got *g = read_s(c, "m", T0 + 3000, T0 + 7260);
  assert_int_equal(g->n, 3);
  assert_int_equal(g->p[0].t, T0 + 3540);
  assert_int_equal(g->p[1].t, T0 + 3600);
  assert_int_equal(g->p[2].t, T0 + 7260);
  assert_true(g->p[2].v == 3);
  g = read_s(c, "m", INT64_MIN, INT64_MAX);
  assert_int_equal(g->n, 4);
  assert_int_equal(g->p[0].t, T0 - 3600);
  assert_int_equal(stats(c).oldest_dirty_end, T0);
  /* the series' window array outgrew its inline slots; it goes with its last window */
  snaps s = take(c, INT64_MAX, 10);
  assert_int_equal(s.n, 4);
  assert_int_equal(s.w[0].start, T0 - 3600);
  assert_int_equal(s.w[3].start, T0 + 7200);
  release(c, s.w + 2, 2, 0);
  g = read_s(c, "m", INT64_MIN, INT64_MAX);
  assert_int_equal(g->n, 2);
  assert_int_equal(g->p[1].t, T0 + 3540);
  release(c, s.w, 2, 0);
  assert_int_equal(stats(c).series, 0);
  dm_cache_close(c);
}

static void test_latest(void **state) {
  (void)state;
  dm_cache *c = open_cache(60, 3600);
  got g = {0};
  assert_int_equal(dm_cache_latest(c, "none", 4, points_cb, &g), 0);
  assert_int_equal(g.calls, 1);
  assert_int_equal(g.status, DM_ENOENT);
  assert_int_equal(g.n, 0);
  put1(c, 1, "l", T0 + 3600 + 600, 9);
  put1(c, 1, "l", T0 + 3600 + 120, 8); /* older, written later */
  put1(c, 1, "l", T0 + 60, 7);
  memset(&g, 0, sizeof g);
  assert_int_equal(dm_cache_latest(c, "l", 1, points_cb, &g), 0);
  assert_int_equal(g.status, 0);
  assert_int_equal(g.n, 1);
  assert_int_equal(g.p[0].t, T0 + 4200);
  assert_true(g.p[0].v == 9);
  put1(c, 2, "l", T0 + 4200, 10);
  memset(&g, 0, sizeof g);
  assert_int_equal(dm_cache_latest(c, "l", 1, points_cb, &g), 0);
  assert_true(g.p[0].v == 10);
  dm_cache_close(c);
}

static void test_take_ready_closed_only(void **state) {
  (void)state;
  dm_cache *c = open_cache(60, 3600);
  put1(c, 1, "a", T0 + 60, 1);        /* window T0 */
  put1(c, 1, "a", T0 + 3600 + 60, 2); /* window T0+3600, open at now = T0+3700 */
  put1(c, 1, "b", T0 + 120, 3);       /* window T0 */
  snaps s = take(c, T0 + 3599, 100);  /* nothing has ended by then */
  assert_int_equal(s.n, 0);
  s = take(c, T0 + 3700, 100);
  assert_int_equal(s.n, 2);
  assert_string_equal(s.w[0].series, "a");
  assert_int_equal(s.w[0].series_len, 1);
  assert_int_equal(s.w[0].start, T0);
  assert_int_equal(s.w[0].n, 1);
  assert_int_equal(s.w[0].pts[0].t, T0 + 60);
  assert_string_equal(s.w[1].series, "b");
  assert_int_equal(s.w[1].pts[0].t, T0 + 120);
  dm_cache_stats st = stats(c);
  assert_int_equal(st.flushing, 2);
  assert_int_equal(st.oldest_dirty_end, T0 + 7200);
  /* flushing windows are not taken again; INT64_MAX takes the open one */
  snaps s2 = take(c, INT64_MAX, 100);
  assert_int_equal(s2.n, 1);
  assert_int_equal(s2.w[0].start, T0 + 3600);
  assert_int_equal(s2.w[0].pts[0].v, 2);
  assert_int_equal(stats(c).oldest_dirty_end, 0);
  assert_int_equal(take(c, INT64_MAX, 100).n, 0);
  release(c, s.w, s.n, 0);
  release(c, s2.w, s2.n, 0);
  st = stats(c);
  assert_int_equal(st.series, 0);
  assert_int_equal(st.windows, 0);
  assert_int_equal(st.points, 0);
  assert_int_equal(st.flushing, 0);
  assert_true(st.min_wal_seg == UINT64_MAX);
  assert_int_equal(read_s(c, "a", 0, INT64_MAX)->n, 0);
  dm_cache_close(c);
}

static void test_take_ready_max_oldest_first(void **state) {
  (void)state;
  dm_cache *c = open_cache(60, 3600);
  put1(c, 1, "s3", T0 + 7200, 3);
  put1(c, 1, "s1", T0, 1);
  put1(c, 1, "s2", T0 + 3600, 2);
  put1(c, 1, "s0", T0 - 3600, 0);
  put1(c, 1, "s1b", T0 + 60, 11);
  snaps a = take(c, INT64_MAX, 2);
  assert_int_equal(a.n, 2);
  assert_string_equal(a.w[0].series, "s0");
  assert_string_equal(a.w[1].series, "s1"); /* same start: first dirtied first */
  snaps b = take(c, INT64_MAX, 2);
  assert_int_equal(b.n, 2);
  assert_string_equal(b.w[0].series, "s1b");
  assert_string_equal(b.w[1].series, "s2");
  snaps d = take(c, INT64_MAX, 0);
  assert_int_equal(d.n, 0);
  d = take(c, INT64_MAX, 5);
  assert_int_equal(d.n, 1);
  assert_string_equal(d.w[0].series, "s3");
  /* released in parts, and out of take order */
  release(c, d.w, 1, 0);
  release(c, a.w + 1, 1, 0);
  release(c, b.w, 2, 0);
  assert_int_equal(stats(c).windows, 1);
  release(c, a.w, 1, 0);
  assert_int_equal(stats(c).windows, 0);
  dm_cache_close(c);
}

static void test_release_with_appends(void **state) {
  (void)state;
  dm_cache *c = open_cache(60, 3600);
  put1(c, 3, "w", T0, 1);
  put1(c, 4, "w", T0 + 60, 2);
  snaps s = take(c, INT64_MAX, 10);
  assert_int_equal(s.n, 1);
  assert_int_equal(s.w[0].n, 2);
  put1(c, 5, "w", T0 + 60, 20); /* into the FLUSHING window */
  put1(c, 6, "w", T0 + 120, 3);
  assert_int_equal(stats(c).min_wal_seg, 3);
  assert_int_equal(take(c, INT64_MAX, 10).n, 0);
  /* the snapshot is a copy: it did not see the appends */
  assert_true(s.w[0].pts[1].v == 2);
  got *g = read_s(c, "w", 0, INT64_MAX);
  assert_int_equal(g->n, 3);
  assert_true(g->p[1].v == 20);
  release(c, s.w, s.n, 0);
  dm_cache_stats st = stats(c);
  assert_int_equal(st.windows, 1);
  assert_int_equal(st.flushing, 0);
  assert_int_equal(st.min_wal_seg, 5);
  assert_int_equal(st.oldest_dirty_end, T0 + 3600);
  /* all points kept and flushed again */
  s = take(c, INT64_MAX, 10);
  assert_int_equal(s.n, 1);
  assert_int_equal(s.w[0].n, 3);
  assert_true(s.w[0].pts[1].v == 20);
  release(c, s.w, s.n, 0);
  st = stats(c);
  assert_int_equal(st.windows, 0);
  assert_true(st.min_wal_seg == UINT64_MAX);
  dm_cache_close(c);
}

static void test_release_failure(void **state) {
  (void)state;
  dm_cache *c = open_cache(60, 3600);
  put1(c, 2, "f", T0, 1);
  snaps s = take(c, INT64_MAX, 10);
  put1(c, 7, "f", T0 + 60, 2);
  release(c, s.w, s.n, DM_EIO);
  dm_cache_stats st = stats(c);
  assert_int_equal(st.windows, 1);
  assert_int_equal(st.flushing, 0);
  assert_int_equal(st.min_wal_seg, 2);
  assert_int_equal(st.oldest_dirty_end, T0 + 3600);
  s = take(c, INT64_MAX, 10);
  assert_int_equal(s.n, 1);
  assert_int_equal(s.w[0].n, 2);
  release(c, s.w, s.n, DM_EAGAIN);
  s = take(c, INT64_MAX, 10);
  assert_int_equal(s.n, 1);
  release(c, s.w, s.n, 0);
  assert_int_equal(stats(c).windows, 0);
  dm_cache_close(c);
}

static void test_min_wal_seg(void **state) {
  (void)state;
  dm_cache *c = open_cache(60, 3600);
  assert_true(stats(c).min_wal_seg == UINT64_MAX);
  put1(c, 10, "a", T0, 1);        /* a@T0: 10 */
  put1(c, 11, "b", T0, 1);        /* b@T0: 11 */
  put1(c, 12, "a", T0 + 3600, 1); /* a@T1: 12 */
  put1(c, 12, "a", T0 + 60, 1);   /* a@T0 stays 10 */
  assert_int_equal(stats(c).min_wal_seg, 10);
  snaps s = take(c, T0 + 3600, 1); /* a@T0 */
  assert_int_equal(s.n, 1);
  assert_int_equal(stats(c).min_wal_seg, 10); /* flushing is not durable yet */
  release(c, s.w, s.n, 0);
  assert_int_equal(stats(c).min_wal_seg, 11);
  put1(c, 9, "b", T0 + 60, 2); /* an older segment (replay order) lowers b@T0 */
  assert_int_equal(stats(c).min_wal_seg, 9);
  s = take(c, T0 + 3600, 10); /* b@T0 */
  assert_int_equal(s.n, 1);
  put1(c, 13, "b", T0 + 120, 3);
  release(c, s.w, s.n, 0);
  assert_int_equal(stats(c).min_wal_seg, 12); /* a@T1: 12, b@T0: 13 */
  s = take(c, INT64_MAX, 10);
  assert_int_equal(s.n, 2);
  release(c, s.w, 1, 0); /* b@T0 (older start) */
  assert_int_equal(stats(c).min_wal_seg, 12);
  release(c, s.w + 1, 1, 0);
  assert_true(stats(c).min_wal_seg == UINT64_MAX);
  dm_cache_close(c);
}

static void test_bytes_return_to_zero(void **state) {
  (void)state;
  dm_cache *c = open_cache(60, 3600);
  uint64_t empty = stats(c).bytes;
  char name[32];
  for (int i = 0; i < 3000; i++) {
    snprintf(name, sizeof name, "host.h%d.cpu", i);
    for (int j = 0; j < 3; j++) put1(c, 1 + (uint64_t)j, name, T0 + j * 1800 + i % 60 * 60, i);
  }
  for (int j = 0; j < 6; j++) put1(c, 4, "wide", T0 + j * 3600, j); /* 6 windows */
  dm_cache_stats st = stats(c);
  assert_int_equal(st.series, 3001);
  assert_int_equal(st.windows, 6006);
  assert_int_equal(st.points, 9006);
  assert_true(st.bytes > empty + 9000 * 12);
  snaps s = take(c, INT64_MAX, 4000);
  assert_int_equal(s.n, 4000);
  assert_true(stats(c).bytes > st.bytes); /* the snapshot is counted */
  snaps s2 = take(c, INT64_MAX, SIZE_MAX);
  assert_int_equal(s2.n, 2006);
  release(c, s2.w, s2.n, 0);
  release(c, s.w, s.n, 0);
  st = stats(c);
  assert_int_equal(st.series, 0);
  assert_int_equal(st.points, 0);
  /* what is left: the hash table back at its minimum size */
  assert_int_equal(st.bytes, empty);
  dm_cache_close(c);
}

/* close frees snapshots that were never released (ASan checks). */
static void test_close_with_snapshots(void **state) {
  (void)state;
  dm_cache *c = open_cache(60, 3600);
  put1(c, 1, "a", T0, 1);
  put1(c, 1, "b", T0 + 3600, 1);
  snaps s = take(c, INT64_MAX, 1);
  assert_int_equal(s.n, 1);
  s = take(c, INT64_MAX, 1);
  assert_int_equal(s.n, 1);
  release(c, s.w, 1, DM_EIO);
  s = take(c, INT64_MAX, 1);
  assert_int_equal(s.n, 1);
  dm_cache_close(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_open_invalid),
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_last_write_wins),
      cmocka_unit_test(test_batch_many_series),
      cmocka_unit_test(test_out_of_order),
      cmocka_unit_test(test_overwrite_bounded),
      cmocka_unit_test(test_long_log),
      cmocka_unit_test(test_dense_full_window),
      cmocka_unit_test(test_one_slot_windows),
      cmocka_unit_test(test_reads_span_windows),
      cmocka_unit_test(test_latest),
      cmocka_unit_test(test_take_ready_closed_only),
      cmocka_unit_test(test_take_ready_max_oldest_first),
      cmocka_unit_test(test_release_with_appends),
      cmocka_unit_test(test_release_failure),
      cmocka_unit_test(test_min_wal_seg),
      cmocka_unit_test(test_bytes_return_to_zero),
      cmocka_unit_test(test_close_with_snapshots),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
