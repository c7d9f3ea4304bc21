/* redis_cluster.h — a Redis and Redis Cluster client on hiredis async and libuv (hiredis
 * 0.14 has no cluster support, so routing is ours): seed nodes, detection of a cluster,
 * the slot map, MOVED / ASK / TRYAGAIN / NOSCRIPT, reconnects with backoff, a deadline on
 * every command. redis_cluster.c has the rules; the cache (redis.c) is its one user.
 *
 * Every call runs on the loop thread. dm_rc_send returns 0 and then calls cb exactly once,
 * never inside the call, or returns a negative code and never calls cb.
 */
#ifndef DIAMOND_REDIS_CLUSTER_H
#define DIAMOND_REDIS_CLUSTER_H

#include <stddef.h>
#include <stdint.h>
#include <hiredis/hiredis.h>
#include <uv.h>

#define DM_RC_SLOTS 16384
#define DM_RC_ANY (-1) /* slot argument: any reachable master */

/* The hash tag of a key (the bytes hashed for its slot): 1 and [*off, *off + *len) when
 * the key has a non-empty {tag}, else 0 and the whole key. */
int dm_rc_hash_tag(const char *key, size_t len, size_t *off, size_t *tlen);
int dm_rc_key_slot(const char *key, size_t len); /* CRC16 of the tag, mod 16384 */

typedef struct dm_rc dm_rc;

/* status 0: r is the reply, possibly an error reply (valid during the call only);
 * status < 0: r is NULL — DM_EBUSY (node down, unreachable, or no reply within the
 * timeout), DM_ECLOSED (the client is closing), DM_EIO (too many redirects). */
typedef void (*dm_rc_cb)(void *arg, int status, redisReply *r);

typedef struct dm_rc_opts {
  const char *seeds;     /* "host:port[,host:port...]", host names allowed */
  const char *password;  /* "" or NULL: no AUTH */
  int64_t timeout_ms;    /* connect timeout, and the deadline of every command */
  const char *const *scripts; /* loaded (SCRIPT LOAD) on every connection before use */
  const char *const *shas;    /* their SHA-1s; a mismatch fails the connection */
  int nscripts;
} dm_rc_opts;

typedef struct dm_rc_stats {
  uint64_t writes;     /* socket writes carrying commands (one per pipelined round) */
  uint64_t replies;    /* replies received */
  uint64_t redirects;  /* MOVED and ASK followed */
  uint64_t refreshes;  /* slot maps read (the first one included) */
  uint64_t connects;   /* connections that completed their handshake */
} dm_rc_stats;

/* Parses the seeds and starts connecting in the background; returns at once. */
int dm_rc_open(dm_rc **out, uv_loop_t *loop, const dm_rc_opts *o, char *err, size_t errlen);
/* Sends one RESP command (cmd, len: must stay valid until cb) to the master of slot (or
 * DM_RC_ANY). script: 0, or 1 + the index into opts.scripts of the script an EVALSHA
 * command runs, so that a NOSCRIPT reply is answered by re-sending it as EVAL. Before the
 * first slot map is known a command waits for it (within its deadline). Returns 0,
 * DM_EBUSY (its node is down now: fails fast), DM_ECLOSED or DM_ENOMEM. */
int dm_rc_send(dm_rc *c, int slot, const char *cmd, size_t len, int script, dm_rc_cb cb,
               void *arg);
/* One slot served by each master (slots[0..n)), for commands every master must see
 * (INFO, PING). 0 while the topology is unknown. */
size_t dm_rc_masters(dm_rc *c, int *slots, size_t max);
/* 1: the slot map is known and every master of it is connected. 0: why gets the reason,
 * "redis 127.0.0.1:6379: connection refused". */
int dm_rc_health(dm_rc *c, char *why, size_t len);
/* 1 cluster, 0 a single server, -1 not known yet. */
int dm_rc_mode(const dm_rc *c);
void dm_rc_stats_get(const dm_rc *c, dm_rc_stats *out);
/* The error code a Redis error reply stands for: DM_EBUSY when Redis is saying "later"
 * (OOM, LOADING, BUSY, TRYAGAIN, CLUSTERDOWN, MASTERDOWN, READONLY), else DM_EIO. */
int dm_rc_reply_code(const redisReply *r);
/* Fails every command (DM_ECLOSED), disconnects, and once every handle is closed calls
 * done(arg) and frees c; keep running the loop. */
void dm_rc_close(dm_rc *c, void (*done)(void *arg), void *arg);

#endif
