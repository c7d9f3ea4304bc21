/* dynamodb_merge.c — the merge path of a put, for items that may exist: GetItem
 * (consistent) -> on the pool, the stored points merged under the new ones and the PutItem
 * body built -> PutItem conditional on the version read (attribute_not_exists(pk) when
 * there was none, attribute_not_exists(ver) for an item without one). A failed condition
 * means another writer got there first: read again, PUT_MERGE_TRIES in all, then
 * DM_ECONFLICT. An expired item's points are not merged back.
 */
#include <stdlib.h>
#include <string.h>

#include "diamond/error.h"
#include "diamond/log.h"
#include "dynamodb_put_int.h"

/* ---- merges -------------------------------------------------------------------------- */

static void merge_end(group *g, int status) {
  put_job *pj = g->pj;
  if (status < 0) dp_fail(pj, status);
  free(g->stored);
  g->stored = NULL;
  dm_buf_free(&g->body);
  pj->merges--;
  dp_unit_done(pj);
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
    dp_merge_get(g); /* read again: another writer got there first */
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
  g->work_status = dp_merge_chunks(g->chunk, g->chunk_len, g->stored, g->stored_len, &chunk, &len,
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
                dp_item_ttl(pj, g->start + pj->t->base.window));
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

void dp_merge_get(group *g) {
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
