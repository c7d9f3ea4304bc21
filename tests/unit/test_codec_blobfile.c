/* test_codec_blobfile.c — the blob object format: round trips of 0, 1 and 10000 series,
 * names that are prefixes of each other, absent names, reads from a tail, and detection of
 * corrupt footers, indexes (bit flips and well-checksummed nonsense) and chunks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <lz4.h>

#include "diamond/blobfile.h"
#include "diamond/crc.h"
#include "diamond/error.h"
#include "diamond/gorilla.h"

static uint64_t rng_state = 0xD1B54A32D192ED03ull;
static uint64_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

/* the chunk of series number i: i % 50 + 1 points from day + 60 * i % 3600 */
static int make_chunk(size_t i, uint8_t *buf, size_t cap, dm_point *p, size_t *n) {
  *n = i % 50 + 1;
  for (size_t k = 0; k < *n; k++)
    p[k] = (dm_point){1700006400 + (int64_t)(60 * (i % 60 + k)), (double)(i * 1000 + k) / 4};
  return dm_chunk_encode(p, *n, buf, cap);
}

static uint8_t *build(const char *const *names, size_t n, size_t *len) {
  dm_blobfile_writer *w;
  assert_int_equal(dm_blobfile_writer_new(&w), 0);
  uint8_t chunk[2048];
  dm_point p[64];
  for (size_t i = 0; i < n; i++) {
    size_t np;
    int clen = make_chunk(i, chunk, sizeof chunk, p, &np);
    assert_true(clen > 0);
    assert_int_equal(dm_blobfile_writer_add(w, names[i], strlen(names[i]), chunk, (size_t)clen,
                                            p[0].t, p[np - 1].t, (uint32_t)np),
                     0);
  }
  assert_int_equal(dm_blobfile_writer_count(w), n);
  uint8_t *obj = NULL;
  assert_int_equal(dm_blobfile_writer_finish(w, &obj, len), 0);
  dm_blobfile_writer_free(w);
  return obj;
}

/* the entry of names[i] must describe series i's chunk, byte for byte */
static void check_series(const uint8_t *obj, const dm_blobfile_index *ix, const char *name,
                         size_t i) {
  const dm_blobfile_entry *e = dm_blobfile_index_find(ix, name, strlen(name));
  assert_non_null(e);
  assert_int_equal(e->name_len, strlen(name));
  assert_memory_equal(e->name, name, strlen(name));
  uint8_t chunk[2048];
  dm_point p[64], out[64];
  size_t np;
  int clen = make_chunk(i, chunk, sizeof chunk, p, &np);
  assert_int_equal(e->len, clen);
  assert_memory_equal(obj + e->off, chunk, (size_t)clen);
  assert_int_equal(dm_blobfile_chunk_check(e, obj + e->off, e->len), 0);
  assert_int_equal(e->first, p[0].t);
  assert_int_equal(e->last, p[np - 1].t);
  assert_int_equal(e->count, np);
  assert_int_equal(dm_chunk_decode(obj + e->off, e->len, out, 64), (int)np);
  assert_memory_equal(out, p, np * sizeof *p);
}

static void test_empty_object(void **state) {
  (void)state;
  size_t len;
  uint8_t *obj = build(NULL, 0, &len);
  /* header, the 1-byte LZ4 block of an empty index, footer */
  assert_int_equal(len, DM_BLOBFILE_HEADER + 1 + DM_BLOBFILE_FOOTER);
  assert_memory_equal(obj, "DMB1\x01\0\0\0", 8);
  assert_memory_equal(obj + len - 4, "DMBF", 4);
  dm_blobfile_footer f;
  assert_int_equal(dm_blobfile_footer_parse(obj + len - DM_BLOBFILE_FOOTER, &f), 0);
  assert_int_equal(f.index_off, 8);
  assert_int_equal(f.index_len, 1);
  assert_int_equal(f.index_raw_len, 0);
  assert_int_equal(f.entries, 0);
  dm_blobfile_index *ix;
  assert_int_equal(dm_blobfile_open(obj, len, &ix), 0);
  assert_int_equal(dm_blobfile_index_count(ix), 0);
  assert_null(dm_blobfile_index_find(ix, "a", 1));
  assert_null(dm_blobfile_index_at(ix, 0));
  dm_blobfile_index_free(ix);
  free(obj);
}

static void test_one_series(void **state) {
  (void)state;
  const char *names[] = {"host.h1.cpu.user"};
  size_t len;
  uint8_t *obj = build(names, 1, &len);
  dm_blobfile_index *ix;
  assert_int_equal(dm_blobfile_open(obj, len, &ix), 0);
  assert_int_equal(dm_blobfile_index_count(ix), 1);
  const dm_blobfile_entry *e = dm_blobfile_index_at(ix, 0);
  assert_int_equal(e->off, DM_BLOBFILE_HEADER);
  check_series(obj, ix, names[0], 0);
  assert_null(dm_blobfile_index_find(ix, "host.h1.cpu", 11));
  assert_null(dm_blobfile_index_find(ix, "host.h1.cpu.user2", 17));
  assert_null(dm_blobfile_index_find(ix, "", 0));
  assert_true(dm_blobfile_index_bytes(ix) >= 16 + sizeof(dm_blobfile_entry));
  dm_blobfile_index_free(ix);
  free(obj);
}

static void test_prefix_names(void **state) {
  (void)state;
  const char *names[] = {"a.b", "a", "ab", "a.b.c", "a.", "a.bc", "b", "\x7f", "A", "a-b"};
  size_t n = sizeof names / sizeof names[0];
  size_t len;
  uint8_t *obj = build(names, n, &len);
  dm_blobfile_index *ix;
  assert_int_equal(dm_blobfile_open(obj, len, &ix), 0);
  assert_int_equal(dm_blobfile_index_count(ix), n);
  const char *sorted[] = {"A", "a", "a-b", "a.", "a.b", "a.b.c", "a.bc", "ab", "b", "\x7f"};
  for (size_t i = 0; i < n; i++) {
    const dm_blobfile_entry *e = dm_blobfile_index_at(ix, i);
    assert_int_equal(e->name_len, strlen(sorted[i]));
    assert_memory_equal(e->name, sorted[i], e->name_len);
  }
  for (size_t i = 0; i < n; i++) check_series(obj, ix, names[i], i);
  const char *absent[] = {"a.b.", "a.b.c.d", "aa", "a.a", "B", "0", "c", "\x7f\x7f", "a.bd"};
  for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++)
    assert_null(dm_blobfile_index_find(ix, absent[i], strlen(absent[i])));
  /* a prefix given by length only */
  assert_non_null(dm_blobfile_index_find(ix, "a.b.c", 3));
  assert_int_equal(dm_blobfile_index_find(ix, "a.b.c", 3)->name_len, 3);
  dm_blobfile_index_free(ix);
  free(obj);
}

static void test_many_series_and_tail(void **state) {
  (void)state;
  enum { N = 10000 };
  char **names = malloc(N * sizeof *names);
  assert_non_null(names);
  for (size_t i = 0; i < N; i++) {
    names[i] = malloc(48);
    snprintf(names[i], 48, "host.h%zu.%s.%zu", (i * 7919) % N, i % 2 ? "cpu" : "mem", i % 13);
  }
  size_t len;
  uint8_t *obj = build((const char *const *)names, N, &len);
  dm_blobfile_index *ix;
  assert_int_equal(dm_blobfile_open(obj, len, &ix), 0);
  assert_int_equal(dm_blobfile_index_count(ix), N);
  for (size_t i = 1; i < N; i++) {
    const dm_blobfile_entry *a = dm_blobfile_index_at(ix, i - 1), *b = dm_blobfile_index_at(ix, i);
    size_t m = a->name_len < b->name_len ? a->name_len : b->name_len;
    int c = memcmp(a->name, b->name, m);
    assert_true(c < 0 || (c == 0 && a->name_len < b->name_len));
  }
  for (size_t i = 0; i < N; i++) check_series(obj, ix, names[i], i);
  assert_null(dm_blobfile_index_find(ix, "host.h1", 7));
  dm_blobfile_index_free(ix);

  /* reading from the tail: first the footer, then footer + index */
  size_t need = 0;
  ix = NULL;
  assert_int_equal(dm_blobfile_open_tail(obj + len - 10, 10, len, &ix, &need), DM_ERANGE);
  assert_int_equal(need, DM_BLOBFILE_FOOTER);
  assert_int_equal(dm_blobfile_open_tail(obj + len - need, need, len, &ix, &need), DM_ERANGE);
  dm_blobfile_footer f;
  assert_int_equal(dm_blobfile_footer_parse(obj + len - DM_BLOBFILE_FOOTER, &f), 0);
  assert_int_equal(need, f.index_len + DM_BLOBFILE_FOOTER);
  assert_int_equal(f.index_off + f.index_len + DM_BLOBFILE_FOOTER, len);
  assert_int_equal(dm_blobfile_open_tail(obj + len - need, need, len, &ix, &need), 0);
  assert_int_equal(dm_blobfile_index_count(ix), N);
  dm_blobfile_index_free(ix);
  /* the same through index_parse with the bytes at index_off */
  assert_int_equal(dm_blobfile_index_parse(&f, obj + f.index_off, f.index_len, &ix), 0);
  dm_blobfile_index_free(ix);
  assert_int_equal(dm_blobfile_index_parse(&f, obj + f.index_off, f.index_len - 1, &ix),
                   DM_EINVAL);
  /* a tail longer than the object */
  assert_int_equal(dm_blobfile_open_tail(obj, len, len - 1, &ix, &need), DM_EINVAL);
  /* object length that does not match the footer */
  assert_int_equal(dm_blobfile_open_tail(obj + 1, len - 1, len - 1, &ix, &need), DM_ECORRUPT);
  free(obj);
  for (size_t i = 0; i < N; i++) free(names[i]);
  free(names);
}

static void test_writer_errors(void **state) {
  (void)state;
  dm_blobfile_writer *w;
  assert_int_equal(dm_blobfile_writer_new(&w), 0);
  const uint8_t chunk[4] = {1, 2, 3, 4};
  assert_int_equal(dm_blobfile_writer_add(w, "x", 1, chunk, 4, 0, 60, 2), 0);
  assert_int_equal(dm_blobfile_writer_add(w, "x", 1, chunk, 4, 0, 60, 2), DM_EINVAL);
  assert_int_equal(dm_blobfile_writer_add(w, "xy", 1, chunk, 4, 0, 60, 2), DM_EINVAL);
  assert_int_equal(dm_blobfile_writer_add(w, "", 0, chunk, 4, 0, 60, 2), DM_EINVAL);
  assert_int_equal(dm_blobfile_writer_add(w, NULL, 1, chunk, 4, 0, 60, 2), DM_EINVAL);
  assert_int_equal(dm_blobfile_writer_add(w, "y", 1, NULL, 4, 0, 60, 2), DM_EINVAL);
  assert_int_equal(dm_blobfile_writer_add(w, "y", 1, chunk, 4, 61, 60, 2), DM_EINVAL);
  static char big[DM_BLOBFILE_MAX_NAME + 1];
  memset(big, 'n', sizeof big);
  assert_int_equal(dm_blobfile_writer_add(w, big, sizeof big, chunk, 4, 0, 0, 1), DM_EINVAL);
  assert_int_equal(dm_blobfile_writer_add(w, big, sizeof big - 1, chunk, 4, 0, 0, 1), 0);
  assert_int_equal(dm_blobfile_writer_add(w, "y", 1, NULL, 0, INT64_MIN, INT64_MAX, 0), 0);
  assert_int_equal(dm_blobfile_writer_count(w), 3);
  assert_int_equal(dm_blobfile_writer_size(w), DM_BLOBFILE_HEADER + 8);
  uint8_t *obj;
  size_t len;
  assert_int_equal(dm_blobfile_writer_finish(w, &obj, &len), 0);
  assert_int_equal(dm_blobfile_writer_finish(w, &obj, &len), DM_ECLOSED);
  assert_int_equal(dm_blobfile_writer_add(w, "z", 1, chunk, 4, 0, 0, 1), DM_ECLOSED);
  dm_blobfile_writer_free(w);
  dm_blobfile_writer_free(NULL);

  dm_blobfile_index *ix;
  assert_int_equal(dm_blobfile_open(obj, len, &ix), 0);
  const dm_blobfile_entry *e = dm_blobfile_index_find(ix, "y", 1);
  assert_non_null(e);
  assert_int_equal(e->len, 0);
  assert_true(e->first == INT64_MIN && e->last == INT64_MAX);
  assert_int_equal(dm_blobfile_chunk_check(e, NULL, 0), 0);
  e = dm_blobfile_index_find(ix, big, sizeof big - 1);
  assert_non_null(e);
  assert_int_equal(e->off, DM_BLOBFILE_HEADER + 4);
  e = dm_blobfile_index_find(ix, "x", 1);
  assert_int_equal(e->off, DM_BLOBFILE_HEADER);
  assert_int_equal(dm_blobfile_chunk_check(e, obj + e->off, 4), 0);
  /* a chunk read with a flipped byte or the wrong length */
  uint8_t bad[4] = {1, 2, 3, 5};
  assert_int_equal(dm_blobfile_chunk_check(e, bad, 4), DM_ECORRUPT);
  assert_int_equal(dm_blobfile_chunk_check(e, obj + e->off, 3), DM_ECORRUPT);
  dm_blobfile_index_free(ix);
  dm_blobfile_index_free(NULL);
  free(obj);
}

static void test_corrupt_bits(void **state) {
  (void)state;
  const char *names[] = {"s.one", "s.two", "s.three", "t"};
  size_t len;
  uint8_t *obj = build(names, 4, &len);
  dm_blobfile_footer f;
  assert_int_equal(dm_blobfile_footer_parse(obj + len - DM_BLOBFILE_FOOTER, &f), 0);
  dm_blobfile_index *ix = NULL;
  /* every bit of the header, the index and the footer */
  for (size_t bit = 0; bit < len * 8; bit++) {
    size_t byte = bit / 8;
    if (byte >= DM_BLOBFILE_HEADER && byte < f.index_off) continue; /* chunk bytes */
    uint8_t *b = malloc(len);
    memcpy(b, obj, len);
    b[byte] ^= (uint8_t)(1u << (bit % 8));
    if (byte >= 5 && byte < DM_BLOBFILE_HEADER) { /* reserved header bytes are not checked */
      free(b);
      continue;
    }
    assert_int_equal(dm_blobfile_open(b, len, &ix), DM_ECORRUPT);
    if (byte >= len - DM_BLOBFILE_FOOTER) {
      dm_blobfile_footer g;
      assert_int_equal(dm_blobfile_footer_parse(b + len - DM_BLOBFILE_FOOTER, &g), DM_ECORRUPT);
    }
    free(b);
  }
  /* every truncation, and garbage */
  for (size_t cut = 0; cut < len; cut++) {
    uint8_t *b = malloc(cut + 1);
    memcpy(b, obj, cut);
    assert_int_equal(dm_blobfile_open(b, cut, &ix), DM_ECORRUPT);
    free(b);
  }
  for (int k = 0; k < 200; k++) {
    uint8_t g[96];
    for (size_t i = 0; i < sizeof g; i++) g[i] = (uint8_t)rnd();
    memcpy(g, "DMB1\x01", 5);
    memcpy(g + sizeof g - 4, "DMBF", 4);
    assert_int_equal(dm_blobfile_open(g, sizeof g, &ix), DM_ECORRUPT);
  }
  free(obj);
}

/* ---- well-checksummed nonsense: an index built by hand ---- */

typedef struct raw_entry {
  const char *name;
  uint64_t off, len, first_zz, span, count;
} raw_entry;

static size_t put_varint(uint8_t *p, uint64_t v) {
  size_t n = 0;
  while (v >= 0x80) {
    p[n++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  p[n++] = (uint8_t)v;
  return n;
}

static void put_le(uint8_t *p, uint64_t v, int n) {
  for (int i = 0; i < n; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* an object of 100 chunk bytes and an index of the given entries, CRCs all correct;
 * raw_extra bytes of junk follow the entries, raw_len_delta/entries_delta lie in the footer */
static int open_crafted(const raw_entry *e, size_t n, size_t raw_extra, int raw_len_delta,
                        int entries_delta) {
  uint8_t raw[1024], obj[4096];
  size_t r = 0;
  for (size_t i = 0; i < n; i++) {
    size_t nl = strlen(e[i].name);
    r += put_varint(raw + r, nl);
    memcpy(raw + r, e[i].name, nl);
    r += nl;
    r += put_varint(raw + r, e[i].off);
    r += put_varint(raw + r, e[i].len);
    r += put_varint(raw + r, e[i].first_zz);
    r += put_varint(raw + r, e[i].span);
    r += put_varint(raw + r, e[i].count);
    put_le(raw + r, 0, 4);
    r += 4;
  }
  for (size_t i = 0; i < raw_extra; i++) raw[r++] = 0;
  memcpy(obj, "DMB1\x01\0\0\0", 8);
  memset(obj + 8, 0, 100);
  size_t off = 108;
  int clen = LZ4_compress_default((const char *)raw, (char *)obj + off, (int)r, 2048);
  assert_true(clen > 0);
  uint8_t *f = obj + off + (size_t)clen;
  put_le(f, off, 8);
  put_le(f + 8, (uint64_t)clen, 4);
  put_le(f + 12, (uint64_t)((int)r + raw_len_delta), 4);
  put_le(f + 16, (uint64_t)((int)n + entries_delta), 4);
  put_le(f + 20, dm_crc32c(0, obj + off, (size_t)clen), 4);
  put_le(f + 24, dm_crc32c(0, f, 24), 4);
  memcpy(f + 28, "DMBF", 4);
  dm_blobfile_index *ix = NULL;
  int rc = dm_blobfile_open(obj, off + (size_t)clen + DM_BLOBFILE_FOOTER, &ix);
  dm_blobfile_index_free(ix);
  return rc;
}

static void test_crafted_index(void **state) {
  (void)state;
  const raw_entry good[2] = {{"a", 8, 50, 2, 60, 2}, {"b", 58, 50, 2, 0, 1}};
  assert_int_equal(open_crafted(good, 2, 0, 0, 0), 0);
  const raw_entry unsorted[2] = {{"b", 8, 50, 2, 60, 2}, {"a", 58, 50, 2, 0, 1}};
  assert_int_equal(open_crafted(unsorted, 2, 0, 0, 0), DM_ECORRUPT);
  const raw_entry dup[2] = {{"a", 8, 50, 2, 60, 2}, {"a", 58, 50, 2, 0, 1}};
  assert_int_equal(open_crafted(dup, 2, 0, 0, 0), DM_ECORRUPT);
  const raw_entry into_index[1] = {{"a", 8, 101, 2, 60, 2}};
  assert_int_equal(open_crafted(into_index, 1, 0, 0, 0), DM_ECORRUPT);
  const raw_entry into_header[1] = {{"a", 7, 10, 2, 60, 2}};
  assert_int_equal(open_crafted(into_header, 1, 0, 0, 0), DM_ECORRUPT);
  const raw_entry huge_off[1] = {{"a", UINT64_MAX - 5, 10, 2, 60, 2}};
  assert_int_equal(open_crafted(huge_off, 1, 0, 0, 0), DM_ECORRUPT);
  const raw_entry wrapped_span[1] = {{"a", 8, 10, 0, UINT64_MAX, 2}};
  assert_int_equal(open_crafted(wrapped_span, 1, 0, 0, 0), DM_ECORRUPT);
  const raw_entry big_count[1] = {{"a", 8, 10, 0, 1, 1ull << 32}};
  assert_int_equal(open_crafted(big_count, 1, 0, 0, 0), DM_ECORRUPT);
  const raw_entry last_byte[1] = {{"a", 8, 100, 0, 0, 1}};
  assert_int_equal(open_crafted(last_byte, 1, 0, 0, 0), 0);
  assert_int_equal(open_crafted(good, 2, 3, 0, 0), DM_ECORRUPT);  /* junk after entries */
  assert_int_equal(open_crafted(good, 2, 0, 1, 0), DM_ECORRUPT);  /* raw length too big */
  assert_int_equal(open_crafted(good, 2, 0, -1, 0), DM_ECORRUPT); /* raw length too small */
  assert_int_equal(open_crafted(good, 2, 0, 0, 1), DM_ECORRUPT);  /* an entry missing */
  assert_int_equal(open_crafted(good, 2, 0, 0, -1), DM_ECORRUPT); /* an entry too many */
  assert_int_equal(open_crafted(good, 2, 0, 1000000, 0), DM_ECORRUPT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_empty_object),   cmocka_unit_test(test_one_series),
      cmocka_unit_test(test_prefix_names),   cmocka_unit_test(test_many_series_and_tail),
      cmocka_unit_test(test_writer_errors),  cmocka_unit_test(test_corrupt_bits),
      cmocka_unit_test(test_crafted_index),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
