/* test_blob_contract.h — what every blob engine must do (include/diamond/blob.h), as cmocka
 * cases one test program per engine runs: test_blob.c (directory) and test_blob_s3.c (S3
 * against s3rver). What only one engine does (temp files and directories, S3 paging and
 * addressing, how close treats calls in flight) stays in that engine's file.
 *
 * The includer defines struct fx, with at least `uv_loop_t loop` and `dm_blob *b`, before
 * including this header, and runs every blob_* case below with a setup that opens a new,
 * empty store on f->loop (a fresh directory, a fresh bucket) and a teardown that closes it.
 * The helpers run the loop until the call's callback came and copy out what it saw. */
#ifndef TEST_BLOB_CONTRACT_H
#define TEST_BLOB_CONTRACT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "diamond/blob.h"
#include "diamond/blobfile.h"
#include "diamond/crc.h"
#include "diamond/error.h"

/* What a callback saw, copied out. */
typedef struct res {
  int called, status;
  uint8_t *data; /* len bytes and a '\0' */
  size_t len;
  uint64_t size;
  char **names;
  size_t n;
} res;

static inline void res_free(res *r) {
  free(r->data);
  for (size_t i = 0; i < r->n; i++) free(r->names[i]);
  free(r->names);
  memset(r, 0, sizeof *r);
}

static inline void done_cb(void *arg, int status) {
  res *r = arg;
  r->called++;
  r->status = status;
}

static inline void bytes_cb(void *arg, int status, const uint8_t *data, size_t len,
                            uint64_t size) {
  res *r = arg;
  r->called++;
  r->status = status;
  r->len = len;
  r->size = size;
  r->data = malloc(len + 1);
  if (len > 0) memcpy(r->data, data, len);
  r->data[len] = '\0';
}

static inline void names_cb(void *arg, int status, const dm_name_ref *names, size_t n) {
  res *r = arg;
  r->called++;
  r->status = status;
  r->n = n;
  r->names = calloc(n + 1, sizeof *r->names);
  for (size_t i = 0; i < n; i++) r->names[i] = strndup(names[i].s, names[i].len);
}

static inline void run(fx *f) { uv_run(&f->loop, UV_RUN_DEFAULT); }

static inline void put(fx *f, const char *key, const void *data, size_t len) {
  res r = {0};
  assert_int_equal(dm_blob_put(f->b, key, data, len, done_cb, &r), 0);
  run(f);
  assert_int_equal(r.called, 1);
  assert_int_equal(r.status, 0);
}

static inline res get(fx *f, const char *key, int64_t off, size_t len) {
  res r = {0};
  assert_int_equal(dm_blob_get_range(f->b, key, off, len, bytes_cb, &r), 0);
  run(f);
  assert_int_equal(r.called, 1);
  return r;
}

static inline res list(fx *f, const char *prefix) {
  res r = {0};
  assert_int_equal(dm_blob_list(f->b, prefix, names_cb, &r), 0);
  run(f);
  assert_int_equal(r.called, 1);
  assert_int_equal(r.status, 0);
  return r;
}

static inline void del(fx *f, const char *key) {
  res r = {0};
  assert_int_equal(dm_blob_del(f->b, key, done_cb, &r), 0);
  run(f);
  assert_int_equal(r.called, 1);
  assert_int_equal(r.status, 0);
}

static inline uint8_t *pattern(size_t n, uint8_t seed) {
  uint8_t *p = malloc(n);
  for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(i * 7 + seed);
  return p;
}

/* ---- the contract -------------------------------------------------------------------- */

/* get_range: whole, middle, suffix (any off < 0), a suffix longer than the object, short
 * and empty reads at and past the end, len 0 for the size only; and the stats. */
static void blob_put_get_ranges(void **state) {
  fx *f = *state;
  uint8_t *d = pattern(1000, 3);
  put(f, "v1/2026-11-24/07.dmb", d, 1000);

  res r = get(f, "v1/2026-11-24/07.dmb", 0, 1000); /* whole */
  assert_int_equal(r.status, 0);
  assert_int_equal(r.len, 1000);
  assert_int_equal(r.size, 1000);
  assert_memory_equal(r.data, d, 1000);
  res_free(&r);

  r = get(f, "v1/2026-11-24/07.dmb", 100, 50); /* middle */
  assert_int_equal(r.status, 0);
  assert_int_equal(r.len, 50);
  assert_int_equal(r.size, 1000);
  assert_memory_equal(r.data, d + 100, 50);
  res_free(&r);

  r = get(f, "v1/2026-11-24/07.dmb", -1, 32); /* suffix */
  assert_int_equal(r.status, 0);
  assert_int_equal(r.len, 32);
  assert_int_equal(r.size, 1000);
  assert_memory_equal(r.data, d + 968, 32);
  res_free(&r);

  r = get(f, "v1/2026-11-24/07.dmb", -10, 10); /* suffix: only the sign of off counts */
  assert_int_equal(r.status, 0);
  assert_int_equal(r.len, 10);
  assert_memory_equal(r.data, d + 990, 10);
  res_free(&r);

  r = get(f, "v1/2026-11-24/07.dmb", -1, 5000); /* suffix longer than the object */
  assert_int_equal(r.status, 0);
  assert_int_equal(r.len, 1000);
  assert_int_equal(r.size, 1000);
  assert_memory_equal(r.data, d, 1000);
  res_free(&r);

  r = get(f, "v1/2026-11-24/07.dmb", 990, 50); /* partly beyond the end: short read */
  assert_int_equal(r.status, 0);
  assert_int_equal(r.len, 10);
  assert_int_equal(r.size, 1000);
  assert_memory_equal(r.data, d + 990, 10);
  res_free(&r);

  r = get(f, "v1/2026-11-24/07.dmb", 1000, 10); /* at the end */
  assert_int_equal(r.status, 0);
  assert_int_equal(r.len, 0);
  assert_int_equal(r.size, 1000);
  res_free(&r);

  r = get(f, "v1/2026-11-24/07.dmb", 5000, 10); /* far beyond */
  assert_int_equal(r.status, 0);
  assert_int_equal(r.len, 0);
  assert_int_equal(r.size, 1000);
  res_free(&r);

  r = get(f, "v1/2026-11-24/07.dmb", 0, 0); /* the size only */
  assert_int_equal(r.status, 0);
  assert_int_equal(r.len, 0);
  assert_int_equal(r.size, 1000);
  res_free(&r);

  dm_blob_stats st;
  dm_blob_stats_get(f->b, &st);
  assert_int_equal(st.puts, 1);
  assert_int_equal(st.gets, 9);
  assert_int_equal(st.bytes_put, 1000);
  assert_int_equal(st.bytes_got, 1000 + 50 + 32 + 10 + 1000 + 10);
  free(d);
}

/* A put replaces the object whole, a shorter one too. */
static void blob_replace(void **state) {
  fx *f = *state;
  uint8_t *a = pattern(4096, 1), *b = pattern(100, 9);
  put(f, "v1/2026-01-01/00.dmb", a, 4096);
  put(f, "v1/2026-01-01/00.dmb", b, 100);
  res r = get(f, "v1/2026-01-01/00.dmb", 0, 8192);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.len, 100);
  assert_int_equal(r.size, 100);
  assert_memory_equal(r.data, b, 100);
  res_free(&r);
  r = get(f, "v1/2026-01-01/00.dmb", -64, 64);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.len, 64);
  assert_int_equal(r.size, 100);
  assert_memory_equal(r.data, b + 36, 64);
  res_free(&r);
  put(f, "v1/2026-01-01/00.dmb", "new", 3);
  r = get(f, "v1/2026-01-01/00.dmb", -64, 64);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.size, 3);
  assert_string_equal((char *)r.data, "new");
  res_free(&r);
  free(a);
  free(b);
}

/* An empty object has size 0 and is listed. (A ranged read of it is engine-specific:
 * s3rver answers it with a byte it never sends, see test_blob_s3.c.) */
static void blob_empty_object(void **state) {
  fx *f = *state;
  put(f, "v1/empty", "", 0);
  res r = get(f, "v1/empty", 0, 0);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.len, 0);
  assert_int_equal(r.size, 0);
  res_free(&r);
  r = list(f, "v1/");
  assert_int_equal(r.n, 1);
  assert_string_equal(r.names[0], "v1/empty");
  res_free(&r);
}

/* A missing key is DM_ENOENT for every read, deleting it is fine, and none of it makes the
 * store unhealthy. */
static void blob_missing_key(void **state) {
  fx *f = *state;
  put(f, "v1/2026-11-24/07.dmb", "x", 1);
  res r = get(f, "v1/2026-11-24/08.dmb", 0, 10); /* a neighbour exists */
  assert_int_equal(r.status, DM_ENOENT);
  assert_int_equal(r.len, 0);
  assert_null(r.names);
  res_free(&r);
  r = get(f, "v9/nothing/here.dmb", 0, 10); /* nothing under the prefix */
  assert_int_equal(r.status, DM_ENOENT);
  res_free(&r);
  r = get(f, "v9/nothing/here.dmb", -10, 10);
  assert_int_equal(r.status, DM_ENOENT);
  res_free(&r);
  r = get(f, "v9/nothing/here.dmb", 0, 0);
  assert_int_equal(r.status, DM_ENOENT);
  res_free(&r);
  del(f, "v9/nothing/here.dmb");
  assert_int_equal(dm_blob_health(f->b, NULL, 0), 1);
}

/* list: sorted, by any prefix (one that ends inside a path segment too); del: gone from
 * get and list, again is fine; a put after a del is there again. */
static void blob_list_del(void **state) {
  fx *f = *state;
  const char *keys[] = {"v1/2026-11-25/00.dmb", "top", "v1/2026-11-24/01.dmb", "v2/x",
                        "v1/2026-11-24/00.dmb"};
  for (size_t i = 0; i < 5; i++) put(f, keys[i], "abc", 3);

  res r = list(f, "");
  assert_int_equal(r.n, 5);
  assert_string_equal(r.names[0], "top");
  assert_string_equal(r.names[1], "v1/2026-11-24/00.dmb");
  assert_string_equal(r.names[2], "v1/2026-11-24/01.dmb");
  assert_string_equal(r.names[3], "v1/2026-11-25/00.dmb");
  assert_string_equal(r.names[4], "v2/x");
  res_free(&r);

  r = list(f, "v1/");
  assert_int_equal(r.n, 3);
  assert_string_equal(r.names[0], "v1/2026-11-24/00.dmb");
  assert_string_equal(r.names[2], "v1/2026-11-25/00.dmb");
  res_free(&r);

  r = list(f, "v1/2026-11-24/");
  assert_int_equal(r.n, 2);
  assert_string_equal(r.names[0], "v1/2026-11-24/00.dmb");
  assert_string_equal(r.names[1], "v1/2026-11-24/01.dmb");
  res_free(&r);

  r = list(f, "v1/2026-11-2"); /* a prefix that ends inside a segment */
  assert_int_equal(r.n, 3);
  res_free(&r);

  r = list(f, "v1/2026-11-25/0");
  assert_int_equal(r.n, 1);
  assert_string_equal(r.names[0], "v1/2026-11-25/00.dmb");
  res_free(&r);

  r = list(f, "t");
  assert_int_equal(r.n, 1);
  assert_string_equal(r.names[0], "top");
  res_free(&r);

  r = list(f, "nope/");
  assert_int_equal(r.n, 0);
  res_free(&r);

  del(f, "v1/2026-11-25/00.dmb");
  del(f, "v1/2026-11-25/00.dmb"); /* absent: still ok */
  del(f, "never/was");
  res g = get(f, "v1/2026-11-25/00.dmb", 0, 3);
  assert_int_equal(g.status, DM_ENOENT);
  res_free(&g);
  r = list(f, "v1/");
  assert_int_equal(r.n, 2);
  assert_string_equal(r.names[1], "v1/2026-11-24/01.dmb");
  res_free(&r);

  put(f, "v1/2026-11-25/00.dmb", "xy", 2);
  g = get(f, "v1/2026-11-25/00.dmb", 0, 10);
  assert_int_equal(g.status, 0);
  assert_int_equal(g.len, 2);
  assert_memory_equal(g.data, "xy", 2);
  res_free(&g);

  dm_blob_stats s;
  dm_blob_stats_get(f->b, &s);
  assert_int_equal(s.deletes, 3);
  assert_int_equal(s.lists, 8);
}

/* Keys with characters that URIs and XML escape are stored, listed and read as they are;
 * the stats count every call and byte. */
static void blob_list_delete_and_escaping(void **state) {
  fx *f = *state;
  const char *keys[] = {"v1/2026-11-25/01.dmb", "v1/2026-11-24/10.dmb", "v1/2026-11-24/02.dmb",
                        "v1/2026-11-24/a b+c&d<e>'\".dmb", "v2/other.dmb"};
  for (size_t i = 0; i < 5; i++) put(f, keys[i], keys[i], strlen(keys[i]));
  res r = list(f, "v1/2026-11-24/");
  assert_int_equal(r.n, 3);
  assert_string_equal(r.names[0], "v1/2026-11-24/02.dmb");
  assert_string_equal(r.names[1], "v1/2026-11-24/10.dmb");
  assert_string_equal(r.names[2], "v1/2026-11-24/a b+c&d<e>'\".dmb");
  res_free(&r);
  r = get(f, keys[3], 0, 100);
  assert_int_equal(r.status, 0);
  assert_string_equal((char *)r.data, keys[3]);
  res_free(&r);
  r = list(f, "");
  assert_int_equal(r.n, 5);
  assert_string_equal(r.names[0], "v1/2026-11-24/02.dmb");
  assert_string_equal(r.names[4], "v2/other.dmb");
  res_free(&r);
  r = list(f, "v3/");
  assert_int_equal(r.n, 0);
  res_free(&r);

  del(f, "v1/2026-11-24/10.dmb");
  r = get(f, "v1/2026-11-24/10.dmb", 0, 10);
  assert_int_equal(r.status, DM_ENOENT);
  res_free(&r);
  r = list(f, "v1/");
  assert_int_equal(r.n, 3);
  assert_string_equal(r.names[0], "v1/2026-11-24/02.dmb");
  assert_string_equal(r.names[1], "v1/2026-11-24/a b+c&d<e>'\".dmb");
  assert_string_equal(r.names[2], "v1/2026-11-25/01.dmb");
  res_free(&r);

  dm_blob_stats st;
  dm_blob_stats_get(f->b, &st);
  assert_int_equal(st.puts, 5);
  assert_int_equal(st.gets, 2);
  assert_int_equal(st.deletes, 1);
  assert_int_equal(st.lists, 4);
  size_t put_bytes = 0;
  for (size_t i = 0; i < 5; i++) put_bytes += strlen(keys[i]);
  assert_int_equal(st.bytes_put, put_bytes);
  assert_int_equal(st.bytes_got, strlen(keys[3]));
}

static inline void put_le32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint32_t get_le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t get_le64(const uint8_t *p) {
  return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

/* An object in the blobfile.h layout: header, chunks, an index of index_len bytes and the
 * 32-byte footer with its CRCs. (The index bytes are opaque here: the blob tests link the
 * blob module only, not the codec.) */
static inline uint8_t *make_object(size_t chunks_len, size_t index_len, size_t *len) {
  size_t n = DM_BLOBFILE_HEADER + chunks_len + index_len + DM_BLOBFILE_FOOTER;
  uint8_t *o = malloc(n);
  memcpy(o, "DMB1\x01\0\0\0", DM_BLOBFILE_HEADER);
  srandom(7);
  for (size_t i = DM_BLOBFILE_HEADER; i < n - DM_BLOBFILE_FOOTER; i++) o[i] = (uint8_t)random();
  uint64_t index_off = DM_BLOBFILE_HEADER + chunks_len;
  uint8_t *ft = o + n - DM_BLOBFILE_FOOTER;
  for (int i = 0; i < 8; i++) ft[i] = (uint8_t)(index_off >> (8 * i));
  put_le32(ft + 8, (uint32_t)index_len);
  put_le32(ft + 12, (uint32_t)index_len * 3);
  put_le32(ft + 16, 42);
  put_le32(ft + 20, dm_crc32c(0, o + index_off, index_len));
  put_le32(ft + 24, dm_crc32c(0, ft, 24));
  memcpy(ft + 28, "DMBF", 4);
  *len = n;
  return o;
}

/* The engine's blob reader: one suffix read of 64 KiB for footer and index, a second for
 * the index when it does not fit, then a chunk by offset. */
static inline void read_like_blob_reader(fx *f, const char *key, const uint8_t *obj,
                                         size_t len) {
  enum { TAIL = 65536 };
  res t = get(f, key, -TAIL, TAIL);
  assert_int_equal(t.status, 0);
  assert_int_equal(t.size, len);
  assert_int_equal(t.len, len < TAIL ? len : TAIL);
  const uint8_t *ft = t.data + t.len - DM_BLOBFILE_FOOTER;
  assert_memory_equal(ft + 28, "DMBF", 4);
  assert_int_equal(get_le32(ft + 24), dm_crc32c(0, ft, 24));
  uint64_t index_off = get_le64(ft);
  uint32_t index_len = get_le32(ft + 8);
  uint64_t tail_start = len - t.len;
  uint32_t crc;
  if (index_off >= tail_start) {
    crc = dm_crc32c(0, t.data + (index_off - tail_start), index_len);
  } else {
    res ix = get(f, key, (int64_t)index_off, index_len);
    assert_int_equal(ix.status, 0);
    assert_int_equal(ix.len, index_len);
    assert_memory_equal(ix.data, obj + index_off, index_len);
    crc = dm_crc32c(0, ix.data, ix.len);
    res_free(&ix);
  }
  assert_int_equal(crc, get_le32(ft + 20));
  res c = get(f, key, DM_BLOBFILE_HEADER + 1234, 777); /* a chunk */
  assert_int_equal(c.status, 0);
  assert_int_equal(c.len, 777);
  assert_memory_equal(c.data, obj + DM_BLOBFILE_HEADER + 1234, 777);
  res_free(&c);
  res_free(&t);
}

/* Objects in the blobfile.h layout, read the way the engine reads them. */
static void blob_object_round_trip(void **state) {
  fx *f = *state;
  size_t small_len, big_len;
  uint8_t *small = make_object(20000, 3000, &small_len); /* smaller than the tail read */
  uint8_t *big = make_object(300000, 90000, &big_len);   /* index bigger than the tail */
  put(f, "v1/2026-11-24/00.dmb", small, small_len);
  put(f, "v1/2026-11-24/01.dmb", big, big_len);
  read_like_blob_reader(f, "v1/2026-11-24/00.dmb", small, small_len);
  read_like_blob_reader(f, "v1/2026-11-24/01.dmb", big, big_len);
  res whole = get(f, "v1/2026-11-24/01.dmb", 0, big_len);
  assert_int_equal(whole.len, big_len);
  assert_memory_equal(whole.data, big, big_len);
  res_free(&whole);
  free(small);
  free(big);
}

/* Every case of the contract, for an engine's list of tests. */
#define BLOB_CONTRACT_TESTS(setup, teardown)                                   \
  cmocka_unit_test_setup_teardown(blob_put_get_ranges, setup, teardown),       \
  cmocka_unit_test_setup_teardown(blob_replace, setup, teardown),              \
  cmocka_unit_test_setup_teardown(blob_empty_object, setup, teardown),         \
  cmocka_unit_test_setup_teardown(blob_missing_key, setup, teardown),          \
  cmocka_unit_test_setup_teardown(blob_list_del, setup, teardown),             \
  cmocka_unit_test_setup_teardown(blob_list_delete_and_escaping, setup, teardown), \
  cmocka_unit_test_setup_teardown(blob_object_round_trip, setup, teardown)

#endif
