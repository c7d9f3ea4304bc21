/* dynamodb.c — the warm tier on DynamoDB (AWS, LocalStack, dynalite): table.h over one
 * DynamoDB table with key pk (S, hash) + sk (N, range), on-demand billing, TTL on `ttl`.
 *
 * Items. Every item carries ttl (epoch seconds), so DynamoDB deletes what the ager no
 * longer needs and sweep has nothing to do.
 *
 *   data       pk = series          sk = window start    v (B) gorilla chunk, n (N) points,
 *                                                        ver (N) 1 at first, +1 per merge,
 *              ttl = max(window end + table.keep + ager.grace, now + ager.grace)
 *   manifest   pk = "~m:<day>:<shard>"  sk = hash63(series)   name (S) = series
 *              ttl = the data rule with the day's end for the window's end
 *   pending    pk = "~pending"      sk = day * 65536 + shard  tx (N): ADD 1 per put
 *              ttl = as the manifest
 *   aged       pk = "~aged:<day>:<shard>"  sk = 0   ttl = day end + blob.keep + ager.grace
 *   names      pk = "~n:<shard>"    sk = hash63(series)   name (S) = series
 *              ttl = now + blob.keep + ager.grace, rewritten once less than half is left
 *
 * <day> is YYYY-MM-DD (dm_day_format), or d<day number> for years outside 0000..9999 so no
 * two days share a key; hash63 = dm_name_hash & INT64_MAX; shard = dm_name_hash %
 * ager.shards. Series names never start with '~' (put refuses them), so index partitions
 * never meet data. Two names with one hash63 in one shard would share a manifest/name item
 * (one name lost from that index): at 10^7 names the chance is about 10^-5.
 *
 * Writes (dynamodb_put.c). known_new items go out blind in BatchWriteItem; the others are
 * merged: GetItem (consistent) -> merge, new points winning -> PutItem conditional on the
 * ver read (attribute_not_exists(pk) when there was none); a conflict reads again. The
 * manifest entry of a series-day and the name item of a series are written once per
 * process (in-memory sets: dynamodb_index.c), with the data, in the same BatchWriteItems.
 * Last, the pending item of each (day, shard) touched gets ADD tx :1 (once per put). The
 * manifest set keeps the 3 newest days only, and none older than table.keep: late data
 * into older days writes its manifest entry again on every put (one extra write), where
 * remembering 14 days of a million series would hold ~200 MB. Name items expire too
 * (blob.keep + grace after the last rewrite), so the index forgets series silent for longer
 * than their blobs live; the plan's "once per name" would have let active names expire.
 *
 * Ageing protocol. The ager calls pending -> scan_day -> query -> mark_aged -> sweep.
 * scan_day reads the pending item's tx (consistent), remembers it, then queries the
 * manifest partition. A put writes its items and manifest entries before it bumps tx, so
 * either the scan saw them, or tx changed after the scan. mark_aged writes the aged
 * marker, then deletes the pending item on condition tx = the tx seen (or on
 * attribute_not_exists(pk) when there was none): a failed condition means a put came in
 * between, the day stays pending and the next run packs it again. Without a scan before,
 * mark_aged deletes unconditionally (the LMDB table's rule).
 *
 * What differs from LMDB. sweep does nothing: expiry is DynamoDB's TTL (ttl covers keep +
 * grace; the ager's lag metric and /readyz guard the rest). Until TTL deletes them, an
 * aged day's items and manifest stay; scan_day then lists every series of the day, not only
 * the late ones, which the ager merges with the existing blob all the same. Reads drop
 * items whose ttl has passed (TTL deletes only eventually, within days). A put is not
 * atomic: on failure some items may be written; the engine retries the whole batch, and
 * merges are last-write-wins, so the retry converges. Permanent errors of one data item
 * quarantine it (table.h).
 *
 * Reads use ConsistentRead, so a node reads what another just flushed. Every request asks
 * ReturnConsumedCapacity=TOTAL; units go to stats and diamond_table_*_units_total.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diamond/error.h"
#include "diamond/gorilla.h"
#include "diamond/log.h"
#include "diamond/timefmt.h"
#include "dynamodb_int.h"

#define LAST_LIMIT 4

typedef struct rjob {
  ddb *t;
  char *series;
  size_t len;
  int64_t lo, hi, now, next_sk;
  int last, has_next, page_status;
  dm_items_cb cb;
  void *arg;
  dm_buf out, bytes;
  size_t n;
} rjob;

static void rjob_end(rjob *j, int status) {
  ddb *t = j->t;
  dm_item *it = (dm_item *)j->out.p;
  if (status == 0) {
    for (size_t i = 0; i < j->n; i++) {
      it[i].series = j->series;
      it[i].chunk = (const uint8_t *)j->bytes.p + (uintptr_t)it[i].chunk;
    }
    t->st.read_items += j->n;
  }
  j->cb(j->arg, status, status == 0 ? it : NULL, status == 0 ? j->n : 0);
  free(j->series);
  dm_buf_free(&j->out);
  dm_buf_free(&j->bytes);
  free(j);
  ddb_call_done(t);
}

/* Appends the unexpired items of a page; offsets stand for pointers until rjob_end. */
static int add_items(rjob *j, yajl_val root) {
  yajl_val items = ddb_get(root, "Items");
  if (!YAJL_IS_ARRAY(items)) return DM_ECORRUPT;
  for (size_t i = 0; i < items->u.array.len; i++) {
    if (j->last && j->n > 0) break;
    yajl_val v = items->u.array.values[i];
    int64_t sk, ttl = INT64_MAX;
    const char *b64 = ddb_attr(v, "v", "B");
    if (ddb_attr_i64(v, "sk", &sk) < 0 || b64 == NULL) return DM_ECORRUPT;
    (void)ddb_attr_i64(v, "ttl", &ttl);
    if (ttl < j->now) continue; /* expired, not yet deleted */
    size_t blen = strlen(b64), off = j->bytes.len;
    if (dm_buf_reserve(&j->bytes, blen / 4 * 3 + 1) < 0) return DM_ENOMEM;
    int len = ddb_b64_decode(b64, blen, (uint8_t *)j->bytes.p + off);
    if (len < 0) return DM_ECORRUPT;
    size_t count;
    if (dm_chunk_info((const uint8_t *)j->bytes.p + off, (size_t)len, &count, NULL) < 0) {
      dm_log_error("table_read", "err=\"corrupt chunk\" series=%s start=%lld", j->series,
                   (long long)sk);
      return DM_ECORRUPT;
    }
    j->bytes.len += (size_t)len;
    dm_item it = {.series_len = (uint32_t)j->len, .start = sk,
                  .chunk = (const uint8_t *)(uintptr_t)off, .chunk_len = (uint32_t)len,
                  .count = (uint32_t)count};
    dm_buf_add(&j->out, &it, sizeof it);
    if (j->out.oom) return DM_ENOMEM;
    j->n++;
  }
  return 0;
}

static int rjob_send(rjob *j);

/* On the pool for big pages (decoding ~1 MB of base64 takes a few ms). */
static void page_items(void *arg, yajl_val root) {
  rjob *j = arg;
  j->page_status = add_items(j, root);
}

static void page_got(void *arg, const ddb_reply *r) {
  rjob *j = arg;
  int rc = r->status;
  if (rc == 0) rc = j->page_status;
  ddb_key k;
  int more = rc == 0 ? ddb_last_key(r->root, &k) : 0;
  if (more < 0) rc = more;
  if (rc == 0 && more == 1 && !(j->last && j->n > 0)) {
    j->has_next = 1;
    j->next_sk = k.sk;
    rc = rjob_send(j);
    if (rc == 0) return;
  }
  rjob_end(j, rc);
}

static int rjob_send(rjob *j) {
  dm_buf b;
  dm_buf_init(&b);
  ddb_key start = {j->series, j->next_sk};
  ddb_req_query(&b, j->t->table, j->series, j->len, 'B', j->lo, j->hi,
                j->last ? LAST_LIMIT : j->t->query_limit, !j->last,
                j->has_next ? &start : NULL);
  j->page_status = 0;
  return ddb_send_pool(j->t, "Query", &b, page_items, page_got, j);
}

static void empty_later(void *arg) { rjob_end(arg, 0); }

static int series_ok(const char *s, size_t len) {
  return s != NULL && len > 0 && len <= DDB_MAX_SERIES && s[0] != '~';
}

static int read_start(ddb *t, const char *s, size_t len, int64_t lo, int64_t hi, int last,
                      dm_items_cb cb, void *arg) {
  if (t->closing) return DM_ECLOSED;
  if (cb == NULL || !series_ok(s, len)) return DM_EINVAL;
  rjob *j = calloc(1, sizeof *j);
  if (j == NULL || (j->series = strndup(s, len)) == NULL) {
    free(j);
    return DM_ENOMEM;
  }
  j->t = t;
  j->len = len;
  j->lo = lo;
  j->hi = hi;
  j->last = last;
  j->cb = cb;
  j->arg = arg;
  j->now = dm_now();
  dm_buf_init(&j->out);
  dm_buf_init(&j->bytes);
  int rc = hi < lo ? ddb_after(t, 0, empty_later, j) : rjob_send(j);
  if (rc < 0) {
    free(j->series);
    free(j);
    return rc;
  }
  t->inflight++;
  t->st.reads++;
  return 0;
}

static int ddb_query(dm_table *base, const char *s, size_t len, int64_t from, int64_t until,
                     dm_items_cb cb, void *arg) {
  ddb *t = (ddb *)base;
  int64_t w = base->window;
  /* [start, start + window) overlaps [from, until] iff from - window < start <= until */
  int64_t lo = from > INT64_MIN + w ? from - w + 1 : INT64_MIN;
  if (until < from) lo = INT64_MAX; /* an empty range overlaps nothing */
  return read_start(t, s, len, lo, until, 0, cb, arg);
}

static int ddb_last(dm_table *base, const char *s, size_t len, dm_items_cb cb, void *arg) {
  return read_start((ddb *)base, s, len, INT64_MIN, INT64_MAX, 1, cb, arg);
}

static void ddb_stats(dm_table *base, dm_table_stats *out) { *out = ((ddb *)base)->st; }

static int ddb_health(dm_table *base, char *why, size_t len) {
  ddb *t = (ddb *)base;
  if (why != NULL && len > 0) snprintf(why, len, "%s", t->failing ? t->why : "");
  return !t->failing;
}

static void ddb_close(dm_table *base) {
  ddb *t = (ddb *)base;
  if (t == NULL || t->closing) return;
  t->closing = 1;
  if (t->inflight == 0) ddb_destroy(t);
}

static const dm_table_ops ddb_ops = {
    .version = 2,
    .name = "dynamodb",
    .put = ddb_put,
    .query = ddb_query,
    .last = ddb_last,
    .pending = ddb_pending,
    .scan_day = ddb_scan_day,
    .mark_aged = ddb_mark_aged,
    .sweep = ddb_sweep,
    .names = ddb_names,
    .stats = ddb_stats,
    .close = ddb_close,
    .create = ddb_create,
    .probe = ddb_probe,
    .health = ddb_health,
};

static const char *const ops[] = {"BatchWriteItem", "GetItem", "PutItem", "UpdateItem",
                                  "DeleteItem", "Query", "DescribeTable", "CreateTable",
                                  "DescribeTimeToLive", "UpdateTimeToLive", NULL};

int dm_table_dynamodb_open(dm_table **out, uv_loop_t *loop, const dm_config *cfg, char *err,
                           size_t errlen) {
  if (loop == NULL || cfg == NULL || cfg->window <= 0 || cfg->ager_shards < 1 ||
      cfg->ager_shards > 4096 || cfg->table_name[0] == '\0' || cfg->table_region[0] == '\0') {
    if (err != NULL)
      snprintf(err, errlen, "table dynamodb: bad configuration (window, ager.shards, "
                            "table.name, table.region)");
    return DM_EINVAL;
  }
  ddb *t = calloc(1, sizeof *t);
  if (t == NULL) return DM_ENOMEM;
  snprintf(t->table, sizeof t->table, "%s", cfg->table_name);
  if (cfg->table_endpoint[0] != '\0')
    snprintf(t->endpoint, sizeof t->endpoint, "%s", cfg->table_endpoint);
  else
    snprintf(t->endpoint, sizeof t->endpoint, "https://dynamodb.%s.amazonaws.com",
             cfg->table_region);
  dm_aws_opts o = {.backend = "table", .service = "dynamodb", .region = cfg->table_region,
                   .endpoint = t->endpoint, .timeout_ms = cfg->remote_timeout_ms,
                   .connect_timeout_ms = cfg->remote_connect_timeout_ms,
                   .max_inflight = cfg->remote_max_inflight, .max_queue = cfg->remote_max_queue,
                   .max_attempts = cfg->remote_max_attempts,
                   .retry_base_ms = cfg->remote_retry_base_ms,
                   .retry_cap_ms = cfg->remote_retry_cap_ms, .ops = ops};
  char aerr[256] = "";
  int rc = dm_aws_open(&t->aws, loop, &o, aerr, sizeof aerr);
  if (rc < 0) {
    if (err != NULL) snprintf(err, errlen, "table dynamodb: %s", aerr);
    free(t);
    return rc;
  }
  t->base.ops = &ddb_ops;
  t->base.window = cfg->window;
  t->base.shards = (uint32_t)cfg->ager_shards;
  t->loop = loop;
  t->keep = cfg->table_keep;
  t->grace = cfg->ager_grace;
  t->blob_keep = cfg->blob_keep;
  /* the client's slots plus as many waiting in its queue: it always has the next one */
  t->max_out = cfg->remote_max_inflight * 2;
  if (t->max_out > cfg->remote_max_inflight + cfg->remote_max_queue)
    t->max_out = cfg->remote_max_inflight + cfg->remote_max_queue;
  t->retry_base_ms = cfg->remote_retry_base_ms;
  t->retry_cap_ms = cfg->remote_retry_cap_ms;
  t->max_attempts = cfg->remote_max_attempts;
  const char *lim = getenv("DM_TEST_DDB_QUERY_LIMIT"); /* tests: small Query pages */
  if (lim != NULL) t->query_limit = strtoll(lim, NULL, 10);
  ddb_register_metrics();
  t->m_quarantined = dm_metric_counter("diamond_table_quarantined_total", "",
                                       "Table items dropped after a permanent error.");
  t->m_conflicts = dm_metric_counter("diamond_table_conflicts_total", "",
                                     "Merges that lost a race on the item version and re-read.");
  t->m_unprocessed = dm_metric_counter("diamond_table_unprocessed_total", "",
                                       "BatchWriteItem items sent again (UnprocessedItems).");
  dm_log_info("table_open", "engine=dynamodb endpoint=%s table=%s region=%s", t->endpoint,
              t->table, cfg->table_region);
  *out = &t->base;
  return 0;
}
