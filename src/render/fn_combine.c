/* fn_combine.c — the functions that build new series from several: the *Series aggregates,
 * divideSeries, asPercent and groupByNode (eval.c's essay has the normalize and null rules). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diamond/error.h"
#include "render_int.h"

/* Evaluates every positional argument as series lists, concatenated into l. */
static int all_lists(ctx *c, const node *call, tctx t, list *l) {
  for (size_t i = 0; i < call->nargs; i++) {
    const node *a = call->args[i];
    if (a->kw != NULL) continue;
    if (a->kind != N_PATH && a->kind != N_CALL)
      return render_fail(c, DM_EINVAL, a, "%s: arguments must be series lists", call->text);
    int rc = render_eval(c, a, t, l);
    if (rc < 0) return rc;
  }
  return 0;
}

static int aggregate_fn(ctx *c, const node *call, tctx t, list *out, agg f) {
  list l = {0};
  int rc = all_lists(c, call, t, &l);
  if (rc < 0 || l.n == 0) goto done;
  char *pe = render_path_exprs(&l), *name = NULL;
  if (pe == NULL || asprintf(&name, "%sSeries(%s)", render_agg_names[f], pe) < 0) {
    free(pe);
    rc = render_oom(c, call);
    goto done;
  }
  free(pe);
  dm_render_series *r = render_aggregate(c, call, &l, f, name);
  free(name);
  if (r == NULL) {
    rc = c->failed ? DM_ERANGE : render_oom(c, call);
    goto done;
  }
  rc = dm_render_list_add(out, r) < 0 ? render_oom(c, call) : 0;
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
  int rc = render_arg_list(c, call, 0, "dividendSeriesList", t, &num);
  if (rc == 0) rc = render_arg_list(c, call, 1, "divisorSeries", t, &den);
  if (rc < 0) goto done;
  if (den.n > 1) {
    rc = render_fail(c, DM_EINVAL, render_posarg(call, 1, "divisorSeries"),
                     "divideSeries second argument must reference exactly 1 series (got %zu)",
                     den.n);
    goto done;
  }
  for (size_t i = 0; i < num.n; i++) {
    dm_render_series *a = num.s[i], *r;
    if (den.n == 0) {
      r = render_new_series(c, call, a->name, a->start, a->step, a->n);
      if (r == NULL || render_set_str(&r->tag_name, a->tag_name) < 0 ||
          render_rename(c, call, r, 1, "divideSeries(%s,MISSING)", a->name) < 0) {
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
        rc = render_oom(c, call);
        goto done;
      }
      int64_t start, end, step;
      render_normalize(&two, &start, &end, &step);
      size_t len = two.s[0]->n > two.s[1]->n ? two.s[0]->n : two.s[1]->n;
      size_t lim = (size_t)((end - start) / step) + 1;
      if (len > lim) len = lim;
      r = render_new_series(c, call, a->name, start, step, len);
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
      if (render_rename(c, call, r, 1, "divideSeries(%s,%s)", a->name, den.s[0]->name) < 0 ||
          render_set_str(&r->tag_name, r->name) < 0) {
        dm_render_series_free(r);
        rc = DM_ENOMEM;
        goto done;
      }
    }
    if (dm_render_list_add(out, r) < 0) {
      rc = render_oom(c, call);
      goto done;
    }
  }
done:
  dm_render_list_free(&num);
  dm_render_list_free(&den);
  return rc;
}

static int f_groupByNode(ctx *c, const node *call, tctx t, list *out) {
  double nd = 0;
  const char *cb = "average";
  list in = {0};
  int rc = render_arg_list(c, call, 0, "seriesList", t, &in);
  if (rc < 0) goto done;
  if (render_need_num(c, call, 1, "nodeNum", &nd) < 0 ||
      render_arg_str(c, call, 2, "callback", &cb) < 0) {
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
    rc = render_fail(c, DM_EINVAL, render_posarg(call, 2, "callback"),
                     "groupByNode: unknown callback \"%s\"", cb);
    goto done;
  }
  char **keys = calloc(in.n ? in.n : 1, sizeof *keys);
  if (keys == NULL) {
    rc = render_oom(c, call);
    goto done;
  }
  for (size_t i = 0; i < in.n && rc == 0; i++) {
    dm_buf b;
    dm_buf_init(&b);
    char *fp = render_first_path(in.s[i]->name);
    if (fp == NULL) {
      rc = render_oom(c, call);
      break;
    }
    render_node_of(&b, fp, render_to_long(nd));
    free(fp);
    dm_buf_add(&b, "", 1);
    if (b.oom) rc = render_oom(c, call);
    keys[i] = b.p;
  }
  for (size_t i = 0; i < in.n && rc == 0; i++) {
    if (in.s[i] == NULL) continue;
    list g = {0};
    for (size_t j = i; j < in.n && rc == 0; j++) {
      if (in.s[j] == NULL || strcmp(keys[i], keys[j]) != 0) continue;
      if (dm_render_list_add(&g, in.s[j]) < 0) rc = render_oom(c, call);
      in.s[j] = NULL;
    }
    if (rc == 0) {
      char *pe = render_path_exprs(&g), *name = NULL;
      if (pe == NULL || asprintf(&name, "%sSeries(%s)", render_agg_names[f], pe) < 0) name = NULL;
      free(pe);
      dm_render_series *r = name ? render_aggregate(c, call, &g, (agg)f, name) : NULL;
      free(name);
      if (r == NULL || render_set_str(&r->name, keys[i]) < 0) {
        dm_render_series_free(r);
        rc = c->failed ? DM_ERANGE : render_oom(c, call);
      } else if (dm_render_list_add(out, r) < 0) {
        rc = render_oom(c, call);
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
      return render_oom(c, call);
    }
    int64_t start, end, step;
    render_normalize(&two, &start, &end, &step);
    size_t len = a->n > b->n ? a->n : b->n;
    dm_render_series *r = render_new_series(c, call, a->name, start, step, len);
    if (r == NULL) {
      dm_render_list_free(&two);
      return c->failed ? DM_ERANGE : render_oom(c, call);
    }
    for (size_t k = 0; k < len; k++) {
      double x = k < a->n ? a->v[k] : NAN, y = k < b->n ? b->v[k] : NAN;
      r->v[k] = (isnan(x) || isnan(y) || y == 0) ? NAN : x / y * 100.0;
    }
    int rc = render_rename(c, call, r, 1, "asPercent(%s,%s)", a->name, b->name);
    dm_render_list_free(&two);
    if (rc < 0 || render_set_str(&r->tag_name, r->name) < 0 || dm_render_list_add(out, r) < 0) {
      if (rc < 0) dm_render_series_free(r);
      return render_oom(c, call);
    }
  }
  return 0;
}

static int f_asPercent(ctx *c, const node *call, tctx t, list *out) {
  list l = {0}, tot = {0};
  char *total_text = NULL;
  double *tv = NULL;
  int rc = render_arg_list(c, call, 0, "seriesList", t, &l);
  if (rc < 0 || l.n == 0) goto done;
  const node *ta = render_posarg(call, 1, "total");
  int64_t start, end, step;
  if (ta == NULL || ta->kind == N_PATH || ta->kind == N_CALL) {
    if (ta != NULL) {
      rc = render_eval(c, ta, t, &tot);
      if (rc < 0) goto done;
      if (tot.n > 1 && tot.n == l.n) {
        rc = percent_pairs(c, call, &l, &tot, out);
        goto done;
      }
      if (tot.n != 1) {
        rc = render_fail(c, DM_EINVAL, ta,
                         "asPercent second argument must be missing, a single digit, "
                         "reference exactly 1 series or reference the same number of series as the "
                         "first argument");
        goto done;
      }
      if ((rc = dm_render_list_add(&l, tot.s[0])) < 0) {
        tot.n = 0;
        rc = render_oom(c, call);
        goto done;
      }
      tot.n = 0;
      render_normalize(&l, &start, &end, &step);
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
      if (p == NULL) { rc = render_oom(c, call); goto done; }
      tv = p;
      for (size_t k = tn; k < len; k++) tv[k] = NAN;
    } else {
      render_normalize(&l, &start, &end, &step);
      char *pe = render_path_exprs(&l);
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
      if (tv == NULL) { rc = render_oom(c, call); goto done; }
    }
  } else if (ta->kind == N_NUMBER) {
    render_normalize(&l, &start, &end, &step);
    char txt[48];
    render_pystr(txt, sizeof txt, ta->num, ta->is_int);
    total_text = strdup(txt);
    size_t len = 0;
    for (size_t i = 0; i < l.n; i++) if (l.s[i]->n > len) len = l.s[i]->n;
    tv = malloc((len ? len : 1) * sizeof *tv);
    if (tv != NULL) for (size_t k = 0; k < len; k++) tv[k] = ta->num;
  } else {
    rc = render_fail(c, DM_EINVAL, ta, "asPercent: total must be a number or a series");
    goto done;
  }
  if (total_text == NULL || tv == NULL) { rc = render_oom(c, call); goto done; }
  for (size_t i = 0; i < l.n; i++) {
    dm_render_series *s = l.s[i];
    for (size_t k = 0; k < s->n; k++)
      s->v[k] = (isnan(s->v[k]) || isnan(tv[k]) || tv[k] == 0) ? NAN : s->v[k] / tv[k] * 100.0;
    if ((rc = render_rename(c, call, s, 1, "asPercent(%s,%s)", s->name, total_text)) < 0) goto done;
    if (render_set_str(&s->tag_name, s->name) < 0) {
      rc = render_oom(c, call);
      goto done;
    }
  }
  for (size_t i = 0; i < l.n; i++) {
    if ((rc = dm_render_list_add(out, l.s[i])) < 0) {
      l.s[i] = NULL;
      rc = render_oom(c, call);
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

const render_fn_def render_fns_combine[] = {
    RENDER_FN(sumSeries), RENDER_FN(averageSeries), RENDER_FN(maxSeries), RENDER_FN(minSeries),
    RENDER_FN(diffSeries), RENDER_FN(multiplySeries), RENDER_FN(divideSeries), RENDER_FN(asPercent),
    RENDER_FN(groupByNode),
    {"sum", f_sumSeries}, {"avg", f_averageSeries}, {"pct", f_asPercent},
    {NULL, NULL},
};
