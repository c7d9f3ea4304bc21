"""test_graphite_diff: the differential test of issue 9. The same plaintext points go into
the reference Graphite (carbon-cache + graphite-web 1.1, graphite_ref.py) and into diamondd,
the same /render targets go to both, and the answers are compared: the same series in the
same order, the same "target" names, the same timestamps, values equal within 1e-9
(relative) and nulls at the same places. Only "tags" is not compared (diamond's carry only
"name", a documented difference).

The data is six hours of one-minute points shaped to exercise the semantics: a wildcard
tree dc.{a,b}.host{1..4}.{cpu,mem,net} with gauges that go negative, gaps, series that start
late or end early, counters that wrap (at 65536) or reset; srv.node{1,2,10,11}.load for
natural sorting, ties and zeros for divideSeries; tie.cnt, whose rates per second are exact
ties at perSecond's 6th decimal. CASES is the table of (targets, params) cases; every case
is compared in its own subTest, so all mismatches are reported together. Relative times
("-6h", "now", constantLine's grid) are asked of both within one wall-clock second. json is
compared series by series, csv row by row; a case with status= must be refused by both.
graphite-web's order of series is defined for every case here (sorted names, stable sorts,
first-seen groups), so Case.sort is not needed so far.

A case where diamond differs on purpose (src/render/eval.c's header, docs/design.md
"Differences from graphite-web 1.1") names the difference and asserts it (Case.differs).

Skipped only when graphite_ref.available() says the reference is not installed (make
test-deps installs it)."""

import http.client
import json
import math
import os
import sys
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import graphite_ref  # noqa: E402
from harness import Server, ServerTestCase, floor_step, main, now  # noqa: E402

STEP = 60
N = 360  # points per series: six hours
REL_TOL = 1e-9
ABS_TOL = 1e-12  # for values that should be 0 and come out as 1e-16 of a difference


# --- the data ------------------------------------------------------------------------------
def make_data(beg):
    """{name: [value or None] * N}, slot i at beg + 60 i."""
    data = {}
    for di, dc in enumerate("ab"):
        for h in range(1, 5):
            k = di * 4 + h
            cpu, mem, net = [], [], []
            c = 1000.0 * k
            for i in range(N):
                v = round(50 + 40 * math.sin(i / 17.0 + k), 3)
                if h == 2:
                    v = round(v - 60, 3)  # negative values
                if h == 3 and (i % 11 == 5 or 200 <= i < 220):
                    v = None  # gaps, one of 20 minutes
                cpu.append(v)

                m = 1000.0 * k + i * 2.5 + (i % 7) * 0.125
                if (h == 2 and i < 120) or (h == 3 and i >= 300) or \
                        (h == 4 and (i < 60 or i >= 330)):
                    m = None  # starts late, ends early, both
                mem.append(m)

                c += (600 if h == 1 else 100) + (i * k) % 37 + 0.5
                if h == 1:
                    c = c % 65536  # wraps (nonNegativeDerivative's maxValue=65535)
                if h == 2 and i in (100, 250):
                    c = 3.0  # resets
                n = c
                if h == 3 and i % 13 == 0:
                    n = None
                if h == 4 and i >= N - 3:
                    n = None
                net.append(n)
            data["dc.%s.host%d.cpu" % (dc, h)] = cpu
            data["dc.%s.host%d.mem" % (dc, h)] = mem
            data["dc.%s.host%d.net" % (dc, h)] = net
    for k, node in enumerate(("node1", "node2", "node10", "node11")):
        vals = []
        for i in range(N):
            v = float((i * (k + 3)) % 5)  # node2 .. zeros for divideSeries
            if node == "node11" and i % 5 == 0:
                v = None
            vals.append(v)
        data["srv.%s.load" % node] = vals
    # a counter whose rates per second are exact binary ties at the 6th decimal (m / 128):
    # perSecond's round(x, 6) is half-even on them
    c, vals = 0.0, []
    for i in range(N):
        c += 15.0 * (2 * (i % 8) + 1) / 32
        vals.append(c)
    data["tie.cnt"] = vals
    return data


def plaintext(data, beg):
    lines = []
    for name in sorted(data):
        for i, v in enumerate(data[name]):
            if v is not None:
                lines.append("%s %r %d\n" % (name, v, beg + STEP * i))
    return lines


def odd_lines(beg):
    """Plaintext the data dict cannot say: odd.unaligned (17 s past each step), odd.big
    (extreme doubles), odd.nan ("nan" lines, which carbon drops), odd.inf (inf, -inf: carbon
    stores them, diamond refuses the line). (lines, points graphite-web shows, diamond)."""
    big = ("1e+300", "-2.5e-300", "123456789012345678", "0.30000000000000004", "-0.0",
           "5e-324")
    lines, shown, infs = [], 0, 0
    for i in range(N):
        t = beg + STEP * i
        lines.append("odd.unaligned %r %d\n" % (i * 0.5, t + 17))
        lines.append("odd.big %s %d\n" % (big[i % len(big)], t))
        lines.append("odd.nan %s %d\n" % ("nan" if i % 2 == 0 else repr(float(i)), t))
        lines.append("odd.inf %s %d\n" % ("inf" if i % 10 == 0 else "-inf" if i % 10 == 5
                                           else repr(i / 4.0), t))
        shown += 4 - (i % 2 == 0)
        infs += i % 5 == 0
    return lines, shown, shown - infs


# --- the cases -----------------------------------------------------------------------------
class Case:
    """targets (str or list), params (from/until/maxDataPoints: 'ABS' etc. are resolved at
    run time); differs = (reason, check(test, case, (status, body) of graphite-web, of
    diamond) -> list of problems) for a documented difference; sort = compare as sorted by
    target (where graphite-web's order is undefined); status: both refuse with it."""

    def __init__(self, targets, times="ABS", differs=None, sort=False, status=200, post=False,
                 **params):
        self.status = status  # both must answer it; only 200s are compared further
        self.post = post      # a form POST, as Grafana sends
        self.targets = [targets] if isinstance(targets, str) else list(targets)
        self.times = times
        self.params = params
        self.differs = differs
        self.sort = sort

    def label(self):
        p = "".join("&%s=%s" % kv for kv in sorted(self.params.items()))
        return "%s%s [%s%s]" % ("POST " if self.post else "", " & ".join(self.targets),
                                self.times, p)


CFS = ("average", "sum", "min", "max", "first", "last")

# --- documented differences: each asserts what diamond does instead ------------------------
def refused(*words):
    """graphite-web answers; diamond refuses the target with a 400 whose message names
    words (an argument diamond does not half-do)."""
    def check(test, case, ref, mine):
        (rst, rbody), (st, body) = ref, mine
        out = []
        if rst != 200:
            out.append("graphite-web: HTTP %s %s (it answers this target)" % (rst, rbody))
        if st != 400:
            return out + ["diamond: HTTP %s %r, not 400" % (st, body)]
        msg = body.get("error", {}).get("message", "") if isinstance(body, dict) else body
        out += ["diamond's error %r lacks %r" % (msg, w) for w in words
                if w.lower() not in msg.lower()]
        return out
    return check


def error_400(graphite_status, *words):
    """A target in error: graphite-web answers graphite_status (500 for a Python exception, or
    200 with [] for a target its grammar reads as a path matching nothing); diamond answers
    400 with a message naming words."""
    def check(test, case, ref, mine):
        (rst, rbody), (st, body) = ref, mine
        out = []
        if rst != graphite_status or (rst == 200 and rbody != []):
            out.append("graphite-web: HTTP %s %.200r, not %s" % (rst, rbody, graphite_status))
        if st != 400:
            return out + ["diamond: HTTP %s %.300r, not 400" % (st, body)]
        msg = body.get("error", {}).get("message", "") if isinstance(body, dict) else body
        return out + ["diamond's error %r lacks %r" % (msg, w) for w in words
                      if w.lower() not in msg.lower()]
    return check


def no_retention_cut(test, case, ref, mine):
    """Whisper (30 days here) cuts a range at now - 30 d, or has nothing before it; diamond
    reads the whole range: its series start earlier, all null there, and agree after."""
    (rst, rbody), (st, body) = ref, mine
    if rst != 200 or st != 200:
        return ["HTTP %s from graphite-web, %s from diamond" % (rst, st)]
    if not body:
        return ["diamond has no series"]
    out = []
    for g in body:
        if any(v is not None for v, _ in g["datapoints"][:-N - 10]):
            out.append("%s: diamond has values more than 30 days ago" % g["target"])
    if not rbody:
        return out  # the whole range is past whisper's retention
    cut = []
    for r, g in zip(rbody, body):
        t0 = r["datapoints"][0][1] if r["datapoints"] else None
        cut.append(dict(g, datapoints=[p for p in g["datapoints"] if t0 is None or p[1] >= t0]))
        if g["datapoints"] and t0 is not None and g["datapoints"][0][1] >= t0:
            out.append("%s: diamond starts at %d, not before whisper's %d" % (
                g["target"], g["datapoints"][0][1], t0))
    return out + compare(rbody, cut)


def tags_name_only(test, case, ref, mine):
    """The answers agree, and diamond's tags are graphite-web's "name" alone."""
    (rst, rbody), (st, body) = ref, mine
    if rst != 200 or st != 200:
        return ["HTTP %s from graphite-web, %s from diamond" % (rst, st)]
    out = compare(rbody, body)
    for r, g in zip(rbody, body):
        want = {"name": r["tags"]["name"]}
        if g.get("tags") != want:
            out.append("%s: diamond's tags %r, want %r (graphite-web's %r)" % (
                g["target"], g.get("tags"), want, r["tags"]))
        if set(r["tags"]) == {"name"}:
            out.append("%s: graphite-web's tags are only name: no difference to show" %
                       r["target"])
    return out


def refuses_param(name):
    """graphite-web ignores the request parameter name (its answer is the one without it);
    diamond refuses it with a 400 naming it."""
    def check(test, case, ref, mine):
        (rst, rbody), (st, body) = ref, mine
        out = []
        params = dict(test.times(case))
        params.update((k, v) for k, v in case.params.items() if k != name)
        wst, without = test.graphite(case.targets, params)
        if rst != 200 or wst != 200:
            out.append("graphite-web: HTTP %s, %s without %s" % (rst, wst, name))
        elif compare(without, rbody):
            out.append("graphite-web does not ignore %s=%r" % (name, case.params[name]))
        if st != 400:
            return out + ["diamond: HTTP %s %.300r, not 400" % (st, body)]
        msg = body.get("error", {}).get("message", "") if isinstance(body, dict) else body
        if name not in msg:
            out.append("diamond's error %r does not name %s" % (msg, name))
        return out
    return check


def ignores_param(name):
    """diamond ignores the request parameter name: its answer is graphite-web's without it
    (and graphite-web's with it differs, or the case shows nothing)."""
    def check(test, case, ref, mine):
        (rst, rbody), (st, body) = ref, mine
        if rst != 200 or st != 200:
            return ["HTTP %s from graphite-web, %s from diamond" % (rst, st)]
        params = dict(test.times(case))
        params.update((k, v) for k, v in case.params.items() if k != name)
        wst, without = test.graphite(case.targets, params)
        if wst != 200:
            return ["graphite-web without %s: HTTP %s" % (name, wst)]
        out = compare(without, body)
        if not compare(without, rbody):
            out.append("graphite-web answers the same with and without %s: no difference to "
                       "show" % name)
        return out
    return check


def last_bucket_cut(test, case, ref, mine):
    """The answers agree but for the last value of each series, which may differ: diamond cuts
    a time-shifted series' values at the end it is shown to (resetEnd), graphite-web keeps
    them and maxDataPoints averages those past the end into the last bucket."""
    (rst, rbody), (st, body) = ref, mine
    if rst != 200 or st != 200:
        return ["HTTP %s from graphite-web, %s from diamond" % (rst, st)]
    cut = [dict(r, datapoints=r["datapoints"][:-1] + [[g["datapoints"][-1][0],
                                                        r["datapoints"][-1][1]]])
           if r["datapoints"] and len(g["datapoints"]) == len(r["datapoints"]) else r
           for r, g in zip(rbody, body)]
    return compare(cut, body)


def csv_cut(test, case, ref, mine):
    """diamond's csv rows are graphite-web's first ones, as many as graphite-web's json shows:
    graphite-web's csv also writes the shifted values past the series' end."""
    (rst, rbody), (st, body) = ref, mine
    if rst != 200 or st != 200:
        return ["HTTP %s from graphite-web, %s from diamond" % (rst, st)]
    params = dict(test.times(case))
    params.update((k, v) for k, v in case.params.items() if k != "format")
    jst, js = test.graphite(case.targets, params)
    if jst != 200:
        return ["graphite-web json: HTTP %s" % jst]
    shown = sum(len(s["datapoints"]) for s in js)
    rows = rbody.splitlines()
    out = compare_csv("\n".join(rows[:shown]), body)
    if len(rows) <= shown:
        out.append("graphite-web's csv has no rows past the end: no difference to show")
    return out


def infs_refused(test, case, ref, mine):
    """diamond refuses a plaintext line with an inf value (a bad line), carbon stores it:
    the answers agree with graphite-web's infinities as nulls."""
    (rst, rbody), (st, body) = ref, mine
    if rst != 200 or st != 200:
        return ["HTTP %s from graphite-web, %s from diamond" % (rst, st)]
    if not any(v is not None and math.isinf(v) for s in rbody for v, _ in s["datapoints"]):
        return ["graphite-web shows no inf: no difference to show"]
    nulled = [dict(s, datapoints=[[None if v is not None and math.isinf(v) else v, t]
                                  for v, t in s["datapoints"]]) for s in rbody]
    return compare(nulled, body)


def summarize_first(path, interval, func_text='"first"'):
    """graphite-web 1.1's aggregation functions have no "first" (a 400); diamond's
    summarize takes every consolidation function: each bucket is its first non-null value.
    The buckets are graphite-web's own for "last", the values come from its raw series."""
    def check(test, case, ref, mine):
        (rst, rbody), (st, body) = ref, mine
        out = []
        if rst != 400:
            out.append("graphite-web: HTTP %s, not 400 (it has no 'first')" % rst)
        if st != 200:
            return out + ["diamond: HTTP %s %r" % (st, body)]
        params = dict(test.times(case))
        params.update(case.params)
        target = case.targets[0]
        lst, last = test.graphite([target.replace(func_text, '"last"')], params)
        rawst, raw = test.graphite([path], params)
        if lst != 200 or rawst != 200:
            return out + ["graphite-web: HTTP %s, %s" % (lst, rawst)]
        want = []
        for s, r in zip(last, raw):
            pts = []
            for _, t in s["datapoints"]:
                vals = [v for v, ts in r["datapoints"] if t <= ts < t + interval and
                        v is not None]
                pts.append([vals[0] if vals else None, t])
            want.append({"target": s["target"].replace('"last"', func_text),
                         "tags": s["tags"], "datapoints": pts})
        return out + compare(want, body)
    return check


CASES = [
    # fetch, wildcards, time ranges
    *[Case("dc.a.host1.cpu", times=t)
      for t in ("ABS", "UNALIGNED", "REL", "MID", "FUTURE", "AFTER")],
    *[Case("dc.a.host3.cpu", times=t)
      for t in ("ABS", "UNALIGNED", "REL", "MID", "EARLY", "MINUTES", "ATTIME")],
    Case("dc.a.host[23].mem", times="EARLY", noNullPoints="true"),
    Case(["dc.a.host3.*", "constantLine(2)"], format="csv"),
    Case('aliasSub(summarize(dc.*.host3.cpu, "1h", "max"), "dc", "d,c")', times="REL",
         format="csv"),
    Case("dc.a.host3.cpu", format="csv", maxDataPoints=50),
    Case('timeShift(dc.a.host1.cpu, "-30min")', times="FUTURE", format="csv",
         differs=("a shifted series' values are cut at its end", csv_cut)),
    Case("dc.a.host3.cpu", times="SWAPPED"),
    Case("dc.a.host3.cpu", times="PAST",
         differs=("no retention cut", no_retention_cut)),
    Case("sumSeries(dc.a.*.cpu)", times="LONG",
         differs=("no retention cut", no_retention_cut)),
    *[Case("dc.a.host3.cpu", times=t) for t in ("WORDS", "NOWMINUS", "DAYS", "MIDNIGHT", "YMD")],
    Case("dc.a.host3.cpu", times="EMPTY", status=400),
    Case("nosuchFunction(dc.a.host3.cpu)", status=400),
    Case("asPercent(dc.a.*.mem, dc.b.host[12].mem)", status=400),
    Case("divideSeries(dc.a.*.mem, dc.b.host[12].mem)", status=400),
    Case("sumSeries(dc.a.host1.cpu", differs=("a syntax error is a 400 naming the position",
                                               error_400(200, "position"))),
    Case("scale(dc.a.host1.cpu)", differs=("a bad argument is a 400, not a 500",
                                           error_400(500, "factor"))),
    Case('summarize(dc.a.host1.cpu, "often")',
         differs=("a bad argument is a 400, not a 500", error_400(500, "interval"))),
    Case('movingAverage(timeShift(dc.a.host3.cpu, "1h"), 3)', times="NOW_FIRST"),
    Case(["constantLine(3)", 'summarize(dc.*.host3.cpu, "1h", "max")'], times="SWAPPED",
         maxDataPoints=4),
    Case("dc.a.*.mem", times="EARLY", noNullPoints="true", maxDataPoints=10),
    Case("dc.*.host1.cpu"),
    Case("dc.{a,b}.host[1-3].mem"),
    Case("dc.a.host?.net"),
    Case("dc.*.*.*", times="REL"),
    Case("srv.node*.load"),
    Case("srv.node?.load"),
    Case("srv.node1*.load"),
    Case("no.such.path"),
    Case("dc.a.host9.*"),
    Case(["dc.a.host1.cpu", "dc.b.host2.mem", "srv.*.load"]),
    # alias family
    Case('alias(dc.a.host1.cpu, "x")'),
    Case("alias(dc.*.host1.cpu, 'both')"),
    Case("aliasByNode(dc.*.*.cpu, 1)"),
    Case("aliasByNode(dc.*.*.cpu, 1, 2)"),
    Case("aliasByNode(dc.*.*.cpu, -1)"),
    Case("aliasByNode(dc.a.*.cpu, 0, -2)"),
    Case("aliasByNode(scale(dc.*.host1.cpu, 2), 1)"),
    Case("aliasByNode(sumSeries(dc.a.*.mem), 2)"),
    Case("aliasByMetric(dc.a.*.cpu)"),
    Case("aliasByMetric(scale(dc.a.host1.*, 2))"),
    Case(r'aliasSub(dc.*.host1.cpu, "^dc\.(\w+)\.(.*)$", "\2 in \1")'),
    Case(r'aliasSub(dc.a.host1.cpu, "host", "h")'),
    Case(r'aliasSub(dc.a.host1.cpu, "(^.*$)", "\1 A")'),
    Case(r'aliasSub(sumSeries(dc.a.*.cpu), "(^.*$)", "\1 A")'),
    Case(r'aliasSub(aliasByNode(dc.*.host2.mem, 1, 3), "(^.*$)", "\1 A")'),
    # constantLine: its grid is from, (from+until)/2, until
    Case("constantLine(42)"),
    Case("constantLine(-1.5)", times="UNALIGNED"),
    Case("constantLine(0.25)", times="REL"),
    Case(["dc.a.host1.cpu", "constantLine(100)"]),
    Case(["dc.a.host1.cpu", "constantLine(100)"], maxDataPoints=50),
    Case(["constantLine(1)", "dc.a.host1.cpu"], times="UNALIGNED", maxDataPoints=40),
    Case("sumSeries(constantLine(5), dc.b.host1.net)", maxDataPoints=50),
    # aggregates
    Case("sumSeries(dc.*.*.cpu)"),
    Case("sumSeries(dc.a.*.cpu, dc.b.host1.mem)"),
    Case("sumSeries(dc.a.*.mem)"),
    Case("sumSeries(no.such.*)"),
    Case("sumSeries(dc.a.host3.cpu)"),
    Case("averageSeries(dc.*.host3.cpu)"),
    Case("averageSeries(dc.a.*.mem)"),
    Case("maxSeries(dc.a.*.cpu)"),
    Case("minSeries(dc.a.*.cpu, dc.b.*.cpu)"),
    Case("minSeries(dc.*.host[34].mem)"),
    Case("diffSeries(dc.a.host1.cpu, dc.a.host3.cpu)"),
    Case("diffSeries(dc.a.*.cpu)"),
    Case("diffSeries(dc.a.host2.mem, dc.a.host1.mem)"),
    Case("multiplySeries(dc.a.host1.cpu, dc.a.host3.cpu)"),
    Case("multiplySeries(dc.a.host1.cpu, dc.a.host2.mem)"),
    Case("divideSeries(dc.a.host1.mem, dc.a.host2.mem)"),
    Case("divideSeries(dc.a.*.cpu, dc.b.host1.cpu)"),
    Case("divideSeries(srv.node1.load, srv.node2.load)"),
    Case("divideSeries(dc.a.host1.cpu, dc.a.host3.cpu)"),
    # transforms
    Case("scale(dc.a.host2.cpu, -2.5)"),
    Case("scale(dc.a.*.mem, 0.001)"),
    Case("offset(dc.a.host3.cpu, 10.25)"),
    Case("offset(dc.a.host2.cpu, -100)"),
    Case("absolute(dc.a.host2.cpu)"),
    Case("absolute(dc.*.host3.cpu)"),
    Case("derivative(dc.a.host3.net)"),
    Case("derivative(dc.*.host2.net)"),
    Case("derivative(dc.a.host3.cpu)"),
    Case("nonNegativeDerivative(dc.a.*.net)"),
    Case("nonNegativeDerivative(dc.a.host1.net, 65535)"),
    Case("nonNegativeDerivative(dc.*.host1.net, maxValue=65535)"),
    Case("nonNegativeDerivative(dc.a.host2.net, 10000)"),
    Case("perSecond(dc.a.*.net)"),
    Case("perSecond(dc.a.host1.net, 65535)"),
    Case("perSecond(dc.b.host1.net, maxValue=65535)"),
    Case("perSecond(dc.a.host3.cpu)"),
    Case("perSecond(tie.cnt)"),
    Case("perSecond(scale(tie.cnt, -1), None, -100000)"),
    Case("integral(dc.a.host3.cpu)"),
    Case("integral(dc.a.host2.mem)"),
    Case("integral(dc.a.host3.net)", times="UNALIGNED"),
    Case("movingAverage(dc.a.host3.cpu, 5)"),
    Case("movingAverage(dc.a.*.cpu, 10)"),
    Case("movingAverage(dc.a.host3.cpu, 5)", times="MID"),
    Case('movingAverage(dc.a.host3.cpu, "5min")'),
    Case('movingAverage(dc.a.host3.cpu, "5min")', times="UNALIGNED"),
    Case("movingAverage(dc.a.host3.cpu, '5min')", times="REL"),
    Case('movingAverage(dc.a.host2.mem, "1h")'),
    Case('movingAverage(dc.a.host4.mem, "30min")', times="MID"),
    Case("movingAverage(dc.a.host3.cpu, 5, 0.5)"),
    Case('movingAverage(summarize(dc.a.host1.cpu, "10min", "avg"), 3)'),
    Case('movingAverage(summarize(dc.a.host1.cpu, "10min", "avg", true), 3)', times="UNALIGNED"),
    Case('movingAverage(summarize(dc.a.host1.cpu, "10min", "avg"), "30min")'),
    Case('movingAverage(sumSeries(dc.a.*.cpu), 4)'),
    Case('movingAverage(hitcount(dc.a.host3.cpu, "15min"), 2)'),
    Case("movingAverage(dc.a.host3.cpu, 20, xFilesFactor=0.9)"),
    Case('summarize(dc.a.host3.cpu, "10min")'),
    Case('summarize(dc.a.host3.cpu, "10min", "avg")'),
    Case('summarize(dc.a.host3.cpu, "10min", "average")', times="UNALIGNED"),
    Case('summarize(dc.a.host3.cpu, "1h", "max")'),
    Case('summarize(dc.a.host2.cpu, "1h", "min")', times="REL"),
    Case('summarize(dc.a.host3.cpu, "1h", "sum", true)'),
    Case('summarize(dc.a.host3.cpu, "1h", "sum", true)', times="UNALIGNED"),
    Case('summarize(dc.a.host3.cpu, "1h", "sum", false)', times="UNALIGNED"),
    Case('summarize(dc.a.host3.cpu, "7min", "avg", false)'),
    Case('summarize(dc.a.host3.cpu, "15min", "avg", alignToFrom=true)', times="UNALIGNED"),
    Case('summarize(dc.a.*.mem, "1h", "sum", false)'),
    Case('summarize(dc.a.host3.cpu, "30min", "last")'),
    Case('summarize(dc.a.host3.cpu, "30min", "first", true)', times="MID",
         differs=("summarize takes 'first' (graphite-web 1.1 has no such aggregation)",
                  summarize_first("dc.a.host3.cpu", 1800))),
    Case('summarize(dc.*.host3.cpu, "1h", "first")',
         differs=("summarize takes 'first' (graphite-web 1.1 has no such aggregation)",
                  summarize_first("dc.*.host3.cpu", 3600))),
    Case('hitcount(dc.a.host3.cpu, "10min")'),
    Case('hitcount(dc.a.host1.net, "1h")'),
    Case('hitcount(dc.a.host3.cpu, "7min")', times="UNALIGNED"),
    Case('hitcount(dc.a.host2.mem, "1h")', times="REL"),
    Case("keepLastValue(dc.a.host3.cpu)"),
    Case("keepLastValue(dc.a.host3.cpu, 3)"),
    Case("keepLastValue(dc.a.host3.net, 1)"),
    Case("keepLastValue(dc.a.*.mem)"),
    Case("transformNull(dc.a.host3.cpu)"),
    Case("transformNull(dc.a.host3.cpu, -1)"),
    Case("transformNull(dc.a.host2.mem, default=0.5)"),
    Case('timeShift(dc.a.host1.cpu, "-1h")'),
    Case('timeShift(dc.a.host1.cpu, "1h")'),
    Case('timeShift(dc.a.host1.cpu, "+1h")'),
    Case('timeShift(dc.*.host1.mem, "30min")', times="UNALIGNED"),
    Case('timeShift(dc.a.host1.cpu, "1h", false)'),
    Case('timeShift(dc.a.host3.cpu, "2h")', times="REL"),
    Case('timeShift(dc.a.host3.cpu, "+2h")', times="MID"),
    Case('timeShift(dc.a.host3.cpu, "+2h", false)', times="MID"),
    Case('timeShift(dc.a.host3.cpu, "+1d")'),
    Case("asPercent(dc.a.*.cpu)"),
    Case("asPercent(dc.a.*.mem)"),
    Case("asPercent(dc.a.host1.mem, 10000)"),
    Case("asPercent(dc.a.*.mem, sumSeries(dc.b.*.mem))"),
    Case("asPercent(dc.a.*.mem, dc.b.*.mem)"),
    Case("asPercent(dc.a.host1.cpu, dc.a.host3.cpu)"),
    Case("removeBelowValue(dc.a.host2.cpu, -30)"),
    Case("removeBelowValue(dc.a.*.cpu, 50.5)"),
    Case("removeAboveValue(dc.a.*.cpu, 50)"),
    Case("removeAboveValue(dc.a.host2.mem, 2800)"),
    # filters and sorting
    Case("highestCurrent(dc.*.*.cpu, 1)"),
    Case("highestCurrent(dc.*.*.cpu, 3)"),
    Case("highestCurrent(dc.*.*.mem, 4)"),
    Case("highestMax(dc.*.*.mem, 2)"),
    Case("highestMax(dc.*.*.cpu, 3)"),
    Case("lowestCurrent(dc.*.*.cpu, 2)"),
    Case("lowestCurrent(dc.*.*.mem, 3)"),
    Case("lowestCurrent(dc.*.*.mem, 1)"),
    Case("limit(dc.*.*.cpu, 3)"),
    Case("limit(dc.*.*.cpu, 100)"),
    Case("sortByName(srv.*.load)"),
    Case("sortByName(srv.*.load, true)"),
    Case("sortByName(srv.*.load, natural=true, reverse=true)"),
    Case("sortByName(srv.*.load, false, true)"),
    Case("sortByName(dc.*.host1.*, false, true)"),
    Case("groupByNode(dc.*.*.cpu, 1)"),
    Case('groupByNode(dc.*.*.cpu, 1, "sum")'),
    Case('groupByNode(dc.*.*.mem, 2, "avg")'),
    Case('groupByNode(dc.*.*.mem, 3, "max")'),
    Case('groupByNode(dc.*.*.net, 1, "sumSeries")'),
    Case('groupByNode(dc.*.*.cpu, -1, "min")'),
    # documented differences
    Case("scale(dc.a.host1.cpu, 2)", differs=("tags carry only name", tags_name_only)),
    Case("sumSeries(dc.a.*.cpu)", differs=("tags carry only name", tags_name_only)),
    Case('consolidateBy(dc.a.host3.cpu, "max")', maxDataPoints=50,
         differs=("tags carry only name", tags_name_only)),
    Case('hitcount(dc.a.host3.cpu, "10min", true)',
         differs=("hitcount's alignToInterval is refused", refused("alignToInterval"))),
    Case('summarize(dc.a.host3.cpu, "1h", "median")',
         differs=("median, stddev, count, range are refused", refused("median"))),
    Case('groupByNode(dc.*.*.cpu, 1, "stddev")',
         differs=("median, stddev, count, range are refused", refused("stddev"))),
    Case('summarize(dc.a.host3.cpu, "1h", "total")',
         differs=("summarize's functions are average/avg, sum, min, max, first, last",
                  refused("total"))),
    Case('groupByNode(dc.*.*.cpu, 1, "last")',
         differs=("groupByNode's callbacks are sum, average/avg, max, min, diff, multiply",
                  refused("last"))),
    *[Case("dc.a.host3.cpu", maxDataPoints=m,
           differs=("maxDataPoints must be a whole number >= 1", refuses_param("maxDataPoints")))
      for m in ("50.5", "fifty", "-5")],
    Case("dc.a.host3.cpu", maxDataPoints=50, xFilesFactor=0.9,
         differs=("the xFilesFactor parameter is ignored", ignores_param("xFilesFactor"))),
    Case('consolidateBy(dc.a.host3.cpu, "avg_zero")',
         differs=("avg_zero is refused", refused("avg_zero"))),
    Case("transformNull(dc.a.host3.cpu, 0, dc.a.host1.cpu)",
         differs=("transformNull's referenceSeries is refused", refused("referenceSeries"))),
    Case('aliasByNode(dc.a.host1.cpu, "name")',
         differs=("tag names as nodes are refused", refused("node"))),
    Case('groupByNode(dc.*.host1.cpu, "name", "sum")',
         differs=("tag names as nodes are refused", refused("node"))),
    Case('timeShift(dc.a.host1.cpu, "1h", true, true)'),  # alignDST: UTC, no DST on either
    Case(r'aliasSub(dc.a.host1.cpu, "(?i)HOST", "h")',
         differs=("regular expressions are POSIX ERE", refused("regex"))),
    # nested, pipes, Grafana
    Case('alias(sumSeries(scale(dc.a.*.cpu, 2)), "s")'),
    Case("sumSeries(scale(dc.a.*.cpu, 2))"),
    Case("aliasByNode(movingAverage(nonNegativeDerivative(dc.*.host1.net), 5), 1)"),
    Case('highestMax(groupByNode(perSecond(dc.*.*.net), 1, "sum"), 1)'),
    Case('sortByName(aliasByNode(summarize(dc.*.host3.cpu, "30min", "max"), 1, 2), true)'),
    Case("asPercent(perSecond(dc.a.*.net))"),
    Case("transformNull(keepLastValue(dc.a.host3.cpu, 2), -5)"),
    Case('sumSeries(timeShift(dc.a.host1.cpu, "1h"), dc.a.host1.cpu)'),
    Case('diffSeries(dc.a.host1.mem, timeShift(dc.a.host1.mem, "10min"))'),
    Case('dc.a.host1.cpu|scale(2)|alias("p")'),
    Case("dc.a.*.mem|sumSeries()"),
    Case('averageSeries(summarize(dc.a.*.cpu, "10min", "avg"))'),
    Case(['dc.a.host1.cpu', 'summarize(dc.a.host1.cpu, "10min", "sum")'], maxDataPoints=50),
    Case(r'aliasSub(maxSeries(dc.*.host1.cpu), "(^.*$)", "\1 A")', times="REL",
         maxDataPoints=50),
    Case([r'aliasSub(dc.*.host2.cpu, "(^.*$)", "\1 A")',
          r'aliasSub(sumSeries(dc.*.*.net), "(^.*$)", "\1 B")'], times="REL",
         maxDataPoints=300, post=True),
    Case(r'aliasSub(constantLine(100), "(^.*$)", "\1 A")', times="REL", maxDataPoints=1000,
         post=True),
    Case(r'aliasSub(consolidateBy(dc.*.host3.cpu, "max"), "(^.*$)", "\1 A")',
         times="REL", maxDataPoints=500),
    # the pathExpression each function leaves (an aggregate's name lists them)
    *[Case("sumSeries(%s, dc.b.host1.net)" % f) for f in (
        'alias(dc.a.*.net, "x")', "aliasByNode(dc.a.*.net, 2)", "aliasByMetric(dc.a.*.net)",
        'aliasSub(dc.a.*.net, "host", "h")', "scale(dc.a.*.net, 2)", "offset(dc.a.*.net, 1)",
        "absolute(dc.a.*.net)", "derivative(dc.a.*.net)", "nonNegativeDerivative(dc.a.*.net)",
        "perSecond(dc.a.*.net)", "integral(dc.a.*.net)", "movingAverage(dc.a.*.net, 5)",
        'movingAverage(dc.a.*.net, "5min")', 'summarize(dc.a.*.net, "10min")',
        'hitcount(dc.a.*.net, "10min")', "keepLastValue(dc.a.*.net)",
        "transformNull(dc.a.*.net)", "removeBelowValue(dc.a.*.net, 100)",
        "removeAboveValue(dc.a.*.net, 40000)", "highestCurrent(dc.a.*.net, 2)",
        "highestMax(dc.a.*.net, 2)", "lowestCurrent(dc.a.*.net, 2)", "limit(dc.a.*.net, 2)",
        "sortByName(dc.a.*.net)", "asPercent(dc.a.*.net)", "asPercent(dc.a.*.net, 1000)",
        "divideSeries(dc.a.*.net, dc.b.host2.net)", "groupByNode(dc.*.*.net, 1)",
        "sumSeries(dc.a.*.net)", "averageSeries(dc.a.*.net)", "constantLine(5)",
        'consolidateBy(dc.a.*.net, "sum")', 'timeShift(dc.a.*.net, "1h")')],
    # more nesting
    Case('movingAverage(timeShift(dc.a.host3.cpu, "1h"), 5)'),
    Case('timeShift(movingAverage(dc.a.host3.cpu, 5), "1h")'),
    Case('timeShift(timeShift(dc.a.host1.cpu, "1h"), "30min")', times="UNALIGNED"),
    Case('movingAverage(movingAverage(dc.a.host3.cpu, "10min"), 3)'),
    Case('summarize(movingAverage(dc.a.host3.cpu, 4), "20min", "max")'),
    Case('aliasByNode(summarize(dc.*.host1.cpu, "1h", "avg"), 1)'),
    Case('groupByNode(scale(dc.*.*.cpu, 2), 1, "sum")'),
    Case('groupByNode(summarize(dc.*.*.mem, "30min", "avg"), 1, "max")'),
    Case('sortByName(aliasByNode(dc.*.*.mem, 2, 1))'),
    Case('highestMax(perSecond(dc.*.*.net), 2)'),
    Case('lowestCurrent(derivative(dc.*.host3.*), 2)'),
    Case('keepLastValue(dc.a.host2.mem, 5)', times="EARLY"),
    Case('derivative(dc.a.host2.mem)', times="EARLY"),
    Case('removeBelowValue(dc.a.host3.cpu, 40)'),
    Case('nonNegativeDerivative(dc.a.host2.net, minValue=0)'),
    Case('perSecond(dc.a.host2.net, 10000, 0)'),
    Case('summarize(dc.a.host3.cpu, "30min", "avg", true)', times="REL"),
    Case('hitcount(dc.a.host3.cpu, "30min")', times="MID"),
    Case('integral(perSecond(dc.a.host4.net))', times="MINUTES"),
    Case('asPercent(dc.a.host1.cpu, dc.a.host2.cpu)'),
    Case('asPercent(sumSeries(dc.a.*.mem), sumSeries(dc.*.*.mem))'),
    Case('divideSeries(sumSeries(dc.a.*.net), sumSeries(dc.*.*.net))', maxDataPoints=50),
    Case('timeShift(dc.a.host1.cpu, "1h", false)', times="FUTURE"),
    Case('timeShift(dc.a.host1.cpu, "-30min")', times="FUTURE", maxDataPoints=20,
         differs=("a shifted series' values are cut at its end", last_bucket_cut)),
    Case('movingAverage(dc.a.host1.cpu, 3)', times="FUTURE"),
    # aliases of function names, windows past the data
    Case("aliasByMetric(sumSeries(dc.a.*.cpu))"),
    Case("aliasByMetric(movingAverage(dc.a.host1.cpu, 5))"),
    Case('aliasByNode(movingAverage(dc.a.host1.cpu, "5min"), 0, 3)'),
    Case("aliasByNode(asPercent(dc.a.*.mem, 100), 2)"),
    Case('aliasByNode(timeShift(dc.*.host1.mem, "1h"), 1, 3)'),
    Case(r'aliasSub(dc.a.*.mem, "dc\.(a)\.host(\d)", "\g<1>-\2")'),
    Case(r'aliasSub(dc.a.*.mem, "[0-9]+", "#")'),
    Case(r'aliasSub(summarize(dc.a.host1.mem, "1h"), "^summarize\((.*), \"1h\".*$", '
         r'"\1 hourly")'),
    Case('movingAverage(dc.a.host1.cpu, "1d")'),
    Case("movingAverage(dc.a.host3.cpu, 500)"),
    Case('movingAverage(dc.a.host3.cpu, "30min", 0.8)'),
    # odd values and times
    Case("odd.{big,nan,unaligned}"),
    Case("odd.{big,nan,unaligned}", times="UNALIGNED", maxDataPoints=7),
    Case("scale(odd.big, 1e10)"),
    Case("sumSeries(odd.{big,nan,unaligned})"),
    Case("perSecond(odd.unaligned)"),
    Case("highestMax(odd.{big,nan,unaligned}, 2)"),
    Case("transformNull(odd.nan, -1)"),
    Case("odd.{big,nan,unaligned}", format="csv"),
    Case("odd.inf", differs=("a non-finite value is refused", infs_refused)),
    # ties (every srv load peaks at 4), n past the count, odd arguments
    Case("highestMax(srv.*.load, 2)"),
    Case("highestMax(srv.*.load, 10)"),
    Case("highestCurrent(srv.*.load, 3)"),
    Case("lowestCurrent(srv.*.load, 2)"),
    Case("highestCurrent(dc.a.host3.*, 2)", times="AFTER"),
    Case("limit(srv.*.load, 0)"),
    Case("keepLastValue(dc.a.host3.cpu, 0)"),
    Case("movingAverage(dc.a.host1.cpu, 0)"),
    Case("transformNull(dc.a.host1.cpu, 7)", times="AFTER"),
    Case('summarize(dc.a.host3.cpu, "10min", "sum", true)', maxDataPoints=12),
    Case('hitcount(dc.a.host1.net, "10min")', maxDataPoints=7),
    Case("integral(dc.a.host3.cpu)", maxDataPoints=25),
    Case("consolidateBy(integral(dc.a.host3.cpu), 'last')", maxDataPoints=25),
    Case("aliasByNode(dc.a.host1.cpu, 7)"),
    # maxDataPoints with each consolidation function
    *[Case('consolidateBy(dc.a.host3.cpu, "%s")' % f, maxDataPoints=m)
      for m in (50, 500) for f in CFS],
    *[Case("consolidateBy(dc.*.host3.cpu, '%s')" % f, times="REL", maxDataPoints=50)
      for f in CFS],
    *[Case("consolidateBy(dc.a.*.mem, '%s')" % f, times="UNALIGNED", maxDataPoints=7)
      for f in CFS],
    Case("dc.a.*.cpu", maxDataPoints=50),
    Case("dc.a.host3.cpu", maxDataPoints=1),
    Case("dc.a.host3.cpu", times="MID", maxDataPoints=13),
    Case("sumSeries(consolidateBy(dc.a.*.cpu, 'max'))", maxDataPoints=50),
]


# --- comparison ----------------------------------------------------------------------------
def same_value(a, b):
    if a is None or b is None:
        return a is None and b is None
    if math.isinf(a) or math.isinf(b):
        return a == b
    return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)


def compare_csv(ref, got):
    """graphite-web's csv (name,YYYY-mm-dd HH:MM:SS,value rows) against diamond's: the same
    rows, values within REL_TOL."""
    if not isinstance(got, str):
        return ["diamond did not answer csv text: %.300r" % (got,)]
    rr, gr = ref.splitlines(), got.splitlines()
    if len(rr) != len(gr):
        return ["csv: graphite %d rows, diamond %d" % (len(rr), len(gr))]
    for i, (a, b) in enumerate(zip(rr, gr)):
        an, at, av = a.rsplit(",", 2)
        bn, bt, bv = b.rsplit(",", 2)
        if (an, at) != (bn, bt) or not same_value(float(av) if av else None,
                                                    float(bv) if bv else None):
            return ["csv row %d: graphite %r, diamond %r" % (i, a, b)]
    return []


def compare(ref, got, sort=False):
    """The problems (strings) that make got differ from ref; [] when they agree."""
    if isinstance(ref, str):
        return compare_csv(ref, got)
    if not isinstance(got, list):
        return ["diamond did not answer a list: %r" % (got,)]
    if sort:
        ref = sorted(ref, key=lambda s: s["target"])
        got = sorted(got, key=lambda s: s["target"])
    out = []
    rt, gt = [s["target"] for s in ref], [s["target"] for s in got]
    if rt != gt:
        out.append("targets: graphite %r, diamond %r" % (rt, gt))
        if len(rt) != len(gt):
            return out
    for r, g in zip(ref, got):
        keys_r, keys_g = set(r) - {"tags"}, set(g) - {"tags"}
        if keys_r != keys_g:
            out.append("%s: keys: graphite %r, diamond %r" % (r["target"], sorted(keys_r),
                                                               sorted(keys_g)))
        rp, gp = r["datapoints"], g["datapoints"]
        rts, gts = [t for _, t in rp], [t for _, t in gp]
        if rts != gts:
            out.append("%s: timestamps: graphite %d from %s to %s, diamond %d from %s to %s"
                       % (r["target"], len(rts), rts[:2], rts[-1:], len(gts), gts[:2],
                          gts[-1:]))
            continue
        bad = [i for i, ((a, _), (b, _)) in enumerate(zip(rp, gp)) if not same_value(a, b)]
        if bad:
            out.append("%s: %d of %d values differ, first at %d (t=%d): graphite %r, "
                       "diamond %r" % (r["target"], len(bad), len(rp), bad[0], rp[bad[0]][1],
                                       [v for v, _ in rp[bad[0]:bad[0] + 4]],
                                       [v for v, _ in gp[bad[0]:bad[0] + 4]]))
    return out


class GraphiteDiff(ServerTestCase):  # diamondd's stderr is printed when a case fails
    @classmethod
    def setUpClass(cls):
        why = graphite_ref.available()
        if why:
            raise unittest.SkipTest("the reference Graphite is not installed: " + why)
        cls.t_start = time.monotonic()
        cls.carbon = graphite_ref.Carbon(step=STEP, days=30)
        cls.addClassCleanup(cls.carbon.cleanup)
        cls.carbon.start()
        cls.web = graphite_ref.GraphiteWeb(cls.carbon)
        cls.addClassCleanup(cls.web.cleanup)
        cls.web.start()
        cls.server = Server(sets=["canary.enabled=no"])
        cls.addClassCleanup(cls.server.cleanup)
        cls.server.start()

        cls.end = floor_step(now()) - STEP
        cls.beg = cls.end - STEP * (N - 1)
        cls.data = make_data(cls.beg)
        lines = plaintext(cls.data, cls.beg)
        odd, odd_shown, odd_diamond = odd_lines(cls.beg)
        lines += odd
        cls.carbon.send(lines)
        with cls.server.graphite_conn(timeout=30) as s:
            s.sendall("".join(lines).encode())
        frm, until = cls.beg - STEP, cls.end
        for pattern in ("dc.*.*.*", "srv.*.*", "tie.*", "odd.*"):
            want = (odd_shown, odd_diamond) if pattern == "odd.*" else \
                (sum(1 for name, vals in cls.data.items()
                     if name.startswith(pattern[:3]) for v in vals if v is not None),) * 2
            graphite_ref.wait_points(cls.web, pattern, frm, until, want[0])
            cls.wait_diamond(pattern, frm, until, want[1])

    @classmethod
    def wait_diamond(cls, pattern, frm, until, want, timeout=30.0):
        deadline = time.monotonic() + timeout
        got = -1
        while time.monotonic() < deadline:
            st, body = cls.diamond([pattern], {"from": frm, "until": until})
            if st == 200:
                got = sum(1 for s in body for v, _ in s["datapoints"] if v is not None)
                if got >= want:
                    return
            time.sleep(0.1)
        raise AssertionError("diamondd: %d of %d points of %s" % (got, want, pattern))

    @classmethod
    def diamond(cls, targets, params, post=False):
        q = [("target", t) for t in targets] + [(k, str(v)) for k, v in params.items()]
        if "format" not in params:
            q.append(("format", "json"))
        if post:
            st, _, body = cls.server.post("/render", urllib.parse.urlencode(q), headers={
                "Content-Type": "application/x-www-form-urlencoded"})
        else:
            st, _, body = cls.server.get("/render?" + urllib.parse.urlencode(q))
        return st, body

    def times(self, case):
        b, e = self.beg, self.end
        return {
            "ABS": {"from": b - STEP, "until": e},             # exactly the N slots
            "UNALIGNED": {"from": b + 17, "until": e - 33},
            "REL": {"from": "-6h", "until": "now"},
            "MID": {"from": "-3h", "until": "-1h"},
            "FUTURE": {"from": e - 3600, "until": e + 3600},   # until past now
            "AFTER": {"from": e + 3600, "until": e + 7200},    # all in the future
            "SWAPPED": {"from": e - 600, "until": b + 600},    # graphite-web swaps them
            "NOW_FIRST": {"from": "now", "until": "-2h"},
            "EMPTY": {"from": "-1h", "until": "-60min"},
            "PAST": {"from": "-40d", "until": "-35d"},         # before whisper's 30 days
            "LONG": {"from": "-31d", "until": "now"},
            "WORDS": {"from": "-6hours", "until": "-30minutes"},
            "NOWMINUS": {"from": "now-5h", "until": "now-1h"},
            "DAYS": {"from": "-1d", "until": "now"},
            "MIDNIGHT": {"from": "midnight", "until": "now"},
            "YMD": {"from": time.strftime("%Y%m%d", time.gmtime(b)), "until": "now"},
            "EARLY": {"from": b - 60, "until": b + 3600},      # host2's mem not yet there
            "MINUTES": {"from": "-360min", "until": "-5min"},
            "ATTIME": {"from": time.strftime("%H:%M_%Y%m%d", time.gmtime(b + 600)),
                       "until": time.strftime("%H:%M_%Y%m%d", time.gmtime(e - 600))},
        }[case.times]

    def run_case(self, case):
        """((graphite's status, body), (diamond's status, body)), asked within one
        wall-clock second (so that relative times and constantLine mean the same to both)."""
        params = dict(self.times(case))
        params.update(case.params)
        for attempt in range(5):
            t0 = int(time.time())
            mine = self.diamond(case.targets, params, case.post)
            ref = self.graphite(case.targets, params, case.post)
            if int(time.time()) == t0:
                break
        return ref, mine

    def graphite(self, targets, params, post=False):
        q = [("target", t) for t in targets] + [(k, str(v)) for k, v in params.items()]
        if "format" not in params:
            q.append(("format", "json"))
        if post:
            conn = http.client.HTTPConnection("127.0.0.1", self.web.port, timeout=120)
            try:
                conn.request("POST", "/render", urllib.parse.urlencode(q), {
                    "Content-Type": "application/x-www-form-urlencoded"})
                r = conn.getresponse()
                st, body = r.status, r.read()
            finally:
                conn.close()
        else:
            st, body = self.web.get("/render?" + urllib.parse.urlencode(q))
        if st == 200 and params.get("format") == "csv":
            return st, body.decode()
        if st == 200:
            return st, json.loads(body)
        return st, body.decode("utf-8", "replace")[-300:]

    def test_render_as_graphite_web(self):
        self.run_cases(CASES)

    def test_table_tier_after_flush(self):  # runs after test_render_as_graphite_web
        """Every 7th case again, read from the table tier (LMDB) instead of the cache."""
        self.server.flush()
        self.run_cases(CASES[::7])

    def run_cases(self, cases):
        t0 = time.monotonic()
        failures = 0
        for case in cases:
            with self.subTest(case=case.label()):
                (rst, ref), (st, got) = self.run_case(case)
                if case.differs is not None:
                    reason, check = case.differs
                    problems = check(self, case, (rst, ref), (st, got))
                    if problems:
                        problems.insert(0, "the documented difference (%s) is not what "
                                        "diamond does:" % reason)
                else:
                    problems = []
                    if rst != case.status:
                        problems.append("graphite-web: HTTP %s %.300s" % (rst, ref))
                    if st != case.status:
                        problems.append("diamond: HTTP %s %.300r" % (st, got))
                    if not problems and case.status == 200:
                        problems = compare(ref, got, case.sort)
                failures += bool(problems)
                if problems:
                    self.fail("\n".join(problems))
        sys.stderr.write("\n%d cases, %d differ; %.1f s of renders, %.1f s in all\n" % (
            len(cases), failures, time.monotonic() - t0, time.monotonic() - self.t_start))


if __name__ == "__main__":
    main()
