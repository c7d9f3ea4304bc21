/* aws.h — the HTTP client of the remote tiers (DynamoDB, S3): libcurl's multi interface
 * driven by the libuv loop (uv_poll per socket, one uv_timer), SigV4 signing, and the retry
 * policy shared by every remote backend.
 *
 * One dm_aws client per backend ("table", "blob"). Each request is signed, sent, and — on
 * throttling, 5xx, a timeout or a connection error — retried after a capped exponential
 * backoff with full jitter, sleep = random(0, min(cap, base * 2^attempt)), up to
 * max_attempts tries, re-signed on every try. At most max_inflight requests of one client
 * are on the wire; up to max_queue more wait for a slot (a retry waiting out its backoff
 * holds no slot and, once due, goes to the head of the queue); beyond that dm_aws_send fails
 * at once with DM_EBUSY. Nothing here blocks the loop: DNS, connect, TLS and transfer all
 * run inside curl's multi handle. Connections are kept alive and reused.
 *
 * Every call runs on the loop thread. dm_aws_send returns 0 and calls its callback exactly
 * once, later, from the loop (never from inside dm_aws_send), or returns a negative DM_E*
 * code and never calls it (tier.h rules).
 *
 * Metrics, registered at open, labelled backend="<backend>" (and op="<op>"):
 *   diamond_remote_requests_total{backend,op}  tries sent (a retried request counts each)
 *   diamond_remote_errors_total{backend,op}    tries that did not end DM_AWS_OK
 *   diamond_remote_retries_total{backend}      tries scheduled again after a failure
 *   diamond_remote_throttles_total{backend}    tries the service throttled
 *   diamond_remote_request_seconds{backend}    duration of each try
 *   diamond_remote_inflight{backend}           requests on the wire now (gauge)
 *   diamond_remote_bytes_out_total{backend}, diamond_remote_bytes_in_total{backend}  bodies
 * An op outside opts.ops (or the first 16 distinct ops when ops is NULL) counts as "other",
 * so the label set stays bounded.
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
                           (scheme, host, optional port; no path; a trailing '/' is dropped) */
  /* Credentials; NULL or "" reads AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
   * AWS_SESSION_TOKEN at open. With no key at all requests go out unsigned. */
  const char *access_key, *secret_key, *session_token;
  int64_t timeout_ms, connect_timeout_ms; /* one try, connect to last byte / connect only */
  int64_t max_inflight, max_queue, max_attempts; /* each >= 1 (max_queue >= 0) */
  int64_t retry_base_ms, retry_cap_ms;
  /* Optional NULL-terminated list of the ops this client sends ("GetObject", ...): their
   * metrics exist from open on. NULL: registered on first use, up to 16. */
  const char *const *ops;
} dm_aws_opts;

/* How a reply is judged, so each service can tell throttling and permanent errors apart
 * (DynamoDB puts the error type in the JSON body, S3 in XML). */
typedef enum {
  DM_AWS_OK = 0,        /* hand the reply to the callback */
  DM_AWS_RETRY,         /* 5xx, connection or timeout: retry with backoff */
  DM_AWS_THROTTLE,      /* ProvisionedThroughputExceeded, Throttling, SlowDown: retry */
  DM_AWS_PERMANENT,     /* anything else: fail at once (the caller may still look at it) */
} dm_aws_verdict;

typedef struct dm_aws_header {
  const char *name, *value;
} dm_aws_header;

typedef struct dm_aws_reply {
  long code;            /* HTTP status; 0 when no reply arrived (connection, timeout) */
  const uint8_t *body;  /* NUL-terminated copy; valid only during the callback */
  size_t len;
  const char *error_type; /* service error type when the classifier found one, else "" */
  const char *curl_error; /* curl's message for code 0, else "" */
  uint32_t attempts;      /* tries made, 1 when the first succeeded */
  double seconds;         /* from the first try to this reply */
  const dm_aws_header *headers; /* response headers of this reply, names as received; */
  size_t nheaders;              /* valid only during the callback */
} dm_aws_reply;

/* The value of response header name (any case), or NULL. Valid during the callback. */
const char *dm_aws_reply_header(const dm_aws_reply *r, const char *name);

/* Classifies one HTTP reply (code >= 100; a try that got no reply is DM_AWS_RETRY without
 * asking, or DM_AWS_PERMANENT for errors no retry can fix: bad URL, unsupported scheme,
 * TLS certificate rejected). error_type (128 bytes, "" on entry) may be filled with the
 * service's error name. NULL uses dm_aws_classify_default. */
typedef dm_aws_verdict (*dm_aws_classify_fn)(long code, const uint8_t *body, size_t len,
                                             char *error_type);
/* 2xx ok; 429 throttle; 5xx retry; anything else permanent. */
dm_aws_verdict dm_aws_classify_default(long code, const uint8_t *body, size_t len,
                                       char *error_type);

/* The retry rule. After try number `attempt` (1 = the first) ended with verdict v: returns
 * 1 when the request is to be tried again (RETRY or THROTTLE with attempt < max_attempts),
 * else 0 with *status set to what the callback gets: 0 (OK), DM_EIO (PERMANENT) or
 * DM_EAGAIN (RETRY or THROTTLE on the last try). */
int dm_aws_retry_decision(dm_aws_verdict v, uint32_t attempt, uint32_t max_attempts,
                          int *status);

/* status: 0 when the verdict was DM_AWS_OK; DM_EAGAIN when retries ran out (throttling,
 * 5xx, timeouts); DM_EIO for a permanent error; DM_ECLOSED when the client closed first.
 * The reply is filled in every case (code 0 when nothing came back). */
typedef void (*dm_aws_cb)(void *arg, int status, const dm_aws_reply *r);

typedef struct dm_aws_req {
  const char *method;      /* "GET", "PUT", "POST", "DELETE", "HEAD" */
  const char *path;        /* already URI-encoded, starts with '/': "/bucket/dm/v1/x.dmb" */
  const char *query;       /* canonical query string without '?' (sorted, encoded), or NULL */
  const dm_aws_header *headers; /* extra headers (Content-Type, X-Amz-Target, Range...),
                                   all sent and signed */
  size_t nheaders;
  const uint8_t *body;     /* kept valid by the caller until the callback */
  size_t len;
  const char *op;          /* metric label: "BatchWriteItem", "GetObject", ... */
  dm_aws_classify_fn classify;
} dm_aws_req;

/* DM_EINVAL (with a message in err) for a bad endpoint or limit, DM_ENOMEM, DM_EIO when
 * curl cannot start. */
int dm_aws_open(dm_aws **out, uv_loop_t *loop, const dm_aws_opts *o, char *err, size_t errlen);
/* The request and its headers are copied; body is not. DM_EINVAL (bad method, path not
 * starting with '/', a header name that cannot be signed), DM_EBUSY (max_queue requests
 * already wait), DM_ECLOSED (after close), DM_ENOMEM. */
int dm_aws_send(dm_aws *a, const dm_aws_req *req, dm_aws_cb cb, void *arg);

typedef struct dm_aws_stats {
  uint64_t requests, errors, retries, throttles; /* every try counts as a request */
  uint64_t inflight, queued;                     /* now: on the wire, waiting for a slot */
  uint64_t backoff;                              /* now: retries waiting out their delay */
  uint64_t bytes_out, bytes_in;                  /* request and response bodies */
  int failing;            /* the last request (after its retries) failed */
  char last_error[256];   /* the last failure, kept after recovery:
                             "PUT s3 PutObject: 503 SlowDown (after 6 tries)",
                             "POST dynamodb Query: <curl's message> (after 6 tries)" */
} dm_aws_stats;
void dm_aws_stats_get(const dm_aws *a, dm_aws_stats *out);

/* Fails every queued, waiting and in-flight request with DM_ECLOSED (their callbacks run
 * from the loop after close returns, never inside it), then frees the client once curl and
 * libuv have let go of its handles. Do not use a after close. Keep running the loop until
 * it returns 0. NULL is fine. */
void dm_aws_close(dm_aws *a);

#endif
