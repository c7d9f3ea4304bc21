/* mackerel.c — the Mackerel JSON batch parser: yajl events straight into a dm_batch.
 *
 * The body is one JSON array of point objects. The parser is a small state machine driven
 * by yajl callbacks, with no DOM:
 *
 *   depth 0  before the array          '[' -> depth 1; anything else is "not an array"
 *   depth 1  in the array               '{' -> depth 2 (a new point); ']' -> done
 *   depth 2  in a point object          key -> which field; value -> check and keep it;
 *                                       '}' -> validate the point, append it to the batch
 *   skip > 0 inside an unknown field's nested value: only nesting is counted
 *
 * Fields can come in any order, so hostId and name are kept in two small buffers until the
 * point closes; the series name "host.<hostId>.<name>" is then assembled once and copied
 * into the batch's name arena (no allocation per point). Numbers arrive as raw text (the
 * yajl_number callback) and are parsed here, strictly: times must be integral, values
 * finite. The first problem cancels the parse; the batch is then rolled back to what it
 * held on entry, so a rejected request never leaves a point behind.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "diamond/error.h"
#include "diamond/ingest.h"
#include "diamond/names.h"
#include "ingest_util.h"
#include "number.h"

enum { F_OTHER = 0, F_HOST, F_NAME, F_TIME, F_VALUE };
enum { SEEN_HOST = 1, SEEN_NAME = 2, SEEN_TIME = 4, SEEN_VALUE = 8 };

typedef struct parser {
  const dm_ingest_limits *lim;
  dm_batch *out;
  char *err;
  size_t errlen;
  int rc;        /* set by the callback that cancelled the parse */
  int depth;     /* 0, 1 or 2, see the table above */
  size_t skip;   /* nesting inside an ignored value */
  int field;     /* the key whose value comes next (depth 2) */
  int is_host;   /* /api/v0/tsdb: points carry hostId */
  size_t index;  /* index of the current point */
  unsigned seen; /* SEEN_* of the current point */
  int64_t t;
  double v;
  size_t host_len, name_len;
  char *host, *name; /* max_name_len bytes each */
  char *full;        /* prefix, then the assembled series name */
  size_t prefix_len;
} parser;

static int fail(parser *p, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(parser *p, int rc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (p->errlen > 0) vsnprintf(p->err, p->errlen, fmt, ap);
  va_end(ap);
  p->rc = rc;
  return 0; /* cancels the parse */
}

static const char *field_name(int f) {
  switch (f) {
  case F_HOST: return "hostId";
  case F_NAME: return "name";
  case F_TIME: return "time";
  default: return "value";
  }
}

static int type_error(parser *p) {
  switch (p->field) {
  case F_TIME: return fail(p, DM_EINVAL, "point %zu: \"time\": must be an integer", p->index);
  case F_VALUE:
    return fail(p, DM_EINVAL, "point %zu: \"value\": must be a finite number", p->index);
  default:
    return fail(p, DM_EINVAL, "point %zu: \"%s\": must be a string", p->index,
                field_name(p->field));
  }
}

/* A scalar or the start of a container arrived where depth says a value belongs. Returns 1
 * when the caller should go on handling it as a point field's value. */
static int value_start(parser *p, int container) {
  if (p->depth == 0) return fail(p, DM_EINVAL, "body: expected a JSON array of points");
  if (p->depth == 1) {
    if (p->index >= p->lim->max_points)
      return fail(p, DM_ERANGE, "batch: more than %zu points", p->lim->max_points);
    return fail(p, DM_EINVAL, "point %zu: expected a JSON object", p->index);
  }
  if (p->field == F_OTHER) {
    if (container) p->skip = 1;
    return 1;
  }
  return type_error(p);
}

static int on_null(void *ctx) {
  parser *p = ctx;
  if (p->skip > 0) return 1;
  return value_start(p, 0);
}

static int on_boolean(void *ctx, int b) {
  (void)b;
  return on_null(ctx);
}

static int on_number(void *ctx, const char *s, size_t len) {
  parser *p = ctx;
  if (p->skip > 0 || p->depth != 2 || p->field == F_OTHER) return on_null(ctx);
  if (p->field == F_VALUE) {
    double v;
    if (dm_num_double(s, len, &v) < 0 || !dm_finite(v))
      return fail(p, DM_EINVAL, "point %zu: \"value\": must be a finite number", p->index);
    p->v = v;
    p->seen |= SEEN_VALUE;
    return 1;
  }
  if (p->field != F_TIME) return type_error(p);
  int64_t t;
  int rc = dm_ingest_time(s, len, p->lim, 0, &t);
  if (rc == DM_INGEST_NOT_INTEGER)
    return fail(p, DM_EINVAL, "point %zu: \"time\": must be an integer", p->index);
  if (rc == DM_INGEST_OUT_OF_RANGE)
    return fail(p, DM_EINVAL,
                "point %zu: \"time\": %.*s is out of the accepted range [%lld, %lld]",
                p->index, (int)(len > 40 ? 40 : len), s, (long long)p->lim->min_time,
                (long long)p->lim->max_time);
  p->t = t;
  p->seen |= SEEN_TIME;
  return 1;
}

static int on_string(void *ctx, const unsigned char *u, size_t len) {
  parser *p = ctx;
  const char *s = (const char *)u;
  if (p->skip > 0 || p->depth != 2 || p->field == F_OTHER) return on_null(ctx);
  if (p->field == F_HOST) {
    if (len == 0) return fail(p, DM_EINVAL, "point %zu: \"hostId\": must not be empty", p->index);
    size_t bad = dm_segment_span(s, len);
    if (bad < len) {
      char c[8];
      return fail(p, DM_EINVAL, "point %zu: \"hostId\": invalid character %s at byte %zu",
                  p->index, dm_ingest_show_char(c, s[bad]), bad);
    }
    if (len > p->lim->max_name_len) goto too_long;
    memcpy(p->host, s, len);
    p->host_len = len;
    p->seen |= SEEN_HOST;
    return 1;
  }
  if (p->field == F_NAME) {
    size_t bad;
    if (len == 0) return fail(p, DM_EINVAL, "point %zu: \"name\": must not be empty", p->index);
    if (len > p->lim->max_name_len) goto too_long;
    if (dm_name_check(s, len, len, &bad) < 0) {
      char c[8];
      if (s[bad] == '.' || bad == len)
        return fail(p, DM_EINVAL, "point %zu: \"name\": empty segment at byte %zu", p->index,
                    bad);
      return fail(p, DM_EINVAL, "point %zu: \"name\": invalid character %s at byte %zu",
                  p->index, dm_ingest_show_char(c, s[bad]), bad);
    }
    memcpy(p->name, s, len);
    p->name_len = len;
    p->seen |= SEEN_NAME;
    return 1;
  }
  return type_error(p);
too_long:
  return fail(p, DM_EINVAL, "point %zu: \"%s\": longer than %zu bytes", p->index,
              field_name(p->field), p->lim->max_name_len);
}

static int on_start_map(void *ctx) {
  parser *p = ctx;
  if (p->skip > 0) {
    p->skip++;
    return 1;
  }
  if (p->depth != 1) return value_start(p, 1);
  if (p->index >= p->lim->max_points)
    return fail(p, DM_ERANGE, "batch: more than %zu points", p->lim->max_points);
  p->depth = 2;
  p->seen = 0;
  p->field = F_OTHER;
  return 1;
}

static int on_map_key(void *ctx, const unsigned char *k, size_t len) {
  parser *p = ctx;
  if (p->skip > 0) return 1;
  p->field = F_OTHER;
  switch (len) {
  case 4:
    if (memcmp(k, "name", 4) == 0) p->field = F_NAME;
    else if (memcmp(k, "time", 4) == 0) p->field = F_TIME;
    break;
  case 5:
    if (memcmp(k, "value", 5) == 0) p->field = F_VALUE;
    break;
  case 6:
    if (p->is_host && memcmp(k, "hostId", 6) == 0) p->field = F_HOST;
    break;
  }
  return 1;
}

/* The point at depth 2 closed: check it is whole, assemble its series name, append it. */
static int end_point(parser *p) {
  unsigned need = SEEN_NAME | SEEN_TIME | SEEN_VALUE | (p->is_host ? SEEN_HOST : 0);
  if ((p->seen & need) != need) {
    int f = (need & ~p->seen & SEEN_HOST) ? F_HOST
            : !(p->seen & SEEN_NAME)      ? F_NAME
            : !(p->seen & SEEN_TIME)      ? F_TIME
                                          : F_VALUE;
    return fail(p, DM_EINVAL, "point %zu: missing \"%s\"", p->index, field_name(f));
  }
  size_t len = p->prefix_len;
  if (p->is_host) len += p->host_len + 1;
  len += p->name_len;
  if (len > p->lim->max_name_len)
    return fail(p, DM_EINVAL, "point %zu: \"name\": longer than %zu bytes", p->index,
                p->lim->max_name_len);
  char *w = p->full + p->prefix_len;
  if (p->is_host) {
    memcpy(w, p->host, p->host_len);
    w += p->host_len;
    *w++ = '.';
  }
  memcpy(w, p->name, p->name_len);
  int64_t t = p->lim->step > 1 ? dm_floor(p->t, p->lim->step) : p->t;
  if (dm_batch_add(p->out, p->full, len, t, p->v) < 0)
    return fail(p, DM_ENOMEM, "batch: out of memory");
  p->depth = 1;
  p->index++;
  return 1;
}

static int on_end_map(void *ctx) {
  parser *p = ctx;
  if (p->skip > 0) {
    p->skip--;
    return 1;
  }
  return end_point(p);
}

static int on_start_array(void *ctx) {
  parser *p = ctx;
  if (p->skip > 0) {
    p->skip++;
    return 1;
  }
  if (p->depth == 0) {
    p->depth = 1;
    return 1;
  }
  return value_start(p, 1);
}

static int on_end_array(void *ctx) {
  parser *p = ctx;
  if (p->skip > 0) {
    p->skip--;
    return 1;
  }
  p->depth = 0; /* the top array closed; yajl rejects anything after it */
  if (p->index == 0) return fail(p, DM_EINVAL, "body: empty batch");
  return 1;
}

static const yajl_callbacks callbacks = {
    on_null,  on_boolean,  NULL,         NULL,          on_number,  on_string,
    on_start_map, on_map_key, on_end_map, on_start_array, on_end_array,
};

/* yajl stopped with an error of its own: say where and why. */
static void json_error(parser *p, yajl_handle h, const char *body, size_t len, int at_end) {
  unsigned char *msg = yajl_get_error(h, 0, NULL, 0);
  const char *m = msg ? (const char *)msg : "parse error";
  if (strncmp(m, "parse error: ", 13) == 0) m += 13;
  size_t mlen = strlen(m);
  while (mlen > 0 && (m[mlen - 1] == '\n' || m[mlen - 1] == ' ')) mlen--;
  size_t at = at_end ? len : yajl_get_bytes_consumed(h);
  if (at_end && strstr(m, "premature EOF") != NULL) {
    size_t i = 0;
    while (i < len && strchr(" \t\r\n", body[i]) != NULL) i++;
    if (i == len) fail(p, DM_EINVAL, "body: expected a JSON array of points");
    else fail(p, DM_EINVAL, "body: truncated JSON");
  } else {
    fail(p, DM_EINVAL, "body: invalid JSON at byte %zu: %.*s", at, (int)mlen, m);
  }
  if (msg) yajl_free_error(h, msg);
}

int dm_ingest_mackerel(const char *body, size_t len, const char *service,
                       const dm_ingest_limits *lim, dm_batch *out, char *err, size_t errlen) {
  parser p = {.lim = lim, .out = out, .err = err, .errlen = errlen, .is_host = service == NULL};
  size_t n0 = out->n, names0 = out->names_len;
  size_t svc_len = service ? strlen(service) : 0;
  int rc = DM_EINVAL;
  if (errlen > 0) err[0] = '\0';
  if (service != NULL) {
    size_t bad = dm_segment_span(service, svc_len);
    char c[8];
    if (svc_len == 0) return fail(&p, DM_EINVAL, "service: must not be empty"), p.rc;
    if (bad < svc_len)
      return fail(&p, DM_EINVAL, "service: invalid character %s at byte %zu",
                  dm_ingest_show_char(c, service[bad]), bad),
             p.rc;
  }
  size_t cap = lim->max_name_len;
  char *mem = malloc(3 * cap + svc_len + 16);
  if (mem == NULL) return fail(&p, DM_ENOMEM, "batch: out of memory"), p.rc;
  p.host = mem;
  p.name = mem + cap;
  p.full = mem + 2 * cap;
  p.prefix_len = (size_t)(service ? sprintf(p.full, "service.%s.", service)
                                  : sprintf(p.full, "host."));
  yajl_handle h = yajl_alloc(&callbacks, NULL, &p);
  if (h == NULL) {
    fail(&p, DM_ENOMEM, "batch: out of memory");
    goto done;
  }
  yajl_config(h, yajl_dont_validate_strings, 1); /* names are checked byte by byte */
  yajl_status st = yajl_parse(h, (const unsigned char *)body, len);
  int at_end = 0;
  if (st == yajl_status_ok) {
    at_end = 1;
    st = yajl_complete_parse(h);
  }
  if (st == yajl_status_error) json_error(&p, h, body, len, at_end);
  else if (st == yajl_status_ok) p.rc = 0;
  yajl_free(h);
done:
  rc = p.rc;
  free(mem);
  if (rc < 0) {
    out->n = n0;
    out->names_len = names0;
  }
  return rc;
}
