/* ingest.h — parsers that turn wire formats into a validated dm_batch.
 *
 * The JSON parser streams (yajl callbacks straight into the batch, no DOM). A batch is
 * validated whole: on any error nothing is returned but the message, which names the
 * point index and the field ("point 3: \"value\": must be a finite number").
 */
#ifndef DIAMOND_INGEST_H
#define DIAMOND_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "diamond/point.h"

typedef struct dm_ingest_limits {
  size_t max_points;   /* DM_ERANGE above */
  size_t max_name_len; /* of the full series name */
  int64_t step;        /* times are floored to this */
  int64_t min_time;    /* accepted range, inclusive */
  int64_t max_time;
} dm_ingest_limits;

/* Mackerel batch. service == NULL: POST /api/v0/tsdb, objects {hostId,name,time,value}
 * mapped to "host.<hostId>.<name>"; else POST /api/v0/services/<service>/tsdb, objects
 * {name,time,value} mapped to "service.<service>.<name>". Unknown fields are ignored.
 * Returns 0, DM_EINVAL (400), DM_ERANGE (413, too many points) or DM_ENOMEM; err gets the
 * message. Points are appended to out (times floored to lim->step); on any error out is
 * rolled back to what it held on entry (n == 0 for an empty batch). The service name must
 * itself be one segment [A-Za-z0-9_-]+ (else DM_EINVAL, "service: ..."). */
int dm_ingest_mackerel(const char *body, size_t len, const char *service,
                       const dm_ingest_limits *lim, dm_batch *out, char *err, size_t errlen);

/* One Graphite plaintext line "<path> <value> [<timestamp>]" without the newline.
 * Timestamp missing or -1 = now. Returns 1 if a point was added, 0 if the line was
 * dropped on purpose (value nan: Graphite does the same; empty line), DM_EINVAL with a
 * message otherwise (nothing added), DM_ENOMEM if the batch cannot grow. Fields are
 * separated by runs of spaces/tabs; a trailing '\r' is ignored; a fractional timestamp is
 * floored; the path is the series name (dm_name_check rules, lim->max_name_len). */
int dm_ingest_graphite_line(const char *line, size_t len, int64_t now,
                            const dm_ingest_limits *lim, dm_batch *out, char *err,
                            size_t errlen);

/* InfluxDB line protocol precision: "" or NULL = ns; "ns", "us", "ms", "s" and, when !v2
 * (/write), also "n", "u", "m", "h". *unit_ns = nanoseconds per timestamp unit; 0 or
 * DM_EINVAL. */
int dm_ingest_influx_precision(const char *s, int v2, int64_t *unit_ns);

/* InfluxDB line protocol body (src/ingest/influx.c has the grammar and the naming:
 * "<measurement>.<tagkey>.<tagvalue>...<field>", tags sorted, every component encoded as
 * one [A-Za-z0-9_-]+ segment with "_xHH" escapes). One point per numeric or boolean field;
 * string fields are skipped and counted in *skipped (may be NULL). Missing timestamp = now.
 * Returns 0 (possibly with no point added), DM_EINVAL (400: err names the line, "line 3:
 * ..."), DM_ERANGE (413: over lim->max_points) or DM_ENOMEM; on error out is rolled back. */
int dm_ingest_influx(const char *body, size_t len, int64_t unit_ns, int64_t now,
                     const dm_ingest_limits *lim, dm_batch *out, size_t *skipped, char *err,
                     size_t errlen);

/* Decodes one encoded name component (or a whole name: dots stay) back to its bytes:
 * "_xHH" -> the byte 0xHH. out holds len bytes; returns the decoded length. */
size_t dm_ingest_influx_decode(const char *s, size_t len, char *out);

/* collectd write_http JSON (Format "JSON"): an array of value lists {values, dstypes,
 * dsnames, time, interval, host, plugin, plugin_instance, type, type_instance}. Each value
 * becomes a point of series
 *   collectd.<host>.<plugin>[-<plugin_instance>].<type>[-<type_instance>][.<dsname>]
 * (src/ingest/collectd.c has the exact rules). Values are stored as sent (counters and
 * derives raw); null values (collectd's NaN) are skipped and counted in *skipped (may be
 * NULL). time (float seconds) is floored. Returns 0, DM_EINVAL (err names the element and
 * field, "element 2: \"values\": ..."), DM_ERANGE (over lim->max_points) or DM_ENOMEM;
 * on error out is rolled back. */
int dm_ingest_collectd(const char *body, size_t len, const dm_ingest_limits *lim,
                       dm_batch *out, size_t *skipped, char *err, size_t errlen);

#endif
