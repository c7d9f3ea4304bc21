/* eval.c — the /render evaluator: the paths a query reads, the evaluation of its targets, the
 * helpers the functions are written with, and normalize/aggregate. The functions themselves
 * are in fn_alias.c, fn_combine.c, fn_transform.c and fn_filter.c, by family.
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
 *      movingAverage(x, 5) with from moved back 5 steps of the series x gives: 5 times
 *      summarize's or hitcount's interval when x has one (the largest of several: preview),
 *      else 5 fetch steps (preview_steps: the fetch step is only known to the caller).
 *      Contexts nest and add up.
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
 * new name (so sumSeries(scale(a.*,1)) names the scaled series), but for timeShift, which
 * keeps the shifted target's (sumSeries(timeShift(a.x, "1h"), a.x) is sumSeries(a.x)).
 *
 * Where diamond deliberately differs from graphite-web (docs/design.md, "Differences from
 * graphite-web 1.1"; tests/integration/test_graphite_diff.py asserts each one its data can
 * show, against the real graphite-web):
 *  - movingAverage(x, N) previews N times the step phase (a) reads off the target (above),
 *    graphite-web N times the largest step of x evaluated: the same unless an interval is
 *    not a multiple of the fetch step.
 *  - tags carry only "name"; graphite-web adds per-function tags (scale=, aggregatedBy=..).
 *  - consolidateBy and summarize take average/avg, sum, min, max, first, last: graphite-web's
 *    consolidateBy also avg_zero, its summarize no "first" (a 400) but avg_zero, median,
 *    diff, stddev, count, range/rangeOf, multiply, total, current. groupByNode's callback is
 *    sum, average/avg, max, min, diff, multiply or their *Series names. Anything else is
 *    refused (400). xFilesFactor exists on movingAverage only; the request parameter is
 *    ignored.
 *  - refused rather than half-done: hitcount's alignToInterval, transformNull's
 *    referenceSeries, tag names as aliasByNode/groupByNode nodes; timeShift's alignDST is
 *    ignored (diamond is UTC throughout).
 *  - strings are kept raw, as graphite-web's grammar keeps them: "\1" reaches aliasSub as
 *    backslash-one; the regex is POSIX ERE with \d \w \s \D \W \S translated, so Python-only
 *    syntax (lookaround, non-greedy, (?i)) is an error, not a silent mismatch.
 *  - a series' values end where its timestamps do: timeShift cuts the shifted series at the
 *    end it is shown to (resetEnd); graphite-web keeps the values past it: maxDataPoints'
 *    consolidation averages them into the last bucket, its csv writes them as rows.
 *  - a range is not cut at a retention (whisper starts it at now - its longest archive):
 *    diamond reads whatever its tiers still hold. Like whisper, it ends every range at now
 *    (src/api/graphite_fetch.c).
 * Outside the render core, docs/design.md also lists: maxDataPoints must be a whole number
 * (src/api/graphite_render.c), and a plaintext inf is a bad line (src/ingest/graphite.c).
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diamond/error.h"
#include "diamond/timefmt.h"
#include "render_int.h"

/* ---------------- phase (a) ---------------- */

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
int render_parse_offset(const char *s, int64_t *out) {
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
int render_shift_of(const node *arg, int64_t *delta) {
  if (arg == NULL || arg->kind != N_STRING) return DM_EINVAL;
  const char *s = arg->text;
  if (isdigit((unsigned char)s[0])) {
    int rc = render_parse_offset(s, delta);
    *delta = -*delta;
    return rc;
  }
  return render_parse_offset(s, delta);
}

const node *render_posarg(const node *call, size_t i, const char *kw) {
  size_t k = 0;
  for (size_t j = 0; j < call->nargs; j++) {
    const node *a = call->args[j];
    if (a->kw == NULL && k++ == i) return a->kind == N_NONE ? NULL : a;
    if (a->kw != NULL && kw != NULL && strcmp(a->kw, kw) == 0) return a->kind == N_NONE ? NULL : a;
  }
  return NULL;
}

/* The step of the series n evaluates to, as far as the target says: summarize's and
 * hitcount's interval, the largest of a call's arguments (normalize's lcm when the intervals
 * are multiples of the fetch step), 0 for the fetch step itself (a path). */
static int64_t static_step(const node *n) {
  if (n->kind != N_CALL) return 0;
  if (strcmp(n->text, "summarize") == 0 || strcmp(n->text, "hitcount") == 0) {
    const node *iv = render_posarg(n, 1, "intervalString");
    int64_t d;
    if (iv != NULL && iv->kind == N_STRING && render_parse_offset(iv->text, &d) == 0 && d > 0)
      return d;
  }
  int64_t st = 0;
  for (size_t i = 0; i < n->nargs; i++) {
    int64_t a = static_step(n->args[i]);
    if (a > st) st = a;
  }
  return st;
}

int render_preview_of(const node *call, tctx *t) {
  const node *w = render_posarg(call, 1, "windowSize");
  if (w == NULL) return DM_EINVAL;
  if (w->kind == N_NUMBER) {
    if (!(w->num >= 0 && w->num <= 1e7)) return DM_EINVAL; /* also NaN */
    /* graphite-web: N times the step of the series it averages */
    const node *x = render_posarg(call, 0, "seriesList");
    int64_t st = x ? static_step(x) : 0;
    if ((double)st * w->num > 1e12) return DM_EINVAL; /* a preview of 30000 years */
    if (st > 0) t->preview += (int64_t)w->num * st;
    else t->psteps += (int64_t)w->num;
    return 0;
  }
  int64_t d;
  if (w->kind != N_STRING || render_parse_offset(w->text, &d) < 0) return DM_EINVAL;
  t->preview += d < 0 ? -d : d;
  return 0;
}

static int collect(dm_render_ast *a, const node *n, tctx t) {
  if (n->kind == N_PATH) return add_path(a, n, t);
  if (n->kind != N_CALL) return 0;
  int is_shift = strcmp(n->text, "timeShift") == 0;
  int is_mavg = strcmp(n->text, "movingAverage") == 0;
  const node *first = render_posarg(n, 0, NULL);
  for (size_t i = 0; i < n->nargs; i++) {
    const node *c = n->args[i];
    tctx tc = t;
    if (c == first && is_mavg) {
      if (render_preview_of(n, &tc) < 0) tc = t; /* the evaluator reports the bad window */
    }
    int rc = collect(a, c, tc);
    if (rc < 0) return rc;
    if (c == first && is_shift) {
      int64_t delta;
      if (render_shift_of(render_posarg(n, 1, "timeShift"), &delta) == 0) {
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

int render_fail(ctx *c, int rc, const node *at, const char *fmt, ...) {
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

int render_oom(ctx *c, const node *at) {
  return render_fail(c, DM_ENOMEM, at, "out of memory");
}

/* Counts n new values against the points budget. */
int render_budget(ctx *c, const node *at, size_t n) {
  c->npoints += n;
  if (c->req->max_points && c->npoints > c->req->max_points)
    return render_fail(c, DM_ERANGE, at,
                       "more than %zu points in the query (limits.max_query_points)",
                       c->req->max_points);
  return 0;
}

dm_render_series *render_new_series(ctx *c, const node *at, const char *name, int64_t start,
                                    int64_t step, size_t n) {
  if (render_budget(c, at, n) < 0) return NULL;
  dm_render_series *s = dm_render_series_new(name, strlen(name), start, step, n);
  if (s == NULL) render_oom(c, at);
  return s;
}

static int eval_path(ctx *c, const node *n, tctx t, list *out) {
  const dm_render_ast *a = c->a;
  for (size_t i = 0; i < a->npaths; i++) {
    const dm_render_path *p = &a->paths[i];
    if (a->path_node[i] != n || p->shift != t.shift || p->preview != t.preview ||
        p->preview_steps != t.psteps)
      continue;
    size_t before = out->n;
    int rc = c->fetch(c->arg, i, p, out);
    if (rc < 0) return render_fail(c, rc, n, "fetching %s failed", n->text);
    c->nseries += out->n - before;
    if (c->req->max_series && c->nseries > c->req->max_series)
      return render_fail(c, DM_ERANGE, n,
                         "more than %zu series in the query (limits.max_query_series)",
                         c->req->max_series);
    for (size_t k = before; k < out->n; k++) {
      rc = render_budget(c, n, out->s[k]->n);
      if (rc < 0) return rc;
      if (render_set_str(&out->s[k]->path_expr, n->text) < 0) return render_oom(c, n);
    }
    return 0;
  }
  return render_fail(c, DM_EINVAL, n, "%s was not listed by dm_render_paths", n->text);
}

/* ---- argument helpers ---- */

int render_arg_list(ctx *c, const node *call, size_t i, const char *kw, tctx t, list *out) {
  const node *a = render_posarg(call, i, kw);
  if (a == NULL)
    return render_fail(c, DM_EINVAL, call, "%s: missing argument %zu (a series list)", call->text,
                       i + 1);
  if (a->kind != N_PATH && a->kind != N_CALL)
    return render_fail(c, DM_EINVAL, a, "%s: argument %zu must be a series list", call->text,
                       i + 1);
  return render_eval(c, a, t, out);
}

/* 1 found, 0 absent (def kept), <0 error. */
int render_arg_num(ctx *c, const node *call, size_t i, const char *kw, double *v) {
  const node *a = render_posarg(call, i, kw);
  if (a == NULL) return 0;
  if (a->kind == N_NUMBER) {
    *v = a->num;
    return 1;
  }
  if (a->kind == N_BOOL) {
    *v = a->b;
    return 1;
  }
  return render_fail(c, DM_EINVAL, a, "%s: argument %s must be a number", call->text,
                     kw ? kw : "?");
}

int render_need_num(ctx *c, const node *call, size_t i, const char *kw, double *v) {
  int rc = render_arg_num(c, call, i, kw, v);
  if (rc == 0) return render_fail(c, DM_EINVAL, call, "%s: missing argument %s", call->text, kw);
  return rc;
}

int render_arg_str(ctx *c, const node *call, size_t i, const char *kw, const char **v) {
  const node *a = render_posarg(call, i, kw);
  if (a == NULL) return 0;
  if (a->kind != N_STRING)
    return render_fail(c, DM_EINVAL, a, "%s: argument %s must be a string", call->text, kw);
  *v = a->text;
  return 1;
}

int render_need_str(ctx *c, const node *call, size_t i, const char *kw, const char **v) {
  int rc = render_arg_str(c, call, i, kw, v);
  if (rc == 0) return render_fail(c, DM_EINVAL, call, "%s: missing argument %s", call->text, kw);
  return rc;
}

int render_arg_bool(ctx *c, const node *call, size_t i, const char *kw, int *v) {
  const node *a = render_posarg(call, i, kw);
  if (a == NULL) return 0;
  if (a->kind == N_BOOL) *v = a->b;
  else if (a->kind == N_NUMBER) *v = a->num != 0;
  else return render_fail(c, DM_EINVAL, a, "%s: argument %s must be a boolean", call->text, kw);
  return 1;
}

/* Sets s->name to a printf result; path_expr too when also_path. */
int render_rename(ctx *c, const node *at, dm_render_series *s, int also_path, const char *fmt,
                  ...) {
  va_list ap;
  va_start(ap, fmt);
  char *name = NULL;
  int k = vasprintf(&name, fmt, ap);
  va_end(ap);
  if (k < 0) return render_oom(c, at);
  free(s->name);
  s->name = name;
  if (also_path && render_set_str(&s->path_expr, name) < 0) return render_oom(c, at);
  return 0;
}

int render_parse_cf(const char *s, dm_render_cf *cf) {
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

const char *const render_agg_names[] = {"sum", "average", "max", "min", "diff", "multiply"};

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

/* render_normalize(): consolidates every series of l to the lcm step; gives start, end, step. */
void render_normalize(list *l, int64_t *start, int64_t *end, int64_t *step) {
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
    int64_t e = render_series_end(s); /* graphite keeps end when consolidating */
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
char *render_path_exprs(const list *l) {
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
dm_render_series *render_aggregate(ctx *c, const node *at, list *l, agg f, const char *name) {
  int64_t start, end, step;
  render_normalize(l, &start, &end, &step);
  size_t len = 0;
  for (size_t i = 0; i < l->n; i++)
    if (l->s[i]->n > len) len = l->s[i]->n;
  size_t lim = (size_t)((end - start) / step) + 1;
  if (len > lim) len = lim;
  dm_render_series *r = render_new_series(c, at, name, start, step, len);
  if (r == NULL) return NULL;
  double *row = malloc((l->n ? l->n : 1) * sizeof *row);
  if (row == NULL) {
    dm_render_series_free(r);
    render_oom(c, at);
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
    render_oom(c, at);
    return NULL;
  }
  return r;
}

/* The functions, by family: each fn_*.c has a table (render_int.h). */
static const render_fn_def *const families[] = {
    render_fns_alias, render_fns_combine, render_fns_transform, render_fns_filter,
};

int render_eval(ctx *c, const node *n, tctx t, list *out) {
  if (n->kind == N_PATH) return eval_path(c, n, t, out);
  if (n->kind != N_CALL) return render_fail(c, DM_EINVAL, n, "expected a series list");
  for (size_t i = 0; i < sizeof families / sizeof families[0]; i++)
    for (const render_fn_def *f = families[i]; f->name != NULL; f++)
      if (strcmp(f->name, n->text) == 0) {
        int rc = f->fn(c, n, t, out);
        if (rc < 0 && !c->failed) render_fail(c, rc, n, "%s failed", n->text);
        return rc;
      }
  return render_fail(c, DM_EINVAL, n, "unknown function %s", n->text);
}

int dm_render_eval(const dm_render_ast *a, const dm_render_req *req, dm_render_fetch_fn fetch,
                   void *arg, dm_render_list *out, char *err, size_t errlen) {
  ctx c = {.a = a, .req = req, .fetch = fetch, .arg = arg, .err = err, .errlen = errlen};
  if (errlen > 0) err[0] = '\0';
  for (size_t i = 0; i < a->n; i++) {
    c.target = i + 1;
    int rc = render_eval(&c, a->targets[i], (tctx){0, 0, 0}, out);
    if (rc < 0) return rc;
  }
  return 0;
}