/* request.c — the router and what a handler can ask of a request: path, ':' parameters,
 * headers, query and form parameters, body.
 *
 * The path is split on '/' before percent-decoding (an encoded "%2F" stays inside its
 * segment) and each segment is decoded exactly once; the whole decoded path is kept too.
 * A route matches when it has the same number of segments and each one is equal, or is
 * ':' and the path's segment is not empty. Routes are tried in the order they were added;
 * HEAD falls back to a GET route when no route lists HEAD itself.
 *
 * Query parameters (and, for POST/PUT with Content-Type
 * application/x-www-form-urlencoded, the body's) are decoded once, when the request is
 * dispatched, into one buffer of name\0value\0 pairs: '+' is a space, %XX a byte, a bad
 * escape stays as it is, and a %00 rejects the request (400), since every value is handed
 * out as a C string.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "diamond/error.h"
#include "http_int.h"

static int hexval(unsigned char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

/* Decodes src[0..n) into dst (room for n bytes) and returns the decoded length. plus: '+'
 * means a space (query and form, not path). *nul is set when a %00 was decoded. */
static size_t pct_decode(char *dst, const char *src, size_t n, int plus, int *nul) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)src[i];
    if (ch == '%' && i + 2 < n && hexval((unsigned char)src[i + 1]) >= 0 &&
        hexval((unsigned char)src[i + 2]) >= 0) {
      ch = (unsigned char)(hexval((unsigned char)src[i + 1]) * 16 +
                           hexval((unsigned char)src[i + 2]));
      if (ch == 0) *nul = 1;
      i += 2;
    } else if (ch == '+' && plus) {
      ch = ' ';
    }
    dst[o++] = (char)ch;
  }
  return o;
}

int dm_http_route(dm_http_server *s, int methods, const char *pattern, const char *name,
                  dm_http_handler h, void *arg) {
  if (s == NULL || pattern == NULL || pattern[0] != '/' || h == NULL || methods == 0)
    return DM_EINVAL;
  route *rt = calloc(1, sizeof *rt);
  if (rt == NULL) return DM_ENOMEM;
  rt->segs_store = strdup(pattern + 1);
  rt->name = strdup(name ? name : "");
  if (rt->segs_store == NULL || rt->name == NULL) goto fail;
  int n = rt->segs_store[0] ? 1 : 0;
  for (const char *q = rt->segs_store; *q; q++) n += *q == '/';
  if (n > MAX_SEGS) goto fail;
  rt->segs = calloc((size_t)n + 1, sizeof *rt->segs);
  if (rt->segs == NULL) goto fail;
  char *seg = rt->segs_store;
  for (int i = 0; i < n; i++) {
    rt->segs[i] = seg;
    char *slash = strchr(seg, '/');
    if (slash != NULL) {
      *slash = '\0';
      seg = slash + 1;
    }
  }
  rt->nseg = n;
  rt->methods = methods;
  rt->h = h;
  rt->arg = arg;
  route **rs = realloc(s->routes, (s->nroutes + 1) * sizeof *rs);
  if (rs == NULL) goto fail;
  s->routes = rs;
  s->routes[s->nroutes++] = rt;
  return 0;
fail:
  free(rt->segs);
  free(rt->segs_store);
  free(rt->name);
  free(rt);
  return DM_ENOMEM;
}

/* Finds path and query inside the raw URL (origin form "/p?q" or absolute form). */
static void split_url(dm_http_req *r, size_t *pstart, size_t *plen) {
  const char *u = r->store.p;
  size_t n = r->url_len, i = 0;
  if (n > 0 && u[0] != '/') {
    const char *scheme = memmem(u, n, "://", 3);
    if (scheme != NULL) {
      i = (size_t)(scheme - u) + 3;
      while (i < n && u[i] != '/' && u[i] != '?' && u[i] != '#') i++;
    }
  }
  size_t e = i;
  while (e < n && u[e] != '?' && u[e] != '#') e++;
  *pstart = i;
  *plen = e - i;
  if (e < n && u[e] == '?') {
    size_t q = e + 1, qe = q;
    while (qe < n && u[qe] != '#') qe++;
    r->qstart = q;
    r->qlen = qe - q;
  }
}

static int seg_match(const route *rt, const dm_http_req *r) {
  if (rt->nseg != r->nseg) return 0;
  for (int i = 0; i < r->nseg; i++) {
    const char *p = rt->segs[i];
    if (p[0] == ':' && p[1] == '\0') {
      if (r->segs[i][0] == '\0') return 0;
    } else if (strcmp(p, r->segs[i]) != 0) {
      return 0;
    }
  }
  return 1;
}

int dm_http_req_route(dm_http_server *s, dm_http_req *r) {
  size_t ps, pl;
  split_url(r, &ps, &pl);
  /* decoded path, then every decoded segment with its NUL */
  r->path = malloc(2 * pl + 3);
  if (r->path == NULL) return DM_ENOMEM;
  const char *raw = r->store.p + ps;
  int nul = 0;
  size_t dl = pct_decode(r->path, raw, pl, 0, &nul);
  r->path[dl] = '\0';
  if (pl == 0) { /* absolute form without a path: "/" */
    r->path[0] = '/';
    r->path[1] = '\0';
    dl = 1;
  }
  if (nul) r->bad = "NUL byte in the request path";
  char *out = r->path + dl + 1;
  size_t i = (pl > 0 && raw[0] == '/') ? 1 : 0;
  int too_many = 0;
  r->nseg = 0;
  if (i < pl) {
    for (;;) {
      size_t e = i;
      while (e < pl && raw[e] != '/') e++;
      if (r->nseg == MAX_SEGS) {
        too_many = 1;
        break;
      }
      size_t l = pct_decode(out, raw + i, e - i, 0, &nul);
      out[l] = '\0';
      r->segs[r->nseg++] = out;
      out += l + 1;
      if (e >= pl) break;
      i = e + 1;
    }
  }
  if (too_many) return 0;
  const route *head_get = NULL;
  for (size_t k = 0; k < s->nroutes; k++) {
    const route *rt = s->routes[k];
    if (!seg_match(rt, r)) continue;
    r->allow |= rt->methods;
    if (r->path_route == NULL) r->path_route = rt;
    if (r->route == NULL && (rt->methods & r->method)) r->route = rt;
    if (head_get == NULL && r->method == DM_HTTP_HEAD && (rt->methods & DM_HTTP_GET))
      head_get = rt;
  }
  if (r->route == NULL) r->route = head_get;
  return 0;
}

static int is_form(const dm_http_req *r) {
  static const char form[] = "application/x-www-form-urlencoded";
  if (r->method != DM_HTTP_POST && r->method != DM_HTTP_PUT) return 0;
  const char *ct = dm_http_req_hdr(r, "content-type");
  if (ct == NULL || strncasecmp(ct, form, sizeof form - 1) != 0) return 0;
  char next = ct[sizeof form - 1];
  return next == '\0' || next == ';' || next == ' ';
}

/* Appends the pairs of src[0..n) ("a=1&b=2") to r->qbuf at *o. */
static int add_pairs(dm_http_req *r, const char *src, size_t n, size_t *o) {
  size_t i = 0;
  while (i < n) {
    size_t e = i;
    while (e < n && src[e] != '&') e++;
    if (e > i) {
      size_t eq = i;
      while (eq < e && src[eq] != '=') eq++;
      int nul = 0;
      r->qoff[r->nq++] = *o;
      *o += pct_decode(r->qbuf + *o, src + i, eq - i, 1, &nul);
      r->qbuf[(*o)++] = '\0';
      if (eq < e) *o += pct_decode(r->qbuf + *o, src + eq + 1, e - eq - 1, 1, &nul);
      r->qbuf[(*o)++] = '\0';
      if (nul) return DM_EINVAL;
    }
    i = e + 1;
  }
  return 0;
}

static size_t count_pairs(const char *s, size_t n) {
  size_t k = 1;
  for (const char *p = s; (p = memchr(p, '&', n - (size_t)(p - s))) != NULL; p++) k++;
  return k;
}

int dm_http_req_params(dm_http_req *r) {
  r->form = (unsigned)is_form(r);
  size_t blen = r->form ? r->body_len : 0;
  if (r->qlen == 0 && blen == 0) return 0;
  const char *q = r->store.p + r->qstart;
  size_t np = (r->qlen ? count_pairs(q, r->qlen) : 0) + (blen ? count_pairs(r->body, blen) : 0);
  r->qoff = malloc(np * sizeof *r->qoff);
  r->qbuf = malloc(r->qlen + blen + 2 * np);
  if (r->qoff == NULL || r->qbuf == NULL) return DM_ENOMEM;
  size_t o = 0;
  int rc = add_pairs(r, q, r->qlen, &o);
  if (rc == 0 && blen) rc = add_pairs(r, r->body, blen, &o);
  return rc;
}

const char *dm_http_req_hdr(const dm_http_req *r, const char *name) {
  for (size_t i = 0; i < r->nhdr; i++) {
    if (strcasecmp(r->store.p + r->hdrs[i].name, name) == 0) return r->store.p + r->hdrs[i].value;
  }
  return NULL;
}

int dm_http_method(const dm_http_req *r) { return r->method; }

const char *dm_http_path(const dm_http_req *r) { return r->path ? r->path : "/"; }

const char *dm_http_param(const dm_http_req *r, int i) {
  if (r->route == NULL || i < 0) return NULL;
  for (int k = 0; k < r->route->nseg; k++) {
    const char *p = r->route->segs[k];
    if (p[0] == ':' && p[1] == '\0' && i-- == 0) return r->segs[k];
  }
  return NULL;
}

const char *dm_http_header(const dm_http_req *r, const char *name) {
  return dm_http_req_hdr(r, name);
}

const char *dm_http_query(const dm_http_req *r, const char *name, int i) {
  for (size_t k = 0; k < r->nq; k++) {
    const char *n = r->qbuf + r->qoff[k];
    if (strcmp(n, name) == 0 && i-- == 0) return n + strlen(n) + 1;
  }
  return NULL;
}

size_t dm_http_query_all(const dm_http_req *r, const char *name, const char **out, size_t max) {
  size_t n = 0;
  for (size_t k = 0; k < r->nq; k++) {
    const char *q = r->qbuf + r->qoff[k];
    if (strcmp(q, name) != 0) continue;
    if (n < max) out[n] = q + strlen(q) + 1;
    n++;
  }
  return n;
}

const char *dm_http_body(const dm_http_req *r, size_t *len) {
  if (len != NULL) *len = r->body_len;
  return r->body ? r->body : "";
}

int dm_http_peer_is_loopback(const dm_http_req *r) { return r->loopback; }

int dm_http_req_closed(const dm_http_req *r) { return r->closed; }
