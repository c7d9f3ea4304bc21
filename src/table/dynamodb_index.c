/* dynamodb_index.c — what one process remembers about the index items it wrote, so that
 * a manifest entry costs one write per series-day and a name one write per series, not
 * one per window: a hash set of 63-bit name hashes (open addressing, linear probing; a
 * stored key has bit 63 set, so 0 marks an empty slot), the per-day manifest sets, and
 * the pending tx each scan_day saw. Loop thread only. Forgetting is always safe: the worst
 * it costs is a write that was not needed.
 */
#include <stdlib.h>
#include <string.h>

#include "diamond/error.h"
#include "dynamodb_int.h"

#define TAG (1ULL << 63)

void ddb_hset_free(ddb_hset *s) {
  free(s->keys);
  free(s->vals);
  memset(s, 0, sizeof *s);
}

static size_t slot(uint64_t key, size_t cap) {
  key ^= key >> 33; /* the hashes are FNV-1a: mix the high bits into the low ones */
  key *= 0xff51afd7ed558ccdULL;
  key ^= key >> 33;
  return (size_t)key & (cap - 1);
}

int ddb_hset_get(const ddb_hset *s, int64_t h, int64_t *val) {
  if (s->cap == 0) return 0;
  uint64_t key = (uint64_t)h | TAG;
  for (size_t i = slot(key, s->cap);; i = (i + 1) & (s->cap - 1)) {
    if (s->keys[i] == 0) return 0;
    if (s->keys[i] == key) {
      if (val != NULL) *val = s->vals[i];
      return 1;
    }
  }
}

static void insert(uint64_t *keys, int64_t *vals, size_t cap, uint64_t key, int64_t val) {
  size_t i = slot(key, cap);
  while (keys[i] != 0 && keys[i] != key) i = (i + 1) & (cap - 1);
  keys[i] = key;
  vals[i] = val;
}

int ddb_hset_put(ddb_hset *s, int64_t h, int64_t val) {
  uint64_t key = (uint64_t)h | TAG;
  if ((s->n + 1) * 4 > s->cap * 3) { /* keep the load under 3/4 */
    size_t cap = s->cap ? s->cap * 2 : 64;
    uint64_t *keys = calloc(cap, sizeof *keys);
    int64_t *vals = calloc(cap, sizeof *vals);
    if (keys == NULL || vals == NULL) {
      free(keys);
      free(vals);
      return DM_ENOMEM;
    }
    for (size_t i = 0; i < s->cap; i++)
      if (s->keys[i] != 0) insert(keys, vals, cap, s->keys[i], s->vals[i]);
    free(s->keys);
    free(s->vals);
    s->keys = keys;
    s->vals = vals;
    s->cap = cap;
  }
  int64_t old;
  if (!ddb_hset_get(s, h, &old)) s->n++;
  insert(s->keys, s->vals, s->cap, key, val);
  return 0;
}

/* ---- manifest sets ----------------------------------------------------------------- */

void ddb_mset_free(ddb_mset *m) {
  for (size_t i = 0; i < m->n; i++) ddb_hset_free(&m->d[i].set);
  m->n = 0;
}

int ddb_mset_has(const ddb_mset *m, int64_t day, int64_t h) {
  for (size_t i = 0; i < m->n; i++)
    if (m->d[i].day == day) return ddb_hset_get(&m->d[i].set, h, NULL);
  return 0;
}

static void drop(ddb_mset *m, size_t i) {
  ddb_hset_free(&m->d[i].set);
  m->d[i] = m->d[--m->n];
}

int ddb_mset_add(ddb_mset *m, int64_t day, int64_t h, int64_t min_day) {
  for (size_t i = m->n; i-- > 0;)
    if (m->d[i].day < min_day) drop(m, i);
  if (day < min_day) return 0;
  size_t at = m->n;
  for (size_t i = 0; i < m->n; i++)
    if (m->d[i].day == day) at = i;
  if (at == m->n) {
    if (m->n == DDB_MANIFEST_DAYS) { /* evict the oldest day, unless this one is older */
      size_t old = 0;
      for (size_t i = 1; i < m->n; i++)
        if (m->d[i].day < m->d[old].day) old = i;
      if (m->d[old].day > day) return 0;
      drop(m, old);
      at = m->n;
    }
    memset(&m->d[at], 0, sizeof m->d[at]);
    m->d[at].day = day;
    m->n++;
  }
  return ddb_hset_put(&m->d[at].set, h, 0);
}

/* ---- scan memory ------------------------------------------------------------------- */

void ddb_scans_free(ddb_scans *s) {
  free(s->v);
  memset(s, 0, sizeof *s);
}

int ddb_scans_put(ddb_scans *s, dm_dayshard ds, int64_t tx) {
  for (size_t i = 0; i < s->n; i++) {
    if (s->v[i].ds.day == ds.day && s->v[i].ds.shard == ds.shard) {
      s->v[i].tx = tx;
      return 0;
    }
  }
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 16;
    struct ddb_scan *v = realloc(s->v, cap * sizeof *v);
    if (v == NULL) return DM_ENOMEM;
    s->v = v;
    s->cap = cap;
  }
  s->v[s->n++] = (struct ddb_scan){ds, tx};
  return 0;
}

int ddb_scans_take(ddb_scans *s, dm_dayshard ds, int64_t *tx) {
  for (size_t i = 0; i < s->n; i++) {
    if (s->v[i].ds.day == ds.day && s->v[i].ds.shard == ds.shard) {
      *tx = s->v[i].tx;
      s->v[i] = s->v[--s->n];
      return 1;
    }
  }
  return 0;
}

/* ---- names ------------------------------------------------------------------------- */

static int name_cmp(const void *a, const void *b) {
  const dm_name_ref *x = a, *y = b;
  size_t n = x->len < y->len ? x->len : y->len;
  int c = memcmp(x->s, y->s, n);
  return c != 0 ? c : (x->len > y->len) - (x->len < y->len);
}

size_t ddb_names_sort_unique(dm_name_ref *v, size_t n) {
  if (n == 0) return 0;
  qsort(v, n, sizeof *v, name_cmp);
  size_t w = 1;
  for (size_t i = 1; i < n; i++)
    if (name_cmp(&v[i], &v[w - 1]) != 0) v[w++] = v[i];
  return w;
}
