/* api_int.h — what the api's files share: the api object, the route wrapper that checks
 * the key's scope, and the ingest limits derived from the config. */
#ifndef DIAMOND_API_INT_H
#define DIAMOND_API_INT_H

#include "diamond/api.h"
#include "diamond/ingest.h"
#include "diamond/metrics.h"

enum { SCOPE_NONE = 0, SCOPE_READ = 1, SCOPE_WRITE = 2 };

struct dm_api {
  dm_http_server *http;
  dm_engine *e;
  const dm_config *cfg;
  size_t pending; /* engine calls not called back yet (dm_api_pending) */
  dm_counter *m_bytes_in, *m_points_host, *m_points_service, *m_rejected;
  struct route_ctx *routes;
};

typedef struct route_ctx {
  dm_api *api;
  int scope;
  dm_http_handler fn;
  struct route_ctx *next;
} route_ctx;

/* Registers pattern with a scope check in front of fn (fn gets the dm_api as arg). */
int dm_api_route(dm_api *a, int methods, const char *pattern, const char *name, int scope,
                 dm_http_handler fn);
void dm_api_limits(const dm_api *a, int64_t now, dm_ingest_limits *lim);

int dm_api_mackerel_routes(dm_api *a);
int dm_api_mackerel_host_routes(dm_api *a);
/* A one-segment identifier (hostId, service name): 0, or -1 after answering 400. */
int dm_api_check_ident(dm_http_req *r, const char *what, const char *s);
int dm_api_ops_routes(dm_api *a);
int dm_api_influx_routes(dm_api *a);   /* influx.c: /write, /api/v2/write, /ping, /query */
int dm_api_collectd_routes(dm_api *a); /* collectd.c: POST /collectd */
int dm_api_graphite_render_routes(dm_api *a); /* graphite_render.c: GET|POST /render */
/* influx.c, for the agent protocols: the key check of routes registered with SCOPE_NONE
 * (X-Api-Key, Authorization Token/Basic, p=; 0, or -1 after answering 401/403); the write
 * of a parsed batch (moved out of *b; ok_json NULL: no body). */
int dm_api_agent_auth(dm_api *a, dm_http_req *r);
void dm_api_agent_write(dm_api *a, dm_http_req *r, dm_batch *b, dm_counter *points,
                        int ok_status, const char *ok_json);
/* api.c: the reply to a body an ingest parser refused (rc < 0, err its message): 503 +
 * Retry-After for DM_ENOMEM, else counted as rejected and 413 (DM_ERANGE) or 400. */
void dm_api_parse_error(dm_api *a, dm_http_req *r, int rc, const char *err);
/* api.c: the reply to an engine error (503 + Retry-After with the reason, 500, 422), shared
 * by every write and read route. */
void dm_api_engine_error(dm_api *a, dm_http_req *r, int rc);
/* Graphite metadata for Grafana: /metrics/{find,expand,index.json} (graphite_find.c), and
 * /functions, /tags/autoComplete/{tags,values}, /version (graphite_meta.c). The find core is exposed so
 * its unit test runs without HTTP: 0, DM_EINVAL (format), DM_ERANGE (over budget), DM_ENOMEM. */
int dm_api_graphite_find_routes(dm_api *a);
int dm_api_graphite_meta_routes(dm_api *a);
int dm_api_graphite_find_json(dm_engine *e, const char *query, const char *format,
                              int leaves_only, int wildcards, size_t budget, struct dm_buf *out);
int dm_api_page_routes(dm_api *a); /* GET / and /static/: the graph page (page.c) */

/* Replies {"success":true}-style JSON from a literal. */
void dm_api_json(dm_http_req *r, int status, const char *json);

#endif
