/* mackerel.c — the Mackerel-compatible API (DESIGN.md §7): batch ingest for hosts and
 * services, range reads, latest values, metric-name listings, and the host registration
 * calls an unmodified mackerel-agent makes.
 *
 * Ingest parses the whole body into one batch (streaming parser, ingest.h) and either
 * stores all of it or none: the batch is handed to the engine only after it validated, and
 * the engine acks only once the WAL holds it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "diamond/buf.h"
#include "diamond/error.h"
#include "diamond/log.h"
#include "diamond/names.h"
#include "diamond/timefmt.h"

/* ---- ingest ---- */

typedef struct post_ctx {
  dm_api *a;
  dm_counter *points;
  dm_http_req *r;
  dm_batch b;
} post_ctx;

static void post_done(void *arg, int status) {
  post_ctx *c = arg;
  c->a->pending--;
  if (status == 0) {
    dm_counter_add(c->points, c->b.n);
    dm_api_json(c->r, 200, "{\"success\":true}");
  } else {
    dm_api_engine_error(c->a, c->r, status);
  }
  dm_batch_free(&c->b);
  free(c);
}

static void ingest(dm_http_req *r, dm_api *a, const char *service) {
  size_t len;
  const char *body = dm_http_body(r, &len);
  dm_counter_add(a->m_bytes_in, len);
  post_ctx *c = malloc(sizeof *c);
  if (c == NULL) {
    dm_http_respond_error(r, 500, "out of memory");
    return;
  }
  c->a = a;
  c->r = r;
  c->points = service ? a->m_points_service : a->m_points_host;
  dm_batch_init(&c->b);
  dm_ingest_limits lim;
  dm_api_limits(a, dm_now(), &lim);
  char err[512];
  int rc = dm_ingest_mackerel(body, len, service, &lim, &c->b, err, sizeof err);
  if (rc < 0) {
    dm_api_parse_error(a, r, rc, err);
  } else {
    a->pending++; /* first: the engine may call back before it returns */
    rc = dm_engine_write(a->e, &c->b, post_done, c);
    if (rc == 0) return;
    a->pending--;
    dm_api_engine_error(a, r, rc);
  }
  dm_batch_free(&c->b);
  free(c);
}

static void post_host_tsdb(dm_http_req *r, void *arg) { ingest(r, arg, NULL); }

static void post_service_tsdb(dm_http_req *r, void *arg) {
  const char *svc = dm_http_param(r, 0);
  if (dm_api_check_ident(r, "service name", svc) == 0) ingest(r, arg, svc);
}

/* ---- reads ---- */

typedef struct get_ctx {
  dm_api *a;
  dm_http_req *r;
} get_ctx;

/* An optional '-' and decimal digits that fit in int64 (strtoll alone would also take
 * blanks and '+' and saturate on overflow). */
static int parse_epoch(const char *s, int64_t *out) {
  if (s == NULL) return DM_EINVAL;
  const char *d = s[0] == '-' ? s + 1 : s;
  if (*d < '0' || *d > '9') return DM_EINVAL;
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (*end != '\0' || errno == ERANGE) return DM_EINVAL;
  *out = v;
  return 0;
}

static void range_done(void *arg, int status, const dm_point *p, size_t n) {
  get_ctx *c = arg;
  c->a->pending--;
  if (status < 0 && status != DM_ENOENT) {
    dm_api_engine_error(c->a, c->r, status);
    free(c);
    return;
  }
  dm_buf b;
  dm_buf_init(&b);
  dm_buf_reserve(&b, 16 + n * 40);
  dm_buf_adds(&b, "{\"metrics\":[");
  for (size_t i = 0; i < n; i++) {
    dm_buf_add(&b, ",{\"time\":" + (i == 0), i == 0 ? 8 : 9);
    dm_buf_i64(&b, p[i].t);
    dm_buf_add(&b, ",\"value\":", 9);
    dm_buf_json_double(&b, p[i].v);
    dm_buf_add(&b, "}", 1);
  }
  dm_buf_adds(&b, "]}");
  if (b.oom) dm_http_respond_error(c->r, 500, "out of memory");
  else dm_http_respond(c->r, 200, "application/json", b.p, b.len, "");
  dm_buf_free(&b);
  free(c);
}

static void read_range(dm_http_req *r, dm_api *a, const char *kind, const char *owner) {
  const char *name = dm_http_query(r, "name", 0);
  const char *from_s = dm_http_query(r, "from", 0);
  const char *to_s = dm_http_query(r, "to", 0);
  int64_t from, to;
  if (dm_api_check_ident(r, strcmp(kind, "host") == 0 ? "hostId" : "service name", owner) < 0)
    return;
  if (name == NULL || name[0] == '\0') {
    dm_http_respond_error(r, 400, "query parameter \"name\" is required");
    return;
  }
  if (parse_epoch(from_s, &from) < 0) {
    dm_http_respond_error(r, 400, "query parameter \"from\": epoch seconds (an integer) required");
    return;
  }
  if (parse_epoch(to_s, &to) < 0) {
    dm_http_respond_error(r, 400, "query parameter \"to\": epoch seconds (an integer) required");
    return;
  }
  if (from > to) {
    dm_http_respond_error(r, 400, "\"from\" (%lld) is after \"to\" (%lld)", (long long)from,
                          (long long)to);
    return;
  }
  char series[1024];
  int len = snprintf(series, sizeof series, "%s.%s.%s", kind, owner, name);
  size_t bad;
  if (len < 0 || (size_t)len >= sizeof series ||
      dm_name_check(series, (size_t)len, (size_t)a->cfg->max_name_len, &bad) < 0) {
    dm_http_respond_error(r, 400, "query parameter \"name\": \"%s\" is not a valid metric name",
                          name);
    return;
  }
  get_ctx *c = malloc(sizeof *c);
  if (c == NULL) {
    dm_http_respond_error(r, 500, "out of memory");
    return;
  }
  c->a = a;
  c->r = r;
  a->pending++;
  int rc = dm_engine_read(a->e, series, (size_t)len, from, to, range_done, c);
  if (rc < 0) a->pending--;
  if (rc == DM_ERANGE) {
    dm_http_respond_error(r, 400, "range [%lld, %lld] may hold more than %lld points "
                          "(limits.max_query_points): ask for a shorter range",
                          (long long)from, (long long)to, (long long)a->cfg->max_query_points);
    free(c);
  } else if (rc < 0) {
    dm_api_engine_error(a, r, rc);
    free(c);
  }
}

static void get_host_metrics(dm_http_req *r, void *arg) {
  read_range(r, arg, "host", dm_http_param(r, 0));
}

static void get_service_metrics(dm_http_req *r, void *arg) {
  read_range(r, arg, "service", dm_http_param(r, 0));
}

/* ---- latest ---- */

typedef struct latest_ctx {
  dm_api *a;
  dm_http_req *r;
  size_t nhosts, nnames, pending;
  const char **hosts, **names; /* distinct, in request order */
  dm_point *pts;
  char *found;
  int status;
} latest_ctx;

typedef struct latest_one {
  latest_ctx *c;
  size_t i;
} latest_one;

static void latest_free(latest_ctx *c) {
  free(c->hosts);
  free(c->names);
  free(c->pts);
  free(c->found);
  free(c);
}

static void latest_reply(latest_ctx *c) {
  c->a->pending--;
  if (c->status < 0) {
    dm_api_engine_error(c->a, c->r, c->status);
  } else {
    dm_buf b;
    dm_buf_init(&b);
    dm_buf_adds(&b, "{\"tsdbLatest\":{");
    for (size_t h = 0; h < c->nhosts; h++) {
      if (h) dm_buf_add(&b, ",", 1);
      dm_buf_json_str(&b, c->hosts[h], strlen(c->hosts[h]));
      dm_buf_add(&b, ":{", 2);
      int first = 1;
      for (size_t n = 0; n < c->nnames; n++) {
        size_t i = h * c->nnames + n;
        if (!c->found[i]) continue;
        if (!first) dm_buf_add(&b, ",", 1);
        first = 0;
        dm_buf_json_str(&b, c->names[n], strlen(c->names[n]));
        dm_buf_adds(&b, ":{\"name\":");
        dm_buf_json_str(&b, c->names[n], strlen(c->names[n]));
        dm_buf_printf(&b, ",\"time\":%lld,\"value\":", (long long)c->pts[i].t);
        dm_buf_json_double(&b, c->pts[i].v);
        dm_buf_add(&b, "}", 1);
      }
      dm_buf_add(&b, "}", 1);
    }
    dm_buf_adds(&b, "}}");
    if (b.oom) dm_http_respond_error(c->r, 500, "out of memory");
    else dm_http_respond(c->r, 200, "application/json", b.p, b.len, "");
    dm_buf_free(&b);
  }
  latest_free(c);
}

static void latest_got(void *arg, int status, const dm_point *p, size_t n) {
  latest_one *o = arg;
  latest_ctx *c = o->c;
  if (status == 0 && n == 1) {
    c->pts[o->i] = p[0];
    c->found[o->i] = 1;
  } else if (status < 0 && status != DM_ENOENT) {
    c->status = status;
  }
  free(o);
  if (--c->pending == 0) latest_reply(c);
}

typedef struct str_at {
  const char *s;
  size_t i;
} str_at;

static int str_at_cmp(const void *a, const void *b) {
  const str_at *x = a, *y = b;
  int d = strcmp(x->s, y->s);
  return d ? d : (x->i > y->i) - (x->i < y->i);
}

/* Drops repeated strings from v, keeping each first occurrence in order: *n becomes the
 * distinct count. Sorting keeps this O(n log n) for the thousands of parameters a long
 * URL can carry. */
static int distinct(const char **v, size_t *n) {
  if (*n < 2) return 0;
  str_at *t = malloc(*n * sizeof *t);
  char *dup = calloc(*n, 1);
  if (t == NULL || dup == NULL) {
    free(t);
    free(dup);
    return DM_ENOMEM;
  }
  for (size_t i = 0; i < *n; i++) t[i] = (str_at){v[i], i};
  qsort(t, *n, sizeof *t, str_at_cmp);
  for (size_t i = 1; i < *n; i++) dup[t[i].i] = strcmp(t[i].s, t[i - 1].s) == 0;
  size_t k = 0;
  for (size_t i = 0; i < *n; i++)
    if (!dup[i]) v[k++] = v[i];
  *n = k;
  free(t);
  free(dup);
  return 0;
}

static void get_latest(dm_http_req *r, void *arg) {
  dm_api *a = arg;
  size_t nh = dm_http_query_all(r, "hostId", NULL, 0);
  size_t nn = dm_http_query_all(r, "name", NULL, 0);
  if (nh == 0 || nn == 0) {
    dm_http_respond_error(r, 400, "query parameters \"hostId\" and \"name\" are required");
    return;
  }
  latest_ctx *c = calloc(1, sizeof *c);
  if (c == NULL) {
    dm_http_respond_error(r, 500, "out of memory");
    return;
  }
  c->a = a;
  c->r = r;
  c->hosts = malloc(nh * sizeof *c->hosts);
  c->names = malloc(nn * sizeof *c->names);
  if (c->hosts == NULL || c->names == NULL) goto oom;
  dm_http_query_all(r, "hostId", c->hosts, nh);
  dm_http_query_all(r, "name", c->names, nn);
  for (size_t i = 0; i < nh; i++) {
    if (dm_api_check_ident(r, "hostId", c->hosts[i]) < 0) goto fail;
  }
  if (distinct(c->hosts, &nh) < 0 || distinct(c->names, &nn) < 0) goto oom;
  if (nh * nn > (size_t)a->cfg->max_query_series) {
    dm_http_respond_error(r, 400, "%zu hostId x %zu name = %zu series, over the limit of %lld "
                          "(limits.max_query_series)", nh, nn, nh * nn,
                          (long long)a->cfg->max_query_series);
    goto fail;
  }
  c->nhosts = nh;
  c->nnames = nn;
  c->pts = calloc(nh * nn, sizeof *c->pts);
  c->found = calloc(nh * nn, 1);
  if (c->pts == NULL || c->found == NULL) goto oom;
  a->pending++; /* until latest_reply */
  c->pending = 1;
  for (size_t h = 0; h < nh; h++) {
    for (size_t n = 0; n < nn; n++) {
      char series[1024];
      int len = snprintf(series, sizeof series, "host.%s.%s", c->hosts[h], c->names[n]);
      size_t bad;
      if (len < 0 || (size_t)len >= sizeof series ||
          dm_name_check(series, (size_t)len, (size_t)a->cfg->max_name_len, &bad) < 0)
        continue; /* an invalid name cannot exist: left out, like an absent one */
      latest_one *o = malloc(sizeof *o);
      if (o == NULL) {
        c->status = DM_ENOMEM;
        continue;
      }
      o->c = c;
      o->i = h * nn + n;
      c->pending++;
      int rc = dm_engine_latest(a->e, series, (size_t)len, latest_got, o);
      if (rc < 0) {
        c->pending--;
        c->status = rc;
        free(o);
      }
    }
  }
  if (--c->pending == 0) latest_reply(c);
  return;
oom:
  dm_http_respond_error(r, 500, "out of memory");
fail:
  latest_free(c);
}

/* ---- metric names ---- */

typedef struct names_ctx {
  dm_buf b;
  size_t prefix_len;
  int n;
} names_ctx;

static void name_found(void *arg, const char *name, size_t len) {
  names_ctx *c = arg;
  if (c->n++) dm_buf_add(&c->b, ",", 1);
  dm_buf_json_str(&c->b, name + c->prefix_len, len - c->prefix_len);
}

static void get_metric_names(dm_http_req *r, void *arg) {
  dm_api *a = arg;
  const char *host = dm_http_param(r, 0);
  if (dm_api_check_ident(r, "hostId", host) < 0) return;
  char prefix[300];
  int plen = snprintf(prefix, sizeof prefix, "host.%s.", host);
  if (plen < 0 || (size_t)plen >= sizeof prefix) {
    dm_http_respond_error(r, 400, "hostId too long");
    return;
  }
  names_ctx c = {.prefix_len = (size_t)plen};
  dm_buf_init(&c.b);
  dm_buf_adds(&c.b, "{\"names\":[");
  dm_engine_names(a->e, prefix, (size_t)plen, name_found, &c);
  dm_buf_adds(&c.b, "]}");
  if (c.b.oom) dm_http_respond_error(r, 500, "out of memory");
  else dm_http_respond(r, 200, "application/json", c.b.p, c.b.len, "");
  dm_buf_free(&c.b);
}

int dm_api_mackerel_routes(dm_api *a) {
  int rc = 0;
  rc |= dm_api_route(a, DM_HTTP_POST, "/api/v0/tsdb", "tsdb_post", SCOPE_WRITE, post_host_tsdb);
  rc |= dm_api_route(a, DM_HTTP_POST, "/api/v0/services/:/tsdb", "service_tsdb_post",
                     SCOPE_WRITE, post_service_tsdb);
  rc |= dm_api_route(a, DM_HTTP_GET, "/api/v0/hosts/:/metrics", "host_metrics", SCOPE_READ,
                     get_host_metrics);
  rc |= dm_api_route(a, DM_HTTP_GET, "/api/v0/services/:/metrics", "service_metrics",
                     SCOPE_READ, get_service_metrics);
  rc |= dm_api_route(a, DM_HTTP_GET, "/api/v0/tsdb/latest", "tsdb_latest", SCOPE_READ,
                     get_latest);
  rc |= dm_api_route(a, DM_HTTP_GET, "/api/v0/hosts/:/metric-names", "metric_names",
                     SCOPE_READ, get_metric_names);
  return rc < 0 ? DM_ENOMEM : 0;
}
