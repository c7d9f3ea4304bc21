/* config.h — the server's configuration: one declarative table of keys (section, name,
 * type, default, bounds, help) drives the INI loader, DIAMOND_<SECTION>_<KEY> environment
 * overrides, command-line flags, `--check-config` output and conf/diamond.ini.
 *
 * Precedence, lowest first: built-in default < config file < environment < flags.
 * Durations are written "90s", "15m", "3h", "14d" (bare numbers are seconds) and stored
 * in seconds (or milliseconds for keys whose name ends in _ms, where bare numbers are
 * milliseconds and "ms" is also a unit). Sizes accept "64k", "32m", "1g" (powers of 1024)
 * and are stored in bytes.
 *
 * Every function that can fail returns 0 or a negative DM_E* code and, on failure, writes
 * a one-line message for the operator into err (errlen bytes, always NUL-terminated when
 * errlen > 0), e.g. "diamond.ini:12: [wal] fsync: must be one of always|interval|off".
 */
#ifndef DIAMOND_CONFIG_H
#define DIAMOND_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define DM_CONFIG_STR 256

typedef enum { DM_FSYNC_ALWAYS = 0, DM_FSYNC_INTERVAL, DM_FSYNC_OFF } dm_fsync_mode;

typedef struct dm_config {
  /* [server] */
  char http[DM_CONFIG_STR];     /* "127.0.0.1:8080" */
  char data_dir[DM_CONFIG_STR]; /* "./data" */
  char log_level[16];           /* debug|info|warn|error */
  int64_t shutdown_timeout_ms;  /* in-flight requests get this long on SIGTERM */
  char node_id[128];            /* "" = "<hostname>-<pid>" (dm_config_node_id) */
  /* [graphite] */
  char graphite[DM_CONFIG_STR]; /* [graphite] listen: "127.0.0.1:2003"; "" disables ("off"
                                   is stored as "") */
  int64_t graphite_max_line;    /* bytes */
  char graphite_udp[DM_CONFIG_STR]; /* [graphite] udp: "127.0.0.1:2003"; "" disables */
  /* [storage] */
  int64_t step;   /* seconds, default 60 */
  int64_t window; /* seconds, multiple of step and a divisor of 86400, default 3600 */
  /* [limits] */
  int64_t max_body_bytes;   /* 413 above this; default 32 MiB */
  int64_t max_points;       /* points per request; 413 above; default 100000 */
  int64_t max_name_len;     /* series name bytes; default 256 */
  int64_t max_header_bytes; /* all request headers; 431 above; default 16 KiB */
  int64_t max_connections;  /* HTTP + graphite; further ones are closed; default 1024 */
  int64_t max_future;       /* seconds ahead of the clock accepted; default 600 */
  int64_t max_query_series; /* series one read may touch; default 1000 */
  int64_t max_query_points; /* points one read may return; default 10,000,000 */
  int64_t idle_timeout_ms;  /* keep-alive idle connections closed after this; 60000 */
  /* [wal] */
  dm_fsync_mode wal_fsync;  /* always|interval|off */
  int64_t wal_fsync_ms;     /* for interval; 200 */
  int64_t wal_segment_bytes; /* 64 MiB */
  int64_t wal_max_bytes;    /* above this the flusher checkpoints open windows too; 1 GiB */
  /* [cache] */
  char cache_engine[32];    /* memory|redis */
  int64_t cache_max_bytes;  /* 503 + Retry-After above this; 2 GiB */
  char cache_redis[DM_CONFIG_STR]; /* seed nodes "host:port[,host:port...]" */
  char cache_redis_password[128];
  int64_t cache_redis_timeout_ms; /* connect and per-command timeout; 2000 */
  int64_t cache_shards;     /* redis: dirty sets, each flushed under its own lease; 16 */
  int64_t cache_lease_ms;   /* redis: flush and ager lease period; 30000 */
  /* [flusher] */
  int64_t flush_grace;       /* seconds after window end before it is flushed; 60 */
  int64_t flush_interval_ms; /* tick; 1000 */
  int64_t flush_max_windows; /* windows per round; 20000 */
  /* [table] */
  char table_engine[32];    /* lmdb */
  int64_t table_keep;       /* seconds; days older are aged into blobs (default 14d) */
  int64_t table_map_bytes;  /* LMDB map size; 64 GiB */
  char table_endpoint[DM_CONFIG_STR]; /* dynamodb: "" = https://dynamodb.<region>.amazonaws.com */
  char table_region[64];    /* us-east-1 */
  char table_name[256];     /* diamond */
  /* [ager] */
  int64_t ager_interval;    /* seconds between automatic runs; 1h */
  int64_t ager_shards;      /* blob objects per day; 16 */
  int64_t ager_grace;       /* TTL slack beyond table.keep; 3d */
  /* [blob] */
  char blob_engine[32];     /* dir */
  int64_t blob_keep;        /* seconds; older blobs are deleted and older points refused */
  int64_t blob_index_cache; /* blob indexes kept in memory (LRU entries); 256 */
  char blob_endpoint[DM_CONFIG_STR]; /* s3: "" = https://<bucket>.s3.<region>.amazonaws.com;
                                        else path-style <endpoint>/<bucket>/<key> */
  char blob_region[64];     /* us-east-1 */
  char blob_bucket[64];     /* diamond */
  char blob_prefix[128];    /* "dm/": object keys are <prefix>v1/<day>/<shard>.dmb */
  /* [remote] the HTTP client of the DynamoDB and S3 engines */
  int64_t remote_timeout_ms;         /* one request, connect to last byte; 10000 */
  int64_t remote_connect_timeout_ms; /* 3000 */
  int64_t remote_max_inflight;       /* requests in flight per backend; 32 */
  int64_t remote_max_queue;          /* requests waiting for a slot per backend; 4096 */
  int64_t remote_max_attempts;       /* tries of one request before it fails; 6 */
  int64_t remote_retry_base_ms;      /* backoff base; 50 */
  int64_t remote_retry_cap_ms;       /* backoff ceiling; 5000 */
  /* [cost] on-demand list prices in USD, decimal strings (dm_config_price) */
  char cost_dynamodb_write_million[32]; /* per million write request units; 0.625 */
  char cost_dynamodb_read_million[32];  /* per million read request units; 0.125 */
  char cost_s3_put_thousand[32];        /* per 1000 PUT/LIST requests; 0.005 */
  char cost_s3_get_thousand[32];        /* per 1000 GET requests; 0.0004 */
  /* [canary] */
  int canary_enabled;       /* write diamond.canary.<node_id> every step; yes */
  /* [auth] */
  char auth_keys[1024];     /* "key=read+write,key2=read" */
  int auth_open;            /* allow a non-loopback listener without keys */
} dm_config;

void dm_config_defaults(dm_config *c);
/* Loads an INI file over c. Unknown sections and keys, a key set twice, syntax errors and
 * lines over 197 bytes are errors; the message names file:line, section and key. */
int dm_config_load_file(dm_config *c, const char *path, char *err, size_t errlen);
/* Applies DIAMOND_<SECTION>_<KEY> variables from envp (NULL = environ). A DIAMOND_*
 * variable that names no key is logged as a warning and otherwise ignored. */
int dm_config_load_env(dm_config *c, char **envp, char *err, size_t errlen);
/* Sets one key, "section.key" = value (flags and tests use this). */
int dm_config_set(dm_config *c, const char *section, const char *key, const char *value,
                  char *err, size_t errlen);
/* Every key's bounds plus cross-key checks: window a multiple of step and a divisor of a
 * day, addresses parse, blob.keep > table.keep, segment_bytes <= max_bytes, auth.keys
 * well formed, a non-loopback HTTP listener has keys or auth.open. */
int dm_config_validate(const dm_config *c, char *err, size_t errlen);
/* Prints the effective configuration as INI (auth keys masked as "***"). */
void dm_config_print(const dm_config *c, FILE *out);
/* Prints an INI documenting every key (help as "# " comments) set to its default: this is
 * conf/diamond.ini, and loading it gives exactly dm_config_defaults(). */
void dm_config_print_doc(FILE *out);

/* ---- command line ---------------------------------------------------------------- */

enum {
  DM_ACTION_RUN = 0,   /* start the server */
  DM_ACTION_CHECK,     /* --check-config: validated; print the effective config, exit 0 */
  DM_ACTION_HELP,      /* --help / -h: print dm_config_usage(), exit 0 */
  DM_ACTION_VERSION,   /* --version: print the version, exit 0 */
  DM_ACTION_DOC,       /* --print-doc: print dm_config_print_doc() (conf/diamond.ini) */
  DM_ACTION_CREATE,    /* --create-storage: create the remote table and bucket, exit */
};

/* Defaults, then --config FILE (if given), then the environment, then the flags in order:
 * --data-dir DIR, --http ADDR, --graphite ADDR ("off" disables), --set section.key=value
 * (repeatable), --check-config, --create-storage, --print-doc, --help, --version. "--flag=value" and
 * "--flag value" both work. Then validates (not for help/version/doc, which return at
 * once without reading the file). *action gets a DM_ACTION_*. */
int dm_config_from_args(dm_config *c, int argc, char **argv, int *action, char *err,
                        size_t errlen);
void dm_config_usage(FILE *out);

/* ---- addresses and keys ---------------------------------------------------------- */

/* "127.0.0.1:8080" or "[::1]:8080" (numeric hosts only; port 0..65535, 0 = any free
 * port). host gets the address without brackets. Returns 0 or DM_EINVAL. */
int dm_parse_hostport(const char *s, char *host, size_t hostlen, int *port);
/* 1 if host (numeric, as from dm_parse_hostport) is 127.0.0.0/8 or ::1. */
int dm_host_is_loopback(const char *host);

#define DM_SCOPE_READ 1
#define DM_SCOPE_WRITE 2
/* Scopes of an X-Api-Key value from [auth] keys ("k1=read+write,k2=read"): a bitmask of
 * DM_SCOPE_*, 0 for an unknown key. Compares in time independent of where keys differ. */
int dm_config_key_scopes(const dm_config *c, const char *key);
/* 1 if [auth] keys lists at least one key (then every request needs one). */
int dm_config_has_keys(const dm_config *c);

/* server.node_id, or "<hostname>-<pid>" when it is empty. */
void dm_config_node_id(const dm_config *c, char *out, size_t len);
/* One of the [cost] prices as a number (validated to be a decimal >= 0). */
double dm_config_price(const char *value);

#endif
