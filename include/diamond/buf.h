/* buf.h — a growable byte buffer for building replies (JSON, Prometheus text). */
#ifndef DIAMOND_BUF_H
#define DIAMOND_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct dm_buf {
  char *p;
  size_t len, cap;
  int oom; /* set once an allocation failed; further appends are dropped */
} dm_buf;

void dm_buf_init(dm_buf *b);
void dm_buf_free(dm_buf *b);
int dm_buf_reserve(dm_buf *b, size_t extra);
void dm_buf_add(dm_buf *b, const void *data, size_t len);
void dm_buf_adds(dm_buf *b, const char *s);
void dm_buf_printf(dm_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string literal, quotes included; bytes that are not well-formed
 * UTF-8 become U+FFFD, so the result is always valid JSON. */
void dm_buf_json_str(dm_buf *b, const char *s, size_t len);
/* Appends v in decimal. */
void dm_buf_i64(dm_buf *b, int64_t v);
/* Appends a double the way JSON wants it (shortest round-trip form, integers without .0). */
void dm_buf_json_double(dm_buf *b, double v);
/* Takes ownership of the bytes (NUL-terminated); b is reset. */
char *dm_buf_steal(dm_buf *b, size_t *len);

#endif
