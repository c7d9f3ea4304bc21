"""test_influx: a user points Telegraf or an Influx client at diamond: line-protocol batches
(tags, escapes, every field type, every precision) through POST /write and
POST /api/v2/write, GET /ping, POST /query with CREATE DATABASE, keys in the Influx ways,
and bad lines rejecting the whole batch with the line number.

Reading back: a line "host,<hostId>=<first> <field>=v" becomes series
"host.<hostId>.<first>.<field>" (src/ingest/influx.c), which the Mackerel host API reads as
/api/v0/hosts/<hostId>/metrics?name=<first>.<field>."""

import base64
import gzip
import os
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ServerTestCase, floor_step, main, metric_value, now  # noqa: E402

NS = 1000000000


class Influx(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.start_class_server()
        cls.base = floor_step(now() - 3600)

    def write(self, body, path="/write?db=telegraf", headers=None):
        h = {"Content-Type": "text/plain; charset=utf-8"}
        h.update(headers or {})
        return self.server.post(path, body.encode(), headers=h)

    def read(self, host, name, frm=None, to=None):
        frm = self.base - 3600 if frm is None else frm
        to = self.base + 600 if to is None else to
        return self.server.host_metrics(host, name, frm, to)

    def test_tags_fields_and_ns_timestamps(self):
        b = self.base
        st, _, body = self.write(
            "host,i1=cpu,cpu=cpu0 idle=98.5,user=1.25 %d\n"
            "host,i1=cpu,cpu=cpu0 idle=97 %d\n" % (b * NS, (b + 60) * NS + 123456789))
        self.assertEqual(st, 204, body)
        self.assertEqual(body, "")
        # tags sorted by key: cpu before i1 -> host.cpu.cpu0.i1.cpu.idle, read as hostId "cpu"
        self.assertPoints(self.read("cpu", "cpu0.i1.cpu.idle"), [(b, 98.5), (b + 60, 97.0)])
        self.assertPoints(self.read("cpu", "cpu0.i1.cpu.user"), [(b, 1.25)])

    def test_escapes_and_types(self):
        b = self.base
        st, _, body = self.write(
            'host,i2=a\\ b\\,c\\=d f\\ 1=1i,f2=2u,f3=t,f4=FALSE,s="a \\"str\\"",f5=-1.5e1 %d\n'
            "host,i2=web.1 x_y=3 %d\n" % (b, b), path="/write?db=x&precision=s")
        self.assertEqual(st, 204, body)
        # "a b,c=d" -> a_x20b_x2Cc_x3Dd; "f 1" -> f_x201; "web.1" -> web_x2E1; "x_y" stays
        for name, v in (("a_x20b_x2Cc_x3Dd.f_x201", 1.0), ("a_x20b_x2Cc_x3Dd.f2", 2.0),
                        ("a_x20b_x2Cc_x3Dd.f3", 1.0), ("a_x20b_x2Cc_x3Dd.f4", 0.0),
                        ("a_x20b_x2Cc_x3Dd.f5", -15.0), ("web_x2E1.x_y", 3.0)):
            self.assertPoints(self.read("i2", name), [(b, v)], name)
        # the string field is not stored
        st, _, names = self.server.get("/api/v0/hosts/i2/metric-names")
        self.assertEqual(sorted(names["names"]),
                         sorted(["a_x20b_x2Cc_x3Dd.f_x201", "a_x20b_x2Cc_x3Dd.f2",
                                 "a_x20b_x2Cc_x3Dd.f3", "a_x20b_x2Cc_x3Dd.f4",
                                 "a_x20b_x2Cc_x3Dd.f5", "web_x2E1.x_y"]))

    def test_every_precision(self):
        b = self.base
        cases = [("/write?db=d&precision=n", b * NS), ("/write?db=d&precision=ns", b * NS),
                 ("/write?db=d&precision=u", b * 10 ** 6), ("/write?db=d&precision=us", b * 10 ** 6),
                 ("/write?db=d&precision=ms", b * 1000 + 999), ("/write?db=d&precision=s", b),
                 ("/write?db=d&precision=m", b // 60), ("/write?db=d&precision=h", b // 3600),
                 ("/api/v2/write?bucket=x&precision=ns", b * NS),
                 ("/api/v2/write?bucket=x&precision=us", b * 10 ** 6),
                 ("/api/v2/write?bucket=x&precision=ms", b * 1000),
                 ("/api/v2/write?bucket=x&precision=s", b),
                 ("/api/v2/write?bucket=x&org=o", b * NS)]
        for k, (path, ts) in enumerate(cases):
            st, _, body = self.write("host,i3=p v%d=%d %d" % (k, k, ts), path=path)
            self.assertEqual(st, 204, (path, body))
            want_t = (b // 3600) * 3600 if "precision=h" in path else b
            self.assertPoints(self.read("i3", "p.v%d" % k), [(want_t, float(k))], path)
        for path in ("/api/v2/write?bucket=x&precision=h", "/write?db=d&precision=sec"):
            st, _, body = self.write("host,i3=p v=1", path=path)
            self.assertEqual(st, 400, path)
            self.assertIn("precision", body["error"]["message"])

    def test_missing_timestamp_is_now(self):
        t0 = now()
        st, _, _ = self.write("host,i4=m v=5")
        self.assertEqual(st, 204)
        pts = self.read("i4", "m.v", floor_step(t0) - 60, t0 + 120)
        self.assertEqual([v for _, v in pts], [5.0])
        self.assertGreaterEqual(pts[0][0], floor_step(t0))

    def test_bad_line_rejects_the_batch(self):
        b = self.base
        st, _, body = self.write("host,i5=m v=1 %d\n\nhost,i5=m v=oops %d\n" % (b * NS, b * NS))
        self.assertEqual(st, 400)
        self.assertEqual(body["error"]["message"],
                         'line 3: field "v": "oops" is not a float, integer (42i), unsigned '
                         "(42u), boolean or string")
        self.assertEqual(self.read("i5", "m.v"), [])
        st, _, body = self.write("host,i5=m v=1 %d" % b)  # seconds sent as ns
        self.assertEqual(st, 400)
        self.assertIn("line 1: timestamp", body["error"]["message"])
        st, _, body = self.write("m v=1", path="/write")
        self.assertEqual((st, body["error"]["message"]), (400, 'query parameter "db" is required'))
        st, _, body = self.write("m v=1", path="/api/v2/write")
        self.assertEqual((st, body["error"]["message"]),
                         (400, 'query parameter "bucket" is required'))

    def test_gzip_body(self):
        """Telegraf sends content_encoding = "gzip" by default."""
        b = self.base
        lines = "".join("host,i7=g v=%d %d\n" % (i, b + 60 * i) for i in range(50))
        st, _, body = self.server.post("/write?db=t&precision=s", gzip.compress(lines.encode()),
                                       headers={"Content-Encoding": "gzip",
                                                "Content-Type": "text/plain"})
        self.assertEqual(st, 204, body)
        self.assertPoints(self.read("i7", "g.v", b, b + 49 * 60),
                          [(b + 60 * i, float(i)) for i in range(50)])
        st, _, body = self.server.post("/write?db=t", b"not gzip",
                                       headers={"Content-Encoding": "gzip"})
        self.assertEqual((st, body["error"]["message"]), (400, "body: invalid gzip data"))
        st, _, body = self.server.post("/write?db=t", gzip.compress(lines.encode())[:-8],
                                       headers={"Content-Encoding": "gzip"})
        self.assertEqual(st, 400)
        st, _, body = self.server.post("/write?db=t", b"m v=1", headers={"Content-Encoding": "br"})
        self.assertEqual(st, 415)

    def test_gzip_bomb_is_413(self):
        s = self.start_server(sets=["limits.max_body_bytes=64k"])
        bomb = gzip.compress(b"m v=1\n" * 100000)  # 600 kB inflated, a few kB sent
        st, _, body = s.post("/api/v2/write?bucket=b", bomb, headers={"Content-Encoding": "gzip"})
        self.assertEqual(st, 413)
        self.assertIn("limits.max_body_bytes", body["error"]["message"])

    def test_ping_and_query(self):
        st, h, body = self.server.get("/ping")
        self.assertEqual(st, 204)
        self.assertIn("x-influxdb-version", h)
        st, h, _ = self.server.request("HEAD", "/ping")
        self.assertEqual(st, 204)
        # Telegraf's influxdb output: POST /query with a form body
        st, _, body = self.server.post(
            "/query", urllib.parse.urlencode({"q": 'CREATE DATABASE "telegraf"'}).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual((st, body), (200, {"results": [{"statement_id": 0}]}))
        st, _, body = self.server.post("/query?q=create+database+db1")
        self.assertEqual((st, body), (200, {"results": [{"statement_id": 0}]}))
        st, _, body = self.server.post("/query?q=SELECT+*+FROM+cpu")
        self.assertEqual(st, 400)
        self.assertIn("CREATE DATABASE", body["error"]["message"])

    def test_points_counted(self):
        _, text = self.server.metrics_text()
        before = metric_value(text, "diamond_points_total", {"route": "influx_v2_write"}) or 0
        st, _, _ = self.write("host,i6=m a=1,b=2 %d" % self.base,
                              path="/api/v2/write?bucket=b&precision=s")
        self.assertEqual(st, 204)
        _, text = self.server.metrics_text()
        self.assertEqual(metric_value(text, "diamond_points_total",
                                      {"route": "influx_v2_write"}) - before, 2)


class InfluxKeys(ServerTestCase):
    def test_influx_ways_to_send_a_key(self):
        s = self.start_server(sets=["auth.keys=wkey=write,rkey=read"])
        b = floor_step(now() - 3600)

        def write(path, headers=None):
            h = {"Content-Type": "text/plain"}
            h.update(headers or {})
            return s.post(path, b"host,ik=m v=1 %d" % b, headers=h)[0]

        basic = base64.b64encode(b"telegraf:wkey").decode()
        self.assertEqual(write("/write?db=d&precision=s"), 401)
        self.assertEqual(write("/write?db=d&precision=s", {"X-Api-Key": "wkey"}), 204)
        self.assertEqual(write("/api/v2/write?bucket=b&precision=s",
                               {"Authorization": "Token wkey"}), 204)
        self.assertEqual(write("/write?db=d&precision=s", {"Authorization": "Basic " + basic}), 204)
        self.assertEqual(write("/write?db=d&precision=s&u=telegraf&p=wkey"), 204)
        self.assertEqual(write("/write?db=d&precision=s", {"Authorization": "Token nope"}), 401)
        self.assertEqual(write("/write?db=d&precision=s", {"Authorization": "Token rkey"}), 403)
        self.assertEqual(s.get("/ping")[0], 204)  # no key needed, as in InfluxDB
        self.assertEqual(s.host_metrics("ik", "m.v", b, b, key="rkey"), [(b, 1.0)])


if __name__ == "__main__":
    main()
