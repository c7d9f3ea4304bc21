/* classify.c — which failures are worth another try: the default reply classifier, the
 * transport errors (no HTTP reply at all), and the retry rule of aws.h. Pure functions. */
#include "aws_int.h"
#include "diamond/error.h"

dm_aws_verdict dm_aws_classify_default(long code, const uint8_t *body, size_t len,
                                       char *error_type) {
  (void)body;
  (void)len;
  (void)error_type;
  if (code >= 200 && code < 300) return DM_AWS_OK;
  if (code == 429) return DM_AWS_THROTTLE;
  if (code >= 500 && code < 600) return DM_AWS_RETRY;
  return DM_AWS_PERMANENT;
}

/* Errors another try cannot fix: the request itself or the local setup is wrong. Every
 * other curl error (refused, reset, timed out, DNS, TLS handshake) is worth a retry. */
dm_aws_verdict aws_classify_transport(int curl_code) {
  switch ((CURLcode)curl_code) {
  case CURLE_UNSUPPORTED_PROTOCOL:
  case CURLE_URL_MALFORMAT:
  case CURLE_NOT_BUILT_IN:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_ENGINE_NOTFOUND:
  case CURLE_BAD_FUNCTION_ARGUMENT:
  case CURLE_UNKNOWN_OPTION:
  case CURLE_FILESIZE_EXCEEDED:
  case CURLE_OUT_OF_MEMORY:
  case CURLE_WRITE_ERROR:
    return DM_AWS_PERMANENT;
  default:
    return DM_AWS_RETRY;
  }
}

int dm_aws_retry_decision(dm_aws_verdict v, uint32_t attempt, uint32_t max_attempts,
                          int *status) {
  switch (v) {
  case DM_AWS_OK:
    *status = 0;
    return 0;
  case DM_AWS_RETRY:
  case DM_AWS_THROTTLE:
    if (attempt < max_attempts) return 1;
    *status = DM_EAGAIN;
    return 0;
  case DM_AWS_PERMANENT:
  default:
    *status = DM_EIO;
    return 0;
  }
}
