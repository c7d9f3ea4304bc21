/* fuzz_mackerel.c — libFuzzer target for the Mackerel JSON batch parser (not built by CMake).
 *
 * Byte 0 picks the form and the limits: bit 0 service form (POST /api/v0/services/<s>/tsdb;
 * the service name is then the input up to the first '\n', the body the rest), bits 1-2
 * max_points (1, 2, 3, 8: small, so "more than max_points" is reached), bits 3-4
 * max_name_len, bits 5-6 step and time range (mode 3 is the widest range the types allow
 * without overflowing dm_floor), bit 7 a point already in the batch (the rollback must keep
 * it). Beyond "no crash" it checks the contract of include/diamond/ingest.h: an error
 * leaves the batch as it was on entry with a non-empty message of a known shape; a success
 * adds 1..max_points points with finite values, names that pass dm_name_check under the
 * right prefix, and times floored to the step inside [floor(min_time), max_time].
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
 *     -D_GNU_SOURCE -Iinclude tests/fuzz/fuzz_mackerel.c src/ingest/mackerel.c \
 *     src/ingest/ingest_util.c src/ingest/number.c src/core/batch.c src/core/names.c \
 *     -lyajl -lm -o fuzz_mackerel
 *   mkdir -p corpus && ./fuzz_mackerel -max_total_time=300 corpus tests/fuzz/corpus/mackerel
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
static const dm_ingest_limits ranges[4] = {
    {.step = 60, .min_time = 1600000000, .max_time = 1800000000},
    {.step = 1, .min_time = 0, .max_time = 100},
    {.step = 7, .min_time = -1000, .max_time = 1000},
    {.step = 86400, .min_time = INT64_MIN + 86400, .max_time = INT64_MAX},
};

static int starts(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  uint8_t sel = data[0];
  dm_ingest_limits lim = ranges[(sel >> 5) & 3];
  lim.max_points = max_points[(sel >> 1) & 3];
  lim.max_name_len = max_name[(sel >> 3) & 3];
  const char *body = (const char *)data + 1;
  size_t len = size - 1;
  char svc[64];
  const char *service = NULL;
  if (sel & 1) {
    const char *nl = memchr(body, '\n', len);
    size_t sl = nl ? (size_t)(nl - body) : 0;
    if (nl == NULL || sl >= sizeof svc) {
      strcpy(svc, "svc");
    } else {
      memcpy(svc, body, sl);
      svc[sl] = '\0';
      len -= sl + 1;
      body = nl + 1;
    }
    service = svc;
  }
  /* an exact-size copy, so ASan sees any read past the body */
  char *copy = malloc(len > 0 ? len : 1);
  if (copy == NULL) return 0;
  memcpy(copy, body, len);

  dm_batch b;
  dm_batch_init(&b);
  if (sel & 0x80) CHECK(dm_batch_add(&b, "keep.me", 7, 42, 1.5) == 0);
  size_t n0 = b.n, names0 = b.names_len;
  char err[200];
  memset(err, 'x', sizeof err);
  int rc = dm_ingest_mackerel(copy, len, service, &lim, &b, err, sizeof err);
  CHECK(memchr(err, '\0', sizeof err) != NULL);

  if (rc < 0) {
    CHECK(rc == DM_EINVAL || rc == DM_ERANGE || rc == DM_ENOMEM);
    CHECK(b.n == n0 && b.names_len == names0);
    CHECK(err[0] != '\0');
    CHECK(starts(err, "point ") || starts(err, "body: ") || starts(err, "batch: ") ||
          starts(err, "service: "));
    CHECK((rc == DM_ERANGE) == starts(err, "batch: more than"));
    if (starts(err, "service: ")) CHECK(service != NULL);
    if (starts(err, "point ")) CHECK(strtoull(err + 6, NULL, 10) < lim.max_points);
  } else {
    CHECK(rc == 0);
    CHECK(b.n > n0 && b.n - n0 <= lim.max_points);
    char prefix[80];
    if (service) {
      CHECK(dm_segment_check(service, strlen(service)) == 0);
      strcpy(prefix, "service.");
      strcat(prefix, service);
      strcat(prefix, ".");
    } else {
      strcpy(prefix, "host.");
    }
    size_t pl = strlen(prefix);
    int64_t lo = dm_floor(lim.min_time, lim.step);
    for (size_t i = n0; i < b.n; i++) {
      size_t nl, bad;
      const char *name = dm_batch_name(&b, i, &nl);
      CHECK(dm_name_check(name, nl, lim.max_name_len, &bad) == 0);
      CHECK(nl > pl && memcmp(name, prefix, pl) == 0);
      if (!service) { /* host.<hostId>.<name>: the hostId is one segment */
        size_t h = dm_segment_span(name + pl, nl - pl);
        CHECK(h > 0 && h + 1 < nl - pl && name[pl + h] == '.');
      }
      CHECK(isfinite(b.e[i].v));
      CHECK(b.e[i].t >= lo && b.e[i].t <= lim.max_time);
      CHECK(dm_floor(b.e[i].t, lim.step) == b.e[i].t);
    }
  }
  if (sel & 0x80) {
    size_t nl;
    const char *name = dm_batch_name(&b, 0, &nl);
    CHECK(nl == 7 && memcmp(name, "keep.me", 7) == 0 && b.e[0].t == 42 && b.e[0].v == 1.5);
  }
  dm_batch_free(&b);
  free(copy);
  return 0;
}
