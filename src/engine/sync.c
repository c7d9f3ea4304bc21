/* sync.c — keeps in view what other nodes change: every SYNC_MS the set of days that have
 * blob objects is re-listed (another node's ager may have packed a day), and, while the
 * table's name list has never loaded (a remote table down at start), it is retried.
 *
 * Reads of a day that another node packed are correct even before this node learns of
 * the object: remote tables keep items until their TTL (table.keep + ager.grace), far
 * longer than SYNC_MS; the embedded table deletes a day only after its own ager packed it.
 */
#include <stdlib.h>
#include <string.h>

#include "diamond/error.h"
#include "diamond/log.h"
#include "diamond/timefmt.h"
#include "engine_int.h"

#define SYNC_MS 60000

typedef struct sync_op {
  dm_engine *e;
  int steps; /* outstanding calls */
} sync_op;

static void step_done(sync_op *op) {
  if (--op->steps > 0) return;
  op->e->sync_running = 0;
  free(op);
}

static void days_listed(void *arg, int status, const dm_name_ref *keys, size_t n) {
  sync_op *op = arg;
  dm_engine *e = op->e;
  if (status < 0) {
    dm_log_warn("blob_days_sync_failed", "error=\"%s\"", dm_strerror(status));
  } else {
    /* add only: a listing that started before this node's ager packed a day must not drop
     * it; days deleted elsewhere are past blob.keep, outside every read's range */
    for (size_t i = 0; i < n; i++) {
      int64_t day;
      if (keys[i].len >= 13 && memcmp(keys[i].s, "v1/", 3) == 0) {
        char d[11];
        memcpy(d, keys[i].s + 3, 10);
        d[10] = '\0';
        if (dm_day_parse(d, &day) == 0) dm_engine_add_blob_day(e, day);
      }
    }
  }
  step_done(op);
}

static void names_got(void *arg, int status, const dm_name_ref *names, size_t n) {
  sync_op *op = arg;
  dm_engine *e = op->e;
  if (status < 0) {
    dm_log_warn("names_sync_failed", "error=\"%s\"", dm_strerror(status));
  } else {
    for (size_t i = 0; i < n; i++) dm_name_index_add(e->names, names[i].s, names[i].len);
    e->names_loaded = 1;
    dm_log_info("names_loaded", "names=%zu", n);
  }
  step_done(op);
}

static void run(dm_engine *e) {
  if (e->sync_running || e->closing) return;
  sync_op *op = calloc(1, sizeof *op);
  if (op == NULL) return;
  op->e = e;
  op->steps = 1; /* held while the calls start */
  e->sync_running = 1;
  op->steps++;
  if (dm_blob_list(e->blob, "v1/", days_listed, op) < 0) op->steps--;
  if (!e->names_loaded) {
    op->steps++;
    if (dm_table_names(e->table, names_got, op) < 0) op->steps--;
  }
  step_done(op);
}

void dm_sync_blob_days(dm_engine *e) { run(e); }

static void tick(uv_timer_t *t) { run(t->data); }

void dm_sync_start(dm_engine *e) {
  uv_timer_init(e->loop, &e->sync_timer);
  e->sync_timer.data = e;
  e->timers_open++;
  uv_timer_start(&e->sync_timer, tick, SYNC_MS, SYNC_MS);
}

void dm_sync_stop(dm_engine *e) {
  if (e->sync_timer.data == e && !uv_is_closing((uv_handle_t *)&e->sync_timer)) {
    uv_timer_stop(&e->sync_timer);
    uv_close((uv_handle_t *)&e->sync_timer, dm_engine_timer_closed);
  }
}
