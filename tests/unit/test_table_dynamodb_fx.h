/* test_table_dynamodb_fx.h — fixture of the DynamoDB table tests: a real dynalite (npm,
 * tests/node_modules) started once per test program by test_node_server.h; a fresh table
 * name per test, created through the table's own create(); a raw DynamoDB client (dm_aws)
 * to look at and plant items behind the table's back. The helpers of test_table_fx.h
 * (put_ok, query, pending, ...) run on the same fx. */
#ifndef TEST_TABLE_DYNAMODB_FX_H
#define TEST_TABLE_DYNAMODB_FX_H

#include <time.h>

#include "../../src/table/dynamodb_int.h"
#include "diamond/metrics.h"
#include "diamond/timefmt.h"
#include "test_node_server.h"
#include "test_table_fx.h"

static int dyn_seq;

/* Group setup: starts dynalite, or fails the group when dynalite is missing. */
static int dyn_start(void **state) {
  (void)state;
  char src[512], cli[600];
  source_dir(src, sizeof src);
  snprintf(cli, sizeof cli, "%s/tests/node_modules/dynalite/cli.js", src);
  if (access(cli, R_OK) != 0) {
    fprintf(stderr, "dynalite missing (%s): run `cd tests && npm ci`\n", cli);
    return -1;
  }
  const char *args[] = {cli, "--port", NODE_SERVER_PORT, "--host", "127.0.0.1",
                        "--createTableMs", "20", NULL};
  if (node_server_start(args, 1) < 0) {
    fprintf(stderr, "dynalite did not start (node %s)\n", cli);
    return -1;
  }
  return 0;
}

static int dyn_group_teardown(void **state) {
  (void)state;
  node_server_stop();
  return 0;
}

static inline void ddb_cfg(fx *f, const char *table) {
  dm_config_defaults(&f->cfg);
  snprintf(f->cfg.table_endpoint, sizeof f->cfg.table_endpoint, "http://127.0.0.1:%d",
           node_port);
  snprintf(f->cfg.table_name, sizeof f->cfg.table_name, "%s", table);
  f->cfg.window = WINDOW;
  f->cfg.ager_shards = SHARDS;
  f->cfg.remote_max_attempts = 3;
  f->cfg.remote_retry_base_ms = 5;
  f->cfg.remote_retry_cap_ms = 20;
}

static inline void ddb_open(fx *f) {
  char err[256] = "";
  int rc = dm_table_dynamodb_open(&f->t, &f->loop, &f->cfg, err, sizeof err);
  if (rc != 0) fprintf(stderr, "open: %s\n", err);
  assert_int_equal(rc, 0);
}

/* A second handle on the loop of f (another node), with f's config or cfg. */
static inline dm_table *ddb_open_other(fx *f, const dm_config *cfg) {
  char err[256] = "";
  dm_table *t = NULL;
  int rc = dm_table_dynamodb_open(&t, &f->loop, cfg ? cfg : &f->cfg, err, sizeof err);
  if (rc != 0) fprintf(stderr, "open: %s\n", err);
  assert_int_equal(rc, 0);
  return t;
}

/* Runs stmt (test_table_fx.h helpers on f) against table other instead of f->t. */
#define ON_TABLE(f, other, stmt)       \
  do {                                 \
    dm_table *mine_ = (f)->t;          \
    (f)->t = (other);                  \
    stmt;                              \
    (f)->t = mine_;                    \
  } while (0)

static inline int run_done_on(fx *f, dm_table *t, int (*call)(dm_table *, dm_done_cb, void *)) {
  res r = {0};
  assert_int_equal(call(t, done_cb, &r), 0);
  run(f);
  assert_int_equal(r.called, 1);
  return r.status;
}

static inline int run_done(fx *f, int (*call)(dm_table *, dm_done_cb, void *)) {
  res r = {0};
  assert_int_equal(call(f->t, done_cb, &r), 0);
  run(f);
  assert_int_equal(r.called, 1);
  return r.status;
}

/* Per test: a loop, a new table name, the table opened and created. */
static int ddb_setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  dm_log_set_level(DM_LOG_ERROR);
  setenv("AWS_ACCESS_KEY_ID", "test", 1); /* dynalite wants a signature, checks none */
  setenv("AWS_SECRET_ACCESS_KEY", "test", 1);
  uv_loop_init(&f->loop);
  char name[64];
  snprintf(name, sizeof name, "t%d_%ld", ++dyn_seq, (long)getpid());
  ddb_cfg(f, name);
  ddb_open(f);
  assert_int_equal(run_done(f, dm_table_create), 0);
  *state = f;
  return 0;
}

static int ddb_teardown(void **state) {
  fx *f = *state;
  fx_close(f);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  free(f);
  return 0;
}

/* ---- raw requests -------------------------------------------------------------------- */

typedef struct raw_res {
  int called, status;
  char type[128];
  char *body;
} raw_res;

static void raw_cb(void *arg, int status, const dm_aws_reply *r) {
  raw_res *o = arg;
  o->called = 1;
  o->status = status;
  snprintf(o->type, sizeof o->type, "%s", r->error_type ? r->error_type : "");
  o->body = r->body ? strndup((const char *)r->body, r->len) : strdup("");
}

/* Sends one request with a client of its own; returns the parsed reply (free it). */
static inline yajl_val raw(fx *f, const char *op, const char *json, int *status) {
  dm_aws *a;
  dm_aws_opts o = {.backend = "raw", .service = "dynamodb", .region = "us-east-1",
                   .endpoint = f->cfg.table_endpoint, .timeout_ms = 5000,
                   .connect_timeout_ms = 1000, .max_inflight = 4, .max_queue = 16,
                   .max_attempts = 1, .retry_base_ms = 1, .retry_cap_ms = 1};
  char err[256];
  assert_int_equal(dm_aws_open(&a, &f->loop, &o, err, sizeof err), 0);
  char target[64];
  snprintf(target, sizeof target, "DynamoDB_20120810.%s", op);
  dm_aws_header h[] = {{"Content-Type", "application/x-amz-json-1.0"}, {"X-Amz-Target", target}};
  dm_aws_req req = {.method = "POST", .path = "/", .headers = h, .nheaders = 2,
                    .body = (const uint8_t *)json, .len = strlen(json), .op = op,
                    .classify = ddb_classify};
  raw_res r = {0};
  assert_int_equal(dm_aws_send(a, &req, raw_cb, &r), 0);
  while (!r.called) uv_run(&f->loop, UV_RUN_ONCE);
  dm_aws_close(a);
  run(f);
  if (status != NULL) *status = r.status;
  yajl_val root = yajl_tree_parse(r.body, NULL, 0);
  free(r.body);
  return root;
}

/* The item (pk, sk) as stored, or NULL; *root must be freed. */
static inline yajl_val raw_get(fx *f, const char *pk, int64_t sk, yajl_val *root) {
  char json[1024];
  snprintf(json, sizeof json,
           "{\"TableName\":\"%s\",\"Key\":{\"pk\":{\"S\":\"%s\"},\"sk\":{\"N\":\"%lld\"}},"
           "\"ConsistentRead\":true}", f->cfg.table_name, pk, (long long)sk);
  int st;
  *root = raw(f, "GetItem", json, &st);
  assert_int_equal(st, 0);
  yajl_val item = ddb_get(*root, "Item");
  return YAJL_IS_OBJECT(item) ? item : NULL;
}

/* How many items the whole table holds (Scan, Select COUNT). */
static inline int64_t raw_count(fx *f) {
  char json[512];
  snprintf(json, sizeof json, "{\"TableName\":\"%s\",\"Select\":\"COUNT\"}", f->cfg.table_name);
  int st;
  yajl_val root = raw(f, "Scan", json, &st);
  assert_int_equal(st, 0);
  yajl_val c = ddb_get(root, "Count");
  int64_t n = YAJL_IS_INTEGER(c) ? YAJL_GET_INTEGER(c) : -1;
  yajl_tree_free(root);
  return n;
}

static inline uint64_t counter(const char *name, const char *labels) {
  return dm_counter_get(dm_metric_counter(name, labels, "test"));
}

#endif
