"""test_graphite_render: GET and form POST /render against the real diamondd, through the
engine's read path: repeated targets, wildcards, nested functions, Grafana's aliasSub
wrapper, Graphite times for from/until, maxDataPoints, noNullPoints, csv; a syntax error is
a 400 naming the position, a target over the budgets a 422 naming the limit; the same
targets give the same answer on the remote engines (Redis + DynamoDB + S3) after the
points moved to the table and the blobs."""

import os
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from engines import Engines  # noqa: E402
from harness import DAY, ServerTestCase, floor_step, main, now  # noqa: E402


def pt(host, name, t, v):
    return {"hostId": host, "name": name, "time": t, "value": v}


class Render(ServerTestCase):
    def setUp(self):
        super().setUp()
        self.t0 = floor_step(now() - 1800)

    def write(self, s):
        t0 = self.t0
        pts = [pt("web1", "cpu", t0 + 60 * i, float(i)) for i in range(10)]
        pts += [pt("web2", "cpu", t0 + 60 * i, 10.0 * i) for i in range(0, 10, 2)]
        pts += [pt("db1", "cpu", t0 + 60 * i, 100.0) for i in range(10)]
        st, _, body = s.post_points(pts)
        self.assertEqual(st, 200, body)

    def render(self, s, targets, post=False, **params):
        q = [("target", t) for t in targets]
        q += [("from", str(self.t0 - 1)), ("until", str(self.t0 + 600))]
        q += [(k, str(v)) for k, v in params.items()]
        enc = urllib.parse.urlencode(q)
        if post:
            return s.request("POST", "/render", body=enc,
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
        return s.get("/render?" + enc)

    def points(self, series):
        return [(ts, v) for v, ts in series["datapoints"]]

    def check_all(self, s):
        t0 = self.t0
        st, _, body = self.render(s, ["host.web1.cpu"])
        self.assertEqual(st, 200, body)
        self.assertEqual(len(body), 1)
        self.assertEqual(body[0]["target"], "host.web1.cpu")
        self.assertEqual(body[0]["tags"], {"name": "host.web1.cpu"})
        pts = self.points(body[0])
        self.assertEqual(pts[0], (t0, 0.0))  # from = t0 - 1: the first slot is t0
        self.assertEqual([v for _, v in pts[:10]], [float(i) for i in range(10)])
        self.assertEqual(pts[10], (t0 + 600, None))  # until's slot, no point there

        st, _, body = self.render(s, ["host.*.cpu"], post=True)
        self.assertEqual(st, 200, body)
        self.assertEqual([b["target"] for b in body],
                         ["host.db1.cpu", "host.web1.cpu", "host.web2.cpu"])

        st, _, body = self.render(s, ["sumSeries(host.web*.cpu)",
                                      "alias(scale(host.db1.cpu,0.5),'half')"])
        self.assertEqual(st, 200, body)
        self.assertEqual(body[0]["target"], "sumSeries(host.web*.cpu)")
        sums = dict(self.points(body[0]))
        self.assertEqual(sums[t0 + 60], 1.0)    # web1 1 + web2 null
        self.assertEqual(sums[t0 + 120], 22.0)  # web1 2 + web2 20
        self.assertEqual(body[1]["target"], "half")
        self.assertEqual(dict(self.points(body[1]))[t0], 50.0)

        # what Grafana >= 11.6 sends for every panel target, as a form POST
        st, _, body = self.render(s, ['aliasSub(host.web1.cpu, "(^.*$)", "\\1 A")'],
                                  post=True, format="json", maxDataPoints=5)
        self.assertEqual(st, 200, body)
        self.assertEqual(body[0]["target"], "host.web1.cpu A")
        self.assertLessEqual(len(body[0]["datapoints"]), 5)

        st, _, body = self.render(s, ["host.web2.cpu"], noNullPoints="true")
        self.assertEqual([v for v, _ in body[0]["datapoints"]], [0.0, 20.0, 40.0, 60.0, 80.0])

        st, h, body = self.render(s, ["host.web1.cpu"], format="csv")
        self.assertEqual(st, 200)
        self.assertTrue(h["content-type"].startswith("text/csv"), h)
        self.assertIn("host.web1.cpu,", body)

        st, _, body = s.get("/render?target=host.web1.cpu&from=-1h&until=now")
        self.assertEqual(st, 200, body)
        self.assertEqual(len(body[0]["datapoints"]), 60)
        st, _, body = s.get("/render?target=host.web1.cpu&from=-2d&until=-1d")
        self.assertEqual(st, 200, body)
        self.assertTrue(all(v is None for v, _ in body[0]["datapoints"]))

    def test_render_embedded(self):
        s = self.start_server(sets=["canary.enabled=no"])
        self.write(s)
        self.check_all(s)
        s.flush()
        self.check_all(s)

    def test_errors(self):
        s = self.start_server(sets=["canary.enabled=no", "limits.max_query_series=2"])
        self.write(s)
        st, _, body = s.get("/render?target=" + urllib.parse.quote("sumSeries(host.*.cpu"))
        self.assertEqual(st, 400, body)
        self.assertIn("position", body["error"]["message"])
        st, _, body = s.get("/render?target=host.*.cpu&from=-1h")
        self.assertEqual(st, 422, body)
        self.assertIn("max_query_series", body["error"]["message"])
        st, _, body = s.get("/render?target=host.web1.cpu&from=yesterday-ish")
        self.assertEqual(st, 400, body)
        self.assertIn("from", body["error"]["message"])
        st, _, body = s.get("/render?target=host.web1.cpu&from=-1h&until=-60min")
        self.assertEqual(st, 400, body)  # graphite-web: "Invalid empty time range"
        self.assertIn("empty range", body["error"]["message"])
        # until before from: swapped, as graphite-web does (test_graphite_diff compares)
        st, _, body = s.get("/render?target=host.web1.cpu&from=now&until=-1h")
        self.assertEqual(st, 200, body)
        self.assertEqual(len(body[0]["datapoints"]), 60)
        st, _, body = s.get("/render?target=host.web1.cpu&format=png")
        self.assertEqual(st, 400, body)
        st, _, body = s.get("/render?target=nosuchFunction(host.web1.cpu)")
        self.assertEqual(st, 400, body)
        self.assertIn("nosuchFunction", body["error"]["message"])
        st, _, body = s.get("/render")
        self.assertEqual((st, body), (200, []))

    def test_render_remote_tiers(self):
        e = Engines()
        self.addCleanup(e.cleanup)
        e.start()
        s, = self.start_nodes(1, engines=[e], create_storage=True, sets=["canary.enabled=no"])
        self.write(s)
        self.check_all(s)  # from Redis
        s.flush()
        self.check_all(s)  # from DynamoDB
        # an aged day, from S3
        old = floor_step(now() - 20 * DAY)
        st, _, _ = s.post_points([pt("old", "m", old + 60 * i, float(i)) for i in range(5)])
        self.assertEqual(st, 200)
        s.flush()
        s.age()
        self.assertTrue(e.s3rver.list_keys("dm/v1/"))
        st, _, body = s.get("/render?target=sumSeries(host.old.*)&from=%d&until=%d" %
                            (old - 1, old + 240))
        self.assertEqual(st, 200, body)
        self.assertEqual([v for v, _ in body[0]["datapoints"]], [0.0, 1.0, 2.0, 3.0, 4.0])


if __name__ == "__main__":
    main()
