/* config_check.c — checks on configuration values: listen addresses, the [auth] keys
 * list and its lookup, and dm_config_validate's cross-key rules. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "config_keys.h"
#include "diamond/error.h"

/* ---- addresses ------------------------------------------------------------------- */

int dm_parse_hostport(const char *s, char *host, size_t hostlen, int *port) {
  const char *h = s, *colon;
  size_t hlen;
  int family;
  if (s[0] == '[') {
    const char *close = strchr(s, ']');
    if (close == NULL || close[1] != ':') return DM_EINVAL;
    h = s + 1;
    hlen = (size_t)(close - h);
    colon = close + 1;
    family = AF_INET6;
  } else {
    colon = strrchr(s, ':');
    if (colon == NULL || memchr(s, ':', (size_t)(colon - s)) != NULL) return DM_EINVAL;
    hlen = (size_t)(colon - s);
    family = AF_INET;
  }
  const char *p = colon + 1;
  size_t plen = strlen(p);
  if (plen == 0 || plen > 5) return DM_EINVAL;
  int n = 0;
  for (size_t i = 0; i < plen; i++) {
    if (!isdigit((unsigned char)p[i])) return DM_EINVAL;
    n = n * 10 + (p[i] - '0');
  }
  if (n > 65535) return DM_EINVAL;
  char tmp[64];
  unsigned char bin[16];
  if (hlen == 0 || hlen >= sizeof tmp) return DM_EINVAL;
  memcpy(tmp, h, hlen);
  tmp[hlen] = '\0';
  if (inet_pton(family, tmp, bin) != 1) return DM_EINVAL;
  if (hlen >= hostlen) return DM_EINVAL;
  memcpy(host, tmp, hlen + 1);
  *port = n;
  return 0;
}

int dm_host_is_loopback(const char *host) {
  unsigned char bin[16];
  if (inet_pton(AF_INET, host, bin) == 1) return bin[0] == 127;
  if (inet_pton(AF_INET6, host, bin) == 1) {
    static const unsigned char v6_loopback[16] = {[15] = 1};
    static const unsigned char v4_mapped[12] = {[10] = 0xff, [11] = 0xff};
    return memcmp(bin, v6_loopback, 16) == 0 ||
           (memcmp(bin, v4_mapped, 12) == 0 && bin[12] == 127);
  }
  return 0;
}

int dm_cfg_check_listen(const char *value, char *why, size_t whylen) {
  char host[64];
  int port;
  if (dm_parse_hostport(value, host, sizeof host, &port) < 0) {
    snprintf(why, whylen,
             "\"%s\" is not host:port with a numeric host (127.0.0.1:8080, [::1]:8080)",
             value);
    return DM_EINVAL;
  }
  return 0;
}

int dm_cfg_check_listen_or_off(const char *value, char *why, size_t whylen) {
  if (value[0] == '\0' || strcasecmp(value, "off") == 0) return 0;
  return dm_cfg_check_listen(value, why, whylen);
}

/* ---- [auth] keys ----------------------------------------------------------------- */

/* Walks "k1=read+write, k2=read": calls fn for each entry (key and scopes), stops at the
 * first error (a reason in why). Keys are 1..128 bytes without space , = + or ;. */
typedef int (*entry_fn)(void *arg, const char *key, size_t klen, int scopes);

static int walk_keys(const char *s, entry_fn fn, void *arg, char *why, size_t whylen) {
  const char *p = s;
  while (isspace((unsigned char)*p)) p++;
  if (*p == '\0') return 0;
  for (int idx = 1;; idx++) {
    while (*p == ' ' || *p == '\t') p++;
    const char *key = p;
    while (*p != '\0' && *p != '=' && *p != ',' && *p != '+' && *p != ';' &&
           !isspace((unsigned char)*p) && (unsigned char)*p >= 0x21)
      p++;
    size_t klen = (size_t)(p - key);
    if (klen == 0 || klen > 128 || *p != '=') {
      snprintf(why, whylen, "entry %d: expected key=scope[+scope] (scopes read, write; key "
               "1-128 bytes without spaces , = + ;)", idx);
      return DM_EINVAL;
    }
    int scopes = 0;
    do {
      p++; /* '=' or '+' */
      const char *sc = p;
      while (isalpha((unsigned char)*p)) p++;
      size_t n = (size_t)(p - sc);
      int bit = (n == 4 && strncmp(sc, "read", 4) == 0)    ? DM_SCOPE_READ
                : (n == 5 && strncmp(sc, "write", 5) == 0) ? DM_SCOPE_WRITE
                                                           : 0;
      if (bit == 0) {
        snprintf(why, whylen, "entry %d (%.*s): scope \"%.*s\" must be read or write", idx,
                 (int)klen, key, (int)n, sc);
        return DM_EINVAL;
      }
      scopes |= bit;
    } while (*p == '+');
    while (*p == ' ' || *p == '\t') p++;
    int rc = fn(arg, key, klen, scopes);
    if (rc < 0) {
      snprintf(why, whylen, "entry %d: key %.*s is listed twice", idx, (int)klen, key);
      return rc;
    }
    if (*p == '\0') return 0;
    if (*p != ',') {
      snprintf(why, whylen, "entry %d (%.*s): expected ',' after the scopes", idx, (int)klen,
               key);
      return DM_EINVAL;
    }
    p++;
  }
}

#define MAX_KEYS 200 /* more than fit in dm_config.auth_keys */

struct dup_check {
  const char *seen[MAX_KEYS];
  size_t seen_len[MAX_KEYS];
  int n;
};

static int no_duplicate(void *arg, const char *key, size_t klen, int scopes) {
  struct dup_check *d = arg;
  (void)scopes;
  for (int i = 0; i < d->n && i < MAX_KEYS; i++)
    if (d->seen_len[i] == klen && memcmp(d->seen[i], key, klen) == 0) return DM_EINVAL;
  if (d->n < MAX_KEYS) {
    d->seen[d->n] = key;
    d->seen_len[d->n] = klen;
  }
  d->n++;
  return 0;
}

int dm_cfg_check_auth_keys(const char *value, char *why, size_t whylen) {
  struct dup_check d = {.n = 0};
  return walk_keys(value, no_duplicate, &d, why, whylen);
}

struct lookup {
  const char *key;
  size_t klen;
  int scopes;
};

static int match_key(void *arg, const char *key, size_t klen, int scopes) {
  struct lookup *l = arg;
  /* Constant time over the candidate's bytes once the lengths agree. */
  unsigned char diff = (unsigned char)(klen != l->klen);
  if (!diff)
    for (size_t i = 0; i < klen; i++) diff |= (unsigned char)(key[i] ^ l->key[i]);
  if (!diff) l->scopes = scopes;
  return 0;
}

int dm_config_key_scopes(const dm_config *c, const char *key) {
  if (key == NULL || key[0] == '\0') return 0;
  struct lookup l = {key, strlen(key), 0};
  char why[256]; /* the message is not used; sized so that it is never truncated */
  if (walk_keys(c->auth_keys, match_key, &l, why, sizeof why) < 0) return 0;
  return l.scopes;
}

int dm_config_has_keys(const dm_config *c) {
  for (const char *p = c->auth_keys; p < c->auth_keys + sizeof c->auth_keys && *p; p++)
    if (!isspace((unsigned char)*p)) return 1;
  return 0;
}

/* ---- validate -------------------------------------------------------------------- */

int dm_config_validate(const dm_config *c, char *err, size_t errlen) {
  char why[512], a[32], b[32];
  for (size_t i = 0; i < dm_cfg_nkeys; i++) {
    const cfg_key *k = &dm_cfg_keys[i];
    if (dm_cfg_key_recheck(c, k, why, sizeof why) < 0) {
      snprintf(err, errlen, "[%s] %s: %s", k->section, k->name, why);
      return DM_EINVAL;
    }
  }
  if (c->window % c->step != 0) {
    dm_cfg_format_number(KT_DURATION, c->step, a, sizeof a);
    snprintf(err, errlen, "[storage] window: must be a multiple of [storage] step (%s)", a);
    return DM_EINVAL;
  }
  if (86400 % c->window != 0) {
    snprintf(err, errlen, "[storage] window: must divide a day (86400s) so no window "
             "spans two days");
    return DM_EINVAL;
  }
  if (c->blob_keep <= c->table_keep) {
    dm_cfg_format_number(KT_DURATION, c->table_keep, a, sizeof a);
    dm_cfg_format_number(KT_DURATION, c->blob_keep, b, sizeof b);
    snprintf(err, errlen, "[blob] keep: %s must be longer than [table] keep (%s)", b, a);
    return DM_EINVAL;
  }
  if (c->wal_segment_bytes > c->wal_max_bytes) {
    snprintf(err, errlen, "[wal] segment_bytes: must not exceed [wal] max_bytes");
    return DM_EINVAL;
  }
  if (c->data_dir[0] == '\0') {
    snprintf(err, errlen, "[server] data_dir: must not be empty");
    return DM_EINVAL;
  }
  char host[64];
  int port;
  if (dm_parse_hostport(c->http, host, sizeof host, &port) == 0 &&
      !dm_host_is_loopback(host) && !dm_config_has_keys(c) && !c->auth_open) {
    snprintf(err, errlen, "[server] http: %s is not a loopback address: set [auth] keys, or "
             "[auth] open = yes to let anyone read and write", c->http);
    return DM_EINVAL;
  }
  return dm_cfg_validate_remote(c, err, errlen);
}
