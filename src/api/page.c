/* page.c — the graph page: GET / is web/index.html, GET /static/<file> the page's scripts,
 * styles and uPlot, all embedded at build time (cmake/embed.cmake generates dm_web_files[]
 * from web/ and web/node_modules/uplot/dist; nothing is read from disk at run time).
 *
 * Every reply carries the file's ETag (a hash of its bytes, fixed per build) and
 * "Cache-Control: no-cache": a browser keeps its copy but revalidates it on each load, and
 * If-None-Match with the current ETag gets 304 without a body. So an upgraded diamondd is
 * never served with a stale script, and a reload costs one small round trip per file.
 * The files need no key (they hold no data); the page sends the key the user typed as
 * X-Api-Key on its own API calls.
 */
#include <stdio.h>
#include <string.h>

#include "api_int.h"

/* The generated source's layout (cmake/embed.cmake writes the same struct). */
struct dm_web_file {
  const char *name, *type, *etag; /* etag includes its double quotes */
  const unsigned char *data;
  size_t len;
};
extern const struct dm_web_file dm_web_files[];
extern const size_t dm_web_nfiles;

static const struct dm_web_file *lookup(const char *name) {
  for (size_t i = 0; i < dm_web_nfiles; i++)
    if (strcmp(dm_web_files[i].name, name) == 0) return &dm_web_files[i];
  return NULL;
}

/* If-None-Match holds the ETag: "*", or a list of (possibly weak W/) tags, one of ours. */
static int etag_matches(const char *inm, const char *etag) {
  if (inm == NULL) return 0;
  size_t elen = strlen(etag);
  for (const char *p = inm; *p != '\0';) {
    while (*p == ' ' || *p == '\t' || *p == ',') p++;
    if (*p == '*') return 1;
    if (strncmp(p, "W/", 2) == 0) p += 2;
    if (strncmp(p, etag, elen) == 0 && (p[elen] == '\0' || p[elen] == ',' || p[elen] == ' '))
      return 1;
    while (*p != '\0' && *p != ',') p++;
  }
  return 0;
}

static void serve(dm_http_req *r, const struct dm_web_file *f) {
  char hdr[128];
  snprintf(hdr, sizeof hdr, "ETag: %s\r\nCache-Control: no-cache\r\n", f->etag);
  if (etag_matches(dm_http_header(r, "if-none-match"), f->etag))
    dm_http_respond(r, 304, NULL, "", 0, hdr);
  else
    dm_http_respond(r, 200, f->type, (const char *)f->data, f->len, hdr);
}

static void page_index(dm_http_req *r, void *arg) {
  (void)arg;
  const struct dm_web_file *f = lookup("index.html");
  if (f == NULL) dm_http_respond_error(r, 404, "no graph page in this build");
  else serve(r, f);
}

static void page_static(dm_http_req *r, void *arg) {
  (void)arg;
  const char *name = dm_http_param(r, 0);
  const struct dm_web_file *f = lookup(name);
  if (f == NULL) dm_http_respond_error(r, 404, "no static file %s", name);
  else serve(r, f);
}

int dm_api_page_routes(dm_api *a) {
  int rc = dm_api_route(a, DM_HTTP_GET, "/", "page", SCOPE_NONE, page_index);
  if (rc == 0) rc = dm_api_route(a, DM_HTTP_GET, "/static/:", "static", SCOPE_NONE, page_static);
  return rc;
}
