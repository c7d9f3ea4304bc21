/* batch.c — the point batch (arena of names + entries), its WAL wire form, and the two
 * point-array primitives every tier shares: stable sort with last-write-wins de-duplication
 * and the precedence merge of two sorted runs.
 */
#include <stdlib.h>
#include <string.h>

#include "diamond/error.h"
#include "diamond/point.h"

void dm_batch_init(dm_batch *b) { memset(b, 0, sizeof *b); }

void dm_batch_reset(dm_batch *b) {
  b->n = 0;
  b->names_len = 0;
}

void dm_batch_free(dm_batch *b) {
  free(b->e);
  free(b->names);
  memset(b, 0, sizeof *b);
}

static int grow_entries(dm_batch *b) {
  if (b->n < b->cap) return 0;
  size_t cap = b->cap ? b->cap * 2 : 64;
  dm_batch_entry *e = realloc(b->e, cap * sizeof *e);
  if (e == NULL) return DM_ENOMEM;
  b->e = e;
  b->cap = cap;
  return 0;
}

int dm_batch_add(dm_batch *b, const char *name, size_t name_len, int64_t t, double v) {
  if (name_len > UINT32_MAX || b->names_len + name_len > UINT32_MAX) return DM_ERANGE;
  if (grow_entries(b) < 0) return DM_ENOMEM;
  if (b->names_len + name_len > b->names_cap) {
    size_t cap = b->names_cap ? b->names_cap : 1024;
    while (cap < b->names_len + name_len) cap *= 2;
    char *p = realloc(b->names, cap);
    if (p == NULL) return DM_ENOMEM;
    b->names = p;
    b->names_cap = cap;
  }
  memcpy(b->names + b->names_len, name, name_len);
  b->e[b->n] = (dm_batch_entry){(uint32_t)b->names_len, (uint32_t)name_len, t, v};
  b->names_len += name_len;
  b->n++;
  return 0;
}

int dm_batch_add_same(dm_batch *b, size_t prev, int64_t t, double v) {
  if (prev >= b->n) return DM_EINVAL;
  if (grow_entries(b) < 0) return DM_ENOMEM;
  b->e[b->n] = (dm_batch_entry){b->e[prev].name_off, b->e[prev].name_len, t, v};
  b->n++;
  return 0;
}

/* ---- wire form ---- */

static size_t varint_size(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  *p++ = (uint8_t)v;
  return p;
}

/* The 10th byte holds bit 63 only: anything more is not a 64-bit value (refused, rather
 * than dropping the high bits, so each value has one wire form of each length). */
static int get_varint(const uint8_t **p, const uint8_t *end, uint64_t *out) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (*p >= end) return DM_ECORRUPT;
    uint8_t c = *(*p)++;
    if (shift == 63 && c > 1) return DM_ECORRUPT;
    v |= (uint64_t)(c & 0x7f) << shift;
    if (!(c & 0x80)) {
      *out = v;
      return 0;
    }
  }
  return DM_ECORRUPT;
}

static uint64_t zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static int64_t unzigzag(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

/* Consecutive entries with the same name (common: one name per host metric) are written
 * once: a name length of 0 means "same name as the previous entry". */
static int same_name(const dm_batch *b, size_t i) {
  return i > 0 && b->e[i].name_len == b->e[i - 1].name_len &&
         (b->e[i].name_off == b->e[i - 1].name_off ||
          memcmp(b->names + b->e[i].name_off, b->names + b->e[i - 1].name_off,
                 b->e[i].name_len) == 0);
}

size_t dm_batch_encoded_size(const dm_batch *b) {
  size_t n = varint_size(b->n);
  for (size_t i = 0; i < b->n; i++) {
    size_t nl = same_name(b, i) ? 0 : b->e[i].name_len;
    n += varint_size(nl) + nl + varint_size(zigzag(b->e[i].t)) + 8;
  }
  return n;
}

size_t dm_batch_encode(const dm_batch *b, uint8_t *out) {
  uint8_t *p = put_varint(out, b->n);
  for (size_t i = 0; i < b->n; i++) {
    size_t nl = same_name(b, i) ? 0 : b->e[i].name_len;
    p = put_varint(p, nl);
    memcpy(p, b->names + b->e[i].name_off, nl);
    p += nl;
    p = put_varint(p, zigzag(b->e[i].t));
    memcpy(p, &b->e[i].v, 8); /* little-endian hosts only: checked at build by the test */
    p += 8;
  }
  return (size_t)(p - out);
}

int dm_batch_decode(dm_batch *b, const uint8_t *in, size_t len) {
  const uint8_t *p = in, *end = in + len;
  uint64_t n, nl, zt;
  size_t first = b->n;
  int rc = get_varint(&p, end, &n);
  if (rc < 0) return rc;
  if (n > len) return DM_ECORRUPT; /* every entry takes at least 10 bytes */
  for (uint64_t i = 0; i < n; i++) {
    if ((rc = get_varint(&p, end, &nl)) < 0) goto fail;
    if (nl > (uint64_t)(end - p)) { rc = DM_ECORRUPT; goto fail; }
    const uint8_t *name = p;
    p += nl;
    if ((rc = get_varint(&p, end, &zt)) < 0) goto fail;
    if (end - p < 8) { rc = DM_ECORRUPT; goto fail; }
    double v;
    memcpy(&v, p, 8);
    p += 8;
    if (nl == 0) {
      if (b->n == first) { rc = DM_ECORRUPT; goto fail; }
      rc = dm_batch_add_same(b, b->n - 1, unzigzag(zt), v);
    } else {
      rc = dm_batch_add(b, (const char *)name, nl, unzigzag(zt), v);
    }
    if (rc < 0) goto fail;
  }
  if (p != end) { rc = DM_ECORRUPT; goto fail; }
  return 0;
fail:
  b->n = first; /* names appended stay in the arena, unreferenced: harmless */
  return rc;
}

/* ---- point arrays ---- */

static void merge_runs(const dm_point *a, size_t na, const dm_point *b, size_t nb, dm_point *out) {
  size_t i = 0, j = 0, k = 0;
  while (i < na && j < nb) out[k++] = (b[j].t < a[i].t) ? b[j++] : a[i++]; /* stable */
  while (i < na) out[k++] = a[i++];
  while (j < nb) out[k++] = b[j++];
}

static void stable_sort(dm_point *p, size_t n) {
  dm_point *tmp = malloc(n * sizeof *tmp);
  if (tmp == NULL) { /* insertion sort: stable, slow, only when memory is gone */
    for (size_t i = 1; i < n; i++) {
      dm_point x = p[i];
      size_t j = i;
      while (j > 0 && p[j - 1].t > x.t) {
        p[j] = p[j - 1];
        j--;
      }
      p[j] = x;
    }
    return;
  }
  dm_point *src = p, *dst = tmp;
  for (size_t width = 1; width < n; width *= 2) {
    for (size_t lo = 0; lo < n; lo += 2 * width) {
      size_t mid = lo + width < n ? lo + width : n;
      size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
      merge_runs(src + lo, mid - lo, src + mid, hi - mid, dst + lo);
    }
    dm_point *t = src;
    src = dst;
    dst = t;
  }
  if (src != p) memcpy(p, src, n * sizeof *p);
  free(tmp);
}

size_t dm_points_sort_dedup(dm_point *p, size_t n) {
  if (n < 2) return n;
  int sorted = 1, dups = 0;
  for (size_t i = 1; i < n; i++) {
    if (p[i].t < p[i - 1].t) { sorted = 0; break; }
    if (p[i].t == p[i - 1].t) dups = 1;
  }
  if (!sorted) stable_sort(p, n);
  else if (!dups) return n;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (k > 0 && p[k - 1].t == p[i].t) p[k - 1] = p[i]; /* later wins */
    else p[k++] = p[i];
  }
  return k;
}

size_t dm_points_merge(const dm_point *hi, size_t nhi, const dm_point *lo, size_t nlo,
                       dm_point *out) {
  size_t i = 0, j = 0, k = 0;
  while (i < nhi && j < nlo) {
    if (hi[i].t < lo[j].t) out[k++] = hi[i++];
    else if (lo[j].t < hi[i].t) out[k++] = lo[j++];
    else {
      out[k++] = hi[i++];
      j++;
    }
  }
  while (i < nhi) out[k++] = hi[i++];
  while (j < nlo) out[k++] = lo[j++];
  return k;
}
