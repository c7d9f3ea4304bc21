/* replay.c — reading the WAL back: the directory listing taken at open, and the replay
 * of every segment at start-up, which cuts a torn tail off the last segment.
 *
 * Why only the last segment may be torn: the writer fdatasyncs a segment before it
 * creates the next one, in every fsync mode (wal.c). So a crash can leave a partial
 * record, a partial header or an empty file only at the end of the newest segment;
 * anything wrong in an older one is damage, not a crash, and replay stops with
 * DM_ECORRUPT rather than silently dropping acknowledged points.
 *
 * A record that passes its crc but does not decode is DM_ECORRUPT wherever it is: that
 * is a bug or a foreign file, never a torn write.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diamond/error.h"
#include "diamond/log.h"
#include "wal_internal.h"

void wal_seg_path(const dm_wal *w, uint64_t seq, char *path, size_t size) {
  snprintf(path, size, "%s/%020llu.log", w->dir, (unsigned long long)seq);
}

void wal_stats_from_list(dm_wal *w) {
  uint64_t bytes = 0;
  for (size_t i = 0; i < w->nsegs; i++) bytes += w->segs[i].size;
  atomic_store(&w->st_bytes, bytes);
  atomic_store(&w->st_segments, (uint64_t)w->nsegs);
  atomic_store(&w->st_first_seg, w->nsegs > 0 ? w->segs[0].seq : 0);
}

/* "<20 digits>.log" → seq; else -1. */
static int parse_name(const char *name, uint64_t *seq) {
  if (strlen(name) != 24 || strcmp(name + 20, ".log") != 0) return -1;
  uint64_t v = 0;
  for (int i = 0; i < 20; i++) {
    if (name[i] < '0' || name[i] > '9') return -1;
    uint64_t d = (uint64_t)(name[i] - '0');
    if (v > (UINT64_MAX - d) / 10) return -1;
    v = v * 10 + d;
  }
  *seq = v;
  return 0;
}

static int cmp_seg(const void *a, const void *b) {
  uint64_t x = ((const wal_seg *)a)->seq, y = ((const wal_seg *)b)->seq;
  return x < y ? -1 : x > y;
}

int wal_scan_dir(dm_wal *w) {
  DIR *d = opendir(w->dir);
  if (d == NULL) return DM_EIO;
  int rc = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    uint64_t seq;
    if (parse_name(de->d_name, &seq) < 0) continue;
    struct stat st;
    if (fstatat(w->dirfd, de->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode)) continue;
    if (w->nsegs == w->segcap) {
      size_t cap = w->segcap ? w->segcap * 2 : 16;
      wal_seg *s = realloc(w->segs, cap * sizeof *s);
      if (s == NULL) {
        rc = DM_ENOMEM;
        break;
      }
      w->segs = s;
      w->segcap = cap;
    }
    w->segs[w->nsegs++] = (wal_seg){seq, (uint64_t)st.st_size};
  }
  closedir(d);
  if (rc == 0 && w->nsegs > 0) qsort(w->segs, w->nsegs, sizeof *w->segs, cmp_seg);
  return rc;
}

static int all_zero(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != 0) return 0;
  return 1;
}

typedef struct replay_ctx {
  dm_wal_replay_fn fn;
  void *arg;
  dm_batch b;
  uint64_t records, points;
} replay_ctx;

/* Replays one segment; on return *size is its size (after any truncation). */
static int replay_one(dm_wal *w, uint64_t seq, int last, replay_ctx *c, uint64_t *size) {
  char path[4096];
  wal_seg_path(w, seq, path, sizeof path);
  int fd = open(path, (last ? O_RDWR : O_RDONLY) | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0) {
    dm_log_error("wal_replay", "segment=%llu errno=%d", (unsigned long long)seq, errno);
    if (fd >= 0) close(fd);
    return DM_EIO;
  }
  uint64_t len = (uint64_t)st.st_size, off = 0;
  uint8_t *m = NULL;
  int rc = 0;
  *size = len;
  if (len == 0) goto out;
  if (len < DM_WAL_HEADER_BYTES) goto torn;
  m = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
  if (m == MAP_FAILED) {
    m = NULL;
    dm_log_error("wal_replay", "segment=%llu op=mmap errno=%d", (unsigned long long)seq, errno);
    rc = DM_EIO;
    goto out;
  }
  if (memcmp(m, WAL_MAGIC, 8) != 0 || wal_get_u64(m + 8) != seq) {
    if (last && all_zero(m, DM_WAL_HEADER_BYTES)) goto torn; /* header never reached disk */
    dm_log_error("wal_corrupt", "segment=%llu offset=0 error=\"bad header\"",
                 (unsigned long long)seq);
    rc = DM_ECORRUPT;
    goto out;
  }
  off = DM_WAL_HEADER_BYTES;
  while (len - off >= DM_WAL_RECORD_BYTES) {
    uint32_t plen = wal_get_u32(m + off), crc = wal_get_u32(m + off + 4);
    if (plen > len - off - DM_WAL_RECORD_BYTES) break;
    const uint8_t *p = m + off + DM_WAL_RECORD_BYTES;
    if (dm_wal_record_crc(p, plen) != crc) break;
    dm_batch_reset(&c->b);
    if (dm_batch_decode(&c->b, p, plen) < 0) {
      dm_log_error("wal_corrupt", "segment=%llu offset=%llu error=\"undecodable record\"",
                   (unsigned long long)seq, (unsigned long long)off);
      rc = DM_ECORRUPT;
      goto out;
    }
    rc = c->fn(c->arg, &c->b, seq);
    if (rc < 0) goto out;
    rc = 0;
    c->records++;
    c->points += c->b.n;
    off += DM_WAL_RECORD_BYTES + plen;
  }
  if (off == len) goto out;
torn:
  if (!last) {
    dm_log_error("wal_corrupt", "segment=%llu offset=%llu bytes=%llu error=\"bad record\"",
                 (unsigned long long)seq, (unsigned long long)off,
                 (unsigned long long)(len - off));
    rc = DM_ECORRUPT;
    goto out;
  }
  if (m != NULL) {
    munmap(m, len);
    m = NULL;
  }
  if (ftruncate(fd, (off_t)off) < 0 || fsync(fd) < 0) {
    dm_log_error("wal_replay", "segment=%llu op=truncate errno=%d", (unsigned long long)seq,
                 errno);
    rc = DM_EIO;
    goto out;
  }
  dm_log_warn("wal_torn_tail", "segment=%llu offset=%llu dropped_bytes=%llu",
              (unsigned long long)seq, (unsigned long long)off, (unsigned long long)(len - off));
  *size = off;
out:
  if (m != NULL) munmap(m, len);
  close(fd);
  return rc;
}

int dm_wal_replay(dm_wal *w, dm_wal_replay_fn fn, void *arg, uint64_t *records,
                  uint64_t *points) {
  if (w->closing) return DM_ECLOSED;
  if (w->appended || w->replayed || fn == NULL) return DM_EINVAL;
  w->replayed = 1;
  /* The writer has nothing to do before the first append, so the list is stable; the
   * lock is for the stats readers. */
  uv_mutex_lock(&w->mu);
  size_t n = w->nsegs;
  uint64_t *seqs = n > 0 ? malloc(n * sizeof *seqs) : NULL;
  for (size_t i = 0; seqs != NULL && i < n; i++) seqs[i] = w->segs[i].seq;
  uv_mutex_unlock(&w->mu);
  if (n > 0 && seqs == NULL) return DM_ENOMEM;

  replay_ctx c = {.fn = fn, .arg = arg};
  dm_batch_init(&c.b);
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0; i++) {
    uint64_t size;
    rc = replay_one(w, seqs[i], i + 1 == n, &c, &size);
    uv_mutex_lock(&w->mu);
    for (size_t j = 0; j < w->nsegs; j++)
      if (w->segs[j].seq == seqs[i]) w->segs[j].size = size;
    wal_stats_from_list(w);
    uv_mutex_unlock(&w->mu);
  }
  dm_batch_free(&c.b);
  free(seqs);
  if (records != NULL) *records = c.records;
  if (points != NULL) *points = c.points;
  if (rc == 0)
    dm_log_info("wal_replay", "segments=%zu records=%llu points=%llu next_segment=%llu", n,
                (unsigned long long)c.records, (unsigned long long)c.points,
                (unsigned long long)w->cur_seg);
  return rc;
}
