/* config_remote.c — checks on the values that configure the remote engines (Redis seeds,
 * service URLs, regions, DynamoDB table and S3 bucket names, key prefixes, prices), the
 * node id, and their cross-key rules. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_keys.h"
#include "diamond/error.h"

static int all_in(const char *s, size_t n, const char *extra) {
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)s[i]) && strchr(extra, s[i]) == NULL) return 0;
  return 1;
}

int dm_cfg_check_node_id(const char *v, char *why, size_t whylen) {
  if (!all_in(v, strlen(v), "_-")) {
    snprintf(why, whylen, "must be letters, digits, '_' and '-' (it is part of a series name)");
    return DM_EINVAL;
  }
  return 0;
}

/* host:port with a host name or an IPv4 address, or [v6]:port. */
static int check_hostport(const char *s, size_t n) {
  const char *colon = NULL;
  if (n > 0 && s[0] == '[') {
    const char *close = memchr(s, ']', n);
    if (close == NULL || close + 1 >= s + n || close[1] != ':') return -1;
    if (!all_in(s + 1, (size_t)(close - s - 1), ":.")) return -1;
    colon = close + 1;
  } else {
    for (size_t i = 0; i < n; i++)
      if (s[i] == ':') colon = s + i;
    if (colon == NULL || colon == s || !all_in(s, (size_t)(colon - s), ".-_")) return -1;
  }
  size_t plen = (size_t)(s + n - colon - 1);
  if (plen == 0 || plen > 5 || !all_in(colon + 1, plen, "")) return -1;
  for (size_t i = 0; i < plen; i++)
    if (!isdigit((unsigned char)colon[1 + i])) return -1;
  return atoi(colon + 1) > 0 && atoi(colon + 1) <= 65535 ? 0 : -1;
}

int dm_cfg_check_seeds(const char *v, char *why, size_t whylen) {
  const char *p = v;
  if (*p == '\0') return 0;
  for (int idx = 1;; idx++) {
    const char *end = strchr(p, ',');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    while (n > 0 && *p == ' ') p++, n--;
    while (n > 0 && p[n - 1] == ' ') n--;
    if (check_hostport(p, n) < 0) {
      snprintf(why, whylen, "seed %d (\"%.*s\"): expected host:port, e.g. 127.0.0.1:6379 or "
               "redis:6379", idx, (int)n, p);
      return DM_EINVAL;
    }
    if (end == NULL) return 0;
    p = end + 1;
  }
}

int dm_cfg_check_url_or_empty(const char *v, char *why, size_t whylen) {
  if (*v == '\0') return 0;
  const char *rest = NULL;
  if (strncmp(v, "http://", 7) == 0) rest = v + 7;
  else if (strncmp(v, "https://", 8) == 0) rest = v + 8;
  size_t n = rest ? strcspn(rest, "/") : 0;
  if (rest == NULL || n == 0 || (check_hostport(rest, n) < 0 && !all_in(rest, n, ".-_"))) {
    snprintf(why, whylen, "expected http://host[:port] or https://host[:port], e.g. "
             "http://127.0.0.1:4566");
    return DM_EINVAL;
  }
  if (rest[n] != '\0' && strcmp(rest + n, "/") != 0) {
    snprintf(why, whylen, "must not have a path (got \"%s\")", rest + n);
    return DM_EINVAL;
  }
  return 0;
}

int dm_cfg_check_region(const char *v, char *why, size_t whylen) {
  if (*v == '\0' || !all_in(v, strlen(v), "-")) {
    snprintf(why, whylen, "expected a region such as us-east-1");
    return DM_EINVAL;
  }
  return 0;
}

int dm_cfg_check_table_name(const char *v, char *why, size_t whylen) {
  size_t n = strlen(v);
  if (n < 3 || n > 255 || !all_in(v, n, "_-.")) {
    snprintf(why, whylen, "a DynamoDB table name is 3-255 of [A-Za-z0-9_.-]");
    return DM_EINVAL;
  }
  return 0;
}

int dm_cfg_check_bucket(const char *v, char *why, size_t whylen) {
  size_t n = strlen(v);
  int ok = n >= 3 && n <= 63 && isalnum((unsigned char)v[0]) &&
           isalnum((unsigned char)v[n - 1]) && all_in(v, n, ".-");
  for (size_t i = 0; ok && i < n; i++) ok = !isupper((unsigned char)v[i]);
  if (!ok) {
    snprintf(why, whylen, "an S3 bucket name is 3-63 of [a-z0-9.-], starting and ending with "
             "a letter or digit");
    return DM_EINVAL;
  }
  return 0;
}

int dm_cfg_check_prefix(const char *v, char *why, size_t whylen) {
  size_t n = strlen(v);
  if (v[0] == '/' || !all_in(v, n, "/_-.") || strstr(v, "//") != NULL) {
    snprintf(why, whylen, "must be [A-Za-z0-9/_.-], not start with '/' nor hold \"//\" "
             "(e.g. dm/)");
    return DM_EINVAL;
  }
  return 0;
}

int dm_cfg_check_price(const char *v, char *why, size_t whylen) {
  char *end;
  double d = strtod(v, &end);
  if (*v == '\0' || *end != '\0' || !(d >= 0) || d > 1e6) {
    snprintf(why, whylen, "expected a decimal number of USD >= 0, e.g. 0.625");
    return DM_EINVAL;
  }
  return 0;
}

double dm_config_price(const char *value) { return strtod(value, NULL); }

void dm_config_node_id(const dm_config *c, char *out, size_t len) {
  if (c->node_id[0] != '\0') {
    snprintf(out, len, "%s", c->node_id);
    return;
  }
  char host[64] = "node";
  if (gethostname(host, sizeof host) < 0) snprintf(host, sizeof host, "node");
  host[sizeof host - 1] = '\0';
  for (char *p = host; *p; p++)
    if (!isalnum((unsigned char)*p) && *p != '-') *p = '_';
  snprintf(out, len, "%s-%ld", host, (long)getpid());
}

int dm_cfg_validate_remote(const dm_config *c, char *err, size_t errlen) {
  if (strcmp(c->cache_engine, "redis") == 0 && c->cache_redis[0] == '\0') {
    snprintf(err, errlen, "[cache] redis: must name at least one host:port when [cache] "
             "engine = redis");
    return DM_EINVAL;
  }
  if (strcmp(c->cache_engine, "redis") == 0 && c->cache_lease_ms < 3 * c->cache_redis_timeout_ms) {
    /* a flush holds its lease through a take, the table write and the release, which in a
     * cluster first waits out redis_timeout_ms (redis.c, "settle delay") */
    snprintf(err, errlen, "[cache] lease_ms: must be at least 3 x [cache] redis_timeout_ms "
             "(%lld ms), or a flush outlives its lease and another node flushes the same "
             "windows", (long long)c->cache_redis_timeout_ms);
    return DM_EINVAL;
  }
  if (c->remote_retry_cap_ms < c->remote_retry_base_ms) {
    snprintf(err, errlen, "[remote] retry_cap_ms: must not be below [remote] retry_base_ms");
    return DM_EINVAL;
  }
  return 0;
}
