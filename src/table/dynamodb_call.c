/* dynamodb_call.c — one DynamoDB request, from body to parsed reply.
 *
 * Every request of the table goes through ddb_send: at most max_out are handed to the aws
 * client (which signs, retries throttling and 5xx with backoff, and bounds what is on the
 * wire); the rest wait in a FIFO here, so a put of 20,000 windows never meets the client's
 * DM_EBUSY. The reply body is parsed once (yajl tree) and handed to the caller with the
 * error type and message; the consumed capacity is counted into stats and the process-wide
 * counters diamond_table_{read,write}_units_total; the health message follows the last
 * reply (a failed condition is an answer, not a failure).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diamond/error.h"
#include "diamond/log.h"
#include "dynamodb_int.h"

struct ddb_call {
  ddb *t;
  const char *op;
  char *body;
  size_t len;
  ddb_cb cb;
  ddb_pool_fn pool;
  void *arg;
  ddb_call *next;
};

/* Process-wide, so a counter never points into a closed table. Loop thread only. */
static double units_read, units_write;

static double get_units(void *arg) { return *(double *)arg; }

void ddb_register_metrics(void) {
  dm_metric_counter_fn("diamond_table_read_units_total", "",
                       "DynamoDB read capacity units consumed.", get_units, &units_read);
  dm_metric_counter_fn("diamond_table_write_units_total", "",
                       "DynamoDB write capacity units consumed.", get_units, &units_write);
}

void ddb_units(ddb *t, const char *op, double units) {
  if (units <= 0) return;
  if (strcmp(op, "GetItem") == 0 || strcmp(op, "Query") == 0 || strcmp(op, "Scan") == 0) {
    t->st.read_units += units;
    units_read += units;
  } else {
    t->st.write_units += units;
    units_write += units;
  }
}

void ddb_quarantine(ddb *t, const char *series, size_t len, int64_t start, const char *why) {
  char q[256];
  char s[DDB_MAX_SERIES + 1];
  snprintf(s, sizeof s, "%.*s", (int)len, series);
  dm_log_error("table_quarantine", "series=%s start=%lld error=%s", s, (long long)start,
               dm_log_quote(q, sizeof q, why));
  dm_counter_add(t->m_quarantined, 1);
}

static void set_health(ddb *t, const char *op, const dm_aws_reply *ar, int status,
                       const char *type, const char *msg) {
  if (status == 0) {
    t->failing = 0;
    return;
  }
  if (strcmp(type, "ConditionalCheckFailedException") == 0) return; /* an answer */
  t->failing = 1;
  if (strcmp(type, "ResourceNotFoundException") == 0)
    snprintf(t->why, sizeof t->why, "table %s does not exist (run diamondd --create-storage)",
             t->table);
  else if (strcmp(type, "AccessDeniedException") == 0)
    snprintf(t->why, sizeof t->why, "access denied to table %s: %s", t->table, msg);
  else if (ar->code == 0)
    snprintf(t->why, sizeof t->why, "%s: %s %s", t->endpoint, op,
             ar->curl_error && ar->curl_error[0] ? ar->curl_error : dm_strerror(status));
  else
    snprintf(t->why, sizeof t->why, "%s %s: %ld %s%s%s", t->endpoint, op, ar->code, type,
             type[0] && msg[0] ? ": " : "", msg);
}

static void start_queued(ddb *t);

static void call_free(ddb_call *c) {
  free(c->body);
  free(c);
}

/* A reply, parsed: health, units, the caller's callback, then the next queued request. */
static void finish_reply(ddb_call *c, int status, const dm_aws_reply *ar, yajl_val root) {
  ddb *t = c->t;
  if (status == 0 && root == NULL) status = DM_ECORRUPT;
  char type[128];
  snprintf(type, sizeof type, "%s", ar->error_type ? ar->error_type : "");
  if (type[0] == '\0' && root != NULL && status != 0) ddb_error_type(root, type, sizeof type);
  yajl_val m = ddb_get(root, "message");
  if (m == NULL) m = ddb_get(root, "Message");
  const char *msg = YAJL_IS_STRING(m) ? YAJL_GET_STRING(m)
                    : ar->code == 0 && ar->curl_error ? ar->curl_error : "";
  ddb_units(t, c->op, ddb_consumed(root));
  set_health(t, c->op, ar, status, type, msg);
  if (status != 0 && strcmp(type, "ConditionalCheckFailedException") != 0)
    dm_log_debug("table_request_failed", "op=%s code=%ld type=%s attempts=%u", c->op, ar->code,
                 type[0] ? type : "-", ar->attempts);
  ddb_reply r = {.status = status, .code = ar->code, .error_type = type, .message = msg,
                 .root = root};
  if (c->pool != NULL && status == 0) c->pool(c->arg, root); /* small: here on the loop */
  c->cb(c->arg, &r);
  yajl_tree_free(root);
  call_free(c);
  start_queued(t);
}

/* Bodies above this are parsed on the thread pool: yajl_tree takes ~23 ms per MB here,
 * and a Query page is up to 1 MB. */
#define PARSE_ON_POOL 65536

typedef struct parse_job {
  uv_work_t work;
  ddb_call *c;
  int status;
  dm_aws_reply ar; /* its strings point into the copies below */
  char type[128], curl[256];
  char *body;
  yajl_val root;
} parse_job;

static void parse_work(uv_work_t *w) {
  parse_job *p = w->data;
  p->root = yajl_tree_parse(p->body, NULL, 0);
  if (p->c->pool != NULL && p->status == 0 && p->root != NULL) {
    p->c->pool(p->c->arg, p->root);
    p->c->pool = NULL; /* done */
  }
}

static void parse_done(uv_work_t *w, int uvstatus) {
  parse_job *p = w->data;
  if (uvstatus < 0 && p->status == 0) p->status = DM_EIO;
  p->ar.body = NULL;
  finish_reply(p->c, p->status, &p->ar, p->root);
  free(p->body);
  free(p);
}

static void on_reply(void *arg, int status, const dm_aws_reply *ar) {
  ddb_call *c = arg;
  c->t->out--;
  if (ar->body != NULL && ar->len > PARSE_ON_POOL) {
    parse_job *p = calloc(1, sizeof *p);
    char *body = malloc(ar->len + 1);
    if (p != NULL && body != NULL) {
      memcpy(body, ar->body, ar->len);
      body[ar->len] = '\0';
      p->c = c;
      p->status = status;
      p->body = body;
      p->ar = *ar;
      snprintf(p->type, sizeof p->type, "%s", ar->error_type ? ar->error_type : "");
      snprintf(p->curl, sizeof p->curl, "%s", ar->curl_error ? ar->curl_error : "");
      p->ar.error_type = p->type;
      p->ar.curl_error = p->curl;
      p->ar.headers = NULL;
      p->ar.nheaders = 0;
      p->work.data = p;
      if (uv_queue_work(c->t->loop, &p->work, parse_work, parse_done) == 0) {
        start_queued(c->t); /* the slot is free while the pool parses */
        return;
      }
    }
    free(p);
    free(body); /* no memory for the copy: parse here */
  }
  yajl_val root = NULL;
  if (ar->body != NULL && ar->len > 0) root = yajl_tree_parse((const char *)ar->body, NULL, 0);
  finish_reply(c, status, ar, root);
}

static int start(ddb_call *c) {
  char target[64];
  snprintf(target, sizeof target, "DynamoDB_20120810.%s", c->op);
  dm_aws_header h[] = {{"Content-Type", "application/x-amz-json-1.0"},
                       {"X-Amz-Target", target}};
  dm_aws_req req = {.method = "POST", .path = "/", .headers = h, .nheaders = 2,
                    .body = (const uint8_t *)c->body, .len = c->len, .op = c->op,
                    .classify = ddb_classify};
  int rc = dm_aws_send(c->t->aws, &req, on_reply, c);
  if (rc == 0) c->t->out++;
  return rc;
}

static void start_queued(ddb *t) {
  while (t->q_head != NULL && t->out < t->max_out) {
    ddb_call *c = t->q_head;
    t->q_head = c->next;
    if (t->q_head == NULL) t->q_tail = NULL;
    int rc = start(c);
    if (rc < 0) { /* the client refused (closed, no memory): this call fails */
      dm_aws_reply ar = {.code = 0, .body = NULL, .len = 0, .error_type = "", .curl_error = ""};
      set_health(t, c->op, &ar, rc, "", dm_strerror(rc));
      ddb_reply r = {.status = rc, .code = 0, .error_type = "", .message = dm_strerror(rc)};
      c->cb(c->arg, &r);
      call_free(c);
    }
  }
}

int ddb_send(ddb *t, const char *op, dm_buf *body, ddb_cb cb, void *arg) {
  return ddb_send_pool(t, op, body, NULL, cb, arg);
}

int ddb_send_pool(ddb *t, const char *op, dm_buf *body, ddb_pool_fn pool, ddb_cb cb,
                  void *arg) {
  ddb_call *c = calloc(1, sizeof *c);
  if (body->oom || c == NULL) {
    free(c);
    dm_buf_free(body);
    return DM_ENOMEM;
  }
  c->t = t;
  c->op = op;
  c->cb = cb;
  c->pool = pool;
  c->arg = arg;
  c->body = dm_buf_steal(body, &c->len);
  if (c->body == NULL) {
    free(c);
    return DM_ENOMEM;
  }
  if (t->q_head == NULL && t->out < t->max_out) {
    int rc = start(c);
    if (rc < 0) call_free(c);
    return rc;
  }
  if (t->q_tail != NULL) t->q_tail->next = c;
  else t->q_head = c;
  t->q_tail = c;
  return 0;
}

/* ---- timers -------------------------------------------------------------------------- */

typedef struct after {
  uv_timer_t timer;
  void (*fn)(void *);
  void *arg;
} after;

static void after_closed(uv_handle_t *h) { free(h->data); }

static void after_fire(uv_timer_t *tm) {
  after *a = tm->data;
  a->fn(a->arg);
  uv_close((uv_handle_t *)&a->timer, after_closed);
}

int ddb_after(ddb *t, uint64_t ms, void (*fn)(void *), void *arg) {
  after *a = calloc(1, sizeof *a);
  if (a == NULL) return DM_ENOMEM;
  a->fn = fn;
  a->arg = arg;
  uv_timer_init(t->loop, &a->timer);
  a->timer.data = a;
  uv_timer_start(&a->timer, after_fire, ms, 0);
  return 0;
}

/* ---- the end of the table ------------------------------------------------------------ */

static void kill_closed(uv_handle_t *h) {
  ddb *t = h->data;
  ddb_mset_free(&t->manifest);
  ddb_hset_free(&t->names);
  ddb_scans_free(&t->scans);
  free(t);
}

static void kill_fire(uv_timer_t *tm) {
  ddb *t = tm->data;
  if (t->aws != NULL) dm_aws_close(t->aws);
  t->aws = NULL;
  uv_close((uv_handle_t *)&t->kill, kill_closed);
}

void ddb_destroy(ddb *t) {
  if (t->destroyed) return;
  t->destroyed = 1;
  uv_timer_init(t->loop, &t->kill);
  t->kill.data = t;
  uv_timer_start(&t->kill, kill_fire, 0, 0);
}

void ddb_call_done(ddb *t) {
  if (--t->inflight == 0 && t->closing) ddb_destroy(t);
}
