/* redis_batch.c — batches of commands sent together (redis_int.h). */
#include <stdlib.h>
#include <string.h>

#include "diamond/error.h"
#include "redis_int.h"
#include "redis_resp.h"
#include "redis_scripts.h"

void dm_rb_init(rb *b, rcache *c, rb_reply_fn on_reply, rb_done_fn on_done, void *ctx) {
  memset(b, 0, sizeof *b);
  dm_buf_init(&b->buf);
  b->c = c;
  b->on_reply = on_reply;
  b->on_done = on_done;
  b->ctx = ctx;
}

void dm_rb_free(rb *b) {
  dm_buf_free(&b->buf);
  free(b->cmd);
  b->cmd = NULL;
  b->n = b->cap = 0;
}

void dm_rb_begin(rb *b, size_t nargs) {
  b->begin = b->buf.len;
  b->script = 0;
  dm_resp_begin(&b->buf, nargs);
}

void dm_rb_evalsha(rb *b, int script, size_t nkeys, size_t nargv) {
  dm_rb_begin(b, 3 + nkeys + nargv);
  dm_resp_str(&b->buf, "EVALSHA");
  dm_resp_str(&b->buf, dm_rs_sha[script]);
  dm_resp_i64(&b->buf, (int64_t)nkeys);
  b->script = script + 1;
}

int dm_rb_key(rb *b, const char *pre, const char *name, size_t len, const char *post,
              int has_num, int64_t num) {
  size_t off = dm_resp_key(&b->buf, pre, name, len, post, has_num, num);
  if (b->buf.oom) return 0;
  return dm_rc_key_slot(b->buf.p + off, b->buf.len - 2 - off);
}

void dm_rb_end(rb *b, int slot, size_t aux) {
  if (b->buf.oom) return;
  if (b->n == b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 8;
    rb_cmd *p = realloc(b->cmd, cap * sizeof *p);
    if (p == NULL) {
      b->buf.oom = 1;
      return;
    }
    b->cmd = p;
    b->cap = cap;
  }
  b->cmd[b->n++] = (rb_cmd){b, b->begin, b->buf.len - b->begin, slot, b->script, aux};
}

int dm_rb_status(int status, const redisReply *r) {
  if (status < 0) return status;
  if (r->type == REDIS_REPLY_ERROR) return dm_rc_reply_code(r);
  return 0;
}

static void one_done(rb *b) {
  if (--b->pending == 0) b->on_done(b);
}

static void on_cmd(void *arg, int status, redisReply *r) {
  rb_cmd *cmd = arg;
  rb *b = cmd->b;
  if (b->on_reply) {
    b->on_reply(b, cmd, status, r);
  } else {
    int st = dm_rb_status(status, r);
    if (st < 0 && b->status == 0) b->status = st;
  }
  one_done(b);
}

void dm_rb_send(rb *b) {
  if (b->buf.oom) {
    b->status = DM_ENOMEM;
    b->on_done(b);
    return;
  }
  b->pending = b->n + 1; /* held until every command is out */
  for (size_t i = 0; i < b->n; i++) {
    rb_cmd *cmd = &b->cmd[i];
    int rc = dm_rc_send(b->c->rc, cmd->slot, b->buf.p + cmd->off, cmd->len, cmd->script,
                        on_cmd, cmd);
    if (rc < 0) {
      if (b->on_reply) b->on_reply(b, cmd, rc, NULL);
      else if (b->status == 0) b->status = rc;
      b->pending--;
    }
  }
  one_done(b);
}
