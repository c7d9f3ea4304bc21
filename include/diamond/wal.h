/* wal.h — the write-ahead log that makes the in-memory cache durable.
 *
 * Segment files <dir>/<seq>.log (seq zero-padded, increasing). Each record holds one
 * encoded dm_batch (point.h wire form). Appends are queued on the loop thread; a dedicated
 * writer thread writes every queued record with one write and one fdatasync (group
 * commit), then completes them all on the loop. Record layout and the rule for deleting
 * segments are in src/wal/wal.c.
 *
 * Threading: every function is called on the loop thread. Callbacks run on the loop thread.
 *
 * Call order: dm_wal_open, dm_wal_replay (before the first append), then appends. A write
 * or fsync error puts the WAL in a failed state for good: the group in flight completes
 * with DM_EIO and every later append returns DM_EIO (after a failed fsync the page cache
 * is in an unknown state, so nothing is retried silently; restart and replay instead).
 *
 * The WAL's two loop handles (a uv_async for completions, a uv_idle that hands each loop
 * turn's appends to the writer) keep the loop alive only while some callback is still
 * owed, so uv_run(UV_RUN_DEFAULT) returns once every append has completed.
 */
#ifndef DIAMOND_WAL_H
#define DIAMOND_WAL_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "diamond/config.h"
#include "diamond/point.h"

typedef struct dm_wal dm_wal;

typedef struct dm_wal_opts {
  const char *dir;         /* created if missing */
  dm_fsync_mode fsync;     /* always: cb after fdatasync; interval: after write, fsync every
                              fsync_ms; off: after write, never fsync (the OS decides) */
  int64_t fsync_ms;
  int64_t segment_bytes;   /* rotate to a new segment above this size */
  size_t max_queued_bytes; /* appends queued and not yet written above this: DM_EBUSY
                              (backpressure); 0 means DM_WAL_MAX_QUEUED */
} dm_wal_opts;

#define DM_WAL_MAX_QUEUED ((size_t)64 << 20)
#define DM_WAL_DEFAULT_SEGMENT_BYTES ((int64_t)64 << 20) /* segment_bytes 0 */
#define DM_WAL_DEFAULT_FSYNC_MS 1000                     /* fsync_ms 0 (interval) */
#define DM_WAL_HEADER_BYTES 16 /* segment header: "DMWAL1\0\0", u64 seq little-endian */
#define DM_WAL_RECORD_BYTES 8  /* per record before the payload: u32 len, u32 crc32c */

typedef struct dm_wal_stats {
  uint64_t bytes;          /* total size of live segments */
  uint64_t segments;       /* live segment files */
  uint64_t appended_bytes; /* since open */
  uint64_t fsyncs;
  uint64_t fsync_ns_total; /* for an average */
  uint64_t fsync_ns_max;
  uint64_t first_seg, cur_seg;
  uint64_t queued_bytes;   /* appended, not yet written (backpressure above max_queued) */
  int failed;              /* 1 after a write/fsync error: every append is DM_EIO */
} dm_wal_stats;

/* status 0: the record is durable per the fsync policy; seg: the segment it went to. */
typedef void (*dm_wal_cb)(void *arg, int status, uint64_t seg);
/* Replay callback: one record; returns 0 to go on, < 0 to stop with that error. */
typedef int (*dm_wal_replay_fn)(void *arg, const dm_batch *b, uint64_t seg);
/* Observer of fsync latency (nanoseconds), called on the writer thread. */
typedef void (*dm_wal_fsync_fn)(void *arg, uint64_t ns);

/* Opens (creating if missing) and locks the directory, lists the segments already there,
 * and starts the writer thread. Does not replay. DM_EBUSY when another process holds the
 * directory; DM_EINVAL for negative sizes or a missing dir. */
int dm_wal_open(dm_wal **out, uv_loop_t *loop, const dm_wal_opts *o);
/* Replays every segment in order, synchronously (before the server accepts traffic). A
 * torn or corrupt tail of the LAST segment is truncated at the last good record and
 * logged; corruption elsewhere returns DM_ECORRUPT. Afterwards appends go to a new
 * segment. *records / *points count what was replayed. */
int dm_wal_replay(dm_wal *w, dm_wal_replay_fn fn, void *arg, uint64_t *records,
                  uint64_t *points);
/* Queues b (encoded now: the caller may free b on return). cb runs exactly once unless a
 * negative code is returned: DM_EBUSY (more than max_queued_bytes waiting for the disk),
 * DM_EIO (the WAL failed), DM_ECLOSED, DM_ENOMEM, DM_ERANGE (record over 4 GiB). All
 * appends queued in one loop turn (and while the writer is busy) share one write and one
 * fdatasync. Callbacks run in the order the appends were queued (the engine relies on it
 * for last-write-wins). */
int dm_wal_append(dm_wal *w, const dm_batch *b, dm_wal_cb cb, void *arg);
/* The segment new appends go to. */
uint64_t dm_wal_current_seg(const dm_wal *w);
/* Closes the current segment and starts a new one (a checkpoint calls this so that the
 * old segments can be retired once flushed). Appends made before the call go to the old
 * segment, appends after it to the new one. A no-op when the current segment holds
 * nothing yet. */
int dm_wal_rotate(dm_wal *w);
/* Deletes every segment with seq < below (never the current one); done on the writer
 * thread, which then fsyncs the directory. `below` is clamped to the oldest segment
 * holding a record whose callback has not run yet, so passing UINT64_MAX ("the cache
 * holds nothing unflushed") is safe. 0, or DM_ECLOSED. */
int dm_wal_retire(dm_wal *w, uint64_t below);
void dm_wal_stats_get(const dm_wal *w, dm_wal_stats *s);
void dm_wal_set_fsync_observer(dm_wal *w, dm_wal_fsync_fn fn, void *arg);
/* Waits for queued records to be written and synced (in every fsync mode), runs their
 * callbacks, stops the thread, frees w. Blocks (only used at shutdown). Not from inside a
 * WAL callback. Its loop handles are closed with uv_close(): the caller must run the loop
 * once more afterwards (uv_run(loop, UV_RUN_DEFAULT) or _NOWAIT) so their memory is freed. */
void dm_wal_close(dm_wal *w);

/* The crc32c stored in a record: over the 4 little-endian length bytes, then payload. */
uint32_t dm_wal_record_crc(const void *payload, uint32_t len);

#endif
