/* engine.c — opening and closing the engine, and the write path.
 *
 * Behind a durable cache (redis: cache.h `durable`) there is no WAL: a write is appended
 * to the cache and acknowledged when the cache says it is stored, so the node itself keeps
 * no state and any node can die without losing an acknowledged point. New series names go
 * to the other nodes with the same append (dm_cache_announce).
 *
 * Behind the memory cache a write goes WAL first, cache second: dm_wal_append queues the batch for the next group
 * commit; when the WAL reports it durable (per wal.fsync) the batch is applied to the
 * cache and the caller is told, so a 2xx always means "in the WAL and readable". The WAL
 * completes appends in order, so two writes of the same (series, time) reach the cache in
 * the order they were accepted: last write wins.
 *
 * Writes in flight are kept in a FIFO with the WAL segment that was current when they were
 * queued (a lower bound of the segment they land in). The flusher may delete WAL segments
 * only below both the cache's lowest unflushed segment and the oldest in-flight write's.
 */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "diamond/error.h"
#include "diamond/log.h"
#include "diamond/timefmt.h"
#include "engine_int.h"

struct write_op {
  dm_engine *e;
  const dm_batch *b;
  dm_done_cb cb;
  void *arg;
  uint64_t seg_floor;
  write_op *next;
};

int dm_waiter_push(waiter **list, dm_done_cb cb, void *arg) {
  waiter *w = malloc(sizeof *w);
  if (w == NULL) return DM_ENOMEM;
  w->cb = cb;
  w->arg = arg;
  w->next = NULL;
  while (*list != NULL) list = &(*list)->next;
  *list = w;
  return 0;
}

void dm_waiters_fire(waiter **list, int status) {
  waiter *w = *list;
  *list = NULL;
  while (w != NULL) {
    waiter *next = w->next;
    w->cb(w->arg, status);
    free(w);
    w = next;
  }
}

void dm_engine_wait(dm_engine *e, const int *done) {
  while (!*done) uv_run(e->loop, UV_RUN_ONCE);
}

static void names_loaded(void *arg, int status, const dm_name_ref *names, size_t n) {
  void **ctx = arg;
  dm_engine *e = ctx[0];
  int *done = ctx[1];
  if (status < 0) {
    dm_log_error("names_load_failed", "error=\"%s\"", dm_strerror(status));
  } else {
    for (size_t i = 0; i < n; i++) dm_name_index_add(e->names, names[i].s, names[i].len);
    e->names_loaded = 1;
  }
  *done = status < 0 ? status : 1;
}

/* Names other nodes announced (durable cache). */
static void names_announced(void *arg, int status, const dm_name_ref *names, size_t n) {
  dm_engine *e = arg;
  if (status < 0) return;
  for (size_t i = 0; i < n; i++) dm_name_index_add(e->names, names[i].s, names[i].len);
}

/* The memory cache completes appends inside the call; the status lands in *arg. A cache
 * that completes later (redis) will need the write_op to carry the ack instead. */
static void cache_applied(void *arg, int status) { *(int *)arg = status; }

/* Applies a batch that is in the WAL (segment seg): its names into the name index, its
 * points into the cache. Shared by replay and the write path. */
static int apply_batch(dm_engine *e, const dm_batch *b, uint64_t seg) {
  for (size_t i = 0; i < b->n; i++) {
    if (i > 0 && b->e[i].name_off == b->e[i - 1].name_off) continue;
    size_t len;
    const char *s = dm_batch_name(b, i, &len);
    dm_name_index_add(e->names, s, len);
  }
  int status = 1;
  int rc = dm_cache_append(e->cache, b, seg, cache_applied, &status);
  return rc < 0 ? rc : status <= 0 ? status : DM_EIO;
}

static int replay_one(void *arg, const dm_batch *b, uint64_t seg) {
  return apply_batch(arg, b, seg);
}

static double g_wal_bytes(void *arg) {
  dm_wal_stats s;
  dm_wal_stats_get(((dm_engine *)arg)->wal, &s);
  return (double)s.bytes;
}
static double g_wal_segments(void *arg) {
  dm_wal_stats s;
  dm_wal_stats_get(((dm_engine *)arg)->wal, &s);
  return (double)s.segments;
}
static double cache_stat(dm_engine *e, int which) {
  dm_cache_stats s;
  dm_cache_stats_get(e->cache, &s);
  switch (which) {
  case 0: return (double)s.windows;
  case 1: return (double)s.bytes;
  case 2: return (double)s.points;
  case 3: return (double)s.series;
  default: return s.oldest_dirty_end ? (double)(dm_now() - s.oldest_dirty_end) : 0;
  }
}
static double g_cache_windows(void *arg) { return cache_stat(arg, 0); }
static double g_cache_bytes(void *arg) { return cache_stat(arg, 1); }
static double g_cache_points(void *arg) { return cache_stat(arg, 2); }
static double g_cache_series(void *arg) { return cache_stat(arg, 3); }
static double g_flush_lag(void *arg) {
  /* how far the oldest unflushed closed window is behind its flush deadline */
  dm_engine *e = arg;
  double lag = cache_stat(e, 4) - (double)e->cfg.flush_grace;
  return lag > 0 ? lag : 0;
}
static double g_ager_lag(void *arg) {
  dm_engine *e = arg;
  if (e->oldest_pending_day == INT64_MAX) return 0;
  /* a day becomes due when its end is older than table.keep */
  double due = (double)((e->oldest_pending_day + 1) * 86400 + e->cfg.table_keep);
  double lag = (double)dm_now() - due;
  return lag > 0 ? lag : 0;
}
static double g_series_known(void *arg) {
  return (double)dm_name_index_count(((dm_engine *)arg)->names);
}
static double g_table_bytes(void *arg) {
  dm_table_stats s;
  dm_table_stats_get(((dm_engine *)arg)->table, &s);
  return (double)s.size_bytes;
}

/* The cost meter: request charges at the [cost] on-demand prices. Storage is not counted
 * (it depends on the bill's month, not on requests). */
static double g_cost_table(void *arg) {
  dm_engine *e = arg;
  dm_table_stats ts;
  dm_table_stats_get(e->table, &ts);
  return ts.write_units * dm_config_price(e->cfg.cost_dynamodb_write_million) / 1e6 +
         ts.read_units * dm_config_price(e->cfg.cost_dynamodb_read_million) / 1e6;
}
static double g_cost_blob(void *arg) {
  dm_engine *e = arg;
  dm_blob_stats bs;
  dm_blob_stats_get(e->blob, &bs);
  if (strcmp(e->blob->ops->name, "dir") == 0) return 0;
  return (double)(bs.puts + bs.lists) * dm_config_price(e->cfg.cost_s3_put_thousand) / 1e3 +
         (double)bs.gets * dm_config_price(e->cfg.cost_s3_get_thousand) / 1e3;
}

static void fsync_observed(void *arg, uint64_t ns) {
  dm_histogram_observe(((dm_engine *)arg)->m_fsync, (double)ns / 1e9);
}

static void register_metrics(dm_engine *e) {
  e->m_points = dm_metric_counter("diamond_points_durable_total", "",
                                 "Points made durable in the WAL and applied to the cache.");
  e->m_batches = dm_metric_counter("diamond_write_batches_total", "", "Batches made durable.");
  e->m_busy = dm_metric_counter("diamond_backpressure_total", "",
                                "Writes refused with 503 because the cache or WAL is full.");
  e->m_flush_windows = dm_metric_counter("diamond_flush_windows_total", "",
                                         "Cache windows written to the table.");
  e->m_flush_errors = dm_metric_counter("diamond_flush_errors_total", "", "Failed flush rounds.");
  e->m_aged = dm_metric_counter("diamond_ager_dayshards_total", "",
                                "(day, shard) objects packed into blobs.");
  e->m_ager_errors = dm_metric_counter("diamond_ager_errors_total", "", "Failed ager packs.");
  e->m_fsync = dm_metric_histogram("diamond_wal_fsync_seconds", "", "WAL fdatasync latency.");
  e->m_flush_seconds = dm_metric_histogram("diamond_flush_seconds", "", "Flush round latency.");
  e->m_age_seconds = dm_metric_histogram("diamond_ager_seconds", "", "Ager run latency.");
  dm_metric_counter_fn("diamond_estimated_cost_usd_total", "backend=\"table\"",
                       "Estimated request charges since start at the [cost] on-demand prices.",
                       g_cost_table, e);
  dm_metric_counter_fn("diamond_estimated_cost_usd_total", "backend=\"blob\"",
                       "Estimated request charges since start at the [cost] on-demand prices.",
                       g_cost_blob, e);
  if (e->wal != NULL) {
    dm_metric_gauge("diamond_wal_bytes", "", "Bytes in live WAL segments.", g_wal_bytes, e);
    dm_metric_gauge("diamond_wal_segments", "", "Live WAL segment files.", g_wal_segments, e);
    dm_wal_set_fsync_observer(e->wal, fsync_observed, e);
  }
  dm_metric_gauge("diamond_cache_windows", "", "Windows in the hot cache.", g_cache_windows, e);
  dm_metric_gauge("diamond_cache_bytes", "", "Memory held by the hot cache.", g_cache_bytes, e);
  dm_metric_gauge("diamond_cache_points", "", "Points in the hot cache.", g_cache_points, e);
  dm_metric_gauge("diamond_cache_series", "", "Series in the hot cache.", g_cache_series, e);
  dm_metric_gauge("diamond_series", "", "Series names known.", g_series_known, e);
  dm_metric_gauge("diamond_table_bytes", "", "Bytes used by the table.", g_table_bytes, e);
  dm_metric_gauge("diamond_flush_lag_seconds", "",
                  "Age of the oldest closed window still waiting past its flush deadline.",
                  g_flush_lag, e);
  dm_metric_gauge("diamond_ager_lag_seconds", "",
                  "How long the oldest due day has been waiting to be packed into blobs.",
                  g_ager_lag, e);
}

/* Loads the table's name list into the index (start-up: runs the loop until done). */
static int load_names(dm_engine *e) {
  int done = 0;
  void *ctx[2] = {e, &done};
  int rc = dm_table_names(e->table, names_loaded, ctx);
  if (rc < 0) return rc;
  dm_engine_wait(e, &done);
  return done < 0 ? done : 0;
}

static int open_wal(dm_engine *e, char *err, size_t errlen) {
  char path[DM_CONFIG_STR + 32];
  snprintf(path, sizeof path, "%s/wal", e->cfg.data_dir);
  dm_wal_opts wo = {.dir = path,
                    .fsync = e->cfg.wal_fsync,
                    .fsync_ms = e->cfg.wal_fsync_ms,
                    .segment_bytes = e->cfg.wal_segment_bytes};
  int rc = dm_wal_open(&e->wal, e->loop, &wo);
  if (rc < 0) {
    snprintf(err, errlen, "wal: opening %s: %s", path, dm_strerror(rc));
    return rc;
  }
  uint64_t records = 0, points = 0;
  uint64_t t0 = dm_mono_ns();
  rc = dm_wal_replay(e->wal, replay_one, e, &records, &points);
  if (rc < 0) {
    snprintf(err, errlen, "wal: replay: %s", dm_strerror(rc));
    dm_wal_close(e->wal);
    e->wal = NULL;
    return rc;
  }
  dm_log_info("wal_replayed", "records=%llu points=%llu ms=%.1f", (unsigned long long)records,
              (unsigned long long)points, (double)(dm_mono_ns() - t0) / 1e6);
  return 0;
}

/* Remote tiers may be down at start: the node starts anyway (reporting not ready) and the
 * sync timer retries. The embedded ones failing is a real error. */
static int remote_table(const dm_engine *e) { return strcmp(e->table->ops->name, "lmdb") != 0; }
static int remote_blob(const dm_engine *e) { return strcmp(e->blob->ops->name, "dir") != 0; }

int dm_engine_open(dm_engine **out, uv_loop_t *loop, const dm_config *cfg, char *err,
                   size_t errlen) {
  int rc;
  dm_engine *e = calloc(1, sizeof *e);
  if (e == NULL) return DM_ENOMEM;
  e->loop = loop;
  e->cfg = *cfg;
  e->oldest_pending_day = INT64_MAX;
  dm_config_node_id(cfg, e->node_id, sizeof e->node_id);
  if (mkdir(cfg->data_dir, 0755) < 0 && errno != EEXIST) {
    snprintf(err, errlen, "data dir %s: %s", cfg->data_dir, strerror(errno));
    rc = DM_EIO;
    goto fail;
  }
  rc = dm_name_index_new(&e->names);
  if (rc < 0) goto fail;
  rc = dm_tiers_open_cache(&e->cache, loop, cfg, e->node_id, err, errlen);
  if (rc < 0) goto fail_names;
  rc = dm_tiers_open_table(&e->table, loop, cfg, err, errlen);
  if (rc < 0) goto fail_cache;
  rc = dm_tiers_open_blob(&e->blob, loop, cfg, err, errlen);
  if (rc < 0) goto fail_table;
  rc = dm_blob_reader_new(&e->breader, e->blob, (size_t)cfg->blob_index_cache);
  if (rc < 0) goto fail_blob;

  rc = load_names(e);
  if (rc < 0 && !remote_table(e)) {
    snprintf(err, errlen, "table: loading series names: %s", dm_strerror(rc));
    goto fail_reader;
  }
  if (rc < 0) dm_log_warn("names_load_deferred", "error=\"%s\" retry=sync", dm_strerror(rc));
  rc = dm_ager_load_days(e);
  if (rc < 0 && !remote_blob(e)) {
    snprintf(err, errlen, "blob: listing objects: %s", dm_strerror(rc));
    goto fail_reader;
  }
  if (rc < 0) dm_log_warn("blob_days_deferred", "error=\"%s\" retry=sync", dm_strerror(rc));
  if (!dm_cache_durable(e->cache)) {
    rc = open_wal(e, err, errlen);
    if (rc < 0) goto fail_reader;
  }
  rc = dm_cache_watch_names(e->cache, names_announced, e);
  if (rc < 0) {
    snprintf(err, errlen, "cache: watching names: %s", dm_strerror(rc));
    goto fail_wal;
  }
  register_metrics(e);
  dm_log_info("engine_open", "node=%s cache=%s table=%s blob=%s wal=%s", e->node_id,
              e->cache->ops->name, e->table->ops->name, e->blob->ops->name,
              e->wal ? "yes" : "no");
  *out = e;
  return 0;
fail_wal:
  if (e->wal) dm_wal_close(e->wal);
fail_reader:
  dm_blob_reader_free(e->breader);
fail_blob:
  dm_blob_close(e->blob);
fail_table:
  dm_table_close(e->table);
fail_cache:
  dm_cache_close(e->cache);
fail_names:
  dm_name_index_free(e->names);
fail:
  free(e);
  return rc;
}

void dm_engine_start(dm_engine *e) {
  dm_flusher_start(e);
  dm_ager_start(e);
  dm_sync_start(e);
  dm_canary_start(e);
}

static void wal_done(void *arg, int status, uint64_t seg) {
  write_op *op = arg;
  dm_engine *e = op->e;
  /* the WAL completes appends in the order they were queued (wal.h) */
  assert(e->wr_head == op);
  e->wr_head = op->next;
  if (e->wr_head == NULL) e->wr_tail = NULL;
  e->wr_inflight--;
  if (status == 0) {
    const dm_batch *b = op->b;
    status = apply_batch(e, b, seg);
    if (status == 0) {
      dm_counter_add(e->m_points, b->n);
      dm_counter_add(e->m_batches, 1);
    } else {
      /* in the WAL but not in the cache: a restart replays it; refuse to ack */
      dm_log_error("cache_append_failed", "error=\"%s\"", dm_strerror(status));
    }
  }
  op->cb(op->arg, status);
  free(op);
}

/* ---- the write path behind a durable cache (no WAL) ---- */

typedef struct cache_write {
  dm_engine *e;
  const dm_batch *b;
  dm_done_cb cb;
  void *arg;
} cache_write;

static void cache_write_done(void *arg, int status) {
  cache_write *w = arg;
  dm_engine *e = w->e;
  e->wr_inflight--;
  if (status == 0) {
    dm_counter_add(e->m_points, w->b->n);
    dm_counter_add(e->m_batches, 1);
  } else {
    /* one line a second at most: with Redis down every write fails */
    uint64_t now_ms = uv_now(e->loop);
    e->append_fail_quiet++;
    if (now_ms - e->append_fail_logged_ms >= 1000) {
      dm_log_warn("cache_append_failed", "cache=%s error=\"%s\" failures=%llu",
                  e->cache->ops->name, dm_strerror(status),
                  (unsigned long long)e->append_fail_quiet);
      e->append_fail_logged_ms = now_ms;
      e->append_fail_quiet = 0;
    }
  }
  w->cb(w->arg, status);
  free(w);
}

/* Adds the batch's names to the index and announces the new ones to the other nodes (the
 * announcement rides on the append that follows, in the same round trip). */
static int index_and_announce(dm_engine *e, const dm_batch *b) {
  dm_name_ref fresh[64];
  size_t nf = 0;
  for (size_t i = 0; i < b->n; i++) {
    if (i > 0 && b->e[i].name_off == b->e[i - 1].name_off) continue;
    size_t len;
    const char *s = dm_batch_name(b, i, &len);
    if (dm_name_index_add(e->names, s, len) != 1) continue;
    fresh[nf++] = (dm_name_ref){s, len};
    if (nf == sizeof fresh / sizeof fresh[0]) {
      dm_cache_announce(e->cache, fresh, nf);
      nf = 0;
    }
  }
  return nf ? dm_cache_announce(e->cache, fresh, nf) : 0;
}

static int write_durable_cache(dm_engine *e, const dm_batch *b, dm_done_cb cb, void *arg) {
  cache_write *w = malloc(sizeof *w);
  if (w == NULL) return DM_ENOMEM;
  *w = (cache_write){e, b, cb, arg};
  index_and_announce(e, b);
  e->wr_inflight++;
  int rc = dm_cache_append(e->cache, b, 0, cache_write_done, w);
  if (rc < 0) {
    e->wr_inflight--;
    free(w);
  }
  return rc;
}

int dm_engine_write(dm_engine *e, const dm_batch *b, dm_done_cb cb, void *arg) {
  if (e->closing) return DM_ECLOSED;
  if (b->n == 0) return DM_EINVAL;
  dm_cache_stats cs;
  dm_cache_stats_get(e->cache, &cs);
  if (cs.bytes > (uint64_t)e->cfg.cache_max_bytes) {
    dm_counter_add(e->m_busy, 1);
    /* make room: checkpoint open windows too, at most once a second and never while
     * rounds are failing (the flusher's backoff owns the retries then) */
    uint64_t now_ms = uv_now(e->loop);
    if (e->flush_attempt == 0 && now_ms - e->busy_flush_at >= 1000) {
      e->busy_flush_at = now_ms;
      dm_flusher_run(e, 1, NULL, NULL);
    }
    return DM_EBUSY;
  }
  if (e->wal == NULL) return write_durable_cache(e, b, cb, arg);
  write_op *op = malloc(sizeof *op);
  if (op == NULL) return DM_ENOMEM;
  *op = (write_op){e, b, cb, arg, dm_wal_current_seg(e->wal), NULL};
  int rc = dm_wal_append(e->wal, b, wal_done, op);
  if (rc < 0) {
    if (rc == DM_EBUSY) dm_counter_add(e->m_busy, 1);
    free(op);
    return rc;
  }
  if (e->wr_tail) e->wr_tail->next = op;
  else e->wr_head = op;
  e->wr_tail = op;
  e->wr_inflight++;
  return 0;
}

int dm_engine_retry_after(const dm_engine *e) {
  /* room comes from the next forced round (within a second), or, while rounds fail,
   * after the flusher's current backoff ceiling */
  if (e->flush_attempt == 0) return 1;
  uint64_t ms = dm_backoff_ceil_ms(e->flush_attempt, DM_FLUSH_BACKOFF_BASE_MS,
                                   DM_FLUSH_BACKOFF_CAP_MS);
  return (int)((ms + 999) / 1000);
}

uint64_t dm_engine_durable_below(dm_engine *e) {
  if (e->wal == NULL) return 0;
  dm_cache_stats cs;
  dm_cache_stats_get(e->cache, &cs);
  uint64_t below = dm_wal_current_seg(e->wal);
  if (cs.min_wal_seg < below) below = cs.min_wal_seg;
  if (e->wr_head != NULL && e->wr_head->seg_floor < below) below = e->wr_head->seg_floor;
  return below;
}

void dm_engine_names(dm_engine *e, const char *prefix, size_t len,
                     void (*fn)(void *arg, const char *name, size_t len), void *arg) {
  dm_name_index_prefix(e->names, prefix, len, fn, arg);
}

int dm_engine_flush(dm_engine *e, dm_done_cb cb, void *arg) {
  if (e->closing) return DM_ECLOSED;
  return dm_flusher_run(e, 1, cb, arg);
}

int dm_engine_age(dm_engine *e, dm_done_cb cb, void *arg) {
  if (e->closing) return DM_ECLOSED;
  return dm_ager_run(e, cb, arg);
}

/* Appends one reason to why ("a; b"). */
static void add_reason(char *why, size_t len, size_t *used, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void add_reason(char *why, size_t len, size_t *used, const char *fmt, ...) {
  if (*used + 3 >= len) return;
  if (*used > 0) *used += (size_t)snprintf(why + *used, len - *used, "; ");
  if (*used >= len) return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(why + *used, len - *used, fmt, ap);
  va_end(ap);
  if (n > 0) *used += (size_t)n < len - *used ? (size_t)n : len - *used - 1;
}

int dm_engine_ready(dm_engine *e, char *why, size_t len) {
  size_t used = 0;
  why[0] = '\0';
  if (e->closing) {
    snprintf(why, len, "shutting down");
    return 0;
  }
  if (e->wal != NULL) {
    dm_wal_stats ws;
    dm_wal_stats_get(e->wal, &ws);
    if (ws.failed)
      add_reason(why, len, &used, "the write-ahead log failed (a write or fsync error): "
                                  "writes are refused until a restart");
  }
  /* every reason at once: "backpressure" alone would hide that the table is down */
  char r[384];
  if (!dm_cache_health(e->cache, r, sizeof r))
    add_reason(why, len, &used, "cache (%s) failing: %s", e->cache->ops->name, r);
  if (!dm_table_health(e->table, r, sizeof r))
    add_reason(why, len, &used, "table (%s) failing: %s", e->table->ops->name, r);
  if (!dm_blob_health(e->blob, r, sizeof r))
    add_reason(why, len, &used, "blob (%s) failing: %s", e->blob->ops->name, r);
  dm_cache_stats cs;
  dm_cache_stats_get(e->cache, &cs);
  if (cs.bytes > (uint64_t)e->cfg.cache_max_bytes)
    add_reason(why, len, &used, "backpressure: cache holds %llu bytes, limit %lld",
               (unsigned long long)cs.bytes, (long long)e->cfg.cache_max_bytes);
  if (e->flush_attempt > 0)
    add_reason(why, len, &used, "flusher failing: %u consecutive failed rounds (table %s)",
               e->flush_attempt, e->table->ops->name);
  if (dm_canary_stalled(e, r, sizeof r)) add_reason(why, len, &used, "%s", r);
  double lag = g_ager_lag(e);
  if (lag > (double)e->cfg.ager_grace / 2)
    add_reason(why, len, &used, "ager lag %.0f s exceeds half of ager.grace (%lld s)", lag,
               (long long)e->cfg.ager_grace);
  return used == 0;
}

void dm_engine_last_counts(const dm_engine *e, uint64_t *flushed, uint64_t *aged) {
  *flushed = e->flushed_windows;
  *aged = e->aged_count;
}

const dm_config *dm_engine_config(const dm_engine *e) { return &e->cfg; }

void dm_engine_timer_closed(uv_handle_t *h) {
  dm_engine *e = h->data;
  e->timers_open--;
}

void dm_engine_close(dm_engine *e) {
  e->closing = 1;
  dm_flusher_stop(e);
  dm_ager_stop(e);
  dm_sync_stop(e);
  dm_canary_stop(e);
  /* let running flush / age rounds, in-flight writes and reads finish, and the timers'
   * close callbacks run: the timers and every read context point into e */
  while (e->flush_running || e->age_running || e->sync_running || e->canary_running ||
         e->wr_inflight > 0 ||
         e->rd_inflight > 0 || e->timers_open > 0)
    uv_run(e->loop, UV_RUN_ONCE);
  if (e->wal != NULL) dm_wal_close(e->wal);
  dm_blob_reader_free(e->breader);
  dm_table_close(e->table);
  dm_blob_close(e->blob);
  dm_cache_close(e->cache);
  dm_name_index_free(e->names);
  free(e->blob_days);
  free(e);
}
