/* client.c — the remote HTTP client (aws.h): libcurl's multi interface on the libuv loop,
 * bounded concurrency, retries with backoff, and close.
 *
 * How curl multi meets libuv. curl never blocks and never owns a thread here: it tells us
 * which sockets it wants watched (CURLMOPT_SOCKETFUNCTION) and when it next needs to be
 * woken (CURLMOPT_TIMERFUNCTION), and we tell it what happened with
 * curl_multi_socket_action. Each socket curl reports gets a uv_poll_t (a sock_ctx, stored
 * with curl_multi_assign so curl hands it back), started for the events curl asks for and
 * closed when curl says CURL_POLL_REMOVE — curl says so before it closes the fd, so a
 * reused fd number always finds its old watcher gone. The single uv_timer_t is (re)armed
 * with whatever timeout curl asks for; 0 is armed too (curl must not be re-entered from its
 * own callback). After every socket_action we drain curl_multi_info_read for CURLMSG_DONE:
 * a finished transfer is one finished try. Connections stay in the multi handle's cache
 * (CURLMOPT_MAXCONNECTS = max_inflight), so keep-alive works across requests; the easy
 * handles themselves are pooled and curl_easy_reset between tries.
 *
 * Slots. A request is on exactly one list: queue (waiting for a slot), inflight (on the
 * wire, at most max_inflight), backoff (waiting out a retry delay, sorted by due time,
 * holding no slot), or dying (the client closed). dm_aws_send starts a request at once
 * when a slot is free and nobody is queued, queues it when fewer than max_queue wait, and
 * refuses it with DM_EBUSY otherwise. Retries are not refused: they were accepted once, so
 * when their delay ends they go to the head of the queue. Whenever a try ends, the freed
 * slot is given to the queue before the callback runs, so a callback that sends again
 * queues behind requests that were already waiting.
 *
 * Retries. Each ended try is judged: no HTTP reply → aws_classify_transport (retry, unless
 * the URL or TLS setup is wrong); otherwise the request's classifier (the service's: S3
 * looks at the XML <Code>, DynamoDB at "__type"). dm_aws_retry_decision turns the verdict
 * into "try again" or the final status. A retry waits dm_backoff_ms(tries - 1, base, cap)
 * on one uv_timer_t armed for the earliest due request, and is signed again when it starts
 * (X-Amz-Date changes; AWS refuses signatures older than 15 minutes).
 *
 * Close. dm_aws_close takes every in-flight transfer off the multi handle, moves every
 * request to the dying list and arms the retry timer with 0: the DM_ECLOSED callbacks run
 * from the loop, never inside dm_aws_close (callers may be tearing down their own state).
 * Then curl is cleaned up (sockets are unwatched first, so no watcher outlives its fd),
 * every uv handle is closed, and the last close callback frees the client.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws_int.h"
#include "diamond/backoff.h"
#include "diamond/error.h"
#include "diamond/log.h"

/* ---- delivery ------------------------------------------------------------------------ */

static const char *op_name(const dm_aws *a, const aws_req *r) { return a->m.ops[r->op].name; }

static void note_failure(dm_aws *a, const aws_req *r, int status) {
  if (status == DM_ECLOSED) return;
  char *e = a->st.last_error;
  size_t cap = sizeof a->st.last_error;
  int n = snprintf(e, cap, "%s %s %s: ", r->method, a->service, op_name(a, r));
  size_t off = n > 0 && (size_t)n < cap ? (size_t)n : cap - 1;
  int room = (int)(cap - off) - 24; /* keep " (after N tries)" */
  if (r->code == 0)
    n = snprintf(e + off, cap - off, "%.*s", room > 0 ? room : 0,
                 r->errbuf[0] ? r->errbuf : "no reply");
  else
    n = snprintf(e + off, cap - off, "%ld%s%.*s", r->code, r->error_type[0] ? " " : "",
                 room > 0 ? room : 0, r->error_type);
  off += n > 0 && (size_t)n < cap - off ? (size_t)n : cap - off - 1;
  n = snprintf(e + off, cap - off, " (after %u %s)", r->attempts,
               r->attempts == 1 ? "try" : "tries");
  a->st.failing = 1;
  dm_log_debug("remote_failed", "backend=%s op=%s code=%ld attempts=%u", a->backend,
               op_name(a, r), r->code, r->attempts);
}

/* Calls back once and frees r, which is on no list. */
static void deliver(dm_aws *a, aws_req *r, int status) {
  if (status == 0) a->st.failing = 0;
  else note_failure(a, r, status);
  size_t cap = 0;
  for (size_t i = 0; i < r->hdrs.len; i++) cap += r->hdrs.p[i] == '\0';
  cap /= 2;
  dm_aws_header *h = cap > 0 ? calloc(cap, sizeof *h) : NULL;
  dm_aws_reply rep = {
      .code = r->code,
      .body = r->resp.p != NULL ? (const uint8_t *)r->resp.p : (const uint8_t *)"",
      .len = r->resp.len,
      .error_type = r->error_type,
      .curl_error = r->code == 0 ? r->errbuf : "",
      .attempts = r->attempts,
      .seconds = r->attempts > 0 ? (double)(uv_hrtime() - r->first_ns) / 1e9 : 0,
      .headers = h,
      .nheaders = h != NULL ? aws_reply_headers(r, h, cap) : 0,
  };
  r->cb(r->arg, status, &rep);
  free(h);
  aws_req_free(r);
}

/* ---- slots --------------------------------------------------------------------------- */

static int start_try(dm_aws *a, aws_req *r) {
  int rc = aws_try_start(a, r);
  if (rc < 0) return rc;
  if (r->attempts++ == 0) r->first_ns = r->try_ns;
  r->state = R_INFLIGHT;
  aws_list_push_back(&a->inflight, r);
  aws_metrics_inflight(a, 1);
  a->st.requests++;
  a->st.bytes_out += r->len;
  dm_counter_add(a->m.ops[r->op].requests, 1);
  dm_counter_add(a->m.bytes_out, r->len);
  return 0;
}

/* Gives free slots to the queue, head first. */
static void pump(dm_aws *a) {
  while (!a->closing && a->inflight.n < a->max_inflight && a->queue.head != NULL) {
    aws_req *r = aws_list_pop_front(&a->queue);
    int rc = start_try(a, r);
    if (rc < 0) {
      r->code = 0;
      snprintf(r->errbuf, sizeof r->errbuf, "cannot start a try: %s", dm_strerror(rc));
      deliver(a, r, DM_EIO);
    }
  }
}

static void on_retry_timer(uv_timer_t *t);

static void arm_retry_timer(dm_aws *a) {
  if (a->backoff.head == NULL) {
    uv_timer_stop(&a->retry_timer);
    return;
  }
  uint64_t now = uv_now(a->loop), due = a->backoff.head->due_ms;
  uv_timer_start(&a->retry_timer, on_retry_timer, due > now ? due - now : 0, 0);
}

static void schedule_retry(dm_aws *a, aws_req *r) {
  r->due_ms = uv_now(a->loop) + dm_backoff_ms(r->attempts - 1, a->retry_base_ms, a->retry_cap_ms);
  aws_req *at = a->backoff.head;
  while (at != NULL && at->due_ms <= r->due_ms) at = at->next;
  r->state = R_BACKOFF;
  aws_list_insert_before(&a->backoff, at, r);
  arm_retry_timer(a);
}

/* One try of r ended (curl's result res); r is still on the in-flight list. */
void aws_try_done(dm_aws *a, aws_req *r, CURLcode res) {
  long code = 0;
  curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
  r->code = res == CURLE_OK ? code : 0;
  r->curl_code = (int)res;
  if (res != CURLE_OK) aws_try_explain(r, res);
  dm_histogram_observe(a->m.seconds, (double)(uv_hrtime() - r->try_ns) / 1e9);
  a->st.bytes_in += r->resp.len;
  dm_counter_add(a->m.bytes_in, r->resp.len);
  aws_try_end(a, r, 1);
  aws_list_remove(&a->inflight, r);
  aws_metrics_inflight(a, -1);

  dm_aws_verdict v;
  if (r->code == 0) v = aws_classify_transport(r->curl_code);
  else
    v = (r->classify ? r->classify : dm_aws_classify_default)(
        r->code, (const uint8_t *)(r->resp.p ? r->resp.p : ""), r->resp.len, r->error_type);
  r->error_type[sizeof r->error_type - 1] = '\0';
  if (v != DM_AWS_OK) {
    a->st.errors++;
    dm_counter_add(a->m.ops[r->op].errors, 1);
  }
  if (v == DM_AWS_THROTTLE) {
    a->st.throttles++;
    dm_counter_add(a->m.throttles, 1);
  }
  int status;
  if (dm_aws_retry_decision(v, r->attempts, a->max_attempts, &status)) {
    a->st.retries++;
    dm_counter_add(a->m.retries, 1);
    schedule_retry(a, r);
    pump(a);
    return;
  }
  pump(a);
  deliver(a, r, status);
}

/* ---- retries and close --------------------------------------------------------------- */

static void free_client(dm_aws *a) {
  free(a->backend);
  free(a->service);
  free(a->region);
  free(a->endpoint);
  free(a->host);
  free(a->access_key);
  free(a->secret_key);
  free(a->session_token);
  free(a->pool);
  free(a);
}

void aws_handle_gone(dm_aws *a) {
  if (--a->open_handles == 0) free_client(a);
}

static void on_handle_closed(uv_handle_t *h) { aws_handle_gone(h->data); }

/* After close: the ECLOSED callbacks, then curl and the uv handles go. */
static void teardown(dm_aws *a) {
  aws_req *r;
  while ((r = aws_list_pop_front(&a->dying)) != NULL) {
    r->code = 0; /* nothing of an earlier try is handed on */
    r->resp.len = r->hdrs.len = 0;
    r->errbuf[0] = r->error_type[0] = '\0';
    deliver(a, r, DM_ECLOSED);
  }
  aws_socks_unwatch(a);
  CURLM *m = a->multi;
  curl_multi_cleanup(m); /* may report CURL_POLL_REMOVE for cached connections */
  a->multi = NULL;
  for (size_t i = 0; i < a->npool; i++) curl_easy_cleanup(a->pool[i]);
  a->npool = 0;
  aws_socks_close(a);
  uv_close((uv_handle_t *)&a->curl_timer, on_handle_closed);
  uv_close((uv_handle_t *)&a->retry_timer, on_handle_closed);
}

static void on_retry_timer(uv_timer_t *t) {
  dm_aws *a = t->data;
  if (a->closing) {
    teardown(a);
    return;
  }
  uint64_t now = uv_now(a->loop);
  aws_req *last_due = NULL;
  while (a->backoff.head != NULL && a->backoff.head->due_ms <= now) {
    aws_req *r = aws_list_pop_front(&a->backoff);
    r->state = R_QUEUED;
    if (last_due == NULL) aws_list_push_front(&a->queue, r); /* retries first, in due order */
    else if (last_due->next == NULL) aws_list_push_back(&a->queue, r);
    else aws_list_insert_before(&a->queue, last_due->next, r);
    last_due = r;
  }
  arm_retry_timer(a);
  pump(a);
}

void dm_aws_close(dm_aws *a) {
  if (a == NULL || a->closing) return;
  a->closing = 1;
  aws_req *r;
  while ((r = aws_list_pop_front(&a->inflight)) != NULL) {
    aws_try_end(a, r, 0);
    aws_metrics_inflight(a, -1);
    r->code = 0;
    r->errbuf[0] = '\0';
    r->state = R_DYING;
    aws_list_push_back(&a->dying, r);
  }
  req_list *lists[] = {&a->queue, &a->backoff};
  for (size_t i = 0; i < 2; i++) {
    while ((r = aws_list_pop_front(lists[i])) != NULL) {
      r->state = R_DYING;
      aws_list_push_back(&a->dying, r);
    }
  }
  uv_timer_stop(&a->curl_timer);
  uv_timer_start(&a->retry_timer, on_retry_timer, 0, 0);
}

/* ---- open, send, stats --------------------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;
static void curl_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

static char *dup_or_env(const char *v, const char *env) {
  if (v == NULL || v[0] == '\0') v = getenv(env);
  return v != NULL && v[0] != '\0' ? strdup(v) : NULL;
}

static int bad(char *err, size_t errlen, const char *fmt, const char *what) {
  if (err != NULL && errlen > 0) snprintf(err, errlen, fmt, what);
  return DM_EINVAL;
}

int dm_aws_open(dm_aws **out, uv_loop_t *loop, const dm_aws_opts *o, char *err,
                size_t errlen) {
  if (err != NULL && errlen > 0) err[0] = '\0';
  if (out == NULL || loop == NULL || o == NULL) return bad(err, errlen, "remote: %s", "no options");
  if (!aws_label_ok(o->backend)) return bad(err, errlen, "remote: bad backend name \"%s\"",
                                            o->backend ? o->backend : "");
  if (o->service == NULL || o->service[0] == '\0' || o->region == NULL || o->region[0] == '\0')
    return bad(err, errlen, "remote %s: service and region are required", o->backend);
  const char *ep = o->endpoint != NULL ? o->endpoint : "";
  const char *host = strncmp(ep, "http://", 7) == 0    ? ep + 7
                     : strncmp(ep, "https://", 8) == 0 ? ep + 8
                                                       : NULL;
  size_t hlen = host != NULL ? strcspn(host, "/") : 0;
  if (host == NULL || hlen == 0 || (host[hlen] != '\0' && strcmp(host + hlen, "/") != 0))
    return bad(err, errlen, "remote: endpoint \"%s\": expected http(s)://host[:port]", ep);
  if (o->timeout_ms < 1 || o->connect_timeout_ms < 1 || o->max_inflight < 1 ||
      o->max_queue < 0 || o->max_attempts < 1 || o->retry_base_ms < 0 || o->retry_cap_ms < 0 ||
      o->max_inflight > 100000 || o->max_attempts > 1000)
    return bad(err, errlen, "remote %s: a timeout or limit is out of range", o->backend);
  pthread_once(&curl_once, curl_init);
  if (curl_init_rc != CURLE_OK) {
    bad(err, errlen, "remote: curl: %s", curl_easy_strerror(curl_init_rc));
    return DM_EIO;
  }

  dm_aws *a = calloc(1, sizeof *a);
  if (a == NULL) return DM_ENOMEM;
  a->loop = loop;
  a->backend = strdup(o->backend);
  a->service = strdup(o->service);
  a->region = strdup(o->region);
  a->endpoint = strndup(ep, (size_t)(host - ep) + hlen);
  a->host = strndup(host, hlen);
  a->access_key = dup_or_env(o->access_key, "AWS_ACCESS_KEY_ID");
  a->secret_key = dup_or_env(o->secret_key, "AWS_SECRET_ACCESS_KEY");
  a->session_token = dup_or_env(o->session_token, "AWS_SESSION_TOKEN");
  a->timeout_ms = (long)o->timeout_ms;
  a->connect_timeout_ms = (long)o->connect_timeout_ms;
  a->max_inflight = (size_t)o->max_inflight;
  a->max_queue = (size_t)o->max_queue;
  a->max_attempts = (uint32_t)o->max_attempts;
  a->retry_base_ms = (uint64_t)o->retry_base_ms;
  a->retry_cap_ms = (uint64_t)o->retry_cap_ms;
  a->pool = calloc(a->max_inflight, sizeof *a->pool);
  int rc = DM_ENOMEM;
  if (a->backend == NULL || a->service == NULL || a->region == NULL || a->endpoint == NULL ||
      a->host == NULL || a->pool == NULL)
    goto fail;
  if (a->access_key != NULL && a->secret_key == NULL) {
    rc = bad(err, errlen, "remote %s: an access key without a secret key", o->backend);
    goto fail;
  }
  if (a->access_key == NULL) { /* unsigned: a token alone means nothing */
    free(a->secret_key);
    free(a->session_token);
    a->secret_key = a->session_token = NULL;
  }
  a->multi = curl_multi_init();
  if (a->multi == NULL) {
    rc = DM_EIO;
    goto fail;
  }
  aws_uv_attach(a);
  curl_multi_setopt(a->multi, CURLMOPT_MAXCONNECTS, (long)a->max_inflight);
  uv_timer_init(loop, &a->curl_timer);
  uv_timer_init(loop, &a->retry_timer);
  a->curl_timer.data = a->retry_timer.data = a;
  a->open_handles = 2;
  aws_metrics_init(a, o->ops);
  *out = a;
  return 0;
fail:
  free_client(a);
  return rc;
}

int dm_aws_send(dm_aws *a, const dm_aws_req *q, dm_aws_cb cb, void *arg) {
  if (a == NULL || q == NULL || cb == NULL) return DM_EINVAL;
  if (a->closing) return DM_ECLOSED;
  if (aws_req_check(q) < 0) return DM_EINVAL;
  int now = a->inflight.n < a->max_inflight && a->queue.n == 0;
  if (!now && a->queue.n >= a->max_queue) return DM_EBUSY;
  aws_req *r = aws_req_new(a, q, cb, arg);
  if (r == NULL) return DM_ENOMEM;
  if (now) {
    int rc = start_try(a, r);
    if (rc < 0) {
      aws_req_free(r);
      return rc;
    }
  } else {
    r->state = R_QUEUED;
    aws_list_push_back(&a->queue, r);
  }
  return 0;
}

void dm_aws_stats_get(const dm_aws *a, dm_aws_stats *out) {
  *out = a->st;
  out->inflight = a->inflight.n;
  out->queued = a->queue.n;
  out->backoff = a->backoff.n;
}
