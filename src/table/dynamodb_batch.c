/* dynamodb_batch.c — the blind writes of a put: BatchWriteItem of up to 25 items
 * (known_new data, manifest entries, names); the UnprocessedItems a reply names are sent
 * again after a full-jitter backoff (progress restarts it; PUT_UNPROCESSED_TRIES rounds
 * without progress fail the put with DM_EAGAIN); a batch refused with ValidationException
 * is sent again item by item (PutItem) so that only the item to blame is quarantined.
 */
#include <stdlib.h>
#include <string.h>

#include "diamond/backoff.h"
#include "diamond/error.h"
#include "diamond/log.h"
#include "dynamodb_put_int.h"

/* ---- blind writes -------------------------------------------------------------------- */

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
      dp_fail(pj, rc);
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
    dp_fail(pj, r->status);
  }
  dp_unit_done(pj);
}

static void batch_got(void *arg, const ddb_reply *r) {
  wbatch *wb = arg;
  put_job *pj = wb->pj;
  if (r->status < 0) {
    if (strcmp(r->error_type, "ValidationException") == 0) batch_split(wb);
    else dp_fail(pj, r->status);
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
      dp_fail(pj, DM_EAGAIN);
    } else if (pj->status == 0) {
      uint64_t ms = dm_backoff_ms(wb->tries, (uint64_t)pj->t->retry_base_ms,
                                  (uint64_t)pj->t->retry_cap_ms);
      if (ddb_after(pj->t, ms, dp_batch_send, wb) == 0) return; /* the unit goes on */
      dp_fail(pj, DM_ENOMEM);
    }
  }
out:
  free(wb);
  pj->batches--;
  dp_unit_done(pj);
}

void dp_batch_send(void *arg) {
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
    dp_fail(pj, rc);
    free(wb);
    pj->batches--;
    dp_unit_done(pj);
  }
}
