/* graphite_fetch.c — expand Graphite patterns and read the series for /render.
 *
 * Expansion: a pattern's literal prefix (up to its first glob character) narrows the scan
 * of the sorted name index to the names that start with it; each is matched whole with
 * dm_glob_match. The series budget (limits.max_query_series) is checked while expanding,
 * so a pattern that matches a million names stops at the budget instead of building a
 * million-entry list; the point budget (limits.max_query_points) is checked before any
 * read.
 *
 * Reads: every series through dm_engine_read (the merged tiers), at most FETCH_PARALLEL in
 * flight, each laid out as whisper's fetch lays it out: one slot per step from the first
 * step boundary after `from` through the one at or after `until`, NaN where no point.
 * Whisper ends every range at now (a point up to limits.max_future ahead is stored but
 * shows once its time has come), and a range that starts after now reads nothing.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diamond/error.h"
#include "diamond/names.h"
#include "graphite_fetch.h"

#define FETCH_PARALLEL 32

typedef struct fetch fetch;

typedef struct read_ctx { /* the argument of one series' read */
  fetch *f;
  size_t i;
} read_ctx;

struct fetch {
  dm_engine *e;
  dm_gfetch_opts o;
  int64_t step, start;
  size_t slots;
  dm_gseries *s;
  size_t n, cap;
  size_t next, inflight;
  int status, issuing, done;
  char err[256];
  read_ctx *rd; /* one per series, made when reads start */
  dm_gfetch_cb cb;
  void *arg;
};

typedef struct expand {
  fetch *f;
  const char *pattern;
  size_t idx;
  int literal;
} expand;

size_t dm_glob_literal_prefix(const char *p) {
  size_t i = 0;
  while (p[i] != '\0' && strchr("*?[{", p[i]) == NULL) i++;
  return i;
}

static void add_name(void *arg, const char *name, size_t len) {
  expand *x = arg;
  fetch *f = x->f;
  if (f->status < 0) return;
  if (x->literal ? (strlen(x->pattern) != len) : !dm_glob_match(x->pattern, name, len)) return;
  if (f->n >= f->o.max_series) {
    f->status = DM_ERANGE;
    snprintf(f->err, sizeof f->err, "the targets match more than %zu series "
             "(limits.max_query_series); narrow the pattern", f->o.max_series);
    return;
  }
  if (f->n == f->cap) {
    size_t cap = f->cap ? f->cap * 2 : 16;
    dm_gseries *p = realloc(f->s, cap * sizeof *p);
    if (p == NULL) {
      f->status = DM_ENOMEM;
      return;
    }
    f->s = p;
    f->cap = cap;
  }
  dm_gseries *s = &f->s[f->n];
  memset(s, 0, sizeof *s);
  s->name = malloc(len + 1);
  if (s->name == NULL) {
    f->status = DM_ENOMEM;
    return;
  }
  memcpy(s->name, name, len);
  s->name[len] = '\0';
  s->name_len = len;
  s->pattern = x->idx;
  f->n++;
}

static void free_series(dm_gseries *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(s[i].name);
    free(s[i].v);
  }
  free(s);
}

static void finish(fetch *f) {
  if (f->done) return;
  f->done = 1;
  if (f->status < 0)
    f->cb(f->arg, f->status, f->err[0] ? f->err : dm_strerror(f->status), NULL, 0);
  else
    f->cb(f->arg, 0, NULL, f->s, f->n);
  free_series(f->s, f->n);
  free(f->rd);
  free(f);
}

static void issue(fetch *f);

static void got_points(void *arg, int status, const dm_point *p, size_t n) {
  read_ctx *rd = arg;
  fetch *f = rd->f;
  dm_gseries *s = &f->s[rd->i];
  f->inflight--;
  if (status < 0 && status != DM_ENOENT && f->status == 0) {
    f->status = status;
    snprintf(f->err, sizeof f->err, "reading %s: %s", s->name, dm_strerror(status));
  }
  for (size_t i = 0; status == 0 && i < n; i++) {
    if (p[i].t < s->start) continue;
    uint64_t k = (uint64_t)(p[i].t - s->start) / (uint64_t)s->step;
    if (k < s->n) s->v[k] = p[i].v;
  }
  issue(f);
}

static void issue(fetch *f) {
  if (f->issuing) return; /* a read that completed inside its call: the loop below goes on */
  f->issuing = 1;
  if (f->rd == NULL && f->n > 0 && f->status == 0) {
    f->rd = malloc(f->n * sizeof *f->rd);
    if (f->rd == NULL) f->status = DM_ENOMEM;
  }
  while (f->status == 0 && f->next < f->n && f->inflight < FETCH_PARALLEL) {
    size_t i = f->next++;
    dm_gseries *s = &f->s[i];
    s->start = f->start;
    s->step = f->step;
    s->n = f->slots;
    s->v = malloc((s->n ? s->n : 1) * sizeof *s->v);
    if (s->v == NULL) {
      f->status = DM_ENOMEM;
      break;
    }
    for (size_t k = 0; k < s->n; k++) s->v[k] = NAN;
    if (s->n == 0) continue;
    f->rd[i] = (read_ctx){f, i};
    f->inflight++;
    int64_t last = s->start + (int64_t)(s->n - 1) * s->step;
    int rc = dm_engine_read(f->e, s->name, s->name_len, s->start, last, got_points, &f->rd[i]);
    if (rc < 0) {
      f->inflight--;
      f->status = rc;
      snprintf(f->err, sizeof f->err, "reading %s: %s", s->name, dm_strerror(rc));
    }
  }
  f->issuing = 0;
  if (f->inflight == 0 && (f->status < 0 || f->next >= f->n)) finish(f);
}

int dm_gfetch(dm_engine *e, const char *const *patterns, size_t np, const dm_gfetch_opts *o,
              dm_gfetch_cb cb, void *arg) {
  fetch *f = calloc(1, sizeof *f);
  if (f == NULL) return DM_ENOMEM;
  f->e = e;
  f->o = *o;
  f->cb = cb;
  f->arg = arg;
  f->step = dm_engine_config(e)->step;
  int64_t until = o->until < o->now ? o->until : o->now;
  f->start = o->from - o->from % f->step + f->step;
  int64_t end = until - until % f->step + f->step;
  if (end == f->start) end += f->step; /* whisper: a range inside one interval is that one */
  f->slots = end > f->start ? (size_t)((end - f->start) / f->step) : 0;
  if (o->from > o->now) np = 0; /* all in the future: whisper has nothing */
  for (size_t i = 0; i < np && f->status == 0; i++) {
    expand x = {f, patterns[i], i, !dm_glob_is_pattern(patterns[i])};
    size_t plen = x.literal ? strlen(patterns[i]) : dm_glob_literal_prefix(patterns[i]);
    dm_engine_names(e, patterns[i], plen, add_name, &x);
  }
  if (f->status == 0 && f->n > 0 && (uint64_t)f->slots > o->max_points / f->n) {
    f->status = DM_ERANGE;
    snprintf(f->err, sizeof f->err, "%zu series x %zu points is more than %llu points "
             "(limits.max_query_points); shorten the range or narrow the pattern", f->n,
             f->slots, (unsigned long long)o->max_points);
  }
  issue(f);
  return 0;
}
