/* test_engine_fx.h — the fixture the engine's unit tests share: a real loop, a temp data
 * dir, an engine on it, and helpers that write, read, flush and age synchronously by
 * running the loop until the callback came. */
#ifndef DIAMOND_TEST_ENGINE_FX_H
#define DIAMOND_TEST_ENGINE_FX_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/engine/engine_int.h"
#include "diamond/error.h"
#include "diamond/timefmt.h"

typedef struct fx {
  uv_loop_t loop;
  dm_config cfg;
  dm_engine *e;
  char dir[64];
} fx;

typedef struct result {
  int done, calls, status;
  dm_point p[64];
  size_t n;
} result;

static inline void on_done(void *arg, int status) {
  result *r = arg;
  r->done = 1;
  r->calls++;
  r->status = status;
}

static inline void on_points(void *arg, int status, const dm_point *p, size_t n) {
  result *r = arg;
  r->done = 1;
  r->calls++;
  r->status = status;
  r->n = n < 64 ? n : 64;
  if (r->n) memcpy(r->p, p, r->n * sizeof *p);
}

static inline void wait_for(fx *f, result *r) {
  while (!r->done) uv_run(&f->loop, UV_RUN_ONCE);
}

static inline void open_engine(fx *f) {
  char err[256];
  int rc = dm_engine_open(&f->e, &f->loop, &f->cfg, err, sizeof err);
  if (rc < 0) fprintf(stderr, "open: %s\n", err);
  assert_int_equal(rc, 0);
}

static inline void close_engine(fx *f) {
  dm_engine_close(f->e);
  f->e = NULL;
  while (uv_run(&f->loop, UV_RUN_NOWAIT) != 0) {
  }
}

static inline int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  uv_loop_init(&f->loop);
  snprintf(f->dir, sizeof f->dir, "/tmp/dm-test-engine-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  dm_config_defaults(&f->cfg);
  snprintf(f->cfg.data_dir, sizeof f->cfg.data_dir, "%s", f->dir);
  f->cfg.table_map_bytes = (int64_t)1 << 28;
  open_engine(f);
  *state = f;
  return 0;
}

static inline int teardown(void **state) {
  fx *f = *state;
  if (f->e) close_engine(f);
  uv_loop_close(&f->loop);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
  assert_int_equal(system(cmd), 0);
  free(f);
  return 0;
}

static inline void write_points(fx *f, const char *series, const dm_point *p, size_t n) {
  dm_batch b;
  dm_batch_init(&b);
  for (size_t i = 0; i < n; i++)
    assert_int_equal(dm_batch_add(&b, series, strlen(series), p[i].t, p[i].v), 0);
  result r = {0};
  assert_int_equal(dm_engine_write(f->e, &b, on_done, &r), 0);
  wait_for(f, &r);
  assert_int_equal(r.status, 0);
  dm_batch_free(&b);
}

static inline result read_series(fx *f, const char *series, int64_t from, int64_t until) {
  result r = {0};
  assert_int_equal(dm_engine_read(f->e, series, strlen(series), from, until, on_points, &r), 0);
  wait_for(f, &r);
  return r;
}

static inline void run_admin(fx *f, int age) {
  result r = {0};
  assert_int_equal(age ? dm_engine_age(f->e, on_done, &r) : dm_engine_flush(f->e, on_done, &r), 0);
  wait_for(f, &r);
  assert_int_equal(r.status, 0);
}

static inline void expect(const result *r, const dm_point *want, size_t n) {
  assert_int_equal(r->status, 0);
  assert_int_equal(r->n, n);
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(r->p[i].t, want[i].t);
    assert_true(r->p[i].v == want[i].v);
  }
}

#endif
