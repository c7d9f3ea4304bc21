/* s3_int.h — what the files of the S3 blob store share (private to src/blob/):
 *   s3.c       the essay; open/close/stats/health, put, get_range, del, create, probe
 *   s3_list.c  list: ListObjectsV2 pages, continuation tokens, prefix stripping, sorting
 *   s3_xml.c   the minimal XML reader: element text, entity unescaping, error codes
 * The XML part is pure and unit-tested on its own (tests/unit/test_blob_s3_xml.c).
 */
#ifndef DM_BLOB_S3_INT_H
#define DM_BLOB_S3_INT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "diamond/aws.h"
#include "diamond/blob.h"
#include "diamond/buf.h"
#include "diamond/config.h"

typedef struct s3_blob {
  dm_blob base;
  uv_loop_t *loop;
  dm_aws *aws;                  /* NULL once closing */
  char bucket[64];
  char prefix[128];             /* cfg->blob_prefix, prepended to every key */
  char region[64];
  char endpoint[DM_CONFIG_STR]; /* where requests go, for messages */
  char root[80];                /* "/<bucket>" path-style, "" virtual-hosted */
  int max_keys;                 /* ListObjectsV2 page size: 1000 (tests lower it) */
  dm_blob_stats st;
  size_t inflight; /* accepted calls that have not called back yet */
  int closing;
  int healthy;
  char why[512];
} s3_blob;

/* ---- s3.c ---------------------------------------------------------------------------- */

/* The retry classifier of every S3 request: 2xx ok; 503, 429 and SlowDown throttle;
 * other 5xx, InternalError and RequestTimeout retry; anything else permanent. error_type
 * gets the <Code> of the error body. */
dm_aws_verdict s3_classify(long code, const uint8_t *body, size_t len, char *error_type);
/* The path of the bucket ("/<bucket>" or "/") and of a key, URI-encoded ('/' kept). */
void s3_bucket_path(const s3_blob *s, dm_buf *out);
char *s3_object_path(const s3_blob *s, const char *key); /* malloc'd, NULL on OOM */
/* Notes how a call ended for health(): status 0 (or an expected DM_ENOENT) is healthy. */
void s3_note(s3_blob *s, int status, const dm_aws_reply *r);
/* Accounting of one accepted call ending; frees s when it was the last after close. */
void s3_call_done(s3_blob *s);

/* ---- s3_list.c ----------------------------------------------------------------------- */

int s3_list(dm_blob *b, const char *prefix, dm_names_cb cb, void *arg);
/* Page size of list (1..1000; tests use small pages to cross page boundaries). */
void s3_set_page_size(dm_blob *b, int max_keys);

/* ---- s3_xml.c ------------------------------------------------------------------------ */

/* The content of the first element <tag>...</tag> (or <tag/>, empty) at or after *pos in
 * xml[0..len): returns a pointer to it with *out_len set, and moves *pos past the
 * element; NULL when there is none. The content is raw (entities not yet decoded). */
const char *s3_xml_next(const char *xml, size_t len, size_t *pos, const char *tag,
                        size_t *out_len);
/* Appends s[0..len) to out with the XML entities decoded: &amp; &lt; &gt; &quot; &apos;
 * and numeric references (&#38; &#x26;, written as UTF-8). DM_ECORRUPT for any other
 * '&' sequence (an HTML name such as &eacute; is not XML). */
int s3_xml_unescape(dm_buf *out, const char *s, size_t len);
/* The <Code> of an S3 error body, decoded, into out (size outlen); "" when there is none. */
void s3_xml_error_code(const uint8_t *body, size_t len, char *out, size_t outlen);
/* One ListObjectsV2 page: each <Key>, decoded, is appended to keys NUL-terminated (n keys
 * are counted into *count); *truncated from <IsTruncated>; *token gets a malloc'd decoded
 * <NextContinuationToken> or NULL. DM_ECORRUPT for a body that is not a list result. */
int s3_xml_list_page(const char *xml, size_t len, dm_buf *keys, size_t *count, int *truncated,
                     char **token);

#endif
