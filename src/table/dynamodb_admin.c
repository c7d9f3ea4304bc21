/* dynamodb_admin.c — create (--create-storage) and probe (--check-config).
 *
 * create: DescribeTable; missing -> CreateTable (pk S hash, sk N range, PAY_PER_REQUEST;
 * ResourceInUse means another node is creating it: fine); poll DescribeTable until ACTIVE
 * (CREATE_POLL_MS apart, CREATE_POLLS at most); DescribeTimeToLive, and UpdateTimeToLive
 * on `ttl` unless it is already on. A table whose key schema is not ours is an error. TTL
 * that cannot be turned on (dynalite implements no UpdateTimeToLive) is a warning,
 * ttl_unsupported: data then never expires, which costs money but loses nothing.
 * probe: one DescribeTable; health() says why when it fails.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diamond/error.h"
#include "diamond/log.h"
#include "dynamodb_int.h"

#define CREATE_POLL_MS 250
#define CREATE_POLLS 480 /* two minutes */

enum { A_DESCRIBE, A_CREATE, A_POLL, A_TTL_DESCRIBE, A_TTL_UPDATE };

typedef struct ajob {
  ddb *t;
  int probe, step;
  uint32_t polls;
  dm_done_cb cb;
  void *arg;
} ajob;

static void ajob_end(ajob *a, int status) {
  ddb *t = a->t;
  if (!a->probe && status == 0) dm_log_info("table_created", "table=%s", t->table);
  a->cb(a->arg, status);
  free(a);
  ddb_call_done(t);
}

static void control_body(dm_buf *b, const char *table, const char *rest) {
  ddb_req_begin(b, table);
  dm_buf_adds(b, rest);
  dm_buf_adds(b, "}");
}

static void admin_got(void *arg, const ddb_reply *r);

static int asend(ajob *a, int step, const char *op, const char *rest) {
  dm_buf b;
  dm_buf_init(&b);
  control_body(&b, a->t->table, rest);
  a->step = step;
  return ddb_send(a->t, op, &b, admin_got, a);
}

static void poll_again(void *arg) {
  ajob *a = arg;
  int rc = asend(a, A_POLL, "DescribeTable", "");
  if (rc < 0) ajob_end(a, rc);
}

/* 0 when the described table has our key schema, else DM_EINVAL with health set. */
static int check_schema(ddb *t, yajl_val table) {
  yajl_val ks = ddb_get(table, "KeySchema"), ad = ddb_get(table, "AttributeDefinitions");
  int ok = YAJL_IS_ARRAY(ks) && ks->u.array.len == 2 && YAJL_IS_ARRAY(ad);
  for (size_t i = 0; ok && i < 2; i++) {
    yajl_val k = ks->u.array.values[i];
    yajl_val name = ddb_get(k, "AttributeName"), type = ddb_get(k, "KeyType");
    const char *want = i == 0 ? "pk" : "sk", *kt = i == 0 ? "HASH" : "RANGE";
    ok = strcmp(ddb_str(name), want) == 0 && strcmp(ddb_str(type), kt) == 0;
  }
  for (size_t i = 0; ok && i < ad->u.array.len; i++) {
    yajl_val name = ddb_get(ad->u.array.values[i], "AttributeName");
    yajl_val type = ddb_get(ad->u.array.values[i], "AttributeType");
    if (strcmp(ddb_str(name), "pk") == 0) ok = strcmp(ddb_str(type), "S") == 0;
    if (strcmp(ddb_str(name), "sk") == 0) ok = strcmp(ddb_str(type), "N") == 0;
  }
  if (ok) return 0;
  t->failing = 1;
  snprintf(t->why, sizeof t->why,
           "table %s exists with another key schema (want pk S hash, sk N range)", t->table);
  return DM_EINVAL;
}

static int ttl_on(yajl_val root) {
  yajl_val d = ddb_get(root, "TimeToLiveDescription");
  const char *st = ddb_str(ddb_get(d, "TimeToLiveStatus"));
  const char *at = ddb_str(ddb_get(d, "AttributeName"));
  return (strcmp(st, "ENABLED") == 0 || strcmp(st, "ENABLING") == 0) && strcmp(at, "ttl") == 0;
}

static void admin_got(void *arg, const ddb_reply *r) {
  ajob *a = arg;
  ddb *t = a->t;
  int rc = r->status;
  const char *type = r->error_type;
  yajl_val table = ddb_get(r->root, "Table");
  switch (a->step) {
  case A_DESCRIBE:
    if (a->probe) {
      ajob_end(a, rc == 0 ? check_schema(t, table) : rc);
      return;
    }
    if (rc < 0 && strcmp(type, "ResourceNotFoundException") == 0) {
      rc = asend(a, A_CREATE, "CreateTable",
                 ",\"AttributeDefinitions\":[{\"AttributeName\":\"pk\",\"AttributeType\":\"S\"},"
                 "{\"AttributeName\":\"sk\",\"AttributeType\":\"N\"}],\"KeySchema\":["
                 "{\"AttributeName\":\"pk\",\"KeyType\":\"HASH\"},{\"AttributeName\":\"sk\","
                 "\"KeyType\":\"RANGE\"}],\"BillingMode\":\"PAY_PER_REQUEST\"");
      break;
    }
    __attribute__((fallthrough)); /* an existing table is polled like a new one */
  case A_POLL:
    if (rc == 0 && (rc = check_schema(t, table)) == 0) {
      if (strcmp(ddb_str(ddb_get(table, "TableStatus")), "ACTIVE") == 0) {
        rc = asend(a, A_TTL_DESCRIBE, "DescribeTimeToLive", "");
      } else if (++a->polls > CREATE_POLLS) {
        t->failing = 1;
        snprintf(t->why, sizeof t->why, "table %s did not become ACTIVE", t->table);
        rc = DM_EAGAIN;
      } else {
        rc = ddb_after(t, CREATE_POLL_MS, poll_again, a);
      }
    }
    break;
  case A_CREATE:
    if (rc == 0 || strcmp(type, "ResourceInUseException") == 0) {
      dm_log_info("table_creating", "table=%s", t->table);
      rc = ddb_after(t, CREATE_POLL_MS, poll_again, a);
    }
    break;
  case A_TTL_DESCRIBE:
    if (rc == 0 && ttl_on(r->root)) {
      ajob_end(a, 0);
      return;
    }
    rc = asend(a, A_TTL_UPDATE, "UpdateTimeToLive",
               ",\"TimeToLiveSpecification\":{\"Enabled\":true,\"AttributeName\":\"ttl\"}");
    break;
  case A_TTL_UPDATE:
    if (rc < 0 && !(strcmp(type, "ValidationException") == 0 && strstr(r->message, "already"))) {
      char q[256];
      dm_log_warn("ttl_unsupported", "table=%s type=%s msg=%s", t->table, type[0] ? type : "-",
                  dm_log_quote(q, sizeof q, "TTL could not be enabled: items never expire"));
      t->failing = 0; /* not an error: the table works */
    }
    ajob_end(a, 0);
    return;
  }
  if (rc < 0) ajob_end(a, rc);
}

static int admin_start(dm_table *base, int probe, dm_done_cb cb, void *arg) {
  ddb *t = (ddb *)base;
  if (t->closing) return DM_ECLOSED;
  if (cb == NULL) return DM_EINVAL;
  ajob *a = calloc(1, sizeof *a);
  if (a == NULL) return DM_ENOMEM;
  *a = (ajob){.t = t, .probe = probe, .cb = cb, .arg = arg};
  int rc = asend(a, A_DESCRIBE, "DescribeTable", "");
  if (rc < 0) {
    free(a);
    return rc;
  }
  t->inflight++;
  return 0;
}

int ddb_create(dm_table *t, dm_done_cb cb, void *arg) { return admin_start(t, 0, cb, arg); }
int ddb_probe(dm_table *t, dm_done_cb cb, void *arg) { return admin_start(t, 1, cb, arg); }
