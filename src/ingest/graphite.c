/* graphite.c — one Graphite plaintext line, "<path> <value> [<timestamp>]", into a batch.
 *
 * As carbon does: fields are separated by runs of spaces or tabs, surrounding whitespace
 * and a trailing '\r' are ignored, a "nan" value drops the line silently, a missing or -1
 * timestamp means now, and a fractional timestamp is floored.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "diamond/error.h"
#include "diamond/ingest.h"
#include "diamond/names.h"
#include "ingest_util.h"
#include "number.h"

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (errlen > 0) vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return DM_EINVAL;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* A field for a message: at most 32 bytes (dm_ingest_show). */
static const char *show(char buf[48], const char *s, size_t len) {
  return dm_ingest_show(buf, s, len, 32);
}

/* [+-]nan, [+-]inf, [+-]infinity in any case, as Python's float() reads them. */
static int is_word(const char *s, size_t len, const char *word) {
  if (len > 0 && (s[0] == '+' || s[0] == '-')) s++, len--;
  size_t wl = strlen(word);
  return len == wl && strncasecmp(s, word, len) == 0;
}

int dm_ingest_graphite_line(const char *line, size_t len, int64_t now,
                            const dm_ingest_limits *lim, dm_batch *out, char *err,
                            size_t errlen) {
  const char *f[3];
  size_t fl[3], nf = 0, i = 0;
  char shown[48];
  while (i < len) {
    while (i < len && is_space(line[i])) i++;
    if (i == len) break;
    size_t start = i;
    while (i < len && !is_space(line[i])) i++;
    if (nf == 3)
      return fail(err, errlen,
                  "expected \"<path> <value> [<timestamp>]\", got 4 fields or more");
    f[nf] = line + start;
    fl[nf++] = i - start;
  }
  if (nf == 0) return 0;
  if (nf == 1) return fail(err, errlen, "expected \"<path> <value> [<timestamp>]\", got 1 field");

  size_t bad;
  int rc = dm_name_check(f[0], fl[0], lim->max_name_len, &bad);
  if (rc == DM_ERANGE) return fail(err, errlen, "path: longer than %zu bytes", lim->max_name_len);
  if (rc < 0) {
    char c[8];
    if (bad == fl[0] || f[0][bad] == '.')
      return fail(err, errlen, "path: empty segment at byte %zu", bad);
    return fail(err, errlen, "path: invalid character %s at byte %zu",
                dm_ingest_show_char(c, f[0][bad]), bad);
  }

  double v;
  if (is_word(f[1], fl[1], "nan")) return 0;
  if (is_word(f[1], fl[1], "inf") || is_word(f[1], fl[1], "infinity"))
    return fail(err, errlen, "value: must be a finite number");
  if (dm_num_double(f[1], fl[1], &v) < 0)
    return fail(err, errlen, "value: \"%s\" is not a number", show(shown, f[1], fl[1]));
  if (!dm_finite(v)) return fail(err, errlen, "value: must be a finite number");

  int64_t t = now;
  double d;
  if (nf == 3 && !(dm_num_double(f[2], fl[2], &d) == 0 && d == -1.0)) {
    rc = dm_ingest_time(f[2], fl[2], lim, 1, &t);
    if (rc == DM_INGEST_NOT_NUMBER)
      return fail(err, errlen, "timestamp: \"%s\" is not a number", show(shown, f[2], fl[2]));
    if (rc < 0)
      return fail(err, errlen, "timestamp: %s is out of the accepted range [%lld, %lld]",
                  show(shown, f[2], fl[2]), (long long)lim->min_time,
                  (long long)lim->max_time);
  }
  if (lim->step > 1) t = dm_floor(t, lim->step);
  if (dm_batch_add(out, f[0], fl[0], t, v) < 0) {
    if (errlen > 0) snprintf(err, errlen, "out of memory");
    return DM_ENOMEM;
  }
  return 1;
}
