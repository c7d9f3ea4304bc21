/* test_cache_redis_codec.c — the pure parts of the Redis cache: the 16-byte window
 * records (last record of a time wins, any order, torn values refused), CRC16, hash tags
 * and key slots (expected slots are what redis-server 7's CLUSTER KEYSLOT answers), RESP
 * formatting, and each script's SHA-1 matching its body. No server needed. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../src/cache/redis_cluster.h"
#include "../../src/cache/redis_records.h"
#include "../../src/cache/redis_resp.h"
#include "../../src/cache/redis_scripts.h"
#include "diamond/crc16.h"
#include "diamond/error.h"

static void test_record_layout(void **state) {
  (void)state;
  unsigned char r[DM_RR_SIZE];
  dm_rr_put(r, 0x0102030405060708LL, 1.0); /* 1.0 = 0x3FF0000000000000 */
  static const unsigned char want[DM_RR_SIZE] = {1, 2, 3, 4, 5, 6, 7, 8,
                                                 0x3f, 0xf0, 0, 0, 0, 0, 0, 0};
  assert_memory_equal(r, want, DM_RR_SIZE);
  dm_rr_put(r, -1, -0.0);
  for (int i = 0; i < 8; i++) assert_int_equal(r[i], 0xff);
  assert_int_equal(r[8], 0x80);
}

static void test_record_decode(void **state) {
  (void)state;
  /* unsorted, with overwrites: the LAST record of a time wins */
  const int64_t t[] = {180, 60, 120, 60, -60, 180, 60};
  const double v[] = {1, 2, 3, 4, -1e300, 5, 6};
  unsigned char buf[7 * DM_RR_SIZE];
  for (int i = 0; i < 7; i++) dm_rr_put(buf + i * DM_RR_SIZE, t[i], v[i]);
  dm_point p[7];
  size_t n = 99;
  assert_int_equal(dm_rr_decode(buf, sizeof buf, p, &n), 0);
  assert_int_equal(n, 4);
  assert_int_equal(p[0].t, -60);
  assert_true(p[0].v == -1e300);
  assert_int_equal(p[1].t, 60);
  assert_true(p[1].v == 6);
  assert_int_equal(p[2].t, 120);
  assert_true(p[2].v == 3);
  assert_int_equal(p[3].t, 180);
  assert_true(p[3].v == 5);
  /* special values survive bit for bit */
  dm_rr_put(buf, 0, -0.0);
  assert_int_equal(dm_rr_decode(buf, DM_RR_SIZE, p, &n), 0);
  assert_int_equal(n, 1);
  assert_true(p[0].v == 0.0 && signbit(p[0].v));
  /* empty */
  assert_int_equal(dm_rr_decode(buf, 0, p, &n), 0);
  assert_int_equal(n, 0);
}

static void test_record_torn(void **state) {
  (void)state;
  unsigned char buf[3 * DM_RR_SIZE] = {0};
  dm_point p[3];
  size_t n = 99;
  assert_int_equal(dm_rr_decode(buf, 2 * DM_RR_SIZE + 1, p, &n), DM_ECORRUPT);
  assert_int_equal(n, 0);
  assert_int_equal(dm_rr_decode(buf, DM_RR_SIZE - 1, p, &n), DM_ECORRUPT);
  assert_int_equal(dm_rr_decode(buf, 17, p, &n), DM_ECORRUPT);
}

static void test_crc16(void **state) {
  (void)state;
  assert_int_equal(dm_crc16("123456789", 9), 0x31C3);
  assert_int_equal(dm_crc16("", 0), 0);
  assert_int_equal(dm_crc16("A", 1), 0x58E5);
}

static int slot(const char *k) { return dm_rc_key_slot(k, strlen(k)); }

static void test_key_slots(void **state) {
  (void)state;
  /* each value is CLUSTER KEYSLOT of redis-server 7.0 */
  assert_int_equal(slot("foo"), 12182);
  assert_int_equal(slot("123456789"), 12739);
  assert_int_equal(slot("{user1000}.following"), 3443);
  assert_int_equal(slot("{user1000}.followers"), 3443);
  assert_int_equal(slot("foo{}{bar}"), 8363); /* first tag empty: the whole key */
  assert_int_equal(slot("foo{{bar}}zap"), 4015); /* the tag is "{bar" */
  assert_int_equal(slot("{bar"), 4015);
  assert_int_equal(slot("foo{bar}{zap}"), 5061); /* the first tag only: "bar" */
  assert_int_equal(slot("bar"), 5061);
  assert_int_equal(slot("{}"), 15257);
  assert_int_equal(slot("{"), 4092);
  assert_int_equal(slot("}"), 12090);
  assert_int_equal(slot(""), 0);
  assert_int_equal(slot("a{b}"), 3300);
  /* diamond's keys: a series' keys share its slot, a shard's keys theirs */
  assert_int_equal(slot("dm:w:{host.h1.cpu}:1699999200"), 12710);
  assert_int_equal(slot("host.h1.cpu"), 12710);
  assert_int_equal(slot("dm:s:{host.h1.cpu}"), 12710);
  assert_int_equal(slot("dm:f:{host.h1.cpu}:1699999200"), 12710);
  assert_int_equal(slot("dm:dirty:{s3}"), 6970);
  assert_int_equal(slot("dm:gen:{s3}"), 6970);
  assert_int_equal(slot("dm:lease:{s3}"), 6970);
}

static void test_hash_tag(void **state) {
  (void)state;
  size_t off, len;
  assert_int_equal(dm_rc_hash_tag("{user1000}.following", 20, &off, &len), 1);
  assert_int_equal(off, 1);
  assert_int_equal(len, 8);
  assert_int_equal(dm_rc_hash_tag("foo{}{bar}", 10, &off, &len), 0);
  assert_int_equal(off, 0);
  assert_int_equal(len, 10);
  assert_int_equal(dm_rc_hash_tag("foo{{bar}}zap", 13, &off, &len), 1);
  assert_int_equal(off, 4);
  assert_int_equal(len, 4);
  assert_int_equal(dm_rc_hash_tag("foo{bar}{zap}", 13, &off, &len), 1);
  assert_int_equal(off, 4);
  assert_int_equal(len, 3);
  assert_int_equal(dm_rc_hash_tag("foo{bar", 7, &off, &len), 0);
  assert_int_equal(len, 7);
  assert_int_equal(dm_rc_hash_tag("}{", 2, &off, &len), 0);
  /* a tag is found only within the given length */
  assert_int_equal(dm_rc_hash_tag("ab{cd}", 5, &off, &len), 0);
}

static void test_resp(void **state) {
  (void)state;
  dm_buf b;
  dm_buf_init(&b);
  dm_resp_begin(&b, 3);
  dm_resp_str(&b, "APPEND");
  size_t off = dm_resp_key(&b, "dm:w:{", "a.b", 3, "}:", 1, -60);
  dm_resp_i64(&b, INT64_MIN);
  const char want[] = "*3\r\n$6\r\nAPPEND\r\n$14\r\ndm:w:{a.b}:-60\r\n"
                      "$20\r\n-9223372036854775808\r\n";
  assert_int_equal(b.len, sizeof want - 1);
  assert_memory_equal(b.p, want, b.len);
  assert_memory_equal(b.p + off, "dm:w:{a.b}:-60", 14);
  dm_buf_free(&b);
  char num[24];
  assert_int_equal(dm_resp_i64_str(num, 0), 1);
  assert_string_equal(num, "0");
  assert_int_equal(dm_resp_i64_str(num, INT64_MAX), 19);
  assert_string_equal(num, "9223372036854775807");
}

/* Every script's SHA-1 is the SHA-1 of its body (sha1sum, coreutils), so a script edited
 * without its SHA-1 fails here before any server sees it. */
static void test_scripts_table(void **state) {
  (void)state;
  char path[] = "/tmp/dm_script_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  for (int i = 0; i < DM_RS_COUNT; i++) {
    assert_non_null(dm_rs_body[i]);
    assert_int_equal(strlen(dm_rs_sha[i]), 40);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(dm_rs_body[i], f);
    fclose(f);
    char cmd[128], out[64] = "";
    snprintf(cmd, sizeof cmd, "sha1sum %s", path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    assert_non_null(fgets(out, sizeof out, p));
    pclose(p);
    out[40] = '\0';
    assert_string_equal(out, dm_rs_sha[i]);
  }
  unlink(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_record_layout), cmocka_unit_test(test_record_decode),
      cmocka_unit_test(test_record_torn),   cmocka_unit_test(test_crc16),
      cmocka_unit_test(test_key_slots),     cmocka_unit_test(test_hash_tag),
      cmocka_unit_test(test_resp),          cmocka_unit_test(test_scripts_table),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
