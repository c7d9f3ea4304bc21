/* lmdb_write.c — the write jobs of the LMDB table (put, mark_aged, sweep), run on the
 * thread pool one at a time; the key layout and the ageing protocol are at the top of
 * lmdb.c.
 */
#include <stdlib.h>

#include "diamond/error.h"
#include "diamond/gorilla.h"
#include "diamond/log.h"
#include "diamond/names.h"
#include "lmdb_int.h"

#define SWEEP_BATCH 10000 /* deletions per sweep txn: bounds its dirty pages */

static const uint8_t one = 1;

/* Scratch memory reused across the items of one put. */
typedef struct scratch {
  dm_point *old, *new, *merged;
  size_t cap_old, cap_new, cap_merged;
  uint8_t *enc;
  size_t cap_enc;
  dm_dayshard *touched;
  size_t n_touched, cap_touched;
} scratch;

static int grow(void **p, size_t *cap, size_t need, size_t size) {
  if (need <= *cap) return 0;
  size_t n = *cap ? *cap : 64;
  while (n < need) n *= 2;
  void *q = realloc(*p, n * size);
  if (q == NULL) return DM_ENOMEM;
  *p = q;
  *cap = n;
  return 0;
}

static void scratch_free(scratch *s) {
  free(s->old);
  free(s->new);
  free(s->merged);
  free(s->enc);
  free(s->touched);
}

/* Merges the stored chunk with the new one (new wins at equal times) into s->enc.
 * Returns the encoded length, 0 when the stored chunk is unreadable (it is replaced), or
 * a negative DM_E*. */
static int merge(scratch *s, const MDB_val *stored, const dm_item *it, size_t n_new) {
  size_t n_old;
  int64_t first;
  if (dm_chunk_info(stored->mv_data, stored->mv_size, &n_old, &first) < 0) return 0;
  if (grow((void **)&s->old, &s->cap_old, n_old, sizeof(dm_point)) < 0) return DM_ENOMEM;
  int a = dm_chunk_decode(stored->mv_data, stored->mv_size, s->old, n_old);
  if (a < 0) return 0;
  if (grow((void **)&s->new, &s->cap_new, n_new, sizeof(dm_point)) < 0 ||
      grow((void **)&s->merged, &s->cap_merged, (size_t)a + n_new, sizeof(dm_point)) < 0)
    return DM_ENOMEM;
  int b = dm_chunk_decode(it->chunk, it->chunk_len, s->new, n_new);
  if (b < 0) return DM_ECORRUPT;
  size_t m = dm_points_merge(s->new, (size_t)b, s->old, (size_t)a, s->merged);
  size_t bound = dm_chunk_bound(m);
  if (grow((void **)&s->enc, &s->cap_enc, bound, 1) < 0) return DM_ENOMEM;
  return dm_chunk_encode(s->merged, m, s->enc, bound);
}

/* Marks ds pending with this txn's id, once per ds and txn. */
static int touch(lt *t, MDB_txn *txn, scratch *s, dm_dayshard ds, uint64_t version) {
  for (size_t i = s->n_touched; i-- > 0;) {
    if (s->touched[i].day == ds.day && s->touched[i].shard == ds.shard) return 0;
  }
  if (grow((void **)&s->touched, &s->cap_touched, s->n_touched + 1, sizeof(dm_dayshard)) < 0)
    return ENOMEM;
  s->touched[s->n_touched++] = ds;
  uint8_t k[DS_KEY], v[8];
  ds_key(k, ds);
  put_be64(v, version);
  MDB_val key = {DS_KEY, k}, val = {8, v};
  return mdb_put(txn, t->pending, &key, &val, 0);
}

static int index_item(lt *t, MDB_txn *txn, scratch *s, const dm_item *it, uint64_t version) {
  dm_dayshard ds = {day_of(it->start),
                    (uint32_t)(dm_name_hash(it->series, it->series_len) % t->base.shards)};
  uint8_t k[DS_KEY + 512];
  ds_key(k, ds);
  memcpy(k + DS_KEY, it->series, it->series_len);
  MDB_val key = {DS_KEY + it->series_len, k}, val = {1, (void *)&one};
  int rc = mdb_put(txn, t->manifest, &key, &val, MDB_NOOVERWRITE);
  if (rc != 0 && rc != MDB_KEYEXIST) return rc;
  key = (MDB_val){it->series_len, (void *)it->series};
  rc = mdb_put(txn, t->names, &key, &val, MDB_NOOVERWRITE);
  if (rc != 0 && rc != MDB_KEYEXIST) return rc;
  return touch(t, txn, s, ds, version);
}

void lt_do_put(job *j) {
  lt *t = j->t;
  MDB_txn *txn = NULL;
  scratch s = {0};
  uint8_t k[512 + 16];
  const char *op = "put_begin";
  int rc = mdb_txn_begin(t->env, NULL, 0, &txn);
  if (rc != 0) goto fail;
  uint64_t version = mdb_txn_id(txn);
  for (size_t i = 0; i < j->n_in; i++) {
    const dm_item *it = &j->in[i];
    size_t n_new;
    int64_t first;
    if (dm_chunk_info(it->chunk, it->chunk_len, &n_new, &first) < 0) {
      dm_log_error("table_put", "err=\"corrupt chunk\" item=%zu start=%lld", i,
                   (long long)it->start);
      j->status = DM_ECORRUPT;
      goto fail_txn;
    }
    MDB_val key = {item_key(k, it->series, it->series_len, it->start), k};
    MDB_val val = {it->chunk_len, (void *)it->chunk}, stored;
    op = "put_get";
    rc = mdb_get(txn, t->items, &key, &stored);
    if (rc == 0) {
      int n = merge(&s, &stored, it, n_new);
      if (n < 0) {
        j->status = n;
        goto fail_txn;
      }
      if (n > 0) {
        val = (MDB_val){(size_t)n, s.enc};
        j->items_merged++;
      } else {
        dm_log_warn("table_put", "msg=\"stored chunk unreadable, replaced\" start=%lld",
                    (long long)it->start);
      }
    } else if (rc != MDB_NOTFOUND) {
      goto fail;
    }
    op = "put";
    if ((rc = mdb_put(txn, t->items, &key, &val, 0)) != 0) goto fail;
    op = "put_index";
    if ((rc = index_item(t, txn, &s, it, version)) != 0) goto fail;
    j->items_written++;
    j->bytes_written += val.mv_size;
  }
  op = "put_commit";
  rc = lt_commit(j, txn);
  txn = NULL;
  if (rc != 0) goto fail;
  scratch_free(&s);
  return;
fail:
  j->status = lt_status(rc, op);
fail_txn:
  if (txn != NULL) mdb_txn_abort(txn);
  j->items_written = j->items_merged = j->bytes_written = 0;
  scratch_free(&s);
}

void lt_do_mark_aged(job *j) {
  lt *t = j->t;
  MDB_txn *txn;
  uint8_t k[DS_KEY];
  ds_key(k, j->ds);
  MDB_val key = {DS_KEY, k}, val = {1, (void *)&one}, cur;
  const char *op = "mark_aged";
  int rc = mdb_txn_begin(t->env, NULL, 0, &txn);
  if (rc != 0) goto fail;
  if ((rc = mdb_put(txn, t->aged, &key, &val, 0)) != 0) goto fail_txn;
  rc = mdb_get(txn, t->pending, &key, &cur);
  if (rc == 0) {
    uint64_t v = cur.mv_size == 8 ? get_be64(cur.mv_data) : 0;
    if (!j->has_expect || v == j->expect) {
      if ((rc = mdb_del(txn, t->pending, &key, NULL)) != 0) goto fail_txn;
    } else {
      dm_log_info("table_mark_aged", "day=%lld shard=%u msg=\"put since scan, stays pending\"",
                  (long long)j->ds.day, j->ds.shard);
    }
  } else if (rc != MDB_NOTFOUND) {
    goto fail_txn;
  }
  rc = lt_commit(j, txn);
  if (rc != 0) goto fail;
  return;
fail_txn:
  mdb_txn_abort(txn);
fail:
  j->status = lt_status(rc, op);
}

/* Deletes the items of (day, shard) named by its manifest, then the manifest entries,
 * spending at most *budget deletions. Sets *done when the day is finished (else the budget
 * ran out first). Returns 0 or an LMDB error. */
static int sweep_dayshard(lt *t, MDB_txn *txn, dm_dayshard ds, long *budget, int *done,
                          uint64_t *items) {
  MDB_cursor *mc = NULL, *ic = NULL;
  uint8_t prefix[DS_KEY], lo[512 + 16], series[512];
  ds_key(prefix, ds);
  /* Days are whole here (day < day_of(before)), so only the lower bound can overflow. */
  int64_t from = ds.day > INT64_MIN / DAY_SECONDS ? ds.day * DAY_SECONDS : INT64_MIN;
  int64_t to = (ds.day + 1) * DAY_SECONDS;
  *done = 0;
  int rc = mdb_cursor_open(txn, t->manifest, &mc);
  if (rc == 0) rc = mdb_cursor_open(txn, t->items, &ic);
  while (rc == 0) {
    if (*budget <= 0) break;
    MDB_val mk = {DS_KEY, prefix}, mv;
    rc = mdb_cursor_get(mc, &mk, &mv, MDB_SET_RANGE);
    if (rc == MDB_NOTFOUND || (rc == 0 && (mk.mv_size <= DS_KEY ||
                                           memcmp(mk.mv_data, prefix, DS_KEY) != 0))) {
      rc = 0;
      *done = 1;
      break;
    }
    if (rc != 0) break;
    size_t slen = mk.mv_size - DS_KEY;
    if (slen > sizeof series) {
      rc = MDB_CORRUPTED;
      break;
    }
    memcpy(series, (uint8_t *)mk.mv_data + DS_KEY, slen);
    size_t klen = item_key(lo, (const char *)series, slen, from);
    for (;;) {
      if (*budget <= 0) goto out; /* rc == 0: resume later with this series */
      MDB_val ik = {klen, lo}, iv;
      rc = mdb_cursor_get(ic, &ik, &iv, MDB_SET_RANGE);
      if (rc == MDB_NOTFOUND) {
        rc = 0;
        break;
      }
      if (rc != 0) goto out;
      if (ik.mv_size != klen || memcmp(ik.mv_data, lo, slen + 1) != 0 ||
          get_i64((uint8_t *)ik.mv_data + slen + 1) >= to)
        break;
      if ((rc = mdb_cursor_del(ic, 0)) != 0) goto out;
      (*budget)--;
      (*items)++;
    }
    uint8_t mkey[DS_KEY + 512];
    memcpy(mkey, prefix, DS_KEY);
    memcpy(mkey + DS_KEY, series, slen);
    MDB_val del = {DS_KEY + slen, mkey};
    if ((rc = mdb_del(txn, t->manifest, &del, NULL)) != 0) break;
    (*budget)--;
  }
out:
  if (ic != NULL) mdb_cursor_close(ic);
  if (mc != NULL) mdb_cursor_close(mc);
  return rc;
}

void lt_do_sweep(job *j) {
  lt *t = j->t;
  int64_t before_day = day_of(j->before);
  uint8_t resume[DS_KEY];
  int have_resume = 0, skip_resume = 0, finished = 0, rc = 0;
  uint64_t days = 0, items = 0;
  MDB_txn *txn = NULL;
  while (!finished) {
    MDB_cursor *ac;
    long budget = SWEEP_BATCH;
    if ((rc = mdb_txn_begin(t->env, NULL, 0, &txn)) != 0) goto fail;
    if ((rc = mdb_cursor_open(txn, t->aged, &ac)) != 0) goto fail_txn;
    for (;;) {
      MDB_val k = {DS_KEY, resume}, v;
      rc = mdb_cursor_get(ac, &k, &v, have_resume ? MDB_SET_RANGE : MDB_FIRST);
      if (rc == 0 && skip_resume && k.mv_size == DS_KEY && memcmp(k.mv_data, resume, DS_KEY) == 0)
        rc = mdb_cursor_get(ac, &k, &v, MDB_NEXT);
      if (rc == MDB_NOTFOUND) {
        rc = 0;
        finished = 1;
        break;
      }
      if (rc != 0) break;
      if (k.mv_size != DS_KEY) {
        rc = MDB_CORRUPTED;
        break;
      }
      dm_dayshard ds = {get_i64(k.mv_data), get_be32((uint8_t *)k.mv_data + 8)};
      if (ds.day >= before_day) {
        finished = 1;
        break;
      }
      memcpy(resume, k.mv_data, DS_KEY);
      have_resume = skip_resume = 1;
      MDB_val pv;
      rc = mdb_get(txn, t->pending, &k, &pv);
      if (rc == 0) continue; /* late data since ageing: the ager packs it again first */
      if (rc != MDB_NOTFOUND) break;
      uint64_t before_items = items;
      int done;
      if ((rc = sweep_dayshard(t, txn, ds, &budget, &done, &items)) != 0) break;
      if (!done) {
        skip_resume = 0; /* budget spent inside this day: continue it in a new txn */
        break;
      }
      if (items > before_items) days++;
    }
    mdb_cursor_close(ac);
    if (rc != 0) goto fail_txn;
    rc = lt_commit(j, txn);
    txn = NULL;
    if (rc != 0) goto fail;
  }
  if (items > 0)
    dm_log_info("table_sweep", "before=%lld dayshards=%llu items=%llu", (long long)j->before,
                (unsigned long long)days, (unsigned long long)items);
  return;
fail_txn:
  mdb_txn_abort(txn);
fail:
  j->status = lt_status(rc, "sweep");
}
