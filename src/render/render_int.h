/* render_int.h — what the render module's files share: the AST, the evaluation context,
 * the argument and error helpers of eval.c, and the function tables of fn_*.c. */
#ifndef DIAMOND_RENDER_INT_H
#define DIAMOND_RENDER_INT_H

#include <stddef.h>
#include <stdint.h>

#include "diamond/render.h"

typedef enum node_kind { N_PATH, N_CALL, N_STRING, N_NUMBER, N_BOOL, N_NONE } node_kind;

typedef struct node {
  node_kind kind;
  size_t pos;       /* byte offset in its target */
  char *text;       /* path, call name, string value (raw, quotes removed), number text */
  char *kw;         /* keyword argument name, or NULL for a positional one */
  double num;       /* N_NUMBER */
  int is_int;       /* N_NUMBER written without '.' or exponent */
  int b;            /* N_BOOL */
  struct node **args;
  size_t nargs;
} node;

struct dm_render_ast {
  node **targets;
  size_t n;
  dm_render_path *paths; /* phase (a), filled by dm_render_parse */
  const node **path_node;
  size_t npaths, cap;
};

void node_free(node *n);
/* Builds paths[] by walking the targets as the evaluator will. 0 or DM_ENOMEM. */
int render_collect_paths(dm_render_ast *a);

/* series.c */
/* cf over v[0..n), nulls ignored; NaN when all are null (or n == 0). */
double render_cf_apply(dm_render_cf cf, const double *v, size_t n);
/* Groups of vpp values become one (the last group may be short), step *= vpp; start kept. */
int render_consolidate(dm_render_series *s, size_t vpp);
int render_set_str(char **dst, const char *s);
dm_render_series *render_series_copy(const dm_render_series *s);
int64_t render_floor_mod(int64_t a, int64_t m);
/* graphite's end of s: s->end when set, else start + n * step. */
int64_t render_series_end(const dm_render_series *s);
/* Python's str() of a number: is_int prints an int, else repr(float) ("2.0", "1e+20"). */
void render_pystr(char *out, size_t len, double v, int is_int);

/* eval.c: the evaluation context and the helpers the functions (fn_*.c) are written with.
 * A helper that takes the ctx and fails has already recorded its message (render_fail), so
 * a function returns its negative code as it is. */

/* The time context a path is evaluated in (eval.c's essay): both ends moved back shift s,
 * from moved back preview s and psteps steps of each series. */
typedef struct tctx {
  int64_t shift, preview, psteps;
} tctx;

typedef struct ctx {
  const dm_render_ast *a;
  const dm_render_req *req;
  dm_render_fetch_fn fetch;
  void *arg;
  size_t target;
  char *err;
  size_t errlen;
  int failed;              /* the first failure's message is kept */
  size_t nseries, npoints; /* the budgets counted so far */
} ctx;

typedef dm_render_list list;

/* Evaluates a path or a call into out (appended). */
int render_eval(ctx *c, const node *n, tctx t, list *out);
/* Records the first failure: "target T: position P: <message>"; returns rc. */
int render_fail(ctx *c, int rc, const node *at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int render_oom(ctx *c, const node *at); /* render_fail with DM_ENOMEM */
/* Counts n new values against the points budget: 0 or DM_ERANGE. */
int render_budget(ctx *c, const node *at, size_t n);
/* A new series of n values, counted against the budget; NULL on failure (recorded). */
dm_render_series *render_new_series(ctx *c, const node *at, const char *name, int64_t start,
                                    int64_t step, size_t n);

/* Positional argument i, or the keyword argument kw; NULL when absent or none. */
const node *render_posarg(const node *call, size_t i, const char *kw);
/* Graphite offsets: "1d" "-1h" "+30min"; seconds, signed. 0 or <0, no message recorded. */
int render_parse_offset(const char *s, int64_t *out);
/* timeShift's offset: a leading digit means "back". 0 or <0, no message recorded. */
int render_shift_of(const node *arg, int64_t *delta);
/* Adds movingAverage's window (argument 1) to t. 0 or DM_EINVAL, no message recorded. */
int render_preview_of(const node *call, tctx *t);

/* Argument i (or kw) evaluated as a series list into out; missing or not a list is an error. */
int render_arg_list(ctx *c, const node *call, size_t i, const char *kw, tctx t, list *out);
/* arg_*: 1 found (*v set), 0 absent (*v kept), <0 error. need_*: absent is an error too. */
int render_arg_num(ctx *c, const node *call, size_t i, const char *kw, double *v);
int render_need_num(ctx *c, const node *call, size_t i, const char *kw, double *v);
int render_arg_str(ctx *c, const node *call, size_t i, const char *kw, const char **v);
int render_need_str(ctx *c, const node *call, size_t i, const char *kw, const char **v);
int render_arg_bool(ctx *c, const node *call, size_t i, const char *kw, int *v);
/* Sets s->name to a printf result; path_expr too when also_path. 0 or DM_ENOMEM. */
int render_rename(ctx *c, const node *at, dm_render_series *s, int also_path, const char *fmt,
                  ...) __attribute__((format(printf, 5, 6)));
/* A consolidation function's name (average/avg, sum, min, max, first, last): 0 or DM_EINVAL. */
int render_parse_cf(const char *s, dm_render_cf *cf);

/* Combining series: the row functions of the *Series aggregates. */
typedef enum agg { A_SUM, A_AVG, A_MAX, A_MIN, A_DIFF, A_MUL } agg;
extern const char *const render_agg_names[]; /* by agg: "sum", "average", .. "multiply" */
/* graphite-web's normalize(): every series of l consolidated to the lcm step (in place);
 * gives the common start, end and step. */
void render_normalize(list *l, int64_t *start, int64_t *end, int64_t *step);
/* ','.join of the distinct pathExpressions, in order; NULL when out of memory. */
char *render_path_exprs(const list *l);
/* Rows of l (normalized here) zipped by index into one new series named name; NULL on failure. */
dm_render_series *render_aggregate(ctx *c, const node *at, list *l, agg f, const char *name);

/* Evaluates argument 0 into out, for a function that then transforms each series of
 * out[before..] in place; expects c, call, t and out in scope and returns on failure. */
#define RENDER_FIRST_LIST()                                                 \
  do {                                                                      \
    int rc_ = render_arg_list(c, call, 0, "seriesList", t, out);            \
    if (rc_ < 0) return rc_;                                                \
  } while (0)

/* fn_*.c: the functions, a table per family, each ended by {NULL, NULL}. */
typedef int (*render_fn)(ctx *c, const node *call, tctx t, list *out);
typedef struct render_fn_def {
  const char *name;
  render_fn fn;
} render_fn_def;
#define RENDER_FN(x) {#x, f_##x} /* the entry of function x, written as static f_x */

extern const render_fn_def render_fns_alias[];     /* fn_alias.c: the alias* functions */
extern const render_fn_def render_fns_combine[];   /* fn_combine.c: several series into one */
extern const render_fn_def render_fns_transform[]; /* fn_transform.c: one series at a time */
extern const render_fn_def render_fns_filter[];    /* fn_filter.c: selection and ordering */

/* fn_transform.c, also used by fn_filter.c: op(v, n) over every value of argument 0's
 * series, n = argument 1 (kw, a number); each renamed "<fn>(<name>,<sep><n>)". */
int render_pointwise(ctx *c, const node *call, tctx t, list *out, const char *fn,
                     const char *kw, const char *sep, double (*op)(double v, double n));

/* fn_alias.c, also used by groupByNode */
/* The first path expression inside a series name (graphite's _getFirstPathExpression). */
char *render_first_path(const char *name);
/* A node index from a double argument, without undefined conversions. */
long render_to_long(double v);
/* Node n of path (negative from the end), or "" when out of range; appended to b. */
void render_node_of(dm_buf *b, const char *path, long n);

#endif
