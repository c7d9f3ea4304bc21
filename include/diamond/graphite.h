/* graphite.h — the Graphite plaintext listener: "<path> <value> [<timestamp>]\n" over TCP
 * and UDP.
 *
 * Lines go through the same WAL and cache as HTTP ingest (dm_engine_write). All the
 * complete lines of one socket read become one batch; the connection is not read again
 * until the engine has made that batch durable, so a fast sender is throttled by the WAL
 * instead of being buffered without bound. A bad line is counted
 * (diamond_graphite_bad_lines_total), logged at most once a second per connection, and
 * skipped: the connection stays open. Accepted points count in
 * diamond_points_total{source="graphite"}. Everything runs on the loop thread.
 *
 * UDP (graphite_udp): every datagram is one or more whole lines, parsed by the same line
 * parser (the last line needs no '\n'; nothing is joined across datagrams). Datagrams that
 * arrive while a write is in flight share the next write; points count in
 * diamond_points_total{source="graphite_udp"}, datagrams in
 * diamond_graphite_udp_datagrams_total, bad lines in the same counter as TCP.
 *
 * Config used: graphite and graphite_udp (address "host:port", "[v6]:port", ":port"; "" or
 * "off" disables), graphite_max_line, max_connections (for this listener alone: connections
 * above it are closed at once), idle_timeout_ms (idle connections are closed; <= 0 never),
 * max_name_len, step, blob_keep and max_future (the accepted time range). cfg must outlive
 * the listener.
 */
#ifndef DIAMOND_GRAPHITE_H
#define DIAMOND_GRAPHITE_H

#include <stddef.h>
#include <uv.h>

#include "diamond/config.h"
#include "diamond/engine.h"

typedef struct dm_graphite dm_graphite;

/* Binds and listens on cfg->graphite (TCP) and cfg->graphite_udp. 0 and *out set (*out =
 * NULL when both are disabled); DM_EINVAL (bad address) or DM_EIO (cannot listen) with a message in err. */
int dm_graphite_start(dm_graphite **out, uv_loop_t *loop, dm_engine *e, const dm_config *cfg,
                      char *err, size_t errlen);
/* The bound TCP port (useful with port 0); 0 for a NULL listener or no TCP. */
int dm_graphite_port(const dm_graphite *g);
/* The bound UDP port; 0 for a NULL listener or no UDP. */
int dm_graphite_udp_port(const dm_graphite *g);
/* Stops accepting and closes every connection. Complete lines already read are still
 * written; a batch the engine holds is waited for, so the engine must stay open (and the
 * loop running) until cb. A batch waiting to retry after DM_EBUSY is dropped (Graphite has
 * no acknowledgement). Then frees g and calls cb(arg) on the loop thread; g == NULL calls
 * cb at once. */
void dm_graphite_stop(dm_graphite *g, void (*cb)(void *), void *arg);

#endif
