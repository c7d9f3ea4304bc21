/* test_core_config.c — unit tests of the configuration: defaults, INI loading and its
 * errors, environment overrides, precedence and the command line. Value types, auth keys,
 * validation, printing and conf/diamond.ini are in test_core_config_values.c.
 *
 * Run with --print-doc to print conf/diamond.ini:
 *   ./build/test_core_config --print-doc > conf/diamond.ini
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../src/core/config_keys.h"
#include "diamond/config.h"
#include "diamond/error.h"

static char tmpdir[64];
static char path[128];

static int setup_dir(void **state) {
  (void)state;
  snprintf(tmpdir, sizeof tmpdir, "/tmp/dm_cfg_XXXXXX");
  if (mkdtemp(tmpdir) == NULL) return -1;
  snprintf(path, sizeof path, "%s/diamond.ini", tmpdir);
  return 0;
}

static int teardown_dir(void **state) {
  (void)state;
  unlink(path);
  return rmdir(tmpdir);
}

static void write_file(const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

/* Loads text over the defaults; returns rc, the message in err. */
static int load_text(dm_config *c, const char *text, char *err, size_t errlen) {
  dm_config_defaults(c);
  write_file(text);
  err[0] = '\0';
  return dm_config_load_file(c, path, err, errlen);
}

/* ---- defaults ---------------------------------------------------------------------- */

static void test_defaults(void **state) {
  (void)state;
  dm_config c;
  dm_config_defaults(&c);
  assert_string_equal(c.http, "127.0.0.1:8080");
  assert_string_equal(c.data_dir, "./data");
  assert_string_equal(c.log_level, "info");
  assert_int_equal(c.shutdown_timeout_ms, 10000);
  assert_string_equal(c.graphite, "127.0.0.1:2003");
  assert_int_equal(c.graphite_max_line, 4096);
  assert_int_equal(c.step, 60);
  assert_int_equal(c.window, 3600);
  assert_int_equal(c.max_body_bytes, 32 * 1024 * 1024);
  assert_int_equal(c.max_points, 100000);
  assert_int_equal(c.max_name_len, 256);
  assert_int_equal(c.max_header_bytes, 16 * 1024);
  assert_int_equal(c.max_connections, 1024);
  assert_int_equal(c.max_future, 600);
  assert_int_equal(c.max_query_series, 1000);
  assert_int_equal(c.max_query_points, 10000000);
  assert_int_equal(c.idle_timeout_ms, 60000);
  assert_int_equal(c.wal_fsync, DM_FSYNC_ALWAYS);
  assert_int_equal(c.wal_fsync_ms, 200);
  assert_int_equal(c.wal_segment_bytes, 64 * 1024 * 1024);
  assert_int_equal(c.wal_max_bytes, 1024 * 1024 * 1024);
  assert_string_equal(c.cache_engine, "memory");
  assert_int_equal(c.cache_max_bytes, 2LL * 1024 * 1024 * 1024);
  assert_int_equal(c.flush_grace, 60);
  assert_int_equal(c.flush_interval_ms, 1000);
  assert_int_equal(c.flush_max_windows, 20000);
  assert_string_equal(c.table_engine, "lmdb");
  assert_int_equal(c.table_keep, 14 * 86400);
  assert_int_equal(c.table_map_bytes, 64LL * 1024 * 1024 * 1024);
  assert_int_equal(c.ager_interval, 3600);
  assert_int_equal(c.ager_shards, 16);
  assert_int_equal(c.ager_grace, 3 * 86400);
  assert_string_equal(c.blob_engine, "dir");
  assert_int_equal(c.blob_keep, 460 * 86400);
  assert_int_equal(c.blob_index_cache, 256);
  assert_string_equal(c.auth_keys, "");
  assert_int_equal(c.auth_open, 0);
  char err[256] = "";
  assert_int_equal(dm_config_validate(&c, err, sizeof err), 0);
  assert_int_equal(dm_config_has_keys(&c), 0);
}

static void test_every_default_parses(void **state) {
  (void)state;
  dm_config c;
  char why[512];
  for (size_t i = 0; i < dm_cfg_nkeys; i++) {
    const cfg_key *k = &dm_cfg_keys[i];
    int rc = dm_cfg_key_set(&c, k, k->def, why, sizeof why);
    if (rc != 0) fail_msg("[%s] %s default \"%s\": %s", k->section, k->name, k->def, why);
    assert_ptr_equal(dm_cfg_find(k->section, k->name), k);
    assert_non_null(k->help);
  }
}

/* ---- the INI file ------------------------------------------------------------------ */

static void test_load_file(void **state) {
  (void)state;
  dm_config c;
  char err[512];
  int rc = load_text(&c,
                     "; a comment\n"
                     "# another\n"
                     "[server]\n"
                     "http = 0.0.0.0:9090\n"
                     "  data_dir = /var/lib/diamond   ; inline comment\n"
                     "log_level=DEBUG\r\n"
                     "\n"
                     "[wal]\n"
                     "fsync = interval\n"
                     "fsync_ms = 2s\n"
                     "[auth]\n"
                     "keys = k1=read+write, k2=read\n"
                     "open = yes\n"
                     "[Storage]\n"
                     "STEP = 10s\n",
                     err, sizeof err);
  assert_int_equal(rc, 0);
  assert_string_equal(err, "");
  assert_string_equal(c.http, "0.0.0.0:9090");
  assert_string_equal(c.data_dir, "/var/lib/diamond");
  assert_string_equal(c.log_level, "debug");
  assert_int_equal(c.wal_fsync, DM_FSYNC_INTERVAL);
  assert_int_equal(c.wal_fsync_ms, 2000);
  assert_string_equal(c.auth_keys, "k1=read+write, k2=read");
  assert_int_equal(c.auth_open, 1);
  assert_int_equal(c.step, 10);
  assert_int_equal(c.window, 3600); /* untouched keys keep their defaults */
  assert_int_equal(dm_config_validate(&c, err, sizeof err), 0);
}

static void test_load_file_errors(void **state) {
  (void)state;
  static const struct {
    const char *text, *msg;
  } cases[] = {
      {"[wal]\nfsync = sometimes\n", "2: [wal] fsync: must be one of always|interval|off"},
      {"[wal]\nfsink = always\n", "2: [wal] unknown key fsink"},
      {"[server]\n\n[wall]\nfsync = off\n", "3: unknown section [wall]"},
      {"[wall]\n", "1: unknown section [wall]"},
      {"fsync = always\n", "1: fsync: key outside any [section]"},
      {"[wal]\nfsync\n", "2: syntax error: expected [section], key = value or a comment"},
      {"[wal\nfsync = off\n", "1: syntax error: expected [section], key = value or a comment"},
      {"[wal]\nfsync = off\n\n  fsync = always\n", "4: [wal] fsync: set twice (first on line 2)"},
      {"[storage]\nstep = 0\n", "2: [storage] step: must be between 1s and 1d"},
      {"[limits]\nmax_points = lots\n",
       "2: [limits] max_points: \"lots\" is not an integer"},
      {"[cache]\nengine = memcached\n",
       "2: [cache] engine: must be one of memory|redis"},
      /* the first error by line wins, whoever finds it */
      {"[wal]\nfsync\nfsink = 1\n",
       "2: syntax error: expected [section], key = value or a comment"},
      {"[wal]\nfsink = 1\nfsync\n", "2: [wal] unknown key fsink"},
      {"[auth]\nkeys = a=read,a=write\n", "2: [auth] keys: entry 2: key a is listed twice"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    dm_config c;
    char err[512], want[640];
    int rc = load_text(&c, cases[i].text, err, sizeof err);
    snprintf(want, sizeof want, "%s:%s", path, cases[i].msg);
    assert_int_equal(rc, DM_EINVAL);
    assert_string_equal(err, want);
  }
}

static void test_load_file_long_line(void **state) {
  (void)state;
  char text[512], want[640], err[512];
  dm_config c;
  snprintf(text, sizeof text, "[server]\ndata_dir = /%0300d\n", 0);
  assert_int_equal(load_text(&c, text, err, sizeof err), DM_EINVAL);
  snprintf(want, sizeof want,
           "%s:2: line longer than 197 bytes (set long values through the environment)", path);
  assert_string_equal(err, want);
  assert_string_equal(c.data_dir, "./data");
  /* 197 bytes is still fine */
  snprintf(text, sizeof text, "[server]\ndata_dir = /%0185d\n", 0);
  assert_int_equal(strlen(strchr(text, '\n') + 1), 198);
  assert_int_equal(load_text(&c, text, err, sizeof err), 0);
  assert_int_equal(strlen(c.data_dir), 186);
}

static void test_load_file_missing(void **state) {
  (void)state;
  dm_config c;
  char err[256];
  dm_config_defaults(&c);
  assert_int_equal(dm_config_load_file(&c, "/nonexistent/diamond.ini", err, sizeof err),
                   DM_EIO);
  assert_string_equal(err, "cannot open /nonexistent/diamond.ini: No such file or directory");
}

/* ---- environment and flags --------------------------------------------------------- */

static void test_env(void **state) {
  (void)state;
  dm_config c;
  char err[512] = "";
  char *env[] = {"PATH=/bin", "DIAMOND_WAL_FSYNC=interval", "DIAMOND_TABLE_KEEP=7d",
                 "DIAMOND_SERVER_HTTP=127.0.0.1:9000", "DIAMOND_LIMITS_MAX_BODY_BYTES=1m",
                 "DIAMOND_NO_SUCH_KEY=1", "DIAMONDD=/usr/bin/diamondd",
                 "DIAMOND_AUTH_KEYS=", NULL};
  dm_config_defaults(&c);
  snprintf(c.auth_keys, sizeof c.auth_keys, "x=read");
  assert_int_equal(dm_config_load_env(&c, env, err, sizeof err), 0);
  assert_int_equal(c.wal_fsync, DM_FSYNC_INTERVAL);
  assert_int_equal(c.table_keep, 7 * 86400);
  assert_string_equal(c.http, "127.0.0.1:9000");
  assert_int_equal(c.max_body_bytes, 1024 * 1024);
  assert_string_equal(c.auth_keys, ""); /* an empty variable sets an empty value */

  char *bad[] = {"DIAMOND_WAL_FSYNC=never", NULL};
  assert_int_equal(dm_config_load_env(&c, bad, err, sizeof err), DM_EINVAL);
  assert_string_equal(err, "environment DIAMOND_WAL_FSYNC: [wal] fsync: must be one of "
                           "always|interval|off");
}

static void test_env_every_key(void **state) {
  (void)state;
  dm_config d, c;
  char err[512], name[96], text[1100], var[1200];
  dm_config_defaults(&d);
  for (size_t i = 0; i < dm_cfg_nkeys; i++) {
    dm_cfg_env_name(&dm_cfg_keys[i], name, sizeof name);
    dm_cfg_key_format(&d, &dm_cfg_keys[i], text, sizeof text);
    snprintf(var, sizeof var, "%s=%s", name, text);
    char *env[] = {var, NULL};
    dm_config_defaults(&c);
    assert_int_equal(dm_config_load_env(&c, env, err, sizeof err), 0);
    assert_memory_equal(&c, &d, sizeof c);
  }
  dm_cfg_env_name(dm_cfg_find("limits", "max_body_bytes"), name, sizeof name);
  assert_string_equal(name, "DIAMOND_LIMITS_MAX_BODY_BYTES");
}

static int from_args(dm_config *c, int *action, char *err, size_t errlen, ...) {
  char *argv[32] = {"diamondd"};
  int argc = 1;
  va_list ap;
  va_start(ap, errlen);
  for (char *a; (a = va_arg(ap, char *)) != NULL && argc < 31;) argv[argc++] = a;
  va_end(ap);
  err[0] = '\0';
  return dm_config_from_args(c, argc, argv, action, err, errlen);
}

static void test_precedence(void **state) {
  (void)state;
  dm_config c;
  int action = -1;
  char err[512];
  write_file("[server]\nhttp = 127.0.0.1:1111\ndata_dir = /from/file\n"
             "[storage]\nstep = 30s\n[wal]\nfsync = off\n");
  setenv("DIAMOND_SERVER_HTTP", "127.0.0.1:2222", 1);
  setenv("DIAMOND_SERVER_DATA_DIR", "/from/env", 1);
  int rc = from_args(&c, &action, err, sizeof err, "--config", path, "--http=127.0.0.1:3333",
                     "--set", "wal.fsync=interval", "--set=flusher.grace=2m", "--graphite",
                     "off", NULL);
  unsetenv("DIAMOND_SERVER_HTTP");
  unsetenv("DIAMOND_SERVER_DATA_DIR");
  assert_string_equal(err, "");
  assert_int_equal(rc, 0);
  assert_int_equal(action, DM_ACTION_RUN);
  assert_string_equal(c.http, "127.0.0.1:3333");  /* flag > env > file */
  assert_string_equal(c.data_dir, "/from/env");   /* env > file */
  assert_int_equal(c.step, 30);                   /* file > default */
  assert_int_equal(c.wal_fsync, DM_FSYNC_INTERVAL);
  assert_int_equal(c.flush_grace, 120);
  assert_string_equal(c.graphite, "");            /* off disables */
  assert_int_equal(c.window, 3600);

  /* flags apply in order: the last one wins */
  rc = from_args(&c, &action, err, sizeof err, "--data-dir", "/a", "--set",
                 "server.data_dir=/b", "--check-config", NULL);
  assert_int_equal(rc, 0);
  assert_int_equal(action, DM_ACTION_CHECK);
  assert_string_equal(c.data_dir, "/b");
}

static void test_args_actions(void **state) {
  (void)state;
  dm_config c;
  int action = -1;
  char err[512];
  assert_int_equal(from_args(&c, &action, err, sizeof err, NULL), 0);
  assert_int_equal(action, DM_ACTION_RUN);
  assert_int_equal(from_args(&c, &action, err, sizeof err, "--help", NULL), 0);
  assert_int_equal(action, DM_ACTION_HELP);
  assert_int_equal(from_args(&c, &action, err, sizeof err, "--bogus", "-h", NULL), 0);
  assert_int_equal(action, DM_ACTION_HELP);
  assert_int_equal(from_args(&c, &action, err, sizeof err, "--version", NULL), 0);
  assert_int_equal(action, DM_ACTION_VERSION);
  assert_int_equal(from_args(&c, &action, err, sizeof err, "--print-doc", "--config",
                             "/nonexistent", NULL),
                   0);
  assert_int_equal(action, DM_ACTION_DOC);
  assert_int_equal(from_args(&c, &action, err, sizeof err, "--check-config", NULL), 0);
  assert_int_equal(action, DM_ACTION_CHECK);
}

static void test_args_errors(void **state) {
  (void)state;
  static const struct {
    const char *a, *b, *msg;
  } cases[] = {
      {"--bogus", NULL, "unknown option --bogus (see --help)"},
      {"--bogus=1", NULL, "unknown option --bogus (see --help)"},
      {"serve", NULL, "unexpected argument \"serve\" (see --help)"},
      {"--http", NULL, "--http needs a value"},
      {"--check-config=yes", NULL, "--check-config takes no value"},
      {"--http", "localhost:80", "--http: [server] http: \"localhost:80\" is not host:port "
                                 "with a numeric host (127.0.0.1:8080, [::1]:8080)"},
      {"--graphite=1.2.3.4", NULL, "--graphite: [graphite] listen: \"1.2.3.4\" is not "
                                   "host:port with a numeric host (127.0.0.1:8080, [::1]:8080)"},
      {"--set", "walfsync=off", "--set walfsync=off: expected section.key=value"},
      {"--set", "wal.fsync", "--set wal.fsync: expected section.key=value"},
      {"--set", "wal.fsink=off", "--set wal.fsink=off: [wal] unknown key fsink"},
      {"--set", "wall.fsync=off", "--set wall.fsync=off: unknown section [wall]"},
      {"--config", "/nonexistent.ini",
       "cannot open /nonexistent.ini: No such file or directory"},
      {"--http", "0.0.0.0:8080", "[server] http: 0.0.0.0:8080 is not a loopback address: set "
                                 "[auth] keys, or [auth] open = yes to let anyone read and write"},
      {"--set", "storage.step=7s", "[storage] window: must be a multiple of [storage] step (7s)"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    dm_config c;
    int action;
    char err[512];
    int rc = from_args(&c, &action, err, sizeof err, cases[i].a, cases[i].b, NULL);
    assert_true(rc < 0);
    assert_string_equal(err, cases[i].msg);
  }
  /* a bad environment variable stops from_args too */
  dm_config c;
  int action;
  char err[512];
  setenv("DIAMOND_STORAGE_STEP", "fast", 1);
  int rc = from_args(&c, &action, err, sizeof err, NULL);
  unsetenv("DIAMOND_STORAGE_STEP");
  assert_int_equal(rc, DM_EINVAL);
  assert_string_equal(err, "environment DIAMOND_STORAGE_STEP: [storage] step: \"fast\" is not "
                           "a duration (seconds, or with s, m, h, d, w)");
}

static void test_usage(void **state) {
  (void)state;
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  dm_config_usage(f);
  fclose(f);
  assert_non_null(strstr(buf, "usage: diamondd [options]\n"));
  assert_non_null(strstr(buf, "  --check-config "));
  assert_non_null(strstr(buf, "DIAMOND_<SECTION>_<KEY>"));
  free(buf);
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--print-doc") == 0) {
    dm_config_print_doc(stdout);
    return 0;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_every_default_parses),
      cmocka_unit_test(test_load_file),
      cmocka_unit_test(test_load_file_errors),
      cmocka_unit_test(test_load_file_long_line),
      cmocka_unit_test(test_load_file_missing),
      cmocka_unit_test(test_env),
      cmocka_unit_test(test_env_every_key),
      cmocka_unit_test(test_precedence),
      cmocka_unit_test(test_args_actions),
      cmocka_unit_test(test_args_errors),
      cmocka_unit_test(test_usage),
  };
  return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
