/* timefmt.c — Graphite time expressions, durations, UTC day numbers and the clocks.
 *
 * Calendar arithmetic uses Howard Hinnant's days_from_civil / civil_from_days
 * (proleptic Gregorian, eras of 400 years = 146097 days), so it needs neither timegm nor
 * the TZ database and is exact for negative times. Every time here is UTC.
 *
 * dm_time_parse follows graphite-web's parseATTime: the string is lowercased and stripped
 * of '_', ',' and spaces; all digits is epoch seconds unless it reads as YYYYMMDD; 13 bytes
 * with a ':' is HH:MMYYYYMMDD; otherwise it splits at the first '+' (else the first '-')
 * into a reference ("now", a time of day, a day) and an offset ("-1h30min"). Months in
 * offsets are 30 days and years 365, as graphite-web counts them.
 */
#include "diamond/timefmt.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "diamond/error.h"

#define MS_PER_DAY (86400 * (int64_t)1000)

/* ---- calendar ------------------------------------------------------------------ */

int64_t dm_days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;                                    /* [0, 399] */
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;   /* [0, 365] */
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;            /* [0, 146096] */
  return era * 146097 + doe - 719468;
}

void dm_civil_from_days(int64_t z, int64_t *year, int *month, int *mday) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int d = (int)(doy - (153 * mp + 2) / 5 + 1);
  int m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *year = yoe + era * 400 + (m <= 2);
  *month = m;
  *mday = d;
}

static int is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int days_in_month(int64_t y, int m) {
  static const int len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : len[m - 1];
}

static int valid_date(int64_t y, int m, int d) {
  return m >= 1 && m <= 12 && d >= 1 && d <= days_in_month(y, m);
}

int64_t dm_day_of(int64_t t) {
  int64_t d = t / DM_DAY_SECONDS;
  return (t % DM_DAY_SECONDS < 0) ? d - 1 : d;
}

void dm_day_format(int64_t day, char out[11]) {
  int64_t y;
  int m, d;
  dm_civil_from_days(day, &y, &m, &d);
  if (y < 0 || y > 9999) {
    memcpy(out, "0000-00-00", 11);
    return;
  }
  snprintf(out, 11, "%04d-%02d-%02d", (int)y, m, d);
}

static int all_digits(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!isdigit((unsigned char)s[i])) return 0;
  return n > 0;
}

/* n (<= 18) decimal digits at s as an int; -1 if any is not a digit. */
static int64_t digits(const char *s, size_t n) {
  int64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    if (!isdigit((unsigned char)s[i])) return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

int dm_day_parse(const char *s, int64_t *day) {
  if (strlen(s) != 10 || s[4] != '-' || s[7] != '-') return DM_EINVAL;
  int64_t y = digits(s, 4), m = digits(s + 5, 2), d = digits(s + 8, 2);
  if (y < 0 || m < 0 || d < 0 || !valid_date(y, (int)m, (int)d)) return DM_EINVAL;
  *day = dm_days_from_civil(y, (int)m, (int)d);
  return 0;
}

/* ---- durations ----------------------------------------------------------------- */

static const struct unit {
  const char *name;
  int64_t ms;
} units[] = {
    {"ms", 1},           {"msec", 1},          {"s", 1000},          {"sec", 1000},
    {"secs", 1000},      {"second", 1000},     {"seconds", 1000},    {"m", 60000},
    {"min", 60000},      {"mins", 60000},      {"minute", 60000},    {"minutes", 60000},
    {"h", 3600000},      {"hr", 3600000},      {"hrs", 3600000},     {"hour", 3600000},
    {"hours", 3600000},  {"d", MS_PER_DAY},    {"day", MS_PER_DAY},  {"days", MS_PER_DAY},
    {"w", 7 * MS_PER_DAY}, {"week", 7 * MS_PER_DAY}, {"weeks", 7 * MS_PER_DAY},
    {"mon", 30 * MS_PER_DAY}, {"month", 30 * MS_PER_DAY}, {"months", 30 * MS_PER_DAY},
    {"y", 365 * MS_PER_DAY}, {"yr", 365 * MS_PER_DAY}, {"yrs", 365 * MS_PER_DAY},
    {"year", 365 * MS_PER_DAY}, {"years", 365 * MS_PER_DAY},
};

static int64_t unit_ms(const char *s, size_t n, int allow_ms) {
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
    if (strlen(units[i].name) == n && strncasecmp(units[i].name, s, n) == 0) {
      if (units[i].ms < 1000 && !allow_ms) return -1;
      return units[i].ms;
    }
  }
  return -1;
}

/* "<digits><unit>..." in [s, s+len) as milliseconds. A bare number (bare_scale > 0) is
 * that many bare_scale units. */
static int components_ms(const char *s, size_t len, int allow_ms, int64_t bare_scale,
                         int64_t *out) {
  if (len == 0) return DM_EINVAL;
  size_t i = 0;
  int64_t total = 0;
  while (i < len) {
    int64_t num = 0;
    size_t start = i;
    while (i < len && isdigit((unsigned char)s[i])) {
      if (__builtin_mul_overflow(num, 10, &num) ||
          __builtin_add_overflow(num, s[i] - '0', &num))
        return DM_ERANGE;
      i++;
    }
    if (i == start) return DM_EINVAL;
    size_t ustart = i;
    while (i < len && isalpha((unsigned char)s[i])) i++;
    int64_t scale;
    if (i == ustart) {
      if (bare_scale <= 0 || start != 0 || i != len) return DM_EINVAL;
      scale = bare_scale;
    } else {
      scale = unit_ms(s + ustart, i - ustart, allow_ms);
      if (scale < 0) return DM_EINVAL;
    }
    if (__builtin_mul_overflow(num, scale, &num) || __builtin_add_overflow(total, num, &total))
      return DM_ERANGE;
  }
  *out = total;
  return 0;
}

static int duration(const char *s, int allow_ms, int64_t bare_scale, int64_t *out_ms) {
  while (isspace((unsigned char)*s)) s++;
  size_t len = strlen(s);
  while (len > 0 && isspace((unsigned char)s[len - 1])) len--;
  return components_ms(s, len, allow_ms, bare_scale, out_ms);
}

int dm_duration_parse(const char *s, int64_t *out_seconds) {
  int64_t ms;
  int rc = duration(s, 0, 1000, &ms);
  if (rc < 0) return rc;
  *out_seconds = ms / 1000;
  return 0;
}

int dm_duration_parse_ms(const char *s, int64_t *out_ms) { return duration(s, 1, 1, out_ms); }

/* ---- Graphite time expressions ------------------------------------------------- */

static const char *const month_names[12] = {"jan", "feb", "mar", "apr", "may", "jun",
                                            "jul", "aug", "sep", "oct", "nov", "dec"};
/* 1970-01-01 was a Thursday: weekday index of day 0 in this list is 3. */
static const char *const weekday_names[7] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

static int name_index(const char *const *names, int n, const char *s, size_t len) {
  if (len < 3) return -1;
  for (int i = 0; i < n; i++)
    if (memcmp(names[i], s, 3) == 0) return i;
  return -1;
}

static int starts(const char *s, size_t len, const char *word) {
  size_t n = strlen(word);
  return len >= n && memcmp(s, word, n) == 0;
}

/* Index of the first occurrence of word in [s, s+len), or -1. */
static long find(const char *s, size_t len, const char *word) {
  size_t n = strlen(word);
  for (size_t i = 0; i + n <= len; i++)
    if (memcmp(s + i, word, n) == 0) return (long)i;
  return -1;
}

/* The reference part: now, or a time of day (default midnight) on a day (default today). */
static int parse_reference(const char *r, size_t len, int64_t now, int64_t *out) {
  if (len == 0 || (len == 3 && memcmp(r, "now", 3) == 0)) {
    *out = now;
    return 0;
  }
  int hour = 0, min = 0;
  long i = find(r, len, ":");
  if (i > 0 && i < 3) {
    if (len < (size_t)i + 3) return DM_EINVAL;
    int64_t h = digits(r, (size_t)i), m = digits(r + i + 1, 2);
    if (h < 0 || m < 0 || h > 23 || m > 59) return DM_EINVAL;
    hour = (int)h, min = (int)m;
    r += i + 3, len -= (size_t)i + 3;
    if (starts(r, len, "am") || starts(r, len, "pm")) {
      if (hour < 1 || hour > 12) return DM_EINVAL;
      hour = hour % 12 + (r[0] == 'p' ? 12 : 0);
      r += 2, len -= 2;
    }
  }
  for (int pm = 0; pm < 2; pm++) {
    i = find(r, len, pm ? "pm" : "am");
    if (i > 0 && i < 3) {
      int64_t h = digits(r, (size_t)i);
      if (h < 1 || h > 12) return DM_EINVAL;
      hour = (int)(h % 12 + (pm ? 12 : 0)), min = 0;
      r += i + 2, len -= (size_t)i + 2;
    }
  }
  static const struct { const char *w; int hour; } named[] = {
      {"noon", 12}, {"midnight", 0}, {"teatime", 16}};
  for (size_t k = 0; k < 3; k++) {
    if (starts(r, len, named[k].w)) {
      hour = named[k].hour, min = 0;
      r += strlen(named[k].w), len -= strlen(named[k].w);
      break;
    }
  }
  int64_t day = dm_day_of(now);
  int64_t y;
  int m, d;
  dm_civil_from_days(day, &y, &m, &d);
  int idx;
  if (len == 0 || (len == 5 && memcmp(r, "today", 5) == 0)) {
    /* today */
  } else if (len == 9 && memcmp(r, "yesterday", 9) == 0) {
    day -= 1;
  } else if (len == 8 && memcmp(r, "tomorrow", 8) == 0) {
    day += 1;
  } else if (len == 8 && digits(r, 8) >= 0) { /* YYYYMMDD */
    y = digits(r, 4), m = (int)digits(r + 4, 2), d = (int)digits(r + 6, 2);
    if (!valid_date(y, m, d)) return DM_EINVAL;
    day = dm_days_from_civil(y, m, d);
  } else if (memchr(r, '/', len) != NULL) { /* MM/DD/YY or MM/DD/YYYY */
    char buf[16];
    if (len >= sizeof buf) return DM_EINVAL;
    memcpy(buf, r, len);
    buf[len] = '\0';
    int mm, dd, yy, used = 0;
    if (sscanf(buf, "%2d/%2d/%4d%n", &mm, &dd, &yy, &used) != 3 || (size_t)used != len ||
        yy < 0)
      return DM_EINVAL;
    if (yy < 1900) yy += 1900;
    if (yy < 1970) yy += 100;
    if (!valid_date(yy, mm, dd)) return DM_EINVAL;
    day = dm_days_from_civil(yy, mm, dd);
  } else if ((idx = name_index(month_names, 12, r, len)) >= 0) { /* jan1, january15 */
    size_t nd = len >= 2 && isdigit((unsigned char)r[len - 2]) ? 2 : 1;
    int64_t dd = len > 3 ? digits(r + len - nd, nd) : -1;
    if (dd < 0 || !valid_date(y, idx + 1, (int)dd)) return DM_EINVAL;
    day = dm_days_from_civil(y, idx + 1, (int)dd);
  } else if ((idx = name_index(weekday_names, 7, r, len)) >= 0) { /* the last such day */
    int64_t today = ((day + 3) % 7 + 7) % 7;
    day -= ((today - idx) % 7 + 7) % 7;
  } else {
    return DM_EINVAL;
  }
  *out = day * DM_DAY_SECONDS + hour * 3600 + min * 60;
  return 0;
}

int dm_time_parse(const char *s, size_t len, int64_t now, int64_t *out) {
  char b[64];
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '_' || c == ',' || c == ' ') continue;
    if (c == '\0' || n + 1 >= sizeof b) return DM_EINVAL;
    b[n++] = (char)tolower(c);
  }
  b[n] = '\0';
  if (n == 0) return DM_EINVAL;
  if (all_digits(b, n)) {
    int looks_like_date = n == 8 && digits(b, 4) > 1900 && digits(b + 4, 2) < 13 &&
                          digits(b + 6, 2) < 32;
    if (!looks_like_date) {
      if (n > 18) return DM_EINVAL; /* keeps the value well inside int64 */
      *out = digits(b, n);
      return 0;
    }
  } else if (n == 13 && b[2] == ':') { /* HH:MMYYYYMMDD, from HH:MM_YYYYMMDD */
    int64_t h = digits(b, 2), mi = digits(b + 3, 2), y = digits(b + 5, 4);
    int64_t mo = digits(b + 9, 2), d = digits(b + 11, 2);
    if (h < 0 || h > 23 || mi < 0 || mi > 59 || y < 0 || mo < 0 || d < 0 ||
        !valid_date(y, (int)mo, (int)d))
      return DM_EINVAL;
    *out = dm_days_from_civil(y, (int)mo, (int)d) * DM_DAY_SECONDS + h * 3600 + mi * 60;
    return 0;
  }
  char *sign = strchr(b, '+');
  if (sign == NULL) sign = strchr(b, '-');
  size_t ref_len = sign ? (size_t)(sign - b) : n;
  int64_t ref, off_ms = 0;
  int rc = parse_reference(b, ref_len, now, &ref);
  if (rc < 0) return rc;
  if (sign != NULL) {
    rc = components_ms(sign + 1, n - ref_len - 1, 0, 0, &off_ms);
    if (rc < 0) return DM_EINVAL;
    if (*sign == '-') off_ms = -off_ms;
  }
  if (__builtin_add_overflow(ref, off_ms / 1000, out)) return DM_EINVAL;
  return 0;
}

/* ---- clocks -------------------------------------------------------------------- */

int64_t dm_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec;
}

int64_t dm_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t dm_mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
