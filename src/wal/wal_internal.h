/* wal_internal.h — the dm_wal struct and the helpers shared by wal.c (loop side),
 * writer.c (the writer thread) and replay.c (directory listing and replay). The layout
 * and the deletion rule are described at the top of wal.c.
 */
#ifndef DIAMOND_WAL_INTERNAL_H
#define DIAMOND_WAL_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "diamond/wal.h"

#define WAL_MAGIC "DMWAL1\0\0" /* 8 bytes, the two NULs included */

typedef struct wal_cb {
  dm_wal_cb cb;
  void *arg;
} wal_cb;

/* A group: consecutive records bound for one segment, written with one write() and
 * made durable by one fdatasync. Created and recycled on the loop thread; the writer
 * only sees it between taking it from the queue and handing it back on the done list. */
typedef struct wal_group {
  struct wal_group *next;
  uint64_t seg;
  uint8_t *buf;
  size_t len, cap;
  wal_cb *cbs;
  size_t ncb, cbcap;
  int status;
} wal_group;

typedef struct wal_seg {
  uint64_t seq;
  uint64_t size;
} wal_seg;

/* How many records are still owed a callback, per segment, oldest first. */
typedef struct wal_owed {
  uint64_t seg;
  uint64_t n;
} wal_owed;

struct dm_wal {
  uv_loop_t *loop;
  uv_async_t *async; /* separate allocations: they outlive w until their close callbacks */
  uv_idle_t *kick;   /* active while appends of this loop turn wait to be announced */
  uv_thread_t thread;
  uv_mutex_t mu;
  uv_cond_t cond;
  char *dir;
  int dirfd; /* also holds the flock that keeps a second process out */
  dm_fsync_mode mode;
  uint64_t fsync_ns; /* interval mode */
  uint64_t segment_bytes;
  size_t max_queued;

  /* guarded by mu */
  wal_group *q_head, *q_tail;       /* queued, not yet taken by the writer */
  wal_group *done_head, *done_tail; /* written (or failed), callbacks not yet run */
  size_t queued_bytes;              /* queued + being written */
  uint64_t retire_below;            /* pending retire request; 0 = none */
  int stop;
  wal_seg *segs; /* live segment files, ascending seq */
  size_t nsegs, segcap;
  dm_wal_fsync_fn fsync_fn;
  void *fsync_arg;

  /* loop thread only */
  uint64_t cur_seg;         /* where the next append goes */
  uint64_t cur_seg_bytes;   /* header + records assigned to cur_seg */
  uint64_t cur_seg_records;
  wal_group *free_groups;
  int nfree;
  wal_owed *owed;
  size_t owed_head, owed_len, owed_cap;
  uint64_t owed_total; /* records whose callback has not run; the async is ref'd while > 0 */
  int appended, replayed, closing;

  /* writer thread only */
  int fd;          /* open segment, -1 none */
  uint64_t fd_seg;
  uint64_t fd_size;
  int dirty;       /* written since the last fdatasync */
  uint64_t last_sync_ns;
  dm_wal_fsync_fn w_fsync_fn;
  void *w_fsync_arg;

  /* written by the writer, read anywhere */
  atomic_int failed;
  _Atomic uint64_t st_bytes, st_segments, st_appended, st_fsyncs, st_fsync_ns_total,
      st_fsync_ns_max, st_first_seg;
};

/* writer.c */
void wal_writer_main(void *arg);

/* replay.c */
/* Fills w->segs from the directory listing (open time). */
int wal_scan_dir(dm_wal *w);
/* <dir>/<seq 20 digits>.log into path (size >= strlen(dir) + 32). */
void wal_seg_path(const dm_wal *w, uint64_t seq, char *path, size_t size);
/* Recomputes st_bytes, st_segments and st_first_seg from w->segs; caller holds mu. */
void wal_stats_from_list(dm_wal *w);

static inline void wal_put_u32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}
static inline uint32_t wal_get_u32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline void wal_put_u64(uint8_t *p, uint64_t v) {
  wal_put_u32(p, (uint32_t)v);
  wal_put_u32(p + 4, (uint32_t)(v >> 32));
}
static inline uint64_t wal_get_u64(const uint8_t *p) {
  return (uint64_t)wal_get_u32(p) | (uint64_t)wal_get_u32(p + 4) << 32;
}

#endif
