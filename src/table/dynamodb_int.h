/* dynamodb_int.h — what the files of the DynamoDB table share (private to src/table/):
 *   dynamodb.c        the essay (item layout), open/close/stats/health, query and last
 *   dynamodb_call.c   every request: a local FIFO in front of the aws client, capacity
 *                     accounting, the health message, deferred callbacks, timers
 *   dynamodb_put.c    put: prepare, pending updates, the driver (dynamodb_put_int.h),
 *   dynamodb_batch.c    with the blind BatchWriteItems and
 *   dynamodb_merge.c    the merge path
 *   dynamodb_age.c    pending, scan_day, mark_aged, sweep, names
 *   dynamodb_admin.c  create and probe
 *   dynamodb_json.c   base64, request pieces, response parsing, the error classifier
 *   dynamodb_items.c  item keys and bodies, ttl
 *   dynamodb_index.c  the in-memory sets (manifest written, names written, scan tx)
 * The pure parts (json, items, index) have no I/O and are unit-tested on their own.
 */
#ifndef DM_TABLE_DYNAMODB_INT_H
#define DM_TABLE_DYNAMODB_INT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include <yajl/yajl_tree.h>

#include "diamond/aws.h"
#include "diamond/buf.h"
#include "diamond/metrics.h"
#include "diamond/table.h"

#define DDB_MAX_SERIES 1024     /* pk may hold 2048 bytes; names are far shorter */
#define DDB_BATCH_ITEMS 25      /* BatchWriteItem limit */
#define DDB_ITEM_MAX 400000     /* DynamoDB's item limit is 400 KB, names and values */
#define DDB_SHARD_MUL 65536     /* pending sk = day * 65536 + shard (shards <= 4096) */
#define DDB_MANIFEST_DAYS 3     /* days whose written manifest entries are remembered */

/* ---- dynamodb_json.c: base64 and JSON ------------------------------------------------ */

/* Standard base64 with padding (RFC 4648 section 4). Encoded length of n bytes. */
size_t ddb_b64_len(size_t n);
/* Appends the encoding of in to b. */
void ddb_b64_add(dm_buf *b, const uint8_t *in, size_t n);
/* Decodes s (length len, padding required, no whitespace) into out, which holds at least
 * len / 4 * 3 bytes. Returns the decoded length or DM_ECORRUPT. */
int ddb_b64_decode(const char *s, size_t len, uint8_t *out);

/* The error classifier handed to the aws client: 2xx ok; throttling types and 429
 * throttle; InternalServerError, ServiceUnavailable, 5xx and code 0 retry; anything else
 * (ConditionalCheckFailed, ResourceNotFound, AccessDenied, Validation,
 * UnrecognizedClient...) permanent. error_type (128 bytes) gets the "__type" suffix. */
dm_aws_verdict ddb_classify(long code, const uint8_t *body, size_t len, char *error_type);
/* The "__type" suffix after '#' (or the whole value) of a parsed error body, or "". */
void ddb_error_type(yajl_val root, char *out, size_t len);

/* Tree access. Each returns NULL / 0 / -1 when the path or type does not match. */
yajl_val ddb_get(yajl_val obj, const char *key);
/* The string, or "" when v is not one. */
const char *ddb_str(yajl_val v);
/* The string value of attribute `name` of type `type` ("S", "N", "B") in item. */
const char *ddb_attr(yajl_val item, const char *name, const char *type);
/* An "N" attribute as int64; 0 or DM_ECORRUPT (absent, not an integer, out of range). */
int ddb_attr_i64(yajl_val item, const char *name, int64_t *out);
/* Sum of ConsumedCapacity.CapacityUnits (object or array of objects); 0 when absent. */
double ddb_consumed(yajl_val root);

/* A table key (pk S, sk N). pk points into the tree it was read from. */
typedef struct ddb_key {
  const char *pk;
  int64_t sk;
} ddb_key;
/* LastEvaluatedKey of a Query page: 1 and *k filled, 0 when the query is complete,
 * DM_ECORRUPT when it is there but malformed. */
int ddb_last_key(yajl_val root, ddb_key *k);
/* The keys of UnprocessedItems[table] (PutRequest items) into keys (cap). Returns the
 * count (0 when all were processed) or DM_ECORRUPT / DM_ERANGE (more than cap). */
int ddb_unprocessed(yajl_val root, const char *table, ddb_key *keys, size_t cap);

/* Request bodies. Each starts {"TableName":<table>, ...; ddb_req_end appends
 * "ReturnConsumedCapacity":"TOTAL"} (every request but the control-plane ones). */
void ddb_req_begin(dm_buf *b, const char *table);
void ddb_req_end(dm_buf *b);
/* "Key":{"pk":{"S":pk},"sk":{"N":sk}} (with a leading comma). */
void ddb_req_key(dm_buf *b, const char *pk, size_t pk_len, int64_t sk);
/* A Query: pk = :p and, by mode, sk BETWEEN :lo AND :hi ('B'), sk < :hi ('<'), or no sk
 * condition ('-'); limit 0 = none; forward 0 = newest first; start NULL = first page. */
void ddb_req_query(dm_buf *b, const char *table, const char *pk, size_t pk_len, char mode,
                   int64_t lo, int64_t hi, int64_t limit, int forward, const ddb_key *start);

/* ---- dynamodb_items.c: keys, items, ttl ---------------------------------------------- */

/* max(window_end + keep + grace, now + grace), saturating. */
int64_t ddb_ttl(int64_t window_end, int64_t now, int64_t keep, int64_t grace);
/* The 63-bit name hash used as sk of manifest and name items. */
int64_t ddb_hash63(const char *s, size_t len);
/* Partition keys: "~m:<day>:<shard>", "~aged:<day>:<shard>", "~n:<shard>", where <day> is
 * YYYY-MM-DD for years 0000..9999 and "d<day number>" outside. Return the length; out
 * holds 48 bytes. */
size_t ddb_manifest_pk(char *out, int64_t day, uint32_t shard);
size_t ddb_aged_pk(char *out, int64_t day, uint32_t shard);
size_t ddb_names_pk(char *out, uint32_t shard);
#define DDB_PENDING_PK "~pending"
int64_t ddb_pending_sk(dm_dayshard ds);
dm_dayshard ddb_pending_ds(int64_t sk);
/* Clamps a day so that day * DDB_SHARD_MUL fits an int64. */
int64_t ddb_clamp_day(int64_t day);

/* Item objects ({"pk":...,"ttl":...}) appended to b. */
void ddb_item_data(dm_buf *b, const char *series, size_t len, int64_t start,
                   const uint8_t *chunk, size_t chunk_len, uint32_t count, int64_t ver,
                   int64_t ttl);
/* A manifest or name item: pk, sk = hash, name = series. */
void ddb_item_name(dm_buf *b, const char *pk, size_t pk_len, int64_t hash, const char *series,
                   size_t len, int64_t ttl);
/* The size DynamoDB counts for a data item (names plus values, binary decoded). */
size_t ddb_data_item_size(size_t series_len, size_t chunk_len);

/* ---- dynamodb_index.c: what this process remembers it wrote -------------------------- */

/* A set of 63-bit hashes, each with an int64 value (open addressing). */
typedef struct ddb_hset {
  uint64_t *keys;
  int64_t *vals;
  size_t n, cap;
} ddb_hset;
void ddb_hset_free(ddb_hset *s);
/* 1 and *val when h is in, else 0. */
int ddb_hset_get(const ddb_hset *s, int64_t h, int64_t *val);
/* Adds or updates. 0 or DM_ENOMEM. */
int ddb_hset_put(ddb_hset *s, int64_t h, int64_t val);

/* Manifest entries written, for the DDB_MANIFEST_DAYS newest days seen. */
typedef struct ddb_mset {
  struct {
    int64_t day;
    ddb_hset set;
  } d[DDB_MANIFEST_DAYS];
  size_t n;
} ddb_mset;
void ddb_mset_free(ddb_mset *m);
int ddb_mset_has(const ddb_mset *m, int64_t day, int64_t h);
/* Records (day, h); a day older than every remembered one when all slots are used is not
 * recorded (its manifest is written again next time), days below min_day are forgotten. */
int ddb_mset_add(ddb_mset *m, int64_t day, int64_t h, int64_t min_day);

/* The pending tx scan_day saw per (day, shard), until mark_aged takes it. */
typedef struct ddb_scans {
  struct ddb_scan {
    dm_dayshard ds;
    int64_t tx; /* -1: no pending item at scan time */
  } *v;
  size_t n, cap;
} ddb_scans;
void ddb_scans_free(ddb_scans *s);
int ddb_scans_put(ddb_scans *s, dm_dayshard ds, int64_t tx);
int ddb_scans_take(ddb_scans *s, dm_dayshard ds, int64_t *tx);

/* ---- the table ------------------------------------------------------------------------ */

typedef struct ddb_call ddb_call;

typedef struct ddb {
  dm_table base;
  uv_loop_t *loop;
  dm_aws *aws;
  char table[256];
  char endpoint[DM_CONFIG_STR + 64];
  int64_t keep, grace, blob_keep;
  int64_t max_out;              /* requests handed to the client at once */
  int64_t max_attempts, retry_base_ms, retry_cap_ms;
  int64_t query_limit;          /* Query Limit (0 = DynamoDB's 1 MB pages); tests lower it */
  dm_table_stats st;
  size_t inflight;              /* accepted calls that have not called back */
  int closing, destroyed;
  /* requests */
  int64_t out;                  /* handed to the client */
  ddb_call *q_head, *q_tail;    /* waiting for a slot */
  uv_timer_t kill;              /* frees the table on the loop once the last call ended */
  /* health */
  int failing;
  char why[640];
  /* what this process wrote */
  ddb_mset manifest;
  ddb_hset names;               /* hash -> ttl of the name item */
  ddb_scans scans;
  /* metrics */
  dm_counter *m_quarantined, *m_conflicts, *m_unprocessed;
} ddb;

/* ---- dynamodb_call.c ------------------------------------------------------------------ */

typedef struct ddb_reply {
  int status;             /* 0, or DM_EIO (permanent), DM_EAGAIN (retries ran out),
                             DM_ECLOSED, DM_ENOMEM, DM_ECORRUPT (2xx but not JSON) */
  long code;              /* HTTP status, 0 when none came */
  const char *error_type; /* "ConditionalCheckFailedException", or "" */
  const char *message;    /* the service's message or curl's, "" when none */
  yajl_val root;          /* the parsed body, NULL when not JSON */
} ddb_reply;
typedef void (*ddb_cb)(void *arg, const ddb_reply *r);

/* Sends op with body (taken: freed after the reply). Calls cb exactly once, never inside
 * this call. Returns 0, or DM_ENOMEM / DM_ECLOSED with body freed and cb never called. */
int ddb_send(ddb *t, const char *op, dm_buf *body, ddb_cb cb, void *arg);
/* The same, with pool(arg, root) run before cb on a successful parsed reply: on the thread
 * pool when the body was big enough to be parsed there, else on the loop. It may touch
 * only what belongs to arg's call (Query pages: decoding the items). */
typedef void (*ddb_pool_fn)(void *arg, yajl_val root);
int ddb_send_pool(ddb *t, const char *op, dm_buf *body, ddb_pool_fn pool, ddb_cb cb,
                  void *arg);
/* Runs fn(arg) on the loop after ms milliseconds (0: the next loop turn). 0 or DM_ENOMEM. */
int ddb_after(ddb *t, uint64_t ms, void (*fn)(void *), void *arg);
/* A call finished: inflight--, and the table is destroyed when it closed and was the last. */
void ddb_call_done(ddb *t);
/* Starts freeing t on the next loop turn (the aws client closes, then t is freed). */
void ddb_destroy(ddb *t);
/* Counts units from a reply into stats and the process-wide counters. */
void ddb_units(ddb *t, const char *op, double units);
/* Registers diamond_table_{read,write}_units_total (process-wide sums). */
void ddb_register_metrics(void);
/* Quarantine: one log line and the counter. */
void ddb_quarantine(ddb *t, const char *series, size_t len, int64_t start, const char *why);

/* ---- the operations (each file) ------------------------------------------------------- */

int ddb_put(dm_table *t, const dm_item *items, size_t n, dm_done_cb cb, void *arg);
int ddb_pending(dm_table *t, int64_t before_day, dm_dayshards_cb cb, void *arg);
int ddb_scan_day(dm_table *t, dm_dayshard ds, dm_names_cb cb, void *arg);
int ddb_mark_aged(dm_table *t, dm_dayshard ds, dm_done_cb cb, void *arg);
int ddb_sweep(dm_table *t, int64_t before, dm_done_cb cb, void *arg);
int ddb_names(dm_table *t, dm_names_cb cb, void *arg);
int ddb_create(dm_table *t, dm_done_cb cb, void *arg);
int ddb_probe(dm_table *t, dm_done_cb cb, void *arg);

/* Sorts names (byte order) and drops duplicates in place; returns the new count. */
size_t ddb_names_sort_unique(dm_name_ref *v, size_t n);

#endif
