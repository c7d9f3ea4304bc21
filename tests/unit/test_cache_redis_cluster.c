/* test_cache_redis_cluster.c — the Redis cache on a real 3-master Redis Cluster (three
 * redis-server --cluster-enabled, joined by redis-cli --cluster create once for the
 * group; each test starts from FLUSHALL): detection and slot map, append/read/latest and
 * the flush protocol across slots and nodes, one write per node per batch, the release's
 * settle delay, and a slot migrated under the client: ASK while it moves, then MOVED,
 * followed and the map refreshed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_cache_redis_fx.h"

static int ports[3];
static char seeds[128];

static int cluster_ok(int port) {
  char out[4096];
  return strstr(cli_all(port, "CLUSTER INFO", out, sizeof out), "cluster_state:ok") != NULL;
}

static int group_setup(void **state) {
  if (fx_setup(state) < 0) return -1;
  for (int i = 0; i < 3; i++) {
    int p;
    do p = free_port();
    while (i > 0 && (p == ports[0] || p == ports[1]));
    ports[i] = start_server_on(i, p, 1)->port;
  }
  char cmd[512];
  snprintf(cmd, sizeof cmd,
           "redis-cli --cluster create 127.0.0.1:%d 127.0.0.1:%d 127.0.0.1:%d "
           "--cluster-replicas 0 --cluster-yes > %s/create.log 2>&1",
           ports[0], ports[1], ports[2], fx_dir);
  if (system(cmd) != 0) {
    fprintf(stderr, "redis-cli --cluster create failed (see %s/create.log)\n", fx_dir);
    kill_all_servers();
    return -1;
  }
  for (int i = 0; i < 1000; i++) {
    if (cluster_ok(ports[0]) && cluster_ok(ports[1]) && cluster_ok(ports[2])) break;
    usleep(10000);
  }
  if (!cluster_ok(ports[0]) || !cluster_ok(ports[1]) || !cluster_ok(ports[2])) {
    fprintf(stderr, "the cluster did not reach cluster_state:ok\n");
    kill_all_servers();
    return -1;
  }
  /* one seed is enough: the others are learned from CLUSTER SLOTS */
  snprintf(seeds, sizeof seeds, "127.0.0.1:%d", ports[1]);
  return 0;
}

static int setup(void **state) {
  (void)state;
  char out[64];
  for (int i = 0; i < 3; i++) cli(ports[i], "FLUSHALL", out, sizeof out);
  return 0;
}

static long long keys_all(const char *pattern) {
  long long n = 0;
  for (int i = 0; i < 3; i++) n += nkeys(ports[i], pattern);
  return n;
}

static dm_cache *up(uv_loop_t *loop, dm_config *cfg, const char *node) {
  config_for(cfg, seeds);
  cfg->cache_redis_timeout_ms = 300;
  dm_cache *c = open_cache(loop, cfg, node);
  wait_healthy(loop, c, 5000);
  assert_int_equal(dm_rc_mode(dm_cache_redis_client(c)), 1);
  return c;
}

/* The port of the master serving slot, from CLUSTER NODES. */
static int owner_port(int slot, char *id, size_t idlen) {
  char out[16384];
  cli_all(ports[0], "CLUSTER NODES", out, sizeof out);
  for (char *line = strtok(out, "\n"); line != NULL; line = strtok(NULL, "\n")) {
    char nid[64], addr[64], flags[64];
    int used = 0;
    if (sscanf(line, "%63s %63s %63s %*s %*s %*s %*s %*s%n", nid, addr, flags, &used) < 3) continue;
    if (strstr(flags, "master") == NULL) continue;
    for (char *t = line + used; *t;) {
      while (*t == ' ') t++;
      int lo, hi;
      int k = sscanf(t, "%d-%d", &lo, &hi);
      if (k == 1) hi = lo;
      if (k >= 1 && slot >= lo && slot <= hi) {
        snprintf(id, idlen, "%s", nid);
        return atoi(strchr(addr, ':') + 1);
      }
      while (*t && *t != ' ') t++;
    }
  }
  return -1;
}

static void node_id(int port, char *id, size_t len) { cli(port, "CLUSTER MYID", id, len); }

static void test_cluster_round_trip(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  dm_config cfg;
  dm_cache *c = up(&loop, &cfg, "n1");
  uv_timer_stop(&((rcache *)c)->tick);
  dm_rc_stats r0, r1;
  dm_rc_stats_get(dm_cache_redis_client(c), &r0);
  assert_int_equal(r0.refreshes, 1);
  /* 60 series: their slots are spread over all three masters */
  dm_batch b;
  dm_batch_init(&b);
  char name[32];
  int node_hit[3] = {0};
  for (int i = 0; i < 60; i++) {
    snprintf(name, sizeof name, "c.%d", i);
    char tmp[64];
    int port = owner_port(dm_rc_key_slot(name, strlen(name)), tmp, sizeof tmp);
    for (int k = 0; k < 3; k++) node_hit[k] |= port == ports[k];
    for (int k = 0; k < 3; k++)
      assert_int_equal(dm_batch_add(&b, name, strlen(name), T0 + k * 60, i + k), 0);
  }
  assert_true(node_hit[0] && node_hit[1] && node_hit[2]);
  long long ap0 = 0;
  for (int k = 0; k < 3; k++) ap0 += cmd_calls(ports[k], "append");
  assert_int_equal(append_batch(&loop, c, &b), 0);
  dm_batch_free(&b);
  dm_rc_stats_get(dm_cache_redis_client(c), &r1);
  long long ap1 = 0;
  for (int k = 0; k < 3; k++) ap1 += cmd_calls(ports[k], "append");
  assert_int_equal(ap1 - ap0, 60);
  assert_int_equal(r1.writes - r0.writes, 3); /* one per master, in parallel */
  assert_int_equal(r1.redirects, 0);
  print_message("cluster: 180-point batch over 60 series = %llu writes (3 masters), %llu replies\n",
                (unsigned long long)(r1.writes - r0.writes),
                (unsigned long long)(r1.replies - r0.replies));
  for (int i = 0; i < 60; i += 7) {
    snprintf(name, sizeof name, "c.%d", i);
    got_t *g = read_pts(&loop, c, name, T0, T0 + 3599);
    assert_int_equal(g->status, 0);
    assert_int_equal(g->n, 3);
    assert_true(g->p[2].v == i + 2);
    g = latest(&loop, c, name);
    assert_int_equal(g->p[0].t, T0 + 120);
  }
  /* flush everything; an append between take and release survives */
  snaps_t s = take(&loop, c, INT64_MAX, 1000);
  assert_int_equal(s.status, 0);
  assert_int_equal(s.n, 60);
  assert_int_equal(append1(&loop, c, "c.5", T0 + 600, 99), 0);
  uint64_t t0 = uv_hrtime();
  assert_int_equal(release(&loop, c, s.w, s.n, 0), 0);
  uint64_t ms = (uv_hrtime() - t0) / 1000000;
  assert_true(ms >= 250); /* waited out the settle delay (timeout 300 ms, from the take) */
  assert_int_equal(keys_all("dm:w:*"), 1);
  assert_int_equal(keys_all("dm:f:*"), 60);
  got_t *g = read_pts(&loop, c, "c.5", 0, INT64_MAX);
  assert_int_equal(g->n, 1);
  assert_true(g->p[0].v == 99);
  s = take(&loop, c, INT64_MAX, 1000);
  assert_int_equal(s.n, 1);
  assert_int_equal(s.w[0].n, 1);
  assert_int_equal(s.w[0].known_new, 0);
  assert_int_equal(release(&loop, c, s.w, s.n, 0), 0);
  assert_int_equal(keys_all("dm:w:*"), 0);
  assert_int_equal(keys_all("dm:s:*"), 0);
  assert_int_equal(keys_all("dm:dirty:*"), 0);
  assert_int_equal(keys_all("dm:gen:*"), 0);
  /* stats over the three masters */
  dm_cache_redis_poll_now(c);
  spin(&loop, 100);
  dm_cache_stats st;
  dm_cache_stats_get(c, &st);
  assert_int_equal(st.windows, 0);
  assert_true(st.bytes > 3 * 100000);
  dm_cache_close(c);
  finish_loop(&loop);
}

/* Two nodes on the cluster: every window taken by exactly one of them. */
static void test_cluster_two_nodes(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  dm_config cfg;
  dm_cache *a = up(&loop, &cfg, "node-a"), *b = up(&loop, &cfg, "node-b");
  dm_batch bt;
  dm_batch_init(&bt);
  char name[32];
  for (int i = 0; i < 50; i++) {
    snprintf(name, sizeof name, "two.%d", i);
    assert_int_equal(dm_batch_add(&bt, name, strlen(name), T0, i), 0);
  }
  assert_int_equal(append_batch(&loop, a, &bt), 0);
  dm_batch_free(&bt);
  snaps_t sa = {0, 0, NULL, 0}, sb = {0, 0, NULL, 0};
  assert_int_equal(dm_cache_take_ready(a, INT64_MAX, 1000, snaps_cb, &sa), 0);
  assert_int_equal(dm_cache_take_ready(b, INT64_MAX, 1000, snaps_cb, &sb), 0);
  assert_true(run_until(&loop, &sa.done, 5000));
  assert_true(run_until(&loop, &sb.done, 5000));
  assert_int_equal(sa.n + sb.n, 50);
  for (size_t i = 0; i < sa.n; i++) {
    snprintf(name, sizeof name, "%.*s", (int)sa.w[i].series_len, sa.w[i].series);
    assert_null(find_snap(&sb, name, T0));
  }
  assert_int_equal(release(&loop, a, sa.w, sa.n, 0), 0);
  assert_int_equal(release(&loop, b, sb.w, sb.n, 0), 0);
  assert_int_equal(keys_all("dm:w:*"), 0);
  assert_int_equal(keys_all("dm:dirty:*"), 0);
  dm_cache_close(a);
  dm_cache_close(b);
  finish_loop(&loop);
}

/* The slot of one series moves to another master under the client: first ASK (while
 * migrating), then MOVED (done); the client follows both and refreshes its map. */
static void test_cluster_migrate_slot(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  dm_config cfg;
  dm_cache *c = up(&loop, &cfg, "n1");
  const char *series = "mig.series";
  int slot = dm_rc_key_slot(series, strlen(series));
  char src_id[64], dst_id[64], cmd[3072], out[4096];
  int src = owner_port(slot, src_id, sizeof src_id);
  assert_true(src > 0);
  int dst = src == ports[0] ? ports[1] : ports[0];
  node_id(dst, dst_id, sizeof dst_id);
  int64_t t[] = {T0, T0 + 60};
  double v[] = {1, 2};
  assert_int_equal(append_pts(&loop, c, series, t, v, 2), 0);
  /* migrating: keys moved, slot not yet handed over */
  snprintf(cmd, sizeof cmd, "CLUSTER SETSLOT %d IMPORTING %s", slot, src_id);
  assert_string_equal(cli(dst, cmd, out, sizeof out), "OK");
  snprintf(cmd, sizeof cmd, "CLUSTER SETSLOT %d MIGRATING %s", slot, dst_id);
  assert_string_equal(cli(src, cmd, out, sizeof out), "OK");
  snprintf(cmd, sizeof cmd, "CLUSTER GETKEYSINSLOT %d 100", slot);
  cli_all(src, cmd, out, sizeof out);
  char keys[2048] = "";
  int nk = 0;
  for (char *k = strtok(out, "\n"); k != NULL; k = strtok(NULL, "\n"), nk++) {
    strcat(keys, " '");
    strcat(keys, k);
    strcat(keys, "'");
  }
  assert_true(nk >= 2); /* the window and the series index (shard keys live elsewhere) */
  snprintf(cmd, sizeof cmd, "MIGRATE 127.0.0.1 %d '' 0 5000 KEYS%s", dst, keys);
  assert_string_equal(cli(src, cmd, out, sizeof out), "OK");
  dm_rc_stats r0, r1;
  dm_rc_stats_get(dm_cache_redis_client(c), &r0);
  got_t *g = read_pts(&loop, c, series, 0, INT64_MAX);
  assert_int_equal(g->status, 0);
  assert_int_equal(g->n, 2);
  dm_rc_stats_get(dm_cache_redis_client(c), &r1);
  assert_int_equal(r1.redirects - r0.redirects, 1); /* ASK */
  /* done: every node learns the new owner; the client's map is stale now */
  snprintf(cmd, sizeof cmd, "CLUSTER SETSLOT %d NODE %s", slot, dst_id);
  for (int i = 0; i < 3; i++) assert_string_equal(cli(ports[i], cmd, out, sizeof out), "OK");
  assert_int_equal(append1(&loop, c, series, T0 + 120, 3), 0); /* MOVED, followed */
  dm_rc_stats_get(dm_cache_redis_client(c), &r0);
  assert_true(r0.redirects - r1.redirects >= 1);
  for (int i = 0; i < 100 && r0.refreshes == r1.refreshes; i++) {
    spin(&loop, 10);
    dm_rc_stats_get(dm_cache_redis_client(c), &r0);
  }
  assert_true(r0.refreshes > r1.refreshes); /* the map was read again */
  g = read_pts(&loop, c, series, 0, INT64_MAX);
  assert_int_equal(g->n, 3);
  dm_rc_stats_get(dm_cache_redis_client(c), &r1);
  assert_int_equal(r1.redirects, r0.redirects); /* straight to the new owner now */
  snprintf(cmd, sizeof cmd, "EXISTS 'dm:w:{%s}:%d'", series, T0);
  assert_int_equal(cli_int(dst, cmd), 1);
  /* and the flush protocol works across the moved slot */
  snaps_t s = take(&loop, c, INT64_MAX, 100);
  assert_int_equal(s.n, 1);
  assert_int_equal(s.w[0].n, 3);
  assert_int_equal(release(&loop, c, s.w, s.n, 0), 0);
  assert_int_equal(keys_all("dm:w:*"), 0);
  dm_cache_close(c);
  finish_loop(&loop);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_cluster_round_trip, setup),
      cmocka_unit_test_setup(test_cluster_two_nodes, setup),
      cmocka_unit_test_setup(test_cluster_migrate_slot, setup),
  };
  return cmocka_run_group_tests(tests, group_setup, fx_teardown);
}
