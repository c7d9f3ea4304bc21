/* fn_alias.c — the functions that rename series: alias, aliasByNode, aliasByMetric, aliasSub
 * (Python regular expressions run as POSIX ERE), and the node helpers groupByNode shares. */
#include <ctype.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "diamond/error.h"
#include "render_int.h"

static int f_alias(ctx *c, const node *call, tctx t, list *out) {
  const char *name = NULL;
  size_t before = out->n;
  RENDER_FIRST_LIST();
  if (render_need_str(c, call, 1, "newName", &name) < 0) return DM_EINVAL;
  for (size_t i = before; i < out->n; i++)
    if (render_set_str(&out->s[i]->name, name) < 0) return render_oom(c, call);
  return 0;
}

char *render_first_path(const char *name) {
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

long render_to_long(double v) {
  if (!(v > -1e9 && v < 1e9)) return 1000000000L; /* out of range of any name: "" */
  return (long)v;
}

void render_node_of(dm_buf *b, const char *path, long n) {
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
  RENDER_FIRST_LIST();
  for (size_t i = before; i < out->n; i++) {
    char *fp = render_first_path(out->s[i]->name);
    if (fp == NULL) return render_oom(c, call);
    dm_buf b;
    dm_buf_init(&b);
    for (size_t k = 1; k < call->nargs; k++) {
      const node *a = render_posarg(call, k, NULL);
      if (a == NULL) break;
      if (a->kind != N_NUMBER) {
        free(fp);
        dm_buf_free(&b);
        return render_fail(c, DM_EINVAL, a, "aliasByNode: nodes must be numbers");
      }
      if (k > 1) dm_buf_add(&b, ".", 1);
      render_node_of(&b, fp, render_to_long(a->num));
    }
    dm_buf_add(&b, "", 1);
    free(fp);
    if (b.oom) return render_oom(c, call);
    free(out->s[i]->name);
    out->s[i]->name = b.p;
  }
  return 0;
}

static int f_aliasByMetric(ctx *c, const node *call, tctx t, list *out) {
  size_t before = out->n;
  RENDER_FIRST_LIST();
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
    if (r == NULL) return render_oom(c, call);
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
  RENDER_FIRST_LIST();
  if (render_need_str(c, call, 1, "search", &search) < 0 ||
      render_need_str(c, call, 2, "replace", &repl) < 0)
    return DM_EINVAL;
  char *ere = py_to_ere(search);
  if (ere == NULL) return render_oom(c, call);
  regex_t re;
  int rc = regcomp(&re, ere, REG_EXTENDED);
  free(ere);
  if (rc != 0)
    return render_fail(c, DM_EINVAL, render_posarg(call, 1, "search"), "aliasSub: bad regex");
  for (size_t i = before; i < out->n; i++) {
    char *r = regex_sub(&re, repl, out->s[i]->name);
    if (r == NULL) {
      regfree(&re);
      return render_oom(c, call);
    }
    free(out->s[i]->name);
    out->s[i]->name = r;
  }
  regfree(&re);
  return 0;
}

const render_fn_def render_fns_alias[] = {
    RENDER_FN(alias), RENDER_FN(aliasByNode), RENDER_FN(aliasByMetric), RENDER_FN(aliasSub),
    {NULL, NULL},
};
