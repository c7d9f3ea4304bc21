/* redis_scripts.h — the Lua scripts of the Redis cache, by number. Every script touches
 * keys of one hash slot only (one series, or one shard), so it runs on one cluster node.
 * The essay at the top of redis.c says what each one is for. */
#ifndef DIAMOND_REDIS_SCRIPTS_H
#define DIAMOND_REDIS_SCRIPTS_H

enum {
  DM_RS_SHARD_ADD, /* append: mark windows dirty in a shard, bump their counters */
  DM_RS_READ,      /* read: the windows of a series overlapping a range */
  DM_RS_LATEST,    /* latest: the newest window of a series that has data */
  DM_RS_LEASE,     /* take or renew a lease */
  DM_RS_TAKE,      /* take_ready, per shard: lease, dirty windows, counters */
  DM_RS_WTAKE,     /* take_ready, per window: bytes, flushed flag, SHA-1 */
  DM_RS_WRELEASE,  /* release, per window: flag, drop the flushed prefix */
  DM_RS_SRELEASE,  /* release, per shard: forget windows whose counter did not move */
  DM_RS_COUNT
};

extern const char *const dm_rs_body[DM_RS_COUNT];
extern const char *const dm_rs_sha[DM_RS_COUNT];

#endif
