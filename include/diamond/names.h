/* names.h — series names: validation, Mackerel name mapping, shard hashing, Graphite globs.
 *
 * A name is segments of [A-Za-z0-9_-] (and '.' inside Mackerel metric names, which is the
 * segment separator) joined by '.', no empty segment, at most max_len bytes.
 */
#ifndef DIAMOND_NAMES_H
#define DIAMOND_NAMES_H

#include <stddef.h>
#include <stdint.h>

/* 0 if valid; else DM_EINVAL (bad char, empty segment) or DM_ERANGE (too long). On
 * DM_EINVAL *bad_at is the byte offset of the first offending byte. */
int dm_name_check(const char *s, size_t len, size_t max_len, size_t *bad_at);
/* A single segment (hostId, service): [A-Za-z0-9_-]+. */
int dm_segment_check(const char *s, size_t len);
/* FNV-1a 64 of the name: stable across versions (blob shard = hash % shards). */
uint64_t dm_name_hash(const char *s, size_t len);
/* Graphite glob on a whole dotted path: per segment `*`, `?`, `[a-z]`, `{a,b}`; `*` never
 * crosses a '.'. Returns 1 on match. */
int dm_glob_match(const char *pattern, const char *name, size_t name_len);
/* 1 if the pattern has any glob metacharacter. */
int dm_glob_is_pattern(const char *pattern);

#endif
