"""test_bench_load: the benchmark's load generator (bench/load.c, $DM_LOAD) runs against a
real diamondd over several keep-alive connections, every batch is acknowledged, and every
point it sent reads back (a small run, so the benchmark tool cannot rot unnoticed); its
Graphite plaintext mode (--format graphite, over TCP and --udp) too, as bench/graphite.sh
uses it."""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (DAY, ROOT, ServerTestCase, floor_step, main, metric_value,  # noqa: E402
                     now)


def find_load():
    path = os.environ.get("DM_LOAD")
    if path:
        return path
    for d in ("build", "build-itest"):
        p = os.path.join(ROOT, d, "dm_load")
        if os.access(p, os.X_OK):
            return p
    return None


class BenchLoad(ServerTestCase):
    def test_load_generator_points_all_read_back(self):
        load = find_load()
        if load is None:
            self.skipTest("DM_LOAD not set and no build/dm_load")
        s = self.start_server()
        start = floor_step(now() - 2 * DAY)
        series, rounds = 200, 150  # 30,000 points: 150 minutes of 200 series
        p = subprocess.run([load, "--url", "127.0.0.1:%d" % s.http_port, "--conns", "4",
                            "--batch", "700", "--series", str(series), "--names", "10",
                            "--points", str(series * rounds), "--start-time", str(start),
                            "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        res = json.loads(p.stdout.decode().strip().splitlines()[-1])
        self.assertEqual(res["points"], series * rounds, res)
        self.assertEqual((res["non_2xx"], res["errors"]), (0, 0), res)
        want_times = [start + 60 * r for r in range(rounds)]
        for host, name in (("host00000", "custom.metric.0"), ("host00007", "custom.metric.3"),
                           ("host00019", "custom.metric.9")):
            got = s.host_metrics(host, name, start, start + DAY)
            self.assertEqual([t for t, _ in got], want_times, (host, name))
        s.flush()
        got = s.host_metrics("host00011", "custom.metric.5", start, start + DAY)
        self.assertEqual(len(got), rounds)

    def run_graphite(self, load, port, *args):
        p = subprocess.run([load, "--url", "127.0.0.1:%d" % port, "--format", "graphite",
                            "--quiet"] + list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        return json.loads(p.stdout.decode().strip().splitlines()[-1])

    def wait_points(self, s, source, want, timeout=20.0):
        deadline = time.monotonic() + timeout
        while True:
            _, text = s.metrics_text()
            got = metric_value(text, "diamond_points_total", {"source": source}) or 0.0
            if got >= want or time.monotonic() > deadline:
                return got
            time.sleep(0.05)

    def test_graphite_plaintext_tcp_and_udp(self):
        load = find_load()
        if load is None:
            self.skipTest("DM_LOAD not set and no build/dm_load")
        s = self.start_server(udp=True)
        start = floor_step(now() - DAY)
        series, rounds = 200, 150  # host.gh<h>.m<n>: the Mackerel host API reads them back
        res = self.run_graphite(load, s.graphite_port, "--names-template", "host.gh{h}.m{n}",
                                "--series", str(series), "--names", "10", "--conns", "2",
                                "--batch", "700", "--points", str(series * rounds),
                                "--start-time", str(start))
        self.assertEqual((res["points"], res["errors"], res["datagrams"]),
                         (series * rounds, 0, 0), res)
        self.assertEqual(self.wait_points(s, "graphite", series * rounds), series * rounds)
        want_times = [start + 60 * r for r in range(rounds)]
        for host, name in (("gh0", "m0"), ("gh7", "m3"), ("gh19", "m9")):
            got = s.host_metrics(host, name, start, start + DAY)
            self.assertEqual([t for t, _ in got], want_times, (host, name))
        # UDP: datagrams of whole lines, at most --datagram bytes, paced by --rate; a
        # datagram the kernel drops is lost, so only what arrived is checked
        res = self.run_graphite(load, s.udp_port, "--udp", "--names-template", "host.gu{h}.m{n}",
                                "--series", "20", "--names", "10", "--points", "2000",
                                "--batch", "100", "--datagram", "500", "--rate", "20000",
                                "--start-time", str(start))
        self.assertEqual((res["points"], res["errors"]), (2000, 0), res)
        self.assertGreaterEqual(res["datagrams"], res["bytes"] // 500)
        got = self.wait_points(s, "graphite_udp", 2000, timeout=5.0)
        self.assertGreater(got, 0)
        self.assertLessEqual(got, 2000)
        _, text = s.metrics_text()
        self.assertEqual(metric_value(text, "diamond_graphite_bad_lines_total"), 0.0)


if __name__ == "__main__":
    main()
