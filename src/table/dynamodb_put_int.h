/* dynamodb_put_int.h — what the three files of the put path share (dynamodb_put.c: the
 * call, prepare, pending, the driver; dynamodb_batch.c: blind BatchWriteItem writes;
 * dynamodb_merge.c: the merge path). The steps are described at the top of dynamodb_put.c.
 * Private to src/table/.
 */
#ifndef DM_TABLE_DYNAMODB_PUT_INT_H
#define DM_TABLE_DYNAMODB_PUT_INT_H

#include "diamond/gorilla.h"
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


static inline void dp_fail(put_job *pj, int status) {
  if (pj->status == 0) pj->status = status;
}

static inline int64_t dp_item_ttl(const put_job *pj, int64_t window_end) {
  return ddb_ttl(window_end, pj->now, pj->t->keep, pj->t->grace);
}

static inline int64_t dp_day_ttl(const put_job *pj, int64_t day) {
  return dp_item_ttl(pj, (ddb_clamp_day(day) + 1) * DM_DAY_SECONDS);
}

/* One unit of pj (a request, a timer, a pool job) ended: start what may start next. */
void dp_unit_done(put_job *pj);
/* Points of chunk hi over those of lo (lo may be NULL or unreadable: replaced), encoded
 * into *out (malloc). 0, DM_ECORRUPT (hi), DM_ENOMEM. */
int dp_merge_chunks(const uint8_t *hi, size_t hl, const uint8_t *lo, size_t ll, uint8_t **out,
                    uint32_t *out_len, uint32_t *count);
/* Sends the wbatch arg (a unit of its put); the reply resends what stayed unprocessed. */
void dp_batch_send(void *arg);
/* Starts the merge of group g (a unit of its put): GetItem, merge, conditional PutItem. */
void dp_merge_get(group *g);

#endif
