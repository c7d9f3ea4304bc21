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

/* The table and the blob store seen alike: open, create, probe, health, close. */
typedef struct tier_ops {
  const char *tier;
  const char *(*engine)(const dm_config *cfg);
  int (*embedded)(const dm_config *cfg);
  int (*open)(void **out, uv_loop_t *loop, const dm_config *cfg, char *err, size_t errlen);
  int (*create)(void *t, dm_done_cb cb, void *arg);
  int (*probe)(void *t, dm_done_cb cb, void *arg);
  int (*health)(void *t, char *why, size_t len);
  void (*close)(void *t);
} tier_ops;

static const char *table_engine(const dm_config *c) { return c->table_engine; }
static int table_embedded(const dm_config *c) { return strcmp(c->table_engine, "lmdb") == 0; }
static int table_open(void **out, uv_loop_t *l, const dm_config *c, char *e, size_t n) {
  return dm_tiers_open_table((dm_table **)out, l, c, e, n);
}
static int table_create(void *t, dm_done_cb cb, void *a) { return dm_table_create(t, cb, a); }
static int table_probe(void *t, dm_done_cb cb, void *a) { return dm_table_probe(t, cb, a); }
static int table_health(void *t, char *w, size_t n) { return dm_table_health(t, w, n); }
static void table_close(void *t) { dm_table_close(t); }

static const char *blob_engine(const dm_config *c) { return c->blob_engine; }
static int blob_embedded(const dm_config *c) { return strcmp(c->blob_engine, "dir") == 0; }
static int blob_open(void **out, uv_loop_t *l, const dm_config *c, char *e, size_t n) {
  return dm_tiers_open_blob((dm_blob **)out, l, c, e, n);
}
static int blob_create(void *b, dm_done_cb cb, void *a) { return dm_blob_create(b, cb, a); }
static int blob_probe(void *b, dm_done_cb cb, void *a) { return dm_blob_probe(b, cb, a); }
static int blob_health(void *b, char *w, size_t n) { return dm_blob_health(b, w, n); }
static void blob_close(void *b) { dm_blob_close(b); }

static const tier_ops table_tier = {"table", table_engine, table_embedded, table_open,
                                    table_create, table_probe, table_health, table_close};
static const tier_ops blob_tier = {"blob", blob_engine, blob_embedded, blob_open,
                                   blob_create, blob_probe, blob_health, blob_close};

static int do_tier(const tier_ops *o, uv_loop_t *loop, const dm_config *cfg, int create,
                   FILE *out) {
  char why[512] = "";
  int rc;
  if (o->embedded(cfg)) { /* files under the data directory */
    rc = data_dir_ok(cfg, why, sizeof why);
    report(out, o->tier, o->engine(cfg), rc, why);
    return rc;
  }
  void *t;
  rc = o->open(&t, loop, cfg, why, sizeof why);
  if (rc == 0) {
    step s = {0, 0};
    if (create) rc = wait_step(loop, o->create(t, step_cb, &s), &s);
    if (rc == 0) {
      s = (step){0, 0};
      rc = wait_step(loop, o->probe(t, step_cb, &s), &s);
    }
    if (rc < 0 && o->health(t, why, sizeof why)) snprintf(why, sizeof why, "%s", dm_strerror(rc));
    o->close(t);
  }
  report(out, o->tier, o->engine(cfg), rc, why);
  return rc;
}

int dm_engine_storage(uv_loop_t *loop, const dm_config *cfg, int create, FILE *out) {
  int failed = 0;
  failed |= do_cache(loop, cfg, out) < 0;
  failed |= do_tier(&table_tier, loop, cfg, create, out) < 0;
  failed |= do_tier(&blob_tier, loop, cfg, create, out) < 0;
  /* let the closed tiers call back and free themselves */
  while (uv_run(loop, UV_RUN_NOWAIT) != 0) uv_run(loop, UV_RUN_ONCE);
  return failed ? DM_EIO : 0;
}
