"""test_graphite_find: a Grafana user browses diamond's series through the Graphite metadata
API: /metrics/find at each level with *, ?, [a-z0-9] and {a,b}, leaf and branch flags (a node
that is both), /metrics/expand, /metrics/index.json, /functions, the tag autocompletion, and
/version; a pattern over limits.max_query_series answers a clear 422. Then the requests
Grafana's Graphite data source sends (grafana_requests.py) are replayed."""

import json
import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import grafana_requests  # noqa: E402
from harness import ServerTestCase, main, now  # noqa: E402

BUDGET = 50
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
SUPPORTED = ("alias aliasByNode aliasByMetric aliasSub constantLine consolidateBy sumSeries "
             "averageSeries maxSeries minSeries diffSeries divideSeries multiplySeries scale "
             "offset absolute derivative nonNegativeDerivative perSecond integral movingAverage "
             "summarize hitcount highestCurrent highestMax lowestCurrent limit sortByName "
             "groupByNode keepLastValue transformNull timeShift asPercent removeBelowValue "
             "removeAboveValue").split()

PLAIN = ["app.api", "app.api.requests", "app.api.errors", "app.web-x.hits", "app.worker1.jobs",
         "app.worker2.jobs"] + ["bulk.n%02d" % i for i in range(BUDGET + 10)]
HOSTS = {"web1": ["cpu.user", "cpu.system", "mem.used"], "web2": ["cpu.user", "cpu.system"],
         "db1": ["cpu.user", "mem.used"]}


def branch(text, id_):
    return {"text": text, "id": id_, "allowChildren": 1, "expandable": 1, "leaf": 0}


def leaf(text, id_):
    return {"text": text, "id": id_, "allowChildren": 0, "expandable": 0, "leaf": 1}


class GraphiteFind(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        # no canary: its series (diamond.canary.<node>) would appear in the listings
        s = cls.start_class_server(sets=["limits.max_query_series=%d" % BUDGET,
                                         "canary.enabled=no"])
        t = now() - 60
        pts = [{"hostId": h, "name": n, "time": t, "value": 1.0}
               for h, names in HOSTS.items() for n in names]
        st, _, body = s.post_points(pts)
        assert st == 200, body
        c = s.graphite_conn()
        c.sendall("".join("%s 1 %d\n" % (p, t) for p in PLAIN).encode())
        c.close()
        cls.all_names = sorted(PLAIN + ["host.%s.%s" % (h, n) for h, ns in HOSTS.items()
                                        for n in ns])
        deadline = time.time() + 10
        while time.time() < deadline:  # plaintext is applied asynchronously
            st, _, body = s.get("/metrics/index.json")
            if st == 200 and len(body) == len(cls.all_names):
                break
            time.sleep(0.05)

    def find(self, query, **params):
        params["query"] = query
        st, h, body = self.server.get("/metrics/find?" + urllib.parse.urlencode(params))
        self.assertEqual(st, 200, body)
        self.assertEqual(h.get("content-type"), "application/json")
        return body

    def test_top_level(self):
        self.assertEqual(self.find("*"), [branch("app", "app"), branch("bulk", "bulk"),
                                          branch("host", "host")])
        self.assertEqual(self.find("h*"), [branch("host", "host")])
        self.assertEqual(self.find("nothing"), [])

    def test_each_level_with_globs(self):
        self.assertEqual(self.find("host.*"), [branch("db1", "host.db1"),
                                               branch("web1", "host.web1"),
                                               branch("web2", "host.web2")])
        self.assertEqual(self.find("host.web?.*"), [branch("cpu", "host.web?.cpu"),
                                                    branch("mem", "host.web?.mem")])
        self.assertEqual(self.find("host.web?.cpu.*"), [leaf("system", "host.web?.cpu.system"),
                                                        leaf("user", "host.web?.cpu.user")])
        self.assertEqual(self.find("host.[a-z]*[0-9].mem.*"),
                         [leaf("used", "host.[a-z]*[0-9].mem.used")])
        self.assertEqual(self.find("host.{db1,web2}.cpu.s*"),
                         [leaf("system", "host.{db1,web2}.cpu.system")])
        self.assertEqual(self.find("app.worker[0-9].jobs"),
                         [leaf("jobs", "app.worker[0-9].jobs")])

    def test_leaf_and_branch(self):
        # app.api is a series and has children: one entry, a branch; branches before leaves
        self.assertEqual(self.find("app.*"), [branch("api", "app.api"),
                                              branch("web-x", "app.web-x"),
                                              branch("worker1", "app.worker1"),
                                              branch("worker2", "app.worker2")])
        self.assertEqual(self.find("app.*", leavesOnly=1), [leaf("api", "app.api")])
        self.assertEqual(self.find("app.api.*"), [leaf("errors", "app.api.errors"),
                                                  leaf("requests", "app.api.requests")])
        self.assertEqual(self.find("app.a*", format="completer"), {"metrics": [
            {"path": "app.api.", "name": "api", "is_leaf": "0"},
            {"path": "app.api", "name": "api", "is_leaf": "1"}]})
        self.assertEqual(self.find("app.api", format="json"), [
            {"path": "app.api", "is_leaf": False}, {"path": "app.api", "is_leaf": True}])
        w = self.find("host.*", wildcards=1)
        self.assertEqual(w[0], branch("*", "host.*"))

    def test_form_post_as_grafana_sends_it(self):
        # DS requestMetricFind: range in the URL, `query=<glob>` unencoded in a form body
        st, h, body = self.server.post("/metrics/find?from=%d&until=%d" % (now() - 3600, now()),
                                       body="query=host.{web1,db1}.*", headers=FORM)
        self.assertEqual(st, 200, body)
        self.assertEqual(body, [branch("cpu", "host.{web1,db1}.cpu"),
                                branch("mem", "host.{web1,db1}.mem")])
        self.assertEqual(h.get("cache-control"), "no-cache")

    def test_bad_queries(self):
        self.assertError(self.server.get("/metrics/find"), 400, "query")
        self.assertError(self.server.get("/metrics/find?query="), 400, "empty")
        self.assertError(self.server.get("/metrics/find?query=*&format=pickle"), 400, "format")

    def test_budget(self):
        m = self.assertError(self.server.get("/metrics/find?query=bulk.*"), 422,
                             "limits.max_query_series", "bulk.*", str(BUDGET))
        self.assertIn("narrow", m)
        self.assertError(self.server.get("/metrics/expand?query=bulk.n*"), 422,
                         "limits.max_query_series")
        self.assertEqual(len(self.find("bulk.n0*")), 10)  # under the budget: fine

    def test_expand(self):
        st, _, body = self.server.get("/metrics/expand?query=host.*.cpu.user&query=app.api*")
        self.assertEqual(st, 200, body)
        self.assertEqual(body, {"results": ["app.api", "host.db1.cpu.user", "host.web1.cpu.user",
                                            "host.web2.cpu.user"]})
        st, _, body = self.server.get("/metrics/expand?query=app.*&leavesOnly=1")
        self.assertEqual(body, {"results": ["app.api"]})
        st, _, body = self.server.get("/metrics/expand?query=app.w*&query=host.d*&groupByExpr=1")
        self.assertEqual(body, {"results": {"app.w*": ["app.web-x", "app.worker1", "app.worker2"],
                                            "host.d*": ["host.db1"]}})

    def test_index_json(self):
        st, _, body = self.server.get("/metrics/index.json")
        self.assertEqual(st, 200)
        self.assertEqual(body, self.all_names)

    def test_functions(self):
        st, h, body = self.server.get("/functions")
        self.assertEqual(st, 200)
        self.assertEqual(sorted(body), sorted(SUPPORTED))
        a = body["aliasByNode"]
        self.assertEqual(a["name"], "aliasByNode")
        self.assertEqual(a["group"], "Alias")
        self.assertEqual(a["function"], "aliasByNode(seriesList, *nodes)")
        self.assertEqual(a["module"], "graphite.render.functions")
        self.assertEqual(a["params"], [
            {"name": "seriesList", "type": "seriesList", "required": True},
            {"name": "nodes", "type": "nodeOrTag", "required": True, "multiple": True}])
        self.assertEqual(body["summarize"]["params"][2],
                         {"name": "func", "type": "aggFunc", "default": "sum",
                          "options": body["summarize"]["params"][2]["options"]})
        self.assertIn("max", body["summarize"]["params"][2]["options"])
        self.assertEqual(body["keepLastValue"]["params"][1]["default"], float("inf"))
        self.assertEqual(body["sumSeries"]["params"][0]["multiple"], True)
        for f in body.values():
            self.assertTrue(f["description"])
        st, _, one = self.server.get("/functions/aliasSub")
        self.assertEqual(one, body["aliasSub"])
        self.assertError(self.server.get("/functions/nope"), 404, "nope")
        st, _, grouped = self.server.get("/functions?grouped=true")
        self.assertEqual(sorted(grouped["Combine"]), ["asPercent", "averageSeries", "diffSeries",
                                                      "divideSeries", "groupByNode", "maxSeries",
                                                      "minSeries", "multiplySeries", "sumSeries"])
        st, _, only = self.server.get("/functions?group=Alias")
        self.assertEqual(sorted(only), ["alias", "aliasByMetric", "aliasByNode", "aliasSub"])

    def test_tags_and_version(self):
        for p in ("/tags/autoComplete/tags", "/tags/autoComplete/values?tag=name"):
            st, _, body = self.server.get(p)
            self.assertEqual((st, body), (200, []))
        st, h, body = self.server.get("/version")
        self.assertEqual((st, body), (200, "1.1.10"))
        self.assertTrue(h["content-type"].startswith("text/plain"))

    def test_grafana_request_sequence(self):
        frm, until = now() - 3600, now()
        seq = grafana_requests.requests("host", "host.*", "host.web1.cpu.user")
        render_missing = []
        for r in seq:
            path, body = r["path"], r["body"]
            for a, b in (("{from}", str(frm)), ("{until}", str(until)),
                         ("%7Bfrom%7D", str(frm)), ("%7Buntil%7D", str(until))):
                path = path.replace(a, b)
                body = body.replace(a, b) if body is not None else None
            st, h, reply = self.server.request(r["method"], path, body=body,
                                               headers=r["headers"])
            if path == "/render" and st == 404:
                render_missing.append(r["name"])  # /render is wired separately
                continue
            self.assertEqual(st, 200, "%s (%s): %r" % (r["name"], r["source"], reply))
            if r["name"].startswith("find"):
                self.assertIsInstance(reply, list)
                for e in reply:
                    self.assertIn("text", e)
                    self.assertIn("expandable", e)
            elif r["name"] == "variable_expand":
                self.assertEqual(reply, {"results": ["host.db1", "host.web1", "host.web2"]})
            elif r["name"] == "functions":
                self.assertIsInstance(json.loads(json.dumps(reply)), dict)
            elif r["name"] == "version":
                self.assertRegex(reply, r"^\d+\.\d+\.\d+$")
            elif path == "/render":  # Grafana takes the refId back from the name's suffix
                self.assertIsInstance(reply, list)
                self.assertTrue(reply, r["name"])
                for series in reply:
                    self.assertTrue(series["target"].endswith(" A"), series["target"])
                if r["name"] == "save_and_test":
                    self.assertIn(100, [v for v, _ in reply[0]["datapoints"]])
        by_name = {r["name"]: r for r in seq}
        self.assertIn("query=*", by_name["find_level0"]["body"])
        if render_missing:
            sys.stderr.write("note: /render not routed yet; skipped %s\n" % render_missing)


if __name__ == "__main__":
    main()
