/* series.c — the series model, consolidation (normalize and maxDataPoints) and the json and
 * csv writers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diamond/error.h"
#include "diamond/point.h"
#include "diamond/timefmt.h"
#include "render_int.h"

/* Python's str() of a number as written (int stays int, float gets repr's form). */
void render_pystr(char *out, size_t len, double v, int is_int) {
  if (is_int && fabs(v) < 9e18) {
    snprintf(out, len, "%lld", (long long)v);
    return;
  }
  if (isnan(v)) { snprintf(out, len, "nan"); return; }
  if (isinf(v)) { snprintf(out, len, v > 0 ? "inf" : "-inf"); return; }
  int p = 1;
  char tmp[40];
  for (; p < 17; p++) {
    snprintf(tmp, sizeof tmp, "%.*e", p - 1, v);
    if (strtod(tmp, NULL) == v) break;
  }
  snprintf(tmp, sizeof tmp, "%.*e", p - 1, v);
  int exp = atoi(strchr(tmp, 'e') + 1);
  if (exp >= -4 && exp < 16) {
    int dec = p - 1 - exp;
    snprintf(out, len, "%.*f", dec > 0 ? dec : 0, v);
    if (strchr(out, '.') == NULL && strlen(out) + 3 <= len) strcat(out, ".0");
  } else {
    char mant[32];
    snprintf(mant, sizeof mant, "%.*e", p - 1, v);
    *strchr(mant, 'e') = '\0';
    snprintf(out, len, "%se%c%02d", mant, exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
  }
}

int64_t render_floor_mod(int64_t a, int64_t m) {
  int64_t r = a % m;
  return r < 0 ? r + m : r;
}

int render_set_str(char **dst, const char *s) {
  char *c = strdup(s);
  if (c == NULL) return DM_ENOMEM;
  free(*dst);
  *dst = c;
  return 0;
}

dm_render_series *dm_render_series_new(const char *name, size_t name_len, int64_t start,
                                       int64_t step, size_t n) {
  dm_render_series *s = calloc(1, sizeof *s);
  if (s == NULL) return NULL;
  s->name = strndup(name, name_len);
  s->tag_name = strndup(name, name_len);
  s->path_expr = strndup(name, name_len);
  s->v = malloc((n ? n : 1) * sizeof *s->v);
  if (s->name == NULL || s->tag_name == NULL || s->path_expr == NULL || s->v == NULL) {
    dm_render_series_free(s);
    return NULL;
  }
  for (size_t i = 0; i < n; i++) s->v[i] = NAN;
  s->start = start;
  s->step = step > 0 ? step : 1;
  s->n = n;
  s->cf = DM_CF_AVG;
  return s;
}

void dm_render_series_free(dm_render_series *s) {
  if (s == NULL) return;
  free(s->name);
  free(s->tag_name);
  free(s->path_expr);
  free(s->v);
  free(s);
}

dm_render_series *render_series_copy(const dm_render_series *s) {
  dm_render_series *c = dm_render_series_new(s->name, strlen(s->name), s->start, s->step, s->n);
  if (c == NULL) return NULL;
  if (render_set_str(&c->tag_name, s->tag_name) < 0 ||
      render_set_str(&c->path_expr, s->path_expr) < 0) {
    dm_render_series_free(c);
    return NULL;
  }
  if (s->n) memcpy(c->v, s->v, s->n * sizeof *s->v);
  c->cf = s->cf;
  c->end = s->end;
  return c;
}

int64_t render_series_end(const dm_render_series *s) {
  return s->end ? s->end : s->start + (int64_t)s->n * s->step;
}

dm_render_series *dm_render_series_copy(const dm_render_series *s) { return render_series_copy(s); }

int dm_render_list_add(dm_render_list *l, dm_render_series *s) {
  if (s == NULL) return DM_ENOMEM;
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 8;
    dm_render_series **p = realloc(l->s, cap * sizeof *p);
    if (p == NULL) {
      dm_render_series_free(s);
      return DM_ENOMEM;
    }
    l->s = p;
    l->cap = cap;
  }
  l->s[l->n++] = s;
  return 0;
}

void dm_render_list_free(dm_render_list *l) {
  for (size_t i = 0; i < l->n; i++) dm_render_series_free(l->s[i]);
  free(l->s);
  l->s = NULL;
  l->n = l->cap = 0;
}

dm_render_series *dm_render_series_grid(const char *name, size_t name_len, int64_t from,
                                        int64_t until, int64_t step, const int64_t *ts,
                                        const double *vs, size_t npts) {
  if (step <= 0) step = 1;
  int64_t first = dm_floor(from, step) + step;
  int64_t end = dm_floor(until, step) + step;
  if (end == first) end += step; /* whisper: a range inside one interval gives that one */
  size_t n = end > first ? (size_t)((end - first) / step) : 0;
  dm_render_series *s = dm_render_series_new(name, name_len, first, step, n);
  if (s == NULL) return NULL;
  for (size_t i = 0; i < npts; i++) {
    if (ts[i] < first || ts[i] >= end) continue;
    s->v[(ts[i] - first) / step] = vs[i];
  }
  return s;
}

double render_cf_apply(dm_render_cf cf, const double *v, size_t n) {
  double acc = NAN;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    double x = v[i];
    if (isnan(x)) continue;
    if (k == 0) {
      acc = x;
    } else {
      switch (cf) {
      case DM_CF_AVG:
      case DM_CF_SUM: acc += x; break;
      case DM_CF_MIN: if (x < acc) acc = x; break;
      case DM_CF_MAX: if (x > acc) acc = x; break;
      case DM_CF_FIRST: break;
      case DM_CF_LAST: acc = x; break;
      }
    }
    k++;
  }
  if (cf == DM_CF_AVG && k > 0) acc /= (double)k;
  return acc;
}

int render_consolidate(dm_render_series *s, size_t vpp) {
  if (vpp <= 1) return 0;
  size_t m = (s->n + vpp - 1) / vpp;
  for (size_t j = 0; j < m; j++) {
    size_t lo = j * vpp, cnt = s->n - lo < vpp ? s->n - lo : vpp;
    s->v[j] = render_cf_apply(s->cf, s->v + lo, cnt);
  }
  s->n = m;
  s->step *= (int64_t)vpp;
  return 0;
}

/* graphite-web 1.1 (render/views.py, json) per series, with timeRange = max end - min start
 * over all the results:
 *   maxDataPoints == 1: one value, cf over the whole series;
 *   else if maxDataPoints < timeRange / step: vpp = ceil(timeRange/step / maxDataPoints),
 *   spp = vpp * step, nudge = spp + start % step - start % spp, start += nudge, and it drops
 *   nudge/step - 1 leading values (not nudge/step: so a value lands one step later than
 *   its own time; we keep that for value-for-value equality), then consolidates by vpp.
 *   Timestamps run start, start + spp, .. up to the series' original end inclusive, and
 *   zip() stops at the shorter of values and timestamps. */
int dm_render_maxpoints(dm_render_list *l, int64_t req_from, int64_t req_until,
                        size_t max_points) {
  (void)req_from;
  (void)req_until;
  if (max_points == 0 || l->n == 0) return 0;
  int64_t from = INT64_MAX, until = INT64_MIN;
  for (size_t i = 0; i < l->n; i++) {
    const dm_render_series *s = l->s[i];
    if (s->start < from) from = s->start;
    if (render_series_end(s) > until) until = render_series_end(s);
  }
  for (size_t i = 0; i < l->n; i++) {
    dm_render_series *s = l->s[i];
    int64_t end = render_series_end(s);
    if (max_points == 1) {
      render_consolidate(s, s->n ? s->n : 1);
      continue;
    }
    double npts = (double)(until - from) / (double)s->step;
    if (!((double)max_points < npts)) continue;
    size_t vpp = (size_t)ceil(npts / (double)max_points);
    int64_t spp = (int64_t)vpp * s->step;
    int64_t nudge = spp + render_floor_mod(s->start, s->step) - render_floor_mod(s->start, spp);
    s->start += nudge;
    int64_t lose = nudge / s->step - 1;
    if (lose > 0) {
      size_t k = (size_t)lose < s->n ? (size_t)lose : s->n;
      memmove(s->v, s->v + k, (s->n - k) * sizeof *s->v);
      s->n -= k;
    }
    render_consolidate(s, vpp);
    int64_t nts = end >= s->start ? (end - s->start) / spp + 1 : 0;
    if ((int64_t)s->n > nts) s->n = (size_t)nts;
  }
  return 0;
}

void dm_render_json(dm_buf *b, const dm_render_list *l, int no_null) {
  dm_buf_add(b, "[", 1);
  int first = 1;
  for (size_t i = 0; i < l->n; i++) {
    const dm_render_series *s = l->s[i];
    if (no_null) {
      size_t k = 0;
      while (k < s->n && isnan(s->v[k])) k++;
      if (k == s->n) continue;
    }
    if (!first) dm_buf_add(b, ",", 1);
    first = 0;
    dm_buf_adds(b, "{\"target\":");
    dm_buf_json_str(b, s->name, strlen(s->name));
    dm_buf_adds(b, ",\"tags\":{\"name\":");
    dm_buf_json_str(b, s->tag_name, strlen(s->tag_name));
    dm_buf_adds(b, "},\"datapoints\":[");
    int pfirst = 1;
    for (size_t k = 0; k < s->n; k++) {
      if (no_null && isnan(s->v[k])) continue;
      if (!pfirst) dm_buf_add(b, ",", 1);
      pfirst = 0;
      dm_buf_add(b, "[", 1);
      if (isnan(s->v[k])) dm_buf_adds(b, "null");
      else if (isinf(s->v[k])) dm_buf_adds(b, s->v[k] > 0 ? "1e9999" : "-1e9999");
      else dm_buf_json_double(b, s->v[k]);
      dm_buf_add(b, ",", 1);
      dm_buf_i64(b, s->start + (int64_t)k * s->step);
      dm_buf_add(b, "]", 1);
    }
    dm_buf_adds(b, "]}");
  }
  dm_buf_add(b, "]", 1);
}

static void csv_field(dm_buf *b, const char *s) {
  if (strpbrk(s, ",\"\r\n") == NULL) {
    dm_buf_adds(b, s);
    return;
  }
  dm_buf_add(b, "\"", 1);
  for (; *s; s++) {
    if (*s == '"') dm_buf_add(b, "\"", 1);
    dm_buf_add(b, s, 1);
  }
  dm_buf_add(b, "\"", 1);
}

void dm_render_csv(dm_buf *b, const dm_render_list *l) {
  for (size_t i = 0; i < l->n; i++) {
    const dm_render_series *s = l->s[i];
    for (size_t k = 0; k < s->n; k++) {
      int64_t t = s->start + (int64_t)k * s->step;
      int64_t day = dm_day_of(t), y, sec = t - day * DM_DAY_SECONDS;
      int mo, d;
      dm_civil_from_days(day, &y, &mo, &d);
      csv_field(b, s->name);
      dm_buf_printf(b, ",%04lld-%02d-%02d %02d:%02d:%02d,", (long long)y, mo, d,
                    (int)(sec / 3600), (int)(sec / 60 % 60), (int)(sec % 60));
      if (!isnan(s->v[k])) {
        char num[48];
        render_pystr(num, sizeof num, s->v[k], 0);
        dm_buf_adds(b, num);
      }
      dm_buf_add(b, "\r\n", 2);
    }
  }
}
