/* test_http_limits.c — what the HTTP server answers on its own: 413 (Content-Length and
 * chunked, with and without Expect), 431, 503 over max_conns, 408 and idle close, 400 on
 * malformed input, shutdown with a request in flight, and shutdown while a reply that
 * started before it is still being written. */
#include "test_http_harness.h"

static char hv[8][128];

static int conn_closed_after(cl *c) { return cl_eof(c); }

static void c_413(T *t) {
  cl c;
  /* Content-Length over the limit: answered before any body byte is sent */
  if (cl_open(&c, t->port) < 0) t->fail = 1;
  cl_send(&c, "POST /echo HTTP/1.1\r\nContent-Length: 17\r\n\r\n");
  if (cl_resp(&c, &t->r[0]) < 0) t->fail = 1;
  resp_hdr(&t->r[0], "Connection", hv[0], sizeof hv[0]);
  t->x[0] = conn_closed_after(&c);
  cl_close(&c);
  /* chunked: rejected once the data passes the limit */
  if (cl_open(&c, t->port) < 0) t->fail = 1;
  cl_send(&c, "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
              "a\r\n0123456789\r\n7\r\n0123456\r\n");
  usleep(20000);
  cl_send(&c, "1\r\nX\r\n");
  if (cl_resp(&c, &t->r[1]) < 0) t->fail = 1;
  t->x[1] = conn_closed_after(&c);
  cl_close(&c);
  /* Expect: 100-continue with a body too large: 413 and no 100 */
  if (cl_open(&c, t->port) < 0) t->fail = 1;
  cl_send(&c, "PUT /only HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 99999\r\n\r\n");
  if (cl_resp(&c, &t->r[2]) < 0) t->fail = 1;
  t->x[2] = conn_closed_after(&c);
  cl_close(&c);
  /* exactly at the limit is fine */
  one(t, 3, "POST /echo HTTP/1.1\r\nContent-Length: 16\r\n\r\n0123456789abcdef");
}

static void test_body_too_large(void **state) {
  (void)state;
  T t;
  dm_http_opts o = default_opts;
  o.max_body = 16;
  run_with(&t, &o, c_413);
  assert_int_equal(t.r[0].status, 413);
  assert_string_equal(t.r[0].body, "{\"error\":{\"message\":\"request body too large\"}}");
  assert_string_equal(hv[0], "close");
  assert_int_equal(t.x[0], 1);
  assert_int_equal(t.r[1].status, 413);
  assert_int_equal(t.x[1], 1);
  assert_int_equal(t.r[2].status, 413);
  assert_int_equal(t.x[2], 1);
  assert_int_equal(t.r[3].status, 200);
  assert_string_equal(t.r[3].body, "m=2 p=/echo b=0123456789abcdef");
  assert_int_equal(t.nobs, 4);
  assert_string_equal(t.obs[0], "echo 413");
  assert_string_equal(t.obs[1], "echo 413");
  assert_string_equal(t.obs[2], "only 413");
  free_resps(&t);
}

static void c_431(T *t) {
  char req[1024];
  char pad[301];
  memset(pad, 'a', 300);
  pad[300] = '\0';
  cl c;
  if (cl_open(&c, t->port) < 0) t->fail = 1;
  snprintf(req, sizeof req, "GET /echo HTTP/1.1\r\nX-Pad: %s\r\n\r\n", pad);
  cl_send(&c, req);
  if (cl_resp(&c, &t->r[0]) < 0) t->fail = 1;
  t->x[0] = conn_closed_after(&c);
  cl_close(&c);
  /* a long URL counts too */
  snprintf(req, sizeof req, "GET /echo?%s HTTP/1.1\r\n\r\n", pad);
  one(t, 1, req);
  /* just under: URL "/echo" (5) + "X-Pad" (5) + value = 256 */
  pad[246] = '\0';
  snprintf(req, sizeof req, "GET /echo HTTP/1.1\r\nX-Pad: %s\r\n\r\n", pad);
  one(t, 2, req);
}

static void test_headers_too_large(void **state) {
  (void)state;
  T t;
  dm_http_opts o = default_opts;
  o.max_header = 256;
  run_with(&t, &o, c_431);
  assert_int_equal(t.r[0].status, 431);
  assert_string_equal(t.r[0].body, "{\"error\":{\"message\":\"request headers too large\"}}");
  assert_int_equal(t.x[0], 1);
  assert_int_equal(t.r[1].status, 431);
  assert_int_equal(t.r[2].status, 200);
  assert_string_equal(t.obs[0], " 431");
  free_resps(&t);
}

static void c_conn_limit(T *t) {
  cl a, b, c;
  if (cl_open(&a, t->port) < 0 || cl_open(&b, t->port) < 0) t->fail = 1;
  cl_send(&a, "GET /echo HTTP/1.1\r\n\r\n");
  cl_send(&b, "GET /echo HTTP/1.1\r\n\r\n");
  if (cl_resp(&a, &t->r[0]) < 0 || cl_resp(&b, &t->r[1]) < 0) t->fail = 1;
  if (cl_open(&c, t->port) < 0) t->fail = 1;
  cl_send(&c, "GET /echo HTTP/1.1\r\n\r\n");
  if (cl_resp(&c, &t->r[2]) < 0) t->fail = 1;
  resp_hdr(&t->r[2], "Retry-After", hv[0], sizeof hv[0]);
  resp_hdr(&t->r[2], "Connection", hv[1], sizeof hv[1]);
  t->x[0] = conn_closed_after(&c);
  cl_close(&c);
  /* the first two still work; once one leaves, a newcomer gets in */
  cl_send(&a, "GET /echo HTTP/1.1\r\n\r\n");
  if (cl_resp(&a, &t->r[3]) < 0) t->fail = 1;
  cl_close(&a);
  for (int i = 0; i < 500; i++) { /* the server sees a's EOF a moment later */
    free(t->r[4].body);
    one(t, 4, "GET /echo HTTP/1.1\r\n\r\n");
    if (t->r[4].status != 503) break;
    usleep(10000);
  }
  cl_close(&b);
}

static void test_connection_limit(void **state) {
  (void)state;
  T t;
  dm_http_opts o = default_opts;
  o.max_conns = 2;
  run_with(&t, &o, c_conn_limit);
  assert_int_equal(t.r[0].status, 200);
  assert_int_equal(t.r[1].status, 200);
  assert_int_equal(t.r[2].status, 503);
  assert_string_equal(t.r[2].body, "{\"error\":{\"message\":\"too many connections\"}}");
  assert_string_equal(hv[0], "1");
  assert_string_equal(hv[1], "close");
  assert_int_equal(t.x[0], 1);
  assert_int_equal(t.r[3].status, 200);
  assert_int_equal(t.r[4].status, 200);
  assert_string_equal(t.obs[2], " 503");
  free_resps(&t);
}

static void c_timeouts(T *t) {
  cl c;
  /* half a request, then silence: 408 */
  if (cl_open(&c, t->port) < 0) t->fail = 1;
  cl_send(&c, "POST /echo HTTP/1.1\r\nContent-Length: 10\r\n\r\n012");
  if (cl_resp(&c, &t->r[0]) < 0) t->fail = 1;
  t->x[0] = conn_closed_after(&c);
  cl_close(&c);
  /* an idle keep-alive connection is closed without a word */
  if (cl_open(&c, t->port) < 0) t->fail = 1;
  cl_send(&c, "GET /echo HTTP/1.1\r\n\r\n");
  if (cl_resp(&c, &t->r[1]) < 0) t->fail = 1;
  t->x[1] = conn_closed_after(&c);
  cl_close(&c);
}

static void test_timeouts(void **state) {
  (void)state;
  T t;
  dm_http_opts o = default_opts;
  o.idle_timeout_ms = 150;
  run_with(&t, &o, c_timeouts);
  assert_int_equal(t.r[0].status, 408);
  assert_string_equal(t.r[0].body, "{\"error\":{\"message\":\"request not received in time\"}}");
  assert_int_equal(t.x[0], 1);
  assert_int_equal(t.r[1].status, 200);
  assert_int_equal(t.x[1], 1);
  assert_int_equal(t.nobs, 2);
  assert_string_equal(t.obs[0], " 408");
  free_resps(&t);
}

static void c_malformed(T *t) {
  cl c;
  if (cl_open(&c, t->port) < 0) t->fail = 1;
  cl_send(&c, "GET /echo HTTP/1.1\r\nBad Header\r\n\r\n");
  if (cl_resp(&c, &t->r[0]) < 0) t->fail = 1;
  t->x[0] = conn_closed_after(&c);
  cl_close(&c);
  one(t, 1, "POST /echo HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc");
  one(t, 2, "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
  one(t, 3, "\x01\x02\x03 / HTTP/1.1\r\n\r\n");
}

static void test_malformed(void **state) {
  (void)state;
  T t;
  run(&t, c_malformed);
  assert_int_equal(t.r[0].status, 400);
  assert_string_equal(t.r[0].body, "{\"error\":{\"message\":\"malformed HTTP request: "
                                   "invalid character in header\"}}");
  assert_int_equal(t.x[0], 1);
  assert_int_equal(t.r[1].status, 400);
  assert_int_equal(t.r[2].status, 400);
  assert_int_equal(t.r[3].status, 400);
  free_resps(&t);
}

static void c_shutdown(T *t) {
  cl idle, c;
  if (cl_open(&idle, t->port) < 0 || cl_open(&c, t->port) < 0) t->fail = 1;
  cl_send(&idle, "GET /echo HTTP/1.1\r\n\r\n");
  if (cl_resp(&idle, &t->r[0]) < 0) t->fail = 1;
  cl_send(&c, "GET /shutdown HTTP/1.1\r\n\r\n");
  if (cl_resp(&c, &t->r[1]) < 0) t->fail = 1;
  resp_hdr(&t->r[1], "Connection", hv[0], sizeof hv[0]);
  t->x[0] = conn_closed_after(&c);
  t->x[1] = conn_closed_after(&idle); /* closed by the shutdown, no reply */
  cl_close(&c);
  cl_close(&idle);
  /* nobody listens any more */
  cl n;
  t->x[2] = cl_open(&n, t->port) < 0;
  cl_close(&n);
}

static void test_shutdown_in_flight(void **state) {
  (void)state;
  T t;
  run(&t, c_shutdown);
  assert_int_equal(t.r[0].status, 200);
  assert_int_equal(t.r[1].status, 200);
  assert_string_equal(t.r[1].body, "A");
  assert_string_equal(hv[0], "close");
  assert_int_equal(t.x[0], 1);
  assert_int_equal(t.x[1], 1);
  assert_int_equal(t.x[2], 1);
  free_resps(&t);
}

#define BIG (24u << 20) /* more than loopback socket buffers hold: the reply must queue */

/* A keep-alive reply is still being written when the shutdown starts (its headers went out
 * without "Connection: close"). Once it is out the connection is idle and must be closed
 * then, not kept until the shutdown timeout: a request sent after it gets no answer. */
static void c_drain_writing(T *t) {
  cl a, b;
  char *body = malloc(BIG);
  if (body == NULL || cl_open(&a, t->port) < 0 || cl_open(&b, t->port) < 0) t->fail = 1;
  memset(body, 'z', BIG);
  char head[128];
  snprintf(head, sizeof head, "POST /big HTTP/1.1\r\nContent-Length: %u\r\n\r\n", BIG);
  if (cl_send(&a, head) < 0 || cl_sendn(&a, body, BIG) < 0) t->fail = 1;
  free(body);
  if (cl_fill(&a) == 0) t->fail = 1; /* the reply has started: the server is writing */
  cl_send(&b, "GET /shutdown HTTP/1.1\r\n\r\n");
  if (cl_resp(&b, &t->r[0]) < 0) t->fail = 1;
  cl_close(&b);
  if (cl_resp(&a, &t->r[1]) < 0) t->fail = 1;
  cl_send(&a, "GET /echo HTTP/1.1\r\n\r\n");
  if (cl_resp(&a, &t->r[2]) < 0) t->r[2].status = -1;
  cl_close(&a);
}

static void test_shutdown_while_writing(void **state) {
  (void)state;
  T t;
  dm_http_opts o = default_opts;
  o.max_body = BIG;
  run_with(&t, &o, c_drain_writing);
  assert_int_equal(t.r[0].status, 200);
  assert_int_equal(t.r[1].status, 200);
  assert_int_equal(t.r[1].blen, BIG);
  assert_int_equal(t.r[2].status, -1);
  free_resps(&t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_body_too_large),
      cmocka_unit_test(test_headers_too_large),
      cmocka_unit_test(test_connection_limit),
      cmocka_unit_test(test_timeouts),
      cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_shutdown_in_flight),
      cmocka_unit_test(test_shutdown_while_writing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
