/* try.c — one try of a request: an easy handle with the URL, the method and body, the
 * signed headers (signed again on every try: the date is part of the signature), and the
 * callbacks that capture the reply's body and headers, and the words for a try that failed.
 *
 * Signed and sent on every request: Host (set by us, so the signed value is the sent one),
 * X-Amz-Date, X-Amz-Content-Sha256 (the body's real hash; S3 wants it), the caller's
 * headers, and X-Amz-Security-Token with temporary credentials. Two curl defaults are
 * switched off: "Expect: 100-continue" (an extra round trip per large PUT) and the form
 * Content-Type curl adds to a POST body.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "aws_int.h"
#include "diamond/error.h"
#include "diamond/sigv4.h"

static size_t on_body(char *p, size_t size, size_t n, void *arg) {
  aws_req *r = arg;
  dm_buf_add(&r->resp, p, size * n);
  return r->resp.oom ? 0 : size * n; /* 0 makes curl stop with CURLE_WRITE_ERROR */
}

/* "Name: value\r\n" lines; a status line starts a new reply (after "100 Continue"). */
static size_t on_header(char *p, size_t size, size_t n, void *arg) {
  aws_req *r = arg;
  size_t len = size * n;
  if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
    r->hdrs.len = 0;
    return len;
  }
  const char *colon = memchr(p, ':', len);
  if (colon == NULL || colon == p) return len; /* the blank line after the headers */
  const char *v = colon + 1, *end = p + len;
  while (v < end && (*v == ' ' || *v == '\t')) v++;
  while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
    end--;
  dm_buf_add(&r->hdrs, p, (size_t)(colon - p));
  dm_buf_add(&r->hdrs, "", 1);
  dm_buf_add(&r->hdrs, v, (size_t)(end - v));
  dm_buf_add(&r->hdrs, "", 1);
  return r->hdrs.oom ? 0 : len;
}

size_t aws_reply_headers(const aws_req *r, dm_aws_header *out, size_t max) {
  size_t n = 0;
  const char *p = r->hdrs.p, *end = r->hdrs.p + r->hdrs.len;
  while (p != NULL && p < end && n < max) {
    const char *name = p;
    p += strlen(p) + 1;
    if (p >= end) break;
    out[n].name = name;
    out[n].value = p;
    n++;
    p += strlen(p) + 1;
  }
  return n;
}

const char *dm_aws_reply_header(const dm_aws_reply *r, const char *name) {
  for (size_t i = 0; r != NULL && i < r->nheaders; i++)
    if (strcasecmp(r->headers[i].name, name) == 0) return r->headers[i].value;
  return NULL;
}

static int add_line(struct curl_slist **sl, const char *name, const char *value) {
  dm_buf b;
  dm_buf_init(&b);
  dm_buf_printf(&b, "%s:%s%s", name, value[0] ? " " : "", value);
  struct curl_slist *n = b.oom ? NULL : curl_slist_append(*sl, b.p);
  dm_buf_free(&b);
  if (n == NULL) return DM_ENOMEM;
  *sl = n;
  return 0;
}

static int has_header(const aws_req *r, const char *name) {
  for (size_t i = 0; i < r->nheaders; i++)
    if (strcasecmp(r->headers[i].name, name) == 0) return 1;
  return 0;
}

/* The header list of this try, Authorization included when the client has a key. */
static int build_headers(dm_aws *a, aws_req *r, struct curl_slist **out) {
  char date[17];
  dm_sigv4_amz_date((int64_t)time(NULL), date);
  struct curl_slist *sl = NULL;
  dm_sigv4_result sig = {0};
  size_t nh = 0;
  dm_sigv4_header *h = calloc(r->nheaders + 3, sizeof *h);
  int rc = h == NULL ? DM_ENOMEM : 0;
  if (rc < 0) goto done;
  h[nh++] = (dm_sigv4_header){"Host", a->host};
  h[nh++] = (dm_sigv4_header){"X-Amz-Date", date};
  h[nh++] = (dm_sigv4_header){"X-Amz-Content-Sha256", r->payload_hash};
  for (size_t i = 0; i < r->nheaders; i++)
    h[nh++] = (dm_sigv4_header){r->headers[i].name, r->headers[i].value};
  for (size_t i = 0; i < nh && rc == 0; i++) rc = add_line(&sl, h[i].name, h[i].value);
  if (rc == 0 && a->session_token != NULL)
    rc = add_line(&sl, "X-Amz-Security-Token", a->session_token);
  if (rc == 0 && a->access_key != NULL) {
    dm_sigv4_request sr = {
        .method = r->method,
        .uri = r->path,
        .query = r->query,
        .headers = h,
        .nheaders = nh,
        .payload_hash = r->payload_hash,
        .region = a->region,
        .service = a->service,
        .access_key = a->access_key,
        .secret_key = a->secret_key,
        .session_token = a->session_token,
        .amz_date = date,
    };
    rc = dm_sigv4_sign(&sr, &sig);
    if (rc == 0) rc = add_line(&sl, "Authorization", sig.authorization);
    dm_sigv4_result_free(&sig);
  }
  if (rc == 0) rc = add_line(&sl, "Expect", "");
  if (rc == 0 && !has_header(r, "Content-Type")) rc = add_line(&sl, "Content-Type", "");
done:
  free(h);
  if (rc < 0) {
    curl_slist_free_all(sl);
    return rc;
  }
  *out = sl;
  return 0;
}

static int set_method(CURL *e, const aws_req *r) {
  CURLcode c = CURLE_OK;
  if (strcmp(r->method, "GET") == 0 && r->len == 0) {
    c = curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  } else if (strcmp(r->method, "HEAD") == 0) {
    c = curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  } else if (strcmp(r->method, "DELETE") == 0 && r->len == 0) {
    c = curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "DELETE");
  } else {
    /* a body (possibly empty: PUT of a zero-byte object, Content-Length: 0) */
    c = curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->len);
    if (c == CURLE_OK)
      c = curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->len > 0 ? (const char *)r->body : "");
    if (c == CURLE_OK && strcmp(r->method, "POST") != 0)
      c = curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
  }
  return c == CURLE_OK ? 0 : DM_EIO;
}

int aws_try_start(dm_aws *a, aws_req *r) {
  CURL *e = a->npool > 0 ? a->pool[--a->npool] : curl_easy_init();
  if (e == NULL) return DM_ENOMEM;
  curl_easy_reset(e);
  struct curl_slist *sl = NULL;
  dm_buf url;
  dm_buf_init(&url);
  dm_buf_printf(&url, "%s%s%s%s", a->endpoint, r->path, r->query && r->query[0] ? "?" : "",
                r->query ? r->query : "");
  int rc = url.oom ? DM_ENOMEM : build_headers(a, r, &sl);
  if (rc < 0) goto fail;
  r->resp.len = 0;
  r->hdrs.len = 0;
  r->code = 0;
  r->curl_code = 0;
  r->errbuf[0] = '\0';
  r->error_type[0] = '\0';
  CURLcode c = CURLE_OK;
#define SET(opt, val)                                                                          \
  if (c == CURLE_OK) c = curl_easy_setopt(e, opt, val)
  SET(CURLOPT_URL, url.p);
  SET(CURLOPT_HTTPHEADER, sl);
  SET(CURLOPT_PRIVATE, (void *)r);
  SET(CURLOPT_WRITEFUNCTION, on_body);
  SET(CURLOPT_WRITEDATA, (void *)r);
  SET(CURLOPT_HEADERFUNCTION, on_header);
  SET(CURLOPT_HEADERDATA, (void *)r);
  SET(CURLOPT_ERRORBUFFER, r->errbuf);
  SET(CURLOPT_TIMEOUT_MS, a->timeout_ms);
  SET(CURLOPT_CONNECTTIMEOUT_MS, a->connect_timeout_ms);
  SET(CURLOPT_NOSIGNAL, 1L);
  SET(CURLOPT_USERAGENT, "diamond");
  SET(CURLOPT_TCP_KEEPALIVE, 1L);
  SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
  SET(CURLOPT_PROTOCOLS_STR, "http,https");
#undef SET
  if (c != CURLE_OK || set_method(e, r) < 0) {
    rc = DM_EIO;
    goto fail;
  }
  if (curl_multi_add_handle(a->multi, e) != CURLM_OK) {
    rc = DM_EIO;
    goto fail;
  }
  dm_buf_free(&url);
  r->easy = e;
  r->slist = sl;
  r->try_ns = uv_hrtime();
  return 0;
fail:
  dm_buf_free(&url);
  curl_slist_free_all(sl);
  curl_easy_cleanup(e);
  return rc;
}

void aws_try_end(dm_aws *a, aws_req *r, int keep_reply) {
  if (r->easy != NULL) {
    curl_multi_remove_handle(a->multi, r->easy);
    curl_easy_setopt(r->easy, CURLOPT_ERRORBUFFER, NULL); /* r may be freed before reuse */
    if (a->npool < a->max_inflight) a->pool[a->npool++] = r->easy;
    else curl_easy_cleanup(r->easy);
    r->easy = NULL;
  }
  curl_slist_free_all(r->slist);
  r->slist = NULL;
  if (!keep_reply) {
    r->resp.len = 0;
    r->hdrs.len = 0;
  }
}

/* curl's message for a failed try, with the system's reason when curl has one: "Failed to
 * connect to 127.0.0.1 port 9 after 0 ms: Connection refused" rather than "...: Couldn't
 * connect to server". */
void aws_try_explain(aws_req *r, CURLcode res) {
  static const char generic[] = ": Couldn't connect to server";
  char *e = r->errbuf, msg[CURL_ERROR_SIZE];
  if (e[0] == '\0') snprintf(e, CURL_ERROR_SIZE, "%s", curl_easy_strerror(res));
  long os = 0;
  curl_easy_getinfo(r->easy, CURLINFO_OS_ERRNO, &os);
  const char *why = os != 0 ? strerror((int)os) : NULL;
  if (why == NULL || strstr(e, why) != NULL) return;
  size_t n = strlen(e), g = sizeof generic - 1;
  int k;
  if (n >= g && strcmp(e + n - g, generic) == 0)
    k = snprintf(msg, sizeof msg, "%.*s: %s", (int)(n - g), e, why);
  else
    k = snprintf(msg, sizeof msg, "%s (%s)", e, why);
  if (k > 0) memcpy(e, msg, sizeof msg);
}
