/* s3_xml.c — just enough XML for S3's replies: the text of named elements, entity
 * decoding, the <Code> of an error, and one ListObjectsV2 page.
 *
 * S3's documents are flat and machine-written (no CDATA, comments or namespaces on the
 * elements we read), so an element is found by its exact start tag "<Key>" — never by a
 * prefix: "<Key" alone would also match "<KeyCount>". Text is decoded only after it is
 * cut out, so a '<' written as &lt; inside a key cannot end the element early.
 */
#include <stdlib.h>
#include <string.h>

#include "diamond/error.h"
#include "s3_int.h"

static const char *find(const char *hay, size_t n, const char *needle, size_t m) {
  return memmem(hay, n, needle, m);
}

const char *s3_xml_next(const char *xml, size_t len, size_t *pos, const char *tag,
                        size_t *out_len) {
  size_t tl = strlen(tag);
  if (tl == 0 || tl > 64 || xml == NULL) return NULL;
  char open[68], close[70];
  open[0] = '<';
  memcpy(open + 1, tag, tl);
  close[0] = '<';
  close[1] = '/';
  memcpy(close + 2, tag, tl);
  close[tl + 2] = '>';
  size_t at = *pos;
  while (at < len) {
    const char *p = find(xml + at, len - at, open, tl + 1);
    if (p == NULL) return NULL;
    size_t i = (size_t)(p - xml) + tl + 1; /* just after "<tag" */
    at = i;
    if (i >= len) return NULL;
    if (xml[i] != '>' && xml[i] != '/' && xml[i] != ' ' && xml[i] != '\t' && xml[i] != '\r' &&
        xml[i] != '\n')
      continue; /* "<tagX...": another element */
    const char *gt = memchr(xml + i, '>', len - i); /* past any attributes */
    if (gt == NULL) return NULL;
    if (gt[-1] == '/') { /* <tag/> or <tag a="b"/> */
      *out_len = 0;
      *pos = (size_t)(gt - xml) + 1;
      return gt + 1;
    }
    const char *start = gt + 1;
    const char *end = find(start, len - (size_t)(start - xml), close, tl + 3);
    if (end == NULL) return NULL;
    *out_len = (size_t)(end - start);
    *pos = (size_t)(end - xml) + tl + 3;
    return start;
  }
  return NULL;
}

static void add_utf8(dm_buf *out, unsigned long c) {
  char b[4];
  size_t n;
  if (c < 0x80) {
    b[0] = (char)c;
    n = 1;
  } else if (c < 0x800) {
    b[0] = (char)(0xC0 | (c >> 6));
    b[1] = (char)(0x80 | (c & 0x3F));
    n = 2;
  } else if (c < 0x10000) {
    b[0] = (char)(0xE0 | (c >> 12));
    b[1] = (char)(0x80 | ((c >> 6) & 0x3F));
    b[2] = (char)(0x80 | (c & 0x3F));
    n = 3;
  } else {
    b[0] = (char)(0xF0 | (c >> 18));
    b[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    b[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    b[3] = (char)(0x80 | (c & 0x3F));
    n = 4;
  }
  dm_buf_add(out, b, n);
}

int s3_xml_unescape(dm_buf *out, const char *s, size_t len) {
  static const struct {
    const char *name;
    char c;
  } named[] = {{"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}};
  size_t i = 0;
  while (i < len) {
    const char *amp = memchr(s + i, '&', len - i);
    size_t run = amp ? (size_t)(amp - (s + i)) : len - i;
    dm_buf_add(out, s + i, run);
    i += run;
    if (amp == NULL) break;
    const char *semi = memchr(amp, ';', len - i);
    if (semi == NULL || semi - amp > 10 || semi - amp < 2) return DM_ECORRUPT;
    const char *ent = amp + 1;
    size_t elen = (size_t)(semi - ent);
    int done = 0;
    if (ent[0] == '#') {
      int hex = elen > 1 && (ent[1] == 'x' || ent[1] == 'X');
      size_t d = hex ? 2 : 1;
      unsigned long c = 0;
      if (d >= elen) return DM_ECORRUPT;
      for (; d < elen; d++) {
        char ch = ent[d];
        int v = ch >= '0' && ch <= '9'           ? ch - '0'
                : hex && ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                : hex && ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                                : -1;
        if (v < 0) return DM_ECORRUPT;
        c = c * (hex ? 16 : 10) + (unsigned long)v;
        if (c > 0x10FFFF) return DM_ECORRUPT;
      }
      if (c == 0 || (c >= 0xD800 && c <= 0xDFFF)) return DM_ECORRUPT;
      add_utf8(out, c);
      done = 1;
    } else {
      for (size_t k = 0; k < sizeof named / sizeof named[0] && !done; k++) {
        if (strlen(named[k].name) == elen && memcmp(ent, named[k].name, elen) == 0) {
          dm_buf_add(out, &named[k].c, 1);
          done = 1;
        }
      }
    }
    if (!done) return DM_ECORRUPT;
    i = (size_t)(semi - s) + 1;
  }
  return out->oom ? DM_ENOMEM : 0;
}

void s3_xml_error_code(const uint8_t *body, size_t len, char *out, size_t outlen) {
  if (outlen == 0) return;
  out[0] = '\0';
  size_t pos = 0, n;
  const char *xml = (const char *)body;
  const char *err = s3_xml_next(xml, len, &pos, "Error", &n);
  if (err == NULL) return;
  size_t p2 = 0, cl;
  const char *code = s3_xml_next(err, n, &p2, "Code", &cl);
  if (code == NULL) return;
  dm_buf b;
  dm_buf_init(&b);
  if (s3_xml_unescape(&b, code, cl) == 0 && b.p != NULL) {
    size_t m = b.len < outlen - 1 ? b.len : outlen - 1;
    memcpy(out, b.p, m);
    out[m] = '\0';
  }
  dm_buf_free(&b);
}

int s3_xml_list_page(const char *xml, size_t len, dm_buf *keys, size_t *count, int *truncated,
                     char **token) {
  *count = 0;
  *truncated = 0;
  *token = NULL;
  size_t pos = 0, n;
  const char *res = s3_xml_next(xml, len, &pos, "ListBucketResult", &n);
  if (res == NULL) return DM_ECORRUPT;
  size_t at = 0, kl;
  const char *k;
  while ((k = s3_xml_next(res, n, &at, "Key", &kl)) != NULL) {
    int rc = s3_xml_unescape(keys, k, kl);
    if (rc < 0) return rc;
    dm_buf_add(keys, "", 1);
    (*count)++;
  }
  size_t tp = 0, tl;
  const char *t = s3_xml_next(res, n, &tp, "IsTruncated", &tl);
  *truncated = t != NULL && tl == 4 && memcmp(t, "true", 4) == 0;
  size_t cp = 0, cl;
  const char *c = s3_xml_next(res, n, &cp, "NextContinuationToken", &cl);
  if (c != NULL && cl > 0) {
    dm_buf b;
    dm_buf_init(&b);
    int rc = s3_xml_unescape(&b, c, cl);
    if (rc < 0) {
      dm_buf_free(&b);
      return rc;
    }
    *token = dm_buf_steal(&b, NULL);
    if (*token == NULL) return DM_ENOMEM;
  }
  return keys->oom ? DM_ENOMEM : 0;
}
