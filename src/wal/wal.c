/* wal.c — the write-ahead log, loop side: open, append, rotate, retire, close, and the
 * delivery of completed groups back on the loop thread.
 *
 * Files
 * -----
 * <dir>/<seq>.log, seq as 20 zero-padded decimal digits so names sort as numbers.
 *
 *   segment = header · record*
 *   header  = "DMWAL1\0\0" (8 bytes) · seq (u64 little-endian)            16 bytes
 *   record  = len (u32 LE) · crc (u32 LE) · payload (len bytes)
 *   crc     = crc32c(the 4 len bytes ‖ payload)
 *   payload = dm_batch_encode() of one appended batch
 *
 * The header's seq must match the file name, so a stray or copied file is refused. The
 * crc covers the length too: a torn length cannot send replay into garbage that happens
 * to checksum.
 *
 * Group commit
 * ------------
 * dm_wal_append encodes the record straight into the tail group of a queue (under a
 * mutex held only for the copy) and keeps the callback with it. The writer is woken once
 * per loop turn, from a uv_idle callback (which also keeps the next poll from blocking),
 * so every append of one turn lands in the same group; a turn that queues more than
 * KICK_BYTES wakes it at once so the disk starts early. The writer thread takes the whole
 * queue in O(1), write()s each group, fdatasync()s once, puts the groups on a done list
 * and wakes the loop with a uv_async; the loop runs the callbacks in append order with
 * the status and the segment number. Appends made while the writer is busy form the
 * next group, so under load one fdatasync covers many requests.
 *   always    callbacks after the fdatasync;
 *   interval  callbacks after write(); the writer fdatasyncs every fsync_ms;
 *   off       callbacks after write(); no fsync until close (the OS decides).
 * More than max_queued_bytes waiting for the disk → DM_EBUSY (backpressure).
 *
 * Segments
 * --------
 * Segment numbers are assigned on the loop thread when a record is queued: the loop
 * counts the bytes given to the current segment and moves to seq + 1 once they reach
 * segment_bytes, or on dm_wal_rotate(). Every callback therefore knows its segment and
 * rotation is ordered with appends. The writer opens the file between groups, when the
 * first group for it comes: it fdatasyncs and closes the previous segment (in EVERY
 * mode, so only the last segment can ever have a torn tail), creates the new one with
 * O_EXCL, writes the header and fsyncs the directory.
 *
 * Deletion rule
 * -------------
 * A segment is deleted only when the engine says every point in it is durable in the
 * table, via dm_wal_retire(below): the engine passes the lowest segment from which an
 * unflushed cache window still holds points. The WAL adds two limits of its own: never
 * the current segment, and never a segment holding a record whose callback has not run
 * yet (the cache has not seen those points, so the engine's word cannot cover them).
 * The unlinks run on the writer thread, followed by an fsync of the directory.
 *
 * Failure
 * -------
 * A failed write, fdatasync or segment creation puts the WAL in a failed state for
 * good: the groups in flight complete with DM_EIO and every later append returns
 * DM_EIO. After a failed fsync the kernel may have dropped the dirty pages and cleared
 * the error (PostgreSQL's "fsyncgate"), so retrying could report success for data that
 * is gone; the only safe way on is a restart that replays what really is on disk.
 *
 * Replay (replay.c) reads the segments in order; a short or crc-failing record at the
 * end of the last segment is a write torn by a crash and is cut off (ftruncate + fsync,
 * logged as wal_torn_tail); anywhere else it is DM_ECORRUPT.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diamond/crc.h"
#include "diamond/error.h"
#include "diamond/log.h"
#include "wal_internal.h"

#define MAX_FREE_GROUPS 2
#define KEEP_GROUP_BYTES ((size_t)8 << 20) /* bigger buffers are freed, not recycled */
#define KICK_BYTES ((size_t)4 << 20)       /* queued in one turn: wake the writer now */

uint32_t dm_wal_record_crc(const void *payload, uint32_t len) {
  uint8_t l[4];
  wal_put_u32(l, len);
  uint32_t crc = dm_crc32c(0, l, sizeof l);
  return len > 0 ? dm_crc32c(crc, payload, len) : crc;
}

static int mkdir_p(const char *dir) {
  char tmp[PATH_MAX];
  size_t n = strlen(dir);
  if (n == 0 || n >= sizeof tmp) return DM_EINVAL;
  memcpy(tmp, dir, n + 1);
  for (char *p = tmp + 1; *p != '\0'; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(tmp, 0755) < 0 && errno != EEXIST) return DM_EIO;
    *p = '/';
  }
  if (mkdir(tmp, 0755) < 0 && errno != EEXIST) return DM_EIO;
  return 0;
}

/* ---- groups (loop thread) ---- */

static wal_group *group_get(dm_wal *w) {
  wal_group *g = w->free_groups;
  if (g != NULL) {
    w->free_groups = g->next;
    w->nfree--;
  } else {
    g = calloc(1, sizeof *g);
    if (g == NULL) return NULL;
  }
  g->next = NULL;
  g->len = 0;
  g->ncb = 0;
  g->status = 0;
  return g;
}

static void group_free(wal_group *g) {
  free(g->buf);
  free(g->cbs);
  free(g);
}

static void group_put(dm_wal *w, wal_group *g) {
  if (w->nfree >= MAX_FREE_GROUPS || g->cap > KEEP_GROUP_BYTES) {
    group_free(g);
    return;
  }
  g->next = w->free_groups;
  w->free_groups = g;
  w->nfree++;
}

static int group_reserve(wal_group *g, size_t bytes) {
  if (g->len + bytes > g->cap) {
    size_t cap = g->cap ? g->cap : 64 * 1024;
    while (cap < g->len + bytes) cap *= 2;
    uint8_t *p = realloc(g->buf, cap);
    if (p == NULL) return DM_ENOMEM;
    g->buf = p;
    g->cap = cap;
  }
  if (g->ncb == g->cbcap) {
    size_t cap = g->cbcap ? g->cbcap * 2 : 16;
    wal_cb *c = realloc(g->cbs, cap * sizeof *c);
    if (c == NULL) return DM_ENOMEM;
    g->cbs = c;
    g->cbcap = cap;
  }
  return 0;
}

/* ---- records owed a callback, per segment (loop thread) ---- */

static int owed_reserve(dm_wal *w) {
  if (w->owed_len < w->owed_cap) return 0;
  if (w->owed_head > 0) {
    memmove(w->owed, w->owed + w->owed_head, (w->owed_len - w->owed_head) * sizeof *w->owed);
    w->owed_len -= w->owed_head;
    w->owed_head = 0;
    return 0;
  }
  size_t cap = w->owed_cap ? w->owed_cap * 2 : 8;
  wal_owed *o = realloc(w->owed, cap * sizeof *o);
  if (o == NULL) return DM_ENOMEM;
  w->owed = o;
  w->owed_cap = cap;
  return 0;
}

static void owed_add(dm_wal *w, uint64_t seg) {
  if (w->owed_len > w->owed_head && w->owed[w->owed_len - 1].seg == seg)
    w->owed[w->owed_len - 1].n++;
  else
    w->owed[w->owed_len++] = (wal_owed){seg, 1};
  if (w->owed_total++ == 0) uv_ref((uv_handle_t *)w->async);
}

static void owed_done(dm_wal *w, uint64_t n) {
  while (n > 0 && w->owed_head < w->owed_len) {
    wal_owed *o = &w->owed[w->owed_head];
    uint64_t k = n < o->n ? n : o->n;
    o->n -= k;
    n -= k;
    w->owed_total -= k;
    if (o->n == 0) w->owed_head++;
  }
  if (w->owed_head == w->owed_len) w->owed_head = w->owed_len = 0;
  if (w->owed_total == 0 && !w->closing) uv_unref((uv_handle_t *)w->async);
}

/* ---- delivery (loop thread) ---- */

static void deliver(dm_wal *w) {
  uv_mutex_lock(&w->mu);
  wal_group *g = w->done_head;
  w->done_head = w->done_tail = NULL;
  uv_mutex_unlock(&w->mu);
  while (g != NULL) {
    wal_group *next = g->next;
    for (size_t i = 0; i < g->ncb; i++) g->cbs[i].cb(g->cbs[i].arg, g->status, g->seg);
    owed_done(w, g->ncb);
    group_put(w, g);
    g = next;
  }
}

static void on_async(uv_async_t *h) { deliver(h->data); }

/* End of the loop turn's appends: hand them to the writer as one group. */
static void on_kick(uv_idle_t *h) {
  dm_wal *w = h->data;
  uv_idle_stop(h);
  uv_mutex_lock(&w->mu);
  uv_cond_signal(&w->cond);
  uv_mutex_unlock(&w->mu);
}

static void free_handle(uv_handle_t *h) { free(h); }

/* ---- public ---- */

int dm_wal_open(dm_wal **out, uv_loop_t *loop, const dm_wal_opts *o) {
  if (o == NULL || o->dir == NULL || o->dir[0] == '\0' || o->segment_bytes < 0 ||
      o->fsync_ms < 0 || o->fsync < DM_FSYNC_ALWAYS || o->fsync > DM_FSYNC_OFF)
    return DM_EINVAL;
  char qd[512];
  int rc = mkdir_p(o->dir);
  if (rc < 0) {
    dm_log_error("wal_open", "dir=%s error=\"cannot create\"", dm_log_quote(qd, sizeof qd, o->dir));
    return rc;
  }
  dm_wal *w = calloc(1, sizeof *w);
  if (w == NULL) return DM_ENOMEM;
  w->loop = loop;
  w->fd = -1;
  w->dirfd = -1;
  w->mode = o->fsync;
  w->fsync_ns = (uint64_t)(o->fsync_ms > 0 ? o->fsync_ms : DM_WAL_DEFAULT_FSYNC_MS) * 1000000u;
  w->segment_bytes =
      (uint64_t)(o->segment_bytes > 0 ? o->segment_bytes : DM_WAL_DEFAULT_SEGMENT_BYTES);
  w->max_queued = o->max_queued_bytes > 0 ? o->max_queued_bytes : DM_WAL_MAX_QUEUED;
  rc = DM_ENOMEM;
  w->dir = strdup(o->dir);
  if (w->dir == NULL) goto fail;
  rc = DM_EIO;
  w->dirfd = open(o->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (w->dirfd < 0) {
    dm_log_error("wal_open", "dir=%s errno=%d", dm_log_quote(qd, sizeof qd, o->dir), errno);
    goto fail;
  }
  if (flock(w->dirfd, LOCK_EX | LOCK_NB) < 0) {
    rc = errno == EWOULDBLOCK ? DM_EBUSY : DM_EIO;
    dm_log_error("wal_open", "dir=%s error=\"locked by another process\"",
                 dm_log_quote(qd, sizeof qd, o->dir));
    goto fail;
  }
  rc = wal_scan_dir(w);
  if (rc < 0) goto fail;
  w->cur_seg = w->nsegs > 0 ? w->segs[w->nsegs - 1].seq + 1 : 1;
  w->cur_seg_bytes = DM_WAL_HEADER_BYTES;
  wal_stats_from_list(w);
  rc = DM_ENOMEM;
  if (uv_mutex_init(&w->mu) != 0) goto fail;
  if (uv_cond_init(&w->cond) != 0) goto fail_mutex;
  w->async = calloc(1, sizeof *w->async);
  if (w->async == NULL) goto fail_cond;
  if (uv_async_init(loop, w->async, on_async) != 0) {
    free(w->async);
    goto fail_cond;
  }
  w->async->data = w;
  uv_unref((uv_handle_t *)w->async);
  w->kick = calloc(1, sizeof *w->kick);
  if (w->kick == NULL) goto fail_async;
  uv_idle_init(loop, w->kick);
  w->kick->data = w;
  uv_unref((uv_handle_t *)w->kick);
  if (uv_thread_create(&w->thread, wal_writer_main, w) != 0) goto fail_kick;
  *out = w;
  return 0;
fail_kick:
  uv_close((uv_handle_t *)w->kick, free_handle);
fail_async:
  uv_close((uv_handle_t *)w->async, free_handle);
fail_cond:
  uv_cond_destroy(&w->cond);
fail_mutex:
  uv_mutex_destroy(&w->mu);
fail:
  if (w->dirfd >= 0) close(w->dirfd);
  free(w->segs);
  free(w->dir);
  free(w);
  return rc;
}

int dm_wal_append(dm_wal *w, const dm_batch *b, dm_wal_cb cb, void *arg) {
  if (w->closing) return DM_ECLOSED;
  if (atomic_load(&w->failed)) return DM_EIO;
  size_t plen = dm_batch_encoded_size(b);
  if (plen > UINT32_MAX - DM_WAL_RECORD_BYTES) return DM_ERANGE;
  size_t rec = DM_WAL_RECORD_BYTES + plen;
  int rc = owed_reserve(w);
  if (rc < 0) return rc;
  uint64_t seg = w->cur_seg;

  uv_mutex_lock(&w->mu);
  if (w->queued_bytes > 0 && w->queued_bytes + rec > w->max_queued) {
    rc = DM_EBUSY;
    goto unlock;
  }
  wal_group *g = w->q_tail;
  int fresh = 0;
  if (g == NULL || g->seg != seg) {
    g = group_get(w);
    if (g == NULL) {
      rc = DM_ENOMEM;
      goto unlock;
    }
    g->seg = seg;
    fresh = 1;
  }
  if (group_reserve(g, rec) < 0) {
    if (fresh) group_put(w, g);
    rc = DM_ENOMEM;
    goto unlock;
  }
  uint8_t *p = g->buf + g->len;
  size_t n = dm_batch_encode(b, p + DM_WAL_RECORD_BYTES);
  (void)n; /* == plen: dm_batch_encoded_size is exact */
  wal_put_u32(p, (uint32_t)plen);
  wal_put_u32(p + 4, dm_wal_record_crc(p + DM_WAL_RECORD_BYTES, (uint32_t)plen));
  g->len += rec;
  g->cbs[g->ncb++] = (wal_cb){cb, arg};
  if (fresh) {
    if (w->q_tail != NULL)
      w->q_tail->next = g;
    else
      w->q_head = g;
    w->q_tail = g;
  }
  w->queued_bytes += rec;
  if (w->queued_bytes >= KICK_BYTES) uv_cond_signal(&w->cond);
unlock:
  uv_mutex_unlock(&w->mu);
  if (rc < 0) return rc;

  if (!uv_is_active((uv_handle_t *)w->kick)) uv_idle_start(w->kick, on_kick);
  owed_add(w, seg);
  w->appended = 1;
  w->cur_seg_records++;
  w->cur_seg_bytes += rec;
  if (w->cur_seg_bytes >= w->segment_bytes) dm_wal_rotate(w);
  return 0;
}

uint64_t dm_wal_current_seg(const dm_wal *w) { return w->cur_seg; }

int dm_wal_rotate(dm_wal *w) {
  if (w->closing) return DM_ECLOSED;
  if (w->cur_seg_records == 0) return 0;
  w->cur_seg++;
  w->cur_seg_bytes = DM_WAL_HEADER_BYTES;
  w->cur_seg_records = 0;
  return 0;
}

int dm_wal_retire(dm_wal *w, uint64_t below) {
  if (w->closing) return DM_ECLOSED;
  if (below > w->cur_seg) below = w->cur_seg;
  if (w->owed_total > 0 && w->owed[w->owed_head].seg < below) below = w->owed[w->owed_head].seg;
  uv_mutex_lock(&w->mu);
  if (below > w->retire_below) {
    w->retire_below = below;
    uv_cond_signal(&w->cond);
  }
  uv_mutex_unlock(&w->mu);
  return 0;
}

void dm_wal_stats_get(const dm_wal *w, dm_wal_stats *s) {
  memset(s, 0, sizeof *s);
  s->bytes = atomic_load(&w->st_bytes);
  s->segments = atomic_load(&w->st_segments);
  s->appended_bytes = atomic_load(&w->st_appended);
  s->fsyncs = atomic_load(&w->st_fsyncs);
  s->fsync_ns_total = atomic_load(&w->st_fsync_ns_total);
  s->fsync_ns_max = atomic_load(&w->st_fsync_ns_max);
  s->cur_seg = w->cur_seg;
  s->first_seg = s->segments > 0 ? atomic_load(&w->st_first_seg) : w->cur_seg;
  uv_mutex_t *mu = (uv_mutex_t *)&w->mu; /* the lock, not the WAL, changes */
  uv_mutex_lock(mu);
  s->queued_bytes = w->queued_bytes;
  uv_mutex_unlock(mu);
  s->failed = atomic_load(&w->failed) != 0;
}

void dm_wal_set_fsync_observer(dm_wal *w, dm_wal_fsync_fn fn, void *arg) {
  uv_mutex_lock(&w->mu);
  w->fsync_fn = fn;
  w->fsync_arg = arg;
  uv_mutex_unlock(&w->mu);
}

void dm_wal_close(dm_wal *w) {
  if (w == NULL) return;
  w->closing = 1;
  uv_mutex_lock(&w->mu);
  w->stop = 1;
  uv_cond_signal(&w->cond);
  uv_mutex_unlock(&w->mu);
  uv_thread_join(&w->thread);
  deliver(w); /* the writer took and completed everything queued before stop */
  w->async->data = NULL;
  uv_close((uv_handle_t *)w->async, free_handle);
  uv_idle_stop(w->kick);
  w->kick->data = NULL;
  uv_close((uv_handle_t *)w->kick, free_handle);
  while (w->free_groups != NULL) {
    wal_group *g = w->free_groups;
    w->free_groups = g->next;
    group_free(g);
  }
  uv_cond_destroy(&w->cond);
  uv_mutex_destroy(&w->mu);
  close(w->dirfd); /* releases the flock */
  free(w->owed);
  free(w->segs);
  free(w->dir);
  free(w);
}
