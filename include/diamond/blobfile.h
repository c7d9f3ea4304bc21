/* blobfile.h — the cold-tier object format: one UTC day of many series in one object.
 *
 *   header  "DMB1" u8 version u8[3] 0
 *   chunks  one Gorilla chunk per series-day, back to back
 *   index   LZ4 block of the entries sorted by series name:
 *           varint name_len, name, varint offset, varint length, zigzag first, zigzag last,
 *           varint count
 *   footer  fixed DM_BLOBFILE_FOOTER bytes, little-endian:
 *           u64 index_off, u32 index_len (compressed), u32 index_raw_len, u32 entries,
 *           u32 crc32c(index bytes as stored), u32 crc32c(footer bytes before this), "DMBF"
 *
 * A reader fetches the tail of the object (footer, and usually the index with it), checks
 * both CRCs, decompresses the index, binary-searches the series, then reads its chunk by
 * offset/length (a ranged GET on S3, pread on a file).
 */
#ifndef DIAMOND_BLOBFILE_H
#define DIAMOND_BLOBFILE_H

#include <stddef.h>
#include <stdint.h>

#define DM_BLOBFILE_FOOTER 32
#define DM_BLOBFILE_HEADER 8

typedef struct dm_blobfile_entry {
  const char *name; /* points into the parsed index */
  uint32_t name_len;
  uint64_t off;     /* of the chunk, from the object's start */
  uint32_t len;
  int64_t first, last;
  uint32_t count;
} dm_blobfile_entry;

/* Writer: add chunks in any order, then finish into one malloc'd buffer. */
typedef struct dm_blobfile_writer dm_blobfile_writer;
int dm_blobfile_writer_new(dm_blobfile_writer **out);
int dm_blobfile_writer_add(dm_blobfile_writer *w, const char *name, size_t name_len,
                           const uint8_t *chunk, size_t chunk_len, int64_t first,
                           int64_t last, uint32_t count); /* DM_EINVAL on a repeated name */
int dm_blobfile_writer_finish(dm_blobfile_writer *w, uint8_t **buf, size_t *len);
void dm_blobfile_writer_free(dm_blobfile_writer *w);

typedef struct dm_blobfile_footer {
  uint64_t index_off;
  uint32_t index_len, index_raw_len, entries, index_crc;
} dm_blobfile_footer;

/* Parses the last DM_BLOBFILE_FOOTER bytes. DM_ECORRUPT on bad magic or CRC. */
int dm_blobfile_footer_parse(const uint8_t *footer, dm_blobfile_footer *out);

/* A parsed index, immutable and safe to share between threads. */
typedef struct dm_blobfile_index dm_blobfile_index;
int dm_blobfile_index_parse(const dm_blobfile_footer *f, const uint8_t *index_bytes,
                            size_t len, dm_blobfile_index **out); /* checks the CRC */
size_t dm_blobfile_index_count(const dm_blobfile_index *ix);
const dm_blobfile_entry *dm_blobfile_index_at(const dm_blobfile_index *ix, size_t i);
const dm_blobfile_entry *dm_blobfile_index_find(const dm_blobfile_index *ix, const char *name,
                                                size_t len); /* NULL if absent */
size_t dm_blobfile_index_bytes(const dm_blobfile_index *ix); /* memory held, for the LRU */
void dm_blobfile_index_free(dm_blobfile_index *ix);

#endif
