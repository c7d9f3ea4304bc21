/* collectd.c — collectd's write_http JSON (Format "JSON") into a dm_batch.
 *
 * The body is one JSON array of value lists, as collectd's format_json writes them:
 *
 *   [{"values":[1901474177],"dstypes":["counter"],"dsnames":["value"],
 *     "time":1280959128.317,"interval":10.000,"host":"leeloo.octo.it",
 *     "plugin":"cpu","plugin_instance":"0","type":"cpu","type_instance":"idle"}]
 *
 * Series naming (DESIGN.md §1), one series per value:
 *
 *   collectd.<host>.<plugin>[-<plugin_instance>].<type>[-<type_instance>][.<dsname>]
 *
 * - "-<plugin_instance>" and "-<type_instance>" only when they are not empty.
 * - ".<dsname>" only when the list has more than one value or its one dsname is not
 *   "value" (load -> ".shortterm", ".midterm", ".longterm"; memory, cpu -> none).
 * - Dots in host become '_' (DESIGN.md); so does every other byte outside [A-Za-z0-9_-] in
 *   any component (collectd names are not reversible through this mapping; they rarely need
 *   to be: collectd itself forbids '/' and uses '-' as a separator).
 *
 * Values are stored exactly as collectd sends them: gauges as they are, counters, derives
 * and absolutes as the raw counter (apply nonNegativeDerivative/perSecond when reading).
 * A null value (collectd's NaN gauge) is skipped. "time" is seconds, possibly fractional
 * (floored); "interval", "dstypes" and unknown keys are not used, but dstypes and dsnames
 * must have as many entries as values when present. host, plugin, type and values are
 * required. A problem rejects the whole body: "element 2: \"values\": must be an array of
 * numbers".
 *
 * Parser states, driven by yajl callbacks (no DOM):
 *   depth 0  before the array;  1 in the array;  2 in a value-list object;
 *   3 inside its "values" / "dsnames" / "dstypes" array;  skip > 0 inside an ignored value.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "diamond/error.h"
#include "diamond/ingest.h"
#include "ingest_util.h"
#include "number.h"

#define MAX_VALUES 64 /* collectd's types.db has none above ~20 */
#define MAX_STR 128

enum { F_OTHER = 0, F_VALUES, F_DSTYPES, F_DSNAMES, F_TIME, F_HOST, F_PLUGIN, F_PINST, F_TYPE,
       F_TINST, F_NFIELDS };

static const char *const field_names[F_NFIELDS] = {
    "", "values", "dstypes", "dsnames", "time", "host", "plugin", "plugin_instance", "type",
    "type_instance"};

typedef struct cp {
  const dm_ingest_limits *lim;
  dm_batch *out;
  char *err;
  size_t errlen;
  int rc;
  int depth;
  size_t skip;
  int field;
  size_t index;
  unsigned seen; /* 1 << F_* */
  size_t nvalues, ndsnames, ndstypes;
  double values[MAX_VALUES];
  char isnull[MAX_VALUES];
  char dsnames[MAX_VALUES][MAX_STR + 1];
  int64_t t;
  char str[F_NFIELDS][MAX_STR + 1]; /* host .. type_instance, sanitized */
  size_t skipped;
  char *name;
} cp;

static int fail(cp *p, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(cp *p, int rc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (p->errlen > 0) vsnprintf(p->err, p->errlen, fmt, ap);
  va_end(ap);
  p->rc = rc;
  return 0;
}

static int type_error(cp *p) {
  switch (p->field) {
  case F_VALUES:
    return fail(p, DM_EINVAL, "element %zu: \"values\": must be an array of numbers", p->index);
  case F_DSTYPES:
  case F_DSNAMES:
    return fail(p, DM_EINVAL, "element %zu: \"%s\": must be an array of strings", p->index,
                field_names[p->field]);
  case F_TIME:
    return fail(p, DM_EINVAL, "element %zu: \"time\": must be a number", p->index);
  default:
    return fail(p, DM_EINVAL, "element %zu: \"%s\": must be a string", p->index,
                field_names[p->field]);
  }
}

/* A value (scalar, or the start of a container) arrived. 1: the caller handles it. */
static int value_start(cp *p, int container) {
  if (p->depth == 0) return fail(p, DM_EINVAL, "body: expected a JSON array of value lists");
  if (p->depth == 1) return fail(p, DM_EINVAL, "element %zu: expected a JSON object", p->index);
  if (p->depth == 3) return type_error(p);
  if (p->field == F_OTHER) {
    if (container) p->skip = 1;
    return 1;
  }
  return type_error(p);
}

static int on_null(void *ctx) {
  cp *p = ctx;
  if (p->skip > 0) return 1;
  if (p->depth == 3 && p->field == F_VALUES) {
    if (p->nvalues == MAX_VALUES) goto too_many;
    p->isnull[p->nvalues] = 1;
    p->values[p->nvalues++] = 0;
    return 1;
  }
  return value_start(p, 0);
too_many:
  return fail(p, DM_EINVAL, "element %zu: \"values\": more than %d", p->index, MAX_VALUES);
}

static int on_boolean(void *ctx, int b) {
  cp *p = ctx;
  (void)b;
  if (p->skip > 0) return 1;
  return value_start(p, 0);
}

static int on_number(void *ctx, const char *s, size_t len) {
  cp *p = ctx;
  if (p->skip > 0) return 1;
  if (p->depth == 3 && p->field == F_VALUES) {
    double v;
    if (p->nvalues == MAX_VALUES)
      return fail(p, DM_EINVAL, "element %zu: \"values\": more than %d", p->index, MAX_VALUES);
    if (dm_num_double(s, len, &v) < 0 || !dm_finite(v))
      return fail(p, DM_EINVAL, "element %zu: \"values\"[%zu]: must be a finite number",
                  p->index, p->nvalues);
    p->isnull[p->nvalues] = 0;
    p->values[p->nvalues++] = v;
    return 1;
  }
  if (p->depth == 2 && p->field == F_TIME) {
    int64_t t;
    int rc = dm_ingest_time(s, len, p->lim, 1, &t);
    if (rc < 0)
      return fail(p, DM_EINVAL,
                  "element %zu: \"time\": %.*s is out of the accepted range [%lld, %lld]",
                  p->index, (int)(len > 40 ? 40 : len), s, (long long)p->lim->min_time,
                  (long long)p->lim->max_time);
    p->t = t;
    p->seen |= 1u << F_TIME;
    return 1;
  }
  if (p->depth == 2 && p->field == F_OTHER) return 1;
  return value_start(p, 0);
}

/* Copies a name component, bytes outside [A-Za-z0-9_-] as '_'. */
static void sanitize(char *dst, const unsigned char *s, size_t len) {
  for (size_t i = 0; i < len; i++) {
    unsigned char c = s[i];
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '-' || c == '_';
    dst[i] = ok ? (char)c : '_';
  }
  dst[len] = '\0';
}

static int on_string(void *ctx, const unsigned char *s, size_t len) {
  cp *p = ctx;
  if (p->skip > 0) return 1;
  if (p->depth == 3 && p->field == F_DSNAMES) {
    if (p->ndsnames == MAX_VALUES)
      return fail(p, DM_EINVAL, "element %zu: \"dsnames\": more than %d", p->index, MAX_VALUES);
    if (len == 0 || len > MAX_STR)
      return fail(p, DM_EINVAL, "element %zu: \"dsnames\"[%zu]: must be 1 to %d bytes",
                  p->index, p->ndsnames, MAX_STR);
    sanitize(p->dsnames[p->ndsnames++], s, len);
    return 1;
  }
  if (p->depth == 3 && p->field == F_DSTYPES) {
    p->ndstypes++;
    return 1;
  }
  if (p->depth == 2 && p->field >= F_HOST) {
    if (len > MAX_STR)
      return fail(p, DM_EINVAL, "element %zu: \"%s\": longer than %d bytes", p->index,
                  field_names[p->field], MAX_STR);
    sanitize(p->str[p->field], s, len);
    p->seen |= 1u << p->field;
    return 1;
  }
  if (p->depth == 2 && p->field == F_OTHER) return 1;
  return value_start(p, 0);
}

static int on_start_map(void *ctx) {
  cp *p = ctx;
  if (p->skip > 0) {
    p->skip++;
    return 1;
  }
  if (p->depth != 1) return value_start(p, 1);
  p->depth = 2;
  p->seen = 0;
  p->field = F_OTHER;
  p->nvalues = p->ndsnames = p->ndstypes = 0;
  for (int f = F_HOST; f < F_NFIELDS; f++) p->str[f][0] = '\0';
  return 1;
}

static int on_map_key(void *ctx, const unsigned char *k, size_t len) {
  cp *p = ctx;
  if (p->skip > 0) return 1;
  p->field = F_OTHER;
  for (int f = 1; f < F_NFIELDS; f++) {
    if (strlen(field_names[f]) == len && memcmp(field_names[f], k, len) == 0) p->field = f;
  }
  return 1;
}

static int end_element(cp *p) {
  static const int required[] = {F_HOST, F_PLUGIN, F_TYPE, F_VALUES, F_TIME};
  for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
    int f = required[i];
    if (!(p->seen & (1u << f)))
      return fail(p, DM_EINVAL, "element %zu: missing \"%s\"", p->index, field_names[f]);
  }
  for (size_t i = 0; i < 3; i++) { /* host, plugin, type */
    int f = required[i];
    if (p->str[f][0] == '\0')
      return fail(p, DM_EINVAL, "element %zu: \"%s\": must not be empty", p->index,
                  field_names[f]);
  }
  if (p->nvalues == 0)
    return fail(p, DM_EINVAL, "element %zu: \"values\": must not be empty", p->index);
  if ((p->seen & (1u << F_DSNAMES)) && p->ndsnames != p->nvalues)
    return fail(p, DM_EINVAL, "element %zu: \"dsnames\": %zu names for %zu values", p->index,
                p->ndsnames, p->nvalues);
  if ((p->seen & (1u << F_DSTYPES)) && p->ndstypes != p->nvalues)
    return fail(p, DM_EINVAL, "element %zu: \"dstypes\": %zu types for %zu values", p->index,
                p->ndstypes, p->nvalues);
  if (p->nvalues > 1 && !(p->seen & (1u << F_DSNAMES)))
    return fail(p, DM_EINVAL, "element %zu: missing \"dsnames\" (%zu values)", p->index,
                p->nvalues);
  int with_ds = p->nvalues > 1 || ((p->seen & (1u << F_DSNAMES)) &&
                                   strcmp(p->dsnames[0], "value") != 0);
  size_t cap = p->lim->max_name_len;
  int base = snprintf(p->name, cap + 1, "collectd.%s.%s%s%s.%s%s%s", p->str[F_HOST],
                      p->str[F_PLUGIN], p->str[F_PINST][0] ? "-" : "", p->str[F_PINST],
                      p->str[F_TYPE], p->str[F_TINST][0] ? "-" : "", p->str[F_TINST]);
  if (base < 0 || (size_t)base > cap) goto too_long;
  int64_t t = p->lim->step > 1 ? dm_floor(p->t, p->lim->step) : p->t;
  for (size_t i = 0; i < p->nvalues; i++) {
    size_t len = (size_t)base;
    if (with_ds) {
      int n = snprintf(p->name + base, cap + 1 - (size_t)base, ".%s", p->dsnames[i]);
      if (n < 0 || (size_t)(base + n) > cap) goto too_long;
      len += (size_t)n;
    }
    if (p->isnull[i]) {
      p->skipped++;
      continue;
    }
    if (p->out->n >= p->lim->max_points)
      return fail(p, DM_ERANGE, "batch: more than %zu points", p->lim->max_points);
    if (dm_batch_add(p->out, p->name, len, t, p->values[i]) < 0)
      return fail(p, DM_ENOMEM, "batch: out of memory");
  }
  p->depth = 1;
  p->index++;
  return 1;
too_long:
  return fail(p, DM_EINVAL, "element %zu: series name longer than %zu bytes", p->index, cap);
}

static int on_end_map(void *ctx) {
  cp *p = ctx;
  if (p->skip > 0) {
    p->skip--;
    return 1;
  }
  return end_element(p);
}

static int on_start_array(void *ctx) {
  cp *p = ctx;
  if (p->skip > 0) {
    p->skip++;
    return 1;
  }
  if (p->depth == 0) {
    p->depth = 1;
    return 1;
  }
  if (p->depth == 2 &&
      (p->field == F_VALUES || p->field == F_DSNAMES || p->field == F_DSTYPES)) {
    p->depth = 3;
    p->seen |= 1u << p->field;
    if (p->field == F_VALUES) p->nvalues = 0;
    if (p->field == F_DSNAMES) p->ndsnames = 0;
    if (p->field == F_DSTYPES) p->ndstypes = 0;
    return 1;
  }
  return value_start(p, 1);
}

static int on_end_array(void *ctx) {
  cp *p = ctx;
  if (p->skip > 0) {
    p->skip--;
    return 1;
  }
  if (p->depth == 3) {
    p->depth = 2;
    return 1;
  }
  p->depth = 0;
  return 1;
}

static const yajl_callbacks callbacks = {
    on_null,      on_boolean, NULL,       NULL,           on_number,    on_string,
    on_start_map, on_map_key, on_end_map, on_start_array, on_end_array,
};

int dm_ingest_collectd(const char *body, size_t len, const dm_ingest_limits *lim,
                       dm_batch *out, size_t *skipped, char *err, size_t errlen) {
  size_t n0 = out->n, names0 = out->names_len;
  if (errlen > 0) err[0] = '\0';
  cp *p = calloc(1, sizeof *p);
  char *name = malloc(lim->max_name_len + 1);
  if (p == NULL || name == NULL) {
    free(p);
    free(name);
    if (errlen > 0) snprintf(err, errlen, "out of memory");
    return DM_ENOMEM;
  }
  *p = (cp){.lim = lim, .out = out, .err = err, .errlen = errlen, .rc = DM_EINVAL, .name = name};
  yajl_handle h = yajl_alloc(&callbacks, NULL, p);
  int rc;
  if (h == NULL) {
    fail(p, DM_ENOMEM, "out of memory");
  } else {
    yajl_config(h, yajl_dont_validate_strings, 1);
    yajl_status st = yajl_parse(h, (const unsigned char *)body, len);
    int at_end = st == yajl_status_ok;
    if (at_end) st = yajl_complete_parse(h);
    if (st == yajl_status_error) {
      size_t i = 0;
      while (i < len && strchr(" \t\r\n", body[i]) != NULL) i++;
      if (i == len) {
        fail(p, DM_EINVAL, "body: expected a JSON array of value lists");
      } else if (at_end) {
        fail(p, DM_EINVAL, "body: truncated JSON");
      } else {
        unsigned char *m = yajl_get_error(h, 0, NULL, 0);
        const char *msg = m ? (const char *)m : "parse error";
        if (strncmp(msg, "parse error: ", 13) == 0) msg += 13;
        size_t ml = strlen(msg);
        while (ml > 0 && (msg[ml - 1] == '\n' || msg[ml - 1] == ' ')) ml--;
        fail(p, DM_EINVAL, "body: invalid JSON at byte %zu: %.*s", yajl_get_bytes_consumed(h),
             (int)ml, msg);
        if (m) yajl_free_error(h, m);
      }
    } else if (st == yajl_status_ok) {
      p->rc = 0;
    }
    yajl_free(h);
  }
  rc = p->rc;
  if (rc == 0 && skipped) *skipped = p->skipped;
  free(name);
  free(p);
  if (rc < 0) {
    out->n = n0;
    out->names_len = names0;
  }
  return rc;
}
