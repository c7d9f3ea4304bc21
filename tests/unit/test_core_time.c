/* test_core_time.c — unit tests of timefmt: Graphite time expressions against a fixed
 * now, durations, UTC day numbers (negative days, leap years) and the clocks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "diamond/error.h"
#include "diamond/timefmt.h"

/* 2023-11-14 22:13:20 UTC, a Tuesday. */
#define NOW ((int64_t)1700000000)
#define TODAY ((int64_t)1699920000) /* 2023-11-14 00:00:00 */
#define D ((int64_t)86400)

static void test_time_expressions(void **state) {
  (void)state;
  static const struct {
    const char *s;
    int64_t want;
  } cases[] = {
      {"now", NOW},
      {"NOW", NOW},
      {"-1h", NOW - 3600},
      {"-7d", NOW - 7 * D},
      {"-30min", NOW - 1800},
      {"-30m", NOW - 1800},
      {"-30minutes", NOW - 1800},
      {"-2w", NOW - 14 * D},
      {"-1mon", NOW - 30 * D},
      {"-1months", NOW - 30 * D},
      {"-1y", NOW - 365 * D},
      {"-10s", NOW - 10},
      {"-10seconds", NOW - 10},
      {"-1h30min", NOW - 5400},
      {"+5min", NOW + 300},
      {"now-1h", NOW - 3600},
      {"now+1d", NOW + D},
      {"now - 1h", NOW - 3600},
      {"1700000000", 1700000000},
      {"0", 0},
      {"99999999", 99999999},     /* month 99: not a date, so epoch seconds */
      {"19000101", 19000101},     /* year 1900 is not > 1900: epoch seconds */
      {"20231114", TODAY},
      {"20240229", 1709164800},
      {"12:30_20231114", TODAY + 12 * 3600 + 30 * 60},
      {"00:00_19691231", -D},
      {"04:05_20231114-1h", TODAY + 4 * 3600 + 5 * 60 - 3600},
      {"20231114+12h", TODAY + 12 * 3600},
      {"midnight", TODAY},
      {"noon", TODAY + 12 * 3600},
      {"teatime", TODAY + 16 * 3600},
      {"midnight-1d", TODAY - D},
      {"today", TODAY},
      {"yesterday", TODAY - D},
      {"tomorrow", TODAY + D},
      {"noon yesterday", TODAY - D + 12 * 3600},
      {"noon_tomorrow", TODAY + D + 12 * 3600},
      {"9am", TODAY + 9 * 3600},
      {"9pm", TODAY + 21 * 3600},
      {"12am", TODAY},
      {"12pm", TODAY + 12 * 3600},
      {"8:30pm", TODAY + 20 * 3600 + 30 * 60},
      {"8:30", TODAY + 8 * 3600 + 30 * 60},
      {"8:30yesterday", TODAY - D + 8 * 3600 + 30 * 60},
      {"11/14/2023", TODAY},
      {"11/14/23", TODAY},
      {"1/2/69", 36161 * D}, /* graphite-web: 69 + 1900 < 1970, so + 100: 2069-01-02 */
      {"jan1", 1672531200},
      {"january15", 1672531200 + 14 * D},
      {"nov14", TODAY},
      {"tuesday", TODAY},
      {"monday", TODAY - D},
      {"wednesday", TODAY - 6 * D},
      {"sun", TODAY - 2 * D},
      {"noon monday", TODAY - D + 12 * 3600},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int64_t got = -12345;
    int rc = dm_time_parse(cases[i].s, strlen(cases[i].s), NOW, &got);
    if (rc != 0 || got != cases[i].want)
      fail_msg("\"%s\": rc %d got %lld want %lld", cases[i].s, rc, (long long)got,
               (long long)cases[i].want);
  }
}

static void test_time_errors(void **state) {
  (void)state;
  static const char *const bad[] = {
      "",           "   ",        "-1",          "-1x",        "foo",          "now-",
      "now-h",      "-1h-30min",  "13:70_20231114", "24:00_20231114", "20230230",
      "20231301x",  "-1ms",       "nowish",      "13pm",       "0am",          "feb30",
      "jan",        "2/30/2023",  "99:00",       "1234567890123456789012",
      "0123456789012345678901234567890123456789012345678901234567890123456789",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int64_t got = 42;
    int rc = dm_time_parse(bad[i], strlen(bad[i]), NOW, &got);
    if (rc != DM_EINVAL) fail_msg("\"%s\" accepted: %lld", bad[i], (long long)got);
    assert_int_equal(got, 42);
  }
  /* len bounds the input: no NUL needed, the rest is ignored */
  int64_t got;
  assert_int_equal(dm_time_parse("-1hXYZ", 3, NOW, &got), 0);
  assert_int_equal(got, NOW - 3600);
  assert_int_equal(dm_time_parse("now\0-1h", 7, NOW, &got), DM_EINVAL);
}

static void test_durations(void **state) {
  (void)state;
  static const struct {
    const char *s;
    int64_t want;
  } ok[] = {
      {"90", 90},        {"90s", 90},         {"15m", 900},       {"15min", 900},
      {"3h", 10800},     {"14d", 14 * D},     {"2w", 14 * D},     {"1y", 365 * D},
      {"1mon", 30 * D},  {"1h30m", 5400},     {" 5m ", 300},      {"0", 0},
      {"1d12h", D + 12 * 3600}, {"2H", 7200}, {"10seconds", 10}, {"1day", D},
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    int64_t got = -1;
    int rc = dm_duration_parse(ok[i].s, &got);
    if (rc != 0 || got != ok[i].want)
      fail_msg("\"%s\": rc %d got %lld want %lld", ok[i].s, rc, (long long)got,
               (long long)ok[i].want);
  }
  static const char *const bad[] = {"", " ", "-5s", "5x", "1.5h", "h", "5ms", "5 m",
                                    "1h30", "s5", "+5s"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int64_t got = 42;
    if (dm_duration_parse(bad[i], &got) != DM_EINVAL) fail_msg("\"%s\" accepted", bad[i]);
    assert_int_equal(got, 42);
  }
  int64_t got;
  assert_int_equal(dm_duration_parse("99999999999999999999", &got), DM_ERANGE);
  assert_int_equal(dm_duration_parse("9999999999999999y", &got), DM_ERANGE);

  assert_int_equal(dm_duration_parse_ms("200", &got), 0);
  assert_int_equal(got, 200);
  assert_int_equal(dm_duration_parse_ms("200ms", &got), 0);
  assert_int_equal(got, 200);
  assert_int_equal(dm_duration_parse_ms("2s", &got), 0);
  assert_int_equal(got, 2000);
  assert_int_equal(dm_duration_parse_ms("1m30s", &got), 0);
  assert_int_equal(got, 90000);
  assert_int_equal(dm_duration_parse_ms("1s500ms", &got), 0);
  assert_int_equal(got, 1500);
  assert_int_equal(dm_duration_parse_ms("1.5s", &got), DM_EINVAL);
}

/* ---- days ----------------------------------------------------------------------------- */

static void test_day_of(void **state) {
  (void)state;
  assert_int_equal(dm_day_of(0), 0);
  assert_int_equal(dm_day_of(86399), 0);
  assert_int_equal(dm_day_of(86400), 1);
  assert_int_equal(dm_day_of(-1), -1);
  assert_int_equal(dm_day_of(-86400), -1);
  assert_int_equal(dm_day_of(-86401), -2);
  assert_int_equal(dm_day_of(NOW), 19675);
}

static void test_day_format(void **state) {
  (void)state;
  static const struct {
    int64_t day;
    const char *s;
  } cases[] = {
      {0, "1970-01-01"},      {-1, "1969-12-31"},     {19675, "2023-11-14"},
      {11016, "2000-02-29"},  {11017, "2000-03-01"},  {19782, "2024-02-29"},
      {-25509, "1900-02-28"}, {-25508, "1900-03-01"}, {-719528, "0000-01-01"},
      {-719529, "0000-00-00"} /* year -1 */, {2932896, "9999-12-31"},
      {2932897, "0000-00-00"} /* year 10000 */,
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char out[11];
    dm_day_format(cases[i].day, out);
    assert_string_equal(out, cases[i].s);
    int64_t back;
    if (strcmp(cases[i].s, "0000-00-00") != 0) {
      assert_int_equal(dm_day_parse(cases[i].s, &back), 0);
      assert_int_equal(back, cases[i].day);
    }
  }
  int64_t y;
  int m, d;
  dm_civil_from_days(-719529, &y, &m, &d); /* proleptic year -1 still works in day math */
  assert_int_equal(y, -1);
  assert_int_equal(m, 12);
  assert_int_equal(d, 31);
  assert_int_equal(dm_days_from_civil(-1, 12, 31), -719529);
}

static void test_day_parse(void **state) {
  (void)state;
  int64_t day;
  assert_int_equal(dm_day_parse("1969-12-31", &day), 0);
  assert_int_equal(day, -1);
  assert_int_equal(dm_day_parse("2024-02-29", &day), 0);
  assert_int_equal(day, 19782);
  assert_int_equal(dm_day_parse("2000-02-29", &day), 0);
  assert_int_equal(day, 11016);
  static const char *const bad[] = {"2023-02-29", "1900-02-29", "2100-02-29", "2024-2-29",
                                    "2024/02/29", "2024-02-290", "2024-13-01", "2024-00-10",
                                    "2024-01-00", "2024-04-31", "", "abcd-ef-gh", "+024-01-01"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    day = 42;
    if (dm_day_parse(bad[i], &day) != DM_EINVAL) fail_msg("\"%s\" accepted", bad[i]);
    assert_int_equal(day, 42);
  }
}

/* Our calendar against libc's gmtime over 1833..2106 (every 7th day), and a format/parse
 * round trip over years 0..9999. */
static void test_days_against_gmtime(void **state) {
  (void)state;
  for (int64_t day = -50000; day <= 50000; day += 7) {
    time_t t = (time_t)(day * D + 3600);
    struct tm tm;
    assert_non_null(gmtime_r(&t, &tm));
    int64_t y;
    int m, d;
    dm_civil_from_days(day, &y, &m, &d);
    assert_int_equal(y, tm.tm_year + 1900);
    assert_int_equal(m, tm.tm_mon + 1);
    assert_int_equal(d, tm.tm_mday);
    assert_int_equal(dm_days_from_civil(y, m, d), day);
    assert_int_equal(dm_day_of(day * D + 3600), day);
  }
  for (int64_t day = -719528; day <= 2932896; day += 997) {
    char s[11];
    int64_t back;
    dm_day_format(day, s);
    assert_int_equal(dm_day_parse(s, &back), 0);
    assert_int_equal(back, day);
  }
}

static void test_clocks(void **state) {
  (void)state;
  time_t before = time(NULL);
  int64_t now = dm_now(), now_ms = dm_now_ms();
  time_t after = time(NULL);
  assert_true(now >= (int64_t)before - 1 && now <= (int64_t)after + 1);
  assert_true(now_ms / 1000 >= (int64_t)before - 1 && now_ms / 1000 <= (int64_t)after + 1);
  uint64_t a = dm_mono_ns(), b = dm_mono_ns();
  assert_true(b >= a);
  assert_true(a > 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_time_expressions), cmocka_unit_test(test_time_errors),
      cmocka_unit_test(test_durations),        cmocka_unit_test(test_day_of),
      cmocka_unit_test(test_day_format),       cmocka_unit_test(test_day_parse),
      cmocka_unit_test(test_days_against_gmtime), cmocka_unit_test(test_clocks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
