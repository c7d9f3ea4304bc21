/* ager.c — packs days older than table.keep from the table into blob objects.
 *
 * A run asks the table for its pending (day, shard) pairs before the cut day (the first
 * day not yet older than table.keep) and packs them one at a time:
 *   1. the manifest gives the series of (day, shard); their windows of that day are read
 *      from the table (at most AGER_READS queries in flight);
 *   2. the existing object, if any (the day was packed before and late points arrived), is
 *      read whole and its series merged in, table points winning. It is always looked for,
 *      not only when the in-memory set of blob days lists the day: once the table has swept
 *      the day, its only other copy is that object, and writing over it without merging
 *      would lose the day;
 *   3. on the thread pool every series-day is Gorilla-encoded and the object built
 *      (blobfile.h), then put; the ager reads the object's index back and checks the series
 *      count before it marks (day, shard) aged: only then may the table forget the day;
 *   4. after all pairs: the table sweeps the aged days, and blob objects older than
 *      blob.keep are deleted.
 * A pair that fails stays pending and is retried by the next run (ager.interval); the lag
 * of the oldest due day is exported and degrades /readyz past half of ager.grace, since
 * remote tables expire items by TTL then.
 */
#include <stdlib.h>
#include <string.h>

#include "diamond/blobfile.h"
#include "diamond/error.h"
#include "diamond/gorilla.h"
#include "diamond/log.h"
#include "diamond/timefmt.h"
#include "engine_int.h"

#define AGER_READS 16
#define TAIL_BYTES 65536

typedef struct series_pts {
  char *name;
  size_t len;
  dm_point *p;
  size_t n, cap;
} series_pts;

typedef struct age_run {
  dm_engine *e;
  dm_dayshard *todo;
  size_t n, i;
  uint64_t t0;
  int status;
  int64_t cut_day;
  int skip; /* another node holds the ager lease: no pack, no sweep */
} age_run;

typedef struct pack {
  age_run *run;
  dm_dayshard ds;
  char key[64];
  series_pts *sp;
  size_t nsp, next, inflight;
  uint8_t *old;
  size_t old_len;
  uint8_t *out;
  size_t out_len;
  size_t entries;
  uv_work_t work;
  int status;
  int issuing; /* query_more's loop is running: a callback inside a call must not re-enter */
} pack;

static void pack_next(age_run *r);
static void run_finish(age_run *r);

static void tick(uv_timer_t *t) { dm_ager_run(t->data, NULL, NULL); }

void dm_ager_start(dm_engine *e) {
  uv_timer_init(e->loop, &e->age_timer);
  e->age_timer.data = e;
  e->timers_open++;
  uint64_t ms = (uint64_t)e->cfg.ager_interval * 1000;
  uv_timer_start(&e->age_timer, tick, 5000, ms);
}

void dm_ager_stop(dm_engine *e) {
  if (e->age_timer.data == e && !uv_is_closing((uv_handle_t *)&e->age_timer)) {
    uv_timer_stop(&e->age_timer);
    uv_close((uv_handle_t *)&e->age_timer, dm_engine_timer_closed);
  }
}

/* ---- the set of days with blob objects ---- */

int dm_engine_has_blob_day(const dm_engine *e, int64_t day) {
  size_t lo = 0, hi = e->nblob_days;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (e->blob_days[mid] < day) lo = mid + 1;
    else hi = mid;
  }
  return lo < e->nblob_days && e->blob_days[lo] == day;
}

void dm_engine_add_blob_day(dm_engine *e, int64_t day) {
  if (dm_engine_has_blob_day(e, day)) return;
  if (e->nblob_days == e->cap_blob_days) {
    size_t cap = e->cap_blob_days ? e->cap_blob_days * 2 : 64;
    int64_t *p = realloc(e->blob_days, cap * sizeof *p);
    if (p == NULL) return; /* reads of that day miss the blob until restart; logged */
    e->blob_days = p;
    e->cap_blob_days = cap;
  }
  size_t i = e->nblob_days;
  while (i > 0 && e->blob_days[i - 1] > day) {
    e->blob_days[i] = e->blob_days[i - 1];
    i--;
  }
  e->blob_days[i] = day;
  e->nblob_days++;
}

static void remove_blob_day(dm_engine *e, int64_t day) {
  for (size_t i = 0; i < e->nblob_days; i++) {
    if (e->blob_days[i] == day) {
      memmove(e->blob_days + i, e->blob_days + i + 1, (e->nblob_days - i - 1) * sizeof(int64_t));
      e->nblob_days--;
      return;
    }
  }
}

/* "v1/YYYY-MM-DD/SS.dmb" -> day */
static int key_day(const char *key, int64_t *day) {
  if (strncmp(key, "v1/", 3) != 0 || strlen(key) < 14) return DM_EINVAL;
  char d[11];
  memcpy(d, key + 3, 10);
  d[10] = '\0';
  return dm_day_parse(d, day);
}

static void days_listed(void *arg, int status, const dm_name_ref *keys, size_t n) {
  void **ctx = arg;
  dm_engine *e = ctx[0];
  int *done = ctx[1];
  for (size_t i = 0; status == 0 && i < n; i++) {
    int64_t day;
    char k[64];
    snprintf(k, sizeof k, "%.*s", (int)keys[i].len, keys[i].s);
    if (key_day(k, &day) == 0) dm_engine_add_blob_day(e, day);
  }
  *done = status < 0 ? status : 1;
}

int dm_ager_load_days(dm_engine *e) {
  int done = 0;
  void *ctx[2] = {e, &done};
  int rc = dm_blob_list(e->blob, "v1/", days_listed, ctx);
  if (rc < 0) return rc;
  dm_engine_wait(e, &done);
  return done < 0 ? done : 0;
}

/* ---- one (day, shard) ---- */

static void pack_free(pack *p) {
  for (size_t i = 0; i < p->nsp; i++) {
    free(p->sp[i].name);
    free(p->sp[i].p);
  }
  free(p->sp);
  free(p->old);
  free(p->out);
  free(p);
}

static void pack_done(pack *p, int status) {
  age_run *r = p->run;
  dm_engine *e = r->e;
  char day[11];
  dm_day_format(p->ds.day, day);
  if (status == 0) {
    dm_counter_add(e->m_aged, 1);
    e->aged_count++;
    dm_log_info("ager_packed", "day=%s shard=%u series=%zu bytes=%zu", day, p->ds.shard,
                p->entries, p->out_len);
  } else {
    dm_counter_add(e->m_ager_errors, 1);
    dm_log_error("ager_pack_failed", "day=%s shard=%u error=\"%s\"", day, p->ds.shard,
                 dm_strerror(status));
    r->status = status;
  }
  pack_free(p);
  r->i++;
  pack_next(r);
}

static void aged_marked(void *arg, int status) { pack_done(arg, status); }

static void verified(void *arg, int status, const uint8_t *data, size_t len, uint64_t size) {
  pack *p = arg;
  dm_engine *e = p->run->e;
  dm_blobfile_footer f;
  (void)size;
  if (status == 0 && len < DM_BLOBFILE_FOOTER) status = DM_ECORRUPT;
  if (status == 0) status = dm_blobfile_footer_parse(data + len - DM_BLOBFILE_FOOTER, &f);
  if (status == 0 && f.entries != p->entries) status = DM_ECORRUPT;
  if (status == 0 && f.index_off + f.index_len + DM_BLOBFILE_FOOTER == p->out_len &&
      f.index_len + DM_BLOBFILE_FOOTER <= len) {
    dm_blobfile_index *ix = NULL;
    status = dm_blobfile_index_parse(&f, data + len - DM_BLOBFILE_FOOTER - f.index_len,
                                     f.index_len, &ix);
    if (status == 0 && dm_blobfile_index_count(ix) != p->entries) status = DM_ECORRUPT;
    dm_blobfile_index_free(ix);
  }
  if (status < 0) {
    pack_done(p, status);
    return;
  }
  dm_engine_add_blob_day(e, p->ds.day);
  int rc = dm_table_mark_aged(e->table, p->ds, aged_marked, p);
  if (rc < 0) pack_done(p, rc);
}

static void put_done(void *arg, int status) {
  pack *p = arg;
  /* the old object may be gone even when the put failed late (after the rename) or the
   * check below fails: never let reads keep its cached index */
  dm_blob_reader_invalidate(p->run->e->breader, p->key);
  if (status < 0) {
    pack_done(p, status);
    return;
  }
  int rc = dm_blob_get_range(p->run->e->blob, p->key, -TAIL_BYTES, TAIL_BYTES, verified, p);
  if (rc < 0) pack_done(p, rc);
}

static int cmp_pts_name(const void *a, const void *b) {
  const series_pts *x = a, *y = b;
  size_t m = x->len < y->len ? x->len : y->len;
  int c = memcmp(x->name, y->name, m);
  return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* thread pool: merge with the old object, encode, build the new object */
static void build_work(uv_work_t *w) {
  pack *p = w->data;
  dm_blobfile_writer *wr = NULL;
  dm_blobfile_index *oldix = NULL;
  dm_point *merged = NULL, *oldp = NULL;
  uint8_t *chunk = NULL;
  int rc = dm_blobfile_writer_new(&wr);
  if (rc < 0) goto done;
  if (p->old != NULL) {
    dm_blobfile_footer f;
    if (p->old_len < DM_BLOBFILE_FOOTER) { rc = DM_ECORRUPT; goto done; }
    rc = dm_blobfile_footer_parse(p->old + p->old_len - DM_BLOBFILE_FOOTER, &f);
    if (rc < 0) goto done;
    if (f.index_off + f.index_len > p->old_len) { rc = DM_ECORRUPT; goto done; }
    rc = dm_blobfile_index_parse(&f, p->old + f.index_off, f.index_len, &oldix);
    if (rc < 0) goto done;
  }
  qsort(p->sp, p->nsp, sizeof *p->sp, cmp_pts_name);
  size_t nold = oldix ? dm_blobfile_index_count(oldix) : 0;
  size_t i = 0, j = 0;
  while (i < p->nsp || j < nold) {
    const dm_blobfile_entry *oe = j < nold ? dm_blobfile_index_at(oldix, j) : NULL;
    series_pts *sp = i < p->nsp ? &p->sp[i] : NULL;
    int c;
    if (sp == NULL) c = 1;
    else if (oe == NULL) c = -1;
    else {
      size_t m = sp->len < oe->name_len ? sp->len : oe->name_len;
      c = memcmp(sp->name, oe->name, m);
      if (c == 0) c = (sp->len > oe->name_len) - (sp->len < oe->name_len);
    }
    const dm_point *pts;
    size_t n;
    const char *name;
    size_t name_len;
    size_t nold_pts = 0;
    if (c >= 0) { /* decode the old series-day */
      if (oe->off + oe->len > p->old_len) { rc = DM_ECORRUPT; goto done; }
      size_t cnt;
      int64_t first;
      rc = dm_chunk_info(p->old + oe->off, oe->len, &cnt, &first);
      if (rc < 0) goto done;
      free(oldp);
      oldp = malloc((cnt ? cnt : 1) * sizeof *oldp);
      if (oldp == NULL) { rc = DM_ENOMEM; goto done; }
      rc = dm_chunk_decode(p->old + oe->off, oe->len, oldp, cnt);
      if (rc < 0) goto done;
      nold_pts = (size_t)rc;
    }
    if (c < 0) {
      sp->n = dm_points_sort_dedup(sp->p, sp->n);
      pts = sp->p, n = sp->n, name = sp->name, name_len = sp->len;
      i++;
    } else if (c > 0) {
      pts = oldp, n = nold_pts, name = oe->name, name_len = oe->name_len;
      j++;
    } else {
      sp->n = dm_points_sort_dedup(sp->p, sp->n);
      free(merged);
      merged = malloc((sp->n + nold_pts + 1) * sizeof *merged);
      if (merged == NULL) { rc = DM_ENOMEM; goto done; }
      n = dm_points_merge(sp->p, sp->n, oldp, nold_pts, merged);
      pts = merged, name = sp->name, name_len = sp->len;
      i++, j++;
    }
    if (n == 0) continue;
    free(chunk);
    size_t cap = dm_chunk_bound(n);
    chunk = malloc(cap);
    if (chunk == NULL) { rc = DM_ENOMEM; goto done; }
    int len = dm_chunk_encode(pts, n, chunk, cap);
    if (len < 0) { rc = len; goto done; }
    rc = dm_blobfile_writer_add(wr, name, name_len, chunk, (size_t)len, pts[0].t,
                                pts[n - 1].t, (uint32_t)n);
    if (rc < 0) goto done;
    p->entries++;
  }
  rc = dm_blobfile_writer_finish(wr, &p->out, &p->out_len);
done:
  p->status = rc;
  free(chunk);
  free(merged);
  free(oldp);
  dm_blobfile_index_free(oldix);
  dm_blobfile_writer_free(wr);
}

static void build_done(uv_work_t *w, int uvstatus) {
  pack *p = w->data;
  int rc = uvstatus < 0 ? DM_EIO : p->status;
  if (rc == 0 && p->entries == 0) { /* nothing left in the day: just mark it */
    rc = dm_table_mark_aged(p->run->e->table, p->ds, aged_marked, p);
    if (rc == 0) return;
  }
  if (rc == 0) rc = dm_blob_put(p->run->e->blob, p->key, p->out, p->out_len, put_done, p);
  if (rc < 0) pack_done(p, rc);
}

static void start_build(pack *p) {
  p->work.data = p;
  int rc = uv_queue_work(p->run->e->loop, &p->work, build_work, build_done);
  if (rc < 0) pack_done(p, DM_EIO);
}

static void query_more(pack *p);

static void series_got(void *arg, int status, const dm_item *items, size_t n) {
  void **ctx = arg;
  pack *p = ctx[0];
  series_pts *sp = ctx[1];
  free(ctx);
  for (size_t i = 0; status == 0 && i < n; i++) {
    size_t cnt;
    int64_t first;
    status = dm_chunk_info(items[i].chunk, items[i].chunk_len, &cnt, &first);
    if (status < 0) break;
    if (sp->n + cnt > sp->cap) {
      size_t cap = sp->cap ? sp->cap : 64;
      while (cap < sp->n + cnt) cap *= 2;
      dm_point *q = realloc(sp->p, cap * sizeof *q);
      if (q == NULL) { status = DM_ENOMEM; break; }
      sp->p = q;
      sp->cap = cap;
    }
    status = dm_chunk_decode(items[i].chunk, items[i].chunk_len, sp->p + sp->n, cnt);
    if (status >= 0) sp->n += (size_t)status, status = 0;
  }
  if (status < 0 && p->status == 0) p->status = status;
  p->inflight--;
  if (!p->issuing) query_more(p); /* else the loop below sees the change */
}

static void query_more(pack *p) {
  dm_engine *e = p->run->e;
  int64_t from = p->ds.day * 86400, until = from + 86400 - 1;
  p->issuing = 1;
  while (p->status == 0 && p->next < p->nsp && p->inflight < AGER_READS) {
    series_pts *sp = &p->sp[p->next++];
    void **ctx = malloc(2 * sizeof *ctx);
    if (ctx == NULL) { p->status = DM_ENOMEM; break; }
    ctx[0] = p;
    ctx[1] = sp;
    p->inflight++;
    int rc = dm_table_query(e->table, sp->name, sp->len, from, until, series_got, ctx);
    if (rc < 0) {
      free(ctx);
      p->inflight--;
      p->status = rc;
    }
  }
  p->issuing = 0;
  if (p->inflight > 0) return;
  if (p->status < 0) {
    pack_done(p, p->status);
    return;
  }
  if (p->next == p->nsp) start_build(p);
}

static void old_got(void *arg, int status, const uint8_t *data, size_t len, uint64_t size) {
  pack *p = arg;
  (void)size;
  if (status == 0) {
    p->old = malloc(len ? len : 1);
    if (p->old == NULL) status = DM_ENOMEM;
    else memcpy(p->old, data, len), p->old_len = len;
  }
  if (status < 0 && status != DM_ENOENT) {
    pack_done(p, status);
    return;
  }
  query_more(p);
}

static void names_got(void *arg, int status, const dm_name_ref *names, size_t n) {
  pack *p = arg;
  if (status < 0) {
    pack_done(p, status);
    return;
  }
  p->sp = calloc(n ? n : 1, sizeof *p->sp);
  if (p->sp == NULL) {
    pack_done(p, DM_ENOMEM);
    return;
  }
  for (size_t i = 0; i < n; i++) {
    p->sp[i].name = malloc(names[i].len + 1);
    if (p->sp[i].name == NULL) {
      pack_done(p, DM_ENOMEM);
      return;
    }
    memcpy(p->sp[i].name, names[i].s, names[i].len);
    p->sp[i].name[names[i].len] = '\0';
    p->sp[i].len = names[i].len;
    p->nsp++;
  }
  /* DM_ENOENT (never packed) is the usual answer; old_got goes on to the table reads */
  int rc = dm_blob_get_range(p->run->e->blob, p->key, 0, (size_t)1 << 40, old_got, p);
  if (rc < 0) pack_done(p, rc);
}

static void pack_start(age_run *r) {
  dm_engine *e = r->e;
  pack *p = calloc(1, sizeof *p);
  if (p == NULL) {
    r->status = DM_ENOMEM;
    run_finish(r);
    return;
  }
  p->run = r;
  p->ds = r->todo[r->i];
  dm_blob_key(p->key, sizeof p->key, p->ds.day, p->ds.shard);
  int rc = dm_table_scan_day(e->table, p->ds, names_got, p);
  if (rc < 0) pack_done(p, rc);
}

static void lease_renewed(void *arg, int status, int held) {
  age_run *r = arg;
  if (status < 0 || !held) {
    dm_log_warn("ager_lease_lost", "error=\"%s\"", status < 0 ? dm_strerror(status) : "held elsewhere");
    r->status = status < 0 ? status : DM_EAGAIN;
    run_finish(r);
    return;
  }
  pack_start(r);
}

static void pack_next(age_run *r) {
  dm_engine *e = r->e;
  if (r->i >= r->n || e->closing) {
    run_finish(r);
    return;
  }
  /* renew the ager lease before each (day, shard): a run longer than the lease keeps it,
   * a node that lost it stops */
  int rc = dm_cache_lease(e->cache, "ager", e->cfg.cache_lease_ms, lease_renewed, r);
  if (rc < 0) lease_renewed(r, rc, 0);
}

/* ---- after the packs: sweep the table, drop expired blobs ---- */

static void expired_deleted(void *arg, int status) {
  (void)arg;
  if (status < 0) dm_log_warn("ager_blob_delete_failed", "error=\"%s\"", dm_strerror(status));
}

static void blobs_listed(void *arg, int status, const dm_name_ref *keys, size_t n) {
  age_run *r = arg;
  dm_engine *e = r->e;
  int64_t oldest = dm_day_of(dm_now() - e->cfg.blob_keep);
  for (size_t i = 0; status == 0 && i < n; i++) {
    char k[64];
    int64_t day;
    snprintf(k, sizeof k, "%.*s", (int)keys[i].len, keys[i].s);
    if (key_day(k, &day) < 0 || day >= oldest) continue;
    dm_blob_reader_invalidate(e->breader, k);
    remove_blob_day(e, day);
    if (dm_blob_del(e->blob, k, expired_deleted, r) == 0)
      dm_log_info("ager_blob_expired", "key=%s", k);
  }
  /* deletes complete on their own; the run is over */
  double secs = (double)(dm_mono_ns() - r->t0) / 1e9;
  dm_histogram_observe(e->m_age_seconds, secs);
  if (r->status == 0) e->oldest_pending_day = INT64_MAX;
  if (r->n > 0)
    dm_log_info("ager_done", "dayshards=%zu aged=%llu ms=%.1f status=%d", r->n,
                (unsigned long long)e->aged_count, secs * 1e3, r->status);
  e->age_running = 0;
  int st = r->status;
  free(r->todo);
  free(r);
  dm_waiters_fire(&e->age_waiters, st);
  /* a waiter may have started a run itself: then age_next waits for that run's end */
  if (e->age_next != NULL && !e->age_running) {
    if (!e->closing) {
      e->age_waiters = e->age_next;
      e->age_next = NULL;
      dm_ager_run(e, NULL, NULL); /* those who asked while this run was going */
    } else {
      dm_waiters_fire(&e->age_next, DM_ECLOSED);
    }
  }
}

static void swept(void *arg, int status) {
  age_run *r = arg;
  if (status < 0) {
    dm_log_warn("table_sweep_failed", "error=\"%s\"", dm_strerror(status));
    if (r->status == 0) r->status = status;
  }
  int rc = dm_blob_list(r->e->blob, "v1/", blobs_listed, r);
  if (rc < 0) blobs_listed(r, rc, NULL, 0);
}

static void run_finish(age_run *r) {
  if (r->skip) { /* the node holding the lease sweeps and expires */
    blobs_listed(r, DM_EAGAIN, NULL, 0);
    return;
  }
  int rc = dm_table_sweep(r->e->table, r->cut_day * 86400, swept, r);
  if (rc < 0) swept(r, rc);
}

static void pending_got(void *arg, int status, const dm_dayshard *d, size_t n) {
  age_run *r = arg;
  dm_engine *e = r->e;
  if (status < 0) {
    r->status = status;
    run_finish(r);
    return;
  }
  r->todo = malloc((n ? n : 1) * sizeof *r->todo);
  if (r->todo == NULL) {
    r->status = DM_ENOMEM;
    run_finish(r);
    return;
  }
  if (n > 0) memcpy(r->todo, d, n * sizeof *d);
  r->n = n;
  for (size_t i = 0; i < n; i++)
    if (d[i].day < e->oldest_pending_day) e->oldest_pending_day = d[i].day;
  pack_next(r);
}

static void lease_got(void *arg, int status, int held) {
  age_run *r = arg;
  dm_engine *e = r->e;
  if (status < 0 || !held) {
    /* another node runs the ager (or the cache cannot say): nothing to do here */
    if (status < 0)
      dm_log_warn("ager_lease_failed", "error=\"%s\"", dm_strerror(status));
    else
      dm_log_debug("ager_lease_elsewhere", NULL);
    r->skip = 1;
    r->status = status < 0 ? status : 0;
    run_finish(r);
    return;
  }
  int rc = dm_table_pending(e->table, r->cut_day, pending_got, r);
  if (rc < 0) {
    r->status = rc;
    run_finish(r);
  }
}

int dm_ager_run(dm_engine *e, dm_done_cb cb, void *arg) {
  if (e->age_running) return cb ? dm_waiter_push(&e->age_next, cb, arg) : 0;
  if (cb != NULL) {
    int rc = dm_waiter_push(&e->age_waiters, cb, arg);
    if (rc < 0) return rc;
  }
  age_run *r = calloc(1, sizeof *r);
  if (r == NULL) {
    dm_waiters_fire(&e->age_waiters, DM_ENOMEM);
    return 0;
  }
  r->e = e;
  r->t0 = dm_mono_ns();
  r->cut_day = dm_day_of(dm_now() - e->cfg.table_keep);
  e->age_running = 1;
  e->aged_count = 0;
  dm_sync_blob_days(e); /* every node: learn the days other nodes packed */
  /* one ager at a time over every node sharing the cache: a lease, renewed per pack */
  int rc = dm_cache_lease(e->cache, "ager", e->cfg.cache_lease_ms, lease_got, r);
  if (rc < 0) lease_got(r, rc, 0);
  return 0;
}
