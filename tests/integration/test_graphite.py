"""test_graphite: a user sends Graphite plaintext lines ("<path> <value> <timestamp>\\n")
over TCP and reads them back through the Mackerel host metrics API (paths host.<h>.<name>);
bad lines are counted and the connection stays open; the data goes through the WAL."""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ServerTestCase, floor_step, main, metric_value, now  # noqa: E402


class Graphite(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.start_class_server()
        cls.base = floor_step(now() - 3600)

    def send(self, data, close=True, sock=None):
        s = sock or self.server.graphite_conn()
        s.sendall(data.encode() if isinstance(data, str) else data)
        if close:
            s.close()
        return s

    def wait_for(self, host, name, want, frm=None, to=None, timeout=5.0):
        """Polls the host metrics API until it returns want (writes are asynchronous)."""
        frm = self.base - 3600 if frm is None else frm
        to = self.base + 3600 if to is None else to
        deadline = time.monotonic() + timeout
        while True:
            got = self.server.host_metrics(host, name, frm, to)
            if got == want or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertPoints(got, want)

    def bad_lines(self):
        _, text = self.server.metrics_text()
        return metric_value(text, "diamond_graphite_bad_lines_total") or 0.0

    def test_lines_read_back_through_the_host_api(self):
        b = self.base
        self.send("host.g1.cpu.user 1.5 %d\nhost.g1.cpu.user 2.5 %d\nhost.g1.cpu.user -3 %d\n"
                  % (b, b + 60, b + 120))
        self.wait_for("g1", "cpu.user", [(b, 1.5), (b + 60, 2.5), (b + 120, -3.0)])

    def test_line_split_across_writes(self):
        b = self.base
        s = self.send("host.g2.m 4", close=False)
        time.sleep(0.1)
        self.send("2.25 %d\nhost.g2.m 7 " % b, close=False, sock=s)
        time.sleep(0.1)
        self.send("%d\n" % (b + 60), sock=s)
        self.wait_for("g2", "m", [(b, 42.25), (b + 60, 7.0)])

    def test_whitespace_crlf_float_timestamps(self):
        b = self.base
        self.send("host.g3.m\t1 %d\r\nhost.g3.m   2\t %d.9\nhost.g3.m 3 %d.0\n\n" %
                  (b, b + 60, b + 121))
        self.wait_for("g3", "m", [(b, 1.0), (b + 60, 2.0), (b + 120, 3.0)])

    def test_missing_or_minus_one_timestamp_means_now(self):
        t0 = now()
        self.send("host.g4.m 5\nhost.g4.n 6 -1\n")
        frm, to = floor_step(t0) - 60, t0 + 120
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            m = self.server.host_metrics("g4", "m", frm, to)
            n = self.server.host_metrics("g4", "n", frm, to)
            if m and n:
                break
            time.sleep(0.05)
        self.assertEqual([v for _, v in m], [5.0])
        self.assertEqual([v for _, v in n], [6.0])
        for t, _ in m + n:
            self.assertEqual(t % 60, 0)
            self.assertGreaterEqual(t, floor_step(t0))
            self.assertLessEqual(t, floor_step(now()))

    def test_overwrite_last_line_wins(self):
        b = self.base
        self.send("host.g5.m 1 %d\nhost.g5.m 2 %d\n" % (b, b))
        self.wait_for("g5", "m", [(b, 2.0)])
        self.send("host.g5.m 3 %d\n" % (b + 30))
        self.wait_for("g5", "m", [(b, 3.0)])

    def test_bad_lines_counted_and_connection_stays_open(self):
        b = self.base
        before = self.bad_lines()
        bad = ["garbage", "host.g6.m notanumber %d" % b, "host.g6/x.m 1 %d" % b,
               "host.g6.m inf %d" % b, "host.g6.m 1 %d" % (b + 10 ** 9),
               "host..g6.m 1 %d" % b, "host.g6.m 1 yesterday", "host.g6.m 1 %d extra" % b,
               "x" * 5000 + " 1 %d" % b]
        s = self.send("".join(line + "\n" for line in bad) + "host.g6.m 8 %d\n" % b,
                      close=False)
        try:
            self.wait_for("g6", "m", [(b, 8.0)])
            deadline = time.monotonic() + 5
            while self.bad_lines() - before < len(bad) and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertEqual(self.bad_lines() - before, len(bad))
            # the same connection still works
            self.send("host.g6.m 9 %d\n" % (b + 60), close=False, sock=s)
            self.wait_for("g6", "m", [(b, 8.0), (b + 60, 9.0)])
        finally:
            s.close()

    def test_nan_is_dropped_not_stored(self):
        b = self.base
        self.send("host.g7.m nan %d\nhost.g7.m NaN %d\nhost.g7.m 1 %d\n" % (b, b + 60, b + 120))
        self.wait_for("g7", "m", [(b + 120, 1.0)])

    def test_partial_last_line_at_eof_is_processed(self):
        b = self.base
        self.send("host.g8.m 1 %d\nhost.g8.m 2 %d" % (b, b + 60))
        self.wait_for("g8", "m", [(b, 1.0), (b + 60, 2.0)])

    def test_many_lines_and_concurrent_connections(self):
        b = self.base - 2 * 86400  # 2000 minutes, all in the past
        socks = [self.server.graphite_conn() for _ in range(3)]
        try:
            for k, s in enumerate(socks):
                lines = "".join("host.g9.c%d %d %d\n" % (k, i, b + 60 * i) for i in range(2000))
                s.sendall(lines.encode())
        finally:
            for s in socks:
                s.close()
        for k in range(3):
            self.wait_for("g9", "c%d" % k, [(b + 60 * i, float(i)) for i in range(2000)],
                          frm=b, to=b + 2000 * 60, timeout=10)

    def test_points_counted_by_source(self):
        _, text = self.server.metrics_text()
        before = metric_value(text, "diamond_points_total", {"source": "graphite"}) or 0.0
        b = self.base
        self.send("host.g10.m 1 %d\nhost.g10.m 2 %d\n" % (b, b + 60))
        self.wait_for("g10", "m", [(b, 1.0), (b + 60, 2.0)])
        _, text = self.server.metrics_text()
        after = metric_value(text, "diamond_points_total", {"source": "graphite"})
        self.assertEqual(after - before, 2.0)


class GraphiteDurability(ServerTestCase):
    def test_graphite_points_survive_kill9(self):
        s = self.start_server()
        b = floor_step(now() - 7200)
        c = socket.create_connection(("127.0.0.1", s.graphite_port), timeout=10)
        c.sendall("".join("host.gd.m %d %d\n" % (i, b + 60 * i) for i in range(100)).encode())
        c.close()
        want = [(b + 60 * i, float(i)) for i in range(100)]
        deadline = time.monotonic() + 5
        while s.host_metrics("gd", "m", b, b + 6000) != want and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(s.host_metrics("gd", "m", b, b + 6000), want)
        s.kill9()
        s.start()
        self.assertEqual(s.host_metrics("gd", "m", b, b + 6000), want)
        st, _, body = s.get("/api/v0/hosts/gd/metric-names")
        self.assertEqual((st, body), (200, {"names": ["m"]}))


if __name__ == "__main__":
    main()
