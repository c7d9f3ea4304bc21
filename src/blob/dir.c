/* dir.c — the directory blob store: the cold tier as plain files under one directory.
 *
 * Key "v1/2026-11-24/07.dmb" is the file <dir>/v1/2026-11-24/07.dmb. Key segments are
 * non-empty and never start with '.', which keeps "..", hidden files and our temp files
 * out of the key space (list skips every dot-name).
 *
 * Atomic replace: put writes a unique temp file ".tmp.<base>.<pid>.<seq>" in the key's own
 * directory, fsyncs it, renames it over the key and fsyncs the directory. A reader, or the
 * process after a crash, sees the old object or the new one, never a prefix of either; a
 * crash can only leave a temp file behind, which list ignores, and removes when it is
 * stale (is_stale_temp). Directories created on the
 * way are fsynced into their parents, so a key that put acknowledged survives power loss.
 * del unlinks the file and removes the directories it leaves empty (never the root); a put
 * racing with that rmdir sees ENOENT on its temp file and creates the directory again.
 *
 * Every operation runs on the libuv thread pool; callbacks come back on the loop thread.
 * close() frees the store once the last accepted call has called back (see blob.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "diamond/blob.h"
#include "diamond/buf.h"
#include "diamond/error.h"
#include "diamond/log.h"

enum { OP_PUT, OP_GET, OP_LIST, OP_DEL };

typedef struct dir_blob {
  dm_blob base;
  uv_loop_t *loop;
  char *root; /* no trailing '/' */
  size_t root_len;
  dm_blob_stats st;
  size_t inflight; /* accepted calls that have not called back yet */
  int closing;
  atomic_uint_fast64_t tmp_seq;
} dir_blob;

typedef struct job {
  uv_work_t req;
  dir_blob *b;
  int op;
  int status;
  char *path; /* full path of the key (put/get/del) or of the prefix (list) */
  /* put */
  const uint8_t *data;
  size_t len;
  /* get */
  int64_t off;
  uint8_t *out;
  size_t out_len;
  uint64_t size;
  /* list */
  char *prefix;
  dm_buf names;     /* NUL-terminated keys back to back */
  dm_buf offs;      /* size_t offsets into names */
  dm_name_ref *refs;
  size_t n_refs;
  union {
    dm_done_cb done;
    dm_bytes_cb bytes;
    dm_names_cb names;
  } cb;
  void *arg;
} job;

static int errno_status(int e) {
  switch (e) {
  case ENOENT: return DM_ENOENT;
  case ENOMEM: return DM_ENOMEM;
  case ENOSPC: case EDQUOT: case EFBIG: return DM_ERANGE;
  default: return DM_EIO;
  }
}

/* A key or a directory prefix: '/'-separated non-empty segments, none starting with '.'. */
static int key_ok(const char *k, size_t len) {
  if (len == 0 || len > PATH_MAX / 2) return 0;
  size_t seg = 0;
  for (size_t i = 0; i < len; i++) {
    if (k[i] == '\0') return 0;
    if (k[i] == '/') {
      if (seg == 0) return 0;
      seg = 0;
      continue;
    }
    if (seg == 0 && k[i] == '.') return 0;
    seg++;
  }
  return seg > 0;
}

static char *join(const dir_blob *b, const char *key, size_t len) {
  char *p = malloc(b->root_len + 1 + len + 1);
  if (p == NULL) return NULL;
  memcpy(p, b->root, b->root_len);
  p[b->root_len] = '/';
  memcpy(p + b->root_len + 1, key, len);
  p[b->root_len + 1 + len] = '\0';
  return p;
}

static int fsync_path(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -errno;
  int rc = fsync(fd) < 0 ? -errno : 0;
  close(fd);
  return rc;
}

/* mkdir -p of path[0..len); each directory it creates is fsynced into its parent. */
static int mkdir_p(const char *path, size_t len) {
  char buf[PATH_MAX];
  if (len == 0 || len >= sizeof buf) return -ENAMETOOLONG;
  memcpy(buf, path, len);
  buf[len] = '\0';
  for (size_t i = 1; i <= len; i++) {
    if (i < len && buf[i] != '/') continue;
    buf[i] = '\0';
    if (mkdir(buf, 0755) == 0) {
      char *slash = strrchr(buf, '/');
      if (slash == buf) {
        fsync_path("/");
      } else if (slash != NULL) {
        *slash = '\0';
        fsync_path(buf);
        *slash = '/';
      } else {
        fsync_path(".");
      }
    } else if (errno != EEXIST) {
      return -errno;
    }
    if (i < len) buf[i] = '/';
  }
  struct stat st;
  if (stat(buf, &st) < 0) return -errno;
  return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

static int write_all(int fd, const uint8_t *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static void do_put(job *j) {
  char *slash = strrchr(j->path, '/');
  size_t dlen = (size_t)(slash - j->path);
  char tmp[PATH_MAX];
  int n = snprintf(tmp, sizeof tmp, "%.*s/.tmp.%s.%ld.%llu", (int)dlen, j->path, slash + 1,
                   (long)getpid(), (unsigned long long)atomic_fetch_add(&j->b->tmp_seq, 1));
  if (n < 0 || (size_t)n >= sizeof tmp) {
    j->status = DM_EINVAL;
    return;
  }
  int fd = -1, rc = 0;
  for (int attempt = 0; attempt < 3 && fd < 0; attempt++) {
    rc = mkdir_p(j->path, dlen);
    if (rc < 0) goto fail;
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 && errno != ENOENT) break; /* ENOENT: a del removed the directory: retry */
  }
  if (fd < 0) {
    rc = -errno;
    goto fail;
  }
  rc = write_all(fd, j->data, j->len);
  if (rc == 0 && fsync(fd) < 0) rc = -errno;
  if (close(fd) < 0 && rc == 0) rc = -errno;
  if (rc < 0) goto fail_tmp;
  if (rename(tmp, j->path) < 0) {
    rc = -errno;
    goto fail_tmp;
  }
  *slash = '\0';
  rc = fsync_path(j->path);
  *slash = '/';
  if (rc < 0) goto fail;
  return;
fail_tmp:
  unlink(tmp);
fail:
  dm_log_error("blob_put", "path=%s err=\"%s\"", j->path, strerror(-rc));
  j->status = errno_status(-rc);
}

static void do_get(job *j) {
  int fd = open(j->path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    j->status = errno_status(errno);
    return;
  }
  struct stat st;
  if (fstat(fd, &st) < 0) {
    j->status = errno_status(errno);
    goto done;
  }
  if (!S_ISREG(st.st_mode)) {
    j->status = DM_ENOENT;
    goto done;
  }
  uint64_t size = (uint64_t)st.st_size, start;
  if (j->off < 0) {
    start = size > j->len ? size - j->len : 0;
  } else {
    start = (uint64_t)j->off < size ? (uint64_t)j->off : size;
  }
  size_t n = size - start < j->len ? (size_t)(size - start) : j->len;
  j->size = size;
  j->out = malloc(n > 0 ? n : 1);
  if (j->out == NULL) {
    j->status = DM_ENOMEM;
    goto done;
  }
  size_t got = 0;
  while (got < n) {
    ssize_t r = pread(fd, j->out + got, n - got, (off_t)(start + got));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      j->status = errno_status(errno);
      goto done;
    }
    if (r == 0) break;
    got += (size_t)r;
  }
  j->out_len = got;
done:
  close(fd);
}

/* Recursive walk below dfd (taken over); rel holds the key of the directory, '/'-ended. */
/* A temp file ".tmp.<base>.<pid>.<seq>" that nothing will ever rename: left by another
 * process (one that crashed in the middle of a put), or older than an hour (a restarted
 * process can get the same pid, PID 1 in a container). A younger temp file of this process
 * may belong to a put in flight and is left alone. */
static int is_stale_temp(int dfd, const char *name) {
  if (strncmp(name, ".tmp.", 5) != 0) return 0;
  const char *seq = strrchr(name, '.');
  if (seq == NULL || seq == name + 4) return 0;
  const char *pid = seq - 1;
  while (pid > name + 4 && *pid != '.') pid--;
  if (pid <= name + 4) return 0;
  if (strtol(pid + 1, NULL, 10) != (long)getpid()) return 1;
  struct stat st;
  return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_mtime < time(NULL) - 3600;
}

static int walk(job *j, int dfd, char *rel, size_t rel_len) {
  DIR *d = fdopendir(dfd);
  if (d == NULL) {
    int e = errno;
    close(dfd);
    return -e;
  }
  size_t plen = strlen(j->prefix);
  int rc = 0;
  struct dirent *de;
  while (rc == 0 && (errno = 0, de = readdir(d)) != NULL) {
    if (de->d_name[0] == '.') { /* ".", "..", temp files */
      if (is_stale_temp(dirfd(d), de->d_name)) unlinkat(dirfd(d), de->d_name, 0);
      continue;
    }
    size_t nlen = strlen(de->d_name);
    if (rel_len + nlen + 2 > PATH_MAX) continue;
    memcpy(rel + rel_len, de->d_name, nlen + 1);
    unsigned char type = de->d_type;
    if (type == DT_UNKNOWN || type == DT_LNK) {
      struct stat st;
      if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) continue;
      type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
    }
    size_t klen = rel_len + nlen;
    if (type == DT_REG) {
      if (klen < plen || memcmp(rel, j->prefix, plen) != 0) continue;
      size_t off = j->names.len;
      dm_buf_add(&j->names, rel, klen + 1);
      dm_buf_add(&j->offs, &off, sizeof off);
      if (j->names.oom || j->offs.oom) rc = -ENOMEM;
    } else if (type == DT_DIR) {
      rel[klen] = '/';
      size_t m = klen + 1 < plen ? klen + 1 : plen;
      if (memcmp(rel, j->prefix, m) != 0) continue; /* nothing below can match */
      int cfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (cfd < 0) {
        if (errno == ENOENT) continue; /* removed meanwhile */
        rc = -errno;
        break;
      }
      rc = walk(j, cfd, rel, klen + 1);
    }
  }
  if (rc == 0 && errno != 0 && de == NULL) rc = -errno;
  closedir(d);
  return rc;
}

static int cmp_off(const void *a, const void *b, void *base) {
  return strcmp((const char *)base + *(const size_t *)a, (const char *)base + *(const size_t *)b);
}

static void do_list(job *j) {
  char rel[PATH_MAX];
  const char *slash = strrchr(j->prefix, '/');
  size_t dlen = slash != NULL ? (size_t)(slash - j->prefix) : 0;
  int dfd;
  if (dlen == 0) {
    dfd = open(j->b->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  } else {
    char *dir = join(j->b, j->prefix, dlen);
    if (dir == NULL) {
      j->status = DM_ENOMEM;
      return;
    }
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
  }
  if (dfd < 0) {
    j->status = (errno == ENOENT || errno == ENOTDIR) ? 0 : errno_status(errno);
    return;
  }
  memcpy(rel, j->prefix, dlen);
  if (dlen > 0) rel[dlen++] = '/';
  int rc = walk(j, dfd, rel, dlen);
  if (rc < 0) {
    j->status = errno_status(-rc);
    return;
  }
  size_t n = j->offs.len / sizeof(size_t);
  size_t *offs = (size_t *)j->offs.p;
  j->refs = malloc((n > 0 ? n : 1) * sizeof *j->refs);
  if (j->refs == NULL) {
    j->status = DM_ENOMEM;
    return;
  }
  if (n > 1) qsort_r(offs, n, sizeof *offs, cmp_off, j->names.p);
  for (size_t i = 0; i < n; i++) {
    j->refs[i].s = j->names.p + offs[i];
    j->refs[i].len = strlen(j->refs[i].s);
  }
  j->n_refs = n;
}

static void do_del(job *j) {
  if (unlink(j->path) < 0 && errno != ENOENT) {
    dm_log_error("blob_del", "path=%s err=\"%s\"", j->path, strerror(errno));
    j->status = errno_status(errno);
    return;
  }
  /* Remove the directories this leaves empty, up to (not including) the root. */
  char *end = strrchr(j->path, '/');
  while (end != NULL && (size_t)(end - j->path) > j->b->root_len) {
    *end = '\0';
    if (rmdir(j->path) < 0) break;
    end = strrchr(j->path, '/');
  }
  if (end != NULL) {
    *end = '\0';
    fsync_path(j->path);
  }
}

static void work(uv_work_t *req) {
  job *j = req->data;
  switch (j->op) {
  case OP_PUT: do_put(j); break;
  case OP_GET: do_get(j); break;
  case OP_LIST: do_list(j); break;
  case OP_DEL: do_del(j); break;
  }
}

static void destroy(dir_blob *b) {
  free(b->root);
  free(b);
}

static void after(uv_work_t *req, int status) {
  job *j = req->data;
  dir_blob *b = j->b;
  if (status < 0 && j->status == 0) j->status = DM_ECLOSED; /* uv_cancel: not used */
  switch (j->op) {
  case OP_PUT:
    if (j->status == 0) b->st.bytes_put += j->len;
    j->cb.done(j->arg, j->status);
    break;
  case OP_GET:
    if (j->status == 0) b->st.bytes_got += j->out_len;
    j->cb.bytes(j->arg, j->status, j->status == 0 ? j->out : NULL, j->status == 0 ? j->out_len : 0,
                j->status == 0 ? j->size : 0);
    break;
  case OP_LIST:
    j->cb.names(j->arg, j->status, j->status == 0 ? j->refs : NULL,
                j->status == 0 ? j->n_refs : 0);
    break;
  case OP_DEL: j->cb.done(j->arg, j->status); break;
  }
  free(j->path);
  free(j->out);
  free(j->prefix);
  free(j->refs);
  dm_buf_free(&j->names);
  dm_buf_free(&j->offs);
  free(j);
  if (--b->inflight == 0 && b->closing) destroy(b);
}

static job *job_new(dir_blob *b, int op, void *arg) {
  if (b->closing) return NULL;
  job *j = calloc(1, sizeof *j);
  if (j == NULL) return NULL;
  j->b = b;
  j->op = op;
  j->arg = arg;
  j->req.data = j;
  dm_buf_init(&j->names);
  dm_buf_init(&j->offs);
  return j;
}

static int submit(job *j) {
  int rc = uv_queue_work(j->b->loop, &j->req, work, after);
  if (rc < 0) {
    free(j->path);
    free(j->prefix);
    free(j);
    return DM_EIO;
  }
  j->b->inflight++;
  return 0;
}

static int dir_put(dm_blob *base, const char *key, const uint8_t *data, size_t len,
                   dm_done_cb cb, void *arg) {
  dir_blob *b = (dir_blob *)base;
  if (b->closing) return DM_ECLOSED;
  if (key == NULL || cb == NULL || (data == NULL && len > 0) || !key_ok(key, strlen(key)))
    return DM_EINVAL;
  job *j = job_new(b, OP_PUT, arg);
  if (j == NULL) return DM_ENOMEM;
  j->path = join(b, key, strlen(key));
  j->data = data;
  j->len = len;
  j->cb.done = cb;
  if (j->path == NULL) {
    free(j);
    return DM_ENOMEM;
  }
  b->st.puts++;
  return submit(j);
}

static int dir_get_range(dm_blob *base, const char *key, int64_t off, size_t len,
                         dm_bytes_cb cb, void *arg) {
  dir_blob *b = (dir_blob *)base;
  if (b->closing) return DM_ECLOSED;
  if (key == NULL || cb == NULL || !key_ok(key, strlen(key))) return DM_EINVAL;
  job *j = job_new(b, OP_GET, arg);
  if (j == NULL) return DM_ENOMEM;
  j->path = join(b, key, strlen(key));
  j->off = off;
  j->len = len;
  j->cb.bytes = cb;
  if (j->path == NULL) {
    free(j);
    return DM_ENOMEM;
  }
  b->st.gets++;
  return submit(j);
}

static int dir_list(dm_blob *base, const char *prefix, dm_names_cb cb, void *arg) {
  dir_blob *b = (dir_blob *)base;
  if (b->closing) return DM_ECLOSED;
  if (prefix == NULL) prefix = "";
  const char *slash = strrchr(prefix, '/');
  if (cb == NULL || strlen(prefix) > PATH_MAX / 2 ||
      (slash != NULL && !key_ok(prefix, (size_t)(slash - prefix))))
    return DM_EINVAL;
  job *j = job_new(b, OP_LIST, arg);
  if (j == NULL) return DM_ENOMEM;
  j->prefix = strdup(prefix);
  j->cb.names = cb;
  if (j->prefix == NULL) {
    free(j);
    return DM_ENOMEM;
  }
  b->st.lists++;
  return submit(j);
}

static int dir_del(dm_blob *base, const char *key, dm_done_cb cb, void *arg) {
  dir_blob *b = (dir_blob *)base;
  if (b->closing) return DM_ECLOSED;
  if (key == NULL || cb == NULL || !key_ok(key, strlen(key))) return DM_EINVAL;
  job *j = job_new(b, OP_DEL, arg);
  if (j == NULL) return DM_ENOMEM;
  j->path = join(b, key, strlen(key));
  j->cb.done = cb;
  if (j->path == NULL) {
    free(j);
    return DM_ENOMEM;
  }
  b->st.deletes++;
  return submit(j);
}

static void dir_stats(dm_blob *base, dm_blob_stats *out) { *out = ((dir_blob *)base)->st; }

static void dir_close(dm_blob *base) {
  dir_blob *b = (dir_blob *)base;
  if (b == NULL || b->closing) return;
  b->closing = 1;
  if (b->inflight == 0) destroy(b);
}

static const dm_blob_ops dir_ops = {
    .version = 2,
    .name = "dir",
    .put = dir_put,
    .get_range = dir_get_range,
    .list = dir_list,
    .del = dir_del,
    .stats = dir_stats,
    .close = dir_close,
};

int dm_blob_dir_open(dm_blob **out, uv_loop_t *loop, const char *dir, char *err,
                     size_t errlen) {
  int rc;
  size_t len = dir != NULL ? strlen(dir) : 0;
  while (len > 1 && dir[len - 1] == '/') len--;
  if (loop == NULL || len == 0 || len > PATH_MAX / 2) {
    if (err != NULL) snprintf(err, errlen, "blob: bad directory");
    return DM_EINVAL;
  }
  dir_blob *b = calloc(1, sizeof *b);
  if (b == NULL) return DM_ENOMEM;
  b->root = strndup(dir, len);
  if (b->root == NULL) {
    rc = DM_ENOMEM;
    goto fail;
  }
  b->root_len = len;
  rc = mkdir_p(b->root, len);
  if (rc < 0) {
    if (err != NULL) snprintf(err, errlen, "blob: cannot create %s: %s", b->root, strerror(-rc));
    rc = errno_status(-rc);
    goto fail;
  }
  b->base.ops = &dir_ops;
  b->loop = loop;
  atomic_init(&b->tmp_seq, 0);
  *out = &b->base;
  return 0;
fail:
  free(b->root);
  free(b);
  return rc;
}
