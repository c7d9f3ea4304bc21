/* graphite_find.c — the Graphite metric browser: /metrics/find, /metrics/expand and
 * /metrics/index.json, in graphite-web's reply shapes, over the engine's sorted name index.
 *
 * A query is a Graphite glob of k segments; a "node" is the first k segments of a known
 * name that match it: a leaf when the name has exactly k segments, a branch when it has
 * more (a node can be both: "a.b" and "a.b.c"). Finding them must stay fast with a million
 * names, so the walk never visits every name under a branch:
 *
 *   1. Only names starting with the glob's literal prefix (the bytes before the first
 *      metacharacter) are walked: dm_engine_names_walk bisects to them.
 *   2. Each name is cut after its k-th segment and the cut is matched with dm_glob_match.
 *   3. A name with more than k segments stands for every name sharing its first k
 *      segments plus the dot: whether it matched or not, the walk skips all of them (a
 *      galloping search in the sorted index). So a find visits about one name per distinct
 *      node at depth k, plus the leaves at depth k.
 *   4. Before that, each level i < k whose pattern segment can reject (not a bare "*", not
 *      inside the literal prefix) is matched on its own: a name failing at level i skips
 *      every name sharing its first i segments. "*.h123.*" then visits one name per
 *      top-level node and per host instead of every leaf.
 *   5. A level after the literal prefix whose segment starts with literal text L ("m7" of
 *      "host.*.m7", "m1" of "host.*.m1*") seeks: with P the name's first i segments and
 *      the dot, a name below P + L jumps to the first name >= P + L (a galloping search),
 *      and a name past every P + L... skips the rest of P. When L is the whole segment
 *      ("m7"), a name whose segment only starts with it ("m7-a", "m70") seeks to P + L + "."
 *      or skips the rest of P the same way. "host.*.m7" over 10,000 hosts x 100 metrics
 *      then visits about 3 names a host (one before m7, m7, m70) instead of 100.
 *
 * The nodes come out in name order, which is not quite node order ('-' sorts before '.',
 * so "a.b-x" falls between leaf "a.b" and branch "a.b"): they are sorted and merged at the
 * end. More than limits.max_query_series nodes is refused with a 422 naming the limit (as
 * every read budget), and the walk stops there. treejson lists a node name once however many paths have it (the
 * query editor's "host.*.*" is every host's children, a few distinct names), so for it
 * nodes are merged by name during the walk and the budget counts distinct names; memory
 * stays within the budget and time within the visits above.
 *
 * from/until are accepted and ignored: the index keeps names, not when they had points.
 */
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "diamond/buf.h"
#include "diamond/error.h"
#include "diamond/names.h"

enum { MAX_PRUNE = 16 }; /* levels checked one by one before the whole match */

typedef struct node {
  const char *path; /* points into the name index: valid until the loop turn ends */
  size_t len;
  unsigned leaf : 1, branch : 1;
} node;

typedef struct walk {
  const char *pattern;
  size_t segs; /* segments in the pattern */
  size_t budget;
  int leaves_only;
  int by_text; /* treejson: one node per last segment, merged as the walk goes */
  node *nodes;
  size_t n, cap;
  size_t *slots, nslots; /* by_text: hash set of node index + 1, power-of-two size */
  int over, oom;
  /* pruning: prune[i] is the pattern's first i + 1 segments (NUL-terminated), or NULL when
   * that level cannot reject a name (a bare "*", or inside the literal prefix) */
  char *prune_buf;
  const char *prune[MAX_PRUNE];
  size_t nprune;
  /* seeking: lit[i] / lit_len[i] the literal text level i's segment starts with (into the
   * pattern), 0 when none or when the walk's prefix already decides the level */
  const char *lit[MAX_PRUNE];
  size_t lit_len[MAX_PRUNE], nlit;
  unsigned char lit_all[MAX_PRUNE]; /* lit[i] is level i's whole segment */
  char *seek_buf; /* P + L of the last seek */
  size_t seek_cap;
  dm_names_seek seek;
} walk;

/* Segments of a glob: dots outside [] and {} plus one. */
static size_t glob_segments(const char *p) {
  size_t n = 1;
  int depth = 0, cls = 0;
  for (; *p; p++) {
    if (cls) {
      if (*p == ']') cls = 0;
    } else if (*p == '[') {
      cls = strchr(p, ']') != NULL;
    } else if (*p == '{') {
      depth += strchr(p, '}') != NULL;
    } else if (*p == '}' && depth > 0) {
      depth--;
    } else if (*p == '.' && depth == 0) {
      n++;
    }
  }
  return n;
}

static size_t literal_prefix(const char *p) { return strcspn(p, "*?[{"); }

/* by_text: the node already holding text, or NULL. */
static node *text_lookup(walk *w, const char *t, size_t tl, uint64_t h) {
  if (w->nslots == 0) return NULL;
  for (size_t j = h & (w->nslots - 1); w->slots[j]; j = (j + 1) & (w->nslots - 1)) {
    node *x = &w->nodes[w->slots[j] - 1];
    if (x->len == tl && memcmp(x->path, t, tl) == 0) return x;
  }
  return NULL;
}

static int text_index(walk *w) { /* indexes w->nodes[w->n - 1], growing the set first */
  if (w->n * 2 > w->nslots) {
    size_t n = w->nslots ? w->nslots * 2 : 64;
    size_t *slots = calloc(n, sizeof *slots);
    if (slots == NULL) return DM_ENOMEM;
    free(w->slots);
    w->slots = slots;
    w->nslots = n;
    for (size_t i = 0; i + 1 < w->n; i++) {
      size_t j = dm_name_hash(w->nodes[i].path, w->nodes[i].len) & (n - 1);
      while (slots[j]) j = (j + 1) & (n - 1);
      slots[j] = i + 1;
    }
  }
  const node *x = &w->nodes[w->n - 1];
  size_t j = dm_name_hash(x->path, x->len) & (w->nslots - 1);
  while (w->slots[j]) j = (j + 1) & (w->nslots - 1);
  w->slots[j] = w->n;
  return 0;
}

/* Compares the rest of a name s[0..n) with literal text l[0..ln): < 0 when the name sorts
 * before every name starting with it, 0 when it starts with it, > 0 when after all of them. */
static int cmp_lit(const char *s, size_t n, const char *l, size_t ln) {
  int c = memcmp(s, l, n < ln ? n : ln);
  return c != 0 ? c : n < ln ? -1 : 0;
}

/* DM_NAMES_SEEK to name[0..d) + level i's literal text (+ "." if dot), or DM_NAMES_STOP
 * without memory. */
static size_t seek_to(walk *w, const char *name, size_t d, size_t i, int dot) {
  size_t n = d + w->lit_len[i] + (dot ? 1 : 0);
  if (n > w->seek_cap) {
    char *p = realloc(w->seek_buf, n);
    if (p == NULL) {
      w->oom = 1;
      return DM_NAMES_STOP;
    }
    w->seek_buf = p;
    w->seek_cap = n;
  }
  memcpy(w->seek_buf, name, d);
  memcpy(w->seek_buf + d, w->lit[i], w->lit_len[i]);
  if (dot) w->seek_buf[n - 1] = '.';
  w->seek = (dm_names_seek){w->seek_buf, n};
  return DM_NAMES_SEEK;
}

static size_t visit(void *arg, const char *name, size_t len) {
  walk *w = arg;
  size_t cut = 0, seg = 1; /* cut: end of the first segs segments */
  for (; cut < len; cut++)
    if (name[cut] == '.' && ++seg > w->segs) break;
  int leaf = cut == len;
  if (leaf && seg < w->segs) return 0; /* fewer segments than the pattern: no match */
  size_t levels = w->nprune > w->nlit ? w->nprune : w->nlit;
  for (size_t i = 0, d = 0; i < levels; i++) { /* d: where level i's segment starts */
    size_t end = d;
    while (end < len && name[end] != '.') end++; /* the name has at least segs segments */
    if (i < w->nlit && w->lit_len[i] > 0) {
      int c = cmp_lit(name + d, len - d, w->lit[i], w->lit_len[i]);
      if (c < 0) return seek_to(w, name, d, i, 0);
      if (c > 0) return d > 0 ? d : DM_NAMES_STOP; /* past every P + L: the rest of P */
      size_t after = d + w->lit_len[i]; /* the segment is exactly L, or no match */
      if (w->lit_all[i] && after < len && name[after] != '.') {
        if ((unsigned char)name[after] < '.') return seek_to(w, name, d, i, 1);
        return d > 0 ? d : DM_NAMES_STOP;
      }
    }
    /* a level that fails rejects every name sharing it: skip them */
    if (i < w->nprune && w->prune[i] != NULL && !dm_glob_match(w->prune[i], name, end))
      return end + 1;
    d = end + 1;
  }
  if (dm_glob_match(w->pattern, name, cut) && (leaf || !w->leaves_only)) {
    const char *path = name;
    size_t plen = cut;
    if (w->by_text) { /* keep only the last segment; a text seen before is merged */
      path = name + cut;
      while (path > name && path[-1] != '.') path--;
      plen = (size_t)(name + cut - path);
      node *x = text_lookup(w, path, plen, dm_name_hash(path, plen));
      if (x != NULL) {
        x->leaf |= (unsigned)leaf;
        x->branch |= (unsigned)!leaf;
        return leaf ? 0 : cut + 1;
      }
    }
    if (w->n == w->budget) {
      w->over = 1;
      return DM_NAMES_STOP;
    }
    if (w->n == w->cap) {
      size_t cap = w->cap ? w->cap * 2 : 64;
      node *p = realloc(w->nodes, cap * sizeof *p);
      if (p == NULL) {
        w->oom = 1;
        return DM_NAMES_STOP;
      }
      w->nodes = p;
      w->cap = cap;
    }
    w->nodes[w->n++] = (node){path, plen, (unsigned)leaf, (unsigned)!leaf};
    if (w->by_text && text_index(w) < 0) {
      w->oom = 1;
      return DM_NAMES_STOP;
    }
  }
  return leaf ? 0 : cut + 1; /* skip every name under this branch */
}

static int cmp_node(const void *a, const void *b) {
  const node *x = a, *y = b;
  size_t m = x->len < y->len ? x->len : y->len;
  int c = memcmp(x->path, y->path, m);
  if (c != 0) return c;
  return x->len < y->len ? -1 : x->len > y->len;
}

/* Sorted, one entry per path with both flags merged. */
static void sort_merge(walk *w) {
  if (w->n > 1) qsort(w->nodes, w->n, sizeof *w->nodes, cmp_node);
  size_t out = 0;
  for (size_t i = 0; i < w->n; i++) {
    if (out > 0 && cmp_node(&w->nodes[out - 1], &w->nodes[i]) == 0) {
      w->nodes[out - 1].leaf |= w->nodes[i].leaf;
      w->nodes[out - 1].branch |= w->nodes[i].branch;
    } else {
      w->nodes[out++] = w->nodes[i];
    }
  }
  w->n = out;
}

/* Walks one pattern into w (appending). 0, DM_ERANGE (over budget) or DM_ENOMEM. */
/* Sets w->prune for pattern: one prefix pattern per level before the last, except levels a
 * bare "*" or the literal prefix already decide. None when a '.' sits inside {} or [] (the
 * levels of the alternatives would differ). */
static int prune_levels(walk *w, const char *pattern, size_t lit) {
  free(w->prune_buf);
  w->prune_buf = NULL;
  w->nprune = 0;
  if (w->segs < 2) return 0;
  size_t n = strlen(pattern), levels = w->segs - 1 < MAX_PRUNE ? w->segs - 1 : MAX_PRUNE;
  size_t ends[MAX_PRUNE], k = 0;
  int depth = 0, cls = 0;
  for (size_t i = 0; i < n && k < levels; i++) { /* the same scan as glob_segments */
    char c = pattern[i];
    if (cls) {
      if (c == ']') cls = 0;
      else if (c == '.') return 0;
    } else if (c == '[') {
      cls = strchr(pattern + i, ']') != NULL;
    } else if (c == '{') {
      depth += strchr(pattern + i, '}') != NULL;
    } else if (c == '}' && depth > 0) {
      depth--;
    } else if (c == '.') {
      if (depth > 0) return 0;
      ends[k++] = i;
    }
  }
  w->prune_buf = malloc(k * (n + 1));
  if (w->prune_buf == NULL) return DM_ENOMEM;
  int any = 0;
  for (size_t i = 0; i < k; i++) {
    size_t start = i == 0 ? 0 : ends[i - 1] + 1;
    char *p = w->prune_buf + i * (n + 1);
    memcpy(p, pattern, ends[i]);
    p[ends[i]] = '\0';
    int star = ends[i] - start == 1 && pattern[start] == '*';
    w->prune[i] = star || ends[i] <= lit ? NULL : p;
    any |= w->prune[i] != NULL;
  }
  w->nprune = any ? k : 0;
  return 0;
}

/* Sets w->lit for pattern: each level's leading literal text, for the levels that start
 * after the walk's literal prefix. None when a '.' sits inside {} or [] (as prune_levels). */
static void seek_levels(walk *w, const char *pattern, size_t lit) {
  w->nlit = 0;
  size_t start = 0, i = 0, k = 0;
  int depth = 0, cls = 0;
  for (;; i++) {
    char c = pattern[i];
    if (cls) {
      if (c == ']') cls = 0;
      else if (c == '.' || c == '\0') return;
      continue;
    }
    if (c == '[') {
      cls = strchr(pattern + i, ']') != NULL;
    } else if (c == '{') {
      depth += strchr(pattern + i, '}') != NULL;
    } else if (c == '}' && depth > 0) {
      depth--;
    } else if (c == '.' && depth > 0) {
      w->nlit = 0;
      return;
    } else if (c == '.' || c == '\0') { /* the end of level k: [start, i) */
      if (k == MAX_PRUNE) break;
      size_t n = strcspn(pattern + start, "*?[{.");
      if (start + n > i) n = i - start;
      w->lit[k] = pattern + start;
      w->lit_len[k] = start > lit ? n : 0;
      w->lit_all[k] = start + n == i;
      k++;
      start = i + 1;
    }
    if (c == '\0') break;
  }
  if (depth > 0) k = 0; /* an unbalanced '{' was counted: be safe, do not seek */
  w->nlit = k;
}

static int find_nodes(dm_engine *e, const char *pattern, walk *w) {
  w->pattern = pattern;
  w->segs = glob_segments(pattern);
  size_t lit = literal_prefix(pattern);
  if (prune_levels(w, pattern, lit) < 0) return DM_ENOMEM;
  seek_levels(w, pattern, lit);
  dm_engine_names_walk(e, pattern, lit, visit, w, &w->seek);
  free(w->prune_buf);
  w->prune_buf = NULL;
  w->nprune = 0;
  free(w->seek_buf);
  w->seek_buf = NULL;
  w->seek_cap = 0;
  w->nlit = 0;
  if (w->oom) return DM_ENOMEM;
  if (w->over) return DM_ERANGE;
  return 0;
}

static const char *last_seg(const node *x) {
  const char *s = x->path + x->len;
  while (s > x->path && s[-1] != '.') s--;
  return s;
}

/* graphite-web lists completer and treejson nodes by node name (the last segment), not by
 * path; ties by path here, where graphite-web leaves them in its store's order. */
static int cmp_by_name(const void *a, const void *b) {
  const node *x = a, *y = b;
  const char *sx = last_seg(x), *sy = last_seg(y);
  node nx = {sx, (size_t)(x->path + x->len - sx), 0, 0};
  node ny = {sy, (size_t)(y->path + y->len - sy), 0, 0};
  int c = cmp_node(&nx, &ny);
  return c != 0 ? c : cmp_node(x, y);
}

static void tree_entry(dm_buf *b, const char *base, size_t blen, const char *text, size_t tlen,
                       int branch) {
  dm_buf_adds(b, "{\"text\":");
  dm_buf_json_str(b, text, tlen);
  dm_buf_adds(b, ",\"id\":");
  char *id = malloc(blen + tlen + 1);
  if (id == NULL) {
    b->oom = 1;
    return;
  }
  memcpy(id, base, blen);
  memcpy(id + blen, text, tlen);
  dm_buf_json_str(b, id, blen + tlen);
  free(id);
  dm_buf_adds(b, branch ? ",\"allowChildren\":1,\"expandable\":1,\"leaf\":0}"
                        : ",\"allowChildren\":0,\"expandable\":0,\"leaf\":1}");
}

/* treejson: one entry per node name (graphite-web keeps the first node of each name, so
 * "host.*.cpu" lists "cpu" once), its id the query's base path plus the name; branches
 * first, then leaves, each in name order. A name that is a branch anywhere is a branch. */
static void treejson(dm_buf *out, walk *w, const char *query, int wildcards) {
  const char *dot = strrchr(query, '.');
  size_t blen = dot ? (size_t)(dot - query) + 1 : 0; /* base_path, as the query spells it */
  if (w->n > 1) qsort(w->nodes, w->n, sizeof *w->nodes, cmp_by_name);
  size_t n = 0;
  int any_branch = 0;
  for (size_t i = 0; i < w->n; i++) { /* reduce to one node per name, path = the name */
    const char *t = last_seg(&w->nodes[i]);
    node x = {t, (size_t)(w->nodes[i].path + w->nodes[i].len - t), w->nodes[i].leaf,
              w->nodes[i].branch};
    if (n > 0 && cmp_node(&w->nodes[n - 1], &x) == 0) {
      w->nodes[n - 1].branch |= x.branch;
    } else {
      w->nodes[n++] = x;
    }
    any_branch |= x.branch;
  }
  dm_buf_adds(out, "[");
  int first = 1;
  if (n > 1 && wildcards) {
    tree_entry(out, query, blen, "*", 1, any_branch);
    first = 0;
  }
  for (int pass = 0; pass < 2; pass++) {
    for (size_t i = 0; i < n; i++) {
      const node *x = &w->nodes[i];
      if (pass == 0 ? !x->branch : x->branch) continue;
      if (!first) dm_buf_adds(out, ",");
      first = 0;
      tree_entry(out, query, blen, x->path, x->len, pass == 0);
    }
  }
  dm_buf_adds(out, "]");
}

/* completer: every node (both kinds of a node that is both), a branch's path ending in '.' */
static void completer(dm_buf *out, walk *w, int wildcards) {
  if (w->n > 1) qsort(w->nodes, w->n, sizeof *w->nodes, cmp_by_name);
  dm_buf_adds(out, "{\"metrics\":[");
  size_t k = 0;
  for (size_t i = 0; i < w->n; i++) {
    const node *x = &w->nodes[i];
    const char *t = last_seg(x);
    for (int leaf = 0; leaf < 2; leaf++) {
      if (!(leaf ? x->leaf : x->branch)) continue;
      if (k++) dm_buf_adds(out, ",");
      dm_buf_adds(out, "{\"path\":");
      dm_buf_json_str(out, x->path, x->len);
      if (!leaf && !out->oom) { /* "a.b" -> "a.b." */
        out->len--;
        dm_buf_adds(out, ".\"");
      }
      dm_buf_adds(out, ",\"name\":");
      dm_buf_json_str(out, t, (size_t)(x->path + x->len - t));
      dm_buf_adds(out, leaf ? ",\"is_leaf\":\"1\"}" : ",\"is_leaf\":\"0\"}");
    }
  }
  if (k > 1 && wildcards) dm_buf_adds(out, ",{\"name\":\"*\"}");
  dm_buf_adds(out, "]}");
}

/* json: [{"path","is_leaf"}] by path (graphite-web adds each leaf's intervals: none here). */
static void json_nodes(dm_buf *out, const walk *w) {
  dm_buf_adds(out, "[");
  size_t k = 0;
  for (size_t i = 0; i < w->n; i++) {
    for (int leaf = 0; leaf < 2; leaf++) {
      if (!(leaf ? w->nodes[i].leaf : w->nodes[i].branch)) continue;
      if (k++) dm_buf_adds(out, ",");
      dm_buf_adds(out, "{\"path\":");
      dm_buf_json_str(out, w->nodes[i].path, w->nodes[i].len);
      dm_buf_adds(out, leaf ? ",\"is_leaf\":true}" : ",\"is_leaf\":false}");
    }
  }
  dm_buf_adds(out, "]");
}

int dm_api_graphite_find_json(dm_engine *e, const char *query, const char *format,
                              int leaves_only, int wildcards, size_t budget, dm_buf *out) {
  char *q = NULL;
  int is_completer = strcmp(format, "completer") == 0, is_json = strcmp(format, "json") == 0;
  if (!is_completer && !is_json && strcmp(format, "treejson") != 0) return DM_EINVAL;
  if (is_completer) { /* graphite-web: ".." becomes "*." and a trailing '*' is implied */
    size_t n = strlen(query);
    q = malloc(n + 2);
    if (q == NULL) return DM_ENOMEM;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
      if (query[i] == '.' && query[i + 1] == '.') {
        q[o++] = '*';
        q[o++] = '.';
        i++;
      } else {
        q[o++] = query[i];
      }
    }
    if (o == 0 || q[o - 1] != '*') q[o++] = '*';
    q[o] = '\0';
    query = q;
  }
  walk w = {.budget = budget, .leaves_only = leaves_only, .by_text = !is_completer && !is_json};
  int rc = find_nodes(e, query, &w);
  free(w.slots);
  if (rc == 0) {
    sort_merge(&w);
    if (is_completer) completer(out, &w, wildcards);
    else if (is_json) json_nodes(out, &w);
    else treejson(out, &w, query, wildcards);
    if (out->oom) rc = DM_ENOMEM;
  }
  free(w.nodes);
  free(q);
  return rc;
}

/* ---- HTTP ---- */

static int int_param(dm_http_req *r, const char *name) {
  const char *v = dm_http_query(r, name, 0);
  return v != NULL && strtol(v, NULL, 10) != 0;
}

static void reply_json(dm_http_req *r, dm_buf *b) {
  if (b->oom) dm_http_respond_error(r, 500, "out of memory");
  else
    dm_http_respond(r, 200, "application/json", b->p, b->len,
                    "Pragma: no-cache\r\nCache-Control: no-cache\r\n");
}

static void over_budget(dm_http_req *r, const dm_api *a, const char *query) {
  dm_http_respond_error(r, 422,
                        "query \"%s\" matches more than %lld nodes (limits.max_query_series): "
                        "narrow the pattern",
                        query, (long long)a->cfg->max_query_series);
}

static void find(dm_http_req *r, void *arg) {
  dm_api *a = arg;
  const char *query = dm_http_query(r, "query", 0);
  const char *format = dm_http_query(r, "format", 0);
  if (query == NULL) {
    dm_http_respond_error(r, 400, "missing required parameter 'query'");
    return;
  }
  if (query[0] == '\0') {
    dm_http_respond_error(r, 400, "required parameter 'query' is empty");
    return;
  }
  dm_buf b;
  dm_buf_init(&b);
  int rc = dm_api_graphite_find_json(a->e, query, format ? format : "treejson",
                                     int_param(r, "leavesOnly"), int_param(r, "wildcards"),
                                     (size_t)a->cfg->max_query_series, &b);
  if (rc == DM_EINVAL)
    dm_http_respond_error(r, 400, "invalid value for 'format': \"%s\" (treejson, completer, json)",
                          format);
  else if (rc == DM_ERANGE) over_budget(r, a, query);
  else if (rc < 0) dm_http_respond_error(r, 500, "out of memory");
  else reply_json(r, &b);
  dm_buf_free(&b);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted distinct paths of w's nodes as a JSON array (leaves only if asked). */
static void path_array(dm_buf *b, walk *w) {
  sort_merge(w);
  dm_buf_adds(b, "[");
  for (size_t i = 0; i < w->n; i++) {
    if (i) dm_buf_adds(b, ",");
    dm_buf_json_str(b, w->nodes[i].path, w->nodes[i].len);
  }
  dm_buf_adds(b, "]");
}

static void expand(dm_http_req *r, void *arg) {
  dm_api *a = arg;
  size_t nq = dm_http_query_all(r, "query", NULL, 0);
  if (nq == 0) {
    dm_http_respond_error(r, 400, "missing required parameter 'query'");
    return;
  }
  const char **qs = malloc(nq * sizeof *qs);
  dm_buf b;
  dm_buf_init(&b);
  walk w = {.budget = (size_t)a->cfg->max_query_series, .leaves_only = int_param(r, "leavesOnly")};
  int group = int_param(r, "groupByExpr"), rc = 0;
  if (qs == NULL) {
    rc = DM_ENOMEM;
    goto done;
  }
  dm_http_query_all(r, "query", qs, nq);
  if (group) { /* {"results":{"<query>":[paths]}}, queries in sorted order, once each */
    qsort(qs, nq, sizeof *qs, cmp_str);
    dm_buf_adds(&b, "{\"results\":{");
    for (size_t i = 0, k = 0; i < nq && rc == 0; i++) {
      if (i > 0 && strcmp(qs[i], qs[i - 1]) == 0) continue;
      w.n = 0;
      rc = find_nodes(a->e, qs[i], &w);
      if (rc < 0) break;
      if (k++) dm_buf_adds(&b, ",");
      dm_buf_json_str(&b, qs[i], strlen(qs[i]));
      dm_buf_adds(&b, ":");
      path_array(&b, &w);
    }
    dm_buf_adds(&b, "}}");
  } else { /* {"results":[paths]}: the union */
    for (size_t i = 0; i < nq && rc == 0; i++) rc = find_nodes(a->e, qs[i], &w);
    if (rc == 0) {
      dm_buf_adds(&b, "{\"results\":");
      path_array(&b, &w);
      dm_buf_adds(&b, "}");
    }
  }
done:
  if (rc == DM_ERANGE) over_budget(r, a, w.pattern);
  else if (rc < 0) dm_http_respond_error(r, 500, "out of memory");
  else reply_json(r, &b);
  free(w.nodes);
  free(qs);
  dm_buf_free(&b);
}

static void index_name(void *arg, const char *name, size_t len) {
  dm_buf *b = arg;
  if (b->len > 1) dm_buf_adds(b, ",");
  dm_buf_json_str(b, name, len);
}

/* Every series name, sorted: graphite-web has no limit here and neither do we (about
 * 40 bytes a name). */
static void index_json(dm_http_req *r, void *arg) {
  dm_api *a = arg;
  dm_buf b;
  dm_buf_init(&b);
  dm_buf_adds(&b, "[");
  dm_engine_names(a->e, "", 0, index_name, &b);
  dm_buf_adds(&b, "]");
  reply_json(r, &b);
  dm_buf_free(&b);
}

int dm_api_graphite_find_routes(dm_api *a) {
  int rc = 0;
  int m = DM_HTTP_GET | DM_HTTP_POST;
  rc |= dm_api_route(a, m, "/metrics/find", "graphite_find", SCOPE_READ, find);
  rc |= dm_api_route(a, m, "/metrics/expand", "graphite_expand", SCOPE_READ, expand);
  rc |= dm_api_route(a, m, "/metrics/index.json", "graphite_index", SCOPE_READ, index_json);
  return rc < 0 ? DM_ENOMEM : 0;
}
