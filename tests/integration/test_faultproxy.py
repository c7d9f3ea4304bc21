"""test_faultproxy: the fault-injecting proxy itself (faultproxy.py), in front of a real
dynalite and s3rver (engines.py) and of a recording socket server: requests and responses
pass byte-exact (Content-Length, chunked with trailers, until-close, keep-alive, HEAD,
Expect: 100-continue), and every fault kind shows up as it should to a plain http.client
request; down/up, the HTTP control API and the proxy as its own process."""

import http.client
import json
import os
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import engines  # noqa: E402
from faultproxy import FaultProxy, FaultProxyProcess, RemoteFaultProxy  # noqa: E402
from harness import free_port, main  # noqa: E402


def dyn_request(conn, op, payload=None):
    """One DynamoDB call over an http.client connection: (status, headers, parsed body)."""
    h = {"X-Amz-Target": "DynamoDB_20120810." + op,
         "Content-Type": "application/x-amz-json-1.0"}
    h.update(engines.fake_sigv4_headers("dynamodb"))
    conn.request("POST", "/", body=json.dumps(payload or {}), headers=h)
    r = conn.getresponse()
    data = r.read()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, json.loads(data.decode())


def http_req(port, method, path, body=None, headers=None, conn=None, timeout=30):
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=dict(headers or {}))
        r = c.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        if conn is None:
            c.close()


class Recorder:
    """A raw upstream: records every byte received per connection and answers each
    request head it sees with the next canned response (bytes), in order."""

    def __init__(self, responses):
        self.responses = list(responses)
        self.received = []  # bytes per connection
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._conn, args=(c,), daemon=True).start()

    def _conn(self, c):
        idx = len(self.received)
        self.received.append(b"")
        buf = b""
        with c:
            while True:
                try:
                    data = c.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                buf += data
                self.received[idx] += data
                # answer once a whole request is in: the tests' requests end with their
                # body's last bytes, given as markers
                while self.responses and self.responses[0][0] in buf:
                    marker, resp, close = self.responses.pop(0)
                    buf = buf[buf.index(marker) + len(marker):]
                    c.sendall(resp)
                    if close:
                        return

    def close(self):
        self.sock.close()


class FaultProxyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dyn = engines.Dynalite()
        cls.addClassCleanup(cls.dyn.cleanup)
        cls.s3 = engines.S3rver()
        cls.addClassCleanup(cls.s3.cleanup)
        t0 = time.monotonic()
        cls.dyn.start()
        cls.s3.start()
        cls.startup = time.monotonic() - t0

    def proxy(self, upstream, **kw):
        p = FaultProxy(upstream, seed=kw.pop("seed", 1), **kw).start()
        self.addCleanup(p.stop)
        return p

    def conn(self, p, timeout=30):
        c = http.client.HTTPConnection("127.0.0.1", p.port, timeout=timeout)
        self.addCleanup(c.close)
        return c

    # --- pass-through -------------------------------------------------------------------
    def test_dynamodb_calls_through_the_proxy_on_one_connection(self):
        p = self.proxy(self.dyn.endpoint)
        c = self.conn(p)
        st, _, body = dyn_request(c, "ListTables")
        self.assertEqual((st, body), (200, {"TableNames": self.dyn.list_tables()}))
        table = "fp_t1"
        st, _, body = dyn_request(c, "CreateTable", {
            "TableName": table, "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "k", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}]})
        self.assertEqual(st, 200, body)
        deadline = time.monotonic() + 10
        while self.dyn.describe_table(table)["TableStatus"] != "ACTIVE":
            self.assertLess(time.monotonic(), deadline, "table never ACTIVE")
            time.sleep(0.05)
        item = {"k": {"S": "a"}, "v": {"B": "AAEC/w=="}, "n": {"N": "1.5"}}
        st, _, body = dyn_request(c, "PutItem", {"TableName": table, "Item": item})
        self.assertEqual(st, 200, body)
        st, _, body = dyn_request(c, "GetItem", {"TableName": table, "Key": {"k": {"S": "a"}}})
        self.assertEqual((st, body), (200, {"Item": item}))
        s = p.stats()
        self.assertEqual((s["requests"], s["forwarded"], s["connections"]), (4, 4, 1), s)
        self.assertEqual(s["faults"], {})
        self.assertEqual(p.seen(target="PutItem"), 1)

    def test_s3_objects_byte_exact_through_the_proxy(self):
        p = self.proxy(self.s3.endpoint)
        c = self.conn(p)
        st, _, body = http_req(p.port, "PUT", "/fpbucket", conn=c)
        self.assertEqual(st, 200, body)
        data = bytes(range(256)) * 4096 + b"\r\n\r\n0\r\n\r\n"  # 1 MiB and HTTP-looking bytes
        st, h, _ = http_req(p.port, "PUT", "/fpbucket/dm/v1/a.dmb", data, conn=c)
        self.assertEqual(st, 200)
        st, h, got = http_req(p.port, "GET", "/fpbucket/dm/v1/a.dmb", conn=c)
        self.assertEqual((st, len(got)), (200, len(data)))
        self.assertTrue(got == data, "GET through the proxy differs")
        self.assertTrue(self.s3.get_object("dm/v1/a.dmb", bucket="fpbucket") == data,
                        "the object s3rver holds differs")
        st, h, got = http_req(p.port, "GET", "/fpbucket/dm/v1/a.dmb",
                              headers={"Range": "bytes=1000-1999"}, conn=c)
        self.assertEqual((st, got), (206, data[1000:2000]))
        st, h, got = http_req(p.port, "HEAD", "/fpbucket/dm/v1/a.dmb", conn=c)
        self.assertEqual((st, got, h.get("content-length")), (200, b"", str(len(data))))
        st, _, got = http_req(p.port, "GET", "/fpbucket/nope", conn=c)
        self.assertEqual(st, 404)
        self.assertIn(b"NoSuchKey", got)
        st, _, got = http_req(p.port, "PUT", "/fpbucket/empty", b"", conn=c)
        self.assertEqual(st, 200)
        self.assertEqual(http_req(p.port, "GET", "/fpbucket/empty", conn=c)[2], b"")
        self.assertEqual(p.stats()["connections"], 1)
        self.assertEqual(p.stats()["forwarded"], 8)

    def test_expect_100_continue(self):
        p = self.proxy(self.s3.endpoint)
        self.s3.create_bucket("fpexpect")
        data = b"x" * 5000
        s = socket.create_connection(("127.0.0.1", p.port), timeout=10)
        self.addCleanup(s.close)
        s.sendall(b"PUT /fpexpect/k HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Length: %d\r\n"
                  b"Expect: 100-continue\r\n\r\n" % (p.port, len(data)))
        interim = s.recv(100)
        self.assertEqual(interim, b"HTTP/1.1 100 Continue\r\n\r\n")
        s.sendall(data)
        r = http.client.HTTPResponse(s)
        r.begin()
        r.read()
        self.assertEqual(r.status, 200)  # one final response, the upstream's 100 dropped
        self.assertEqual(self.s3.get_object("k", bucket="fpexpect"), data)

    def test_framing_byte_exact_with_a_recording_upstream(self):
        chunked_resp = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n"
                        b"5;ext=1\r\nhello\r\n0\r\nX-T: done\r\n\r\n")
        length_resp = b"HTTP/1.1 201 Created\r\nContent-Length: 3\r\nX-Weird:  two  spaces\r\n\r\nabc"
        close_resp = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil close \x00\xff"
        rec = Recorder([(b"END1", chunked_resp, False), (b"END2", length_resp, False),
                        (b"END3", close_resp, True)])
        self.addCleanup(rec.close)
        p = self.proxy(rec.port)
        req1 = (b"POST /a?x=%20y HTTP/1.1\r\nHost: h\r\nx-MiXeD-Case:  v \r\n"
                b"Transfer-Encoding: chunked\r\n\r\n"
                b"3;name=val\r\nabc\r\n4\r\nEND1\r\n0\r\nX-Trailer: t\r\n\r\n")
        req2 = b"PUT /b HTTP/1.1\r\nHost: h\r\nContent-Length: 8\r\n\r\n\r\n\r\nEND2"
        req3 = b"GET /c HTTP/1.1\r\nHost: h\r\nX-End: END3\r\n\r\n"
        s = socket.create_connection(("127.0.0.1", p.port), timeout=10)
        self.addCleanup(s.close)
        got = b""
        for req, want in ((req1, chunked_resp), (req2, length_resp)):
            s.sendall(req)
            while len(got) < len(want):
                got += s.recv(65536)
            self.assertEqual(got, want)
            got = b""
        s.sendall(req3)
        while True:
            d = s.recv(65536)
            if not d:
                break
            got += d
        self.assertEqual(got, close_resp)
        self.assertEqual(rec.received, [req1 + req2 + req3], "the upstream got other bytes")

    def test_stale_upstream_keepalive_is_reopened(self):
        # node closes idle keep-alive connections after 5 s: the proxy notices and reconnects
        p = self.proxy(self.dyn.endpoint)
        c = self.conn(p)
        self.assertEqual(dyn_request(c, "ListTables")[0], 200)
        time.sleep(5.5)
        self.assertEqual(dyn_request(c, "ListTables")[0], 200)
        self.assertEqual(p.stats()["upstream_errors"], 0)

    def test_upstream_unreachable_is_502(self):
        p = self.proxy(free_port())
        st, _, body = http_req(p.port, "GET", "/")
        self.assertEqual(st, 502)
        self.assertIn(b"upstream", body)
        self.assertEqual(p.stats()["upstream_errors"], 1)

    # --- faults ---------------------------------------------------------------------------
    def test_dynamodb_throttles(self):
        p = self.proxy(self.dyn.endpoint)
        c = self.conn(p)
        p.add_rule("throughput", count=2, target="ListTables")
        p.add_rule("throttling", count=1)
        for _ in range(2):
            st, h, body = dyn_request(c, "ListTables")
            self.assertEqual(st, 400)
            self.assertEqual(body["__type"], "com.amazonaws.dynamodb.v20120810#"
                             "ProvisionedThroughputExceededException")
            self.assertIn("throughput", body["message"])
            self.assertEqual(h["x-amzn-errortype"], "ProvisionedThroughputExceededException")
            self.assertEqual(h["content-type"], "application/x-amz-json-1.0")
        st, h, body = dyn_request(c, "ListTables")  # the first rule is used up
        self.assertEqual(st, 400)
        self.assertEqual(body["__type"], "com.amazon.coral.availability#ThrottlingException")
        self.assertEqual(h["x-amzn-errortype"], "ThrottlingException")
        self.assertEqual(dyn_request(c, "ListTables")[0], 200)  # both used up
        s = p.stats()
        self.assertEqual(s["faults"], {"throughput": 2, "throttling": 1})
        self.assertEqual((s["requests"], s["forwarded"], s["rules"]), (4, 1, []))
        self.assertEqual(s["connections"], 1, "a fault must keep the connection alive")

    def test_matching_by_target_method_and_path(self):
        p = self.proxy(self.dyn.endpoint)
        c = self.conn(p)
        p.add_rule("throughput", target="BatchWriteItem")  # until cleared
        self.assertEqual(dyn_request(c, "ListTables")[0], 200)
        for _ in range(3):
            self.assertEqual(dyn_request(c, "BatchWriteItem", {"RequestItems": {}})[0], 400)
        p.clear()
        st, _, body = dyn_request(c, "BatchWriteItem", {"RequestItems": {}})
        self.assertNotEqual(body.get("__type", "").rsplit("#", 1)[-1],
                            "ProvisionedThroughputExceededException")
        self.assertEqual(p.faults("throughput"), 3)
        self.assertEqual(p.seen(target="BatchWriteItem", fault=True), 3)
        s3p = self.proxy(self.s3.endpoint)
        self.s3.create_bucket("fpmatch")
        s3p.add_rule("slowdown", method="PUT", path="/fpmatch/dm/")
        self.assertEqual(http_req(s3p.port, "PUT", "/fpmatch/other", b"1")[0], 200)
        self.assertEqual(http_req(s3p.port, "GET", "/fpmatch/other")[0], 200)
        self.assertEqual(http_req(s3p.port, "PUT", "/fpmatch/dm/x", b"1")[0], 503)
        self.assertIsNone(self.s3.get_object("dm/x", bucket="fpmatch"))

    def test_s3_slowdown_and_internal_errors(self):
        p = self.proxy(self.s3.endpoint)
        self.s3.create_bucket("fperr")
        p.fail("slowdown")
        st, h, body = http_req(p.port, "PUT", "/fperr/k", b"data")
        self.assertEqual(st, 503)
        self.assertEqual(h["content-type"], "application/xml")
        self.assertIn(b"<Error><Code>SlowDown</Code>", body)
        p.fail("internal")  # no X-Amz-Target: the S3 flavour
        st, h, body = http_req(p.port, "GET", "/fperr/k")
        self.assertEqual(st, 500)
        self.assertIn(b"<Code>InternalError</Code>", body)
        p.fail("internal")
        st, h, body = http_req(p.port, "HEAD", "/fperr/k")  # no body on HEAD
        self.assertEqual((st, body), (500, b""))
        self.assertIsNone(self.s3.get_object("k", bucket="fperr"))
        self.assertEqual(http_req(p.port, "PUT", "/fperr/k", b"data")[0], 200)
        self.assertEqual(p.stats()["faults"], {"slowdown": 1, "internal": 2})

    def test_dynamodb_internal_error_and_custom_status(self):
        p = self.proxy(self.dyn.endpoint)
        c = self.conn(p)
        p.fail("internal")
        st, h, body = dyn_request(c, "ListTables")
        self.assertEqual(st, 500)
        self.assertEqual(body["__type"], "com.amazonaws.dynamodb.v20120810#InternalServerError")
        self.assertEqual(h["x-amzn-errortype"], "InternalServerError")
        p.fail("internal", flavour="s3")
        c.request("POST", "/", body=b"{}", headers={"X-Amz-Target": "DynamoDB_20120810.X"})
        r = c.getresponse()
        self.assertIn(b"InternalError", r.read())
        p.fail("status", status=503, body={"__type": "x#ServiceUnavailable"},
               content_type="application/x-amz-json-1.0", headers={"Retry-After": "1"})
        st, h, body = dyn_request(c, "ListTables")
        self.assertEqual((st, body, h["retry-after"]), (503, {"__type": "x#ServiceUnavailable"},
                                                        "1"))

    def test_fraction_and_until_cleared(self):
        p = self.proxy(self.dyn.endpoint, seed=7)
        c = self.conn(p)
        p.add_rule("throughput", fraction=0.5)
        codes = [dyn_request(c, "ListTables")[0] for _ in range(60)]
        faults = codes.count(400)
        self.assertTrue(15 <= faults <= 45, "fraction 0.5 gave %d of 60" % faults)
        self.assertEqual(faults + codes.count(200), 60)
        self.assertEqual(p.faults("throughput"), faults)
        self.assertEqual(p.stats()["forwarded"], 60 - faults)
        p.clear()
        self.assertEqual(dyn_request(c, "ListTables")[0], 200)
        rid = p.add_rule("throttling", fraction=0.5, count=3)
        while p.rules():
            dyn_request(c, "ListTables")
        self.assertEqual(p.faults("throttling"), 3)
        self.assertFalse(p.remove_rule(rid))

    def test_delay_and_hang(self):
        p = self.proxy(self.dyn.endpoint)
        c = self.conn(p)
        p.fail("delay", seconds=0.6)
        t0 = time.monotonic()
        st, _, _ = dyn_request(c, "ListTables")
        took = time.monotonic() - t0
        self.assertEqual(st, 200)
        self.assertGreaterEqual(took, 0.6)
        self.assertLess(took, 5)
        p.fail("hang", seconds=2)
        c2 = self.conn(p, timeout=0.5)
        t0 = time.monotonic()
        with self.assertRaises(socket.timeout):
            dyn_request(c2, "ListTables")
        self.assertLess(time.monotonic() - t0, 1.5)
        self.assertEqual(p.stats()["faults"], {"delay": 1, "hang": 1})

    def test_reset(self):
        p = self.proxy(self.dyn.endpoint)
        p.fail("reset", 2)
        c = self.conn(p)
        with self.assertRaises(ConnectionResetError):  # RemoteDisconnected is one too
            dyn_request(c, "ListTables")
        # a raw socket sees the RST itself, not an orderly close
        s = socket.create_connection(("127.0.0.1", p.port), timeout=5)
        self.addCleanup(s.close)
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        with self.assertRaises(ConnectionResetError):
            while s.recv(100):
                pass
        self.assertEqual(dyn_request(self.conn(p), "ListTables")[0], 200)
        self.assertEqual(p.faults("reset"), 2)

    def test_down_refuse_then_up(self):
        p = self.proxy(self.dyn.endpoint)
        c = self.conn(p)
        self.assertEqual(dyn_request(c, "ListTables")[0], 200)
        port = p.port
        p.down("refuse")
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
        with self.assertRaises((ConnectionError, http.client.HTTPException)):
            dyn_request(c, "ListTables")  # the kept-alive connection was reset
        p.up()
        self.assertEqual(p.port, port)
        self.assertEqual(dyn_request(self.conn(p), "ListTables")[0], 200)
        p.down("refuse", seconds=0.5)
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
        time.sleep(1.0)
        self.assertEqual(dyn_request(self.conn(p), "ListTables")[0], 200)

    def test_down_reset_keeps_the_control_api(self):
        p = self.proxy(self.dyn.endpoint)
        ctl = RemoteFaultProxy(p.url)
        ctl.down("reset")
        self.assertEqual(p.is_down, "reset")
        for _ in range(3):
            with self.assertRaises(ConnectionResetError):
                dyn_request(self.conn(p), "ListTables")
        self.assertEqual(ctl.stats()["reset_down"], 3)
        ctl.up()
        self.assertEqual(dyn_request(self.conn(p), "ListTables")[0], 200)

    def test_control_api_over_http(self):
        p = self.proxy(self.dyn.endpoint)
        ctl = RemoteFaultProxy(p.url)
        rid = ctl.add_rule("throughput", count=1, target="ListTables")
        self.assertEqual([r["id"] for r in ctl.rules()], [rid])
        c = self.conn(p)
        self.assertEqual(dyn_request(c, "ListTables")[0], 400)
        self.assertEqual(dyn_request(c, "ListTables")[0], 200)
        s = ctl.stats()
        self.assertEqual((s["requests"], s["faults"]), (2, {"throughput": 1}))
        self.assertEqual([e["fault"] for e in ctl.log()], ["throughput", None])
        self.assertEqual(ctl.faults("throttle"), 1)  # an alias
        with self.assertRaisesRegex(RuntimeError, "unknown fault kind"):
            ctl.add_rule("nonsense")
        st, _, _ = http_req(p.port, "GET", "/__faultproxy/nothing")
        self.assertEqual(st, 404)
        ctl.reset_stats()
        self.assertEqual(ctl.stats()["requests"], 0)

    def test_as_its_own_process(self):
        with FaultProxyProcess(self.s3.endpoint) as fp:
            self.s3.create_bucket("fpproc")
            fp.fail("slowdown", 1)
            self.assertEqual(http_req(fp.port, "PUT", "/fpproc/a", b"1")[0], 503)
            self.assertEqual(http_req(fp.port, "PUT", "/fpproc/a", b"1")[0], 200)
            fp.down("refuse")  # the control port stays up
            with self.assertRaises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", fp.port), timeout=5).close()
            fp.up()
            self.assertEqual(http_req(fp.port, "GET", "/fpproc/a")[2], b"1")
            self.assertEqual(fp.stats()["faults"], {"slowdown": 1})
        self.assertIsNotNone(fp.proc.returncode)


if __name__ == "__main__":
    main()
