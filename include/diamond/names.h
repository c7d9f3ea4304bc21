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
/* A single segment (hostId, service): [A-Za-z0-9_-]+. 0 or DM_EINVAL (empty, bad char). */
int dm_segment_check(const char *s, size_t len);
/* Length of the longest prefix of s made of segment bytes [A-Za-z0-9_-]: the offset of the
 * first offending byte, or len when all are good. */
size_t dm_segment_span(const char *s, size_t len);
/* 1 if c may appear in a segment. */
int dm_name_char_ok(unsigned char c);
/* FNV-1a 64 of the name: stable across versions (blob shard = hash % shards). */
uint64_t dm_name_hash(const char *s, size_t len);
/* Graphite glob on a whole dotted path (graphite-web semantics): per segment `*` (any run),
 * `?` (one byte), `[a-z0-9]` and `[!x]` (classes with ranges, `!` negates), `{a,b,c}`
 * (alternatives, may nest and hold other globs). Only a literal '.' matches '.', so `*`
 * never crosses a segment and pattern and name have the same number of segments. An
 * unclosed `[` or `{` is a literal. pattern is NUL-terminated. Returns 1 on match, else 0. */
int dm_glob_match(const char *pattern, const char *name, size_t name_len);
/* 1 if the pattern has any glob metacharacter. */
int dm_glob_is_pattern(const char *pattern);

#endif
