/* aws.h — the HTTP client of the remote tiers (DynamoDB, S3): libcurl's multi interface
 * driven by the libuv loop (uv_poll per socket, one uv_timer), SigV4 signing, and the retry
 * policy shared by every remote backend.
 *
 * One dm_aws client per backend ("table", "blob"). Each request is signed, sent, and — on
 * throttling, 5xx, a timeout or a connection error — retried after a capped exponential
 * backoff with full jitter, sleep = random(0, min(cap, base * 2^attempt)), up to
 * max_attempts tries. At most max_inflight requests of one client are on the wire; up to
 * max_queue more wait for a slot (a retry waiting out its backoff holds no slot); beyond
 * that dm_aws_send fails at once with DM_EBUSY. Nothing here blocks the loop: DNS, connect,
 * TLS and transfer all run inside curl's multi handle.
 *
 * Every call runs on the loop thread. dm_aws_send returns 0 and calls its callback exactly
 * once, or returns a negative DM_E* code and never calls it (tier.h rules).
 */
#ifndef DIAMOND_AWS_H
#define DIAMOND_AWS_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct dm_aws dm_aws;

typedef struct dm_aws_opts {
  const char *backend;  /* metric label and log field: "table" or "blob" */
  const char *service;  /* SigV4 service: "dynamodb" or "s3" */
  const char *region;   /* "us-east-1" */
  const char *endpoint; /* "http://127.0.0.1:8000" or "https://dynamodb.us-east-1.amazonaws.com"
                           (scheme, host, optional port; no path) */
  /* Credentials; NULL or "" reads AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
   * AWS_SESSION_TOKEN at open. With no key at all requests go out unsigned. */
  const char *access_key, *secret_key, *session_token;
  int64_t timeout_ms, connect_timeout_ms;
  int64_t max_inflight, max_queue, max_attempts;
  int64_t retry_base_ms, retry_cap_ms;
} dm_aws_opts;

/* How a reply is judged, so each service can tell throttling and permanent errors apart
 * (DynamoDB puts the error type in the JSON body, S3 in XML). */
typedef enum {
  DM_AWS_OK = 0,        /* hand the reply to the callback */
  DM_AWS_RETRY,         /* 5xx, connection or timeout: retry with backoff */
  DM_AWS_THROTTLE,      /* ProvisionedThroughputExceeded, Throttling, SlowDown: retry */
  DM_AWS_PERMANENT,     /* anything else: fail at once (the caller may still look at it) */
} dm_aws_verdict;

typedef struct dm_aws_reply {
  long code;            /* HTTP status; 0 when no reply arrived (connection, timeout) */
  const uint8_t *body;  /* NUL-terminated copy; valid only during the callback */
  size_t len;
  const char *error_type; /* service error type when the classifier found one, else "" */
  const char *curl_error; /* curl's message for code 0, else "" */
  uint32_t attempts;      /* tries made, 1 when the first succeeded */
  double seconds;         /* from the first try to this reply */
} dm_aws_reply;

/* Classifies one reply; error_type (size 128) may be filled with the service's error name.
 * NULL uses the default: 2xx ok, 429/5xx/code 0 retry, else permanent. */
typedef dm_aws_verdict (*dm_aws_classify_fn)(long code, const uint8_t *body, size_t len,
                                             char *error_type);

/* status: 0 when the verdict was DM_AWS_OK; DM_EAGAIN when retries ran out (throttling,
 * 5xx, timeouts); DM_EIO for a permanent error; DM_ECLOSED when the client closed first.
 * The reply is filled in every case (code 0 when nothing came back). */
typedef void (*dm_aws_cb)(void *arg, int status, const dm_aws_reply *r);

typedef struct dm_aws_header {
  const char *name, *value;
} dm_aws_header;

typedef struct dm_aws_req {
  const char *method;      /* "GET", "PUT", "POST", "DELETE", "HEAD" */
  const char *path;        /* already URI-encoded, starts with '/': "/bucket/dm/v1/x.dmb" */
  const char *query;       /* canonical query string without '?' (sorted, encoded), or NULL */
  const dm_aws_header *headers; /* extra headers (Content-Type, X-Amz-Target, Range...) */
  size_t nheaders;
  const uint8_t *body;     /* kept valid by the caller until the callback */
  size_t len;
  const char *op;          /* metric label: "BatchWriteItem", "GetObject", ... */
  dm_aws_classify_fn classify;
} dm_aws_req;

int dm_aws_open(dm_aws **out, uv_loop_t *loop, const dm_aws_opts *o, char *err, size_t errlen);
/* The request and its headers are copied; body is not. */
int dm_aws_send(dm_aws *a, const dm_aws_req *req, dm_aws_cb cb, void *arg);

typedef struct dm_aws_stats {
  uint64_t requests, errors, retries, throttles; /* every try counts as a request */
  uint64_t inflight, queued;
  uint64_t bytes_out, bytes_in;
  int failing;            /* the last request (after its retries) failed */
  char last_error[256];   /* "POST dynamodb BatchWriteItem: 503 ... (after 6 tries)" */
} dm_aws_stats;
void dm_aws_stats_get(const dm_aws *a, dm_aws_stats *out);

/* Fails every queued and in-flight request with DM_ECLOSED (their callbacks run, on the
 * loop, before or after close returns), then frees the client once curl has let go of its
 * handles. Keep running the loop until it returns 0. */
void dm_aws_close(dm_aws *a);

#endif
