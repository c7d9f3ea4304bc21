/* log.h — logfmt logging to stderr, one line per event.
 *
 *   dm_log_info("wal_replay", "segments=%d points=%zu", n, pts);
 * prints
 *   ts=2026-11-24T20:00:00.123Z level=info event=wal_replay segments=3 points=1200
 *
 * The format string carries the key=value pairs; values with spaces must be quoted by the
 * caller (dm_log_quote() helps). Thread-safe (one write(2) per line).
 */
#ifndef DIAMOND_LOG_H
#define DIAMOND_LOG_H

typedef enum { DM_LOG_DEBUG = 0, DM_LOG_INFO, DM_LOG_WARN, DM_LOG_ERROR } dm_log_level;

void dm_log_set_level(dm_log_level lvl);
int dm_log_parse_level(const char *s, dm_log_level *out); /* "debug|info|warn|error" */
void dm_log(dm_log_level lvl, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes s as a logfmt value (quoted and escaped when needed) into buf; returns buf. */
const char *dm_log_quote(char *buf, unsigned size, const char *s);

#define dm_log_debug(ev, ...) dm_log(DM_LOG_DEBUG, ev, __VA_ARGS__)
#define dm_log_info(ev, ...) dm_log(DM_LOG_INFO, ev, __VA_ARGS__)
#define dm_log_warn(ev, ...) dm_log(DM_LOG_WARN, ev, __VA_ARGS__)
#define dm_log_error(ev, ...) dm_log(DM_LOG_ERROR, ev, __VA_ARGS__)

#endif
