/* sigv4.c — AWS Signature Version 4 signing (sigv4.h) on OpenSSL's libcrypto.
 *
 * Why not curl's CURLOPT_AWS_SIGV4: (a) a signer we cannot call with a fixed date cannot be
 * checked against AWS's published examples, and the emulators we test with (s3rver,
 * dynalite) do not verify signatures, so those unit tests are the only proof that signing
 * is right; (b) curl 7.88's implementation neither signs nor sends X-Amz-Security-Token
 * (temporary credentials from STS, ECS, instance roles) and has known gaps in query
 * canonicalisation (ordering and encoding of parameters). Doing it here costs ~200 lines
 * and two libcrypto calls (SHA256, HMAC).
 *
 * The result keeps every intermediate string (canonical request, string to sign), so a
 * test asserts each step and a SignatureDoesNotMatch in production can be compared with
 * the canonical request the server reports.
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "diamond/error.h"
#include "diamond/sigv4.h"

typedef struct canon_header {
  char *name;  /* lower-case */
  dm_buf value; /* trimmed, spaces collapsed, repeats joined with ',' */
} canon_header;

static void to_hex(const unsigned char *d, size_t n, char *out) {
  static const char hex[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = hex[d[i] >> 4];
    out[2 * i + 1] = hex[d[i] & 15];
  }
  out[2 * n] = '\0';
}

void dm_sigv4_sha256_hex(const void *data, size_t len, char out[65]) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(len > 0 ? data : (const void *)"", len, md);
  to_hex(md, sizeof md, out);
}

static void hmac(const void *key, size_t klen, const char *msg, size_t mlen,
                 unsigned char out[32]) {
  unsigned int n = 32;
  HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, mlen, out, &n);
}

static int name_ok(const char *s) {
  if (s == NULL || *s == '\0') return 0;
  for (; *s; s++)
    if (*s == ':' || (unsigned char)*s <= ' ' || *s == 0x7f) return 0;
  return 1;
}

/* Trimmed value with inner runs of spaces and tabs collapsed to one space. */
static void add_value(dm_buf *b, const char *v) {
  while (*v == ' ' || *v == '\t') v++;
  int space = 0;
  for (; *v; v++) {
    if (*v == ' ' || *v == '\t') {
      space = 1;
      continue;
    }
    if (space) dm_buf_add(b, " ", 1);
    space = 0;
    dm_buf_add(b, v, 1);
  }
}

static int cmp_header(const void *a, const void *b) {
  return strcmp(((const canon_header *)a)->name, ((const canon_header *)b)->name);
}

static int date_ok(const char *d) {
  if (d == NULL || strlen(d) != 16 || d[8] != 'T' || d[15] != 'Z') return 0;
  for (int i = 0; i < 15; i++)
    if (i != 8 && (d[i] < '0' || d[i] > '9')) return 0;
  return 1;
}

/* Folds the request's headers (and the session token) into sorted unique names. */
static int canon_headers(const dm_sigv4_request *r, canon_header **out, size_t *nout) {
  size_t cap = r->nheaders + 1, n = 0;
  canon_header *h = calloc(cap, sizeof *h);
  if (h == NULL) return DM_ENOMEM;
  int rc = 0, have_token = 0;
  for (size_t i = 0; i <= r->nheaders; i++) {
    const char *name, *value;
    if (i < r->nheaders) {
      name = r->headers[i].name;
      value = r->headers[i].value ? r->headers[i].value : "";
      if (!name_ok(name)) {
        rc = DM_EINVAL;
        goto fail;
      }
      if (strcasecmp(name, "x-amz-security-token") == 0) have_token = 1;
    } else {
      if (have_token || r->session_token == NULL || r->session_token[0] == '\0') break;
      name = "x-amz-security-token";
      value = r->session_token;
    }
    size_t j = 0;
    while (j < n && strcasecmp(h[j].name, name) != 0) j++;
    if (j == n) {
      h[n].name = strdup(name);
      if (h[n].name == NULL) {
        rc = DM_ENOMEM;
        goto fail;
      }
      for (char *p = h[n].name; *p; p++)
        if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
      dm_buf_init(&h[n].value);
      n++;
    } else {
      dm_buf_add(&h[j].value, ",", 1);
    }
    add_value(&h[j].value, value);
    dm_buf_add(&h[j].value, "", 0);
    if (h[j].value.oom) {
      rc = DM_ENOMEM;
      goto fail;
    }
  }
  qsort(h, n, sizeof *h, cmp_header);
  *out = h;
  *nout = n;
  return 0;
fail:
  for (size_t j = 0; j < n; j++) {
    free(h[j].name);
    dm_buf_free(&h[j].value);
  }
  free(h);
  return rc;
}

void dm_sigv4_result_free(dm_sigv4_result *out) {
  free(out->canonical_request);
  free(out->string_to_sign);
  free(out->signed_headers);
  free(out->authorization);
  out->canonical_request = out->string_to_sign = out->signed_headers = out->authorization =
      NULL;
}

int dm_sigv4_sign(const dm_sigv4_request *r, dm_sigv4_result *out) {
  memset(out, 0, sizeof *out);
  if (r == NULL || r->method == NULL || r->uri == NULL || r->payload_hash == NULL ||
      r->region == NULL || r->service == NULL || r->access_key == NULL ||
      r->secret_key == NULL || !date_ok(r->amz_date) || (r->nheaders > 0 && r->headers == NULL))
    return DM_EINVAL;
  canon_header *h;
  size_t nh;
  int rc = canon_headers(r, &h, &nh);
  if (rc < 0) return rc;

  dm_buf canon, signed_names, sts, auth;
  dm_buf_init(&canon);
  dm_buf_init(&signed_names);
  dm_buf_init(&sts);
  dm_buf_init(&auth);
  dm_buf_printf(&canon, "%s\n%s\n%s\n", r->method, r->uri[0] ? r->uri : "/",
                r->query ? r->query : "");
  for (size_t i = 0; i < nh; i++) {
    dm_buf_printf(&canon, "%s:%s\n", h[i].name, h[i].value.p ? h[i].value.p : "");
    dm_buf_printf(&signed_names, "%s%s", i ? ";" : "", h[i].name);
  }
  dm_buf_add(&signed_names, "", 0);
  dm_buf_printf(&canon, "\n%s\n%s", signed_names.p ? signed_names.p : "", r->payload_hash);

  char day[9], canon_hash[65];
  memcpy(day, r->amz_date, 8);
  day[8] = '\0';
  dm_sigv4_sha256_hex(canon.p, canon.len, canon_hash);
  dm_buf_printf(&sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", r->amz_date, day,
                r->region, r->service, canon_hash);

  unsigned char k[32];
  size_t slen = strlen(r->secret_key);
  char *ksecret = malloc(slen + 5);
  if (ksecret == NULL) {
    rc = DM_ENOMEM;
    goto done;
  }
  memcpy(ksecret, "AWS4", 4);
  memcpy(ksecret + 4, r->secret_key, slen + 1);
  hmac(ksecret, slen + 4, day, 8, k);
  OPENSSL_cleanse(ksecret, slen + 4);
  free(ksecret);
  hmac(k, sizeof k, r->region, strlen(r->region), k);
  hmac(k, sizeof k, r->service, strlen(r->service), k);
  hmac(k, sizeof k, "aws4_request", 12, k);
  unsigned char sig[32];
  hmac(k, sizeof k, sts.p ? sts.p : "", sts.len, sig);
  OPENSSL_cleanse(k, sizeof k);
  to_hex(sig, sizeof sig, out->signature);

  dm_buf_printf(&auth,
                "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=%s, "
                "Signature=%s",
                r->access_key, day, r->region, r->service,
                signed_names.p ? signed_names.p : "", out->signature);
  if (canon.oom || signed_names.oom || sts.oom || auth.oom) {
    rc = DM_ENOMEM;
    goto done;
  }
  out->canonical_request = dm_buf_steal(&canon, NULL);
  out->string_to_sign = dm_buf_steal(&sts, NULL);
  out->signed_headers = dm_buf_steal(&signed_names, NULL);
  out->authorization = dm_buf_steal(&auth, NULL);
  if (out->canonical_request == NULL || out->string_to_sign == NULL ||
      out->signed_headers == NULL || out->authorization == NULL) {
    dm_sigv4_result_free(out);
    rc = DM_ENOMEM;
  }
done:
  dm_buf_free(&canon);
  dm_buf_free(&signed_names);
  dm_buf_free(&sts);
  dm_buf_free(&auth);
  for (size_t i = 0; i < nh; i++) {
    free(h[i].name);
    dm_buf_free(&h[i].value);
  }
  free(h);
  if (rc < 0) memset(out->signature, 0, sizeof out->signature);
  return rc;
}
