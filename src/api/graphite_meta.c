/* graphite_meta.c — the rest of what Grafana's Graphite data source asks before it renders:
 * /functions (which functions diamond's /render implements, in graphite-web's shape, so the
 * query editor offers exactly those), /functions/<name>, the tag autocompletion endpoints
 * (diamond has no Graphite tags: always []) and /version.
 *
 * The function table mirrors graphite-web 1.1's declarations (render/functions.py: each
 * function's group and params, with graphite's parameter type names, defaults, options and
 * suggestions) so Grafana's editor builds the same controls; the descriptions are ours. An
 * entry is its reply object, pre-rendered: graphite-web's functionInfo keys in its order,
 * name, function (the signature), description, module, group, params. keepLastValue's
 * default is infinity, written 1e9999 as graphite-web's encoder writes it (Grafana parses
 * that back to Infinity).
 */
#include <string.h>
#include <strings.h>

#include "api_int.h"
#include "diamond/buf.h"
#include "diamond/error.h"

/* graphite-web 1.1's version string: Grafana reads it with semver and enables /functions
 * and tags from 1.1.0 on. */
#define GRAPHITE_VERSION "1.1.10"

typedef struct func {
  const char *name, *group, *json;
} func;

/* Sorted by name (graphite-web's dict order is not; JSON objects have none). */
static const func funcs[] = {
    {"absolute", "Transform",
     "{\"name\":\"absolute\",\"function\":\"absolute(seriesList)\",\"description\":\"The "
     "absolute value of every point.\",\"module\":\"graphite.render.functions\",\"gr"
     "oup\":\"Transform\",\"params\":[{\"name\":\"seriesList\",\"type\":\"seriesList\",\"req"
     "uired\":true}]}"},
    {"alias", "Alias",
     "{\"name\":\"alias\",\"function\":\"alias(seriesList, newName)\",\"description\":\"R"
     "enames every series in the list to newName.\",\"module\":\"graphite.render.f"
     "unctions\",\"group\":\"Alias\",\"params\":[{\"name\":\"seriesList\",\"type\":\"seriesL"
     "ist\",\"required\":true},{\"name\":\"newName\",\"type\":\"string\",\"required\":true}"
     "]}"},
    {"aliasByMetric", "Alias",
     "{\"name\":\"aliasByMetric\",\"function\":\"aliasByMetric(seriesList)\",\"descript"
     "ion\":\"Names each series by the last node of its name.\",\"module\":\"graphit"
     "e.render.functions\",\"group\":\"Alias\",\"params\":[{\"name\":\"seriesList\",\"type"
     "\":\"seriesList\",\"required\":true}]}"},
    {"aliasByNode", "Alias",
     "{\"name\":\"aliasByNode\",\"function\":\"aliasByNode(seriesList, *nodes)\",\"desc"
     "ription\":\"Names each series by the dot-separated nodes of its name at th"
     "e given positions (0 is the first; negative counts from the end), joined"
     " by dots.\",\"module\":\"graphite.render.functions\",\"group\":\"Alias\",\"params\""
     ":[{\"name\":\"seriesList\",\"type\":\"seriesList\",\"required\":true},{\"name\":\"nod"
     "es\",\"type\":\"nodeOrTag\",\"required\":true,\"multiple\":true}]}"},
    {"aliasSub", "Alias",
     "{\"name\":\"aliasSub\",\"function\":\"aliasSub(seriesList, search, replace)\",\"d"
     "escription\":\"Names each series by a regular-expression substitution on i"
     "ts name; the replacement may use \\\\1 back-references.\",\"module\":\"graphit"
     "e.render.functions\",\"group\":\"Alias\",\"params\":[{\"name\":\"seriesList\",\"type"
     "\":\"seriesList\",\"required\":true},{\"name\":\"search\",\"type\":\"string\",\"requir"
     "ed\":true},{\"name\":\"replace\",\"type\":\"string\",\"required\":true}]}"},
    {"asPercent", "Combine",
     "{\"name\":\"asPercent\",\"function\":\"asPercent(seriesList, total=None, *nodes"
     ")\",\"description\":\"Each series as a percentage of total (a number or a se"
     "ries), or of the sum of all the series.\",\"module\":\"graphite.render.funct"
     "ions\",\"group\":\"Combine\",\"params\":[{\"name\":\"seriesList\",\"type\":\"seriesLis"
     "t\",\"required\":true},{\"name\":\"total\",\"type\":\"any\"},{\"name\":\"nodes\",\"type\""
     ":\"nodeOrTag\",\"multiple\":true}]}"},
    {"averageSeries", "Combine",
     "{\"name\":\"averageSeries\",\"function\":\"averageSeries(*seriesLists)\",\"descri"
     "ption\":\"The average of the series at each step; nulls are skipped.\",\"mod"
     "ule\":\"graphite.render.functions\",\"group\":\"Combine\",\"params\":[{\"name\":\"se"
     "riesLists\",\"type\":\"seriesList\",\"required\":true,\"multiple\":true}]}"},
    {"consolidateBy", "Special",
     "{\"name\":\"consolidateBy\",\"function\":\"consolidateBy(seriesList, consolidat"
     "ionFunc)\",\"description\":\"Sets how points are combined when maxDataPoints"
     " makes the series shorter than its data: sum, average (avg), min, max, f"
     "irst or last.\",\"module\":\"graphite.render.functions\",\"group\":\"Special\",\"p"
     "arams\":[{\"name\":\"seriesList\",\"type\":\"seriesList\",\"required\":true},{\"name"
     "\":\"consolidationFunc\",\"type\":\"string\",\"required\":true,\"options\":[\"averag"
     "e\",\"avg\",\"avg_zero\",\"first\",\"last\",\"max\",\"min\",\"sum\"]}]}"},
    {"constantLine", "Special",
     "{\"name\":\"constantLine\",\"function\":\"constantLine(value)\",\"description\":\"A"
     " series with the same value at every step over the requested range.\",\"mo"
     "dule\":\"graphite.render.functions\",\"group\":\"Special\",\"params\":[{\"name\":\"v"
     "alue\",\"type\":\"float\",\"required\":true}]}"},
    {"derivative", "Transform",
     "{\"name\":\"derivative\",\"function\":\"derivative(seriesList)\",\"description\":\""
     "The difference between each point and the one before it.\",\"module\":\"grap"
     "hite.render.functions\",\"group\":\"Transform\",\"params\":[{\"name\":\"seriesList"
     "\",\"type\":\"seriesList\",\"required\":true}]}"},
    {"diffSeries", "Combine",
     "{\"name\":\"diffSeries\",\"function\":\"diffSeries(*seriesLists)\",\"description\""
     ":\"The first series minus all the others, step by step.\",\"module\":\"graphi"
     "te.render.functions\",\"group\":\"Combine\",\"params\":[{\"name\":\"seriesLists\",\""
     "type\":\"seriesList\",\"required\":true,\"multiple\":true}]}"},
    {"divideSeries", "Combine",
     "{\"name\":\"divideSeries\",\"function\":\"divideSeries(dividendSeriesList, divi"
     "sorSeries)\",\"description\":\"Each series divided by the divisor series, st"
     "ep by step; division by zero gives null.\",\"module\":\"graphite.render.func"
     "tions\",\"group\":\"Combine\",\"params\":[{\"name\":\"dividendSeriesList\",\"type\":\""
     "seriesList\",\"required\":true},{\"name\":\"divisorSeries\",\"type\":\"seriesList\""
     ",\"required\":true}]}"},
    {"groupByNode", "Combine",
     "{\"name\":\"groupByNode\",\"function\":\"groupByNode(seriesList, nodeNum, callb"
     "ack='average')\",\"description\":\"Groups the series by the node at nodeNum "
     "and combines each group with callback.\",\"module\":\"graphite.render.functi"
     "ons\",\"group\":\"Combine\",\"params\":[{\"name\":\"seriesList\",\"type\":\"seriesList"
     "\",\"required\":true},{\"name\":\"nodeNum\",\"type\":\"nodeOrTag\",\"required\":true}"
     ",{\"name\":\"callback\",\"type\":\"aggOrSeriesFunc\",\"default\":\"average\",\"option"
     "s\":[\"average\",\"averageSeries\",\"avg\",\"avg_zero\",\"count\",\"current\",\"diff\","
     "\"diffSeries\",\"last\",\"max\",\"maxSeries\",\"median\",\"min\",\"minSeries\",\"multip"
     "ly\",\"multiplySeries\",\"range\",\"rangeOf\",\"stddev\",\"sum\",\"sumSeries\",\"total"
     "\"]}]}"},
    {"highestCurrent", "Filter Series",
     "{\"name\":\"highestCurrent\",\"function\":\"highestCurrent(seriesList, n)\",\"des"
     "cription\":\"The n series with the highest last value.\",\"module\":\"graphite"
     ".render.functions\",\"group\":\"Filter Series\",\"params\":[{\"name\":\"seriesList"
     "\",\"type\":\"seriesList\",\"required\":true},{\"name\":\"n\",\"type\":\"integer\",\"req"
     "uired\":true}]}"},
    {"highestMax", "Filter Series",
     "{\"name\":\"highestMax\",\"function\":\"highestMax(seriesList, n)\",\"description"
     "\":\"The n series with the highest maximum value.\",\"module\":\"graphite.rend"
     "er.functions\",\"group\":\"Filter Series\",\"params\":[{\"name\":\"seriesList\",\"ty"
     "pe\":\"seriesList\",\"required\":true},{\"name\":\"n\",\"type\":\"integer\",\"required"
     "\":true}]}"},
    {"hitcount", "Transform",
     "{\"name\":\"hitcount\",\"function\":\"hitcount(seriesList, intervalString, alig"
     "nToInterval=False)\",\"description\":\"Estimates hits per bucket of interval"
     "String from a rate series.\",\"module\":\"graphite.render.functions\",\"group\""
     ":\"Transform\",\"params\":[{\"name\":\"seriesList\",\"type\":\"seriesList\",\"require"
     "d\":true},{\"name\":\"intervalString\",\"type\":\"interval\",\"required\":true,\"sug"
     "gestions\":[\"10min\",\"1h\",\"1d\"]},{\"name\":\"alignToInterval\",\"type\":\"boolean"
     "\",\"default\":false}]}"},
    {"integral", "Transform",
     "{\"name\":\"integral\",\"function\":\"integral(seriesList)\",\"description\":\"The "
     "running sum of the series over the range.\",\"module\":\"graphite.render.fun"
     "ctions\",\"group\":\"Transform\",\"params\":[{\"name\":\"seriesList\",\"type\":\"serie"
     "sList\",\"required\":true}]}"},
    {"keepLastValue", "Transform",
     "{\"name\":\"keepLastValue\",\"function\":\"keepLastValue(seriesList, limit=inf)"
     "\",\"description\":\"Replaces nulls with the last value before them, for at "
     "most limit consecutive nulls.\",\"module\":\"graphite.render.functions\",\"gro"
     "up\":\"Transform\",\"params\":[{\"name\":\"seriesList\",\"type\":\"seriesList\",\"requ"
     "ired\":true},{\"name\":\"limit\",\"type\":\"intOrInf\",\"default\":1e9999}]}"},
    {"limit", "Filter Series",
     "{\"name\":\"limit\",\"function\":\"limit(seriesList, n)\",\"description\":\"The fir"
     "st n series of the list.\",\"module\":\"graphite.render.functions\",\"group\":\""
     "Filter Series\",\"params\":[{\"name\":\"seriesList\",\"type\":\"seriesList\",\"requi"
     "red\":true},{\"name\":\"n\",\"type\":\"integer\",\"required\":true}]}"},
    {"lowestCurrent", "Filter Series",
     "{\"name\":\"lowestCurrent\",\"function\":\"lowestCurrent(seriesList, n)\",\"descr"
     "iption\":\"The n series with the lowest last value.\",\"module\":\"graphite.re"
     "nder.functions\",\"group\":\"Filter Series\",\"params\":[{\"name\":\"seriesList\",\""
     "type\":\"seriesList\",\"required\":true},{\"name\":\"n\",\"type\":\"integer\",\"requir"
     "ed\":true}]}"},
    {"maxSeries", "Combine",
     "{\"name\":\"maxSeries\",\"function\":\"maxSeries(*seriesLists)\",\"description\":\""
     "The largest value among the series at each step.\",\"module\":\"graphite.ren"
     "der.functions\",\"group\":\"Combine\",\"params\":[{\"name\":\"seriesLists\",\"type\":"
     "\"seriesList\",\"required\":true,\"multiple\":true}]}"},
    {"minSeries", "Combine",
     "{\"name\":\"minSeries\",\"function\":\"minSeries(*seriesLists)\",\"description\":\""
     "The smallest value among the series at each step.\",\"module\":\"graphite.re"
     "nder.functions\",\"group\":\"Combine\",\"params\":[{\"name\":\"seriesLists\",\"type\""
     ":\"seriesList\",\"required\":true,\"multiple\":true}]}"},
    {"movingAverage", "Calculate",
     "{\"name\":\"movingAverage\",\"function\":\"movingAverage(seriesList, windowSize"
     ", xFilesFactor=None)\",\"description\":\"The average of the last windowSize "
     "points, or of the points in the last windowSize interval.\",\"module\":\"gra"
     "phite.render.functions\",\"group\":\"Calculate\",\"params\":[{\"name\":\"seriesLis"
     "t\",\"type\":\"seriesList\",\"required\":true},{\"name\":\"windowSize\",\"type\":\"int"
     "OrInterval\",\"required\":true,\"suggestions\":[5,7,10,\"1min\",\"5min\",\"10min\","
     "\"30min\",\"1hour\"]},{\"name\":\"xFilesFactor\",\"type\":\"float\"}]}"},
    {"multiplySeries", "Combine",
     "{\"name\":\"multiplySeries\",\"function\":\"multiplySeries(*seriesLists)\",\"desc"
     "ription\":\"Multiplies the series together, step by step.\",\"module\":\"graph"
     "ite.render.functions\",\"group\":\"Combine\",\"params\":[{\"name\":\"seriesLists\","
     "\"type\":\"seriesList\",\"required\":true,\"multiple\":true}]}"},
    {"nonNegativeDerivative", "Transform",
     "{\"name\":\"nonNegativeDerivative\",\"function\":\"nonNegativeDerivative(series"
     "List, maxValue=None, minValue=None)\",\"description\":\"The derivative of a "
     "counter: a decrease is taken as a wrap at maxValue, or null without maxV"
     "alue.\",\"module\":\"graphite.render.functions\",\"group\":\"Transform\",\"params\""
     ":[{\"name\":\"seriesList\",\"type\":\"seriesList\",\"required\":true},{\"name\":\"max"
     "Value\",\"type\":\"float\"},{\"name\":\"minValue\",\"type\":\"float\"}]}"},
    {"offset", "Transform",
     "{\"name\":\"offset\",\"function\":\"offset(seriesList, factor)\",\"description\":\""
     "Adds factor to every value.\",\"module\":\"graphite.render.functions\",\"group"
     "\":\"Transform\",\"params\":[{\"name\":\"seriesList\",\"type\":\"seriesList\",\"requir"
     "ed\":true},{\"name\":\"factor\",\"type\":\"float\",\"required\":true}]}"},
    {"perSecond", "Transform",
     "{\"name\":\"perSecond\",\"function\":\"perSecond(seriesList, maxValue=None, min"
     "Value=None)\",\"description\":\"The per-second rate of a counter: the non-ne"
     "gative derivative divided by the step.\",\"module\":\"graphite.render.functi"
     "ons\",\"group\":\"Transform\",\"params\":[{\"name\":\"seriesList\",\"type\":\"seriesLi"
     "st\",\"required\":true},{\"name\":\"maxValue\",\"type\":\"float\"},{\"name\":\"minValu"
     "e\",\"type\":\"float\"}]}"},
    {"removeAboveValue", "Filter Data",
     "{\"name\":\"removeAboveValue\",\"function\":\"removeAboveValue(seriesList, n)\","
     "\"description\":\"Sets to null every point above n.\",\"module\":\"graphite.ren"
     "der.functions\",\"group\":\"Filter Data\",\"params\":[{\"name\":\"seriesList\",\"typ"
     "e\":\"seriesList\",\"required\":true},{\"name\":\"n\",\"type\":\"float\",\"required\":t"
     "rue}]}"},
    {"removeBelowValue", "Filter Data",
     "{\"name\":\"removeBelowValue\",\"function\":\"removeBelowValue(seriesList, n)\","
     "\"description\":\"Sets to null every point below n.\",\"module\":\"graphite.ren"
     "der.functions\",\"group\":\"Filter Data\",\"params\":[{\"name\":\"seriesList\",\"typ"
     "e\":\"seriesList\",\"required\":true},{\"name\":\"n\",\"type\":\"float\",\"required\":t"
     "rue}]}"},
    {"scale", "Transform",
     "{\"name\":\"scale\",\"function\":\"scale(seriesList, factor)\",\"description\":\"Mu"
     "ltiplies every value by factor.\",\"module\":\"graphite.render.functions\",\"g"
     "roup\":\"Transform\",\"params\":[{\"name\":\"seriesList\",\"type\":\"seriesList\",\"re"
     "quired\":true},{\"name\":\"factor\",\"type\":\"float\",\"required\":true}]}"},
    {"sortByName", "Sorting",
     "{\"name\":\"sortByName\",\"function\":\"sortByName(seriesList, natural=False, r"
     "everse=False)\",\"description\":\"Sorts the list by series name (natural: nu"
     "mbers by value; reverse: descending).\",\"module\":\"graphite.render.functio"
     "ns\",\"group\":\"Sorting\",\"params\":[{\"name\":\"seriesList\",\"type\":\"seriesList\""
     ",\"required\":true},{\"name\":\"natural\",\"type\":\"boolean\",\"default\":false},{\""
     "name\":\"reverse\",\"type\":\"boolean\",\"default\":false}]}"},
    {"sumSeries", "Combine",
     "{\"name\":\"sumSeries\",\"function\":\"sumSeries(*seriesLists)\",\"description\":\""
     "Adds the series together, step by step; nulls are skipped.\",\"module\":\"gr"
     "aphite.render.functions\",\"group\":\"Combine\",\"params\":[{\"name\":\"seriesList"
     "s\",\"type\":\"seriesList\",\"required\":true,\"multiple\":true}]}"},
    {"summarize", "Transform",
     "{\"name\":\"summarize\",\"function\":\"summarize(seriesList, intervalString, fu"
     "nc='sum', alignToFrom=False)\",\"description\":\"Groups the points into buck"
     "ets of intervalString and combines each bucket with func (sum by default"
     ").\",\"module\":\"graphite.render.functions\",\"group\":\"Transform\",\"params\":[{"
     "\"name\":\"seriesList\",\"type\":\"seriesList\",\"required\":true},{\"name\":\"interv"
     "alString\",\"type\":\"interval\",\"required\":true,\"suggestions\":[\"10min\",\"1h\","
     "\"1d\"]},{\"name\":\"func\",\"type\":\"aggFunc\",\"default\":\"sum\",\"options\":[\"avera"
     "ge\",\"avg\",\"avg_zero\",\"count\",\"current\",\"diff\",\"last\",\"max\",\"median\",\"min"
     "\",\"multiply\",\"range\",\"rangeOf\",\"stddev\",\"sum\",\"total\"]},{\"name\":\"alignTo"
     "From\",\"type\":\"boolean\",\"default\":false}]}"},
    {"timeShift", "Transform",
     "{\"name\":\"timeShift\",\"function\":\"timeShift(seriesList, timeShift, resetEn"
     "d=True, alignDST=False)\",\"description\":\"Draws the series as it was timeS"
     "hift earlier (for example \\\"1d\\\" or \\\"-1w\\\").\",\"module\":\"graphite.render"
     ".functions\",\"group\":\"Transform\",\"params\":[{\"name\":\"seriesList\",\"type\":\"s"
     "eriesList\",\"required\":true},{\"name\":\"timeShift\",\"type\":\"interval\",\"requi"
     "red\":true,\"suggestions\":[\"1h\",\"6h\",\"12h\",\"1d\",\"2d\",\"7d\",\"14d\",\"30d\"]},{\""
     "name\":\"resetEnd\",\"type\":\"boolean\",\"default\":true},{\"name\":\"alignDst\",\"ty"
     "pe\":\"boolean\",\"default\":false}]}"},
    {"transformNull", "Transform",
     "{\"name\":\"transformNull\",\"function\":\"transformNull(seriesList, default=0,"
     " referenceSeries=None)\",\"description\":\"Replaces nulls with default (0 un"
     "less given).\",\"module\":\"graphite.render.functions\",\"group\":\"Transform\",\""
     "params\":[{\"name\":\"seriesList\",\"type\":\"seriesList\",\"required\":true},{\"nam"
     "e\":\"default\",\"type\":\"float\",\"default\":0},{\"name\":\"referenceSeries\",\"type"
     "\":\"seriesList\"}]}"},
};

#define NFUNCS (sizeof funcs / sizeof funcs[0])

static void reply(dm_http_req *r, dm_buf *b) {
  if (b->oom) dm_http_respond_error(r, 500, "out of memory");
  else dm_http_respond(r, 200, "application/json", b->p, b->len, "");
}

/* ?grouped=1|true: {"<group>":{"<name>":{..}}}; ?group=<g>: only that group; ?type=pie:
 * graphite's pie functions, of which diamond has none. */
static void functions(dm_http_req *r, void *arg) {
  (void)arg;
  const char *grouped = dm_http_query(r, "grouped", 0);
  const char *group = dm_http_query(r, "group", 0);
  const char *type = dm_http_query(r, "type", 0);
  int by_group =
      grouped != NULL && (strcmp(grouped, "1") == 0 || strcasecmp(grouped, "true") == 0);
  int pie = type != NULL && strcmp(type, "pie") == 0;
  dm_buf b;
  dm_buf_init(&b);
  dm_buf_adds(&b, "{");
  if (!pie && !by_group) {
    size_t k = 0;
    for (size_t i = 0; i < NFUNCS; i++) {
      if (group != NULL && strcmp(group, funcs[i].group) != 0) continue;
      if (k++) dm_buf_adds(&b, ",");
      dm_buf_json_str(&b, funcs[i].name, strlen(funcs[i].name));
      dm_buf_adds(&b, ":");
      dm_buf_adds(&b, funcs[i].json);
    }
  } else if (!pie) { /* each group once, in order of first appearance */
    size_t ng = 0;
    for (size_t i = 0; i < NFUNCS; i++) {
      const char *g = funcs[i].group;
      if (group != NULL && strcmp(group, g) != 0) continue;
      size_t j = 0;
      while (j < i && strcmp(funcs[j].group, g) != 0) j++;
      if (j < i) continue; /* listed with its first function */
      if (ng++) dm_buf_adds(&b, ",");
      dm_buf_json_str(&b, g, strlen(g));
      dm_buf_adds(&b, ":{");
      for (size_t k = i, n = 0; k < NFUNCS; k++) {
        if (strcmp(funcs[k].group, g) != 0) continue;
        if (n++) dm_buf_adds(&b, ",");
        dm_buf_json_str(&b, funcs[k].name, strlen(funcs[k].name));
        dm_buf_adds(&b, ":");
        dm_buf_adds(&b, funcs[k].json);
      }
      dm_buf_adds(&b, "}");
    }
  }
  dm_buf_adds(&b, "}");
  reply(r, &b);
  dm_buf_free(&b);
}

static void function(dm_http_req *r, void *arg) {
  (void)arg;
  const char *name = dm_http_param(r, 0);
  const char *type = dm_http_query(r, "type", 0);
  if (type == NULL || strcmp(type, "pie") != 0) {
    for (size_t i = 0; i < NFUNCS; i++) {
      if (strcmp(funcs[i].name, name) == 0) {
        dm_http_respond(r, 200, "application/json", funcs[i].json, strlen(funcs[i].json), "");
        return;
      }
    }
  }
  dm_http_respond_error(r, 404, "function not found: %s", name);
}

static void no_tags(dm_http_req *r, void *arg) {
  (void)arg;
  dm_api_json(r, 200, "[]");
}

static void version(dm_http_req *r, void *arg) {
  (void)arg;
  dm_http_respond(r, 200, "text/plain; charset=utf-8", GRAPHITE_VERSION,
                  sizeof GRAPHITE_VERSION - 1, "");
}

int dm_api_graphite_meta_routes(dm_api *a) {
  int rc = 0;
  int m = DM_HTTP_GET | DM_HTTP_POST;
  rc |= dm_api_route(a, DM_HTTP_GET, "/functions", "graphite_functions", SCOPE_READ, functions);
  rc |= dm_api_route(a, DM_HTTP_GET, "/functions/:", "graphite_function", SCOPE_READ, function);
  rc |= dm_api_route(a, m, "/tags/autoComplete/tags", "graphite_tags", SCOPE_READ, no_tags);
  rc |= dm_api_route(a, m, "/tags/autoComplete/values", "graphite_tag_values", SCOPE_READ,
                     no_tags);
  rc |= dm_api_route(a, DM_HTTP_GET, "/version", "graphite_version", SCOPE_READ, version);
  return rc < 0 ? DM_ENOMEM : 0;
}
