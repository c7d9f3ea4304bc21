/* fn_transform.c — the functions that change each series on its own: values (scale, offset,
 * absolute, derivatives, integral, keepLastValue, transformNull), time (movingAverage,
 * summarize, hitcount, timeShift), consolidateBy, and constantLine, which makes one. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diamond/error.h"
#include "render_int.h"

static int f_constantLine(ctx *c, const node *call, tctx t, list *out) {
  (void)t;
  double v = 0;
  if (render_need_num(c, call, 0, "value", &v) < 0) return DM_EINVAL;
  char txt[48]; /* graphite-web's value parameter is a float: constantLine(42) is "42.0" */
  render_pystr(txt, sizeof txt, v, 0);
  int64_t from = c->req->from, until = c->req->until, step = (until - from) / 2;
  if (step < 1) step = 1;
  dm_render_series *s = render_new_series(c, call, txt, from, step, 3);
  if (s == NULL) return DM_ENOMEM;
  s->v[0] = s->v[1] = s->v[2] = v;
  s->end = until; /* graphite-web's end, not from + 3 steps: it counts in maxDataPoints */
  if (render_rename(c, call, s, 1, "constantLine(%s)", txt) < 0 ||
      render_set_str(&s->name, txt) < 0) {
    dm_render_series_free(s);
    return render_oom(c, call);
  }
  return dm_render_list_add(out, s) < 0 ? render_oom(c, call) : 0;
}

static int f_consolidateBy(ctx *c, const node *call, tctx t, list *out) {
  const char *fn = NULL;
  size_t before = out->n;
  RENDER_FIRST_LIST();
  if (render_need_str(c, call, 1, "consolidationFunc", &fn) < 0) return DM_EINVAL;
  dm_render_cf cf;
  if (render_parse_cf(fn, &cf) < 0)
    return render_fail(
        c, DM_EINVAL, render_posarg(call, 1, "consolidationFunc"),
        "consolidateBy: unknown function \"%s\" (average, sum, min, max, first, last)", fn);
  for (size_t i = before; i < out->n; i++) {
    out->s[i]->cf = cf;
    if (render_rename(c, call, out->s[i], 1, "consolidateBy(%s,\"%s\")", out->s[i]->name, fn) < 0)
      return DM_ENOMEM;
  }
  return 0;
}

/* op applied to every value of argument 0's series, then renamed
 * "<fn>(<name>,<sep><n>)"; n is argument 1 (named kw), which must be a number. */
int render_pointwise(ctx *c, const node *call, tctx t, list *out, const char *fn,
                     const char *kw, const char *sep, double (*op)(double v, double n)) {
  double n = 0;
  size_t before = out->n;
  RENDER_FIRST_LIST();
  if (render_need_num(c, call, 1, kw, &n) < 0) return DM_EINVAL;
  for (size_t i = before; i < out->n; i++) {
    dm_render_series *s = out->s[i];
    for (size_t k = 0; k < s->n; k++) s->v[k] = op(s->v[k], n);
    if (render_rename(c, call, s, 1, "%s(%s,%s%g)", fn, s->name, sep, n) < 0) return DM_ENOMEM;
  }
  return 0;
}

static double op_mul(double v, double n) { return v * n; }
static double op_add(double v, double n) { return v + n; }
static int f_scale(ctx *c, const node *call, tctx t, list *out) {
  return render_pointwise(c, call, t, out, "scale", "factor", "", op_mul);
}
static int f_offset(ctx *c, const node *call, tctx t, list *out) {
  return render_pointwise(c, call, t, out, "offset", "factor", "", op_add);
}

static int f_absolute(ctx *c, const node *call, tctx t, list *out) {
  size_t before = out->n;
  RENDER_FIRST_LIST();
  for (size_t i = before; i < out->n; i++) {
    dm_render_series *s = out->s[i];
    for (size_t k = 0; k < s->n; k++) s->v[k] = fabs(s->v[k]);
    if (render_rename(c, call, s, 1, "absolute(%s)", s->name) < 0) return DM_ENOMEM;
  }
  return 0;
}

static int f_derivative(ctx *c, const node *call, tctx t, list *out) {
  size_t before = out->n;
  RENDER_FIRST_LIST();
  for (size_t i = before; i < out->n; i++) {
    dm_render_series *s = out->s[i];
    double prev = NAN;
    for (size_t k = 0; k < s->n; k++) {
      double v = s->v[k];
      s->v[k] = (isnan(prev) || isnan(v)) ? NAN : v - prev;
      prev = v;
    }
    if (render_rename(c, call, s, 1, "derivative(%s)", s->name) < 0) return DM_ENOMEM;
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

/* Python's round(x, 6): the 6-decimal number nearest to x's exact binary value, ties to
 * even (perSecond's 1/128 = 0.0078125 is 0.007812). Away from a tie x * 1e6 rounds to the
 * same integer whichever way (its error is below half an ulp of it) and k / 1e6 is the
 * double nearest to the decimal, as Python's; near one, and for |x| >= 1e9, glibc's printf
 * rounds the exact value in the default mode (to nearest, ties to even). */
static double py_round6(double x) {
  if (!isfinite(x)) return x;
  double y = x * 1e6, f = y - floor(y);
  if (fabs(x) < 1e9 && fabs(f - 0.5) > fabs(y) * 4.5e-16 + 1e-9) return round(y) / 1e6;
  char buf[512];
  snprintf(buf, sizeof buf, "%.6f", x);
  return strtod(buf, NULL);
}

static int nn_common(ctx *c, const node *call, tctx t, list *out, int per_second) {
  double maxv = NAN, minv = NAN;
  size_t before = out->n;
  RENDER_FIRST_LIST();
  int hmax = render_arg_num(c, call, 1, "maxValue", &maxv);
  int hmin = render_arg_num(c, call, 2, "minValue", &minv);
  if (hmax < 0 || hmin < 0) return DM_EINVAL;
  for (size_t i = before; i < out->n; i++) {
    dm_render_series *s = out->s[i];
    double prev = NAN;
    for (size_t k = 0; k < s->n; k++) {
      double d = nn_delta(s->v[k], &prev, hmax, maxv, hmin, minv);
      s->v[k] = per_second ? py_round6(d / (double)s->step) : d;
    }
    if (render_rename(c, call, s, 1, per_second ? "perSecond(%s)" : "nonNegativeDerivative(%s)",
                      s->name) < 0)
      return DM_ENOMEM;
  }
  return 0;
}

static int f_nonNegativeDerivative(ctx *c, const node *n, tctx t, list *o) { return nn_common(c, n, t, o, 0); }
static int f_perSecond(ctx *c, const node *n, tctx t, list *o) { return nn_common(c, n, t, o, 1); }

static int f_integral(ctx *c, const node *call, tctx t, list *out) {
  size_t before = out->n;
  RENDER_FIRST_LIST();
  for (size_t i = before; i < out->n; i++) {
    dm_render_series *s = out->s[i];
    double acc = 0;
    for (size_t k = 0; k < s->n; k++)
      if (!isnan(s->v[k])) s->v[k] = acc += s->v[k];
    if (render_rename(c, call, s, 1, "integral(%s)", s->name) < 0) return DM_ENOMEM;
  }
  return 0;
}

/* movingAverage: value i is the average of the non-null values among the windowPoints
 * values BEFORE it (graphite-web's series[i - windowPoints:i]), over the previewed fetch;
 * the result starts preview later, back at the request's range. */
static int f_movingAverage(ctx *c, const node *call, tctx t, list *out) {
  const node *w = render_posarg(call, 1, "windowSize");
  tctx tp = t;
  if (w == NULL || render_preview_of(call, &tp) < 0)
    return render_fail(c, DM_EINVAL, w ? w : call,
                       "movingAverage: windowSize must be a number of points or a time (\"5min\")");
  double xff = 0;
  if (render_arg_num(c, call, 2, "xFilesFactor", &xff) < 0) return DM_EINVAL;
  size_t before = out->n;
  int rc = render_arg_list(c, call, 0, "seriesList", tp, out);
  if (rc < 0) return rc;
  for (size_t i = before; i < out->n; i++) {
    dm_render_series *s = out->s[i];
    size_t wp = w->kind == N_NUMBER ? (size_t)w->num : (size_t)((tp.preview - t.preview) / s->step);
    int64_t pre = w->kind == N_NUMBER ? (int64_t)wp * s->step : tp.preview - t.preview;
    size_t m = s->n > wp ? s->n - wp : 0;
    double *nv = malloc((m ? m : 1) * sizeof *nv);
    if (nv == NULL) return render_oom(c, call);
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
    rc = w->kind == N_NUMBER
             ? render_rename(c, call, s, 1, "movingAverage(%s,%s)", s->name, w->text)
             : render_rename(c, call, s, 1, "movingAverage(%s,\"%s\")", s->name, w->text);
    if (rc < 0) return rc;
  }
  return 0;
}

static int f_summarize(ctx *c, const node *call, tctx t, list *out) {
  const char *istr = NULL, *fn = "sum";
  int align = 0;
  size_t before = out->n;
  RENDER_FIRST_LIST();
  if (render_need_str(c, call, 1, "intervalString", &istr) < 0 ||
      render_arg_str(c, call, 2, "func", &fn) < 0 ||
      render_arg_bool(c, call, 3, "alignToFrom", &align) < 0)
    return DM_EINVAL;
  int64_t iv;
  dm_render_cf cf;
  if (render_parse_offset(istr, &iv) < 0 || iv <= 0)
    return render_fail(c, DM_EINVAL, render_posarg(call, 1, "intervalString"), "summarize: bad interval \"%s\"", istr);
  if (render_parse_cf(fn, &cf) < 0)
    return render_fail(c, DM_EINVAL, render_posarg(call, 2, "func"),
                       "summarize: unknown function \"%s\"", fn);
  for (size_t i = before; i < out->n; i++) {
    dm_render_series *s = out->s[i];
    int64_t end = s->start + (int64_t)s->n * s->step;
    int64_t ns = align ? s->start : s->start - render_floor_mod(s->start, iv);
    int64_t ne = align ? end : end - render_floor_mod(end, iv) + iv;
    size_t m = ne > ns ? (size_t)((ne - ns + iv - 1) / iv) : 0;
    if (render_budget(c, call, m) < 0) return DM_ERANGE;
    double *nv = malloc((m ? m : 1) * sizeof *nv);
    double *bucket = malloc((s->n ? s->n : 1) * sizeof *bucket);
    if (nv == NULL || bucket == NULL) {
      free(nv);
      free(bucket);
      return render_oom(c, call);
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
    if (render_rename(c, call, s, 1, "summarize(%s, \"%s\", \"%s\"%s)", s->name, istr, fn,
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
  RENDER_FIRST_LIST();
  if (render_need_str(c, call, 1, "intervalString", &istr) < 0 ||
      render_arg_bool(c, call, 2, "alignToInterval", &align) < 0)
    return DM_EINVAL;
  int64_t iv;
  if (render_parse_offset(istr, &iv) < 0 || iv <= 0)
    return render_fail(c, DM_EINVAL, render_posarg(call, 1, "intervalString"), "hitcount: bad interval \"%s\"", istr);
  if (align)
    return render_fail(c, DM_EINVAL, render_posarg(call, 2, "alignToInterval"),
                       "hitcount: alignToInterval is not supported");
  for (size_t i = before; i < out->n; i++) {
    dm_render_series *s = out->s[i];
    int64_t end = s->start + (int64_t)s->n * s->step;
    size_t nb = (size_t)((end - s->start + iv - 1) / iv);
    int64_t ns = end - (int64_t)nb * iv;
    if (render_budget(c, call, nb) < 0) return DM_ERANGE;
    double *b = malloc((nb ? nb : 1) * sizeof *b);
    unsigned char *seen = calloc(nb ? nb : 1, 1);
    if (b == NULL || seen == NULL) {
      free(b);
      free(seen);
      return render_oom(c, call);
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
    if (render_rename(c, call, s, 1, "hitcount(%s, \"%s\")", s->name, istr) < 0) return DM_ENOMEM;
  }
  return 0;
}

static int f_keepLastValue(ctx *c, const node *call, tctx t, list *out) {
  double lim = INFINITY;
  size_t before = out->n;
  RENDER_FIRST_LIST();
  if (render_arg_num(c, call, 1, "limit", &lim) < 0) return DM_EINVAL;
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
    if (render_rename(c, call, s, 1, "keepLastValue(%s)", s->name) < 0) return DM_ENOMEM;
  }
  return 0;
}

static int f_transformNull(ctx *c, const node *call, tctx t, list *out) {
  double d = 0;
  size_t before = out->n;
  RENDER_FIRST_LIST();
  if (render_arg_num(c, call, 1, "default", &d) < 0) return DM_EINVAL;
  if (render_posarg(call, 2, "referenceSeries") != NULL)
    return render_fail(c, DM_EINVAL, render_posarg(call, 2, "referenceSeries"),
                       "transformNull: referenceSeries is not supported");
  for (size_t i = before; i < out->n; i++) {
    dm_render_series *s = out->s[i];
    for (size_t k = 0; k < s->n; k++)
      if (isnan(s->v[k])) s->v[k] = d;
    if (render_rename(c, call, s, 1, "transformNull(%s,%g)", s->name, d) < 0) return DM_ENOMEM;
  }
  return 0;
}

static int f_timeShift(ctx *c, const node *call, tctx t, list *out) {
  const char *str = NULL;
  int reset = 1;
  if (render_need_str(c, call, 1, "timeShift", &str) < 0 ||
      render_arg_bool(c, call, 2, "resetEnd", &reset) < 0)
    return DM_EINVAL;
  int64_t delta;
  if (render_shift_of(render_posarg(call, 1, "timeShift"), &delta) < 0)
    return render_fail(c, DM_EINVAL, render_posarg(call, 1, "timeShift"),
                       "timeShift: bad offset \"%s\"", str);
  list base = {0};
  int rc = render_arg_list(c, call, 0, "seriesList", t, &base);
  if (rc < 0 || base.n == 0) goto done;
  tctx ts = t;
  ts.shift -= delta;
  size_t before = out->n;
  rc = render_arg_list(c, call, 0, "seriesList", ts, out);
  if (rc < 0) goto done;
  int64_t s0 = base.s[0]->start, e0 = render_series_end(base.s[0]);
  for (size_t i = before; i < out->n; i++) {
    dm_render_series *s = out->s[i];
    /* graphite-web's end: the unshifted one, or its own moved with the start */
    int64_t end = reset ? e0 : render_series_end(s) - s->start + s0;
    s->start = s0;
    int64_t lim = end >= s0 ? (end - s0) / s->step + 1 : 0; /* timestamps s0 .. end */
    if ((int64_t)s->n > lim) s->n = (size_t)lim;
    s->end = end != s0 + (int64_t)s->n * s->step ? end : 0;
    /* graphite-web renames the shifted series but keeps its pathExpression */
    rc = render_rename(c, call, s, 0, "timeShift(%s, \"%s%s\")", s->name,
                       isdigit((unsigned char)str[0]) ? "-" : "", str);
    if (rc < 0) goto done;
  }
done:
  dm_render_list_free(&base);
  return rc;
}

const render_fn_def render_fns_transform[] = {
    RENDER_FN(constantLine), RENDER_FN(consolidateBy), RENDER_FN(scale), RENDER_FN(offset),
    RENDER_FN(absolute), RENDER_FN(derivative), RENDER_FN(nonNegativeDerivative),
    RENDER_FN(perSecond), RENDER_FN(integral), RENDER_FN(movingAverage), RENDER_FN(summarize),
    RENDER_FN(hitcount), RENDER_FN(keepLastValue), RENDER_FN(transformNull), RENDER_FN(timeShift),
    {NULL, NULL},
};
