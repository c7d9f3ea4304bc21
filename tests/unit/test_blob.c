/* test_blob.c — the directory blob store on a real libuv loop and a mkdtemp() directory:
 * the blob contract (test_blob_contract.h), then what is the directory's own: an atomic
 * replace leaves no temp file, list removes the stale temp files of a crashed process, del
 * removes the emptied directory, key validation, a suffix read of an empty file, close
 * with work in flight, and open's errors. */
#include <dirent.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "diamond/blob.h"

typedef struct fx {
  uv_loop_t loop;
  dm_blob *b;
  char dir[64];
} fx;

#include "test_blob_contract.h"

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

/* A replace goes through a temp file and a rename: only the object is left. */
static void test_atomic_replace(void **state) {
  fx *f = *state;
  uint8_t *a = pattern(4096, 1), *b = pattern(100, 9);
  put(f, "v1/2026-01-01/00.dmb", a, 4096);
  put(f, "v1/2026-01-01/00.dmb", b, 100);
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
  for (size_t i = 0; i < 5; i++) put(f, keys[i], "abc", 3);
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
  assert_int_equal(r.n, 5);
  assert_int_equal(access(mine, F_OK), -1);
  res_free(&r);

  /* The emptied day directory is gone, the others stay. */
  del(f, "v1/2026-11-25/00.dmb");
  struct stat st;
  snprintf(path, sizeof path, "%s/blobs/v1/2026-11-25", f->dir);
  assert_int_equal(stat(path, &st), -1);
  snprintf(path, sizeof path, "%s/blobs/v1/2026-11-24", f->dir);
  assert_int_equal(stat(path, &st), 0);

  /* A put into a directory a del just removed recreates it. */
  put(f, "v1/2026-11-25/00.dmb", "xy", 2);
  snprintf(path, sizeof path, "%s/blobs/v1/2026-11-25", f->dir);
  assert_int_equal(stat(path, &st), 0);
  res g = get(f, "v1/2026-11-25/00.dmb", 0, 10);
  assert_int_equal(g.len, 2);
  res_free(&g);
}

/* A suffix read of an empty file (S3 answers it 416, s3rver wrongly: test_blob_s3_fake.c). */
static void test_empty_object_suffix(void **state) {
  fx *f = *state;
  put(f, "empty", NULL, 0);
  res r = get(f, "empty", -1, 100);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.len, 0);
  assert_int_equal(r.size, 0);
  res_free(&r);
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
      BLOB_CONTRACT_TESTS(setup, teardown),
      cmocka_unit_test_setup_teardown(test_atomic_replace, setup, teardown),
      cmocka_unit_test_setup_teardown(test_list_del, setup, teardown),
      cmocka_unit_test_setup_teardown(test_empty_object_suffix, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_keys, setup, teardown),
      cmocka_unit_test_setup_teardown(test_close_in_flight, setup, teardown),
      cmocka_unit_test_setup_teardown(test_open_fails, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
