/* request.c — a request's own memory: the copy dm_aws_send takes (method, path, query,
 * headers in one block; the body is the caller's), its checks, and the intrusive lists a
 * request moves between (queue, in flight, backoff, dying). */
#include <stdlib.h>
#include <string.h>

#include "aws_int.h"
#include "diamond/error.h"
#include "diamond/sigv4.h"

/* ---- lists --------------------------------------------------------------------------- */

void aws_list_push_back(req_list *l, aws_req *r) {
  r->next = NULL;
  r->prev = l->tail;
  if (l->tail) l->tail->next = r;
  else l->head = r;
  l->tail = r;
  l->n++;
}

void aws_list_push_front(req_list *l, aws_req *r) {
  r->prev = NULL;
  r->next = l->head;
  if (l->head) l->head->prev = r;
  else l->tail = r;
  l->head = r;
  l->n++;
}

void aws_list_insert_before(req_list *l, aws_req *at, aws_req *r) {
  if (at == NULL) {
    aws_list_push_back(l, r);
    return;
  }
  r->next = at;
  r->prev = at->prev;
  if (at->prev) at->prev->next = r;
  else l->head = r;
  at->prev = r;
  l->n++;
}

void aws_list_remove(req_list *l, aws_req *r) {
  if (r->prev) r->prev->next = r->next;
  else l->head = r->next;
  if (r->next) r->next->prev = r->prev;
  else l->tail = r->prev;
  r->prev = r->next = NULL;
  l->n--;
}

aws_req *aws_list_pop_front(req_list *l) {
  aws_req *r = l->head;
  if (r != NULL) aws_list_remove(l, r);
  return r;
}

/* ---- requests ------------------------------------------------------------------------ */

static int method_ok(const char *m) {
  static const char *const ok[] = {"GET", "PUT", "POST", "DELETE", "HEAD", NULL};
  for (const char *const *p = ok; *p; p++)
    if (m != NULL && strcmp(m, *p) == 0) return 1;
  return 0;
}

static int header_ok(const dm_aws_header *h) {
  if (h->name == NULL || h->name[0] == '\0' || h->value == NULL) return 0;
  for (const char *p = h->name; *p; p++)
    if (*p == ':' || (unsigned char)*p <= ' ' || *p == 0x7f) return 0;
  for (const char *p = h->value; *p; p++)
    if (*p == '\r' || *p == '\n') return 0;
  return 1;
}

void aws_req_free(aws_req *r) {
  free(r->method);
  free(r->path);
  free(r->query);
  free(r->headers);
  dm_buf_free(&r->resp);
  dm_buf_free(&r->hdrs);
  free(r);
}

/* One allocation for the header array and its strings. */
static dm_aws_header *copy_headers(const dm_aws_header *h, size_t n) {
  size_t bytes = n * sizeof *h;
  for (size_t i = 0; i < n; i++) bytes += strlen(h[i].name) + strlen(h[i].value) + 2;
  dm_aws_header *out = malloc(bytes > 0 ? bytes : 1);
  if (out == NULL) return NULL;
  char *p = (char *)(out + n);
  for (size_t i = 0; i < n; i++) {
    size_t nl = strlen(h[i].name) + 1, vl = strlen(h[i].value) + 1;
    out[i].name = memcpy(p, h[i].name, nl);
    p += nl;
    out[i].value = memcpy(p, h[i].value, vl);
    p += vl;
  }
  return out;
}

aws_req *aws_req_new(dm_aws *a, const dm_aws_req *q, dm_aws_cb cb, void *arg) {
  aws_req *r = calloc(1, sizeof *r);
  if (r == NULL) return NULL;
  r->a = a;
  r->method = strdup(q->method);
  r->path = strdup(q->path);
  r->query = q->query != NULL ? strdup(q->query) : NULL;
  r->headers = copy_headers(q->headers, q->nheaders);
  if (r->method == NULL || r->path == NULL || (q->query != NULL && r->query == NULL) ||
      r->headers == NULL) {
    aws_req_free(r);
    return NULL;
  }
  r->nheaders = q->nheaders;
  r->body = q->body;
  r->len = q->len;
  r->classify = q->classify;
  r->op = aws_metrics_op(a, q->op);
  r->cb = cb;
  r->arg = arg;
  dm_buf_init(&r->resp);
  dm_buf_init(&r->hdrs);
  dm_sigv4_sha256_hex(q->body, q->len, r->payload_hash);
  return r;
}

/* 0 when the request can be sent and signed as given, else DM_EINVAL. */
int aws_req_check(const dm_aws_req *q) {
  if (!method_ok(q->method) || q->path == NULL || q->path[0] != '/' ||
      (q->body == NULL && q->len > 0) || (q->nheaders > 0 && q->headers == NULL))
    return DM_EINVAL;
  for (size_t i = 0; i < q->nheaders; i++)
    if (!header_ok(&q->headers[i])) return DM_EINVAL;
  return 0;
}
