/* influx.c — the InfluxDB-compatible endpoints Telegraf and the Influx client libraries
 * use, and the write path shared with the other agent protocols (collectd.c).
 *
 *   POST /write?db=<db>&precision=<n|ns|u|us|ms|s|m|h>   (1.x)          -> 204
 *   POST /api/v2/write?bucket=<b>&org=<o>&precision=<ns|us|ms|s> (2.x)  -> 204
 *   GET|HEAD /ping                                                      -> 204 + X-Influxdb-Version
 *   POST|GET /query?q=CREATE DATABASE <name>   (q also as a form body)  -> 200 {"results":[{"statement_id":0}]}
 *
 * The body is line protocol (src/ingest/influx.c: grammar, naming). db and bucket must be
 * given (Influx requires them) but do not enter series names: every database writes the
 * same namespace. Any other query than CREATE DATABASE gets 400: diamond is read through
 * its Mackerel and Graphite APIs, not InfluxQL.
 *
 * Keys. Influx clients cannot send X-Api-Key, so these routes (and POST /collectd) take the
 * key from, in order: X-Api-Key; "Authorization: Token <key>" (2.x clients, Telegraf's
 * `token`); "Authorization: Basic" with the key as password (1.x clients' username /
 * password); the `p` query parameter (1.x `u=&p=`). They need the write scope. The check
 * runs in the handler, after the body is read (the api's gate only knows X-Api-Key);
 * limits.max_body_bytes still bounds what an unauthorized client can send.
 *
 * "Content-Encoding: gzip" (Telegraf's default content_encoding) is inflated here; the
 * inflated body is bounded by limits.max_body_bytes too (413 above: no zip bombs). Other
 * encodings get 415.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "api_int.h"
#include "diamond/error.h"
#include "diamond/timefmt.h"

#define INFLUX_VERSION "1.8.10"

static dm_counter *m_points_v1, *m_points_v2;

/* ---- keys ---- */

static int b64val(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

/* Base64 s into out (cap bytes, NUL-terminated); length or -1. */
static int b64decode(const char *s, char *out, size_t cap) {
  size_t w = 0;
  unsigned acc = 0;
  int bits = 0;
  for (; *s && *s != '='; s++) {
    int v = b64val((unsigned char)*s);
    if (v < 0) return -1;
    acc = (acc << 6) | (unsigned)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (w + 1 >= cap) return -1;
      out[w++] = (char)((acc >> bits) & 0xff);
    }
  }
  out[w] = '\0';
  return (int)w;
}

int dm_api_agent_auth(dm_api *a, dm_http_req *r) {
  if (!dm_config_has_keys(a->cfg)) return 0;
  const char *key = dm_http_header(r, "x-api-key");
  char buf[512];
  if (key == NULL || key[0] == '\0') {
    const char *h = dm_http_header(r, "authorization");
    key = NULL;
    if (h != NULL && strncasecmp(h, "Token ", 6) == 0) {
      key = h + 6;
    } else if (h != NULL && strncasecmp(h, "Basic ", 6) == 0) {
      char *colon;
      if (b64decode(h + 6, buf, sizeof buf) > 0 && (colon = strchr(buf, ':')) != NULL)
        key = colon + 1;
    }
    if (key == NULL) key = dm_http_query(r, "p", 0);
  }
  while (key != NULL && *key == ' ') key++;
  if (key == NULL || key[0] == '\0') {
    dm_http_respond_error(r, 401, "missing key: send X-Api-Key, \"Authorization: Token <key>\" "
                          "or the key as password");
    return -1;
  }
  int scopes = dm_config_key_scopes(a->cfg, key);
  if (scopes == 0) {
    dm_http_respond_error(r, 401, "unknown API key");
    return -1;
  }
  if (!(scopes & DM_SCOPE_WRITE)) {
    dm_http_respond_error(r, 403, "API key lacks the write scope");
    return -1;
  }
  return 0;
}

/* ---- the shared write ---- */

typedef struct agent_write {
  dm_api *a;
  dm_http_req *r;
  dm_counter *points;
  int ok_status;
  const char *ok_json;
  dm_batch b;
} agent_write;

static void respond_ok(dm_http_req *r, int status, const char *json) {
  if (json == NULL) dm_http_respond(r, status, NULL, "", 0, "");
  else dm_api_json(r, status, json);
}

static void agent_done(void *arg, int status) {
  agent_write *w = arg;
  w->a->pending--;
  if (status == 0) {
    dm_counter_add(w->points, w->b.n);
    respond_ok(w->r, w->ok_status, w->ok_json);
  } else {
    dm_api_engine_error(w->a, w->r, status);
  }
  dm_batch_free(&w->b);
  free(w);
}

void dm_api_agent_write(dm_api *a, dm_http_req *r, dm_batch *b, dm_counter *points,
                        int ok_status, const char *ok_json) {
  if (b->n == 0) {
    dm_batch_free(b);
    respond_ok(r, ok_status, ok_json);
    return;
  }
  agent_write *w = malloc(sizeof *w);
  if (w == NULL) {
    dm_batch_free(b);
    dm_http_respond_error_h(r, 503, "Retry-After: 1\r\n", "out of memory");
    return;
  }
  *w = (agent_write){a, r, points, ok_status, ok_json, *b};
  dm_batch_init(b);
  a->pending++; /* first: the engine may call back before it returns */
  int rc = dm_engine_write(a->e, &w->b, agent_done, w);
  if (rc == 0) return;
  a->pending--;
  dm_api_engine_error(a, r, rc);
  dm_batch_free(&w->b);
  free(w);
}

/* ---- /write, /api/v2/write ---- */

/* Inflates a gzip body into *out (malloc'd, *outlen bytes). 0, DM_EINVAL (not gzip, or
 * truncated), DM_ERANGE (more than max bytes) or DM_ENOMEM. */
static int gunzip(const char *in, size_t len, size_t max, char **out, size_t *outlen) {
  z_stream z;
  memset(&z, 0, sizeof z);
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) return DM_ENOMEM;
  size_t cap = len * 4 + 1024, n = 0;
  if (cap > max + 1) cap = max + 1;
  char *buf = malloc(cap);
  int rc = buf ? 0 : DM_ENOMEM;
  z.next_in = (Bytef *)(uintptr_t)in;
  z.avail_in = (uInt)len;
  while (rc == 0) {
    if (n == cap) {
      if (cap > max) {
        rc = DM_ERANGE;
        break;
      }
      size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
      char *nb = realloc(buf, ncap);
      if (nb == NULL) {
        rc = DM_ENOMEM;
        break;
      }
      buf = nb;
      cap = ncap;
    }
    z.next_out = (Bytef *)buf + n;
    z.avail_out = (uInt)(cap - n);
    int zr = inflate(&z, Z_NO_FLUSH);
    n = cap - z.avail_out;
    if (zr == Z_STREAM_END) {
      if (n > max) rc = DM_ERANGE;
      break;
    }
    if (zr != Z_OK && !(zr == Z_BUF_ERROR && z.avail_out == 0)) rc = DM_EINVAL;
    else if (z.avail_in == 0 && z.avail_out > 0) rc = DM_EINVAL; /* truncated */
  }
  inflateEnd(&z);
  if (rc < 0) {
    free(buf);
    return rc;
  }
  *out = buf;
  *outlen = n;
  return 0;
}

static void write_lines(dm_http_req *r, dm_api *a, int v2) {
  if (dm_api_agent_auth(a, r) < 0) return;
  const char *db = dm_http_query(r, v2 ? "bucket" : "db", 0);
  if (db == NULL || db[0] == '\0') {
    dm_http_respond_error(r, 400, "query parameter \"%s\" is required", v2 ? "bucket" : "db");
    return;
  }
  const char *prec = dm_http_query(r, "precision", 0);
  int64_t unit;
  if (dm_ingest_influx_precision(prec, v2, &unit) < 0) {
    dm_http_respond_error(r, 400, "precision \"%s\": want %s", prec,
                          v2 ? "ns, us, ms or s" : "n, ns, u, us, ms, s, m or h");
    return;
  }
  size_t len;
  const char *body = dm_http_body(r, &len);
  dm_counter_add(a->m_bytes_in, len);
  const char *enc = dm_http_header(r, "content-encoding");
  char *inflated = NULL;
  if (enc != NULL && strcasecmp(enc, "gzip") == 0) {
    size_t max = (size_t)a->cfg->max_body_bytes;
    int zrc = gunzip(body, len, max, &inflated, &len);
    if (zrc == DM_ERANGE) {
      dm_http_respond_error(r, 413, "gzip body inflates to more than %zu bytes "
                            "(limits.max_body_bytes)", max);
      return;
    }
    if (zrc < 0) {
      dm_http_respond_error(r, zrc == DM_ENOMEM ? 503 : 400, "%s",
                            zrc == DM_ENOMEM ? "out of memory" : "body: invalid gzip data");
      return;
    }
    body = inflated;
  } else if (enc != NULL && enc[0] != '\0' && strcasecmp(enc, "identity") != 0) {
    dm_http_respond_error(r, 415, "Content-Encoding \"%s\": only gzip or identity", enc);
    return;
  }
  int64_t now = dm_now();
  dm_ingest_limits lim;
  dm_api_limits(a, now, &lim);
  dm_batch b;
  dm_batch_init(&b);
  char err[512];
  int rc = dm_ingest_influx(body, len, unit, now, &lim, &b, NULL, err, sizeof err);
  free(inflated);
  if (rc < 0) {
    dm_batch_free(&b);
    dm_api_parse_error(a, r, rc, err);
    return;
  }
  dm_api_agent_write(a, r, &b, v2 ? m_points_v2 : m_points_v1, 204, NULL);
}

static void post_write(dm_http_req *r, void *arg) { write_lines(r, arg, 0); }
static void post_write_v2(dm_http_req *r, void *arg) { write_lines(r, arg, 1); }

/* ---- /ping, /query ---- */

static void get_ping(dm_http_req *r, void *arg) {
  (void)arg;
  dm_http_respond(r, 204, NULL, "", 0,
                  "X-Influxdb-Version: " INFLUX_VERSION "\r\nX-Influxdb-Build: OSS\r\n");
}

static int word(const char **s, const char *w) {
  size_t n = strlen(w);
  while (**s == ' ' || **s == '\t' || **s == '\n' || **s == '\r') (*s)++;
  if (strncasecmp(*s, w, n) != 0) return 0;
  char c = (*s)[n];
  if (c != '\0' && c != ' ' && c != '\t' && c != '\n' && c != '\r') return 0;
  *s += n;
  return 1;
}

static void query(dm_http_req *r, void *arg) {
  dm_api *a = arg;
  if (dm_api_agent_auth(a, r) < 0) return;
  const char *q = dm_http_query(r, "q", 0);
  if (q == NULL || q[0] == '\0') {
    dm_http_respond_error(r, 400, "missing query parameter \"q\"");
    return;
  }
  const char *s = q;
  if (word(&s, "CREATE") && word(&s, "DATABASE")) {
    while (*s == ' ' || *s == '\t') s++;
    if (*s != '\0') { /* a name; databases are not kept apart, so nothing else to do */
      dm_api_json(r, 200, "{\"results\":[{\"statement_id\":0}]}");
      return;
    }
  }
  dm_http_respond_error(r, 400, "only \"CREATE DATABASE <name>\" is supported here (diamond "
                        "is read through its Mackerel and Graphite APIs, not InfluxQL)");
}

int dm_api_influx_routes(dm_api *a) {
  m_points_v1 = dm_metric_counter("diamond_points_total", "source=\"http\",route=\"influx_write\"",
                                  "Points accepted, by source and route.");
  m_points_v2 = dm_metric_counter("diamond_points_total",
                                  "source=\"http\",route=\"influx_v2_write\"",
                                  "Points accepted, by source and route.");
  int rc = 0;
  rc |= dm_api_route(a, DM_HTTP_POST, "/write", "influx_write", SCOPE_NONE, post_write);
  rc |= dm_api_route(a, DM_HTTP_POST, "/api/v2/write", "influx_v2_write", SCOPE_NONE,
                     post_write_v2);
  rc |= dm_api_route(a, DM_HTTP_GET, "/ping", "influx_ping", SCOPE_NONE, get_ping);
  rc |= dm_api_route(a, DM_HTTP_GET | DM_HTTP_POST, "/query", "influx_query", SCOPE_NONE, query);
  return rc < 0 ? DM_ENOMEM : 0;
}
