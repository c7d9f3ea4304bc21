/* uvcurl.c — curl's multi handle on the libuv loop (the essay is in client.c): a uv_poll_t
 * per socket curl reports, one uv_timer_t for curl's timeout, curl_multi_socket_action on
 * every event, and the finished transfers read back with curl_multi_info_read. */
#include <stdlib.h>

#include "aws_int.h"

static void check_done(dm_aws *a) {
  CURLMsg *m;
  int left;
  while (!a->closing && (m = curl_multi_info_read(a->multi, &left)) != NULL) {
    if (m->msg != CURLMSG_DONE) continue;
    char *priv = NULL;
    CURLcode res = m->data.result; /* m is invalid once the handle is removed */
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
    aws_req *r = (aws_req *)priv;
    if (r != NULL) aws_try_done(a, r, res);
  }
}

static void poll_closed(uv_handle_t *h) {
  sock_ctx *c = h->data;
  dm_aws *a = c->a;
  free(c);
  aws_handle_gone(a);
}

static void sock_close(dm_aws *a, sock_ctx *c) {
  if (c->prev) c->prev->next = c->next;
  else a->socks = c->next;
  if (c->next) c->next->prev = c->prev;
  uv_poll_stop(&c->poll);
  uv_close((uv_handle_t *)&c->poll, poll_closed);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  sock_ctx *c = h->data;
  dm_aws *a = c->a;
  int flags = 0, running;
  if (status < 0) {
    flags = CURL_CSELECT_ERR;
  } else {
    if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
  }
  curl_multi_socket_action(a->multi, c->fd, flags, &running);
  check_done(a);
}

static int on_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp) {
  (void)e;
  dm_aws *a = userp;
  sock_ctx *c = socketp;
  if (what == CURL_POLL_REMOVE) {
    if (c != NULL) {
      if (a->multi != NULL) curl_multi_assign(a->multi, s, NULL);
      sock_close(a, c);
    }
    return 0;
  }
  if (c == NULL) {
    c = calloc(1, sizeof *c);
    if (c == NULL) return -1;
    if (uv_poll_init_socket(a->loop, &c->poll, s) < 0) {
      free(c);
      return -1;
    }
    c->poll.data = c;
    c->a = a;
    c->fd = s;
    c->next = a->socks;
    if (a->socks) a->socks->prev = c;
    a->socks = c;
    a->open_handles++;
    curl_multi_assign(a->multi, s, c);
  }
  int ev = 0;
  if (what & CURL_POLL_IN) ev |= UV_READABLE;
  if (what & CURL_POLL_OUT) ev |= UV_WRITABLE;
  uv_poll_start(&c->poll, ev, on_poll);
  return 0;
}

static void on_curl_timeout(uv_timer_t *t) {
  dm_aws *a = t->data;
  int running;
  curl_multi_socket_action(a->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  check_done(a);
}

static int on_curl_timer(CURLM *m, long timeout_ms, void *userp) {
  (void)m;
  dm_aws *a = userp;
  if (timeout_ms < 0) uv_timer_stop(&a->curl_timer);
  else uv_timer_start(&a->curl_timer, on_curl_timeout, (uint64_t)timeout_ms, 0);
  return 0;
}

void aws_uv_attach(dm_aws *a) {
  curl_multi_setopt(a->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(a->multi, CURLMOPT_SOCKETDATA, a);
  curl_multi_setopt(a->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
  curl_multi_setopt(a->multi, CURLMOPT_TIMERDATA, a);
}

void aws_socks_unwatch(dm_aws *a) {
  for (sock_ctx *c = a->socks; c != NULL; c = c->next) uv_poll_stop(&c->poll);
}

void aws_socks_close(dm_aws *a) {
  while (a->socks != NULL) sock_close(a, a->socks);
}
