/* test_aws_client.c — the remote client on real sockets: a tiny HTTP/1.1 server on the same
 * libuv loop (127.0.0.1, a port the kernel picks) answers as each test scripts it.
 *
 * Covered: signed headers on the wire (Authorization, X-Amz-Date, the body's SHA-256, the
 * session token), response headers, keep-alive reuse, 503 twice then 200 (tries, statuses,
 * counters, metrics), a reset connection, a reply slower than timeout_ms, a permanent 4xx,
 * connection refused (the message), max_inflight never exceeded on the server side,
 * DM_EBUSY when the queue is full, and close with requests queued, waiting and in flight.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "diamond/aws.h"
#include "diamond/buf.h"
#include "diamond/error.h"
#include "diamond/metrics.h"
#include "diamond/sigv4.h"
#include "test_aws_server.h"

/* ---- fixture ------------------------------------------------------------------------- */

typedef struct fx {
  uv_loop_t loop;
  srv s;
  dm_aws *a;
  char endpoint[64];
} fx;

typedef struct res {
  int called, status;
  long code;
  uint32_t attempts;
  char body[256], curl_error[256], error_type[128], content_range[64];
  size_t inflight_seen; /* the client's in-flight count when this callback ran */
  fx *f;
  int *done;
} res;

static void on_reply(void *arg, int status, const dm_aws_reply *r) {
  res *x = arg;
  x->called++;
  x->status = status;
  x->code = r->code;
  x->attempts = r->attempts;
  snprintf(x->body, sizeof x->body, "%.*s", (int)r->len, (const char *)r->body);
  snprintf(x->curl_error, sizeof x->curl_error, "%s", r->curl_error);
  snprintf(x->error_type, sizeof x->error_type, "%s", r->error_type);
  const char *cr = dm_aws_reply_header(r, "content-range");
  snprintf(x->content_range, sizeof x->content_range, "%s", cr ? cr : "");
  if (x->f != NULL && x->f->a != NULL) {
    dm_aws_stats st;
    dm_aws_stats_get(x->f->a, &st);
    x->inflight_seen = st.inflight;
  }
  if (x->done) (*x->done)++;
}

static dm_aws_opts opts_for(fx *f) {
  return (dm_aws_opts){.backend = "t", .service = "s3", .region = "us-east-1",
                       .endpoint = f->endpoint, .access_key = "AK", .secret_key = "SK",
                       .timeout_ms = 2000, .connect_timeout_ms = 1000, .max_inflight = 4,
                       .max_queue = 16, .max_attempts = 3, .retry_base_ms = 2,
                       .retry_cap_ms = 10};
}

static void open_client(fx *f, const dm_aws_opts *o) {
  char err[256];
  assert_int_equal(dm_aws_open(&f->a, &f->loop, o, err, sizeof err), 0);
}

static void on_deadline(uv_timer_t *t) { *(int *)t->data = 1; }

/* Runs the loop until *count reaches want (fails after 10 s). */
static void run_until(fx *f, int *count, int want) {
  int expired = 0;
  uv_timer_t t;
  uv_timer_init(&f->loop, &t);
  t.data = &expired;
  uv_timer_start(&t, on_deadline, 10000, 0);
  while (*count < want && !expired) uv_run(&f->loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(&f->loop, UV_RUN_NOWAIT);
  assert_false(expired);
}

/* Sends q and runs the loop until its reply, copied into *r. */
static void send_wait(fx *f, const dm_aws_req *q, res *r) {
  int done = 0;
  *r = (res){.done = &done};
  assert_int_equal(dm_aws_send(f->a, q, on_reply, r), 0);
  run_until(f, &done, 1);
  r->done = NULL;
}

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  uv_loop_init(&f->loop);
  srv_start(&f->s, &f->loop);
  snprintf(f->endpoint, sizeof f->endpoint, "http://127.0.0.1:%d", f->s.port);
  dm_metrics_reset();
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  if (f->a != NULL) dm_aws_close(f->a);
  srv_stop(&f->s);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  free(f);
  dm_metrics_reset();
  return 0;
}

static dm_aws_req get_req(const char *path) {
  return (dm_aws_req){.method = "GET", .path = path, .op = "GetObject"};
}

/* ---- tests --------------------------------------------------------------------------- */

static action ok_with_range(srv *s, const char *head, const char *body, size_t blen) {
  (void)s;
  (void)head;
  (void)body;
  (void)blen;
  return (action){.kind = ANSWER, .status = 206, .body = "0123456789",
                  .headers = "Content-Range: bytes 0-9/100\r\n"};
}

static void signed_request_and_reply_headers(void **state) {
  fx *f = *state;
  f->s.handler = ok_with_range;
  dm_aws_opts o = opts_for(f);
  o.session_token = "TOKEN1";
  open_client(f, &o);
  int done = 0;
  res r = {.f = f, .done = &done};
  dm_aws_header h[] = {{"Range", "bytes=0-9"}, {"Content-Type", "application/octet-stream"}};
  const char *payload = "hello body";
  dm_aws_req q = {.method = "PUT", .path = "/bucket/a%20b/c.dmb", .query = "x-id=1",
                  .headers = h, .nheaders = 2, .body = (const uint8_t *)payload,
                  .len = strlen(payload), .op = "PutObject"};
  assert_int_equal(dm_aws_send(f->a, &q, on_reply, &r), 0);
  assert_int_equal(r.called, 0); /* never inside send */
  run_until(f, &done, 1);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.code, 206);
  assert_int_equal(r.attempts, 1);
  assert_string_equal(r.body, "0123456789");
  assert_string_equal(r.content_range, "bytes 0-9/100");
  const char *head = f->s.last_head.p;
  assert_non_null(strstr(head, "PUT /bucket/a%20b/c.dmb?x-id=1 HTTP/1.1\r\n"));
  char host[64], sha[65], want[128];
  snprintf(host, sizeof host, "\r\nHost: 127.0.0.1:%d\r\n", f->s.port);
  assert_non_null(strstr(head, host));
  dm_sigv4_sha256_hex(payload, strlen(payload), sha);
  snprintf(want, sizeof want, "\r\nX-Amz-Content-Sha256: %s\r\n", sha);
  assert_non_null(strstr(head, want));
  assert_non_null(strstr(head, "\r\nX-Amz-Date: 20"));
  assert_non_null(strstr(head, "\r\nX-Amz-Security-Token: TOKEN1\r\n"));
  assert_non_null(strstr(head, "\r\nRange: bytes=0-9\r\n"));
  assert_non_null(strstr(head, "\r\nContent-Type: application/octet-stream\r\n"));
  assert_non_null(strstr(head, "\r\nAuthorization: AWS4-HMAC-SHA256 Credential=AK/20"));
  assert_non_null(strstr(head, "/us-east-1/s3/aws4_request, SignedHeaders=content-type;host;"
                               "range;x-amz-content-sha256;x-amz-date;x-amz-security-token, "
                               "Signature="));
  assert_null(strcasestr(head, "\r\nExpect:"));
  assert_string_equal(f->s.last_body.p, payload);
}

static action plain_ok(srv *s, const char *head, const char *body, size_t blen) {
  (void)s;
  (void)head;
  (void)body;
  (void)blen;
  return (action){.kind = ANSWER, .status = 200, .body = "ok"};
}

static void keep_alive_reuses_one_connection(void **state) {
  fx *f = *state;
  f->s.handler = plain_ok;
  dm_aws_opts o = opts_for(f);
  o.access_key = o.secret_key = ""; /* from the environment: none there */
  unsetenv("AWS_ACCESS_KEY_ID");
  unsetenv("AWS_SECRET_ACCESS_KEY");
  unsetenv("AWS_SESSION_TOKEN");
  open_client(f, &o);
  int done = 0;
  for (int i = 0; i < 5; i++) {
    res r = {.done = &done};
    dm_aws_req q = get_req("/k");
    assert_int_equal(dm_aws_send(f->a, &q, on_reply, &r), 0);
    run_until(f, &done, i + 1);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.body, "ok");
  }
  assert_int_equal(f->s.requests, 5);
  assert_int_equal(f->s.accepted, 1);
  assert_null(strstr(f->s.last_head.p, "Authorization")); /* no key: unsigned */
}

static action fail_twice_503(srv *s, const char *head, const char *body, size_t blen) {
  (void)head;
  (void)body;
  (void)blen;
  if (s->fail_count++ < 2)
    return (action){.kind = ANSWER, .status = 503, .body = "<Error><Code>SlowDown</Code></Error>"};
  return (action){.kind = ANSWER, .status = 200, .body = "finally"};
}

static void retries_503_then_succeeds(void **state) {
  fx *f = *state;
  f->s.handler = fail_twice_503;
  dm_aws_opts o = opts_for(f);
  static const char *const ops[] = {"GetObject", "PutObject", NULL};
  o.ops = ops;
  open_client(f, &o);
  int done = 0;
  res r = {.done = &done};
  dm_aws_req q = get_req("/x");
  assert_int_equal(dm_aws_send(f->a, &q, on_reply, &r), 0);
  run_until(f, &done, 1);
  assert_int_equal(r.called, 1);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.code, 200);
  assert_int_equal(r.attempts, 3);
  assert_string_equal(r.body, "finally");
  assert_int_equal(f->s.requests, 3);
  dm_aws_stats st;
  dm_aws_stats_get(f->a, &st);
  assert_int_equal(st.requests, 3);
  assert_int_equal(st.errors, 2);
  assert_int_equal(st.retries, 2);
  assert_int_equal(st.throttles, 0);
  assert_int_equal(st.inflight, 0);
  assert_int_equal(st.failing, 0);
  assert_int_equal(st.bytes_in, 2 * strlen("<Error><Code>SlowDown</Code></Error>") + 7);

  dm_buf m;
  dm_buf_init(&m);
  dm_metrics_render(&m);
  assert_non_null(strstr(m.p, "diamond_remote_requests_total{backend=\"t\",op=\"GetObject\"} 3\n"));
  assert_non_null(strstr(m.p, "diamond_remote_errors_total{backend=\"t\",op=\"GetObject\"} 2\n"));
  assert_non_null(strstr(m.p, "diamond_remote_requests_total{backend=\"t\",op=\"PutObject\"} 0\n"));
  assert_non_null(strstr(m.p, "diamond_remote_retries_total{backend=\"t\"} 2\n"));
  assert_non_null(strstr(m.p, "diamond_remote_throttles_total{backend=\"t\"} 0\n"));
  assert_non_null(strstr(m.p, "diamond_remote_inflight{backend=\"t\"} 0\n"));
  assert_non_null(strstr(m.p, "diamond_remote_request_seconds_count{backend=\"t\"} 3\n"));
  dm_buf_free(&m);

  /* an op outside opts.ops counts as "other" */
  res r2 = {.done = &done};
  dm_aws_req q2 = {.method = "DELETE", .path = "/x", .op = "DeleteObject"};
  f->s.fail_count = 2;
  assert_int_equal(dm_aws_send(f->a, &q2, on_reply, &r2), 0);
  run_until(f, &done, 2);
  dm_buf_init(&m);
  dm_metrics_render(&m);
  assert_non_null(strstr(m.p, "diamond_remote_requests_total{backend=\"t\",op=\"other\"} 1\n"));
  assert_null(strstr(m.p, "DeleteObject"));
  dm_buf_free(&m);
}

/* SlowDown as a throttle, as the S3 classifier says. */
static dm_aws_verdict slowdown_throttles(long code, const uint8_t *body, size_t len,
                                         char *error_type) {
  (void)len;
  if (code == 503 && strstr((const char *)body, "SlowDown") != NULL) {
    snprintf(error_type, 128, "SlowDown");
    return DM_AWS_THROTTLE;
  }
  return dm_aws_classify_default(code, body, len, error_type);
}

static action always_503(srv *s, const char *head, const char *body, size_t blen) {
  (void)s;
  (void)head;
  (void)body;
  (void)blen;
  return (action){.kind = ANSWER, .status = 503, .body = "<Error><Code>SlowDown</Code></Error>"};
}

static void throttled_until_tries_run_out(void **state) {
  fx *f = *state;
  f->s.handler = always_503;
  dm_aws_opts o = opts_for(f);
  o.max_attempts = 4;
  open_client(f, &o);
  int done = 0;
  res r = {.done = &done};
  dm_aws_req q = {.method = "PUT", .path = "/b/k", .op = "PutObject",
                  .classify = slowdown_throttles};
  assert_int_equal(dm_aws_send(f->a, &q, on_reply, &r), 0);
  run_until(f, &done, 1);
  assert_int_equal(r.status, DM_EAGAIN);
  assert_int_equal(r.code, 503);
  assert_int_equal(r.attempts, 4);
  assert_string_equal(r.error_type, "SlowDown");
  dm_aws_stats st;
  dm_aws_stats_get(f->a, &st);
  assert_int_equal(st.requests, 4);
  assert_int_equal(st.throttles, 4);
  assert_int_equal(st.retries, 3);
  assert_int_equal(st.failing, 1);
  assert_string_equal(st.last_error, "PUT s3 PutObject: 503 SlowDown (after 4 tries)");
  /* a success clears failing but keeps the last error */
  f->s.handler = plain_ok;
  res r2 = {.done = &done};
  assert_int_equal(dm_aws_send(f->a, &q, on_reply, &r2), 0);
  run_until(f, &done, 2);
  dm_aws_stats_get(f->a, &st);
  assert_int_equal(st.failing, 0);
  assert_string_equal(st.last_error, "PUT s3 PutObject: 503 SlowDown (after 4 tries)");
}

static action bad_request(srv *s, const char *head, const char *body, size_t blen) {
  (void)s;
  (void)head;
  (void)body;
  (void)blen;
  return (action){.kind = ANSWER, .status = 400, .body = "nope"};
}

static void permanent_4xx(void **state) {
  fx *f = *state;
  f->s.handler = bad_request;
  dm_aws_opts o = opts_for(f);
  open_client(f, &o);
  dm_aws_req q = {.method = "POST", .path = "/", .op = "Query"};
  res r;
  send_wait(f, &q, &r);
  assert_int_equal(r.status, DM_EIO);
  assert_int_equal(r.code, 400);
  assert_int_equal(r.attempts, 1);
  assert_string_equal(r.body, "nope");
  assert_int_equal(f->s.requests, 1);
  dm_aws_stats st;
  dm_aws_stats_get(f->a, &st);
  assert_string_equal(st.last_error, "POST s3 Query: 400 (after 1 try)");
}

static action reset_first(srv *s, const char *head, const char *body, size_t blen) {
  (void)head;
  (void)body;
  (void)blen;
  if (s->fail_count++ == 0) return (action){.kind = RESET};
  return (action){.kind = ANSWER, .status = 200, .body = "after reset"};
}

static void reset_connection(void **state) {
  fx *f = *state;
  f->s.handler = reset_first;
  dm_aws_opts o = opts_for(f);
  open_client(f, &o);
  dm_aws_req q = get_req("/r");
  res r;
  send_wait(f, &q, &r);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.attempts, 2);
  assert_string_equal(r.body, "after reset");
  assert_int_equal(f->s.accepted, 2);
  dm_aws_stats st;
  dm_aws_stats_get(f->a, &st);
  assert_int_equal(st.retries, 1);
  assert_int_equal(st.errors, 1);
}

static action hold(srv *s, const char *head, const char *body, size_t blen) {
  (void)s;
  (void)head;
  (void)body;
  (void)blen;
  return (action){.kind = HOLD};
}

static void slow_reply_times_out(void **state) {
  fx *f = *state;
  f->s.handler = hold;
  dm_aws_opts o = opts_for(f);
  o.timeout_ms = 100;
  o.max_attempts = 2;
  open_client(f, &o);
  int done = 0;
  res r = {.done = &done};
  dm_aws_req q = {.method = "POST", .path = "/", .op = "Query"};
  uint64_t t0 = uv_hrtime();
  assert_int_equal(dm_aws_send(f->a, &q, on_reply, &r), 0);
  run_until(f, &done, 1);
  double secs = (double)(uv_hrtime() - t0) / 1e9;
  assert_int_equal(r.status, DM_EAGAIN);
  assert_int_equal(r.code, 0);
  assert_int_equal(r.attempts, 2);
  assert_non_null(strstr(r.curl_error, "imed out"));
  assert_true(secs >= 0.2 && secs < 2.0);
  assert_int_equal(f->s.requests, 2);
  dm_aws_stats st;
  dm_aws_stats_get(f->a, &st);
  assert_non_null(strstr(st.last_error, "POST s3 Query: "));
  assert_non_null(strstr(st.last_error, " (after 2 tries)"));
}

static void connection_refused(void **state) {
  fx *f = *state;
  /* a port that was free a moment ago: bind, read it, close */
  uv_tcp_t t;
  uv_tcp_init(&f->loop, &t);
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", 0, &a);
  uv_tcp_bind(&t, (const struct sockaddr *)&a, 0);
  struct sockaddr_storage ss;
  int len = sizeof ss;
  uv_tcp_getsockname(&t, (struct sockaddr *)&ss, &len);
  int port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(&f->loop, UV_RUN_NOWAIT);
  snprintf(f->endpoint, sizeof f->endpoint, "http://127.0.0.1:%d/", port);
  dm_aws_opts o = opts_for(f);
  o.service = "dynamodb";
  open_client(f, &o);
  dm_aws_req q = {.method = "POST", .path = "/", .op = "Query"};
  res r;
  send_wait(f, &q, &r);
  assert_int_equal(r.status, DM_EAGAIN);
  assert_int_equal(r.code, 0);
  assert_int_equal(r.attempts, 3);
  char port_s[32];
  snprintf(port_s, sizeof port_s, "port %d", port);
  assert_non_null(strstr(r.curl_error, port_s));
  assert_non_null(strstr(r.curl_error, ": Connection refused"));
  dm_aws_stats st;
  dm_aws_stats_get(f->a, &st);
  assert_int_equal(st.failing, 1);
  assert_true(strncmp(st.last_error, "POST dynamodb Query: ", 21) == 0);
  assert_non_null(strstr(st.last_error, port_s));
  assert_non_null(strstr(st.last_error, " (after 3 tries)"));
}

static action slow_ok(srv *s, const char *head, const char *body, size_t blen) {
  (void)s;
  (void)head;
  (void)body;
  (void)blen;
  return (action){.kind = ANSWER, .status = 200, .body = "slow", .delay_ms = 20};
}

static void inflight_is_bounded(void **state) {
  fx *f = *state;
  f->s.handler = slow_ok;
  dm_aws_opts o = opts_for(f);
  o.max_inflight = 3;
  o.max_queue = 100;
  open_client(f, &o);
  enum { N = 12 };
  res r[N];
  int done = 0;
  for (int i = 0; i < N; i++) {
    r[i] = (res){.f = f, .done = &done};
    dm_aws_req q = get_req("/slow");
    assert_int_equal(dm_aws_send(f->a, &q, on_reply, &r[i]), 0);
  }
  dm_aws_stats st;
  dm_aws_stats_get(f->a, &st);
  assert_int_equal(st.inflight, 3);
  assert_int_equal(st.queued, N - 3);
  run_until(f, &done, N);
  for (int i = 0; i < N; i++) {
    assert_int_equal(r[i].status, 0);
    assert_true(r[i].inflight_seen <= 3);
  }
  assert_int_equal(f->s.requests, N);
  assert_int_equal(f->s.max_open, 3);  /* the server never saw more than three at once */
  assert_true(f->s.accepted <= 3);      /* and the connections were reused */
}

static void queue_full_is_busy(void **state) {
  fx *f = *state;
  f->s.handler = slow_ok;
  dm_aws_opts o = opts_for(f);
  o.max_inflight = 2;
  o.max_queue = 3;
  open_client(f, &o);
  res r[6];
  int done = 0;
  for (int i = 0; i < 5; i++) {
    r[i] = (res){.done = &done};
    dm_aws_req q = get_req("/q");
    assert_int_equal(dm_aws_send(f->a, &q, on_reply, &r[i]), 0);
  }
  r[5] = (res){.done = &done};
  dm_aws_req q = get_req("/q");
  assert_int_equal(dm_aws_send(f->a, &q, on_reply, &r[5]), DM_EBUSY);
  run_until(f, &done, 5);
  assert_int_equal(r[5].called, 0);
  for (int i = 0; i < 5; i++) assert_int_equal(r[i].status, 0);
  /* room again */
  assert_int_equal(dm_aws_send(f->a, &q, on_reply, &r[5]), 0);
  run_until(f, &done, 6);
  assert_int_equal(r[5].status, 0);
}

static void bad_requests_are_refused(void **state) {
  fx *f = *state;
  f->s.handler = plain_ok;
  dm_aws_opts o = opts_for(f);
  open_client(f, &o);
  res r = {0};
  dm_aws_req q = get_req("no-slash");
  assert_int_equal(dm_aws_send(f->a, &q, on_reply, &r), DM_EINVAL);
  q = (dm_aws_req){.method = "PATCH", .path = "/", .op = "X"};
  assert_int_equal(dm_aws_send(f->a, &q, on_reply, &r), DM_EINVAL);
  dm_aws_header h[] = {{"X-Evil", "a\r\nInjected: 1"}};
  q = (dm_aws_req){.method = "GET", .path = "/", .headers = h, .nheaders = 1, .op = "X"};
  assert_int_equal(dm_aws_send(f->a, &q, on_reply, &r), DM_EINVAL);
  assert_int_equal(r.called, 0);
  /* open refuses bad endpoints and limits with a message */
  char err[256];
  dm_aws *b;
  o.endpoint = "ftp://x";
  assert_int_equal(dm_aws_open(&b, &f->loop, &o, err, sizeof err), DM_EINVAL);
  assert_non_null(strstr(err, "ftp://x"));
  o.endpoint = "http://host:1/path";
  assert_int_equal(dm_aws_open(&b, &f->loop, &o, err, sizeof err), DM_EINVAL);
  o.endpoint = f->endpoint;
  o.max_inflight = 0;
  assert_int_equal(dm_aws_open(&b, &f->loop, &o, err, sizeof err), DM_EINVAL);
}

typedef struct close_state {
  int closed_returned;
  int inside_close; /* callbacks that ran before close returned */
  int done;
} close_state;

static close_state cs;

static void on_closed_reply(void *arg, int status, const dm_aws_reply *r) {
  (void)r;
  res *x = arg;
  x->called++;
  x->status = status;
  if (!cs.closed_returned) cs.inside_close++;
  cs.done++;
}

static action fail_once_then_hold(srv *s, const char *head, const char *body, size_t blen) {
  (void)head;
  (void)body;
  (void)blen;
  if (strstr(head, "/retry ") != NULL)
    return (action){.kind = ANSWER, .status = 500, .body = "x"};
  (void)s;
  return (action){.kind = HOLD};
}

static void close_fails_everything_outstanding(void **state) {
  fx *f = *state;
  f->s.handler = fail_once_then_hold;
  dm_aws_opts o = opts_for(f);
  o.max_inflight = 2;
  o.retry_base_ms = 60000; /* the retry waits for a minute: close must not */
  o.retry_cap_ms = 60000;
  open_client(f, &o);
  memset(&cs, 0, sizeof cs);
  res r[5] = {0};
  dm_aws_req retry = get_req("/retry");
  assert_int_equal(dm_aws_send(f->a, &retry, on_closed_reply, &r[0]), 0);
  /* wait until the 500 came back and the retry is waiting */
  dm_aws_stats st;
  for (int i = 0; i < 1000; i++) {
    uv_run(&f->loop, UV_RUN_ONCE);
    dm_aws_stats_get(f->a, &st);
    if (st.backoff == 1) break;
  }
  assert_int_equal(st.backoff, 1);
  for (int i = 1; i < 5; i++) {
    dm_aws_req q = get_req("/hold");
    assert_int_equal(dm_aws_send(f->a, &q, on_closed_reply, &r[i]), 0);
  }
  while (f->s.open_reqs < 2) uv_run(&f->loop, UV_RUN_ONCE); /* two on the wire */
  dm_aws_stats_get(f->a, &st);
  assert_int_equal(st.inflight, 2);
  assert_int_equal(st.queued, 2);
  dm_aws_close(f->a);
  cs.closed_returned = 1;
  f->a = NULL;
  run_until(f, &cs.done, 5);
  assert_int_equal(cs.inside_close, 0);
  for (int i = 0; i < 5; i++) {
    assert_int_equal(r[i].called, 1);
    assert_int_equal(r[i].status, DM_ECLOSED);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(signed_request_and_reply_headers, setup, teardown),
      cmocka_unit_test_setup_teardown(keep_alive_reuses_one_connection, setup, teardown),
      cmocka_unit_test_setup_teardown(retries_503_then_succeeds, setup, teardown),
      cmocka_unit_test_setup_teardown(throttled_until_tries_run_out, setup, teardown),
      cmocka_unit_test_setup_teardown(permanent_4xx, setup, teardown),
      cmocka_unit_test_setup_teardown(reset_connection, setup, teardown),
      cmocka_unit_test_setup_teardown(slow_reply_times_out, setup, teardown),
      cmocka_unit_test_setup_teardown(connection_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(inflight_is_bounded, setup, teardown),
      cmocka_unit_test_setup_teardown(queue_full_is_busy, setup, teardown),
      cmocka_unit_test_setup_teardown(bad_requests_are_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(close_fails_everything_outstanding, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
