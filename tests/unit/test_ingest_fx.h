/* test_ingest_fx.h — the fixture of the agent parsers' tests (collectd, influx): tight
 * limits (10 points, 64-byte names, 60 s step, times 1600000000 .. 1800000000), one batch
 * b, the parser's message err and its skipped count, reset for every test; assert_entry
 * checks entry i of b. Include after cmocka.h and stdio.h. */
#ifndef DIAMOND_TEST_INGEST_FX_H
#define DIAMOND_TEST_INGEST_FX_H

#include "diamond/ingest.h"
#include "diamond/point.h"

static const dm_ingest_limits lim = {
    .max_points = 10, .max_name_len = 64, .step = 60,
    .min_time = 1600000000, .max_time = 1800000000,
};

static dm_batch b;
static char err[512];
static size_t skipped;

static int setup(void **state) {
  (void)state;
  dm_batch_init(&b);
  err[0] = '\0';
  skipped = 0;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  dm_batch_free(&b);
  return 0;
}

/* Entry i of b is (name, t, v). */
static void assert_entry(size_t i, const char *name, int64_t t, double v) {
  size_t len;
  assert_true(i < b.n);
  const char *got = dm_batch_name(&b, i, &len);
  char buf[128];
  snprintf(buf, sizeof buf, "%.*s", (int)len, got);
  assert_string_equal(buf, name);
  assert_int_equal(b.e[i].t, t);
  assert_true(b.e[i].v == v);
}

#endif
