/* storage.c — `diamondd --check-config` and `--create-storage`: open each configured tier
 * on its own (no WAL, no flusher), reach it once, and say per tier what happened.
 *
 * --check-config probes: a remote tier answers or says why not (unreachable, table or
 * bucket missing, access denied); the embedded ones need a data directory that can be
 * created and written. --create-storage calls each tier's create (DynamoDB CreateTable +
 * TTL, S3 CreateBucket; nothing for the embedded ones) and then probes it.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diamond/error.h"
#include "engine_int.h"

typedef struct step {
  int done, status;
} step;

static void step_cb(void *arg, int status) {
  step *s = arg;
  s->status = status;
  s->done = 1;
}

/* Runs the loop until the call's callback ran. */
static int wait_step(uv_loop_t *loop, int rc, step *s) {
  if (rc < 0) return rc;
  while (!s->done) uv_run(loop, UV_RUN_ONCE);
  return s->status;
}

static void report(FILE *out, const char *tier, const char *engine, int status,
                   const char *why) {
  if (status == 0) fprintf(out, "%-5s %-8s ok\n", tier, engine);
  else fprintf(out, "%-5s %-8s FAILED: %s\n", tier, engine, why);
}

/* The data directory exists and is writable, or can be created (checked on its parent:
 * --check-config changes nothing). */
static int data_dir_ok(const dm_config *cfg, char *why, size_t len) {
  char parent[DM_CONFIG_STR];
  const char *dir = cfg->data_dir;
  struct stat st;
  if (stat(dir, &st) < 0) {
    snprintf(parent, sizeof parent, "%s", dir);
    char *slash = strrchr(parent, '/');
    if (slash == NULL) snprintf(parent, sizeof parent, ".");
    else if (slash == parent) slash[1] = '\0';
    else *slash = '\0';
    dir = parent;
  }
  if (access(dir, W_OK | X_OK) < 0) {
    snprintf(why, len, "data dir %s: %s", dir, strerror(errno));
    return DM_EIO;
  }
  return 0;
}

static int do_cache(uv_loop_t *loop, const dm_config *cfg, FILE *out) {
  char why[512] = "", node[128];
  if (strcmp(cfg->cache_engine, "memory") == 0) {
    int rc = data_dir_ok(cfg, why, sizeof why); /* the WAL lives there */
    report(out, "cache", "memory", rc, why);
    return rc;
  }
  dm_config_node_id(cfg, node, sizeof node);
  dm_cache *c;
  int rc = dm_tiers_open_cache(&c, loop, cfg, node, why, sizeof why);
  if (rc == 0) {
    step s = {0, 0};
    rc = wait_step(loop, dm_cache_probe(c, step_cb, &s), &s);
    if (rc < 0 && dm_cache_health(c, why, sizeof why))
      snprintf(why, sizeof why, "%s", dm_strerror(rc));
    dm_cache_close(c);
  }
  report(out, "cache", cfg->cache_engine, rc, why);
  return rc;
}

static int do_table(uv_loop_t *loop, const dm_config *cfg, int create, FILE *out) {
  char why[512] = "";
  int rc;
  if (strcmp(cfg->table_engine, "lmdb") == 0) {
    rc = data_dir_ok(cfg, why, sizeof why);
    report(out, "table", "lmdb", rc, why);
    return rc;
  }
  dm_table *t;
  rc = dm_tiers_open_table(&t, loop, cfg, why, sizeof why);
  if (rc == 0) {
    step s = {0, 0};
    if (create) rc = wait_step(loop, dm_table_create(t, step_cb, &s), &s);
    if (rc == 0) {
      s = (step){0, 0};
      rc = wait_step(loop, dm_table_probe(t, step_cb, &s), &s);
    }
    if (rc < 0 && dm_table_health(t, why, sizeof why))
      snprintf(why, sizeof why, "%s", dm_strerror(rc));
    dm_table_close(t);
  }
  report(out, "table", cfg->table_engine, rc, why);
  return rc;
}

static int do_blob(uv_loop_t *loop, const dm_config *cfg, int create, FILE *out) {
  char why[512] = "";
  int rc;
  if (strcmp(cfg->blob_engine, "dir") == 0) {
    rc = data_dir_ok(cfg, why, sizeof why);
    report(out, "blob", "dir", rc, why);
    return rc;
  }
  dm_blob *b;
  rc = dm_tiers_open_blob(&b, loop, cfg, why, sizeof why);
  if (rc == 0) {
    step s = {0, 0};
    if (create) rc = wait_step(loop, dm_blob_create(b, step_cb, &s), &s);
    if (rc == 0) {
      s = (step){0, 0};
      rc = wait_step(loop, dm_blob_probe(b, step_cb, &s), &s);
    }
    if (rc < 0 && dm_blob_health(b, why, sizeof why))
      snprintf(why, sizeof why, "%s", dm_strerror(rc));
    dm_blob_close(b);
  }
  report(out, "blob", cfg->blob_engine, rc, why);
  return rc;
}

int dm_engine_storage(uv_loop_t *loop, const dm_config *cfg, int create, FILE *out) {
  int failed = 0;
  failed |= do_cache(loop, cfg, out) < 0;
  failed |= do_table(loop, cfg, create, out) < 0;
  failed |= do_blob(loop, cfg, create, out) < 0;
  /* let the closed tiers call back and free themselves */
  while (uv_run(loop, UV_RUN_NOWAIT) != 0) uv_run(loop, UV_RUN_ONCE);
  return failed ? DM_EIO : 0;
}
