/* timefmt.h — time helpers: Graphite/Mackerel time expressions, UTC days, wall clock. */
#ifndef DIAMOND_TIMEFMT_H
#define DIAMOND_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

/* Parses a Graphite time ("now", "-1h", "-7d", "-30min", epoch seconds, "HH:MM_YYYYMMDD",
 * "YYYYMMDD") relative to now. Returns 0 or DM_EINVAL. */
int dm_time_parse(const char *s, size_t len, int64_t now, int64_t *out);
/* Parses a duration "90s", "15m"/"15min", "3h", "14d", "2w", "1y" (bare = seconds). */
int dm_duration_parse(const char *s, int64_t *out_seconds);
/* Day number (days since 1970-01-01 UTC) of t, and its "YYYY-MM-DD" (11 bytes incl NUL). */
int64_t dm_day_of(int64_t t);
void dm_day_format(int64_t day, char out[11]);
int dm_day_parse(const char *s, int64_t *day);
/* Wall clock in seconds / milliseconds / monotonic nanoseconds. Only main loop code calls
 * these; everything else takes `now` as an argument. */
int64_t dm_now(void);
int64_t dm_now_ms(void);
uint64_t dm_mono_ns(void);

#endif
