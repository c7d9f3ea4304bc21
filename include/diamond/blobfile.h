/* blobfile.h — the cold-tier object format: one UTC day of many series in one object.
 *
 *   header  "DMB1", u8 version (1), 3 zero bytes                       (DM_BLOBFILE_HEADER)
 *   chunks  one Gorilla chunk per series-day, back to back, in the order they were added
 *   index   one LZ4 block (LZ4_compress_default) of the entries sorted by series name
 *           (bytewise, shorter first on a tie), each:
 *             varint name_len, name, varint offset, varint length, zigzag varint first,
 *             varint (last - first), varint count, u32 crc32c(chunk) little-endian
 *   footer  DM_BLOBFILE_FOOTER bytes, little-endian:
 *             u64 index_off, u32 index_len (compressed), u32 index_raw_len, u32 entries,
 *             u32 crc32c(index bytes as stored), u32 crc32c(footer bytes 0..23), "DMBF"
 *
 * A reader fetches the tail of the object (the footer, and usually the index with it:
 * dm_blobfile_open_tail() says how many bytes it needs), checks both CRCs, decompresses the
 * index, binary-searches the series, then reads its chunk by offset/length (a ranged GET on
 * S3, pread on a file) and checks it with dm_blobfile_chunk_check().
 *
 * Nothing here does I/O; all functions are synchronous and a parsed index is immutable.
 */
#ifndef DIAMOND_BLOBFILE_H
#define DIAMOND_BLOBFILE_H

#include <stddef.h>
#include <stdint.h>

#define DM_BLOBFILE_FOOTER 32
#define DM_BLOBFILE_HEADER 8
#define DM_BLOBFILE_VERSION 1
#define DM_BLOBFILE_MAX_NAME 65535

typedef struct dm_blobfile_entry {
  const char *name; /* points into the parsed index; not NUL-terminated */
  uint32_t name_len;
  uint64_t off;     /* of the chunk, from the object's start */
  uint32_t len;
  int64_t first, last;
  uint32_t count;
  uint32_t crc;     /* crc32c of the chunk bytes */
} dm_blobfile_entry;

/* Writer: add chunks in any order, then finish into one malloc'd buffer. The chunk bytes
 * are copied; first/last/count describe the chunk and go into the index as given. */
typedef struct dm_blobfile_writer dm_blobfile_writer;
int dm_blobfile_writer_new(dm_blobfile_writer **out); /* DM_ENOMEM */
/* DM_EINVAL on a repeated name, an empty name or one over DM_BLOBFILE_MAX_NAME bytes,
 * first > last, a chunk over 4 GiB or over 2^32-1 series; DM_ENOMEM; DM_ECLOSED after
 * finish. On error the writer is unchanged. */
int dm_blobfile_writer_add(dm_blobfile_writer *w, const char *name, size_t name_len,
                           const uint8_t *chunk, size_t chunk_len, int64_t first,
                           int64_t last, uint32_t count);
size_t dm_blobfile_writer_count(const dm_blobfile_writer *w); /* series added so far */
size_t dm_blobfile_writer_size(const dm_blobfile_writer *w);  /* header + chunk bytes so far */
/* Builds the index and footer; *buf (free() it) holds the whole object. Once only: later
 * calls, and adds, return DM_ECLOSED. DM_ENOMEM / DM_ERANGE (index too large). */
int dm_blobfile_writer_finish(dm_blobfile_writer *w, uint8_t **buf, size_t *len);
void dm_blobfile_writer_free(dm_blobfile_writer *w); /* NULL is fine */

typedef struct dm_blobfile_footer {
  uint64_t index_off;
  uint32_t index_len, index_raw_len, entries, index_crc;
} dm_blobfile_footer;

/* Parses the last DM_BLOBFILE_FOOTER bytes. DM_ECORRUPT on bad magic, CRC or fields. */
int dm_blobfile_footer_parse(const uint8_t *footer, dm_blobfile_footer *out);

/* A parsed index, immutable and safe to share between threads. */
typedef struct dm_blobfile_index dm_blobfile_index;
/* index_bytes are the f->index_len bytes at f->index_off (DM_EINVAL if len differs).
 * Checks the CRC, the decompressed size, that names strictly increase and that every
 * chunk lies between the header and the index. DM_ECORRUPT / DM_ENOMEM. */
int dm_blobfile_index_parse(const dm_blobfile_footer *f, const uint8_t *index_bytes,
                            size_t len, dm_blobfile_index **out);
/* The whole object in memory (the ager's read-back check, tests): header, footer, index.
 * DM_ECORRUPT / DM_ENOMEM. */
int dm_blobfile_open(const uint8_t *obj, size_t len, dm_blobfile_index **out);
/* tail holds the last tail_len bytes of an object of object_len bytes. Returns 0 with the
 * parsed index, or DM_ERANGE with *need set to the tail size that holds footer and index
 * (read that many and call again), or DM_ECORRUPT / DM_ENOMEM. */
int dm_blobfile_open_tail(const uint8_t *tail, size_t tail_len, uint64_t object_len,
                          dm_blobfile_index **out, size_t *need);
size_t dm_blobfile_index_count(const dm_blobfile_index *ix);
const dm_blobfile_entry *dm_blobfile_index_at(const dm_blobfile_index *ix, size_t i);
const dm_blobfile_entry *dm_blobfile_index_find(const dm_blobfile_index *ix, const char *name,
                                                size_t len); /* NULL if absent */
size_t dm_blobfile_index_bytes(const dm_blobfile_index *ix); /* memory held, for the LRU */
void dm_blobfile_index_free(dm_blobfile_index *ix);          /* NULL is fine */

/* The chunk read at e->off: 0 if it has e->len bytes and the CRC matches, else DM_ECORRUPT. */
int dm_blobfile_chunk_check(const dm_blobfile_entry *e, const uint8_t *chunk, size_t len);

#endif
