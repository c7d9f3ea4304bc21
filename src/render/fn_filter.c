/* fn_filter.c — the functions that choose or order the series of a list (highestCurrent,
 * highestMax, lowestCurrent, limit, sortByName) or blank the values past a threshold
 * (removeBelowValue, removeAboveValue). */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "diamond/error.h"
#include "render_int.h"

/* A count from a double argument, without undefined conversions. */
static size_t to_count(double v) {
  if (!(v > 0)) return 0;
  return v >= 1e15 ? (size_t)1e15 : (size_t)v;
}

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
  RENDER_FIRST_LIST();
  if (render_arg_num(c, call, 1, "n", &nd) < 0) return DM_EINVAL;
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
  RENDER_FIRST_LIST();
  if (render_need_num(c, call, 1, "n", &nd) < 0) return DM_EINVAL;
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
  RENDER_FIRST_LIST();
  if (render_arg_bool(c, call, 1, "natural", &natural) < 0 || render_arg_bool(c, call, 2, "reverse", &reverse) < 0)
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

static double op_below(double v, double n) { return v < n ? NAN : v; }
static double op_above(double v, double n) { return v > n ? NAN : v; }
static int f_removeBelowValue(ctx *c, const node *call, tctx t, list *out) {
  return render_pointwise(c, call, t, out, "removeBelowValue", "n", " ", op_below);
}
static int f_removeAboveValue(ctx *c, const node *call, tctx t, list *out) {
  return render_pointwise(c, call, t, out, "removeAboveValue", "n", " ", op_above);
}

const render_fn_def render_fns_filter[] = {
    RENDER_FN(highestCurrent), RENDER_FN(highestMax), RENDER_FN(lowestCurrent), RENDER_FN(limit),
    RENDER_FN(sortByName), RENDER_FN(removeBelowValue), RENDER_FN(removeAboveValue),
    {NULL, NULL},
};
