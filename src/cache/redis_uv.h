/* redis_uv.h — hiredis's event hooks on a libuv poll handle (see redis_uv.c for why this
 * is not hiredis's own adapters/libuv.h). */
#ifndef DIAMOND_REDIS_UV_H
#define DIAMOND_REDIS_UV_H

#include <stdint.h>
#include <hiredis/async.h>
#include <uv.h>

/* Attaches ac to loop. *writes (may be NULL) counts socket writes that sent pipelined
 * commands: one per round trip when every command of the round went out together.
 * Returns 0 or DM_ENOMEM / DM_EIO; on failure ac is untouched and the caller frees it. */
int dm_redis_uv_attach(redisAsyncContext *ac, uv_loop_t *loop, uint64_t *writes);

#endif
