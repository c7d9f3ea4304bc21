/* test_aws_retry.c — the retry policy as pure functions: the default classifier, the
 * transport errors that are (not) worth another try, and the retry decision (which verdict
 * on which try retries, and what status the callback finally gets). */
#include <curl/curl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../src/aws/aws_int.h"
#include "diamond/aws.h"
#include "diamond/error.h"

static void default_classifier(void **state) {
  (void)state;
  char type[128] = "";
  struct {
    long code;
    dm_aws_verdict v;
  } cases[] = {
      {200, DM_AWS_OK},        {204, DM_AWS_OK},        {206, DM_AWS_OK},
      {299, DM_AWS_OK},        {301, DM_AWS_PERMANENT}, {400, DM_AWS_PERMANENT},
      {403, DM_AWS_PERMANENT}, {404, DM_AWS_PERMANENT}, {409, DM_AWS_PERMANENT},
      {416, DM_AWS_PERMANENT}, {429, DM_AWS_THROTTLE},  {500, DM_AWS_RETRY},
      {502, DM_AWS_RETRY},     {503, DM_AWS_RETRY},     {504, DM_AWS_RETRY},
      {599, DM_AWS_RETRY},     {100, DM_AWS_PERMANENT},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    assert_int_equal(dm_aws_classify_default(cases[i].code, (const uint8_t *)"", 0, type),
                     cases[i].v);
  assert_string_equal(type, "");
}

static void transport_errors(void **state) {
  (void)state;
  int retry[] = {CURLE_COULDNT_CONNECT, CURLE_OPERATION_TIMEDOUT, CURLE_RECV_ERROR,
                 CURLE_SEND_ERROR,      CURLE_GOT_NOTHING,        CURLE_PARTIAL_FILE,
                 CURLE_COULDNT_RESOLVE_HOST, CURLE_SSL_CONNECT_ERROR};
  for (size_t i = 0; i < sizeof retry / sizeof retry[0]; i++)
    assert_int_equal(aws_classify_transport(retry[i]), DM_AWS_RETRY);
  int permanent[] = {CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT,
                     CURLE_PEER_FAILED_VERIFICATION, CURLE_WRITE_ERROR};
  for (size_t i = 0; i < sizeof permanent / sizeof permanent[0]; i++)
    assert_int_equal(aws_classify_transport(permanent[i]), DM_AWS_PERMANENT);
}

static void retry_decision(void **state) {
  (void)state;
  int status = 12345;
  /* ok: delivered at once with status 0, whatever the try */
  assert_int_equal(dm_aws_retry_decision(DM_AWS_OK, 1, 6, &status), 0);
  assert_int_equal(status, 0);
  assert_int_equal(dm_aws_retry_decision(DM_AWS_OK, 6, 6, &status), 0);
  assert_int_equal(status, 0);
  /* retry and throttle: again until the last try, then DM_EAGAIN */
  for (uint32_t attempt = 1; attempt < 6; attempt++) {
    status = 12345;
    assert_int_equal(dm_aws_retry_decision(DM_AWS_RETRY, attempt, 6, &status), 1);
    assert_int_equal(dm_aws_retry_decision(DM_AWS_THROTTLE, attempt, 6, &status), 1);
    assert_int_equal(status, 12345); /* untouched when retrying */
  }
  assert_int_equal(dm_aws_retry_decision(DM_AWS_RETRY, 6, 6, &status), 0);
  assert_int_equal(status, DM_EAGAIN);
  status = 0;
  assert_int_equal(dm_aws_retry_decision(DM_AWS_THROTTLE, 6, 6, &status), 0);
  assert_int_equal(status, DM_EAGAIN);
  /* one try only */
  assert_int_equal(dm_aws_retry_decision(DM_AWS_RETRY, 1, 1, &status), 0);
  assert_int_equal(status, DM_EAGAIN);
  /* permanent: never retried */
  assert_int_equal(dm_aws_retry_decision(DM_AWS_PERMANENT, 1, 6, &status), 0);
  assert_int_equal(status, DM_EIO);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(default_classifier),
      cmocka_unit_test(transport_errors),
      cmocka_unit_test(retry_decision),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
