/* test_cache_model.c — the memory cache against a reference model under random operations
 * (appends, reads, latest, take_ready, release ok/failed in parts), plus the 100k series
 * x 60 points load that prints the append cost and the bytes a point costs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "diamond/cache.h"
#include "diamond/error.h"

#define T0 1699999200 /* a multiple of 600 and 3600 */

static dm_cache *open_cache(int64_t step, int64_t window) {
  dm_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.step = step;
  cfg.window = window;
  dm_cache *c = NULL;
  assert_int_equal(dm_cache_memory_open(&c, &cfg), 0);
  return c;
}

static void done_cb(void *arg, int status) { *(int *)arg = status; }

typedef struct got {
  int calls, status;
  size_t n;
  dm_point p[64];
} got;

static void points_cb(void *arg, int status, const dm_point *p, size_t n) {
  got *g = arg;
  g->calls++;
  g->status = status;
  g->n = n;
  assert_true(n <= 64);
  if (n) memcpy(g->p, p, n * sizeof *p);
}

typedef struct snaps {
  dm_window_snap *w;
  size_t n;
} snaps;

static void snaps_cb(void *arg, int status, dm_window_snap *w, size_t n) {
  assert_int_equal(status, 0);
  snaps *s = arg;
  s->w = w;
  s->n = n;
}

/* ---- the model: 6 series x 40 steps (4 windows of 10 slots: log, then dense) ---- */

#define NS 6
#define NT 40
#define STEP 60
#define WIN 600

static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(uint64_t n) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng % n;
}

typedef struct model {
  int has[NS][NT];
  double ref[NS][NT];   /* last value written */
  uint64_t seg[NS][NT]; /* WAL segment of the last write */
  int in_table[NS][NT];
  double table[NS][NT]; /* what successful releases made durable */
} model;

static const char *sname(int s) {
  static const char *names[NS] = {"a", "b.c", "host.h1.cpu", "host.h1.cpux", "x-y_z", "q"};
  return names[s];
}

static void check_series(dm_cache *c, const model *m, int s, int64_t from, int64_t until) {
  got g = {0};
  assert_int_equal(dm_cache_read(c, sname(s), strlen(sname(s)), from, until, points_cb, &g), 0);
  assert_int_equal(g.calls, 1);
  assert_int_equal(g.status, 0);
  size_t k = 0;
  for (int i = 0; i < NT; i++) {
    int64_t t = T0 + i * STEP;
    int in_cache = k < g.n && g.p[k].t == t;
    if (in_cache) k++;
    if (t < from || t > until) {
      assert_false(in_cache);
      continue;
    }
    if (!m->has[s][i]) {
      assert_false(in_cache);
      continue;
    }
    /* cache > table */
    double v = in_cache ? g.p[k - 1].v : m->table[s][i];
    assert_true(in_cache || m->in_table[s][i]);
    assert_true(v == m->ref[s][i]);
  }
  assert_int_equal(k, g.n); /* sorted, no stray points */
  got l = {0};
  assert_int_equal(dm_cache_latest(c, sname(s), strlen(sname(s)), points_cb, &l), 0);
  g.calls = 0;
  assert_int_equal(
      dm_cache_read(c, sname(s), strlen(sname(s)), INT64_MIN, INT64_MAX, points_cb, &g), 0);
  if (g.n == 0) {
    assert_int_equal(l.status, DM_ENOENT);
  } else {
    assert_int_equal(l.status, 0);
    assert_int_equal(l.p[0].t, g.p[g.n - 1].t);
    assert_true(l.p[0].v == g.p[g.n - 1].v);
  }
}

/* Every point whose last write is in a segment below min_wal_seg is in the table. */
static void check_min_seg(dm_cache *c, const model *m) {
  dm_cache_stats st;
  dm_cache_stats_get(c, &st);
  for (int s = 0; s < NS; s++)
    for (int i = 0; i < NT; i++)
      if (m->has[s][i] && m->seg[s][i] < st.min_wal_seg) {
        assert_true(m->in_table[s][i]);
        assert_true(m->table[s][i] == m->ref[s][i]);
      }
}

static void apply_release(dm_cache *c, model *m, dm_window_snap *w, size_t n, int status) {
  if (status == 0) {
    for (size_t j = 0; j < n; j++) {
      int s = 0;
      while (strcmp(sname(s), w[j].series) != 0) s++;
      for (size_t k = 0; k < w[j].n; k++) {
        int i = (int)((w[j].pts[k].t - T0) / STEP);
        m->in_table[s][i] = 1;
        m->table[s][i] = w[j].pts[k].v;
      }
    }
  }
  int st = 1;
  assert_int_equal(dm_cache_release(c, w, n, status, done_cb, &st), 0);
  assert_int_equal(st, 0);
}

#define MAXOUT 8

static void test_random_model(void **state) {
  (void)state;
  static model m;
  memset(&m, 0, sizeof m);
  dm_cache *c = open_cache(STEP, WIN);
  snaps out[MAXOUT];
  size_t nout = 0, flushing = 0;
  uint64_t seg = 1;
  double next_v = 1;
  for (int op = 0; op < 20000; op++) {
    uint64_t r = rnd(100);
    if (r < 50) {
      dm_batch b;
      dm_batch_init(&b);
      size_t n = 1 + rnd(8);
      for (size_t j = 0; j < n; j++) {
        int s = (int)rnd(NS), i = (int)rnd(NT);
        if (j > 0 && rnd(2)) {
          /* same series as before: dm_batch_add_same */
          s = 0;
          while (strlen(sname(s)) != b.e[b.n - 1].name_len ||
                 memcmp(sname(s), b.names + b.e[b.n - 1].name_off, b.e[b.n - 1].name_len) != 0)
            s++;
          assert_int_equal(
              dm_batch_add_same(&b, b.n - 1, T0 + i * STEP + (int64_t)rnd(STEP), next_v), 0);
        } else {
          assert_int_equal(dm_batch_add(&b, sname(s), strlen(sname(s)), T0 + i * STEP, next_v), 0);
        }
        m.has[s][i] = 1;
        m.ref[s][i] = next_v++;
        m.seg[s][i] = seg;
      }
      int st = 1;
      assert_int_equal(dm_cache_append(c, &b, seg, done_cb, &st), 0);
      assert_int_equal(st, 0);
      dm_batch_free(&b);
      if (rnd(10) == 0) seg++;
    } else if (r < 65 && nout < MAXOUT) {
      int64_t close = rnd(5) == 0 ? INT64_MAX : T0 + (int64_t)rnd(6) * WIN;
      snaps s = {NULL, 99};
      assert_int_equal(dm_cache_take_ready(c, close, rnd(4), snaps_cb, &s), 0);
      assert_true(s.n != 99);
      for (size_t j = 0; j < s.n; j++) {
        assert_true(s.w[j].start + WIN <= close);
        assert_true(j == 0 || s.w[j - 1].start <= s.w[j].start);
        assert_true(s.w[j].n > 0);
        for (size_t k = 0; k < s.w[j].n; k++) {
          assert_true(s.w[j].pts[k].t >= s.w[j].start && s.w[j].pts[k].t < s.w[j].start + WIN);
          assert_true(k == 0 || s.w[j].pts[k - 1].t < s.w[j].pts[k].t);
        }
      }
      flushing += s.n;
      if (s.n) out[nout++] = s;
    } else if (r < 80 && nout > 0) {
      size_t k = rnd(nout);
      int status = rnd(5) == 0 ? DM_EIO : 0;
      size_t part = out[k].n > 1 && rnd(2) ? 1 : out[k].n; /* release a prefix, or all */
      apply_release(c, &m, out[k].w, part, status);
      flushing -= part;
      out[k].w += part;
      out[k].n -= part;
      if (out[k].n == 0) out[k] = out[--nout];
    } else {
      int s = (int)rnd(NS);
      int64_t from = T0 + (int64_t)rnd(NT + 2) * STEP - STEP,
              until = from + (int64_t)rnd(NT) * STEP;
      check_series(c, &m, s, from, until);
    }
    dm_cache_stats st;
    dm_cache_stats_get(c, &st);
    assert_int_equal(st.flushing, flushing);
    if (op % 16 == 0) check_min_seg(c, &m);
  }
  /* drain: everything ends in the table and the cache is empty */
  while (nout > 0) {
    apply_release(c, &m, out[nout - 1].w, out[nout - 1].n, 0);
    nout--;
  }
  snaps s;
  do {
    s.n = 0;
    assert_int_equal(dm_cache_take_ready(c, INT64_MAX, 7, snaps_cb, &s), 0);
    if (s.n) apply_release(c, &m, s.w, s.n, 0);
  } while (s.n);
  for (int si = 0; si < NS; si++)
    for (int i = 0; i < NT; i++)
      if (m.has[si][i]) assert_true(m.in_table[si][i] && m.table[si][i] == m.ref[si][i]);
  dm_cache_stats st;
  dm_cache_stats_get(c, &st);
  assert_int_equal(st.series, 0);
  assert_int_equal(st.windows, 0);
  assert_int_equal(st.points, 0);
  assert_true(st.min_wal_seg == UINT64_MAX);
  assert_int_equal(st.oldest_dirty_end, 0);
  assert_int_equal(st.bytes, 16 * sizeof(void *)); /* the empty hash table */
  dm_cache_close(c);
}

/* ---- load: 100k series x 60 points, as agents send them ---- */

#define NSERIES 100000
#define NPTS 60
#define BATCH 5000

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static double append_timed(dm_cache *c, const dm_batch *b, uint64_t seg) {
  int st = 1;
  double t = now_ns();
  assert_int_equal(dm_cache_append(c, b, seg, done_cb, &st), 0);
  t = now_ns() - t;
  assert_int_equal(st, 0);
  return t;
}

static void drain(dm_cache *c) {
  snaps s;
  do {
    s.n = 0;
    assert_int_equal(dm_cache_take_ready(c, INT64_MAX, 10000, snaps_cb, &s), 0);
    int st = 1;
    if (s.n) assert_int_equal(dm_cache_release(c, s.w, s.n, 0, done_cb, &st), 0);
  } while (s.n);
}

static void test_load_100k_series(void **state) {
  (void)state;
  dm_cache *c = open_cache(60, 3600);
  dm_cache_stats st;
  dm_cache_stats_get(c, &st);
  uint64_t empty = st.bytes;
  char name[64];
  /* A: every batch carries one point of 5000 different series (a lookup per point) */
  dm_batch b[NSERIES / BATCH];
  for (int k = 0; k < NSERIES / BATCH; k++) {
    dm_batch_init(&b[k]);
    for (int i = 0; i < BATCH; i++) {
      int len = snprintf(name, sizeof name, "host.%08x.cpu.user.%d", k * BATCH + i, i % 7);
      assert_int_equal(dm_batch_add(&b[k], name, (size_t)len, T0, 0), 0);
    }
  }
  double ns = 0, ns_first = 0;
  for (int j = 0; j < NPTS; j++) {
    if (j == 1) ns_first = ns;
    for (int k = 0; k < NSERIES / BATCH; k++) {
      for (int i = 0; i < BATCH; i++) {
        b[k].e[i].t = T0 + j * 60;
        b[k].e[i].v = j * 1000.0 + i;
      }
      ns += append_timed(c, &b[k], 1 + (uint64_t)j / 10);
    }
  }
  dm_cache_stats_get(c, &st);
  assert_int_equal(st.series, NSERIES);
  assert_int_equal(st.windows, NSERIES);
  assert_int_equal(st.points, NSERIES * NPTS);
  assert_int_equal(st.min_wal_seg, 1);
  double bpp = (double)(st.bytes - empty) / (NSERIES * NPTS);
  printf("cache load A (100k series x 60 points, 5000 series a batch): append %.1f ns/point "
         "(first point of a series %.1f, later ones %.1f), %.2f bytes/point\n",
         ns / (NSERIES * NPTS), ns_first / NSERIES, (ns - ns_first) / (NSERIES * (NPTS - 1)), bpp);
  assert_true(bpp <= 16);
  got g = {0};
  size_t len =
      (size_t)snprintf(name, sizeof name, "host.%08x.cpu.user.%d", 54321, 54321 % BATCH % 7);
  assert_int_equal(dm_cache_read(c, name, len, T0, T0 + 3599, points_cb, &g), 0);
  assert_int_equal(g.n, NPTS);
  assert_int_equal(g.p[59].t, T0 + 59 * 60);
  assert_true(g.p[59].v == 59 * 1000.0 + 54321 % BATCH);
  for (int k = 0; k < NSERIES / BATCH; k++) dm_batch_free(&b[k]);
  drain(c);
  dm_cache_stats_get(c, &st);
  assert_int_equal(st.series, 0);
  assert_int_equal(st.bytes, empty);

  /* B: runs of 60 points per series (dm_batch_add_same: the lookup is reused) */
  ns = 0;
  dm_batch bb;
  dm_batch_init(&bb);
  for (int s = 0; s < NSERIES; s++) {
    int len2 = snprintf(name, sizeof name, "host.%08x.cpu.user.%d", s, s % 7);
    size_t first = bb.n;
    assert_int_equal(dm_batch_add(&bb, name, (size_t)len2, T0, 0), 0);
    for (int j = 1; j < NPTS; j++)
      assert_int_equal(dm_batch_add_same(&bb, first, T0 + j * 60, j), 0);
    if (bb.n >= BATCH - NPTS || s == NSERIES - 1) {
      ns += append_timed(c, &bb, 7);
      dm_batch_reset(&bb);
    }
  }
  dm_batch_free(&bb);
  dm_cache_stats_get(c, &st);
  assert_int_equal(st.points, NSERIES * NPTS);
  printf("cache load B (100k series x 60 points, 60-point runs a series):  append %.1f ns/point, "
         "%.2f bytes/point\n",
         ns / (NSERIES * NPTS), (double)(st.bytes - empty) / (NSERIES * NPTS));
  dm_cache_close(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_random_model),
      cmocka_unit_test(test_load_100k_series),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
