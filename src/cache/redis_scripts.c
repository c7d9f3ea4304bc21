/* redis_scripts.c — the Lua scripts of the Redis cache (redis_scripts.h). Each is loaded
 * with SCRIPT LOAD when a connection opens and run with EVALSHA; the SHA-1s below are of
 * the exact bytes: after editing a script, put `printf '%s' "<body>" | sha1sum` here
 * (test_cache_redis_codec checks every pair, and a connection whose SCRIPT LOAD answers
 * another SHA-1 fails its handshake). */
#include "redis_scripts.h"

const char *const dm_rs_body[DM_RS_COUNT] = {
    /* DM_RS_SHARD_ADD: mark windows dirty: KEYS dirty, gen; ARGV member, score, ... */
    [DM_RS_SHARD_ADD] =
    "for i = 1, #ARGV, 2 do\n"
    "  redis.call('ZADD', KEYS[1], 'NX', ARGV[i + 1], ARGV[i])\n"
    "  redis.call('HINCRBY', KEYS[2], ARGV[i], 1)\n"
    "end\n"
    "return #ARGV / 2\n",
    /* DM_RS_READ: windows of a series overlapping a range: KEYS index; ARGV min, max, key
     * prefix */
    [DM_RS_READ] =
    "local st = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[2])\n"
    "local out = {}\n"
    "for i = 1, #st do\n"
    "  local v = redis.call('GET', ARGV[3] .. st[i])\n"
    "  if v then\n"
    "    out[#out + 1] = st[i]\n"
    "    out[#out + 1] = v\n"
    "  end\n"
    "end\n"
    "return out\n",
    /* DM_RS_LATEST: the newest window of a series that has data: KEYS index; ARGV key
     * prefix */
    [DM_RS_LATEST] =
    "local st = redis.call('ZREVRANGE', KEYS[1], 0, -1)\n"
    "for i = 1, #st do\n"
    "  local v = redis.call('GET', ARGV[1] .. st[i])\n"
    "  if v then return {st[i], v} end\n"
    "end\n"
    "return {}\n",
    /* DM_RS_LEASE: take or renew a lease: KEYS lease; ARGV node, ms; 1 = held */
    [DM_RS_LEASE] =
    "local v = redis.call('GET', KEYS[1])\n"
    "if not v then\n"
    "  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])\n"
    "  return 1\n"
    "end\n"
    "if v == ARGV[1] then\n"
    "  redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"
    "  return 1\n"
    "end\n"
    "return 0\n",
    /* DM_RS_TAKE: lease a shard, list its dirty windows and their counters: KEYS dirty,
     * gen, lease; ARGV node, lease ms, max end, limit */
    [DM_RS_TAKE] =
    "local v = redis.call('GET', KEYS[3])\n"
    "if not v then\n"
    "  redis.call('SET', KEYS[3], ARGV[1], 'PX', ARGV[2])\n"
    "elseif v == ARGV[1] then\n"
    "  redis.call('PEXPIRE', KEYS[3], ARGV[2])\n"
    "else\n"
    "  return {0}\n"
    "end\n"
    "local m = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[3], 'LIMIT', 0, ARGV[4])\n"
    "local out = {1}\n"
    "for i = 1, #m do\n"
    "  out[#out + 1] = m[i]\n"
    "  out[#out + 1] = redis.call('HGET', KEYS[2], m[i]) or ''\n"
    "end\n"
    "return out\n",
    /* DM_RS_WTAKE: a window's bytes, whether its flushed flag exists, and the bytes'
     * SHA-1: KEYS window, flag */
    [DM_RS_WTAKE] =
    "local v = redis.call('GET', KEYS[1])\n"
    "local f = redis.call('EXISTS', KEYS[2])\n"
    "if not v then return {'', f, ''} end\n"
    "return {v, f, redis.sha1hex(v)}\n",
    /* DM_RS_WRELEASE: after a flush: flag the window flushed and drop the flushed prefix
     * if it is still the prefix; KEYS window, flag, index; ARGV length, sha1, start, flag
     * ms (0: no flag); returns the bytes left */
    [DM_RS_WRELEASE] =
    "if tonumber(ARGV[4]) > 0 then redis.call('SET', KEYS[2], '1', 'PX', ARGV[4]) end\n"
    "local l = tonumber(ARGV[1])\n"
    "local n = redis.call('STRLEN', KEYS[1])\n"
    "local same = l > 0 and n >= l\n"
    "if same then same = redis.sha1hex(redis.call('GETRANGE', KEYS[1], 0, l - 1)) == ARGV[2] end\n"
    "if same then\n"
    "  if n == l then\n"
    "    redis.call('DEL', KEYS[1])\n"
    "    redis.call('ZREM', KEYS[3], ARGV[3])\n"
    "    return 0\n"
    "  end\n"
    "  redis.call('SET', KEYS[1], redis.call('GETRANGE', KEYS[1], l, -1))\n"
    "  return n - l\n"
    "end\n"
    "if n == 0 then redis.call('ZREM', KEYS[3], ARGV[3]) end\n"
    "return n\n",
    /* DM_RS_SRELEASE: forget flushed windows whose counter did not move since the take:
     * KEYS dirty, gen; ARGV member, counter, ... */
    [DM_RS_SRELEASE] =
    "local k = 0\n"
    "for i = 1, #ARGV, 2 do\n"
    "  if (redis.call('HGET', KEYS[2], ARGV[i]) or '') == ARGV[i + 1] then\n"
    "    redis.call('ZREM', KEYS[1], ARGV[i])\n"
    "    redis.call('HDEL', KEYS[2], ARGV[i])\n"
    "    k = k + 1\n"
    "  end\n"
    "end\n"
    "return k\n",
};

const char *const dm_rs_sha[DM_RS_COUNT] = {
    [DM_RS_SHARD_ADD] = "fb37df44d878bebcb9fd93f62d07d68f5809a977",
    [DM_RS_READ] = "9512fff558021a2d0e4fe7a0310bb9b254a80aca",
    [DM_RS_LATEST] = "d4fc58a6cdbe2f735fae123df3e811f749560cf8",
    [DM_RS_LEASE] = "49df95505608bd256210cad29923a49dcf30f364",
    [DM_RS_TAKE] = "71c9ef9591f5c3b5ce7296eb706988c8af58b58b",
    [DM_RS_WTAKE] = "9d7c1b35ff06511d8f12e35cc98689def14938a2",
    [DM_RS_WRELEASE] = "ae5e2084d6a9eec9bddf1eec0e9539cdf7ff4cdc",
    [DM_RS_SRELEASE] = "0fe09bddd5ea2f398acb2223de08c149afe7870c",
};
