"""test_bench_load: the benchmark's load generator (bench/load.c, $DM_LOAD) runs against a
real diamondd over several keep-alive connections, every batch is acknowledged, and every
point it sent reads back (a small run, so the benchmark tool cannot rot unnoticed)."""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import DAY, ROOT, ServerTestCase, floor_step, main, now  # noqa: E402


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


if __name__ == "__main__":
    main()
