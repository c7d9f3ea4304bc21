/* window.c — one memory-cache window's points: an append log that turns into a dense slot
 * array when that is smaller (see memory.c for the reasoning and the numbers).
 *
 * Log: val[cap] doubles followed by off[cap] uint32 slot offsets, in append order. While
 * the offsets arrive strictly increasing (the usual case: agents send in time order) the
 * log is known sorted and never needs sorting. An out-of-order or repeated offset clears
 * `sorted`; compaction then sorts by (offset, append index) and keeps the last entry per
 * offset, which is last-write-wins. Compaction runs lazily: on read, on snapshot, and when
 * the log is full (before growing, so overwrites do not grow it without bound).
 *
 * Dense: val[nslots] followed by a presence bitmap. A put is a store and a bit set; the
 * slot order is the time order, so nothing is ever sorted.
 */
#include "window.h"

#include <stdlib.h>
#include <string.h>

#include "diamond/error.h"

#define LOG_MIN_CAP 4u
#define SMALL_SORT 32u /* logs up to this long are sorted in place */

static size_t dense_words(uint32_t nslots) { return ((size_t)nslots + 63) / 64; }
static size_t dense_bytes(uint32_t nslots) {
  return (size_t)nslots * sizeof(double) + dense_words(nslots) * sizeof(uint64_t);
}
static size_t log_bytes(uint32_t cap) { return (size_t)cap * (sizeof(double) + sizeof(uint32_t)); }
static uint32_t *log_off(const dm_cache_win *w) { return (uint32_t *)(w->val + w->cap); }
static uint64_t *dense_bits(const dm_cache_win *w, uint32_t nslots) {
  return (uint64_t *)(w->val + nslots);
}

static int dense_set(dm_cache_win *w, uint32_t nslots, uint32_t off, double v) {
  uint64_t *bits = dense_bits(w, nslots);
  uint64_t m = (uint64_t)1 << (off & 63);
  int added = !(bits[off >> 6] & m);
  bits[off >> 6] |= m;
  w->val[off] = v;
  return added;
}

typedef struct ent {
  uint64_t key; /* offset << 32 | append index: sorting by key is a stable sort by offset */
  double v;
} ent;

static int ent_cmp(const void *a, const void *b) {
  uint64_t x = ((const ent *)a)->key, y = ((const ent *)b)->key;
  return (x > y) - (x < y);
}

/* Stable in-place insertion sort of the parallel arrays: for small logs (faster than
 * malloc + qsort there) and the fallback when there is no memory for the temporary array. */
static void sort_in_place(uint32_t *off, double *val, uint32_t n) {
  for (uint32_t i = 1; i < n; i++) {
    uint32_t o = off[i];
    double v = val[i];
    uint32_t j = i;
    while (j > 0 && off[j - 1] > o) {
      off[j] = off[j - 1];
      val[j] = val[j - 1];
      j--;
    }
    off[j] = o;
    val[j] = v;
  }
}

void dm_cache_win_compact(dm_cache_win *w, dm_cache_acct *a) {
  if (w->dense || w->sorted) return;
  uint32_t *off = log_off(w);
  uint32_t n = w->n, k = 0;
  ent *tmp = n > SMALL_SORT ? malloc((size_t)n * sizeof *tmp) : NULL;
  if (tmp != NULL) {
    for (uint32_t i = 0; i < n; i++) tmp[i] = (ent){(uint64_t)off[i] << 32 | i, w->val[i]};
    qsort(tmp, n, sizeof *tmp, ent_cmp);
    for (uint32_t i = 0; i < n; i++) {
      if (i + 1 < n && tmp[i + 1].key >> 32 == tmp[i].key >> 32) continue;
      off[k] = (uint32_t)(tmp[i].key >> 32);
      w->val[k++] = tmp[i].v;
    }
    free(tmp);
  } else {
    sort_in_place(off, w->val, n);
    for (uint32_t i = 0; i < n; i++) {
      if (i + 1 < n && off[i + 1] == off[i]) continue;
      off[k] = off[i];
      w->val[k++] = w->val[i];
    }
  }
  a->points -= n - k;
  w->n = k;
  w->last = k ? off[k - 1] : 0;
  w->sorted = 1;
}

static int to_dense(dm_cache_win *w, uint32_t nslots, dm_cache_acct *a) {
  dm_cache_win d = {0};
  d.val = calloc(1, dense_bytes(nslots));
  if (d.val == NULL) return DM_ENOMEM;
  d.dense = 1;
  const uint32_t *off = log_off(w);
  for (uint32_t i = 0; i < w->n; i++) d.n += (uint32_t)dense_set(&d, nslots, off[i], w->val[i]);
  a->bytes += dense_bytes(nslots);
  a->bytes -= log_bytes(w->cap);
  a->points -= w->n - d.n;
  free(w->val);
  *w = d;
  return 0;
}

/* Makes room for one more log entry: compact if that frees a quarter of the log, else
 * grow it, or go dense once a bigger log would cost as much as the dense array. */
static int make_room(dm_cache_win *w, uint32_t nslots, dm_cache_acct *a) {
  if (!w->sorted) {
    dm_cache_win_compact(w, a);
    if (w->n < w->cap && (uint64_t)w->n * 4 <= (uint64_t)w->cap * 3) return 0;
  }
  uint64_t ncap = w->cap ? (uint64_t)w->cap * 2 : LOG_MIN_CAP;
  if (ncap * (sizeof(double) + sizeof(uint32_t)) >= dense_bytes(nslots))
    return to_dense(w, nslots, a);
  double *p = malloc(log_bytes((uint32_t)ncap));
  if (p == NULL) return DM_ENOMEM;
  if (w->n) {
    memcpy(p, w->val, (size_t)w->n * sizeof(double));
    memcpy(p + ncap, log_off(w), (size_t)w->n * sizeof(uint32_t));
  }
  free(w->val);
  a->bytes += log_bytes((uint32_t)ncap);
  a->bytes -= log_bytes(w->cap);
  w->val = p;
  w->cap = (uint32_t)ncap;
  return 0;
}

int dm_cache_win_put(dm_cache_win *w, uint32_t nslots, uint32_t off, double v, dm_cache_acct *a) {
  if (!w->dense && w->n == w->cap) {
    int rc = make_room(w, nslots, a);
    if (rc < 0) return rc;
  }
  if (w->dense) {
    int added = dense_set(w, nslots, off, v);
    w->n += (uint32_t)added;
    a->points += (uint64_t)added;
    return 0;
  }
  if (w->n == 0)
    w->sorted = 1;
  else if (off <= w->last)
    w->sorted = 0;
  log_off(w)[w->n] = off;
  w->val[w->n++] = v;
  w->last = off;
  a->points++;
  return 0;
}

void dm_cache_win_prefetch(const dm_cache_win *w, uint32_t nslots, uint32_t off) {
  if (w->val == NULL) return;
  if (w->dense) {
    __builtin_prefetch(&dense_bits(w, nslots)[off >> 6], 1);
    __builtin_prefetch(&w->val[off], 1);
  } else if (w->n < w->cap) {
    __builtin_prefetch(&w->val[w->n], 1);
    __builtin_prefetch(&log_off(w)[w->n], 1);
  }
}

size_t dm_cache_win_copy(dm_cache_win *w, uint32_t nslots, int64_t start, int64_t step,
                         int64_t from, int64_t until, dm_point *out, dm_cache_acct *a) {
  size_t k = 0;
  if (w->dense) {
    const uint64_t *bits = dense_bits(w, nslots);
    for (size_t i = 0; i < dense_words(nslots); i++) {
      for (uint64_t x = bits[i]; x; x &= x - 1) {
        uint32_t off = (uint32_t)(i * 64 + (size_t)__builtin_ctzll(x));
        int64_t t = start + (int64_t)off * step;
        if (t >= from && t <= until) out[k++] = (dm_point){t, w->val[off]};
      }
    }
    return k;
  }
  dm_cache_win_compact(w, a);
  const uint32_t *off = log_off(w);
  for (uint32_t i = 0; i < w->n; i++) {
    int64_t t = start + (int64_t)off[i] * step;
    if (t >= from && t <= until) out[k++] = (dm_point){t, w->val[i]};
  }
  return k;
}

int dm_cache_win_last(dm_cache_win *w, uint32_t nslots, int64_t start, int64_t step, dm_point *out,
                      dm_cache_acct *a) {
  if (w->n == 0) return DM_ENOENT;
  uint32_t off;
  double v;
  if (w->dense) {
    const uint64_t *bits = dense_bits(w, nslots);
    size_t i = dense_words(nslots);
    while (bits[i - 1] == 0) i--; /* n > 0: some bit is set */
    off = (uint32_t)((i - 1) * 64 + 63 - (size_t)__builtin_clzll(bits[i - 1]));
    v = w->val[off];
  } else {
    dm_cache_win_compact(w, a);
    off = log_off(w)[w->n - 1];
    v = w->val[w->n - 1];
  }
  *out = (dm_point){start + (int64_t)off * step, v};
  return 0;
}

void dm_cache_win_free(dm_cache_win *w, uint32_t nslots, dm_cache_acct *a) {
  if (w->val != NULL) a->bytes -= w->dense ? dense_bytes(nslots) : log_bytes(w->cap);
  a->points -= w->n;
  free(w->val);
  memset(w, 0, sizeof *w);
}
