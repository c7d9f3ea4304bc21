/* redis_slot.c — Redis Cluster key slots: CRC16 of the key's hash tag, modulo 16384.
 *
 * The tag (cluster spec, "Hash tags"): if the key has a '{' and, somewhere after it, a
 * '}', and at least one byte lies between the first '{' and the first '}' after it, only
 * those bytes are hashed; otherwise the whole key is. So "{user1000}.following" and
 * "{user1000}.followers" share a slot, "foo{}{bar}" hashes whole (the first tag is
 * empty), "foo{{bar}}zap" hashes "{bar", "foo{bar}{zap}" hashes "bar". Every diamond key
 * puts one name in braces (dm:w:{<series>}:<start>), so a series' keys share a slot.
 */
#include <string.h>

#include "diamond/crc16.h"
#include "redis_cluster.h"

int dm_rc_hash_tag(const char *key, size_t len, size_t *off, size_t *tlen) {
  const char *open = memchr(key, '{', len);
  if (open != NULL) {
    size_t from = (size_t)(open - key) + 1;
    const char *close = memchr(key + from, '}', len - from);
    if (close != NULL && (size_t)(close - key) > from) {
      *off = from;
      *tlen = (size_t)(close - key) - from;
      return 1;
    }
  }
  *off = 0;
  *tlen = len;
  return 0;
}

int dm_rc_key_slot(const char *key, size_t len) {
  size_t off, tlen;
  dm_rc_hash_tag(key, len, &off, &tlen);
  return dm_crc16(key + off, tlen) & (DM_RC_SLOTS - 1);
}
