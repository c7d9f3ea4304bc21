/* engine.h — the storage engine: WAL + cache + table + blob, the flusher, the ager, the
 * name index and the query planner. It sees the tiers only through cache.h, table.h and
 * blob.h. Everything runs on the loop thread; callbacks too.
 */
#ifndef DIAMOND_ENGINE_H
#define DIAMOND_ENGINE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

#include "diamond/config.h"
#include "diamond/point.h"
#include "diamond/tier.h"

typedef struct dm_engine dm_engine;

/* Opens the tiers under cfg->data_dir and replays the WAL (synchronously). */
int dm_engine_open(dm_engine **out, uv_loop_t *loop, const dm_config *cfg, char *err,
                   size_t errlen);
/* Starts the flusher and ager timers. */
void dm_engine_start(dm_engine *e);

/* Ingest: WAL, then cache; cb(status) once durable per wal.fsync and visible to reads.
 * b must stay valid and unchanged until cb. DM_EBUSY (nothing started) when the cache is
 * over cache.max_bytes or the WAL is behind: answer 503 with dm_engine_retry_after(). */
int dm_engine_write(dm_engine *e, const dm_batch *b, dm_done_cb cb, void *arg);
/* Seconds a client should wait after DM_EBUSY. */
int dm_engine_retry_after(const dm_engine *e);

/* One series, merged over cache > table > blob, from <= t <= until. */
int dm_engine_read(dm_engine *e, const char *series, size_t len, int64_t from, int64_t until,
                   dm_points_cb cb, void *arg);
/* The newest point of one series (cache, then table). Status DM_ENOENT when none. */
int dm_engine_latest(dm_engine *e, const char *series, size_t len, dm_points_cb cb, void *arg);
/* Calls fn for every known series name starting with prefix, in sorted order. */
void dm_engine_names(dm_engine *e, const char *prefix, size_t len,
                     void (*fn)(void *arg, const char *name, size_t len), void *arg);
/* The same walk, with skips: fn returns 0 to go on with the next name, k > 0 to skip every
 * following name whose first k bytes equal this name's (its first k <= len bytes),
 * DM_NAMES_SEEK after storing in *seek a key greater than this name to go on at the first
 * name >= that key (the bytes stay fn's; seek is the caller's, NULL if fn never seeks), or
 * DM_NAMES_STOP to end the walk. /metrics/find visits one name per distinct child this way
 * instead of every name below it, and jumps to a level's literal text ("m7" of
 * "host.*.m7") instead of reading the names before it. Names must not be added from inside
 * fn. */
#define DM_NAMES_STOP ((size_t)-1)
#define DM_NAMES_SEEK ((size_t)-2)
typedef struct {
  const char *key;
  size_t len;
} dm_names_seek;
void dm_engine_names_walk(dm_engine *e, const char *prefix, size_t len,
                          size_t (*fn)(void *arg, const char *name, size_t len), void *arg,
                          const dm_names_seek *seek);

/* Flushes every dirty cache window to the table now (open ones too). */
int dm_engine_flush(dm_engine *e, dm_done_cb cb, void *arg);
/* Runs the ager now: packs every pending day older than table.keep into blobs, sweeps the
 * table, deletes blobs older than blob.keep. */
int dm_engine_age(dm_engine *e, dm_done_cb cb, void *arg);

/* Windows written by the last flush round and (day, shard) packed by the last ager run:
 * read them in the dm_engine_flush / dm_engine_age callback. */
void dm_engine_last_counts(const dm_engine *e, uint64_t *flushed, uint64_t *aged);

/* 1 if ready to serve; else 0 and a reason. */
int dm_engine_ready(dm_engine *e, char *why, size_t len);
const dm_config *dm_engine_config(const dm_engine *e);

/* --check-config (create = 0) and --create-storage (create = 1): opens each configured tier
 * on its own, creates what is missing when asked, reaches it once, and writes one line per
 * tier to out ("table dynamodb FAILED: table diamond does not exist ..."). Runs the loop
 * until done (not while serving). 0 when every tier is fine, else DM_EIO. */
int dm_engine_storage(uv_loop_t *loop, const dm_config *cfg, int create, FILE *out);

/* Stops timers, waits for in-flight flushes, syncs and closes the WAL, closes the tiers.
 * Blocks briefly (shutdown only); does not flush the cache (the WAL has it). */
void dm_engine_close(dm_engine *e);

#endif
