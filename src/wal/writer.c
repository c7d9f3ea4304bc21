/* writer.c — the WAL writer thread: takes every queued group at once, writes each to its
 * segment, fdatasyncs per the policy, hands the groups back to the loop; creates,
 * syncs and retires segment files. All disk work of a running WAL happens here, never on
 * the loop thread. The rules it follows are described at the top of wal.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diamond/error.h"
#include "diamond/log.h"
#include "wal_internal.h"

static void fail(dm_wal *w, const char *op, int err) {
  if (atomic_exchange(&w->failed, 1) != 0) return;
  char eb[128];
  const char *es = strerror_r(err, eb, sizeof eb);
  dm_log_error("wal_failed", "op=%s segment=%llu errno=%d error=\"%s\"", op,
               (unsigned long long)w->fd_seg, err, es);
}

static int write_all(int fd, const uint8_t *p, size_t n) {
  while (n > 0) {
    ssize_t k = write(fd, p, n);
    if (k < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (k == 0) return -EIO;
    p += k;
    n -= (size_t)k;
  }
  return 0;
}

static int do_sync(dm_wal *w) {
  uint64_t t0 = uv_hrtime();
  int r;
  do r = fdatasync(w->fd);
  while (r < 0 && errno == EINTR);
  uint64_t t1 = uv_hrtime();
  if (r < 0) {
    fail(w, "fdatasync", errno);
    return DM_EIO;
  }
  uint64_t ns = t1 - t0;
  atomic_fetch_add(&w->st_fsyncs, 1);
  atomic_fetch_add(&w->st_fsync_ns_total, ns);
  if (ns > atomic_load(&w->st_fsync_ns_max)) atomic_store(&w->st_fsync_ns_max, ns);
  if (w->w_fsync_fn != NULL) w->w_fsync_fn(w->w_fsync_arg, ns);
  w->dirty = 0;
  w->last_sync_ns = t1;
  return 0;
}

/* Records the open segment's size in the list; caller holds mu. */
static void note_size_locked(dm_wal *w) {
  if (w->fd < 0) return;
  for (size_t i = w->nsegs; i-- > 0;) {
    if (w->segs[i].seq == w->fd_seg) {
      w->segs[i].size = w->fd_size;
      break;
    }
  }
  wal_stats_from_list(w);
}

static void close_segment(dm_wal *w) {
  uv_mutex_lock(&w->mu);
  note_size_locked(w);
  uv_mutex_unlock(&w->mu);
  close(w->fd);
  w->fd = -1;
  w->dirty = 0;
}

/* Makes seq the open segment: syncs and closes the previous one (every mode: only the
 * last segment may ever be torn), creates the file, writes the header, fsyncs the dir. */
static int open_segment(dm_wal *w, uint64_t seq) {
  if (w->fd >= 0) {
    if (w->dirty && do_sync(w) < 0) return DM_EIO;
    close_segment(w);
  }
  char path[4096];
  wal_seg_path(w, seq, path, sizeof path);
  w->fd_seg = seq;
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    fail(w, "create", errno);
    return DM_EIO;
  }
  uv_mutex_lock(&w->mu);
  if (w->nsegs == w->segcap) {
    size_t cap = w->segcap ? w->segcap * 2 : 16;
    wal_seg *s = realloc(w->segs, cap * sizeof *s);
    if (s == NULL) {
      uv_mutex_unlock(&w->mu);
      close(fd);
      fail(w, "create", ENOMEM);
      return DM_EIO;
    }
    w->segs = s;
    w->segcap = cap;
  }
  w->segs[w->nsegs++] = (wal_seg){seq, 0};
  uv_mutex_unlock(&w->mu);
  w->fd = fd;
  w->fd_size = 0;

  uint8_t hdr[DM_WAL_HEADER_BYTES];
  memcpy(hdr, WAL_MAGIC, 8);
  wal_put_u64(hdr + 8, seq);
  int r = write_all(fd, hdr, sizeof hdr);
  if (r < 0) {
    fail(w, "write_header", -r);
    return DM_EIO;
  }
  w->fd_size = sizeof hdr;
  w->dirty = 1;
  if (fsync(w->dirfd) < 0) {
    fail(w, "fsync_dir", errno);
    return DM_EIO;
  }
  uv_mutex_lock(&w->mu);
  note_size_locked(w);
  uv_mutex_unlock(&w->mu);
  dm_log_debug("wal_segment", "segment=%llu", (unsigned long long)seq);
  return 0;
}

/* Writes a list of groups (append order), syncs per the policy, hands them to the loop. */
static void write_groups(dm_wal *w, wal_group *head) {
  size_t taken = 0;
  wal_group *tail = NULL;
  for (wal_group *g = head; g != NULL; g = g->next) {
    tail = g;
    taken += g->len;
    g->status = DM_EIO;
    if (atomic_load(&w->failed)) continue;
    if ((w->fd < 0 || g->seg != w->fd_seg) && open_segment(w, g->seg) < 0) continue;
    int r = write_all(w->fd, g->buf, g->len);
    if (r < 0) {
      fail(w, "write", -r);
      continue;
    }
    w->fd_size += g->len;
    w->dirty = 1;
    atomic_fetch_add(&w->st_appended, g->len);
    g->status = 0;
  }
  if (w->mode == DM_FSYNC_ALWAYS && !atomic_load(&w->failed) && w->dirty) do_sync(w);
  if (w->mode == DM_FSYNC_ALWAYS && atomic_load(&w->failed)) {
    /* a sync that failed may have lost any of them: report none as durable */
    for (wal_group *g = head; g != NULL; g = g->next) g->status = DM_EIO;
  }

  uv_mutex_lock(&w->mu);
  if (w->done_tail != NULL)
    w->done_tail->next = head;
  else
    w->done_head = head;
  w->done_tail = tail;
  w->queued_bytes -= taken;
  note_size_locked(w);
  uv_mutex_unlock(&w->mu);
  uv_async_send(w->async);
}

typedef struct victim {
  uint64_t seq, size;
  int gone;
} victim;

static void retire(dm_wal *w, uint64_t below) {
  uv_mutex_lock(&w->mu);
  size_t n = 0;
  while (n < w->nsegs && w->segs[n].seq < below) n++;
  victim *v = n > 0 ? calloc(n, sizeof *v) : NULL;
  for (size_t i = 0; v != NULL && i < n; i++) v[i] = (victim){w->segs[i].seq, w->segs[i].size, 0};
  uv_mutex_unlock(&w->mu);
  if (v == NULL) return; /* nothing to do, or no memory: the next retire tries again */

  if (w->fd >= 0 && w->fd_seg < below) close_segment(w);
  size_t gone = 0;
  for (size_t i = 0; i < n; i++) {
    char path[4096];
    wal_seg_path(w, v[i].seq, path, sizeof path);
    if (unlink(path) < 0 && errno != ENOENT) {
      dm_log_warn("wal_retire", "segment=%llu errno=%d", (unsigned long long)v[i].seq, errno);
      continue;
    }
    v[i].gone = 1;
    gone++;
  }
  if (gone > 0 && fsync(w->dirfd) < 0)
    dm_log_warn("wal_retire", "op=fsync_dir errno=%d", errno);

  uv_mutex_lock(&w->mu);
  size_t o = 0;
  for (size_t i = 0; i < w->nsegs; i++) {
    int drop = 0;
    for (size_t j = 0; j < n && !drop; j++) drop = v[j].gone && v[j].seq == w->segs[i].seq;
    if (!drop) w->segs[o++] = w->segs[i];
  }
  w->nsegs = o;
  wal_stats_from_list(w);
  uv_mutex_unlock(&w->mu);
  dm_log_debug("wal_retire", "below=%llu deleted=%zu", (unsigned long long)below, gone);
  free(v);
}

static int has_work(const dm_wal *w) {
  return w->q_head != NULL || w->retire_below != 0 || w->stop;
}

void wal_writer_main(void *arg) {
  dm_wal *w = arg;
  w->last_sync_ns = uv_hrtime();
  uv_mutex_lock(&w->mu);
  for (;;) {
    while (!has_work(w)) {
      if (w->mode == DM_FSYNC_INTERVAL && w->dirty && !atomic_load(&w->failed)) {
        uint64_t now = uv_hrtime(), due = w->last_sync_ns + w->fsync_ns;
        if (now >= due) break;
        uv_cond_timedwait(&w->cond, &w->mu, due - now);
      } else {
        uv_cond_wait(&w->cond, &w->mu);
      }
    }
    wal_group *groups = w->q_head;
    w->q_head = w->q_tail = NULL;
    uint64_t below = w->retire_below;
    w->retire_below = 0;
    int stop = w->stop;
    w->w_fsync_fn = w->fsync_fn;
    w->w_fsync_arg = w->fsync_arg;
    uv_mutex_unlock(&w->mu);

    if (groups != NULL) write_groups(w, groups);
    if (w->mode == DM_FSYNC_INTERVAL && w->dirty && !atomic_load(&w->failed) &&
        uv_hrtime() >= w->last_sync_ns + w->fsync_ns)
      do_sync(w);
    if (below != 0) retire(w, below);
    if (stop) break;
    uv_mutex_lock(&w->mu);
  }
  /* close: everything queued is written; make it durable whatever the mode */
  if (w->fd >= 0) {
    if (w->dirty && !atomic_load(&w->failed)) do_sync(w);
    close_segment(w);
  }
}
