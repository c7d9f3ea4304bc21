/* test_blob_s3.c — the S3 blob store against a real s3rver (tests/node_modules, pinned in
 * tests/package.json), started by this test on a free 127.0.0.1 port and stopped by its PID
 * in every exit path (test_node_server.h). Without node or tests/node_modules the test
 * fails and says how to fix it.
 *
 * Covered: the blob contract (test_blob_contract.h: ranges, replace, an empty object,
 * missing keys, list and del, keys that need URI and XML escaping, stats, blob objects read
 * the way the engine's blob reader does), then what is S3's own: addressing, create again
 * is fine, list over several pages (small pages and the real 1000-key page), probe of a
 * missing bucket and of a closed port (health's message), close with calls in flight
 * (DM_ECLOSED), and bad arguments.
 *
 * s3rver answers a ranged GET of an empty object with "206, Content-Length: 1" and no
 * byte, so the client waits for one until the server drops the connection; S3 answers
 * 416, which test_blob_s3_fake.c covers. The contract's empty object is read for its size
 * only.
 */
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/blob/s3_int.h"
#include "diamond/blob.h"
#include "diamond/config.h"
#include "test_node_server.h"

typedef struct fx {
  uv_loop_t loop;
  dm_blob *b;
  dm_config cfg;
} fx;

#include "test_blob_contract.h"

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
      BLOB_CONTRACT_TESTS(setup, teardown),
      cmocka_unit_test_setup_teardown(create_again_is_fine, setup, teardown),
      cmocka_unit_test_setup_teardown(list_pages, setup, teardown),
      cmocka_unit_test_setup_teardown(list_more_than_1000, setup, teardown),
      cmocka_unit_test(probe_missing_bucket),
      cmocka_unit_test(probe_closed_port),
      cmocka_unit_test_setup_teardown(close_with_calls_in_flight, setup, teardown),
      cmocka_unit_test(bad_arguments_are_refused),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
