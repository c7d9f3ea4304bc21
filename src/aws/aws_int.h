/* aws_int.h — what the files of the remote HTTP client share (private to src/aws/):
 *   client.c    the essay; open/send/close, slots, retries, delivery
 *   uvcurl.c    curl multi on libuv: a uv_poll per socket, the timer, finished transfers
 *   request.c   the copy of a request, its checks, the lists it moves between
 *   try.c       one try of a request: the easy handle, headers, signing, reply capture
 *   classify.c  the default classifier, transport errors, the retry rule
 *   metrics.c   the client's metric series and the per-backend in-flight gauge
 *   sigv4.c, uri.c  signing (sigv4.h)
 */
#ifndef DM_AWS_INT_H
#define DM_AWS_INT_H

#include <curl/curl.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "diamond/aws.h"
#include "diamond/buf.h"
#include "diamond/metrics.h"

#define AWS_MAX_OPS 16 /* distinct op labels per client; more count as "other" */

/* A request moves QUEUED -> INFLIGHT -> (BACKOFF -> QUEUED -> INFLIGHT)* -> delivered,
 * or to DYING from any state when the client closes. It is on exactly one list. */
typedef enum { R_QUEUED, R_INFLIGHT, R_BACKOFF, R_DYING } req_state;

typedef struct aws_req aws_req;
struct aws_req {
  aws_req *prev, *next;
  dm_aws *a;
  req_state state;
  /* the request, copied at send (body excepted) */
  char *method, *path, *query;
  dm_aws_header *headers;
  size_t nheaders;
  const uint8_t *body;
  size_t len;
  char payload_hash[65];
  dm_aws_classify_fn classify;
  int op; /* index into the client's metric series */
  dm_aws_cb cb;
  void *arg;
  /* progress */
  uint32_t attempts;
  uint64_t first_ns, try_ns; /* uv_hrtime at the first try and this one */
  uint64_t due_ms;           /* uv_now when a backoff ends */
  /* the current try */
  CURL *easy;
  struct curl_slist *slist;
  dm_buf resp;     /* body */
  dm_buf hdrs;     /* response headers: name \0 value \0 ... */
  long code;
  int curl_code;
  char errbuf[CURL_ERROR_SIZE];
  char error_type[128];
};

typedef struct req_list {
  aws_req *head, *tail;
  size_t n;
} req_list;

typedef struct sock_ctx sock_ctx;
struct sock_ctx {
  uv_poll_t poll;
  curl_socket_t fd;
  dm_aws *a;
  sock_ctx *prev, *next;
};

typedef struct aws_op_metrics {
  char name[48];
  dm_counter *requests, *errors;
} aws_op_metrics;

typedef struct aws_metrics {
  aws_op_metrics ops[AWS_MAX_OPS + 1]; /* the last one is "other" */
  size_t nops;
  int fixed; /* opts.ops was given: no op is added later */
  dm_counter *retries, *throttles, *bytes_out, *bytes_in;
  dm_histogram *seconds;
  void *gauge; /* the backend's in-flight slot (metrics.c) */
} aws_metrics;

struct dm_aws {
  uv_loop_t *loop;
  CURLM *multi;
  uv_timer_t curl_timer;  /* CURLMOPT_TIMERFUNCTION */
  uv_timer_t retry_timer; /* the earliest backoff; after close, the ECLOSED deliveries */
  int open_handles;       /* uv handles not yet closed; freed at 0 after teardown */
  char *backend, *service, *region, *endpoint, *host;
  char *access_key, *secret_key, *session_token;
  long timeout_ms, connect_timeout_ms;
  size_t max_inflight, max_queue;
  uint32_t max_attempts;
  uint64_t retry_base_ms, retry_cap_ms;
  req_list queue, inflight, backoff, dying;
  CURL **pool; /* idle easy handles, reused for the next try */
  size_t npool;
  sock_ctx *socks;
  dm_aws_stats st;
  aws_metrics m;
  int closing; /* dm_aws_close was called */
};

/* ---- request.c ----------------------------------------------------------------------- */

int aws_req_check(const dm_aws_req *q); /* 0 or DM_EINVAL */
aws_req *aws_req_new(dm_aws *a, const dm_aws_req *q, dm_aws_cb cb, void *arg); /* NULL: OOM */
void aws_req_free(aws_req *r);
void aws_list_push_back(req_list *l, aws_req *r);
void aws_list_push_front(req_list *l, aws_req *r);
void aws_list_insert_before(req_list *l, aws_req *at, aws_req *r); /* at NULL: at the end */
void aws_list_remove(req_list *l, aws_req *r);
aws_req *aws_list_pop_front(req_list *l);

/* ---- uvcurl.c ------------------------------------------------------------------------ */

void aws_uv_attach(dm_aws *a);     /* the socket and timer callbacks on a->multi */
void aws_socks_unwatch(dm_aws *a); /* stops every uv_poll (before curl closes the fds) */
void aws_socks_close(dm_aws *a);   /* closes the uv_polls left after curl_multi_cleanup */

/* ---- client.c ------------------------------------------------------------------------ */

/* One try of r ended with curl's result res (r is on the in-flight list): judge it, retry
 * or deliver. */
void aws_try_done(dm_aws *a, aws_req *r, CURLcode res);
void aws_handle_gone(dm_aws *a); /* a uv handle of a finished closing; frees a at the last */

/* ---- try.c --------------------------------------------------------------------------- */

/* Builds the try's easy handle (a pooled one when there is one), signs with the current
 * time and adds it to the multi handle. DM_ENOMEM / DM_EIO, the request untouched. */
int aws_try_start(dm_aws *a, aws_req *r);
/* Takes the easy handle of a finished or abandoned try off the multi handle and back to the
 * pool (or frees it); clears the try's buffers unless keep_reply. */
void aws_try_end(dm_aws *a, aws_req *r, int keep_reply);
/* curl's message for a failed try into r->errbuf, with the system's reason when curl has
 * one ("...: Connection refused" rather than "...: Couldn't connect to server"). */
void aws_try_explain(aws_req *r, CURLcode res);
/* The response headers of the current try into out (at most max); returns the count. */
size_t aws_reply_headers(const aws_req *r, dm_aws_header *out, size_t max);

/* ---- classify.c ---------------------------------------------------------------------- */

/* A try that got no HTTP reply: RETRY, or PERMANENT when retrying cannot help. */
dm_aws_verdict aws_classify_transport(int curl_code);

/* ---- metrics.c ----------------------------------------------------------------------- */

/* A metric label value we accept unescaped: [A-Za-z0-9_.-]{1,31}. */
int aws_label_ok(const char *s);
void aws_metrics_init(dm_aws *a, const char *const *ops);
int aws_metrics_op(dm_aws *a, const char *op); /* index of op's series */
void aws_metrics_inflight(dm_aws *a, int delta);

#endif
