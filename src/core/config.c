/* config.c — the table of every configuration key, and the code that parses, formats and
 * prints one key through it.
 *
 * The table below is the single description of the configuration (STYLE.md "Config as a
 * table"): the INI loader, the DIAMOND_<SECTION>_<KEY> environment overrides, --set,
 * dm_config_validate's bounds, --check-config output and conf/diamond.ini
 * (dm_config_print_doc) all walk it, so they cannot disagree. Defaults are written as
 * text and parsed by the same code as user input; a unit test checks that the
 * checked-in conf/diamond.ini equals dm_config_print_doc's output.
 */
#include <ctype.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "config_keys.h"
#include "diamond/error.h"
#include "diamond/timefmt.h"

#define KIB ((int64_t)1024)
#define MIB (KIB * 1024)
#define GIB (MIB * 1024)
#define TIB (GIB * 1024)
#define DAY ((int64_t)86400)

#define FIELD(f) offsetof(dm_config, f), sizeof(((dm_config *)0)->f)
#define STR(sec, name, f, def, check, secret, help) \
  {sec, name, KT_STR, def, 0, 0, NULL, NULL, check, FIELD(f), secret, help}
#define NUM(sec, name, type, f, def, lo, hi, help) \
  {sec, name, type, def, lo, hi, NULL, NULL, NULL, FIELD(f), 0, help}
#define BOOL(sec, name, f, def, help) \
  {sec, name, KT_BOOL, def, 0, 1, NULL, NULL, NULL, FIELD(f), 0, help}
/* An enum kept as an int index into choices. */
#define ENUM_INT(sec, name, f, def, choices, help) \
  {sec, name, KT_ENUM, def, 0, 0, choices, NULL, NULL, offsetof(dm_config, f), 0, 0, help}
/* An enum kept as the chosen string. */
#define ENUM_STR(sec, name, f, def, choices, later, help) \
  {sec, name, KT_ENUM, def, 0, 0, choices, later, NULL, FIELD(f), 0, help}

static const struct {
  const char *name, *help;
} sections[] = {
    {"server", "The process: HTTP listener, data directory, logging, shutdown."},
    {"graphite", "Graphite plaintext protocol (<path> <value> <timestamp>\\n) over TCP and UDP."},
    {"storage", "Time resolution. Changing step or window on an existing data directory is "
                "not supported."},
    {"limits", "Limits on requests and reads; going over one is a clear 4xx error."},
    {"wal", "Write-ahead log under <data_dir>/wal: a write is acknowledged only once its "
            "batch is in the WAL."},
    {"cache", "Hot tier: the windows not yet in the table. memory: in this process, durable "
              "through the WAL; redis: in Redis or Redis Cluster, shared by every node."},
    {"flusher", "Moves closed windows from the cache into the table."},
    {"table", "Warm tier: one item per (series, window). lmdb: <data_dir>/table; dynamodb: a "
              "DynamoDB table (AWS, LocalStack, dynalite), credentials from AWS_ACCESS_KEY_ID, "
              "AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN."},
    {"ager", "Packs days older than table.keep from the table into blob files."},
    {"blob", "Cold tier: one object per (day, shard). dir: files under <data_dir>/blobs; s3: "
             "an S3 bucket (AWS, LocalStack, MinIO, s3rver), credentials as for the table."},
    {"remote", "The HTTP client of the dynamodb and s3 engines: timeouts, concurrency, retries "
               "(capped exponential backoff with full jitter)."},
    {"cost", "On-demand list prices in USD for the estimated cost on /metrics (defaults: "
             "us-east-1)."},
    {"canary", "A series every node writes and reads back through the tiers."},
    {"auth", "API keys, sent by clients in the X-Api-Key header."},
};

const cfg_key dm_cfg_keys[] = {
    STR("server", "http", http, "127.0.0.1:8080", dm_cfg_check_listen, 0,
        "HTTP listen address, host:port with a numeric host ([::1]:8080 for IPv6; port 0 "
        "picks a free port). A non-loopback address needs [auth] keys or auth.open = yes."),
    STR("server", "data_dir", data_dir, "./data", NULL, 0,
        "Directory holding the WAL, the LMDB table and the blob files; created if missing."),
    ENUM_STR("server", "log_level", log_level, "info", "debug|info|warn|error", NULL,
             "Lowest level of the logfmt lines written to stderr."),
    NUM("server", "shutdown_timeout_ms", KT_DURATION_MS, shutdown_timeout_ms, "10000", 0,
        3600 * 1000, "On SIGTERM, in-flight requests get this long to finish."),
    STR("server", "node_id", node_id, "", dm_cfg_check_node_id, 0,
        "This node's name in flush leases and its canary series; [A-Za-z0-9_-], empty: "
        "<hostname>-<pid>."),

    STR("graphite", "listen", graphite, "127.0.0.1:2003", dm_cfg_check_listen_or_off, 0,
        "TCP listen address for Graphite plaintext; empty or off disables it."),
    STR("graphite", "udp", graphite_udp, "127.0.0.1:2003", dm_cfg_check_listen_or_off, 0,
        "UDP address for Graphite plaintext (one or more whole lines per datagram; a line is "
        "never joined across datagrams); empty or off disables it."),
    NUM("graphite", "max_line", KT_SIZE, graphite_max_line, "4k", 64, MIB,
        "Longest accepted line; a longer line is counted as bad and skipped."),

    NUM("storage", "step", KT_DURATION, step, "60s", 1, DAY,
        "Resolution: every point's time is floored to a multiple of step, and a second "
        "write of the same (series, time) replaces the first."),
    NUM("storage", "window", KT_DURATION, window, "1h", 1, DAY,
        "Span of time one cache entry, table item and blob chunk holds; a multiple of "
        "step that divides a day."),

    NUM("limits", "max_body_bytes", KT_SIZE, max_body_bytes, "32m", KIB, GIB,
        "Largest request body; larger ones get 413."),
    NUM("limits", "max_points", KT_INT, max_points, "100000", 1, 10000000,
        "Most points in one write request; more get 413."),
    NUM("limits", "max_name_len", KT_INT, max_name_len, "256", 16, 400,
        "Longest series name in bytes (LMDB keys are at most 511 bytes)."),
    NUM("limits", "max_header_bytes", KT_SIZE, max_header_bytes, "16k", KIB, MIB,
        "Largest total size of a request's headers; larger ones get 431."),
    NUM("limits", "max_connections", KT_INT, max_connections, "1024", 1, 1000000,
        "Open connections per listener (HTTP and Graphite each); above it HTTP answers "
        "503 and Graphite closes at once."),
    NUM("limits", "max_future", KT_DURATION, max_future, "10m", 0, 365 * DAY,
        "How far ahead of the server clock a point's time may be."),
    NUM("limits", "max_query_series", KT_INT, max_query_series, "1000", 1, 10000000,
        "Most series one read may touch."),
    NUM("limits", "max_query_points", KT_INT, max_query_points, "10000000", 1,
        (int64_t)1000000000000, "Most points one read may return."),
    NUM("limits", "idle_timeout_ms", KT_DURATION_MS, idle_timeout_ms, "60000", 100,
        DAY * 1000, "Keep-alive connections idle this long are closed."),

    ENUM_INT("wal", "fsync", wal_fsync, "always", "always|interval|off",
             "always: acknowledge a write after fdatasync (group commit: one sync per loop "
             "turn); interval: sync every fsync_ms, a crash of the machine loses up to that "
             "much; off: leave it to the kernel (a process crash loses nothing, a power "
             "loss may)."),
    NUM("wal", "fsync_ms", KT_DURATION_MS, wal_fsync_ms, "200", 1, 60000,
        "Sync period for fsync = interval."),
    NUM("wal", "segment_bytes", KT_SIZE, wal_segment_bytes, "64m", 64 * KIB, 4 * GIB,
        "A new segment file is started after this many bytes."),
    NUM("wal", "max_bytes", KT_SIZE, wal_max_bytes, "1g", MIB, TIB,
        "Above this much WAL the flusher also writes windows that are still open, so old "
        "segments can be deleted."),

    ENUM_STR("cache", "engine", cache_engine, "memory", "memory|redis", NULL,
             "Cache implementation: memory (+ the WAL) or redis (no WAL: Redis's own "
             "persistence, appendonly, makes an acknowledged write durable)."),
    NUM("cache", "max_bytes", KT_SIZE, cache_max_bytes, "2g", MIB, TIB,
        "Above this much cached data writes get 503 with Retry-After (redis: the data "
        "memory Redis reports, summed over the cluster)."),
    STR("cache", "redis", cache_redis, "", dm_cfg_check_seeds, 0,
        "redis: seed nodes host:port[,host:port...]; a cluster is detected with CLUSTER "
        "INFO and its slot map read from any seed."),
    STR("cache", "redis_password", cache_redis_password, "", NULL, 1,
        "redis: AUTH password (empty: none)."),
    NUM("cache", "redis_timeout_ms", KT_DURATION_MS, cache_redis_timeout_ms, "2000", 10,
        600 * 1000, "redis: connect timeout, and how long a command may wait for its reply "
        "before the write fails with 503."),
    NUM("cache", "shards", KT_INT, cache_shards, "16", 1, 4096,
        "redis: dirty-window sets; each is flushed by one node at a time under a lease."),
    NUM("cache", "lease_ms", KT_DURATION_MS, cache_lease_ms, "30000", 3000, 3600 * 1000,
        "redis: flush and ager leases last this long unless renewed (a node renews the "
        "leases of the shards it is flushing every second); a dead node's shards are taken "
        "over within it."),

    NUM("flusher", "grace", KT_DURATION, flush_grace, "60s", 0, DAY,
        "A window is flushed this long after its end, so late points still join it."),
    NUM("flusher", "interval_ms", KT_DURATION_MS, flush_interval_ms, "1000", 10, 3600 * 1000,
        "How often the flusher looks for windows to flush."),
    NUM("flusher", "max_windows", KT_INT, flush_max_windows, "20000", 1, 10000000,
        "Most windows written in one flush round."),

    ENUM_STR("table", "engine", table_engine, "lmdb", "lmdb|dynamodb", NULL,
             "Table implementation: lmdb (files under <data_dir>/table) or dynamodb."),
    NUM("table", "keep", KT_DURATION, table_keep, "14d", 1, 3650 * DAY,
        "Days older than this are packed into blobs by the ager, then leave the table."),
    NUM("table", "map_bytes", KT_SIZE, table_map_bytes, "64g", MIB, 16 * TIB,
        "LMDB map size: the most the table file may grow to (address space, not memory)."),
    STR("table", "endpoint", table_endpoint, "", dm_cfg_check_url_or_empty, 0,
        "dynamodb: service URL, e.g. http://127.0.0.1:4566 (LocalStack) or "
        "http://127.0.0.1:8000 (dynalite); empty: https://dynamodb.<region>.amazonaws.com."),
    STR("table", "region", table_region, "us-east-1", dm_cfg_check_region, 0,
        "dynamodb: region, used for signing and the AWS endpoint."),
    STR("table", "name", table_name, "diamond", dm_cfg_check_table_name, 0,
        "dynamodb: table name (created by diamondd --create-storage)."),

    NUM("ager", "interval", KT_DURATION, ager_interval, "1h", 1, 7 * DAY,
        "Time between automatic ager runs (POST /admin/age runs it at once)."),
    NUM("ager", "shards", KT_INT, ager_shards, "16", 1, 4096,
        "Blob files per day; series are hashed into shards."),
    NUM("ager", "grace", KT_DURATION, ager_grace, "3d", 0, 365 * DAY,
        "Table items live this long beyond table.keep, so data never expires before it "
        "is in a blob."),

    ENUM_STR("blob", "engine", blob_engine, "dir", "dir|s3", NULL,
             "Blob store implementation: dir (files under <data_dir>/blobs) or s3."),
    NUM("blob", "keep", KT_DURATION, blob_keep, "460d", DAY, 36500 * DAY,
        "Blobs older than this are deleted, and points older than this are refused. Must "
        "be longer than table.keep."),
    NUM("blob", "index_cache", KT_INT, blob_index_cache, "256", 1, 1000000,
        "Blob file indexes kept in memory (LRU)."),
    STR("blob", "endpoint", blob_endpoint, "", dm_cfg_check_url_or_empty, 0,
        "s3: service URL, e.g. http://127.0.0.1:4566 (LocalStack, MinIO, s3rver), addressed "
        "path-style (<endpoint>/<bucket>/<key>); empty: AWS, virtual-hosted style."),
    STR("blob", "region", blob_region, "us-east-1", dm_cfg_check_region, 0,
        "s3: region, used for signing and the AWS endpoint."),
    STR("blob", "bucket", blob_bucket, "diamond", dm_cfg_check_bucket, 0,
        "s3: bucket (created by diamondd --create-storage)."),
    STR("blob", "prefix", blob_prefix, "dm/", dm_cfg_check_prefix, 0,
        "s3: prefix of every object key: <prefix>v1/<YYYY-MM-DD>/<shard>.dmb."),

    NUM("remote", "timeout_ms", KT_DURATION_MS, remote_timeout_ms, "10000", 100, 600 * 1000,
        "One request, connect to last byte; a request that takes longer is retried."),
    NUM("remote", "connect_timeout_ms", KT_DURATION_MS, remote_connect_timeout_ms, "3000", 50,
        600 * 1000, "TCP + TLS connect."),
    NUM("remote", "max_inflight", KT_INT, remote_max_inflight, "32", 1, 4096,
        "Requests in flight per backend (table, blob); more wait in a queue."),
    NUM("remote", "max_queue", KT_INT, remote_max_queue, "4096", 1, 1000000,
        "Requests waiting for a slot per backend; beyond it a call fails at once (the "
        "flusher backs off, ingest sees backpressure)."),
    NUM("remote", "max_attempts", KT_INT, remote_max_attempts, "6", 1, 100,
        "Tries of one request on throttling, 5xx, timeouts and connection errors before it "
        "fails (the flusher and ager then retry later)."),
    NUM("remote", "retry_base_ms", KT_DURATION_MS, remote_retry_base_ms, "50", 1, 60000,
        "Backoff before retry n: random(0, min(retry_cap_ms, retry_base_ms * 2^n))."),
    NUM("remote", "retry_cap_ms", KT_DURATION_MS, remote_retry_cap_ms, "5000", 1, 600000,
        "Backoff ceiling."),

    STR("cost", "dynamodb_write_million", cost_dynamodb_write_million, "0.625",
        dm_cfg_check_price, 0, "USD per million DynamoDB write request units (on-demand)."),
    STR("cost", "dynamodb_read_million", cost_dynamodb_read_million, "0.125",
        dm_cfg_check_price, 0, "USD per million DynamoDB read request units (on-demand)."),
    STR("cost", "s3_put_thousand", cost_s3_put_thousand, "0.005", dm_cfg_check_price, 0,
        "USD per 1000 S3 PUT and LIST requests (DELETE is free)."),
    STR("cost", "s3_get_thousand", cost_s3_get_thousand, "0.0004", dm_cfg_check_price, 0,
        "USD per 1000 S3 GET requests."),

    BOOL("canary", "enabled", canary_enabled, "yes",
         "Write diamond.canary.<node_id> every step and read it back through the tiers; the "
         "end-to-end delay is on /metrics and a stalled canary degrades /readyz."),

    STR("auth", "keys", auth_keys, "", dm_cfg_check_auth_keys, 1,
        "API keys and their scopes: key=scope[+scope],... with scopes read and write, "
        "e.g. k1=read+write,k2=read. Empty: no key needed (only allowed on a loopback "
        "listener unless open = yes)."),
    BOOL("auth", "open", auth_open, "no",
         "Allow a non-loopback HTTP listener without keys (anyone can read and write)."),
};

const size_t dm_cfg_nkeys = sizeof dm_cfg_keys / sizeof dm_cfg_keys[0];

const cfg_key *dm_cfg_find(const char *section, const char *name) {
  for (size_t i = 0; i < dm_cfg_nkeys; i++)
    if (strcasecmp(dm_cfg_keys[i].section, section) == 0 &&
        strcasecmp(dm_cfg_keys[i].name, name) == 0)
      return &dm_cfg_keys[i];
  return NULL;
}

int dm_cfg_section_known(const char *section) {
  for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++)
    if (strcasecmp(sections[i].name, section) == 0) return 1;
  return 0;
}

void dm_cfg_env_name(const cfg_key *k, char *out, size_t outlen) {
  snprintf(out, outlen, "DIAMOND_%s_%s", k->section, k->name);
  for (char *p = out; *p != '\0'; p++) *p = (char)toupper((unsigned char)*p);
}

/* ---- parsing one value ---------------------------------------------------------- */

static int parse_int(const char *s, int64_t *out) {
  const char *p = s;
  int neg = (*p == '-');
  if (*p == '-' || *p == '+') p++;
  if (!isdigit((unsigned char)*p)) return DM_EINVAL;
  int64_t v = 0;
  for (; isdigit((unsigned char)*p); p++) {
    if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, *p - '0', &v))
      return DM_ERANGE;
  }
  if (*p != '\0') return DM_EINVAL;
  *out = neg ? -v : v;
  return 0;
}

static int parse_size(const char *s, int64_t *out) {
  char num[32];
  size_t n = 0;
  while (isdigit((unsigned char)s[n]) && n + 1 < sizeof num) n++;
  if (n == 0 || n + 1 >= sizeof num) return n == 0 ? DM_EINVAL : DM_ERANGE;
  memcpy(num, s, n);
  num[n] = '\0';
  int64_t v, scale = 1;
  int rc = parse_int(num, &v);
  if (rc < 0) return rc;
  const char *u = s + n;
  static const char *const sfx = "kmgt";
  if (*u != '\0') {
    const char *at = strchr(sfx, tolower((unsigned char)*u));
    if (at != NULL && *at != '\0') {
      for (int i = 0; i <= at - sfx; i++) scale *= 1024;
      u++;
      if (strcasecmp(u, "ib") == 0) u += 2;
    }
    if (strcasecmp(u, "b") == 0) u++;
    if (*u != '\0') return DM_EINVAL;
  }
  if (__builtin_mul_overflow(v, scale, out)) return DM_ERANGE;
  return 0;
}

static int parse_bool(const char *s, int *out) {
  static const char *const yes[] = {"yes", "true", "on", "1"}, *const no[] = {"no", "false",
                                                                              "off", "0"};
  for (int i = 0; i < 4; i++) {
    if (strcasecmp(s, yes[i]) == 0) return *out = 1, 0;
    if (strcasecmp(s, no[i]) == 0) return *out = 0, 0;
  }
  return DM_EINVAL;
}

/* Index of value among the '|'-separated words of list, or -1. */
static int word_index(const char *list, const char *value) {
  size_t vlen = strlen(value);
  int i = 0;
  for (const char *p = list; p != NULL && *p != '\0'; i++) {
    const char *bar = strchr(p, '|');
    size_t n = bar ? (size_t)(bar - p) : strlen(p);
    if (n == vlen && strncasecmp(p, value, n) == 0) return i;
    p = bar ? bar + 1 : NULL;
  }
  return -1;
}

static const char *word_at(const char *list, int idx, size_t *len) {
  const char *p = list;
  for (int i = 0; i < idx && p != NULL; i++) {
    p = strchr(p, '|');
    if (p != NULL) p++;
  }
  if (p == NULL) return NULL;
  const char *bar = strchr(p, '|');
  *len = bar ? (size_t)(bar - p) : strlen(p);
  return p;
}

static int set_string(char *dst, size_t size, const char *v, char *why, size_t whylen) {
  size_t n = strlen(v);
  if (n >= size) {
    snprintf(why, whylen, "longer than %zu bytes", size - 1);
    return DM_EINVAL;
  }
  for (size_t i = 0; i < n; i++) {
    if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f) {
      snprintf(why, whylen, "must not contain control characters");
      return DM_EINVAL;
    }
    if (v[i] == ';' && i > 0 && isspace((unsigned char)v[i - 1])) {
      snprintf(why, whylen, "must not contain \" ;\" (it starts a comment in an INI file)");
      return DM_EINVAL;
    }
    if (v[i] == ';' && i == 0) { /* "key =;x" reads ";x", but printed "key = ;x" is empty */
      snprintf(why, whylen, "must not start with \";\" (it starts a comment in an INI file)");
      return DM_EINVAL;
    }
  }
  if (n > 0 && (isspace((unsigned char)v[0]) || isspace((unsigned char)v[n - 1]))) {
    snprintf(why, whylen, "must not start or end with a space");
    return DM_EINVAL;
  }
  memcpy(dst, v, n);
  memset(dst + n, 0, size - n); /* equal configs compare equal byte for byte */
  return 0;
}

static const char *type_word(key_type t) {
  switch (t) {
  case KT_INT: return "an integer";
  case KT_SIZE: return "a size (bytes, or with k, m, g, t: powers of 1024)";
  case KT_DURATION: return "a duration (seconds, or with s, m, h, d, w)";
  case KT_DURATION_MS: return "a duration (milliseconds, or with ms, s, m, h)";
  default: return "a value";
  }
}

int dm_cfg_key_set(dm_config *c, const cfg_key *k, const char *value, char *why,
                   size_t whylen) {
  char *field = (char *)c + k->off;
  int rc = 0;
  int64_t v = 0;
  switch (k->type) {
  case KT_STR: {
    int off = k->check == dm_cfg_check_listen_or_off && strcasecmp(value, "off") == 0;
    if (off) value = "";
    if (k->check != NULL && (rc = k->check(value, why, whylen)) < 0) return rc;
    return set_string(field, k->size, value, why, whylen);
  }
  case KT_BOOL:
    if (parse_bool(value, (int *)field) < 0) {
      snprintf(why, whylen, "must be yes or no");
      return DM_EINVAL;
    }
    return 0;
  case KT_ENUM: {
    int idx = word_index(k->choices, value);
    if (idx < 0) {
      if (k->later != NULL && word_index(k->later, value) >= 0)
        snprintf(why, whylen, "\"%s\" is not built yet; must be one of %s", value,
                 k->choices);
      else if (k->later != NULL)
        snprintf(why, whylen, "must be one of %s (%s: not built yet)", k->choices, k->later);
      else
        snprintf(why, whylen, "must be one of %s", k->choices);
      return DM_EINVAL;
    }
    if (k->size == 0) {
      *(int *)field = idx;
      return 0;
    }
    size_t n = 0;
    const char *w = word_at(k->choices, idx, &n);
    if (w == NULL || n >= k->size) return DM_EINVAL; /* a table bug */
    memcpy(field, w, n);
    memset(field + n, 0, k->size - n);
    return 0;
  }
  case KT_INT: rc = parse_int(value, &v); break;
  case KT_SIZE: rc = parse_size(value, &v); break;
  case KT_DURATION: rc = dm_duration_parse(value, &v); break;
  case KT_DURATION_MS: rc = dm_duration_parse_ms(value, &v); break;
  }
  if (rc < 0 || v < k->min || v > k->max) {
    char lo[32], hi[32];
    dm_cfg_format_number(k->type, k->min, lo, sizeof lo);
    dm_cfg_format_number(k->type, k->max, hi, sizeof hi);
    if (rc == DM_EINVAL)
      snprintf(why, whylen, "\"%s\" is not %s", value, type_word(k->type));
    else
      snprintf(why, whylen, "must be between %s and %s", lo, hi);
    return DM_EINVAL;
  }
  memcpy(field, &v, sizeof v);
  return 0;
}

/* ---- formatting ------------------------------------------------------------------ */

void dm_cfg_format_number(key_type t, int64_t v, char *out, size_t outlen) {
  static const struct {
    int64_t n;
    char u;
  } sizes[] = {{TIB, 't'}, {GIB, 'g'}, {MIB, 'm'}, {KIB, 'k'}},
    durations[] = {{DAY, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};
  if (t == KT_SIZE || t == KT_DURATION) {
    int size = (t == KT_SIZE);
    for (int i = 0; i < 4; i++) {
      int64_t n = size ? sizes[i].n : durations[i].n;
      if (v != 0 && v % n == 0) {
        snprintf(out, outlen, "%" PRId64 "%c", v / n, size ? sizes[i].u : durations[i].u);
        return;
      }
    }
    if (v == 0 && !size) {
      snprintf(out, outlen, "0s");
      return;
    }
  }
  snprintf(out, outlen, "%" PRId64, v);
}

void dm_cfg_key_format(const dm_config *c, const cfg_key *k, char *out, size_t outlen) {
  const char *field = (const char *)c + k->off;
  int64_t v;
  switch (k->type) {
  case KT_STR: snprintf(out, outlen, "%.*s", (int)strnlen(field, k->size), field); return;
  case KT_BOOL: snprintf(out, outlen, "%s", *(const int *)field ? "yes" : "no"); return;
  case KT_ENUM: {
    if (k->size != 0) {
      snprintf(out, outlen, "%.*s", (int)strnlen(field, k->size), field);
      return;
    }
    size_t n;
    int idx = *(const int *)field;
    const char *w = idx >= 0 ? word_at(k->choices, idx, &n) : NULL;
    if (w == NULL) snprintf(out, outlen, "%d", idx);
    else snprintf(out, outlen, "%.*s", (int)n, w);
    return;
  }
  default:
    memcpy(&v, field, sizeof v);
    dm_cfg_format_number(k->type, v, out, outlen);
  }
}

int dm_cfg_key_recheck(const dm_config *c, const cfg_key *k, char *why, size_t whylen) {
  const char *field = (const char *)c + k->off;
  if ((k->type == KT_STR || (k->type == KT_ENUM && k->size != 0)) &&
      memchr(field, '\0', k->size) == NULL) {
    snprintf(why, whylen, "not NUL-terminated");
    return DM_EINVAL;
  }
  if (k->type == KT_BOOL && *(const int *)field != 0 && *(const int *)field != 1) {
    snprintf(why, whylen, "must be yes or no");
    return DM_EINVAL;
  }
  char text[1100];
  dm_config scratch;
  dm_cfg_key_format(c, k, text, sizeof text);
  return dm_cfg_key_set(&scratch, k, text, why, whylen);
}

/* ---- public: defaults, set, print ---------------------------------------------- */

void dm_config_defaults(dm_config *c) {
  memset(c, 0, sizeof *c);
  char why[256];
  for (size_t i = 0; i < dm_cfg_nkeys; i++) {
    int rc = dm_cfg_key_set(c, &dm_cfg_keys[i], dm_cfg_keys[i].def, why, sizeof why);
    (void)rc; /* a bad default is caught by the unit tests */
  }
}

int dm_config_set(dm_config *c, const char *section, const char *key, const char *value,
                  char *err, size_t errlen) {
  const cfg_key *k = dm_cfg_find(section, key);
  if (k == NULL) {
    if (dm_cfg_section_known(section))
      snprintf(err, errlen, "[%s] unknown key %s", section, key);
    else
      snprintf(err, errlen, "unknown section [%s]", section);
    return DM_EINVAL;
  }
  char why[512];
  int rc = dm_cfg_key_set(c, k, value, why, sizeof why);
  if (rc < 0) snprintf(err, errlen, "[%s] %s: %s", k->section, k->name, why);
  return rc;
}

void dm_config_print(const dm_config *c, FILE *out) {
  char text[1100];
  fprintf(out, "# diamond effective configuration\n");
  const char *section = NULL;
  for (size_t i = 0; i < dm_cfg_nkeys; i++) {
    const cfg_key *k = &dm_cfg_keys[i];
    if (section == NULL || strcmp(section, k->section) != 0) {
      fprintf(out, "\n[%s]\n", k->section);
      section = k->section;
    }
    dm_cfg_key_format(c, k, text, sizeof text);
    if (k->secret && text[0] != '\0') snprintf(text, sizeof text, "***");
    fprintf(out, "%s = %s\n", k->name, text);
  }
}

/* Writes text as "# " comment lines of at most ~88 columns. */
static void comment(FILE *out, const char *text) {
  const size_t width = 86;
  while (*text != '\0') {
    size_t n = strlen(text);
    if (n > width) {
      n = width;
      while (n > 0 && text[n] != ' ') n--;
      if (n == 0) n = width;
    }
    fprintf(out, "# %.*s\n", (int)n, text);
    text += n;
    while (*text == ' ') text++;
  }
}

static void describe_type(const cfg_key *k, char *out, size_t outlen) {
  char lo[32], hi[32];
  dm_cfg_format_number(k->type, k->min, lo, sizeof lo);
  dm_cfg_format_number(k->type, k->max, hi, sizeof hi);
  switch (k->type) {
  case KT_STR: snprintf(out, outlen, "string"); break;
  case KT_BOOL: snprintf(out, outlen, "yes or no"); break;
  case KT_ENUM:
    if (k->later != NULL) snprintf(out, outlen, "one of %s (%s: not built yet)", k->choices,
                                   k->later);
    else snprintf(out, outlen, "one of %s", k->choices);
    break;
  case KT_INT: snprintf(out, outlen, "integer, %s to %s", lo, hi); break;
  case KT_SIZE: snprintf(out, outlen, "size (k, m, g, t: powers of 1024), %s to %s", lo, hi);
    break;
  case KT_DURATION: snprintf(out, outlen, "duration (s, m, h, d, w), %s to %s", lo, hi); break;
  case KT_DURATION_MS:
    snprintf(out, outlen, "milliseconds (or with a unit: 2s), %s to %s", lo, hi);
    break;
  }
}

void dm_config_print_doc(FILE *out) {
  dm_config d;
  dm_config_defaults(&d);
  comment(out, "diamond.ini: the configuration of diamondd, every key at its default value. "
               "Generated by dm_config_print_doc (diamondd --print-doc); do not edit by hand, "
               "edit the key table in src/core/config.c.");
  fputs("#\n", out);
  comment(out, "Use: diamondd --config conf/diamond.ini. Precedence, lowest first: built-in "
               "default < this file < environment DIAMOND_<SECTION>_<KEY> < flags. Unknown "
               "sections and keys are errors. Durations: 90s, 15m, 3h, 14d (a bare number is "
               "seconds; milliseconds for keys ending in _ms). Sizes: 4096, 64k, 32m, 1g.");
  fputs("#\n# Check a file with: diamondd --config FILE --check-config\n", out);
  char text[1100], type[160], env[96];
  const char *section = NULL;
  for (size_t i = 0; i < dm_cfg_nkeys; i++) {
    const cfg_key *k = &dm_cfg_keys[i];
    if (section == NULL || strcmp(section, k->section) != 0) {
      section = k->section;
      fputs("\n", out);
      for (size_t s = 0; s < sizeof sections / sizeof sections[0]; s++)
        if (strcmp(sections[s].name, section) == 0) comment(out, sections[s].help);
      fprintf(out, "[%s]\n", section);
    }
    fputs("\n", out);
    comment(out, k->help);
    describe_type(k, type, sizeof type);
    dm_cfg_env_name(k, env, sizeof env);
    fprintf(out, "# %s; env %s\n", type, env);
    dm_cfg_key_format(&d, k, text, sizeof text);
    fprintf(out, "%s = %s\n", k->name, text);
  }
}
