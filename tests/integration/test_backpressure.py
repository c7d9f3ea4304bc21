"""test_backpressure: when the hot cache passes cache.max_bytes, writes get 503 with a
Retry-After header and /readyz says why; the server makes room by flushing open windows
into the table, a client that retries gets through, and every acknowledged point reads
back."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ServerTestCase, floor_step, main, now  # noqa: E402


class Backpressure(ServerTestCase):
    def test_503_then_retry_gets_through(self):
        # 1 MiB cache; flusher ticks rarely so only backpressure makes room quickly
        s = self.start_server(sets=["cache.max_bytes=1m", "flusher.interval_ms=60000"])
        t = floor_step(now() - 60)  # the open window: not flushed on the flusher's own
        acked, saw_503, retry_after, ready_503 = 0, False, None, None
        conn = s.connect()
        try:
            deadline = time.monotonic() + 60
            batch = 0
            while batch < 40 and time.monotonic() < deadline:
                pts = [{"hostId": "bp%d" % (i % 500), "name": "m%d" % batch, "time": t,
                        "value": float(batch)} for i in range(2000)]
                st, headers, body = s.post_points(pts, conn=conn)
                if st == 200:
                    acked += 1
                    batch += 1
                    continue
                self.assertEqual(st, 503, body)
                self.assertIn("busy", body["error"]["message"])
                saw_503 = True
                retry_after = headers.get("retry-after")
                if ready_503 is None:
                    ready_503 = s.get("/readyz")
                time.sleep(0.2)
        finally:
            conn.close()
        self.assertTrue(saw_503, "a 1 MiB cache never pushed back")
        self.assertIsNotNone(retry_after)
        self.assertGreaterEqual(int(retry_after), 1)
        self.assertEqual(acked, 40, "retrying clients did not get through")
        if ready_503[0] == 503:  # the forced flush may already have made room
            self.assertIn("backpressure", ready_503[2]["error"]["message"])
        _, text = s.metrics_text()
        self.assertRegex(text, r"diamond_backpressure_total [1-9]")
        for b in (0, 17, 39):
            self.assertEqual(s.host_metrics("bp7", "m%d" % b, t, t), [(t, float(b))])


if __name__ == "__main__":
    main()
