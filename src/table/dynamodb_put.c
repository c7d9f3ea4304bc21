/* dynamodb_put.c — put: the items of one call made durable in DynamoDB.
 *
 *   call (loop)    per item: name hash, day, shard; is its manifest entry / name item
 *                  already written by this process (dynamodb_index.c)?
 *   prepare (pool) group items of one (series, start), later ones winning; check every
 *                  chunk; encode the blind items (known_new data, manifest, names) as JSON
 *   write (loop)   blind items: BatchWriteItem, 25 a request, PUT_BATCHES requests at a
 *                  time, UnprocessedItems retried with backoff; other groups: the merge
 *                  path, PUT_MERGES at a time: GetItem (consistent) -> merge on the pool
 *                  (new points win) -> PutItem conditional on the version read -> on
 *                  ConditionalCheckFailed read again (PUT_MERGE_TRIES in all)
 *   pending (loop) once every item is written: UpdateItem ADD tx :1 on the pending item of
 *                  each (day, shard) touched, so an ager that read tx before these items
 *                  existed sees tx change (dynamodb.c explains the protocol)
 *   done           0 only when all are durable; the sets learn what was written.
 * A permanent error that belongs to one data item (ValidationException, e.g. too big)
 * quarantines that item: logged with series and window, counted, dropped, and the put
 * goes on. A BatchWriteItem refused with ValidationException is retried item by item to
 * find the one to blame. Any other failure fails the put after the requests in flight end;
 * what was written stays (the engine retries the batch: merges are last-write-wins).
 */
#include <stdlib.h>
#include <string.h>

#include "diamond/backoff.h"
#include "diamond/error.h"
#include "diamond/gorilla.h"
#include "diamond/log.h"
#include "diamond/names.h"
#include "diamond/timefmt.h"
#include "dynamodb_int.h"

#define PUT_BATCHES 8
#define PUT_MERGES 32
#define PUT_MERGE_TRIES 8
#define PUT_UNPROCESSED_TRIES 10

enum { NEED_MANIFEST = 1, NEED_NAME = 2 };

typedef struct put_job put_job;

typedef struct meta {
  int64_t hash, day;
  uint32_t shard;
  uint8_t need;
} meta;

typedef struct group {
  put_job *pj;
  const char *series;
  uint32_t len;
  int64_t start, day, hash;
  uint32_t shard;
  const uint8_t *chunk; /* the caller's, or own */
  uint32_t chunk_len, count;
  uint8_t known_new, need;
  uint8_t *own;
  /* merge path */
  uint32_t tries;
  int64_t ver;     /* the stored item's version, 0: none, -1: there but without ver */
  uint8_t *stored; /* its chunk, NULL when none or expired */
  size_t stored_len;
  uint32_t merged_len; /* the chunk last sent */
  int work_status;
  dm_buf body;
  uv_work_t work;
} group;

typedef struct blind {
  int32_t group; /* data item of this group, or -1 for an index item */
  char pk[48];   /* index items */
  int64_t sk;
  size_t off, len; /* the item's JSON in pj->json */
} blind;

typedef struct wbatch {
  put_job *pj;
  size_t idx[DDB_BATCH_ITEMS];
  size_t n;
  uint32_t tries;
} wbatch;

struct put_job {
  ddb *t;
  const dm_item *in;
  size_t n;
  dm_done_cb cb;
  void *arg;
  int64_t now;
  int status;
  meta *meta;
  group *g;
  size_t ng;
  blind *bl;
  size_t nbl;
  dm_buf json;
  dm_dayshard *touched;
  size_t ntouched;
  uv_work_t work;
  /* progress */
  size_t next_blind, next_merge, next_pending;
  size_t active; /* requests, timers and pool jobs of this put not finished */
  size_t batches, merges;
  int pending_phase;
  int pumping; /* pump is running: a unit ending inside it only counts down */
  uint64_t written, merged, bytes;
};

static void pump(put_job *pj);

static void fail(put_job *pj, int status) {
  if (pj->status == 0) pj->status = status;
}

static int64_t item_ttl(const put_job *pj, int64_t window_end) {
  return ddb_ttl(window_end, pj->now, pj->t->keep, pj->t->grace);
}

static int64_t day_ttl(const put_job *pj, int64_t day) {
  return item_ttl(pj, (ddb_clamp_day(day) + 1) * DM_DAY_SECONDS);
}

/* ---- prepare (pool) ------------------------------------------------------------------ */

typedef struct order {
  const char *s;
  uint32_t len;
  int64_t start;
  size_t i;
} order;

static int order_cmp(const void *a, const void *b) {
  const order *x = a, *y = b;
  size_t n = x->len < y->len ? x->len : y->len;
  int c = memcmp(x->s, y->s, n);
  if (c == 0) c = (x->len > y->len) - (x->len < y->len);
  if (c == 0) c = (x->start > y->start) - (x->start < y->start);
  if (c == 0) c = (x->i > y->i) - (x->i < y->i);
  return c;
}

static int decode(const uint8_t *c, size_t len, dm_point **out) {
  size_t n;
  if (dm_chunk_info(c, len, &n, NULL) < 0) return DM_ECORRUPT;
  *out = malloc((n ? n : 1) * sizeof **out);
  if (*out == NULL) return DM_ENOMEM;
  int rc = dm_chunk_decode(c, len, *out, n);
  if (rc < 0) {
    free(*out);
    *out = NULL;
  }
  return rc;
}

/* Points of hi over those of lo (lo may be NULL), encoded into *out (malloc). */
static int merge_chunks(const uint8_t *hi, size_t hl, const uint8_t *lo, size_t ll,
                        uint8_t **out, uint32_t *out_len, uint32_t *count) {
  dm_point *a = NULL, *b = NULL, *m = NULL;
  int na = decode(hi, hl, &a), nb = 0, rc = na;
  if (na < 0) goto done;
  if (lo != NULL && (nb = decode(lo, ll, &b)) < 0) {
    dm_log_warn("table_put", "msg=\"stored chunk unreadable, replaced\"");
    nb = 0;
  }
  rc = DM_ENOMEM;
  m = malloc(((size_t)na + (size_t)nb + 1) * sizeof *m);
  if (m == NULL) goto done;
  size_t k = dm_points_merge(a, (size_t)na, b, (size_t)nb, m);
  size_t cap = dm_chunk_bound(k);
  *out = malloc(cap);
  if (*out == NULL) goto done;
  rc = dm_chunk_encode(m, k, *out, cap);
  if (rc < 0) {
    free(*out);
    *out = NULL;
    goto done;
  }
  *out_len = (uint32_t)rc;
  *count = (uint32_t)k;
  rc = 0;
done:
  free(a);
  free(b);
  free(m);
  return rc;
}

static int add_blind(put_job *pj, int32_t g, const char *pk, size_t pk_len, int64_t sk,
                     size_t off) {
  blind *b = &pj->bl[pj->nbl++];
  b->group = g;
  size_t n = g < 0 && pk_len < sizeof b->pk ? pk_len : 0;
  if (n > 0) memcpy(b->pk, pk, n);
  b->pk[n] = '\0';
  b->sk = sk;
  b->off = off;
  b->len = pj->json.len - off;
  return pj->json.oom ? DM_ENOMEM : 0;
}

/* One group out of the sorted items o[lo..hi). */
static int make_group(put_job *pj, const order *o, size_t lo, size_t hi, group *g) {
  const dm_item *first = &pj->in[o[lo].i];
  const meta *mt = &pj->meta[o[lo].i];
  *g = (group){.pj = pj, .series = first->series, .len = first->series_len,
               .start = first->start, .day = mt->day, .hash = mt->hash, .shard = mt->shard,
               .chunk = first->chunk, .chunk_len = first->chunk_len, .known_new = 1};
  size_t count;
  for (size_t k = lo; k < hi; k++) {
    const dm_item *it = &pj->in[o[k].i];
    g->known_new &= it->known_new ? 1 : 0;
    g->need |= pj->meta[o[k].i].need;
    if (dm_chunk_info(it->chunk, it->chunk_len, &count, NULL) < 0) {
      dm_log_error("table_put", "err=\"corrupt chunk\" item=%zu start=%lld", o[k].i,
                   (long long)it->start);
      return DM_ECORRUPT;
    }
    if (k == lo) {
      g->count = (uint32_t)count;
      continue;
    }
    uint8_t *merged;
    int rc = merge_chunks(it->chunk, it->chunk_len, g->chunk, g->chunk_len, &merged,
                          &g->chunk_len, &g->count);
    if (rc < 0) return rc;
    free(g->own);
    g->own = merged;
    g->chunk = merged;
  }
  return 0;
}

static int prepare(put_job *pj) {
  ddb *t = pj->t;
  order *o = malloc((pj->n ? pj->n : 1) * sizeof *o);
  pj->g = calloc(pj->n ? pj->n : 1, sizeof *pj->g);
  pj->bl = calloc(pj->n * 3 + 1, sizeof *pj->bl); /* data, manifest, name per item at most */
  pj->touched = calloc(pj->n ? pj->n : 1, sizeof *pj->touched);
  int rc = DM_ENOMEM;
  if (o == NULL || pj->g == NULL || pj->bl == NULL || pj->touched == NULL) goto done;
  for (size_t i = 0; i < pj->n; i++)
    o[i] = (order){pj->in[i].series, pj->in[i].series_len, pj->in[i].start, i};
  qsort(o, pj->n, sizeof *o, order_cmp);
  for (size_t lo = 0, hi; lo < pj->n; lo = hi) {
    for (hi = lo + 1; hi < pj->n && order_cmp(&(order){o[hi].s, o[hi].len, o[hi].start, 0},
                                              &(order){o[lo].s, o[lo].len, o[lo].start, 0}) == 0;
         hi++) {
    }
    group *g = &pj->g[pj->ng];
    if ((rc = make_group(pj, o, lo, hi, g)) < 0) {
      pj->ng++; /* its own chunk is freed with the others */
      goto done;
    }
    int32_t gi = (int32_t)pj->ng++;
    int same_series = gi > 0 && g[-1].len == g->len && memcmp(g[-1].series, g->series, g->len) == 0;
    if (ddb_data_item_size(g->len, g->chunk_len) > DDB_ITEM_MAX) {
      ddb_quarantine(t, g->series, g->len, g->start, "item over 400 KB");
      g->known_new = 2; /* written by nobody */
    } else if (g->known_new) {
      size_t off = pj->json.len;
      ddb_item_data(&pj->json, g->series, g->len, g->start, g->chunk, g->chunk_len, g->count,
                    1, item_ttl(pj, g->start + t->base.window));
      if ((rc = add_blind(pj, gi, NULL, 0, g->start, off)) < 0) goto done;
    }
    int new_day = !same_series || g[-1].day != g->day;
    if ((g->need & NEED_MANIFEST) && new_day) {
      char pk[48];
      size_t off = pj->json.len, n = ddb_manifest_pk(pk, g->day, g->shard);
      ddb_item_name(&pj->json, pk, n, g->hash, g->series, g->len, day_ttl(pj, g->day));
      if ((rc = add_blind(pj, -1, pk, n, g->hash, off)) < 0) goto done;
    }
    if ((g->need & NEED_NAME) && !same_series) {
      char pk[48];
      size_t off = pj->json.len, n = ddb_names_pk(pk, g->shard);
      ddb_item_name(&pj->json, pk, n, g->hash, g->series, g->len,
                    pj->now + t->blob_keep + t->grace);
      if ((rc = add_blind(pj, -1, pk, n, g->hash, off)) < 0) goto done;
    }
    size_t k = 0; /* each (day, shard) once: a put touches few */
    while (k < pj->ntouched && (pj->touched[k].day != g->day || pj->touched[k].shard != g->shard))
      k++;
    if (k == pj->ntouched) pj->touched[pj->ntouched++] = (dm_dayshard){g->day, g->shard};
  }
  rc = 0;
done:
  free(o);
  return rc;
}

static void prepare_work(uv_work_t *w) {
  put_job *pj = w->data;
  pj->status = prepare(pj);
}

/* ---- finish ---------------------------------------------------------------------------- */

static void job_free(put_job *pj) {
  for (size_t i = 0; i < pj->ng; i++) {
    free(pj->g[i].own);
    free(pj->g[i].stored);
    dm_buf_free(&pj->g[i].body);
  }
  free(pj->g);
  free(pj->bl);
  free(pj->meta);
  free(pj->touched);
  dm_buf_free(&pj->json);
  free(pj);
}

static void learn(put_job *pj) {
  ddb *t = pj->t;
  int64_t min_day = dm_day_of(pj->now - t->keep);
  for (size_t i = 0; i < pj->ng; i++) {
    group *g = &pj->g[i];
    if (g->need & NEED_MANIFEST) (void)ddb_mset_add(&t->manifest, g->day, g->hash, min_day);
    if (g->need & NEED_NAME)
      (void)ddb_hset_put(&t->names, g->hash, pj->now + t->blob_keep + t->grace);
  }
}

static void finish(put_job *pj) {
  ddb *t = pj->t;
  if (pj->status == 0) {
    learn(pj);
    t->st.items_written += pj->written;
    t->st.items_merged += pj->merged;
    t->st.bytes_written += pj->bytes;
  }
  dm_log_debug("table_put", "items=%zu groups=%zu blind=%zu status=%d", pj->n, pj->ng, pj->nbl,
               pj->status);
  pj->cb(pj->arg, pj->status);
  job_free(pj);
  ddb_call_done(t);
}

/* One unit of work (request, timer, pool job) of pj ended. */
static void unit_done(put_job *pj) {
  pj->active--;
  pump(pj);
}

/* ---- pending ------------------------------------------------------------------------- */

static void pending_got(void *arg, const ddb_reply *r) {
  put_job *pj = arg;
  if (r->status < 0) fail(pj, r->status);
  unit_done(pj);
}

static int send_pending(put_job *pj, dm_dayshard ds) {
  dm_buf b;
  dm_buf_init(&b);
  ddb_req_begin(&b, pj->t->table);
  ddb_req_key(&b, DDB_PENDING_PK, strlen(DDB_PENDING_PK), ddb_pending_sk(ds));
  dm_buf_adds(&b, ",\"UpdateExpression\":\"ADD tx :one SET #ttl = :ttl\","
                  "\"ExpressionAttributeNames\":{\"#ttl\":\"ttl\"},"
                  "\"ExpressionAttributeValues\":{\":one\":{\"N\":\"1\"},\":ttl\":{\"N\":\"");
  dm_buf_i64(&b, day_ttl(pj, ds.day));
  dm_buf_adds(&b, "\"}}");
  ddb_req_end(&b);
  return ddb_send(pj->t, "UpdateItem", &b, pending_got, pj);
}

/* ---- blind writes -------------------------------------------------------------------- */

static void batch_send(void *arg);

static void blind_done(put_job *pj, const blind *b) {
  if (b->group < 0) return;
  group *g = &pj->g[b->group];
  pj->written++;
  pj->bytes += g->chunk_len;
}

static const char *blind_pk(const put_job *pj, const blind *b, size_t *len) {
  if (b->group < 0) {
    *len = strlen(b->pk);
    return b->pk;
  }
  *len = pj->g[b->group].len;
  return pj->g[b->group].series;
}

static void solo_got(void *arg, const ddb_reply *r);

/* The batch was refused as a whole (ValidationException): each item alone, to find it. */
static void batch_split(wbatch *wb) {
  put_job *pj = wb->pj;
  for (size_t i = 0; i < wb->n; i++) {
    blind *b = &pj->bl[wb->idx[i]];
    dm_buf body;
    dm_buf_init(&body);
    ddb_req_begin(&body, pj->t->table);
    dm_buf_adds(&body, ",\"Item\":");
    dm_buf_add(&body, pj->json.p + b->off, b->len);
    ddb_req_end(&body);
    void **ctx = malloc(2 * sizeof *ctx);
    int rc = DM_ENOMEM;
    if (ctx != NULL) {
      ctx[0] = pj;
      ctx[1] = b;
      rc = ddb_send(pj->t, "PutItem", &body, solo_got, ctx);
    } else {
      dm_buf_free(&body);
    }
    if (rc < 0) {
      free(ctx);
      fail(pj, rc);
    } else {
      pj->active++;
    }
  }
}

static void solo_got(void *arg, const ddb_reply *r) {
  void **ctx = arg;
  put_job *pj = ctx[0];
  blind *b = ctx[1];
  free(ctx);
  if (r->status == 0) {
    blind_done(pj, b);
  } else if (strcmp(r->error_type, "ValidationException") == 0 && b->group >= 0) {
    group *g = &pj->g[b->group];
    ddb_quarantine(pj->t, g->series, g->len, g->start, r->message);
  } else {
    fail(pj, r->status);
  }
  unit_done(pj);
}

static void batch_got(void *arg, const ddb_reply *r) {
  wbatch *wb = arg;
  put_job *pj = wb->pj;
  if (r->status < 0) {
    if (strcmp(r->error_type, "ValidationException") == 0) batch_split(wb);
    else fail(pj, r->status);
    goto out;
  }
  ddb_key keys[DDB_BATCH_ITEMS];
  int nu = ddb_unprocessed(r->root, pj->t->table, keys, DDB_BATCH_ITEMS);
  if (nu < 0) nu = (int)wb->n, dm_log_warn("table_put", "msg=\"unreadable UnprocessedItems\"");
  size_t keep = 0;
  for (size_t i = 0; i < wb->n; i++) {
    blind *b = &pj->bl[wb->idx[i]];
    size_t len;
    const char *pk = blind_pk(pj, b, &len);
    int left = nu == (int)wb->n; /* all of them, or those named */
    for (int k = 0; !left && k < nu; k++)
      left = keys[k].sk == b->sk && strlen(keys[k].pk) == len && memcmp(keys[k].pk, pk, len) == 0;
    if (left) wb->idx[keep++] = wb->idx[i];
    else blind_done(pj, b);
  }
  if (keep > 0) {
    dm_counter_add(pj->t->m_unprocessed, keep);
    wb->tries = keep < wb->n ? 1 : wb->tries + 1; /* progress restarts the backoff */
    wb->n = keep;
    if (wb->tries > PUT_UNPROCESSED_TRIES) {
      dm_log_warn("table_put", "msg=\"items stay unprocessed\" items=%zu", keep);
      fail(pj, DM_EAGAIN);
    } else if (pj->status == 0) {
      uint64_t ms = dm_backoff_ms(wb->tries, (uint64_t)pj->t->retry_base_ms,
                                  (uint64_t)pj->t->retry_cap_ms);
      if (ddb_after(pj->t, ms, batch_send, wb) == 0) return; /* the unit goes on */
      fail(pj, DM_ENOMEM);
    }
  }
out:
  free(wb);
  pj->batches--;
  unit_done(pj);
}

static void batch_send(void *arg) {
  wbatch *wb = arg;
  put_job *pj = wb->pj;
  ddb *t = pj->t;
  dm_buf b;
  dm_buf_init(&b);
  dm_buf_adds(&b, "{\"RequestItems\":{");
  dm_buf_json_str(&b, t->table, strlen(t->table));
  dm_buf_adds(&b, ":[");
  for (size_t i = 0; i < wb->n; i++) {
    const blind *bl = &pj->bl[wb->idx[i]];
    dm_buf_adds(&b, i ? ",{\"PutRequest\":{\"Item\":" : "{\"PutRequest\":{\"Item\":");
    dm_buf_add(&b, pj->json.p + bl->off, bl->len);
    dm_buf_adds(&b, "}}");
  }
  dm_buf_adds(&b, "]}");
  ddb_req_end(&b);
  int rc = pj->status < 0 ? pj->status : ddb_send(t, "BatchWriteItem", &b, batch_got, wb);
  if (rc < 0) {
    dm_buf_free(&b);
    fail(pj, rc);
    free(wb);
    pj->batches--;
    unit_done(pj);
  }
}

/* ---- merges -------------------------------------------------------------------------- */

static void merge_get(group *g);

static void merge_end(group *g, int status) {
  put_job *pj = g->pj;
  if (status < 0) fail(pj, status);
  free(g->stored);
  g->stored = NULL;
  dm_buf_free(&g->body);
  pj->merges--;
  unit_done(pj);
}

static void merge_put_got(void *arg, const ddb_reply *r) {
  group *g = arg;
  put_job *pj = g->pj;
  if (r->status == 0) {
    pj->written++;
    pj->merged += g->ver != 0;
    pj->bytes += g->merged_len;
    merge_end(g, 0);
  } else if (strcmp(r->error_type, "ConditionalCheckFailedException") == 0) {
    dm_counter_add(pj->t->m_conflicts, 1);
    if (++g->tries >= PUT_MERGE_TRIES || pj->status < 0) {
      dm_log_warn("table_put", "msg=\"merge conflicts\" start=%lld tries=%u", (long long)g->start,
                  g->tries);
      merge_end(g, pj->status < 0 ? 0 : DM_ECONFLICT);
      return;
    }
    dm_buf_free(&g->body);
    free(g->stored);
    g->stored = NULL;
    merge_get(g); /* read again: another writer got there first */
  } else if (strcmp(r->error_type, "ValidationException") == 0) {
    ddb_quarantine(pj->t, g->series, g->len, g->start, r->message);
    merge_end(g, 0);
  } else {
    merge_end(g, r->status);
  }
}

static void merge_work(uv_work_t *w) {
  group *g = w->data;
  put_job *pj = g->pj;
  uint8_t *chunk;
  uint32_t len, count;
  g->work_status = merge_chunks(g->chunk, g->chunk_len, g->stored, g->stored_len, &chunk, &len,
                                &count);
  if (g->work_status < 0) return;
  if (ddb_data_item_size(g->len, len) > DDB_ITEM_MAX) {
    free(chunk);
    g->work_status = DM_ERANGE;
    return;
  }
  dm_buf *b = &g->body;
  ddb_req_begin(b, pj->t->table);
  dm_buf_adds(b, ",\"Item\":");
  ddb_item_data(b, g->series, g->len, g->start, chunk, len, count, g->ver > 0 ? g->ver + 1 : 1,
                item_ttl(pj, g->start + pj->t->base.window));
  free(chunk);
  g->merged_len = len;
  if (g->ver == 0) {
    dm_buf_adds(b, ",\"ConditionExpression\":\"attribute_not_exists(pk)\"");
  } else if (g->ver < 0) {
    dm_buf_adds(b, ",\"ConditionExpression\":\"attribute_exists(pk) AND attribute_not_exists(ver)\"");
  } else {
    dm_buf_adds(b, ",\"ConditionExpression\":\"ver = :v\",\"ExpressionAttributeValues\":"
                   "{\":v\":{\"N\":\"");
    dm_buf_i64(b, g->ver);
    dm_buf_adds(b, "\"}}");
  }
  ddb_req_end(b);
  if (b->oom) g->work_status = DM_ENOMEM;
}

static void merge_worked(uv_work_t *w, int uvstatus) {
  group *g = w->data;
  put_job *pj = g->pj;
  int rc = uvstatus < 0 ? DM_EIO : g->work_status;
  if (rc == DM_ERANGE) {
    ddb_quarantine(pj->t, g->series, g->len, g->start, "merged item over 400 KB");
    merge_end(g, 0);
    return;
  }
  if (rc == 0 && pj->status < 0) rc = pj->status; /* the put failed meanwhile: stop */
  if (rc == 0) rc = ddb_send(pj->t, "PutItem", &g->body, merge_put_got, g);
  if (rc < 0) merge_end(g, rc);
}

static void merge_get_got(void *arg, const ddb_reply *r) {
  group *g = arg;
  put_job *pj = g->pj;
  if (r->status < 0) {
    if (strcmp(r->error_type, "ValidationException") == 0) {
      ddb_quarantine(pj->t, g->series, g->len, g->start, r->message);
      merge_end(g, 0);
    } else {
      merge_end(g, r->status);
    }
    return;
  }
  yajl_val item = ddb_get(r->root, "Item");
  g->ver = 0;
  if (YAJL_IS_OBJECT(item)) {
    int64_t ttl = INT64_MAX;
    if (ddb_attr_i64(item, "ver", &g->ver) < 0 || g->ver <= 0) g->ver = -1;
    (void)ddb_attr_i64(item, "ttl", &ttl);
    const char *v = ddb_attr(item, "v", "B");
    if (v != NULL && ttl >= pj->now) { /* an expired item's points are not merged back */
      size_t n = strlen(v);
      g->stored = malloc(n / 4 * 3 + 1);
      int len = g->stored ? ddb_b64_decode(v, n, g->stored) : DM_ENOMEM;
      if (len < 0) {
        free(g->stored);
        g->stored = NULL;
        if (len == DM_ENOMEM) {
          merge_end(g, len);
          return;
        }
      } else {
        g->stored_len = (size_t)len;
      }
    }
  }
  g->work.data = g;
  if (uv_queue_work(pj->t->loop, &g->work, merge_work, merge_worked) < 0) merge_end(g, DM_EIO);
}

static void merge_get(group *g) {
  put_job *pj = g->pj;
  dm_buf b;
  dm_buf_init(&b);
  ddb_req_begin(&b, pj->t->table);
  ddb_req_key(&b, g->series, g->len, g->start);
  dm_buf_adds(&b, ",\"ConsistentRead\":true");
  ddb_req_end(&b);
  int rc = ddb_send(pj->t, "GetItem", &b, merge_get_got, g);
  if (rc < 0) merge_end(g, rc);
}

/* ---- the driver ---------------------------------------------------------------------- */

/* Starts what may start; finishes the put when nothing is left. Called after every unit. */
static void pump(put_job *pj) {
  if (pj->pumping) return;
  pj->pumping = 1;
  while (pj->status == 0 && !pj->pending_phase) {
    int started = 0;
    if (pj->next_blind < pj->nbl && pj->batches < PUT_BATCHES) {
      wbatch *wb = calloc(1, sizeof *wb);
      if (wb == NULL) {
        fail(pj, DM_ENOMEM);
        break;
      }
      wb->pj = pj;
      while (wb->n < DDB_BATCH_ITEMS && pj->next_blind < pj->nbl) wb->idx[wb->n++] = pj->next_blind++;
      pj->batches++;
      pj->active++;
      batch_send(wb);
      started = 1;
    }
    while (pj->status == 0 && pj->next_merge < pj->ng && pj->merges < PUT_MERGES) {
      group *g = &pj->g[pj->next_merge++];
      if (g->known_new) continue; /* blind (1) or quarantined (2) */
      pj->merges++;
      pj->active++;
      merge_get(g);
      started = 1;
    }
    if (!started) break;
  }
  if (pj->status == 0 && !pj->pending_phase && pj->active == 0 && pj->next_blind == pj->nbl &&
      pj->next_merge == pj->ng) {
    pj->pending_phase = 1;
  }
  while (pj->status == 0 && pj->pending_phase && pj->next_pending < pj->ntouched) {
    int rc = send_pending(pj, pj->touched[pj->next_pending++]);
    if (rc < 0) fail(pj, rc);
    else pj->active++;
  }
  pj->pumping = 0;
  if (pj->active == 0 && (pj->status < 0 || pj->pending_phase)) finish(pj);
}

static void prepared(uv_work_t *w, int uvstatus) {
  put_job *pj = w->data;
  if (uvstatus < 0) fail(pj, DM_EIO);
  pj->active--;
  pump(pj);
}

int ddb_put(dm_table *base, const dm_item *items, size_t n, dm_done_cb cb, void *arg) {
  ddb *t = (ddb *)base;
  if (t->closing) return DM_ECLOSED;
  if (cb == NULL || (items == NULL && n > 0)) return DM_EINVAL;
  for (size_t i = 0; i < n; i++) {
    const dm_item *it = &items[i];
    if (it->series == NULL || it->series_len == 0 || it->series_len > DDB_MAX_SERIES ||
        it->series[0] == '~' || it->chunk == NULL || it->chunk_len == 0)
      return DM_EINVAL;
  }
  put_job *pj = calloc(1, sizeof *pj);
  if (pj == NULL) return DM_ENOMEM;
  pj->meta = calloc(n ? n : 1, sizeof *pj->meta);
  if (pj->meta == NULL) {
    free(pj);
    return DM_ENOMEM;
  }
  pj->t = t;
  pj->in = items;
  pj->n = n;
  pj->cb = cb;
  pj->arg = arg;
  pj->now = dm_now();
  dm_buf_init(&pj->json);
  for (size_t i = 0; i < n; i++) {
    const dm_item *it = &items[i];
    meta *m = &pj->meta[i];
    uint64_t h = dm_name_hash(it->series, it->series_len);
    int64_t name_ttl;
    m->hash = (int64_t)(h & (uint64_t)INT64_MAX);
    m->shard = (uint32_t)(h % t->base.shards);
    m->day = dm_day_of(it->start);
    if (!ddb_mset_has(&t->manifest, m->day, m->hash)) m->need |= NEED_MANIFEST;
    if (!ddb_hset_get(&t->names, m->hash, &name_ttl) || name_ttl - pj->now < t->blob_keep / 2)
      m->need |= NEED_NAME;
  }
  pj->work.data = pj;
  pj->active = 1;
  if (uv_queue_work(t->loop, &pj->work, prepare_work, prepared) < 0) {
    job_free(pj);
    return DM_EIO;
  }
  t->inflight++;
  return 0;
}
