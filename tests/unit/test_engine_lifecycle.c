/* test_engine_lifecycle.c — regression tests from the storage review: the engine's close
 * with timers and reads in flight, admin callbacks that start the next flush from inside
 * their callback, the ager merging into an existing blob whatever its in-memory day set
 * says, the blob reader across a replaced object, and the name index's incremental sort. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "diamond/blobfile.h"
#include "diamond/error.h"
#include "diamond/gorilla.h"
#include "diamond/timefmt.h"
#include "test_engine_fx.h"

/* ---- close ---- */

static void touch_handle(uv_handle_t *h, void *arg) {
  /* libuv is not instrumented: read the handle here so ASan sees freed memory */
  *(size_t *)arg += (size_t)((volatile uv_handle_t *)h)->type;
}

/* The flusher and ager timers live inside the engine: close must let their uv_close
 * callbacks run before freeing it (main() walks the loop's handles right after close). */
static void close_after_start(void **state) {
  fx *f = *state;
  dm_engine_start(f->e);
  int64_t now = dm_floor(dm_now(), 60);
  dm_point a[] = {{now, 1}};
  write_points(f, "host.h1.a", a, 1);
  dm_engine_close(f->e);
  f->e = NULL;
  size_t sum = 0;
  uv_walk(&f->loop, touch_handle, &sum); /* handles still closing must be live memory */
  while (uv_run(&f->loop, UV_RUN_NOWAIT) != 0) {
  }
  open_engine(f);
  result r = read_series(f, "host.h1.a", now - 60, now);
  expect(&r, a, 1);
}

/* A read whose table query is still on the thread pool when the server shuts down: close
 * waits for it (its context points into the engine) and the caller hears back once. */
static void read_in_flight_at_close(void **state) {
  fx *f = *state;
  int64_t now = dm_floor(dm_now(), 60);
  dm_point a[] = {{now - 7200, 1}, {now - 60, 2}};
  write_points(f, "host.h1.a", a, 2);
  run_admin(f, 0); /* into the table, so the read needs the pool */
  result r = {0};
  assert_int_equal(dm_engine_read(f->e, "host.h1.a", 9, now - 86400, now, on_points, &r), 0);
  result l = {0};
  assert_int_equal(dm_engine_latest(f->e, "host.h1.a", 9, on_points, &l), 0);
  dm_engine_close(f->e);
  f->e = NULL;
  assert_int_equal(r.calls, 1);
  expect(&r, a, 2);
  assert_int_equal(l.calls, 1);
  expect(&l, &a[1], 1);
  while (uv_run(&f->loop, UV_RUN_NOWAIT) != 0) {
  }
  assert_int_equal(r.calls, 1);
  assert_int_equal(l.calls, 1);
}

/* ---- admin callbacks that start the next round themselves ---- */

typedef struct chain {
  fx *f;
  result first, second, third;
  int64_t t;
} chain;

static void first_flushed(void *arg, int status) {
  chain *c = arg;
  on_done(&c->first, status);
  /* a point applied just now (as a write completing in this turn would), then the next
   * flush from inside the callback: that round has work, so it is still running when
   * the callback returns */
  dm_engine *e = c->f->e;
  dm_batch b;
  dm_batch_init(&b);
  assert_int_equal(dm_batch_add(&b, "host.h1.late", 12, c->t, 3), 0);
  result applied = {0};
  assert_int_equal(dm_cache_append(e->cache, &b, dm_wal_current_seg(e->wal), on_done, &applied), 0);
  assert_int_equal(applied.status, 0);
  dm_batch_free(&b);
  assert_int_equal(dm_engine_flush(e, on_done, &c->third), 0);
}

static void flush_from_flush_callback(void **state) {
  fx *f = *state;
  chain c = {.f = f, .t = dm_floor(dm_now(), 60)};
  dm_point a[] = {{c.t, 1}};
  write_points(f, "host.h1.a", a, 1);
  assert_int_equal(dm_engine_flush(f->e, first_flushed, &c), 0);
  assert_int_equal(dm_engine_flush(f->e, on_done, &c.second), 0); /* waits for the next */
  while (!(c.first.done && c.second.done && c.third.done) && uv_run(&f->loop, UV_RUN_ONCE) != 0) {
  }
  assert_int_equal(c.first.calls, 1);
  assert_int_equal(c.second.calls, 1);
  assert_int_equal(c.third.calls, 1);
  assert_int_equal(c.first.status, 0);
  assert_int_equal(c.second.status, 0);
  assert_int_equal(c.third.status, 0);
  assert_int_equal(f->e->flush_running, 0);
  dm_cache_stats cs;
  dm_cache_stats_get(f->e->cache, &cs);
  assert_int_equal(cs.windows, 0); /* the late point was flushed by one of the rounds */
  dm_point late[] = {{c.t, 3}};
  expect((result[]){read_series(f, "host.h1.late", c.t - 60, c.t)}, late, 1);
}

/* ---- the ager and an existing blob ---- */

/* Late points into a day that is packed and swept: the repack must merge the existing
 * object even when the in-memory set of blob days does not list the day (it is only a
 * read hint; an allocation failure in dm_engine_add_blob_day loses an entry). */
static void repack_merges_blob_missing_from_day_set(void **state) {
  fx *f = *state;
  int64_t now = dm_floor(dm_now(), 60);
  int64_t old = dm_floor(now - 20 * 86400, 86400) + 3600;
  const char *s = "host.h1.cpu";
  dm_point p[] = {{old, 1}, {old + 60, 2}};
  write_points(f, s, p, 2);
  run_admin(f, 0);
  run_admin(f, 1); /* packed into a blob, the table's copy swept */
  f->e->nblob_days = 0;
  dm_point late[] = {{old + 60, 20}, {old + 120, 3}};
  write_points(f, s, late, 2);
  run_admin(f, 0);
  run_admin(f, 1); /* repack */
  close_engine(f);
  open_engine(f); /* the day set comes back from the blob listing */
  const dm_point want[] = {{old, 1}, {old + 60, 20}, {old + 120, 3}};
  expect((result[]){read_series(f, s, old - 60, old + 3600)}, want, 3);
}

/* ---- the blob reader across a replaced object ---- */

typedef struct fake_req {
  dm_bytes_cb cb;
  void *arg;
  int status;
  uint8_t *data;
  size_t len;
  uint64_t size;
} fake_req;

/* One in-memory object; get_range copies the bytes when called (as a pool thread would
 * read them) and calls back only from fake_deliver. */
typedef struct fake_blob {
  dm_blob base;
  uint8_t *obj;
  size_t len;
  fake_req q[16];
  size_t nq;
} fake_blob;

static int fake_get_range(dm_blob *b, const char *key, int64_t off, size_t len, dm_bytes_cb cb,
                          void *arg) {
  fake_blob *f = (fake_blob *)b;
  (void)key;
  assert_true(f->nq < 16);
  fake_req *r = &f->q[f->nq++];
  *r = (fake_req){.cb = cb, .arg = arg, .status = DM_ENOENT};
  if (f->obj == NULL) return 0;
  uint64_t size = f->len, start;
  if (off < 0) start = size > len ? size - len : 0;
  else start = (uint64_t)off < size ? (uint64_t)off : size;
  size_t n = size - start < len ? (size_t)(size - start) : len;
  r->data = malloc(n ? n : 1);
  memcpy(r->data, f->obj + start, n);
  r->len = n;
  r->size = size;
  r->status = 0;
  return 0;
}

static void fake_deliver(fake_blob *f) {
  while (f->nq > 0) {
    fake_req r = f->q[0];
    memmove(f->q, f->q + 1, --f->nq * sizeof *f->q);
    r.cb(r.arg, r.status, r.data, r.len, r.size);
    free(r.data);
  }
}

static int fake_put(dm_blob *b, const char *k, const uint8_t *d, size_t n, dm_done_cb cb,
                    void *arg) {
  (void)b, (void)k, (void)d, (void)n, (void)cb, (void)arg;
  return DM_EINVAL;
}
static int fake_list(dm_blob *b, const char *prefix, dm_names_cb cb, void *arg) {
  (void)b, (void)prefix, (void)cb, (void)arg;
  return DM_EINVAL;
}
static int fake_del(dm_blob *b, const char *k, dm_done_cb cb, void *arg) {
  (void)b, (void)k, (void)cb, (void)arg;
  return DM_EINVAL;
}
static void fake_stats(dm_blob *b, dm_blob_stats *out) {
  (void)b;
  memset(out, 0, sizeof *out);
}
static void fake_close(dm_blob *b) { (void)b; }

static const dm_blob_ops fake_ops = {.version = 2,
                                     .name = "fake",
                                     .put = fake_put,
                                     .get_range = fake_get_range,
                                     .list = fake_list,
                                     .del = fake_del,
                                     .stats = fake_stats,
                                     .close = fake_close};

typedef struct series_def {
  const char *name;
  dm_point p[4];
  size_t n;
} series_def;

/* An object with the series in the given order (chunks are laid out in add order). */
static void make_obj(fake_blob *f, const series_def *s, size_t k) {
  dm_blobfile_writer *w;
  assert_int_equal(dm_blobfile_writer_new(&w), 0);
  for (size_t i = 0; i < k; i++) {
    uint8_t chunk[256];
    int len = dm_chunk_encode(s[i].p, s[i].n, chunk, sizeof chunk);
    assert_true(len > 0);
    assert_int_equal(dm_blobfile_writer_add(w, s[i].name, strlen(s[i].name), chunk, (size_t)len,
                                            s[i].p[0].t, s[i].p[s[i].n - 1].t, (uint32_t)s[i].n),
                     0);
  }
  free(f->obj);
  assert_int_equal(dm_blobfile_writer_finish(w, &f->obj, &f->len), 0);
  dm_blobfile_writer_free(w);
}

static result reader_read(fake_blob *f, dm_blob_reader *r, const char *series) {
  result res = {0};
  assert_int_equal(dm_blob_reader_read(r, "v1/2026-01-01/00.dmb", series, strlen(series),
                                       on_points, &res),
                   0);
  fake_deliver(f);
  assert_int_equal(res.calls, 1);
  return res;
}

static const series_def s_b = {"b", {{60, 5}}, 1};
static const series_def s_a1 = {"a", {{60, 1}, {120, 2}}, 2};
static const series_def s_a2 = {"a", {{60, 1}, {120, 20}}, 2};
static const series_def s_c = {"c", {{60, 7}, {120, 8}, {180, 9}}, 3};

/* A read that fetched the old index before the ager invalidated the key must not put it
 * into the LRU: later reads would miss the series the repack added. */
static void blob_reader_stale_index_not_cached(void **state) {
  (void)state;
  fake_blob f = {.base = {&fake_ops}};
  dm_blob_reader *r;
  assert_int_equal(dm_blob_reader_new(&r, &f.base, 4), 0);
  const char *key = "v1/2026-01-01/00.dmb";
  make_obj(&f, (series_def[]){s_b, s_a1}, 2);
  result res = {0};
  assert_int_equal(dm_blob_reader_read(r, key, "b", 1, on_points, &res), 0); /* old tail */
  make_obj(&f, (series_def[]){s_b, s_a2, s_c}, 3); /* repacked: b stays at its offset */
  dm_blob_reader_invalidate(r, key);
  fake_deliver(&f);
  assert_int_equal(res.calls, 1);
  expect(&res, s_b.p, 1);
  res = reader_read(&f, r, "c");
  expect(&res, s_c.p, 3);
  res = reader_read(&f, r, "a");
  expect(&res, s_a2.p, 2);
  dm_blob_reader_free(r);
  free(f.obj);
}

/* A cached index used against an object replaced before the invalidation reached the
 * reader: the chunk fails its CRC, the reader reloads the index once and succeeds. A chunk
 * that is really corrupt fails after that one retry, with one callback. */
static void blob_reader_retries_after_replace(void **state) {
  (void)state;
  fake_blob f = {.base = {&fake_ops}};
  dm_blob_reader *r;
  assert_int_equal(dm_blob_reader_new(&r, &f.base, 4), 0);
  make_obj(&f, (series_def[]){s_a1, s_b}, 2);
  result res = reader_read(&f, r, "a");
  expect(&res, s_a1.p, 2);
  make_obj(&f, (series_def[]){s_c, s_a2, s_b}, 3); /* a moved; no invalidate yet */
  res = reader_read(&f, r, "a");
  expect(&res, s_a2.p, 2);
  res = reader_read(&f, r, "c");
  expect(&res, s_c.p, 3);
  /* corrupt the chunk of c (the first one, right after the header) */
  f.obj[DM_BLOBFILE_HEADER + 2] ^= 0x40;
  dm_blob_reader_invalidate(r, "v1/2026-01-01/00.dmb");
  res = reader_read(&f, r, "c");
  assert_int_equal(res.status, DM_ECORRUPT);
  assert_int_equal(res.n, 0);
  res = reader_read(&f, r, "a"); /* the rest of the object still reads */
  expect(&res, s_a2.p, 2);
  dm_blob_reader_free(r);
  free(f.obj);
}

/* ---- name index ---- */

static void collect(void *arg, const char *name, size_t len) {
  char *out = arg;
  strncat(out, name, len);
  strcat(out, ";");
}

static void name_index_sorts_new_names_in(void **state) {
  (void)state;
  dm_name_index *ix;
  assert_int_equal(dm_name_index_new(&ix), 0);
  const char *first[] = {"m", "c", "x", "a.b"};
  for (size_t i = 0; i < 4; i++) assert_int_equal(dm_name_index_add(ix, first[i], strlen(first[i])), 1);
  char got[256] = "";
  dm_name_index_prefix(ix, "", 0, collect, got);
  assert_string_equal(got, "a.b;c;m;x;");
  const char *more[] = {"z", "b", "a", "n", "m"}; /* before, between, after; one known */
  for (size_t i = 0; i < 5; i++)
    assert_int_equal(dm_name_index_add(ix, more[i], strlen(more[i])), i == 4 ? 0 : 1);
  got[0] = '\0';
  dm_name_index_prefix(ix, "", 0, collect, got);
  assert_string_equal(got, "a;a.b;b;c;m;n;x;z;");
  got[0] = '\0';
  dm_name_index_prefix(ix, "a", 1, collect, got);
  assert_string_equal(got, "a;a.b;");
  /* many rounds of a few new names each, checked against a full sort */
  char name[32];
  for (int round = 0; round < 20; round++) {
    for (int i = 0; i < 50; i++) {
      snprintf(name, sizeof name, "s.%05d", (round * 7919 + i * 104729) % 100000);
      assert_true(dm_name_index_add(ix, name, strlen(name)) >= 0);
    }
    char *all = calloc(1, 32 * 2000);
    dm_name_index_prefix(ix, "s.", 2, collect, all);
    size_t n = 0;
    const char *prev = NULL;
    for (char *p = all, *semi; (semi = strchr(p, ';')) != NULL; p = semi + 1, n++) {
      *semi = '\0';
      if (prev) assert_true(strcmp(prev, p) < 0);
      prev = p;
    }
    assert_int_equal(n, dm_name_index_count(ix) - 8);
    free(all);
  }
  dm_name_index_free(ix);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(close_after_start, setup, teardown),
      cmocka_unit_test_setup_teardown(read_in_flight_at_close, setup, teardown),
      cmocka_unit_test_setup_teardown(flush_from_flush_callback, setup, teardown),
      cmocka_unit_test_setup_teardown(repack_merges_blob_missing_from_day_set, setup, teardown),
      cmocka_unit_test(blob_reader_stale_index_not_cached),
      cmocka_unit_test(blob_reader_retries_after_replace),
      cmocka_unit_test(name_index_sorts_new_names_in),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
