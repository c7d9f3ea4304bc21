/* test_wal_fixture.h — what the WAL unit tests share: a temp dir and a loop per test,
 * batches with recognisable content, a callback recorder, a replay collector that checks
 * every point, segment file helpers and an fsync observer that can hold the writer. */
#ifndef TEST_WAL_FIXTURE_H
#define TEST_WAL_FIXTURE_H

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "diamond/error.h"
#include "diamond/wal.h"

typedef struct fx {
  char dir[64];
  uv_loop_t loop;
} fx;

static inline int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  snprintf(f->dir, sizeof f->dir, "/tmp/dm_wal_XXXXXX");
  if (mkdtemp(f->dir) == NULL) return -1;
  uv_loop_init(&f->loop);
  *state = f;
  return 0;
}

static inline void rm_tree(const char *dir) {
  DIR *d = opendir(dir);
  if (d == NULL) return;
  struct dirent *de;
  char p[512];
  while ((de = readdir(d)) != NULL) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
    if (snprintf(p, sizeof p, "%s/%s", dir, de->d_name) >= (int)sizeof p) continue;
    struct stat st;
    if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
      rm_tree(p);
    else
      unlink(p);
  }
  closedir(d);
  rmdir(dir);
}

static inline int teardown(void **state) {
  fx *f = *state;
  uv_run(&f->loop, UV_RUN_DEFAULT);
  int rc = uv_loop_close(&f->loop); /* every handle closed: the WAL's async too */
  rm_tree(f->dir);
  free(f);
  return rc == 0 ? 0 : -1;
}

static inline dm_wal *open_wal(fx *f, dm_fsync_mode mode, int64_t seg_bytes) {
  dm_wal_opts o = {.dir = f->dir, .fsync = mode, .fsync_ms = 5, .segment_bytes = seg_bytes};
  dm_wal *w = NULL;
  assert_int_equal(dm_wal_open(&w, &f->loop, &o), 0);
  return w;
}

static inline void close_wal(fx *f, dm_wal *w) {
  dm_wal_close(w);
  uv_run(&f->loop, UV_RUN_DEFAULT);
}

/* batch k: n points of series "s.<k>.<i>" */
static inline void fill(dm_batch *b, int k, int n) {
  dm_batch_reset(b);
  char name[32];
  for (int i = 0; i < n; i++) {
    int len = snprintf(name, sizeof name, "s.%d.%d", k, i);
    assert_int_equal(dm_batch_add(b, name, (size_t)len, 1700000000 + 60 * i, k * 1000 + i + 0.5), 0);
  }
}

static inline size_t rec_size(const dm_batch *b) { return DM_WAL_RECORD_BYTES + dm_batch_encoded_size(b); }

typedef struct done {
  int status;
  uint64_t seg;
  int order;
  int calls;
} done;

static int g_order;
static inline void on_done(void *arg, int status, uint64_t seg) {
  done *d = arg;
  d->status = status;
  d->seg = seg;
  d->order = ++g_order;
  d->calls++;
}

/* replay collector: batch k is recognised by its first value */
typedef struct got {
  int n;
  int k[256];
  int npts[256];
  uint64_t seg[256];
  int fail_at;
} got;

static inline int collect(void *arg, const dm_batch *b, uint64_t seg) {
  got *g = arg;
  if (g->fail_at > 0 && g->n + 1 == g->fail_at) return DM_ENOMEM;
  assert_true(g->n < 256);
  assert_true(b->n > 0);
  int k = (int)(b->e[0].v / 1000);
  for (size_t i = 0; i < b->n; i++) { /* exact content of batch k */
    char name[32];
    size_t len;
    const char *nm = dm_batch_name(b, i, &len);
    int el = snprintf(name, sizeof name, "s.%d.%zu", k, i);
    assert_int_equal(len, (size_t)el);
    assert_memory_equal(nm, name, len);
    assert_int_equal(b->e[i].t, 1700000000 + 60 * (int64_t)i);
    assert_true(b->e[i].v == k * 1000 + (double)i + 0.5);
  }
  g->k[g->n] = k;
  g->npts[g->n] = (int)b->n;
  g->seg[g->n] = seg;
  g->n++;
  return 0;
}

static inline int count_segments(const char *dir) {
  DIR *d = opendir(dir);
  int n = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) n += strstr(de->d_name, ".log") != NULL;
  closedir(d);
  return n;
}

static inline int seg_exists(const char *dir, uint64_t seq) {
  char p[256];
  snprintf(p, sizeof p, "%s/%020llu.log", dir, (unsigned long long)seq);
  return access(p, F_OK) == 0;
}

static inline long long seg_size(const char *dir, uint64_t seq) {
  char p[256];
  struct stat st;
  snprintf(p, sizeof p, "%s/%020llu.log", dir, (unsigned long long)seq);
  return stat(p, &st) == 0 ? (long long)st.st_size : -1;
}

/* An fsync observer that holds the writer until the test lets it go. */
typedef struct gate {
  uv_sem_t entered, release;
  int hold;
  uint64_t calls, last_ns;
} gate;

static inline void gate_fn(void *arg, uint64_t ns) {
  gate *g = arg;
  g->calls++;
  g->last_ns = ns;
  if (g->hold) {
    uv_sem_post(&g->entered);
    uv_sem_wait(&g->release);
  }
}

#endif
