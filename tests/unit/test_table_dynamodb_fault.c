/* test_table_dynamodb_fault.c — the DynamoDB table against a scripted HTTP server
 * (test_aws_server.h), for what dynalite never does: UnprocessedItems (retried until done,
 * or the put fails after bounded tries), throttling (the client retries), a
 * ValidationException on a batch (split item by item, the bad item quarantined, the put
 * still 0), a missing table during a put (fails, health says why), and consumed capacity
 * read from the replies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "../../src/table/dynamodb_int.h"
#include "test_aws_server.h"
#include "test_table_fx.h"
#include "diamond/metrics.h"

typedef struct script {
  int mode;
  int batches, updates, puts, gets;
  char stored[512]; /* GetItem's answer, %d = ver */
  dm_buf last_put;
  int items_in_batch[32];
} script;

enum {
  M_UNPROCESSED_ONCE, M_UNPROCESSED_ALWAYS, M_THROTTLE, M_VALIDATION, M_MISSING, M_CONFLICT,
  M_CONFLICT_ALWAYS
};

static script sc;

static int count(const char *s, size_t len, const char *what) {
  int n = 0;
  size_t w = strlen(what);
  for (const char *p = s; (p = memmem(p, len - (size_t)(p - s), what, w)) != NULL; p += w) n++;
  return n;
}

static action reply(int status, const char *body) {
  return (action){.kind = ANSWER, .status = status, .body = body};
}

static action handler(srv *s, const char *head, const char *body, size_t blen) {
  (void)s;
  static const char unproc[] =
      "{\"UnprocessedItems\":{\"t\":[{\"PutRequest\":{\"Item\":{\"pk\":{\"S\":\"s\"},\"sk\":"
      "{\"N\":\"3600\"}}}},{\"PutRequest\":{\"Item\":{\"pk\":{\"S\":\"s\"},\"sk\":{\"N\":\"7200\"}}}}]},"
      "\"ConsumedCapacity\":[{\"TableName\":\"t\",\"CapacityUnits\":3}]}";
  if (strstr(head, "DynamoDB_20120810.UpdateItem")) {
    sc.updates++;
    return reply(200, "{\"ConsumedCapacity\":{\"TableName\":\"t\",\"CapacityUnits\":1}}");
  }
  static char got[1024];
  static const char ccf[] = "{\"__type\":\"com.amazonaws.dynamodb.v20120810#"
                            "ConditionalCheckFailedException\",\"message\":\"The conditional "
                            "request failed\"}";
  if (strstr(head, "DynamoDB_20120810.GetItem")) {
    snprintf(got, sizeof got, sc.stored, 3 + sc.gets++);
    return reply(200, got);
  }
  if (strstr(head, "DynamoDB_20120810.PutItem")) {
    sc.puts++;
    sc.last_put.len = 0;
    dm_buf_add(&sc.last_put, body, blen);
    if (sc.mode == M_CONFLICT_ALWAYS || (sc.mode == M_CONFLICT && sc.puts == 1))
      return reply(400, ccf);
    if (memmem(body, blen, "{\"pk\":{\"S\":\"bad\"}", 17))
      return reply(400, "{\"__type\":\"com.amazon.coral.validate#ValidationException\","
                                   "\"message\":\"Item size has exceeded the maximum allowed size\"}");
    return reply(200, "{}");
  }
  if (!strstr(head, "DynamoDB_20120810.BatchWriteItem")) return reply(400, "{}");
  int k = sc.batches++;
  if (k < 32) sc.items_in_batch[k] = count(body, blen, "PutRequest");
  switch (sc.mode) {
  case M_UNPROCESSED_ONCE:
    if (k == 0) return reply(200, unproc);
    return reply(200, "{\"UnprocessedItems\":{},\"ConsumedCapacity\":[{\"TableName\":"
                                 "\"t\",\"CapacityUnits\":2.5}]}");
  case M_UNPROCESSED_ALWAYS:
    return reply(200, unproc);
  case M_THROTTLE:
    if (k < 2)
      return reply(400, "{\"__type\":\"com.amazonaws.dynamodb.v20120810#"
                                   "ProvisionedThroughputExceededException\",\"message\":\"slow\"}");
    return reply(200, "{}");
  case M_VALIDATION:
    if (memmem(body, blen, "{\"pk\":{\"S\":\"bad\"}", 17))
      return reply(400, "{\"__type\":\"com.amazon.coral.validate#ValidationException\","
                                   "\"message\":\"Item size has exceeded the maximum allowed size\"}");
    return reply(200, "{}");
  case M_CONFLICT:
  case M_CONFLICT_ALWAYS:
    return reply(200, "{}"); /* the index items */
  default:
    return reply(400, "{\"__type\":\"com.amazonaws.dynamodb.v20120810#"
                                 "ResourceNotFoundException\",\"message\":\"Requested resource not found\"}");
  }
}

/* The server keeps the loop alive: run until the callback came. */
static void run_until(fx *f, const res *r) {
  while (!r->called) uv_run(&f->loop, UV_RUN_ONCE);
}

typedef struct ffx {
  fx f;
  srv s;
} ffx;

static int setup(void **state) {
  ffx *x = calloc(1, sizeof *x);
  dm_log_set_level(DM_LOG_ERROR);
  setenv("AWS_ACCESS_KEY_ID", "test", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "test", 1);
  uv_loop_init(&x->f.loop);
  srv_start(&x->s, &x->f.loop);
  x->s.handler = handler;
  memset(&sc, 0, sizeof sc);
  dm_config_defaults(&x->f.cfg);
  snprintf(x->f.cfg.table_endpoint, sizeof x->f.cfg.table_endpoint, "http://127.0.0.1:%d",
           x->s.port);
  snprintf(x->f.cfg.table_name, sizeof x->f.cfg.table_name, "t");
  x->f.cfg.window = WINDOW;
  x->f.cfg.ager_shards = SHARDS;
  x->f.cfg.remote_max_attempts = 4;
  x->f.cfg.remote_retry_base_ms = 2;
  x->f.cfg.remote_retry_cap_ms = 10;
  char err[256];
  assert_int_equal(dm_table_dynamodb_open(&x->f.t, &x->f.loop, &x->f.cfg, err, sizeof err), 0);
  *state = x;
  return 0;
}

static int teardown(void **state) {
  ffx *x = *state;
  dm_table_close(x->f.t);
  srv_stop(&x->s);
  uv_run(&x->f.loop, UV_RUN_DEFAULT);
  dm_buf_free(&sc.last_put);
  assert_int_equal(uv_loop_close(&x->f.loop), 0);
  free(x);
  return 0;
}

static int put3(ffx *x, const char *series) {
  dm_item in[3] = {mk_item(series, 0, 5, 1), mk_item(series, 3600, 5, 2), mk_item(series, 7200, 5, 3)};
  for (int i = 0; i < 3; i++) in[i].known_new = 1;
  res r = {0};
  assert_int_equal(dm_table_put(x->f.t, in, 3, done_cb, &r), 0);
  run_until(&x->f, &r);
  assert_int_equal(r.called, 1);
  free_items(in, 3);
  return r.status;
}

static void test_unprocessed_retried(void **state) {
  ffx *x = *state;
  sc.mode = M_UNPROCESSED_ONCE;
  uint64_t u0 = dm_counter_get(dm_metric_counter("diamond_table_unprocessed_total", "", "t"));
  assert_int_equal(put3(x, "s"), 0);
  assert_int_equal(sc.batches, 2);
  assert_int_equal(sc.items_in_batch[0], 5); /* 3 data + manifest + name */
  assert_int_equal(sc.items_in_batch[1], 2); /* only the two named unprocessed */
  assert_int_equal(sc.updates, 1);
  assert_int_equal(dm_counter_get(dm_metric_counter("diamond_table_unprocessed_total", "", "t")) - u0, 2);
  dm_table_stats st;
  dm_table_stats_get(x->f.t, &st);
  assert_true(st.write_units == 3 + 2.5 + 1);
  assert_int_equal(st.items_written, 3);
}

static void test_unprocessed_forever_fails(void **state) {
  ffx *x = *state;
  sc.mode = M_UNPROCESSED_ALWAYS;
  assert_int_equal(put3(x, "s"), DM_EAGAIN);
  assert_int_equal(sc.batches, 11); /* the first try and 10 more */
  assert_int_equal(sc.updates, 0);  /* pending is never bumped for a failed put */
}

static void test_throttled_then_ok(void **state) {
  ffx *x = *state;
  sc.mode = M_THROTTLE;
  uint64_t t0 = dm_counter_get(dm_metric_counter("diamond_remote_throttles_total",
                                                 "backend=\"table\"", "t"));
  assert_int_equal(put3(x, "s"), 0);
  assert_int_equal(sc.batches, 3);
  assert_int_equal(dm_counter_get(dm_metric_counter("diamond_remote_throttles_total",
                                                    "backend=\"table\"", "t")) - t0, 2);
  char why[256];
  assert_int_equal(dm_table_health(x->f.t, why, sizeof why), 1);
}

static void test_validation_quarantines_one(void **state) {
  ffx *x = *state;
  sc.mode = M_VALIDATION;
  uint64_t q0 = dm_counter_get(dm_metric_counter("diamond_table_quarantined_total", "", "t"));
  dm_item in[2] = {mk_item("bad", 0, 5, 1), mk_item("good", 0, 5, 2)};
  in[0].known_new = in[1].known_new = 1;
  res r = {0};
  assert_int_equal(dm_table_put(x->f.t, in, 2, done_cb, &r), 0);
  run_until(&x->f, &r);
  assert_int_equal(r.status, 0);
  assert_int_equal(sc.batches, 1);
  assert_int_equal(sc.puts, 6); /* 2 data + 2 manifest + 2 names, one by one */
  assert_int_equal(dm_counter_get(dm_metric_counter("diamond_table_quarantined_total", "", "t")) - q0, 1);
  assert_true(sc.updates >= 1);
  dm_table_stats st;
  dm_table_stats_get(x->f.t, &st);
  assert_int_equal(st.items_written, 1);
  free_items(in, 2);
}

/* A merge that loses the race on ver reads again and conditions on the new version. */
static void test_conflict_reread(void **state) {
  ffx *x = *state;
  dm_point old[] = {{0, 1}}, nw[] = {{60, 2}};
  uint32_t len;
  uint8_t *c = mk_chunk_pts(old, 1, &len);
  dm_buf b;
  dm_buf_init(&b);
  ddb_b64_add(&b, c, len);
  snprintf(sc.stored, sizeof sc.stored,
           "{\"Item\":{\"pk\":{\"S\":\"s\"},\"sk\":{\"N\":\"0\"},\"v\":{\"B\":\"%s\"},"
           "\"n\":{\"N\":\"1\"},\"ver\":{\"N\":\"%%d\"}}}", b.p);
  dm_buf_free(&b);
  free(c);
  dm_item it = {.series = "s", .series_len = 1, .start = 0, .count = 1};
  it.chunk = mk_chunk_pts(nw, 1, &it.chunk_len);
  uint64_t k0 = dm_counter_get(dm_metric_counter("diamond_table_conflicts_total", "", "t"));
  for (int mode = M_CONFLICT; mode <= M_CONFLICT_ALWAYS; mode++) {
    sc.mode = mode;
    sc.gets = sc.puts = 0;
    res r = {0};
    assert_int_equal(dm_table_put(x->f.t, &it, 1, done_cb, &r), 0);
    run_until(&x->f, &r);
    if (mode == M_CONFLICT) {
      assert_int_equal(r.status, 0);
      assert_int_equal(sc.gets, 2);
      assert_int_equal(sc.puts, 2);
      /* the second try conditions on ver 4 (read again) and writes ver 5 */
      assert_non_null(strstr(sc.last_put.p, "\"ConditionExpression\":\"ver = :v\""));
      assert_non_null(strstr(sc.last_put.p, "\":v\":{\"N\":\"4\"}"));
      assert_non_null(strstr(sc.last_put.p, "\"ver\":{\"N\":\"5\"}"));
      assert_non_null(strstr(sc.last_put.p, "\"n\":{\"N\":\"2\"}")); /* both points */
    } else {
      assert_int_equal(r.status, DM_ECONFLICT);
      assert_int_equal(sc.puts, 8);
    }
  }
  assert_int_equal(dm_counter_get(dm_metric_counter("diamond_table_conflicts_total", "", "t")) - k0,
                   1 + 8);
  free((void *)it.chunk);
}

static void test_missing_table_fails(void **state) {
  ffx *x = *state;
  sc.mode = M_MISSING;
  assert_int_equal(put3(x, "s"), DM_EIO);
  char why[256];
  assert_int_equal(dm_table_health(x->f.t, why, sizeof why), 0);
  assert_string_equal(why, "table t does not exist (run diamondd --create-storage)");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_unprocessed_retried, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unprocessed_forever_fails, setup, teardown),
      cmocka_unit_test_setup_teardown(test_throttled_then_ok, setup, teardown),
      cmocka_unit_test_setup_teardown(test_validation_quarantines_one, setup, teardown),
      cmocka_unit_test_setup_teardown(test_missing_table_fails, setup, teardown),
      cmocka_unit_test_setup_teardown(test_conflict_reread, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
