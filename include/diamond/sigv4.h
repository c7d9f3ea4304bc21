/* sigv4.h — AWS Signature Version 4 (the Authorization header form) as pure functions:
 * no clock, no I/O, so every step can be checked against AWS's published examples.
 *
 *   canonical request = METHOD \n URI \n QUERY \n name:value\n... \n signed;names \n payload hash
 *   string to sign    = "AWS4-HMAC-SHA256" \n amz date \n yyyymmdd/region/service/aws4_request \n
 *                       hex(sha256(canonical request))
 *   signing key       = HMAC(HMAC(HMAC(HMAC("AWS4" secret, yyyymmdd), region), service),
 *                       "aws4_request")
 *   signature         = hex(HMAC(signing key, string to sign))
 *
 * The caller chooses the headers to sign (host and x-amz-date at least; S3 also wants
 * x-amz-content-sha256) and sends exactly those values. Names are lower-cased, values
 * trimmed with inner runs of spaces collapsed, repeated names joined with ',', and the
 * list sorted by name, as the specification says.
 */
#ifndef DIAMOND_SIGV4_H
#define DIAMOND_SIGV4_H

#include <stddef.h>
#include <stdint.h>

#include "diamond/buf.h"

/* SHA-256 of zero bytes, the payload hash of every request without a body. */
#define DM_SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

typedef struct dm_sigv4_header {
  const char *name, *value;
} dm_sigv4_header;

typedef struct dm_sigv4_request {
  const char *method;             /* "GET" */
  const char *uri;                /* canonical URI: the encoded path as sent, "/" at least */
  const char *query;              /* canonical query (dm_sigv4_query), NULL or "" for none */
  const dm_sigv4_header *headers; /* every header to sign, any case and order */
  size_t nheaders;
  const char *payload_hash;       /* lower-case hex SHA-256 of the body */
  const char *region, *service;   /* "us-east-1", "s3" */
  const char *access_key, *secret_key;
  /* NULL or "": none. Else signed as x-amz-security-token unless headers already have it
   * (the caller sends the header either way). */
  const char *session_token;
  const char *amz_date;           /* "YYYYMMDDTHHMMSSZ", the x-amz-date header's value */
} dm_sigv4_request;

typedef struct dm_sigv4_result {
  char *canonical_request; /* the four strings are malloc'd; dm_sigv4_result_free */
  char *string_to_sign;
  char *signed_headers;    /* "host;x-amz-date" */
  char *authorization;     /* "AWS4-HMAC-SHA256 Credential=AK/20150830/us-east-1/s3/aws4_request,
                              SignedHeaders=..., Signature=..." (one line, ", " separated) */
  char signature[65];
} dm_sigv4_result;

/* 0; DM_EINVAL for a missing field, a bad amz_date or a header name that is empty or holds
 * ':' or a control byte; DM_ENOMEM. On error *out holds nothing to free. */
int dm_sigv4_sign(const dm_sigv4_request *r, dm_sigv4_result *out);
void dm_sigv4_result_free(dm_sigv4_result *out); /* fields NULL afterwards; twice is fine */

/* Lower-case hex SHA-256 of data[0..len), NUL-terminated. */
void dm_sigv4_sha256_hex(const void *data, size_t len, char out[65]);

/* Appends the RFC 3986 encoding of s[0..len) to out: the unreserved bytes A-Z a-z 0-9
 * '-' '.' '_' '~' as they are, every other byte as %XX with upper-case hex. keep_slash
 * leaves '/' alone (an S3 object key in a path); query names and values encode it. */
void dm_sigv4_uri_encode(dm_buf *out, const char *s, size_t len, int keep_slash);

typedef struct dm_sigv4_param {
  const char *name, *value; /* raw, not encoded; value NULL means "" */
} dm_sigv4_param;

/* The canonical query string of params: names and values encoded (keep_slash 0), sorted
 * by encoded name then encoded value (bytewise), joined as "a=1&b=&c=3". The same string
 * is the query to send. Returns malloc'd text ("" for n == 0), NULL when out of memory. */
char *dm_sigv4_query(const dm_sigv4_param *params, size_t n);

/* t (Unix seconds, UTC) as "YYYYMMDDTHHMMSSZ". */
void dm_sigv4_amz_date(int64_t t, char out[17]);

#endif
