/* test_core_crc.c — CRC-32C: published check values, chaining, and agreement of the
 * SSE4.2 and table implementations with a bit-at-a-time reference on every length
 * 0..1000 at every misalignment. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "diamond/crc.h"

static uint32_t crc_ref(uint32_t crc, const uint8_t *p, size_t len) {
  crc = ~crc;
  for (size_t i = 0; i < len; i++) {
    crc ^= p[i];
    for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1)));
  }
  return ~crc;
}

/* xorshift64: reproducible test data */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

static void test_check_value(void **state) {
  (void)state;
  const char *s = "123456789";
  assert_int_equal(dm_crc32c(0, s, 9), 0xE3069283u);
  assert_int_equal(dm_crc32c_sw(0, s, 9), 0xE3069283u);
  assert_int_equal(crc_ref(0, (const uint8_t *)s, 9), 0xE3069283u);
  if (dm_crc32c_hw_available()) assert_int_equal(dm_crc32c_hw(0, s, 9), 0xE3069283u);
  else print_message("no SSE4.2 on this CPU: hardware path not tested\n");
}

/* RFC 3720 (iSCSI) appendix B.4 test vectors */
static void test_rfc3720_vectors(void **state) {
  (void)state;
  uint8_t buf[32];
  memset(buf, 0, sizeof buf);
  assert_int_equal(dm_crc32c(0, buf, 32), 0x8A9136AAu);
  memset(buf, 0xff, sizeof buf);
  assert_int_equal(dm_crc32c(0, buf, 32), 0x62A8AB43u);
  for (int i = 0; i < 32; i++) buf[i] = (uint8_t)i;
  assert_int_equal(dm_crc32c(0, buf, 32), 0x46DD794Eu);
  for (int i = 0; i < 32; i++) buf[i] = (uint8_t)(31 - i);
  assert_int_equal(dm_crc32c(0, buf, 32), 0x113FDB5Cu);
}

static void test_empty_and_chaining(void **state) {
  (void)state;
  uint8_t buf[300];
  for (size_t i = 0; i < sizeof buf; i++) buf[i] = (uint8_t)rnd();
  assert_int_equal(dm_crc32c(0, buf, 0), 0u);
  assert_int_equal(dm_crc32c(0x12345678u, buf, 0), 0x12345678u);
  uint32_t whole = dm_crc32c(0, buf, sizeof buf);
  for (size_t cut = 0; cut <= sizeof buf; cut += 7) {
    uint32_t c = dm_crc32c(dm_crc32c(0, buf, cut), buf + cut, sizeof buf - cut);
    assert_int_equal(c, whole);
    c = dm_crc32c_sw(dm_crc32c_sw(0, buf, cut), buf + cut, sizeof buf - cut);
    assert_int_equal(c, whole);
  }
}

static void test_paths_agree(void **state) {
  (void)state;
  static uint8_t buf[1000 + 16];
  for (size_t i = 0; i < sizeof buf; i++) buf[i] = (uint8_t)rnd();
  int hw = dm_crc32c_hw_available();
  for (size_t len = 0; len <= 1000; len++) {
    for (size_t off = 0; off < 8; off++) {
      uint32_t seed = (uint32_t)rnd();
      uint32_t want = crc_ref(seed, buf + off, len);
      assert_int_equal(dm_crc32c_sw(seed, buf + off, len), want);
      if (hw) assert_int_equal(dm_crc32c_hw(seed, buf + off, len), want);
      assert_int_equal(dm_crc32c(seed, buf + off, len), want);
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_check_value),
      cmocka_unit_test(test_rfc3720_vectors),
      cmocka_unit_test(test_empty_and_chaining),
      cmocka_unit_test(test_paths_agree),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
