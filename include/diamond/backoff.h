/* backoff.h — capped exponential backoff with full jitter, the retry policy of every part
 * that retries (the flusher, the ager, the remote clients):
 *   sleep = random(0, min(cap, base * 2^attempt)).
 * Full jitter spreads retries of many clients over the whole interval, so a backend that
 * comes back is not hit by all of them at once (AWS Architecture Blog, "Exponential
 * Backoff And Jitter", 2015). */
#ifndef DIAMOND_BACKOFF_H
#define DIAMOND_BACKOFF_H

#include <stdint.h>

/* The ceiling min(cap, base * 2^attempt), without overflow for any attempt. */
uint64_t dm_backoff_ceil_ms(uint32_t attempt, uint64_t base_ms, uint64_t cap_ms);
/* A uniformly random delay in [0, dm_backoff_ceil_ms(attempt, base, cap)]. */
uint64_t dm_backoff_ms(uint32_t attempt, uint64_t base_ms, uint64_t cap_ms);

#endif
