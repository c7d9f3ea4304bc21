/* redis_resp.c — RESP command formatting into a dm_buf (redis_resp.h). */
#include <stdio.h>
#include <string.h>

#include "redis_resp.h"

size_t dm_resp_i64_str(char *out, int64_t v) {
  char tmp[24];
  size_t n = 0;
  uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
  do {
    tmp[n++] = (char)('0' + u % 10);
    u /= 10;
  } while (u != 0);
  size_t k = 0;
  if (v < 0) out[k++] = '-';
  while (n > 0) out[k++] = tmp[--n];
  out[k] = '\0';
  return k;
}

static void head(dm_buf *b, char c, size_t n) {
  char tmp[32];
  tmp[0] = c;
  size_t k = 1 + dm_resp_i64_str(tmp + 1, (int64_t)n);
  tmp[k++] = '\r';
  tmp[k++] = '\n';
  dm_buf_add(b, tmp, k);
}

void dm_resp_begin(dm_buf *b, size_t nargs) { head(b, '*', nargs); }
void dm_resp_arg_head(dm_buf *b, size_t len) { head(b, '$', len); }
void dm_resp_arg_end(dm_buf *b) { dm_buf_add(b, "\r\n", 2); }

void dm_resp_arg(dm_buf *b, const void *p, size_t len) {
  head(b, '$', len);
  dm_buf_add(b, p, len);
  dm_buf_add(b, "\r\n", 2);
}

void dm_resp_str(dm_buf *b, const char *s) { dm_resp_arg(b, s, strlen(s)); }

void dm_resp_i64(dm_buf *b, int64_t v) {
  char tmp[24];
  size_t n = dm_resp_i64_str(tmp, v);
  dm_resp_arg(b, tmp, n);
}

size_t dm_resp_key(dm_buf *b, const char *pre, const char *name, size_t len, const char *post,
                   int has_num, int64_t num) {
  char tmp[24];
  size_t nn = has_num ? dm_resp_i64_str(tmp, num) : 0;
  size_t lp = strlen(pre), lq = strlen(post);
  head(b, '$', lp + len + lq + nn);
  size_t off = b->len;
  dm_buf_add(b, pre, lp);
  dm_buf_add(b, name, len);
  dm_buf_add(b, post, lq);
  dm_buf_add(b, tmp, nn);
  dm_buf_add(b, "\r\n", 2);
  return off;
}
