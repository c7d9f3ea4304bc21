/* wal.h — the write-ahead log that makes the in-memory cache durable.
 *
 * Segment files <dir>/<seq>.log (seq zero-padded, increasing). Each record holds one
 * encoded dm_batch (point.h wire form). Appends are queued on the loop thread; a dedicated
 * writer thread writes every queued record with one write and one fdatasync (group
 * commit), then completes them all on the loop. Record layout and the rule for deleting
 * segments are in src/wal/wal.c.
 *
 * Threading: every function is called on the loop thread. Callbacks run on the loop thread.
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
} dm_wal_opts;

typedef struct dm_wal_stats {
  uint64_t bytes;          /* total size of live segments */
  uint64_t segments;       /* live segment files */
  uint64_t appended_bytes; /* since open */
  uint64_t fsyncs;
  uint64_t fsync_ns_total; /* for an average */
  uint64_t fsync_ns_max;
  uint64_t first_seg, cur_seg;
} dm_wal_stats;

/* status 0: the record is durable per the fsync policy; seg: the segment it went to. */
typedef void (*dm_wal_cb)(void *arg, int status, uint64_t seg);
/* Replay callback: one record; returns 0 to go on, < 0 to stop with that error. */
typedef int (*dm_wal_replay_fn)(void *arg, const dm_batch *b, uint64_t seg);
/* Observer of fsync latency (nanoseconds), called on the writer thread. */
typedef void (*dm_wal_fsync_fn)(void *arg, uint64_t ns);

/* Opens the directory and starts the writer thread. Does not replay. */
int dm_wal_open(dm_wal **out, uv_loop_t *loop, const dm_wal_opts *o);
/* Replays every segment in order, synchronously (before the server accepts traffic). A
 * torn or corrupt tail of the LAST segment is truncated at the last good record and
 * logged; corruption elsewhere returns DM_ECORRUPT. Afterwards appends go to a new
 * segment. *records / *points count what was replayed. */
int dm_wal_replay(dm_wal *w, dm_wal_replay_fn fn, void *arg, uint64_t *records,
                  uint64_t *points);
/* Queues b (encoded now: the caller may free b on return). cb runs exactly once unless a
 * negative code is returned. */
int dm_wal_append(dm_wal *w, const dm_batch *b, dm_wal_cb cb, void *arg);
/* The segment new appends go to. */
uint64_t dm_wal_current_seg(const dm_wal *w);
/* Closes the current segment and starts a new one (a checkpoint calls this so that the
 * old segments can be retired once flushed). */
int dm_wal_rotate(dm_wal *w);
/* Deletes every segment with seq < below (never the current one); done on the writer
 * thread. */
int dm_wal_retire(dm_wal *w, uint64_t below);
void dm_wal_stats_get(const dm_wal *w, dm_wal_stats *s);
void dm_wal_set_fsync_observer(dm_wal *w, dm_wal_fsync_fn fn, void *arg);
/* Waits for queued records to be written and synced, stops the thread, frees w. Blocks
 * (only used at shutdown). */
void dm_wal_close(dm_wal *w);

#endif
