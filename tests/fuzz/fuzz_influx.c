/* fuzz_influx.c — libFuzzer target for the InfluxDB line protocol parser (not built by CMake).
 *
 * Byte 0 picks the limits: bits 0-1 max_points (1, 2, 3, 8), bits 2-3 max_name_len, bits
 * 4-5 the precision (ns, ms, s, h), bit 6 a point already in the batch (the rollback must
 * keep it). Beyond "no crash" it checks the contract of include/diamond/ingest.h: an error
 * leaves the batch as it was with a "line N: " message, N at most the number of lines; a
 * success adds at most max_points points whose names pass dm_name_check, have an even
 * segment count >= 2, contain no "_x" that is not an escape, and whose times are floored to
 * the step inside the accepted range.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
 *     -D_GNU_SOURCE -Iinclude tests/fuzz/fuzz_influx.c src/ingest/influx.c \
 *     src/ingest/ingest_util.c src/ingest/number.c src/core/batch.c src/core/names.c \
 *     -lm -o fuzz_influx
 *   mkdir -p corpus && ./fuzz_influx -max_total_time=300 corpus tests/fuzz/corpus/influx
 * (or: make fuzz FUZZ_SECONDS=300)
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "diamond/error.h"
#include "diamond/ingest.h"
#include "diamond/names.h"
#include "diamond/point.h"

#define CHECK(c) ((c) ? (void)0 : abort())

static const size_t max_points[4] = {1, 2, 3, 8};
static const size_t max_name[4] = {16, 24, 48, 256};
static const int64_t units[4] = {1, 1000000, 1000000000, 3600000000000};

static int hex(char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  uint8_t sel = data[0];
  dm_ingest_limits lim = {.max_points = max_points[sel & 3], .max_name_len = max_name[(sel >> 2) & 3],
                          .step = 60, .min_time = -100000, .max_time = 1800000000};
  int64_t unit = units[(sel >> 4) & 3];
  const char *body = (const char *)data + 1;
  size_t len = size - 1;
  char *copy = malloc(len > 0 ? len : 1);
  if (copy == NULL) return 0;
  memcpy(copy, body, len);
  size_t lines = 1;
  for (size_t i = 0; i < len; i++) lines += copy[i] == '\n';

  dm_batch b;
  dm_batch_init(&b);
  if (sel & 0x40) CHECK(dm_batch_add(&b, "keep.me", 7, 42, 1.5) == 0);
  size_t n0 = b.n, names0 = b.names_len, skipped = 0;
  char err[200];
  memset(err, 'x', sizeof err);
  int rc = dm_ingest_influx(copy, len, unit, 1700000000, &lim, &b, &skipped, err, sizeof err);
  CHECK(memchr(err, '\0', sizeof err) != NULL);
  if (rc < 0) {
    CHECK(rc == DM_EINVAL || rc == DM_ERANGE || rc == DM_ENOMEM);
    CHECK(b.n == n0 && b.names_len == names0);
    CHECK(strncmp(err, "line ", 5) == 0);
    unsigned long long n = strtoull(err + 5, NULL, 10);
    CHECK(n >= 1 && n <= lines);
  } else {
    CHECK(rc == 0);
    CHECK(b.n - n0 <= lim.max_points);
    for (size_t i = n0; i < b.n; i++) {
      size_t nl, bad, dots = 0;
      const char *name = dm_batch_name(&b, i, &nl);
      CHECK(dm_name_check(name, nl, lim.max_name_len, &bad) == 0);
      for (size_t k = 0; k < nl; k++) {
        dots += name[k] == '.';
        if (name[k] == '_' && k + 1 < nl && name[k + 1] == 'x')
          CHECK(k + 3 < nl && hex(name[k + 2]) && hex(name[k + 3]));
      }
      CHECK(dots % 2 == 1); /* measurement + pairs + field: an even segment count */
      CHECK(isfinite(b.e[i].v));
      CHECK(b.e[i].t >= dm_floor(lim.min_time, 60) && b.e[i].t <= lim.max_time);
      CHECK(dm_floor(b.e[i].t, 60) == b.e[i].t);
    }
  }
  if (sel & 0x40) {
    size_t nl;
    const char *name = dm_batch_name(&b, 0, &nl);
    CHECK(nl == 7 && memcmp(name, "keep.me", 7) == 0 && b.e[0].t == 42);
  }
  dm_batch_free(&b);
  free(copy);
  return 0;
}
