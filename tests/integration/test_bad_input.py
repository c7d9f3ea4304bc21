"""test_bad_input: a user sends every kind of bad request and gets a clear JSON error naming
the point and field; a rejected batch stores nothing (a valid point placed before the bad
one is read back to check). Limits are set small with --set."""

import json
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import DAY, ServerTestCase, floor_step, main, now  # noqa: E402

MAX_BODY = 65536
MAX_POINTS = 100
MAX_HEADER = 4096


def pt(host, name, t, v):
    return {"hostId": host, "name": name, "time": t, "value": v}


class BadInput(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.start_class_server(sets=["limits.max_body_bytes=%d" % MAX_BODY,
                                     "limits.max_points=%d" % MAX_POINTS,
                                     "limits.max_header_bytes=%d" % MAX_HEADER])
        cls.base = floor_step(now() - 3600)
        cls.n = 0

    def host(self):
        """A host id of its own for every batch, so 'nothing stored' is checkable."""
        type(self).n += 1
        return "bad%d" % type(self).n

    def assertNothingStored(self, host, name="good"):
        b = self.base
        self.assertEqual(self.server.host_metrics(host, name, b - 3600, b + 3600), [],
                         "a rejected batch stored its valid points")

    def reject(self, bad, index=3, status=400, words=()):
        """Posts 3 valid points then `bad` (a dict or raw JSON text) at `index`, expects
        status with "point <index>" and words in the message, and nothing stored."""
        h = self.host()
        good = [json.dumps(pt(h, "good", self.base + 60 * i, float(i))) for i in range(index)]
        if isinstance(bad, dict):
            bad = json.dumps(bad)
        body = "[" + ",".join(good + [bad % {"h": h} if "%(h)s" in bad else bad]) + "]"
        resp = self.server.post("/api/v0/tsdb", body)
        words = (("point %d" % index,) if status == 400 else ()) + tuple(words)
        msg = self.assertError(resp, status, *words)
        self.assertNothingStored(h)
        return msg

    def body_error(self, body, status, *words):
        resp = self.server.post("/api/v0/tsdb", body)
        return self.assertError(resp, status, *words)

    # --- body-level errors -------------------------------------------------------------
    def test_malformed_json(self):
        h = self.host()
        body = '[{"hostId":"%s","name":"good","time":%d,"value":1},' \
               '{"hostId" "x","name":"m","time":1,"value":1}]' % (h, self.base)
        self.body_error(body, 400, "json")
        self.assertNothingStored(h)

    def test_truncated_json(self):
        h = self.host()
        full = json.dumps([pt(h, "good", self.base, 1.0), pt(h, "good", self.base + 60, 2.0)])
        for cut in (1, len(full) // 2, len(full) - 1):
            self.body_error(full[:cut], 400, "json")
        self.assertNothingStored(h)

    def test_garbage_after_the_array(self):
        h = self.host()
        body = json.dumps([pt(h, "good", self.base, 1.0)]) + " ]"
        self.body_error(body, 400, "json")
        self.assertNothingStored(h)

    def test_not_an_array(self):
        h = self.host()
        self.body_error(json.dumps(pt(h, "good", self.base, 1.0)), 400, "array")
        self.body_error('"hello"', 400, "array")
        self.body_error("42", 400, "array")
        self.assertNothingStored(h)

    def test_array_of_non_objects(self):
        h = self.host()
        body = "[" + json.dumps(pt(h, "good", self.base, 1.0)) + ", 5]"
        self.body_error(body, 400, "point 1")
        self.assertNothingStored(h)

    def test_empty_batch(self):
        self.body_error("[]", 400, "empty")

    def test_empty_body(self):
        resp = self.server.post("/api/v0/tsdb", b"")
        self.assertError(resp, 400)

    # --- wrong types ---------------------------------------------------------------------
    def test_value_wrong_types(self):
        for v in ('"1.5"', "null", "true", "false", "{}", "[1]"):
            bad = '{"hostId":"%%(h)s","name":"good","time":%d,"value":%s}' % (self.base, v)
            self.reject(bad, words=("value",))

    def test_time_wrong_types(self):
        for t in ('"%d"' % self.base, "null", "true", "{}", "[%d]" % self.base,
                  "%d.5" % self.base):
            bad = '{"hostId":"%%(h)s","name":"good","time":%s,"value":1}' % t
            self.reject(bad, words=("time",))

    def test_host_and_name_wrong_types(self):
        for field, v in (("hostId", "12"), ("hostId", "null"), ("name", "7"),
                         ("name", "true"), ("name", '["a"]'), ("hostId", '{"a":1}')):
            p = {"hostId": '"%(h)s"', "name": '"good"', "time": str(self.base), "value": "1"}
            p[field] = v
            bad = "{" + ",".join('"%s":%s' % kv for kv in p.items()) + "}"
            self.reject(bad, words=(field,))

    # --- missing fields ----------------------------------------------------------------
    def test_missing_fields(self):
        for field in ("hostId", "name", "time", "value"):
            p = {"hostId": "%(h)s", "name": "good", "time": self.base, "value": 1}
            del p[field]
            self.reject(json.dumps(p), words=(field, "missing"))

    def test_service_point_missing_fields(self):
        h = self.host()
        for field in ("name", "time", "value"):
            p = {"name": "good", "time": self.base + 60, "value": 1}
            del p[field]
            resp = self.server.post_service(h, [{"name": "good", "time": self.base,
                                                 "value": 1}, p])
            self.assertError(resp, 400, "point 1", field)
        self.assertEqual(self.server.service_metrics(h, "good", self.base - 60,
                                                     self.base + 3600), [])

    # --- values ------------------------------------------------------------------------
    def test_non_finite_values(self):
        for v in ("1e999", "-1e999", "1E400"):
            bad = '{"hostId":"%%(h)s","name":"good","time":%d,"value":%s}' % (self.base, v)
            self.reject(bad, words=("value",))

    def test_nan_and_infinity_literals(self):
        for v in ("NaN", "Infinity", "-Infinity", "nan"):
            h = self.host()
            body = '[{"hostId":"%s","name":"good","time":%d,"value":1},' \
                   '{"hostId":"%s","name":"good","time":%d,"value":%s}]' % (
                       h, self.base, h, self.base + 60, v)
            self.body_error(body, 400)
            self.assertNothingStored(h)

    # --- names -------------------------------------------------------------------------
    def test_bad_metric_names(self):
        for name in ("cpu/user", "cpu user", "cpu..user", ".cpu", "cpu.", "", "cp\u00fc",
                     "a*b", "a{b}", "cpu\tuser", "a;b", "x\u0000y"):
            self.reject(pt("%(h)s", name, self.base, 1.0), words=("name",))

    def test_bad_host_ids(self):
        for host in ("", "h/1", "h 1", "h.1", "h*", "\u00e9"):
            h = self.host()
            body = json.dumps([pt(h, "good", self.base, 1.0), pt(host, "m", self.base, 1.0)])
            self.body_error(body, 400, "point 1", "hostId")
            self.assertNothingStored(h)

    def test_bad_service_name(self):
        resp = self.server.post("/api/v0/services/bad*svc/tsdb",
                                [{"name": "good", "time": self.base, "value": 1.0}])
        self.assertError(resp, 400)
        resp = self.server.post("/api/v0/services/a.b/tsdb",
                                [{"name": "good", "time": self.base, "value": 1.0}])
        self.assertError(resp, 400)
        self.assertEqual(self.server.service_metrics("a", "b.good", self.base,
                                                     self.base + 60), [])

    def test_name_length_limit(self):
        h = self.host()
        prefix = len("host.%s." % h)
        ok_name = "n" * (256 - prefix)    # full series name exactly 256 bytes
        long_name = "n" * (257 - prefix)  # 257
        self.assertStatus(self.server.post_points([pt(h, ok_name, self.base, 1.0)]), 200)
        self.assertEqual(self.server.host_metrics(h, ok_name, self.base, self.base),
                         [(self.base, 1.0)])
        self.reject(pt("%(h)s", long_name, self.base, 1.0), words=("name",))
        self.reject(pt("%(h)s", "x" * 1000, self.base, 1.0), index=0, words=("name",))

    # --- times -------------------------------------------------------------------------
    def test_time_too_old(self):
        t = now() - 461 * DAY
        self.reject(pt("%(h)s", "good", t, 1.0), words=("time",))
        self.reject(pt("%(h)s", "good", -5, 1.0), words=("time",))
        self.reject(pt("%(h)s", "good", 0, 1.0), words=("time",))

    def test_time_too_far_in_the_future(self):
        self.reject(pt("%(h)s", "good", now() + 3600, 1.0), words=("time",))
        self.reject(pt("%(h)s", "good", 10 ** 12, 1.0), words=("time",))
        self.reject('{"hostId":"%(h)s","name":"good","time":1e20,"value":1}', words=("time",))

    def test_times_inside_the_range_are_accepted(self):
        h = self.host()
        old = floor_step(now() - 450 * DAY)
        soon = floor_step(now() + 300)
        self.assertStatus(self.server.post_points([pt(h, "edge", old, 1.0),
                                                   pt(h, "edge", soon, 2.0)]), 200)
        self.assertEqual(self.server.host_metrics(h, "edge", old, soon),
                         [(old, 1.0), (soon, 2.0)])

    # --- sizes -------------------------------------------------------------------------
    def test_too_many_points(self):
        h = self.host()
        b = self.base - 2 * 3600  # MAX_POINTS minutes, all in the past
        ok = [pt(h, "many", b + 60 * i, float(i)) for i in range(MAX_POINTS)]
        self.assertStatus(self.server.post_points(ok), 200)
        h2 = self.host()
        over = [pt(h2, "good", b + 60 * i, float(i)) for i in range(MAX_POINTS + 1)]
        self.assertError(self.server.post_points(over), 413, str(MAX_POINTS))
        self.assertEqual(self.server.host_metrics(h2, "good", b, b + 7200), [])

    def test_body_over_limit_content_length(self):
        h = self.host()
        pts = [pt(h, "good", self.base, 1.0)] + \
              [{"hostId": h, "name": "good", "time": self.base, "value": 1.0, "pad": "x" * 1000}
               for _ in range(80)]
        body = json.dumps(pts).encode()
        self.assertGreater(len(body), MAX_BODY)
        req = (b"POST /api/v0/tsdb HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Content-Length: %d\r\n\r\n" % len(body)) + body
        st, _, resp = self.server.raw(req)
        self.assertEqual(st, 413, resp)
        self.assertIn("message", resp["error"])
        self.assertNothingStored(h)

    def test_body_over_limit_chunked(self):
        h = self.host()
        body = json.dumps([pt(h, "good", self.base, 1.0)] +
                          [{"hostId": h, "name": "good", "time": self.base, "value": 1.0,
                            "pad": "y" * 1000} for _ in range(80)]).encode()
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 4000]), body[i:i + 4000])
                          for i in range(0, len(body), 4000))
        req = (b"POST /api/v0/tsdb HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n")
        st, _, resp = self.server.raw(req)
        self.assertEqual(st, 413, resp)
        self.assertNothingStored(h)

    def test_headers_over_limit(self):
        req = (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"z" * (MAX_HEADER + 100) +
               b"\r\n\r\n")
        st, _, resp = self.server.raw(req)
        self.assertEqual(st, 431, resp)
        many = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 100) for i in range(60))
        st, _, resp = self.server.raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
        self.assertEqual(st, 431, resp)
        # a request just under the limit is fine
        st, _, _ = self.server.raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Ok: " +
                                   b"k" * 1000 + b"\r\n\r\n")
        self.assertEqual(st, 200)

    # --- bad reads ---------------------------------------------------------------------
    def test_bad_read_parameters(self):
        b = self.base
        for path, words in (
                ("/api/v0/hosts/h1/metrics?from=%d&to=%d" % (b, b), ('"name"',)),
                ("/api/v0/hosts/h1/metrics?name=x&to=%d" % b, ('"from"',)),
                ("/api/v0/hosts/h1/metrics?name=x&from=%d" % b, ('"to"',)),
                ("/api/v0/hosts/h1/metrics?name=x&from=abc&to=%d" % b, ('"from"',)),
                ("/api/v0/hosts/h1/metrics?name=x&from=%d&to=%d" % (b + 60, b), ("after",)),
                ("/api/v0/hosts/h1/metrics?name=a/b&from=%d&to=%d" % (b, b), ("name",)),
                ("/api/v0/hosts/h%%2F1/metrics?name=x&from=%d&to=%d" % (b, b), ("hostId",)),
                ("/api/v0/tsdb/latest?hostId=h1", ('"name"',))):
            self.assertError(self.server.get(path), 400, *words)

    def test_read_times_must_be_plain_integers(self):
        # strtoll alone would saturate an overflow to a valid-looking time and skip blanks
        b = self.base
        for frm, to, word in (("99999999999999999999", str(b), '"from"'),
                              ("-99999999999999999999", str(b), '"from"'),
                              (str(b), "99999999999999999999", '"to"'),
                              ("%20" + str(b), str(b), '"from"'),
                              ("%2B" + str(b), str(b), '"from"'),
                              ("", str(b), '"from"'), (str(b), "1.5", '"to"')):
            path = "/api/v0/hosts/h1/metrics?name=x&from=%s&to=%s" % (frm, to)
            self.assertError(self.server.get(path), 400, word)
        st, _, body = self.server.get("/api/v0/hosts/h1/metrics?name=x&from=-5&to=%d" % b)
        self.assertEqual((st, body), (200, {"metrics": []}))

    def test_errors_echoing_raw_bytes_are_valid_json(self):
        # a path or hostId that is not UTF-8 is echoed in the message: the body must still
        # be UTF-8 JSON (bad bytes as U+FFFD), checked on the raw bytes, strictly
        def raw_body(request):
            c = socket.create_connection(("127.0.0.1", self.server.http_port), timeout=10)
            try:
                c.sendall(request)
                data = b""
                while True:
                    chunk = c.recv(65536)
                    if not chunk:
                        break
                    data += chunk
            finally:
                c.close()
            head, _, body = data.partition(b"\r\n\r\n")
            return int(head.split()[1]), json.loads(body.decode("utf-8"))

        st, body = raw_body(b"GET /x%FF%FEy HTTP/1.1\r\nConnection: close\r\n\r\n")
        self.assertEqual(st, 404)
        self.assertEqual(body, {"error": {"message": "no such endpoint: GET /x\ufffd\ufffdy"}})
        st, body = raw_body(b"GET /api/v0/hosts/h%C3%A9%C3/metric-names HTTP/1.1\r\n"
                            b"Connection: close\r\n\r\n")
        self.assertEqual(st, 400)
        self.assertIn("h\u00e9\ufffd", body["error"]["message"])

    def test_read_over_the_points_budget(self):
        s = self.start_server(sets=["limits.max_query_points=100000"])
        b = self.base
        path = "/api/v0/services/s/metrics?name=x&from=%d&to=%d"
        self.assertError(s.get(path % (b - 100 * 86400, b)), 400, "max_query_points")
        st, _, body = s.get(path % (b - 60 * 86400, b))
        self.assertEqual((st, body), (200, {"metrics": []}))

    # --- routes and methods ------------------------------------------------------------
    def test_unknown_routes(self):
        for path in ("/nope", "/api/v0/nope", "/api/v0/hosts/h1/unknown",
                     "/api/v0/hosts/h1/metrics/extra", "/api/v1/tsdb"):
            self.assertError(self.server.get(path), 404)
        self.assertError(self.server.post("/api/v0/tsdbx", "[]"), 404)

    def test_wrong_methods(self):
        cases = (("GET", "/api/v0/tsdb", "POST"), ("PUT", "/api/v0/tsdb", "POST"),
                 ("DELETE", "/api/v0/hosts/h1/metrics", "GET"),
                 ("POST", "/api/v0/hosts/h1/metrics", "GET"),
                 ("POST", "/api/v0/tsdb/latest", "GET"),
                 ("GET", "/api/v0/services/s/tsdb", "POST"),
                 ("POST", "/healthz", "GET"), ("GET", "/admin/flush", "POST"),
                 ("GET", "/admin/age", "POST"))
        for method, path, allowed in cases:
            resp = self.server.request(method, path, body="[]" if method != "GET" else None)
            self.assertError(resp, 405)
            allow = resp[1].get("allow", "")
            self.assertIn(allowed, [a.strip() for a in allow.split(",")], (method, path, allow))

    def test_server_keeps_serving_after_errors(self):
        conn = self.server.connect()
        try:
            h = self.host()
            st, _, _ = self.server.post("/api/v0/tsdb", "[{", conn=conn)
            self.assertEqual(st, 400)
            st, _, body = self.server.post_points([pt(h, "after", self.base, 1.0)], conn=conn)
            self.assertEqual((st, body), (200, {"success": True}))
        finally:
            conn.close()
        self.assertEqual(self.server.host_metrics(h, "after", self.base, self.base),
                         [(self.base, 1.0)])


if __name__ == "__main__":
    main()
