/* test_core_config_values.c — unit tests of configuration values: every type's parsing,
 * errors and bounds, [auth] keys and their lookup, listen addresses, dm_config_validate,
 * dm_config_print round trips, and that the checked-in conf/diamond.ini is exactly
 * dm_config_print_doc's output and loads as the defaults. */
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
  snprintf(tmpdir, sizeof tmpdir, "/tmp/dm_cfgv_XXXXXX");
  if (mkdtemp(tmpdir) == NULL) return -1;
  snprintf(path, sizeof path, "%s/printed.ini", tmpdir);
  return 0;
}

static int teardown_dir(void **state) {
  (void)state;
  unlink(path);
  return rmdir(tmpdir);
}

static char *print_to_string(const dm_config *c) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_non_null(f);
  if (c != NULL) dm_config_print(c, f);
  else dm_config_print_doc(f);
  fclose(f);
  return buf;
}

static void write_file(const char *p, const char *text) {
  FILE *f = fopen(p, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static char *read_file(const char *p) {
  FILE *f = fopen(p, "r");
  if (f == NULL) return NULL;
  char *buf = NULL;
  size_t cap = 0, len = 0, n;
  char chunk[4096];
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
    if (len + n + 1 > cap) {
      cap = (len + n + 1) * 2;
      buf = realloc(buf, cap);
      assert_non_null(buf);
    }
    memcpy(buf + len, chunk, n);
    len += n;
  }
  fclose(f);
  if (buf == NULL) buf = calloc(1, 1);
  else buf[len] = '\0';
  return buf;
}

/* The value of a key as a number (int64 fields, ints for bool and int enums). */
static int64_t num_of(const dm_config *c, const cfg_key *k) {
  const char *field = (const char *)c + k->off;
  if (k->type == KT_BOOL || (k->type == KT_ENUM && k->size == 0)) return *(const int *)field;
  int64_t v;
  memcpy(&v, field, sizeof v);
  return v;
}

/* ---- values of every type --------------------------------------------------------- */

static const struct value_case {
  const char *section, *key, *value;
  int64_t num;      /* expected number when str and err are NULL */
  const char *str;  /* expected string for string-valued keys */
  const char *err;  /* expected error message, or NULL */
} value_cases[] = {
    /* integers */
    {"limits", "max_points", "5", 5, NULL, NULL},
    {"limits", "max_points", "+7", 7, NULL, NULL},
    {"limits", "max_points", "10000000", 10000000, NULL, NULL},
    {"limits", "max_points", "abc", 0, NULL, "[limits] max_points: \"abc\" is not an integer"},
    {"limits", "max_points", "", 0, NULL, "[limits] max_points: \"\" is not an integer"},
    {"limits", "max_points", "1.5", 0, NULL, "[limits] max_points: \"1.5\" is not an integer"},
    {"limits", "max_points", "0", 0, NULL, "[limits] max_points: must be between 1 and 10000000"},
    {"limits", "max_points", "10000001", 0, NULL,
     "[limits] max_points: must be between 1 and 10000000"},
    {"limits", "max_points", "99999999999999999999", 0, NULL,
     "[limits] max_points: must be between 1 and 10000000"},
    /* sizes */
    {"limits", "max_body_bytes", "1k", 1024, NULL, NULL},
    {"limits", "max_body_bytes", "1KB", 1024, NULL, NULL},
    {"limits", "max_body_bytes", "1KiB", 1024, NULL, NULL},
    {"limits", "max_body_bytes", "1024b", 1024, NULL, NULL},
    {"limits", "max_body_bytes", "2048", 2048, NULL, NULL},
    {"limits", "max_body_bytes", "32M", 32 * 1024 * 1024, NULL, NULL},
    {"limits", "max_body_bytes", "1g", 1024 * 1024 * 1024, NULL, NULL},
    {"wal", "max_bytes", "1t", 1099511627776LL, NULL, NULL},
    {"limits", "max_body_bytes", "1x", 0, NULL,
     "[limits] max_body_bytes: \"1x\" is not a size (bytes, or with k, m, g, t: powers of 1024)"},
    {"limits", "max_body_bytes", "-1k", 0, NULL,
     "[limits] max_body_bytes: \"-1k\" is not a size (bytes, or with k, m, g, t: powers of "
     "1024)"},
    {"limits", "max_body_bytes", "2g", 0, NULL,
     "[limits] max_body_bytes: must be between 1k and 1g"},
    {"limits", "max_body_bytes", "512", 0, NULL,
     "[limits] max_body_bytes: must be between 1k and 1g"},
    {"wal", "max_bytes", "99999999999t", 0, NULL, "[wal] max_bytes: must be between 1m and 1t"},
    /* durations in seconds */
    {"storage", "step", "90", 90, NULL, NULL},
    {"storage", "step", "90s", 90, NULL, NULL},
    {"storage", "step", "15m", 900, NULL, NULL},
    {"storage", "step", "15min", 900, NULL, NULL},
    {"storage", "step", "1h30m", 5400, NULL, NULL},
    {"storage", "step", "1d", 86400, NULL, NULL},
    {"table", "keep", "2w", 14 * 86400, NULL, NULL},
    {"table", "keep", "1y", 365 * 86400, NULL, NULL},
    {"limits", "max_future", "0", 0, NULL, NULL},
    {"storage", "step", "-5s", 0, NULL,
     "[storage] step: \"-5s\" is not a duration (seconds, or with s, m, h, d, w)"},
    {"storage", "step", "1.5h", 0, NULL,
     "[storage] step: \"1.5h\" is not a duration (seconds, or with s, m, h, d, w)"},
    {"storage", "step", "5ms", 0, NULL,
     "[storage] step: \"5ms\" is not a duration (seconds, or with s, m, h, d, w)"},
    {"storage", "step", "2d", 0, NULL, "[storage] step: must be between 1s and 1d"},
    {"storage", "step", "0", 0, NULL, "[storage] step: must be between 1s and 1d"},
    /* durations in milliseconds */
    {"wal", "fsync_ms", "250", 250, NULL, NULL},
    {"wal", "fsync_ms", "5ms", 5, NULL, NULL},
    {"wal", "fsync_ms", "2s", 2000, NULL, NULL},
    {"wal", "fsync_ms", "1m", 60000, NULL, NULL},
    {"wal", "fsync_ms", "0", 0, NULL, "[wal] fsync_ms: must be between 1 and 60000"},
    {"wal", "fsync_ms", "2x", 0, NULL,
     "[wal] fsync_ms: \"2x\" is not a duration (milliseconds, or with ms, s, m, h)"},
    /* booleans */
    {"auth", "open", "yes", 1, NULL, NULL},
    {"auth", "open", "no", 0, NULL, NULL},
    {"auth", "open", "TRUE", 1, NULL, NULL},
    {"auth", "open", "false", 0, NULL, NULL},
    {"auth", "open", "on", 1, NULL, NULL},
    {"auth", "open", "off", 0, NULL, NULL},
    {"auth", "open", "1", 1, NULL, NULL},
    {"auth", "open", "0", 0, NULL, NULL},
    {"auth", "open", "maybe", 0, NULL, "[auth] open: must be yes or no"},
    /* enums */
    {"wal", "fsync", "ALWAYS", DM_FSYNC_ALWAYS, NULL, NULL},
    {"wal", "fsync", "interval", DM_FSYNC_INTERVAL, NULL, NULL},
    {"wal", "fsync", "off", DM_FSYNC_OFF, NULL, NULL},
    {"wal", "fsync", "sometimes", 0, NULL, "[wal] fsync: must be one of always|interval|off"},
    {"server", "log_level", "WARN", 0, "warn", NULL},
    {"server", "log_level", "trace", 0, NULL,
     "[server] log_level: must be one of debug|info|warn|error"},
    {"cache", "engine", "memory", 0, "memory", NULL},
    {"cache", "engine", "foo", 0, NULL, "[cache] engine: must be one of memory|redis"},
    {"cache", "engine", "Redis", 0, "redis", NULL},
    {"table", "engine", "dynamodb", 0, "dynamodb", NULL},
    {"table", "engine", "cassandra", 0, NULL, "[table] engine: must be one of lmdb|dynamodb"},
    {"blob", "engine", "S3", 0, "s3", NULL},
    /* remote engines */
    {"cache", "redis", "127.0.0.1:6379, redis:6380,[::1]:7000", 0,
     "127.0.0.1:6379, redis:6380,[::1]:7000", NULL},
    {"cache", "redis", "127.0.0.1", 0, NULL,
     "[cache] redis: seed 1 (\"127.0.0.1\"): expected host:port, e.g. 127.0.0.1:6379 or "
     "redis:6379"},
    {"cache", "redis", "a:1,b:99999", 0, NULL,
     "[cache] redis: seed 2 (\"b:99999\"): expected host:port, e.g. 127.0.0.1:6379 or "
     "redis:6379"},
    {"table", "endpoint", "http://localstack:4566", 0, "http://localstack:4566", NULL},
    {"table", "endpoint", "ftp://x", 0, NULL,
     "[table] endpoint: expected http://host[:port] or https://host[:port], e.g. "
     "http://127.0.0.1:4566"},
    {"blob", "endpoint", "http://127.0.0.1:9000/x", 0, NULL,
     "[blob] endpoint: must not have a path (got \"/x\")"},
    {"table", "name", "ab", 0, NULL,
     "[table] name: a DynamoDB table name is 3-255 of [A-Za-z0-9_.-]"},
    {"blob", "bucket", "My_Bucket", 0, NULL,
     "[blob] bucket: an S3 bucket name is 3-63 of [a-z0-9.-], starting and ending with a "
     "letter or digit"},
    {"blob", "prefix", "/dm", 0, NULL,
     "[blob] prefix: must be [A-Za-z0-9/_.-], not start with '/' nor hold \"//\" (e.g. dm/)"},
    {"blob", "prefix", "", 0, "", NULL},
    {"server", "node_id", "node a", 0, NULL,
     "[server] node_id: must be letters, digits, '_' and '-' (it is part of a series name)"},
    {"cost", "s3_get_thousand", "-1", 0, NULL,
     "[cost] s3_get_thousand: expected a decimal number of USD >= 0, e.g. 0.625"},
    {"cost", "s3_get_thousand", "0.0004", 0, "0.0004", NULL},
    /* strings and addresses */
    {"server", "data_dir", "/var/lib/diamond data", 0, "/var/lib/diamond data", NULL},
    {"server", "data_dir", "a\tb", 0, NULL,
     "[server] data_dir: must not contain control characters"},
    {"server", "data_dir", "/x ;y", 0, NULL,
     "[server] data_dir: must not contain \" ;\" (it starts a comment in an INI file)"},
    {"server", "data_dir", ";x", 0, NULL,
     "[server] data_dir: must not start with \";\" (it starts a comment in an INI file)"},
    {"server", "data_dir", "x;y", 0, "x;y", NULL},
    {"server", "data_dir", " /x", 0, NULL,
     "[server] data_dir: must not start or end with a space"},
    {"server", "http", "[::]:8080", 0, "[::]:8080", NULL},
    {"server", "http", "127.0.0.1:0", 0, "127.0.0.1:0", NULL},
    {"server", "http", "127.0.0.1", 0, NULL,
     "[server] http: \"127.0.0.1\" is not host:port with a numeric host (127.0.0.1:8080, "
     "[::1]:8080)"},
    {"server", "http", "off", 0, NULL,
     "[server] http: \"off\" is not host:port with a numeric host (127.0.0.1:8080, "
     "[::1]:8080)"},
    {"graphite", "listen", "off", 0, "", NULL},
    {"graphite", "listen", "OFF", 0, "", NULL},
    {"graphite", "listen", "", 0, "", NULL},
    {"graphite", "listen", "[::1]:2003", 0, "[::1]:2003", NULL},
    {"graphite", "listen", "127.0.0.1:65536", 0, NULL,
     "[graphite] listen: \"127.0.0.1:65536\" is not host:port with a numeric host "
     "(127.0.0.1:8080, [::1]:8080)"},
    {"auth", "keys", "k1=read+write,k2=read", 0, "k1=read+write,k2=read", NULL},
};

static void test_values(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof value_cases / sizeof value_cases[0]; i++) {
    const struct value_case *vc = &value_cases[i];
    dm_config c, before;
    char err[512] = "";
    dm_config_defaults(&c);
    before = c;
    int rc = dm_config_set(&c, vc->section, vc->key, vc->value, err, sizeof err);
    if (vc->err != NULL) {
      if (rc != DM_EINVAL || strcmp(err, vc->err) != 0)
        fail_msg("%s.%s=\"%s\": rc %d, got \"%s\", want \"%s\"", vc->section, vc->key,
                 vc->value, rc, err, vc->err);
      assert_memory_equal(&c, &before, sizeof c); /* a refused value changes nothing */
      continue;
    }
    if (rc != 0) fail_msg("%s.%s=\"%s\": %s", vc->section, vc->key, vc->value, err);
    const cfg_key *k = dm_cfg_find(vc->section, vc->key);
    assert_non_null(k);
    if (vc->str != NULL) assert_string_equal((const char *)&c + k->off, vc->str);
    else assert_int_equal(num_of(&c, k), vc->num);
  }
  /* a string one byte too long for its field */
  dm_config c;
  char err[512], big[300];
  memset(big, 'a', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  dm_config_defaults(&c);
  assert_int_equal(dm_config_set(&c, "server", "data_dir", big, err, sizeof err), DM_EINVAL);
  assert_string_equal(err, "[server] data_dir: longer than 255 bytes");
  big[255] = '\0';
  assert_int_equal(dm_config_set(&c, "server", "data_dir", big, err, sizeof err), 0);
  assert_int_equal(strlen(c.data_dir), 255);
}

static void test_bounds_from_table(void **state) {
  (void)state;
  for (size_t i = 0; i < dm_cfg_nkeys; i++) {
    const cfg_key *k = &dm_cfg_keys[i];
    if (k->type == KT_STR || k->type == KT_ENUM || k->type == KT_BOOL) continue;
    dm_config c;
    char text[64], why[512];
    int64_t edges[4] = {k->min, k->max, k->min - 1, k->max + 1};
    for (int e = 0; e < 4; e++) {
      dm_config_defaults(&c);
      dm_cfg_format_number(k->type, edges[e], text, sizeof text);
      int rc = dm_cfg_key_set(&c, k, text, why, sizeof why);
      if (e < 2) {
        if (rc != 0) fail_msg("[%s] %s = %s: %s", k->section, k->name, text, why);
        assert_int_equal(num_of(&c, k), edges[e]);
      } else if (rc == 0) {
        fail_msg("[%s] %s = %s accepted outside its bounds", k->section, k->name, text);
      }
    }
    assert_true(k->min <= k->max);
  }
}

/* ---- [auth] keys --------------------------------------------------------------------- */

static void test_auth_keys(void **state) {
  (void)state;
  static const struct {
    const char *value, *err;
  } bad[] = {
      {"k1", "entry 1: expected key=scope[+scope] (scopes read, write; key 1-128 bytes "
             "without spaces , = + ;)"},
      {"=read", "entry 1: expected key=scope[+scope] (scopes read, write; key 1-128 bytes "
                "without spaces , = + ;)"},
      {"k1=read,,k2=read", "entry 2: expected key=scope[+scope] (scopes read, write; key "
                           "1-128 bytes without spaces , = + ;)"},
      {"k1=read,", "entry 2: expected key=scope[+scope] (scopes read, write; key 1-128 bytes "
                   "without spaces , = + ;)"},
      {"k1=admin", "entry 1 (k1): scope \"admin\" must be read or write"},
      {"k1=", "entry 1 (k1): scope \"\" must be read or write"},
      {"k1=read+", "entry 1 (k1): scope \"\" must be read or write"},
      {"k1=READ", "entry 1 (k1): scope \"READ\" must be read or write"},
      {"k1=read k2=write", "entry 1 (k1): expected ',' after the scopes"},
      {"k1=read,k1=write", "entry 2: key k1 is listed twice"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    dm_config c;
    char err[512], want[512];
    dm_config_defaults(&c);
    assert_int_equal(dm_config_set(&c, "auth", "keys", bad[i].value, err, sizeof err),
                     DM_EINVAL);
    snprintf(want, sizeof want, "[auth] keys: %s", bad[i].err);
    assert_string_equal(err, want);
  }

  dm_config c;
  char err[512];
  dm_config_defaults(&c);
  assert_int_equal(dm_config_has_keys(&c), 0);
  assert_int_equal(dm_config_key_scopes(&c, "k1"), 0);
  assert_int_equal(dm_config_set(&c, "auth", "keys",
                                 "k1=read+write, k2=read,k3=write , k4=write+read,"
                                 "Zm9v/YmFy.x_y~z=read",
                                 err, sizeof err),
                   0);
  assert_int_equal(dm_config_has_keys(&c), 1);
  assert_int_equal(dm_config_key_scopes(&c, "k1"), DM_SCOPE_READ | DM_SCOPE_WRITE);
  assert_int_equal(dm_config_key_scopes(&c, "k2"), DM_SCOPE_READ);
  assert_int_equal(dm_config_key_scopes(&c, "k3"), DM_SCOPE_WRITE);
  assert_int_equal(dm_config_key_scopes(&c, "k4"), DM_SCOPE_READ | DM_SCOPE_WRITE);
  assert_int_equal(dm_config_key_scopes(&c, "Zm9v/YmFy.x_y~z"), DM_SCOPE_READ);
  assert_int_equal(dm_config_key_scopes(&c, "k"), 0);
  assert_int_equal(dm_config_key_scopes(&c, "k11"), 0);
  assert_int_equal(dm_config_key_scopes(&c, "K1"), 0);
  assert_int_equal(dm_config_key_scopes(&c, ""), 0);
  assert_int_equal(dm_config_key_scopes(&c, NULL), 0);
  assert_int_equal(dm_config_key_scopes(&c, "read"), 0);
}

/* ---- addresses ----------------------------------------------------------------------- */

static void test_hostport(void **state) {
  (void)state;
  char host[64];
  int port = -1;
  assert_int_equal(dm_parse_hostport("127.0.0.1:8080", host, sizeof host, &port), 0);
  assert_string_equal(host, "127.0.0.1");
  assert_int_equal(port, 8080);
  assert_int_equal(dm_parse_hostport("[::1]:2003", host, sizeof host, &port), 0);
  assert_string_equal(host, "::1");
  assert_int_equal(port, 2003);
  assert_int_equal(dm_parse_hostport("0.0.0.0:0", host, sizeof host, &port), 0);
  assert_string_equal(host, "0.0.0.0");
  assert_int_equal(port, 0);
  assert_int_equal(dm_parse_hostport("[fe80::1:2]:65535", host, sizeof host, &port), 0);
  assert_string_equal(host, "fe80::1:2");
  assert_int_equal(port, 65535);
  static const char *const bad[] = {
      "localhost:80", "127.0.0.1",  "127.0.0.1:",     "127.0.0.1:65536", "127.0.0.1:80a",
      "::1:80",       "[::1]80",    "[::1",           "[127.0.0.1]:80",  ":80",
      "1.2.3.4:123456", "",         "1.2.3:80",       "127.0.0.1:-1",    "[]:80"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (dm_parse_hostport(bad[i], host, sizeof host, &port) != DM_EINVAL)
      fail_msg("\"%s\" accepted", bad[i]);
  char small[8];
  assert_int_equal(dm_parse_hostport("127.0.0.1:80", small, sizeof small, &port), DM_EINVAL);

  assert_int_equal(dm_host_is_loopback("127.0.0.1"), 1);
  assert_int_equal(dm_host_is_loopback("127.1.2.3"), 1);
  assert_int_equal(dm_host_is_loopback("::1"), 1);
  assert_int_equal(dm_host_is_loopback("::ffff:127.0.0.1"), 1);
  assert_int_equal(dm_host_is_loopback("0.0.0.0"), 0);
  assert_int_equal(dm_host_is_loopback("10.0.0.1"), 0);
  assert_int_equal(dm_host_is_loopback("128.0.0.1"), 0);
  assert_int_equal(dm_host_is_loopback("::"), 0);
  assert_int_equal(dm_host_is_loopback("bogus"), 0);
}

/* ---- validate ------------------------------------------------------------------------ */

static void expect_invalid(const dm_config *c, const char *msg) {
  char err[512] = "";
  assert_int_equal(dm_config_validate(c, err, sizeof err), DM_EINVAL);
  assert_string_equal(err, msg);
}

static void expect_valid(const dm_config *c) {
  char err[512] = "";
  int rc = dm_config_validate(c, err, sizeof err);
  if (rc != 0) fail_msg("validate: %s", err);
}

static void test_validate(void **state) {
  (void)state;
  dm_config c;
  const char *not_loopback = "[server] http: 0.0.0.0:8080 is not a loopback address: set "
                             "[auth] keys, or [auth] open = yes to let anyone read and write";
  dm_config_defaults(&c);
  c.window = 3601;
  expect_invalid(&c, "[storage] window: must be a multiple of [storage] step (1m)");
  c.window = 1500; /* 25 steps, but 86400 is not a multiple */
  expect_invalid(&c, "[storage] window: must divide a day (86400s) so no window spans two "
                     "days");
  c.window = 7200;
  expect_valid(&c);
  c.step = 7200;
  expect_valid(&c); /* one step per window is allowed */
  c.step = 0;
  expect_invalid(&c, "[storage] step: must be between 1s and 1d");

  dm_config_defaults(&c);
  c.blob_keep = c.table_keep;
  expect_invalid(&c, "[blob] keep: 14d must be longer than [table] keep (14d)");
  c.blob_keep = c.table_keep + 86400;
  expect_valid(&c);

  dm_config_defaults(&c);
  c.wal_segment_bytes = 2LL << 30;
  expect_invalid(&c, "[wal] segment_bytes: must not exceed [wal] max_bytes");

  dm_config_defaults(&c);
  c.data_dir[0] = '\0';
  expect_invalid(&c, "[server] data_dir: must not be empty");

  dm_config_defaults(&c);
  snprintf(c.http, sizeof c.http, "0.0.0.0:8080");
  expect_invalid(&c, not_loopback);
  c.auth_open = 1;
  expect_valid(&c);
  c.auth_open = 0;
  snprintf(c.auth_keys, sizeof c.auth_keys, "k=read");
  expect_valid(&c);
  snprintf(c.http, sizeof c.http, "[::1]:8080");
  c.auth_keys[0] = '\0';
  expect_valid(&c);
  snprintf(c.graphite, sizeof c.graphite, "0.0.0.0:2003"); /* plaintext has no keys */
  expect_valid(&c);

  /* fields edited directly are checked against the key table too */
  dm_config_defaults(&c);
  c.wal_fsync = (dm_fsync_mode)7;
  expect_invalid(&c, "[wal] fsync: must be one of always|interval|off");
  dm_config_defaults(&c);
  c.auth_open = 2;
  expect_invalid(&c, "[auth] open: must be yes or no");
  dm_config_defaults(&c);
  snprintf(c.http, sizeof c.http, "nonsense");
  expect_invalid(&c, "[server] http: \"nonsense\" is not host:port with a numeric host "
                     "(127.0.0.1:8080, [::1]:8080)");
  dm_config_defaults(&c);
  snprintf(c.auth_keys, sizeof c.auth_keys, "bad");
  expect_invalid(&c, "[auth] keys: entry 1: expected key=scope[+scope] (scopes read, write; "
                     "key 1-128 bytes without spaces , = + ;)");
  dm_config_defaults(&c);
  snprintf(c.cache_engine, sizeof c.cache_engine, "redis");
  expect_invalid(&c, "[cache] redis: must name at least one host:port when [cache] engine = "
                     "redis");
  snprintf(c.cache_redis, sizeof c.cache_redis, "127.0.0.1:6379");
  expect_valid(&c);
  c.cache_lease_ms = 5000; /* < 3 x the 2000 ms redis_timeout_ms */
  expect_invalid(&c, "[cache] lease_ms: must be at least 3 x [cache] redis_timeout_ms (2000 "
                     "ms), or a flush outlives its lease and another node flushes the same "
                     "windows");
  c.cache_lease_ms = 30000;
  c.remote_retry_base_ms = 100;
  c.remote_retry_cap_ms = 10;
  expect_invalid(&c, "[remote] retry_cap_ms: must not be below [remote] retry_base_ms");
  dm_config_defaults(&c);
  memset(c.log_level, 'x', sizeof c.log_level);
  expect_invalid(&c, "[server] log_level: not NUL-terminated");
  dm_config_defaults(&c);
  c.max_query_points = 0;
  expect_invalid(&c, "[limits] max_query_points: must be between 1 and 1000000000000");
}

/* ---- printing ------------------------------------------------------------------------ */

static void test_print_round_trip(void **state) {
  (void)state;
  static const char *const sets[][3] = {
      {"server", "http", "[::1]:9000"},       {"server", "data_dir", "/tmp/x y"},
      {"server", "log_level", "debug"},       {"graphite", "listen", "off"},
      {"storage", "step", "10s"},             {"storage", "window", "10m"},
      {"limits", "max_body_bytes", "1000000"}, {"limits", "max_future", "0"},
      {"wal", "fsync", "off"},                {"wal", "fsync_ms", "250"},
      {"table", "keep", "90000"},             {"blob", "keep", "500d"},
      {"auth", "open", "yes"},                {"ager", "grace", "0"},
      {"cache", "max_bytes", "3g"},           {"flusher", "interval_ms", "1m"},
  };
  dm_config c, loaded;
  char err[512];
  dm_config_defaults(&c);
  for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
    if (dm_config_set(&c, sets[i][0], sets[i][1], sets[i][2], err, sizeof err) < 0)
      fail_msg("%s", err);
  expect_valid(&c);
  char *text = print_to_string(&c);
  assert_non_null(strstr(text, "\n[storage]\nstep = 10s\nwindow = 10m\n"));
  assert_non_null(strstr(text, "\nmax_body_bytes = 1000000\n"));
  assert_non_null(strstr(text, "\nmax_future = 0s\n"));
  assert_non_null(strstr(text, "\n[graphite]\nlisten = \n"));
  assert_non_null(strstr(text, "\n[table]\nengine = lmdb\nkeep = 25h\n"));
  assert_non_null(strstr(text, "\nfsync = off\nfsync_ms = 250\n"));
  assert_non_null(strstr(text, "\ninterval_ms = 60000\n"));
  assert_non_null(strstr(text, "\nopen = yes\n"));
  assert_non_null(strstr(text, "\nhttp = [::1]:9000\ndata_dir = /tmp/x y\n"));
  write_file(path, text);
  dm_config_defaults(&loaded);
  if (dm_config_load_file(&loaded, path, err, sizeof err) < 0) fail_msg("%s", err);
  assert_memory_equal(&loaded, &c, sizeof c);
  char *again = print_to_string(&loaded);
  assert_string_equal(again, text);
  free(again);
  free(text);
}

/* "data_dir =;x" used to load as ";x" and print as "data_dir = ;x", which loads back as an
 * empty data_dir (found by tests/fuzz/fuzz_config.c): such a value is refused instead. */
static void test_leading_semicolon(void **state) {
  (void)state;
  dm_config c;
  char err[512], want[700];
  write_file(path, "[server]\ndata_dir =;vue _leg\n");
  dm_config_defaults(&c);
  assert_int_equal(dm_config_load_file(&c, path, err, sizeof err), DM_EINVAL);
  snprintf(want, sizeof want, "%s:2: [server] data_dir: must not start with \";\" (it starts a "
           "comment in an INI file)", path);
  assert_string_equal(err, want);
  write_file(path, "[server]\ndata_dir = ;comment\n"); /* inih: an empty value */
  dm_config_defaults(&c);
  assert_int_equal(dm_config_load_file(&c, path, err, sizeof err), 0);
  assert_string_equal(c.data_dir, "");
}

static void test_print_masks_keys(void **state) {
  (void)state;
  dm_config c;
  char err[256];
  dm_config_defaults(&c);
  char *text = print_to_string(&c);
  assert_non_null(strstr(text, "\n[auth]\nkeys = \nopen = no\n"));
  free(text);
  assert_int_equal(dm_config_set(&c, "auth", "keys", "secret1=read", err, sizeof err), 0);
  text = print_to_string(&c);
  assert_non_null(strstr(text, "\n[auth]\nkeys = ***\nopen = no\n"));
  assert_null(strstr(text, "secret1"));
  free(text);
}

/* Finds conf/diamond.ini: $DM_SOURCE_DIR, ../conf (ctest runs in the build directory),
 * or next to this source file. */
static char *find_conf(char *out, size_t outlen) {
  const char *src = getenv("DM_SOURCE_DIR");
  if (src != NULL) {
    snprintf(out, outlen, "%s/conf/diamond.ini", src);
    if (access(out, R_OK) == 0) return out;
  }
  snprintf(out, outlen, "../conf/diamond.ini");
  if (access(out, R_OK) == 0) return out;
  const char *self = __FILE__, *tail = strstr(self, "tests/unit/");
  if (tail != NULL) {
    snprintf(out, outlen, "%.*sconf/diamond.ini", (int)(tail - self), self);
    if (access(out, R_OK) == 0) return out;
  }
  return NULL;
}

static void test_doc_file(void **state) {
  (void)state;
  dm_config d, c;
  char err[512], conf[1024];
  dm_config_defaults(&d);
  char *doc = print_to_string(NULL);
  /* the generated text itself is a valid config equal to the defaults */
  write_file(path, doc);
  dm_config_defaults(&c);
  snprintf(c.data_dir, sizeof c.data_dir, "/elsewhere"); /* proves the file sets it back */
  if (dm_config_load_file(&c, path, err, sizeof err) < 0) fail_msg("%s", err);
  snprintf(c.data_dir, sizeof c.data_dir, "%s", d.data_dir);
  assert_memory_equal(&c, &d, sizeof c);
  for (size_t i = 0; i < dm_cfg_nkeys; i++) {
    char line[1200], text[1100];
    dm_cfg_key_format(&d, &dm_cfg_keys[i], text, sizeof text);
    snprintf(line, sizeof line, "\n%s = %s\n", dm_cfg_keys[i].name, text);
    assert_non_null(strstr(doc, line));
  }
  /* the checked-in copy is exactly that text */
  if (find_conf(conf, sizeof conf) == NULL) {
    free(doc);
    skip();
  }
  char *file = read_file(conf);
  assert_non_null(file);
  if (strcmp(file, doc) != 0)
    fail_msg("%s differs from dm_config_print_doc(); regenerate it with "
             "test_core_config --print-doc > conf/diamond.ini", conf);
  dm_config_defaults(&c);
  if (dm_config_load_file(&c, conf, err, sizeof err) < 0) fail_msg("%s", err);
  assert_memory_equal(&c, &d, sizeof c);
  free(file);
  free(doc);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_values),       cmocka_unit_test(test_bounds_from_table),
      cmocka_unit_test(test_auth_keys),    cmocka_unit_test(test_hostport),
      cmocka_unit_test(test_validate),     cmocka_unit_test(test_print_round_trip),
      cmocka_unit_test(test_print_masks_keys), cmocka_unit_test(test_doc_file),
      cmocka_unit_test(test_leading_semicolon),
  };
  return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
