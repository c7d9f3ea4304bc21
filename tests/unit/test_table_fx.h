/* test_table_fx.h — fixture shared by test_table*.c: a real libuv loop, an LMDB table in a
 * mkdtemp() directory, chunk builders and synchronous wrappers that run the loop until
 * the callback came. */
#ifndef TEST_TABLE_FX_H
#define TEST_TABLE_FX_H

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "diamond/config.h"
#include "diamond/error.h"
#include "diamond/gorilla.h"
#include "diamond/log.h"
#include "diamond/names.h"
#include "diamond/table.h"

#define SHARDS 4
#define WINDOW 3600
#define DAY 86400

typedef struct fx {
  uv_loop_t loop;
  char dir[64];
  dm_config cfg;
  dm_table *t;
} fx;

/* What a callback saw, copied out. */
typedef struct res {
  int called, status;
  size_t n;
  dm_item *items; /* series and chunk point into copies */
  dm_dayshard *ds;
  char **names;
} res;

static inline void done_cb(void *arg, int status) {
  res *r = arg;
  r->called++;
  r->status = status;
}

static inline void items_cb(void *arg, int status, const dm_item *it, size_t n) {
  res *r = arg;
  r->called++;
  r->status = status;
  r->n = n;
  r->items = calloc(n + 1, sizeof *r->items);
  for (size_t i = 0; i < n; i++) {
    r->items[i] = it[i];
    r->items[i].series = strndup(it[i].series, it[i].series_len);
    uint8_t *c = malloc(it[i].chunk_len);
    memcpy(c, it[i].chunk, it[i].chunk_len);
    r->items[i].chunk = c;
  }
}

static inline void ds_cb(void *arg, int status, const dm_dayshard *d, size_t n) {
  res *r = arg;
  r->called++;
  r->status = status;
  r->n = n;
  r->ds = calloc(n + 1, sizeof *r->ds);
  if (n > 0) memcpy(r->ds, d, n * sizeof *d);
}

static inline void names_cb(void *arg, int status, const dm_name_ref *names, size_t n) {
  res *r = arg;
  r->called++;
  r->status = status;
  r->n = n;
  r->names = calloc(n + 1, sizeof *r->names);
  for (size_t i = 0; i < n; i++) r->names[i] = strndup(names[i].s, names[i].len);
}

static inline void res_free(res *r) {
  for (size_t i = 0; r->items != NULL && i < r->n; i++) {
    free((void *)r->items[i].series);
    free((void *)r->items[i].chunk);
  }
  for (size_t i = 0; r->names != NULL && i < r->n; i++) free(r->names[i]);
  free(r->items);
  free(r->ds);
  free(r->names);
  memset(r, 0, sizeof *r);
}

static inline void run(fx *f) { uv_run(&f->loop, UV_RUN_DEFAULT); }

static inline void rm_rf(const char *path) {
  struct stat st;
  if (lstat(path, &st) < 0) return;
  if (S_ISDIR(st.st_mode)) {
    DIR *d = opendir(path);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
      if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
      char sub[1024];
      if (snprintf(sub, sizeof sub, "%s/%s", path, de->d_name) >= (int)sizeof sub) continue;
      rm_rf(sub);
    }
    closedir(d);
    rmdir(path);
  } else {
    unlink(path);
  }
}

static inline void fx_open(fx *f) {
  char err[256] = "";
  int rc = dm_table_lmdb_open(&f->t, &f->loop, &f->cfg, err, sizeof err);
  if (rc != 0) fprintf(stderr, "open: %s\n", err);
  assert_int_equal(rc, 0);
}

static inline int fx_setup_map(void **state, int64_t map_bytes) {
  fx *f = calloc(1, sizeof *f);
  dm_log_set_level(DM_LOG_WARN);
  uv_loop_init(&f->loop);
  strcpy(f->dir, "/tmp/dm_table_XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  dm_config_defaults(&f->cfg);
  snprintf(f->cfg.data_dir, sizeof f->cfg.data_dir, "%s/data", f->dir);
  f->cfg.window = WINDOW;
  f->cfg.ager_shards = SHARDS;
  f->cfg.table_map_bytes = map_bytes;
  fx_open(f);
  *state = f;
  return 0;
}

static inline int fx_setup(void **state) { return fx_setup_map(state, 256 << 20); }

static inline void fx_close(fx *f) {
  if (f->t != NULL) dm_table_close(f->t);
  f->t = NULL;
  run(f);
}

static inline int fx_teardown(void **state) {
  fx *f = *state;
  fx_close(f);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  rm_rf(f->dir);
  free(f);
  return 0;
}

/* A chunk of the n points t = start + i*60, v = base + i. */
static inline uint8_t *mk_chunk(int64_t start, size_t n, double base, uint32_t *len) {
  dm_point *p = malloc((n + 1) * sizeof *p);
  for (size_t i = 0; i < n; i++) p[i] = (dm_point){start + (int64_t)i * 60, base + (double)i};
  size_t cap = dm_chunk_bound(n);
  uint8_t *c = malloc(cap);
  int rc = dm_chunk_encode(p, n, c, cap);
  assert_true(rc > 0);
  *len = (uint32_t)rc;
  free(p);
  return c;
}

static inline uint8_t *mk_chunk_pts(const dm_point *p, size_t n, uint32_t *len) {
  size_t cap = dm_chunk_bound(n);
  uint8_t *c = malloc(cap);
  int rc = dm_chunk_encode(p, n, c, cap);
  assert_true(rc > 0);
  *len = (uint32_t)rc;
  return c;
}

static inline dm_item mk_item(const char *series, int64_t start, size_t n, double base) {
  dm_item it = {.series = series, .series_len = (uint32_t)strlen(series), .start = start,
                .count = (uint32_t)n};
  it.chunk = mk_chunk(start, n, base, &it.chunk_len);
  return it;
}

static inline void free_items(dm_item *it, size_t n) {
  for (size_t i = 0; i < n; i++) free((void *)it[i].chunk);
}

static inline void put_ok(fx *f, const dm_item *it, size_t n) {
  res r = {0};
  assert_int_equal(dm_table_put(f->t, it, n, done_cb, &r), 0);
  run(f);
  assert_int_equal(r.called, 1);
  assert_int_equal(r.status, 0);
}

static inline res query(fx *f, const char *s, int64_t from, int64_t until) {
  res r = {0};
  assert_int_equal(dm_table_query(f->t, s, strlen(s), from, until, items_cb, &r), 0);
  run(f);
  assert_int_equal(r.called, 1);
  assert_int_equal(r.status, 0);
  return r;
}

static inline res last(fx *f, const char *s) {
  res r = {0};
  assert_int_equal(dm_table_last(f->t, s, strlen(s), items_cb, &r), 0);
  run(f);
  assert_int_equal(r.called, 1);
  assert_int_equal(r.status, 0);
  return r;
}

static inline res pending(fx *f, int64_t before_day) {
  res r = {0};
  assert_int_equal(dm_table_pending(f->t, before_day, ds_cb, &r), 0);
  run(f);
  assert_int_equal(r.called, 1);
  assert_int_equal(r.status, 0);
  return r;
}

static inline res scan_day(fx *f, dm_dayshard ds) {
  res r = {0};
  assert_int_equal(dm_table_scan_day(f->t, ds, names_cb, &r), 0);
  run(f);
  assert_int_equal(r.called, 1);
  assert_int_equal(r.status, 0);
  return r;
}

static inline res names(fx *f) {
  res r = {0};
  assert_int_equal(dm_table_names(f->t, names_cb, &r), 0);
  run(f);
  assert_int_equal(r.called, 1);
  assert_int_equal(r.status, 0);
  return r;
}

static inline void mark_aged(fx *f, dm_dayshard ds) {
  res r = {0};
  assert_int_equal(dm_table_mark_aged(f->t, ds, done_cb, &r), 0);
  run(f);
  assert_int_equal(r.called, 1);
  assert_int_equal(r.status, 0);
}

static inline void sweep(fx *f, int64_t before) {
  res r = {0};
  assert_int_equal(dm_table_sweep(f->t, before, done_cb, &r), 0);
  run(f);
  assert_int_equal(r.called, 1);
  assert_int_equal(r.status, 0);
}

static inline uint32_t shard_of(const char *s) {
  return (uint32_t)(dm_name_hash(s, strlen(s)) % SHARDS);
}

/* Decodes item i of r into p (cap points); returns the count. */
static inline size_t decode(const res *r, size_t i, dm_point *p, size_t cap) {
  int n = dm_chunk_decode(r->items[i].chunk, r->items[i].chunk_len, p, cap);
  assert_true(n >= 0);
  return (size_t)n;
}

#endif
