/* lmdb_read.c — the read jobs of the LMDB table (query, last, pending, scan_day, names),
 * run on the thread pool in read-only txns. Each copies what it finds into the job's
 * buffers before the txn ends: j->out holds the array handed to the callback, j->bytes the
 * chunks or names it points into (stored as offsets while bytes may still move, patched
 * into pointers at the end).
 */
#include <stdlib.h>

#include "diamond/error.h"
#include "diamond/gorilla.h"
#include "diamond/log.h"
#include "lmdb_int.h"

static int begin(job *j, MDB_txn **txn, MDB_dbi dbi, MDB_cursor **cur) {
  int rc = mdb_txn_begin(j->t->env, NULL, MDB_RDONLY, txn);
  if (rc != 0) return rc;
  rc = mdb_cursor_open(*txn, dbi, cur);
  if (rc != 0) mdb_txn_abort(*txn);
  return rc;
}

static void end(MDB_txn *txn, MDB_cursor *cur) {
  mdb_cursor_close(cur);
  mdb_txn_abort(txn);
}

/* The item under the cursor, if it belongs to j->series. */
static int is_series(const job *j, const MDB_val *k) {
  return k->mv_size == j->series_len + 9 && memcmp(k->mv_data, j->series, j->series_len) == 0 &&
         ((const uint8_t *)k->mv_data)[j->series_len] == 0;
}

static int add_item(job *j, const MDB_val *k, const MDB_val *v) {
  size_t count;
  int64_t first;
  int64_t start = get_i64((const uint8_t *)k->mv_data + j->series_len + 1);
  if (dm_chunk_info(v->mv_data, v->mv_size, &count, &first) < 0) {
    dm_log_error("table_read", "err=\"corrupt chunk\" series=%s start=%lld", j->series,
                 (long long)start);
    return DM_ECORRUPT;
  }
  dm_item it = {.series = NULL, .series_len = (uint32_t)j->series_len, .start = start,
                .chunk = (const uint8_t *)(uintptr_t)j->bytes.len,
                .chunk_len = (uint32_t)v->mv_size, .count = (uint32_t)count};
  dm_buf_add(&j->bytes, v->mv_data, v->mv_size);
  dm_buf_add(&j->out, &it, sizeof it);
  if (j->bytes.oom || j->out.oom) return DM_ENOMEM;
  j->n_out++;
  return 0;
}

static void patch_items(job *j) {
  dm_item *it = (dm_item *)j->out.p;
  for (size_t i = 0; i < j->n_out; i++) {
    it[i].series = j->series;
    it[i].chunk = (const uint8_t *)j->bytes.p + (uintptr_t)it[i].chunk;
  }
}

static int add_name(job *j, const void *s, size_t len) {
  dm_name_ref r = {(const char *)(uintptr_t)j->bytes.len, len};
  dm_buf_add(&j->bytes, s, len);
  dm_buf_add(&j->bytes, "", 1); /* NUL-terminated too, for callers that like C strings */
  dm_buf_add(&j->out, &r, sizeof r);
  if (j->bytes.oom || j->out.oom) return DM_ENOMEM;
  j->n_out++;
  return 0;
}

static void patch_names(job *j) {
  dm_name_ref *r = (dm_name_ref *)j->out.p;
  for (size_t i = 0; i < j->n_out; i++) r[i].s = j->bytes.p + (uintptr_t)r[i].s;
}

void lt_do_query(job *j) {
  MDB_txn *txn;
  MDB_cursor *cur;
  if (j->until < j->from) return; /* an empty range overlaps nothing */
  int rc = begin(j, &txn, j->t->items, &cur);
  if (rc != 0) {
    j->status = lt_status(rc, "query");
    return;
  }
  /* Window [start, start + window) overlaps [from, until] iff from - window < start <= until. */
  int64_t w = j->t->base.window;
  int64_t lo = j->from > INT64_MIN + w ? j->from - w + 1 : INT64_MIN;
  uint8_t k[512 + 16];
  MDB_val key = {item_key(k, j->series, j->series_len, lo), k}, val;
  for (rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE); rc == 0;
       rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
    if (!is_series(j, &key) ||
        get_i64((const uint8_t *)key.mv_data + j->series_len + 1) > j->until)
      break;
    if ((j->status = add_item(j, &key, &val)) < 0) break;
  }
  end(txn, cur);
  if (rc != 0 && rc != MDB_NOTFOUND) j->status = lt_status(rc, "query");
  if (j->status == 0) patch_items(j);
}

void lt_do_last(job *j) {
  MDB_txn *txn;
  MDB_cursor *cur;
  int rc = begin(j, &txn, j->t->items, &cur);
  if (rc != 0) {
    j->status = lt_status(rc, "last");
    return;
  }
  uint8_t k[512 + 16];
  MDB_val key = {item_key(k, j->series, j->series_len, INT64_MAX), k}, val;
  rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
  if (rc == MDB_NOTFOUND) {
    rc = mdb_cursor_get(cur, &key, &val, MDB_LAST);
  } else if (rc == 0 && !is_series(j, &key)) {
    rc = mdb_cursor_get(cur, &key, &val, MDB_PREV);
  }
  if (rc == 0 && is_series(j, &key)) j->status = add_item(j, &key, &val);
  end(txn, cur);
  if (rc != 0 && rc != MDB_NOTFOUND) j->status = lt_status(rc, "last");
  if (j->status == 0) patch_items(j);
}

void lt_do_pending(job *j) {
  MDB_txn *txn;
  MDB_cursor *cur;
  int rc = begin(j, &txn, j->t->pending, &cur);
  if (rc != 0) {
    j->status = lt_status(rc, "pending");
    return;
  }
  MDB_val key, val;
  for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
    if (key.mv_size != DS_KEY) continue;
    dm_dayshard ds = {get_i64(key.mv_data), get_be32((const uint8_t *)key.mv_data + 8)};
    if (ds.day >= j->before) break;
    dm_buf_add(&j->out, &ds, sizeof ds);
    if (j->out.oom) {
      j->status = DM_ENOMEM;
      break;
    }
    j->n_out++;
  }
  end(txn, cur);
  if (rc != 0 && rc != MDB_NOTFOUND) j->status = lt_status(rc, "pending");
}

void lt_do_scan_day(job *j) {
  MDB_txn *txn;
  MDB_cursor *cur;
  int rc = begin(j, &txn, j->t->manifest, &cur);
  if (rc != 0) {
    j->status = lt_status(rc, "scan_day");
    return;
  }
  uint8_t k[DS_KEY];
  ds_key(k, j->ds);
  MDB_val key = {DS_KEY, k}, val;
  rc = mdb_get(txn, j->t->pending, &key, &val);
  if (rc == 0 && val.mv_size == 8) j->version = get_be64(val.mv_data);
  if (rc != 0 && rc != MDB_NOTFOUND) goto out;
  for (rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE); rc == 0;
       rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
    if (key.mv_size <= DS_KEY || memcmp(key.mv_data, k, DS_KEY) != 0) break;
    if ((j->status = add_name(j, (const uint8_t *)key.mv_data + DS_KEY,
                              key.mv_size - DS_KEY)) < 0)
      break;
  }
out:
  end(txn, cur);
  if (rc != 0 && rc != MDB_NOTFOUND) j->status = lt_status(rc, "scan_day");
  if (j->status == 0) patch_names(j);
}

void lt_do_names(job *j) {
  MDB_txn *txn;
  MDB_cursor *cur;
  int rc = begin(j, &txn, j->t->names, &cur);
  if (rc != 0) {
    j->status = lt_status(rc, "names");
    return;
  }
  MDB_val key, val;
  for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
    if ((j->status = add_name(j, key.mv_data, key.mv_size)) < 0) break;
  }
  end(txn, cur);
  if (rc != 0 && rc != MDB_NOTFOUND) j->status = lt_status(rc, "names");
  if (j->status == 0) patch_names(j);
}
