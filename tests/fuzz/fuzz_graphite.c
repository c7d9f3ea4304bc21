/* fuzz_graphite.c — libFuzzer target for one Graphite plaintext line (not built by CMake).
 *
 * Byte 0 picks the limits (bits 0-1 max_name_len, bits 2-3 step, time range and "now"; mode
 * 3 is the widest range the types allow without overflowing dm_floor); the rest is the
 * line, in an exact-size buffer without a NUL. Beyond "no crash" it checks the contract of
 * include/diamond/ingest.h against an independent split of the line into fields: a point
 * is added only for 2 or 3 fields, under the first field as its name (which passes
 * dm_name_check), with a finite value bit-identical to strtod's reading of the second
 * field, and a time floored to the step that is "now" (no timestamp, or -1) or lies in
 * [floor(min_time), max_time]; a dropped line adds nothing and is empty or has a nan
 * value; an error adds nothing and says why.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
 *     -D_GNU_SOURCE -Iinclude tests/fuzz/fuzz_graphite.c src/ingest/graphite.c \
 *     src/ingest/ingest_util.c src/ingest/number.c src/core/batch.c src/core/names.c \
 *     -lm -o fuzz_graphite
 *   mkdir -p corpus && ./fuzz_graphite -max_total_time=300 corpus tests/fuzz/corpus/graphite
 * (or: make fuzz FUZZ_SECONDS=300)
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "diamond/error.h"
#include "diamond/ingest.h"
#include "diamond/names.h"
#include "diamond/point.h"

#define CHECK(c) ((c) ? (void)0 : abort())

static const size_t max_name[4] = {16, 24, 48, 256};
static const struct {
  dm_ingest_limits lim;
  int64_t now;
} modes[4] = {
    {{.step = 60, .min_time = 1600000000, .max_time = 1800000000}, 1700000000},
    {{.step = 1, .min_time = 0, .max_time = 100}, 50},
    {{.step = 7, .min_time = -1000, .max_time = 1000}, -3},
    {{.step = 86400, .min_time = INT64_MIN + 86400, .max_time = INT64_MAX}, 0},
};

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

static int is_nan_word(const char *s, size_t len) {
  if (len > 0 && (s[0] == '+' || s[0] == '-')) s++, len--;
  return len == 3 && strncasecmp(s, "nan", 3) == 0;
}

/* strtod of a field; *whole is 1 when it read the field to its end */
static double to_double(const char *s, size_t len, int *whole) {
  char buf[512];
  if (len >= sizeof buf) return *whole = 0, 0;
  memcpy(buf, s, len);
  buf[len] = '\0';
  char *end;
  double d = strtod(buf, &end);
  *whole = len > 0 && end == buf + len;
  return d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  dm_ingest_limits lim = modes[(data[0] >> 2) & 3].lim;
  int64_t now = modes[(data[0] >> 2) & 3].now;
  lim.max_name_len = max_name[data[0] & 3];
  lim.max_points = 1;
  size_t len = size - 1;
  char *line = malloc(len > 0 ? len : 1);
  if (line == NULL) return 0;
  memcpy(line, data + 1, len);

  /* the fields, split independently of the parser */
  const char *f[4];
  size_t fl[4], nf = 0;
  for (size_t i = 0; i < len && nf < 4;) {
    while (i < len && is_space(line[i])) i++;
    if (i == len) break;
    size_t start = i;
    while (i < len && !is_space(line[i])) i++;
    f[nf] = line + start;
    fl[nf++] = i - start;
  }

  dm_batch b;
  dm_batch_init(&b);
  char err[200];
  memset(err, 'x', sizeof err);
  int rc = dm_ingest_graphite_line(line, len, now, &lim, &b, err, sizeof err);
  CHECK(memchr(err, '\0', sizeof err) != NULL || rc >= 0);
  if (rc == 1) {
    CHECK(b.n == 1 && (nf == 2 || nf == 3));
    size_t nl, bad;
    const char *name = dm_batch_name(&b, 0, &nl);
    CHECK(nl == fl[0] && memcmp(name, f[0], nl) == 0);
    CHECK(dm_name_check(name, nl, lim.max_name_len, &bad) == 0);
    double v = b.e[0].v;
    int whole;
    double want = to_double(f[1], fl[1], &whole);
    CHECK(isfinite(v));
    if (whole) CHECK(memcmp(&v, &want, sizeof v) == 0); /* number.c agrees with strtod */
    int64_t t = b.e[0].t;
    CHECK(dm_floor(t, lim.step) == t);
    double ts = nf == 3 ? to_double(f[2], fl[2], &whole) : -1;
    if (nf == 2 || (whole && ts == -1.0)) {
      CHECK(t == dm_floor(now, lim.step));
    } else {
      CHECK(t >= dm_floor(lim.min_time, lim.step) && t <= lim.max_time);
      if (whole && fabs(ts) < 1e15) CHECK(t == dm_floor((int64_t)floor(ts), lim.step));
    }
  } else if (rc == 0) {
    CHECK(b.n == 0);
    CHECK(nf == 0 || (nf >= 2 && nf <= 3 && is_nan_word(f[1], fl[1])));
  } else {
    CHECK(rc == DM_EINVAL && b.n == 0 && err[0] != '\0');
    CHECK(nf >= 1);
  }
  dm_batch_free(&b);
  free(line);
  return 0;
}
