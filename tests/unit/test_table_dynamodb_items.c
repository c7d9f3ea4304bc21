/* test_table_dynamodb_items.c — the pure parts of the DynamoDB table: base64 (RFC 4648
 * vectors), item bodies and request bodies byte for byte, response parsing (a Query page
 * with LastEvaluatedKey, BatchWriteItem UnprocessedItems, consumed capacity), error bodies
 * to verdicts, the ttl rule, key formats, and the in-memory sets. No server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/table/dynamodb_int.h"
#include "diamond/error.h"
#include "diamond/names.h"

static void test_base64_vectors(void **state) {
  (void)state;
  static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
  static const char *const coded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=",
                                      "Zm9vYmFy"};
  for (int i = 0; i < 7; i++) {
    dm_buf b;
    dm_buf_init(&b);
    ddb_b64_add(&b, (const uint8_t *)plain[i], strlen(plain[i]));
    assert_int_equal(b.len, strlen(coded[i]));
    assert_int_equal(b.len, ddb_b64_len(strlen(plain[i])));
    if (b.len > 0) assert_string_equal(b.p, coded[i]);
    uint8_t out[16];
    assert_int_equal(ddb_b64_decode(coded[i], strlen(coded[i]), out), (int)strlen(plain[i]));
    assert_memory_equal(out, plain[i], strlen(plain[i]));
    dm_buf_free(&b);
  }
  /* every byte value round trips, and the 62nd and 63rd letters are + and / */
  uint8_t all[256], back[258];
  for (int i = 0; i < 256; i++) all[i] = (uint8_t)i;
  dm_buf b;
  dm_buf_init(&b);
  ddb_b64_add(&b, all, 256);
  assert_int_equal(ddb_b64_decode(b.p, b.len, back), 256);
  assert_memory_equal(all, back, 256);
  dm_buf_free(&b);
  uint8_t fb[3] = {0xfb, 0xff, 0xbf};
  dm_buf_init(&b);
  ddb_b64_add(&b, fb, 3);
  assert_string_equal(b.p, "+/+/");
  dm_buf_free(&b);
  /* malformed: bad length, whitespace, a stray pad, a bad letter */
  uint8_t out[16];
  assert_int_equal(ddb_b64_decode("Zg=", 3, out), DM_ECORRUPT);
  assert_int_equal(ddb_b64_decode(" Zg=", 4, out), DM_ECORRUPT);
  assert_int_equal(ddb_b64_decode("Z=g=", 4, out), DM_ECORRUPT);
  assert_int_equal(ddb_b64_decode("Zm9*", 4, out), DM_ECORRUPT);
  assert_int_equal(ddb_b64_decode("Zm9v\n", 5, out), DM_ECORRUPT);
}

static void test_item_bytes(void **state) {
  (void)state;
  dm_buf b;
  dm_buf_init(&b);
  const uint8_t chunk[] = {1, 2, 3};
  ddb_item_data(&b, "host.a.cpu", 10, 3600, chunk, 3, 3, 1, 1234);
  assert_string_equal(b.p, "{\"pk\":{\"S\":\"host.a.cpu\"},\"sk\":{\"N\":\"3600\"},"
                           "\"v\":{\"B\":\"AQID\"},\"n\":{\"N\":\"3\"},\"ver\":{\"N\":\"1\"},"
                           "\"ttl\":{\"N\":\"1234\"}}");
  dm_buf_free(&b);
  dm_buf_init(&b);
  char pk[48];
  size_t n = ddb_manifest_pk(pk, 19723, 5);
  ddb_item_name(&b, pk, n, 42, "a\"b", 3, -7);
  assert_string_equal(b.p, "{\"pk\":{\"S\":\"~m:2024-01-01:5\"},\"sk\":{\"N\":\"42\"},"
                           "\"name\":{\"S\":\"a\\\"b\"},\"ttl\":{\"N\":\"-7\"}}");
  dm_buf_free(&b);
}

static void test_request_bytes(void **state) {
  (void)state;
  dm_buf b;
  dm_buf_init(&b);
  ddb_req_query(&b, "diamond", "s", 1, 'B', -3599, 7200, 0, 1, NULL);
  assert_string_equal(
      b.p, "{\"TableName\":\"diamond\",\"KeyConditionExpression\":\"pk = :p AND sk BETWEEN :lo "
           "AND :hi\",\"ExpressionAttributeValues\":{\":p\":{\"S\":\"s\"},\":lo\":{\"N\":"
           "\"-3599\"},\":hi\":{\"N\":\"7200\"}},\"ConsistentRead\":true,"
           "\"ReturnConsumedCapacity\":\"TOTAL\"}");
  dm_buf_free(&b);
  dm_buf_init(&b);
  ddb_key start = {"~pending", 65537};
  ddb_req_query(&b, "t", "~pending", 8, '<', 0, 131072, 4, 0, &start);
  assert_string_equal(
      b.p, "{\"TableName\":\"t\",\"KeyConditionExpression\":\"pk = :p AND sk < :hi\","
           "\"ExpressionAttributeValues\":{\":p\":{\"S\":\"~pending\"},\":hi\":{\"N\":"
           "\"131072\"}},\"ConsistentRead\":true,\"ScanIndexForward\":false,\"Limit\":4,"
           "\"ExclusiveStartKey\":{\"pk\":{\"S\":\"~pending\"},\"sk\":{\"N\":\"65537\"}},"
           "\"ReturnConsumedCapacity\":\"TOTAL\"}");
  dm_buf_free(&b);
  dm_buf_init(&b);
  ddb_req_begin(&b, "t");
  ddb_req_key(&b, "x", 1, 0);
  ddb_req_end(&b);
  assert_string_equal(b.p, "{\"TableName\":\"t\",\"Key\":{\"pk\":{\"S\":\"x\"},\"sk\":{\"N\":"
                           "\"0\"}},\"ReturnConsumedCapacity\":\"TOTAL\"}");
  dm_buf_free(&b);
}

static void test_query_page(void **state) {
  (void)state;
  const char *page =
      "{\"Count\":2,\"Items\":[{\"pk\":{\"S\":\"s\"},\"sk\":{\"N\":\"0\"},\"v\":{\"B\":\"AQID\"},"
      "\"n\":{\"N\":\"3\"},\"ttl\":{\"N\":\"99\"}},{\"pk\":{\"S\":\"s\"},\"sk\":{\"N\":\"3600\"}}],"
      "\"LastEvaluatedKey\":{\"pk\":{\"S\":\"s\"},\"sk\":{\"N\":\"3600\"}},"
      "\"ConsumedCapacity\":{\"TableName\":\"t\",\"CapacityUnits\":1.5}}";
  yajl_val root = yajl_tree_parse(page, NULL, 0);
  assert_non_null(root);
  ddb_key k;
  assert_int_equal(ddb_last_key(root, &k), 1);
  assert_string_equal(k.pk, "s");
  assert_int_equal(k.sk, 3600);
  assert_true(ddb_consumed(root) == 1.5);
  yajl_val items = ddb_get(root, "Items");
  assert_true(YAJL_IS_ARRAY(items));
  yajl_val it = items->u.array.values[0];
  assert_string_equal(ddb_attr(it, "v", "B"), "AQID");
  assert_null(ddb_attr(it, "v", "S"));
  int64_t v;
  assert_int_equal(ddb_attr_i64(it, "ttl", &v), 0);
  assert_int_equal(v, 99);
  assert_int_equal(ddb_attr_i64(it, "ver", &v), DM_ECORRUPT);
  yajl_tree_free(root);

  root = yajl_tree_parse("{\"Items\":[],\"Count\":0}", NULL, 0);
  assert_int_equal(ddb_last_key(root, &k), 0);
  assert_true(ddb_consumed(root) == 0);
  yajl_tree_free(root);
  root = yajl_tree_parse("{\"LastEvaluatedKey\":{\"pk\":{\"S\":\"s\"},\"sk\":{\"N\":\"x1\"}}}",
                         NULL, 0);
  assert_int_equal(ddb_last_key(root, &k), DM_ECORRUPT);
  yajl_tree_free(root);
}

static void test_unprocessed(void **state) {
  (void)state;
  const char *reply =
      "{\"UnprocessedItems\":{\"t\":[{\"PutRequest\":{\"Item\":{\"pk\":{\"S\":\"a\"},\"sk\":"
      "{\"N\":\"7\"},\"v\":{\"B\":\"AA==\"}}}},{\"PutRequest\":{\"Item\":{\"pk\":{\"S\":\"~n:1\"},"
      "\"sk\":{\"N\":\"9\"}}}}]},\"ConsumedCapacity\":[{\"TableName\":\"t\",\"CapacityUnits\":"
      "23},{\"TableName\":\"u\",\"CapacityUnits\":2}]}";
  yajl_val root = yajl_tree_parse(reply, NULL, 0);
  ddb_key k[25];
  assert_int_equal(ddb_unprocessed(root, "t", k, 25), 2);
  assert_string_equal(k[0].pk, "a");
  assert_int_equal(k[0].sk, 7);
  assert_string_equal(k[1].pk, "~n:1");
  assert_int_equal(k[1].sk, 9);
  assert_int_equal(ddb_unprocessed(root, "t", k, 1), DM_ERANGE);
  assert_int_equal(ddb_unprocessed(root, "other", k, 25), 0);
  assert_true(ddb_consumed(root) == 25);
  yajl_tree_free(root);
  root = yajl_tree_parse("{\"UnprocessedItems\":{}}", NULL, 0);
  assert_int_equal(ddb_unprocessed(root, "t", k, 25), 0);
  yajl_tree_free(root);
}

static dm_aws_verdict verdict(long code, const char *body, char *type) {
  return ddb_classify(code, (const uint8_t *)body, body ? strlen(body) : 0, type);
}

static void test_classify(void **state) {
  (void)state;
  char type[128];
  struct {
    long code;
    const char *body;
    dm_aws_verdict want;
    const char *type;
  } cases[] = {
      {200, "{}", DM_AWS_OK, NULL},
      {400, "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException\","
            "\"message\":\"slow down\"}", DM_AWS_THROTTLE, "ProvisionedThroughputExceededException"},
      {400, "{\"__type\":\"com.amazon.coral.availability#ThrottlingException\"}", DM_AWS_THROTTLE,
       "ThrottlingException"},
      {400, "{\"__type\":\"com.amazonaws.dynamodb.v20120810#RequestLimitExceeded\"}",
       DM_AWS_THROTTLE, "RequestLimitExceeded"},
      {500, "{\"__type\":\"com.amazonaws.dynamodb.v20120810#InternalServerError\"}", DM_AWS_RETRY,
       "InternalServerError"},
      {503, "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ServiceUnavailable\"}", DM_AWS_RETRY,
       "ServiceUnavailable"},
      {502, "<html>bad gateway</html>", DM_AWS_RETRY, ""},
      {0, NULL, DM_AWS_RETRY, ""},
      {400, "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException\","
            "\"message\":\"The conditional request failed\"}", DM_AWS_PERMANENT,
       "ConditionalCheckFailedException"},
      {400, "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException\"}",
       DM_AWS_PERMANENT, "ResourceNotFoundException"},
      {400, "{\"__type\":\"com.amazon.coral.service#AccessDeniedException\"}", DM_AWS_PERMANENT,
       "AccessDeniedException"},
      {400, "{\"__type\":\"com.amazon.coral.validate#ValidationException\"}", DM_AWS_PERMANENT,
       "ValidationException"},
      {400, "{\"__type\":\"com.amazon.coral.service#UnrecognizedClientException\"}",
       DM_AWS_PERMANENT, "UnrecognizedClientException"},
      {400, "not json", DM_AWS_PERMANENT, ""},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    strcpy(type, "junk");
    assert_int_equal(verdict(cases[i].code, cases[i].body, type), cases[i].want);
    if (cases[i].type != NULL) assert_string_equal(type, cases[i].type);
  }
}

static void test_ttl(void **state) {
  (void)state;
  const int64_t keep = 14 * 86400, grace = 3 * 86400;
  int64_t now = 1700000000;
  /* a recent window: its end + keep + grace */
  assert_int_equal(ddb_ttl(now - 60, now, keep, grace), now - 60 + keep + grace);
  /* a back-filled old window never expires before now + grace */
  assert_int_equal(ddb_ttl(now - 30 * 86400, now, keep, grace), now + grace);
  assert_int_equal(ddb_ttl(INT64_MAX - 5, now, keep, grace), INT64_MAX);
  assert_int_equal(ddb_ttl(INT64_MIN, now, keep, grace), now + grace);
}

static void test_keys(void **state) {
  (void)state;
  char pk[48];
  assert_int_equal(ddb_manifest_pk(pk, 0, 0), strlen("~m:1970-01-01:0"));
  assert_string_equal(pk, "~m:1970-01-01:0");
  ddb_manifest_pk(pk, 19723, 15);
  assert_string_equal(pk, "~m:2024-01-01:15");
  ddb_manifest_pk(pk, -1, 3);
  assert_string_equal(pk, "~m:1969-12-31:3");
  ddb_manifest_pk(pk, 3000000, 1); /* year ~ 10183: beyond YYYY, still its own key */
  assert_string_equal(pk, "~m:d3000000:1");
  ddb_aged_pk(pk, 19723, 2);
  assert_string_equal(pk, "~aged:2024-01-01:2");
  ddb_names_pk(pk, 4095);
  assert_string_equal(pk, "~n:4095");
  assert_int_equal(ddb_pending_sk((dm_dayshard){19723, 5}), 1292566533LL);
  dm_dayshard ds = ddb_pending_ds(1292566533LL);
  assert_int_equal(ds.day, 19723);
  assert_int_equal(ds.shard, 5);
  assert_int_equal(ddb_pending_sk((dm_dayshard){-1, 3}), -65533);
  ds = ddb_pending_ds(-65533);
  assert_int_equal(ds.day, -1);
  assert_int_equal(ds.shard, 3);
  assert_int_equal(ddb_clamp_day(INT64_MAX), INT64_MAX / 65536 - 1);
  int64_t h = ddb_hash63("host.a.cpu", 10);
  assert_true(h >= 0);
  assert_int_equal((uint64_t)h, dm_name_hash("host.a.cpu", 10) & (uint64_t)INT64_MAX);
}

static void test_sets(void **state) {
  (void)state;
  ddb_hset s = {0};
  int64_t v;
  assert_int_equal(ddb_hset_get(&s, 5, &v), 0);
  for (int64_t i = 0; i < 10000; i++) assert_int_equal(ddb_hset_put(&s, i * 7919, i), 0);
  assert_int_equal(ddb_hset_put(&s, 0, -1), 0); /* update: no new entry */
  assert_int_equal(s.n, 10000);
  assert_int_equal(ddb_hset_get(&s, 0, &v), 1);
  assert_int_equal(v, -1);
  assert_int_equal(ddb_hset_get(&s, 9999 * 7919, &v), 1);
  assert_int_equal(v, 9999);
  assert_int_equal(ddb_hset_get(&s, 3, &v), 0);
  assert_int_equal(ddb_hset_get(&s, INT64_MAX, &v), 0);
  ddb_hset_free(&s);

  ddb_mset m = {0};
  assert_int_equal(ddb_mset_add(&m, 10, 1, 0), 0);
  assert_int_equal(ddb_mset_add(&m, 11, 1, 0), 0);
  assert_int_equal(ddb_mset_add(&m, 12, 2, 0), 0);
  assert_true(ddb_mset_has(&m, 10, 1) && ddb_mset_has(&m, 11, 1) && ddb_mset_has(&m, 12, 2));
  assert_false(ddb_mset_has(&m, 12, 1));
  assert_int_equal(ddb_mset_add(&m, 9, 3, 0), 0); /* older than all three: not remembered */
  assert_false(ddb_mset_has(&m, 9, 3));
  assert_int_equal(ddb_mset_add(&m, 13, 3, 0), 0); /* a newer day evicts the oldest */
  assert_false(ddb_mset_has(&m, 10, 1));
  assert_true(ddb_mset_has(&m, 13, 3));
  assert_int_equal(ddb_mset_add(&m, 13, 4, 12), 0); /* days below min_day are forgotten */
  assert_false(ddb_mset_has(&m, 11, 1));
  assert_true(ddb_mset_has(&m, 12, 2));
  assert_int_equal(ddb_mset_add(&m, 5, 4, 12), 0);
  assert_false(ddb_mset_has(&m, 5, 4));
  ddb_mset_free(&m);

  ddb_scans sc = {0};
  int64_t tx;
  assert_int_equal(ddb_scans_take(&sc, (dm_dayshard){1, 2}, &tx), 0);
  for (int i = 0; i < 40; i++) assert_int_equal(ddb_scans_put(&sc, (dm_dayshard){i, 2}, i), 0);
  assert_int_equal(ddb_scans_put(&sc, (dm_dayshard){7, 2}, -1), 0);
  assert_int_equal(ddb_scans_take(&sc, (dm_dayshard){7, 2}, &tx), 1);
  assert_int_equal(tx, -1);
  assert_int_equal(ddb_scans_take(&sc, (dm_dayshard){7, 2}, &tx), 0);
  assert_int_equal(ddb_scans_take(&sc, (dm_dayshard){39, 2}, &tx), 1);
  assert_int_equal(tx, 39);
  ddb_scans_free(&sc);

  dm_name_ref nm[] = {{"b", 1}, {"a.b", 3}, {"a", 1}, {"b", 1}, {"a-", 2}, {"a", 1}};
  size_t n = ddb_names_sort_unique(nm, 6);
  assert_int_equal(n, 4);
  const char *want[] = {"a", "a-", "a.b", "b"};
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(nm[i].len, strlen(want[i]));
    assert_memory_equal(nm[i].s, want[i], nm[i].len);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_base64_vectors), cmocka_unit_test(test_item_bytes),
      cmocka_unit_test(test_request_bytes),  cmocka_unit_test(test_query_page),
      cmocka_unit_test(test_unprocessed),    cmocka_unit_test(test_classify),
      cmocka_unit_test(test_ttl),            cmocka_unit_test(test_keys),
      cmocka_unit_test(test_sets),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
