/* dynamodb_json.c — the DynamoDB JSON protocol pieces: base64 for binary attributes
 * (libcrypto's EVP_EncodeBlock/EVP_DecodeBlock; DecodeBlock counts padding as zero bytes
 * and skips whitespace, so padding and whitespace are checked here first), request
 * fragments built with dm_buf, readers of yajl trees, and the error classifier the aws
 * client calls on every reply. Pure functions: no I/O, thread-safe.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diamond/error.h"
#include "dynamodb_int.h"

/* ---- base64 ------------------------------------------------------------------------ */

size_t ddb_b64_len(size_t n) { return (n + 2) / 3 * 4; }

void ddb_b64_add(dm_buf *b, const uint8_t *in, size_t n) {
  size_t want = ddb_b64_len(n);
  if (n > (size_t)INT32_MAX / 2 || dm_buf_reserve(b, want) < 0) {
    b->oom = 1;
    return;
  }
  int w = n ? EVP_EncodeBlock((unsigned char *)b->p + b->len, in, (int)n) : 0;
  b->len += (size_t)w;
  b->p[b->len] = '\0';
}

static int b64_char(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         c == '+' || c == '/';
}

int ddb_b64_decode(const char *s, size_t len, uint8_t *out) {
  if (len % 4 != 0 || len > (size_t)INT32_MAX) return DM_ECORRUPT;
  if (len == 0) return 0;
  size_t pad = s[len - 1] == '=' ? (s[len - 2] == '=' ? 2 : 1) : 0;
  for (size_t i = 0; i < len - pad; i++)
    if (!b64_char((unsigned char)s[i])) return DM_ECORRUPT;
  int n = EVP_DecodeBlock(out, (const unsigned char *)s, (int)len);
  if (n < 0 || (size_t)n < pad) return DM_ECORRUPT;
  return n - (int)pad;
}

/* ---- reading trees ----------------------------------------------------------------- */

yajl_val ddb_get(yajl_val obj, const char *key) {
  if (!YAJL_IS_OBJECT(obj)) return NULL;
  for (size_t i = 0; i < obj->u.object.len; i++)
    if (strcmp(obj->u.object.keys[i], key) == 0) return obj->u.object.values[i];
  return NULL;
}

const char *ddb_str(yajl_val v) { return YAJL_IS_STRING(v) ? v->u.string : ""; }

const char *ddb_attr(yajl_val item, const char *name, const char *type) {
  yajl_val v = ddb_get(ddb_get(item, name), type);
  return YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : NULL;
}

static int parse_i64(const char *s, int64_t *out) {
  if (s == NULL || *s == '\0') return DM_ECORRUPT;
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno != 0 || *end != '\0') return DM_ECORRUPT;
  *out = v;
  return 0;
}

int ddb_attr_i64(yajl_val item, const char *name, int64_t *out) {
  return parse_i64(ddb_attr(item, name, "N"), out);
}

static double units_of(yajl_val cc) {
  yajl_val u = ddb_get(cc, "CapacityUnits");
  return YAJL_IS_NUMBER(u) ? YAJL_GET_DOUBLE(u) : 0;
}

double ddb_consumed(yajl_val root) {
  yajl_val cc = ddb_get(root, "ConsumedCapacity");
  if (YAJL_IS_OBJECT(cc)) return units_of(cc);
  double sum = 0;
  if (YAJL_IS_ARRAY(cc))
    for (size_t i = 0; i < cc->u.array.len; i++) sum += units_of(cc->u.array.values[i]);
  return sum;
}

static int read_key(yajl_val item, ddb_key *k) {
  k->pk = ddb_attr(item, "pk", "S");
  if (k->pk == NULL) return DM_ECORRUPT;
  return ddb_attr_i64(item, "sk", &k->sk);
}

int ddb_last_key(yajl_val root, ddb_key *k) {
  yajl_val lek = ddb_get(root, "LastEvaluatedKey");
  if (lek == NULL || YAJL_IS_NULL(lek)) return 0;
  return read_key(lek, k) < 0 ? DM_ECORRUPT : 1;
}

int ddb_unprocessed(yajl_val root, const char *table, ddb_key *keys, size_t cap) {
  yajl_val reqs = ddb_get(ddb_get(root, "UnprocessedItems"), table);
  if (reqs == NULL) return 0;
  if (!YAJL_IS_ARRAY(reqs)) return DM_ECORRUPT;
  if (reqs->u.array.len > cap) return DM_ERANGE;
  for (size_t i = 0; i < reqs->u.array.len; i++) {
    yajl_val item = ddb_get(ddb_get(reqs->u.array.values[i], "PutRequest"), "Item");
    if (read_key(item, &keys[i]) < 0) return DM_ECORRUPT;
  }
  return (int)reqs->u.array.len;
}

void ddb_error_type(yajl_val root, char *out, size_t len) {
  yajl_val t = ddb_get(root, "__type");
  const char *s = YAJL_IS_STRING(t) ? YAJL_GET_STRING(t) : "";
  const char *hash = strrchr(s, '#');
  snprintf(out, len, "%s", hash != NULL ? hash + 1 : s);
}

/* ---- the classifier ---------------------------------------------------------------- */

static int type_in(const char *type, const char *const *list) {
  for (; *list != NULL; list++)
    if (strcmp(type, *list) == 0) return 1;
  return 0;
}

dm_aws_verdict ddb_classify(long code, const uint8_t *body, size_t len, char *error_type) {
  static const char *const throttle[] = {"ProvisionedThroughputExceededException",
                                         "ThrottlingException", "RequestLimitExceeded",
                                         "LimitExceededException", NULL};
  static const char *const retry[] = {"InternalServerError", "ServiceUnavailable",
                                      "ServiceUnavailableException", NULL};
  char type[128] = "";
  if (code >= 200 && code < 300) return DM_AWS_OK;
  if (body != NULL && len > 0 && len < 65536) {
    char *copy = malloc(len + 1); /* yajl_tree wants NUL-terminated text */
    if (copy != NULL) {
      memcpy(copy, body, len);
      copy[len] = '\0';
      yajl_val root = yajl_tree_parse(copy, NULL, 0);
      ddb_error_type(root, type, sizeof type);
      yajl_tree_free(root);
      free(copy);
    }
  }
  if (error_type != NULL) snprintf(error_type, 128, "%s", type);
  if (type_in(type, throttle) || code == 429) return DM_AWS_THROTTLE;
  if (type_in(type, retry) || code >= 500 || code == 0) return DM_AWS_RETRY;
  return DM_AWS_PERMANENT;
}

/* ---- request pieces ---------------------------------------------------------------- */

void ddb_req_begin(dm_buf *b, const char *table) {
  dm_buf_adds(b, "{\"TableName\":");
  dm_buf_json_str(b, table, strlen(table));
}

void ddb_req_end(dm_buf *b) { dm_buf_adds(b, ",\"ReturnConsumedCapacity\":\"TOTAL\"}"); }

static void key_obj(dm_buf *b, const char *pk, size_t pk_len, int64_t sk) {
  dm_buf_adds(b, "{\"pk\":{\"S\":");
  dm_buf_json_str(b, pk, pk_len);
  dm_buf_adds(b, "},\"sk\":{\"N\":\"");
  dm_buf_i64(b, sk);
  dm_buf_adds(b, "\"}}");
}

void ddb_req_key(dm_buf *b, const char *pk, size_t pk_len, int64_t sk) {
  dm_buf_adds(b, ",\"Key\":");
  key_obj(b, pk, pk_len, sk);
}

static void num_value(dm_buf *b, const char *name, int64_t v) {
  dm_buf_printf(b, ",\"%s\":{\"N\":\"", name);
  dm_buf_i64(b, v);
  dm_buf_adds(b, "\"}");
}

void ddb_req_query(dm_buf *b, const char *table, const char *pk, size_t pk_len, char mode,
                   int64_t lo, int64_t hi, int64_t limit, int forward, const ddb_key *start) {
  ddb_req_begin(b, table);
  dm_buf_adds(b, ",\"KeyConditionExpression\":\"pk = :p");
  if (mode == 'B') dm_buf_adds(b, " AND sk BETWEEN :lo AND :hi");
  if (mode == '<') dm_buf_adds(b, " AND sk < :hi");
  dm_buf_adds(b, "\",\"ExpressionAttributeValues\":{\":p\":{\"S\":");
  dm_buf_json_str(b, pk, pk_len);
  dm_buf_adds(b, "}");
  if (mode == 'B') num_value(b, ":lo", lo);
  if (mode == 'B' || mode == '<') num_value(b, ":hi", hi);
  dm_buf_adds(b, "},\"ConsistentRead\":true");
  if (!forward) dm_buf_adds(b, ",\"ScanIndexForward\":false");
  if (limit > 0) {
    dm_buf_adds(b, ",\"Limit\":");
    dm_buf_i64(b, limit);
  }
  if (start != NULL) {
    dm_buf_adds(b, ",\"ExclusiveStartKey\":");
    key_obj(b, start->pk, strlen(start->pk), start->sk);
  }
  ddb_req_end(b);
}
