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
 * This file has the call, prepare, pending and the driver; the blind writes are in
 * dynamodb_batch.c, the merge path in dynamodb_merge.c.
 * A permanent error that belongs to one data item (ValidationException, e.g. too big)
 * quarantines that item: logged with series and window, counted, dropped, and the put
 * goes on. A BatchWriteItem refused with ValidationException is retried item by item to
 * find the one to blame. Any other failure fails the put after the requests in flight end;
 * what was written stays (the engine retries the batch: merges are last-write-wins).
 */
#include <stdlib.h>
#include <string.h>

#include "diamond/error.h"
#include "diamond/log.h"
#include "diamond/names.h"
#include "dynamodb_put_int.h"

static void pump(put_job *pj);

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
int dp_merge_chunks(const uint8_t *hi, size_t hl, const uint8_t *lo, size_t ll,
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
    int rc = dp_merge_chunks(it->chunk, it->chunk_len, g->chunk, g->chunk_len, &merged,
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
                    1, dp_item_ttl(pj, g->start + t->base.window));
      if ((rc = add_blind(pj, gi, NULL, 0, g->start, off)) < 0) goto done;
    }
    int new_day = !same_series || g[-1].day != g->day;
    if ((g->need & NEED_MANIFEST) && new_day) {
      char pk[48];
      size_t off = pj->json.len, n = ddb_manifest_pk(pk, g->day, g->shard);
      ddb_item_name(&pj->json, pk, n, g->hash, g->series, g->len, dp_day_ttl(pj, g->day));
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
void dp_unit_done(put_job *pj) {
  pj->active--;
  pump(pj);
}
/* ---- pending ------------------------------------------------------------------------- */

static void pending_got(void *arg, const ddb_reply *r) {
  put_job *pj = arg;
  if (r->status < 0) dp_fail(pj, r->status);
  dp_unit_done(pj);
}

static int send_pending(put_job *pj, dm_dayshard ds) {
  dm_buf b;
  dm_buf_init(&b);
  ddb_req_begin(&b, pj->t->table);
  ddb_req_key(&b, DDB_PENDING_PK, strlen(DDB_PENDING_PK), ddb_pending_sk(ds));
  dm_buf_adds(&b, ",\"UpdateExpression\":\"ADD tx :one SET #ttl = :ttl\","
                  "\"ExpressionAttributeNames\":{\"#ttl\":\"ttl\"},"
                  "\"ExpressionAttributeValues\":{\":one\":{\"N\":\"1\"},\":ttl\":{\"N\":\"");
  dm_buf_i64(&b, dp_day_ttl(pj, ds.day));
  dm_buf_adds(&b, "\"}}");
  ddb_req_end(&b);
  return ddb_send(pj->t, "UpdateItem", &b, pending_got, pj);
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
        dp_fail(pj, DM_ENOMEM);
        break;
      }
      wb->pj = pj;
      while (wb->n < DDB_BATCH_ITEMS && pj->next_blind < pj->nbl) wb->idx[wb->n++] = pj->next_blind++;
      pj->batches++;
      pj->active++;
      dp_batch_send(wb);
      started = 1;
    }
    while (pj->status == 0 && pj->next_merge < pj->ng && pj->merges < PUT_MERGES) {
      group *g = &pj->g[pj->next_merge++];
      if (g->known_new) continue; /* blind (1) or quarantined (2) */
      pj->merges++;
      pj->active++;
      dp_merge_get(g);
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
    if (rc < 0) dp_fail(pj, rc);
    else pj->active++;
  }
  pj->pumping = 0;
  if (pj->active == 0 && (pj->status < 0 || pj->pending_phase)) finish(pj);
}

static void prepared(uv_work_t *w, int uvstatus) {
  put_job *pj = w->data;
  if (uvstatus < 0) dp_fail(pj, DM_EIO);
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
