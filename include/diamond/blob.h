/* blob.h — the cold tier: immutable objects addressed by key, read by byte ranges.
 *
 * Keys look like "v1/2026-11-24/07.dmb" (blobfile.h format). put replaces atomically:
 * a reader sees the old object or the new one, never a mix. Every call is asynchronous
 * (tier.h rules); no disk or network work runs on the loop thread.
 */
#ifndef DIAMOND_BLOB_H
#define DIAMOND_BLOB_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "diamond/config.h"
#include "diamond/tier.h"

typedef struct dm_blob dm_blob;

/* data valid only during the callback; status DM_ENOENT when the key does not exist. */
typedef void (*dm_bytes_cb)(void *arg, int status, const uint8_t *data, size_t len,
                            uint64_t object_size);

typedef struct dm_blob_stats {
  uint64_t puts, gets, deletes, lists;
  uint64_t bytes_put, bytes_got;
} dm_blob_stats;

typedef struct dm_blob_ops {
  int version; /* 2 */
  const char *name;
  /* Stores data under key (the caller keeps data valid until cb). */
  int (*put)(dm_blob *b, const char *key, const uint8_t *data, size_t len, dm_done_cb cb,
             void *arg);
  /* Reads len bytes at off; off < 0 reads the LAST len bytes (or the whole object if it is
   * smaller). Short reads at the end are not errors: the callback gets what exists. */
  int (*get_range)(dm_blob *b, const char *key, int64_t off, size_t len, dm_bytes_cb cb,
                   void *arg);
  /* Keys beginning with prefix, sorted. */
  int (*list)(dm_blob *b, const char *prefix, dm_names_cb cb, void *arg);
  int (*del)(dm_blob *b, const char *key, dm_done_cb cb, void *arg);
  void (*stats)(dm_blob *b, dm_blob_stats *out);
  /* Refuses new calls (DM_ECLOSED) and frees b once every accepted call has called back:
   * at once when none is in flight, else from the last callback. Keep running the loop
   * (uv_run until it returns 0) before uv_loop_close; do not touch b after close. */
  void (*close)(dm_blob *b);
  /* ---- version 2; each may be NULL ---- */
  /* Creates what is missing (s3: the bucket); existing storage is fine. */
  int (*create)(dm_blob *b, dm_done_cb cb, void *arg);
  /* Reaches the storage once (--check-config): 0, or < 0 with health() saying why
   * ("bucket diamond does not exist", "access denied", "connection refused"). */
  int (*probe)(dm_blob *b, dm_done_cb cb, void *arg);
  /* 1 when the last calls worked; 0 with a reason while they fail. */
  int (*health)(dm_blob *b, char *why, size_t len);
} dm_blob_ops;

struct dm_blob {
  const dm_blob_ops *ops;
};

/* The directory store: key "a/b/c" is the file <dir>/a/b/c (dir is created). Key segments
 * are non-empty and never start with '.'; other keys are DM_EINVAL. put writes a temp file,
 * fsyncs it, renames it over the key and fsyncs the directory; del of a missing key is ok. */
int dm_blob_dir_open(dm_blob **out, uv_loop_t *loop, const char *dir, char *err,
                     size_t errlen);

static inline int dm_blob_put(dm_blob *b, const char *k, const uint8_t *d, size_t n,
                              dm_done_cb cb, void *arg) {
  return b->ops->put(b, k, d, n, cb, arg);
}
static inline int dm_blob_get_range(dm_blob *b, const char *k, int64_t off, size_t len,
                                    dm_bytes_cb cb, void *arg) {
  return b->ops->get_range(b, k, off, len, cb, arg);
}
static inline int dm_blob_list(dm_blob *b, const char *prefix, dm_names_cb cb, void *arg) {
  return b->ops->list(b, prefix, cb, arg);
}
static inline int dm_blob_del(dm_blob *b, const char *k, dm_done_cb cb, void *arg) {
  return b->ops->del(b, k, cb, arg);
}
/* S3 (AWS, LocalStack, MinIO, s3rver): objects <cfg->blob_prefix><key> in cfg->blob_bucket.
 * Returns at once; nothing is sent until the first call. */
int dm_blob_s3_open(dm_blob **out, uv_loop_t *loop, const dm_config *cfg, char *err,
                    size_t errlen);

static inline void dm_blob_stats_get(dm_blob *b, dm_blob_stats *o) { b->ops->stats(b, o); }
static inline int dm_blob_create(dm_blob *b, dm_done_cb cb, void *arg) {
  if (b->ops->create) return b->ops->create(b, cb, arg);
  cb(arg, 0);
  return 0;
}
static inline int dm_blob_probe(dm_blob *b, dm_done_cb cb, void *arg) {
  if (b->ops->probe) return b->ops->probe(b, cb, arg);
  cb(arg, 0);
  return 0;
}
static inline int dm_blob_health(dm_blob *b, char *why, size_t len) {
  return b->ops->health ? b->ops->health(b, why, len) : 1;
}
static inline void dm_blob_close(dm_blob *b) { b->ops->close(b); }

#endif
