/* test_render_funcs.c — every /render function on hand-made series, through both phases
 * (paths -> fetch -> eval) and the json writer; expected outputs worked out from
 * graphite-web 1.1's functions.py semantics. Requests are from=999 until=1049, so a step-10
 * series is fetched as graphite's whisper does: values at 1000, 1010, .., 1040. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "diamond/error.h"
#include "diamond/names.h"
#include "diamond/render.h"

#define N NAN

typedef struct stored {
  const char *name;
  int64_t step, from, until; /* != 0: the store only has data in there (misaligned series) */
  size_t n;
  int64_t t[16];
  double v[16];
} stored;

static stored db[32];
static size_t ndb;
static char err[256];
static size_t max_data_points; /* != 0: the reply goes through dm_render_maxpoints */

/* Points at t0, t0 + step, ..; a NaN value is a missing point. */
static void put(const char *name, int64_t step, int64_t t0, size_t n, const double *v) {
  stored *s = &db[ndb++];
  memset(s, 0, sizeof *s);
  s->name = name;
  s->step = step;
  for (size_t i = 0; i < n; i++) {
    if (isnan(v[i])) continue;
    s->t[s->n] = t0 + (int64_t)i * step;
    s->v[s->n++] = v[i];
  }
}

typedef struct req_ctx {
  int64_t from, until;
  size_t calls;
} req_ctx;

static int fetch(void *arg, size_t index, const dm_render_path *p, dm_render_list *out) {
  req_ctx *r = arg;
  (void)index;
  r->calls++;
  for (size_t i = 0; i < ndb; i++) {
    const stored *s = &db[i];
    if (!dm_glob_match(p->pattern, s->name, strlen(s->name))) continue;
    int64_t f, u;
    dm_render_path_range(p, r->from, r->until, s->step, &f, &u);
    if (s->from && s->from > f) f = s->from;
    if (s->until && s->until < u) u = s->until;
    dm_render_series *x = dm_render_series_grid(s->name, strlen(s->name), f, u, s->step, s->t,
                                                s->v, s->n);
    if (dm_render_list_add(out, x) < 0) return DM_ENOMEM;
  }
  return 0;
}

static int eval_targets(const char *target, size_t max_series, size_t max_points,
                        dm_buf *json) {
  const char *ts[1] = {target};
  size_t ls[1] = {strlen(target)};
  dm_render_ast *a;
  int rc = dm_render_parse(&a, ts, ls, 1, err, sizeof err);
  if (rc < 0) return rc;
  req_ctx r = {999, 1049, 0};
  dm_render_req req = {999, 1049, max_series, max_points};
  dm_render_list out = {0};
  rc = dm_render_eval(a, &req, fetch, &r, &out, err, sizeof err);
  if (rc == 0 && max_data_points) rc = dm_render_maxpoints(&out, 999, 1049, max_data_points);
  if (rc == 0) dm_render_json(json, &out, 0);
  dm_render_list_free(&out);
  dm_render_ast_free(a);
  return rc;
}

static void expect_mdp(const char *target, size_t mdp, const char *want) {
  dm_buf b;
  dm_buf_init(&b);
  max_data_points = mdp;
  int rc = eval_targets(target, 0, 0, &b);
  max_data_points = 0;
  if (rc != 0) fail_msg("%s: rc %d: %s", target, rc, err);
  dm_buf_add(&b, "", 1);
  if (strcmp(b.p, want) != 0) fail_msg("%s\n got: %s\nwant: %s", target, b.p, want);
  dm_buf_free(&b);
}

static void expect(const char *target, const char *want) { expect_mdp(target, 0, want); }

static void expect_err(const char *target, size_t max_series, size_t max_points, int want_rc,
                       const char *want) {
  dm_buf b;
  dm_buf_init(&b);
  int rc = eval_targets(target, max_series, max_points, &b);
  dm_buf_free(&b);
  assert_int_equal(rc, want_rc);
  assert_string_equal(err, want);
}

/* One series in the reply with these (already formatted) datapoints. */
#define ONE(target, name, pts) "[{\"target\":\"" target "\",\"tags\":{\"name\":\"" name "\"},\"datapoints\":[" pts "]}]"
#define AX "[1,1000],[2,1010],[null,1020],[4,1030],[5,1040]"

static int setup(void **state) {
  (void)state;
  ndb = 0;
  put("a.x", 10, 1000, 5, (double[]){1, 2, N, 4, 5});
  put("a.y", 10, 1000, 5, (double[]){10, N, N, 40, 50});
  put("b.z", 20, 1000, 3, (double[]){100, 200, 300});
  put("c.cnt", 10, 1000, 5, (double[]){10, 20, 5, 15, N});
  put("d.late", 10, 1020, 3, (double[]){7, 8, 9});
  db[ndb - 1].from = 1019;
  put("e.p", 10, 1000, 5, (double[]){1, 1, N, 3, 0});
  put("e.q", 10, 1000, 5, (double[]){3, 1, N, 1, 0});
  put("s.h1.cpu", 10, 1000, 5, (double[]){1, 1, 1, 1, 1});
  put("s.h1.mem", 10, 1000, 5, (double[]){5, 5, 5, 5, 5});
  put("s.h2.cpu", 10, 1000, 5, (double[]){2, N, 2, 2, 2});
  put("h.n10", 10, 1000, 1, (double[]){1});
  put("z.empty", 10, 2000, 1, (double[]){1});
  db[ndb - 1].from = 2000;
  put("m.long", 10, 900, 15, (double[]){1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15});
  put("t.cut", 10, 900, 15, (double[]){1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15});
  db[ndb - 1].until = 1019; /* as whisper cuts a range at now */
  put("p.tie", 10, 1000, 3, (double[]){0, 0.078125, 0.3125});
  put("r.c", 3, 1002, 3, (double[]){0, 1, 3});
  db[ndb - 1].until = 1008;
  put("h.n9", 10, 1000, 1, (double[]){1});
  return 0;
}

static void test_fetch_and_path(void **state) {
  (void)state;
  expect("a.x", ONE("a.x", "a.x", AX));
  expect("nope.*", "[]");
  expect("b.z", ONE("b.z", "b.z", "[100,1000],[200,1020],[300,1040]"));
}

static void test_alias_family(void **state) {
  (void)state;
  expect("alias(a.x, 'foo')", ONE("foo", "a.x", AX));
  expect("aliasByNode(a.x, 0)", ONE("a", "a.x", AX));
  expect("aliasByNode(a.x, -1)", ONE("x", "a.x", AX));
  expect("aliasByNode(a.x, 5)", ONE("", "a.x", AX));
  /* the first path expression inside the name, as graphite-web 1.1 */
  expect("aliasByNode(scale(s.h1.cpu, 2), 1, 2)",
         ONE("h1.cpu", "s.h1.cpu", "[2,1000],[2,1010],[2,1020],[2,1030],[2,1040]"));
  /* substr(-1): the last node inside the innermost parentheses, cut at ',' */
  expect("aliasByMetric(scale(s.h1.cpu, 2))",
         ONE("cpu", "s.h1.cpu", "[2,1000],[2,1010],[2,1020],[2,1030],[2,1040]"));
  expect("aliasByMetric(s.h1.cpu)",
         ONE("cpu", "s.h1.cpu", "[1,1000],[1,1010],[1,1020],[1,1030],[1,1040]"));
}

static void test_alias_sub_grafana(void **state) {
  (void)state;
  expect("aliasSub(a.x, \"(^.*$)\", \"\\1 A\")", ONE("a.x A", "a.x", AX));
  expect("aliasSub(sumSeries(a.x), \"(^.*$)\", \"\\1 B\")", ONE("sumSeries(a.x) B", "a.x", AX));
  expect("aliasSub(s.h1.cpu, '^s\\.(\\w+)\\..*$', 'host \\1')",
         ONE("host h1", "s.h1.cpu", "[1,1000],[1,1010],[1,1020],[1,1030],[1,1040]"));
  expect("aliasSub(a.x, 'x', 'zz')", ONE("a.zz", "a.x", AX));
  expect("aliasSub(aliasSub(a.x, '\\.', '_'), '(a)_(x)', '\\g<2>-\\1')", ONE("x-a", "a.x", AX));
  expect_err("aliasSub(a.x, '(', 'y')", 0, 0, DM_EINVAL,
             "target 1: position 14: aliasSub: bad regex");
}

static void test_constant_line(void **state) {
  (void)state;
  /* start = from, step = (until - from) / 2, three values; the name is str() of a float
   * (graphite-web's value parameter is one): constantLine(42) is "42.0", its pathExpression
   * "constantLine(42.0)" (test_graphite_diff: constantLine(42), sumSeries(constantLine(5),
   * dc.b.host1.net)) */
  expect("constantLine(42)", ONE("42.0", "42.0", "[42,999],[42,1024],[42,1049]"));
  expect("sumSeries(constantLine(5))",
         ONE("sumSeries(constantLine(5.0))", "5.0",
             "[5,999],[5,1024],[5,1049]"));
  /* its end is until (graphite-web's), not from + 3 steps: maxDataPoints=2 sees a range of 2
   * steps and leaves it alone (test_graphite_diff: [dc.a.host1.cpu, constantLine(100)],
   * maxDataPoints=50, where the range of constantLine's end decides every series' buckets) */
  expect_mdp("constantLine(42)", 2, ONE("42.0", "42.0", "[42,999],[42,1024],[42,1049]"));
  expect("constantLine(1.5)", ONE("1.5", "1.5", "[1.5,999],[1.5,1024],[1.5,1049]"));
  expect("constantLine(2.0)", ONE("2.0", "2.0", "[2,999],[2,1024],[2,1049]"));
}

static void test_consolidate_by(void **state) {
  (void)state;
  expect("consolidateBy(a.x, 'max')", ONE("consolidateBy(a.x,\\\"max\\\")", "a.x", AX));
  /* its pathExpression is its name, per series (test_graphite_diff: sumSeries(consolidateBy(
   * dc.a.*.cpu, 'max'))) */
  expect("sumSeries(consolidateBy(a.*, 'max'))",
         ONE("sumSeries(consolidateBy(a.x,\\\"max\\\"),consolidateBy(a.y,\\\"max\\\"))",
             "sumSeries(consolidateBy(a.x,\\\"max\\\"),consolidateBy(a.y,\\\"max\\\"))",
             "[11,1000],[2,1010],[null,1020],[44,1030],[55,1040]"));
  expect_err("consolidateBy(a.x, 'median')", 0, 0, DM_EINVAL,
             "target 1: position 19: consolidateBy: unknown function \"median\" (average, sum, "
             "min, max, first, last)");
}

static void test_aggregates(void **state) {
  (void)state;
  expect("sumSeries(a.*)", ONE("sumSeries(a.*)", "sumSeries(a.*)",
                               "[11,1000],[2,1010],[null,1020],[44,1030],[55,1040]"));
  expect("averageSeries(a.*)", ONE("averageSeries(a.*)", "averageSeries(a.*)",
                                   "[5.5,1000],[2,1010],[null,1020],[22,1030],[27.5,1040]"));
  expect("maxSeries(a.*)", ONE("maxSeries(a.*)", "maxSeries(a.*)",
                               "[10,1000],[2,1010],[null,1020],[40,1030],[50,1040]"));
  expect("minSeries(a.*)", ONE("minSeries(a.*)", "minSeries(a.*)",
                               "[1,1000],[2,1010],[null,1020],[4,1030],[5,1040]"));
  expect("diffSeries(a.x, a.y)", ONE("diffSeries(a.x,a.y)", "diffSeries(a.x,a.y)",
                                     "[-9,1000],[2,1010],[null,1020],[-36,1030],[-45,1040]"));
  /* the first non-null is the minuend */
  expect("diffSeries(a.y, a.x)", ONE("diffSeries(a.y,a.x)", "diffSeries(a.y,a.x)",
                                     "[9,1000],[2,1010],[null,1020],[36,1030],[45,1040]"));
  expect("multiplySeries(a.x, a.y)",
         ONE("multiplySeries(a.x,a.y)", "multiplySeries(a.x,a.y)",
             "[10,1000],[null,1010],[null,1020],[160,1030],[250,1040]"));
  /* one series: tags.name stays its own */
  expect("sumSeries(a.x)", ONE("sumSeries(a.x)", "a.x", AX));
  /* duplicate path expressions are named once */
  expect("sumSeries(a.x, a.x)", ONE("sumSeries(a.x)", "a.x",
                                    "[2,1000],[4,1010],[null,1020],[8,1030],[10,1040]"));
  expect("sumSeries(nope.*)", "[]");
  expect("sum(a.*)", ONE("sumSeries(a.*)", "sumSeries(a.*)",
                         "[11,1000],[2,1010],[null,1020],[44,1030],[55,1040]"));
}

static void test_aggregate_steps_and_ranges(void **state) {
  (void)state;
  /* lcm(10, 20) = 20: a.x averaged in pairs (1.5, 4, 5) */
  expect("sumSeries(a.x, b.z)", ONE("sumSeries(a.x,b.z)", "sumSeries(a.x,b.z)",
                                    "[101.5,1000],[204,1020],[305,1040]"));
  /* misaligned: graphite-web zips by index, not by time */
  expect("sumSeries(a.x, d.late)", ONE("sumSeries(a.x,d.late)", "sumSeries(a.x,d.late)",
                                       "[8,1000],[10,1010],[9,1020],[4,1030],[5,1040]"));
  expect("d.late", ONE("d.late", "d.late", "[7,1020],[8,1030],[9,1040]"));
}

static void test_divide(void **state) {
  (void)state;
  /* a new TimeSeries: tags.name is its own name */
  expect("divideSeries(a.y, a.x)", ONE("divideSeries(a.y,a.x)", "divideSeries(a.y,a.x)",
                                       "[10,1000],[null,1010],[null,1020],[10,1030],[10,1040]"));
  expect("divideSeries(a.x, nope)",
         ONE("divideSeries(a.x,MISSING)", "a.x",
             "[null,1000],[null,1010],[null,1020],[null,1030],[null,1040]"));
  expect_err("divideSeries(a.x, a.*)", 0, 0, DM_EINVAL,
             "target 1: position 18: divideSeries second argument must reference exactly 1 "
             "series (got 2)");
  /* divide by zero is null */
  expect("divideSeries(a.x, e.p)", ONE("divideSeries(a.x,e.p)", "divideSeries(a.x,e.p)",
                                       "[1,1000],[2,1010],[null,1020],[1.3333333333333333,1030],[null,1040]"));
}

static void test_scale_offset_absolute(void **state) {
  (void)state;
  expect("scale(a.x, 2)", ONE("scale(a.x,2)", "a.x",
                              "[2,1000],[4,1010],[null,1020],[8,1030],[10,1040]"));
  expect("scale(a.x, 0.5)", ONE("scale(a.x,0.5)", "a.x",
                                "[0.5,1000],[1,1010],[null,1020],[2,1030],[2.5,1040]"));
  expect("offset(a.x, -1)", ONE("offset(a.x,-1)", "a.x",
                                "[0,1000],[1,1010],[null,1020],[3,1030],[4,1040]"));
  expect("absolute(offset(a.x, -3))", ONE("absolute(offset(a.x,-3))", "a.x",
                                          "[2,1000],[1,1010],[null,1020],[1,1030],[2,1040]"));
  /* pathExpression becomes the name: an aggregate over scaled series names them */
  expect("sumSeries(scale(a.*, 1))",
         ONE("sumSeries(scale(a.x,1),scale(a.y,1))", "sumSeries(scale(a.x,1),scale(a.y,1))",
             "[11,1000],[2,1010],[null,1020],[44,1030],[55,1040]"));
}

static void test_derivatives(void **state) {
  (void)state;
  expect("derivative(a.x)", ONE("derivative(a.x)", "a.x",
                                "[null,1000],[1,1010],[null,1020],[null,1030],[1,1040]"));
  expect("nonNegativeDerivative(c.cnt)",
         ONE("nonNegativeDerivative(c.cnt)", "c.cnt",
             "[null,1000],[10,1010],[null,1020],[10,1030],[null,1040]"));
  /* wrap with maxValue: max + 1 + v - prev = 30 + 1 + 5 - 20 */
  expect("nonNegativeDerivative(c.cnt, 30)",
         ONE("nonNegativeDerivative(c.cnt)", "c.cnt",
             "[null,1000],[10,1010],[16,1020],[10,1030],[null,1040]"));
  /* a value above maxValue is dropped and forgets prev */
  expect("nonNegativeDerivative(c.cnt, maxValue=18)",
         ONE("nonNegativeDerivative(c.cnt)", "c.cnt",
             "[null,1000],[null,1010],[null,1020],[10,1030],[null,1040]"));
  /* wrap with maxValue and minValue: 30 + 1 + 5 - 20 - 2 */
  expect("nonNegativeDerivative(c.cnt, 30, 2)",
         ONE("nonNegativeDerivative(c.cnt)", "c.cnt",
             "[null,1000],[10,1010],[14,1020],[10,1030],[null,1040]"));
  /* wrap with only minValue: v - min */
  expect("nonNegativeDerivative(c.cnt, minValue=1)",
         ONE("nonNegativeDerivative(c.cnt)", "c.cnt",
             "[null,1000],[10,1010],[4,1020],[10,1030],[null,1040]"));
  /* round(x, 6) is Python's: ties of the exact binary value to even, 1/128 = 0.0078125 is
   * 0.007812 and 3/128 0.023438 (test_graphite_diff: perSecond(tie.cnt) differed in 179 of
   * 360 values) */
  expect("perSecond(p.tie)",
         ONE("perSecond(p.tie)", "p.tie",
             "[null,1000],[0.007812,1010],[0.023438,1020],[null,1030],[null,1040]"));
  /* perSecond rounds to 6 decimals: 1 / 3 per second */
  expect("limit(perSecond(r.c), 1)",
         ONE("perSecond(r.c)", "r.c", "[null,1002],[0.333333,1005],[0.666667,1008]"));
  expect("perSecond(c.cnt, None, None)", ONE("perSecond(c.cnt)", "c.cnt",
                                             "[null,1000],[1,1010],[null,1020],[1,1030],[null,1040]"));
  expect("c.cnt|perSecond()", ONE("perSecond(c.cnt)", "c.cnt",
                                  "[null,1000],[1,1010],[null,1020],[1,1030],[null,1040]"));
  expect("perSecond(c.cnt)", ONE("perSecond(c.cnt)", "c.cnt",
                                 "[null,1000],[1,1010],[null,1020],[1,1030],[null,1040]"));
  expect("integral(a.x)", ONE("integral(a.x)", "a.x",
                              "[1,1000],[3,1010],[null,1020],[7,1030],[12,1040]"));
}

static void test_moving_average(void **state) {
  (void)state;
  /* fetched from 979: values at 980, 990 are missing; value i = avg of the 2 before it */
  expect("movingAverage(a.x, 2)", ONE("movingAverage(a.x,2)", "a.x",
                                      "[null,1000],[1,1010],[1.5,1020],[2,1030],[4,1040]"));
  expect("movingAverage(a.x, '20s')", ONE("movingAverage(a.x,\\\"20s\\\")", "a.x",
                                          "[null,1000],[1,1010],[1.5,1020],[2,1030],[4,1040]"));
  expect("movingAverage(a.x, 1)", ONE("movingAverage(a.x,1)", "a.x",
                                      "[null,1000],[1,1010],[2,1020],[null,1030],[4,1040]"));
  /* N points of the series it averages: summarize's 20 s, so from moves back 40 s (not 2
   * fetch steps): fetched 960 .. 1040, buckets 960 (7+8), 980, 1000, 1020, 1040 (15); the
   * averages of 2 from 1000 (test_graphite_diff: movingAverage(summarize(x, "10min", "avg"),
   * 3) had 34 points of graphite-web's 37) */
  expect("movingAverage(summarize(m.long, '20s'), 2)",
         ONE("movingAverage(summarize(m.long, \\\"20s\\\", \\\"sum\\\"),2)", "m.long",
             "[17,1000],[21,1020],[25,1040]"));
  expect_err("movingAverage(a.x, a.y)", 0, 0, DM_EINVAL,
             "target 1: position 19: movingAverage: windowSize must be a number of points or a "
             "time (\"5min\")");
}

static void test_summarize(void **state) {
  (void)state;
  expect("summarize(a.x, '20s')", ONE("summarize(a.x, \\\"20s\\\", \\\"sum\\\")", "a.x",
                                      "[3,1000],[4,1020],[5,1040]"));
  expect("summarize(a.x, '20s', 'avg')",
         ONE("summarize(a.x, \\\"20s\\\", \\\"avg\\\")", "a.x", "[1.5,1000],[4,1020],[5,1040]"));
  /* buckets aligned to the interval: 990, 1020, 1050 (empty) */
  expect("summarize(a.x, '30s')", ONE("summarize(a.x, \\\"30s\\\", \\\"sum\\\")", "a.x",
                                      "[3,990],[9,1020],[null,1050]"));
  expect("summarize(a.x, '30s', 'sum', true)",
         ONE("summarize(a.x, \\\"30s\\\", \\\"sum\\\", true)", "a.x", "[3,1000],[9,1030]"));
  expect("summarize(a.x, '30s', 'max')",
         ONE("summarize(a.x, \\\"30s\\\", \\\"max\\\")", "a.x", "[2,990],[5,1020],[null,1050]"));
  expect("summarize(a.x, '30s', 'last')",
         ONE("summarize(a.x, \\\"30s\\\", \\\"last\\\")", "a.x", "[2,990],[5,1020],[null,1050]"));
}

#define AY "[10,1000],[null,1010],[null,1020],[40,1030],[50,1040]"
static void test_hitcount(void **state) {
  (void)state;
  /* buckets end at the series' end (1050): 990, 1010, 1030; hits = rate * seconds */
  expect("hitcount(a.x, '20s')", ONE("hitcount(a.x, \\\"20s\\\")", "a.x",
                                     "[10,990],[20,1010],[90,1030]"));
  expect("hitcount(a.x, '10s')", ONE("hitcount(a.x, \\\"10s\\\")", "a.x",
                                     "[10,1000],[20,1010],[null,1020],[40,1030],[50,1040]"));
  expect_err("hitcount(a.x, '1m', true)", 0, 0, DM_EINVAL,
             "target 1: position 20: hitcount: alignToInterval is not supported");
}

static void test_selection(void **state) {
  (void)state;
  expect("highestCurrent(a.*)", ONE("a.y", "a.y", AY));
  expect("highestMax(a.*, 1)", ONE("a.y", "a.y", AY));
  expect("lowestCurrent(a.*, 1)", ONE("a.x", "a.x", AX));
  expect("limit(a.*, 1)", ONE("a.x", "a.x", AX));
  expect("limit(a.*, 0)", "[]");
  expect("highestCurrent(nope.*, 3)", "[]");
  dm_buf b;
  dm_buf_init(&b);
  assert_int_equal(eval_targets("highestCurrent(a.*, 5)", 0, 0, &b), 0);
  dm_buf_add(&b, "", 1);
  assert_non_null(strstr(b.p, "\"target\":\"a.y\""));
  assert_true(strstr(b.p, "\"a.y\"") < strstr(b.p, "\"a.x\""));
  dm_buf_free(&b);
}

static void test_sort_by_name(void **state) {
  (void)state;
  expect("sortByName(aliasByNode(a.*, 1), reverse=true)",
         "[{\"target\":\"y\",\"tags\":{\"name\":\"a.y\"},\"datapoints\":[" AY "]},"
         "{\"target\":\"x\",\"tags\":{\"name\":\"a.x\"},\"datapoints\":[" AX "]}]");
  expect("aliasByNode(sortByName(h.*), 1)",
         "[{\"target\":\"n10\",\"tags\":{\"name\":\"h.n10\"},\"datapoints\":[[1,1000],[null,1010],[null,1020],[null,1030],[null,1040]]},"
         "{\"target\":\"n9\",\"tags\":{\"name\":\"h.n9\"},\"datapoints\":[[1,1000],[null,1010],[null,1020],[null,1030],[null,1040]]}]");
  expect("aliasByNode(sortByName(h.*, true), 1)",
         "[{\"target\":\"n9\",\"tags\":{\"name\":\"h.n9\"},\"datapoints\":[[1,1000],[null,1010],[null,1020],[null,1030],[null,1040]]},"
         "{\"target\":\"n10\",\"tags\":{\"name\":\"h.n10\"},\"datapoints\":[[1,1000],[null,1010],[null,1020],[null,1030],[null,1040]]}]");
}

static void test_group_by_node(void **state) {
  (void)state;
  expect("groupByNode(s.*.*, 2, 'sum')",
         "[{\"target\":\"cpu\",\"tags\":{\"name\":\"sumSeries(s.*.*)\"},\"datapoints\":[[3,1000],[1,1010],[3,1020],[3,1030],[3,1040]]},"
         "{\"target\":\"mem\",\"tags\":{\"name\":\"s.h1.mem\"},\"datapoints\":[[5,1000],[5,1010],[5,1020],[5,1030],[5,1040]]}]");
  expect("groupByNode(s.*.cpu, 1)",
         "[{\"target\":\"h1\",\"tags\":{\"name\":\"s.h1.cpu\"},\"datapoints\":[[1,1000],[1,1010],[1,1020],[1,1030],[1,1040]]},"
         "{\"target\":\"h2\",\"tags\":{\"name\":\"s.h2.cpu\"},\"datapoints\":[[2,1000],[null,1010],[2,1020],[2,1030],[2,1040]]}]");
  expect("groupByNode(s.*.*, 2, 'maxSeries')",
         "[{\"target\":\"cpu\",\"tags\":{\"name\":\"maxSeries(s.*.*)\"},\"datapoints\":[[2,1000],[1,1010],[2,1020],[2,1030],[2,1040]]},"
         "{\"target\":\"mem\",\"tags\":{\"name\":\"s.h1.mem\"},\"datapoints\":[[5,1000],[5,1010],[5,1020],[5,1030],[5,1040]]}]");
}

static void test_nulls(void **state) {
  (void)state;
  expect("keepLastValue(a.y)", ONE("keepLastValue(a.y)", "a.y",
                                   "[10,1000],[10,1010],[10,1020],[40,1030],[50,1040]"));
  expect("keepLastValue(a.y, 1)", ONE("keepLastValue(a.y)", "a.y", AY));
  expect("keepLastValue(c.cnt)", ONE("keepLastValue(c.cnt)", "c.cnt",
                                     "[10,1000],[20,1010],[5,1020],[15,1030],[15,1040]"));
  expect("transformNull(a.x)", ONE("transformNull(a.x,0)", "a.x",
                                   "[1,1000],[2,1010],[0,1020],[4,1030],[5,1040]"));
  expect("transformNull(a.x, -1)", ONE("transformNull(a.x,-1)", "a.x",
                                       "[1,1000],[2,1010],[-1,1020],[4,1030],[5,1040]"));
  expect("removeBelowValue(a.x, 3)", ONE("removeBelowValue(a.x, 3)", "a.x",
                                         "[null,1000],[null,1010],[null,1020],[4,1030],[5,1040]"));
  expect("removeAboveValue(a.x, 3)", ONE("removeAboveValue(a.x, 3)", "a.x",
                                         "[1,1000],[2,1010],[null,1020],[null,1030],[null,1040]"));
}

static void test_time_shift(void **state) {
  (void)state;
  /* fetched over [989, 1039]: values of 990..1030 shown at 1000..1040 */
  expect("timeShift(a.x, '10s')", ONE("timeShift(a.x, \\\"-10s\\\")", "a.x",
                                      "[null,1000],[1,1010],[2,1020],[null,1030],[4,1040]"));
  expect("timeShift(a.x, '-20s')", ONE("timeShift(a.x, \\\"-20s\\\")", "a.x",
                                       "[null,1000],[null,1010],[1,1020],[2,1030],[null,1040]"));
  expect("timeShift(nope, '1d')", "[]");
  /* renamed, but the pathExpression stays the shifted target's (test_graphite_diff:
   * sumSeries(timeShift(dc.a.host1.cpu, "1h"), dc.a.host1.cpu) is sumSeries(dc.a.host1.cpu)) */
  /* the shifted series (980 .. 1010) is longer than the one it is shown over (1000, 1010:
   * cut at 1019): its values are cut at that end, 1020, which stays its end for
   * maxDataPoints (a range of 2 steps: nothing to consolidate at 2 points; test_graphite_diff:
   * timeShift(x, "-30min") with until past now, maxDataPoints=20) */
  expect_mdp("timeShift(t.cut, '-20s')", 2,
             ONE("timeShift(t.cut, \\\"-20s\\\")", "t.cut", "[9,1000],[10,1010],[11,1020]"));
  expect("sumSeries(timeShift(a.x, '10s'), a.x)",
         ONE("sumSeries(a.x)", "a.x", "[1,1000],[3,1010],[2,1020],[4,1030],[9,1040]"));
}

static void test_as_percent(void **state) {
  (void)state;
  expect("asPercent(a.x, 4)", ONE("asPercent(a.x,4)", "asPercent(a.x,4)",
                                  "[25,1000],[50,1010],[null,1020],[100,1030],[125,1040]"));
  expect("asPercent(a.x, a.y)", ONE("asPercent(a.x,a.y)", "asPercent(a.x,a.y)",
                                    "[10,1000],[null,1010],[null,1020],[10,1030],[10,1040]"));
  expect("asPercent(e.*)",
         "[{\"target\":\"asPercent(e.p,sumSeries(e.*))\",\"tags\":{\"name\":\"asPercent(e.p,sumSeries(e.*))\"},\"datapoints\":[[25,1000],[50,1010],[null,1020],[75,1030],[null,1040]]},"
         "{\"target\":\"asPercent(e.q,sumSeries(e.*))\",\"tags\":{\"name\":\"asPercent(e.q,sumSeries(e.*))\"},\"datapoints\":[[75,1000],[50,1010],[null,1020],[25,1030],[null,1040]]}]");
  expect("asPercent(nope.*)", "[]");
  /* as many totals as series: paired by sorted name (e.p with a.x, e.q with a.y) */
  expect("asPercent(e.*, a.*)",
         "[{\"target\":\"asPercent(e.p,a.x)\",\"tags\":{\"name\":\"asPercent(e.p,a.x)\"},\"datapoints\":[[100,1000],[50,1010],[null,1020],[75,1030],[0,1040]]},"
         "{\"target\":\"asPercent(e.q,a.y)\",\"tags\":{\"name\":\"asPercent(e.q,a.y)\"},\"datapoints\":[[30,1000],[null,1010],[null,1020],[2.5,1030],[0,1040]]}]");
  expect_err("asPercent(e.*, s.*.*)", 0, 0, DM_EINVAL,
             "target 1: position 15: asPercent second argument must be missing, a single digit, "
             "reference exactly 1 series or reference the same number of series as the first "
             "argument");
  expect("pct(a.x, 4)", ONE("asPercent(a.x,4)", "asPercent(a.x,4)",
                            "[25,1000],[50,1010],[null,1020],[100,1030],[125,1040]"));
}

static void test_errors_and_budgets(void **state) {
  (void)state;
  expect_err("nosuch(a.x)", 0, 0, DM_EINVAL, "target 1: position 0: unknown function nosuch");
  expect_err("scale(a.x)", 0, 0, DM_EINVAL, "target 1: position 0: scale: missing argument factor");
  expect_err("scale('a.x', 2)", 0, 0, DM_EINVAL,
             "target 1: position 6: scale: argument 1 must be a series list");
  expect_err("alias(a.x, 3)", 0, 0, DM_EINVAL,
             "target 1: position 11: alias: argument newName must be a string");
  expect_err("sumSeries(a.*)", 1, 0, DM_ERANGE,
             "target 1: position 10: more than 1 series in the query (limits.max_query_series)");
  expect_err("sumSeries(a.*)", 0, 9, DM_ERANGE,
             "target 1: position 10: more than 9 points in the query (limits.max_query_points)");
  dm_buf b;
  dm_buf_init(&b);
  assert_int_equal(eval_targets("sumSeries(a.*)", 2, 15, &b), 0);
  dm_buf_free(&b);
}

static void test_empty_series(void **state) {
  (void)state;
  /* z.empty is fetched with no values at all (its grid is empty) */
  expect("z.empty", "[{\"target\":\"z.empty\",\"tags\":{\"name\":\"z.empty\"},\"datapoints\":[]}]");
  expect("sumSeries(z.empty)",
         "[{\"target\":\"sumSeries(z.empty)\",\"tags\":{\"name\":\"z.empty\"},\"datapoints\":[]}]");
  static const char *const targets[] = {
      "alias(z.empty,'q')", "aliasByNode(z.empty,1)", "aliasByMetric(z.empty)",
      "aliasSub(z.empty,'e','f')", "consolidateBy(z.empty,'sum')", "averageSeries(z.empty,a.x)",
      "maxSeries(z.empty)", "minSeries(z.empty)", "diffSeries(z.empty,a.x)",
      "divideSeries(a.x,z.empty)", "divideSeries(z.empty,a.x)", "multiplySeries(z.empty,a.x)",
      "scale(z.empty,2)", "offset(z.empty,2)", "absolute(z.empty)", "derivative(z.empty)",
      "nonNegativeDerivative(z.empty,10)", "perSecond(z.empty)", "integral(z.empty)",
      "movingAverage(z.empty,3)", "movingAverage(z.empty,'1min')", "summarize(z.empty,'1min')",
      "summarize(z.empty,'1min','avg',true)", "hitcount(z.empty,'1min')",
      "highestCurrent(z.empty,1)", "highestMax(z.empty,1)", "lowestCurrent(z.empty,1)",
      "limit(z.empty,1)", "sortByName(z.empty)", "groupByNode(z.empty,0,'sum')",
      "keepLastValue(z.empty)", "transformNull(z.empty)", "timeShift(z.empty,'1h')",
      "asPercent(z.empty)", "asPercent(z.empty,a.x)", "asPercent(a.x,z.empty)",
      "removeBelowValue(z.empty,1)", "removeAboveValue(z.empty,1)",
  };
  for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
    dm_buf b;
    dm_buf_init(&b);
    int rc = eval_targets(targets[i], 0, 0, &b);
    if (rc != 0) fail_msg("%s: rc %d: %s", targets[i], rc, err);
    dm_buf_free(&b);
  }
}

/* Random well-formed targets over every function with arguments of every kind: the result
 * may be an error, never a crash, a leak or undefined behaviour (run under ASan/UBSan). */
static unsigned rnd_state = 12345;
static unsigned rnd(unsigned n) {
  rnd_state = rnd_state * 1103515245u + 12345u;
  return (rnd_state >> 16) % n;
}

static void gen(dm_buf *b, int depth) {
  static const char *const paths[] = {"a.*", "a.x", "b.z", "nope", "c.cnt", "d.late", "z.empty", "s.*.*"};
  static const char *const fns[] = {
      "alias", "aliasByNode", "aliasByMetric", "aliasSub", "constantLine", "consolidateBy",
      "sumSeries", "averageSeries", "maxSeries", "minSeries", "diffSeries", "divideSeries",
      "multiplySeries", "scale", "offset", "absolute", "derivative", "nonNegativeDerivative",
      "perSecond", "integral", "movingAverage", "summarize", "hitcount", "highestCurrent",
      "highestMax", "lowestCurrent", "limit", "sortByName", "groupByNode", "keepLastValue",
      "transformNull", "timeShift", "asPercent", "removeBelowValue", "removeAboveValue"};
  static const char *const lits[] = {"-1", "0", "1", "2", "2.5", "1e9", "-1e20", "1e300", "'10s'",
                                     "'sum'", "'avg'", "'(^.*$)'", "'\\1 A'", "'x'", "'1d'", "true",
                                     "none", "inf", "'-20s'", "'('", "'max'", "'1min'"};
  if (depth > 4 || rnd(3) == 0) {
    dm_buf_adds(b, paths[rnd(sizeof paths / sizeof paths[0])]);
    return;
  }
  dm_buf_adds(b, fns[rnd(sizeof fns / sizeof fns[0])]);
  dm_buf_add(b, "(", 1);
  unsigned nargs = rnd(4);
  for (unsigned i = 0; i < nargs; i++) {
    if (i) dm_buf_add(b, ",", 1);
    if (i == 0 || rnd(3) == 0) gen(b, depth + 1);
    else dm_buf_adds(b, lits[rnd(sizeof lits / sizeof lits[0])]);
  }
  dm_buf_add(b, ")", 1);
}

static void test_random_targets(void **state) {
  (void)state;
  size_t ok = 0;
  for (int it = 0; it < 4000; it++) {
    dm_buf t;
    dm_buf_init(&t);
    gen(&t, 0);
    dm_buf_add(&t, "", 1);
    dm_buf b;
    dm_buf_init(&b);
    int rc = eval_targets(t.p, 0, 100000, &b);
    if (rc != 0 && rc != DM_EINVAL && rc != DM_ERANGE) fail_msg("%s: rc %d: %s", t.p, rc, err);
    if (rc == 0) ok++;
    dm_buf_free(&b);
    dm_buf_free(&t);
  }
  assert_true(ok > 500);
}

static void test_several_targets(void **state) {
  (void)state;
  const char *ts[2] = {"a.x", "alias(b.z,'z')"};
  size_t ls[2] = {3, 14};
  dm_render_ast *a;
  assert_int_equal(dm_render_parse(&a, ts, ls, 2, err, sizeof err), 0);
  req_ctx r = {999, 1049, 0};
  dm_render_req req = {999, 1049, 0, 0};
  dm_render_list out = {0};
  assert_int_equal(dm_render_eval(a, &req, fetch, &r, &out, err, sizeof err), 0);
  assert_int_equal(out.n, 2);
  assert_int_equal(r.calls, 2);
  assert_string_equal(out.s[0]->name, "a.x");
  assert_string_equal(out.s[1]->name, "z");
  assert_int_equal(out.s[1]->step, 20);
  dm_render_series *cp = dm_render_series_copy(out.s[1]);
  assert_non_null(cp);
  assert_string_equal(cp->name, "z");
  assert_string_equal(cp->tag_name, "b.z");
  assert_string_equal(cp->path_expr, "b.z");
  assert_int_equal(cp->n, 3);
  assert_true(cp->v[2] == 300);
  dm_render_series_free(cp);
  dm_render_list_free(&out);
  dm_render_ast_free(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_fetch_and_path, setup),
      cmocka_unit_test_setup(test_alias_family, setup),
      cmocka_unit_test_setup(test_alias_sub_grafana, setup),
      cmocka_unit_test_setup(test_constant_line, setup),
      cmocka_unit_test_setup(test_consolidate_by, setup),
      cmocka_unit_test_setup(test_aggregates, setup),
      cmocka_unit_test_setup(test_aggregate_steps_and_ranges, setup),
      cmocka_unit_test_setup(test_divide, setup),
      cmocka_unit_test_setup(test_scale_offset_absolute, setup),
      cmocka_unit_test_setup(test_derivatives, setup),
      cmocka_unit_test_setup(test_moving_average, setup),
      cmocka_unit_test_setup(test_summarize, setup),
      cmocka_unit_test_setup(test_hitcount, setup),
      cmocka_unit_test_setup(test_selection, setup),
      cmocka_unit_test_setup(test_sort_by_name, setup),
      cmocka_unit_test_setup(test_group_by_node, setup),
      cmocka_unit_test_setup(test_nulls, setup),
      cmocka_unit_test_setup(test_time_shift, setup),
      cmocka_unit_test_setup(test_as_percent, setup),
      cmocka_unit_test_setup(test_errors_and_budgets, setup),
      cmocka_unit_test_setup(test_empty_series, setup),
      cmocka_unit_test_setup(test_random_targets, setup),
      cmocka_unit_test_setup(test_several_targets, setup),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
