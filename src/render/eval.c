/* eval.c — the /render evaluator and its functions.
 *
 * The grammar is graphite-web's (parse.c has it in full): a target is a path with globs
 * (a.{b,c}.*), a call f(arg, .., name=value) whose arguments are expressions, strings,
 * numbers, booleans, none or inf, or a pipe (a.b|scale(2) is scale(a.b, 2)).
 *
 * Two phases. Graphite-web evaluates a target recursively and fetches as it meets a path;
 * diamond's storage reads are asynchronous, so the walk is split:
 *
 *  (a) dm_render_parse() also walks the trees and lists every fetch the evaluation will make
 *      (dm_render_paths): a pattern, plus the time context it is evaluated in. timeShift(x,
 *      "1d") evaluates x twice, as is and with both ends moved back a day (shift = 86400);
 *      movingAverage(x, "10min") evaluates x with from moved back 600 s (preview), and
 *      movingAverage(x, 5) with from moved back 5 steps of each series (preview_steps: the
 *      step is only known to the caller). Contexts nest and add up.
 *  (b) dm_render_eval() walks the same way; at a path it finds the entry of (a) made for
 *      that node in that context and asks the caller's fetch callback for its series. The
 *      evaluator is synchronous and pure: the tests feed it series by hand. Budgets: the
 *      fetched series count (max_series) and every value fetched or computed (max_points)
 *      are counted as they appear; passing one is DM_ERANGE, before the allocation.
 *
 * Values are doubles, NaN = null (graphite's None). Null rules follow graphite-web 1.1
 * (functions.py, functions/safe.py, with DEFAULT_XFILES_FACTOR = 0): sum/min/max/average of
 * a row ignore nulls and are null only when every input is null; multiply is null when any
 * input is; diff is the first non-null minus the other non-null; divide by null or 0 is
 * null; scale/offset/abs/derivatives keep null; consolidation ignores nulls inside a bucket
 * and an all-null bucket is null; highest/lowest sort a null key as -inf.
 *
 * Series of different steps are combined as graphite-web's normalize(): step = lcm of the
 * steps, each series consolidated (its consolidateBy function, avg by default) to it, start =
 * min start, end = max end less (end - start) % step, and the rows are zipped BY INDEX
 * (zip_longest), as graphite-web does, not by time. A function that builds a new series
 * (aggregates, divideSeries, asPercent) gives it tags.name = its own name unless all the
 * inputs share one; the transforms keep the input's tags.name and set pathExpression to the
 * new name (so sumSeries(scale(a.*,1)) names the scaled series).
 *
 * Where diamond deliberately differs from graphite-web:
 *  - movingAverage(x, N) previews N steps of each series, graphite-web N times the largest
 *    step in the list (the same when the steps agree).
 *  - tags carry only "name"; graphite-web adds per-function tags (scale=, aggregatedBy=..).
 *  - consolidation functions are average/avg, sum, min, max, first, last (consolidateBy,
 *    summarize, groupByNode's callback also takes the *Series names, diff and multiply);
 *    median, stddev, count, range are refused. xFilesFactor exists on movingAverage only.
 *  - perSecond rounds to 6 decimals as graphite-web does, but half-away-from-zero on the
 *    binary value (Python rounds the decimal half-even): ties may differ in the 6th decimal.
 *  - refused rather than half-done: hitcount's alignToInterval, transformNull's
 *    referenceSeries, tag names as aliasByNode/groupByNode nodes; timeShift's alignDST is
 *    ignored (diamond is UTC throughout).
 *  - strings are kept raw, as graphite-web's grammar keeps them: "\1" reaches aliasSub as
 *    backslash-one; the regex is POSIX ERE with \d \w \s \D \W \S translated, so Python-only
 *    syntax (lookaround, non-greedy, (?i)) is an error, not a silent mismatch.
 */
#include <ctype.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diamond/error.h"
#include "diamond/timefmt.h"
#include "render_int.h"

/* ---------------- phase (a) ---------------- */

typedef struct tctx {
  int64_t shift, preview, psteps;
} tctx;

static int add_path(dm_render_ast *a, const node *n, tctx t) {
  if (a->npaths == a->cap) {
    size_t cap = a->cap ? a->cap * 2 : 8;
    dm_render_path *p = realloc(a->paths, cap * sizeof *p);
    if (p == NULL) return DM_ENOMEM;
    a->paths = p;
    const node **pn = realloc(a->path_node, cap * sizeof *pn);
    if (pn == NULL) return DM_ENOMEM;
    a->path_node = pn;
    a->cap = cap;
  }
  a->paths[a->npaths] = (dm_render_path){n->text, t.shift, t.preview, t.psteps};
  a->path_node[a->npaths++] = n;
  return 0;
}

/* Graphite offsets: "1d" "-1h" "+30min"; seconds, signed. */
static int parse_offset(const char *s, int64_t *out) {
  int neg = 0;
  while (*s == ' ') s++;
  if (*s == '-' || *s == '+') neg = *s++ == '-';
  int64_t d;
  int rc = dm_duration_parse(s, &d);
  if (rc < 0) return rc;
  *out = neg ? -d : d;
  return 0;
}

/* timeShift's offset: a leading digit means "back" (graphite prefixes '-'). */
static int shift_of(const node *arg, int64_t *delta) {
  if (arg == NULL || arg->kind != N_STRING) return DM_EINVAL;
  const char *s = arg->text;
  if (isdigit((unsigned char)s[0])) {
    int rc = parse_offset(s, delta);
    *delta = -*delta;
    return rc;
  }
  return parse_offset(s, delta);
}

static const node *posarg(const node *call, size_t i, const char *kw) {
  size_t k = 0;
  for (size_t j = 0; j < call->nargs; j++) {
    const node *a = call->args[j];
    if (a->kw == NULL && k++ == i) return a->kind == N_NONE ? NULL : a;
    if (a->kw != NULL && kw != NULL && strcmp(a->kw, kw) == 0) return a->kind == N_NONE ? NULL : a;
  }
  return NULL;
}

static int preview_of(const node *call, tctx *t) {
  const node *w = posarg(call, 1, "windowSize");
  if (w == NULL) return DM_EINVAL;
  if (w->kind == N_NUMBER) {
    if (!(w->num >= 0 && w->num <= 1e7)) return DM_EINVAL; /* also NaN */
    t->psteps += (int64_t)w->num;
    return 0;
  }
  int64_t d;
  if (w->kind != N_STRING || parse_offset(w->text, &d) < 0) return DM_EINVAL;
  t->preview += d < 0 ? -d : d;
  return 0;
}

static int collect(dm_render_ast *a, const node *n, tctx t) {
  if (n->kind == N_PATH) return add_path(a, n, t);
  if (n->kind != N_CALL) return 0;
  int is_shift = strcmp(n->text, "timeShift") == 0;
  int is_mavg = strcmp(n->text, "movingAverage") == 0;
  const node *first = posarg(n, 0, NULL);
  for (size_t i = 0; i < n->nargs; i++) {
    const node *c = n->args[i];
    tctx tc = t;
    if (c == first && is_mavg) {
      if (preview_of(n, &tc) < 0) tc = t; /* the evaluator reports the bad window */
    }
    int rc = collect(a, c, tc);
    if (rc < 0) return rc;
    if (c == first && is_shift) {
      int64_t delta;
      if (shift_of(posarg(n, 1, "timeShift"), &delta) == 0) {
        tc.shift -= delta;
        rc = collect(a, c, tc);
        if (rc < 0) return rc;
      }
    }
  }
  return 0;
}

int render_collect_paths(dm_render_ast *a) {
  for (size_t i = 0; i < a->n; i++) {
    int rc = collect(a, a->targets[i], (tctx){0, 0, 0});
    if (rc < 0) return rc;
  }
  return 0;
}

size_t dm_render_paths(const dm_render_ast *a, const dm_render_path **out) {
  *out = a->paths;
  return a->npaths;
}

void dm_render_path_range(const dm_render_path *p, int64_t from, int64_t until, int64_t step,
                          int64_t *rfrom, int64_t *runtil) {
  *rfrom = from - p->shift - p->preview - p->preview_steps * step;
  *runtil = until - p->shift;
}

/* ---------------- phase (b) ---------------- */

typedef struct ctx {
  const dm_render_ast *a;
  const dm_render_req *req;
  dm_render_fetch_fn fetch;
  void *arg;
  size_t target;
  char *err;
  size_t errlen;
  int failed;
  size_t nseries, npoints;
} ctx;

typedef dm_render_list list;

static int fail(ctx *c, int rc, const node *at, const char *fmt, ...) {
  if (c->failed) return rc;
  c->failed = 1;
  if (c->errlen == 0) return rc;
  int k = snprintf(c->err, c->errlen, "target %zu: position %zu: ", c->target,
                   at ? at->pos : 0);
  if (k < 0 || (size_t)k >= c->errlen) return rc;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->err + k, c->errlen - (size_t)k, fmt, ap);
  va_end(ap);
  return rc;
}

static int oom(ctx *c, const node *at) { return fail(c, DM_ENOMEM, at, "out of memory"); }

/* Counts n new values against the points budget. */
static int budget(ctx *c, const node *at, size_t n) {
  c->npoints += n;
  if (c->req->max_points && c->npoints > c->req->max_points)
    return fail(c, DM_ERANGE, at, "more than %zu points in the query (limits.max_query_points)",
                c->req->max_points);
  return 0;
}

static dm_render_series *new_series(ctx *c, const node *at, const char *name, int64_t start,
                                    int64_t step, size_t n) {
  if (budget(c, at, n) < 0) return NULL;
  dm_render_series *s = dm_render_series_new(name, strlen(name), start, step, n);
  if (s == NULL) oom(c, at);
  return s;
}

static int eval(ctx *c, const node *n, tctx t, list *out);

static int eval_path(ctx *c, const node *n, tctx t, list *out) {
  const dm_render_ast *a = c->a;
  for (size_t i = 0; i < a->npaths; i++) {
    const dm_render_path *p = &a->paths[i];
    if (a->path_node[i] != n || p->shift != t.shift || p->preview != t.preview ||
        p->preview_steps != t.psteps)
      continue;
    size_t before = out->n;
    int rc = c->fetch(c->arg, i, p, out);
    if (rc < 0) return fail(c, rc, n, "fetching %s failed", n->text);
    c->nseries += out->n - before;
    if (c->req->max_series && c->nseries > c->req->max_series)
      return fail(c, DM_ERANGE, n, "more than %zu series in the query (limits.max_query_series)",
                  c->req->max_series);
    for (size_t k = before; k < out->n; k++) {
      rc = budget(c, n, out->s[k]->n);
      if (rc < 0) return rc;
      if (render_set_str(&out->s[k]->path_expr, n->text) < 0) return oom(c, n);
    }
    return 0;
  }
  return fail(c, DM_EINVAL, n, "%s was not listed by dm_render_paths", n->text);
}

/* ---- argument helpers ---- */

static int arg_list(ctx *c, const node *call, size_t i, const char *kw, tctx t, list *out) {
  const node *a = posarg(call, i, kw);
  if (a == NULL) return fail(c, DM_EINVAL, call, "%s: missing argument %zu (a series list)",
                             call->text, i + 1);
  if (a->kind != N_PATH && a->kind != N_CALL)
    return fail(c, DM_EINVAL, a, "%s: argument %zu must be a series list", call->text, i + 1);
  return eval(c, a, t, out);
}

/* 1 found, 0 absent (def kept), <0 error. */
static int arg_num(ctx *c, const node *call, size_t i, const char *kw, double *v) {
  const node *a = posarg(call, i, kw);
  if (a == NULL) return 0;
  if (a->kind == N_NUMBER) {
    *v = a->num;
    return 1;
  }
  if (a->kind == N_BOOL) {
    *v = a->b;
    return 1;
  }
  return fail(c, DM_EINVAL, a, "%s: argument %s must be a number", call->text,
              kw ? kw : "?");
}

static int need_num(ctx *c, const node *call, size_t i, const char *kw, double *v) {
  int rc = arg_num(c, call, i, kw, v);
  if (rc == 0) return fail(c, DM_EINVAL, call, "%s: missing argument %s", call->text, kw);
  return rc;
}

static int arg_str(ctx *c, const node *call, size_t i, const char *kw, const char **v) {
  const node *a = posarg(call, i, kw);
  if (a == NULL) return 0;
  if (a->kind != N_STRING)
    return fail(c, DM_EINVAL, a, "%s: argument %s must be a string", call->text, kw);
  *v = a->text;
  return 1;
}

static int need_str(ctx *c, const node *call, size_t i, const char *kw, const char **v) {
  int rc = arg_str(c, call, i, kw, v);
  if (rc == 0) return fail(c, DM_EINVAL, call, "%s: missing argument %s", call->text, kw);
  return rc;
}

static int arg_bool(ctx *c, const node *call, size_t i, const char *kw, int *v) {
  const node *a = posarg(call, i, kw);
  if (a == NULL) return 0;
  if (a->kind == N_BOOL) *v = a->b;
  else if (a->kind == N_NUMBER) *v = a->num != 0;
  else return fail(c, DM_EINVAL, a, "%s: argument %s must be a boolean", call->text, kw);
  return 1;
}

/* Sets s->name to a printf result; path_expr too when also_path. */
static int rename_s(ctx *c, const node *at, dm_render_series *s, int also_path,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int rename_s(ctx *c, const node *at, dm_render_series *s, int also_path,
                    const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *name = NULL;
  int k = vasprintf(&name, fmt, ap);
  va_end(ap);
  if (k < 0) return oom(c, at);
  free(s->name);
  s->name = name;
  if (also_path && render_set_str(&s->path_expr, name) < 0) return oom(c, at);
  return 0;
}

static int parse_cf(const char *s, dm_render_cf *cf) {
  static const struct { const char *n; dm_render_cf cf; } t[] = {
      {"average", DM_CF_AVG}, {"avg", DM_CF_AVG}, {"sum", DM_CF_SUM}, {"min", DM_CF_MIN},
      {"max", DM_CF_MAX},     {"first", DM_CF_FIRST}, {"last", DM_CF_LAST},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
    if (strcmp(s, t[i].n) == 0) {
      *cf = t[i].cf;
      return 0;
    }
  return DM_EINVAL;
}

/* ---- combining series (normalize, aggregate) ---- */

static int64_t gcd64(int64_t a, int64_t b) {
  while (b) {
    int64_t r = a % b;
    a = b;
    b = r;
  }
  return a;
}

typedef enum agg { A_SUM, A_AVG, A_MAX, A_MIN, A_DIFF, A_MUL } agg;
static const char *const agg_names[] = {"sum", "average", "max", "min", "diff", "multiply"};

static double agg_row(agg f, const double *v, size_t n) {
  switch (f) {
  case A_SUM: return render_cf_apply(DM_CF_SUM, v, n);
  case A_AVG: return render_cf_apply(DM_CF_AVG, v, n);
  case A_MAX: return render_cf_apply(DM_CF_MAX, v, n);
  case A_MIN: return render_cf_apply(DM_CF_MIN, v, n);
  case A_DIFF: {
    double acc = NAN;
    int seen = 0;
    for (size_t i = 0; i < n; i++) {
      if (isnan(v[i])) continue;
      acc = seen ? acc - v[i] : v[i];
      seen = 1;
    }
    return acc;
  }
  case A_MUL: {
    double acc = 1;
    for (size_t i = 0; i < n; i++) {
      if (isnan(v[i])) return NAN;
      acc *= v[i];
    }
    return n ? acc : NAN;
  }
  }
  return NAN;
}

/* normalize(): consolidates every series of l to the lcm step; gives start, end, step. */
static void normalize(list *l, int64_t *start, int64_t *end, int64_t *step) {
  int64_t st = 1;
  for (size_t i = 0; i < l->n; i++) {
    int64_t q = st / gcd64(st, l->s[i]->step);
    /* steps come from the config; an lcm past a year means nonsense steps: keep the larger */
    if (q > (int64_t)365 * DM_DAY_SECONDS / l->s[i]->step) {
      if (l->s[i]->step > st) st = l->s[i]->step;
      continue;
    }
    st = q * l->s[i]->step;
  }
  int64_t lo = INT64_MAX, hi = INT64_MIN;
  for (size_t i = 0; i < l->n; i++) {
    dm_render_series *s = l->s[i];
    int64_t e = s->start + (int64_t)s->n * s->step; /* graphite keeps end when consolidating */
    render_consolidate(s, st % s->step == 0 ? (size_t)(st / s->step) : 1);
    if (s->start < lo) lo = s->start;
    if (e > hi) hi = e;
  }
  hi -= render_floor_mod(hi - lo, st);
  *start = lo;
  *end = hi;
  *step = st;
}

/* ','.join of the distinct pathExpressions, in order (formatPathExpressions). */
static char *path_exprs(const list *l) {
  dm_buf b;
  dm_buf_init(&b);
  for (size_t i = 0; i < l->n; i++) {
    int dup = 0;
    for (size_t j = 0; j < i && !dup; j++) dup = strcmp(l->s[i]->path_expr, l->s[j]->path_expr) == 0;
    if (dup) continue;
    if (b.len) dm_buf_add(&b, ",", 1);
    dm_buf_adds(&b, l->s[i]->path_expr);
  }
  dm_buf_add(&b, "", 1);
  if (b.oom) {
    dm_buf_free(&b);
    return NULL;
  }
  return b.p;
}

/* Rows zipped by index over l (already normalized), into one series [start, end). */
static dm_render_series *aggregate(ctx *c, const node *at, list *l, agg f, const char *name) {
  int64_t start, end, step;
  normalize(l, &start, &end, &step);
  size_t len = 0;
  for (size_t i = 0; i < l->n; i++)
    if (l->s[i]->n > len) len = l->s[i]->n;
  size_t lim = (size_t)((end - start) / step) + 1;
  if (len > lim) len = lim;
  dm_render_series *r = new_series(c, at, name, start, step, len);
  if (r == NULL) return NULL;
  double *row = malloc((l->n ? l->n : 1) * sizeof *row);
  if (row == NULL) {
    dm_render_series_free(r);
    oom(c, at);
    return NULL;
  }
  for (size_t k = 0; k < len; k++) {
    for (size_t i = 0; i < l->n; i++) row[i] = k < l->s[i]->n ? l->s[i]->v[k] : NAN;
    r->v[k] = agg_row(f, row, l->n);
  }
  free(row);
  int same = 1;
  for (size_t i = 1; i < l->n && same; i++) same = strcmp(l->s[i]->tag_name, l->s[0]->tag_name) == 0;
  if (same && l->n && render_set_str(&r->tag_name, l->s[0]->tag_name) < 0) {
    dm_render_series_free(r);
    oom(c, at);
    return NULL;
  }
  return r;
}

/* ---- the functions ---- */

typedef int (*fn_t)(ctx *c, const node *call, tctx t, list *out);

/* Evaluates arg 0 into out and lets the caller transform each series in place. */
#define FIRST_LIST()                                   \
  do {                                                 \
    int rc_ = arg_list(c, call, 0, "seriesList", t, out); \
    if (rc_ < 0) return rc_;                           \
  } while (0)

static int f_alias(ctx *c, const node *call, tctx t, list *out) {
  const char *name = NULL;
  size_t before = out->n;
  FIRST_LIST();
  if (need_str(c, call, 1, "newName", &name) < 0) return DM_EINVAL;
  for (size_t i = before; i < out->n; i++)
    if (render_set_str(&out->s[i]->name, name) < 0) return oom(c, call);
  return 0;
}

/* The first path expression inside a series name (graphite's _getFirstPathExpression). */
static char *first_path(const char *name) {
  size_t nl = strlen(name);
  if (nl == 0 || name[nl - 1] != ')') return strdup(name);
  const char *tg[1] = {name};
  size_t ln[1] = {strlen(name)};
  dm_render_ast *a;
  char e[8];
  if (dm_render_parse(&a, tg, ln, 1, e, 0) < 0 || a->npaths == 0) {
    if (dm_render_parse(&a, tg, ln, 0, e, 0) == 0) dm_render_ast_free(a);
    return strdup(name);
  }
  char *r = strdup(a->paths[0].pattern);
  dm_render_ast_free(a);
  return r;
}

/* A node index or count from a double argument, without undefined conversions. */
static long to_long(double v) {
  if (!(v > -1e9 && v < 1e9)) return 1000000000L; /* out of range of any name: "" */
  return (long)v;
}

static size_t to_count(double v) {
  if (!(v > 0)) return 0;
  return v >= 1e15 ? (size_t)1e15 : (size_t)v;
}

/* Node n of path (negative from the end), or "" when out of range; into b. */
static void node_of(dm_buf *b, const char *path, long n) {
  size_t len = strcspn(path, ";");
  long cnt = 1;
  for (size_t i = 0; i < len; i++) cnt += path[i] == '.';
  if (n < 0) n += cnt;
  if (n < 0 || n >= cnt) return;
  const char *p = path;
  for (long k = 0; k < n; k++) p = strchr(p, '.') + 1;
  size_t l = strcspn(p, ".;");
  dm_buf_add(b, p, l);
}

static int f_aliasByNode(ctx *c, const node *call, tctx t, list *out) {
  size_t before = out->n;
  FIRST_LIST();
  for (size_t i = before; i < out->n; i++) {
    char *fp = first_path(out->s[i]->name);
    if (fp == NULL) return oom(c, call);
    dm_buf b;
    dm_buf_init(&b);
    for (size_t k = 1; k < call->nargs; k++) {
      const node *a = posarg(call, k, NULL);
      if (a == NULL) break;
      if (a->kind != N_NUMBER) {
        free(fp);
        dm_buf_free(&b);
        return fail(c, DM_EINVAL, a, "aliasByNode: nodes must be numbers");
      }
      if (k > 1) dm_buf_add(&b, ".", 1);
      node_of(&b, fp, to_long(a->num));
    }
    dm_buf_add(&b, "", 1);
    free(fp);
    if (b.oom) return oom(c, call);
    free(out->s[i]->name);
    out->s[i]->name = b.p;
  }
  return 0;
}

static int f_aliasByMetric(ctx *c, const node *call, tctx t, list *out) {
  size_t before = out->n;
  FIRST_LIST();
  for (size_t i = before; i < out->n; i++) {
    /* substr(seriesList, -1): inside the innermost parentheses, the last node, cut at ',' */
    const char *nm = out->s[i]->name, *l = strrchr(nm, '('), *r0 = strchr(nm, ')');
    const char *lo = l ? l + 1 : nm, *hi = r0 ? r0 : nm + strlen(nm);
    if (hi < lo) hi = lo;
    const char *last = lo;
    for (const char *q = lo; q < hi; q++)
      if (*q == '.') last = q + 1;
    size_t len = (size_t)(hi - last), comma = strcspn(last, ",");
    char *r = strndup(last, comma < len ? comma : len);
    if (r == NULL) return oom(c, call);
    free(out->s[i]->name);
    out->s[i]->name = r;
  }
  return 0;
}

/* Python re syntax to POSIX ERE: \d \w \s and their negations. */
static char *py_to_ere(const char *s) {
  dm_buf b;
  dm_buf_init(&b);
  int in_class = 0;
  for (; *s; s++) {
    if (*s == '\\' && s[1]) {
      const char *r = NULL;
      switch (s[1]) {
      case 'd': r = in_class ? "0-9" : "[0-9]"; break;
      case 'w': r = in_class ? "A-Za-z0-9_" : "[A-Za-z0-9_]"; break;
      case 's': r = in_class ? "[:space:]" : "[[:space:]]"; break;
      case 'D': r = in_class ? NULL : "[^0-9]"; break;
      case 'W': r = in_class ? NULL : "[^A-Za-z0-9_]"; break;
      case 'S': r = in_class ? NULL : "[^[:space:]]"; break;
      }
      if (r) dm_buf_adds(&b, r);
      else dm_buf_add(&b, s, 2);
      s++;
      continue;
    }
    if (*s == '[' && !in_class) in_class = 1;
    else if (*s == ']' && in_class) in_class = 0;
    dm_buf_add(&b, s, 1);
  }
  dm_buf_add(&b, "", 1);
  if (b.oom) {
    dm_buf_free(&b);
    return NULL;
  }
  return b.p;
}

/* re.sub(re, repl, s): every match replaced; \N and \g<N> are groups. */
static char *regex_sub(const regex_t *re, const char *repl, const char *s) {
  dm_buf b;
  dm_buf_init(&b);
  regmatch_t m[10];
  const char *p = s;
  int flags = 0;
  while (regexec(re, p, 10, m, flags) == 0) {
    dm_buf_add(&b, p, (size_t)m[0].rm_so);
    for (const char *r = repl; *r; r++) {
      int g = -1;
      if (r[0] == '\\' && isdigit((unsigned char)r[1])) {
        g = r[1] - '0';
        r++;
      } else if (r[0] == '\\' && r[1] == 'g' && r[2] == '<' && isdigit((unsigned char)r[3]) &&
                 r[4] == '>') {
        g = r[3] - '0';
        r += 4;
      } else if (r[0] == '\\' && r[1] == '\\') {
        dm_buf_add(&b, r, 1);
        r++;
        continue;
      }
      if (g < 0) {
        dm_buf_add(&b, r, 1);
        continue;
      }
      if (g < 10 && m[g].rm_so >= 0)
        dm_buf_add(&b, p + m[g].rm_so, (size_t)(m[g].rm_eo - m[g].rm_so));
    }
    if (m[0].rm_eo == m[0].rm_so) {
      if (p[m[0].rm_eo] == '\0') {
        p += m[0].rm_eo;
        break;
      }
      dm_buf_add(&b, p + m[0].rm_eo, 1);
      p += m[0].rm_eo + 1;
    } else {
      p += m[0].rm_eo;
    }
    flags = REG_NOTBOL;
  }
  dm_buf_adds(&b, p);
  dm_buf_add(&b, "", 1);
  if (b.oom) {
    dm_buf_free(&b);
    return NULL;
  }
  return b.p;
}

static int f_aliasSub(ctx *c, const node *call, tctx t, list *out) {
  const char *search = NULL, *repl = NULL;
  size_t before = out->n;
  FIRST_LIST();
  if (need_str(c, call, 1, "search", &search) < 0 || need_str(c, call, 2, "replace", &repl) < 0)
    return DM_EINVAL;
  char *ere = py_to_ere(search);
  if (ere == NULL) return oom(c, call);
  regex_t re;
  int rc = regcomp(&re, ere, REG_EXTENDED);
  free(ere);
  if (rc != 0) return fail(c, DM_EINVAL, posarg(call, 1, "search"), "aliasSub: bad regex");
  for (size_t i = before; i < out->n; i++) {
    char *r = regex_sub(&re, repl, out->s[i]->name);
    if (r == NULL) {
      regfree(&re);
      return oom(c, call);
    }
    free(out->s[i]->name);
    out->s[i]->name = r;
  }
  regfree(&re);
  return 0;
}

static int f_constantLine(ctx *c, const node *call, tctx t, list *out) {
  (void)t;
  double v = 0;
  if (need_num(c, call, 0, "value", &v) < 0) return DM_EINVAL;
  const node *a = posarg(call, 0, "value");
  char txt[48];
  render_pystr(txt, sizeof txt, v, a->kind == N_NUMBER && a->is_int);
  int64_t from = c->req->from, until = c->req->until, step = (until - from) / 2;
  if (step < 1) step = 1;
  dm_render_series *s = new_series(c, call, txt, from, step, 3);
  if (s == NULL) return DM_ENOMEM;
  s->v[0] = s->v[1] = s->v[2] = v;
  if (rename_s(c, call, s, 1, "constantLine(%s)", txt) < 0 ||
      render_set_str(&s->name, txt) < 0) {
    dm_render_series_free(s);
    return oom(c, call);
  }
  return dm_render_list_add(out, s) < 0 ? oom(c, call) : 0;
}

static int f_consolidateBy(ctx *c, const node *call, tctx t, list *out) {
  const char *fn = NULL;
  size_t before = out->n;
  FIRST_LIST();
  if (need_str(c, call, 1, "consolidationFunc", &fn) < 0) return DM_EINVAL;
  dm_render_cf cf;
  if (parse_cf(fn, &cf) < 0)
    return fail(c, DM_EINVAL, posarg(call, 1, "consolidationFunc"),
                "consolidateBy: unknown function \"%s\" (average, sum, min, max, first, last)", fn);
  for (size_t i = before; i < out->n; i++) {
    out->s[i]->cf = cf;
    if (rename_s(c, call, out->s[i], 0, "consolidateBy(%s,\"%s\")", out->s[i]->name, fn) < 0)
      return DM_ENOMEM;
  }
  return 0;
}

/* Evaluates every positional argument as series lists, concatenated into l. */
static int all_lists(ctx *c, const node *call, tctx t, list *l) {
  for (size_t i = 0; i < call->nargs; i++) {
    const node *a = call->args[i];
    if (a->kw != NULL) continue;
    if (a->kind != N_PATH && a->kind != N_CALL)
      return fail(c, DM_EINVAL, a, "%s: arguments must be series lists", call->text);
    int rc = eval(c, a, t, l);
    if (rc < 0) return rc;
  }
  return 0;
}

static int aggregate_fn(ctx *c, const node *call, tctx t, list *out, agg f) {
  list l = {0};
  int rc = all_lists(c, call, t, &l);
  if (rc < 0 || l.n == 0) goto done;
  char *pe = path_exprs(&l), *name = NULL;
  if (pe == NULL || asprintf(&name, "%sSeries(%s)", agg_names[f], pe) < 0) {
    free(pe);
    rc = oom(c, call);
    goto done;
  }
  free(pe);
  dm_render_series *r = aggregate(c, call, &l, f, name);
  free(name);
  if (r == NULL) {
    rc = c->failed ? DM_ERANGE : oom(c, call);
    goto done;
  }
  rc = dm_render_list_add(out, r) < 0 ? oom(c, call) : 0;
done:
  dm_render_list_free(&l);
  return rc;
}

static int f_sumSeries(ctx *c, const node *n, tctx t, list *o) { return aggregate_fn(c, n, t, o, A_SUM); }
static int f_averageSeries(ctx *c, const node *n, tctx t, list *o) { return aggregate_fn(c, n, t, o, A_AVG); }
static int f_maxSeries(ctx *c, const node *n, tctx t, list *o) { return aggregate_fn(c, n, t, o, A_MAX); }
static int f_minSeries(ctx *c, const node *n, tctx t, list *o) { return aggregate_fn(c, n, t, o, A_MIN); }
static int f_diffSeries(ctx *c, const node *n, tctx t, list *o) { return aggregate_fn(c, n, t, o, A_DIFF); }
static int f_multiplySeries(ctx *c, const node *n, tctx t, list *o) { return aggregate_fn(c, n, t, o, A_MUL); }

static int f_divideSeries(ctx *c, const node *call, tctx t, list *out) {
  list num = {0}, den = {0};
  int rc = arg_list(c, call, 0, "dividendSeriesList", t, &num);
  if (rc == 0) rc = arg_list(c, call, 1, "divisorSeries", t, &den);
  if (rc < 0) goto done;
  if (den.n > 1) {
    rc = fail(c, DM_EINVAL, posarg(call, 1, "divisorSeries"),
              "divideSeries second argument must reference exactly 1 series (got %zu)", den.n);
    goto done;
  }
  for (size_t i = 0; i < num.n; i++) {
    dm_render_series *a = num.s[i], *r;
    if (den.n == 0) {
      r = new_series(c, call, a->name, a->start, a->step, a->n);
      if (r == NULL || render_set_str(&r->tag_name, a->tag_name) < 0 ||
          rename_s(c, call, r, 1, "divideSeries(%s,MISSING)", a->name) < 0) {
        dm_render_series_free(r);
        rc = c->failed ? DM_ERANGE : DM_ENOMEM;
        goto done;
      }
    } else {
      dm_render_series *d = render_series_copy(den.s[0]);
      list two = {0};
      if (d == NULL || dm_render_list_add(&two, render_series_copy(a)) < 0 ||
          dm_render_list_add(&two, d) < 0) {
        dm_render_list_free(&two);
        rc = oom(c, call);
        goto done;
      }
      int64_t start, end, step;
      normalize(&two, &start, &end, &step);
      size_t len = two.s[0]->n > two.s[1]->n ? two.s[0]->n : two.s[1]->n;
      size_t lim = (size_t)((end - start) / step) + 1;
      if (len > lim) len = lim;
      r = new_series(c, call, a->name, start, step, len);
      if (r == NULL) {
        dm_render_list_free(&two);
        rc = c->failed ? DM_ERANGE : DM_ENOMEM;
        goto done;
      }
      for (size_t k = 0; k < len; k++) {
        double x = k < two.s[0]->n ? two.s[0]->v[k] : NAN;
        double y = k < two.s[1]->n ? two.s[1]->v[k] : NAN;
        r->v[k] = (isnan(x) || isnan(y) || y == 0) ? NAN : x / y;
      }
      dm_render_list_free(&two);
      if (rename_s(c, call, r, 1, "divideSeries(%s,%s)", a->name, den.s[0]->name) < 0 ||
          render_set_str(&r->tag_name, r->name) < 0) {
        dm_render_series_free(r);
        rc = DM_ENOMEM;
        goto done;
      }
    }
    if (dm_render_list_add(out, r) < 0) {
      rc = oom(c, call);
      goto done;
    }
  }
done:
  dm_render_list_free(&num);
  dm_render_list_free(&den);
  return rc;
}

static int f_scale(ctx *c, const node *call, tctx t, list *out) {
  double f = 0;
  size_t before = out->n;
  FIRST_LIST();
  if (need_num(c, call, 1, "factor", &f) < 0) return DM_EINVAL;
  for (size_t i = before; i < out->n; i++) {
    dm_render_series *s = out->s[i];
    for (size_t k = 0; k < s->n; k++) s->v[k] *= f;
    if (rename_s(c, call, s, 1, "scale(%s,%g)", s->name, f) < 0) return DM_ENOMEM;
  }
  return 0;
}

static int f_offset(ctx *c, const node *call, tctx t, list *out) {
  double f = 0;
  size_t before = out->n;
  FIRST_LIST();
  if (need_num(c, call, 1, "factor", &f) < 0) return DM_EINVAL;
  for (size_t i = before; i < out->n; i++) {
    dm_render_series *s = out->s[i];
    for (size_t k = 0; k < s->n; k++) s->v[k] += f;
    if (rename_s(c, call, s, 1, "offset(%s,%g)", s->name, f) < 0) return DM_ENOMEM;
  }
  return 0;
}

static int f_absolute(ctx *c, const node *call, tctx t, list *out) {
  size_t before = out->n;
  FIRST_LIST();
  for (size_t i = before; i < out->n; i++) {
    dm_render_series *s = out->s[i];
    for (size_t k = 0; k < s->n; k++) s->v[k] = fabs(s->v[k]);
    if (rename_s(c, call, s, 1, "absolute(%s)", s->name) < 0) return DM_ENOMEM;
  }
  return 0;
}

static int f_derivative(ctx *c, const node *call, tctx t, list *out) {
  size_t before = out->n;
  FIRST_LIST();
  for (size_t i = before; i < out->n; i++) {
    dm_render_series *s = out->s[i];
    double prev = NAN;
    for (size_t k = 0; k < s->n; k++) {
      double v = s->v[k];
      s->v[k] = (isnan(prev) || isnan(v)) ? NAN : v - prev;
      prev = v;
    }
    if (rename_s(c, call, s, 1, "derivative(%s)", s->name) < 0) return DM_ENOMEM;
  }
  return 0;
}

/* graphite-web's _nonNegativeDelta; has_max/has_min for None. */
static double nn_delta(double v, double *prev, int has_max, double maxv, int has_min,
                       double minv) {
  if ((has_max && v > maxv) || (has_min && v < minv) || isnan(v)) {
    *prev = NAN;
    return NAN;
  }
  double p = *prev;
  *prev = v;
  if (isnan(p)) return NAN;
  if (v >= p) return v - p;
  if (has_max) return maxv + 1 + v - p - (has_min ? minv : 0);
  if (has_min) return v - minv;
  return NAN;
}

static int nn_common(ctx *c, const node *call, tctx t, list *out, int per_second) {
  double maxv = NAN, minv = NAN;
  size_t before = out->n;
  FIRST_LIST();
  int hmax = arg_num(c, call, 1, "maxValue", &maxv);
  int hmin = arg_num(c, call, 2, "minValue", &minv);
  if (hmax < 0 || hmin < 0) return DM_EINVAL;
  for (size_t i = before; i < out->n; i++) {
    dm_render_series *s = out->s[i];
    double prev = NAN;
    for (size_t k = 0; k < s->n; k++) {
      double d = nn_delta(s->v[k], &prev, hmax, maxv, hmin, minv);
      s->v[k] = per_second ? round(d / (double)s->step * 1e6) / 1e6 : d;
    }
    if (rename_s(c, call, s, 1, per_second ? "perSecond(%s)" : "nonNegativeDerivative(%s)",
                 s->name) < 0)
      return DM_ENOMEM;
  }
  return 0;
}

static int f_nonNegativeDerivative(ctx *c, const node *n, tctx t, list *o) { return nn_common(c, n, t, o, 0); }
static int f_perSecond(ctx *c, const node *n, tctx t, list *o) { return nn_common(c, n, t, o, 1); }

static int f_integral(ctx *c, const node *call, tctx t, list *out) {
  size_t before = out->n;
  FIRST_LIST();
  for (size_t i = before; i < out->n; i++) {
    dm_render_series *s = out->s[i];
    double acc = 0;
    for (size_t k = 0; k < s->n; k++)
      if (!isnan(s->v[k])) s->v[k] = acc += s->v[k];
    if (rename_s(c, call, s, 1, "integral(%s)", s->name) < 0) return DM_ENOMEM;
  }
  return 0;
}

/* movingAverage: value i is the average of the non-null values among the windowPoints
 * values BEFORE it (graphite-web's series[i - windowPoints:i]), over the previewed fetch;
 * the result starts preview later, back at the request's range. */
static int f_movingAverage(ctx *c, const node *call, tctx t, list *out) {
  const node *w = posarg(call, 1, "windowSize");
  tctx tp = t;
  if (w == NULL || preview_of(call, &tp) < 0)
    return fail(c, DM_EINVAL, w ? w : call,
                "movingAverage: windowSize must be a number of points or a time (\"5min\")");
  double xff = 0;
  if (arg_num(c, call, 2, "xFilesFactor", &xff) < 0) return DM_EINVAL;
  size_t before = out->n;
  int rc = arg_list(c, call, 0, "seriesList", tp, out);
  if (rc < 0) return rc;
  for (size_t i = before; i < out->n; i++) {
    dm_render_series *s = out->s[i];
    size_t wp = w->kind == N_NUMBER ? (size_t)w->num : (size_t)((tp.preview - t.preview) / s->step);
    int64_t pre = w->kind == N_NUMBER ? (int64_t)wp * s->step : tp.preview - t.preview;
    size_t m = s->n > wp ? s->n - wp : 0;
    double *nv = malloc((m ? m : 1) * sizeof *nv);
    if (nv == NULL) return oom(c, call);
    for (size_t k = 0; k < m; k++) {
      double sum = 0;
      size_t cnt = 0;
      for (size_t j = k; j < k + wp; j++)
        if (!isnan(s->v[j])) sum += s->v[j], cnt++;
      nv[k] = (cnt > 0 && (double)cnt / (double)wp >= xff) ? sum / (double)cnt : NAN;
    }
    free(s->v);
    s->v = nv;
    s->n = m;
    s->start += pre;
    rc = w->kind == N_NUMBER ? rename_s(c, call, s, 1, "movingAverage(%s,%s)", s->name, w->text)
                             : rename_s(c, call, s, 1, "movingAverage(%s,\"%s\")", s->name, w->text);
    if (rc < 0) return rc;
  }
  return 0;
}

static int f_summarize(ctx *c, const node *call, tctx t, list *out) {
  const char *istr = NULL, *fn = "sum";
  int align = 0;
  size_t before = out->n;
  FIRST_LIST();
  if (need_str(c, call, 1, "intervalString", &istr) < 0 || arg_str(c, call, 2, "func", &fn) < 0 ||
      arg_bool(c, call, 3, "alignToFrom", &align) < 0)
    return DM_EINVAL;
  int64_t iv;
  dm_render_cf cf;
  if (parse_offset(istr, &iv) < 0 || iv <= 0)
    return fail(c, DM_EINVAL, posarg(call, 1, "intervalString"), "summarize: bad interval \"%s\"", istr);
  if (parse_cf(fn, &cf) < 0)
    return fail(c, DM_EINVAL, posarg(call, 2, "func"), "summarize: unknown function \"%s\"", fn);
  for (size_t i = before; i < out->n; i++) {
    dm_render_series *s = out->s[i];
    int64_t end = s->start + (int64_t)s->n * s->step;
    int64_t ns = align ? s->start : s->start - render_floor_mod(s->start, iv);
    int64_t ne = align ? end : end - render_floor_mod(end, iv) + iv;
    size_t m = ne > ns ? (size_t)((ne - ns + iv - 1) / iv) : 0;
    if (budget(c, call, m) < 0) return DM_ERANGE;
    double *nv = malloc((m ? m : 1) * sizeof *nv);
    double *bucket = malloc((s->n ? s->n : 1) * sizeof *bucket);
    if (nv == NULL || bucket == NULL) {
      free(nv);
      free(bucket);
      return oom(c, call);
    }
    /* bucket j holds the values whose time maps to ns + j*iv (aligned) or j (alignToFrom) */
    size_t k = 0;
    for (size_t j = 0; j < m; j++) {
      int64_t bt = ns + (int64_t)j * iv;
      size_t cnt = 0;
      for (; k < s->n; k++) {
        int64_t ts = s->start + (int64_t)k * s->step;
        int64_t key = align ? (ts - s->start) / iv : ts - render_floor_mod(ts, iv);
        int64_t want = align ? (int64_t)j : bt;
        if (key != want) break;
        bucket[cnt++] = s->v[k];
      }
      nv[j] = render_cf_apply(cf, bucket, cnt);
    }
    free(bucket);
    free(s->v);
    s->v = nv;
    s->n = m;
    s->start = ns;
    s->step = iv;
    if (rename_s(c, call, s, 1, "summarize(%s, \"%s\", \"%s\"%s)", s->name, istr, fn,
                 align ? ", true" : "") < 0)
      return DM_ENOMEM;
  }
  return 0;
}

/* hitcount: each value is a rate per second over its step; its hits (value * seconds) are
 * spread over the interval buckets its [t, t + step) overlaps. Buckets end at the series' end. */
static int f_hitcount(ctx *c, const node *call, tctx t, list *out) {
  const char *istr = NULL;
  int align = 0;
  size_t before = out->n;
  FIRST_LIST();
  if (need_str(c, call, 1, "intervalString", &istr) < 0 ||
      arg_bool(c, call, 2, "alignToInterval", &align) < 0)
    return DM_EINVAL;
  int64_t iv;
  if (parse_offset(istr, &iv) < 0 || iv <= 0)
    return fail(c, DM_EINVAL, posarg(call, 1, "intervalString"), "hitcount: bad interval \"%s\"", istr);
  if (align)
    return fail(c, DM_EINVAL, posarg(call, 2, "alignToInterval"),
                "hitcount: alignToInterval is not supported");
  for (size_t i = before; i < out->n; i++) {
    dm_render_series *s = out->s[i];
    int64_t end = s->start + (int64_t)s->n * s->step;
    size_t nb = (size_t)((end - s->start + iv - 1) / iv);
    int64_t ns = end - (int64_t)nb * iv;
    if (budget(c, call, nb) < 0) return DM_ERANGE;
    double *b = malloc((nb ? nb : 1) * sizeof *b);
    unsigned char *seen = calloc(nb ? nb : 1, 1);
    if (b == NULL || seen == NULL) {
      free(b);
      free(seen);
      return oom(c, call);
    }
    for (size_t j = 0; j < nb; j++) b[j] = 0;
#define HIT(j, x) (b[j] += (x), seen[j] = 1)
    for (size_t k = 0; k < s->n; k++) {
      double v = s->v[k];
      if (isnan(v)) continue;
      int64_t st = s->start + (int64_t)k * s->step, et = st + s->step;
      int64_t sb = (st - ns) / iv, sm = (st - ns) % iv, eb = (et - ns) / iv, em = (et - ns) % iv;
      if (eb >= (int64_t)nb) {
        eb = (int64_t)nb - 1;
        em = iv;
      }
      if (sb == eb) {
        if (sb >= 0) HIT(sb, v * (double)(em - sm));
      } else {
        if (sb >= 0) HIT(sb, v * (double)(iv - sm));
        for (int64_t j = sb + 1; j < eb; j++) HIT(j, v * (double)iv);
        if (em > 0) HIT(eb, v * (double)em);
      }
    }
#undef HIT
    for (size_t j = 0; j < nb; j++)
      if (!seen[j]) b[j] = NAN;
    free(seen);
    free(s->v);
    s->v = b;
    s->n = nb;
    s->start = ns;
    s->step = iv;
    if (rename_s(c, call, s, 1, "hitcount(%s, \"%s\")", s->name, istr) < 0) return DM_ENOMEM;
  }
  return 0;
}

/* ---- selection and ordering ---- */

static double key_current(const dm_render_series *s) {
  for (size_t k = s->n; k-- > 0;)
    if (!isnan(s->v[k])) return s->v[k];
  return -INFINITY;
}

static double key_max(const dm_render_series *s) {
  double m = render_cf_apply(DM_CF_MAX, s->v, s->n);
  return isnan(m) ? -INFINITY : m;
}

/* Keeps the n series of out[before..] with the highest (dir = -1) or lowest (dir = 1) key,
 * stable among equals (Python's sorted). */
static int select_by(ctx *c, const node *call, tctx t, list *out, double (*key)(const dm_render_series *),
                     int dir) {
  double nd = 1;
  size_t before = out->n;
  FIRST_LIST();
  if (arg_num(c, call, 1, "n", &nd) < 0) return DM_EINVAL;
  size_t cnt = out->n - before, keep = to_count(nd);
  dm_render_series **s = out->s + before;
  for (size_t i = 1; i < cnt; i++) { /* insertion sort: stable, lists are short */
    dm_render_series *x = s[i];
    double kx = key(x);
    size_t j = i;
    while (j > 0 && (dir < 0 ? key(s[j - 1]) < kx : key(s[j - 1]) > kx)) {
      s[j] = s[j - 1];
      j--;
    }
    s[j] = x;
  }
  while (out->n > before + keep) dm_render_series_free(out->s[--out->n]);
  return 0;
}

static int f_highestCurrent(ctx *c, const node *n, tctx t, list *o) { return select_by(c, n, t, o, key_current, -1); }
static int f_highestMax(ctx *c, const node *n, tctx t, list *o) { return select_by(c, n, t, o, key_max, -1); }
static int f_lowestCurrent(ctx *c, const node *n, tctx t, list *o) { return select_by(c, n, t, o, key_current, 1); }

static int f_limit(ctx *c, const node *call, tctx t, list *out) {
  double nd = 0;
  size_t before = out->n;
  FIRST_LIST();
  if (need_num(c, call, 1, "n", &nd) < 0) return DM_EINVAL;
  size_t keep = to_count(nd);
  while (out->n > before + keep) dm_render_series_free(out->s[--out->n]);
  return 0;
}

/* Natural order: runs of digits compare as numbers. */
static int natcmp(const char *a, const char *b) {
  while (*a && *b) {
    if (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
      char *ea, *eb;
      unsigned long long x = strtoull(a, &ea, 10), y = strtoull(b, &eb, 10);
      if (x != y) return x < y ? -1 : 1;
      a = ea;
      b = eb;
      continue;
    }
    if (*a != *b) return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
    a++, b++;
  }
  return *a ? 1 : *b ? -1 : 0;
}

static int f_sortByName(ctx *c, const node *call, tctx t, list *out) {
  int natural = 0, reverse = 0;
  size_t before = out->n;
  FIRST_LIST();
  if (arg_bool(c, call, 1, "natural", &natural) < 0 || arg_bool(c, call, 2, "reverse", &reverse) < 0)
    return DM_EINVAL;
  dm_render_series **s = out->s + before;
  size_t cnt = out->n - before;
  for (size_t i = 1; i < cnt; i++) {
    dm_render_series *x = s[i];
    size_t j = i;
    for (; j > 0; j--) {
      int r = natural ? natcmp(s[j - 1]->name, x->name) : strcmp(s[j - 1]->name, x->name);
      if (reverse ? r >= 0 : r <= 0) break;
      s[j] = s[j - 1];
    }
    s[j] = x;
  }
  return 0;
}

static int f_groupByNode(ctx *c, const node *call, tctx t, list *out) {
  double nd = 0;
  const char *cb = "average";
  list in = {0};
  int rc = arg_list(c, call, 0, "seriesList", t, &in);
  if (rc < 0) goto done;
  if (need_num(c, call, 1, "nodeNum", &nd) < 0 || arg_str(c, call, 2, "callback", &cb) < 0) {
    rc = DM_EINVAL;
    goto done;
  }
  static const struct { const char *n; agg f; } cbs[] = {
      {"sum", A_SUM}, {"sumSeries", A_SUM}, {"average", A_AVG}, {"avg", A_AVG},
      {"averageSeries", A_AVG}, {"max", A_MAX}, {"maxSeries", A_MAX}, {"min", A_MIN},
      {"minSeries", A_MIN}, {"diff", A_DIFF}, {"diffSeries", A_DIFF}, {"multiply", A_MUL},
      {"multiplySeries", A_MUL},
  };
  int f = -1;
  for (size_t i = 0; i < sizeof cbs / sizeof cbs[0]; i++)
    if (strcmp(cb, cbs[i].n) == 0) f = (int)cbs[i].f;
  if (f < 0) {
    rc = fail(c, DM_EINVAL, posarg(call, 2, "callback"), "groupByNode: unknown callback \"%s\"", cb);
    goto done;
  }
  char **keys = calloc(in.n ? in.n : 1, sizeof *keys);
  if (keys == NULL) {
    rc = oom(c, call);
    goto done;
  }
  for (size_t i = 0; i < in.n && rc == 0; i++) {
    dm_buf b;
    dm_buf_init(&b);
    char *fp = first_path(in.s[i]->name);
    if (fp == NULL) {
      rc = oom(c, call);
      break;
    }
    node_of(&b, fp, to_long(nd));
    free(fp);
    dm_buf_add(&b, "", 1);
    if (b.oom) rc = oom(c, call);
    keys[i] = b.p;
  }
  for (size_t i = 0; i < in.n && rc == 0; i++) {
    if (in.s[i] == NULL) continue;
    list g = {0};
    for (size_t j = i; j < in.n && rc == 0; j++) {
      if (in.s[j] == NULL || strcmp(keys[i], keys[j]) != 0) continue;
      if (dm_render_list_add(&g, in.s[j]) < 0) rc = oom(c, call);
      in.s[j] = NULL;
    }
    if (rc == 0) {
      char *pe = path_exprs(&g), *name = NULL;
      if (pe == NULL || asprintf(&name, "%sSeries(%s)", agg_names[f], pe) < 0) name = NULL;
      free(pe);
      dm_render_series *r = name ? aggregate(c, call, &g, (agg)f, name) : NULL;
      free(name);
      if (r == NULL || render_set_str(&r->name, keys[i]) < 0) {
        dm_render_series_free(r);
        rc = c->failed ? DM_ERANGE : oom(c, call);
      } else if (dm_render_list_add(out, r) < 0) {
        rc = oom(c, call);
      }
    }
    dm_render_list_free(&g);
  }
  for (size_t i = 0; i < in.n; i++) free(keys[i]);
  free(keys);
done:
  dm_render_list_free(&in);
  return rc;
}

static int f_keepLastValue(ctx *c, const node *call, tctx t, list *out) {
  double lim = INFINITY;
  size_t before = out->n;
  FIRST_LIST();
  if (arg_num(c, call, 1, "limit", &lim) < 0) return DM_EINVAL;
  for (size_t i = before; i < out->n; i++) {
    dm_render_series *s = out->s[i];
    size_t gap = 0;
    for (size_t k = 1; k < s->n; k++) {
      if (isnan(s->v[k])) {
        gap++;
        continue;
      }
      if (gap > 0 && (double)gap <= lim)
        for (size_t j = k - gap; j < k; j++) s->v[j] = s->v[k - gap - 1];
      gap = 0;
    }
    if (gap > 0 && (double)gap <= lim)
      for (size_t j = s->n - gap; j < s->n; j++) s->v[j] = s->v[s->n - gap - 1];
    if (rename_s(c, call, s, 1, "keepLastValue(%s)", s->name) < 0) return DM_ENOMEM;
  }
  return 0;
}

static int f_transformNull(ctx *c, const node *call, tctx t, list *out) {
  double d = 0;
  size_t before = out->n;
  FIRST_LIST();
  if (arg_num(c, call, 1, "default", &d) < 0) return DM_EINVAL;
  if (posarg(call, 2, "referenceSeries") != NULL)
    return fail(c, DM_EINVAL, posarg(call, 2, "referenceSeries"),
                "transformNull: referenceSeries is not supported");
  for (size_t i = before; i < out->n; i++) {
    dm_render_series *s = out->s[i];
    for (size_t k = 0; k < s->n; k++)
      if (isnan(s->v[k])) s->v[k] = d;
    if (rename_s(c, call, s, 1, "transformNull(%s,%g)", s->name, d) < 0) return DM_ENOMEM;
  }
  return 0;
}

static int f_timeShift(ctx *c, const node *call, tctx t, list *out) {
  const char *str = NULL;
  int reset = 1;
  if (need_str(c, call, 1, "timeShift", &str) < 0 || arg_bool(c, call, 2, "resetEnd", &reset) < 0)
    return DM_EINVAL;
  int64_t delta;
  if (shift_of(posarg(call, 1, "timeShift"), &delta) < 0)
    return fail(c, DM_EINVAL, posarg(call, 1, "timeShift"), "timeShift: bad offset \"%s\"", str);
  list base = {0};
  int rc = arg_list(c, call, 0, "seriesList", t, &base);
  if (rc < 0 || base.n == 0) goto done;
  tctx ts = t;
  ts.shift -= delta;
  size_t before = out->n;
  rc = arg_list(c, call, 0, "seriesList", ts, out);
  if (rc < 0) goto done;
  int64_t s0 = base.s[0]->start, e0 = s0 + (int64_t)base.s[0]->n * base.s[0]->step;
  for (size_t i = before; i < out->n; i++) {
    dm_render_series *s = out->s[i];
    int64_t end = reset ? e0 : s0 + (int64_t)s->n * s->step;
    s->start = s0;
    int64_t lim = end >= s0 ? (end - s0) / s->step + 1 : 0;
    if ((int64_t)s->n > lim) s->n = (size_t)lim;
    rc = rename_s(c, call, s, 1, "timeShift(%s, \"%s%s\")", s->name,
                  isdigit((unsigned char)str[0]) ? "-" : "", str);
    if (rc < 0) goto done;
  }
done:
  dm_render_list_free(&base);
  return rc;
}

static void sort_by_name(dm_render_series **s, size_t n) {
  for (size_t i = 1; i < n; i++) {
    dm_render_series *x = s[i];
    size_t j = i;
    for (; j > 0 && strcmp(s[j - 1]->name, x->name) > 0; j--) s[j] = s[j - 1];
    s[j] = x;
  }
}

/* asPercent(list, totals) with as many totals as series: paired in name order. */
static int percent_pairs(ctx *c, const node *call, list *l, list *tot, list *out) {
  sort_by_name(l->s, l->n);
  sort_by_name(tot->s, tot->n);
  for (size_t i = 0; i < l->n; i++) {
    list two = {0};
    dm_render_series *a = render_series_copy(l->s[i]), *b = render_series_copy(tot->s[i]);
    if (dm_render_list_add(&two, a) < 0 || dm_render_list_add(&two, b) < 0) {
      dm_render_list_free(&two);
      return oom(c, call);
    }
    int64_t start, end, step;
    normalize(&two, &start, &end, &step);
    size_t len = a->n > b->n ? a->n : b->n;
    dm_render_series *r = new_series(c, call, a->name, start, step, len);
    if (r == NULL) {
      dm_render_list_free(&two);
      return c->failed ? DM_ERANGE : oom(c, call);
    }
    for (size_t k = 0; k < len; k++) {
      double x = k < a->n ? a->v[k] : NAN, y = k < b->n ? b->v[k] : NAN;
      r->v[k] = (isnan(x) || isnan(y) || y == 0) ? NAN : x / y * 100.0;
    }
    int rc = rename_s(c, call, r, 1, "asPercent(%s,%s)", a->name, b->name);
    dm_render_list_free(&two);
    if (rc < 0 || render_set_str(&r->tag_name, r->name) < 0 || dm_render_list_add(out, r) < 0) {
      if (rc < 0) dm_render_series_free(r);
      return oom(c, call);
    }
  }
  return 0;
}

static int f_asPercent(ctx *c, const node *call, tctx t, list *out) {
  list l = {0}, tot = {0};
  char *total_text = NULL;
  double *tv = NULL;
  int rc = arg_list(c, call, 0, "seriesList", t, &l);
  if (rc < 0 || l.n == 0) goto done;
  const node *ta = posarg(call, 1, "total");
  int64_t start, end, step;
  if (ta == NULL || ta->kind == N_PATH || ta->kind == N_CALL) {
    if (ta != NULL) {
      rc = eval(c, ta, t, &tot);
      if (rc < 0) goto done;
      if (tot.n > 1 && tot.n == l.n) {
        rc = percent_pairs(c, call, &l, &tot, out);
        goto done;
      }
      if (tot.n != 1) {
        rc = fail(c, DM_EINVAL, ta, "asPercent second argument must be missing, a single digit, "
                  "reference exactly 1 series or reference the same number of series as the "
                  "first argument");
        goto done;
      }
      if ((rc = dm_render_list_add(&l, tot.s[0])) < 0) {
        tot.n = 0;
        rc = oom(c, call);
        goto done;
      }
      tot.n = 0;
      normalize(&l, &start, &end, &step);
      dm_render_series *ts = l.s[--l.n];
      tv = ts->v;
      ts->v = NULL;
      size_t tn = ts->n;
      total_text = strdup(ts->name);
      dm_render_series_free(ts);
      /* pad the total to the longest series with nulls */
      size_t len = tn;
      for (size_t i = 0; i < l.n; i++) if (l.s[i]->n > len) len = l.s[i]->n;
      double *p = realloc(tv, (len ? len : 1) * sizeof *p);
      if (p == NULL) { rc = oom(c, call); goto done; }
      tv = p;
      for (size_t k = tn; k < len; k++) tv[k] = NAN;
    } else {
      normalize(&l, &start, &end, &step);
      char *pe = path_exprs(&l);
      if (pe == NULL || asprintf(&total_text, "sumSeries(%s)", pe) < 0) total_text = NULL;
      free(pe);
      size_t len = 0;
      for (size_t i = 0; i < l.n; i++) if (l.s[i]->n > len) len = l.s[i]->n;
      tv = malloc((len ? len : 1) * sizeof *tv);
      double *row = malloc(l.n * sizeof *row);
      if (tv != NULL && row != NULL)
        for (size_t k = 0; k < len; k++) {
          for (size_t i = 0; i < l.n; i++) row[i] = k < l.s[i]->n ? l.s[i]->v[k] : NAN;
          tv[k] = render_cf_apply(DM_CF_SUM, row, l.n);
        }
      free(row);
      if (tv == NULL) { rc = oom(c, call); goto done; }
    }
  } else if (ta->kind == N_NUMBER) {
    normalize(&l, &start, &end, &step);
    char txt[48];
    render_pystr(txt, sizeof txt, ta->num, ta->is_int);
    total_text = strdup(txt);
    size_t len = 0;
    for (size_t i = 0; i < l.n; i++) if (l.s[i]->n > len) len = l.s[i]->n;
    tv = malloc((len ? len : 1) * sizeof *tv);
    if (tv != NULL) for (size_t k = 0; k < len; k++) tv[k] = ta->num;
  } else {
    rc = fail(c, DM_EINVAL, ta, "asPercent: total must be a number or a series");
    goto done;
  }
  if (total_text == NULL || tv == NULL) { rc = oom(c, call); goto done; }
  for (size_t i = 0; i < l.n; i++) {
    dm_render_series *s = l.s[i];
    for (size_t k = 0; k < s->n; k++)
      s->v[k] = (isnan(s->v[k]) || isnan(tv[k]) || tv[k] == 0) ? NAN : s->v[k] / tv[k] * 100.0;
    if ((rc = rename_s(c, call, s, 1, "asPercent(%s,%s)", s->name, total_text)) < 0) goto done;
    if (render_set_str(&s->tag_name, s->name) < 0) {
      rc = oom(c, call);
      goto done;
    }
  }
  for (size_t i = 0; i < l.n; i++) {
    if ((rc = dm_render_list_add(out, l.s[i])) < 0) {
      l.s[i] = NULL;
      rc = oom(c, call);
      for (size_t j = i + 1; j < l.n; j++) dm_render_series_free(l.s[j]);
      l.n = 0;
      goto done;
    }
  }
  l.n = 0;
done:
  free(total_text);
  free(tv);
  dm_render_list_free(&l);
  dm_render_list_free(&tot);
  return rc;
}

static int remove_common(ctx *c, const node *call, tctx t, list *out, int above) {
  double n = 0;
  size_t before = out->n;
  FIRST_LIST();
  if (need_num(c, call, 1, "n", &n) < 0) return DM_EINVAL;
  for (size_t i = before; i < out->n; i++) {
    dm_render_series *s = out->s[i];
    for (size_t k = 0; k < s->n; k++)
      if (above ? s->v[k] > n : s->v[k] < n) s->v[k] = NAN;
    if (rename_s(c, call, s, 1, above ? "removeAboveValue(%s, %g)" : "removeBelowValue(%s, %g)",
                 s->name, n) < 0)
      return DM_ENOMEM;
  }
  return 0;
}

static int f_removeBelowValue(ctx *c, const node *n, tctx t, list *o) { return remove_common(c, n, t, o, 0); }
static int f_removeAboveValue(ctx *c, const node *n, tctx t, list *o) { return remove_common(c, n, t, o, 1); }

static const struct {
  const char *name;
  fn_t fn;
} functions[] = {
#define F(x) {#x, f_##x}
    F(alias),         F(aliasByNode),     F(aliasByMetric),  F(aliasSub),
    F(constantLine),  F(consolidateBy),   F(sumSeries),      F(averageSeries),
    F(maxSeries),     F(minSeries),       F(diffSeries),     F(divideSeries),
    F(multiplySeries), F(scale),          F(offset),         F(absolute),
    F(derivative),    F(nonNegativeDerivative), F(perSecond), F(integral),
    F(movingAverage), F(summarize), F(hitcount),       F(highestCurrent), F(highestMax),
    F(lowestCurrent), F(limit),           F(sortByName),     F(groupByNode),
    F(keepLastValue), F(transformNull),   F(timeShift),      F(asPercent),
    F(removeBelowValue), F(removeAboveValue),
    {"sum", f_sumSeries}, {"avg", f_averageSeries}, {"pct", f_asPercent},
#undef F
};

static int eval(ctx *c, const node *n, tctx t, list *out) {
  if (n->kind == N_PATH) return eval_path(c, n, t, out);
  if (n->kind != N_CALL) return fail(c, DM_EINVAL, n, "expected a series list");
  for (size_t i = 0; i < sizeof functions / sizeof functions[0]; i++)
    if (strcmp(functions[i].name, n->text) == 0) {
      int rc = functions[i].fn(c, n, t, out);
      if (rc < 0 && !c->failed) fail(c, rc, n, "%s failed", n->text);
      return rc;
    }
  return fail(c, DM_EINVAL, n, "unknown function %s", n->text);
}

int dm_render_eval(const dm_render_ast *a, const dm_render_req *req, dm_render_fetch_fn fetch,
                   void *arg, dm_render_list *out, char *err, size_t errlen) {
  ctx c = {.a = a, .req = req, .fetch = fetch, .arg = arg, .err = err, .errlen = errlen};
  if (errlen > 0) err[0] = '\0';
  for (size_t i = 0; i < a->n; i++) {
    c.target = i + 1;
    int rc = eval(&c, a->targets[i], (tctx){0, 0, 0}, out);
    if (rc < 0) return rc;
  }
  return 0;
}
