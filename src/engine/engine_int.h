/* engine_int.h — the engine's private state, shared by its files (engine.c, flusher.c,
 * ager.c, query.c, blob_reader.c, name_index.c). Nothing outside src/engine includes it.
 */
#ifndef DIAMOND_ENGINE_INT_H
#define DIAMOND_ENGINE_INT_H

#include <stdint.h>
#include <uv.h>

#include "diamond/backoff.h"
#include "diamond/blob.h"
#include "diamond/cache.h"
#include "diamond/config.h"
#include "diamond/engine.h"
#include "diamond/metrics.h"
#include "diamond/table.h"
#include "diamond/wal.h"

/* ---- name index (name_index.c): every series name known, sorted on demand ---- */
typedef struct dm_name_index dm_name_index;
int dm_name_index_new(dm_name_index **out);
/* Returns 1 if the name was new, 0 if known, < 0 on error. */
int dm_name_index_add(dm_name_index *ix, const char *s, size_t len);
void dm_name_index_prefix(dm_name_index *ix, const char *prefix, size_t len,
                          void (*fn)(void *arg, const char *name, size_t len), void *arg);
size_t dm_name_index_count(const dm_name_index *ix);
void dm_name_index_free(dm_name_index *ix);

/* ---- blob reader (blob_reader.c): one series-day out of a blob object, with an LRU of
 * parsed indexes ---- */
typedef struct dm_blob_reader dm_blob_reader;
int dm_blob_reader_new(dm_blob_reader **out, dm_blob *b, size_t max_indexes);
/* Points of the series in the object `key`, all of them (the caller clips). Status
 * DM_ENOENT when the object or the series is absent (n = 0). */
int dm_blob_reader_read(dm_blob_reader *r, const char *key, const char *series, size_t len,
                        dm_points_cb cb, void *arg);
/* Forgets a cached index (the ager replaced the object). */
void dm_blob_reader_invalidate(dm_blob_reader *r, const char *key);
void dm_blob_reader_free(dm_blob_reader *r);

/* Blob key of (day, shard): "v1/YYYY-MM-DD/SS.dmb". */
void dm_blob_key(char *out, size_t len, int64_t day, uint32_t shard);

/* ---- a FIFO of writes in flight: their WAL segment lower bound ---- */
typedef struct write_op write_op;

typedef struct waiter {
  dm_done_cb cb;
  void *arg;
  struct waiter *next;
} waiter;

struct dm_engine {
  uv_loop_t *loop;
  dm_config cfg;
  char node_id[128];
  dm_wal *wal;           /* NULL behind a durable cache (redis): it makes writes durable */
  dm_cache *cache;
  dm_table *table;
  dm_blob *blob;
  dm_name_index *names;
  dm_blob_reader *breader;
  int closing;
  int timers_open;      /* engine timers not yet through their uv_close callback */
  uint64_t rd_inflight; /* dm_engine_read / dm_engine_latest not yet called back */

  /* writes in flight, oldest first (WAL completes in order) */
  write_op *wr_head, *wr_tail;
  uint64_t wr_inflight;
  uint64_t append_fail_logged_ms, append_fail_quiet; /* durable cache: log rate limit */

  /* flusher */
  uv_timer_t flush_timer;
  int flush_running;
  int flush_force;          /* this round takes open windows too */
  int flush_rounds_left;    /* bound for a forced flush under continuous ingest */
  uint64_t flushed_windows; /* in the current round */
  uint32_t flush_attempt;   /* consecutive failures, for backoff */
  uint64_t busy_flush_at;   /* loop ms of the last forced round backpressure asked for */
  waiter *flush_waiters;    /* admin flush callers of the running forced round */
  waiter *flush_next;       /* admin flush callers that arrived during a normal round */

  /* ager */
  uv_timer_t age_timer;
  int age_running;
  waiter *age_waiters, *age_next;
  int64_t oldest_pending_day; /* day of the oldest pending (day, shard) seen, or INT64_MAX */
  uint64_t aged_count;    /* (day, shard) packed by the current run */
  int64_t *blob_days;     /* sorted days having blob objects */
  size_t nblob_days, cap_blob_days;

  /* sync: keeps what other nodes change in view (blob days, names until first loaded) */
  uv_timer_t sync_timer;
  int names_loaded;       /* the table's name list is in the index */
  int sync_running;

  /* canary (canary.c) */
  uv_timer_t canary_timer;
  char canary_name[160];
  int canary_running;
  dm_batch canary_batch;
  int64_t canary_t;
  double canary_v;
  uint64_t canary_t0;   /* mono ns of the running round's write */
  int64_t canary_ok_ms; /* wall ms of the last success (start counts as one) */
  double canary_delay;  /* seconds, last success */
  dm_counter *m_canary_failures;

  /* metrics */
  dm_counter *m_points, *m_batches, *m_busy;
  dm_counter *m_flush_windows, *m_flush_errors, *m_aged, *m_ager_errors;
  dm_histogram *m_fsync, *m_flush_seconds, *m_age_seconds;
};

/* flusher.c */
void dm_flusher_start(dm_engine *e);
void dm_flusher_stop(dm_engine *e);
int dm_flusher_run(dm_engine *e, int force, dm_done_cb cb, void *arg);
/* WAL segments below this hold only points durable in the table. */
uint64_t dm_engine_durable_below(dm_engine *e);

/* ager.c */
void dm_ager_start(dm_engine *e);
void dm_ager_stop(dm_engine *e);
int dm_ager_run(dm_engine *e, dm_done_cb cb, void *arg);
int dm_ager_load_days(dm_engine *e); /* blob days at start-up (runs the loop) */
int dm_engine_has_blob_day(const dm_engine *e, int64_t day);
void dm_engine_add_blob_day(dm_engine *e, int64_t day);

/* tiers.c: open the implementation the config names. */
int dm_tiers_open_cache(dm_cache **out, uv_loop_t *loop, const dm_config *cfg,
                        const char *node_id, char *err, size_t errlen);
int dm_tiers_open_table(dm_table **out, uv_loop_t *loop, const dm_config *cfg, char *err,
                        size_t errlen);
int dm_tiers_open_blob(dm_blob **out, uv_loop_t *loop, const dm_config *cfg, char *err,
                       size_t errlen);

/* sync.c: periodic refresh of the blob days (and of the names, until loaded once). */
void dm_sync_start(dm_engine *e);
void dm_sync_stop(dm_engine *e);
/* Reloads the blob days now (the ager calls it before a run). */
void dm_sync_blob_days(dm_engine *e);

/* canary.c */
void dm_canary_start(dm_engine *e);
void dm_canary_stop(dm_engine *e);
/* 1 with a reason when no canary round succeeded for too long. */
int dm_canary_stalled(const dm_engine *e, char *why, size_t len);

/* uv_close callback of the engine's own timers (they live inside dm_engine). */
void dm_engine_timer_closed(uv_handle_t *h);

/* Waiter lists. */
int dm_waiter_push(waiter **list, dm_done_cb cb, void *arg);
void dm_waiters_fire(waiter **list, int status);

#define DM_FLUSH_BACKOFF_BASE_MS 100
#define DM_FLUSH_BACKOFF_CAP_MS 30000

/* Runs the loop until *done is set (start-up only, before serving). */
void dm_engine_wait(dm_engine *e, const int *done);

#endif
