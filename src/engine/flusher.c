/* flusher.c — moves closed windows from the cache into the table.
 *
 * A round: take up to flusher.max_windows DIRTY windows from the cache (closed ones, i.e.
 * window end + flusher.grace <= now; or every window when forced), Gorilla-encode them on
 * the thread pool, put them into the table in one call, give them back to the cache
 * (dropped, or kept if points arrived meanwhile), and repeat while a full batch came back.
 * When a round completes, every WAL segment below dm_engine_durable_below() holds only
 * points that are durable in the table, and is deleted.
 *
 * A forced round (POST /admin/flush, a WAL over wal.max_bytes, a cache over
 * cache.max_bytes) first rotates the WAL so that, once the open windows are flushed too,
 * all older segments can go. It is bounded in rounds so continuous ingest cannot keep it
 * running forever.
 *
 * A failed round leaves the windows DIRTY and retries after a capped exponential backoff
 * with full jitter (100 ms .. 30 s); meanwhile the cache grows until cache.max_bytes and
 * ingest answers 503: backpressure, never an unbounded queue, never a tight loop.
 */
#include <stdlib.h>
#include <string.h>

#include "diamond/error.h"
#include "diamond/gorilla.h"
#include "diamond/log.h"
#include "diamond/timefmt.h"
#include "engine_int.h"

typedef struct flush_batch {
  dm_engine *e;
  uv_work_t work;
  dm_window_snap *snaps;
  size_t n;
  dm_item *items;
  uint8_t *buf;
  int status;
} flush_batch;

static void next_batch(dm_engine *e);
static void finish_round(dm_engine *e, int status);
static uint64_t round_t0;

static void tick(uv_timer_t *t) {
  dm_engine *e = t->data;
  dm_flusher_run(e, 0, NULL, NULL);
}

void dm_flusher_start(dm_engine *e) {
  uv_timer_init(e->loop, &e->flush_timer);
  e->flush_timer.data = e;
  e->timers_open++;
  uint64_t ms = (uint64_t)e->cfg.flush_interval_ms;
  uv_timer_start(&e->flush_timer, tick, ms, ms);
}

void dm_flusher_stop(dm_engine *e) {
  if (uv_is_active((uv_handle_t *)&e->flush_timer) || e->flush_timer.data == e) {
    uv_timer_stop(&e->flush_timer);
    if (!uv_is_closing((uv_handle_t *)&e->flush_timer))
      uv_close((uv_handle_t *)&e->flush_timer, dm_engine_timer_closed);
  }
}

static void start_round(dm_engine *e, int force) {
  e->flush_running = 1;
  dm_wal_stats ws = {0};
  if (e->wal != NULL) dm_wal_stats_get(e->wal, &ws);
  if (!force && ws.bytes > (uint64_t)e->cfg.wal_max_bytes) {
    dm_log_info("wal_checkpoint", "wal_bytes=%llu limit=%lld", (unsigned long long)ws.bytes,
                (long long)e->cfg.wal_max_bytes);
    force = 1;
  }
  e->flush_force = force;
  e->flushed_windows = 0;
  if (force) {
    dm_cache_stats cs;
    dm_cache_stats_get(e->cache, &cs);
    if (e->wal != NULL) dm_wal_rotate(e->wal);
    e->flush_rounds_left = (int)(cs.windows / (uint64_t)e->cfg.flush_max_windows) + 2;
  }
  round_t0 = dm_mono_ns();
  next_batch(e);
}

int dm_flusher_run(dm_engine *e, int force, dm_done_cb cb, void *arg) {
  if (e->flush_running) {
    /* a forced caller waits for a forced round after this one; a forced run without a
     * caller (backpressure) is dropped: the next tick checks again */
    return (force && cb != NULL) ? dm_waiter_push(&e->flush_next, cb, arg) : 0;
  }
  if (cb != NULL) {
    int rc = dm_waiter_push(&e->flush_waiters, cb, arg);
    if (rc < 0) return rc;
  }
  start_round(e, force);
  return 0;
}

static void encode_work(uv_work_t *w) {
  flush_batch *fb = w->data;
  size_t total = 0;
  for (size_t i = 0; i < fb->n; i++) total += dm_chunk_bound(fb->snaps[i].n);
  fb->buf = malloc(total ? total : 1);
  fb->items = malloc(fb->n * sizeof *fb->items);
  if (fb->buf == NULL || fb->items == NULL) {
    fb->status = DM_ENOMEM;
    return;
  }
  size_t off = 0;
  for (size_t i = 0; i < fb->n; i++) {
    dm_window_snap *s = &fb->snaps[i];
    int len = dm_chunk_encode(s->pts, s->n, fb->buf + off, total - off);
    if (len < 0) {
      fb->status = len;
      return;
    }
    fb->items[i] = (dm_item){s->series, s->series_len, s->start, fb->buf + off,
                             (uint32_t)len, (uint32_t)s->n, s->known_new};
    off += (size_t)len;
  }
}

static void release_done(void *arg, int status) { (void)arg, (void)status; }

static void free_batch(flush_batch *fb) {
  free(fb->items);
  free(fb->buf);
  free(fb);
}

static void put_done(void *arg, int status) {
  flush_batch *fb = arg;
  dm_engine *e = fb->e;
  size_t n = fb->n;
  dm_cache_release(e->cache, fb->snaps, n, status, release_done, NULL);
  free_batch(fb);
  if (status < 0) {
    finish_round(e, status);
    return;
  }
  e->flushed_windows += n;
  dm_counter_add(e->m_flush_windows, n);
  if (e->closing) {
    finish_round(e, 0);
  } else if (e->flush_force ? e->flush_rounds_left-- > 0
                            : n == (size_t)e->cfg.flush_max_windows) {
    next_batch(e);
  } else {
    finish_round(e, 0);
  }
}

static void encode_done(uv_work_t *w, int uvstatus) {
  flush_batch *fb = w->data;
  dm_engine *e = fb->e;
  int rc = uvstatus < 0 ? DM_EIO : fb->status;
  if (rc == 0) rc = dm_table_put(e->table, fb->items, fb->n, put_done, fb);
  if (rc < 0) {
    dm_log_error("flush_encode_failed", "error=\"%s\"", dm_strerror(rc));
    dm_cache_release(e->cache, fb->snaps, fb->n, rc, release_done, NULL);
    free_batch(fb);
    finish_round(e, rc);
  }
}

static void got_snaps(void *arg, int status, dm_window_snap *w, size_t n) {
  dm_engine *e = arg;
  if (status < 0 || n == 0) {
    finish_round(e, status);
    return;
  }
  flush_batch *fb = calloc(1, sizeof *fb);
  if (fb == NULL) {
    dm_cache_release(e->cache, w, n, DM_ENOMEM, release_done, NULL);
    finish_round(e, DM_ENOMEM);
    return;
  }
  fb->e = e;
  fb->snaps = w;
  fb->n = n;
  fb->work.data = fb;
  int rc = uv_queue_work(e->loop, &fb->work, encode_work, encode_done);
  if (rc < 0) {
    dm_cache_release(e->cache, w, n, DM_EIO, release_done, NULL);
    free(fb);
    finish_round(e, DM_EIO);
  }
}

static void next_batch(dm_engine *e) {
  int64_t close_before = e->flush_force ? INT64_MAX : dm_now() - e->cfg.flush_grace;
  int rc = dm_cache_take_ready(e->cache, close_before, (size_t)e->cfg.flush_max_windows,
                               got_snaps, e);
  if (rc < 0) finish_round(e, rc);
}

static void finish_round(dm_engine *e, int status) {
  double secs = (double)(dm_mono_ns() - round_t0) / 1e9;
  if (status == 0) {
    if (e->wal != NULL) dm_wal_retire(e->wal, dm_engine_durable_below(e));
    e->flush_attempt = 0;
    if (e->flushed_windows > 0) {
      dm_histogram_observe(e->m_flush_seconds, secs);
      dm_log_debug("flush_done", "windows=%llu forced=%d ms=%.1f",
                   (unsigned long long)e->flushed_windows, e->flush_force, secs * 1e3);
    }
  } else {
    e->flush_attempt++;
    dm_counter_add(e->m_flush_errors, 1);
    uint64_t delay = dm_backoff_ms(e->flush_attempt, DM_FLUSH_BACKOFF_BASE_MS,
                                   DM_FLUSH_BACKOFF_CAP_MS);
    dm_log_warn("flush_failed", "error=\"%s\" attempt=%u retry_ms=%llu", dm_strerror(status),
                e->flush_attempt, (unsigned long long)delay);
    if (!e->closing && uv_is_active((uv_handle_t *)&e->flush_timer))
      uv_timer_start(&e->flush_timer, tick, delay, (uint64_t)e->cfg.flush_interval_ms);
  }
  e->flush_running = 0;
  dm_waiters_fire(&e->flush_waiters, status);
  /* a waiter may have started a round itself (dm_engine_flush from its callback): then
   * flush_next waits for the forced round after that one, started by its finish */
  if (e->flush_next != NULL && !e->flush_running) {
    if (!e->closing) {
      e->flush_waiters = e->flush_next;
      e->flush_next = NULL;
      start_round(e, 1);
    } else {
      dm_waiters_fire(&e->flush_next, DM_ECLOSED);
    }
  }
}
