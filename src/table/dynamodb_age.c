/* dynamodb_age.c — the index calls of the DynamoDB table: pending, scan_day, mark_aged,
 * sweep (nothing: TTL) and names. Each is one or more Queries over an index partition,
 * every page followed; the ageing protocol they implement is at the top of dynamodb.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diamond/error.h"
#include "diamond/log.h"
#include "diamond/timefmt.h"
#include "dynamodb_int.h"

enum { L_PENDING, L_SCAN, L_NAMES };

typedef struct ljob {
  ddb *t;
  int kind;
  char pk[48];
  char mode;
  int64_t hi, now, next_sk, tx;
  int has_next, all;
  uint32_t shard; /* names: the partition being read */
  dm_dayshard ds;
  dm_buf out, bytes;
  size_t n;
  union {
    dm_dayshards_cb dayshards;
    dm_names_cb names;
    dm_done_cb done;
  } cb;
  void *arg;
} ljob;

static ljob *ljob_new(ddb *t, int kind, void *arg, int *rc) {
  *rc = t->closing ? DM_ECLOSED : 0;
  if (*rc < 0) return NULL;
  ljob *j = calloc(1, sizeof *j);
  if (j == NULL) {
    *rc = DM_ENOMEM;
    return NULL;
  }
  j->t = t;
  j->kind = kind;
  j->arg = arg;
  j->now = dm_now();
  j->tx = -1;
  dm_buf_init(&j->out);
  dm_buf_init(&j->bytes);
  return j;
}

static void ljob_free(ljob *j) {
  dm_buf_free(&j->out);
  dm_buf_free(&j->bytes);
  free(j);
}

static void ljob_end(ljob *j, int status) {
  ddb *t = j->t;
  if (j->kind == L_PENDING) {
    if (status == 0 && j->all) t->st.pending_dayshards = j->n;
    j->cb.dayshards(j->arg, status, status == 0 ? (const dm_dayshard *)j->out.p : NULL,
                    status == 0 ? j->n : 0);
  } else {
    dm_name_ref *r = (dm_name_ref *)j->out.p;
    size_t n = 0;
    if (status == 0) {
      for (size_t i = 0; i < j->n; i++) r[i].s = j->bytes.p + (uintptr_t)r[i].s;
      n = ddb_names_sort_unique(r, j->n);
    }
    if (status == 0 && j->kind == L_SCAN && ddb_scans_put(&t->scans, j->ds, j->tx) < 0)
      status = DM_ENOMEM; /* a mark_aged would clear pending unconditionally */
    j->cb.names(j->arg, status, status == 0 ? r : NULL, status == 0 ? n : 0);
  }
  ljob_free(j);
  ddb_call_done(t);
}

static int add_entry(ljob *j, yajl_val item) {
  int64_t sk, ttl = INT64_MAX;
  if (ddb_attr_i64(item, "sk", &sk) < 0) return DM_ECORRUPT;
  (void)ddb_attr_i64(item, "ttl", &ttl);
  if (ttl < j->now) return 0; /* expired, not yet deleted */
  if (j->kind == L_PENDING) {
    dm_dayshard ds = ddb_pending_ds(sk);
    dm_buf_add(&j->out, &ds, sizeof ds);
  } else {
    const char *name = ddb_attr(item, "name", "S");
    if (name == NULL) return DM_ECORRUPT;
    size_t len = strlen(name);
    dm_name_ref r = {(const char *)(uintptr_t)j->bytes.len, len};
    dm_buf_add(&j->bytes, name, len + 1); /* NUL-terminated too */
    dm_buf_add(&j->out, &r, sizeof r);
    if (j->kind == L_NAMES && ddb_hset_put(&j->t->names, sk, ttl) < 0) return DM_ENOMEM;
  }
  if (j->out.oom || j->bytes.oom) return DM_ENOMEM;
  j->n++;
  return 0;
}

static int lsend(ljob *j);

static void lpage_got(void *arg, const ddb_reply *r) {
  ljob *j = arg;
  int rc = r->status;
  yajl_val items = rc == 0 ? ddb_get(r->root, "Items") : NULL;
  if (rc == 0 && !YAJL_IS_ARRAY(items)) rc = DM_ECORRUPT;
  for (size_t i = 0; rc == 0 && i < items->u.array.len; i++)
    rc = add_entry(j, items->u.array.values[i]);
  ddb_key k;
  int more = rc == 0 ? ddb_last_key(r->root, &k) : 0;
  if (more < 0) rc = more;
  j->has_next = 0;
  if (rc == 0 && more == 1) {
    j->has_next = 1;
    j->next_sk = k.sk;
  } else if (rc == 0 && j->kind == L_NAMES && ++j->shard < j->t->base.shards) {
    ddb_names_pk(j->pk, j->shard);
  } else {
    ljob_end(j, rc);
    return;
  }
  rc = lsend(j);
  if (rc < 0) ljob_end(j, rc);
}

static int lsend(ljob *j) {
  dm_buf b;
  dm_buf_init(&b);
  ddb_key start = {j->pk, j->next_sk};
  ddb_req_query(&b, j->t->table, j->pk, strlen(j->pk), j->mode, 0, j->hi, j->t->query_limit, 1,
                j->has_next ? &start : NULL);
  return ddb_send(j->t, "Query", &b, lpage_got, j);
}

static int lstart(ljob *j) {
  int rc = lsend(j);
  if (rc < 0) {
    ljob_free(j);
    return rc;
  }
  j->t->inflight++;
  return 0;
}

int ddb_pending(dm_table *base, int64_t before_day, dm_dayshards_cb cb, void *arg) {
  ddb *t = (ddb *)base;
  int rc;
  if (cb == NULL) return DM_EINVAL;
  ljob *j = ljob_new(t, L_PENDING, arg, &rc);
  if (j == NULL) return rc;
  j->cb.dayshards = cb;
  snprintf(j->pk, sizeof j->pk, "%s", DDB_PENDING_PK);
  j->mode = '<';
  j->hi = ddb_clamp_day(before_day) * DDB_SHARD_MUL;
  j->all = before_day >= ddb_clamp_day(INT64_MAX); /* the count is the whole backlog */
  return lstart(j);
}

int ddb_names(dm_table *base, dm_names_cb cb, void *arg) {
  ddb *t = (ddb *)base;
  int rc;
  if (cb == NULL) return DM_EINVAL;
  ljob *j = ljob_new(t, L_NAMES, arg, &rc);
  if (j == NULL) return rc;
  j->cb.names = cb;
  ddb_names_pk(j->pk, 0);
  j->mode = '-';
  return lstart(j);
}

/* ---- scan_day: the pending tx first, then the manifest ------------------------------- */

static void scan_tx_got(void *arg, const ddb_reply *r) {
  ljob *j = arg;
  int rc = r->status;
  if (rc == 0) {
    yajl_val item = ddb_get(r->root, "Item");
    if (YAJL_IS_OBJECT(item) && ddb_attr_i64(item, "tx", &j->tx) < 0) j->tx = 0;
    rc = lsend(j);
  }
  if (rc < 0) ljob_end(j, rc);
}

int ddb_scan_day(dm_table *base, dm_dayshard ds, dm_names_cb cb, void *arg) {
  ddb *t = (ddb *)base;
  int rc;
  if (cb == NULL) return DM_EINVAL;
  ljob *j = ljob_new(t, L_SCAN, arg, &rc);
  if (j == NULL) return rc;
  j->cb.names = cb;
  j->ds = ds;
  ddb_manifest_pk(j->pk, ds.day, ds.shard);
  j->mode = '-';
  dm_buf b;
  dm_buf_init(&b);
  ddb_req_begin(&b, t->table);
  ddb_req_key(&b, DDB_PENDING_PK, strlen(DDB_PENDING_PK), ddb_pending_sk(ds));
  dm_buf_adds(&b, ",\"ConsistentRead\":true");
  ddb_req_end(&b);
  rc = ddb_send(t, "GetItem", &b, scan_tx_got, j);
  if (rc < 0) {
    ljob_free(j);
    return rc;
  }
  t->inflight++;
  return 0;
}

/* ---- mark_aged: the aged marker, then the pending item on condition ------------------ */

typedef struct mjob {
  ddb *t;
  dm_dayshard ds;
  int has_tx;
  int64_t tx;
  dm_done_cb cb;
  void *arg;
} mjob;

static void mjob_end(mjob *m, int status) {
  ddb *t = m->t;
  m->cb(m->arg, status);
  free(m);
  ddb_call_done(t);
}

static void unpend_got(void *arg, const ddb_reply *r) {
  mjob *m = arg;
  int rc = r->status;
  if (rc < 0 && strcmp(r->error_type, "ConditionalCheckFailedException") == 0) {
    dm_log_info("table_mark_aged", "day=%lld shard=%u msg=\"put since scan, stays pending\"",
                (long long)m->ds.day, m->ds.shard);
    rc = 0;
  }
  mjob_end(m, rc);
}

static void marker_got(void *arg, const ddb_reply *r) {
  mjob *m = arg;
  int rc = r->status;
  if (rc == 0) {
    dm_buf b;
    dm_buf_init(&b);
    ddb_req_begin(&b, m->t->table);
    ddb_req_key(&b, DDB_PENDING_PK, strlen(DDB_PENDING_PK), ddb_pending_sk(m->ds));
    if (m->has_tx && m->tx < 0) {
      dm_buf_adds(&b, ",\"ConditionExpression\":\"attribute_not_exists(pk)\"");
    } else if (m->has_tx) {
      dm_buf_adds(&b, ",\"ConditionExpression\":\"tx = :tx\",\"ExpressionAttributeValues\":"
                      "{\":tx\":{\"N\":\"");
      dm_buf_i64(&b, m->tx);
      dm_buf_adds(&b, "\"}}");
    }
    ddb_req_end(&b);
    rc = ddb_send(m->t, "DeleteItem", &b, unpend_got, m);
    if (rc == 0) return;
  }
  mjob_end(m, rc);
}

int ddb_mark_aged(dm_table *base, dm_dayshard ds, dm_done_cb cb, void *arg) {
  ddb *t = (ddb *)base;
  if (t->closing) return DM_ECLOSED;
  if (cb == NULL) return DM_EINVAL;
  mjob *m = calloc(1, sizeof *m);
  if (m == NULL) return DM_ENOMEM;
  *m = (mjob){.t = t, .ds = ds, .cb = cb, .arg = arg};
  m->has_tx = ddb_scans_take(&t->scans, ds, &m->tx);
  char pk[48];
  size_t n = ddb_aged_pk(pk, ds.day, ds.shard);
  dm_buf b;
  dm_buf_init(&b);
  ddb_req_begin(&b, t->table);
  dm_buf_adds(&b, ",\"Item\":{\"pk\":{\"S\":");
  dm_buf_json_str(&b, pk, n);
  dm_buf_adds(&b, "},\"sk\":{\"N\":\"0\"},\"ttl\":{\"N\":\"");
  int64_t end = (ddb_clamp_day(ds.day) + 1) * DM_DAY_SECONDS;
  dm_buf_i64(&b, ddb_ttl(end, dm_now(), t->blob_keep, t->grace));
  dm_buf_adds(&b, "\"}}");
  ddb_req_end(&b);
  int rc = ddb_send(t, "PutItem", &b, marker_got, m);
  if (rc < 0) {
    if (m->has_tx) (void)ddb_scans_put(&t->scans, ds, m->tx); /* undo the take */
    free(m);
    return rc;
  }
  t->inflight++;
  return 0;
}

/* ---- sweep: DynamoDB's TTL deletes; nothing to do here ------------------------------ */

static void swept(void *arg) { mjob_end(arg, 0); }

int ddb_sweep(dm_table *base, int64_t before, dm_done_cb cb, void *arg) {
  ddb *t = (ddb *)base;
  (void)before;
  if (t->closing) return DM_ECLOSED;
  if (cb == NULL) return DM_EINVAL;
  mjob *m = calloc(1, sizeof *m);
  if (m == NULL) return DM_ENOMEM;
  *m = (mjob){.t = t, .cb = cb, .arg = arg};
  if (ddb_after(t, 0, swept, m) < 0) {
    free(m);
    return DM_ENOMEM;
  }
  t->inflight++;
  return 0;
}
