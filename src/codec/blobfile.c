/* blobfile.c — writer and reader of the cold-tier object (layout in blobfile.h).
 *
 * The writer appends each chunk to the growing object at once (so the object is built in
 * one buffer, without a second copy of the chunks) and remembers an entry per series; a
 * small open-addressing hash of the names rejects a repeated series at add time. finish()
 * sorts the entries by name, serialises them, compresses them with LZ4 right after the
 * chunks and appends the footer.
 *
 * The reader trusts nothing: the footer has its own CRC, the index bytes are checked
 * against the footer's CRC before LZ4 sees them, the decompressed size must match exactly,
 * names must strictly increase (which also makes the binary search correct) and every chunk
 * must lie between the header and the index. Each chunk carries its own CRC, checked by the
 * caller after the ranged read.
 */
#include "diamond/blobfile.h"

#include <limits.h>
#include <lz4.h>
#include <stdlib.h>
#include <string.h>

#include "diamond/crc.h"
#include "diamond/error.h"
#include "varint.h"

static const uint8_t head_magic[4] = {'D', 'M', 'B', '1'};
static const uint8_t foot_magic[4] = {'D', 'M', 'B', 'F'};
/* the smallest serialised entry: 1-byte name, every varint 1 byte, the CRC */
#define MIN_ENTRY (1 + 1 + 1 + 1 + 1 + 1 + 1 + 4)
/* LZ4 expands a block at most ~255 times: a larger claimed raw size is a lie, and must not
 * make us allocate it */
#define MAX_RATIO 255

/* footer fields that do not depend on the object around them */
static int footer_sane(const dm_blobfile_footer *f) {
  if (f->index_off < DM_BLOBFILE_HEADER || f->index_off > UINT64_MAX / 2) return 0;
  if (f->index_len == 0 || f->index_len > INT_MAX || f->index_raw_len > LZ4_MAX_INPUT_SIZE)
    return 0;
  if (f->index_raw_len > (uint64_t)f->index_len * MAX_RATIO + 16) return 0;
  return (uint64_t)f->entries * MIN_ENTRY <= f->index_raw_len;
}

static void put_le32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put_le64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get_le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get_le64(const uint8_t *p) {
  return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

static int cmp_name(const char *a, size_t an, const char *b, size_t bn) {
  int c = memcmp(a, b, an < bn ? an : bn);
  if (c != 0) return c;
  return an < bn ? -1 : an > bn;
}

/* grows *p (elements of `elem` bytes) to hold at least `need` */
static int grow(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return 0;
  size_t c = *cap > 0 ? *cap : 64;
  while (c < need) {
    if (c > SIZE_MAX / 4 / elem) return DM_ENOMEM;
    c *= 2;
  }
  void *q = realloc(*p, c * elem);
  if (q == NULL) return DM_ENOMEM;
  *p = q;
  *cap = c;
  return 0;
}

/* ---- writer ---- */

typedef struct wentry {
  size_t name_off;
  uint32_t name_len, len, count, crc;
  uint64_t off;
  int64_t first, last;
} wentry;

struct dm_blobfile_writer {
  uint8_t *buf; /* header + chunks, later the whole object */
  size_t len, cap;
  char *names;
  size_t names_len, names_cap;
  wentry *e;
  size_t n, ecap;
  uint32_t *slots; /* entry index + 1; 0 = empty; nslots is a power of two */
  size_t nslots;
  int done;
};

int dm_blobfile_writer_new(dm_blobfile_writer **out) {
  dm_blobfile_writer *w = calloc(1, sizeof *w);
  if (w == NULL) return DM_ENOMEM;
  if (grow((void **)&w->buf, &w->cap, 4096, 1) < 0) goto fail;
  memcpy(w->buf, head_magic, 4);
  w->buf[4] = DM_BLOBFILE_VERSION;
  w->buf[5] = w->buf[6] = w->buf[7] = 0;
  w->len = DM_BLOBFILE_HEADER;
  *out = w;
  return 0;
fail:
  free(w);
  return DM_ENOMEM;
}

static size_t slot_of(const dm_blobfile_writer *w, const char *name, size_t len, int *found) {
  size_t mask = w->nslots - 1, i = dm_crc32c(0, name, len) & mask;
  for (;;) {
    uint32_t s = w->slots[i];
    if (s == 0) break;
    const wentry *e = &w->e[s - 1];
    if (e->name_len == len && memcmp(w->names + e->name_off, name, len) == 0) {
      *found = 1;
      return i;
    }
    i = (i + 1) & mask;
  }
  *found = 0;
  return i;
}

static int rehash(dm_blobfile_writer *w, size_t nslots) {
  uint32_t *slots = calloc(nslots, sizeof *slots);
  if (slots == NULL) return DM_ENOMEM;
  uint32_t *old = w->slots;
  w->slots = slots;
  w->nslots = nslots;
  for (size_t k = 0; k < w->n; k++) {
    int found;
    size_t i = slot_of(w, w->names + w->e[k].name_off, w->e[k].name_len, &found);
    slots[i] = (uint32_t)(k + 1);
  }
  free(old);
  return 0;
}

int dm_blobfile_writer_add(dm_blobfile_writer *w, const char *name, size_t name_len,
                           const uint8_t *chunk, size_t chunk_len, int64_t first,
                           int64_t last, uint32_t count) {
  if (w == NULL) return DM_EINVAL;
  if (w->done) return DM_ECLOSED;
  if (name == NULL || name_len == 0 || name_len > DM_BLOBFILE_MAX_NAME) return DM_EINVAL;
  if ((chunk == NULL && chunk_len > 0) || chunk_len > UINT32_MAX || first > last)
    return DM_EINVAL;
  if (w->n >= UINT32_MAX - 1) return DM_EINVAL;
  if ((w->n + 1) * 2 > w->nslots && rehash(w, w->nslots > 0 ? w->nslots * 2 : 64) < 0)
    return DM_ENOMEM;
  int found;
  size_t slot = slot_of(w, name, name_len, &found);
  if (found) return DM_EINVAL;
  if (grow((void **)&w->buf, &w->cap, w->len + chunk_len, 1) < 0 ||
      grow((void **)&w->names, &w->names_cap, w->names_len + name_len, 1) < 0 ||
      grow((void **)&w->e, &w->ecap, w->n + 1, sizeof *w->e) < 0)
    return DM_ENOMEM;

  wentry *e = &w->e[w->n];
  *e = (wentry){.name_off = w->names_len,
                .name_len = (uint32_t)name_len,
                .len = (uint32_t)chunk_len,
                .count = count,
                .crc = dm_crc32c(0, chunk, chunk_len),
                .off = w->len,
                .first = first,
                .last = last};
  memcpy(w->names + w->names_len, name, name_len);
  w->names_len += name_len;
  if (chunk_len > 0) memcpy(w->buf + w->len, chunk, chunk_len);
  w->len += chunk_len;
  w->slots[slot] = (uint32_t)(w->n + 1);
  w->n++;
  return 0;
}

size_t dm_blobfile_writer_count(const dm_blobfile_writer *w) { return w->n; }
size_t dm_blobfile_writer_size(const dm_blobfile_writer *w) { return w->len; }

typedef struct key {
  const char *name;
  size_t len;
  const wentry *e;
} key;

static int cmp_key(const void *a, const void *b) {
  const key *x = a, *y = b;
  return cmp_name(x->name, x->len, y->name, y->len);
}

static size_t entry_size(const wentry *e) {
  return varint_len(e->name_len) + e->name_len + varint_len(e->off) + varint_len(e->len) +
         varint_len(zigzag((uint64_t)e->first)) +
         varint_len((uint64_t)e->last - (uint64_t)e->first) + varint_len(e->count) + 4;
}

int dm_blobfile_writer_finish(dm_blobfile_writer *w, uint8_t **buf, size_t *len) {
  if (w == NULL || buf == NULL || len == NULL) return DM_EINVAL;
  if (w->done) return DM_ECLOSED;
  int rc = DM_ENOMEM;
  uint8_t *raw = NULL;
  key *keys = malloc((w->n > 0 ? w->n : 1) * sizeof *keys);
  if (keys == NULL) goto fail;
  size_t raw_len = 0;
  for (size_t i = 0; i < w->n; i++) {
    keys[i] = (key){w->names + w->e[i].name_off, w->e[i].name_len, &w->e[i]};
    raw_len += entry_size(&w->e[i]);
  }
  qsort(keys, w->n, sizeof *keys, cmp_key);
  if (raw_len > LZ4_MAX_INPUT_SIZE) {
    rc = DM_ERANGE;
    goto fail;
  }
  raw = malloc(raw_len > 0 ? raw_len : 1);
  if (raw == NULL) goto fail;
  size_t p = 0;
  for (size_t i = 0; i < w->n; i++) {
    const wentry *e = keys[i].e;
    p += put_varint(raw + p, e->name_len);
    memcpy(raw + p, keys[i].name, e->name_len);
    p += e->name_len;
    p += put_varint(raw + p, e->off);
    p += put_varint(raw + p, e->len);
    p += put_varint(raw + p, zigzag((uint64_t)e->first));
    p += put_varint(raw + p, (uint64_t)e->last - (uint64_t)e->first);
    p += put_varint(raw + p, e->count);
    put_le32(raw + p, e->crc);
    p += 4;
  }

  size_t bound = (size_t)LZ4_compressBound((int)raw_len);
  if (grow((void **)&w->buf, &w->cap, w->len + bound + DM_BLOBFILE_FOOTER, 1) < 0) goto fail;
  int clen = LZ4_compress_default((const char *)raw, (char *)w->buf + w->len, (int)raw_len,
                                  (int)bound);
  if (clen <= 0) {
    rc = DM_ERANGE;
    goto fail;
  }
  uint64_t index_off = w->len;
  uint8_t *f = w->buf + w->len + (size_t)clen;
  put_le64(f, index_off);
  put_le32(f + 8, (uint32_t)clen);
  put_le32(f + 12, (uint32_t)raw_len);
  put_le32(f + 16, (uint32_t)w->n);
  put_le32(f + 20, dm_crc32c(0, w->buf + w->len, (size_t)clen));
  put_le32(f + 24, dm_crc32c(0, f, 24));
  memcpy(f + 28, foot_magic, 4);
  w->len += (size_t)clen + DM_BLOBFILE_FOOTER;

  uint8_t *shrunk = realloc(w->buf, w->len);
  *buf = shrunk != NULL ? shrunk : w->buf;
  *len = w->len;
  w->buf = NULL;
  w->cap = 0;
  w->done = 1;
  rc = 0;
fail:
  free(raw);
  free(keys);
  return rc;
}

void dm_blobfile_writer_free(dm_blobfile_writer *w) {
  if (w == NULL) return;
  free(w->buf);
  free(w->names);
  free(w->e);
  free(w->slots);
  free(w);
}

/* ---- reader ---- */

struct dm_blobfile_index {
  dm_blobfile_entry *e;
  size_t n;
  char *raw; /* decompressed index; entry names point here */
  size_t raw_len;
};

int dm_blobfile_footer_parse(const uint8_t *footer, dm_blobfile_footer *out) {
  if (footer == NULL || out == NULL) return DM_EINVAL;
  if (memcmp(footer + 28, foot_magic, 4) != 0) return DM_ECORRUPT;
  if (get_le32(footer + 24) != dm_crc32c(0, footer, 24)) return DM_ECORRUPT;
  dm_blobfile_footer f = {
      .index_off = get_le64(footer),
      .index_len = get_le32(footer + 8),
      .index_raw_len = get_le32(footer + 12),
      .entries = get_le32(footer + 16),
      .index_crc = get_le32(footer + 20),
  };
  if (!footer_sane(&f)) return DM_ECORRUPT;
  *out = f;
  return 0;
}

/* one entry at raw[*pos]; checks bounds and that the chunk precedes the index */
static int parse_entry(const dm_blobfile_footer *f, const char *raw, size_t len, size_t *pos,
                       dm_blobfile_entry *e) {
  const uint8_t *b = (const uint8_t *)raw;
  size_t p = *pos, k;
  uint64_t v[6];
  if ((k = get_varint(b + p, len - p, &v[0])) == 0) return DM_ECORRUPT;
  p += k;
  if (v[0] == 0 || v[0] > DM_BLOBFILE_MAX_NAME || v[0] > len - p) return DM_ECORRUPT;
  e->name = raw + p;
  e->name_len = (uint32_t)v[0];
  p += v[0];
  for (int i = 1; i < 6; i++) {
    if ((k = get_varint(b + p, len - p, &v[i])) == 0) return DM_ECORRUPT;
    p += k;
  }
  if (len - p < 4) return DM_ECORRUPT;
  e->crc = get_le32(b + p);
  p += 4;
  /* v: name_len, offset, length, zigzag first, last - first, count */
  if (v[2] > UINT32_MAX || v[5] > UINT32_MAX) return DM_ECORRUPT;
  if (v[1] < DM_BLOBFILE_HEADER || v[2] > f->index_off || v[1] > f->index_off - v[2])
    return DM_ECORRUPT;
  uint64_t first = unzigzag(v[3]), last = first + v[4];
  if ((int64_t)last < (int64_t)first) return DM_ECORRUPT; /* the span wrapped */
  e->off = v[1];
  e->len = (uint32_t)v[2];
  e->first = (int64_t)first;
  e->last = (int64_t)last;
  e->count = (uint32_t)v[5];
  *pos = p;
  return 0;
}

int dm_blobfile_index_parse(const dm_blobfile_footer *f, const uint8_t *index_bytes,
                            size_t len, dm_blobfile_index **out) {
  if (f == NULL || index_bytes == NULL || out == NULL || len != f->index_len) return DM_EINVAL;
  if (!footer_sane(f)) return DM_ECORRUPT;
  if (dm_crc32c(0, index_bytes, len) != f->index_crc) return DM_ECORRUPT;
  int rc = DM_ENOMEM;
  dm_blobfile_index *ix = calloc(1, sizeof *ix);
  if (ix == NULL) return DM_ENOMEM;
  ix->raw_len = f->index_raw_len;
  ix->raw = malloc(ix->raw_len > 0 ? ix->raw_len : 1);
  ix->e = calloc(f->entries > 0 ? f->entries : 1, sizeof *ix->e);
  if (ix->raw == NULL || ix->e == NULL) goto fail;
  rc = DM_ECORRUPT;
  int d = LZ4_decompress_safe((const char *)index_bytes, ix->raw, (int)len, (int)ix->raw_len);
  if (d < 0 || (size_t)d != ix->raw_len) goto fail;
  size_t pos = 0;
  for (size_t i = 0; i < f->entries; i++) {
    if (parse_entry(f, ix->raw, ix->raw_len, &pos, &ix->e[i]) < 0) goto fail;
    if (i > 0 && cmp_name(ix->e[i - 1].name, ix->e[i - 1].name_len, ix->e[i].name,
                          ix->e[i].name_len) >= 0)
      goto fail;
  }
  if (pos != ix->raw_len) goto fail;
  ix->n = f->entries;
  *out = ix;
  return 0;
fail:
  dm_blobfile_index_free(ix);
  return rc;
}

int dm_blobfile_open(const uint8_t *obj, size_t len, dm_blobfile_index **out) {
  if (obj == NULL || out == NULL) return DM_EINVAL;
  if (len < DM_BLOBFILE_HEADER + DM_BLOBFILE_FOOTER) return DM_ECORRUPT;
  if (memcmp(obj, head_magic, 4) != 0 || obj[4] != DM_BLOBFILE_VERSION) return DM_ECORRUPT;
  size_t need;
  return dm_blobfile_open_tail(obj, len, len, out, &need);
}

int dm_blobfile_open_tail(const uint8_t *tail, size_t tail_len, uint64_t object_len,
                          dm_blobfile_index **out, size_t *need) {
  if (tail == NULL || out == NULL || need == NULL || tail_len > object_len) return DM_EINVAL;
  if (object_len < DM_BLOBFILE_HEADER + DM_BLOBFILE_FOOTER) return DM_ECORRUPT;
  if (tail_len < DM_BLOBFILE_FOOTER) {
    *need = DM_BLOBFILE_FOOTER;
    return DM_ERANGE;
  }
  dm_blobfile_footer f;
  int rc = dm_blobfile_footer_parse(tail + tail_len - DM_BLOBFILE_FOOTER, &f);
  if (rc < 0) return rc;
  if (f.index_off + f.index_len + DM_BLOBFILE_FOOTER != object_len) return DM_ECORRUPT;
  size_t want = (size_t)f.index_len + DM_BLOBFILE_FOOTER;
  if (tail_len < want) {
    *need = want;
    return DM_ERANGE;
  }
  return dm_blobfile_index_parse(&f, tail + tail_len - want, f.index_len, out);
}

size_t dm_blobfile_index_count(const dm_blobfile_index *ix) { return ix->n; }

const dm_blobfile_entry *dm_blobfile_index_at(const dm_blobfile_index *ix, size_t i) {
  return i < ix->n ? &ix->e[i] : NULL;
}

const dm_blobfile_entry *dm_blobfile_index_find(const dm_blobfile_index *ix, const char *name,
                                                size_t len) {
  if (name == NULL || len == 0) return NULL;
  size_t lo = 0, hi = ix->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = cmp_name(ix->e[mid].name, ix->e[mid].name_len, name, len);
    if (c == 0) return &ix->e[mid];
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return NULL;
}

size_t dm_blobfile_index_bytes(const dm_blobfile_index *ix) {
  return sizeof *ix + ix->n * sizeof *ix->e + ix->raw_len;
}

void dm_blobfile_index_free(dm_blobfile_index *ix) {
  if (ix == NULL) return;
  free(ix->raw);
  free(ix->e);
  free(ix);
}

int dm_blobfile_chunk_check(const dm_blobfile_entry *e, const uint8_t *chunk, size_t len) {
  if (e == NULL || len != e->len || (chunk == NULL && len > 0)) return DM_ECORRUPT;
  return dm_crc32c(0, chunk, len) == e->crc ? 0 : DM_ECORRUPT;
}
