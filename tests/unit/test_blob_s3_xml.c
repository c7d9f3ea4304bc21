/* test_blob_s3_xml.c — the S3 store's pure parts: the minimal XML reader (exact element
 * names, attributes, empty elements, entity decoding and its refusals, error codes, list
 * pages) and the S3 error classifier's verdicts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/blob/s3_int.h"
#include "diamond/error.h"

static char *text(const char *xml, const char *tag, size_t *pos) {
  size_t n;
  const char *t = s3_xml_next(xml, strlen(xml), pos, tag, &n);
  return t ? strndup(t, n) : NULL;
}

static void elements_by_exact_name(void **state) {
  (void)state;
  const char *xml = "<R><KeyCount>2</KeyCount><Key>a</Key><Keys>no</Keys><Key/><Key x=\"1\">b"
                    "</Key><Key y=\"2\"/><Key>unterminated";
  size_t pos = 0;
  char *t = text(xml, "Key", &pos);
  assert_string_equal(t, "a");
  free(t);
  t = text(xml, "Key", &pos);
  assert_string_equal(t, ""); /* <Key/> */
  free(t);
  t = text(xml, "Key", &pos);
  assert_string_equal(t, "b"); /* with an attribute */
  free(t);
  t = text(xml, "Key", &pos);
  assert_string_equal(t, ""); /* <Key y="2"/> */
  free(t);
  assert_null(text(xml, "Key", &pos)); /* no end tag */
  pos = 0;
  t = text(xml, "KeyCount", &pos);
  assert_string_equal(t, "2");
  free(t);
  pos = 0;
  assert_null(text(xml, "Missing", &pos));
  assert_null(text("", "Key", &pos));
}

static char *unesc(const char *s, int *rc) {
  dm_buf b;
  dm_buf_init(&b);
  *rc = s3_xml_unescape(&b, s, strlen(s));
  dm_buf_add(&b, "", 0);
  return dm_buf_steal(&b, NULL);
}

static void entities(void **state) {
  (void)state;
  int rc;
  char *s = unesc("a&amp;b&lt;c&gt;d&quot;e&apos;f", &rc);
  assert_int_equal(rc, 0);
  assert_string_equal(s, "a&b<c>d\"e'f");
  free(s);
  s = unesc("&#65;&#x42;&#X43;&#xe9;&#x20AC;&#x1F600;", &rc);
  assert_int_equal(rc, 0);
  assert_string_equal(s, "ABC\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
  free(s);
  s = unesc("plain text", &rc);
  assert_string_equal(s, "plain text");
  free(s);
  const char *bad[] = {"&eacute;", "a & b", "&amp", "&#;", "&#x;", "&#xZZ;", "&#0;",
                       "&#xD800;", "&#x110000;", "&;"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    s = unesc(bad[i], &rc);
    assert_int_equal(rc, DM_ECORRUPT);
    free(s);
  }
}

static void error_codes(void **state) {
  (void)state;
  char code[128];
  const char *body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>"
                     "<Message>The specified key does not exist.</Message></Error>";
  s3_xml_error_code((const uint8_t *)body, strlen(body), code, sizeof code);
  assert_string_equal(code, "NoSuchKey");
  s3_xml_error_code((const uint8_t *)"", 0, code, sizeof code);
  assert_string_equal(code, "");
  body = "<Foo><Code>NotAnError</Code></Foo>";
  s3_xml_error_code((const uint8_t *)body, strlen(body), code, sizeof code);
  assert_string_equal(code, "");
  char small[5];
  body = "<Error><Code>SlowDown</Code></Error>";
  s3_xml_error_code((const uint8_t *)body, strlen(body), small, sizeof small);
  assert_string_equal(small, "Slow");
}

static void list_page(void **state) {
  (void)state;
  const char *xml = "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                    "<Name>b</Name><KeyCount>2</KeyCount><IsTruncated>true</IsTruncated>"
                    "<ContinuationToken>old</ContinuationToken>"
                    "<Contents><Key>dm/a&amp;b</Key><ETag>&quot;x&quot;</ETag></Contents>"
                    "<Contents><Key>dm/c</Key></Contents>"
                    "<NextContinuationToken>n&#x2B;1</NextContinuationToken></ListBucketResult>";
  dm_buf keys;
  dm_buf_init(&keys);
  size_t n;
  int truncated;
  char *token;
  assert_int_equal(s3_xml_list_page(xml, strlen(xml), &keys, &n, &truncated, &token), 0);
  assert_int_equal(n, 2);
  assert_int_equal(truncated, 1);
  assert_string_equal(token, "n+1");
  assert_string_equal(keys.p, "dm/a&b");
  assert_string_equal(keys.p + strlen("dm/a&b") + 1, "dm/c");
  free(token);
  dm_buf_free(&keys);

  const char *last = "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>";
  dm_buf_init(&keys);
  assert_int_equal(s3_xml_list_page(last, strlen(last), &keys, &n, &truncated, &token), 0);
  assert_int_equal(n, 0);
  assert_int_equal(truncated, 0);
  assert_null(token);
  dm_buf_free(&keys);
  dm_buf_init(&keys);
  assert_int_equal(s3_xml_list_page("<Error/>", 8, &keys, &n, &truncated, &token), DM_ECORRUPT);
  dm_buf_free(&keys);
}

static void s3_verdicts(void **state) {
  (void)state;
  struct {
    long code;
    const char *body;
    dm_aws_verdict v;
    const char *type;
  } cases[] = {
      {200, "", DM_AWS_OK, ""},
      {206, "", DM_AWS_OK, ""},
      {503, "<Error><Code>SlowDown</Code></Error>", DM_AWS_THROTTLE, "SlowDown"},
      {503, "", DM_AWS_THROTTLE, ""}, /* HEAD: no body */
      {429, "", DM_AWS_THROTTLE, ""},
      {500, "<Error><Code>InternalError</Code></Error>", DM_AWS_RETRY, "InternalError"},
      {502, "", DM_AWS_RETRY, ""},
      {400, "<Error><Code>RequestTimeout</Code></Error>", DM_AWS_RETRY, "RequestTimeout"},
      {400, "<Error><Code>InvalidArgument</Code></Error>", DM_AWS_PERMANENT, "InvalidArgument"},
      {403, "<Error><Code>AccessDenied</Code></Error>", DM_AWS_PERMANENT, "AccessDenied"},
      {404, "<Error><Code>NoSuchKey</Code></Error>", DM_AWS_PERMANENT, "NoSuchKey"},
      {404, "<Error><Code>NoSuchBucket</Code></Error>", DM_AWS_PERMANENT, "NoSuchBucket"},
      {409, "<Error><Code>BucketAlreadyExists</Code></Error>", DM_AWS_PERMANENT,
       "BucketAlreadyExists"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char type[128] = "";
    assert_int_equal(s3_classify(cases[i].code, (const uint8_t *)cases[i].body,
                                 strlen(cases[i].body), type),
                     cases[i].v);
    assert_string_equal(type, cases[i].type);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(elements_by_exact_name),
      cmocka_unit_test(entities),
      cmocka_unit_test(error_codes),
      cmocka_unit_test(list_page),
      cmocka_unit_test(s3_verdicts),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
