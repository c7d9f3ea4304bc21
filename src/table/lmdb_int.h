/* lmdb_int.h — what the three files of the LMDB table (lmdb.c: open/close/job queue,
 * lmdb_write.c: put/mark_aged/sweep, lmdb_read.c: query/last/pending/scan_day/names) share:
 * the table struct, the job that carries one call through the thread pool, and the key
 * encodings described at the top of lmdb.c. Private to src/table/.
 */
#ifndef DM_TABLE_LMDB_INT_H
#define DM_TABLE_LMDB_INT_H

#include <lmdb.h>
#include <stdint.h>
#include <string.h>

#include "diamond/buf.h"
#include "diamond/table.h"

#define DAY_SECONDS 86400
#define DS_KEY 12 /* day (8) + shard (4) */

enum job_kind { J_PUT, J_MARK_AGED, J_SWEEP, J_QUERY, J_LAST, J_PENDING, J_SCAN_DAY, J_NAMES };

/* The pending version the ager saw in scan_day(ds), kept until its mark_aged(ds). */
typedef struct scan_seen {
  dm_dayshard ds;
  uint64_t version;
} scan_seen;

typedef struct lt {
  dm_table base;
  uv_loop_t *loop;
  MDB_env *env;
  MDB_dbi items, pending, manifest, aged, names;
  size_t max_series; /* longest series name the key size allows */
  dm_table_stats st;
  struct job *wq_head, *wq_tail; /* queued writes, FIFO; the head is running */
  size_t inflight;               /* accepted calls that have not called back */
  int closing;
  scan_seen *seen;
  size_t n_seen, cap_seen;
} lt;

typedef struct job {
  uv_work_t req;
  lt *t;
  struct job *next;
  enum job_kind kind;
  int status;
  /* arguments */
  const dm_item *in;
  size_t n_in;
  char *series; /* own copy (query, last) */
  size_t series_len;
  int64_t from, until, before;
  dm_dayshard ds;
  int has_expect;
  uint64_t expect; /* mark_aged: pending version seen by scan_day */
  /* results, built on the pool thread, freed after the callback */
  dm_buf out;    /* item / dayshard / offset arrays */
  dm_buf bytes;  /* chunks or names */
  size_t n_out;
  uint64_t version; /* scan_day: pending version read */
  /* counter deltas and gauges measured by write jobs */
  uint64_t items_written, items_merged, bytes_written, pending_count, size_bytes;
  int have_gauges;
  union {
    dm_done_cb done;
    dm_items_cb items;
    dm_dayshards_cb dayshards;
    dm_names_cb names;
  } cb;
  void *arg;
} job;

/* Maps an LMDB or errno code to DM_E*, logging op and the LMDB text. */
int lt_status(int rc, const char *op);
/* Commits a write txn and records the gauges (pending entries, used bytes) in j. */
int lt_commit(job *j, MDB_txn *txn);

/* Pool-thread bodies. */
void lt_do_put(job *j);
void lt_do_mark_aged(job *j);
void lt_do_sweep(job *j);
void lt_do_query(job *j);
void lt_do_last(job *j);
void lt_do_pending(job *j);
void lt_do_scan_day(job *j);
void lt_do_names(job *j);

static inline void put_be64(uint8_t *p, uint64_t v) {
  for (int i = 7; i >= 0; i--, v >>= 8) p[i] = (uint8_t)v;
}
static inline uint64_t get_be64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = v << 8 | p[i];
  return v;
}
static inline void put_be32(uint8_t *p, uint32_t v) {
  for (int i = 3; i >= 0; i--, v >>= 8) p[i] = (uint8_t)v;
}
static inline uint32_t get_be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
/* int64 in 8 bytes that sort as the numbers do: big-endian with the sign bit flipped. */
static inline void put_i64(uint8_t *p, int64_t v) { put_be64(p, (uint64_t)v ^ (1ULL << 63)); }
static inline int64_t get_i64(const uint8_t *p) {
  return (int64_t)(get_be64(p) ^ (1ULL << 63));
}
static inline int64_t day_of(int64_t t) {
  return t / DAY_SECONDS - (t % DAY_SECONDS < 0 ? 1 : 0);
}
/* items key: series, 0x00, start. Returns the length (series_len + 9). */
static inline size_t item_key(uint8_t *k, const char *s, size_t len, int64_t start) {
  memcpy(k, s, len);
  k[len] = 0;
  put_i64(k + len + 1, start);
  return len + 9;
}
static inline void ds_key(uint8_t *k, dm_dayshard ds) {
  put_i64(k, ds.day);
  put_be32(k + 8, ds.shard);
}

#endif
