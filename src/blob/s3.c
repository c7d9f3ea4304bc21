/* s3.c — the cold tier on the S3 API (AWS, LocalStack, MinIO, s3rver), over the remote
 * client (aws.h: libcurl multi on the loop, SigV4, retries). Key "v1/2026-11-24/07.dmb" is
 * the object <blob.prefix>v1/2026-11-24/07.dmb in bucket <blob.bucket>.
 *
 * Addressing. With blob.endpoint empty we talk to AWS in the virtual-hosted style, the only
 * one AWS still supports for new buckets: https://<bucket>.s3.<region>.amazonaws.com/<key>.
 * With an endpoint set (LocalStack, MinIO, s3rver) we use the path style,
 * <endpoint>/<bucket>/<key>, which needs no wildcard DNS. Either way the object part of the
 * path is the RFC 3986 encoding of prefix+key with '/' kept, and that same string is the
 * canonical URI that is signed.
 *
 * Ranges. get_range(off, len) is GET with "Range: bytes=off-(off+len-1)"; off < 0 asks for
 * the last len bytes, "bytes=-len", which S3 answers with the whole object when it is
 * smaller. The object's size comes from Content-Range ("bytes a-b/total", or "bytes *" and
 * the total on a 416) or, on a 200, from the body itself. A range that starts at or past the end is
 * a 416 (InvalidRange), which here is a short read: no bytes, and the size from the
 * Content-Range, the error's <ActualObjectSize>, or a HEAD when neither says. Every reply
 * is checked against the bytes asked for: a server that returns another range than asked
 * (s3rver reads "bytes=-N" as "bytes=0-N") gets one more GET with the explicit range,
 * computed from the size it reported. len 0 is a HEAD (the size only). 404 NoSuchKey is
 * DM_ENOENT; 404 NoSuchBucket is an error (DM_EIO) and makes health() say so.
 *
 * Listing (s3_list.c). ListObjectsV2 with prefix = blob.prefix + the caller's prefix,
 * following NextContinuationToken while IsTruncated (pages of at most 1000 keys); keys
 * come back with blob.prefix stripped and sorted bytewise.
 *
 * Errors. The classifier reads the XML <Code>: 503 and SlowDown throttle (S3 asks for
 * fewer requests per prefix), other 5xx, InternalError and RequestTimeout are retried,
 * anything else is permanent. create is CreateBucket (a CreateBucketConfiguration body
 * outside us-east-1; BucketAlreadyOwnedByYou is success, and BucketAlreadyExists too when
 * we can list the bucket: s3rver says so for a bucket we made). probe lists at most one
 * key and explains failures: "bucket <name> does not exist", "access denied to bucket
 * <name>", or curl's message with the endpoint.
 *
 * close refuses new calls and closes the client, which fails every outstanding request
 * with DM_ECLOSED from the loop; the store is freed with the last callback (blob.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diamond/error.h"
#include "diamond/log.h"
#include "diamond/sigv4.h"
#include "s3_int.h"

enum { OP_PUT, OP_GET, OP_HEAD, OP_DEL, OP_CREATE, OP_CREATE_CHECK, OP_PROBE };

typedef struct s3_op {
  s3_blob *s;
  int kind;
  char *path;
  int64_t off;      /* get: as asked */
  size_t len;
  int refetched;    /* get: the explicit range was asked once */
  const uint8_t *data; /* put */
  union {
    dm_done_cb done;
    dm_bytes_cb bytes;
  } cb;
  void *arg;
} s3_op;

static const char *const s3_ops[] = {"PutObject",    "GetObject",    "HeadObject",
                                     "DeleteObject", "ListObjectsV2", "CreateBucket", NULL};

/* ---- shared with s3_list.c ----------------------------------------------------------- */

dm_aws_verdict s3_classify(long code, const uint8_t *body, size_t len, char *error_type) {
  if (code >= 200 && code < 300) return DM_AWS_OK;
  s3_xml_error_code(body, len, error_type, 128);
  if (code == 503 || code == 429 || strcmp(error_type, "SlowDown") == 0) return DM_AWS_THROTTLE;
  if (code >= 500 || strcmp(error_type, "InternalError") == 0 ||
      strcmp(error_type, "RequestTimeout") == 0)
    return DM_AWS_RETRY;
  return DM_AWS_PERMANENT;
}

/* GetObject and HeadObject: a missing key and a range past the end are answers. */
static dm_aws_verdict classify_get(long code, const uint8_t *body, size_t len, char *type) {
  dm_aws_verdict v = s3_classify(code, body, len, type);
  if (code == 416) return DM_AWS_OK;
  if (code == 404 && (type[0] == '\0' || strcmp(type, "NoSuchKey") == 0)) return DM_AWS_OK;
  return v;
}

static dm_aws_verdict classify_del(long code, const uint8_t *body, size_t len, char *type) {
  dm_aws_verdict v = s3_classify(code, body, len, type);
  return code == 404 && strcmp(type, "NoSuchKey") == 0 ? DM_AWS_OK : v;
}

static dm_aws_verdict classify_create(long code, const uint8_t *body, size_t len, char *type) {
  dm_aws_verdict v = s3_classify(code, body, len, type);
  if (code == 409 &&
      (strcmp(type, "BucketAlreadyOwnedByYou") == 0 || strcmp(type, "BucketAlreadyExists") == 0))
    return DM_AWS_OK;
  return v;
}

void s3_bucket_path(const s3_blob *s, dm_buf *out) {
  dm_buf_adds(out, s->root[0] ? s->root : "/");
}

char *s3_object_path(const s3_blob *s, const char *key) {
  dm_buf b;
  dm_buf_init(&b);
  dm_buf_printf(&b, "%s/", s->root);
  dm_sigv4_uri_encode(&b, s->prefix, strlen(s->prefix), 1);
  dm_sigv4_uri_encode(&b, key, strlen(key), 1);
  return dm_buf_steal(&b, NULL);
}

/* Why the last call failed, in the operator's words. */
static void explain(s3_blob *s, const dm_aws_reply *r) {
  const char *type = r != NULL ? r->error_type : "";
  if (r != NULL && (strcmp(type, "NoSuchBucket") == 0 || (r->code == 404 && type[0] == '\0'))) {
    snprintf(s->why, sizeof s->why, "bucket %s does not exist", s->bucket);
  } else if (r != NULL && r->code == 403) {
    snprintf(s->why, sizeof s->why, "access denied to bucket %s%s%s", s->bucket,
             type[0] ? ": " : "", type);
  } else if (r != NULL && r->code == 0 && r->curl_error[0] != '\0') {
    snprintf(s->why, sizeof s->why, "cannot reach s3 at %.200s: %.200s (after %u %s)",
             s->endpoint, r->curl_error, r->attempts, r->attempts == 1 ? "try" : "tries");
  } else if (r != NULL && r->code >= 200 && r->code < 300) {
    snprintf(s->why, sizeof s->why, "unexpected reply from s3 at %.200s (HTTP %ld)", s->endpoint,
             r->code);
  } else if (s->aws != NULL) {
    dm_aws_stats st;
    dm_aws_stats_get(s->aws, &st);
    snprintf(s->why, sizeof s->why, "%s", st.last_error);
  }
}

void s3_note(s3_blob *s, int status, const dm_aws_reply *r) {
  if (status == DM_ECLOSED || status == DM_EBUSY) return; /* says nothing of the backend */
  if (status == 0 || status == DM_ENOENT) {
    s->healthy = 1;
    return;
  }
  s->healthy = 0;
  explain(s, r);
}

static void destroy(s3_blob *s) { free(s); }

void s3_call_done(s3_blob *s) {
  if (--s->inflight == 0 && s->closing) destroy(s);
}

/* ---- calls --------------------------------------------------------------------------- */

static s3_op *op_new(s3_blob *s, int kind, void *arg) {
  s3_op *o = calloc(1, sizeof *o);
  if (o == NULL) return NULL;
  o->s = s;
  o->kind = kind;
  o->arg = arg;
  return o;
}

static void op_free(s3_op *o) {
  free(o->path);
  free(o);
}

static void on_reply(void *arg, int status, const dm_aws_reply *r);

/* Sends one request of o; 0 or a DM_E* code (o untouched, no callback). */
static int send_op(s3_op *o, const char *method, const char *path, const char *query,
                   const dm_aws_header *h, size_t nh, const uint8_t *body, size_t len,
                   const char *opname, dm_aws_classify_fn classify) {
  if (o->s->aws == NULL) return DM_ECLOSED;
  dm_aws_req q = {.method = method, .path = path, .query = query, .headers = h,
                  .nheaders = nh, .body = body, .len = len, .op = opname,
                  .classify = classify};
  return dm_aws_send(o->s->aws, &q, on_reply, o);
}

/* Ranged GET (or HEAD for the size) of o's object: from, to inclusive; from < 0 is the
 * suffix of len bytes. */
static int send_get(s3_op *o, int64_t from, int64_t to) {
  if (o->kind == OP_HEAD)
    return send_op(o, "HEAD", o->path, NULL, NULL, 0, NULL, 0, "HeadObject", classify_get);
  char range[64];
  if (from < 0) snprintf(range, sizeof range, "bytes=-%zu", o->len);
  else snprintf(range, sizeof range, "bytes=%" PRId64 "-%" PRId64, from, to);
  dm_aws_header h[] = {{"Range", range}};
  return send_op(o, "GET", o->path, NULL, h, 1, NULL, 0, "GetObject", classify_get);
}

/* Calls back and frees o; health was noted by the caller. */
static void deliver_done(s3_op *o, int status) {
  s3_blob *s = o->s;
  if (status == 0 && o->kind == OP_PUT) s->st.bytes_put += o->len;
  dm_done_cb cb = o->cb.done;
  void *arg = o->arg;
  op_free(o);
  cb(arg, status);
  s3_call_done(s);
}

static void finish_done(s3_op *o, int status, const dm_aws_reply *r) {
  s3_note(o->s, status, r);
  deliver_done(o, status);
}

static void finish_bytes(s3_op *o, int status, const uint8_t *d, size_t n, uint64_t size,
                         const dm_aws_reply *r) {
  s3_blob *s = o->s;
  s3_note(s, status, r);
  if (status == 0) s->st.bytes_got += n;
  dm_bytes_cb cb = o->cb.bytes;
  void *arg = o->arg;
  op_free(o);
  if (status == 0) cb(arg, 0, d != NULL ? d : (const uint8_t *)"", n, size);
  else cb(arg, status, NULL, 0, 0);
  s3_call_done(s);
}

/* "bytes a-b/total" or "bytes * /total" (416): 0, or -1 when it is neither. */
static int parse_content_range(const char *v, int64_t *a, int64_t *b, uint64_t *total) {
  if (v == NULL || strncmp(v, "bytes ", 6) != 0) return -1;
  const char *p = v + 6;
  char *end;
  if (*p == '*') {
    *a = *b = -1;
    p++;
  } else {
    *a = strtoll(p, &end, 10);
    if (end == p || *end != '-') return -1;
    p = end + 1;
    *b = strtoll(p, &end, 10);
    if (end == p || *b < *a) return -1;
    p = end;
  }
  if (*p != '/' || p[1] < '0' || p[1] > '9') return -1;
  *total = strtoull(p + 1, &end, 10);
  return *end == '\0' ? 0 : -1;
}

static int parse_u64(const char *s, size_t len, uint64_t *out) {
  if (s == NULL || len == 0 || len > 20) return -1;
  uint64_t v = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (uint64_t)(s[i] - '0');
  }
  *out = v;
  return 0;
}

/* The bytes o asked for, given an object of total bytes: [*from, *to). */
static void wanted(const s3_op *o, uint64_t total, uint64_t *from, uint64_t *to) {
  if (o->off < 0) *from = total > o->len ? total - o->len : 0;
  else *from = (uint64_t)o->off < total ? (uint64_t)o->off : total;
  *to = total - *from < o->len ? total : *from + o->len;
}

/* 416: nothing at that offset; the size from the reply, or a HEAD for it. */
static void got_416(s3_op *o, const dm_aws_reply *r) {
  int64_t a, b;
  uint64_t total;
  size_t pos = 0, n;
  const char *sz = s3_xml_next((const char *)r->body, r->len, &pos, "ActualObjectSize", &n);
  if (parse_content_range(dm_aws_reply_header(r, "Content-Range"), &a, &b, &total) == 0 ||
      parse_u64(sz, n, &total) == 0) {
    finish_bytes(o, 0, NULL, 0, total, r);
    return;
  }
  o->kind = OP_HEAD;
  int rc = send_get(o, 0, 0);
  if (rc < 0) finish_bytes(o, rc, NULL, 0, 0, r);
}

static void got_object(s3_op *o, const dm_aws_reply *r) {
  if (r->code == 404) {
    finish_bytes(o, DM_ENOENT, NULL, 0, 0, r);
    return;
  }
  if (o->kind == OP_HEAD) {
    uint64_t total;
    const char *cl = dm_aws_reply_header(r, "Content-Length");
    if (cl == NULL || parse_u64(cl, strlen(cl), &total) < 0) {
      finish_bytes(o, DM_EIO, NULL, 0, 0, r);
      return;
    }
    finish_bytes(o, 0, NULL, 0, total, r);
    return;
  }
  if (r->code == 416) {
    got_416(o, r);
    return;
  }
  int64_t a = 0, b = (int64_t)r->len - 1;
  uint64_t total = r->len, from, to;
  if (r->code == 206 &&
      (parse_content_range(dm_aws_reply_header(r, "Content-Range"), &a, &b, &total) < 0 ||
       a < 0 || (uint64_t)(b - a + 1) != r->len)) {
    dm_log_warn("s3_bad_range", "bucket=%s path=%s content_range=\"%s\"", o->s->bucket, o->path,
                dm_aws_reply_header(r, "Content-Range") ? dm_aws_reply_header(r, "Content-Range")
                                                        : "");
    finish_bytes(o, DM_EIO, NULL, 0, 0, r);
    return;
  }
  wanted(o, total, &from, &to);
  uint64_t got_from = (uint64_t)a, got_to = (uint64_t)a + r->len;
  if (from >= got_from && to <= got_to) {
    finish_bytes(o, 0, r->body + (from - got_from), (size_t)(to - from), total, r);
    return;
  }
  if (!o->refetched && to > from) { /* another range than asked for: ask exactly */
    o->refetched = 1;
    int rc = send_get(o, (int64_t)from, (int64_t)to - 1);
    if (rc == 0) return;
    finish_bytes(o, rc, NULL, 0, 0, r);
    return;
  }
  if (to == from) {
    finish_bytes(o, 0, NULL, 0, total, r);
    return;
  }
  finish_bytes(o, DM_EIO, NULL, 0, 0, r);
}

static int send_probe(s3_op *o);

static void on_reply(void *arg, int status, const dm_aws_reply *r) {
  s3_op *o = arg;
  switch (o->kind) {
  case OP_GET:
  case OP_HEAD:
    if (status == 0) got_object(o, r);
    else finish_bytes(o, status, NULL, 0, 0, r);
    return;
  case OP_CREATE:
    if (status == 0 && r->code == 409 && strcmp(r->error_type, "BucketAlreadyExists") == 0) {
      o->kind = OP_CREATE_CHECK; /* ours if we may list it */
      int rc = send_probe(o);
      if (rc < 0) finish_done(o, rc, r);
      return;
    }
    finish_done(o, status, r);
    return;
  case OP_PROBE:
  case OP_CREATE_CHECK:
    s3_note(o->s, status, r);
    deliver_done(o, status == DM_EIO && r->code == 404 ? DM_ENOENT : status);
    return;
  default:
    finish_done(o, status, r);
    return;
  }
}

static int accept_op(s3_blob *s, s3_op *o, int rc) {
  if (rc < 0) {
    op_free(o);
    return rc;
  }
  s->inflight++;
  return 0;
}

static int key_ok(const char *key) {
  size_t n = key != NULL ? strlen(key) : 0;
  return n > 0 && n <= 900;
}

static int s3_put(dm_blob *b, const char *key, const uint8_t *data, size_t len, dm_done_cb cb,
                  void *arg) {
  s3_blob *s = (s3_blob *)b;
  if (s->closing) return DM_ECLOSED;
  if (!key_ok(key) || cb == NULL || (data == NULL && len > 0)) return DM_EINVAL;
  s3_op *o = op_new(s, OP_PUT, arg);
  if (o == NULL || (o->path = s3_object_path(s, key)) == NULL) {
    free(o);
    return DM_ENOMEM;
  }
  o->cb.done = cb;
  o->data = data;
  o->len = len;
  dm_aws_header h[] = {{"Content-Type", "application/octet-stream"}};
  int rc = accept_op(s, o, send_op(o, "PUT", o->path, NULL, h, 1, data, len, "PutObject",
                                   s3_classify));
  if (rc == 0) s->st.puts++;
  return rc;
}

static int s3_get_range(dm_blob *b, const char *key, int64_t off, size_t len, dm_bytes_cb cb,
                        void *arg) {
  s3_blob *s = (s3_blob *)b;
  if (s->closing) return DM_ECLOSED;
  if (!key_ok(key) || cb == NULL || len > (size_t)INT64_MAX) return DM_EINVAL;
  s3_op *o = op_new(s, len == 0 ? OP_HEAD : OP_GET, arg);
  if (o == NULL || (o->path = s3_object_path(s, key)) == NULL) {
    free(o);
    return DM_ENOMEM;
  }
  o->cb.bytes = cb;
  o->off = off;
  o->len = len;
  int64_t last = off >= 0 && (uint64_t)off > (uint64_t)INT64_MAX - len ? INT64_MAX
                                                                      : off + (int64_t)len - 1;
  int rc = accept_op(s, o, send_get(o, off < 0 ? -1 : off, last));
  if (rc == 0) s->st.gets++;
  return rc;
}

static int s3_del(dm_blob *b, const char *key, dm_done_cb cb, void *arg) {
  s3_blob *s = (s3_blob *)b;
  if (s->closing) return DM_ECLOSED;
  if (!key_ok(key) || cb == NULL) return DM_EINVAL;
  s3_op *o = op_new(s, OP_DEL, arg);
  if (o == NULL || (o->path = s3_object_path(s, key)) == NULL) {
    free(o);
    return DM_ENOMEM;
  }
  o->cb.done = cb;
  int rc = accept_op(s, o, send_op(o, "DELETE", o->path, NULL, NULL, 0, NULL, 0,
                                   "DeleteObject", classify_del));
  if (rc == 0) s->st.deletes++;
  return rc;
}

static int send_probe(s3_op *o) {
  dm_buf path;
  dm_buf_init(&path);
  s3_bucket_path(o->s, &path);
  dm_sigv4_param p[] = {{"list-type", "2"}, {"max-keys", "1"}};
  char *q = dm_sigv4_query(p, 2);
  int rc = path.oom || q == NULL
               ? DM_ENOMEM
               : send_op(o, "GET", path.p, q, NULL, 0, NULL, 0, "ListObjectsV2", s3_classify);
  free(q);
  dm_buf_free(&path);
  return rc;
}

static int s3_probe(dm_blob *b, dm_done_cb cb, void *arg) {
  s3_blob *s = (s3_blob *)b;
  if (s->closing) return DM_ECLOSED;
  if (cb == NULL) return DM_EINVAL;
  s3_op *o = op_new(s, OP_PROBE, arg);
  if (o == NULL) return DM_ENOMEM;
  o->cb.done = cb;
  return accept_op(s, o, send_probe(o));
}

static const char create_body_fmt[] =
    "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
    "<LocationConstraint>%s</LocationConstraint></CreateBucketConfiguration>";

static int s3_create(dm_blob *b, dm_done_cb cb, void *arg) {
  s3_blob *s = (s3_blob *)b;
  if (s->closing) return DM_ECLOSED;
  if (cb == NULL) return DM_EINVAL;
  s3_op *o = op_new(s, OP_CREATE, arg);
  if (o == NULL) return DM_ENOMEM;
  o->cb.done = cb;
  dm_buf path, body;
  dm_buf_init(&path);
  dm_buf_init(&body);
  s3_bucket_path(s, &path);
  if (strcmp(s->region, "us-east-1") != 0) /* us-east-1 refuses its own name here */
    dm_buf_printf(&body, create_body_fmt, s->region);
  size_t blen = body.len;
  o->path = dm_buf_steal(&body, NULL); /* the body, kept until the callback */
  dm_aws_header h[] = {{"Content-Type", "application/xml"}};
  int rc = path.oom || o->path == NULL
               ? DM_ENOMEM
               : send_op(o, "PUT", path.p, NULL, h, blen > 0 ? 1 : 0, (const uint8_t *)o->path,
                         blen, "CreateBucket", classify_create);
  dm_buf_free(&path);
  return accept_op(s, o, rc);
}

static void s3_stats(dm_blob *b, dm_blob_stats *out) { *out = ((s3_blob *)b)->st; }

static int s3_health(dm_blob *b, char *why, size_t len) {
  s3_blob *s = (s3_blob *)b;
  if (!s->healthy && why != NULL && len > 0) snprintf(why, len, "%s", s->why);
  return s->healthy;
}

static void s3_close(dm_blob *b) {
  s3_blob *s = (s3_blob *)b;
  if (s == NULL || s->closing) return;
  s->closing = 1;
  dm_aws_close(s->aws); /* outstanding calls end with DM_ECLOSED, from the loop */
  s->aws = NULL;
  if (s->inflight == 0) destroy(s);
}

static const dm_blob_ops s3_blob_ops = {
    .version = 2,
    .name = "s3",
    .put = s3_put,
    .get_range = s3_get_range,
    .list = s3_list,
    .del = s3_del,
    .stats = s3_stats,
    .close = s3_close,
    .create = s3_create,
    .probe = s3_probe,
    .health = s3_health,
};

int dm_blob_s3_open(dm_blob **out, uv_loop_t *loop, const dm_config *cfg, char *err,
                    size_t errlen) {
  if (err != NULL && errlen > 0) err[0] = '\0';
  if (out == NULL || loop == NULL || cfg == NULL || cfg->blob_bucket[0] == '\0' ||
      cfg->blob_region[0] == '\0') {
    if (err != NULL) snprintf(err, errlen, "blob s3: bucket and region are required");
    return DM_EINVAL;
  }
  s3_blob *s = calloc(1, sizeof *s);
  if (s == NULL) return DM_ENOMEM;
  snprintf(s->bucket, sizeof s->bucket, "%s", cfg->blob_bucket);
  snprintf(s->prefix, sizeof s->prefix, "%s", cfg->blob_prefix);
  snprintf(s->region, sizeof s->region, "%s", cfg->blob_region);
  if (cfg->blob_endpoint[0] != '\0') {
    size_t n = strlen(cfg->blob_endpoint);
    while (n > 0 && cfg->blob_endpoint[n - 1] == '/') n--;
    snprintf(s->endpoint, sizeof s->endpoint, "%.*s", (int)n, cfg->blob_endpoint);
    snprintf(s->root, sizeof s->root, "/%s", s->bucket);
  } else {
    int n = snprintf(s->endpoint, sizeof s->endpoint, "https://%s.s3.%s.amazonaws.com",
                     s->bucket, cfg->blob_region);
    (void)n;
  }
  s->max_keys = 1000;
  s->healthy = 1;
  dm_aws_opts o = {.backend = "blob",
                   .service = "s3",
                   .region = cfg->blob_region,
                   .endpoint = s->endpoint,
                   .timeout_ms = cfg->remote_timeout_ms,
                   .connect_timeout_ms = cfg->remote_connect_timeout_ms,
                   .max_inflight = cfg->remote_max_inflight,
                   .max_queue = cfg->remote_max_queue,
                   .max_attempts = cfg->remote_max_attempts,
                   .retry_base_ms = cfg->remote_retry_base_ms,
                   .retry_cap_ms = cfg->remote_retry_cap_ms,
                   .ops = s3_ops};
  char aerr[256];
  int rc = dm_aws_open(&s->aws, loop, &o, aerr, sizeof aerr);
  if (rc < 0) {
    if (err != NULL) snprintf(err, errlen, "blob s3: %s", aerr);
    free(s);
    return rc;
  }
  s->base.ops = &s3_blob_ops;
  s->loop = loop;
  *out = &s->base;
  return 0;
}
