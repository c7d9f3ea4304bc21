/* query.c — reads of one series merged over the three tiers.
 *
 * All tier reads start at once: the cache (in memory, answers at once), the table (one
 * range query), and one blob read per day in range that has a blob object (the ager keeps
 * the set of such days). When all have answered the runs are merged with the newest tier
 * winning equal times, cache > table > blob, and clipped to [from, until].
 *
 * Ordering with the flusher: the cache is read first, synchronously; a window the flusher
 * drops from the cache afterwards was committed to the table before it was dropped, and the
 * table read starts after that commit, so a point is never missed in between.
 */
#include <stdlib.h>
#include <string.h>

#include "diamond/error.h"
#include "diamond/gorilla.h"
#include "diamond/log.h"
#include "diamond/names.h"
#include "diamond/timefmt.h"
#include "engine_int.h"

typedef struct run {
  dm_point *p;
  size_t n, cap;
} run;

typedef struct read_ctx {
  dm_engine *e;
  char *series;
  size_t len;
  int64_t from, until;
  dm_points_cb cb;
  void *arg;
  int pending;
  int status;
  run cache, table, blob;
  int latest; /* a latest() query: keep only the newest point */
} read_ctx;

static int run_add(run *r, const dm_point *p, size_t n) {
  if (n == 0) return 0;
  if (r->n + n > r->cap) {
    size_t cap = r->cap ? r->cap : 64;
    while (cap < r->n + n) cap *= 2;
    dm_point *q = realloc(r->p, cap * sizeof *q);
    if (q == NULL) return DM_ENOMEM;
    r->p = q;
    r->cap = cap;
  }
  memcpy(r->p + r->n, p, n * sizeof *p);
  r->n += n;
  return 0;
}

static void ctx_free(read_ctx *c) {
  c->e->rd_inflight--; /* dm_engine_close waits for this to reach 0 */
  free(c->cache.p);
  free(c->table.p);
  free(c->blob.p);
  free(c->series);
  free(c);
}

/* Clips a sorted run to [from, until] in place (returns the first index kept). */
static size_t clip(const run *r, int64_t from, int64_t until, size_t *n) {
  size_t lo = 0, hi = r->n;
  while (lo < r->n && r->p[lo].t < from) lo++;
  while (hi > lo && r->p[hi - 1].t > until) hi--;
  *n = hi - lo;
  return lo;
}

static void complete(read_ctx *c) {
  if (--c->pending > 0) return;
  dm_engine *e = c->e;
  if (c->status < 0) {
    c->cb(c->arg, c->status, NULL, 0);
    ctx_free(c);
    return;
  }
  /* blob runs come one per day, days in order, so the concatenation is sorted; still
   * sort to be safe against a day object holding stray times */
  c->blob.n = dm_points_sort_dedup(c->blob.p, c->blob.n);
  size_t nt, nb, nc;
  size_t ot = clip(&c->table, c->from, c->until, &nt);
  size_t ob = clip(&c->blob, c->from, c->until, &nb);
  size_t oc = clip(&c->cache, c->from, c->until, &nc);
  size_t total = nt + nb + nc;
  if (!c->latest && total > (size_t)e->cfg.max_query_points) {
    c->cb(c->arg, DM_ERANGE, NULL, 0);
    ctx_free(c);
    return;
  }
  dm_point *mid = malloc((nt + nb ? nt + nb : 1) * sizeof *mid);
  dm_point *out = malloc((total ? total : 1) * sizeof *out);
  if (mid == NULL || out == NULL) {
    free(mid);
    free(out);
    c->cb(c->arg, DM_ENOMEM, NULL, 0);
    ctx_free(c);
    return;
  }
  size_t nm = dm_points_merge(c->table.p + ot, nt, c->blob.p + ob, nb, mid);
  size_t n = dm_points_merge(c->cache.p + oc, nc, mid, nm, out);
  if (c->latest) {
    if (n == 0) c->cb(c->arg, DM_ENOENT, NULL, 0);
    else c->cb(c->arg, 0, out + n - 1, 1);
  } else {
    c->cb(c->arg, 0, out, n);
  }
  free(mid);
  free(out);
  ctx_free(c);
}

static void cache_got(void *arg, int status, const dm_point *p, size_t n) {
  read_ctx *c = arg;
  if (status == 0 && run_add(&c->cache, p, n) < 0) status = DM_ENOMEM;
  if (status < 0 && status != DM_ENOENT) c->status = status;
  complete(c);
}

static int decode_into(run *r, const uint8_t *chunk, size_t len) {
  size_t count;
  int64_t first;
  int rc = dm_chunk_info(chunk, len, &count, &first);
  if (rc < 0) return rc;
  if (r->n + count > r->cap) {
    size_t cap = r->cap ? r->cap : 64;
    while (cap < r->n + count) cap *= 2;
    dm_point *q = realloc(r->p, cap * sizeof *q);
    if (q == NULL) return DM_ENOMEM;
    r->p = q;
    r->cap = cap;
  }
  rc = dm_chunk_decode(chunk, len, r->p + r->n, count);
  if (rc < 0) return rc;
  r->n += (size_t)rc;
  return 0;
}

static void table_got(void *arg, int status, const dm_item *items, size_t n) {
  read_ctx *c = arg;
  for (size_t i = 0; status == 0 && i < n; i++) {
    status = decode_into(&c->table, items[i].chunk, items[i].chunk_len);
    if (status < 0)
      dm_log_error("table_chunk_corrupt", "series=%s start=%lld", c->series,
                   (long long)items[i].start);
  }
  if (status < 0 && status != DM_ENOENT) c->status = status;
  complete(c);
}

static void blob_got(void *arg, int status, const dm_point *p, size_t n) {
  read_ctx *c = arg;
  if (status == 0 && run_add(&c->blob, p, n) < 0) status = DM_ENOMEM;
  if (status < 0 && status != DM_ENOENT) c->status = status;
  complete(c);
}

static read_ctx *ctx_new(dm_engine *e, const char *series, size_t len, dm_points_cb cb,
                         void *arg) {
  read_ctx *c = calloc(1, sizeof *c);
  if (c == NULL) return NULL;
  c->series = malloc(len + 1);
  if (c->series == NULL) {
    free(c);
    return NULL;
  }
  memcpy(c->series, series, len);
  c->series[len] = '\0';
  c->len = len;
  c->e = e;
  c->cb = cb;
  c->arg = arg;
  c->pending = 1; /* held until every read is started */
  e->rd_inflight++;
  return c;
}

static void start_blob_reads(read_ctx *c) {
  dm_engine *e = c->e;
  int64_t d0 = dm_day_of(c->from), d1 = dm_day_of(c->until);
  uint32_t shard = (uint32_t)(dm_name_hash(c->series, c->len) % (uint64_t)e->cfg.ager_shards);
  size_t lo = 0, hi = e->nblob_days;
  while (lo < hi) { /* first blob day >= d0 */
    size_t mid = lo + (hi - lo) / 2;
    if (e->blob_days[mid] < d0) lo = mid + 1;
    else hi = mid;
  }
  for (size_t i = lo; i < e->nblob_days && e->blob_days[i] <= d1; i++) {
    char key[64];
    dm_blob_key(key, sizeof key, e->blob_days[i], shard);
    c->pending++;
    int rc = dm_blob_reader_read(e->breader, key, c->series, c->len, blob_got, c);
    if (rc < 0) {
      c->status = rc;
      c->pending--;
      break;
    }
  }
}

int dm_engine_read(dm_engine *e, const char *series, size_t len, int64_t from, int64_t until,
                   dm_points_cb cb, void *arg) {
  if (e->closing) return DM_ECLOSED;
  if (from > until) return DM_EINVAL;
  /* nothing exists outside the accepted range: clamp, then the step bounds the count */
  int64_t now = dm_now();
  if (from < now - e->cfg.blob_keep - 86400) from = now - e->cfg.blob_keep - 86400;
  if (until > now + e->cfg.max_future) until = now + e->cfg.max_future;
  if (from > until) {
    cb(arg, 0, NULL, 0);
    return 0;
  }
  if ((until - from) / e->cfg.step + 1 > e->cfg.max_query_points) return DM_ERANGE;
  read_ctx *c = ctx_new(e, series, len, cb, arg);
  if (c == NULL) return DM_ENOMEM;
  c->from = from;
  c->until = until;
  c->pending++;
  int rc = dm_cache_read(e->cache, series, len, from, until, cache_got, c);
  if (rc < 0) {
    ctx_free(c);
    return rc;
  }
  c->pending++;
  rc = dm_table_query(e->table, series, len, from, until, table_got, c);
  if (rc < 0) {
    c->status = rc;
    c->pending--;
  } else {
    start_blob_reads(c);
  }
  complete(c);
  return 0;
}

static void table_last_got(void *arg, int status, const dm_item *items, size_t n) {
  read_ctx *c = arg;
  if (status == 0 && n > 0) {
    status = decode_into(&c->table, items[n - 1].chunk, items[n - 1].chunk_len);
  }
  if (status < 0 && status != DM_ENOENT) c->status = status;
  complete(c);
}

int dm_engine_latest(dm_engine *e, const char *series, size_t len, dm_points_cb cb, void *arg) {
  if (e->closing) return DM_ECLOSED;
  read_ctx *c = ctx_new(e, series, len, cb, arg);
  if (c == NULL) return DM_ENOMEM;
  c->latest = 1;
  c->from = INT64_MIN;
  c->until = INT64_MAX;
  c->pending++;
  int rc = dm_cache_latest(e->cache, series, len, cache_got, c);
  if (rc < 0) {
    ctx_free(c);
    return rc;
  }
  c->pending++;
  rc = dm_table_last(e->table, series, len, table_last_got, c);
  if (rc < 0) {
    c->status = rc;
    c->pending--;
  }
  complete(c);
  return 0;
}
