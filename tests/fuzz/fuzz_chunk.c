/* fuzz_chunk.c — libFuzzer target for the codec's decoders (not built by CMake).
 *
 * Input starting with "DMB1" is treated as a blob object: the footer magic and both CRCs
 * are fixed up first, so the fuzzer gets past the checksums into the index parser. Any
 * other input is a Gorilla chunk: if it decodes, the points must re-encode and decode to
 * the same bits, with strictly increasing times.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Iinclude \
 *     tests/fuzz/fuzz_chunk.c src/codec/gorilla.c src/codec/blobfile.c src/core/crc32c.c \
 *     -llz4 -lpthread -o fuzz_chunk
 *   mkdir -p corpus && ./fuzz_chunk -max_total_time=300 -max_len=4096 corpus
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "diamond/blobfile.h"
#include "diamond/crc.h"
#include "diamond/gorilla.h"

enum { CAP = 4096 };

static void le32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void fuzz_blob(const uint8_t *data, size_t size) {
  uint8_t *b = malloc(size);
  if (b == NULL) return;
  memcpy(b, data, size);
  uint8_t *f = b + size - DM_BLOBFILE_FOOTER;
  memcpy(f + 28, "DMBF", 4);
  uint64_t off = 0;
  for (int i = 0; i < 8; i++) off |= (uint64_t)f[i] << (8 * i);
  uint32_t ilen = (uint32_t)f[8] | (uint32_t)f[9] << 8 | (uint32_t)f[10] << 16 |
                  (uint32_t)f[11] << 24;
  if (off <= size - DM_BLOBFILE_FOOTER && ilen <= size - DM_BLOBFILE_FOOTER - off)
    le32(f + 20, dm_crc32c(0, b + off, ilen));
  le32(f + 24, dm_crc32c(0, f, 24));
  dm_blobfile_index *ix = NULL;
  if (dm_blobfile_open(b, size, &ix) == 0) {
    static dm_point out[CAP];
    for (size_t i = 0; i < dm_blobfile_index_count(ix); i++) {
      const dm_blobfile_entry *e = dm_blobfile_index_at(ix, i);
      if (e->off + e->len > size) abort(); /* the parser promised the chunk is inside */
      if (dm_blobfile_index_find(ix, e->name, e->name_len) != e) abort();
      (void)dm_blobfile_chunk_check(e, b + e->off, e->len);
      (void)dm_chunk_decode(b + e->off, e->len, out, CAP);
    }
    dm_blobfile_index_free(ix);
  }
  free(b);
}

static void fuzz_chunk(const uint8_t *data, size_t size) {
  static dm_point out[CAP], again[CAP];
  static uint8_t enc[CAP * 19 + 64];
  size_t count;
  int64_t first;
  int info = dm_chunk_info(data, size, &count, &first);
  int n = dm_chunk_decode(data, size, out, CAP);
  if (n < 0) return;
  if (info != 0 || count != (size_t)n || (n > 0 && first != out[0].t)) abort();
  for (int i = 1; i < n; i++)
    if (out[i].t <= out[i - 1].t) abort();
  int len = dm_chunk_encode(out, (size_t)n, enc, sizeof enc);
  if (len < 0 || (size_t)len > dm_chunk_bound((size_t)n)) abort();
  if (dm_chunk_decode(enc, (size_t)len, again, CAP) != n) abort();
  if (memcmp(out, again, (size_t)n * sizeof *out) != 0) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size >= DM_BLOBFILE_HEADER + DM_BLOBFILE_FOOTER && memcmp(data, "DMB1", 4) == 0)
    fuzz_blob(data, size);
  else
    fuzz_chunk(data, size);
  return 0;
}
