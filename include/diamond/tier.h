/* tier.h — callback types shared by the three tier interfaces (cache.h, table.h, blob.h).
 *
 * Every tier call starts work and reports through a callback exactly once, on the loop
 * thread. A call that returns a negative DM_E* code started nothing and never calls back.
 * An embedded implementation may complete before the call returns (the callback then runs
 * inside the call); callers must not touch state after the call that the callback frees.
 */
#ifndef DIAMOND_TIER_H
#define DIAMOND_TIER_H

#include <stddef.h>
#include <stdint.h>

#include "diamond/point.h"

typedef void (*dm_done_cb)(void *arg, int status);
/* Points sorted by time, de-duplicated; valid only during the callback. */
typedef void (*dm_points_cb)(void *arg, int status, const dm_point *p, size_t n);

typedef struct dm_name_ref {
  const char *s;
  size_t len;
} dm_name_ref;
typedef void (*dm_names_cb)(void *arg, int status, const dm_name_ref *names, size_t n);

#endif
