/* render_int.h — what the render module's files share: the AST and the error helper. */
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
/* Python's str() of a number: is_int prints an int, else repr(float) ("2.0", "1e+20"). */
void render_pystr(char *out, size_t len, double v, int is_int);

#endif
