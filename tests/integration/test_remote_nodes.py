"""test_remote_nodes: several stateless diamondd nodes on one Redis + DynamoDB + S3.

A point written to any node is readable from every node at once; new series reach every
node's metric-name listing; each dirty window is flushed by exactly one node (leases per
dirty shard), so two nodes flushing at the same time write each window once; a node killed
with -9 in the middle of a flush loses nothing: another node takes its shards over within
a lease period and a new node with an empty data dir reads everything; the ager runs on one
node at a time. Also on a 3-node Redis Cluster."""

import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from engines import Engines  # noqa: E402
from faultproxy import FaultProxy  # noqa: E402
from harness import DAY, ServerTestCase, floor_step, main, metric_value, now  # noqa: E402

LEASE_MS = 3000
SETS = ["canary.enabled=no", "cache.lease_ms=%d" % LEASE_MS, "cache.redis_timeout_ms=500",
        "cache.shards=8",
        "flusher.interval_ms=200", "flusher.grace=0"]


def pt(host, name, t, v):
    return {"hostId": host, "name": name, "time": t, "value": v}


class Nodes(ServerTestCase):
    CLUSTER = False

    def setUp(self):
        super().setUp()
        self.e = Engines(redis=not self.CLUSTER, cluster=self.CLUSTER)
        self.addCleanup(self.e.cleanup)
        self.e.start()

    def nodes(self, n=2, sets=(), **kw):
        return self.start_nodes(n, engines=[self.e], create_storage=True,
                                sets=SETS + list(sets), **kw)

    def write(self, s, points):
        st, _, body = s.post_points(points)
        self.assertEqual((st, body), (200, {"success": True}), points[:2])

    def dirty(self):
        """Members left in every dirty set (single Redis only)."""
        r = self.e.redis
        if self.CLUSTER:
            total = 0
            for i in range(len(r.addresses)):
                out = r.nodes[i].call("KEYS", "dm:dirty:*")
                total += sum(r.nodes[i].call("ZCARD", k) for k in out)
            return total
        return sum(r.call("ZCARD", k) for k in r.call("KEYS", "dm:dirty:*"))


    def test_write_anywhere_read_everywhere(self):
        a, b = self.nodes(2)
        t = floor_step(now() - 120)
        self.write(a, [pt("h1", "cpu", t, 1.5)])
        self.write(b, [pt("h1", "cpu", t + 60, 2.5)])
        for s in (a, b):
            self.assertPoints(s.host_metrics("h1", "cpu", t - 60, t + 120),
                              [(t, 1.5), (t + 60, 2.5)])
        # a new series written on a reaches b's listing (names stream)
        self.write(a, [pt("h2", "mem.used", t, 7.0)])

        def listed():
            st, _, body = b.get("/api/v0/hosts/h2/metric-names")
            return st == 200 and "mem.used" in body.get("names", [])
        self.wait_for(listed, what="b to list h2's new series")

    def test_each_window_flushed_once(self):
        a, b = self.nodes(2, sets=["flusher.interval_ms=3600000"])  # only admin flushes
        base = floor_step(now() - 6 * 3600, 3600)
        pts = [pt("h%d" % (i % 20), "m%d" % (i // 20), base + 60 * j, float(i * 100 + j))
               for i in range(200) for j in range(0, 300, 7)]
        windows = {(p["hostId"], p["name"], p["time"] - p["time"] % 3600) for p in pts}
        for k in range(0, len(pts), 2000):
            self.write(a if k % 4000 else b, pts[k:k + 2000])
        got = {}

        def flush(s):
            got[s.node_id] = s.flush()
        ts = [threading.Thread(target=flush, args=(s,)) for s in (a, b)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
        # leases: shards held by one node are skipped by the other; what is left after both
        # (shards whose lease the other node held) is flushed by the next rounds
        total = sum(g.get("flushed", 0) for g in got.values())
        self.assertLessEqual(total, len(windows), got)
        for _ in range(20):
            if self.dirty() == 0:
                break
            time.sleep(LEASE_MS / 1000.0 / 4)
            a.flush()
            b.flush()
        self.assertEqual(self.dirty(), 0)
        flushed = sum(metric_value(s.metrics_text()[1], "diamond_flush_windows_total") or 0
                      for s in (a, b))
        self.assertEqual(flushed, len(windows), "a window was flushed twice (or never)")
        items = [i for i in self.e.dynalite.scan() if not i["pk"]["S"].startswith("~")]
        self.assertEqual(len(items), len(windows))
        self.assertEqual({i["ver"]["N"] for i in items}, {"1"}, "a window was merged twice")
        for s in (a, b):
            for i in (0, 57, 199):
                host, name = "h%d" % (i % 20), "m%d" % (i // 20)
                want = sorted((p["time"], p["value"]) for p in pts
                              if p["hostId"] == host and p["name"] == name)
                self.assertPoints(s.host_metrics(host, name, base - 60, base + 6 * 3600), want)

    def test_kill_node_mid_flush(self):
        # node a talks to the table through a proxy that makes its writes slow, so a is
        # killed with a flush in flight; b (direct) must take its shards over
        with FaultProxy(self.e.dynalite.endpoint) as proxy:
            self.e.table_endpoint = proxy.url
            a, = self.start_nodes(1, engines=[self.e], create_storage=True, sets=SETS,
                                  node_ids=["a"])
            self.e.table_endpoint = None
            b, = self.start_nodes(1, engines=[self.e], sets=SETS + ["flusher.interval_ms=3600000"],
                                  node_ids=["b"])
            base = floor_step(now() - 5 * 3600, 3600)
            pts = [pt("k%d" % i, "v", base + 60 * j, float(i + j))
                   for i in range(100) for j in range(0, 240, 3)]
            proxy.add_rule("delay", seconds=30, target="BatchWriteItem")
            proxy.add_rule("delay", seconds=30, target="PutItem")
            for k in range(0, len(pts), 2000):
                self.write(a, pts[k:k + 2000])
            self.wait_for(lambda: proxy.stats()["faults"].get("delay", 0) > 0,
                          what="a's flush to reach the table")
            a.kill9()
        # within a lease period b's rounds take the shards over
        deadline = time.time() + LEASE_MS / 1000.0 * 4 + 20
        while self.dirty() > 0 and time.time() < deadline:
            b.flush()
            time.sleep(0.3)
        self.assertEqual(self.dirty(), 0, "b did not take a's shards over")
        # a fresh node with an empty data dir sees every acknowledged point
        c, = self.start_nodes(1, engines=[self.e], sets=SETS, node_ids=["c"])
        for i in (0, 42, 99):
            want = sorted((p["time"], p["value"]) for p in pts if p["hostId"] == "k%d" % i)
            self.assertPoints(c.host_metrics("k%d" % i, "v", base - 60, base + 5 * 3600), want)

    def test_ager_runs_on_one_node(self):
        a, b = self.nodes(2)
        t = floor_step(now() - 20 * DAY)
        self.write(a, [pt("old%d" % i, "m", t + 60 * j, float(j)) for i in range(30)
                       for j in range(5)])
        a.flush()
        res = {}

        def age(s):
            res[s.node_id] = s.age()
        ts = [threading.Thread(target=age, args=(s,)) for s in (a, b)]
        for x in ts:
            x.start()
        for x in ts:
            x.join(120)
        aged = [r.get("aged", 0) for r in res.values()]
        self.assertEqual(sorted(aged)[0], 0, res)  # one node packed, the other held off
        self.assertGreater(sum(aged), 0, res)
        keys = self.e.s3rver.list_keys("dm/v1/")
        self.assertTrue(keys)
        for s in (a, b):
            self.assertPoints(s.host_metrics("old7", "m", t - 60, t + 600),
                              [(t + 60 * j, float(j)) for j in range(5)])


class ClusterNodes(Nodes):
    CLUSTER = True

    def test_cluster_node_restart(self):
        a, b = self.nodes(2)
        t = floor_step(now() - 300)
        pts = [pt("c%d" % i, "x", t, float(i)) for i in range(200)]  # keys over every node
        self.write(a, pts)
        self.e.redis.restart_node(1)
        self.e.redis.wait_ok()
        deadline = time.time() + 30
        while True:  # the client reconnects by itself; a write may 503 meanwhile
            st, _, _ = a.post_points([pt("c%d" % i, "x", t + 60, float(i)) for i in range(200)])
            if st == 200 or time.time() > deadline:
                break
            time.sleep(0.5)
        self.assertEqual(st, 200)
        for i in (0, 99, 199):
            self.assertPoints(b.host_metrics("c%d" % i, "x", t - 60, t + 120),
                              [(t, float(i)), (t + 60, float(i))])


if __name__ == "__main__":
    main()
