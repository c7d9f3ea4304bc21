/* test_cache_redis.c — the Redis cache against a real redis-server (one process started
 * per test on a free port): append/read/latest, the flush protocol (exact prefix drop,
 * appends between take and release, the counter check, known_new), two nodes sharing one
 * Redis (shard leases, takeover), names between nodes, named leases, stats, round trips
 * per batch, Redis killed / stopped / restarted, probe and close. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_cache_redis_fx.h"

typedef struct env {
  uv_loop_t loop;
  server *srv;
  dm_config cfg;
  char seeds[64];
} env;

static env *env_new(void) {
  static env e;
  memset(&e, 0, sizeof e);
  uv_loop_init(&e.loop);
  e.srv = start_server(0, 0);
  snprintf(e.seeds, sizeof e.seeds, "127.0.0.1:%d", e.srv->port);
  config_for(&e.cfg, e.seeds);
  return &e;
}

static int teardown(void **state) {
  (void)state;
  kill_all_servers();
  return 0;
}

static dm_cache *up(env *e, const char *node) {
  dm_cache *c = open_cache(&e->loop, &e->cfg, node);
  wait_healthy(&e->loop, c, 3000);
  return c;
}

static void test_append_read_latest(void **state) {
  (void)state;
  env *e = env_new();
  dm_cache *c = open_cache(&e->loop, &e->cfg, "n1");
  assert_string_equal(c->ops->name, "redis");
  assert_int_equal(dm_cache_durable(c), 1);
  /* the connection comes up in the background; a call made at once waits for it */
  int64_t t[] = {T0 + 185, T0, T0 + 60, T0 + 3600 + 5, T0 + 60};
  double v[] = {3, 1, 2, 4, 2.5};
  assert_int_equal(append_pts(&e->loop, c, "host.h1.cpu", t, v, 5), 0);
  got_t *g = read_pts(&e->loop, c, "host.h1.cpu", T0, T0 + 7200);
  assert_int_equal(g->status, 0);
  assert_int_equal(g->n, 4);
  assert_int_equal(g->p[0].t, T0);
  assert_true(g->p[0].v == 1);
  assert_int_equal(g->p[1].t, T0 + 60);
  assert_true(g->p[1].v == 2.5); /* the last write of a time wins */
  assert_int_equal(g->p[2].t, T0 + 180); /* floored to the step */
  assert_int_equal(g->p[3].t, T0 + 3600);
  g = read_pts(&e->loop, c, "host.h1.cpu", T0 + 60, T0 + 180);
  assert_int_equal(g->n, 2);
  assert_int_equal(g->p[0].t, T0 + 60);
  assert_int_equal(g->p[1].t, T0 + 180);
  g = read_pts(&e->loop, c, "host.h1.cpu", T0 + 3000, INT64_MAX);
  assert_int_equal(g->n, 1);
  assert_int_equal(g->p[0].t, T0 + 3600);
  g = read_pts(&e->loop, c, "host.h1.cpu", INT64_MIN, INT64_MAX);
  assert_int_equal(g->n, 4);
  g = read_pts(&e->loop, c, "host.h1.cp", 0, INT64_MAX);
  assert_int_equal(g->status, 0);
  assert_int_equal(g->n, 0);
  g = latest(&e->loop, c, "host.h1.cpu");
  assert_int_equal(g->status, 0);
  assert_int_equal(g->n, 1);
  assert_int_equal(g->p[0].t, T0 + 3600);
  assert_true(g->p[0].v == 4);
  g = latest(&e->loop, c, "nothing.here");
  assert_int_equal(g->status, DM_ENOENT);
  /* what is in Redis */
  char out[256];
  assert_int_equal(cli_int(e->srv->port, "STRLEN 'dm:w:{host.h1.cpu}:1699999200'"), 4 * 16);
  assert_int_equal(cli_int(e->srv->port, "ZCARD 'dm:s:{host.h1.cpu}'"), 2);
  char key[64];
  snprintf(key, sizeof key, "ZCARD 'dm:dirty:{s%lld}'", (long long)shard_of("host.h1.cpu", 4));
  assert_int_equal(cli_int(e->srv->port, key), 2);
  snprintf(key, sizeof key, "HGET 'dm:gen:{s%lld}' 1699999200:host.h1.cpu",
           (long long)shard_of("host.h1.cpu", 4));
  assert_string_equal(cli(e->srv->port, key, out, sizeof out), "1");
  dm_cache_close(c);
  finish_loop(&e->loop);
}

static int64_t fake_now;
static int64_t fake_clock(void) { return fake_now; }

static void test_take_release_prefix(void **state) {
  (void)state;
  env *e = env_new();
  dm_cache *c = up(e, "n1");
  int64_t t[] = {T0, T0 + 60, T0 + 120};
  double v[] = {1, 2, 3};
  assert_int_equal(append_pts(&e->loop, c, "a.b", t, v, 3), 0);
  assert_int_equal(append1(&e->loop, c, "a.b", T0 + 7200, 9), 0); /* a later, open window */
  /* only the closed window: end <= close_before */
  snaps_t s = take(&e->loop, c, T0 + 3600, 100);
  assert_int_equal(s.status, 0);
  assert_int_equal(s.n, 1);
  assert_int_equal(s.w[0].start, T0);
  assert_int_equal(s.w[0].n, 3);
  assert_int_equal(s.w[0].series_len, 3);
  assert_memory_equal(s.w[0].series, "a.b", 3);
  assert_true(s.w[0].pts[2].v == 3);
  dm_cache_stats st;
  dm_cache_stats_get(c, &st);
  assert_int_equal(st.flushing, 1);
  /* taken again before the release: not handed out twice */
  snaps_t again = take(&e->loop, c, T0 + 3600, 100);
  assert_int_equal(again.n, 0);
  /* an append between take and release: overwrite T0+60 and add T0+180 */
  int64_t t2[] = {T0 + 60, T0 + 180};
  double v2[] = {20, 4};
  assert_int_equal(append_pts(&e->loop, c, "a.b", t2, v2, 2), 0);
  assert_int_equal(release(&e->loop, c, s.w, s.n, 0), 0);
  /* exactly the flushed 48 bytes were dropped; the 32 appended stay, and stay dirty */
  assert_int_equal(cli_int(e->srv->port, "STRLEN 'dm:w:{a.b}:1699999200'"), 32);
  assert_int_equal(cli_int(e->srv->port, "EXISTS 'dm:f:{a.b}:1699999200'"), 1);
  long long ttl = cli_int(e->srv->port, "PTTL 'dm:f:{a.b}:1699999200'");
  assert_true(ttl > 0 && ttl <= (2 * 3600 + 60 + 600) * 1000LL);
  got_t *g = read_pts(&e->loop, c, "a.b", T0, T0 + 3599);
  assert_int_equal(g->n, 2);
  assert_true(g->p[0].v == 20);
  assert_int_equal(g->p[1].t, T0 + 180);
  s = take(&e->loop, c, T0 + 3600, 100);
  assert_int_equal(s.n, 1);
  assert_int_equal(s.w[0].n, 2);
  assert_int_equal(s.w[0].known_new, 0); /* flushed before */
  assert_int_equal(release(&e->loop, c, s.w, s.n, 0), 0);
  assert_int_equal(cli_int(e->srv->port, "EXISTS 'dm:w:{a.b}:1699999200'"), 0);
  assert_int_equal(cli_int(e->srv->port, "ZCARD 'dm:s:{a.b}'"), 1); /* the open window */
  char key[64];
  snprintf(key, sizeof key, "ZCARD 'dm:dirty:{s%lld}'", (long long)shard_of("a.b", 4));
  assert_int_equal(cli_int(e->srv->port, key), 1);
  snprintf(key, sizeof key, "HLEN 'dm:gen:{s%lld}'", (long long)shard_of("a.b", 4));
  assert_int_equal(cli_int(e->srv->port, key), 1);
  /* a failed flush changes nothing: the window is taken again */
  s = take(&e->loop, c, INT64_MAX, 100);
  assert_int_equal(s.n, 1);
  assert_int_equal(s.w[0].start, T0 + 7200);
  assert_int_equal(release(&e->loop, c, s.w, s.n, DM_EIO), 0);
  assert_int_equal(cli_int(e->srv->port, "STRLEN 'dm:w:{a.b}:1700006400'"), 16);
  dm_cache_redis_set_clock(c, fake_clock);
  fake_now = T0 + 7200 + 3600 + 60; /* its normal flush time */
  s = take(&e->loop, c, INT64_MAX, 100);
  assert_int_equal(s.n, 1);
  assert_int_equal(s.w[0].known_new, 1); /* never flushed */
  assert_int_equal(release(&e->loop, c, s.w, s.n, 0), 0);
  dm_cache_stats_get(c, &st);
  assert_int_equal(st.flushing, 0);
  s = take(&e->loop, c, INT64_MAX, 100);
  assert_int_equal(s.n, 0);
  assert_int_equal(nkeys(e->srv->port, "dm:w:*"), 0);
  assert_int_equal(nkeys(e->srv->port, "dm:s:*"), 0);
  assert_int_equal(nkeys(e->srv->port, "dm:dirty:*"), 0);
  assert_int_equal(nkeys(e->srv->port, "dm:gen:*"), 0);
  assert_int_equal(nkeys(e->srv->port, "dm:f:*"), 2);
  dm_cache_close(c);
  finish_loop(&e->loop);
}

/* A counter bump without data (what a cross-node append looks like half-way) keeps the
 * window dirty although its bytes are gone; the next take finds it empty and drops it. */
static void test_counter_keeps_dirty(void **state) {
  (void)state;
  env *e = env_new();
  dm_cache *c = up(e, "n1");
  assert_int_equal(append1(&e->loop, c, "x", T0, 1), 0);
  snaps_t s = take(&e->loop, c, INT64_MAX, 10);
  assert_int_equal(s.n, 1);
  char cmd[128];
  int64_t sh = shard_of("x", 4);
  snprintf(cmd, sizeof cmd, "HINCRBY 'dm:gen:{s%lld}' 1699999200:x 1", (long long)sh);
  assert_int_equal(cli_int(e->srv->port, cmd), 2);
  assert_int_equal(release(&e->loop, c, s.w, s.n, 0), 0);
  assert_int_equal(cli_int(e->srv->port, "EXISTS 'dm:w:{x}:1699999200'"), 0);
  snprintf(cmd, sizeof cmd, "ZSCORE 'dm:dirty:{s%lld}' 1699999200:x", (long long)sh);
  assert_int_equal(cli_int(e->srv->port, cmd), T0 + 3600);
  s = take(&e->loop, c, INT64_MAX, 10);
  assert_int_equal(s.status, 0);
  assert_int_equal(s.n, 0); /* nothing to flush: not handed out */
  spin(&e->loop, 50);       /* its clean-up runs in the background */
  snprintf(cmd, sizeof cmd, "ZCARD 'dm:dirty:{s%lld}'", (long long)sh);
  assert_int_equal(cli_int(e->srv->port, cmd), 0);
  snprintf(cmd, sizeof cmd, "HLEN 'dm:gen:{s%lld}'", (long long)sh);
  assert_int_equal(cli_int(e->srv->port, cmd), 0);
  /* a window rewritten by someone else meanwhile (not the bytes we read) is not cut */
  assert_int_equal(append1(&e->loop, c, "y", T0, 1), 0);
  s = take(&e->loop, c, INT64_MAX, 10);
  assert_int_equal(s.n, 1);
  cli(e->srv->port, "SET 'dm:w:{y}:1699999200' 0123456789abcdef0123456789abcdef", cmd, sizeof cmd);
  assert_int_equal(release(&e->loop, c, s.w, s.n, 0), 0);
  assert_int_equal(cli_int(e->srv->port, "STRLEN 'dm:w:{y}:1699999200'"), 32);
  dm_cache_close(c);
  finish_loop(&e->loop);
}

static void test_known_new(void **state) {
  (void)state;
  env *e = env_new();
  dm_cache *c = up(e, "n1");
  dm_cache_redis_set_clock(c, fake_clock);
  const int64_t ttl = 2 * 3600 + 60 + 600; /* window + grace + max_future + window */
  fake_now = T0 + 3600 + 60; /* the normal first flush */
  assert_int_equal(append1(&e->loop, c, "k", T0, 1), 0);
  snaps_t s = take(&e->loop, c, INT64_MAX, 10);
  assert_int_equal(s.n, 1);
  assert_int_equal(s.w[0].known_new, 1);
  assert_int_equal(release(&e->loop, c, s.w, s.n, DM_EIO), 0);
  /* the flag could have expired by now: not provably new */
  fake_now = T0 - 600 + ttl;
  s = take(&e->loop, c, INT64_MAX, 10);
  assert_int_equal(s.w[0].known_new, 0);
  fake_now = T0 - 600 + ttl - 1;
  assert_int_equal(release(&e->loop, c, s.w, s.n, DM_EIO), 0);
  s = take(&e->loop, c, INT64_MAX, 10);
  assert_int_equal(s.w[0].known_new, 1);
  assert_int_equal(release(&e->loop, c, s.w, s.n, 0), 0);
  /* late points after the flush: the flag says it was flushed */
  fake_now = T0 + 3600 + 120;
  assert_int_equal(append1(&e->loop, c, "k", T0 + 60, 2), 0);
  s = take(&e->loop, c, INT64_MAX, 10);
  assert_int_equal(s.n, 1);
  assert_int_equal(s.w[0].known_new, 0);
  assert_int_equal(release(&e->loop, c, s.w, s.n, 0), 0);
  dm_cache_close(c);
  finish_loop(&e->loop);
}

/* Many windows over the 4 shards, two nodes: every window is taken by exactly one. */
static void fill(env *e, dm_cache *c, int nseries, int64_t start) {
  dm_batch b;
  dm_batch_init(&b);
  char name[32];
  for (int i = 0; i < nseries; i++) {
    snprintf(name, sizeof name, "s.%d", i);
    assert_int_equal(dm_batch_add(&b, name, strlen(name), start + i, i), 0);
  }
  assert_int_equal(append_batch(&e->loop, c, &b), 0);
  dm_batch_free(&b);
}

static void test_two_nodes_share_shards(void **state) {
  (void)state;
  env *e = env_new();
  e->cfg.cache_lease_ms = 5000;
  dm_cache *a = up(e, "node-a"), *b = up(e, "node-b");
  fill(e, a, 40, T0);
  /* shards 0 and 1 are b's (as if b had taken them earlier) */
  char out[64];
  cli(e->srv->port, "SET 'dm:lease:{s0}' node-b PX 5000", out, sizeof out);
  cli(e->srv->port, "SET 'dm:lease:{s1}' node-b PX 5000", out, sizeof out);
  snaps_t sa = take(&e->loop, a, INT64_MAX, 1000);
  snaps_t sb = take(&e->loop, b, INT64_MAX, 1000);
  assert_int_equal(sa.n + sb.n, 40);
  for (size_t i = 0; i < sa.n; i++) {
    char n[64];
    snprintf(n, sizeof n, "%.*s", (int)sa.w[i].series_len, sa.w[i].series);
    assert_true(shard_of(n, 4) >= 2);
    assert_null(find_snap(&sb, n, sa.w[i].start));
  }
  for (size_t i = 0; i < sb.n; i++) {
    char n[64];
    snprintf(n, sizeof n, "%.*s", (int)sb.w[i].series_len, sb.w[i].series);
    assert_true(shard_of(n, 4) < 2);
  }
  assert_string_equal(cli(e->srv->port, "GET 'dm:lease:{s2}'", out, sizeof out), "node-a");
  assert_string_equal(cli(e->srv->port, "GET 'dm:lease:{s3}'", out, sizeof out), "node-a");
  assert_string_equal(cli(e->srv->port, "GET 'dm:lease:{s0}'", out, sizeof out), "node-b");
  /* while they hold their shards, neither takes the other's */
  fill(e, a, 40, T0 + 3600);
  snaps_t sa2 = take(&e->loop, a, INT64_MAX, 1000);
  for (size_t i = 0; i < sa2.n; i++) {
    char n[64];
    snprintf(n, sizeof n, "%.*s", (int)sa2.w[i].series_len, sa2.w[i].series);
    assert_true(shard_of(n, 4) >= 2);
    assert_int_equal(sa2.w[i].start, T0 + 3600);
  }
  assert_int_equal(release(&e->loop, a, sa.w, sa.n, 0), 0);
  assert_int_equal(release(&e->loop, b, sb.w, sb.n, 0), 0);
  assert_int_equal(release(&e->loop, a, sa2.w, sa2.n, 0), 0);
  /* both racing for everything at once: disjoint, complete */
  cli(e->srv->port, "DEL 'dm:lease:{s0}' 'dm:lease:{s1}' 'dm:lease:{s2}' 'dm:lease:{s3}'", out,
      sizeof out);
  fill(e, a, 40, T0 + 7200);
  snaps_t ra = {0, 0, NULL, 0}, rb2 = {0, 0, NULL, 0};
  assert_int_equal(dm_cache_take_ready(a, INT64_MAX, 1000, snaps_cb, &ra), 0);
  assert_int_equal(dm_cache_take_ready(b, INT64_MAX, 1000, snaps_cb, &rb2), 0);
  assert_true(run_until(&e->loop, &ra.done, 5000));
  assert_true(run_until(&e->loop, &rb2.done, 5000));
  size_t expect = 40; /* and the second fill's windows in shards 0 and 1, never taken */
  for (int i = 0; i < 40; i++) {
    char n[32];
    snprintf(n, sizeof n, "s.%d", i);
    expect += shard_of(n, 4) < 2;
  }
  for (size_t i = 0; i < ra.n; i++) {
    char n[64];
    snprintf(n, sizeof n, "%.*s", (int)ra.w[i].series_len, ra.w[i].series);
    assert_null(find_snap(&rb2, n, ra.w[i].start));
  }
  assert_int_equal(ra.n + rb2.n, expect);
  assert_int_equal(release(&e->loop, a, ra.w, ra.n, 0), 0);
  assert_int_equal(release(&e->loop, b, rb2.w, rb2.n, 0), 0);
  dm_cache_close(a);
  dm_cache_close(b);
  finish_loop(&e->loop);
}

/* A node dies mid-flush (closed without release): its shards are taken over after
 * lease_ms and nothing is lost. */
static void test_lease_takeover(void **state) {
  (void)state;
  env *e = env_new();
  dm_cache *a = up(e, "node-a"), *b = up(e, "node-b");
  fill(e, a, 20, T0);
  snaps_t sa = take(&e->loop, a, INT64_MAX, 1000);
  assert_int_equal(sa.n, 20);
  dm_cache_close(a); /* gone without releasing */
  snaps_t sb = take(&e->loop, b, INT64_MAX, 1000);
  assert_int_equal(sb.n, 0); /* a's leases still run */
  spin(&e->loop, 1100);       /* lease_ms = 1000 */
  sb = take(&e->loop, b, INT64_MAX, 1000);
  assert_int_equal(sb.n, 20);
  for (int i = 0; i < 20; i++) {
    char n[32];
    snprintf(n, sizeof n, "s.%d", i);
    const dm_window_snap *w = find_snap(&sb, n, T0);
    assert_non_null(w);
    assert_int_equal(w->n, 1);
    assert_int_equal(w->pts[0].t, T0 + i / 60 * 60);
  }
  assert_int_equal(release(&e->loop, b, sb.w, sb.n, 0), 0);
  assert_int_equal(take(&e->loop, b, INT64_MAX, 1000).n, 0);
  dm_cache_close(b);
  finish_loop(&e->loop);
}

typedef struct names_t {
  int calls;
  size_t n;
  char all[4096];
} names_t;

static void names_cb(void *arg, int status, const dm_name_ref *names, size_t n) {
  names_t *w = arg;
  assert_int_equal(status, 0);
  w->calls++;
  for (size_t i = 0; i < n; i++) {
    strncat(w->all, names[i].s, names[i].len);
    strcat(w->all, ",");
  }
  w->n += n;
}

static void test_names(void **state) {
  (void)state;
  env *e = env_new();
  dm_cache *a = up(e, "node-a"), *b = up(e, "node-b");
  names_t wa = {0, 0, ""}, wb = {0, 0, ""};
  assert_int_equal(dm_cache_watch_names(a, names_cb, &wa), 0);
  dm_name_ref names[] = {{"host.h1.cpu", 11}, {"host.h1.mem", 11}};
  assert_int_equal(dm_cache_announce(a, names, 2), 0);
  uint64_t xadd0 = (uint64_t)cmd_calls(e->srv->port, "xadd");
  assert_int_equal(append1(&e->loop, a, "host.h1.cpu", T0, 1), 0); /* carries them */
  assert_int_equal(cmd_calls(e->srv->port, "xadd"), (long long)xadd0 + 2);
  /* a node starting later reads the stream from the start */
  assert_int_equal(dm_cache_watch_names(b, names_cb, &wb), 0);
  for (int i = 0; i < 300 && wb.n < 2; i++) spin(&e->loop, 10);
  assert_int_equal(wb.n, 2);
  assert_string_equal(wb.all, "host.h1.cpu,host.h1.mem,");
  /* without an append the tick sends them within a second */
  dm_name_ref more[] = {{"x.y", 3}};
  assert_int_equal(dm_cache_announce(b, more, 1), 0);
  for (int i = 0; i < 300 && wa.n < 1; i++) spin(&e->loop, 10);
  assert_int_equal(wa.n, 1); /* a never sees its own names */
  assert_string_equal(wa.all, "x.y,");
  assert_int_equal(wb.n, 2);
  assert_int_equal(cli_int(e->srv->port, "XLEN dm:names"), 3);
  dm_cache_close(a);
  dm_cache_close(b);
  finish_loop(&e->loop);
}

typedef struct lease_t {
  int done, status, held;
} lease_t;

static void lease_cb(void *arg, int status, int held) {
  lease_t *l = arg;
  l->done = 1;
  l->status = status;
  l->held = held;
}

static int lease(env *e, dm_cache *c, const char *name, int64_t ms) {
  lease_t l = {0, 0, -1};
  assert_int_equal(dm_cache_lease(c, name, ms, lease_cb, &l), 0);
  assert_true(run_until(&e->loop, &l.done, 3000));
  assert_int_equal(l.status, 0);
  return l.held;
}

static void test_named_lease(void **state) {
  (void)state;
  env *e = env_new();
  dm_cache *a = up(e, "node-a"), *b = up(e, "node-b");
  assert_int_equal(lease(e, a, "ager", 300), 1);
  assert_int_equal(lease(e, b, "ager", 300), 0);
  assert_int_equal(lease(e, a, "ager", 300), 1); /* renewed */
  char out[64];
  assert_string_equal(cli(e->srv->port, "GET 'dm:lease:{ager}'", out, sizeof out), "node-a");
  spin(&e->loop, 350);
  assert_int_equal(lease(e, b, "ager", 300), 1);
  assert_int_equal(lease(e, a, "ager", 300), 0);
  lease_t l;
  assert_int_equal(dm_cache_lease(a, "s3", 300, lease_cb, &l), DM_EINVAL); /* a shard's */
  assert_int_equal(dm_cache_lease(a, "", 300, lease_cb, &l), DM_EINVAL);
  dm_cache_close(a);
  dm_cache_close(b);
  finish_loop(&e->loop);
}

static void test_stats(void **state) {
  (void)state;
  env *e = env_new();
  dm_cache *c = up(e, "n1");
  fill(e, c, 10, T0);
  fill(e, c, 10, T0 + 3600);
  dm_cache_redis_poll_now(c);
  spin(&e->loop, 100);
  dm_cache_stats st;
  dm_cache_stats_get(c, &st);
  assert_int_equal(st.windows, 20);
  assert_int_equal(st.oldest_dirty_end, T0 + 3600);
  assert_true(st.bytes > 100000); /* Redis's used_memory */
  assert_int_equal(st.min_wal_seg, UINT64_MAX);
  assert_int_equal(st.flushing, 0);
  snaps_t s = take(&e->loop, c, T0 + 3600, 100);
  assert_int_equal(s.n, 10);
  dm_cache_stats_get(c, &st);
  assert_int_equal(st.flushing, 10);
  assert_int_equal(release(&e->loop, c, s.w, s.n, 0), 0);
  dm_cache_redis_poll_now(c);
  spin(&e->loop, 100);
  dm_cache_stats_get(c, &st);
  assert_int_equal(st.windows, 10);
  assert_int_equal(st.oldest_dirty_end, T0 + 7200);
  assert_int_equal(st.flushing, 0);
  dm_cache_close(c);
  finish_loop(&e->loop);
}

/* One batch over 50 series x 2 windows: every command goes out in one write, one reply
 * per command, no command per point. */
static void test_round_trips(void **state) {
  (void)state;
  env *e = env_new();
  dm_cache *c = up(e, "n1");
  dm_batch b;
  dm_batch_init(&b);
  char name[32];
  int shards_touched[4] = {0};
  for (int i = 0; i < 50; i++) {
    snprintf(name, sizeof name, "rt.%d", i);
    shards_touched[shard_of(name, 4)] = 1;
    for (int k = 0; k < 20; k++) /* 10 points in each of two windows */
      assert_int_equal(dm_batch_add(&b, name, strlen(name), T0 + 3000 + k * 60, k), 0);
  }
  int nsh = shards_touched[0] + shards_touched[1] + shards_touched[2] + shards_touched[3];
  long long ap0 = cmd_calls(e->srv->port, "append"), za0 = cmd_calls(e->srv->port, "zadd"),
            ev0 = cmd_calls(e->srv->port, "evalsha");
  uv_timer_stop(&((rcache *)c)->tick); /* only the batch is counted: no stats poll */
  dm_rc_stats r0, r1;
  dm_rc_stats_get(dm_cache_redis_client(c), &r0);
  assert_int_equal(append_batch(&e->loop, c, &b), 0);
  dm_rc_stats_get(dm_cache_redis_client(c), &r1);
  assert_int_equal(r1.writes - r0.writes, 1);
  assert_int_equal(r1.replies - r0.replies, 100 + 100 + nsh);
  assert_int_equal(cmd_calls(e->srv->port, "append") - ap0, 100);
  /* 100 to the series indexes + 100 inside the shard scripts (the dirty sets) */
  assert_int_equal(cmd_calls(e->srv->port, "zadd") - za0, 200);
  assert_int_equal(cmd_calls(e->srv->port, "evalsha") - ev0, nsh);
  print_message("round trips per 1000-point batch (50 series x 2 windows): %llu write, %llu "
                "replies (%d shard scripts)\n",
                (unsigned long long)(r1.writes - r0.writes),
                (unsigned long long)(r1.replies - r0.replies), nsh);
  dm_batch_free(&b);
  got_t *g = read_pts(&e->loop, c, "rt.7", 0, INT64_MAX);
  assert_int_equal(g->n, 20);
  /* a big batch (the default limits.max_points): 100k points, 10k series */
  dm_batch_init(&b);
  for (int i = 0; i < 10000; i++) {
    snprintf(name, sizeof name, "big.%d.metric", i);
    assert_int_equal(dm_batch_add(&b, name, strlen(name), T0, i), 0);
    for (int k = 1; k < 10; k++)
      assert_int_equal(dm_batch_add_same(&b, b.n - 1, T0 + k * 60, k), 0);
  }
  dm_rc_stats_get(dm_cache_redis_client(c), &r0);
  uint64_t t0 = uv_hrtime();
  assert_int_equal(append_batch(&e->loop, c, &b), 0);
  double secs = (double)(uv_hrtime() - t0) / 1e9;
  dm_rc_stats_get(dm_cache_redis_client(c), &r1);
  assert_int_equal(r1.replies - r0.replies, 20000 + 4);
  print_message("100k points / 10k series in one batch: %.0f ms (%.2f M points/s), %llu socket "
                "writes\n", secs * 1e3, 0.1 / secs, (unsigned long long)(r1.writes - r0.writes));
  assert_true(secs < 5);
  dm_batch_free(&b);
  dm_cache_close(c);
  finish_loop(&e->loop);
}

static void test_redis_down_and_back(void **state) {
  (void)state;
  env *e = env_new();
  dm_cache *c = up(e, "n1");
  assert_int_equal(append1(&e->loop, c, "d", T0, 1), 0);
  int port = e->srv->port;
  kill_server(e->srv);
  uint64_t t0 = uv_hrtime();
  int st = append1(&e->loop, c, "d", T0 + 60, 2);
  assert_int_equal(st, DM_EBUSY);
  assert_true(uv_hrtime() - t0 < 400000000ull); /* well before the 500 ms timeout */
  char why[256] = "";
  for (int i = 0; i < 300; i++) {
    if (!dm_cache_health(c, why, sizeof why) && strstr(why, "connection refused")) break;
    spin(&e->loop, 10);
  }
  char want[64];
  snprintf(want, sizeof want, "redis 127.0.0.1:%d: connection refused", port);
  assert_string_equal(why, want);
  /* fails fast while down */
  t0 = uv_hrtime();
  assert_int_equal(append1(&e->loop, c, "d", T0 + 60, 2), DM_EBUSY);
  assert_true(uv_hrtime() - t0 < 100000000ull);
  got_t *g = read_pts(&e->loop, c, "d", 0, INT64_MAX);
  assert_int_equal(g->status, DM_EBUSY);
  assert_int_equal(take(&e->loop, c, INT64_MAX, 10).status, DM_EBUSY);
  /* back on the same port (empty: no persistence in this test) */
  e->srv = start_server_on(0, port, 0);
  wait_healthy(&e->loop, c, 8000);
  assert_int_equal(append1(&e->loop, c, "d", T0 + 60, 2), 0);
  g = read_pts(&e->loop, c, "d", 0, INT64_MAX);
  assert_int_equal(g->n, 1);
  dm_cache_close(c);
  finish_loop(&e->loop);
}

/* A Redis that stops answering (SIGSTOP): calls fail at the timeout, never hang. */
static void test_timeout(void **state) {
  (void)state;
  env *e = env_new();
  e->cfg.cache_redis_timeout_ms = 200;
  dm_cache *c = up(e, "n1");
  kill(e->srv->pid, SIGSTOP);
  uint64_t t0 = uv_hrtime();
  assert_int_equal(append1(&e->loop, c, "t", T0, 1), DM_EBUSY);
  uint64_t ms = (uv_hrtime() - t0) / 1000000;
  assert_true(ms >= 190 && ms < 600);
  char why[256];
  assert_int_equal(dm_cache_health(c, why, sizeof why), 0);
  assert_non_null(strstr(why, "no reply within 200 ms"));
  kill(e->srv->pid, SIGCONT);
  wait_healthy(&e->loop, c, 8000);
  assert_int_equal(append1(&e->loop, c, "t", T0, 1), 0);
  dm_cache_close(c);
  finish_loop(&e->loop);
}

static void test_probe_and_refused(void **state) {
  (void)state;
  env *e = env_new();
  dm_cache *c = up(e, "n1");
  done_t d = {0, 1};
  assert_int_equal(dm_cache_probe(c, done_cb, &d), 0);
  assert_true(run_until(&e->loop, &d.done, 3000));
  assert_int_equal(d.status, 0);
  dm_cache_close(c);
  /* nothing listening: open succeeds, calls fail, health says why */
  dm_config cfg = e->cfg;
  int port = free_port();
  snprintf(cfg.cache_redis, sizeof cfg.cache_redis, "localhost:%d", port); /* resolved */
  dm_cache *x = open_cache(&e->loop, &cfg, "n2");
  d = (done_t){0, 0};
  assert_int_equal(dm_cache_probe(x, done_cb, &d), 0);
  assert_true(run_until(&e->loop, &d.done, 3000));
  assert_int_equal(d.status, DM_EBUSY);
  char why[256], want[80];
  assert_int_equal(dm_cache_health(x, why, sizeof why), 0);
  snprintf(want, sizeof want, "redis localhost:%d: connection refused", port);
  assert_string_equal(why, want);
  dm_cache_close(x);
  /* bad seeds are refused at open */
  char err[256];
  dm_cache *y = NULL;
  snprintf(cfg.cache_redis, sizeof cfg.cache_redis, "nohost");
  assert_int_equal(dm_cache_redis_open(&y, &e->loop, &cfg, "n3", err, sizeof err), DM_EINVAL);
  assert_non_null(strstr(err, "nohost"));
  assert_null(y);
  finish_loop(&e->loop);
}

static void test_auth(void **state) {
  (void)state;
  fx_password = "s3cret";
  env *e = env_new();
  fx_password = NULL;
  snprintf(e->cfg.cache_redis_password, sizeof e->cfg.cache_redis_password, "s3cret");
  dm_cache *c = up(e, "n1");
  assert_int_equal(append1(&e->loop, c, "p", T0, 1), 0);
  assert_int_equal(read_pts(&e->loop, c, "p", 0, INT64_MAX)->n, 1);
  dm_cache_close(c);
  snprintf(e->cfg.cache_redis_password, sizeof e->cfg.cache_redis_password, "wrong");
  dm_cache *x = open_cache(&e->loop, &e->cfg, "n2");
  assert_int_equal(append1(&e->loop, x, "p", T0, 1), DM_EBUSY);
  char why[256];
  assert_int_equal(dm_cache_health(x, why, sizeof why), 0);
  if (strstr(why, "AUTH: WRONGPASS") == NULL) fail_msg("health: %s", why);
  dm_cache_close(x);
  finish_loop(&e->loop);
}

/* The server forgot the scripts (SCRIPT FLUSH): NOSCRIPT is answered with EVAL. */
static void test_noscript(void **state) {
  (void)state;
  env *e = env_new();
  dm_cache *c = up(e, "n1");
  char out[64];
  assert_string_equal(cli(e->srv->port, "SCRIPT FLUSH", out, sizeof out), "OK");
  long long ev0 = cmd_calls(e->srv->port, "eval");
  assert_int_equal(append1(&e->loop, c, "ns", T0, 1), 0);
  assert_int_equal(read_pts(&e->loop, c, "ns", 0, INT64_MAX)->n, 1);
  assert_int_equal(cmd_calls(e->srv->port, "eval") - ev0, 2); /* the shard script, the read */
  snaps_t s = take(&e->loop, c, INT64_MAX, 10);
  assert_int_equal(s.n, 1);
  assert_int_equal(release(&e->loop, c, s.w, s.n, 0), 0);
  assert_int_equal(nkeys(e->srv->port, "dm:w:*"), 0);
  dm_cache_close(c);
  finish_loop(&e->loop);
}

/* A seed given by host name is resolved off the loop (uv_getaddrinfo). */
static void test_host_name_seed(void **state) {
  (void)state;
  env *e = env_new();
  snprintf(e->cfg.cache_redis, sizeof e->cfg.cache_redis, "localhost:%d", e->srv->port);
  dm_cache *c = up(e, "n1");
  assert_int_equal(append1(&e->loop, c, "h", T0, 1), 0);
  dm_cache_close(c);
  finish_loop(&e->loop);
}

/* close() with calls in flight: each still calls back, then everything is freed. */
static void test_close_in_flight(void **state) {
  (void)state;
  env *e = env_new();
  dm_cache *c = up(e, "n1");
  assert_int_equal(append1(&e->loop, c, "z", T0, 1), 0);
  snaps_t s = take(&e->loop, c, INT64_MAX, 10); /* never released: freed by close */
  assert_int_equal(s.n, 1);
  dm_batch b;
  dm_batch_init(&b);
  assert_int_equal(dm_batch_add(&b, "z", 1, T0 + 60, 2), 0);
  done_t d1 = {0, 1};
  got_t g;
  memset(&g, 0, sizeof g);
  assert_int_equal(dm_cache_append(c, &b, 0, done_cb, &d1), 0);
  assert_int_equal(dm_cache_read(c, "z", 1, 0, INT64_MAX, points_cb, &g), 0);
  snaps_t s2 = {0, 0, NULL, 0};
  assert_int_equal(dm_cache_take_ready(c, INT64_MAX, 10, snaps_cb, &s2), 0);
  dm_cache_close(c);
  assert_true(s2.done);
  assert_int_equal(s2.status, DM_ECLOSED);
  assert_int_equal(dm_cache_append(c, &b, 0, done_cb, &d1), DM_ECLOSED); /* refused */
  assert_true(d1.done);
  assert_int_equal(d1.status, DM_ECLOSED);
  assert_true(g.done);
  assert_int_equal(g.status, DM_ECLOSED);
  dm_batch_free(&b);
  finish_loop(&e->loop);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_append_read_latest, teardown),
      cmocka_unit_test_teardown(test_take_release_prefix, teardown),
      cmocka_unit_test_teardown(test_counter_keeps_dirty, teardown),
      cmocka_unit_test_teardown(test_known_new, teardown),
      cmocka_unit_test_teardown(test_two_nodes_share_shards, teardown),
      cmocka_unit_test_teardown(test_lease_takeover, teardown),
      cmocka_unit_test_teardown(test_names, teardown),
      cmocka_unit_test_teardown(test_named_lease, teardown),
      cmocka_unit_test_teardown(test_stats, teardown),
      cmocka_unit_test_teardown(test_round_trips, teardown),
      cmocka_unit_test_teardown(test_redis_down_and_back, teardown),
      cmocka_unit_test_teardown(test_timeout, teardown),
      cmocka_unit_test_teardown(test_probe_and_refused, teardown),
      cmocka_unit_test_teardown(test_auth, teardown),
      cmocka_unit_test_teardown(test_noscript, teardown),
      cmocka_unit_test_teardown(test_host_name_seed, teardown),
      cmocka_unit_test_teardown(test_close_in_flight, teardown),
  };
  return cmocka_run_group_tests(tests, fx_setup, fx_teardown);
}
