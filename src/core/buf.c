/* buf.c — growable byte buffer with JSON helpers, for building replies. */
#include "diamond/buf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diamond/error.h"

void dm_buf_init(dm_buf *b) { memset(b, 0, sizeof *b); }

void dm_buf_free(dm_buf *b) {
  free(b->p);
  memset(b, 0, sizeof *b);
}

int dm_buf_reserve(dm_buf *b, size_t extra) {
  if (b->oom) return DM_ENOMEM;
  if (b->len + extra + 1 <= b->cap) return 0;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + extra + 1) cap *= 2;
  char *p = realloc(b->p, cap);
  if (p == NULL) {
    b->oom = 1;
    return DM_ENOMEM;
  }
  b->p = p;
  b->cap = cap;
  return 0;
}

void dm_buf_add(dm_buf *b, const void *data, size_t len) {
  if (dm_buf_reserve(b, len) < 0) return;
  memcpy(b->p + b->len, data, len);
  b->len += len;
  b->p[b->len] = '\0';
}

void dm_buf_adds(dm_buf *b, const char *s) { dm_buf_add(b, s, strlen(s)); }

void dm_buf_printf(dm_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char small[256];
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n < sizeof small) {
    dm_buf_add(b, small, (size_t)n);
    return;
  }
  if (dm_buf_reserve(b, (size_t)n) < 0) return;
  va_start(ap, fmt);
  vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

void dm_buf_json_str(dm_buf *b, const char *s, size_t len) {
  static const char hex[] = "0123456789abcdef";
  if (dm_buf_reserve(b, len + 2) < 0) return;
  b->p[b->len++] = '"';
  size_t run = 0; /* bytes copied in bulk */
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    dm_buf_add(b, s + run, i - run);
    run = i + 1;
    char esc[7] = {'\\', 0, 0, 0, 0, 0, 0};
    size_t n = 2;
    switch (c) {
    case '"': esc[1] = '"'; break;
    case '\\': esc[1] = '\\'; break;
    case '\n': esc[1] = 'n'; break;
    case '\r': esc[1] = 'r'; break;
    case '\t': esc[1] = 't'; break;
    default:
      esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
      esc[4] = hex[c >> 4]; esc[5] = hex[c & 15];
      n = 6;
    }
    dm_buf_add(b, esc, n);
  }
  dm_buf_add(b, s + run, len - run);
  dm_buf_add(b, "\"", 1);
}

void dm_buf_json_double(dm_buf *b, double v) {
  if (!isfinite(v)) {
    dm_buf_add(b, "null", 4);
    return;
  }
  if (v == (double)(int64_t)v && fabs(v) < 9e15) {
    if (v == 0 && signbit(v)) {
      dm_buf_add(b, "-0", 2);
      return;
    }
    dm_buf_printf(b, "%lld", (long long)v);
    return;
  }
  char tmp[32];
  /* shortest representation that round-trips */
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(tmp, sizeof tmp, "%.*g", prec, v);
    if (strtod(tmp, NULL) == v) break;
  }
  dm_buf_adds(b, tmp);
}

char *dm_buf_steal(dm_buf *b, size_t *len) {
  if (dm_buf_reserve(b, 0) < 0) {
    dm_buf_free(b);
    return NULL;
  }
  char *p = b->p;
  if (len) *len = b->len;
  memset(b, 0, sizeof *b);
  return p;
}
