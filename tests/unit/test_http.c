/* test_http.c — the HTTP server's requests and replies: routing, parameters, bodies
 * (Content-Length and chunked), keep-alive, pipelining, asynchronous replies, HEAD,
 * HTTP/1.0, Expect: 100-continue, JSON errors. Limits and shutdown: test_http_limits.c. */
#include "test_http_harness.h"

static char hv[8][128]; /* header values captured by scenarios */

static void c_get_params(T *t) {
  one(t, 0, "GET /items/abc%20d/x?name=a+b&name=c%26%3D&&empty&k=%zz%4&name=%C3%A9 HTTP/1.1\r\n"
            "Host: x\r\n\r\n");
  one(t, 1, "GET /items/a%2Fb/x HTTP/1.1\r\n\r\n");
  one(t, 2, "GET /items/p1/p2/y?k= HTTP/1.1\r\n\r\n");
  one(t, 3, "GET http://example.com/items/z/x?name=abs HTTP/1.1\r\n\r\n");
  resp_hdr(&t->r[0], "X-Extra", hv[0], sizeof hv[0]);
  resp_hdr(&t->r[0], "Content-Type", hv[1], sizeof hv[1]);
}

static void test_get_params(void **state) {
  (void)state;
  T t;
  run(&t, c_get_params);
  assert_int_equal(t.r[0].status, 200);
  assert_string_equal(t.r[0].body, "a=abc d p=/items/abc d/x q=a b|c&=|\xC3\xA9 k=%zz%4 e= x=-");
  assert_string_equal(hv[0], "1");
  assert_string_equal(hv[1], "text/plain");
  /* %2F stays inside its segment; the whole path is decoded once */
  assert_int_equal(t.r[1].status, 200);
  assert_string_equal(t.r[1].body, "a=a/b p=/items/a/b/x q=-|-|- k=- e=- x=-");
  assert_string_equal(t.r[2].body, "a=p1 p=/items/p1/p2/y q=-|-|- k= e=- x=p2");
  assert_string_equal(t.r[3].body, "a=z p=/items/z/x q=abs|-|- k=- e=- x=-");
  assert_int_equal(t.nobs, 4);
  assert_string_equal(t.obs[0], "items 200");
  assert_string_equal(t.obs[2], "items2 200");
  free_resps(&t);
}

static void c_post_bodies(T *t) {
  one(t, 0, "POST /echo HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello");
  one(t, 1, "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
            "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n");
  one(t, 2, "POST /echo HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
  /* a body that arrives in pieces */
  cl c;
  if (cl_open(&c, t->port) < 0) t->fail = 1;
  cl_send(&c, "POST /echo HTTP/1.1\r\nContent-Len");
  usleep(20000);
  cl_send(&c, "gth: 10\r\n\r\n01234");
  usleep(20000);
  cl_send(&c, "56789");
  if (cl_resp(&c, &t->r[3]) < 0) t->fail = 1;
  cl_close(&c);
}

static void test_post_bodies(void **state) {
  (void)state;
  T t;
  run(&t, c_post_bodies);
  assert_int_equal(t.r[0].status, 200);
  assert_string_equal(t.r[0].body, "m=2 p=/echo b=hello");
  assert_int_equal(t.r[1].status, 200);
  assert_string_equal(t.r[1].body, "m=2 p=/echo b=hello world");
  assert_string_equal(t.r[2].body, "m=2 p=/echo b=");
  assert_string_equal(t.r[3].body, "m=2 p=/echo b=0123456789");
  free_resps(&t);
}

static void c_keepalive(T *t) {
  cl c;
  if (cl_open(&c, t->port) < 0) t->fail = 1;
  for (int i = 0; i < 3; i++) {
    char req[128];
    snprintf(req, sizeof req, "POST /echo HTTP/1.1\r\nContent-Length: 1\r\n\r\n%d", i);
    cl_send(&c, req);
    if (cl_resp(&c, &t->r[i]) < 0) t->fail = 1;
  }
  t->x[0] = resp_hdr(&t->r[2], "Connection", hv[0], sizeof hv[0]) != NULL;
  cl_close(&c);
}

static void test_keepalive_three(void **state) {
  (void)state;
  T t;
  run(&t, c_keepalive);
  assert_string_equal(t.r[0].body, "m=2 p=/echo b=0");
  assert_string_equal(t.r[1].body, "m=2 p=/echo b=1");
  assert_string_equal(t.r[2].body, "m=2 p=/echo b=2");
  assert_int_equal(t.x[0], 0); /* no Connection header on a kept-alive HTTP/1.1 reply */
  free_resps(&t);
}

static void c_pipelined(T *t) {
  cl c;
  if (cl_open(&c, t->port) < 0) t->fail = 1;
  /* the first is answered late (timer), the second at once: order must hold */
  cl_send(&c, "GET /async HTTP/1.1\r\n\r\nPOST /echo HTTP/1.1\r\nContent-Length: 2\r\n\r\nok"
              "GET /items/3/x HTTP/1.1\r\n\r\n");
  for (int i = 0; i < 3; i++)
    if (cl_resp(&c, &t->r[i]) < 0) t->fail = 1;
  cl_close(&c);
}

static void test_pipelined(void **state) {
  (void)state;
  T t;
  run(&t, c_pipelined);
  assert_string_equal(t.r[0].body, "A");
  assert_string_equal(t.r[1].body, "m=2 p=/echo b=ok");
  assert_string_equal(t.r[2].body, "a=3 p=/items/3/x q=-|-|- k=- e=- x=-");
  assert_string_equal(t.obs[0], "async 200");
  assert_string_equal(t.obs[1], "echo 200");
  assert_string_equal(t.obs[2], "items 200");
  free_resps(&t);
}

static void c_not_found(T *t) {
  one(t, 0, "GET /nope HTTP/1.1\r\n\r\n");
  one(t, 1, "POST /items/1/x HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
  one(t, 2, "DELETE /only HTTP/1.1\r\n\r\n");
  one(t, 3, "GET /items//x HTTP/1.1\r\n\r\n");      /* ':' needs a non-empty segment */
  one(t, 4, "GET /items/1/x/ HTTP/1.1\r\n\r\n");    /* segment count must match */
  one(t, 5, "PATCH /echo HTTP/1.1\r\n\r\n");
  resp_hdr(&t->r[1], "Allow", hv[0], sizeof hv[0]);
  resp_hdr(&t->r[2], "Allow", hv[1], sizeof hv[1]);
  resp_hdr(&t->r[0], "Content-Type", hv[2], sizeof hv[2]);
  resp_hdr(&t->r[5], "Allow", hv[3], sizeof hv[3]);
}

static void test_not_found_and_method(void **state) {
  (void)state;
  T t;
  run(&t, c_not_found);
  assert_int_equal(t.r[0].status, 404);
  assert_string_equal(t.r[0].body, "{\"error\":{\"message\":\"no such endpoint: GET /nope\"}}");
  assert_string_equal(hv[2], "application/json");
  assert_int_equal(t.r[1].status, 405);
  assert_string_equal(t.r[1].body,
                      "{\"error\":{\"message\":\"method POST not allowed on /items/1/x\"}}");
  assert_string_equal(hv[0], "GET, HEAD");
  assert_int_equal(t.r[2].status, 405);
  assert_string_equal(hv[1], "GET, HEAD, POST, PUT"); /* union of both /only routes */
  assert_int_equal(t.r[3].status, 404);
  assert_int_equal(t.r[4].status, 404);
  assert_int_equal(t.r[5].status, 405);
  assert_string_equal(hv[3], "GET, HEAD, POST");
  assert_string_equal(t.obs[0], " 404");
  assert_string_equal(t.obs[1], "items 405");
  assert_string_equal(t.obs[2], "only 405");
  free_resps(&t);
}

static void c_async(T *t) { one(t, 0, "GET /async HTTP/1.1\r\n\r\n"); }

static void test_async_reply(void **state) {
  (void)state;
  T t;
  run(&t, c_async);
  assert_int_equal(t.r[0].status, 200);
  assert_string_equal(t.r[0].body, "A");
  assert_int_equal(t.nobs, 1);
  assert_string_equal(t.obs[0], "async 200");
  free_resps(&t);
}

static void c_disconnect(T *t) {
  cl c;
  if (cl_open(&c, t->port) < 0 || cl_send(&c, "GET /waitclose HTTP/1.1\r\n\r\n") < 0) t->fail = 1;
  for (int i = 0; i < 2000 && !__atomic_load_n(&t->started, __ATOMIC_SEQ_CST); i++) usleep(5000);
  cl_close(&c);
}

static void test_disconnect_before_async_reply(void **state) {
  (void)state;
  T t;
  run(&t, c_disconnect);
  assert_int_equal(t.saw_closed, 1);
  assert_int_equal(t.nobs, 0); /* nothing was sent, nothing observed */
}

static void c_percent(T *t) {
  cl c;
  if (cl_open(&c, t->port) < 0) t->fail = 1;
  cl_send(&c, "GET /items/a%00b/x HTTP/1.1\r\n\r\n");
  if (cl_resp(&c, &t->r[0]) < 0) t->fail = 1;
  /* a 400 for a bad path keeps the connection */
  cl_send(&c, "GET /items/x?name=%00 HTTP/1.1\r\n\r\n");
  if (cl_resp(&c, &t->r[1]) < 0) t->fail = 1;
  cl_send(&c, "GET /items/x/x?name=a%00 HTTP/1.1\r\n\r\n");
  if (cl_resp(&c, &t->r[2]) < 0) t->fail = 1;
  cl_send(&c, "GET /%65cho?x=%2541 HTTP/1.1\r\n\r\n");
  if (cl_resp(&c, &t->r[3]) < 0) t->fail = 1;
  cl_close(&c);
}

static void test_percent_decoding(void **state) {
  (void)state;
  T t;
  run(&t, c_percent);
  assert_int_equal(t.r[0].status, 400);
  assert_string_equal(t.r[0].body, "{\"error\":{\"message\":\"NUL byte in the request path\"}}");
  assert_int_equal(t.r[1].status, 404);
  assert_int_equal(t.r[2].status, 400);
  assert_string_equal(t.r[2].body,
                      "{\"error\":{\"message\":\"NUL byte in a query or form parameter\"}}");
  assert_int_equal(t.r[3].status, 200);
  assert_string_equal(t.r[3].body, "m=1 p=/echo b=");
  free_resps(&t);
}

static void c_form(T *t) {
  one(t, 0, "POST /form?target=q HTTP/1.1\r\n"
            "Content-Type: application/x-www-form-urlencoded; charset=utf-8\r\n"
            "Content-Length: 37\r\n\r\ntarget=a.b&target=c+d&from=-1h&target");
  one(t, 1, "POST /form?target=q HTTP/1.1\r\nContent-Type: application/json\r\n"
            "Content-Length: 10\r\n\r\ntarget=a.b");
  one(t, 2, "GET /form?target=sum(a.*%2Cb)&from=now-1d HTTP/1.1\r\n\r\n");
}

static void test_form_params(void **state) {
  (void)state;
  T t;
  run(&t, c_form);
  assert_string_equal(t.r[0].body, "t=q,a.b,c d, f=-1h");
  assert_string_equal(t.r[1].body, "t=q,-,-,- f=-"); /* not a form: body is not parsed */
  assert_string_equal(t.r[2].body, "t=sum(a.*,b),-,-,- f=now-1d");
  free_resps(&t);
}

static void c_head_http10(T *t) {
  cl c;
  if (cl_open(&c, t->port) < 0) t->fail = 1;
  cl_send(&c, "HEAD /echo HTTP/1.1\r\n\r\nGET /echo HTTP/1.1\r\n\r\n");
  if (cl_resp_x(&c, &t->r[0], 1) < 0 || cl_resp(&c, &t->r[1]) < 0) t->fail = 1;
  resp_hdr(&t->r[0], "Content-Length", hv[0], sizeof hv[0]);
  cl_close(&c);
  /* HTTP/1.0: closes unless asked to keep alive */
  if (cl_open(&c, t->port) < 0) t->fail = 1;
  cl_send(&c, "GET /echo HTTP/1.0\r\n\r\n");
  if (cl_resp(&c, &t->r[2]) < 0) t->fail = 1;
  resp_hdr(&t->r[2], "Connection", hv[1], sizeof hv[1]);
  t->x[0] = cl_eof(&c);
  cl_close(&c);
  if (cl_open(&c, t->port) < 0) t->fail = 1;
  cl_send(&c, "GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  if (cl_resp(&c, &t->r[3]) < 0) t->fail = 1;
  resp_hdr(&t->r[3], "Connection", hv[2], sizeof hv[2]);
  cl_send(&c, "GET /echo HTTP/1.1\r\nConnection: close\r\n\r\n");
  if (cl_resp(&c, &t->r[4]) < 0) t->fail = 1;
  resp_hdr(&t->r[4], "Connection", hv[3], sizeof hv[3]);
  t->x[1] = cl_eof(&c);
  cl_close(&c);
}

static void test_head_and_http10(void **state) {
  (void)state;
  T t;
  run(&t, c_head_http10);
  assert_int_equal(t.r[0].status, 200);
  assert_string_equal(hv[0], "15"); /* length of the would-be body "m=16 p=/echo b=" */
  assert_string_equal(t.r[1].body, "m=1 p=/echo b=");
  assert_string_equal(hv[1], "close");
  assert_int_equal(t.x[0], 1);
  assert_string_equal(hv[2], "keep-alive");
  assert_string_equal(t.r[3].body, "m=1 p=/echo b=");
  assert_string_equal(hv[3], "close");
  assert_int_equal(t.x[1], 1);
  free_resps(&t);
}

static void c_expect(T *t) {
  cl c;
  if (cl_open(&c, t->port) < 0) t->fail = 1;
  cl_send(&c, "POST /echo HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
  if (cl_resp(&c, &t->r[0]) < 0) t->fail = 1; /* the interim 100 */
  cl_send(&c, "abc");
  if (cl_resp(&c, &t->r[1]) < 0) t->fail = 1;
  cl_close(&c);
}

static void test_expect_continue(void **state) {
  (void)state;
  T t;
  run(&t, c_expect);
  assert_int_equal(t.r[0].status, 100);
  assert_string_equal(t.r[0].head, "HTTP/1.1 100 Continue\r\n\r\n");
  assert_int_equal(t.r[1].status, 200);
  assert_string_equal(t.r[1].body, "m=2 p=/echo b=abc");
  free_resps(&t);
}

static void c_errors(T *t) {
  one(t, 0, "GET /err HTTP/1.1\r\n\r\n");
  one(t, 1, "GET /busy HTTP/1.1\r\n\r\n");
  one(t, 2, "GET /hdr HTTP/1.1\r\nX-Test:  v 1  \r\n\r\n");
  resp_hdr(&t->r[1], "Retry-After", hv[0], sizeof hv[0]);
}

static void test_error_replies(void **state) {
  (void)state;
  T t;
  run(&t, c_errors);
  assert_int_equal(t.r[0].status, 400);
  assert_string_equal(t.r[0].body, "{\"error\":{\"message\":\"bad \\\"x\\\\y\\\"\\n5\"}}");
  assert_int_equal(t.r[1].status, 503);
  assert_string_equal(hv[0], "7");
  assert_string_equal(t.r[2].body, "x=v 1 lo=1");
  free_resps(&t);
}

static void c_big(T *t) {
  size_t n = 1 << 20;
  char *body = malloc(n);
  for (size_t i = 0; i < n; i++) body[i] = (char)('a' + i % 26);
  cl c;
  if (cl_open(&c, t->port) < 0) t->fail = 1;
  char hdr[128];
  snprintf(hdr, sizeof hdr, "POST /big HTTP/1.1\r\nContent-Length: %zu\r\n\r\n", n);
  cl_send(&c, hdr);
  cl_sendn(&c, body, n);
  if (cl_resp(&c, &t->r[0]) < 0) t->fail = 1;
  t->x[0] = t->r[0].blen == n && memcmp(t->r[0].body, body, n) == 0;
  /* chunked, in many chunks */
  cl_send(&c, "POST /big HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
  for (size_t off = 0; off < n; off += 100000) {
    size_t k = n - off < 100000 ? n - off : 100000;
    snprintf(hdr, sizeof hdr, "%zx\r\n", k);
    cl_send(&c, hdr);
    cl_sendn(&c, body + off, k);
    cl_send(&c, "\r\n");
  }
  cl_send(&c, "0\r\n\r\n");
  if (cl_resp(&c, &t->r[1]) < 0) t->fail = 1;
  t->x[1] = t->r[1].blen == n && memcmp(t->r[1].body, body, n) == 0;
  cl_close(&c);
  free(body);
}

static void test_big_bodies(void **state) {
  (void)state;
  T t;
  run(&t, c_big);
  assert_int_equal(t.r[0].status, 200);
  assert_int_equal(t.x[0], 1);
  assert_int_equal(t.r[1].status, 200);
  assert_int_equal(t.x[1], 1);
  free_resps(&t);
}

typedef struct sendjob {
  int fd;
  const char *p;
  size_t n;
} sendjob;

static void *sender(void *arg) {
  sendjob *j = arg;
  cl c = {.fd = j->fd};
  cl_sendn(&c, j->p, j->n);
  return NULL;
}

/* More pipelined bytes than a paused connection buffers (64 KiB), sent by a second thread
 * while this one reads the replies. */
static void c_deep_pipeline(T *t) {
  enum { N = 3000 };
  cl c;
  if (cl_open(&c, t->port) < 0) t->fail = 1;
  char *reqs = malloc(48 * (N + 2)), *p = reqs;
  p += sprintf(p, "GET /async HTTP/1.1\r\n\r\n");
  for (int i = 0; i < N; i++) p += sprintf(p, "POST /echo HTTP/1.1\r\nContent-Length: 4\r\n\r\n%04d", i);
  t->x[2] = (int)(p - reqs);
  sendjob j = {c.fd, reqs, (size_t)(p - reqs)};
  pthread_t th;
  pthread_create(&th, NULL, sender, &j);
  resp r;
  if (cl_resp(&c, &r) < 0) t->fail = 1;
  t->x[0] = r.status == 200 && strcmp(r.body, "A") == 0;
  free(r.body);
  for (int i = 0; i < N; i++) {
    char want[32];
    snprintf(want, sizeof want, "m=2 p=/echo b=%04d", i);
    if (cl_resp(&c, &r) < 0) break;
    if (strcmp(r.body, want) == 0) t->x[1]++;
    free(r.body);
  }
  pthread_join(th, NULL);
  free(reqs);
  cl_close(&c);
}

static void test_deep_pipeline(void **state) {
  (void)state;
  T t;
  run(&t, c_deep_pipeline);
  assert_true(t.x[2] > 2 * 65536);
  assert_int_equal(t.x[0], 1);
  assert_int_equal(t.x[1], 3000);
}

static void c_upgrade(T *t) {
  cl c;
  if (cl_open(&c, t->port) < 0) t->fail = 1;
  cl_send(&c, "GET /echo HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nxyz");
  if (cl_resp(&c, &t->r[0]) < 0) t->fail = 1;
  resp_hdr(&t->r[0], "Connection", hv[0], sizeof hv[0]);
  t->x[0] = cl_eof(&c);
  cl_close(&c);
}

static void test_upgrade_is_refused_by_closing(void **state) {
  (void)state;
  T t;
  run(&t, c_upgrade);
  assert_int_equal(t.r[0].status, 200);
  assert_string_equal(hv[0], "close");
  assert_int_equal(t.x[0], 1);
  free_resps(&t);
}

static void noop(dm_http_req *r, void *arg) {
  (void)r;
  (void)arg;
}

static void test_route_and_listen_errors(void **state) {
  (void)state;
  uv_loop_t loop;
  dm_http_server *s;
  char err[256];
  uv_loop_init(&loop);
  dm_http_opts o = default_opts;
  assert_int_equal(dm_http_server_new(&s, &loop, &o, err, sizeof err), 0);
  assert_int_equal(dm_http_route(s, DM_HTTP_GET, "nope", "x", noop, NULL), -1);
  assert_int_equal(dm_http_route(s, 0, "/x", "x", noop, NULL), -1);
  assert_int_equal(dm_http_route(s, DM_HTTP_GET, "/x", "x", NULL, NULL), -1);
  o.listen = "127.0.0.1";
  dm_http_server *s2;
  assert_int_equal(dm_http_server_new(&s2, &loop, &o, err, sizeof err), 0);
  assert_int_equal(dm_http_listen(s2, err, sizeof err), -1);
  assert_string_equal(err, "bad listen address \"127.0.0.1\" (want host:port or [v6]:port)");
  dm_http_server_free(s2);
  /* a port already taken */
  assert_int_equal(dm_http_listen(s, err, sizeof err), 0);
  char addr[64];
  snprintf(addr, sizeof addr, "127.0.0.1:%d", dm_http_port(s));
  o.listen = addr;
  assert_int_equal(dm_http_server_new(&s2, &loop, &o, err, sizeof err), 0);
  assert_int_equal(dm_http_listen(s2, err, sizeof err), -3);
  assert_non_null(strstr(err, "address already in use"));
  dm_http_server_free(s2);
  /* IPv6 syntax */
  o.listen = "[::1]:0";
  assert_int_equal(dm_http_server_new(&s2, &loop, &o, err, sizeof err), 0);
  int rc = dm_http_listen(s2, err, sizeof err);
  assert_true(rc == 0 || rc == -3); /* -3 only where IPv6 is off */
  dm_http_server_free(s2);
  dm_http_server_free(s);
  assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_get_params),
      cmocka_unit_test(test_post_bodies),
      cmocka_unit_test(test_keepalive_three),
      cmocka_unit_test(test_pipelined),
      cmocka_unit_test(test_not_found_and_method),
      cmocka_unit_test(test_async_reply),
      cmocka_unit_test(test_disconnect_before_async_reply),
      cmocka_unit_test(test_percent_decoding),
      cmocka_unit_test(test_form_params),
      cmocka_unit_test(test_head_and_http10),
      cmocka_unit_test(test_expect_continue),
      cmocka_unit_test(test_error_replies),
      cmocka_unit_test(test_big_bodies),
      cmocka_unit_test(test_deep_pipeline),
      cmocka_unit_test(test_upgrade_is_refused_by_closing),
      cmocka_unit_test(test_route_and_listen_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
