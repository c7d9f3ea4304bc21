/* timefmt.h — time helpers: Graphite/Mackerel time expressions, durations, UTC days,
 * wall clock. All calendar arithmetic is UTC and works for times before 1970. */
#ifndef DIAMOND_TIMEFMT_H
#define DIAMOND_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

#define DM_DAY_SECONDS 86400

/* Parses a Graphite time as graphite-web's parseATTime does, in UTC, relative to now:
 *   "now", "-1h", "-7d", "-30min", "-2w", "-1mon" (30 days), "-1y" (365 days),
 *   "now-1h", "-1h30min", "+5min", epoch seconds ("1700000000"), "HH:MM_YYYYMMDD",
 *   "YYYYMMDD", "MM/DD/YYYY", "noon", "midnight", "teatime", "9am", "today",
 *   "yesterday", "tomorrow", "jan1", "monday", and a reference followed by an offset
 *   ("midnight-1d", "20240101+12h"). Case, '_', ',' and spaces are ignored.
 * An 8-digit string that looks like a date (year > 1900, month < 13, day < 32) is a date,
 * otherwise digits are epoch seconds. Returns 0 or DM_EINVAL. */
int dm_time_parse(const char *s, size_t len, int64_t now, int64_t *out);
/* Parses a duration: "90s", "15m"/"15min", "3h", "14d", "2w", "1mon" (30d), "1y" (365d),
 * or several at once ("1h30m"); a bare number is seconds. Returns 0, DM_EINVAL (syntax,
 * negative) or DM_ERANGE (overflow). */
int dm_duration_parse(const char *s, int64_t *out_seconds);
/* The same in milliseconds: also accepts "ms"; a bare number is milliseconds. */
int dm_duration_parse_ms(const char *s, int64_t *out_ms);
/* Day number (days since 1970-01-01 UTC, floored: negative before 1970) of t, and its
 * "YYYY-MM-DD" (11 bytes incl NUL; years outside 0000..9999 give "0000-00-00"). */
int64_t dm_day_of(int64_t t);
void dm_day_format(int64_t day, char out[11]);
/* Parses exactly "YYYY-MM-DD" (a real calendar date). Returns 0 or DM_EINVAL. */
int dm_day_parse(const char *s, int64_t *day);
/* Civil date <-> day number (proleptic Gregorian, any year). month 1..12, mday 1..31. */
int64_t dm_days_from_civil(int64_t year, int month, int mday);
void dm_civil_from_days(int64_t day, int64_t *year, int *month, int *mday);
/* Wall clock in seconds / milliseconds / monotonic nanoseconds. Only main loop code calls
 * these; everything else takes `now` as an argument. */
int64_t dm_now(void);
int64_t dm_now_ms(void);
uint64_t dm_mono_ns(void);

#endif
