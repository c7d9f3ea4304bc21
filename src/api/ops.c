/* ops.c — endpoints for operators: liveness, readiness, Prometheus metrics, and the admin
 * calls that force the flusher and the ager (tests and operators use them). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api_int.h"
#include "diamond/buf.h"
#include "diamond/error.h"
#include "diamond/log.h"

/* ---- process metrics, the names Prometheus client libraries use ---- */

static double proc_stat_field(int field) { /* 1-based field of /proc/self/stat */
  char buf[1024];
  FILE *f = fopen("/proc/self/stat", "r");
  if (f == NULL) return 0;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  char *p = strrchr(buf, ')'); /* the command name may contain spaces */
  if (p == NULL) return 0;
  p += 2; /* field 3 */
  for (int i = 3; i < field && p != NULL; i++) {
    p = strchr(p, ' ');
    if (p != NULL) p++;
  }
  return p != NULL ? strtod(p, NULL) : 0;
}

static double g_cpu_seconds(void *arg) {
  (void)arg;
  long hz = sysconf(_SC_CLK_TCK);
  return (proc_stat_field(14) + proc_stat_field(15)) / (double)(hz > 0 ? hz : 100);
}

static double g_rss_bytes(void *arg) {
  (void)arg;
  return proc_stat_field(24) * (double)sysconf(_SC_PAGESIZE);
}

static double g_open_fds(void *arg) {
  (void)arg;
  DIR *d = opendir("/proc/self/fd");
  if (d == NULL) return 0;
  double n = -1; /* the DIR's own fd */
  for (struct dirent *de; (de = readdir(d)) != NULL;)
    if (de->d_name[0] != '.') n++;
  closedir(d);
  return n;
}

static void healthz(dm_http_req *r, void *arg) {
  (void)arg;
  dm_api_json(r, 200, "{\"status\":\"ok\"}");
}

static void readyz(dm_http_req *r, void *arg) {
  dm_api *a = arg;
  char why[256];
  if (dm_engine_ready(a->e, why, sizeof why)) {
    dm_api_json(r, 200, "{\"status\":\"ready\"}");
  } else {
    dm_http_respond_error_h(r, 503, "Retry-After: 1\r\n", "not ready: %s", why);
  }
}

static void metrics(dm_http_req *r, void *arg) {
  (void)arg;
  dm_buf b;
  dm_buf_init(&b);
  dm_metrics_render(&b);
  if (b.oom) dm_http_respond_error(r, 500, "out of memory");
  else dm_http_respond(r, 200, "text/plain; version=0.0.4; charset=utf-8", b.p, b.len, "");
  dm_buf_free(&b);
}

typedef struct admin_ctx {
  dm_api *a;
  dm_http_req *r;
  int age;
} admin_ctx;

static void admin_done(void *arg, int status) {
  admin_ctx *c = arg;
  c->a->pending--;
  if (status < 0) {
    dm_http_respond_error(c->r, status == DM_ECLOSED ? 503 : 500, "%s failed: %s",
                          c->age ? "ageing" : "flush", dm_strerror(status));
  } else {
    uint64_t flushed, aged;
    dm_engine_last_counts(c->a->e, &flushed, &aged);
    char json[64];
    snprintf(json, sizeof json, c->age ? "{\"aged\":%llu}" : "{\"flushed\":%llu}",
             (unsigned long long)(c->age ? aged : flushed));
    dm_api_json(c->r, 200, json);
  }
  free(c);
}

static void admin(dm_http_req *r, dm_api *a, int age) {
  admin_ctx *c = malloc(sizeof *c);
  if (c == NULL) {
    dm_http_respond_error(r, 500, "out of memory");
    return;
  }
  *c = (admin_ctx){a, r, age};
  dm_log_info(age ? "admin_age" : "admin_flush", NULL);
  a->pending++;
  int rc = age ? dm_engine_age(a->e, admin_done, c) : dm_engine_flush(a->e, admin_done, c);
  if (rc < 0) {
    a->pending--;
    free(c);
    dm_http_respond_error(r, rc == DM_ECLOSED ? 503 : 500, "%s", dm_strerror(rc));
  }
}

static void admin_flush(dm_http_req *r, void *arg) { admin(r, arg, 0); }
static void admin_age(dm_http_req *r, void *arg) { admin(r, arg, 1); }

int dm_api_ops_routes(dm_api *a) {
  dm_metric_counter_fn("process_cpu_seconds_total", "",
                       "User and system CPU time of the process.", g_cpu_seconds, NULL);
  dm_metric_gauge("process_resident_memory_bytes", "", "Resident memory of the process.",
                  g_rss_bytes, NULL);
  dm_metric_gauge("process_open_fds", "", "Open file descriptors.", g_open_fds, NULL);
  int rc = 0;
  rc |= dm_api_route(a, DM_HTTP_GET | DM_HTTP_HEAD, "/healthz", "healthz", SCOPE_NONE, healthz);
  rc |= dm_api_route(a, DM_HTTP_GET | DM_HTTP_HEAD, "/readyz", "readyz", SCOPE_NONE, readyz);
  rc |= dm_api_route(a, DM_HTTP_GET, "/metrics", "metrics", SCOPE_NONE, metrics);
  rc |= dm_api_route(a, DM_HTTP_POST, "/admin/flush", "admin_flush", SCOPE_WRITE, admin_flush);
  rc |= dm_api_route(a, DM_HTTP_POST, "/admin/age", "admin_age", SCOPE_WRITE, admin_age);
  return rc < 0 ? DM_ENOMEM : 0;
}
