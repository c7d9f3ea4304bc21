/* test_core_batch.c — the point batch, its WAL wire form, and the two point-array
 * primitives: last-write-wins sort/dedup and the tier precedence merge. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "diamond/error.h"
#include "diamond/point.h"

static void add_and_name(void **state) {
  (void)state;
  dm_batch b;
  dm_batch_init(&b);
  assert_int_equal(dm_batch_add(&b, "host.h1.cpu", 11, 60, 1.5), 0);
  assert_int_equal(dm_batch_add_same(&b, 0, 120, 2.5), 0);
  assert_int_equal(dm_batch_add(&b, "host.h2.mem", 11, 60, -0.0), 0);
  assert_int_equal(dm_batch_add_same(&b, 7, 1, 1), DM_EINVAL);
  assert_int_equal(b.n, 3);
  size_t len;
  const char *s = dm_batch_name(&b, 1, &len);
  assert_int_equal(len, 11);
  assert_memory_equal(s, "host.h1.cpu", 11);
  s = dm_batch_name(&b, 2, &len);
  assert_memory_equal(s, "host.h2.mem", 11);
  dm_batch_reset(&b);
  assert_int_equal(b.n, 0);
  dm_batch_free(&b);
}

static void wire_round_trip(void **state) {
  (void)state;
  dm_batch b, c;
  dm_batch_init(&b);
  dm_batch_init(&c);
  const double vals[] = {0.0, -0.0, 1e308, -4.9e-324, 3.14159, -1};
  const int64_t times[] = {0, -86400, INT64_MAX / 2, INT64_MIN / 2, 1700000000, 60};
  for (int i = 0; i < 6; i++) {
    const char *name = (i % 2) ? "a.b" : "service.web.requests";
    assert_int_equal(dm_batch_add(&b, name, strlen(name), times[i], vals[i]), 0);
  }
  /* same name as the previous entry: written once */
  assert_int_equal(dm_batch_add(&b, "a.b", 3, 7, 7.0), 0);
  size_t need = dm_batch_encoded_size(&b);
  uint8_t *buf = malloc(need);
  assert_non_null(buf);
  assert_int_equal(dm_batch_encode(&b, buf), need);
  assert_int_equal(dm_batch_decode(&c, buf, need), 0);
  assert_int_equal(c.n, b.n);
  for (size_t i = 0; i < b.n; i++) {
    size_t l1, l2;
    const char *n1 = dm_batch_name(&b, i, &l1), *n2 = dm_batch_name(&c, i, &l2);
    assert_int_equal(l1, l2);
    assert_memory_equal(n1, n2, l1);
    assert_int_equal(b.e[i].t, c.e[i].t);
    assert_memory_equal(&b.e[i].v, &c.e[i].v, sizeof(double)); /* bit-exact, -0 too */
  }
  /* every truncation is corrupt and leaves the batch as it was */
  for (size_t cut = 0; cut < need; cut++) {
    size_t before = c.n;
    assert_int_equal(dm_batch_decode(&c, buf, cut), DM_ECORRUPT);
    assert_int_equal(c.n, before);
  }
  /* trailing garbage is corrupt */
  uint8_t *longer = malloc(need + 1);
  memcpy(longer, buf, need);
  longer[need] = 0;
  assert_int_equal(dm_batch_decode(&c, longer, need + 1), DM_ECORRUPT);
  free(longer);
  free(buf);
  dm_batch_free(&b);
  dm_batch_free(&c);
}

/* A varint's 10th byte carries bit 63 only; more bits there are corrupt, not dropped
 * (found by tests/fuzz/fuzz_batch.c: 0x6f there decoded like 0x01). */
static void wire_varint_overflow(void **state) {
  (void)state;
  uint8_t buf[32] = {1, 1, 'a'}; /* one entry named "a" */
  size_t at = 3;
  for (int i = 0; i < 9; i++) buf[at++] = 0xff; /* zigzag time: 63 bits set ... */
  buf[at++] = 0x01;                              /* ... and bit 63: INT64_MIN */
  memset(buf + at, 0, 8);
  at += 8;
  dm_batch b;
  dm_batch_init(&b);
  assert_int_equal(dm_batch_decode(&b, buf, at), 0);
  assert_int_equal(b.n, 1);
  assert_int_equal(b.e[0].t, INT64_MIN);
  assert_int_equal(dm_batch_encoded_size(&b), at);
  buf[at - 9] = 0x6f; /* bits 64..69 set too */
  assert_int_equal(dm_batch_decode(&b, buf, at), DM_ECORRUPT);
  buf[at - 9] = 0x02;
  assert_int_equal(dm_batch_decode(&b, buf, at), DM_ECORRUPT);
  assert_int_equal(b.n, 1);
  uint8_t count[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7e};
  assert_int_equal(dm_batch_decode(&b, count, sizeof count), DM_ECORRUPT);
  assert_int_equal(b.n, 1);
  dm_batch_free(&b);
}

static void sort_dedup_last_wins(void **state) {
  (void)state;
  dm_point p[] = {{120, 1}, {60, 2}, {120, 3}, {0, 4}, {60, 5}, {180, 6}, {120, 7}};
  size_t n = dm_points_sort_dedup(p, 7);
  assert_int_equal(n, 4);
  const dm_point want[] = {{0, 4}, {60, 5}, {120, 7}, {180, 6}};
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(p[i].t, want[i].t);
    assert_true(p[i].v == want[i].v);
  }
  /* sorted input with duplicates */
  dm_point q[] = {{1, 1}, {1, 2}, {2, 3}, {2, 4}};
  assert_int_equal(dm_points_sort_dedup(q, 4), 2);
  assert_true(q[0].v == 2 && q[1].v == 4);
  /* already clean */
  dm_point r[] = {{1, 1}, {2, 2}};
  assert_int_equal(dm_points_sort_dedup(r, 2), 2);
  assert_int_equal(dm_points_sort_dedup(r, 0), 0);
}

static void sort_dedup_large_random(void **state) {
  (void)state;
  enum { N = 20000 };
  dm_point *p = malloc(N * sizeof *p);
  double last[1000];
  for (int i = 0; i < 1000; i++) last[i] = NAN;
  srand(7);
  for (int i = 0; i < N; i++) {
    int t = rand() % 1000;
    p[i] = (dm_point){t, (double)i};
    last[t] = i;
  }
  size_t n = dm_points_sort_dedup(p, N);
  size_t k = 0;
  for (int t = 0; t < 1000; t++) {
    if (isnan(last[t])) continue;
    assert_true(k < n);
    assert_int_equal(p[k].t, t);
    assert_true(p[k].v == last[t]);
    k++;
  }
  assert_int_equal(k, n);
  free(p);
}

static void merge_precedence(void **state) {
  (void)state;
  /* cache (hi) over table (lo): equal times take hi's value */
  const dm_point hi[] = {{60, 10}, {180, 30}, {300, 50}};
  const dm_point lo[] = {{0, -1}, {60, -2}, {120, -3}, {300, -5}, {360, -6}};
  dm_point out[8];
  size_t n = dm_points_merge(hi, 3, lo, 5, out);
  const dm_point want[] = {{0, -1}, {60, 10}, {120, -3}, {180, 30}, {300, 50}, {360, -6}};
  assert_int_equal(n, 6);
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(out[i].t, want[i].t);
    assert_true(out[i].v == want[i].v);
  }
  assert_int_equal(dm_points_merge(hi, 0, lo, 5, out), 5);
  assert_int_equal(dm_points_merge(hi, 3, lo, 0, out), 3);
  assert_int_equal(dm_points_merge(NULL, 0, NULL, 0, out), 0);
  /* three tiers: cache > (table > blob) */
  const dm_point blob[] = {{0, 100}, {60, 100}, {120, 100}};
  dm_point mid[8], all[16];
  size_t nm = dm_points_merge(lo, 5, blob, 3, mid);
  size_t na = dm_points_merge(hi, 3, mid, nm, all);
  assert_int_equal(na, 6);
  assert_true(all[0].v == -1 && all[1].v == 10 && all[2].v == -3);
}

static void floor_negative(void **state) {
  (void)state;
  assert_int_equal(dm_floor(119, 60), 60);
  assert_int_equal(dm_floor(120, 60), 120);
  assert_int_equal(dm_floor(-1, 60), -60);
  assert_int_equal(dm_floor(-60, 60), -60);
  assert_int_equal(dm_floor(0, 3600), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(add_and_name),        cmocka_unit_test(wire_round_trip),
      cmocka_unit_test(sort_dedup_last_wins), cmocka_unit_test(sort_dedup_large_random),
      cmocka_unit_test(merge_precedence),     cmocka_unit_test(floor_negative),
      cmocka_unit_test(wire_varint_overflow),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
