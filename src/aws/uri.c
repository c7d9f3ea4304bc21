/* uri.c — the encodings SigV4 is strict about (sigv4.h): RFC 3986 percent-encoding of paths
 * and query parts, the sorted canonical query string, and the x-amz-date timestamp.
 *
 * One encoder serves both the URL that is sent and the string that is signed, so the two
 * cannot disagree: form encoding ('+' for a space, '*' left alone) is the usual way to get
 * a SignatureDoesNotMatch that names no character.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "diamond/sigv4.h"

static int unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         c == '-' || c == '.' || c == '_' || c == '~';
}

void dm_sigv4_uri_encode(dm_buf *out, const char *s, size_t len, int keep_slash) {
  static const char hex[] = "0123456789ABCDEF";
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (unreserved(c) || (keep_slash && c == '/')) {
      dm_buf_add(out, &s[i], 1);
    } else {
      char e[3] = {'%', hex[c >> 4], hex[c & 15]};
      dm_buf_add(out, e, 3);
    }
  }
}

typedef struct enc_param {
  char *name, *value;
} enc_param;

static int cmp_param(const void *a, const void *b) {
  const enc_param *x = a, *y = b;
  int c = strcmp(x->name, y->name);
  return c != 0 ? c : strcmp(x->value, y->value);
}

static char *encoded(const char *s) {
  dm_buf b;
  dm_buf_init(&b);
  dm_sigv4_uri_encode(&b, s ? s : "", s ? strlen(s) : 0, 0);
  dm_buf_add(&b, "", 0); /* NUL-terminated even when empty */
  return dm_buf_steal(&b, NULL);
}

char *dm_sigv4_query(const dm_sigv4_param *params, size_t n) {
  enc_param *e = calloc(n > 0 ? n : 1, sizeof *e);
  if (e == NULL) return NULL;
  char *out = NULL;
  size_t done = 0;
  for (; done < n; done++) {
    e[done].name = encoded(params[done].name);
    e[done].value = encoded(params[done].value);
    if (e[done].name == NULL || e[done].value == NULL) {
      done++;
      goto fail;
    }
  }
  qsort(e, n, sizeof *e, cmp_param);
  dm_buf b;
  dm_buf_init(&b);
  for (size_t i = 0; i < n; i++) dm_buf_printf(&b, "%s%s=%s", i ? "&" : "", e[i].name, e[i].value);
  dm_buf_add(&b, "", 0);
  out = dm_buf_steal(&b, NULL);
fail:
  for (size_t i = 0; i < done; i++) {
    free(e[i].name);
    free(e[i].value);
  }
  free(e);
  return out;
}

void dm_sigv4_amz_date(int64_t t, char out[17]) {
  time_t tt = (time_t)t;
  struct tm tm;
  gmtime_r(&tt, &tm);
  strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}
