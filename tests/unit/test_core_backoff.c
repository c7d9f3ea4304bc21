/* test_core_backoff.c — the retry policy: capped exponential ceiling, full jitter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "diamond/backoff.h"

static void ceiling_doubles_then_caps(void **state) {
  (void)state;
  assert_int_equal(dm_backoff_ceil_ms(0, 100, 30000), 100);
  assert_int_equal(dm_backoff_ceil_ms(1, 100, 30000), 200);
  assert_int_equal(dm_backoff_ceil_ms(8, 100, 30000), 25600);
  assert_int_equal(dm_backoff_ceil_ms(9, 100, 30000), 30000);
  assert_int_equal(dm_backoff_ceil_ms(4000000000u, 100, 30000), 30000); /* no overflow */
  assert_int_equal(dm_backoff_ceil_ms(3, 50, 5000), 400);
  assert_int_equal(dm_backoff_ceil_ms(7, 50, 5000), 5000);
}

static void full_jitter_spreads_over_zero_to_ceiling(void **state) {
  (void)state;
  srandom(1);
  for (uint32_t attempt = 0; attempt < 40; attempt++) {
    uint64_t ceil = dm_backoff_ceil_ms(attempt, 100, 30000);
    uint64_t lo = UINT64_MAX, hi = 0, sum = 0;
    for (int i = 0; i < 4000; i++) {
      uint64_t d = dm_backoff_ms(attempt, 100, 30000);
      assert_true(d <= ceil);
      lo = d < lo ? d : lo;
      hi = d > hi ? d : hi;
      sum += d;
    }
    assert_true(hi > ceil * 9 / 10); /* reaches near the ceiling */
    assert_true(lo < ceil / 10 + 1); /* and near zero */
    double mean = (double)sum / 4000;
    assert_true(mean > (double)ceil * 0.4 && mean < (double)ceil * 0.6); /* uniform */
  }
  assert_int_equal(dm_backoff_ms(5, 0, 1000), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(ceiling_doubles_then_caps),
      cmocka_unit_test(full_jitter_spreads_over_zero_to_ceiling),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
