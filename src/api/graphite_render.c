/* graphite_render.c — GET|POST /render, graphite-web's render API as Grafana calls it.
 *
 *   parameters (query string or form body): target (repeated), from (default -24h), until
 *   (default now) in every Graphite time format (timefmt.h; the earlier of the two is the
 *   start, as graphite-web takes them), format json (default) | csv, maxDataPoints (a whole
 *   number from 1: graphite-web ignores anything else, diamond refuses it; json only, as
 *   graphite-web's csv ignores it), noNullPoints.
 *
 * The request runs in the render core's phases (render.h): parse the targets (a syntax
 * error is a 400 naming target and position) -> list the paths they read -> fetch every
 * path concurrently through the engine's merged read path (graphite_fetch.c: expansion over
 * the name index, the series and point budgets of [limits]) -> evaluate the functions ->
 * maxDataPoints -> json or csv. Budget errors are 422 with the limit named, never an
 * out-of-memory.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api_int.h"
#include "diamond/error.h"
#include "diamond/render.h"
#include "diamond/timefmt.h"
#include "graphite_fetch.h"

#define MAX_TARGETS 256

typedef struct render_req {
  dm_api *a;
  dm_http_req *r;
  dm_render_ast *ast;
  const dm_render_path *paths;
  size_t npaths, pending;
  dm_render_list *fetched; /* one list per path */
  int64_t from, until, now;
  size_t max_points;
  int csv, no_null;
  int status;
  char err[512];
} render_req;

static void rr_free(render_req *q) {
  for (size_t i = 0; q->fetched && i < q->npaths; i++) dm_render_list_free(&q->fetched[i]);
  free(q->fetched);
  dm_render_ast_free(q->ast);
  free(q);
}

static int copy_path(void *arg, size_t index, const dm_render_path *p, dm_render_list *out) {
  render_req *q = arg;
  (void)p;
  const dm_render_list *l = &q->fetched[index];
  for (size_t i = 0; i < l->n; i++) {
    dm_render_series *c = dm_render_series_copy(l->s[i]);
    if (c == NULL || dm_render_list_add(out, c) < 0) return DM_ENOMEM;
  }
  return 0;
}

static void respond_error(render_req *q, int status, const char *msg) {
  int code = status == DM_ERANGE ? 422 : status == DM_EINVAL ? 400 : 500;
  dm_http_respond_error(q->r, code, "%s", msg);
}

static void evaluate(render_req *q) {
  const dm_config *cfg = dm_engine_config(q->a->e);
  dm_render_list out = {0};
  dm_render_req req = {q->from, q->until, (size_t)cfg->max_query_series,
                       (size_t)cfg->max_query_points};
  char err[512];
  int rc = dm_render_eval(q->ast, &req, copy_path, q, &out, err, sizeof err);
  if (rc == 0 && !q->csv) /* graphite-web consolidates json only */
    rc = dm_render_maxpoints(&out, q->from, q->until, q->max_points);
  if (rc < 0) {
    respond_error(q, rc, rc == DM_ENOMEM ? "out of memory" : err);
    dm_render_list_free(&out);
    return;
  }
  dm_buf b;
  dm_buf_init(&b);
  if (q->csv) dm_render_csv(&b, &out);
  else dm_render_json(&b, &out, q->no_null);
  if (b.oom) dm_http_respond_error(q->r, 500, "out of memory");
  else dm_http_respond(q->r, 200, q->csv ? "text/csv" : "application/json", b.p, b.len, "");
  dm_buf_free(&b);
  dm_render_list_free(&out);
}

static void path_fetched(void *arg, int status, const char *err, dm_gseries *s, size_t n) {
  void **ctx = arg;
  render_req *q = ctx[0];
  size_t i = (size_t)(uintptr_t)ctx[1];
  free(ctx);
  if (status < 0 && q->status == 0) {
    q->status = status;
    snprintf(q->err, sizeof q->err, "%s", err);
  }
  for (size_t k = 0; q->status == 0 && k < n; k++) {
    const dm_render_path *p = &q->paths[i];
    dm_render_series *rs = dm_render_series_new(s[k].name, s[k].name_len, s[k].start, s[k].step,
                                                s[k].n);
    if (rs == NULL) {
      q->status = DM_ENOMEM;
      break;
    }
    memcpy(rs->v, s[k].v, s[k].n * sizeof *rs->v);
    free(rs->path_expr);
    rs->path_expr = strdup(p->pattern);
    if (rs->path_expr == NULL) {
      dm_render_series_free(rs);
      q->status = DM_ENOMEM;
      break;
    }
    if (dm_render_list_add(&q->fetched[i], rs) < 0) q->status = DM_ENOMEM;
  }
  if (--q->pending > 0) return;
  q->a->pending--;
  if (q->status < 0) respond_error(q, q->status, q->err[0] ? q->err : dm_strerror(q->status));
  else evaluate(q);
  rr_free(q);
}

/* Starts one fetch per path; the last callback evaluates. */
static void fetch_all(render_req *q) {
  const dm_config *cfg = dm_engine_config(q->a->e);
  q->pending = q->npaths + 1; /* held while starting */
  q->a->pending++;
  for (size_t i = 0; i < q->npaths; i++) {
    const dm_render_path *p = &q->paths[i];
    dm_gfetch_opts o = {0, 0, q->now, (size_t)cfg->max_query_series,
                        (uint64_t)cfg->max_query_points};
    dm_render_path_range(p, q->from, q->until, cfg->step, &o.from, &o.until);
    void **ctx = malloc(2 * sizeof *ctx);
    int rc = DM_ENOMEM;
    if (ctx != NULL) {
      ctx[0] = q;
      ctx[1] = (void *)(uintptr_t)i;
      rc = dm_gfetch(q->a->e, &p->pattern, 1, &o, path_fetched, ctx);
    }
    if (rc < 0) {
      free(ctx);
      if (q->status == 0) q->status = rc;
      q->pending--;
    }
  }
  /* the hold: as if one more path completed with nothing */
  void **ctx = malloc(2 * sizeof *ctx);
  if (ctx == NULL) { /* cannot happen often; answer with what the status says */
    q->status = q->status ? q->status : DM_ENOMEM;
    if (--q->pending > 0) return;
    q->a->pending--;
    respond_error(q, q->status, dm_strerror(q->status));
    rr_free(q);
    return;
  }
  ctx[0] = q;
  ctx[1] = (void *)(uintptr_t)0;
  path_fetched(ctx, 0, NULL, NULL, 0);
}

static int parse_time_param(dm_http_req *r, const char *name, const char *def, int64_t now,
                            int64_t *out) {
  const char *v = dm_http_query(r, name, 0);
  if (v == NULL || v[0] == '\0') v = def;
  if (dm_time_parse(v, strlen(v), now, out) < 0) {
    dm_http_respond_error(r, 400, "%s: \"%s\" is not a Graphite time (epoch seconds, -1h, "
                          "-7d, now, HH:MM_YYYYMMDD, YYYYMMDD)", name, v);
    return DM_EINVAL;
  }
  return 0;
}

static int is_true(const char *v) {
  return v != NULL && (strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0 ||
                       strcasecmp(v, "yes") == 0 || strcasecmp(v, "on") == 0);
}

static void render(dm_http_req *r, void *arg) {
  dm_api *a = arg;
  const char *targets[MAX_TARGETS];
  size_t lens[MAX_TARGETS];
  size_t nt = dm_http_query_all(r, "target", targets, MAX_TARGETS);
  if (dm_http_query(r, "target", MAX_TARGETS) != NULL) {
    dm_http_respond_error(r, 400, "more than %d targets in one request", MAX_TARGETS);
    return;
  }
  size_t keep = 0;
  for (size_t i = 0; i < nt; i++) /* graphite-web ignores empty targets */
    if (targets[i][0] != '\0') targets[keep++] = targets[i];
  nt = keep;
  for (size_t i = 0; i < nt; i++) lens[i] = strlen(targets[i]);
  int64_t now = dm_now(), from, until;
  if (parse_time_param(r, "from", "-1d", now, &from) < 0) return;
  if (parse_time_param(r, "until", "now", now, &until) < 0) return;
  if (from == until) {
    dm_http_respond_error(r, 400, "from and until are the same time: an empty range");
    return;
  }
  if (from > until) { /* graphite-web takes the earlier as from */
    int64_t t = from;
    from = until;
    until = t;
  }
  const char *fmt = dm_http_query(r, "format", 0);
  int csv = fmt != NULL && strcmp(fmt, "csv") == 0;
  if (fmt != NULL && fmt[0] != '\0' && !csv && strcmp(fmt, "json") != 0) {
    dm_http_respond_error(r, 400, "format: \"%s\" is not supported (json, csv)", fmt);
    return;
  }
  size_t max_points = 0;
  const char *mdp = dm_http_query(r, "maxDataPoints", 0);
  if (mdp != NULL && mdp[0] != '\0') {
    /* graphite-web takes digits only and ignores anything else; diamond refuses it */
    size_t k = strspn(mdp, "0123456789");
    if (mdp[k] != '\0' || k > 9 || (max_points = strtoul(mdp, NULL, 10)) < 1) {
      dm_http_respond_error(r, 400, "maxDataPoints: \"%s\" must be a whole number from 1 to "
                            "999999999", mdp);
      return;
    }
  }
  if (nt == 0) { /* graphite-web answers an empty list */
    dm_http_respond(r, 200, csv ? "text/csv" : "application/json", csv ? "" : "[]",
                    csv ? 0 : 2, "");
    return;
  }
  render_req *q = calloc(1, sizeof *q);
  if (q == NULL) {
    dm_http_respond_error(r, 500, "out of memory");
    return;
  }
  *q = (render_req){.a = a, .r = r, .from = from, .until = until, .now = now,
                    .max_points = max_points,
                    .csv = csv, .no_null = is_true(dm_http_query(r, "noNullPoints", 0))};
  char err[512];
  int rc = dm_render_parse(&q->ast, targets, lens, nt, err, sizeof err);
  if (rc < 0) {
    dm_http_respond_error(r, rc == DM_EINVAL ? 400 : 500, "%s", err);
    rr_free(q);
    return;
  }
  q->npaths = dm_render_paths(q->ast, &q->paths);
  q->fetched = calloc(q->npaths ? q->npaths : 1, sizeof *q->fetched);
  if (q->fetched == NULL) {
    dm_http_respond_error(r, 500, "out of memory");
    rr_free(q);
    return;
  }
  fetch_all(q);
}

int dm_api_graphite_render_routes(dm_api *a) {
  return dm_api_route(a, DM_HTTP_GET | DM_HTTP_POST, "/render", "render", SCOPE_READ, render);
}
