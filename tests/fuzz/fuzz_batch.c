/* fuzz_batch.c — libFuzzer target for dm_batch_decode, the WAL payload decoder (not built
 * by CMake).
 *
 * Byte 0 bit 0 puts a point in the batch first (decode appends; a failure must leave it
 * alone); the rest is the payload. Beyond "no crash": a failed decode leaves the batch as
 * it was; a successful one re-encodes (dm_batch_encoded_size exact) to at most as many
 * bytes as it came from, to exactly the input when the input was in canonical form (the
 * encoder's output is the only form of that length: minimal varints, a repeated name
 * written as length 0), and decoding the re-encoding gives the same points bit for bit.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
 *     -D_GNU_SOURCE -Iinclude tests/fuzz/fuzz_batch.c src/core/batch.c -o fuzz_batch
 *   mkdir -p corpus && ./fuzz_batch -max_total_time=300 corpus tests/fuzz/corpus/batch
 * (or: make fuzz FUZZ_SECONDS=300)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "diamond/error.h"
#include "diamond/point.h"

#define CHECK(c) ((c) ? (void)0 : abort())

/* a and b hold the same points (names by content, values by bits) from a0 and b0 on */
static void same_points(const dm_batch *a, size_t a0, const dm_batch *b, size_t b0) {
  CHECK(a->n - a0 == b->n - b0);
  for (size_t i = 0; i < a->n - a0; i++) {
    size_t al, bl;
    const char *an = dm_batch_name(a, a0 + i, &al), *bn = dm_batch_name(b, b0 + i, &bl);
    CHECK(al == bl && memcmp(an, bn, al) == 0);
    CHECK(a->e[a0 + i].t == b->e[b0 + i].t);
    CHECK(memcmp(&a->e[a0 + i].v, &b->e[b0 + i].v, sizeof(double)) == 0);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  const uint8_t *in = data + 1;
  size_t len = size - 1;
  dm_batch b, c, d;
  dm_batch_init(&b);
  dm_batch_init(&c);
  dm_batch_init(&d);
  if (data[0] & 1) CHECK(dm_batch_add(&b, "keep.me", 7, 42, 1.5) == 0);
  size_t first = b.n;
  int rc = dm_batch_decode(&b, in, len);
  if (rc < 0) {
    CHECK(rc == DM_ECORRUPT);
    CHECK(b.n == first);
  } else {
    CHECK(rc == 0);
    CHECK((b.n - first) * 10 <= len);
    for (size_t i = first; i < b.n; i++) { /* only the new points, re-added one by one */
      size_t nl;
      const char *name = dm_batch_name(&b, i, &nl);
      CHECK(dm_batch_add(&c, name, nl, b.e[i].t, b.e[i].v) == 0);
    }
    size_t want = dm_batch_encoded_size(&c);
    uint8_t *enc = malloc(want > 0 ? want : 1);
    CHECK(enc != NULL);
    CHECK(dm_batch_encode(&c, enc) == want);
    CHECK(want <= len);
    if (want == len) CHECK(memcmp(enc, in, len) == 0);
    CHECK(dm_batch_decode(&d, enc, want) == 0);
    same_points(&b, first, &d, 0);
    free(enc);
  }
  if (data[0] & 1) {
    size_t nl;
    const char *name = dm_batch_name(&b, 0, &nl);
    CHECK(nl == 7 && memcmp(name, "keep.me", 7) == 0 && b.e[0].t == 42 && b.e[0].v == 1.5);
  }
  dm_batch_free(&b);
  dm_batch_free(&c);
  dm_batch_free(&d);
  return 0;
}
