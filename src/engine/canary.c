/* canary.c — the pipeline's own proof of life. Every storage.step this node writes one
 * point to `diamond.canary.<node_id>` through the normal write path (WAL or Redis), then
 * reads it back through the merged read path (cache > table > blob) and checks the value.
 * The write-to-read delay is exported; when no round trip succeeded for CANARY_STALL_STEPS
 * steps (at least a minute), /readyz degrades: seeing one's own data come back is the only
 * proof the whole pipeline works.
 *
 * The value written is the write's wall-clock time in milliseconds, unique per round, so a
 * stale point from an earlier round never counts as a success.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diamond/error.h"
#include "diamond/log.h"
#include "diamond/timefmt.h"
#include "engine_int.h"

#define CANARY_STALL_STEPS 3
#define CANARY_MIN_STALL_S 60

static double g_delay(void *arg) { return ((dm_engine *)arg)->canary_delay; }
static double g_age(void *arg) {
  dm_engine *e = arg;
  return (double)(dm_now_ms() - e->canary_ok_ms) / 1000.0;
}

static void canary_finish(dm_engine *e, int ok, const char *why) {
  e->canary_running = 0;
  if (ok) {
    e->canary_ok_ms = dm_now_ms();
    e->canary_delay = (double)(dm_mono_ns() - e->canary_t0) / 1e9;
    return;
  }
  dm_counter_add(e->m_canary_failures, 1);
  dm_log_warn("canary_failed", "series=%s reason=\"%s\"", e->canary_name, why);
}

static void read_back(void *arg, int status, const dm_point *p, size_t n) {
  dm_engine *e = arg;
  if (status < 0) {
    canary_finish(e, 0, dm_strerror(status));
    return;
  }
  for (size_t i = 0; i < n; i++)
    if (p[i].t == e->canary_t && p[i].v == e->canary_v) {
      canary_finish(e, 1, NULL);
      return;
    }
  canary_finish(e, 0, "the point written was not read back");
}

static void written(void *arg, int status) {
  dm_engine *e = arg;
  dm_batch_free(&e->canary_batch);
  if (status < 0 || e->closing) {
    canary_finish(e, 0, status < 0 ? dm_strerror(status) : "closing");
    return;
  }
  size_t len = strlen(e->canary_name);
  int rc = dm_engine_read(e, e->canary_name, len, e->canary_t, e->canary_t, read_back, e);
  if (rc < 0) canary_finish(e, 0, dm_strerror(rc));
}

static void tick(uv_timer_t *t) {
  dm_engine *e = t->data;
  if (e->canary_running || e->closing) return;
  e->canary_running = 1;
  e->canary_t0 = dm_mono_ns();
  int64_t now_ms = dm_now_ms();
  e->canary_t = now_ms / 1000 / e->cfg.step * e->cfg.step;
  e->canary_v = (double)now_ms;
  dm_batch_init(&e->canary_batch);
  int rc = dm_batch_add(&e->canary_batch, e->canary_name, strlen(e->canary_name),
                        e->canary_t, e->canary_v);
  if (rc == 0) rc = dm_engine_write(e, &e->canary_batch, written, e);
  if (rc < 0) {
    dm_batch_free(&e->canary_batch);
    canary_finish(e, 0, dm_strerror(rc));
  }
}

void dm_canary_start(dm_engine *e) {
  snprintf(e->canary_name, sizeof e->canary_name, "diamond.canary.%s", e->node_id);
  e->canary_ok_ms = dm_now_ms();
  e->m_canary_failures = dm_metric_counter("diamond_canary_failures_total", "",
                                           "Canary rounds whose point did not come back.");
  dm_metric_gauge("diamond_canary_delay_seconds", "",
                  "Write-to-read-back delay of the last successful canary round.", g_delay, e);
  dm_metric_gauge("diamond_canary_age_seconds", "",
                  "Time since the last successful canary round.", g_age, e);
  if (!e->cfg.canary_enabled) return;
  uv_timer_init(e->loop, &e->canary_timer);
  e->canary_timer.data = e;
  e->timers_open++;
  uint64_t ms = (uint64_t)e->cfg.step * 1000;
  uv_timer_start(&e->canary_timer, tick, 1000, ms);
}

void dm_canary_stop(dm_engine *e) {
  if (e->canary_timer.data == e && !uv_is_closing((uv_handle_t *)&e->canary_timer)) {
    uv_timer_stop(&e->canary_timer);
    uv_close((uv_handle_t *)&e->canary_timer, dm_engine_timer_closed);
  }
}

int dm_canary_stalled(const dm_engine *e, char *why, size_t len) {
  if (!e->cfg.canary_enabled) return 0;
  int64_t limit = CANARY_STALL_STEPS * e->cfg.step;
  if (limit < CANARY_MIN_STALL_S) limit = CANARY_MIN_STALL_S;
  int64_t age = (dm_now_ms() - e->canary_ok_ms) / 1000;
  if (age <= limit) return 0;
  snprintf(why, len, "canary %s: no point written came back for %lld s (limit %lld s)",
           e->canary_name, (long long)age, (long long)limit);
  return 1;
}
