/* redis_uv.c — hiredis 0.14's event hooks on a libuv poll handle.
 *
 * hiredis ships an adapter for libuv (hiredis/adapters/libuv.h) and this file is that
 * adapter with one fix. When a socket reports POLLERR — a refused connect (on loopback a
 * non-blocking connect says EINPROGRESS and the refusal arrives as POLLERR), a reset —
 * libuv stops the poll handle and calls back with status UV_EBADF and no events. The
 * stock adapter returns on any status != 0 without telling hiredis, so a refused connect
 * would neither succeed nor fail: the context would sit there until some timeout. Here an
 * error is handed to hiredis as "writable" while connecting (hiredis then reads SO_ERROR
 * and fails the connect with "Connection refused") and as "readable" afterwards (the
 * read sees the error and hiredis disconnects), so the failure surfaces at once with the
 * kernel's reason. The handle memory is freed in its close callback, after hiredis has let
 * go of it (cleanup hook), as in the stock adapter.
 */
#include <stdlib.h>

#include "diamond/error.h"
#include "redis_uv.h"

typedef struct ev {
  redisAsyncContext *ac; /* NULL once hiredis called cleanup */
  uv_poll_t poll;
  int events;
  uint64_t *writes;
} ev;

static void on_poll(uv_poll_t *h, int status, int events) {
  ev *e = h->data;
  if (status < 0) {
    /* libuv stopped the handle; hiredis re-arms it through the hooks if it carries on */
    e->events = 0;
    if (e->ac == NULL) return;
    if (!(e->ac->c.flags & REDIS_CONNECTED))
      redisAsyncHandleWrite(e->ac);
    else
      redisAsyncHandleRead(e->ac);
    return;
  }
  if (e->ac != NULL && (events & UV_READABLE)) redisAsyncHandleRead(e->ac);
  if (e->ac != NULL && (events & UV_WRITABLE)) {
    if (e->writes != NULL && (e->ac->c.flags & REDIS_CONNECTED) && e->ac->c.obuf != NULL &&
        sdslen(e->ac->c.obuf) > 0)
      (*e->writes)++;
    redisAsyncHandleWrite(e->ac);
  }
}

static void update(ev *e, int events) {
  e->events = events;
  if (events)
    uv_poll_start(&e->poll, events, on_poll);
  else
    uv_poll_stop(&e->poll);
}

static void add_read(void *p) { update(p, ((ev *)p)->events | UV_READABLE); }
static void del_read(void *p) { update(p, ((ev *)p)->events & ~UV_READABLE); }
static void add_write(void *p) { update(p, ((ev *)p)->events | UV_WRITABLE); }
static void del_write(void *p) { update(p, ((ev *)p)->events & ~UV_WRITABLE); }

static void on_close(uv_handle_t *h) { free(h->data); }

static void cleanup(void *p) {
  ev *e = p;
  e->ac = NULL;
  uv_close((uv_handle_t *)&e->poll, on_close);
}

int dm_redis_uv_attach(redisAsyncContext *ac, uv_loop_t *loop, uint64_t *writes) {
  if (ac->ev.data != NULL) return DM_EINVAL;
  ev *e = calloc(1, sizeof *e);
  if (e == NULL) return DM_ENOMEM;
  if (uv_poll_init(loop, &e->poll, ac->c.fd) != 0) {
    free(e);
    return DM_EIO;
  }
  e->ac = ac;
  e->writes = writes;
  e->poll.data = e;
  ac->ev.addRead = add_read;
  ac->ev.delRead = del_read;
  ac->ev.addWrite = add_write;
  ac->ev.delWrite = del_write;
  ac->ev.cleanup = cleanup;
  ac->ev.data = e;
  return 0;
}
