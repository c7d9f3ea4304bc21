/* test_blob_s3_fake.c — the S3 store against replies s3rver never gives, from a scripted
 * HTTP server on the test's loop (test_aws_server.h): S3's error codes through the
 * classifier (SlowDown throttles, InternalError and RequestTimeout retry, others fail at
 * once), 416 on an empty object and past the end (size from Content-Range, from
 * <ActualObjectSize>, or from a HEAD), a suffix range honoured in one request, a server
 * that keeps returning the wrong range or ignores Range (a 200 with the whole object), NoSuchBucket and AccessDenied in health(), the
 * CreateBucketConfiguration body outside us-east-1, and malformed listings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "diamond/blob.h"
#include "diamond/config.h"
#include "diamond/error.h"
#include "diamond/metrics.h"
#include "test_aws_server.h"

typedef struct fx {
  uv_loop_t loop;
  srv s;
  dm_config cfg;
  dm_blob *b;
} fx;

typedef struct res {
  int called, status;
  char data[512];
  size_t len;
  uint64_t size;
  char names[8][64];
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
  snprintf(r->data, sizeof r->data, "%.*s", (int)len, (const char *)data);
}

static void names_cb(void *arg, int status, const dm_name_ref *names, size_t n) {
  res *r = arg;
  r->called++;
  r->status = status;
  r->n = n;
  for (size_t i = 0; i < n && i < 8; i++)
    snprintf(r->names[i], sizeof r->names[i], "%.*s", (int)names[i].len, names[i].s);
}

static void on_deadline(uv_timer_t *t) { *(int *)t->data = 1; }

static void run_until(fx *f, int *count) {
  int expired = 0;
  uv_timer_t t;
  uv_timer_init(&f->loop, &t);
  t.data = &expired;
  uv_timer_start(&t, on_deadline, 10000, 0);
  while (*count < 1 && !expired) uv_run(&f->loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(&f->loop, UV_RUN_NOWAIT);
  assert_false(expired);
}

static void open_store(fx *f, const char *region) {
  dm_config_defaults(&f->cfg);
  snprintf(f->cfg.blob_endpoint, sizeof f->cfg.blob_endpoint, "http://127.0.0.1:%d", f->s.port);
  snprintf(f->cfg.blob_bucket, sizeof f->cfg.blob_bucket, "diamond");
  snprintf(f->cfg.blob_region, sizeof f->cfg.blob_region, "%s", region);
  snprintf(f->cfg.blob_prefix, sizeof f->cfg.blob_prefix, "dm/");
  f->cfg.remote_retry_base_ms = 1;
  f->cfg.remote_retry_cap_ms = 5;
  f->cfg.remote_timeout_ms = 2000;
  char err[256];
  assert_int_equal(dm_blob_s3_open(&f->b, &f->loop, &f->cfg, err, sizeof err), 0);
}

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  uv_loop_init(&f->loop);
  srv_start(&f->s, &f->loop);
  setenv("AWS_ACCESS_KEY_ID", "AK", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "SK", 1);
  dm_metrics_reset();
  open_store(f, "us-east-1");
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  if (f->b != NULL) dm_blob_close(f->b);
  srv_stop(&f->s);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  free(f);
  dm_metrics_reset();
  return 0;
}

static res get(fx *f, int64_t off, size_t len) {
  res r = {0};
  assert_int_equal(dm_blob_get_range(f->b, "v1/k.dmb", off, len, bytes_cb, &r), 0);
  run_until(f, &r.called);
  return r;
}

static res put(fx *f) {
  res r = {0};
  assert_int_equal(dm_blob_put(f->b, "v1/k.dmb", (const uint8_t *)"data", 4, done_cb, &r), 0);
  run_until(f, &r.called);
  return r;
}

/* ---- ranges -------------------------------------------------------------------------- */

static action suffix_honoured(srv *s, const char *head, const char *body, size_t blen) {
  (void)s;
  (void)body;
  (void)blen;
  assert_non_null(strstr(head, "GET /diamond/dm/v1/k.dmb HTTP/1.1\r\n"));
  assert_non_null(strstr(head, "\r\nRange: bytes=-10\r\n"));
  return (action){.status = 206, .body = "0123456789",
                  .headers = "Content-Range: bytes 90-99/100\r\n"};
}

static void suffix_range_in_one_request(void **state) {
  fx *f = *state;
  f->s.handler = suffix_honoured;
  res r = get(f, -10, 10);
  assert_int_equal(r.status, 0);
  assert_string_equal(r.data, "0123456789");
  assert_int_equal(r.size, 100);
  assert_int_equal(f->s.requests, 1);
}

#define HUNDRED                                                                                \
  "0123456789abcdefghijABCDEFGHIJ0123456789abcdefghijABCDEFGHIJ0123456789abcdefghijABCDEFGHIJ" \
  "0123456789"

static action range_ignored(srv *s, const char *head, const char *body, size_t blen) {
  (void)s;
  (void)head;
  (void)body;
  (void)blen;
  return (action){.status = 200, .body = HUNDRED}; /* the whole object, Range ignored */
}

static void whole_object_when_range_is_ignored(void **state) {
  fx *f = *state;
  f->s.handler = range_ignored;
  res r = get(f, 10, 20);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.size, 100);
  assert_int_equal(r.len, 20);
  assert_memory_equal(r.data, HUNDRED + 10, 20);
  r = get(f, -5, 5);
  assert_int_equal(r.size, 100);
  assert_string_equal(r.data, "56789");
  assert_int_equal(f->s.requests, 2);
}

static action range_416_content_range(srv *s, const char *head, const char *body, size_t blen) {
  (void)s;
  (void)head;
  (void)body;
  (void)blen;
  return (action){.status = 416, .body = "<Error><Code>InvalidRange</Code></Error>",
                  .headers = "Content-Range: bytes */0\r\n"};
}

static void empty_object_416(void **state) {
  fx *f = *state;
  f->s.handler = range_416_content_range;
  res r = get(f, 0, 10);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.len, 0);
  assert_int_equal(r.size, 0);
  r = get(f, -10, 10);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.len, 0);
  assert_int_equal(r.size, 0);
  assert_int_equal(f->s.requests, 2);
  assert_int_equal(dm_blob_health(f->b, NULL, 0), 1);
}

static action range_416_body(srv *s, const char *head, const char *body, size_t blen) {
  (void)s;
  (void)head;
  (void)body;
  (void)blen;
  return (action){.status = 416,
                  .body = "<?xml version=\"1.0\"?><Error><Code>InvalidRange</Code><RangeRequested>"
                          "bytes=500-509</RangeRequested><ActualObjectSize>100</ActualObjectSize>"
                          "</Error>"};
}

static void past_the_end_size_from_body(void **state) {
  fx *f = *state;
  f->s.handler = range_416_body;
  res r = get(f, 500, 10);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.len, 0);
  assert_int_equal(r.size, 100);
  assert_int_equal(f->s.requests, 1);
}

static action range_416_then_head(srv *s, const char *head, const char *body, size_t blen) {
  (void)s;
  (void)body;
  (void)blen;
  if (strncmp(head, "HEAD /diamond/dm/v1/k.dmb ", 26) == 0)
    return (action){.status = 200, .no_body = 1, .headers = "Content-Length: 100\r\n"};
  return (action){.status = 416, .body = ""};
}

static void past_the_end_size_from_head(void **state) {
  fx *f = *state;
  f->s.handler = range_416_then_head;
  res r = get(f, 500, 10);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.len, 0);
  assert_int_equal(r.size, 100);
  assert_int_equal(f->s.requests, 2);
}

static action always_wrong_range(srv *s, const char *head, const char *body, size_t blen) {
  (void)s;
  (void)head;
  (void)body;
  (void)blen;
  return (action){.status = 206, .body = "0123456789",
                  .headers = "Content-Range: bytes 0-9/100\r\n"};
}

static void wrong_range_twice_is_an_error(void **state) {
  fx *f = *state;
  f->s.handler = always_wrong_range;
  res r = get(f, 50, 10);
  assert_int_equal(r.status, DM_EIO);
  assert_int_equal(f->s.requests, 2); /* asked once more, exactly */
  assert_non_null(strstr(f->s.last_head.p, "\r\nRange: bytes=50-59\r\n"));
}

static action bad_content_range(srv *s, const char *head, const char *body, size_t blen) {
  (void)s;
  (void)head;
  (void)body;
  (void)blen;
  return (action){.status = 206, .body = "0123456789",
                  .headers = "Content-Range: bytes 0-99/100\r\n"}; /* 10 bytes, not 100 */
}

static void inconsistent_content_range(void **state) {
  fx *f = *state;
  f->s.handler = bad_content_range;
  res r = get(f, 0, 100);
  assert_int_equal(r.status, DM_EIO);
  char why[512];
  assert_int_equal(dm_blob_health(f->b, why, sizeof why), 0);
  assert_non_null(strstr(why, "unexpected reply"));
}

/* ---- errors and retries -------------------------------------------------------------- */

static int script_n;
static const action *script;

static action scripted(srv *s, const char *head, const char *body, size_t blen) {
  (void)head;
  (void)body;
  (void)blen;
  int i = s->requests - 1;
  return script[i < script_n ? i : script_n - 1];
}

#define SLOWDOWN "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"

static void slowdown_throttles_then_succeeds(void **state) {
  fx *f = *state;
  static const action a[] = {{.status = 503, .body = SLOWDOWN},
                             {.status = 503, .body = SLOWDOWN},
                             {.status = 200, .body = ""}};
  script = a;
  script_n = 3;
  f->s.handler = scripted;
  res r = put(f);
  assert_int_equal(r.status, 0);
  assert_int_equal(f->s.requests, 3);
  dm_buf m;
  dm_buf_init(&m);
  dm_metrics_render(&m);
  assert_non_null(strstr(m.p, "diamond_remote_throttles_total{backend=\"blob\"} 2\n"));
  assert_non_null(strstr(m.p, "diamond_remote_retries_total{backend=\"blob\"} 2\n"));
  assert_non_null(
      strstr(m.p, "diamond_remote_requests_total{backend=\"blob\",op=\"PutObject\"} 3\n"));
  assert_non_null(
      strstr(m.p, "diamond_remote_errors_total{backend=\"blob\",op=\"PutObject\"} 2\n"));
  dm_buf_free(&m);
  assert_int_equal(dm_blob_health(f->b, NULL, 0), 1);
}

static void slowdown_until_tries_run_out(void **state) {
  fx *f = *state;
  static const action a[] = {{.status = 503, .body = SLOWDOWN}};
  script = a;
  script_n = 1;
  f->s.handler = scripted;
  res r = put(f);
  assert_int_equal(r.status, DM_EAGAIN);
  assert_int_equal(f->s.requests, 6);
  char why[512];
  assert_int_equal(dm_blob_health(f->b, why, sizeof why), 0);
  assert_string_equal(why, "PUT s3 PutObject: 503 SlowDown (after 6 tries)");
  /* the next success heals */
  static const action ok[] = {{.status = 200, .body = ""}};
  script = ok;
  f->s.requests = 0;
  r = put(f);
  assert_int_equal(r.status, 0);
  assert_int_equal(dm_blob_health(f->b, why, sizeof why), 1);
}

static void internal_error_and_request_timeout_retry(void **state) {
  fx *f = *state;
  static const action a[] = {
      {.status = 500, .body = "<Error><Code>InternalError</Code></Error>"},
      {.status = 400, .body = "<Error><Code>RequestTimeout</Code></Error>"},
      {.status = 200, .body = "ok", .headers = "Content-Range: bytes 0-1/2\r\n"}};
  script = a;
  script_n = 3;
  f->s.handler = scripted;
  res r = get(f, 0, 2);
  assert_int_equal(r.status, 0);
  assert_string_equal(r.data, "ok");
  assert_int_equal(f->s.requests, 3);
}

static void other_errors_fail_at_once(void **state) {
  fx *f = *state;
  static const action a[] = {
      {.status = 400, .body = "<Error><Code>InvalidArgument</Code></Error>"}};
  script = a;
  script_n = 1;
  f->s.handler = scripted;
  res r = put(f);
  assert_int_equal(r.status, DM_EIO);
  assert_int_equal(f->s.requests, 1);
  char why[512];
  assert_int_equal(dm_blob_health(f->b, why, sizeof why), 0);
  assert_string_equal(why, "PUT s3 PutObject: 400 InvalidArgument (after 1 try)");
}

static void no_such_bucket_on_get(void **state) {
  fx *f = *state;
  static const action a[] = {
      {.status = 404, .body = "<Error><Code>NoSuchBucket</Code></Error>"}};
  script = a;
  script_n = 1;
  f->s.handler = scripted;
  res r = get(f, 0, 10);
  assert_int_equal(r.status, DM_EIO); /* not DM_ENOENT: the bucket is gone, not the key */
  char why[512];
  assert_int_equal(dm_blob_health(f->b, why, sizeof why), 0);
  assert_string_equal(why, "bucket diamond does not exist");
}

static void probe_access_denied(void **state) {
  fx *f = *state;
  static const action a[] = {
      {.status = 403, .body = "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"}};
  script = a;
  script_n = 1;
  f->s.handler = scripted;
  res r = {0};
  assert_int_equal(dm_blob_probe(f->b, done_cb, &r), 0);
  run_until(f, &r.called);
  assert_int_equal(r.status, DM_EIO);
  assert_non_null(strstr(f->s.last_head.p, "GET /diamond?list-type=2&max-keys=1 HTTP/1.1"));
  char why[512];
  assert_int_equal(dm_blob_health(f->b, why, sizeof why), 0);
  assert_string_equal(why, "access denied to bucket diamond: AccessDenied");
}

static action create_elsewhere(srv *s, const char *head, const char *body, size_t blen) {
  (void)body;
  (void)blen;
  assert_non_null(strstr(head, "PUT /diamond HTTP/1.1\r\n"));
  assert_string_equal(s->last_body.p, "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/"
                            "2006-03-01/\"><LocationConstraint>eu-west-1</LocationConstraint>"
                            "</CreateBucketConfiguration>");
  assert_non_null(strstr(head, "/eu-west-1/s3/aws4_request"));
  return (action){.status = 409, .body = "<Error><Code>BucketAlreadyOwnedByYou</Code></Error>"};
}

static void create_outside_us_east_1(void **state) {
  fx *f = *state;
  dm_blob_close(f->b);
  open_store(f, "eu-west-1");
  f->s.handler = create_elsewhere;
  res r = {0};
  assert_int_equal(dm_blob_create(f->b, done_cb, &r), 0);
  run_until(f, &r.called);
  assert_int_equal(r.status, 0);
  assert_int_equal(f->s.requests, 1);
}

static action create_us_east(srv *s, const char *head, const char *body, size_t blen) {
  (void)s;
  (void)body;
  assert_non_null(strstr(head, "PUT /diamond HTTP/1.1\r\n"));
  assert_int_equal(blen, 0); /* us-east-1 takes no configuration */
  return (action){.status = 200, .body = ""};
}

static void create_in_us_east_1(void **state) {
  fx *f = *state;
  f->s.handler = create_us_east;
  res r = {0};
  assert_int_equal(dm_blob_create(f->b, done_cb, &r), 0);
  run_until(f, &r.called);
  assert_int_equal(r.status, 0);
}

/* ---- listings ------------------------------------------------------------------------ */

static void list_decodes_entities(void **state) {
  fx *f = *state;
  static const action a[] = {
      {.status = 200,
       .body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult "
               "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>diamond</Name>"
               "<Prefix>dm/v1/</Prefix><KeyCount>3</KeyCount><MaxKeys>1000</MaxKeys>"
               "<IsTruncated>false</IsTruncated>"
               "<Contents><Key>dm/v1/b&amp;c&lt;d&gt;&quot;&apos;.dmb</Key><Size>1</Size></Contents>"
               "<Contents><Key>dm/v1/caf&#xE9;&#233;.dmb</Key></Contents>"
               "<Contents><Key>dm/v1/a.dmb</Key></Contents></ListBucketResult>"}};
  script = a;
  script_n = 1;
  f->s.handler = scripted;
  res r = {0};
  assert_int_equal(dm_blob_list(f->b, "v1/", names_cb, &r), 0);
  run_until(f, &r.called);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.n, 3);
  assert_string_equal(r.names[0], "v1/a.dmb");
  assert_string_equal(r.names[1], "v1/b&c<d>\"'.dmb");
  assert_string_equal(r.names[2], "v1/caf\xc3\xa9\xc3\xa9.dmb");
  assert_non_null(strstr(f->s.last_head.p,
                         "GET /diamond?list-type=2&max-keys=1000&prefix=dm%2Fv1%2F HTTP/1.1"));
}

static void list_follows_tokens(void **state) {
  fx *f = *state;
  static const action a[] = {
      {.status = 200,
       .body = "<ListBucketResult><IsTruncated>true</IsTruncated><Contents><Key>dm/b</Key>"
               "</Contents><NextContinuationToken>t/1+&amp;=</NextContinuationToken>"
               "</ListBucketResult>"},
      {.status = 200,
       .body = "<ListBucketResult><ContinuationToken>t/1+&amp;=</ContinuationToken>"
               "<IsTruncated>false</IsTruncated><Contents><Key>dm/a</Key></Contents>"
               "</ListBucketResult>"}};
  script = a;
  script_n = 2;
  f->s.handler = scripted;
  res r = {0};
  assert_int_equal(dm_blob_list(f->b, "", names_cb, &r), 0);
  run_until(f, &r.called);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.n, 2);
  assert_string_equal(r.names[0], "a");
  assert_string_equal(r.names[1], "b");
  assert_non_null(strstr(f->s.last_head.p, "GET /diamond?continuation-token=t%2F1%2B%26%3D&"
                                           "list-type=2&max-keys=1000&prefix=dm%2F HTTP/1.1"));
}

static void list_malformed(void **state) {
  fx *f = *state;
  static const action truncated_no_token[] = {
      {.status = 200,
       .body = "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>"}};
  static const action not_a_list[] = {{.status = 200, .body = "<html>hello</html>"}};
  static const action bad_entity[] = {
      {.status = 200,
       .body = "<ListBucketResult><Contents><Key>dm/caf&eacute;</Key></Contents>"
               "</ListBucketResult>"}};
  const action *cases[] = {truncated_no_token, not_a_list, bad_entity};
  for (int i = 0; i < 3; i++) {
    script = cases[i];
    script_n = 1;
    f->s.requests = 0;
    f->s.handler = scripted;
    res r = {0};
    assert_int_equal(dm_blob_list(f->b, "", names_cb, &r), 0);
    run_until(f, &r.called);
    assert_int_equal(r.status, DM_ECORRUPT);
    assert_int_equal(r.n, 0);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(suffix_range_in_one_request, setup, teardown),
      cmocka_unit_test_setup_teardown(whole_object_when_range_is_ignored, setup, teardown),
      cmocka_unit_test_setup_teardown(empty_object_416, setup, teardown),
      cmocka_unit_test_setup_teardown(past_the_end_size_from_body, setup, teardown),
      cmocka_unit_test_setup_teardown(past_the_end_size_from_head, setup, teardown),
      cmocka_unit_test_setup_teardown(wrong_range_twice_is_an_error, setup, teardown),
      cmocka_unit_test_setup_teardown(inconsistent_content_range, setup, teardown),
      cmocka_unit_test_setup_teardown(slowdown_throttles_then_succeeds, setup, teardown),
      cmocka_unit_test_setup_teardown(slowdown_until_tries_run_out, setup, teardown),
      cmocka_unit_test_setup_teardown(internal_error_and_request_timeout_retry, setup, teardown),
      cmocka_unit_test_setup_teardown(other_errors_fail_at_once, setup, teardown),
      cmocka_unit_test_setup_teardown(no_such_bucket_on_get, setup, teardown),
      cmocka_unit_test_setup_teardown(probe_access_denied, setup, teardown),
      cmocka_unit_test_setup_teardown(create_outside_us_east_1, setup, teardown),
      cmocka_unit_test_setup_teardown(create_in_us_east_1, setup, teardown),
      cmocka_unit_test_setup_teardown(list_decodes_entities, setup, teardown),
      cmocka_unit_test_setup_teardown(list_follows_tokens, setup, teardown),
      cmocka_unit_test_setup_teardown(list_malformed, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
