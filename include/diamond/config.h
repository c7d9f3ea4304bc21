/* config.h — the server's configuration: one declarative table of keys (section, name,
 * type, default, bounds, help) drives the INI loader, DIAMOND_<SECTION>_<KEY> environment
 * overrides, command-line flags, `--check-config` output and conf/diamond.ini.
 *
 * Precedence, lowest first: built-in default < config file < environment < flags.
 * Durations are written "90s", "15m", "3h", "14d" (bare numbers are seconds) and stored
 * in seconds (or milliseconds for keys whose name ends in _ms). Sizes accept "64k", "32m",
 * "1g" (powers of 1024) and are stored in bytes.
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
  /* [graphite] */
  char graphite[DM_CONFIG_STR]; /* "127.0.0.1:2003"; "" or "off" disables */
  int64_t graphite_max_line;    /* bytes */
  /* [storage] */
  int64_t step;   /* seconds, default 60 */
  int64_t window; /* seconds, multiple of step, default 3600 */
  /* [limits] */
  int64_t max_body_bytes;   /* 413 above this; default 32 MiB */
  int64_t max_points;       /* points per request; 413 above; default 100000 */
  int64_t max_name_len;     /* series name bytes; default 256 */
  int64_t max_header_bytes; /* all request headers; 431 above; default 16 KiB */
  int64_t max_connections;  /* HTTP + graphite; further ones are closed; default 1024 */
  int64_t max_future;       /* seconds ahead of the clock accepted; default 600 */
  int64_t max_query_series; /* series one read may touch; default 1000 */
  int64_t max_query_points; /* points one read may return; default 10,000,000 */
  int64_t idle_timeout_ms;  /* keep-alive idle connections closed after this */
  /* [wal] */
  dm_fsync_mode wal_fsync;  /* always|interval|off */
  int64_t wal_fsync_ms;     /* for interval */
  int64_t wal_segment_bytes;
  int64_t wal_max_bytes;    /* above this the flusher checkpoints open windows too */
  /* [cache] */
  char cache_engine[32];    /* memory */
  int64_t cache_max_bytes;  /* 503 + Retry-After above this */
  /* [flusher] */
  int64_t flush_grace;       /* seconds after window end before it is flushed */
  int64_t flush_interval_ms; /* tick */
  int64_t flush_max_windows; /* windows per round */
  /* [table] */
  char table_engine[32];    /* lmdb */
  int64_t table_keep;       /* seconds; days older are aged into blobs (default 14d) */
  int64_t table_map_bytes;  /* LMDB map size */
  /* [ager] */
  int64_t ager_interval;    /* seconds between automatic runs */
  int64_t ager_shards;      /* blob objects per day */
  int64_t ager_grace;       /* TTL slack beyond table.keep */
  /* [blob] */
  char blob_engine[32];     /* dir */
  int64_t blob_keep;        /* seconds; older blobs are deleted and older points refused */
  int64_t blob_index_cache; /* blob indexes kept in memory (LRU entries) */
  /* [auth] */
  char auth_keys[1024];     /* "key=read+write,key2=read" */
  int auth_open;            /* allow a non-loopback listener without keys */
} dm_config;

void dm_config_defaults(dm_config *c);
/* Loads an INI file over c. On error writes a message naming file:line and key to err. */
int dm_config_load_file(dm_config *c, const char *path, char *err, size_t errlen);
/* Applies DIAMOND_<SECTION>_<KEY> variables from envp (NULL = environ). */
int dm_config_load_env(dm_config *c, char **envp, char *err, size_t errlen);
/* Sets one key, "section.key" = value (flags and tests use this). */
int dm_config_set(dm_config *c, const char *section, const char *key, const char *value,
                  char *err, size_t errlen);
/* Cross-key checks (window multiple of step, ...). */
int dm_config_validate(const dm_config *c, char *err, size_t errlen);
/* Prints the effective configuration as INI (secrets masked). */
void dm_config_print(const dm_config *c, FILE *out);
/* Prints a fully commented INI documenting every key with its default: conf/diamond.ini. */
void dm_config_print_doc(FILE *out);

#endif
