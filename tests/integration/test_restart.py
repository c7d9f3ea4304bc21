"""test_restart: acknowledged points survive a SIGTERM restart and a kill -9 (WAL replay);
a torn WAL tail is cut and logged; in-flight requests finish on SIGTERM (and a read whose
client left, or that the shutdown timeout cut off, finishes before the engine closes); WAL
segments go away only once their points are in the table."""

import glob
import json
import os
import resource
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import DAY, ServerTestCase, floor_step, main, now  # noqa: E402


def pt(host, name, t, v):
    return {"hostId": host, "name": name, "time": t, "value": v}


class Restart(ServerTestCase):
    def setUp(self):
        super().setUp()
        self.base = floor_step(now() - 6 * 3600)

    def write_series(self, s, host, n, value0=0.0):
        pts = [pt(host, "m", self.base + 60 * i, value0 + i) for i in range(n)]
        st, _, body = s.post_points(pts)
        self.assertEqual((st, body), (200, {"success": True}))
        return [(p["time"], p["value"]) for p in pts]

    def read(self, s, host):
        return s.host_metrics(host, "m", self.base, self.base + 86400)

    def wal_segments(self, s):
        return sorted(glob.glob(os.path.join(s.data_dir, "wal", "*.log")))

    def test_sigterm_then_restart(self):
        s = self.start_server()
        want = self.write_series(s, "st1", 50)
        self.assertEqual(s.stop(), 0, "diamondd exit code after SIGTERM")
        s.start()
        self.assertEqual(self.read(s, "st1"), want)
        more = self.write_series(s, "st1", 10, value0=100.0)
        self.assertEqual(s.stop(), 0)
        s.start()
        self.assertEqual(self.read(s, "st1"), more + want[10:])

    def test_kill9_then_restart_replays_the_wal(self):
        s = self.start_server()
        want = self.write_series(s, "k1", 100)
        want2 = self.write_series(s, "k2", 3, value0=0.5)
        s.kill9()
        s.start()
        self.assertEqual(self.read(s, "k1"), want)
        self.assertEqual(self.read(s, "k2"), want2)
        # twice in a row: the replayed data must still be there after a second crash
        s.kill9()
        s.start()
        self.assertEqual(self.read(s, "k1"), want)
        st, _, body = s.get("/api/v0/hosts/k1/metric-names")
        self.assertEqual((st, body), (200, {"names": ["m"]}))

    def test_kill9_after_flush_and_more_writes(self):
        s = self.start_server()
        a = self.write_series(s, "kf", 30)
        s.flush()
        b = self.write_series(s, "kf", 10, value0=1000.0)  # overwrites the first 10
        s.kill9()
        s.start()
        self.assertEqual(self.read(s, "kf"), b + a[10:])

    def test_torn_wal_tail_is_cut_and_logged(self):
        s = self.start_server()
        want = self.write_series(s, "torn", 20)
        s.kill9()
        segs = self.wal_segments(s)
        self.assertTrue(segs, "no WAL segment under %s/wal" % s.data_dir)
        with open(segs[-1], "ab") as f:
            f.write(b"\x40\x00\x00\x00\xde\xad\xbe\xef" + b"partial record" * 2)
        s.start()
        self.assertEqual(self.read(s, "torn"), want)
        log = s.log_text(-1)
        self.assertIn("wal_torn_tail", log)
        # the server keeps working after the cut, and survives one more crash
        more = self.write_series(s, "torn2", 5)
        s.kill9()
        s.start()
        self.assertEqual(self.read(s, "torn"), want)
        self.assertEqual(self.read(s, "torn2"), more)

    def test_truncated_wal_tail_is_cut(self):
        s = self.start_server()
        want = self.write_series(s, "trunc", 20)
        last = self.write_series(s, "trunc2", 20)
        s.kill9()
        seg = self.wal_segments(s)[-1]
        size = os.path.getsize(seg)
        os.truncate(seg, size - 7)  # cut the last record (trunc2's batch) in half
        s.start()
        self.assertEqual(self.read(s, "trunc"), want)
        self.assertEqual(self.read(s, "trunc2"), [], "a half record was applied")
        self.assertIn("wal_torn_tail", s.log_text(-1))
        del last  # written, acknowledged, then cut by hand: not expected back

    def test_sigterm_finishes_an_in_flight_request(self):
        s = self.start_server()
        body = json.dumps([pt("inflight", "m", self.base + 60 * i, float(i))
                           for i in range(200)]).encode()
        c = socket.create_connection(("127.0.0.1", s.http_port), timeout=20)
        try:
            c.sendall(b"POST /api/v0/tsdb HTTP/1.1\r\nHost: x\r\nContent-Type: "
                      b"application/json\r\nContent-Length: %d\r\n\r\n" % len(body) +
                      body[:100])
            time.sleep(0.3)
            s.proc.send_signal(15)
            time.sleep(0.3)
            c.sendall(body[100:])
            data = b""
            while True:
                chunk = c.recv(4096)
                if not chunk:
                    break
                data += chunk
                if b"}" in data.split(b"\r\n\r\n", 1)[-1]:
                    break
        finally:
            c.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 200"), data)
        self.assertEqual(s.wait_exit(), 0, "exit code after one SIGTERM")
        s.start()
        self.assertEqual(len(self.read(s, "inflight")), 200)

    def test_sigterm_with_a_read_still_on_the_thread_pool(self):
        # A long read (hundreds of blob days, one pool thread) is in flight when SIGTERM
        # comes; the shutdown timeout is 0, so the HTTP server drops its connection at once.
        # The read's callbacks must still run before the engine is freed (an ASan build
        # reported a heap-use-after-free in the query's completion here).
        s = self.start_server(sets=["server.shutdown_timeout_ms=0", "table.keep=1d"],
                              env={"UV_THREADPOOL_SIZE": "1"}, graphite=False)
        old = floor_step(now()) - 300 * DAY
        pts = [pt("bg", "m", old + d * DAY + 60 * k, float(k))
               for d in range(290) for k in range(0, 1440, 30)]
        for i in range(0, len(pts), 5000):
            self.assertEqual(s.post_points(pts[i:i + 5000])[0], 200)
        s.flush()
        s.age()
        req = ("GET /api/v0/hosts/bg/metrics?name=m&from=%d&to=%d HTTP/1.1\r\n\r\n" %
               (old, now())).encode()
        for delay in (0.0005, 0.001, 0.002, 0.003, 0.005):
            c = socket.create_connection(("127.0.0.1", s.http_port), timeout=20)
            try:
                c.sendall(req)
                time.sleep(delay)
                code = s.stop()
            finally:
                c.close()
            log = s.log_text(-1)
            self.assertEqual(code, 0, "exit code after SIGTERM with a read in flight\n" + log)
            self.assertNotIn("AddressSanitizer", log)
            self.assertNotIn("runtime error", log)
            s.start()
        self.assertEqual(len(s.host_metrics("bg", "m", old, now())), len(pts))

    def test_wal_segments_are_deleted_once_in_the_table(self):
        # only the admin flush below may retire segments (a 1 s tick would race the count)
        s = self.start_server(sets=["wal.segment_bytes=1m", "flusher.interval_ms=3600000"])
        conn = s.connect()
        try:
            for r in range(30):  # several MB of WAL: several segments
                pts = [pt("seg%d" % (i % 100), "m.%d" % (i % 7), self.base + 60 * r,
                          float(i)) for i in range(5000)]
                st, _, _ = s.post_points(pts, conn=conn)
                self.assertEqual(st, 200)
        finally:
            conn.close()
        before = self.wal_segments(s)
        self.assertGreaterEqual(len(before), 3, "expected several 1 MiB WAL segments")
        s.flush()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            after = self.wal_segments(s)
            if len(after) <= 2:
                break
            time.sleep(0.1)
        self.assertLessEqual(len(after), 2, "WAL segments not retired after flush: %r" %
                             [os.path.basename(p) for p in after])
        s.kill9()
        s.start()
        got = s.host_metrics("seg42", "m.0", self.base, self.base + 3600)
        # series seg42/m.0 gets several points per batch at one time: the last one wins
        last = {}
        for r in range(30):
            for i in range(5000):
                if i % 100 == 42 and i % 7 == 0:
                    last[self.base + 60 * r] = float(i)
        self.assertPoints(got, sorted(last.items()))

    def test_disk_error_fails_loudly_and_loses_nothing_acknowledged(self):
        # a 3 MiB file size limit: the WAL segment hits EFBIG after a few batches
        limit = 3 << 20

        def small_files():
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        s = self.start_server(preexec=small_files)
        conn = s.connect()
        acked, status, body = [], 200, None
        try:
            for r in range(100):
                pts = [pt("disk%d" % (i % 50), "m", self.base + 60 * r, float(r))
                       for i in range(2000)]
                status, _, body = s.post_points(pts, conn=conn)
                if status != 200:
                    break
                acked.append(r)
        finally:
            conn.close()
        self.assertEqual(status, 500, "a WAL write error must refuse the batch: %r" % (body,))
        self.assertIn("write-ahead log failed", body["error"]["message"])
        self.assertGreater(len(acked), 0)
        st, _, ready = s.get("/readyz")
        self.assertEqual(st, 503)
        self.assertIn("write-ahead log failed", ready["error"]["message"])
        self.assertIn("event=wal_failed", s.log_text())
        # later writes are refused too, reads still work
        st, _, _ = s.post_points([pt("disk0", "m", self.base, 1.0)])
        self.assertEqual(st, 500)
        want = [(self.base + 60 * r, float(r)) for r in acked]
        self.assertPoints(s.host_metrics("disk7", "m", self.base, self.base + 6000), want)
        # a restart without the limit replays what was acknowledged, and writes work again
        s.kill9()
        s.preexec = None
        s.start()
        self.assertPoints(s.host_metrics("disk7", "m", self.base, self.base + 6000), want)
        st, _, _ = s.post_points([pt("disk0", "m", self.base, 1.0)])
        self.assertEqual(st, 200)


if __name__ == "__main__":
    main()
