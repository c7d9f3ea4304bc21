"""test_auth: with auth.keys configured, a user needs an X-Api-Key with the right scope
(read for reads, write for writes and admin); ops endpoints stay open; without keys on a
loopback listener everything is open; SIGHUP re-reads the keys."""

import os
import shutil
import signal
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ServerTestCase, floor_step, main, now  # noqa: E402

WKEY, RKEY = "wkey", "rkey"


def pt(host, name, t, v):
    return {"hostId": host, "name": name, "time": t, "value": v}


class Auth(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.start_class_server(sets=["auth.keys=%s=read+write,%s=read" % (WKEY, RKEY)])
        cls.base = floor_step(now() - 3600)

    def reads(self, host="a1", name="m"):
        b = self.base
        return ["/api/v0/hosts/%s/metrics?name=%s&from=%d&to=%d" % (host, name, b, b + 600),
                "/api/v0/services/s1/metrics?name=%s&from=%d&to=%d" % (name, b, b + 600),
                "/api/v0/tsdb/latest?hostId=%s&name=%s" % (host, name),
                "/api/v0/hosts/%s/metric-names" % host]

    def test_write_needs_a_write_key(self):
        b = self.base
        points = [pt("a1", "m", b, 1.0)]
        self.assertError(self.server.post_points(points), 401)
        self.assertError(self.server.post_points(points, key="nokey"), 401)
        self.assertError(self.server.post_points(points, key=""), 401)
        self.assertError(self.server.post_points(points, key=RKEY), 403)
        self.assertError(self.server.post_service("s1", [{"name": "m", "time": b,
                                                          "value": 1.0}]), 401)
        self.assertError(self.server.post_service("s1", [{"name": "m", "time": b,
                                                          "value": 1.0}], key=RKEY), 403)
        # nothing of the refused writes was stored
        self.assertEqual(self.server.host_metrics("a1", "m", b, b, key=RKEY), [])
        st, _, body = self.server.post_points(points, key=WKEY)
        self.assertEqual((st, body), (200, {"success": True}))
        st, _, body = self.server.post_service("s1", [{"name": "m", "time": b, "value": 2.0}],
                                               key=WKEY)
        self.assertEqual((st, body), (200, {"success": True}))
        self.assertEqual(self.server.host_metrics("a1", "m", b, b, key=RKEY), [(b, 1.0)])

    def test_reads_need_a_read_key(self):
        b = self.base
        self.assertStatus(self.server.post_points([pt("a2", "m", b, 3.0)], key=WKEY), 200)
        for path in self.reads("a2"):
            self.assertError(self.server.get(path), 401)
            self.assertError(self.server.get(path, headers={"X-Api-Key": "wrong"}), 401)
            st, _, body = self.server.get(path, headers={"X-Api-Key": RKEY})
            self.assertEqual(st, 200, (path, body))
            st, _, body = self.server.get(path, headers={"X-Api-Key": WKEY})
            self.assertEqual(st, 200, (path, body))
        self.assertEqual(self.server.host_metrics("a2", "m", b, b, key=WKEY), [(b, 3.0)])

    def test_key_header_name_is_case_insensitive(self):
        st, _, _ = self.server.get(self.reads()[0], headers={"x-api-key": RKEY})
        self.assertEqual(st, 200)

    def test_admin_needs_write_scope(self):
        for path in ("/admin/flush", "/admin/age"):
            self.assertError(self.server.post(path), 401)
            self.assertError(self.server.post(path, headers={"X-Api-Key": "zzz"}), 401)
            self.assertError(self.server.post(path, headers={"X-Api-Key": RKEY}), 403)
            st, _, body = self.server.post(path, headers={"X-Api-Key": WKEY})
            self.assertEqual(st, 200, (path, body))

    def test_ops_endpoints_are_open(self):
        st, _, body = self.server.get("/healthz")
        self.assertEqual((st, body), (200, {"status": "ok"}))
        st, _, body = self.server.get("/readyz")
        self.assertEqual((st, body), (200, {"status": "ready"}))
        st, _, body = self.server.get("/metrics")
        self.assertEqual(st, 200)
        self.assertIn("diamond_points_total", body)

    def test_metrics_count_refusals(self):
        self.server.post_points([pt("a3", "m", self.base, 1.0)])
        _, text = self.server.metrics_text()
        self.assertRegex(text, r'diamond_http_requests_total\{[^}]*code="401"[^}]*\} [1-9]')


    def test_refused_before_the_body_is_read(self):
        # headers announcing a 30 MB body, no key, no body sent: the 401 must come at once
        sock = socket.create_connection(("127.0.0.1", self.server.http_port), timeout=5)
        try:
            sock.sendall(b"POST /api/v0/tsdb HTTP/1.1\r\nHost: x\r\n"
                         b"Content-Type: application/json\r\nContent-Length: 30000000\r\n\r\n")
            reply = b""
            while b"\r\n\r\n" not in reply:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                reply += chunk
        finally:
            sock.close()
        self.assertTrue(reply.startswith(b"HTTP/1.1 401"), reply[:100])
        self.assertIn(b"X-Api-Key", reply)
        # a read key on a write: 403, also before the body
        sock = socket.create_connection(("127.0.0.1", self.server.http_port), timeout=5)
        try:
            sock.sendall(b"POST /admin/flush HTTP/1.1\r\nHost: x\r\nX-Api-Key: " +
                         RKEY.encode() + b"\r\nContent-Length: 1000000\r\n\r\n")
            reply = sock.recv(4096)
        finally:
            sock.close()
        self.assertTrue(reply.startswith(b"HTTP/1.1 403"), reply[:100])


class Reload(ServerTestCase):
    def test_sighup_adds_and_removes_keys(self):
        # SIGHUP re-reads auth.keys: adding the first key must close an open server, and
        # removing the last one must open it again (not leave every request at 401)
        d = tempfile.mkdtemp(prefix="diamond-auth-")
        self.addCleanup(shutil.rmtree, d, True)
        conf = os.path.join(d, "diamond.ini")

        def write_conf(keys):
            with open(conf, "w") as f:
                f.write("[auth]\nkeys = %s\n" % keys)

        def until(pred):
            deadline = time.monotonic() + 10
            while not pred() and time.monotonic() < deadline:
                time.sleep(0.05)
            return pred()

        write_conf("")
        s = self.start_server(args=["--config", conf])
        b = floor_step(now() - 3600)
        self.assertEqual(s.post_points([pt("r1", "m", b, 1.0)])[0], 200)
        write_conf("%s=read+write" % WKEY)
        s.proc.send_signal(signal.SIGHUP)
        self.assertTrue(until(lambda: s.post_points([pt("r1", "m", b, 2.0)])[0] == 401),
                        "still open after a key was added and SIGHUP")
        self.assertEqual(s.post_points([pt("r1", "m", b, 3.0)], key=WKEY)[0], 200)
        self.assertEqual(s.get("/healthz")[0], 200)
        write_conf("")
        s.proc.send_signal(signal.SIGHUP)
        self.assertTrue(until(lambda: s.post_points([pt("r1", "m", b, 4.0)])[0] == 200),
                        "not open again after the last key was removed and SIGHUP")
        self.assertEqual(s.host_metrics("r1", "m", b, b), [(b, 4.0)])


class NoKeys(ServerTestCase):
    def test_open_on_loopback_without_keys(self):
        s = self.start_server()
        b = floor_step(now() - 3600)
        st, _, body = s.post_points([pt("o1", "m", b, 1.0)])
        self.assertEqual((st, body), (200, {"success": True}))
        self.assertEqual(s.host_metrics("o1", "m", b, b), [(b, 1.0)])
        st, _, _ = s.post("/admin/flush")
        self.assertEqual(st, 200)
        # a key is ignored when none are configured
        st, _, _ = s.post_points([pt("o1", "m", b, 2.0)], key="anything")
        self.assertEqual(st, 200)


if __name__ == "__main__":
    main()
