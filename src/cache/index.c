/* index.c — the memory cache's indexes: the series hash table, each series' sorted array of
 * windows, the buckets of dirty windows by start (what take_ready walks) and the counts of
 * windows per lowest WAL segment (what stats.min_wal_seg reads). See memory.c.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "diamond/error.h"
#include "memory.h"

/* The name hash of the series table: 8 bytes a round, then a murmur3 finalizer so the low
 * bits (the slot) depend on every byte. Internal only (never stored), so it may change.
 * FNV-1a (a dependent multiply per byte) cost ~30 ns more a point on the 100k-series load
 * of test_cache_model. */
uint64_t dm_cache_name_hash(const char *s, size_t len) {
  uint64_t h = 0x9e3779b97f4a7c15ull ^ len;
  for (; len >= 8; s += 8, len -= 8) {
    uint64_t x;
    memcpy(&x, s, 8);
    h = (h ^ x) * 0xff51afd7ed558ccdull;
    h ^= h >> 32;
  }
  uint64_t x = 0;
  for (size_t i = 0; i < len; i++) x |= (uint64_t)(unsigned char)s[i] << (8 * i);
  h ^= x;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

/* Grows an array to hold `need` elements, counting the bytes. */
static int reserve(mem *m, void **p, size_t *cap, size_t need, size_t elsz) {
  if (need <= *cap) return 0;
  size_t ncap = *cap ? *cap : 4;
  while (ncap < need) ncap *= 2;
  void *q = realloc(*p, ncap * elsz);
  if (q == NULL) return DM_ENOMEM;
  m->acct.bytes += (ncap - *cap) * elsz;
  *p = q;
  *cap = ncap;
  return 0;
}

/* Gives back most of an array that has become mostly empty, all of an empty one. */
void dm_cache_shrink(mem *m, void **p, size_t *cap, size_t n, size_t elsz) {
  if (n == 0) {
    free(*p);
    m->acct.bytes -= *cap * elsz;
    *p = NULL;
    *cap = 0;
    return;
  }
  size_t ncap = *cap;
  while (ncap > 16 && n * 4 <= ncap) ncap /= 2;
  if (ncap == *cap) return;
  void *q = realloc(*p, ncap * elsz);
  if (q == NULL) return;
  m->acct.bytes -= (*cap - ncap) * elsz;
  *p = q;
  *cap = ncap;
}

/* ---- WAL segment counts ---- */

static size_t seg_find(const mem *m, uint64_t seg) {
  size_t lo = 0, hi = m->nsegs;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (m->segs[mid].seg < seg)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

int dm_cache_seg_reserve(mem *m, size_t extra) {
  return reserve(m, (void **)&m->segs, &m->capsegs, m->nsegs + extra, sizeof *m->segs);
}

static int seg_inc(mem *m, uint64_t seg) {
  size_t i = seg_find(m, seg);
  if (i < m->nsegs && m->segs[i].seg == seg) {
    m->segs[i].n++;
    return 0;
  }
  int rc = dm_cache_seg_reserve(m, 1);
  if (rc < 0) return rc;
  memmove(m->segs + i + 1, m->segs + i, (m->nsegs - i) * sizeof *m->segs);
  m->segs[i] = (segcount){seg, 1};
  m->nsegs++;
  return 0;
}

static void seg_dec(mem *m, uint64_t seg) {
  size_t i = seg_find(m, seg);
  assert(i < m->nsegs && m->segs[i].seg == seg && m->segs[i].n > 0);
  if (--m->segs[i].n == 0) {
    memmove(m->segs + i, m->segs + i + 1, (m->nsegs - i - 1) * sizeof *m->segs);
    m->nsegs--;
  }
}

/* Moves a window's count to another segment; fails only when `to` is new and there is no
 * memory (nothing changed then). */
int dm_cache_seg_move(mem *m, window *w, uint64_t to) {
  if (to == w->seg) return 0;
  int rc = seg_inc(m, to);
  if (rc < 0) return rc;
  seg_dec(m, w->seg);
  w->seg = to;
  return 0;
}

/* ---- dirty buckets ---- */

static size_t bucket_find(const mem *m, int64_t start) {
  size_t lo = 0, hi = m->nbk;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (m->bk[mid].start < start)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

int dm_cache_bucket_reserve(mem *m, size_t extra) {
  return reserve(m, (void **)&m->bk, &m->capbk, m->nbk + extra, sizeof *m->bk);
}

/* Marks w DIRTY and queues it; needs one free bucket slot (bucket_reserve). */
void dm_cache_bucket_add(mem *m, window *w) {
  size_t i = bucket_find(m, w->start);
  if (i == m->nbk || m->bk[i].start != w->start) {
    assert(m->nbk < m->capbk);
    memmove(m->bk + i + 1, m->bk + i, (m->nbk - i) * sizeof *m->bk);
    m->bk[i] = (bucket){w->start, NULL, NULL};
    m->nbk++;
  }
  bucket *b = &m->bk[i];
  w->state = W_DIRTY;
  w->next = NULL;
  w->prev = b->tail;
  if (b->tail)
    b->tail->next = w;
  else
    b->head = w;
  b->tail = w;
}

void dm_cache_bucket_remove(mem *m, window *w) {
  assert(w->state == W_DIRTY);
  size_t i = bucket_find(m, w->start);
  assert(i < m->nbk && m->bk[i].start == w->start);
  bucket *b = &m->bk[i];
  if (w->prev)
    w->prev->next = w->next;
  else
    b->head = w->next;
  if (w->next)
    w->next->prev = w->prev;
  else
    b->tail = w->prev;
  w->prev = w->next = NULL;
  if (b->head == NULL) {
    memmove(m->bk + i, m->bk + i + 1, (m->nbk - i - 1) * sizeof *m->bk);
    m->nbk--;
  }
}

/* ---- series hash ---- */

series *dm_cache_tab_get(const mem *m, const char *name, size_t len, uint64_t h, size_t *slot) {
  size_t mask = m->tab_cap - 1, i = h & mask;
  for (series *s; (s = m->tab[i]) != NULL; i = (i + 1) & mask) {
    if (s->hash == h && s->len == len && memcmp(s->name, name, len) == 0) {
      *slot = i;
      return s;
    }
  }
  *slot = i;
  return NULL;
}

int dm_cache_tab_resize(mem *m, size_t cap) {
  series **t = calloc(cap, sizeof *t);
  if (t == NULL) return DM_ENOMEM;
  for (size_t i = 0; i < m->tab_cap; i++) {
    series *s = m->tab[i];
    if (s == NULL) continue;
    size_t j = s->hash & (cap - 1);
    while (t[j] != NULL) j = (j + 1) & (cap - 1);
    t[j] = s;
  }
  free(m->tab);
  m->acct.bytes += cap * sizeof *t;
  m->acct.bytes -= m->tab_cap * sizeof *t;
  m->tab = t;
  m->tab_cap = cap;
  return 0;
}

/* Removes s from the hash by backward shift (no tombstones) and frees it. */
void dm_cache_series_free(mem *m, series *s) {
  size_t mask = m->tab_cap - 1, i;
  series *found = dm_cache_tab_get(m, s->name, s->len, s->hash, &i);
  assert(found == s);
  (void)found;
  for (size_t j = i;;) {
    j = (j + 1) & mask;
    series *t = m->tab[j];
    if (t == NULL) break;
    size_t home = t->hash & mask;
    /* t may move to i when its home is not within (i, j] cyclically */
    int between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
    if (!between) {
      m->tab[i] = t;
      i = j;
    }
  }
  m->tab[i] = NULL;
  m->nseries--;
  if (s->w != s->inl) {
    free(s->w);
    m->acct.bytes -= s->capw * sizeof *s->w;
  }
  m->acct.bytes -= sizeof *s + s->len + 1;
  free(s);
  if (m->tab_cap > TAB_MIN && m->nseries * 8 < m->tab_cap)
    (void)dm_cache_tab_resize(m, m->tab_cap / 2);
}

int dm_cache_series_get(mem *m, const char *name, size_t len, uint64_t h, series **out) {
  size_t slot;
  series *s = dm_cache_tab_get(m, name, len, h, &slot);
  if (s != NULL) {
    *out = s;
    return 0;
  }
  if ((m->nseries + 1) * 10 > m->tab_cap * 7) {
    int rc = dm_cache_tab_resize(m, m->tab_cap * 2);
    if (rc < 0) return rc;
    dm_cache_tab_get(m, name, len, h, &slot);
  }
  s = malloc(sizeof *s + len + 1);
  if (s == NULL) return DM_ENOMEM;
  memset(s, 0, sizeof *s);
  s->hash = h;
  s->w = s->inl;
  s->capw = 2;
  s->len = (uint32_t)len;
  memcpy(s->name, name, len);
  s->name[len] = '\0';
  m->acct.bytes += sizeof *s + len + 1;
  m->tab[slot] = s;
  m->nseries++;
  *out = s;
  return 0;
}

/* ---- windows ---- */

static int series_reserve_window(mem *m, series *s) {
  if (s->nw < s->capw) return 0;
  size_t cap = (size_t)s->capw * 2;
  window **w = malloc(cap * sizeof *w);
  if (w == NULL) return DM_ENOMEM;
  memcpy(w, s->w, s->nw * sizeof *w);
  if (s->w != s->inl) {
    free(s->w);
    m->acct.bytes -= s->capw * sizeof *w;
  }
  m->acct.bytes += cap * sizeof *w;
  s->w = w;
  s->capw = (uint32_t)cap;
  return 0;
}

/* Finds or creates the window of s starting at start; a new one is DIRTY under seg. */
int dm_cache_window_get(mem *m, series *s, int64_t start, uint64_t seg, window **out) {
  uint32_t i = s->nw;
  while (i > 0 && s->w[i - 1]->start > start) i--;
  if (i > 0 && s->w[i - 1]->start == start) {
    *out = s->w[i - 1];
    return 0;
  }
  int rc;
  if ((rc = series_reserve_window(m, s)) < 0 || (rc = dm_cache_bucket_reserve(m, 1)) < 0 ||
      (rc = dm_cache_seg_reserve(m, 1)) < 0)
    return rc;
  window *w = calloc(1, sizeof *w);
  if (w == NULL) return DM_ENOMEM;
  m->acct.bytes += sizeof *w;
  w->start = start;
  w->s = s;
  w->seg = seg;
  w->seg_after = UINT64_MAX;
  (void)seg_inc(m, seg); /* reserved: cannot fail */
  dm_cache_bucket_add(m, w);
  memmove(s->w + i + 1, s->w + i, (s->nw - i) * sizeof *s->w);
  s->w[i] = w;
  s->nw++;
  m->nwindows++;
  *out = w;
  return 0;
}

/* Frees a window (not in a bucket, not flushing) and its series when it was the last. */
void dm_cache_window_drop(mem *m, window *w) {
  assert(w->state != W_DIRTY || (w->prev == NULL && w->next == NULL));
  series *s = w->s;
  uint32_t i = 0;
  while (s->w[i] != w) i++;
  memmove(s->w + i, s->w + i + 1, (s->nw - i - 1) * sizeof *s->w);
  s->nw--;
  seg_dec(m, w->seg);
  dm_cache_win_free(&w->pts, m->nslots, &m->acct);
  m->acct.bytes -= sizeof *w;
  m->nwindows--;
  free(w);
  if (s->nw == 0) dm_cache_series_free(m, s);
}

/* Records that points of WAL segment seg are (about to be) in w. */
int dm_cache_window_note_seg(mem *m, window *w, uint64_t seg) {
  if (seg < w->seg) {
    int rc = dm_cache_seg_move(m, w, seg);
    if (rc < 0) return rc;
  }
  if (w->state == W_FLUSHING && seg < w->seg_after) w->seg_after = seg;
  return 0;
}
