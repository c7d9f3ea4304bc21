/* blob_reader.c — reads one series-day out of a blob object.
 *
 * The first read of an object fetches its tail (64 KiB: the footer and, for objects with
 * up to a few thousand series, the whole index) with one ranged read, a second ranged
 * read for the index only when it is bigger; the parsed index is kept in a small LRU keyed
 * by object key. Then the series' chunk is fetched by offset and length and decoded.
 *
 * Replaced objects (the ager repacks a day that got late points): the ager invalidates the
 * key once the new object is in place. A read that fetched the old index before that must
 * not put it into the LRU afterwards, or every later read would use stale offsets (CRC
 * errors) and miss the series added by the repack until the entry is evicted: each
 * invalidation bumps a generation, and an index is cached only by a read that started in
 * the current one. A read whose chunk fails its CRC (it used an index of the old object
 * against the new one) forgets the index and starts over once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diamond/blobfile.h"
#include "diamond/error.h"
#include "diamond/gorilla.h"
#include "diamond/log.h"
#include "diamond/timefmt.h"
#include "engine_int.h"

#define TAIL_BYTES 65536
#define KEY_MAX 64

typedef struct lru_entry {
  char key[KEY_MAX];
  dm_blobfile_index *ix;
  uint64_t used;
} lru_entry;

struct dm_blob_reader {
  dm_blob *blob;
  lru_entry *lru;
  size_t cap, n;
  uint64_t tick;
  uint64_t gen; /* bumped by every invalidation */
};

typedef struct read_op {
  dm_blob_reader *r;
  char key[KEY_MAX];
  char *series;
  size_t len;
  dm_points_cb cb;
  void *arg;
  dm_blobfile_footer footer;
  dm_blobfile_entry entry; /* copied: the LRU may drop the index meanwhile */
  uint64_t gen;            /* r->gen when the index was looked up */
  int retried;
} read_op;

void dm_blob_key(char *out, size_t len, int64_t day, uint32_t shard) {
  char d[11];
  dm_day_format(day, d);
  snprintf(out, len, "v1/%s/%02u.dmb", d, shard);
}

int dm_blob_reader_new(dm_blob_reader **out, dm_blob *b, size_t max_indexes) {
  dm_blob_reader *r = calloc(1, sizeof *r);
  if (r == NULL) return DM_ENOMEM;
  r->blob = b;
  r->cap = max_indexes ? max_indexes : 1;
  r->lru = calloc(r->cap, sizeof *r->lru);
  if (r->lru == NULL) {
    free(r);
    return DM_ENOMEM;
  }
  *out = r;
  return 0;
}

static lru_entry *lru_find(dm_blob_reader *r, const char *key) {
  for (size_t i = 0; i < r->n; i++) {
    if (strcmp(r->lru[i].key, key) == 0) {
      r->lru[i].used = ++r->tick;
      return &r->lru[i];
    }
  }
  return NULL;
}

static void lru_put(dm_blob_reader *r, const char *key, dm_blobfile_index *ix) {
  lru_entry *slot = lru_find(r, key);
  if (slot == NULL && r->n < r->cap) {
    slot = &r->lru[r->n++];
    slot->ix = NULL;
  }
  if (slot == NULL) {
    slot = &r->lru[0];
    for (size_t i = 1; i < r->n; i++)
      if (r->lru[i].used < slot->used) slot = &r->lru[i];
  }
  if (slot->ix != NULL) dm_blobfile_index_free(slot->ix);
  snprintf(slot->key, sizeof slot->key, "%s", key);
  slot->ix = ix;
  slot->used = ++r->tick;
}

void dm_blob_reader_invalidate(dm_blob_reader *r, const char *key) {
  r->gen++; /* reads in flight must not cache what they fetched before this */
  for (size_t i = 0; i < r->n; i++) {
    if (strcmp(r->lru[i].key, key) == 0) {
      dm_blobfile_index_free(r->lru[i].ix);
      r->lru[i] = r->lru[--r->n];
      memset(&r->lru[r->n], 0, sizeof r->lru[r->n]);
      return;
    }
  }
}

void dm_blob_reader_free(dm_blob_reader *r) {
  if (r == NULL) return;
  for (size_t i = 0; i < r->n; i++) dm_blobfile_index_free(r->lru[i].ix);
  free(r->lru);
  free(r);
}

static void finish(read_op *op, int status, const dm_point *p, size_t n) {
  op->cb(op->arg, status, p, n);
  free(op->series);
  free(op);
}

static int start(read_op *op);

static void chunk_got(void *arg, int status, const uint8_t *data, size_t len, uint64_t size) {
  read_op *op = arg;
  (void)size;
  if (status < 0) {
    finish(op, status, NULL, 0);
    return;
  }
  size_t count;
  int64_t first;
  int rc = dm_blobfile_chunk_check(&op->entry, data, len);
  if (rc < 0 && !op->retried) {
    /* the index may describe an object replaced since: forget it, read the new one */
    op->retried = 1;
    dm_blob_reader_invalidate(op->r, op->key);
    rc = start(op);
    if (rc < 0) finish(op, rc, NULL, 0);
    return;
  }
  if (rc == 0) rc = dm_chunk_info(data, len, &count, &first);
  if (rc < 0) {
    dm_log_error("blob_chunk_corrupt", "key=%s series=%s", op->key, op->series);
    finish(op, rc, NULL, 0);
    return;
  }
  dm_point *pts = malloc((count ? count : 1) * sizeof *pts);
  if (pts == NULL) {
    finish(op, DM_ENOMEM, NULL, 0);
    return;
  }
  rc = dm_chunk_decode(data, len, pts, count);
  if (rc < 0) {
    dm_log_error("blob_chunk_corrupt", "key=%s series=%s", op->key, op->series);
    finish(op, rc, NULL, 0);
  } else {
    finish(op, 0, pts, (size_t)rc);
  }
  free(pts);
}

static void read_chunk(read_op *op, const dm_blobfile_index *ix) {
  const dm_blobfile_entry *en = dm_blobfile_index_find(ix, op->series, op->len);
  if (en == NULL) {
    finish(op, DM_ENOENT, NULL, 0);
    return;
  }
  op->entry = *en;
  op->entry.name = NULL; /* points into the index */
  int rc = dm_blob_get_range(op->r->blob, op->key, (int64_t)en->off, en->len, chunk_got, op);
  if (rc < 0) finish(op, rc, NULL, 0);
}

static void index_got(void *arg, int status, const uint8_t *data, size_t len, uint64_t size) {
  read_op *op = arg;
  (void)size;
  dm_blobfile_index *ix = NULL;
  if (status == 0) status = dm_blobfile_index_parse(&op->footer, data, len, &ix);
  if (status < 0) {
    if (status != DM_ENOENT) dm_log_error("blob_index_bad", "key=%s error=\"%s\"", op->key, dm_strerror(status));
    finish(op, status, NULL, 0);
    return;
  }
  if (op->gen == op->r->gen) {
    lru_put(op->r, op->key, ix);
    read_chunk(op, ix);
  } else {
    read_chunk(op, ix); /* copies the entry it needs; ix may describe a replaced object */
    dm_blobfile_index_free(ix);
  }
}

static void tail_got(void *arg, int status, const uint8_t *data, size_t len, uint64_t size) {
  read_op *op = arg;
  if (status == 0 && len < DM_BLOBFILE_FOOTER) status = DM_ECORRUPT;
  if (status == 0) status = dm_blobfile_footer_parse(data + len - DM_BLOBFILE_FOOTER, &op->footer);
  if (status == 0 && op->footer.index_off + op->footer.index_len + DM_BLOBFILE_FOOTER > size)
    status = DM_ECORRUPT;
  if (status < 0) {
    if (status != DM_ENOENT) dm_log_error("blob_footer_bad", "key=%s error=\"%s\"", op->key, dm_strerror(status));
    finish(op, status, NULL, 0);
    return;
  }
  uint64_t tail_start = size - len;
  if (op->footer.index_off >= tail_start) {
    index_got(op, 0, data + (op->footer.index_off - tail_start), op->footer.index_len, size);
    return;
  }
  int rc = dm_blob_get_range(op->r->blob, op->key, (int64_t)op->footer.index_off,
                             op->footer.index_len, index_got, op);
  if (rc < 0) finish(op, rc, NULL, 0);
}

int dm_blob_reader_read(dm_blob_reader *r, const char *key, const char *series, size_t len,
                        dm_points_cb cb, void *arg) {
  read_op *op = calloc(1, sizeof *op);
  if (op == NULL) return DM_ENOMEM;
  op->series = malloc(len + 1);
  if (op->series == NULL) {
    free(op);
    return DM_ENOMEM;
  }
  memcpy(op->series, series, len);
  op->series[len] = '\0';
  op->len = len;
  op->r = r;
  op->cb = cb;
  op->arg = arg;
  snprintf(op->key, sizeof op->key, "%s", key);
  int rc = start(op);
  if (rc < 0) {
    free(op->series);
    free(op);
  }
  return rc;
}

/* Looks the index up (cache, else the object's tail). < 0: nothing started, no callback. */
static int start(read_op *op) {
  dm_blob_reader *r = op->r;
  op->gen = r->gen;
  lru_entry *hit = lru_find(r, op->key);
  if (hit != NULL) {
    read_chunk(op, hit->ix);
    return 0;
  }
  return dm_blob_get_range(r->blob, op->key, -TAIL_BYTES, TAIL_BYTES, tail_got, op);
}
