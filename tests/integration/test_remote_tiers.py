"""test_remote_tiers: the same round trip as test_tiers, on the real engines and on mixes of
them: points written 20 days ago, 3 days ago and a minute ago come back in one read after
/admin/flush (table) and /admin/age (blobs), whichever engine holds each tier; a late write
into an aged day merges over the blob; a restart (Redis + DynamoDB + S3: a node with an
EMPTY data dir) changes nothing. The data is checked where it lands too: window keys in
Redis, items in dynalite (with ttl), objects under <prefix>v1/<day>/ in s3rver."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from engines import Dynalite, Redis, S3rver  # noqa: E402
from harness import DAY, ServerTestCase, floor_step, main, now, utc_day  # noqa: E402


def pt(host, name, t, v):
    return {"hostId": host, "name": name, "time": t, "value": v}


class Mix(ServerTestCase):
    """Subclasses name the engines: REDIS, DYNAMODB, S3 (False = the embedded one)."""
    REDIS = DYNAMODB = S3 = False

    def setUp(self):
        super().setUp()
        self.engines = []
        self.redis = self.dynalite = self.s3 = None
        if self.REDIS:
            self.redis = self.engine(Redis())
        if self.DYNAMODB:
            self.dynalite = self.engine(Dynalite())
        if self.S3:
            self.s3 = self.engine(S3rver())
        n = now()
        self.t_old = floor_step(n - 20 * DAY)
        self.t_mid = floor_step(n - 3 * DAY)
        self.t_new = floor_step(n - 120)
        self.frm, self.to = n - 21 * DAY, n + 60

    def engine(self, e):
        self.addCleanup(e.cleanup)
        e.start()
        self.engines.append(e)
        return e

    def node(self, **kw):
        s = self.start_server(engines=self.engines, node_id=kw.pop("node_id", "n1"),
                              sets=["canary.enabled=no"] + kw.pop("sets", []), **kw)
        return s

    def write(self, s, points):
        st, _, body = s.post_points(points)
        self.assertEqual((st, body), (200, {"success": True}))

    def series(self, s, host="tier", name="m"):
        return s.host_metrics(host, name, self.frm, self.to)

    def test_round_trip_through_every_tier(self):
        if self.DYNAMODB or self.S3:
            # the first node creates the table and bucket
            from harness import Server
            tmp = Server(engines=self.engines)
            self.addCleanup(tmp.cleanup)
            out = tmp.create_storage()
            if self.DYNAMODB:
                self.assertIn("table", out)
                self.assertIn("diamond", self.dynalite.list_tables())
            if self.S3:
                self.assertTrue(self.s3.bucket_exists())
        s = self.node()
        o, m, w = self.t_old, self.t_mid, self.t_new
        want = {o: 1.0, o + 60: 2.0, m: 3.0, m + 60: 4.0, w: 5.0}
        self.write(s, [pt("tier", "m", t, v) for t, v in want.items()])
        self.assertPoints(self.series(s), sorted(want.items()), "in the cache")
        if self.redis:
            keys = self.redis.call("KEYS", "dm:w:*")
            windows = {t - t % 3600 for t in want}  # 3, or more when t and t+60 straddle
            self.assertEqual(sorted(keys), sorted(b"dm:w:{host.tier.m}:%d" % w
                                                  for w in windows))

        body = s.flush()
        self.assertGreaterEqual(body.get("flushed", 0), len({t - t % 3600 for t in want}), body)
        self.assertPoints(self.series(s), sorted(want.items()), "after flush")
        if self.redis:
            self.assertEqual(self.redis.call("KEYS", "dm:w:*"), [], "flushed windows left")
        if self.dynalite:
            items = [i for i in self.dynalite.scan() if i["pk"]["S"] == "host.tier.m"]
            self.assertEqual(sorted(int(i["sk"]["N"]) for i in items),
                             sorted({t - t % 3600 for t in want}))
            for i in items:
                self.assertIn("ttl", i)
                self.assertGreater(int(i["ttl"]["N"]), now() + 3 * DAY - 3600)

        # a fresh point stays in the hot tier; the 20-day-old day goes to blobs
        self.write(s, [pt("tier", "m", w + 60, 6.0)])
        want[w + 60] = 6.0
        body = s.age()
        self.assertGreaterEqual(body.get("aged", 0), 1, body)
        if self.s3:
            keys = self.s3.list_keys("dm/v1/")
            self.assertTrue([k for k in keys if k.startswith("dm/v1/%s/" % utc_day(o))], keys)
            self.assertFalse([k for k in keys if k.startswith("dm/v1/%s/" % utc_day(m))], keys)
            for k in keys:
                self.assertRegex(k, r"^dm/v1/\d{4}-\d\d-\d\d/\d+\.dmb$")
        else:
            self.assertTrue(os.listdir(os.path.join(s.data_dir, "blobs", "v1", utc_day(o))))
        self.assertPoints(self.series(s), sorted(want.items()), "blob + table + cache")

        # late write into the aged day: overwrite one point, add one
        self.write(s, [pt("tier", "m", o, 100.0), pt("tier", "m", o + 120, 7.0)])
        want[o], want[o + 120] = 100.0, 7.0
        self.assertPoints(self.series(s), sorted(want.items()), "late write over the blob")
        s.flush()
        s.age()
        self.assertPoints(self.series(s), sorted(want.items()), "late write repacked")

        # restart; with every tier remote, a brand-new node with an empty data dir
        if self.REDIS and self.DYNAMODB and self.S3:
            s.kill9()
            s2 = self.node(node_id="n2")
            self.assertPoints(self.series(s2), sorted(want.items()), "another node")
            names = s2.get("/api/v0/hosts/tier/metric-names")
            self.assertIn("m", names[2]["names"])
        else:
            s.restart()
            self.assertPoints(self.series(s), sorted(want.items()), "after restart")

    def test_write_then_flush_keeps_points_appended_meanwhile(self):
        if self.DYNAMODB or self.S3:
            from harness import Server
            tmp = Server(engines=self.engines)
            self.addCleanup(tmp.cleanup)
            tmp.create_storage()
        s = self.node()
        base = floor_step(now() - 3 * 3600)
        want = {}
        for r in range(5):  # windows flushed, then written again (merge path), five times
            pts = {base + 60 * (r * 7 + i) % 10800: float(r * 100 + i) for i in range(7)}
            self.write(s, [pt("merge", "m", t, v) for t, v in pts.items()])
            want.update(pts)
            if r % 2 == 0:
                s.flush()
        s.flush()
        self.assertPoints(s.host_metrics("merge", "m", base - 60, base + 4 * 3600),
                          sorted(want.items()))


class RedisLmdbDir(Mix):
    REDIS = True


class MemoryDynamoDir(Mix):
    DYNAMODB = True


class MemoryLmdbS3(Mix):
    S3 = True


class RedisDynamoS3(Mix):
    REDIS = DYNAMODB = S3 = True


del Mix  # only the mixes run

if __name__ == "__main__":
    main()
