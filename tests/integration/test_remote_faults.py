"""test_remote_faults: the remote tiers misbehave, through a fault-injecting proxy in front of
dynalite and s3rver (faultproxy.py), and by stopping Redis:

- DynamoDB throttling (ProvisionedThroughputExceeded, ThrottlingException), 500s, slow
  replies and reset connections during flushes are retried (counted on /metrics) and every
  acknowledged point reaches the table;
- S3 SlowDown / 500 / resets while the ager packs are retried, and the day reads back;
- a table that is down: ingest keeps acknowledging while the hot tier has room, then 503 +
  Retry-After; /readyz names the table; when it returns everything acknowledged reaches it;
- Redis down: writes get 503 with a clear message at once (no hang, no crash); when Redis
  returns on the same port, writes work again and nothing acknowledged is missing.
The server never spins: retries are paced by backoff (requests counted per second)."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from engines import Dynalite, Redis, S3rver  # noqa: E402
from faultproxy import FaultProxy  # noqa: E402
from harness import DAY, Server, ServerTestCase, floor_step, main, metric_value, now  # noqa: E402

FAST = ["canary.enabled=no", "remote.retry_base_ms=20", "remote.retry_cap_ms=200",
        "remote.timeout_ms=2000", "flusher.grace=0", "flusher.interval_ms=200"]


def pt(host, name, t, v):
    return {"hostId": host, "name": name, "time": t, "value": v}


class Faults(ServerTestCase):
    def engine(self, e):
        self.addCleanup(e.cleanup)
        return e.start()

    def proxy(self, upstream):
        p = FaultProxy(upstream)
        p.start()
        self.addCleanup(p.stop)
        return p

    def storage(self, *engines):
        s = Server(engines=list(engines))
        self.addCleanup(s.cleanup)
        s.create_storage()


    def table_items(self, dyn):
        return [i for i in dyn.scan() if not i["pk"]["S"].startswith("~")]

    def test_table_faults_are_retried(self):
        dyn = self.engine(Dynalite())
        self.storage(dyn)
        p = self.proxy(dyn.endpoint)
        s = self.start_server(engines=[dyn], sets=FAST + ["table.endpoint=" + p.url])
        base = floor_step(now() - 4 * 3600, 3600)
        pts = [pt("f%d" % i, "m", base + 60 * j, float(i * 1000 + j)) for i in range(40)
               for j in range(0, 180, 5)]
        windows = {(q["hostId"], q["time"] - q["time"] % 3600) for q in pts}
        p.add_rule("throughput", count=3, target="BatchWriteItem")
        p.add_rule("throttling", count=2)
        p.add_rule("internal", count=2)
        p.add_rule("reset", count=2)
        p.add_rule("delay", count=1, seconds=3)  # slower than remote.timeout_ms: a retry
        st, _, body = s.post_points(pts)
        self.assertEqual((st, body), (200, {"success": True}))
        self.wait_for(lambda: len(self.table_items(dyn)) == len(windows), what="every window "
                      "in the table")
        faults = p.stats()["faults"]
        for kind in ("throughput", "throttling", "internal", "reset", "delay"):
            self.assertGreater(faults.get(kind, 0), 0, faults)
        m = s.metrics_text()[1]
        self.assertGreaterEqual(metric_value(m, "diamond_remote_throttles_total",
                                             {"backend": "table"}) or 0, 5, m)
        self.assertGreaterEqual(metric_value(m, "diamond_remote_retries_total",
                                             {"backend": "table"}) or 0, 9)
        s.restart()  # nothing left in the WAL that the table lacks
        for i in (0, 17, 39):
            want = sorted((q["time"], q["value"]) for q in pts if q["hostId"] == "f%d" % i)
            self.assertPoints(s.host_metrics("f%d" % i, "m", base - 60, base + 4 * 3600), want)

    def test_blob_faults_are_retried(self):
        s3 = self.engine(S3rver())
        self.storage(s3)
        p = self.proxy(s3.endpoint)
        s = self.start_server(engines=[s3], sets=FAST + ["blob.endpoint=" + p.url])
        t = floor_step(now() - 20 * DAY)
        pts = [pt("b%d" % i, "m", t + 60 * j, float(j)) for i in range(20) for j in range(10)]
        st, _, _ = s.post_points(pts)
        self.assertEqual(st, 200)
        s.flush()
        p.add_rule("slowdown", count=3, method="PUT")
        p.add_rule("internal", count=1, method="PUT")
        p.add_rule("reset", count=1, method="GET")
        body = s.age()
        self.assertGreaterEqual(body.get("aged", 0), 1, body)
        self.assertGreater(p.stats()["faults"].get("slowdown", 0), 0)
        self.assertTrue(s3.list_keys("dm/v1/"))
        self.assertPoints(s.host_metrics("b3", "m", t - 60, t + 3600),
                          [(t + 60 * j, float(j)) for j in range(10)])

    def test_table_down_backpressure_then_recovery(self):
        dyn = self.engine(Dynalite())
        self.storage(dyn)
        p = self.proxy(dyn.endpoint)
        s = self.start_server(engines=[dyn], sets=FAST + [
            "table.endpoint=" + p.url, "cache.max_bytes=1m", "remote.max_attempts=2"])
        p.down("refuse")
        base = floor_step(now() - 5 * 3600, 3600)
        acked, refused, n = [], None, 0
        for batch in range(200):
            pts = [pt("d%d" % i, "m%d" % batch, base + 60 * j, float(batch + j))
                   for i in range(100) for j in range(7)]
            st, h, body = s.post_points(pts)
            if st == 200:
                acked += pts
                continue
            refused = (st, h, body)
            break
        self.assertIsNotNone(refused, "never refused: the cache grows without bound")
        st, h, body = refused
        self.assertEqual(st, 503, body)
        self.assertGreaterEqual(int(h.get("retry-after", "0")), 1, h)
        self.assertTrue(acked, "refused before the hot tier was full")
        def names_table():
            st, _, ready = s.get("/readyz")
            return st == 503 and "table (dynamodb) failing" in str(ready) and ready
        self.wait_for(names_table, what="/readyz to name the table")
        # not spinning: failed flush rounds back off exponentially (full jitter, 100 ms ..
        # 30 s), each round bounded in requests; after a few failures rounds are seconds apart
        def rounds():
            return metric_value(s.metrics_text()[1], "diamond_flush_errors_total") or 0
        time.sleep(3)
        r0 = rounds()
        time.sleep(3)
        self.assertLessEqual(rounds() - r0, 8, "failed flush rounds retried in a tight loop")
        p.up()
        self.wait_for(lambda: s.get("/readyz")[0] == 200, what="ready again")
        st, _, _ = s.post_points([pt("d0", "m0", base, 123.0)])
        self.assertEqual(st, 200)
        s.flush()
        s.restart()  # all of it in the table now, nothing only in the WAL
        batches = sorted({q["name"] for q in acked})
        for name in (batches[0], batches[len(batches) // 2], batches[-1]):
            for i in (0, 99):
                want = {q["time"]: q["value"] for q in acked
                        if q["hostId"] == "d%d" % i and q["name"] == name}
                if (i, name) == (0, "m0"):
                    want[base] = 123.0
                self.assertPoints(s.host_metrics("d%d" % i, name, base - 60, base + 3600),
                                  sorted(want.items()))

    def test_redis_down_then_back(self):
        r = self.engine(Redis())
        s = self.start_server(engines=[r], sets=FAST + ["cache.redis_timeout_ms=1000"])
        t = floor_step(now() - 60)
        st, _, _ = s.post_points([pt("r", "m", t, 1.0)])
        self.assertEqual(st, 200)
        r.stop()
        t0 = time.time()
        st, h, body = s.post_points([pt("r", "m", t + 60, 2.0)])
        self.assertLess(time.time() - t0, 5, "a write hung with Redis down")
        self.assertEqual(st, 503, body)
        self.assertIn("retry-after", h)
        self.assertIn("redis", str(body).lower())
        st, _, ready = s.get("/readyz")
        self.assertEqual(st, 503)
        self.assertIn("cache", str(ready))
        self.assertTrue(s.running())
        r.start()
        self.wait_for(lambda: s.post_points([pt("r", "m", t + 120, 3.0)])[0] == 200,
                      what="writes to work again")
        self.assertPoints(s.host_metrics("r", "m", t - 60, t + 180),
                          [(t, 1.0), (t + 120, 3.0)])


if __name__ == "__main__":
    main()
