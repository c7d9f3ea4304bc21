/* name_index.c — every series name the server knows, for metric-name listings and glob
 * expansion: an open-addressing hash set (membership on the ingest path, one probe per new
 * name in a batch) plus an array of the same strings sorted lazily when a listing needs it.
 * The listing runs on the loop thread, so only the names added since the last listing are
 * sorted, then merged into the sorted run in place: O(new log new + all), not a full sort
 * of every name each time a listing follows new names.
 */
#include <stdlib.h>
#include <string.h>

#include "diamond/error.h"
#include "diamond/names.h"
#include "engine_int.h"

typedef struct name {
  uint64_t hash;
  uint32_t len;
  char s[]; /* NUL-terminated */
} name;

struct dm_name_index {
  name **slots; /* hash set, power-of-two size */
  size_t nslots, count;
  name **sorted; /* all names; sorted[0..nsorted) is in order, the rest appended */
  size_t nsorted, cap_sorted;
};

int dm_name_index_new(dm_name_index **out) {
  dm_name_index *ix = calloc(1, sizeof *ix);
  if (ix == NULL) return DM_ENOMEM;
  ix->nslots = 1024;
  ix->slots = calloc(ix->nslots, sizeof *ix->slots);
  if (ix->slots == NULL) {
    free(ix);
    return DM_ENOMEM;
  }
  *out = ix;
  return 0;
}

static int grow(dm_name_index *ix) {
  size_t n = ix->nslots * 2;
  name **slots = calloc(n, sizeof *slots);
  if (slots == NULL) return DM_ENOMEM;
  for (size_t i = 0; i < ix->nslots; i++) {
    name *x = ix->slots[i];
    if (x == NULL) continue;
    size_t j = x->hash & (n - 1);
    while (slots[j] != NULL) j = (j + 1) & (n - 1);
    slots[j] = x;
  }
  free(ix->slots);
  ix->slots = slots;
  ix->nslots = n;
  return 0;
}

int dm_name_index_add(dm_name_index *ix, const char *s, size_t len) {
  uint64_t h = dm_name_hash(s, len);
  size_t j = h & (ix->nslots - 1);
  for (name *x; (x = ix->slots[j]) != NULL; j = (j + 1) & (ix->nslots - 1))
    if (x->hash == h && x->len == len && memcmp(x->s, s, len) == 0) return 0;
  if ((ix->count + 1) * 4 > ix->nslots * 3) {
    if (grow(ix) < 0) return DM_ENOMEM;
    return dm_name_index_add(ix, s, len);
  }
  if (ix->count == ix->cap_sorted) {
    size_t cap = ix->cap_sorted ? ix->cap_sorted * 2 : 1024;
    name **p = realloc(ix->sorted, cap * sizeof *p);
    if (p == NULL) return DM_ENOMEM;
    ix->sorted = p;
    ix->cap_sorted = cap;
  }
  name *x = malloc(sizeof *x + len + 1);
  if (x == NULL) return DM_ENOMEM;
  x->hash = h;
  x->len = (uint32_t)len;
  memcpy(x->s, s, len);
  x->s[len] = '\0';
  ix->slots[j] = x;
  ix->sorted[ix->count++] = x;
  return 1;
}

static int cmp_name(const void *a, const void *b) {
  const name *x = *(name *const *)a, *y = *(name *const *)b;
  return strcmp(x->s, y->s);
}

/* Sorts sorted[nsorted..count) and merges it into sorted[0..nsorted), from the back. */
static void sort_new(dm_name_index *ix) {
  size_t old = ix->nsorted, k = ix->count - old;
  name **tail = old > 0 ? malloc(k * sizeof *tail) : NULL;
  if (tail == NULL) { /* nothing sorted yet, or no memory for the merge */
    qsort(ix->sorted, ix->count, sizeof *ix->sorted, cmp_name);
    ix->nsorted = ix->count;
    return;
  }
  qsort(ix->sorted + old, k, sizeof *ix->sorted, cmp_name);
  memcpy(tail, ix->sorted + old, k * sizeof *tail);
  size_t i = old, j = k, out = ix->count;
  while (j > 0) {
    if (i > 0 && cmp_name(&ix->sorted[i - 1], &tail[j - 1]) > 0)
      ix->sorted[--out] = ix->sorted[--i];
    else
      ix->sorted[--out] = tail[--j];
  }
  free(tail);
  ix->nsorted = ix->count;
}

void dm_name_index_prefix(dm_name_index *ix, const char *prefix, size_t len,
                          void (*fn)(void *arg, const char *name, size_t len), void *arg) {
  if (ix->nsorted < ix->count) sort_new(ix);
  size_t lo = 0, hi = ix->count; /* first name >= prefix */
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    const name *x = ix->sorted[mid];
    size_t m = x->len < len ? x->len : len;
    int c = memcmp(x->s, prefix, m);
    if (c < 0 || (c == 0 && x->len < len)) lo = mid + 1;
    else hi = mid;
  }
  for (size_t i = lo; i < ix->count; i++) {
    const name *x = ix->sorted[i];
    if (x->len < len || memcmp(x->s, prefix, len) != 0) break;
    fn(arg, x->s, x->len);
  }
}

/* Index of the first name after i that does not start with sorted[i]'s first k bytes. The
 * names sharing that prefix are contiguous from i on; the next one usually differs already,
 * so gallop before bisecting. */
static size_t skip_prefix(const dm_name_index *ix, size_t i, size_t k) {
  const name *x = ix->sorted[i];
  size_t lo = i + 1, step = 1, hi;
  for (;;) { /* invariant: every name in (i, lo) shares the prefix */
    hi = lo + step - 1;
    if (hi >= ix->count) {
      hi = ix->count;
      break;
    }
    const name *y = ix->sorted[hi];
    if (y->len < k || memcmp(y->s, x->s, k) != 0) break;
    lo = hi + 1;
    step *= 2;
  }
  while (lo < hi) { /* first name in [lo, hi) not sharing the prefix; hi does not or is end */
    size_t mid = lo + (hi - lo) / 2;
    const name *y = ix->sorted[mid];
    if (y->len >= k && memcmp(y->s, x->s, k) == 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

static int cmp_key(const name *x, const char *key, size_t len) {
  size_t m = x->len < len ? x->len : len;
  int c = memcmp(x->s, key, m);
  return c != 0 ? c : x->len < len ? -1 : x->len > len;
}

/* Index of the first name after i that is >= key (key > sorted[i]). A seek usually lands a
 * few names ahead (the next host's "m7" of "host.*.m7"), so gallop before bisecting. */
static size_t seek_key(const dm_name_index *ix, size_t i, const char *key, size_t len) {
  size_t lo = i + 1, step = 1, hi;
  for (;;) { /* invariant: every name in (i, lo) is < key */
    hi = lo + step - 1;
    if (hi >= ix->count) {
      hi = ix->count;
      break;
    }
    if (cmp_key(ix->sorted[hi], key, len) >= 0) break;
    lo = hi + 1;
    step *= 2;
  }
  while (lo < hi) { /* first name in [lo, hi) >= key; hi is >= key or the end */
    size_t mid = lo + (hi - lo) / 2;
    if (cmp_key(ix->sorted[mid], key, len) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

void dm_engine_names_walk(dm_engine *e, const char *prefix, size_t len,
                          size_t (*fn)(void *arg, const char *name, size_t len), void *arg,
                          const dm_names_seek *seek) {
  dm_name_index *ix = e->names;
  if (ix->nsorted < ix->count) sort_new(ix);
  size_t lo = 0, hi = ix->count; /* first name >= prefix */
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    const name *x = ix->sorted[mid];
    size_t m = x->len < len ? x->len : len;
    int c = memcmp(x->s, prefix, m);
    if (c < 0 || (c == 0 && x->len < len)) lo = mid + 1;
    else hi = mid;
  }
  for (size_t i = lo; i < ix->count;) {
    const name *x = ix->sorted[i];
    if (x->len < len || memcmp(x->s, prefix, len) != 0) break;
    size_t k = fn(arg, x->s, x->len);
    if (k == DM_NAMES_STOP) break;
    if (k == DM_NAMES_SEEK) i = seek_key(ix, i, seek->key, seek->len);
    else i = k == 0 ? i + 1 : skip_prefix(ix, i, k > x->len ? x->len : k);
  }
}

size_t dm_name_index_count(const dm_name_index *ix) { return ix->count; }

void dm_name_index_free(dm_name_index *ix) {
  if (ix == NULL) return;
  for (size_t i = 0; i < ix->count; i++) free(ix->sorted[i]);
  free(ix->sorted);
  free(ix->slots);
  free(ix);
}
