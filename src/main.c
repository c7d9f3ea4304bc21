/* main.c — diamondd: reads the configuration, opens the engine (replaying the WAL), serves
 * HTTP and Graphite plaintext on one libuv loop, and shuts down cleanly on SIGTERM/SIGINT:
 * stop accepting, answer in-flight requests, let running flushes finish, sync and close
 * the WAL. SIGHUP re-reads auth.keys from the config file.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "diamond/api.h"
#include "diamond/config.h"
#include "diamond/engine.h"
#include "diamond/error.h"
#include "diamond/graphite.h"
#include "diamond/http.h"
#include "diamond/log.h"

#define DM_VERSION "0.1.0"

typedef struct server {
  uv_loop_t *loop;
  dm_config cfg;
  const char *config_path;
  int argc;
  char **argv;
  dm_engine *engine;
  dm_http_server *http;
  dm_api *api;
  dm_graphite *graphite;
  uv_signal_t sigterm, sigint, sighup;
  int stopping;
} server;

static void http_stopped(void *arg) {
  server *s = arg;
  uv_stop(s->loop); /* main() closes the engine outside of any callback */
}

static void graphite_stopped(void *arg) {
  server *s = arg;
  dm_http_shutdown(s->http, (uint64_t)s->cfg.shutdown_timeout_ms, http_stopped, s);
}

static void on_stop_signal(uv_signal_t *h, int signum) {
  server *s = h->data;
  if (s->stopping) {
    dm_log_warn("signal_again", "signal=%d action=exit_now", signum);
    exit(1);
  }
  s->stopping = 1;
  dm_log_info("shutdown", "signal=%s", signum == SIGTERM ? "TERM" : "INT");
  if (s->graphite != NULL) dm_graphite_stop(s->graphite, graphite_stopped, s);
  else graphite_stopped(s);
}

static void on_hup(uv_signal_t *h, int signum) {
  server *s = h->data;
  (void)signum;
  if (s->config_path == NULL) {
    dm_log_info("sighup", "action=none reason=\"no config file\"");
    return;
  }
  dm_config fresh;
  char err[512];
  int action;
  /* rebuilt with the same precedence as at start: defaults < file < env < flags */
  if (dm_config_from_args(&fresh, s->argc, s->argv, &action, err, sizeof err) < 0) {
    char q[600];
    dm_log_error("sighup_reload_failed", "error=%s", dm_log_quote(q, sizeof q, err));
    return;
  }
  /* only the keys are reloaded: the rest needs a restart */
  memcpy(s->cfg.auth_keys, fresh.auth_keys, sizeof fresh.auth_keys);
  dm_log_info("sighup_reloaded", "what=auth.keys");
}

static const char *config_path(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) return argv[i + 1];
    if (strncmp(argv[i], "--config=", 9) == 0) return argv[i] + 9;
  }
  return NULL;
}

static void close_walk(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

int main(int argc, char **argv) {
  static server s;
  char err[512], q[600];
  int action = DM_ACTION_RUN;
  if (dm_config_from_args(&s.cfg, argc, argv, &action, err, sizeof err) < 0) {
    fprintf(stderr, "diamondd: %s\n", err);
    return 2;
  }
  switch (action) {
  case DM_ACTION_HELP: dm_config_usage(stdout); return 0;
  case DM_ACTION_VERSION: printf("diamondd %s\n", DM_VERSION); return 0;
  case DM_ACTION_DOC: dm_config_print_doc(stdout); return 0;
  case DM_ACTION_CHECK:
    dm_config_print(&s.cfg, stdout);
    fflush(stdout);
    fputs("# reaching the tiers\n", stderr);
    return dm_engine_storage(uv_default_loop(), &s.cfg, 0, stderr) == 0 ? 0 : 1;
  case DM_ACTION_CREATE:
    return dm_engine_storage(uv_default_loop(), &s.cfg, 1, stdout) == 0 ? 0 : 1;
  default: break;
  }
  s.config_path = config_path(argc, argv);
  s.argc = argc;
  s.argv = argv;
  dm_log_level lvl;
  if (dm_log_parse_level(s.cfg.log_level, &lvl) == 0) dm_log_set_level(lvl);
  signal(SIGPIPE, SIG_IGN);
  signal(SIGXFSZ, SIG_IGN); /* a file over RLIMIT_FSIZE is a write error (EFBIG), not a kill */
  srandom((unsigned)time(NULL) ^ (unsigned)uv_os_getpid());

  s.loop = uv_default_loop();
  dm_log_info("starting", "version=%s data_dir=%s wal_fsync=%s", DM_VERSION,
              dm_log_quote(q, sizeof q, s.cfg.data_dir),
              s.cfg.wal_fsync == DM_FSYNC_ALWAYS ? "always"
              : s.cfg.wal_fsync == DM_FSYNC_INTERVAL ? "interval" : "off");
  int rc = dm_engine_open(&s.engine, s.loop, &s.cfg, err, sizeof err);
  if (rc < 0) {
    dm_log_error("engine_open_failed", "error=%s", dm_log_quote(q, sizeof q, err));
    return 1;
  }
  dm_http_opts ho = {s.cfg.http, (size_t)s.cfg.max_body_bytes, (size_t)s.cfg.max_header_bytes,
                     (size_t)s.cfg.max_connections, (uint64_t)s.cfg.idle_timeout_ms};
  rc = dm_http_server_new(&s.http, s.loop, &ho, err, sizeof err);
  if (rc == 0) rc = dm_api_new(&s.api, s.http, s.engine, &s.cfg);
  if (rc == 0) rc = dm_http_listen(s.http, err, sizeof err);
  if (rc < 0) {
    dm_log_error("http_listen_failed", "addr=%s error=%s", s.cfg.http,
                 dm_log_quote(q, sizeof q, err));
    return 1;
  }
  if (s.cfg.graphite[0] != '\0' || s.cfg.graphite_udp[0] != '\0') {
    rc = dm_graphite_start(&s.graphite, s.loop, s.engine, &s.cfg, err, sizeof err);
    if (rc < 0) {
      dm_log_error("graphite_listen_failed", "addr=%s error=%s", s.cfg.graphite,
                   dm_log_quote(q, sizeof q, err));
      return 1;
    }
  }
  uv_signal_init(s.loop, &s.sigterm);
  uv_signal_init(s.loop, &s.sigint);
  uv_signal_init(s.loop, &s.sighup);
  s.sigterm.data = s.sigint.data = s.sighup.data = &s;
  uv_signal_start(&s.sigterm, on_stop_signal, SIGTERM);
  uv_signal_start(&s.sigint, on_stop_signal, SIGINT);
  uv_signal_start(&s.sighup, on_hup, SIGHUP);
  dm_engine_start(s.engine);
  dm_log_info("listening",
              "http=%s http_port=%d graphite=%s graphite_port=%d graphite_udp_port=%d",
              s.cfg.http, dm_http_port(s.http), s.cfg.graphite[0] ? s.cfg.graphite : "off",
              dm_graphite_port(s.graphite), dm_graphite_udp_port(s.graphite));

  uv_run(s.loop, UV_RUN_DEFAULT);

  /* stopped: no new work arrives; finish what runs, then close. Requests whose client
   * left (or that the shutdown timeout cut off) may still wait on an engine read or
   * write: their callbacks must run while the engine is alive. */
  while (dm_api_pending(s.api) > 0 && uv_run(s.loop, UV_RUN_ONCE) != 0) {
  }
  dm_engine_close(s.engine);
  dm_api_free(s.api);
  dm_http_server_free(s.http);
  uv_walk(s.loop, close_walk, NULL);
  uv_run(s.loop, UV_RUN_DEFAULT);
  uv_loop_close(s.loop);
  dm_log_info("stopped", NULL);
  return 0;
}
