/* number.c — strict decimal number parsing for the ingest parsers.
 *
 * Most values on the wire are short decimals ("123.456"). For those the literal is read as
 * an integer mantissa m and a power of ten e; when m < 2^53 and |e| <= 22 both m and 10^|e|
 * are exact doubles, so one IEEE multiply or divide gives the correctly rounded result
 * (Clinger's fast path). Everything else goes to strtod, which is correctly rounded too:
 * both paths agree bit for bit, the fast one is just several times cheaper.
 */
#include "number.h"

#include <stdlib.h>
#include <string.h>

typedef struct scan {
  int kind;       /* 0, DM_NUM_INT, DM_NUM_REAL */
  int neg;
  uint64_t mant;  /* significant digits, if exact */
  int exact;      /* mant holds every significant digit */
  long exp10;     /* value = mant * 10^exp10 when exact */
} scan;

static const double pow10_tab[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static void scan_number(const char *s, size_t len, scan *sc) {
  size_t i = 0, digits = 0;
  long frac = 0, ex = 0;
  memset(sc, 0, sizeof *sc);
  sc->exact = 1;
  if (i < len && (s[i] == '-' || s[i] == '+')) sc->neg = s[i++] == '-';
  int kind = DM_NUM_INT;
  for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, digits++) {
    if (sc->mant == 0 && s[i] == '0') continue;
    if (sc->mant < 100000000000000000ULL) sc->mant = sc->mant * 10 + (uint64_t)(s[i] - '0');
    else sc->exact = 0;
  }
  if (i < len && s[i] == '.') {
    kind = DM_NUM_REAL;
    for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++, digits++) {
      if (sc->mant == 0 && s[i] == '0') {
        frac++;
        continue;
      }
      if (sc->mant < 100000000000000000ULL) {
        sc->mant = sc->mant * 10 + (uint64_t)(s[i] - '0');
        frac++;
      } else {
        sc->exact = 0;
      }
    }
  }
  if (digits == 0) return;
  if (i < len && (s[i] == 'e' || s[i] == 'E')) {
    int eneg = 0;
    size_t edigits = 0;
    kind = DM_NUM_REAL;
    i++;
    if (i < len && (s[i] == '-' || s[i] == '+')) eneg = s[i++] == '-';
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, edigits++) {
      if (ex < 100000) ex = ex * 10 + (s[i] - '0');
      else sc->exact = 0; /* ex is capped: ex - frac no longer says where the point is */
    }
    if (edigits == 0) return;
    if (eneg) ex = -ex;
  }
  if (i != len) return;
  sc->exp10 = ex - frac;
  sc->kind = kind;
}

int dm_num_kind(const char *s, size_t len) {
  scan sc;
  scan_number(s, len, &sc);
  return sc.kind;
}

int dm_num_double(const char *s, size_t len, double *out) {
  scan sc;
  scan_number(s, len, &sc);
  if (sc.kind == 0) return -1;
  if (sc.mant == 0 && sc.exact) {
    *out = sc.neg ? -0.0 : 0.0;
    return 0;
  }
  if (sc.exact && sc.mant <= (1ULL << 53) && sc.exp10 >= -22 && sc.exp10 <= 22) {
    double d = (double)sc.mant;
    d = sc.exp10 < 0 ? d / pow10_tab[-sc.exp10] : d * pow10_tab[sc.exp10];
    *out = sc.neg ? -d : d;
    return 0;
  }
  char stack[128], *p = stack;
  if (len >= sizeof stack && (p = malloc(len + 1)) == NULL) return -1;
  memcpy(p, s, len);
  p[len] = '\0';
  *out = strtod(p, NULL); /* ERANGE: ±inf or a (sub)normal tiny value, both as wanted */
  if (p != stack) free(p);
  return 0;
}

int dm_num_int64(const char *s, size_t len, int64_t *out) {
  size_t i = 0;
  int neg = 0;
  uint64_t v = 0;
  if (i < len && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
  if (i == len) return -1;
  for (; i < len; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    unsigned d = (unsigned)(s[i] - '0');
    if (v > (UINT64_MAX - d) / 10) return -1;
    v = v * 10 + d;
  }
  if (neg) {
    if (v > (uint64_t)INT64_MAX + 1) return -1;
    *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
  } else {
    if (v > (uint64_t)INT64_MAX) return -1;
    *out = (int64_t)v;
  }
  return 0;
}
