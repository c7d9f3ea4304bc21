/* memory.h — the memory cache's structures, shared by memory.c (the ops) and index.c (the
 * series hash, the dirty buckets and the WAL segment counts). Internal to src/cache; the
 * design is described at the top of memory.c.
 */
#ifndef DIAMOND_CACHE_MEMORY_H
#define DIAMOND_CACHE_MEMORY_H

#include <stddef.h>
#include <stdint.h>

#include "diamond/cache.h"
#include "window.h"

/* Window states; the transitions are listed at the top of memory.c. */
enum { W_DIRTY = 1, W_FLUSHING = 2 };

#define TAB_MIN 16u

typedef struct series series;
typedef struct take take;

typedef struct window {
  int64_t start;
  series *s;
  struct window *prev, *next; /* bucket list while DIRTY */
  take *take;                 /* the snapshot block while FLUSHING */
  uint64_t seg;               /* lowest WAL seg of unflushed points (counted in m->segs) */
  uint64_t seg_after;         /* FLUSHING: lowest seg appended since; UINT64_MAX: none */
  dm_cache_win pts;
  uint8_t state;
} window;

struct series {
  uint64_t hash;
  window **w; /* sorted by start; points to inl until more than 2 */
  window *inl[2];
  uint32_t nw, capw, len;
  char name[]; /* NUL-terminated */
};

typedef struct bucket {
  int64_t start;
  window *head, *tail;
} bucket;

typedef struct segcount {
  uint64_t seg, n;
} segcount;

struct take {
  take *prev, *next; /* blocks not yet fully released */
  take *free_next;
  size_t live, bytes;
  dm_window_snap snaps[]; /* then the points */
};

typedef struct mem {
  dm_cache base;
  uint32_t nslots; /* window / step */
  series **tab;
  size_t tab_cap, nseries;
  bucket *bk;
  size_t nbk, capbk;
  segcount *segs;
  size_t nsegs, capsegs;
  take *takes;
  uint64_t nwindows, nflushing;
  dm_cache_acct acct;
} mem;

/* index.c: the series hash (name -> series), linear probing, backward-shift delete. */
uint64_t dm_cache_name_hash(const char *s, size_t len);
series *dm_cache_tab_get(const mem *m, const char *name, size_t len, uint64_t h, size_t *slot);
int dm_cache_tab_resize(mem *m, size_t cap);
int dm_cache_series_get(mem *m, const char *name, size_t len, uint64_t h, series **out);
/* Unhashes and frees a series (its windows are gone); shrinks the table when sparse. */
void dm_cache_series_free(mem *m, series *s);

/* index.c: windows of a series. window_get finds or creates (DIRTY under seg); window_drop
 * frees one that is in no bucket, and its series with its last window; note_seg records
 * that points of WAL segment seg are (about to be) in w. */
int dm_cache_window_get(mem *m, series *s, int64_t start, uint64_t seg, window **out);
void dm_cache_window_drop(mem *m, window *w);
int dm_cache_window_note_seg(mem *m, window *w, uint64_t seg);

/* index.c: dirty buckets (sorted window starts -> FIFO of DIRTY windows). bucket_add marks
 * w DIRTY and needs one reserved bucket slot. */
int dm_cache_bucket_reserve(mem *m, size_t extra);
void dm_cache_bucket_add(mem *m, window *w);
void dm_cache_bucket_remove(mem *m, window *w);

/* index.c: WAL segment -> number of windows whose lowest unflushed segment it is. seg_move
 * fails only when `to` is new and unreserved memory runs out (nothing changed then). */
int dm_cache_seg_reserve(mem *m, size_t extra);
int dm_cache_seg_move(mem *m, window *w, uint64_t to);

/* Gives back most of an array that has become mostly empty, all of an empty one (counted
 * in m->acct). */
void dm_cache_shrink(mem *m, void **p, size_t *cap, size_t n, size_t elsz);

#endif
