/* test_cache_redis_fx.h — fixture of the Redis cache tests: real redis-server processes
 * on free loopback ports (fork/exec, PR_SET_PDEATHSIG so they die with the test, killed
 * by PID in every exit path), a libuv loop driven until a condition holds, synchronous
 * wrappers around the cache's calls, and redis-cli to look inside Redis. */
#ifndef TEST_CACHE_REDIS_FX_H
#define TEST_CACHE_REDIS_FX_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../src/cache/redis_int.h"
#include "diamond/cache.h"
#include "diamond/config.h"
#include "diamond/error.h"
#include "diamond/names.h"

#define T0 1699999200 /* a window start (3600 s), long closed */
#define MAX_SERVERS 8

/* ---- servers ---- */

typedef struct server {
  pid_t pid;
  int port;
} server;

static server servers[MAX_SERVERS];
static char fx_dir[256];
static const char *fx_password; /* non-NULL: the next server started requires it */

static inline void kill_server(server *s) {
  if (s->pid > 0) {
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
  }
}

static inline void kill_all_servers(void) {
  for (int i = 0; i < MAX_SERVERS; i++) kill_server(&servers[i]);
}

static inline int port_free(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
  close(fd);
  return ok;
}

/* A free port whose cluster bus port (+10000) is free too. */
static inline int free_port(void) {
  for (int i = 0; i < 1000; i++) {
    int p = 20000 + (int)(random() % 20000);
    if (port_free(p) && port_free(p + 10000)) return p;
  }
  return -1;
}

/* 1 when a PING on a fresh connection answers +PONG (or -LOADING...: it is up). */
static inline int ping(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  struct timeval tv = {0, 200000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  int ok = 0;
  char buf[16];
  if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0 && write(fd, "PING\r\n", 6) == 6 &&
      read(fd, buf, sizeof buf) > 0)
    ok = buf[0] == '+' || buf[0] == '-'; /* -NOAUTH: up, wants a password */
  close(fd);
  return ok;
}

static inline int have_redis(void) {
  return system("command -v redis-server >/dev/null 2>&1 && "
                "command -v redis-cli >/dev/null 2>&1") == 0;
}

/* Starts redis-server on port (cluster: with --cluster-enabled) and waits for PING. */
static inline server *start_server_on(int slot, int port, int cluster) {
  server *s = &servers[slot];
  char p[16], conf[300], log[300];
  snprintf(p, sizeof p, "%d", port);
  snprintf(conf, sizeof conf, "%s/nodes-%d.conf", fx_dir, port);
  snprintf(log, sizeof log, "%s/redis-%d.log", fx_dir, port);
  unlink(conf);
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    FILE *f = freopen(log, "a", stdout);
    (void)f;
    dup2(1, 2);
    if (cluster)
      execlp("redis-server", "redis-server", "--port", p, "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--dir", fx_dir, "--cluster-enabled",
             "yes", "--cluster-config-file", conf, "--cluster-node-timeout", "2000", (char *)NULL);
    else if (fx_password)
      execlp("redis-server", "redis-server", "--port", p, "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--dir", fx_dir, "--requirepass",
             fx_password, (char *)NULL);
    else
      execlp("redis-server", "redis-server", "--port", p, "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--dir", fx_dir, (char *)NULL);
    _exit(127);
  }
  assert_true(pid > 0);
  s->pid = pid;
  s->port = port;
  for (int i = 0; i < 500; i++) {
    if (ping(port)) return s;
    if (waitpid(pid, NULL, WNOHANG) == pid) {
      s->pid = 0;
      fail_msg("redis-server on port %d exited at start (see %s)", port, log);
    }
    usleep(10000);
  }
  fail_msg("redis-server on port %d does not answer PING", port);
  return NULL;
}

static inline server *start_server(int slot, int cluster) {
  return start_server_on(slot, free_port(), cluster);
}

static inline int fx_setup(void **state) {
  (void)state;
  if (!have_redis()) {
    fprintf(stderr, "redis-server / redis-cli not found in PATH: install redis-server "
                    "(Debian: apt-get install redis-server) to run this test\n");
    return -1;
  }
  srandom((unsigned)time(NULL) ^ (unsigned)getpid());
  snprintf(fx_dir, sizeof fx_dir, "/tmp/dm_test_redis_%d", (int)getpid());
  mkdir(fx_dir, 0700);
  atexit(kill_all_servers);
  signal(SIGPIPE, SIG_IGN);
  return 0;
}

static inline int fx_teardown(void **state) {
  (void)state;
  kill_all_servers();
  if (fx_dir[0] == '\0') return 0; /* the setup failed before making it */
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", fx_dir);
  if (system(cmd) != 0) return 0;
  return 0;
}

/* ---- redis-cli ---- */

/* Runs redis-cli -c -p port <args> (args is shell text) and returns its first line. */
static inline char *cli(int port, const char *args, char *out, size_t len) {
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "redis-cli -c -p %d %s 2>&1", port, args);
  FILE *f = popen(cmd, "r");
  assert_non_null(f);
  out[0] = '\0';
  if (fgets(out, (int)len, f) == NULL) out[0] = '\0';
  char rest[512];
  while (fgets(rest, sizeof rest, f) != NULL) {
  }
  pclose(f);
  out[strcspn(out, "\r\n")] = '\0';
  return out;
}

static inline long long cli_int(int port, const char *args) {
  char out[512];
  return atoll(cli(port, args, out, sizeof out));
}

/* How many keys match pattern. */
static inline long long nkeys(int port, const char *pattern) {
  char args[256];
  snprintf(args, sizeof args, "EVAL \"return #redis.call('KEYS', ARGV[1])\" 0 '%s'", pattern);
  return cli_int(port, args);
}

/* The whole output of redis-cli (for INFO, CLUSTER NODES). */
static inline char *cli_all(int port, const char *args, char *out, size_t len) {
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "redis-cli -p %d %s 2>&1", port, args);
  FILE *f = popen(cmd, "r");
  assert_non_null(f);
  size_t n = fread(out, 1, len - 1, f);
  out[n] = '\0';
  pclose(f);
  return out;
}

/* calls=N of one command in INFO commandstats */
static inline long long cmd_calls(int port, const char *cmd) {
  char out[16384], key[64];
  cli_all(port, "INFO commandstats", out, sizeof out);
  snprintf(key, sizeof key, "cmdstat_%s:calls=", cmd);
  const char *p = strstr(out, key);
  return p ? atoll(p + strlen(key)) : 0;
}

/* ---- the loop ---- */

static inline void wake_cb(uv_timer_t *t) { (void)t; }

/* Runs the loop until *flag != 0 or ms pass. Returns *flag. */
static inline int run_until(uv_loop_t *loop, volatile int *flag, int ms) {
  uv_timer_t wake;
  uv_timer_init(loop, &wake);
  uv_timer_start(&wake, wake_cb, 2, 2);
  uint64_t end = uv_hrtime() + (uint64_t)ms * 1000000;
  while (!*flag && uv_hrtime() < end) uv_run(loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&wake, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
  return *flag;
}

static inline void spin(uv_loop_t *loop, int ms) {
  int never = 0;
  run_until(loop, &never, ms);
}

/* Runs the loop until nothing is left in it (every cache closed and freed), then closes
 * it: a handle left open fails the test. */
static inline void finish_loop(uv_loop_t *loop) {
  for (int i = 0; i < 5000 && uv_run(loop, UV_RUN_NOWAIT) != 0; i++) usleep(1000);
  assert_int_equal(uv_loop_close(loop), 0);
}

static inline void config_for(dm_config *cfg, const char *seeds) {
  dm_config_defaults(cfg);
  snprintf(cfg->cache_redis, sizeof cfg->cache_redis, "%s", seeds);
  cfg->cache_shards = 4;
  cfg->cache_redis_timeout_ms = 500;
  cfg->cache_lease_ms = 1000;
}

static inline dm_cache *open_cache(uv_loop_t *loop, const dm_config *cfg, const char *node) {
  dm_cache *c = NULL;
  char err[256] = "";
  int rc = dm_cache_redis_open(&c, loop, cfg, node, err, sizeof err);
  if (rc != 0) fail_msg("open: %d %s", rc, err);
  return c;
}

/* Waits until health() says ok; fails the test with its reason otherwise. */
static inline void wait_healthy(uv_loop_t *loop, dm_cache *c, int ms) {
  char why[256] = "";
  uint64_t end = uv_hrtime() + (uint64_t)ms * 1000000;
  while (!dm_cache_health(c, why, sizeof why)) {
    if (uv_hrtime() > end) fail_msg("not healthy: %s", why);
    spin(loop, 5);
  }
}

/* ---- synchronous wrappers ---- */

typedef struct done_t {
  int done, status;
} done_t;

static inline void done_cb(void *arg, int status) {
  done_t *d = arg;
  d->done = 1;
  d->status = status;
}

static inline int append_batch(uv_loop_t *loop, dm_cache *c, const dm_batch *b) {
  done_t d = {0, 0};
  int rc = dm_cache_append(c, b, 0, done_cb, &d);
  if (rc < 0) return rc;
  assert_true(run_until(loop, &d.done, 5000));
  return d.status;
}

static inline int append_pts(uv_loop_t *loop, dm_cache *c, const char *name, const int64_t *t,
                      const double *v, size_t n) {
  dm_batch b;
  dm_batch_init(&b);
  for (size_t i = 0; i < n; i++)
    assert_int_equal(dm_batch_add(&b, name, strlen(name), t[i], v[i]), 0);
  int st = append_batch(loop, c, &b);
  dm_batch_free(&b);
  return st;
}

static inline int append1(uv_loop_t *loop, dm_cache *c, const char *name, int64_t t, double v) {
  return append_pts(loop, c, name, &t, &v, 1);
}

typedef struct got_t {
  int done, status;
  size_t n;
  dm_point p[4096];
} got_t;

static inline void points_cb(void *arg, int status, const dm_point *p, size_t n) {
  got_t *g = arg;
  g->done = 1;
  g->status = status;
  g->n = n;
  assert_true(n <= 4096);
  if (n) memcpy(g->p, p, n * sizeof *p);
}

static inline got_t *read_pts(uv_loop_t *loop, dm_cache *c, const char *name, int64_t from,
                              int64_t until) {
  static got_t g;
  memset(&g, 0, sizeof g);
  assert_int_equal(dm_cache_read(c, name, strlen(name), from, until, points_cb, &g), 0);
  assert_true(run_until(loop, &g.done, 5000));
  return &g;
}

static inline got_t *latest(uv_loop_t *loop, dm_cache *c, const char *name) {
  static got_t g;
  memset(&g, 0, sizeof g);
  assert_int_equal(dm_cache_latest(c, name, strlen(name), points_cb, &g), 0);
  assert_true(run_until(loop, &g.done, 5000));
  return &g;
}

typedef struct snaps_t {
  int done, status;
  dm_window_snap *w;
  size_t n;
} snaps_t;

static inline void snaps_cb(void *arg, int status, dm_window_snap *w, size_t n) {
  snaps_t *s = arg;
  s->done = 1;
  s->status = status;
  s->w = w;
  s->n = n;
}

static inline snaps_t take(uv_loop_t *loop, dm_cache *c, int64_t close_before, size_t max) {
  snaps_t s = {0, 0, NULL, 0};
  assert_int_equal(dm_cache_take_ready(c, close_before, max, snaps_cb, &s), 0);
  assert_true(run_until(loop, &s.done, 10000));
  return s;
}

static inline int release(uv_loop_t *loop, dm_cache *c, dm_window_snap *w, size_t n, int status) {
  done_t d = {0, 0};
  assert_int_equal(dm_cache_release(c, w, n, status, done_cb, &d), 0);
  assert_true(run_until(loop, &d.done, 10000));
  return d.status;
}

static inline const dm_window_snap *find_snap(const snaps_t *s, const char *name, int64_t start) {
  for (size_t i = 0; i < s->n; i++)
    if (s->w[i].start == start && s->w[i].series_len == strlen(name) &&
        memcmp(s->w[i].series, name, s->w[i].series_len) == 0)
      return &s->w[i];
  return NULL;
}

static inline int64_t shard_of(const char *name, int64_t shards) {
  return (int64_t)(dm_name_hash(name, strlen(name)) % (uint64_t)shards);
}

#endif
