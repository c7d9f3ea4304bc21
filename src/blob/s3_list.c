/* s3_list.c — list on S3: ListObjectsV2 pages (list-type=2, prefix = blob.prefix + the
 * caller's prefix), following NextContinuationToken while IsTruncated says so; the keys of
 * all pages come back with blob.prefix stripped, sorted bytewise (S3 already sends them in
 * UTF-8 binary order, so the sort is a guarantee, not a cost). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diamond/error.h"
#include "diamond/sigv4.h"
#include "s3_int.h"

typedef struct list_op {
  s3_blob *s;
  char *prefix; /* blob.prefix + the caller's */
  char *path;   /* the bucket's */
  char *token;  /* of the next page */
  dm_buf keys;  /* full keys, NUL-terminated, back to back */
  size_t n;
  dm_names_cb cb;
  void *arg;
} list_op;

void s3_set_page_size(dm_blob *b, int max_keys) {
  ((s3_blob *)b)->max_keys = max_keys >= 1 && max_keys <= 1000 ? max_keys : 1000;
}

static void list_free(list_op *l) {
  free(l->prefix);
  free(l->path);
  free(l->token);
  dm_buf_free(&l->keys);
  free(l);
}

static int cmp_ref(const void *a, const void *b) {
  const dm_name_ref *x = a, *y = b;
  size_t n = x->len < y->len ? x->len : y->len;
  int c = memcmp(x->s, y->s, n);
  return c != 0 ? c : (x->len > y->len) - (x->len < y->len);
}

static void finish(list_op *l, int status, const dm_aws_reply *r) {
  s3_blob *s = l->s;
  dm_name_ref *refs = NULL;
  size_t n = 0, plen = strlen(s->prefix);
  if (status == 0) {
    refs = malloc((l->n > 0 ? l->n : 1) * sizeof *refs);
    if (refs == NULL) status = DM_ENOMEM;
  }
  for (size_t off = 0; status == 0 && off < l->keys.len;) {
    const char *k = l->keys.p + off;
    size_t klen = strlen(k);
    off += klen + 1;
    if (klen < plen || memcmp(k, s->prefix, plen) != 0) continue; /* not ours */
    refs[n].s = k + plen;
    refs[n].len = klen - plen;
    n++;
  }
  if (n > 1) qsort(refs, n, sizeof *refs, cmp_ref);
  s3_note(s, status, r);
  l->cb(l->arg, status, status == 0 ? refs : NULL, status == 0 ? n : 0);
  free(refs);
  list_free(l);
  s3_call_done(s);
}

static void on_page(void *arg, int status, const dm_aws_reply *r);

static int send_page(list_op *l) {
  if (l->s->aws == NULL) return DM_ECLOSED;
  char max[16];
  snprintf(max, sizeof max, "%d", l->s->max_keys);
  dm_sigv4_param p[] = {{"list-type", "2"},
                        {"prefix", l->prefix},
                        {"max-keys", max},
                        {"continuation-token", l->token}};
  char *q = dm_sigv4_query(p, l->token != NULL ? 4 : 3);
  if (q == NULL) return DM_ENOMEM;
  dm_aws_req req = {.method = "GET", .path = l->path, .query = q, .op = "ListObjectsV2",
                    .classify = s3_classify};
  int rc = dm_aws_send(l->s->aws, &req, on_page, l);
  free(q);
  return rc;
}

static void on_page(void *arg, int status, const dm_aws_reply *r) {
  list_op *l = arg;
  if (status != 0) {
    finish(l, status, r);
    return;
  }
  size_t count;
  int truncated;
  char *token;
  int rc = s3_xml_list_page((const char *)r->body, r->len, &l->keys, &count, &truncated, &token);
  if (rc < 0) {
    finish(l, rc, r);
    return;
  }
  l->n += count;
  if (!truncated) {
    free(token);
    finish(l, 0, r);
    return;
  }
  if (token == NULL) { /* truncated without a way on */
    finish(l, DM_ECORRUPT, r);
    return;
  }
  free(l->token);
  l->token = token;
  rc = send_page(l);
  if (rc < 0) finish(l, rc, r); /* DM_ECLOSED, DM_EBUSY, DM_ENOMEM */
}

int s3_list(dm_blob *b, const char *prefix, dm_names_cb cb, void *arg) {
  s3_blob *s = (s3_blob *)b;
  if (s->closing) return DM_ECLOSED;
  if (cb == NULL) return DM_EINVAL;
  if (prefix == NULL) prefix = "";
  list_op *l = calloc(1, sizeof *l);
  if (l == NULL) return DM_ENOMEM;
  l->s = s;
  l->cb = cb;
  l->arg = arg;
  dm_buf_init(&l->keys);
  dm_buf pre, path;
  dm_buf_init(&pre);
  dm_buf_init(&path);
  dm_buf_printf(&pre, "%s%s", s->prefix, prefix);
  s3_bucket_path(s, &path);
  l->prefix = dm_buf_steal(&pre, NULL);
  l->path = dm_buf_steal(&path, NULL);
  int rc = l->prefix == NULL || l->path == NULL ? DM_ENOMEM : send_page(l);
  if (rc < 0) {
    list_free(l);
    return rc;
  }
  s->inflight++;
  s->st.lists++;
  return 0;
}
