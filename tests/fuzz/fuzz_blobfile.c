/* fuzz_blobfile.c — libFuzzer target for the blob object reader: footer, index, open and
 * the ranged open_tail protocol (not built by CMake).
 *
 * Byte 0 bit 0 picks the mode.
 *  - Raw (bit 0 clear): the rest is an object. Bit 1 repairs the footer magic, the index
 *    CRC and the footer CRC, bit 2 first sets index_len so the index ends at the footer,
 *    so the fuzzer gets past the checksums into LZ4 and the entry parser. The object is
 *    read three ways, which must agree: dm_blobfile_open; dm_blobfile_open_tail as a
 *    reader does it (a 32-byte tail, then exactly the `need` it is told, which must grow
 *    and stay within the object); and dm_blobfile_footer_parse + dm_blobfile_index_parse.
 *    A parsed index must hold footer.entries entries, names strictly increasing, each
 *    found by dm_blobfile_index_find, each chunk between the header and the index, and
 *    dm_blobfile_chunk_check must agree with crc32c.
 *  - Writer (bit 0 set): the rest is a list of series (name, chunk, first, span, count)
 *    for dm_blobfile_writer; the finished object must open (whole and by tail) to exactly
 *    what was added, and changing any one byte of its index or footer must make it fail.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
 *     -D_GNU_SOURCE -Iinclude tests/fuzz/fuzz_blobfile.c src/codec/blobfile.c \
 *     src/core/crc32c.c -llz4 -o fuzz_blobfile
 *   mkdir -p corpus && ./fuzz_blobfile -max_total_time=300 corpus tests/fuzz/corpus/blobfile
 * (or: make fuzz FUZZ_SECONDS=300)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "diamond/blobfile.h"
#include "diamond/crc.h"
#include "diamond/error.h"

#define CHECK(c) ((c) ? (void)0 : abort())

static void le32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get64(const uint8_t *p) { return get32(p) | (uint64_t)get32(p + 4) << 32; }

static int same_entry(const dm_blobfile_entry *a, const dm_blobfile_entry *b) {
  return a->name_len == b->name_len && memcmp(a->name, b->name, a->name_len) == 0 &&
         a->off == b->off && a->len == b->len && a->first == b->first &&
         a->last == b->last && a->count == b->count && a->crc == b->crc;
}

static void same_index(const dm_blobfile_index *a, const dm_blobfile_index *b) {
  CHECK(dm_blobfile_index_count(a) == dm_blobfile_index_count(b));
  for (size_t i = 0; i < dm_blobfile_index_count(a); i++)
    CHECK(same_entry(dm_blobfile_index_at(a, i), dm_blobfile_index_at(b, i)));
}

/* what the reader promises about a parsed index of obj (len bytes, footer f) */
static void check_index(const dm_blobfile_index *ix, const dm_blobfile_footer *f,
                        const uint8_t *obj, size_t len) {
  size_t n = dm_blobfile_index_count(ix);
  CHECK(n == f->entries && dm_blobfile_index_at(ix, n) == NULL);
  CHECK(dm_blobfile_index_bytes(ix) >= f->index_raw_len);
  for (size_t i = 0; i < n; i++) {
    const dm_blobfile_entry *e = dm_blobfile_index_at(ix, i);
    CHECK(e->name_len >= 1 && e->name_len <= DM_BLOBFILE_MAX_NAME);
    CHECK(e->off >= DM_BLOBFILE_HEADER && e->off + e->len <= f->index_off);
    CHECK(e->first <= e->last);
    CHECK(dm_blobfile_index_find(ix, e->name, e->name_len) == e);
    if (i > 0) {
      const dm_blobfile_entry *p = dm_blobfile_index_at(ix, i - 1);
      size_t m = p->name_len < e->name_len ? p->name_len : e->name_len;
      int c = memcmp(p->name, e->name, m);
      CHECK(c < 0 || (c == 0 && p->name_len < e->name_len));
    }
    if (obj != NULL && e->off + e->len <= len) {
      int ok = dm_crc32c(0, obj + e->off, e->len) == e->crc;
      CHECK((dm_blobfile_chunk_check(e, obj + e->off, e->len) == 0) == ok);
    }
  }
}

/* Reads the object as a ranged reader does; returns open_tail's final result. */
static int open_by_tail(const uint8_t *obj, size_t len, dm_blobfile_index **out) {
  size_t tail = len < DM_BLOBFILE_FOOTER ? len : DM_BLOBFILE_FOOTER, need = 0;
  for (int round = 0; round < 3; round++) {
    int rc = dm_blobfile_open_tail(obj + len - tail, tail, len, out, &need);
    if (rc != DM_ERANGE) return rc;
    CHECK(need > tail && need <= len);
    tail = need;
  }
  abort(); /* a third DM_ERANGE: the need it gave was not enough */
}

static void fuzz_raw(const uint8_t *data, size_t size, int fix_crc, int fix_len) {
  uint8_t *obj = malloc(size > 0 ? size : 1);
  if (obj == NULL) return;
  memcpy(obj, data, size);
  if (size >= DM_BLOBFILE_FOOTER && (fix_crc || fix_len)) {
    uint8_t *f = obj + size - DM_BLOBFILE_FOOTER;
    uint64_t off = get64(f);
    if (fix_len && off <= size - DM_BLOBFILE_FOOTER)
      le32(f + 8, (uint32_t)(size - DM_BLOBFILE_FOOTER - off));
    uint32_t ilen = get32(f + 8);
    memcpy(f + 28, "DMBF", 4);
    if (off <= size - DM_BLOBFILE_FOOTER && ilen <= size - DM_BLOBFILE_FOOTER - off)
      le32(f + 20, dm_crc32c(0, obj + off, ilen));
    le32(f + 24, dm_crc32c(0, f, 24));
  }

  dm_blobfile_index *whole = NULL, *bytail = NULL, *direct = NULL;
  int rw = dm_blobfile_open(obj, size, &whole);
  int rt = open_by_tail(obj, size, &bytail);
  CHECK(rw == 0 || rw == DM_ECORRUPT || rw == DM_ENOMEM);
  CHECK(rt == 0 || rt == DM_ECORRUPT || rt == DM_ENOMEM);
  int head_ok = size >= 5 && memcmp(obj, "DMB1", 4) == 0 && obj[4] == DM_BLOBFILE_VERSION;
  if (head_ok && size >= DM_BLOBFILE_HEADER + DM_BLOBFILE_FOOTER) CHECK(rw == rt);
  if (rw == 0) CHECK(head_ok && rt == 0);

  dm_blobfile_footer f;
  int rf = size >= DM_BLOBFILE_FOOTER
               ? dm_blobfile_footer_parse(obj + size - DM_BLOBFILE_FOOTER, &f)
               : DM_ECORRUPT;
  if (rt == 0) CHECK(rf == 0 && f.index_off + f.index_len + DM_BLOBFILE_FOOTER == size);
  if (rf == 0 && f.index_off + f.index_len + DM_BLOBFILE_FOOTER == size &&
      size >= DM_BLOBFILE_HEADER + DM_BLOBFILE_FOOTER) {
    int rd = dm_blobfile_index_parse(&f, obj + f.index_off, f.index_len, &direct);
    CHECK(rd == rt);
  }
  if (rt == 0) {
    check_index(bytail, &f, obj, size);
    if (direct != NULL) same_index(bytail, direct);
    if (whole != NULL) same_index(bytail, whole);
  }
  dm_blobfile_index_free(whole);
  dm_blobfile_index_free(bytail);
  dm_blobfile_index_free(direct);
  free(obj);
}

enum { MAXS = 64 };

typedef struct series {
  const uint8_t *name, *chunk;
  size_t name_len, chunk_len;
  int64_t first, last;
  uint32_t count;
} series;

static void fuzz_writer(const uint8_t *p, size_t size) {
  series s[MAXS];
  size_t n = 0, at = 0;
  dm_blobfile_writer *w;
  if (dm_blobfile_writer_new(&w) < 0) return;
  /* each series: u8 name_len, name, u8 chunk_len, chunk, 8 bytes first, u8 span, u8 count */
  while (n < MAXS && at + 1 <= size) {
    series x;
    x.name_len = p[at++];
    if (x.name_len > size - at) break;
    x.name = p + at;
    at += x.name_len;
    if (at >= size) break;
    x.chunk_len = p[at++];
    if (x.chunk_len + 10 > size - at) break;
    x.chunk = p + at;
    at += x.chunk_len;
    uint64_t u = 0;
    for (int i = 0; i < 8; i++) u |= (uint64_t)p[at++] << (8 * i);
    x.first = (int64_t)u;
    uint8_t span = p[at++];
    x.last = x.first > INT64_MAX - span ? x.first : x.first + span;
    x.count = p[at++];
    int rc = dm_blobfile_writer_add(w, (const char *)x.name, x.name_len, x.chunk,
                                    x.chunk_len, x.first, x.last, x.count);
    int dup = 0;
    for (size_t i = 0; i < n; i++)
      dup |= s[i].name_len == x.name_len && memcmp(s[i].name, x.name, x.name_len) == 0;
    if (x.name_len == 0 || dup) {
      CHECK(rc == DM_EINVAL);
      continue;
    }
    CHECK(rc == 0);
    s[n++] = x;
  }
  CHECK(dm_blobfile_writer_count(w) == n);
  uint8_t *obj;
  size_t len;
  CHECK(dm_blobfile_writer_finish(w, &obj, &len) == 0);
  CHECK(dm_blobfile_writer_add(w, "x", 1, NULL, 0, 0, 0, 0) == DM_ECLOSED);
  dm_blobfile_writer_free(w);

  dm_blobfile_index *ix = NULL, *tx = NULL;
  CHECK(dm_blobfile_open(obj, len, &ix) == 0);
  CHECK(open_by_tail(obj, len, &tx) == 0);
  same_index(ix, tx);
  dm_blobfile_footer f;
  CHECK(dm_blobfile_footer_parse(obj + len - DM_BLOBFILE_FOOTER, &f) == 0);
  check_index(ix, &f, obj, len);
  CHECK(dm_blobfile_index_count(ix) == n);
  for (size_t i = 0; i < n; i++) {
    const dm_blobfile_entry *e = dm_blobfile_index_find(ix, (const char *)s[i].name,
                                                        s[i].name_len);
    CHECK(e != NULL && e->len == s[i].chunk_len && e->first == s[i].first &&
          e->last == s[i].last && e->count == s[i].count);
    CHECK(e->len == 0 || memcmp(obj + e->off, s[i].chunk, e->len) == 0);
    CHECK(dm_blobfile_chunk_check(e, obj + e->off, e->len) == 0);
  }
  dm_blobfile_index_free(ix);
  dm_blobfile_index_free(tx);

  /* one changed byte in the header magic, the index or the footer is always caught */
  size_t pos = n == 0 ? size % 5
                      : (size_t)s[0].count * 2654435761u % (len - f.index_off) + f.index_off;
  uint8_t old = obj[pos];
  obj[pos] ^= (uint8_t)(size % 255 + 1);
  ix = NULL;
  CHECK(dm_blobfile_open(obj, len, &ix) != 0 && ix == NULL);
  obj[pos] = old;
  free(obj);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  if (data[0] & 1) fuzz_writer(data + 1, size - 1);
  else fuzz_raw(data + 1, size - 1, data[0] & 2, data[0] & 4);
  return 0;
}
