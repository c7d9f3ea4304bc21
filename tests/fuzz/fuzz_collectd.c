/* fuzz_collectd.c — libFuzzer target for the collectd write_http JSON parser (not built by
 * CMake).
 *
 * Byte 0 picks the limits: bits 0-1 max_points (1, 2, 3, 8), bits 2-3 max_name_len, bit 6 a
 * point already in the batch (the rollback must keep it). Checks: an error leaves the batch
 * as it was with a message starting "element ", "body: " or "batch: "; a success adds at
 * most max_points points with finite values, names that pass dm_name_check and start with
 * "collectd.", and times floored to the step in range.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
 *     -D_GNU_SOURCE -Iinclude tests/fuzz/fuzz_collectd.c src/ingest/collectd.c \
 *     src/ingest/ingest_util.c src/ingest/number.c src/core/batch.c src/core/names.c \
 *     -lyajl -lm -o fuzz_collectd
 *   mkdir -p corpus && ./fuzz_collectd -max_total_time=300 corpus tests/fuzz/corpus/collectd
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

static int starts(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  uint8_t sel = data[0];
  dm_ingest_limits lim = {.max_points = max_points[sel & 3], .max_name_len = max_name[(sel >> 2) & 3],
                          .step = 60, .min_time = 0, .max_time = 1800000000};
  const char *body = (const char *)data + 1;
  size_t len = size - 1;
  char *copy = malloc(len > 0 ? len : 1);
  if (copy == NULL) return 0;
  memcpy(copy, body, len);
  dm_batch b;
  dm_batch_init(&b);
  if (sel & 0x40) CHECK(dm_batch_add(&b, "keep.me", 7, 42, 1.5) == 0);
  size_t n0 = b.n, names0 = b.names_len;
  char err[200];
  memset(err, 'x', sizeof err);
  int rc = dm_ingest_collectd(copy, len, &lim, &b, NULL, err, sizeof err);
  CHECK(memchr(err, '\0', sizeof err) != NULL);
  if (rc < 0) {
    CHECK(rc == DM_EINVAL || rc == DM_ERANGE || rc == DM_ENOMEM);
    CHECK(b.n == n0 && b.names_len == names0);
    CHECK(starts(err, "element ") || starts(err, "body: ") || starts(err, "batch: "));
    CHECK((rc == DM_ERANGE) == starts(err, "batch: more than"));
  } else {
    CHECK(rc == 0);
    CHECK(b.n - n0 <= lim.max_points);
    for (size_t i = n0; i < b.n; i++) {
      size_t nl, bad;
      const char *name = dm_batch_name(&b, i, &nl);
      CHECK(dm_name_check(name, nl, lim.max_name_len, &bad) == 0);
      CHECK(nl > 9 && memcmp(name, "collectd.", 9) == 0);
      CHECK(isfinite(b.e[i].v));
      CHECK(b.e[i].t >= 0 && b.e[i].t <= lim.max_time && b.e[i].t % 60 == 0);
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
