/* redis_names.c — series names shared between nodes (announce, watch_names) and named
 * leases, for the Redis cache. Announced names wait in a buffer and go out as XADDs with
 * the next append's round trip (or the next second's tick); the watch reads the stream
 * with XREAD from where it left off, starting at id 0, and skips entries of this node. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diamond/error.h"
#include "redis_int.h"
#include "redis_resp.h"
#include "redis_scripts.h"

int dm_rcache_announce(dm_cache *dc, const dm_name_ref *names, size_t n) {
  rcache *c = (rcache *)dc;
  if (c->closing) return DM_ECLOSED;
  for (size_t i = 0; i < n; i++) {
    if (names[i].len == 0 || memchr(names[i].s, '\n', names[i].len) != NULL) continue;
    dm_buf_add(&c->ann, names[i].s, names[i].len);
    dm_buf_add(&c->ann, "\n", 1);
    c->ann_n++;
  }
  if (c->ann.oom) {
    dm_buf_free(&c->ann);
    c->ann_n = 0;
    return DM_ENOMEM;
  }
  return 0;
}

void dm_rcache_names_flush_into(rcache *c, rb *b) {
  if (c->ann_n == 0) return;
  const char *p = c->ann.p, *end = c->ann.p + c->ann.len;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    dm_rb_begin(b, 10);
    dm_resp_str(&b->buf, "XADD");
    int slot = dm_rb_key(b, K_NAMES, "", 0, "", 0, 0);
    dm_resp_str(&b->buf, "MAXLEN");
    dm_resp_str(&b->buf, "~");
    dm_resp_str(&b->buf, NAMES_MAXLEN);
    dm_resp_str(&b->buf, "*");
    dm_resp_str(&b->buf, "name");
    dm_resp_arg(&b->buf, p, (size_t)(nl - p));
    dm_resp_str(&b->buf, "node");
    dm_resp_str(&b->buf, c->node);
    dm_rb_end(b, slot, AUX_NAME);
    p = nl + 1;
  }
  c->ann.len = 0;
  c->ann_n = 0;
}

int dm_rcache_watch_names(dm_cache *dc, dm_names_cb fn, void *arg) {
  rcache *c = (rcache *)dc;
  if (c->closing) return DM_ECLOSED;
  c->names_fn = fn;
  c->names_arg = arg;
  dm_rcache_names_poll(c);
  return 0;
}

/* ---- the watch ---- */

#define XREAD_COUNT 10000

typedef struct names_op {
  int more;
  rb b;
} names_op;

static int is_str(const redisReply *r) { return r->type == REDIS_REPLY_STRING; }

static void names_reply(rb *b, rb_cmd *cmd, int status, redisReply *r) {
  (void)cmd;
  names_op *op = b->ctx;
  rcache *c = b->c;
  if (dm_rb_status(status, r) < 0 || r->type != REDIS_REPLY_ARRAY || r->elements != 1) return;
  const redisReply *s = r->element[0];
  if (s->type != REDIS_REPLY_ARRAY || s->elements != 2 || s->element[1]->type != REDIS_REPLY_ARRAY)
    return;
  const redisReply *ents = s->element[1];
  dm_name_ref *refs = malloc((ents->elements ? ents->elements : 1) * sizeof *refs);
  if (refs == NULL) return;
  size_t k = 0, nodelen = strlen(c->node);
  for (size_t i = 0; i < ents->elements; i++) {
    const redisReply *e = ents->element[i];
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || !is_str(e->element[0]) ||
        e->element[1]->type != REDIS_REPLY_ARRAY)
      continue;
    if (e->element[0]->len < sizeof c->names_last)
      memcpy(c->names_last, e->element[0]->str, e->element[0]->len + 1);
    const redisReply *f = e->element[1];
    const redisReply *name = NULL;
    int mine = 0;
    for (size_t j = 0; j + 1 < f->elements; j += 2) {
      if (!is_str(f->element[j]) || !is_str(f->element[j + 1])) continue;
      if (strcmp(f->element[j]->str, "name") == 0) name = f->element[j + 1];
      if (strcmp(f->element[j]->str, "node") == 0 && f->element[j + 1]->len == nodelen &&
          memcmp(f->element[j + 1]->str, c->node, nodelen) == 0)
        mine = 1;
    }
    if (name != NULL && !mine && name->len > 0) refs[k++] = (dm_name_ref){name->str, name->len};
  }
  op->more = ents->elements >= XREAD_COUNT;
  if (k > 0 && c->names_fn != NULL && !c->closing) c->names_fn(c->names_arg, 0, refs, k);
  free(refs);
}

static void names_done(rb *b) {
  names_op *op = b->ctx;
  rcache *c = b->c;
  int more = op->more;
  dm_rb_free(b);
  free(op);
  c->names_busy = 0;
  if (more && !c->closing) dm_rcache_names_poll(c); /* catching up: at once */
}

void dm_rcache_names_poll(rcache *c) {
  if (c->names_fn == NULL || c->names_busy || c->closing) return;
  names_op *op = calloc(1, sizeof *op);
  if (op == NULL) return;
  rb *b = &op->b;
  dm_rb_init(b, c, names_reply, names_done, op);
  dm_rb_begin(b, 6);
  dm_resp_str(&b->buf, "XREAD");
  dm_resp_str(&b->buf, "COUNT");
  dm_resp_i64(&b->buf, XREAD_COUNT);
  dm_resp_str(&b->buf, "STREAMS");
  int slot = dm_rb_key(b, K_NAMES, "", 0, "", 0, 0);
  dm_resp_str(&b->buf, c->names_last);
  dm_rb_end(b, slot, 0);
  c->names_busy = 1;
  dm_rb_send(b);
}

/* ---- named leases ---- */

typedef struct lease_op {
  int held;
  dm_lease_cb cb;
  void *arg;
  rb b;
} lease_op;

static void lease_reply(rb *b, rb_cmd *cmd, int status, redisReply *r) {
  (void)cmd;
  lease_op *op = b->ctx;
  int st = dm_rb_status(status, r);
  if (st == 0 && r->type != REDIS_REPLY_INTEGER) st = DM_EIO;
  if (st < 0)
    b->status = st;
  else
    op->held = r->integer == 1;
}

static void lease_done(rb *b) {
  lease_op *op = b->ctx;
  int st = b->status, held = op->held;
  dm_rb_free(b);
  dm_lease_cb cb = op->cb;
  void *arg = op->arg;
  free(op);
  cb(arg, st, st < 0 ? 0 : held);
}

/* A name "s<digits>" is a shard's flush lease; braces would change the hash tag. */
static int lease_name_ok(const char *name) {
  size_t n = strlen(name);
  if (n == 0 || n > 100 || strpbrk(name, "{}") != NULL) return 0;
  if (name[0] == 's' && n > 1 && strspn(name + 1, "0123456789") == n - 1) return 0;
  return 1;
}

int dm_rcache_lease(dm_cache *dc, const char *name, int64_t ms, dm_lease_cb cb, void *arg) {
  rcache *c = (rcache *)dc;
  if (c->closing) return DM_ECLOSED;
  if (!lease_name_ok(name) || ms <= 0) return DM_EINVAL;
  lease_op *op = calloc(1, sizeof *op);
  if (op == NULL) return DM_ENOMEM;
  op->cb = cb;
  op->arg = arg;
  rb *b = &op->b;
  dm_rb_init(b, c, lease_reply, lease_done, op);
  dm_rb_evalsha(b, DM_RS_LEASE, 1, 2);
  int slot = dm_rb_key(b, K_LEASE, name, strlen(name), "}", 0, 0);
  dm_resp_str(&b->buf, c->node);
  dm_resp_i64(&b->buf, ms);
  dm_rb_end(b, slot, 0);
  dm_rb_send(b);
  return 0;
}
