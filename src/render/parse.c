/* parse.c — graphite-web's target grammar, by recursive descent.
 *
 *   target     = expression
 *   expression = (call | path) { '|' call }     a|f(x) is f(a, x)
 *   call       = name '(' [ arg { ',' arg } ] ')'          name = [A-Za-z_][A-Za-z0-9_]*
 *   arg        = name '=' value | value
 *   value      = string | number | boolean | none | inf | expression
 *   string     = '\'' ... '\'' | '"' ... '"'   a backslash keeps the next byte in the
 *                string; the text is kept raw as graphite-web keeps it ("\1" stays \1)
 *   number     = [-+]? (digits [. digits] | . digits) [e [-+] digits], then ',' or ')'
 *   boolean    = true | false (any case), then ',' or ')'; none = None (the argument is
 *                absent); inf = float('inf')
 *   path       = bytes other than space ( ) ' " , | \ and controls; inside {..} ',' is part
 *                of the path. A name followed by '=' in an argument list is a keyword.
 * Wider than graphite-web in three harmless ways: numbers may have '+' / ".5", positional
 * arguments may follow keyword ones, and a backslash-escaped symbol in a path is refused.
 * Spaces are allowed around arguments.
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diamond/error.h"
#include "render_int.h"

typedef struct parser {
  const char *s;
  size_t len, i;
  size_t target; /* 1-based */
  char *err;
  size_t errlen;
  int failed;
} parser;

static void fail(parser *p, size_t pos, const char *fmt, ...) {
  if (p->failed) return;
  p->failed = 1;
  if (p->errlen == 0) return;
  int k = snprintf(p->err, p->errlen, "target %zu: position %zu: ", p->target, pos);
  if (k < 0 || (size_t)k >= p->errlen) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(p->err + k, p->errlen - (size_t)k, fmt, ap);
  va_end(ap);
}

void node_free(node *n) {
  if (n == NULL) return;
  for (size_t i = 0; i < n->nargs; i++) node_free(n->args[i]);
  free(n->args);
  free(n->text);
  free(n->kw);
  free(n);
}

static node *new_node(parser *p, node_kind k, size_t pos, size_t from, size_t to) {
  node *n = calloc(1, sizeof *n);
  if (n != NULL) n->text = strndup(p->s + from, to - from);
  if (n == NULL || n->text == NULL) {
    free(n);
    fail(p, pos, "out of memory");
    return NULL;
  }
  n->kind = k;
  n->pos = pos;
  return n;
}

static void skip_space(parser *p) {
  while (p->i < p->len && (p->s[p->i] == ' ' || p->s[p->i] == '\t')) p->i++;
}

static int is_name_start(char c) { return isalpha((unsigned char)c) || c == '_'; }
static int is_name_char(char c) { return isalnum((unsigned char)c) || c == '_'; }

/* The end of a path starting at i (== i when there is none). */
static size_t path_end(const parser *p, size_t i) {
  int brace = 0;
  for (; i < p->len; i++) {
    char c = p->s[i];
    if (c == '{') brace++;
    else if (c == '}' && brace > 0) brace--;
    else if (c == ',' && brace > 0) continue;
    else if (c == ' ' || c == '\t' || c == '(' || c == ')' || c == '\'' || c == '"' ||
             c == ',' || c == '|' || c == '\\' || (unsigned char)c < 0x20 || c == 0x7f)
      break;
  }
  return i;
}

/* The next byte after spaces from i is ',' or ')' (or the end, reported by the caller). */
static int arg_ends(const parser *p, size_t i) {
  while (i < p->len && (p->s[i] == ' ' || p->s[i] == '\t')) i++;
  return i < p->len && (p->s[i] == ',' || p->s[i] == ')');
}

static size_t number_end(const parser *p, size_t i, int *is_int) {
  size_t j = i, digits = 0;
  *is_int = 1;
  if (j < p->len && (p->s[j] == '-' || p->s[j] == '+')) j++;
  while (j < p->len && isdigit((unsigned char)p->s[j])) j++, digits++;
  if (j < p->len && p->s[j] == '.') {
    *is_int = 0;
    j++;
    while (j < p->len && isdigit((unsigned char)p->s[j])) j++, digits++;
  }
  if (digits == 0) return i;
  if (j < p->len && (p->s[j] == 'e' || p->s[j] == 'E')) {
    size_t k = j + 1;
    if (k < p->len && (p->s[k] == '-' || p->s[k] == '+')) k++;
    size_t d = k;
    while (k < p->len && isdigit((unsigned char)p->s[k])) k++;
    if (k > d) {
      j = k;
      *is_int = 0;
    }
  }
  return j;
}

static node *parse_expr(parser *p, int depth);
static node *parse_term(parser *p, int depth);

static node *parse_value(parser *p, int depth) {
  skip_space(p);
  size_t pos = p->i;
  if (pos >= p->len) {
    fail(p, pos, "expected an argument");
    return NULL;
  }
  char c = p->s[pos];
  if (c == '\'' || c == '"') {
    size_t j = pos + 1;
    while (j < p->len && p->s[j] != c) j += p->s[j] == '\\' ? 2 : 1;
    if (j >= p->len) {
      fail(p, pos, "unterminated string");
      return NULL;
    }
    node *n = new_node(p, N_STRING, pos, pos + 1, j);
    p->i = j + 1;
    return n;
  }
  int is_int;
  size_t e = number_end(p, pos, &is_int);
  if (e > pos && arg_ends(p, e)) {
    node *n = new_node(p, N_NUMBER, pos, pos, e);
    if (n == NULL) return NULL;
    n->num = strtod(n->text, NULL);
    n->is_int = is_int;
    p->i = e;
    return n;
  }
  for (int b = 0; b < 4; b++) {
    static const char *const words[] = {"false", "true", "none", "inf"};
    const char *w = words[b];
    size_t wl = strlen(w);
    if (p->len - pos >= wl && strncasecmp(p->s + pos, w, wl) == 0 && arg_ends(p, pos + wl)) {
      node *n = new_node(p, b < 2 ? N_BOOL : b == 2 ? N_NONE : N_NUMBER, pos, pos, pos + wl);
      if (n == NULL) return NULL;
      n->b = b == 1;
      n->num = INFINITY;
      p->i = pos + wl;
      return n;
    }
  }
  return parse_expr(p, depth);
}

static int add_arg(parser *p, node *call, node *arg) {
  node **a = realloc(call->args, (call->nargs + 1) * sizeof *a);
  if (a == NULL) {
    node_free(arg);
    fail(p, p->i, "out of memory");
    return -1;
  }
  call->args = a;
  a[call->nargs++] = arg;
  return 0;
}

static node *parse_term(parser *p, int depth) {
  skip_space(p);
  size_t pos = p->i;
  size_t e = path_end(p, pos);
  if (e == pos) {
    if (pos >= p->len) fail(p, pos, "expected an expression");
    else fail(p, pos, "expected an expression, found '%c'", p->s[pos]);
    return NULL;
  }
  int ident = is_name_start(p->s[pos]);
  for (size_t k = pos; ident && k < e; k++) ident = is_name_char(p->s[k]);
  if (!(ident && e < p->len && p->s[e] == '(')) {
    p->i = e;
    return new_node(p, N_PATH, pos, pos, e);
  }
  if (depth >= DM_RENDER_MAX_DEPTH) {
    fail(p, pos, "calls nested deeper than %d", DM_RENDER_MAX_DEPTH);
    return NULL;
  }
  node *call = new_node(p, N_CALL, pos, pos, e);
  if (call == NULL) return NULL;
  p->i = e + 1;
  skip_space(p);
  if (p->i < p->len && p->s[p->i] == ')') {
    p->i++;
    return call;
  }
  for (;;) {
    skip_space(p);
    size_t apos = p->i, k = apos;
    char *kw = NULL;
    if (k < p->len && is_name_start(p->s[k])) {
      while (k < p->len && is_name_char(p->s[k])) k++;
      size_t nend = k;
      while (k < p->len && (p->s[k] == ' ' || p->s[k] == '\t')) k++;
      if (k < p->len && p->s[k] == '=') {
        kw = strndup(p->s + apos, nend - apos);
        if (kw == NULL) {
          fail(p, apos, "out of memory");
          goto fail;
        }
        p->i = k + 1;
      }
    }
    node *arg = parse_value(p, depth + 1);
    if (arg == NULL) {
      free(kw);
      goto fail;
    }
    arg->kw = kw;
    if (kw != NULL) arg->pos = apos;
    if (add_arg(p, call, arg) < 0) goto fail;
    skip_space(p);
    if (p->i < p->len && p->s[p->i] == ',') {
      p->i++;
      continue;
    }
    if (p->i < p->len && p->s[p->i] == ')') {
      p->i++;
      return call;
    }
    fail(p, p->i, "expected ')' or ','");
    goto fail;
  }
fail:
  node_free(call);
  return NULL;
}

/* term { '|' call }: each piped call gets the expression so far as its first argument. */
static node *parse_expr(parser *p, int depth) {
  node *e = parse_term(p, depth);
  for (;;) {
    if (e == NULL) return NULL;
    size_t save = p->i;
    skip_space(p);
    if (p->i >= p->len || p->s[p->i] != '|') {
      p->i = save;
      return e;
    }
    p->i++;
    skip_space(p);
    size_t cpos = p->i;
    node *call = parse_term(p, depth);
    if (call == NULL) {
      node_free(e);
      return NULL;
    }
    if (call->kind != N_CALL) {
      fail(p, cpos, "expected a function call after '|'");
      node_free(call);
      node_free(e);
      return NULL;
    }
    node **a = realloc(call->args, (call->nargs + 1) * sizeof *a);
    if (a == NULL) {
      fail(p, cpos, "out of memory");
      node_free(call);
      node_free(e);
      return NULL;
    }
    memmove(a + 1, a, call->nargs * sizeof *a);
    a[0] = e;
    call->args = a;
    call->nargs++;
    e = call;
  }
}

int dm_render_parse(dm_render_ast **out, const char *const *targets, const size_t *lens,
                    size_t n, char *err, size_t errlen) {
  if (errlen > 0) err[0] = '\0';
  dm_render_ast *a = calloc(1, sizeof *a);
  if (a == NULL) return DM_ENOMEM;
  a->targets = calloc(n ? n : 1, sizeof *a->targets);
  if (a->targets == NULL) {
    free(a);
    return DM_ENOMEM;
  }
  int rc = 0;
  for (size_t t = 0; t < n; t++) {
    parser p = {.s = targets[t], .len = lens[t], .target = t + 1, .err = err, .errlen = errlen};
    if (lens[t] > DM_RENDER_MAX_TARGET) {
      fail(&p, DM_RENDER_MAX_TARGET, "target longer than %d bytes", DM_RENDER_MAX_TARGET);
      rc = DM_EINVAL;
      goto fail;
    }
    if (memchr(targets[t], '\0', lens[t]) != NULL) {
      fail(&p, (size_t)((const char *)memchr(targets[t], '\0', lens[t]) - targets[t]),
           "NUL byte in target");
      rc = DM_EINVAL;
      goto fail;
    }
    node *root = parse_expr(&p, 0);
    if (root != NULL) {
      skip_space(&p);
      if (p.i < p.len) {
        fail(&p, p.i, "unexpected '%c' after the expression", p.s[p.i]);
        node_free(root);
        root = NULL;
      }
    }
    if (root == NULL) {
      rc = DM_EINVAL;
      goto fail;
    }
    a->targets[a->n++] = root;
  }
  rc = render_collect_paths(a);
  if (rc < 0) goto fail;
  *out = a;
  return 0;
fail:
  dm_render_ast_free(a);
  return rc;
}

void dm_render_ast_free(dm_render_ast *a) {
  if (a == NULL) return;
  for (size_t i = 0; i < a->n; i++) node_free(a->targets[i]);
  free(a->targets);
  free(a->paths);
  free(a->path_node);
  free(a);
}
