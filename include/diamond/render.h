/* render.h — the Graphite /render core: target parser, evaluator, functions, maxDataPoints
 * consolidation and the json/csv writers. Pure computation: no I/O, no loop, no clock.
 *
 * A request is evaluated in two phases so the storage reads can be asynchronous:
 *
 *   dm_render_ast *ast;
 *   dm_render_parse(&ast, targets, lens, ntargets, err, sizeof err);    // 400 on DM_EINVAL
 *   size_t np = dm_render_paths(ast, &paths);  // (a) every pattern the targets read
 *   for each paths[i]: expand paths[i].pattern with dm_glob_match over the name index,
 *       dm_render_path_range(&paths[i], from, until, step, &f, &u), read each series over
 *       [f, u] through the engine, turn it into a dm_render_series (dm_render_series_grid)
 *   dm_render_eval(ast, &req, fetch, arg, &out, err, sizeof err);       // (b) synchronous
 *   dm_render_maxpoints(&out, from, until, maxDataPoints);              // json only
 *   dm_render_json(&buf, &out, noNullPoints);
 *   dm_render_list_free(&out); dm_render_ast_free(ast);
 *
 * Times are Unix seconds. A value is a double; NaN means null (graphite's None). Every
 * function returning int gives 0 or a negative DM_* code; err (when errlen > 0) then holds a
 * message for the user ("target 1: position 14: expected ')' or ','").
 */
#ifndef DIAMOND_RENDER_H
#define DIAMOND_RENDER_H

#include <stddef.h>
#include <stdint.h>

#include "diamond/buf.h"

#define DM_RENDER_MAX_DEPTH 32         /* nested calls in one target */
#define DM_RENDER_MAX_TARGET 8192      /* bytes in one target */

/* Consolidation functions (consolidateBy, maxDataPoints, normalize, summarize). */
typedef enum dm_render_cf {
  DM_CF_AVG = 0, /* "average" / "avg": the default */
  DM_CF_SUM,
  DM_CF_MIN,
  DM_CF_MAX,
  DM_CF_FIRST,
  DM_CF_LAST,
} dm_render_cf;

/* One series on a regular grid: value i is at start + i * step (i < n). */
typedef struct dm_render_series {
  char *name;      /* the "target" shown; owned, NUL-terminated */
  char *tag_name;  /* tags.name: the metric path it came from (aggregates: their name) */
  char *path_expr; /* graphite's pathExpression: the pattern that fetched it, or the name */
  int64_t start, step;
  size_t n;
  double *v; /* n values, NaN = null; owned */
  dm_render_cf cf;
  int64_t end; /* graphite's end where it is not start + n * step, else 0: constantLine's is
                * until, its last timestamp (maxDataPoints' time range is max end - min start) */
} dm_render_series;

typedef struct dm_render_list {
  dm_render_series **s; /* owned */
  size_t n, cap;
} dm_render_list;

/* A new series named name (tag_name and path_expr = name too) with n null values. NULL on
 * allocation failure. */
dm_render_series *dm_render_series_new(const char *name, size_t name_len, int64_t start,
                                       int64_t step, size_t n);
void dm_render_series_free(dm_render_series *s);
/* A deep copy (what a fetch callback hands over from its store). NULL on allocation failure. */
dm_render_series *dm_render_series_copy(const dm_render_series *s);
/* Appends s (ownership passes, also on failure). 0 or DM_ENOMEM. */
int dm_render_list_add(dm_render_list *l, dm_render_series *s);
void dm_render_list_free(dm_render_list *l); /* frees the series too; l is reset */

/* A series as graphite-web's whisper fetch returns it for [from, until]: the grid runs from
 * floor(from/step)*step + step to floor(until/step)*step + step (exclusive; one interval
 * when those are equal), one value per step; the points (times floored to step; a later
 * duplicate wins) fill it, the rest is null. Empty when until < from. */
dm_render_series *dm_render_series_grid(const char *name, size_t name_len, int64_t from,
                                        int64_t until, int64_t step, const int64_t *ts,
                                        const double *vs, size_t npts);

/* ---- phase 0: parse ---- */
typedef struct dm_render_ast dm_render_ast; /* opaque: the parsed targets */

/* Parses n targets (graphite-web's grammar: paths with globs, calls, strings, numbers,
 * booleans, name=value keyword arguments). Positions in messages are 0-based byte offsets
 * into that target; targets are counted from 1. DM_EINVAL (syntax, depth > 32, target >
 * 8 KiB), DM_ENOMEM. */
int dm_render_parse(dm_render_ast **out, const char *const *targets, const size_t *lens,
                    size_t n, char *err, size_t errlen);
void dm_render_ast_free(dm_render_ast *a);

/* ---- phase (a): what to fetch ---- */
typedef struct dm_render_path {
  const char *pattern;   /* a Graphite glob, NUL-terminated; owned by the ast */
  int64_t shift;         /* seconds to subtract from from and until (timeShift) */
  int64_t preview;       /* extra seconds before from (movingAverage with a time window) */
  int64_t preview_steps; /* extra steps before from (movingAverage with a point count) */
} dm_render_path;

/* Every fetch the targets need, in evaluation order; *out stays valid while the ast lives.
 * The same pattern may appear several times with different shifts. */
size_t dm_render_paths(const dm_render_ast *a, const dm_render_path **out);
/* The read range of path p for a request [from, until] over series of this step. */
void dm_render_path_range(const dm_render_path *p, int64_t from, int64_t until, int64_t step,
                          int64_t *rfrom, int64_t *runtil);

/* ---- phase (b): evaluate ---- */
/* Called for each path the evaluation reaches, with the index of its dm_render_paths() entry
 * (an entry may be asked for again: answer the same): append the series fetched for
 * paths[index] to out (copies, dm_render_series_copy: the evaluator owns and changes them).
 * Return 0 or a negative DM_* code, which aborts the evaluation. */
typedef int (*dm_render_fetch_fn)(void *arg, size_t index, const dm_render_path *p,
                                  dm_render_list *out);

typedef struct dm_render_req {
  int64_t from, until;  /* the request's range (constantLine, summarize alignToFrom) */
  size_t max_series;    /* fetched series over all targets; 0 = no limit */
  size_t max_points;    /* values fetched plus values computed, summed over the whole
                         * evaluation (an upper bound on what is held); 0 = no limit */
} dm_render_req;

/* Evaluates every target in order and appends the results to out. DM_EINVAL (unknown
 * function, bad argument: the message names target, position and function), DM_ERANGE
 * (a budget exceeded), DM_ENOMEM, or what fetch returned. On error out holds what was
 * appended before: free it. */
int dm_render_eval(const dm_render_ast *a, const dm_render_req *req, dm_render_fetch_fn fetch,
                   void *arg, dm_render_list *out, char *err, size_t errlen);

/* ---- output ---- */
/* maxDataPoints as graphite-web 1.1's json view applies it to each series, the time range
 * being that of the results (min start .. max end), not the request's (see series.c):
 * from and until are not used (kept so the first callers build). 0 = none. Returns 0. */
int dm_render_maxpoints(dm_render_list *l, int64_t from, int64_t until, size_t max_points);
/* [{"target":..,"tags":{"name":..},"datapoints":[[v|null,ts],..]},..]; no_null drops null
 * points and then series left without points. */
void dm_render_json(dm_buf *b, const dm_render_list *l, int no_null);
/* graphite-web's csv: one "name,YYYY-MM-DD HH:MM:SS,value\r\n" row per value (UTC; graphite
 * uses its TIME_ZONE setting), the value as Python's str(float) ("2.0"), null as an empty
 * field, names holding ',' '"' CR or LF quoted as the excel dialect does. */
void dm_render_csv(dm_buf *b, const dm_render_list *l);

#endif
