/* api.c — route registration, the X-Api-Key scope check and the request metrics.
 *
 * Keys come from auth.keys ("key=read+write,key2=read"). With no key configured every
 * request is allowed (main refuses a non-loopback listener in that case unless auth.open).
 * With keys, a request needs X-Api-Key: missing or unknown -> 401, known but without the
 * route's scope -> 403. /healthz, /readyz and /metrics need no key. Whether keys are
 * configured is looked up per request, not once at start: SIGHUP may add the first key
 * (the server must then stop being open) or remove the last one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "diamond/error.h"
#include "diamond/log.h"
#include "diamond/names.h"

/* The key check, run by the HTTP server as soon as the headers are in (a gate), so an
 * unauthorized client cannot make the server buffer a body first. */
static int check_key(void *arg, const dm_http_req *r, void *route_arg, const char **msg) {
  dm_api *a = arg;
  route_ctx *rc = route_arg;
  if (rc->scope == SCOPE_NONE || !dm_config_has_keys(a->cfg)) return 0;
  const char *key = dm_http_header(r, "x-api-key");
  if (key == NULL || key[0] == '\0') {
    *msg = "missing X-Api-Key header";
    return 401;
  }
  int scopes = dm_config_key_scopes(a->cfg, key);
  if (scopes == 0) {
    *msg = "unknown API key";
    return 401;
  }
  if (!(scopes & rc->scope)) {
    *msg = rc->scope == SCOPE_WRITE ? "API key lacks the write scope"
                                    : "API key lacks the read scope";
    return 403;
  }
  return 0;
}

static void dispatch(dm_http_req *r, void *arg) {
  route_ctx *rc = arg;
  rc->fn(r, rc->api);
}

int dm_api_route(dm_api *a, int methods, const char *pattern, const char *name, int scope,
                 dm_http_handler fn) {
  route_ctx *rc = calloc(1, sizeof *rc);
  if (rc == NULL) return DM_ENOMEM;
  *rc = (route_ctx){a, scope, fn, a->routes};
  a->routes = rc;
  return dm_http_route(a->http, methods, pattern, name, dispatch, rc);
}

void dm_api_limits(const dm_api *a, int64_t now, dm_ingest_limits *lim) {
  lim->max_points = (size_t)a->cfg->max_points;
  lim->max_name_len = (size_t)a->cfg->max_name_len;
  lim->step = a->cfg->step;
  lim->min_time = now - a->cfg->blob_keep;
  lim->max_time = now + a->cfg->max_future;
}

int dm_api_check_ident(dm_http_req *r, const char *what, const char *s) {
  if (dm_segment_check(s, strlen(s)) == 0) return 0;
  dm_http_respond_error(r, 400, "%s \"%s\": must be [A-Za-z0-9_-]+", what, s);
  return -1;
}

void dm_api_json(dm_http_req *r, int status, const char *json) {
  dm_http_respond(r, status, "application/json", json, strlen(json), "");
}

/* requests by route and code: a small cache in front of the metrics registry */
typedef struct req_metric {
  const char *route;
  int code;
  dm_counter *c;
} req_metric;

static req_metric seen[256];
static size_t nseen;

static void observe(void *arg, const char *route, int status) {
  (void)arg;
  for (size_t i = 0; i < nseen; i++) {
    if (seen[i].code == status && seen[i].route == route) {
      dm_counter_add(seen[i].c, 1);
      return;
    }
  }
  char labels[128];
  snprintf(labels, sizeof labels, "route=\"%s\",code=\"%d\"", route[0] ? route : "none", status);
  dm_counter *c = dm_metric_counter("diamond_http_requests_total", labels,
                                    "HTTP requests answered, by route and status code.");
  dm_counter_add(c, 1);
  if (nseen < sizeof seen / sizeof seen[0]) seen[nseen++] = (req_metric){route, status, c};
}

int dm_api_new(dm_api **out, dm_http_server *s, dm_engine *e, const dm_config *cfg) {
  dm_api *a = calloc(1, sizeof *a);
  if (a == NULL) return DM_ENOMEM;
  a->http = s;
  a->e = e;
  a->cfg = cfg;
  a->m_bytes_in = dm_metric_counter("diamond_http_body_bytes_total", "",
                                    "Request body bytes received by ingest endpoints.");
  a->m_points_host = dm_metric_counter("diamond_points_total",
                                       "source=\"http\",route=\"tsdb_post\"",
                                       "Points accepted, by source and route.");
  a->m_points_service = dm_metric_counter("diamond_points_total",
                                          "source=\"http\",route=\"service_tsdb_post\"",
                                          "Points accepted, by source and route.");
  a->m_rejected = dm_metric_counter("diamond_rejected_batches_total", "",
                                    "Ingest batches rejected whole for bad input.");
  dm_http_set_observer(s, observe, a);
  dm_http_set_gate(s, check_key, a);
  int rc = dm_api_mackerel_routes(a);
  if (rc == 0) rc = dm_api_mackerel_host_routes(a);
  if (rc == 0) rc = dm_api_ops_routes(a);
  if (rc == 0) rc = dm_api_influx_routes(a);
  if (rc == 0) rc = dm_api_collectd_routes(a);
  if (rc == 0) rc = dm_api_graphite_find_routes(a);
  if (rc == 0) rc = dm_api_graphite_meta_routes(a);
  if (rc == 0) rc = dm_api_graphite_render_routes(a);
  if (rc == 0) rc = dm_api_page_routes(a);
  if (rc < 0) {
    dm_api_free(a);
    return rc;
  }
  *out = a;
  return 0;
}

void dm_api_parse_error(dm_api *a, dm_http_req *r, int rc, const char *err) {
  if (rc == DM_ENOMEM) {
    dm_http_respond_error_h(r, 503, "Retry-After: 1\r\n", "%s", err);
    return;
  }
  dm_counter_add(a->m_rejected, 1);
  dm_http_respond_error(r, rc == DM_ERANGE ? 413 : 400, "%s", err);
}

void dm_api_engine_error(dm_api *a, dm_http_req *r, int rc) {
  char why[512];
  int ready = dm_engine_ready(a->e, why, sizeof why);
  if (rc == DM_EBUSY || rc == DM_EAGAIN) {
    char h[64];
    snprintf(h, sizeof h, "Retry-After: %d\r\n", dm_engine_retry_after(a->e));
    if (!ready)
      dm_http_respond_error_h(r, 503, h, "server busy: %s; nothing was stored, retry later",
                              why);
    else
      dm_http_respond_error_h(r, 503, h, "server busy (backpressure): retry later");
  } else if (rc == DM_ECLOSED) {
    dm_http_respond_error_h(r, 503, "Retry-After: 1\r\n", "server shutting down");
  } else if (rc == DM_EIO) {
    /* the WAL's disk error, or a storage error reply: /readyz says which */
    if (!ready)
      dm_http_respond_error(r, 500, "write failed: %s; nothing was stored", why);
    else
      dm_http_respond_error(r, 500, "write failed (storage error): nothing was stored; see "
                            "the server log and /readyz");
  } else if (rc == DM_ERANGE) {
    dm_http_respond_error(r, 422, "query over a limit (limits.max_query_points)");
  } else {
    dm_http_respond_error(r, 500, "internal error: %s", dm_strerror(rc));
  }
}

size_t dm_api_pending(const dm_api *a) { return a ? a->pending : 0; }

void dm_api_free(dm_api *a) {
  if (a == NULL) return;
  route_ctx *r = a->routes;
  while (r != NULL) {
    route_ctx *next = r->next;
    free(r);
    r = next;
  }
  free(a);
}
