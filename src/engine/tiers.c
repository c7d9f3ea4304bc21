/* tiers.c — the registry of tier implementations: opens the cache, table and blob store the
 * configuration names ([cache] engine, [table] engine, [blob] engine). Adding an engine is
 * one line here and one file under src/<tier>/. Any mix is legal (Redis + LMDB + S3).
 */
#include <stdio.h>
#include <string.h>

#include "diamond/error.h"
#include "engine_int.h"

int dm_tiers_open_cache(dm_cache **out, uv_loop_t *loop, const dm_config *cfg,
                        const char *node_id, char *err, size_t errlen) {
  int rc;
  if (strcmp(cfg->cache_engine, "memory") == 0) {
    rc = dm_cache_memory_open(out, cfg);
    if (rc < 0) snprintf(err, errlen, "cache memory: %s", dm_strerror(rc));
    return rc;
  }
#ifdef DM_HAVE_REDIS
  if (strcmp(cfg->cache_engine, "redis") == 0)
    return dm_cache_redis_open(out, loop, cfg, node_id, err, errlen);
#endif
  (void)loop, (void)node_id;
  snprintf(err, errlen, "[cache] engine: \"%s\" is not built into this binary", cfg->cache_engine);
  return DM_EINVAL;
}

int dm_tiers_open_table(dm_table **out, uv_loop_t *loop, const dm_config *cfg, char *err,
                        size_t errlen) {
  if (strcmp(cfg->table_engine, "lmdb") == 0) return dm_table_lmdb_open(out, loop, cfg, err, errlen);
#ifdef DM_HAVE_DYNAMODB
  if (strcmp(cfg->table_engine, "dynamodb") == 0)
    return dm_table_dynamodb_open(out, loop, cfg, err, errlen);
#endif
  snprintf(err, errlen, "[table] engine: \"%s\" is not built into this binary", cfg->table_engine);
  return DM_EINVAL;
}

int dm_tiers_open_blob(dm_blob **out, uv_loop_t *loop, const dm_config *cfg, char *err,
                       size_t errlen) {
  if (strcmp(cfg->blob_engine, "dir") == 0) {
    char path[DM_CONFIG_STR + 16];
    snprintf(path, sizeof path, "%s/blobs", cfg->data_dir);
    return dm_blob_dir_open(out, loop, path, err, errlen);
  }
#ifdef DM_HAVE_S3
  if (strcmp(cfg->blob_engine, "s3") == 0) return dm_blob_s3_open(out, loop, cfg, err, errlen);
#endif
  snprintf(err, errlen, "[blob] engine: \"%s\" is not built into this binary", cfg->blob_engine);
  return DM_EINVAL;
}
