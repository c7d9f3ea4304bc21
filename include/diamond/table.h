/* table.h — the warm tier: one item per (series, window) holding a Gorilla chunk, written
 * in batches by the flusher, read by queries, packed into blobs by the ager.
 *
 * Besides the items a table keeps three small indexes the engine needs:
 *  - the manifest: which (day, shard) have items that are not yet packed into a blob
 *    ("pending"), and which series each (day, shard) holds;
 *  - the name index: every series name ever written;
 *  - per (day, shard) whether it was aged (packed and verified).
 * shard = dm_name_hash(series) % ager.shards.
 *
 * Every call is asynchronous (tier.h rules); results handed to a callback are valid only
 * during it. Disk or network work never runs on the loop thread.
 */
#ifndef DIAMOND_TABLE_H
#define DIAMOND_TABLE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "diamond/config.h"
#include "diamond/tier.h"

typedef struct dm_table dm_table;

typedef struct dm_item {
  const char *series;
  uint32_t series_len;
  int64_t start;        /* window start */
  const uint8_t *chunk; /* gorilla.h chunk */
  uint32_t chunk_len;
  uint32_t count;       /* points in the chunk */
  uint8_t known_new;    /* 1: no item of this (series, start) exists, the table may write
                           it blind (dynamodb: BatchWriteItem); 0: merge with what is stored */
} dm_item;

typedef struct dm_dayshard {
  int64_t day; /* days since epoch */
  uint32_t shard;
} dm_dayshard;

typedef void (*dm_items_cb)(void *arg, int status, const dm_item *items, size_t n);
typedef void (*dm_dayshards_cb)(void *arg, int status, const dm_dayshard *d, size_t n);

typedef struct dm_table_stats {
  uint64_t items_written, items_merged, bytes_written;
  uint64_t reads, read_items;
  uint64_t pending_dayshards; /* flushed but not aged */
  uint64_t size_bytes;        /* on disk, when known */
  double read_units, write_units; /* capacity consumed (dynamodb), for the cost meter */
} dm_table_stats;

typedef struct dm_table_ops {
  int version; /* 2 */
  const char *name;
  /* Upserts items. An item whose (series, start) exists is merged: points of the new chunk
   * win over the stored ones at equal times. Marks each item's (day, shard) pending and
   * records the series in the manifest and the name index. Items must stay valid until
   * cb. The whole call is atomic where the engine allows it (LMDB: one transaction; on
   * failure nothing is stored). Status 0 means durable. Errors: DM_EINVAL at the call for
   * an empty or too long series (LMDB: > 499 bytes) or an empty chunk; in cb DM_ECORRUPT
   * for a chunk that does not decode, DM_ERANGE when the store is full (LMDB map size) or
   * the batch too big for one transaction (split it), DM_EIO otherwise. */
  int (*put)(dm_table *t, const dm_item *items, size_t n, dm_done_cb cb, void *arg);
  /* Items of one series whose window overlaps [from, until], in start order. */
  int (*query)(dm_table *t, const char *series, size_t len, int64_t from, int64_t until,
               dm_items_cb cb, void *arg);
  /* The series' newest item (n = 0 when none). */
  int (*last)(dm_table *t, const char *series, size_t len, dm_items_cb cb, void *arg);
  /* Pending (day, shard) pairs with day < before_day. */
  int (*pending)(dm_table *t, int64_t before_day, dm_dayshards_cb cb, void *arg);
  /* Names of the series with items in (day, shard), sorted (byte order). The ager calls
   * it before packing the day: see mark_aged. */
  int (*scan_day)(dm_table *t, dm_dayshard ds, dm_names_cb cb, void *arg);
  /* Marks (day, shard) aged: its items may be swept. A put into it afterwards marks it
   * pending again (late data: the ager repacks the day). A put into it between the last
   * scan_day(ds) and this call also leaves it pending (its points may be missing from the
   * blob just written): the next ager run packs the day again. */
  int (*mark_aged)(dm_table *t, dm_dayshard ds, dm_done_cb cb, void *arg);
  /* Deletes items with window start < before whose (day, shard) is aged and not pending.
   * LMDB sweeps whole days only: those that end at or before `before`. The manifest of a
   * swept (day, shard) is emptied (a later put into it lists only the late series, so the
   * ager must merge them into the existing blob); its aged marker stays. */
  int (*sweep)(dm_table *t, int64_t before, dm_done_cb cb, void *arg);
  /* Every series name ever put, sorted. */
  int (*names)(dm_table *t, dm_names_cb cb, void *arg);
  void (*stats)(dm_table *t, dm_table_stats *out);
  /* Refuses new calls (DM_ECLOSED); calls already accepted, queued writes included, still
   * run and call back. t is freed at once when none is in flight, else after the last
   * callback: keep running the loop (uv_run until it returns 0) before uv_loop_close, and
   * do not touch t after close. */
  void (*close)(dm_table *t);
  /* ---- version 2; each may be NULL ---- */
  /* Creates what is missing (dynamodb: the table, pk S hash + sk N range, on-demand, TTL on
   * `ttl`) and waits until it is usable; existing storage is fine. A warning that is not an
   * error (TTL unsupported) goes to the log. --create-storage. */
  int (*create)(dm_table *t, dm_done_cb cb, void *arg);
  /* Reaches the storage once (--check-config): 0, or < 0 with health() saying why
   * ("table diamond does not exist", "access denied", "connection refused"). */
  int (*probe)(dm_table *t, dm_done_cb cb, void *arg);
  /* 1 when the last calls worked; 0 with a reason while they fail. */
  int (*health)(dm_table *t, char *why, size_t len);
} dm_table_ops;

struct dm_table {
  const dm_table_ops *ops;
  int64_t window;  /* seconds */
  uint32_t shards; /* ager.shards */
};

/* The embedded table: an LMDB environment in <cfg->data_dir>/table (created), map size
 * cfg->table_map_bytes, window cfg->window, shards cfg->ager_shards. Reads run on the
 * thread pool concurrently; writes (put, mark_aged, sweep) one at a time in call order.
 * On error returns DM_E* and writes a message to err. */
int dm_table_lmdb_open(dm_table **out, uv_loop_t *loop, const dm_config *cfg,
                       char *err, size_t errlen);

static inline int dm_table_put(dm_table *t, const dm_item *it, size_t n, dm_done_cb cb, void *arg) {
  return t->ops->put(t, it, n, cb, arg);
}
static inline int dm_table_query(dm_table *t, const char *s, size_t len, int64_t from,
                                 int64_t until, dm_items_cb cb, void *arg) {
  return t->ops->query(t, s, len, from, until, cb, arg);
}
static inline int dm_table_last(dm_table *t, const char *s, size_t len, dm_items_cb cb, void *arg) {
  return t->ops->last(t, s, len, cb, arg);
}
static inline int dm_table_pending(dm_table *t, int64_t before_day, dm_dayshards_cb cb, void *arg) {
  return t->ops->pending(t, before_day, cb, arg);
}
static inline int dm_table_scan_day(dm_table *t, dm_dayshard ds, dm_names_cb cb, void *arg) {
  return t->ops->scan_day(t, ds, cb, arg);
}
static inline int dm_table_mark_aged(dm_table *t, dm_dayshard ds, dm_done_cb cb, void *arg) {
  return t->ops->mark_aged(t, ds, cb, arg);
}
static inline int dm_table_sweep(dm_table *t, int64_t before, dm_done_cb cb, void *arg) {
  return t->ops->sweep(t, before, cb, arg);
}
static inline int dm_table_names(dm_table *t, dm_names_cb cb, void *arg) {
  return t->ops->names(t, cb, arg);
}
/* DynamoDB (AWS, LocalStack, dynalite) at cfg->table_endpoint: src/table/dynamodb.c has the
 * item layout. Returns at once; nothing is sent until the first call.
 * Where it differs from the LMDB table:
 *  - put is not atomic: on failure some items may already be written. Retrying the whole
 *    batch is safe (merges are last-write-wins), and is what the engine does. Series names
 *    must not start with '~' and are at most 1024 bytes (DM_EINVAL at the call).
 *  - quarantine: an item DynamoDB refuses for good (ValidationException, e.g. over 400 KB)
 *    is logged (event=table_quarantine, with series and window start), counted in
 *    diamond_table_quarantined_total, dropped, and the put still reports 0 when every
 *    other item is durable — so a bad item never makes the engine retry a batch forever.
 *    Errors that are not the item's (table missing, access denied, throttling after
 *    retries) fail the put (DM_EIO / DM_EAGAIN) and the engine retries.
 *  - sweep calls back 0 and deletes nothing: every item carries `ttl` (window end +
 *    table.keep + ager.grace, at least now + ager.grace) and DynamoDB's TTL deletes it.
 *  - reads skip items whose ttl has passed; a conflict on a merge re-reads the item (at
 *    most 8 tries, then DM_ECONFLICT).
 *  - health() names the cause: "table <name> does not exist (run diamondd
 *    --create-storage)", "access denied to table <name>: ...", or "<endpoint>: <op> <curl's
 *    message>" when the endpoint cannot be reached. */
int dm_table_dynamodb_open(dm_table **out, uv_loop_t *loop, const dm_config *cfg,
                           char *err, size_t errlen);

static inline void dm_table_stats_get(dm_table *t, dm_table_stats *o) { t->ops->stats(t, o); }
static inline int dm_table_create(dm_table *t, dm_done_cb cb, void *arg) {
  if (t->ops->create) return t->ops->create(t, cb, arg);
  cb(arg, 0);
  return 0;
}
static inline int dm_table_probe(dm_table *t, dm_done_cb cb, void *arg) {
  if (t->ops->probe) return t->ops->probe(t, cb, arg);
  cb(arg, 0);
  return 0;
}
static inline int dm_table_health(dm_table *t, char *why, size_t len) {
  return t->ops->health ? t->ops->health(t, why, len) : 1;
}
static inline void dm_table_close(dm_table *t) { t->ops->close(t); }

#endif
