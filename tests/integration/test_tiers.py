"""test_tiers: data written days ago and a second ago come back in one read whichever tier
holds it: cache, LMDB table after /admin/flush, blob files after /admin/age; late writes
into an aged day are merged (cache > table > blob); restarts in between change nothing;
without the admin calls the flusher and ager run on their own."""

import glob
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import DAY, ServerTestCase, floor_step, main, now, utc_day  # noqa: E402


def pt(host, name, t, v):
    return {"hostId": host, "name": name, "time": t, "value": v}


class Tiers(ServerTestCase):
    def setUp(self):
        super().setUp()
        n = now()
        self.now = n
        self.t_old = floor_step(n - 20 * DAY)
        self.t_mid = floor_step(n - 3 * DAY)
        self.t_new = floor_step(n - 300)
        self.frm, self.to = n - 21 * DAY, n + 60

    def write(self, s, points):
        st, _, body = s.post_points(points)
        self.assertEqual((st, body), (200, {"success": True}))

    def initial_points(self):
        o, m, w = self.t_old, self.t_mid, self.t_new
        return {o: 1.0, o + 60: 2.0, m: 3.0, m + 60: 4.0, w: 5.0}

    def write_initial(self, s):
        pts = self.initial_points()
        self.write(s, [pt("tier", "m", t, v) for t, v in pts.items()] +
                   [pt("tier2", "x.y", t, -v) for t, v in pts.items()])
        return pts

    def assertSeries(self, s, want, host="tier", name="m", sign=1.0, msg=None):
        got = s.host_metrics(host, name, self.frm, self.to)
        self.assertPoints(got, sorted((t, sign * v) for t, v in want.items()), msg)

    def blob_files(self, s, t):
        return sorted(glob.glob(os.path.join(s.data_dir, "blobs", "v1", utc_day(t), "*.dmb")))

    def test_read_merges_cache_table_and_blobs(self):
        s = self.start_server()
        want = self.write_initial(s)
        self.assertSeries(s, want, msg="all in the cache")
        body = s.flush()
        self.assertIsInstance(body.get("flushed"), int, body)
        self.assertGreaterEqual(body["flushed"], 6)  # 3 windows x 2 series
        self.assertSeries(s, want, msg="after flush (table)")
        # a fresh point stays in the cache
        self.write(s, [pt("tier", "m", self.t_new + 60, 6.0),
                       pt("tier2", "x.y", self.t_new + 60, -6.0)])
        want[self.t_new + 60] = 6.0
        body = s.age()
        self.assertIsInstance(body.get("aged"), int, body)
        self.assertGreaterEqual(body["aged"], 1)
        files = self.blob_files(s, self.t_old)
        self.assertTrue(files, "no blob file for %s under %s" % (utc_day(self.t_old),
                                                                 s.data_dir))
        for f in files:
            self.assertGreater(os.path.getsize(f), 0, f)
            self.assertRegex(os.path.basename(f), r"^[0-9]+\.dmb$")
        self.assertEqual(self.blob_files(s, self.t_mid), [], "a day newer than table.keep "
                         "was aged")
        self.assertSeries(s, want, msg="blob + table + cache")
        self.assertSeries(s, want, host="tier2", name="x.y", sign=-1.0)
        # a late write into the aged day, overwriting one point and adding one
        self.write(s, [pt("tier", "m", self.t_old, 100.0), pt("tier", "m", self.t_old + 120,
                                                              7.0)])
        want[self.t_old] = 100.0
        want[self.t_old + 120] = 7.0
        self.assertSeries(s, want, msg="late write in the cache over the blob")
        s.flush()
        self.assertSeries(s, want, msg="late write in the table over the blob")
        s.restart()
        self.assertSeries(s, want, msg="after restart")
        s.age()
        self.assertSeries(s, want, msg="after ageing the late write")
        s.restart()
        self.assertSeries(s, want, msg="after a second restart")
        want2 = self.initial_points()
        want2[self.t_new + 60] = 6.0
        self.assertSeries(s, want2, host="tier2", name="x.y", sign=-1.0)

    def test_restart_between_flush_and_age(self):
        s = self.start_server()
        want = self.write_initial(s)
        s.flush()
        s.restart()
        self.assertSeries(s, want, msg="restart after flush")
        s.age()
        self.assertTrue(self.blob_files(s, self.t_old))
        self.assertSeries(s, want, msg="aged after restart")
        s.kill9()
        s.start()
        self.assertSeries(s, want, msg="kill -9 after age")
        self.assertSeries(s, want, host="tier2", name="x.y", sign=-1.0)

    def test_kill9_between_flush_and_age(self):
        s = self.start_server()
        want = self.write_initial(s)
        s.flush()
        self.write(s, [pt("tier", "m", self.t_old + 180, 8.0)])
        want[self.t_old + 180] = 8.0
        s.kill9()
        s.start()
        self.assertSeries(s, want, msg="kill -9 after flush: table + WAL replay")
        s.age()
        self.assertSeries(s, want, msg="aged after crash")

    def test_many_series_and_full_days_in_blobs(self):
        s = self.start_server()
        day0 = (self.now // DAY - 20) * DAY  # midnight UTC, 20 days ago
        hosts = ["bh%02d" % i for i in range(20)]
        conn = s.connect()
        try:
            batch = []
            for h in hosts:
                for k in range(2 * 1440):  # two whole days, one point a minute
                    batch.append(pt(h, "load", day0 + 60 * k, float(k % 1000) + 0.5))
                    if len(batch) == 5000:
                        self.assertStatus(s.post_points(batch, conn=conn), 200)
                        batch = []
            if batch:
                self.assertStatus(s.post_points(batch, conn=conn), 200)
        finally:
            conn.close()
        s.flush()
        s.age()
        for d in (day0, day0 + DAY):
            files = self.blob_files(s, d)
            self.assertTrue(files, utc_day(d))
            self.assertLessEqual(len(files), 16)
        for h in (hosts[0], hosts[7], hosts[19]):
            got = s.host_metrics(h, "load", day0, day0 + 2 * DAY - 1)
            self.assertEqual(len(got), 2880, h)
            self.assertEqual(got[0], (day0, 0.5))
            self.assertEqual(got[-1], (day0 + 2879 * 60, 879.5))
            # a range across midnight
            got = s.host_metrics(h, "load", day0 + DAY - 120, day0 + DAY + 60)
            self.assertEqual(got, [(day0 + DAY - 120, 438.5), (day0 + DAY - 60, 439.5),
                                   (day0 + DAY, 440.5), (day0 + DAY + 60, 441.5)])

    def test_flusher_and_ager_run_on_their_own(self):
        s = self.start_server(sets=["flusher.interval_ms=200", "flusher.grace=1s",
                                    "ager.interval=2s"])
        want = self.write_initial(s)
        deadline = time.monotonic() + 20
        while not self.blob_files(s, self.t_old) and time.monotonic() < deadline:
            time.sleep(0.2)
        self.assertTrue(self.blob_files(s, self.t_old),
                        "no blob for %s 20 s after the write without /admin calls" %
                        utc_day(self.t_old))
        self.assertSeries(s, want)
        s.restart()
        self.assertSeries(s, want)


if __name__ == "__main__":
    main()
