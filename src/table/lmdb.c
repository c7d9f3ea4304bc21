/* lmdb.c — the embedded warm tier: table.h on one LMDB environment, <data_dir>/table.
 *
 * Named databases and their keys (integers big-endian so byte order is number order; a
 * signed int64 has its sign bit flipped so negative times and days sort first):
 *
 *   items     series · 0x00 · i64 window start        -> gorilla chunk (gorilla.h)
 *   pending   i64 day · u32 shard                     -> u64 version (txn id of the last put)
 *   manifest  i64 day · u32 shard · series            -> ""
 *   aged      i64 day · u32 shard                     -> ""
 *   names     series                                  -> ""
 *
 * day = floor(window start / 86400); shard = dm_name_hash(series) % ager.shards. Series
 * names never contain 0x00, so "series · 0x00" is a prefix no other series shares and
 * all windows of a series are one contiguous, time-ordered key range.
 *
 * Threads. Every call is a job run on the libuv thread pool. LMDB allows one write txn at
 * a time, so writes (put, mark_aged, sweep) go through a FIFO on the loop thread and only
 * its head is on the pool; reads (query, last, pending, scan_day, names) go to the pool at
 * once and run concurrently with each other and with the write (MDB_NOTLS: a read txn is
 * not tied to a thread). A read copies what it found into the job's own buffers before its
 * txn ends; the callback runs on the loop and the buffers are freed after it. Commits use
 * LMDB's default sync, so a put whose callback said 0 is on disk: the engine deletes WAL
 * segments on that word.
 *
 * Ageing protocol (what the ager sees). put marks each (day, shard) it touches pending,
 * storing the id of its txn. scan_day remembers (on the loop) the version it read;
 * mark_aged writes the aged marker and deletes the pending entry only if its version is
 * still the one scan_day saw — a put that slipped in between (late data, perhaps missing
 * from the blob just written) leaves the day pending, so the ager packs it again. A
 * mark_aged without an earlier scan_day clears pending unconditionally, so a scan_day whose
 * version cannot be remembered (no memory) fails with DM_ENOMEM rather than succeed.
 *
 * What is deleted when: nothing but sweep(before) ever deletes. It takes every (day,
 * shard) that is aged, not pending, and whose whole day lies before `before` (day end <=
 * before), deletes that day's items of every series in its manifest, then the manifest
 * entries; the aged marker stays for good (12 bytes per day and shard). A put into a swept
 * day makes it pending again with a manifest of the late series only: the ager must merge
 * them into the existing blob. Sweeps commit every SWEEP_BATCH deletions (lmdb_write.c) so
 * no txn grows without bound; a crash in between leaves a consistent, resumable state.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "diamond/error.h"
#include "diamond/log.h"
#include "lmdb_int.h"

int lt_status(int rc, const char *op) {
  int st;
  switch (rc) {
  case 0: return 0;
  case MDB_MAP_FULL: case MDB_TXN_FULL: case MDB_DBS_FULL: case MDB_READERS_FULL:
    st = DM_ERANGE;
    break;
  case MDB_BAD_VALSIZE: st = DM_EINVAL; break;
  case MDB_CORRUPTED: case MDB_PAGE_NOTFOUND: case MDB_INVALID: case MDB_VERSION_MISMATCH:
    st = DM_ECORRUPT;
    break;
  case ENOMEM: st = DM_ENOMEM; break;
  default: st = DM_EIO; break;
  }
  dm_log_error("table_lmdb", "op=%s err=\"%s\"", op, mdb_strerror(rc));
  return st;
}

static uint64_t used_bytes(MDB_env *env) {
  MDB_envinfo info;
  MDB_stat st;
  if (mdb_env_info(env, &info) != 0 || mdb_env_stat(env, &st) != 0) return 0;
  return ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
}

int lt_commit(job *j, MDB_txn *txn) {
  MDB_stat st;
  uint64_t pending = 0;
  int ok = mdb_stat(txn, j->t->pending, &st) == 0;
  if (ok) pending = st.ms_entries;
  int rc = mdb_txn_commit(txn);
  if (rc == 0 && ok) {
    j->pending_count = pending;
    j->size_bytes = used_bytes(j->t->env);
    j->have_gauges = 1;
  }
  return rc;
}

static int is_write(const job *j) {
  return j->kind == J_PUT || j->kind == J_MARK_AGED || j->kind == J_SWEEP;
}

static void work(uv_work_t *req) {
  job *j = req->data;
  switch (j->kind) {
  case J_PUT: lt_do_put(j); break;
  case J_MARK_AGED: lt_do_mark_aged(j); break;
  case J_SWEEP: lt_do_sweep(j); break;
  case J_QUERY: lt_do_query(j); break;
  case J_LAST: lt_do_last(j); break;
  case J_PENDING: lt_do_pending(j); break;
  case J_SCAN_DAY: lt_do_scan_day(j); break;
  case J_NAMES: lt_do_names(j); break;
  }
}

static void destroy(lt *t) {
  mdb_env_close(t->env);
  free(t->seen);
  free(t);
}

static void job_free(job *j) {
  free(j->series);
  dm_buf_free(&j->out);
  dm_buf_free(&j->bytes);
  free(j);
}

static void after_work(uv_work_t *req, int status);

static void deliver(job *j) {
  int st = j->status;
  switch (j->kind) {
  case J_PUT: case J_MARK_AGED: case J_SWEEP: j->cb.done(j->arg, st); break;
  case J_QUERY: case J_LAST:
    j->cb.items(j->arg, st, st == 0 ? (const dm_item *)j->out.p : NULL, st == 0 ? j->n_out : 0);
    break;
  case J_PENDING:
    j->cb.dayshards(j->arg, st, st == 0 ? (const dm_dayshard *)j->out.p : NULL,
                    st == 0 ? j->n_out : 0);
    break;
  case J_SCAN_DAY: case J_NAMES:
    j->cb.names(j->arg, st, st == 0 ? (const dm_name_ref *)j->out.p : NULL,
                st == 0 ? j->n_out : 0);
    break;
  }
}

/* Starts the head of the write queue; a head that cannot start fails and the next one
 * is tried (uv_queue_work only fails on bad arguments, so this is belt and braces). */
static void start_writes(lt *t) {
  while (t->wq_head != NULL) {
    job *j = t->wq_head;
    if (uv_queue_work(t->loop, &j->req, work, after_work) == 0) return;
    t->wq_head = j->next;
    if (t->wq_head == NULL) t->wq_tail = NULL;
    j->status = DM_EIO;
    deliver(j);
    job_free(j);
    t->inflight--;
  }
}

static int remember_scan(lt *t, dm_dayshard ds, uint64_t version) {
  for (size_t i = 0; i < t->n_seen; i++) {
    if (t->seen[i].ds.day == ds.day && t->seen[i].ds.shard == ds.shard) {
      t->seen[i].version = version;
      return 0;
    }
  }
  if (t->n_seen == t->cap_seen) {
    size_t cap = t->cap_seen ? t->cap_seen * 2 : 16;
    scan_seen *p = realloc(t->seen, cap * sizeof *p);
    if (p == NULL) return DM_ENOMEM; /* a mark_aged would clear pending unconditionally */
    t->seen = p;
    t->cap_seen = cap;
  }
  t->seen[t->n_seen++] = (scan_seen){ds, version};
  return 0;
}

static int take_scan(lt *t, dm_dayshard ds, uint64_t *version) {
  for (size_t i = 0; i < t->n_seen; i++) {
    if (t->seen[i].ds.day == ds.day && t->seen[i].ds.shard == ds.shard) {
      *version = t->seen[i].version;
      t->seen[i] = t->seen[--t->n_seen];
      return 1;
    }
  }
  return 0;
}

static void after_work(uv_work_t *req, int status) {
  job *j = req->data;
  lt *t = j->t;
  if (status < 0 && j->status == 0) j->status = DM_ECLOSED; /* cancelled: never done here */
  if (is_write(j)) {
    t->wq_head = j->next;
    if (t->wq_head == NULL) t->wq_tail = NULL;
    start_writes(t);
    t->st.items_written += j->items_written;
    t->st.items_merged += j->items_merged;
    t->st.bytes_written += j->bytes_written;
    if (j->have_gauges) {
      t->st.pending_dayshards = j->pending_count;
      t->st.size_bytes = j->size_bytes;
    }
  } else if (j->status == 0 && (j->kind == J_QUERY || j->kind == J_LAST)) {
    t->st.read_items += j->n_out;
  } else if (j->status == 0 && j->kind == J_SCAN_DAY) {
    if (remember_scan(t, j->ds, j->version) < 0) j->status = DM_ENOMEM;
  }
  deliver(j);
  job_free(j);
  if (--t->inflight == 0 && t->closing) destroy(t);
}

static job *job_new(lt *t, enum job_kind kind, void *arg) {
  job *j = calloc(1, sizeof *j);
  if (j == NULL) return NULL;
  j->t = t;
  j->kind = kind;
  j->arg = arg;
  j->req.data = j;
  dm_buf_init(&j->out);
  dm_buf_init(&j->bytes);
  return j;
}

static int submit(job *j) {
  lt *t = j->t;
  if (is_write(j)) {
    if (t->wq_tail != NULL) {
      t->wq_tail->next = j;
      t->wq_tail = j;
    } else {
      t->wq_head = t->wq_tail = j;
      if (uv_queue_work(t->loop, &j->req, work, after_work) != 0) {
        t->wq_head = t->wq_tail = NULL;
        job_free(j);
        return DM_EIO;
      }
    }
  } else if (uv_queue_work(t->loop, &j->req, work, after_work) != 0) {
    job_free(j);
    return DM_EIO;
  }
  t->inflight++;
  return 0;
}

static int series_ok(const lt *t, const char *s, size_t len) {
  return s != NULL && len > 0 && len <= t->max_series && memchr(s, 0, len) == NULL;
}

static int lmdb_put(dm_table *base, const dm_item *items, size_t n, dm_done_cb cb, void *arg) {
  lt *t = (lt *)base;
  if (t->closing) return DM_ECLOSED;
  if (cb == NULL || (items == NULL && n > 0)) return DM_EINVAL;
  for (size_t i = 0; i < n; i++) {
    if (!series_ok(t, items[i].series, items[i].series_len) || items[i].chunk == NULL ||
        items[i].chunk_len == 0)
      return DM_EINVAL;
  }
  job *j = job_new(t, J_PUT, arg);
  if (j == NULL) return DM_ENOMEM;
  j->in = items;
  j->n_in = n;
  j->cb.done = cb;
  return submit(j);
}

static job *series_job(lt *t, enum job_kind kind, const char *s, size_t len, void *arg,
                       int *rc) {
  *rc = t->closing ? DM_ECLOSED : !series_ok(t, s, len) ? DM_EINVAL : DM_ENOMEM;
  if (*rc != DM_ENOMEM) return NULL;
  job *j = job_new(t, kind, arg);
  if (j == NULL) return NULL;
  j->series = malloc(len + 1);
  if (j->series == NULL) {
    job_free(j);
    return NULL;
  }
  memcpy(j->series, s, len);
  j->series[len] = '\0';
  j->series_len = len;
  *rc = 0;
  return j;
}

static int lmdb_query(dm_table *base, const char *s, size_t len, int64_t from, int64_t until,
                      dm_items_cb cb, void *arg) {
  lt *t = (lt *)base;
  int rc;
  if (cb == NULL) return DM_EINVAL;
  job *j = series_job(t, J_QUERY, s, len, arg, &rc);
  if (j == NULL) return rc;
  j->from = from;
  j->until = until;
  j->cb.items = cb;
  t->st.reads++;
  return submit(j);
}

static int lmdb_last(dm_table *base, const char *s, size_t len, dm_items_cb cb, void *arg) {
  lt *t = (lt *)base;
  int rc;
  if (cb == NULL) return DM_EINVAL;
  job *j = series_job(t, J_LAST, s, len, arg, &rc);
  if (j == NULL) return rc;
  j->cb.items = cb;
  t->st.reads++;
  return submit(j);
}

static int lmdb_pending(dm_table *base, int64_t before_day, dm_dayshards_cb cb, void *arg) {
  lt *t = (lt *)base;
  if (t->closing) return DM_ECLOSED;
  if (cb == NULL) return DM_EINVAL;
  job *j = job_new(t, J_PENDING, arg);
  if (j == NULL) return DM_ENOMEM;
  j->before = before_day;
  j->cb.dayshards = cb;
  return submit(j);
}

static int lmdb_scan_day(dm_table *base, dm_dayshard ds, dm_names_cb cb, void *arg) {
  lt *t = (lt *)base;
  if (t->closing) return DM_ECLOSED;
  if (cb == NULL) return DM_EINVAL;
  job *j = job_new(t, J_SCAN_DAY, arg);
  if (j == NULL) return DM_ENOMEM;
  j->ds = ds;
  j->cb.names = cb;
  return submit(j);
}

static int lmdb_mark_aged(dm_table *base, dm_dayshard ds, dm_done_cb cb, void *arg) {
  lt *t = (lt *)base;
  if (t->closing) return DM_ECLOSED;
  if (cb == NULL) return DM_EINVAL;
  job *j = job_new(t, J_MARK_AGED, arg);
  if (j == NULL) return DM_ENOMEM;
  j->ds = ds;
  j->cb.done = cb;
  uint64_t version = 0;
  if (take_scan(t, ds, &version)) {
    j->has_expect = 1;
    j->expect = version;
  }
  int has_expect = j->has_expect;
  int rc = submit(j); /* frees j on failure */
  if (rc < 0 && has_expect) (void)remember_scan(t, ds, version); /* undo take_scan */
  return rc;
}

static int lmdb_sweep(dm_table *base, int64_t before, dm_done_cb cb, void *arg) {
  lt *t = (lt *)base;
  if (t->closing) return DM_ECLOSED;
  if (cb == NULL) return DM_EINVAL;
  job *j = job_new(t, J_SWEEP, arg);
  if (j == NULL) return DM_ENOMEM;
  j->before = before;
  j->cb.done = cb;
  return submit(j);
}

static int lmdb_names(dm_table *base, dm_names_cb cb, void *arg) {
  lt *t = (lt *)base;
  if (t->closing) return DM_ECLOSED;
  if (cb == NULL) return DM_EINVAL;
  job *j = job_new(t, J_NAMES, arg);
  if (j == NULL) return DM_ENOMEM;
  j->cb.names = cb;
  return submit(j);
}

static void lmdb_stats(dm_table *base, dm_table_stats *out) { *out = ((lt *)base)->st; }

static void lmdb_close(dm_table *base) {
  lt *t = (lt *)base;
  if (t == NULL || t->closing) return;
  t->closing = 1;
  if (t->inflight == 0) destroy(t);
}

static const dm_table_ops lmdb_ops = {
    .version = 2,
    .name = "lmdb",
    .put = lmdb_put,
    .query = lmdb_query,
    .last = lmdb_last,
    .pending = lmdb_pending,
    .scan_day = lmdb_scan_day,
    .mark_aged = lmdb_mark_aged,
    .sweep = lmdb_sweep,
    .names = lmdb_names,
    .stats = lmdb_stats,
    .close = lmdb_close,
};

static int mkdir_p(char *path) {
  for (char *p = path + 1;; p++) {
    if (*p != '/' && *p != '\0') continue;
    char c = *p;
    *p = '\0';
    int rc = mkdir(path, 0755) == 0 || errno == EEXIST ? 0 : -errno;
    *p = c;
    if (rc < 0) return rc;
    if (c == '\0') return 0;
  }
}

int dm_table_lmdb_open(dm_table **out, uv_loop_t *loop, const dm_config *cfg, char *err,
                       size_t errlen) {
  char path[DM_CONFIG_STR + 16];
  const char *what = "";
  int rc, mrc = 0;
  if (loop == NULL || cfg == NULL || cfg->window <= 0 || cfg->ager_shards < 1 ||
      cfg->ager_shards > UINT32_MAX || cfg->table_map_bytes <= 0 || cfg->data_dir[0] == '\0') {
    if (err != NULL)
      snprintf(err, errlen, "table: bad configuration (window, ager.shards, table.map_bytes)");
    return DM_EINVAL;
  }
  snprintf(path, sizeof path, "%s/table", cfg->data_dir);
  lt *t = calloc(1, sizeof *t);
  if (t == NULL) return DM_ENOMEM;
  rc = mkdir_p(path);
  if (rc < 0) {
    if (err != NULL) snprintf(err, errlen, "table: cannot create %s: %s", path, strerror(-rc));
    rc = DM_EIO;
    goto fail;
  }
  what = "create";
  if ((mrc = mdb_env_create(&t->env)) != 0) goto fail_mdb;
  what = "configure";
  if ((mrc = mdb_env_set_maxdbs(t->env, 8)) != 0 ||
      (mrc = mdb_env_set_maxreaders(t->env, 1024)) != 0 ||
      (mrc = mdb_env_set_mapsize(t->env, (size_t)cfg->table_map_bytes)) != 0)
    goto fail_env;
  what = "open";
  if ((mrc = mdb_env_open(t->env, path, MDB_NOTLS, 0644)) != 0) goto fail_env;
  int dead = 0;
  mdb_reader_check(t->env, &dead); /* slots of a process that was killed */
  MDB_txn *txn;
  what = "open databases";
  if ((mrc = mdb_txn_begin(t->env, NULL, 0, &txn)) != 0) goto fail_env;
  if ((mrc = mdb_dbi_open(txn, "items", MDB_CREATE, &t->items)) != 0 ||
      (mrc = mdb_dbi_open(txn, "pending", MDB_CREATE, &t->pending)) != 0 ||
      (mrc = mdb_dbi_open(txn, "manifest", MDB_CREATE, &t->manifest)) != 0 ||
      (mrc = mdb_dbi_open(txn, "aged", MDB_CREATE, &t->aged)) != 0 ||
      (mrc = mdb_dbi_open(txn, "names", MDB_CREATE, &t->names)) != 0) {
    mdb_txn_abort(txn);
    goto fail_env;
  }
  MDB_stat st;
  if (mdb_stat(txn, t->pending, &st) == 0) t->st.pending_dayshards = st.ms_entries;
  if ((mrc = mdb_txn_commit(txn)) != 0) goto fail_env;
  t->st.size_bytes = used_bytes(t->env);
  t->max_series = (size_t)mdb_env_get_maxkeysize(t->env) - DS_KEY;
  t->base.ops = &lmdb_ops;
  t->base.window = cfg->window;
  t->base.shards = (uint32_t)cfg->ager_shards;
  t->loop = loop;
  dm_log_info("table_open", "engine=lmdb path=%s map_bytes=%lld pending=%llu",
              path, (long long)cfg->table_map_bytes,
              (unsigned long long)t->st.pending_dayshards);
  *out = &t->base;
  return 0;
fail_env:
  mdb_env_close(t->env);
fail_mdb:
  if (err != NULL) snprintf(err, errlen, "table: lmdb %s %s: %s", what, path, mdb_strerror(mrc));
  rc = lt_status(mrc, what);
fail:
  free(t);
  return rc;
}
