"""grafana_requests.py: the HTTP requests Grafana's built-in Graphite data source sends to a
Graphite server, as data an integration test can replay against diamondd.

Read from Grafana's source (github.com/grafana/grafana), frontend mode (the default; the
`graphiteBackendMode` feature toggle instead routes these through Grafana's Go plugin):

  DS  = public/app/plugins/datasource/graphite/datasource.ts (commit 46831bf7255d)
  PRV = public/app/plugins/datasource/graphite/state/providers.ts (commit 1df8b64e628f)
  VER = public/app/plugins/datasource/graphite/versions.ts: DEFAULT_GRAPHITE_VERSION '1.1'

Facts the list encodes (all from DS unless noted):
- doGraphiteRequest prefixes the data source URL; with basic auth it adds `Authorization`.
  In proxy mode (the default "Server" access) the browser talks to Grafana, which forwards
  to the Graphite URL; addTracingHeaders adds X-Dashboard-Id / X-Panel-Id /
  X-Panel-Plugin-Id when the query has them.
- query() (panels and "Save & test") wraps every target as
  `aliasSub(<target>, "(^.*$)", "\\1 <refId>")` (Grafana >= 11.6) and sends ONE
  `POST /render` with `Content-Type: application/x-www-form-urlencoded`, body built by
  buildGraphiteParams: `target=<encodeURIComponent(t)>` for each visible target, then, in
  this order and only when set, from, until, format (always "json"), maxDataPoints,
  cacheTimeout (the graphOptions object's key order: from, until, targets, format,
  cacheTimeout, maxDataPoints; `each` walks it, so cacheTimeout precedes maxDataPoints).
  from/until come from translateTime(range.from/to): epoch seconds (from minus 1 s and until
  plus 1 s when the second is not 0), or "now" / "-1h"-style strings for raw relative
  strings (then "m" becomes "min", "M" "mon").
- testDatasource() ("Save & test") = query() of `constantLine(100)`, refId A, range now-1h
  to now, maxDataPoints 300, panelId 3: one POST /render. Success = a 2xx JSON array.
- getFuncDefs() (query editor load, graphiteVersion >= 1.1, VER): `GET /functions`,
  response read as text then JSON.parse (after replacing `"default": Infinity`).
- getVersion(): `GET /version`; the body is parsed with semver (`new SemVer(data)`).
- Browsing, PRV getAltSegments: segment 0 queries "*" (or "*<prefix>*" while typing),
  segment i queries "<path up to i>.*"; each is metricFindQuery -> requestMetricFind:
  `POST /metrics/find?from=<from>&until=<until>` (params, URL-encoded) with body
  `query=<glob>` NOT URL-encoded (`data: \`query=${query}\``), Content-Type form. The
  editor reads only `text` and `expandable` of each entry.
- Segment 0 with tags supported (version >= 1.1) also asks PRV addAltTagSegments ->
  getTagsAutoComplete: `GET /tags/autoComplete/tags?limit=5000&from=..&until=..` (expr=
  repeated per tag expression: none before a tag is chosen; tagPrefix when typing).
- A variable query `expand(<glob>)` -> requestMetricExpand: `GET /metrics/expand?query=..
  &from=..&until=..` (with a Content-Type header but no body), reads `results`.
- `tag_values(<tag>)` variable -> getTagValuesAutoComplete: `GET /tags/autoComplete/values
  ?expr=..&tag=<tag>&limit=10000`.

Each entry: name, method, path (with query string), headers, body (str or None),
source (file + function), and what a client needs of the reply ("expect").
RANGE_FROM / RANGE_UNTIL are placeholders the replaying test substitutes with epoch seconds.
"""

from urllib.parse import quote

RANGE_FROM = "{from}"
RANGE_UNTIL = "{until}"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def encode_uri_component(s):
    """JavaScript's encodeURIComponent: everything but A-Z a-z 0-9 - _ . ! ~ * ' ( )."""
    return quote(s, safe="-_.!~*'()")


def render_body(targets, frm, until, max_data_points):
    """buildGraphiteParams' body for targets [(refId, target)] (DS query + buildGraphiteParams)."""
    parts = ["target=" + encode_uri_component('aliasSub(%s, "(^.*$)", "\\1 %s")' % (t, ref))
             for ref, t in targets]
    parts += ["from=" + encode_uri_component(str(frm)), "until=" + encode_uri_component(str(until)),
              "format=json", "maxDataPoints=%d" % max_data_points]
    return "&".join(parts)


def requests(first_segment, second_glob, panel_target):
    """The sequence for: Save & test, opening the query editor and browsing two levels down
    (first_segment chosen at level 0, e.g. "host"; second_glob the level-1 query, e.g.
    "host.*"), then a panel showing panel_target."""
    return [
        # "Save & test": DS testDatasource -> query -> doGraphiteRequest
        {"name": "save_and_test", "method": "POST", "path": "/render",
         "headers": dict(FORM, **{"X-Panel-Id": "3"}),
         "body": render_body([("A", "constantLine(100)")], RANGE_FROM, RANGE_UNTIL, 300),
         "source": "grafana/grafana DS testDatasource(), query(), buildGraphiteParams()",
         "expect": "200 JSON array; each series {target, datapoints}; target ends in ' A'"},
        # the data source settings page (graphite version auto-detection)
        {"name": "version", "method": "GET", "path": "/version", "headers": {}, "body": None,
         "source": "grafana/grafana DS getVersion()",
         "expect": "200 body a semver string, e.g. 1.1.10"},
        # query editor load
        {"name": "functions", "method": "GET", "path": "/functions", "headers": {},
         "body": None, "source": "grafana/grafana DS getFuncDefs() (graphiteVersion >= 1.1, VER)",
         "expect": "200 JSON object name -> {name, description, group, params:[{name,type,"
                   "required?,multiple?,default?,options?,suggestions?}]}"},
        # browsing, level 0: metrics...
        {"name": "find_level0", "method": "POST",
         "path": "/metrics/find?from=%s&until=%s" % (RANGE_FROM, RANGE_UNTIL),
         "headers": FORM, "body": "query=*",
         "source": "grafana/grafana PRV getAltSegments(index 0) -> DS metricFindQuery() -> "
                   "requestMetricFind()",
         "expect": "200 JSON array of {text, expandable, ...}"},
        # ... and tags, in the same dropdown
        {"name": "tags_level0", "method": "GET",
         "path": "/tags/autoComplete/tags?limit=5000&from=%s&until=%s" % (RANGE_FROM,
                                                                          RANGE_UNTIL),
         "headers": {}, "body": None,
         "source": "grafana/grafana PRV addAltTagSegments() -> getTagsAsSegments() -> "
                   "DS getTagsAutoComplete()",
         "expect": "200 JSON array of strings"},
        # typing a prefix at level 0
        {"name": "find_level0_typed", "method": "POST",
         "path": "/metrics/find?from=%s&until=%s" % (RANGE_FROM, RANGE_UNTIL),
         "headers": FORM, "body": "query=*%s*" % first_segment[:2],
         "source": "grafana/grafana PRV getAltSegments(prefix)",
         "expect": "200 JSON array of {text, expandable, ...}"},
        # level 1
        {"name": "find_level1", "method": "POST",
         "path": "/metrics/find?from=%s&until=%s" % (RANGE_FROM, RANGE_UNTIL),
         "headers": FORM, "body": "query=%s" % second_glob,
         "source": "grafana/grafana PRV getAltSegments(index 1)",
         "expect": "200 JSON array of {text, expandable, ...}"},
        # a dashboard variable "expand(<glob>)"
        {"name": "variable_expand", "method": "GET",
         "path": "/metrics/expand?query=%s&from=%s&until=%s" % (encode_uri_component(second_glob),
                                                                RANGE_FROM, RANGE_UNTIL),
         "headers": FORM, "body": None,
         "source": "grafana/grafana DS metricFindQuery('expand(..)') -> requestMetricExpand()",
         "expect": "200 JSON {results: [paths]}"},
        # a dashboard variable "tag_values(name)"
        {"name": "variable_tag_values", "method": "GET",
         "path": "/tags/autoComplete/values?tag=name&limit=10000", "headers": {}, "body": None,
         "source": "grafana/grafana DS metricFindQuery('tag_values(..)') -> "
                   "getTagValuesAutoComplete()",
         "expect": "200 JSON array of strings"},
        # a panel with one query (refId A)
        {"name": "panel", "method": "POST", "path": "/render",
         "headers": dict(FORM, **{"X-Panel-Id": "1", "X-Dashboard-Id": "1"}),
         "body": render_body([("A", panel_target)], RANGE_FROM, RANGE_UNTIL, 1000),
         "source": "grafana/grafana DS query(), buildGraphiteParams(), addTracingHeaders()",
         "expect": "200 JSON array of {target, datapoints:[[value|null, ts]]}"},
    ]


# The sequence over the series test_graphite_find writes (host.<h>.<metric>), as one list.
REQUESTS = requests("host", "host.*", "host.web1.cpu.user")
