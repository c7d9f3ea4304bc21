/* mackerel_hosts.c — the host registration calls an unmodified mackerel-agent makes at
 * start-up and on every run: create a host (a fresh id), read it, update it, and report
 * check results. Nothing is stored: diamond keeps metrics, not inventory; the answers
 * only have the shape the agent expects. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "diamond/buf.h"
#include "diamond/error.h"

static void post_hosts(dm_http_req *r, void *arg) {
  (void)arg;
  static const char digits[] = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
  char id[12], json[64];
  for (int i = 0; i < 11; i++) id[i] = digits[random() % (sizeof digits - 1)];
  id[11] = '\0';
  snprintf(json, sizeof json, "{\"id\":\"%s\"}", id);
  dm_api_json(r, 200, json);
}

static void get_host(dm_http_req *r, void *arg) {
  (void)arg;
  const char *id = dm_http_param(r, 0);
  if (dm_api_check_ident(r, "hostId", id) < 0) return;
  dm_buf b;
  dm_buf_init(&b);
  dm_buf_adds(&b, "{\"host\":{\"id\":");
  dm_buf_json_str(&b, id, strlen(id));
  dm_buf_adds(&b, ",\"name\":");
  dm_buf_json_str(&b, id, strlen(id));
  dm_buf_adds(&b, ",\"status\":\"working\",\"memo\":\"\",\"isRetired\":false,"
                  "\"roles\":{},\"meta\":{},\"interfaces\":[]}}");
  dm_http_respond(r, 200, "application/json", b.p, b.len, "");
  dm_buf_free(&b);
}

static void put_host(dm_http_req *r, void *arg) {
  (void)arg;
  const char *id = dm_http_param(r, 0);
  if (dm_api_check_ident(r, "hostId", id) < 0) return;
  dm_buf b;
  dm_buf_init(&b);
  dm_buf_adds(&b, "{\"id\":");
  dm_buf_json_str(&b, id, strlen(id));
  dm_buf_adds(&b, "}");
  dm_http_respond(r, 200, "application/json", b.p, b.len, "");
  dm_buf_free(&b);
}

static void post_checks(dm_http_req *r, void *arg) {
  (void)arg;
  dm_api_json(r, 200, "{\"success\":true}");
}

int dm_api_mackerel_host_routes(dm_api *a) {
  int rc = 0;
  rc |= dm_api_route(a, DM_HTTP_POST, "/api/v0/hosts", "hosts_post", SCOPE_WRITE, post_hosts);
  rc |= dm_api_route(a, DM_HTTP_GET, "/api/v0/hosts/:", "host_get", SCOPE_READ, get_host);
  rc |= dm_api_route(a, DM_HTTP_PUT, "/api/v0/hosts/:", "host_put", SCOPE_WRITE, put_host);
  rc |= dm_api_route(a, DM_HTTP_POST, "/api/v0/monitoring/checks/report", "checks_report",
                     SCOPE_WRITE, post_checks);
  return rc < 0 ? DM_ENOMEM : 0;
}
