"""test_collectd: a user points collectd's write_http plugin (Format "JSON") at
POST /collectd. The real collectd (Debian package collectd-core) runs in the foreground with
a temp config (load + memory every second) and is stopped by PID; its series are then found
in the name index under collectd.<host>.<plugin>[-<pi>].<type>[-<ti>][.<dsname>].

Series under collectd.* have no Mackerel read route (that API reads host.* and service.*);
names are checked through /metrics/index.json, and values through /render when this build has it
(otherwise through the accepted-points counter)."""

import fnmatch
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (ServerTestCase, floor_step, main, metric_value, now, track_child,  # noqa: E402
                     untrack_child)

COLLECTD = shutil.which("collectd") or ("/usr/sbin/collectd"
                                        if os.access("/usr/sbin/collectd", os.X_OK) else None)
TYPES_DB = "/usr/share/collectd/types.db"


def index_names(server):
    """Every series name (GET /metrics/index.json), or None when the route is absent."""
    st, _, body = server.get("/metrics/index.json")
    if st == 404:
        return None
    if st != 200:
        raise AssertionError("/metrics/index.json: HTTP %s %r" % (st, body))
    return body


def element(values, dsnames, host="h1", plugin="p", pinst="", type_="t", tinst="", t=None,
            dstypes=None):
    return {"values": values, "dstypes": dstypes or ["gauge"] * len(values), "dsnames": dsnames,
            "time": t, "interval": 10.0, "host": host, "plugin": plugin,
            "plugin_instance": pinst, "type": type_, "type_instance": tinst}


class Collectd(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.start_class_server()
        cls.base = floor_step(now() - 3600)

    def find(self, query):
        """Series names matching a glob, from /metrics/index.json (every name)."""
        names = index_names(self.server)
        if names is None:
            self.skipTest("/metrics/index.json is not in this build")
        return sorted(n for n in names if fnmatch.fnmatchcase(n, query)
                      and n.count(".") == query.count("."))

    def render(self, target, frm, to):
        """{time: value} of one series through /render, or None when /render is absent."""
        st, _, body = self.server.get("/render?format=json&target=%s&from=%d&until=%d" %
                                      (urllib.parse.quote(target), frm, to))
        if st == 404:
            return None
        self.assertEqual(st, 200, body)
        self.assertEqual(len(body), 1, body)
        return {t: v for v, t in body[0]["datapoints"] if v is not None}

    def points_accepted(self):
        _, text = self.server.metrics_text()
        return metric_value(text, "diamond_points_total", {"route": "collectd"}) or 0.0

    def test_naming_several_values_and_raw_counters(self):
        b = self.base
        before = self.points_accepted()
        body = [element([0.5, 0.25, 0.125], ["shortterm", "midterm", "longterm"],
                        host="web.example.com", plugin="load", type_="load", t=b + 0.317),
                element([1901474177], ["value"], host="web.example.com", plugin="cpu", pinst="0",
                        type_="cpu", tinst="idle", t=b, dstypes=["derive"]),
                element([123, 456], ["rx", "tx"], host="web.example.com", plugin="interface",
                        pinst="eth0", type_="if_octets", t=b + 60,
                        dstypes=["derive", "derive"]),
                element([None], ["value"], host="web.example.com", plugin="memory",
                        type_="memory", tinst="free", t=b)]
        st, _, reply = self.server.post("/collectd", body)
        self.assertEqual((st, reply), (200, {"success": True}))
        self.assertEqual(self.points_accepted() - before, 6.0)
        self.assertEqual(self.find("collectd.web_example_com.*.*"),
                         ["collectd.web_example_com.cpu-0.cpu-idle"])
        self.assertEqual(self.find("collectd.web_example_com.*.*.*"),
                         ["collectd.web_example_com.interface-eth0.if_octets.rx",
                          "collectd.web_example_com.interface-eth0.if_octets.tx",
                          "collectd.web_example_com.load.load.longterm",
                          "collectd.web_example_com.load.load.midterm",
                          "collectd.web_example_com.load.load.shortterm"])
        got = self.render("collectd.web_example_com.cpu-0.cpu-idle", b - 60, b + 120)
        if got is not None:
            self.assertEqual(got, {b: 1901474177.0})  # the raw counter, as collectd sent it
            self.assertEqual(self.render("collectd.web_example_com.interface-eth0.if_octets.tx",
                                         b - 60, b + 120), {b + 60: 456.0})

    def test_bad_input_rejects_everything(self):
        b = self.base
        before = self.points_accepted()
        body = [element([1], ["value"], host="bad1", t=b),
                element(["x"], ["value"], host="bad1", t=b)]
        st, _, reply = self.server.post("/collectd", body)
        self.assertEqual(st, 400)
        self.assertEqual(reply["error"]["message"],
                         'element 1: "values": must be an array of numbers')
        bad = element([1, 2], ["a"], host="bad1", t=b)
        st, _, reply = self.server.post("/collectd", [bad])
        self.assertEqual((st, reply["error"]["message"]),
                         (400, 'element 0: "dsnames": 1 names for 2 values'))
        st, _, reply = self.server.post("/collectd", "not json")
        self.assertEqual(st, 400)
        self.assertEqual(self.points_accepted(), before)
        self.assertEqual(self.find("collectd.bad1.*.*"), [])


@unittest.skipIf(COLLECTD is None or not os.path.exists(TYPES_DB),
                 "collectd not installed (Debian package collectd-core: scripts/deps.sh --test)")
class RealCollectd(ServerTestCase):
    def test_collectd_write_http_json(self):
        s = self.start_server()
        tmp = tempfile.mkdtemp(prefix="diamond-collectd-")
        self.addCleanup(shutil.rmtree, tmp, True)
        conf = os.path.join(tmp, "collectd.conf")
        with open(conf, "w") as f:
            f.write("""Hostname "it.collectd.test"
FQDNLookup false
Interval 1
BaseDir "%(tmp)s"
PIDFile "%(tmp)s/collectd.pid"
TypesDB "%(types)s"
LoadPlugin logfile
<Plugin logfile>
  LogLevel info
  File STDOUT
</Plugin>
LoadPlugin load
LoadPlugin memory
<LoadPlugin write_http>
  FlushInterval 1
</LoadPlugin>
<Plugin write_http>
  <Node "diamond">
    URL "http://127.0.0.1:%(port)d/collectd"
    Format "JSON"
    BufferSize 1024
  </Node>
</Plugin>
""" % {"tmp": tmp, "types": TYPES_DB, "port": s.http_port})
        log = open(os.path.join(tmp, "collectd.log"), "wb")
        self.addCleanup(log.close)
        t0 = now()
        proc = track_child(subprocess.Popen([COLLECTD, "-f", "-C", conf], stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))

        def stop():
            untrack_child(proc)
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.addCleanup(stop)

        want = ["collectd.it_collectd_test.load.load.longterm",
                "collectd.it_collectd_test.load.load.midterm",
                "collectd.it_collectd_test.load.load.shortterm"]
        deadline = time.monotonic() + 20
        names = []
        while time.monotonic() < deadline:
            every = index_names(s)
            if every is None:
                break
            names = sorted(n for n in every if n.startswith("collectd.it_collectd_test.load."))
            if names == want and "collectd.it_collectd_test.memory.memory-used" in every:
                break
            time.sleep(0.2)
        stop()
        with open(os.path.join(tmp, "collectd.log"), "rb") as f:
            clog = f.read().decode("utf-8", "replace")
        _, text = s.metrics_text()
        accepted = metric_value(text, "diamond_points_total", {"route": "collectd"}) or 0
        self.assertGreater(accepted, 0, clog)
        self.assertIsNone(metric_value(text, "diamond_http_requests_total",
                                       {"route": "collectd", "code": "400"}), clog)
        if every is None:
            return  # no /metrics/index.json in this build: the counter above is the check
        self.assertEqual(names, want, clog)
        st, _, body = s.get("/render?format=json&from=%d&until=%d&target=%s" %
                            (t0 - 120, now() + 60, want[2]))
        if st == 200:
            vals = [v for v, _ in body[0]["datapoints"] if v is not None]
            self.assertTrue(vals, body)
            self.assertTrue(all(v >= 0 for v in vals), body)  # a load average


if __name__ == "__main__":
    main()
