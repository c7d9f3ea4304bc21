/* redis_resp.h — building Redis commands in RESP (the wire format hiredis sends) straight
 * into a dm_buf, many commands back to back, so a batch is formatted once with no argv
 * arrays and each command is a byte range of the buffer. */
#ifndef DIAMOND_REDIS_RESP_H
#define DIAMOND_REDIS_RESP_H

#include <stddef.h>
#include <stdint.h>

#include "diamond/buf.h"

/* "*<nargs>\r\n": a command of nargs arguments follows. */
void dm_resp_begin(dm_buf *b, size_t nargs);
void dm_resp_arg(dm_buf *b, const void *p, size_t len);
void dm_resp_str(dm_buf *b, const char *s);
void dm_resp_i64(dm_buf *b, int64_t v);
/* One argument pre + name + post, with the decimal num appended when has_num: keys like
 * "dm:w:{" <series> "}:" <start>. Returns the offset of the argument's bytes in b (for
 * dm_rc_key_slot). */
size_t dm_resp_key(dm_buf *b, const char *pre, const char *name, size_t len, const char *post,
                   int has_num, int64_t num);
/* The header of an argument of len bytes the caller writes itself, then its "\r\n". */
void dm_resp_arg_head(dm_buf *b, size_t len);
void dm_resp_arg_end(dm_buf *b);
/* Decimal form of v into out (>= 21 bytes); returns its length. */
size_t dm_resp_i64_str(char *out, int64_t v);

#endif
