/* influx.c — the InfluxDB line protocol (v1 /write, v2 /api/v2/write) into a dm_batch.
 *
 * A body is lines separated by '\n' ('\r\n' too); empty lines and lines starting with '#'
 * are skipped. One line:
 *
 *   measurement[,tagkey=tagvalue...] fieldkey=fieldvalue[,fieldkey=fieldvalue...] [timestamp]
 *
 * Escapes, as InfluxDB reads them: in the measurement "\," and "\ "; in tag keys, tag values
 * and field keys "\,", "\=" and "\ "; a backslash before any other byte is a literal
 * backslash. String field values are double-quoted with "\"" and "\\" escaped. Field
 * values: float ("1", "-1.5", "1e3"), integer "42i", unsigned "42u", boolean (t T true True
 * TRUE f F false False FALSE: stored as 1 / 0), string ("..."). A point holds doubles, so
 * string fields are skipped (counted in *skipped, not an error) and integers beyond 2^53
 * are rounded. The timestamp is an integer in the request's precision (ns by default);
 * missing = now. Times are floored to seconds, then to the step.
 *
 * Series naming (reversible). Each field of a line is one series:
 *
 *   <measurement>.<tagkey1>.<tagvalue1>.<tagkey2>.<tagvalue2>...<fieldkey>
 *
 * with the tags sorted bytewise by their encoded key, and every component (measurement,
 * tag key, tag value, field key, each after the line protocol's escapes are undone) encoded
 * so that it is one [A-Za-z0-9_-]+ segment: a byte outside [A-Za-z0-9_-] becomes "_xHH"
 * (two upper-case hex digits), and so does a '_' that is followed by 'x' ("_x" -> "_x5Fx").
 * So every "_x" in a name starts an escape, and decoding "_xHH" -> byte gives back the exact
 * bytes. The segment count is even (1 + 2 * tags + 1), so a name splits back into
 * measurement, tag pairs and field without ambiguity. Example:
 *
 *   cpu,host=web.1,cpu=cpu0 usage_idle=98.5 -> cpu.cpu.cpu0.host.web_x2E1.usage_idle
 *
 * A bad line rejects the whole body; the message names the 1-based line and the problem
 * ("line 3: field \"v\": \"1x\" is not a number"). Duplicate tag keys are an error; a
 * repeated field key in one line keeps the last value (same series and time).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diamond/error.h"
#include "diamond/ingest.h"
#include "ingest_util.h"
#include "number.h"

#define MAX_TAGS 128

typedef struct tag {
  size_t off, klen, len; /* in the tag arena: encoded "key.value", key = first klen bytes */
} tag;

typedef struct lp {
  const dm_ingest_limits *lim;
  size_t line;
  char *err;
  size_t errlen;
  char *name; /* max_name_len + 1 */
  char *arena;
  size_t cap; /* of name and arena */
  tag tags[MAX_TAGS];
} lp;

static int fail(lp *p, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(lp *p, int rc, const char *fmt, ...) {
  if (p->errlen > 0) {
    int n = snprintf(p->err, p->errlen, "line %zu: ", p->line);
    if (n < 0) n = 0;
    if ((size_t)n < p->errlen) {
      va_list ap;
      va_start(ap, fmt);
      vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
      va_end(ap);
    }
  }
  return rc;
}

/* A field for a message: at most 40 bytes (dm_ingest_show). */
static const char *show(char buf[48], const char *s, size_t len) {
  return dm_ingest_show(buf, s, len, 40);
}

static int plain(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '-' || c == '_';
}

/* End of a token starting at i: the first unescaped byte of stops, or len. */
static size_t token_end(const char *s, size_t i, size_t len, const char *stops) {
  while (i < len) {
    if (s[i] == '\\' && i + 1 < len && strchr(stops, s[i + 1]) != NULL) {
      i += 2;
      continue;
    }
    if (strchr(stops, s[i]) != NULL) return i;
    i++;
  }
  return len;
}

/* Undoes the escapes of specials in s[0..len) and appends the segment encoding to dst at
 * *pos (cap bytes). 0, or -1 if it does not fit. */
static int encode(char *dst, size_t *pos, size_t cap, const char *s, size_t len,
                  const char *specials) {
  static const char hex[] = "0123456789ABCDEF";
  size_t w = *pos;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '\\' && i + 1 < len && strchr(specials, s[i + 1]) != NULL) c = (unsigned char)s[++i];
    int next_x = i + 1 < len && s[i + 1] == 'x';
    if (plain(c) && !(c == '_' && next_x)) {
      if (w + 1 > cap) return -1;
      dst[w++] = (char)c;
    } else {
      if (w + 4 > cap) return -1;
      dst[w++] = '_';
      dst[w++] = 'x';
      dst[w++] = hex[c >> 4];
      dst[w++] = hex[c & 15];
    }
  }
  *pos = w;
  return 0;
}

size_t dm_ingest_influx_decode(const char *s, size_t len, char *out) {
  size_t w = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] == '_' && i + 3 < len && s[i + 1] == 'x') {
      int v = 0, ok = 1;
      for (int k = 2; k < 4; k++) {
        char c = s[i + (size_t)k];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) ok = 0;
        v = v * 16 + (d < 0 ? 0 : d);
      }
      if (ok) {
        out[w++] = (char)v;
        i += 3;
        continue;
      }
    }
    out[w++] = s[i];
  }
  return w;
}

static int tag_cmp(const tag *x, const tag *y, const char *ar) {
  size_t n = x->klen < y->klen ? x->klen : y->klen;
  int d = memcmp(ar + x->off, ar + y->off, n);
  return d ? d : (x->klen > y->klen) - (x->klen < y->klen);
}

/* insertion sort: lines carry a handful of tags */
static void sort_tags(tag *t, size_t n, const char *arena) {
  for (size_t i = 1; i < n; i++) {
    tag k = t[i];
    size_t j = i;
    while (j > 0 && tag_cmp(&t[j - 1], &k, arena) > 0) {
      t[j] = t[j - 1];
      j--;
    }
    t[j] = k;
  }
}

static int is_bool(const char *s, size_t len, double *v) {
  static const char *const yes[] = {"t", "T", "true", "True", "TRUE"};
  static const char *const no[] = {"f", "F", "false", "False", "FALSE"};
  for (size_t i = 0; i < 5; i++) {
    if (strlen(yes[i]) == len && memcmp(yes[i], s, len) == 0) return *v = 1.0, 1;
    if (strlen(no[i]) == len && memcmp(no[i], s, len) == 0) return *v = 0.0, 1;
  }
  return 0;
}

/* A numeric field value: 0 and *v, or -1. */
static int field_number(const char *s, size_t len, double *v) {
  if (len == 0) return -1;
  char last = s[len - 1];
  if (last == 'i') {
    int64_t n;
    if (dm_num_kind(s, len - 1) != DM_NUM_INT || s[0] == '+' || dm_num_int64(s, len - 1, &n) < 0)
      return -1;
    *v = (double)n;
    return 0;
  }
  if (last == 'u') {
    uint64_t n = 0;
    if (len < 2) return -1;
    for (size_t i = 0; i < len - 1; i++) {
      if (s[i] < '0' || s[i] > '9') return -1;
      unsigned d = (unsigned)(s[i] - '0');
      if (n > (UINT64_MAX - d) / 10) return -1;
      n = n * 10 + d;
    }
    *v = (double)n;
    return 0;
  }
  if (is_bool(s, len, v)) return 0;
  if (dm_num_kind(s, len) == 0 || s[0] == '+' || dm_num_double(s, len, v) < 0) return -1;
  return dm_finite(*v) ? 0 : -1;
}

/* Timestamp text (an integer in units of unit_ns nanoseconds) to Unix seconds. */
static int to_seconds(const char *s, size_t len, int64_t unit_ns, int64_t *out) {
  int64_t ts;
  if (dm_num_kind(s, len) != DM_NUM_INT || s[0] == '+' || dm_num_int64(s, len, &ts) < 0)
    return DM_INGEST_NOT_NUMBER;
  if (unit_ns >= 1000000000) {
    int64_t mul = unit_ns / 1000000000;
    if (ts > INT64_MAX / mul || ts < INT64_MIN / mul) return DM_INGEST_OUT_OF_RANGE;
    *out = ts * mul;
  } else {
    *out = dm_floor(ts, 1000000000 / unit_ns) / (1000000000 / unit_ns);
  }
  return 0;
}

static int parse_line(lp *p, const char *s, size_t len, int64_t unit_ns, int64_t now,
                      dm_batch *out, size_t *skipped) {
  char shown[48];
  size_t cap = p->cap, i, e;
  /* measurement */
  e = token_end(s, 0, len, ", ");
  if (e == 0) return fail(p, DM_EINVAL, "empty measurement");
  size_t nlen = 0;
  if (encode(p->name, &nlen, cap, s, e, ", ") < 0) goto too_long;
  /* tags */
  size_t ntags = 0, alen = 0;
  i = e;
  while (i < len && s[i] == ',') {
    size_t ks = i + 1, ke = token_end(s, ks, len, ",= ");
    if (ke == ks) return fail(p, DM_EINVAL, "empty tag key");
    if (ke == len || s[ke] != '=')
      return fail(p, DM_EINVAL, "tag \"%s\": missing '='", show(shown, s + ks, ke - ks));
    size_t vs = ke + 1, ve = token_end(s, vs, len, ", ");
    if (vs == ve)
      return fail(p, DM_EINVAL, "tag \"%s\": empty value", show(shown, s + ks, ke - ks));
    if (ntags == MAX_TAGS) return fail(p, DM_EINVAL, "more than %d tags", MAX_TAGS);
    tag *t = &p->tags[ntags++];
    t->off = alen;
    if (encode(p->arena, &alen, cap, s + ks, ke - ks, ",= ") < 0) goto too_long;
    t->klen = alen - t->off;
    if (alen + 1 > cap) goto too_long;
    p->arena[alen++] = '.';
    if (encode(p->arena, &alen, cap, s + vs, ve - vs, ",= ") < 0) goto too_long;
    t->len = alen - t->off;
    i = ve;
  }
  sort_tags(p->tags, ntags, p->arena);
  for (size_t k = 0; k < ntags; k++) {
    if (k > 0 && tag_cmp(&p->tags[k - 1], &p->tags[k], p->arena) == 0)
      return fail(p, DM_EINVAL, "tag key \"%s\" given twice",
                  show(shown, p->arena + p->tags[k].off, p->tags[k].klen));
    if (nlen + 1 + p->tags[k].len > cap) goto too_long;
    p->name[nlen++] = '.';
    memcpy(p->name + nlen, p->arena + p->tags[k].off, p->tags[k].len);
    nlen += p->tags[k].len;
  }
  if (i == len) return fail(p, DM_EINVAL, "no fields (want \"measurement[,tags] field=value\")");
  if (s[i] != ' ') return fail(p, DM_EINVAL, "unexpected '%c' after the measurement", s[i]);
  while (i < len && s[i] == ' ') i++;
  if (i == len) return fail(p, DM_EINVAL, "no fields (want \"measurement[,tags] field=value\")");

  /* fields: first pass checks them and finds the timestamp; values are kept in order */
  size_t fstart = i;
  for (;;) {
    size_t ks = i, ke = token_end(s, ks, len, ",= ");
    if (ke == ks) return fail(p, DM_EINVAL, "empty field key");
    if (ke == len || s[ke] != '=')
      return fail(p, DM_EINVAL, "field \"%s\": missing '='", show(shown, s + ks, ke - ks));
    size_t vs = ke + 1, ve;
    if (vs < len && s[vs] == '"') {
      ve = vs + 1;
      while (ve < len && s[ve] != '"') ve += s[ve] == '\\' && ve + 1 < len ? 2 : 1;
      if (ve >= len)
        return fail(p, DM_EINVAL, "field \"%s\": unterminated string",
                    show(shown, s + ks, ke - ks));
      ve++;
    } else {
      ve = token_end(s, vs, len, ", ");
      double v;
      if (vs == ve)
        return fail(p, DM_EINVAL, "field \"%s\": empty value", show(shown, s + ks, ke - ks));
      if (field_number(s + vs, ve - vs, &v) < 0) {
        char sv[48];
        return fail(p, DM_EINVAL,
                    "field \"%s\": \"%s\" is not a float, integer (42i), unsigned (42u), "
                    "boolean or string",
                    show(shown, s + ks, ke - ks), show(sv, s + vs, ve - vs));
      }
    }
    i = ve;
    if (i < len && s[i] == ',') {
      i++;
      continue;
    }
    if (i < len && s[i] != ' ')
      return fail(p, DM_EINVAL, "field \"%s\": unexpected '%c' after the value",
                  show(shown, s + ks, ke - ks), s[i]);
    break;
  }
  size_t fend = i;
  while (i < len && s[i] == ' ') i++;
  int64_t t = now;
  if (i < len) {
    size_t ts = i;
    while (i < len && s[i] != ' ') i++;
    size_t te = i;
    while (i < len && s[i] == ' ') i++;
    if (i < len) return fail(p, DM_EINVAL, "unexpected text after the timestamp");
    int rc = to_seconds(s + ts, te - ts, unit_ns, &t);
    if (rc == DM_INGEST_NOT_NUMBER)
      return fail(p, DM_EINVAL, "timestamp \"%s\" is not an integer", show(shown, s + ts, te - ts));
    if (rc < 0 || t < p->lim->min_time || t > p->lim->max_time)
      return fail(p, DM_EINVAL,
                  "timestamp %s is out of the accepted range [%lld, %lld] (Unix seconds; is "
                  "the precision right?)",
                  show(shown, s + ts, te - ts), (long long)p->lim->min_time,
                  (long long)p->lim->max_time);
  }
  if (p->lim->step > 1) t = dm_floor(t, p->lim->step);

  /* second pass: one point per numeric field */
  for (i = fstart; i < fend;) {
    size_t ks = i, ke = token_end(s, ks, len, ",= ");
    size_t vs = ke + 1, ve;
    int is_str = s[vs] == '"';
    if (is_str) {
      ve = vs + 1;
      while (s[ve] != '"') ve += s[ve] == '\\' ? 2 : 1;
      ve++;
    } else {
      ve = token_end(s, vs, len, ", ");
    }
    i = ve + 1;
    if (is_str) {
      (*skipped)++;
      continue;
    }
    double v;
    field_number(s + vs, ve - vs, &v);
    size_t flen = nlen;
    if (flen + 1 > cap) goto too_long;
    p->name[flen++] = '.';
    if (encode(p->name, &flen, cap, s + ks, ke - ks, ",= ") < 0 ||
        flen > p->lim->max_name_len)
      goto too_long;
    if (out->n >= p->lim->max_points)
      return fail(p, DM_ERANGE, "more than %zu points in the body", p->lim->max_points);
    if (dm_batch_add(out, p->name, flen, t, v) < 0) return fail(p, DM_ENOMEM, "out of memory");
  }
  return 0;
too_long:
  return fail(p, DM_EINVAL, "series name longer than %zu bytes (measurement, tags and field, "
              "encoded)", p->lim->max_name_len);
}

int dm_ingest_influx_precision(const char *s, int v2, int64_t *unit_ns) {
  static const struct {
    const char *name;
    int v1_only;
    int64_t ns;
  } units[] = {{"ns", 0, 1},          {"n", 1, 1},          {"us", 0, 1000},
               {"u", 1, 1000},        {"ms", 0, 1000000},   {"s", 0, 1000000000},
               {"m", 1, 60000000000}, {"h", 1, 3600000000000}};
  if (s == NULL || s[0] == '\0') {
    *unit_ns = 1;
    return 0;
  }
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
    if (strcmp(s, units[i].name) == 0 && !(v2 && units[i].v1_only)) {
      *unit_ns = units[i].ns;
      return 0;
    }
  }
  return DM_EINVAL;
}

int dm_ingest_influx(const char *body, size_t len, int64_t unit_ns, int64_t now,
                     const dm_ingest_limits *lim, dm_batch *out, size_t *skipped, char *err,
                     size_t errlen) {
  lp p = {.lim = lim, .err = err, .errlen = errlen};
  size_t n0 = out->n, names0 = out->names_len, skip = 0;
  if (errlen > 0) err[0] = '\0';
  p.cap = lim->max_name_len + 1;
  char *mem = malloc(2 * p.cap);
  if (mem == NULL) {
    if (errlen > 0) snprintf(err, errlen, "out of memory");
    return DM_ENOMEM;
  }
  p.name = mem;
  p.arena = mem + p.cap;
  int rc = 0;
  size_t i = 0;
  while (i < len && rc == 0) {
    const char *nl = memchr(body + i, '\n', len - i);
    size_t e = nl ? (size_t)(nl - body) : len, l = e - i;
    p.line++;
    const char *s = body + i;
    if (l > 0 && s[l - 1] == '\r') l--;
    size_t lead = 0;
    while (lead < l && (s[lead] == ' ' || s[lead] == '\t')) lead++;
    if (lead < l && s[lead] != '#') rc = parse_line(&p, s + lead, l - lead, unit_ns, now, out, &skip);
    i = e + 1;
  }
  free(mem);
  if (rc < 0) {
    out->n = n0;
    out->names_len = names0;
    return rc;
  }
  if (skipped) *skipped = skip;
  return 0;
}
