/* test_blob.c — the directory blob store on a real libuv loop and a mkdtemp() directory:
 * put/get_range (whole, middle, suffix, past the end, absent), atomic replace, list, del,
 * key validation, stats and close with work in flight. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "diamond/blob.h"
#include "diamond/error.h"

typedef struct fx {
  uv_loop_t loop;
  char dir[64];
  dm_blob *b;
} fx;

typedef struct res {
  int called, status;
  uint8_t *data;
  size_t len;
  uint64_t size;
  char **names;
  size_t n;
} res;

static void done_cb(void *arg, int status) {
  res *r = arg;
  r->called++;
  r->status = status;
}

static void bytes_cb(void *arg, int status, const uint8_t *data, size_t len, uint64_t size) {
  res *r = arg;
  r->called++;
  r->status = status;
  r->len = len;
  r->size = size;
  r->data = malloc(len + 1);
  if (len > 0) memcpy(r->data, data, len);
}

static void names_cb(void *arg, int status, const dm_name_ref *names, size_t n) {
  res *r = arg;
  r->called++;
  r->status = status;
  r->n = n;
  r->names = calloc(n + 1, sizeof *r->names);
  for (size_t i = 0; i < n; i++) r->names[i] = strndup(names[i].s, names[i].len);
}

static void res_free(res *r) {
  free(r->data);
  for (size_t i = 0; i < r->n; i++) free(r->names[i]);
  free(r->names);
  memset(r, 0, sizeof *r);
}

static void run(fx *f) { uv_run(&f->loop, UV_RUN_DEFAULT); }

static void rm_rf(const char *path) {
  struct stat st;
  if (lstat(path, &st) < 0) return;
  if (S_ISDIR(st.st_mode)) {
    DIR *d = opendir(path);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
      if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
      char sub[1024];
      snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
      rm_rf(sub);
    }
    closedir(d);
    rmdir(path);
  } else {
    unlink(path);
  }
}

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  uv_loop_init(&f->loop);
  strcpy(f->dir, "/tmp/dm_blob_XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  char root[128];
  snprintf(root, sizeof root, "%s/blobs/", f->dir); /* trailing '/' is accepted */
  char err[128];
  assert_int_equal(dm_blob_dir_open(&f->b, &f->loop, root, err, sizeof err), 0);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  if (f->b != NULL) dm_blob_close(f->b);
  run(f);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  rm_rf(f->dir);
  free(f);
  return 0;
}

static void put(fx *f, const char *key, const uint8_t *data, size_t len) {
  res r = {0};
  assert_int_equal(dm_blob_put(f->b, key, data, len, done_cb, &r), 0);
  run(f);
  assert_int_equal(r.called, 1);
  assert_int_equal(r.status, 0);
}

static res get(fx *f, const char *key, int64_t off, size_t len) {
  res r = {0};
  assert_int_equal(dm_blob_get_range(f->b, key, off, len, bytes_cb, &r), 0);
  run(f);
  assert_int_equal(r.called, 1);
  return r;
}

static res list(fx *f, const char *prefix) {
  res r = {0};
  assert_int_equal(dm_blob_list(f->b, prefix, names_cb, &r), 0);
  run(f);
  assert_int_equal(r.called, 1);
  assert_int_equal(r.status, 0);
  return r;
}

static void del(fx *f, const char *key) {
  res r = {0};
  assert_int_equal(dm_blob_del(f->b, key, done_cb, &r), 0);
  run(f);
  assert_int_equal(r.called, 1);
  assert_int_equal(r.status, 0);
}

static uint8_t *pattern(size_t n, uint8_t seed) {
  uint8_t *p = malloc(n);
  for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(i * 7 + seed);
  return p;
}

static void test_put_get_ranges(void **state) {
  fx *f = *state;
  uint8_t *d = pattern(1000, 3);
  put(f, "v1/2026-11-24/07.dmb", d, 1000);

  res r = get(f, "v1/2026-11-24/07.dmb", 0, 1000); /* whole */
  assert_int_equal(r.status, 0);
  assert_int_equal(r.len, 1000);
  assert_int_equal(r.size, 1000);
  assert_memory_equal(r.data, d, 1000);
  res_free(&r);

  r = get(f, "v1/2026-11-24/07.dmb", 100, 50); /* middle */
  assert_int_equal(r.len, 50);
  assert_int_equal(r.size, 1000);
  assert_memory_equal(r.data, d + 100, 50);
  res_free(&r);

  r = get(f, "v1/2026-11-24/07.dmb", -1, 32); /* suffix */
  assert_int_equal(r.len, 32);
  assert_memory_equal(r.data, d + 968, 32);
  res_free(&r);

  r = get(f, "v1/2026-11-24/07.dmb", -1, 5000); /* suffix longer than the object */
  assert_int_equal(r.len, 1000);
  assert_memory_equal(r.data, d, 1000);
  res_free(&r);

  r = get(f, "v1/2026-11-24/07.dmb", 990, 50); /* short read at the end */
  assert_int_equal(r.status, 0);
  assert_int_equal(r.len, 10);
  assert_memory_equal(r.data, d + 990, 10);
  res_free(&r);

  r = get(f, "v1/2026-11-24/07.dmb", 2000, 10); /* past the end */
  assert_int_equal(r.status, 0);
  assert_int_equal(r.len, 0);
  assert_int_equal(r.size, 1000);
  res_free(&r);

  r = get(f, "v1/2026-11-24/07.dmb", 0, 0);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.len, 0);
  res_free(&r);

  r = get(f, "v1/2026-11-24/08.dmb", 0, 10); /* absent key, existing directory */
  assert_int_equal(r.status, DM_ENOENT);
  assert_int_equal(r.len, 0);
  res_free(&r);

  r = get(f, "v9/nothing/here.dmb", -1, 10); /* absent directory */
  assert_int_equal(r.status, DM_ENOENT);
  res_free(&r);

  put(f, "empty", NULL, 0);
  r = get(f, "empty", -1, 100);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.len, 0);
  assert_int_equal(r.size, 0);
  res_free(&r);

  dm_blob_stats st;
  dm_blob_stats_get(f->b, &st);
  assert_int_equal(st.puts, 2);
  assert_int_equal(st.gets, 10);
  assert_int_equal(st.bytes_put, 1000);
  assert_int_equal(st.bytes_got, 1000 + 50 + 32 + 1000 + 10);
  free(d);
}

static void test_atomic_replace(void **state) {
  fx *f = *state;
  uint8_t *a = pattern(4096, 1), *b = pattern(100, 9);
  put(f, "v1/2026-01-01/00.dmb", a, 4096);
  put(f, "v1/2026-01-01/00.dmb", b, 100);
  res r = get(f, "v1/2026-01-01/00.dmb", 0, 8192);
  assert_int_equal(r.len, 100);
  assert_int_equal(r.size, 100);
  assert_memory_equal(r.data, b, 100);
  res_free(&r);

  /* Only the object itself is left in its directory: no temp files. */
  char path[256];
  snprintf(path, sizeof path, "%s/blobs/v1/2026-01-01", f->dir);
  DIR *d = opendir(path);
  assert_non_null(d);
  int entries = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
    assert_string_equal(de->d_name, "00.dmb");
    entries++;
  }
  closedir(d);
  assert_int_equal(entries, 1);
  free(a);
  free(b);
}

static void test_list_del(void **state) {
  fx *f = *state;
  const char *keys[] = {"v1/2026-11-25/00.dmb", "top", "v1/2026-11-24/01.dmb", "v2/x",
                        "v1/2026-11-24/00.dmb"};
  for (size_t i = 0; i < 5; i++) put(f, keys[i], (const uint8_t *)"abc", 3);
  /* A temp file left by a crashed process (another pid) and one of a put of this
   * process are not keys; listing removes the stale one only. */
  char path[256], mine[256];
  snprintf(path, sizeof path, "%s/blobs/v1/2026-11-24/.tmp.00.dmb.1.1", f->dir);
  FILE *fp = fopen(path, "w");
  assert_non_null(fp);
  fclose(fp);
  snprintf(mine, sizeof mine, "%s/blobs/v1/2026-11-24/.tmp.01.dmb.%ld.9", f->dir,
           (long)getpid());
  fp = fopen(mine, "w");
  assert_non_null(fp);
  fclose(fp);

  res r = list(f, "");
  assert_int_equal(r.n, 5);
  assert_int_equal(access(path, F_OK), -1);
  assert_int_equal(access(mine, F_OK), 0);
  /* ... unless it is older than an hour: a restarted process may reuse the pid */
  struct timeval old[2] = {{time(NULL) - 7200, 0}, {time(NULL) - 7200, 0}};
  assert_int_equal(utimes(mine, old), 0);
  res_free(&r);
  r = list(f, "");
  assert_int_equal(access(mine, F_OK), -1);
  assert_string_equal(r.names[0], "top");
  assert_string_equal(r.names[1], "v1/2026-11-24/00.dmb");
  assert_string_equal(r.names[2], "v1/2026-11-24/01.dmb");
  assert_string_equal(r.names[3], "v1/2026-11-25/00.dmb");
  assert_string_equal(r.names[4], "v2/x");
  res_free(&r);

  r = list(f, "v1/");
  assert_int_equal(r.n, 3);
  assert_string_equal(r.names[0], "v1/2026-11-24/00.dmb");
  assert_string_equal(r.names[2], "v1/2026-11-25/00.dmb");
  res_free(&r);

  r = list(f, "v1/2026-11-24/");
  assert_int_equal(r.n, 2);
  assert_string_equal(r.names[0], "v1/2026-11-24/00.dmb");
  assert_string_equal(r.names[1], "v1/2026-11-24/01.dmb");
  res_free(&r);

  r = list(f, "v1/2026-11-2"); /* a prefix that ends inside a directory name */
  assert_int_equal(r.n, 3);
  res_free(&r);

  r = list(f, "v1/2026-11-25/0");
  assert_int_equal(r.n, 1);
  assert_string_equal(r.names[0], "v1/2026-11-25/00.dmb");
  res_free(&r);

  r = list(f, "t");
  assert_int_equal(r.n, 1);
  assert_string_equal(r.names[0], "top");
  res_free(&r);

  r = list(f, "nope/");
  assert_int_equal(r.n, 0);
  res_free(&r);

  del(f, "v1/2026-11-25/00.dmb");
  del(f, "v1/2026-11-25/00.dmb"); /* absent: still ok */
  del(f, "never/was");
  res g = get(f, "v1/2026-11-25/00.dmb", 0, 3);
  assert_int_equal(g.status, DM_ENOENT);
  res_free(&g);
  /* The emptied day directory is gone, the others stay. */
  struct stat st;
  snprintf(path, sizeof path, "%s/blobs/v1/2026-11-25", f->dir);
  assert_int_equal(stat(path, &st), -1);
  snprintf(path, sizeof path, "%s/blobs/v1/2026-11-24", f->dir);
  assert_int_equal(stat(path, &st), 0);

  r = list(f, "v1/");
  assert_int_equal(r.n, 2);
  res_free(&r);

  /* A put into a directory a del just removed recreates it. */
  put(f, "v1/2026-11-25/00.dmb", (const uint8_t *)"xy", 2);
  g = get(f, "v1/2026-11-25/00.dmb", 0, 10);
  assert_int_equal(g.status, 0);
  assert_int_equal(g.len, 2);
  assert_memory_equal(g.data, "xy", 2);
  res_free(&g);

  dm_blob_stats s;
  dm_blob_stats_get(f->b, &s);
  assert_int_equal(s.deletes, 3);
  assert_int_equal(s.lists, 9);
}

static void test_bad_keys(void **state) {
  fx *f = *state;
  res r = {0};
  const char *bad[] = {"", "/abs", "a/", "a//b", "../x", "a/../b", "a/.hidden", ".tmp.x"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(dm_blob_put(f->b, bad[i], (const uint8_t *)"x", 1, done_cb, &r), DM_EINVAL);
    assert_int_equal(dm_blob_get_range(f->b, bad[i], 0, 1, bytes_cb, &r), DM_EINVAL);
    assert_int_equal(dm_blob_del(f->b, bad[i], done_cb, &r), DM_EINVAL);
  }
  assert_int_equal(dm_blob_list(f->b, "../", names_cb, &r), DM_EINVAL);
  assert_int_equal(dm_blob_list(f->b, "a//", names_cb, &r), DM_EINVAL);
  run(f);
  assert_int_equal(r.called, 0);
}

static void test_close_in_flight(void **state) {
  fx *f = *state;
  uint8_t *d = pattern(65536, 5);
  res p = {0}, g = {0}, l = {0};
  assert_int_equal(dm_blob_put(f->b, "a/b", d, 65536, done_cb, &p), 0);
  assert_int_equal(dm_blob_get_range(f->b, "a/c", 0, 10, bytes_cb, &g), 0);
  assert_int_equal(dm_blob_list(f->b, "", names_cb, &l), 0);
  dm_blob_close(f->b);
  f->b = NULL;
  run(f); /* the accepted calls still complete, then the store frees itself */
  assert_int_equal(p.called, 1);
  assert_int_equal(p.status, 0);
  assert_int_equal(g.called, 1);
  assert_int_equal(g.status, DM_ENOENT);
  assert_int_equal(l.called, 1);
  res_free(&g);
  res_free(&l);
  free(d);
}

static void test_open_fails(void **state) {
  fx *f = *state;
  char path[256], err[256] = "";
  snprintf(path, sizeof path, "%s/file", f->dir);
  FILE *fp = fopen(path, "w");
  fclose(fp);
  snprintf(path, sizeof path, "%s/file/sub", f->dir); /* a file where a directory must be */
  dm_blob *b = NULL;
  assert_true(dm_blob_dir_open(&b, &f->loop, path, err, sizeof err) < 0);
  assert_null(b);
  assert_non_null(strstr(err, "cannot create"));
  assert_int_equal(dm_blob_dir_open(&b, &f->loop, "", err, sizeof err), DM_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_put_get_ranges, setup, teardown),
      cmocka_unit_test_setup_teardown(test_atomic_replace, setup, teardown),
      cmocka_unit_test_setup_teardown(test_list_del, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_keys, setup, teardown),
      cmocka_unit_test_setup_teardown(test_close_in_flight, setup, teardown),
      cmocka_unit_test_setup_teardown(test_open_fails, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
