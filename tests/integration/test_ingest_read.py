"""test_ingest_read: a user pushes Mackerel points and reads them back through every read
endpoint (host and service metrics, latest, metric names), with last-write-wins overwrites
and step flooring."""

import json
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import STEP, ServerTestCase, floor_step, main, now  # noqa: E402


def pt(host, name, t, v):
    return {"hostId": host, "name": name, "time": t, "value": v}


class IngestRead(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.start_class_server()
        cls.base = floor_step(now() - 3 * 3600)

    def post_ok(self, points, **kw):
        resp = self.server.post_points(points, **kw)
        self.assertStatus(resp, 200)
        self.assertEqual(resp[2], {"success": True})

    def test_post_then_read_host_metric(self):
        b = self.base
        self.post_ok([pt("h1", "cpu.user", b, 1.5), pt("h1", "cpu.user", b + 60, 2.5),
                      pt("h1", "cpu.user", b + 120, -3.25)])
        got = self.server.host_metrics("h1", "cpu.user", b, b + 120)
        self.assertEqual(got, [(b, 1.5), (b + 60, 2.5), (b + 120, -3.25)])

    def test_reply_shape_and_content_type(self):
        b = self.base
        self.post_ok([pt("shape", "m", b, 1.0)])
        st, h, body = self.server.get("/api/v0/hosts/shape/metrics?name=m&from=%d&to=%d" %
                                      (b, b))
        self.assertEqual(st, 200)
        self.assertIn("application/json", h.get("content-type", ""))
        self.assertEqual(body, {"metrics": [{"time": b, "value": 1.0}]})

    def test_range_is_inclusive_and_sorted(self):
        b = self.base
        pts = [pt("h2", "load", b + i * 60, float(i)) for i in (4, 0, 3, 1, 2)]
        self.post_ok(pts)
        got = self.server.host_metrics("h2", "load", b + 60, b + 180)
        self.assertEqual(got, [(b + 60, 1.0), (b + 120, 2.0), (b + 180, 3.0)])
        self.assertEqual(self.server.host_metrics("h2", "load", b + 61, b + 119), [])
        self.assertEqual(len(self.server.host_metrics("h2", "load", b - 3600, b + 3600)), 5)

    def test_unknown_series_reads_empty(self):
        b = self.base
        self.assertEqual(self.server.host_metrics("nobody", "nothing", b, b + 3600), [])

    def test_times_are_floored_to_the_step(self):
        b = self.base
        self.post_ok([pt("fl", "m", b + 59, 1.0), pt("fl", "m", b + 61, 2.0)])
        got = self.server.host_metrics("fl", "m", b - 60, b + 120)
        self.assertEqual(got, [(b, 1.0), (b + 60, 2.0)])

    def test_flooring_collision_keeps_last(self):
        b = self.base
        self.post_ok([pt("fl2", "m", b + 1, 1.0), pt("fl2", "m", b + 30, 2.0)])
        self.assertEqual(self.server.host_metrics("fl2", "m", b, b + 59), [(b, 2.0)])

    def test_overwrite_last_write_wins_across_batches(self):
        b = self.base
        self.post_ok([pt("ow", "m", b, 1.0), pt("ow", "m", b + 60, 10.0)])
        self.post_ok([pt("ow", "m", b, 2.0)])
        self.assertEqual(self.server.host_metrics("ow", "m", b, b + 60),
                         [(b, 2.0), (b + 60, 10.0)])

    def test_overwrite_last_write_wins_within_a_batch(self):
        b = self.base
        self.post_ok([pt("ow2", "m", b, 3.0), pt("ow2", "m", b + 60, 5.0),
                      pt("ow2", "m", b, 4.0)])
        self.assertEqual(self.server.host_metrics("ow2", "m", b, b + 60),
                         [(b, 4.0), (b + 60, 5.0)])

    def test_overwrite_after_flush_wins_over_table(self):
        b = self.base
        self.post_ok([pt("ow3", "m", b, 1.0), pt("ow3", "m", b + 60, 1.0)])
        self.server.flush()
        self.post_ok([pt("ow3", "m", b, 7.0)])
        self.assertEqual(self.server.host_metrics("ow3", "m", b, b + 60),
                         [(b, 7.0), (b + 60, 1.0)])
        self.server.flush()
        self.assertEqual(self.server.host_metrics("ow3", "m", b, b + 60),
                         [(b, 7.0), (b + 60, 1.0)])

    def test_edge_values_round_trip(self):
        b = self.base
        vals = [0.0, 1e300, -1e-300, 5e-324, 1.7976931348623157e308, 123456.789,
                -987654321.125, 0.1, 1.0 / 3.0, 42.0]
        self.post_ok([pt("vals", "m", b + i * 60, v) for i, v in enumerate(vals)])
        got = self.server.host_metrics("vals", "m", b, b + 60 * len(vals))
        self.assertEqual(got, [(b + i * 60, v) for i, v in enumerate(vals)])

    def test_integers_and_integral_float_times_accepted(self):
        b = self.base
        body = '[{"hostId":"intv","name":"m","time":%d.0,"value":7},' \
               '{"hostId":"intv","name":"m","time":%d,"value":-2}]' % (b, b + 60)
        self.assertStatus(self.server.post("/api/v0/tsdb", body), 200)
        self.assertEqual(self.server.host_metrics("intv", "m", b, b + 60),
                         [(b, 7.0), (b + 60, -2.0)])

    def test_unknown_fields_are_ignored(self):
        b = self.base
        p = pt("extra", "m", b, 1.0)
        p["unit"] = "percent"
        p["meta"] = {"a": [1, {"b": None}], "c": True}
        self.post_ok([p])
        self.assertEqual(self.server.host_metrics("extra", "m", b, b), [(b, 1.0)])

    def test_names_with_all_allowed_characters(self):
        b = self.base
        name = "Az09_-.x-Y_z.custom.nginx.requests-total_2"
        self.post_ok([pt("h-1_A", name, b, 1.0)])
        self.assertEqual(self.server.host_metrics("h-1_A", name, b, b), [(b, 1.0)])

    def test_service_metrics(self):
        b = self.base
        resp = self.server.post_service("web", [{"name": "req.count", "time": b, "value": 5.0},
                                                {"name": "req.count", "time": b + 60,
                                                 "value": 6.0}])
        self.assertStatus(resp, 200)
        self.assertEqual(resp[2], {"success": True})
        self.assertEqual(self.server.service_metrics("web", "req.count", b, b + 60),
                         [(b, 5.0), (b + 60, 6.0)])
        # a service metric is not a host metric of a host called "web"
        self.assertEqual(self.server.host_metrics("web", "req.count", b, b + 60), [])
        self.assertEqual(self.server.service_metrics("other", "req.count", b, b + 60), [])

    def test_latest(self):
        b = self.base
        self.post_ok([pt("la1", "a", b, 1.0), pt("la1", "a", b + 120, 3.0),
                      pt("la1", "a", b + 60, 2.0), pt("la1", "b", b, 9.0),
                      pt("la2", "a", b + 180, 4.0)])
        st, _, body = self.server.get(
            "/api/v0/tsdb/latest?hostId=la1&hostId=la2&hostId=la3&name=a&name=b&name=zz")
        self.assertEqual(st, 200, body)
        self.assertEqual(body, {"tsdbLatest": {
            "la1": {"a": {"name": "a", "time": b + 120, "value": 3.0},
                    "b": {"name": "b", "time": b, "value": 9.0}},
            "la2": {"a": {"name": "a", "time": b + 180, "value": 4.0}},
            "la3": {}}})

    def test_latest_repeated_parameters_count_once(self):
        # repeated hostId / name values are answered once and count once against
        # limits.max_query_series (1000 by default): 1200 x "la4" is 1 series, not 1200
        b = self.base
        self.post_ok([pt("la4", "a", b, 5.0)])
        q = "&".join(["hostId=la4"] * 1200 + ["name=a", "name=a", "hostId=la5"])
        st, _, body = self.server.get("/api/v0/tsdb/latest?" + q)
        self.assertEqual(st, 200, body)
        self.assertEqual(body, {"tsdbLatest": {
            "la4": {"a": {"name": "a", "time": b, "value": 5.0}}, "la5": {}}})
        q = "&".join(["hostId=l%d" % i for i in range(1001)] + ["name=a"])
        st, _, body = self.server.get("/api/v0/tsdb/latest?" + q)
        self.assertEqual(st, 400, body)
        self.assertIn("1001 hostId x 1 name", body["error"]["message"])

    def test_latest_after_flush(self):
        b = self.base
        self.post_ok([pt("laf", "a", b, 1.0), pt("laf", "a", b + 60, 2.0)])
        self.server.flush()
        st, _, body = self.server.get("/api/v0/tsdb/latest?hostId=laf&name=a")
        self.assertEqual(st, 200, body)
        self.assertEqual(body, {"tsdbLatest": {
            "laf": {"a": {"name": "a", "time": b + 60, "value": 2.0}}}})

    def test_latest_needs_host_and_name(self):
        for q in ("", "?hostId=h1", "?name=a"):
            st, _, body = self.server.get("/api/v0/tsdb/latest" + q)
            self.assertEqual(st, 400, (q, body))
            self.assertIn("message", body["error"])

    def test_metric_names(self):
        b = self.base
        self.post_ok([pt("mn", "memory.used", b, 1.0), pt("mn", "cpu.user", b, 1.0),
                      pt("mn", "cpu.system", b, 1.0), pt("mn", "cpu.user", b + 60, 2.0),
                      pt("mn2", "disk.read", b, 1.0), pt("mnx", "z", b, 1.0)])
        st, _, body = self.server.get("/api/v0/hosts/mn/metric-names")
        self.assertEqual(st, 200, body)
        self.assertEqual(body, {"names": ["cpu.system", "cpu.user", "memory.used"]})
        st, _, body = self.server.get("/api/v0/hosts/no-such-host/metric-names")
        self.assertEqual((st, body), (200, {"names": []}))

    def test_metric_names_survive_flush(self):
        b = self.base
        self.post_ok([pt("mnf", "b", b, 1.0), pt("mnf", "a", b, 1.0)])
        self.server.flush()
        st, _, body = self.server.get("/api/v0/hosts/mnf/metric-names")
        self.assertEqual((st, body), (200, {"names": ["a", "b"]}))

    def test_read_parameters_are_required(self):
        b = self.base
        for q in ("", "?name=m&from=%d" % b, "?name=m&to=%d" % b, "?from=%d&to=%d" % (b, b),
                  "?name=m&from=abc&to=%d" % b, "?name=m&from=%d&to=x1" % b):
            for path in ("/api/v0/hosts/h1/metrics", "/api/v0/services/web/metrics"):
                st, _, body = self.server.get(path + q)
                self.assertEqual(st, 400, (path + q, body))
                self.assertIsInstance(body.get("error", {}).get("message"), str)

    def test_large_batch(self):
        b = self.base - 2 * 86400
        pts = [pt("big%d" % (i % 50), "m.%d" % (i % 5), b + (i // 250) * 60, float(i))
               for i in range(5000)]
        self.post_ok(pts)
        got = self.server.host_metrics("big7", "m.2", b, b + 86400)
        last = {}  # time -> value of the last point of big7/m.2 at that time
        for i in range(5000):
            if i % 50 == 7 and i % 5 == 2:
                last[b + (i // 250) * 60] = float(i)
        self.assertEqual(len(last), 20)
        self.assertEqual(got, sorted(last.items()))
        self.assertEqual(len(self.server.host_metrics("big0", "m.0", b, b + 86400)), 20)

    def test_keep_alive_connection(self):
        b = self.base
        conn = self.server.connect()
        try:
            for i in range(3):
                st, h, body = self.server.post_points([pt("ka", "m", b + 60 * i, float(i))],
                                                      conn=conn)
                self.assertEqual((st, body), (200, {"success": True}))
            st, _, body = self.server.get("/api/v0/hosts/ka/metrics?name=m&from=%d&to=%d" %
                                          (b, b + 120), conn=conn)
            self.assertEqual(st, 200)
            self.assertEqual(len(body["metrics"]), 3)
        finally:
            conn.close()

    def test_chunked_request_body(self):
        b = self.base
        body = json.dumps([pt("chunk", "m", b + 60 * i, float(i)) for i in range(100)]).encode()
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 700]), body[i:i + 700])
                          for i in range(0, len(body), 700))
        req = (b"POST /api/v0/tsdb HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n")
        st, _, resp = self.server.raw(req)
        self.assertEqual((st, resp), (200, {"success": True}))
        self.assertEqual(len(self.server.host_metrics("chunk", "m", b, b + 6000)), 100)

    def test_expect_100_continue(self):
        b = self.base
        body = json.dumps([pt("cont", "m", b, 1.0)]).encode()
        s = socket.create_connection(("127.0.0.1", self.server.http_port), timeout=10)
        try:
            s.sendall(b"POST /api/v0/tsdb HTTP/1.1\r\nHost: x\r\nContent-Type: "
                      b"application/json\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n"
                      % len(body))
            first = s.recv(64)
            self.assertTrue(first.startswith(b"HTTP/1.1 100"), first)
            s.sendall(body)
            data = b""
            while b"success" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            self.assertIn(b"HTTP/1.1 200", data)
            self.assertIn(b'"success":true', data.replace(b" ", b""))
        finally:
            s.close()
        self.assertEqual(self.server.host_metrics("cont", "m", b, b), [(b, 1.0)])

    def test_mackerel_agent_host_calls(self):
        # what mackerel-agent does at start-up: create a host, read it, update it, report
        s = self.server
        st, _, body = s.post("/api/v0/hosts", {"name": "web1", "meta": {}})
        self.assertEqual(st, 200)
        hid = body["id"]
        self.assertRegex(hid, r"^[A-Za-z0-9]{11}$")
        st, _, body = s.get("/api/v0/hosts/%s" % hid)
        self.assertEqual(st, 200)
        self.assertEqual(body["host"]["id"], hid)
        self.assertEqual(body["host"]["status"], "working")
        st, _, body = s.request("PUT", "/api/v0/hosts/%s" % hid, body={"name": "web1"})
        self.assertEqual((st, body), (200, {"id": hid}))
        st, _, body = s.post("/api/v0/monitoring/checks/report", {"reports": []})
        self.assertEqual((st, body), (200, {"success": True}))
        self.assertError(s.get("/api/v0/hosts/bad.id"), 400, "hostId")

    def test_recent_point_reads_back(self):
        t = floor_step(now())
        self.post_ok([pt("recent", "m", t, 11.0)])
        self.assertEqual(self.server.host_metrics("recent", "m", t - STEP, t + STEP),
                         [(t, 11.0)])


if __name__ == "__main__":
    main()
