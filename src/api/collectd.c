/* collectd.c — POST /collectd: collectd's write_http plugin with Format "JSON".
 *
 *   <Plugin write_http>
 *     <Node "diamond">
 *       URL "http://127.0.0.1:8080/collectd"
 *       Format "JSON"
 *     </Node>
 *   </Plugin>
 *
 * The body (src/ingest/collectd.c: parsing and series naming) is stored whole or not at
 * all; success is 200 {"success":true} (write_http only looks at the status). Keys as for
 * the Influx routes (influx.c): X-Api-Key, "Authorization: Token <key>", or the key as the
 * Basic password (write_http's User/Password).
 */
#include "api_int.h"
#include "diamond/error.h"
#include "diamond/timefmt.h"

static dm_counter *m_points;

static void post_collectd(dm_http_req *r, void *arg) {
  dm_api *a = arg;
  if (dm_api_agent_auth(a, r) < 0) return;
  size_t len;
  const char *body = dm_http_body(r, &len);
  dm_counter_add(a->m_bytes_in, len);
  dm_ingest_limits lim;
  dm_api_limits(a, dm_now(), &lim);
  dm_batch b;
  dm_batch_init(&b);
  char err[512];
  int rc = dm_ingest_collectd(body, len, &lim, &b, NULL, err, sizeof err);
  if (rc < 0) {
    dm_batch_free(&b);
    dm_api_parse_error(a, r, rc, err);
    return;
  }
  dm_api_agent_write(a, r, &b, m_points, 200, "{\"success\":true}");
}

int dm_api_collectd_routes(dm_api *a) {
  m_points = dm_metric_counter("diamond_points_total", "source=\"http\",route=\"collectd\"",
                               "Points accepted, by source and route.");
  return dm_api_route(a, DM_HTTP_POST, "/collectd", "collectd", SCOPE_NONE, post_collectd) < 0
             ? DM_ENOMEM
             : 0;
}
