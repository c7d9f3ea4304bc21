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

/* Length of the well-formed UTF-8 sequence (RFC 3629: no overlongs, no surrogates, at most
 * U+10FFFF) that starts at s[0] >= 0x80, or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
  unsigned char c = s[0], lo = 0x80, hi = 0xBF; /* lo, hi: bounds of the second byte */
  size_t len;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0; /* overlong */
    if (c == 0xED) hi = 0x9F; /* surrogates */
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90; /* overlong */
    if (c == 0xF4) hi = 0x8F; /* over U+10FFFF */
  } else {
    return 0;
  }
  if (n < len || s[1] < lo || s[1] > hi) return 0;
  for (size_t i = 2; i < len; i++)
    if (s[i] < 0x80 || s[i] > 0xBF) return 0;
  return len;
}

void dm_buf_json_str(dm_buf *b, const char *s, size_t len) {
  static const char hex[] = "0123456789abcdef";
  if (dm_buf_reserve(b, len + 2) < 0) return;
  b->p[b->len++] = '"';
  size_t run = 0; /* bytes copied in bulk */
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') continue;
    if (c >= 0x80) {
      size_t n = utf8_seq((const unsigned char *)s + i, len - i);
      if (n > 0) {
        i += n - 1;
        continue;
      }
    }
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
      if (c >= 0x80) { /* not UTF-8: U+FFFD, so the document stays valid JSON */
        memcpy(esc, "\\ufffd", 6);
      } else {
        esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
        esc[4] = hex[c >> 4]; esc[5] = hex[c & 15];
      }
      n = 6;
    }
    dm_buf_add(b, esc, n);
  }
  dm_buf_add(b, s + run, len - run);
  dm_buf_add(b, "\"", 1);
}

/* Decimal digits of v into the END of tmp[24]; returns the first digit. */
static char *u64_digits(char *end, uint64_t v) {
  char *p = end;
  do {
    *--p = (char)('0' + v % 10);
    v /= 10;
  } while (v != 0);
  return p;
}

void dm_buf_i64(dm_buf *b, int64_t v) {
  char tmp[24];
  char *end = tmp + sizeof tmp;
  char *p = u64_digits(end, v < 0 ? 0 - (uint64_t)v : (uint64_t)v);
  if (v < 0) *--p = '-';
  dm_buf_add(b, p, (size_t)(end - p));
}

void dm_buf_json_double(dm_buf *b, double v) {
  static const double pow10[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6};
  if (!isfinite(v)) {
    dm_buf_add(b, "null", 4);
    return;
  }
  if (v == 0 && signbit(v)) {
    dm_buf_add(b, "-0", 2);
    return;
  }
  /* Fast path for what monitoring data mostly is: integers, or decimals with a few
   * fraction digits. r / 10^e is correctly rounded (both exact), so when it equals v the
   * printed decimal parses back to v; the smallest such e is the shortest form. */
  double a = fabs(v);
  if (a < 9e15) {
    for (int e = 0; e < 7; e++) {
      double r = nearbyint(a * pow10[e]);
      if (r >= 9007199254740992.0) break;
      if (r / pow10[e] != a) continue;
      char tmp[32];
      char *end = tmp + sizeof tmp, *p = end;
      uint64_t m = (uint64_t)r, unit = (uint64_t)pow10[e];
      if (e > 0) {
        uint64_t frac = m % unit;
        for (int i = 0; i < e; i++, frac /= 10) *--p = (char)('0' + frac % 10);
        *--p = '.';
      }
      p = u64_digits(p, m / unit);
      if (v < 0) *--p = '-';
      dm_buf_add(b, p, (size_t)(end - p));
      return;
    }
  }
  char tmp[32];
  for (int prec = 15; prec <= 17; prec++) { /* shortest that round-trips */
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
