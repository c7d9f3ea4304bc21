/* names.c — series names: validation, the stable shard hash and Graphite glob matching.
 *
 * Glob matching works on the whole dotted path rather than splitting it: every wildcard
 * (`*`, `?`, a class) refuses '.', and only a literal '.' in the pattern matches a '.' in
 * the name. That gives graphite-web's per-segment semantics (same segment count, `*` stays
 * inside its segment) and lets `{a.b,c}` alternatives span segments the way graphite-web's
 * brace expansion does. Alternatives are matched by continuation: the matcher walks a
 * chain of pattern pieces (the chosen alternative, then the rest after the '}'), so no
 * pattern is ever copied or expanded.
 */
#include "diamond/names.h"

#include <string.h>

#include "diamond/error.h"

/* 1 for [A-Za-z0-9_-]. */
static const unsigned char seg_ok[256] = {
    ['-'] = 1, ['_'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1,
    ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1,
    ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1,
    ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1,
    ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1,
    ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1,
    ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1,
    ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

int dm_name_char_ok(unsigned char c) { return seg_ok[c]; }

size_t dm_segment_span(const char *s, size_t len) {
  size_t i = 0;
  while (i < len && seg_ok[(unsigned char)s[i]]) i++;
  return i;
}

int dm_segment_check(const char *s, size_t len) {
  if (len == 0) return DM_EINVAL;
  return dm_segment_span(s, len) == len ? 0 : DM_EINVAL;
}

int dm_name_check(const char *s, size_t len, size_t max_len, size_t *bad_at) {
  size_t at = 0;
  if (len > max_len) return DM_ERANGE;
  if (len == 0) goto bad;
  for (size_t seg = 0;;) { /* seg: start of the current segment */
    size_t n = dm_segment_span(s + seg, len - seg);
    at = seg + n;
    if (n == 0) goto bad; /* empty segment: the '.' (or the end) where one was due */
    if (at == len) return 0;
    if (s[at] != '.') goto bad;
    if (at + 1 == len) goto bad; /* trailing '.' */
    seg = at + 1;
  }
bad:
  if (bad_at != NULL) *bad_at = at;
  return DM_EINVAL;
}

uint64_t dm_name_hash(const char *s, size_t len) {
  uint64_t h = 14695981039346656037ULL;
  for (size_t i = 0; i < len; i++) {
    h ^= (unsigned char)s[i];
    h *= 1099511628211ULL;
  }
  return h;
}

/* A run of pattern bytes [p, end) followed by the pieces in next. */
typedef struct piece {
  const char *p, *end;
  const struct piece *next;
} piece;

/* The byte after the ']' closing the class that starts at p ('['), or NULL if unclosed.
 * A ']' right after "[" or "[!" is a member, as in fnmatch. */
static const char *class_end(const char *p, const char *end) {
  const char *q = p + 1;
  if (q < end && *q == '!') q++;
  if (q < end && *q == ']') q++;
  while (q < end && *q != ']') q++;
  return q < end ? q + 1 : NULL;
}

static int class_has(const char *p, const char *cend, unsigned char c) {
  const char *q = p + 1, *last = cend - 1; /* members in [q, last) */
  int neg = 0, hit = 0;
  if (*q == '!') {
    neg = 1;
    q++;
  }
  while (q < last) {
    unsigned char lo = (unsigned char)*q, hi = lo;
    if (q + 2 < last && q[1] == '-') {
      hi = (unsigned char)q[2];
      q += 3;
    } else {
      q++;
    }
    if (c >= lo && c <= hi) hit = 1;
  }
  return hit != neg;
}

/* The '}' matching the '{' at p, or NULL if unclosed. */
static const char *brace_end(const char *p, const char *end) {
  int depth = 0;
  for (const char *q = p; q < end; q++) {
    if (*q == '{') depth++;
    else if (*q == '}' && --depth == 0) return q;
  }
  return NULL;
}

static int match(const piece *k, const char *s, const char *se) {
  const char *p = k->p;
  for (;;) {
    if (p == k->end) {
      if (k->next == NULL) return s == se;
      k = k->next;
      p = k->p;
      continue;
    }
    switch (*p) {
    case '*': {
      while (p < k->end && *p == '*') p++;
      piece rest = {p, k->end, k->next};
      for (const char *t = s;; t++) {
        if (match(&rest, t, se)) return 1;
        if (t == se || *t == '.') return 0;
      }
    }
    case '?':
      if (s == se || *s == '.') return 0;
      s++;
      p++;
      continue;
    case '[': {
      const char *cend = class_end(p, k->end);
      if (cend == NULL) break; /* literal '[' */
      if (s == se || *s == '.' || !class_has(p, cend, (unsigned char)*s)) return 0;
      s++;
      p = cend;
      continue;
    }
    case '{': {
      const char *b = brace_end(p, k->end);
      if (b == NULL) break; /* literal '{' */
      piece rest = {b + 1, k->end, k->next};
      int depth = 0;
      const char *alt = p + 1;
      for (const char *q = p + 1; q <= b; q++) {
        if (*q == '{') {
          depth++;
        } else if (q == b || (*q == ',' && depth == 0)) {
          piece a = {alt, q, &rest};
          if (match(&a, s, se)) return 1;
          alt = q + 1;
        } else if (*q == '}') {
          depth--;
        }
      }
      return 0;
    }
    default:
      break;
    }
    if (s == se || *s != *p) return 0;
    s++;
    p++;
  }
}

int dm_glob_match(const char *pattern, const char *name, size_t name_len) {
  piece k = {pattern, pattern + strlen(pattern), NULL};
  return match(&k, name, name + name_len);
}

int dm_glob_is_pattern(const char *pattern) {
  return strpbrk(pattern, "*?[{") != NULL;
}
