/* api.h — the HTTP API: Mackerel-compatible ingest and reads, operations endpoints, and the
 * X-Api-Key check, registered on an http.h server and served by an engine.h engine.
 */
#ifndef DIAMOND_API_H
#define DIAMOND_API_H

#include "diamond/config.h"
#include "diamond/engine.h"
#include "diamond/http.h"

typedef struct dm_api dm_api;

/* Registers every route. The api keeps pointers to e and cfg. */
int dm_api_new(dm_api **out, dm_http_server *s, dm_engine *e, const dm_config *cfg);
/* Requests whose engine call (write, read, latest, flush, age) has not called back yet,
 * including those whose client already left. main() runs the loop until this is 0 before
 * dm_engine_close, so no engine callback outlives the engine. */
size_t dm_api_pending(const dm_api *a);
void dm_api_free(dm_api *a);

#endif
