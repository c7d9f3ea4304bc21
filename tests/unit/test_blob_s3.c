/* test_blob_s3.c — the S3 blob store against a real s3rver (tests/node_modules, pinned in
 * tests/package.json), started by this test on a free 127.0.0.1 port and stopped by its PID
 * in every exit path (test_node_server.h). Without node or tests/node_modules the test
 * fails and says how to fix it.
 *
 * Covered: create (again is fine), put, ranged get (middle, suffix, suffix larger than the
 * object, partly and wholly beyond the end, len 0), object_size, an empty object, missing
 * key → DM_ENOENT, list with a prefix over several pages (small pages and the real
 * 1000-key page), keys that need URI and XML escaping, delete (missing is fine), probe of a
 * missing bucket and of a closed port (health's message), stats, close with calls in
 * flight, and a blob object in the blobfile.h layout read the way the engine's blob reader
 * does (footer and index by one suffix range, then the chunk by offset).
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../src/blob/s3_int.h"
#include "diamond/blob.h"
#include "diamond/blobfile.h"
#include "diamond/config.h"
#include "diamond/crc.h"
#include "diamond/error.h"
#include "test_node_server.h"

/* ---- s3rver -------------------------------------------------------------------------- */

static char s3rver_dir[64];

static void rm_rf(const char *path) {
  struct stat st;
  if (lstat(path, &st) < 0) return;
  if (S_ISDIR(st.st_mode)) {
    DIR *d = opendir(path);
    struct dirent *de;
    while (d != NULL && (de = readdir(d)) != NULL) {
      if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
      char sub[1024];
      snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
      rm_rf(sub);
    }
    if (d != NULL) closedir(d);
    rmdir(path);
  } else {
    unlink(path);
  }
}

static void stop_s3rver(void) {
  node_server_stop();
  if (s3rver_dir[0] != '\0') {
    rm_rf(s3rver_dir);
    s3rver_dir[0] = '\0';
  }
}

static int group_setup(void **state) {
  (void)state;
  char src[1024], bin[1200];
  source_dir(src, sizeof src);
  snprintf(bin, sizeof bin, "%s/tests/node_modules/s3rver/bin/s3rver.js", src);
  if (!on_path("node")) {
    fprintf(stderr, "test_blob_s3: `node` is not on PATH; install Node.js (Debian: apt-get "
                    "install nodejs) to run the S3 tests against s3rver\n");
    return -1;
  }
  if (access(bin, R_OK) != 0) {
    fprintf(stderr, "test_blob_s3: %s is missing; run `cd %s/tests && npm ci`\n", bin, src);
    return -1;
  }
  snprintf(s3rver_dir, sizeof s3rver_dir, "/tmp/dm_s3rver_XXXXXX");
  if (mkdtemp(s3rver_dir) == NULL) return -1;
  atexit(stop_s3rver);
  const char *args[] = {"--openssl-legacy-provider", bin, "-d", s3rver_dir, "-p",
                        NODE_SERVER_PORT, "-a", "127.0.0.1", "--silent", NULL};
  if (node_server_start(args, 3) < 0) {
    fprintf(stderr, "test_blob_s3: s3rver did not start (node %s)\n", bin);
    stop_s3rver();
    return -1;
  }
  setenv("AWS_ACCESS_KEY_ID", "S3RVER", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "S3RVER", 1);
  unsetenv("AWS_SESSION_TOKEN");
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  stop_s3rver();
  return 0;
}

/* ---- fixture ------------------------------------------------------------------------- */

typedef struct fx {
  uv_loop_t loop;
  dm_config cfg;
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

static void res_free(res *r) {
  free(r->data);
  for (size_t i = 0; i < r->n; i++) free(r->names[i]);
  free(r->names);
  memset(r, 0, sizeof *r);
}

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
  r->data[len] = '\0';
}

static void names_cb(void *arg, int status, const dm_name_ref *names, size_t n) {
  res *r = arg;
  r->called++;
  r->status = status;
  r->n = n;
  r->names = calloc(n + 1, sizeof *r->names);
  for (size_t i = 0; i < n; i++) r->names[i] = strndup(names[i].s, names[i].len);
}

static void run(fx *f) { uv_run(&f->loop, UV_RUN_DEFAULT); }

static void config(fx *f, const char *bucket) {
  dm_config_defaults(&f->cfg);
  snprintf(f->cfg.blob_endpoint, sizeof f->cfg.blob_endpoint, "http://127.0.0.1:%d/",
           node_port);
  snprintf(f->cfg.blob_bucket, sizeof f->cfg.blob_bucket, "%s", bucket);
  snprintf(f->cfg.blob_prefix, sizeof f->cfg.blob_prefix, "dm/");
  f->cfg.remote_retry_base_ms = 5;
  f->cfg.remote_retry_cap_ms = 20;
}

static void open_store(fx *f) {
  char err[256];
  assert_int_equal(dm_blob_s3_open(&f->b, &f->loop, &f->cfg, err, sizeof err), 0);
}

static int n_fx;

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  uv_loop_init(&f->loop);
  char bucket[32];
  snprintf(bucket, sizeof bucket, "diamond-t%d", ++n_fx);
  config(f, bucket);
  open_store(f);
  res r = {0};
  assert_int_equal(dm_blob_create(f->b, done_cb, &r), 0);
  run(f);
  assert_int_equal(r.called, 1);
  assert_int_equal(r.status, 0);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  if (f->b != NULL) dm_blob_close(f->b);
  run(f);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  free(f);
  return 0;
}

static void put(fx *f, const char *key, const void *data, size_t len) {
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
  return r;
}

static void del(fx *f, const char *key) {
  res r = {0};
  assert_int_equal(dm_blob_del(f->b, key, done_cb, &r), 0);
  run(f);
  assert_int_equal(r.called, 1);
  assert_int_equal(r.status, 0);
}

/* ---- tests --------------------------------------------------------------------------- */

static void create_again_is_fine(void **state) {
  fx *f = *state;
  res r = {0};
  assert_int_equal(dm_blob_create(f->b, done_cb, &r), 0); /* s3rver: BucketAlreadyExists */
  run(f);
  assert_int_equal(r.called, 1);
  assert_int_equal(r.status, 0);
  assert_int_equal(dm_blob_health(f->b, NULL, 0), 1);
}

static void ranged_reads(void **state) {
  fx *f = *state;
  uint8_t obj[100];
  for (int i = 0; i < 100; i++) obj[i] = (uint8_t)('A' + i % 26);
  put(f, "v1/2026-11-24/07.dmb", obj, sizeof obj);

  res r = get(f, "v1/2026-11-24/07.dmb", 0, 100); /* whole */
  assert_int_equal(r.status, 0);
  assert_int_equal(r.len, 100);
  assert_int_equal(r.size, 100);
  assert_memory_equal(r.data, obj, 100);
  res_free(&r);

  r = get(f, "v1/2026-11-24/07.dmb", 10, 20); /* middle */
  assert_int_equal(r.status, 0);
  assert_int_equal(r.len, 20);
  assert_int_equal(r.size, 100);
  assert_memory_equal(r.data, obj + 10, 20);
  res_free(&r);

  r = get(f, "v1/2026-11-24/07.dmb", -10, 10); /* suffix */
  assert_int_equal(r.status, 0);
  assert_int_equal(r.len, 10);
  assert_int_equal(r.size, 100);
  assert_memory_equal(r.data, obj + 90, 10);
  res_free(&r);

  r = get(f, "v1/2026-11-24/07.dmb", -1000, 1000); /* suffix larger than the object */
  assert_int_equal(r.status, 0);
  assert_int_equal(r.len, 100);
  assert_int_equal(r.size, 100);
  assert_memory_equal(r.data, obj, 100);
  res_free(&r);

  r = get(f, "v1/2026-11-24/07.dmb", 95, 10); /* partly beyond the end: short read */
  assert_int_equal(r.status, 0);
  assert_int_equal(r.len, 5);
  assert_int_equal(r.size, 100);
  assert_memory_equal(r.data, obj + 95, 5);
  res_free(&r);

  r = get(f, "v1/2026-11-24/07.dmb", 100, 10); /* at the end */
  assert_int_equal(r.status, 0);
  assert_int_equal(r.len, 0);
  assert_int_equal(r.size, 100);
  res_free(&r);

  r = get(f, "v1/2026-11-24/07.dmb", 5000, 10); /* far beyond */
  assert_int_equal(r.status, 0);
  assert_int_equal(r.len, 0);
  assert_int_equal(r.size, 100);
  res_free(&r);

  r = get(f, "v1/2026-11-24/07.dmb", 0, 0); /* the size only */
  assert_int_equal(r.status, 0);
  assert_int_equal(r.len, 0);
  assert_int_equal(r.size, 100);
  res_free(&r);

  /* replaced whole */
  put(f, "v1/2026-11-24/07.dmb", "new", 3);
  r = get(f, "v1/2026-11-24/07.dmb", -64, 64);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.size, 3);
  assert_string_equal((char *)r.data, "new");
  res_free(&r);
}

/* s3rver answers a ranged GET of an empty object with "206, Content-Length: 1" and no
 * byte, so the client waits for one until the server drops the connection; S3 answers
 * 416, which test_blob_s3_fake.c covers. Here: the size and the listing. */
static void empty_object(void **state) {
  fx *f = *state;
  put(f, "v1/empty", "", 0);
  res r = get(f, "v1/empty", 0, 0);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.len, 0);
  assert_int_equal(r.size, 0);
  res_free(&r);
  r = list(f, "v1/");
  assert_int_equal(r.n, 1);
  assert_string_equal(r.names[0], "v1/empty");
  res_free(&r);
}

static void missing_key(void **state) {
  fx *f = *state;
  res r = get(f, "v1/nothing/here.dmb", 0, 10);
  assert_int_equal(r.status, DM_ENOENT);
  assert_null(r.names);
  res_free(&r);
  r = get(f, "v1/nothing/here.dmb", -10, 10);
  assert_int_equal(r.status, DM_ENOENT);
  res_free(&r);
  r = get(f, "v1/nothing/here.dmb", 0, 0);
  assert_int_equal(r.status, DM_ENOENT);
  res_free(&r);
  del(f, "v1/nothing/here.dmb"); /* deleting what is not there is fine */
  assert_int_equal(dm_blob_health(f->b, NULL, 0), 1); /* and none of it is a failure */
}

static void list_delete_and_escaping(void **state) {
  fx *f = *state;
  const char *keys[] = {"v1/2026-11-25/01.dmb", "v1/2026-11-24/10.dmb", "v1/2026-11-24/02.dmb",
                        "v1/2026-11-24/a b+c&d<e>'\".dmb", "v2/other.dmb"};
  for (size_t i = 0; i < 5; i++) put(f, keys[i], keys[i], strlen(keys[i]));
  res r = list(f, "v1/2026-11-24/");
  assert_int_equal(r.status, 0);
  assert_int_equal(r.n, 3);
  assert_string_equal(r.names[0], "v1/2026-11-24/02.dmb");
  assert_string_equal(r.names[1], "v1/2026-11-24/10.dmb");
  assert_string_equal(r.names[2], "v1/2026-11-24/a b+c&d<e>'\".dmb");
  res_free(&r);
  r = get(f, keys[3], 0, 100);
  assert_int_equal(r.status, 0);
  assert_string_equal((char *)r.data, keys[3]);
  res_free(&r);
  r = list(f, "");
  assert_int_equal(r.n, 5);
  assert_string_equal(r.names[0], "v1/2026-11-24/02.dmb");
  assert_string_equal(r.names[4], "v2/other.dmb");
  res_free(&r);
  r = list(f, "v3/");
  assert_int_equal(r.status, 0);
  assert_int_equal(r.n, 0);
  res_free(&r);

  del(f, "v1/2026-11-24/10.dmb");
  r = get(f, "v1/2026-11-24/10.dmb", 0, 10);
  assert_int_equal(r.status, DM_ENOENT);
  res_free(&r);
  r = list(f, "v1/");
  assert_int_equal(r.n, 3);
  assert_string_equal(r.names[0], "v1/2026-11-24/02.dmb");
  assert_string_equal(r.names[1], "v1/2026-11-24/a b+c&d<e>'\".dmb");
  assert_string_equal(r.names[2], "v1/2026-11-25/01.dmb");
  res_free(&r);

  dm_blob_stats st;
  dm_blob_stats_get(f->b, &st);
  assert_int_equal(st.puts, 5);
  assert_int_equal(st.gets, 2);
  assert_int_equal(st.deletes, 1);
  assert_int_equal(st.lists, 4);
  size_t put_bytes = 0;
  for (size_t i = 0; i < 5; i++) put_bytes += strlen(keys[i]);
  assert_int_equal(st.bytes_put, put_bytes);
  assert_int_equal(st.bytes_got, strlen(keys[3]));
}

static void list_pages(void **state) {
  fx *f = *state;
  char key[64];
  for (int i = 0; i < 23; i++) {
    snprintf(key, sizeof key, "v1/2026-11-24/%02d.dmb", 22 - i);
    put(f, key, "x", 1);
  }
  put(f, "v1/2026-11-23/00.dmb", "x", 1);
  s3_set_page_size(f->b, 5); /* 23 keys: five pages, the last one short */
  res r = list(f, "v1/2026-11-24/");
  assert_int_equal(r.status, 0);
  assert_int_equal(r.n, 23);
  for (int i = 0; i < 23; i++) {
    snprintf(key, sizeof key, "v1/2026-11-24/%02d.dmb", i);
    assert_string_equal(r.names[i], key);
  }
  res_free(&r);
  s3_set_page_size(f->b, 23); /* exactly one full page */
  r = list(f, "v1/2026-11-24/");
  assert_int_equal(r.n, 23);
  res_free(&r);
}

/* More than S3's 1000-key page with the real page size. */
static void list_more_than_1000(void **state) {
  fx *f = *state;
  enum { N = 1003 };
  res r[N];
  char key[64];
  memset(r, 0, sizeof r);
  for (int i = 0; i < N; i++) {
    snprintf(key, sizeof key, "v1/2026-11-24/%04d.dmb", i);
    assert_int_equal(dm_blob_put(f->b, key, (const uint8_t *)"y", 1, done_cb, &r[i]), 0);
  }
  run(f);
  for (int i = 0; i < N; i++) assert_int_equal(r[i].status, 0);
  res l = list(f, "v1/");
  assert_int_equal(l.status, 0);
  assert_int_equal(l.n, N);
  for (int i = 0; i < N; i++) {
    snprintf(key, sizeof key, "v1/2026-11-24/%04d.dmb", i);
    assert_string_equal(l.names[i], key);
  }
  res_free(&l);
}

static void probe_missing_bucket(void **state) {
  (void)state;
  fx g = {0};
  uv_loop_init(&g.loop);
  config(&g, "no-such-bucket");
  open_store(&g);
  res r = {0};
  assert_int_equal(dm_blob_probe(g.b, done_cb, &r), 0);
  run(&g);
  assert_int_equal(r.called, 1);
  assert_int_equal(r.status, DM_ENOENT);
  char why[512] = "";
  assert_int_equal(dm_blob_health(g.b, why, sizeof why), 0);
  assert_string_equal(why, "bucket no-such-bucket does not exist");
  /* a put there fails and says the same */
  res p = {0};
  assert_int_equal(dm_blob_put(g.b, "k", (const uint8_t *)"v", 1, done_cb, &p), 0);
  run(&g);
  assert_int_equal(p.status, DM_EIO);
  assert_int_equal(dm_blob_health(g.b, why, sizeof why), 0);
  assert_string_equal(why, "bucket no-such-bucket does not exist");
  /* creating it heals */
  assert_int_equal(dm_blob_create(g.b, done_cb, &r), 0);
  run(&g);
  assert_int_equal(r.status, 0);
  assert_int_equal(dm_blob_probe(g.b, done_cb, &r), 0);
  run(&g);
  assert_int_equal(r.status, 0);
  assert_int_equal(dm_blob_health(g.b, why, sizeof why), 1);
  dm_blob_close(g.b);
  run(&g);
  assert_int_equal(uv_loop_close(&g.loop), 0);
}

static void probe_closed_port(void **state) {
  (void)state;
  fx g = {0};
  uv_loop_init(&g.loop);
  config(&g, "diamond");
  int port = free_port();
  snprintf(g.cfg.blob_endpoint, sizeof g.cfg.blob_endpoint, "http://127.0.0.1:%d", port);
  open_store(&g);
  res r = {0};
  assert_int_equal(dm_blob_probe(g.b, done_cb, &r), 0);
  run(&g);
  assert_int_equal(r.called, 1);
  assert_int_equal(r.status, DM_EAGAIN);
  char why[512] = "", want[256];
  assert_int_equal(dm_blob_health(g.b, why, sizeof why), 0);
  snprintf(want, sizeof want, "cannot reach s3 at http://127.0.0.1:%d: Failed to connect to "
           "127.0.0.1 port %d after ", port, port);
  assert_true(strncmp(why, want, strlen(want)) == 0);
  assert_non_null(strstr(why, ": Connection refused (after 6 tries)"));
  dm_blob_close(g.b);
  run(&g);
  assert_int_equal(uv_loop_close(&g.loop), 0);
}

static int closed_calls;

static void counted_done(void *arg, int status) {
  res *r = arg;
  r->called++;
  r->status = status;
  closed_calls++;
}

static void close_with_calls_in_flight(void **state) {
  fx *f = *state;
  res a = {0}, b = {0}, c = {0};
  assert_int_equal(dm_blob_put(f->b, "v1/x", (const uint8_t *)"abc", 3, counted_done, &a), 0);
  assert_int_equal(dm_blob_del(f->b, "v1/y", counted_done, &b), 0);
  assert_int_equal(dm_blob_create(f->b, counted_done, &c), 0);
  closed_calls = 0;
  dm_blob_close(f->b);
  assert_int_equal(closed_calls, 0); /* not inside close */
  f->b = NULL;
  run(f);
  assert_int_equal(a.called, 1);
  assert_int_equal(b.called, 1);
  assert_int_equal(c.called, 1);
  assert_int_equal(a.status, DM_ECLOSED);
  assert_int_equal(b.status, DM_ECLOSED);
  assert_int_equal(c.status, DM_ECLOSED);
}

static void bad_arguments_are_refused(void **state) {
  (void)state;
  fx g = {0};
  uv_loop_init(&g.loop);
  config(&g, "diamond-closing");
  open_store(&g);
  res r = {0};
  assert_int_equal(dm_blob_put(g.b, "", (const uint8_t *)"x", 1, done_cb, &r), DM_EINVAL);
  assert_int_equal(dm_blob_get_range(g.b, NULL, 0, 1, bytes_cb, &r), DM_EINVAL);
  dm_blob_close(g.b);
  run(&g);
  assert_int_equal(uv_loop_close(&g.loop), 0);
  assert_int_equal(r.called, 0);
}

static void put_le32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get_le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get_le64(const uint8_t *p) {
  return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

/* An object in the blobfile.h layout: header, chunks, an index of index_len bytes and the
 * 32-byte footer with its CRCs. (The index bytes are opaque here: this test links the blob
 * module only, not the codec.) */
static uint8_t *make_object(size_t chunks_len, size_t index_len, size_t *len) {
  size_t n = DM_BLOBFILE_HEADER + chunks_len + index_len + DM_BLOBFILE_FOOTER;
  uint8_t *o = malloc(n);
  memcpy(o, "DMB1\x01\0\0\0", DM_BLOBFILE_HEADER);
  srandom(7);
  for (size_t i = DM_BLOBFILE_HEADER; i < n - DM_BLOBFILE_FOOTER; i++) o[i] = (uint8_t)random();
  uint64_t index_off = DM_BLOBFILE_HEADER + chunks_len;
  uint8_t *ft = o + n - DM_BLOBFILE_FOOTER;
  for (int i = 0; i < 8; i++) ft[i] = (uint8_t)(index_off >> (8 * i));
  put_le32(ft + 8, (uint32_t)index_len);
  put_le32(ft + 12, (uint32_t)index_len * 3);
  put_le32(ft + 16, 42);
  put_le32(ft + 20, dm_crc32c(0, o + index_off, index_len));
  put_le32(ft + 24, dm_crc32c(0, ft, 24));
  memcpy(ft + 28, "DMBF", 4);
  *len = n;
  return o;
}

/* The engine's blob reader: one suffix read of 64 KiB for footer and index, a second for
 * the index when it does not fit, then a chunk by offset. */
static void read_like_blob_reader(fx *f, const char *key, const uint8_t *obj, size_t len) {
  enum { TAIL = 65536 };
  res t = get(f, key, -TAIL, TAIL);
  assert_int_equal(t.status, 0);
  assert_int_equal(t.size, len);
  assert_int_equal(t.len, len < TAIL ? len : TAIL);
  const uint8_t *ft = t.data + t.len - DM_BLOBFILE_FOOTER;
  assert_memory_equal(ft + 28, "DMBF", 4);
  assert_int_equal(get_le32(ft + 24), dm_crc32c(0, ft, 24));
  uint64_t index_off = get_le64(ft);
  uint32_t index_len = get_le32(ft + 8);
  uint64_t tail_start = len - t.len;
  uint32_t crc;
  if (index_off >= tail_start) {
    crc = dm_crc32c(0, t.data + (index_off - tail_start), index_len);
  } else {
    res ix = get(f, key, (int64_t)index_off, index_len);
    assert_int_equal(ix.status, 0);
    assert_int_equal(ix.len, index_len);
    assert_memory_equal(ix.data, obj + index_off, index_len);
    crc = dm_crc32c(0, ix.data, ix.len);
    res_free(&ix);
  }
  assert_int_equal(crc, get_le32(ft + 20));
  res c = get(f, key, DM_BLOBFILE_HEADER + 1234, 777); /* a chunk */
  assert_int_equal(c.status, 0);
  assert_int_equal(c.len, 777);
  assert_memory_equal(c.data, obj + DM_BLOBFILE_HEADER + 1234, 777);
  res_free(&c);
  res_free(&t);
}

static void blob_object_round_trip(void **state) {
  fx *f = *state;
  size_t small_len, big_len;
  uint8_t *small = make_object(20000, 3000, &small_len); /* smaller than the tail read */
  uint8_t *big = make_object(300000, 90000, &big_len);   /* index bigger than the tail */
  put(f, "v1/2026-11-24/00.dmb", small, small_len);
  put(f, "v1/2026-11-24/01.dmb", big, big_len);
  read_like_blob_reader(f, "v1/2026-11-24/00.dmb", small, small_len);
  read_like_blob_reader(f, "v1/2026-11-24/01.dmb", big, big_len);
  res whole = get(f, "v1/2026-11-24/01.dmb", 0, big_len);
  assert_int_equal(whole.len, big_len);
  assert_memory_equal(whole.data, big, big_len);
  res_free(&whole);
  free(small);
  free(big);
}

static void addressing(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  dm_config cfg;
  dm_config_defaults(&cfg);
  snprintf(cfg.blob_bucket, sizeof cfg.blob_bucket, "diamond");
  snprintf(cfg.blob_region, sizeof cfg.blob_region, "eu-west-1");
  snprintf(cfg.blob_prefix, sizeof cfg.blob_prefix, "dm/");
  dm_blob *b;
  char err[256];
  assert_int_equal(dm_blob_s3_open(&b, &loop, &cfg, err, sizeof err), 0);
  s3_blob *s = (s3_blob *)b;
  assert_string_equal(s->endpoint, "https://diamond.s3.eu-west-1.amazonaws.com");
  assert_string_equal(s->root, "");
  dm_buf p;
  dm_buf_init(&p);
  s3_bucket_path(s, &p);
  assert_string_equal(p.p, "/");
  dm_buf_free(&p);
  char *op = s3_object_path(s, "v1/2026-11-24/07 x+y.dmb");
  assert_string_equal(op, "/dm/v1/2026-11-24/07%20x%2By.dmb");
  free(op);
  dm_blob_close(b);
  snprintf(cfg.blob_endpoint, sizeof cfg.blob_endpoint, "http://127.0.0.1:4566/");
  assert_int_equal(dm_blob_s3_open(&b, &loop, &cfg, err, sizeof err), 0);
  s = (s3_blob *)b;
  assert_string_equal(s->endpoint, "http://127.0.0.1:4566");
  assert_string_equal(s->root, "/diamond");
  dm_buf_init(&p);
  s3_bucket_path(s, &p);
  assert_string_equal(p.p, "/diamond");
  dm_buf_free(&p);
  op = s3_object_path(s, "v1/a.dmb");
  assert_string_equal(op, "/diamond/dm/v1/a.dmb");
  free(op);
  dm_blob_close(b);
  cfg.blob_bucket[0] = '\0';
  assert_int_equal(dm_blob_s3_open(&b, &loop, &cfg, err, sizeof err), DM_EINVAL);
  assert_non_null(strstr(err, "bucket"));
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(addressing),
      cmocka_unit_test_setup_teardown(create_again_is_fine, setup, teardown),
      cmocka_unit_test_setup_teardown(ranged_reads, setup, teardown),
      cmocka_unit_test_setup_teardown(empty_object, setup, teardown),
      cmocka_unit_test_setup_teardown(missing_key, setup, teardown),
      cmocka_unit_test_setup_teardown(list_delete_and_escaping, setup, teardown),
      cmocka_unit_test_setup_teardown(list_pages, setup, teardown),
      cmocka_unit_test_setup_teardown(list_more_than_1000, setup, teardown),
      cmocka_unit_test_setup_teardown(blob_object_round_trip, setup, teardown),
      cmocka_unit_test(probe_missing_bucket),
      cmocka_unit_test(probe_closed_port),
      cmocka_unit_test_setup_teardown(close_with_calls_in_flight, setup, teardown),
      cmocka_unit_test(bad_arguments_are_refused),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
