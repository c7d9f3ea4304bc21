"""test_graphite_udp: a user sends Graphite plaintext over UDP (graphite.udp): several lines
per datagram, the last one without '\\n', missing/-1 timestamps, nan dropped, bad lines
counted while the good lines of the same datagram are stored, and a line split over two
datagrams is not joined (UDP keeps no stream). Read back through the Mackerel host API."""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ServerTestCase, floor_step, main, metric_value, now  # noqa: E402


class GraphiteUDP(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.start_class_server(udp=True)
        cls.base = floor_step(now() - 3600)

    def send(self, *datagrams):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            for d in datagrams:
                s.sendto(d.encode() if isinstance(d, str) else d,
                         ("127.0.0.1", self.server.udp_port))
        finally:
            s.close()

    def counter(self, name, labels=None):
        _, text = self.server.metrics_text()
        return metric_value(text, name, labels) or 0.0

    def wait_for(self, host, name, want, timeout=5.0, frm=None, to=None):
        frm = self.base - 3600 if frm is None else frm
        to = self.base + 600 if to is None else to
        deadline = time.monotonic() + timeout
        while True:
            got = self.server.host_metrics(host, name, frm, to)
            if got == want or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertPoints(got, want)

    def test_several_lines_per_datagram(self):
        b = self.base
        self.send("host.u1.m 1 %d\nhost.u1.m 2 %d\n" % (b, b + 60),
                  "host.u1.m 3 %d\r\nhost.u1.n 4 %d" % (b + 120, b))  # last line without \n
        self.wait_for("u1", "m", [(b, 1.0), (b + 60, 2.0), (b + 120, 3.0)])
        self.wait_for("u1", "n", [(b, 4.0)])

    def test_now_nan_and_bad_lines(self):
        b = self.base
        bad0 = self.counter("diamond_graphite_bad_lines_total")
        t0 = now()
        self.send("host.u2.now 5\nhost.u2.minus 6 -1\nhost.u2.nan nan %d\ngarbage\n"
                  "host.u2.m notanumber %d\nhost.u2.m 7 %d\n" % (b, b, b))
        self.wait_for("u2", "m", [(b, 7.0)])
        for name, v in (("now", 5.0), ("minus", 6.0)):
            pts = self.server.host_metrics("u2", name, floor_step(t0) - 60, t0 + 120)
            self.assertEqual([x for _, x in pts], [v])
            self.assertGreaterEqual(pts[0][0], floor_step(t0))
        self.assertEqual(self.server.host_metrics("u2", "nan", b - 60, b + 60), [])
        deadline = time.monotonic() + 5
        while self.counter("diamond_graphite_bad_lines_total") - bad0 < 2 and \
                time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.counter("diamond_graphite_bad_lines_total") - bad0, 2.0)

    def test_line_split_across_datagrams_is_not_joined(self):
        b = self.base
        bad0 = self.counter("diamond_graphite_bad_lines_total")
        # "host.u3.m 4" + ".5 <t>" would be "host.u3.m 4.5 <t>" over TCP; over UDP the first
        # half is a line of its own (value 4, time now) and the second half is bad (its path
        # ".5" has an empty segment).
        self.send("host.u3.m 4", ".5 %d\n" % b, "host.u3.m 8 %d\n" % (b + 60))
        self.wait_for("u3", "m", [(b + 60, 8.0)])
        t = now()
        pts = self.server.host_metrics("u3", "m", floor_step(t) - 120, t + 120)
        self.assertEqual([v for _, v in pts], [4.0])
        deadline = time.monotonic() + 5
        while self.counter("diamond_graphite_bad_lines_total") - bad0 < 1 and \
                time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.counter("diamond_graphite_bad_lines_total") - bad0, 1.0)

    def test_many_datagrams_counted(self):
        b = self.base - 2 * 86400
        d0 = self.counter("diamond_graphite_udp_datagrams_total")
        p0 = self.counter("diamond_points_total", {"source": "graphite_udp"})
        # 200 datagrams of 10 lines; loopback with a default socket buffer keeps them all
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            for k in range(200):
                s.sendto("".join("host.u4.c %d %d\n" % (10 * k + i, b + 60 * (10 * k + i))
                                 for i in range(10)).encode(),
                         ("127.0.0.1", self.server.udp_port))
                if k % 20 == 19:
                    time.sleep(0.01)
        finally:
            s.close()
        deadline = time.monotonic() + 10
        while self.counter("diamond_points_total", {"source": "graphite_udp"}) - p0 < 2000 and \
                time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.counter("diamond_graphite_udp_datagrams_total") - d0, 200.0)
        self.assertEqual(self.counter("diamond_points_total", {"source": "graphite_udp"}) - p0,
                         2000.0)
        got = self.server.host_metrics("u4", "c", b, b + 2000 * 60)
        self.assertPoints(got, [(b + 60 * i, float(i)) for i in range(2000)])


class GraphiteUDPConfig(ServerTestCase):
    def test_udp_off_and_tcp_still_works(self):
        s = self.start_server(sets=["graphite.udp=off"])
        self.assertIn("graphite_udp_port=0", s.log_text())
        b = floor_step(now() - 3600)
        c = s.graphite_conn()
        c.sendall(b"host.uc.m 1 %d\n" % b)
        c.close()
        deadline = time.monotonic() + 5
        while s.host_metrics("uc", "m", b, b) == [] and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(s.host_metrics("uc", "m", b, b), [(b, 1.0)])

    def test_udp_only(self):
        s = self.start_server(graphite=False, udp=True)
        self.assertIn("graphite_port=0 graphite_udp_port=%d" % s.udp_port, s.log_text())
        b = floor_step(now() - 3600)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.sendto(b"host.uo.m 2 %d" % b, ("127.0.0.1", s.udp_port))
        u.close()
        deadline = time.monotonic() + 5
        while s.host_metrics("uo", "m", b, b) == [] and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(s.host_metrics("uo", "m", b, b), [(b, 2.0)])


if __name__ == "__main__":
    main()
