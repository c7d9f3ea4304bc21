"""test_crash: four concurrent writers (each with series of its own) push batches while the
server is killed with SIGKILL at random moments, five times in a row, with restarts; flushes
and ager runs happen meanwhile. After the last restart every acknowledged point reads back
with its value, every refused batch is absent, and every batch whose answer was lost is
either wholly there or wholly absent (never half-applied)."""

import http.client
import json
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import DAY, ServerTestCase, floor_step, main, now  # noqa: E402

WRITERS = 4
NAMES = 10        # series per writer: host crash<w>, names m0..m9
BATCH = 50        # points per request
ROUNDS = 5
MAX_BATCHES = 8000  # per writer: keeps times in the accepted range and reads small
PAUSE = 0.002       # between a writer's requests, so the cap lasts all rounds


class Writer(threading.Thread):
    def __init__(self, port, w, base, state, stop):
        super().__init__(daemon=True)
        self.port, self.w, self.base, self.st, self.stop = port, w, base, state, stop

    def batch(self, k):
        name = "m%d" % (k % NAMES)
        t0 = self.base + (k // NAMES) * BATCH * 60
        return name, [(t0 + 60 * i, float(self.w * 10 ** 7 + k * BATCH + i))
                      for i in range(BATCH)]

    def run(self):
        conn = None
        while not self.stop.is_set() and self.st["k"] < MAX_BATCHES:
            k = self.st["k"]
            self.st["k"] += 1
            name, pts = self.batch(k)
            body = json.dumps([{"hostId": "crash%d" % self.w, "name": name, "time": t,
                                "value": v} for t, v in pts])
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
                conn.request("POST", "/api/v0/tsdb", body=body,
                             headers={"Content-Type": "application/json"})
                r = conn.getresponse()
                r.read()
            except (OSError, http.client.HTTPException):
                self.st["unknown"].append((name, pts))
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.02)
                continue
            if 200 <= r.status < 300:
                self.st["acked"].append((name, pts))
            else:
                self.st["refused"].append((name, pts, r.status))
            time.sleep(PAUSE)
        if conn is not None:
            conn.close()


class Crash(ServerTestCase):
    def test_kill9_under_load_loses_nothing_acknowledged(self):
        s = self.start_server()
        base = floor_step(now() - 400 * DAY)
        seed = int(os.environ.get("DM_CRASH_SEED") or time.time_ns() % 10 ** 9)
        sys.stderr.write("crash: seed %d (set DM_CRASH_SEED to repeat)\n" % seed)
        rnd = random.Random(seed)
        states = [{"k": 0, "acked": [], "unknown": [], "refused": []} for _ in range(WRITERS)]
        admin_errors = []
        for rnd_i in range(ROUNDS):
            stop = threading.Event()
            before = sum(len(st["acked"]) for st in states)
            threads = [Writer(s.http_port, w, base, states[w], stop) for w in range(WRITERS)]
            threads.append(threading.Thread(target=self.admin_loop,
                                            args=(s.http_port, stop, rnd_i, admin_errors),
                                            daemon=True))
            for t in threads:
                t.start()
            time.sleep(rnd.uniform(0.8, 3.0))
            s.kill9()
            stop.set()
            for t in threads:
                t.join(30)
            if any(st["k"] < MAX_BATCHES for st in states):
                self.assertGreater(sum(len(st["acked"]) for st in states), before,
                                   "round %d: no write was acknowledged" % rnd_i)
            s.start(timeout=30)
        self.verify(s, base, states)
        sys.stderr.write("crash: %d acknowledged batches, %d lost answers, %d refused, "
                         "%d admin calls failed\n" %
                         (sum(len(st["acked"]) for st in states),
                          sum(len(st["unknown"]) for st in states),
                          sum(len(st["refused"]) for st in states), len(admin_errors)))

    @staticmethod
    def admin_loop(port, stop, rnd_i, errors):
        """Flushes every ~0.3 s and ages every few flushes while the writers run."""
        i = 0
        while not stop.wait(0.3):
            path = "/admin/age" if (i + rnd_i) % 4 == 3 else "/admin/flush"
            i += 1
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
                c.request("POST", path)
                r = c.getresponse()
                r.read()
                c.close()
                if r.status != 200:
                    errors.append((path, r.status))
            except (OSError, http.client.HTTPException) as e:
                errors.append((path, repr(e)))

    def verify(self, s, base, states):
        for w, st in enumerate(states):
            stored = {}
            last = base + (st["k"] // NAMES + 1) * BATCH * 60
            for n in range(NAMES):
                name = "m%d" % n
                stored[name] = dict(s.host_metrics("crash%d" % w, name, base, last))
            lost = []
            for name, pts in st["acked"]:
                for t, v in pts:
                    if stored[name].get(t) != v:
                        lost.append((name, t, v, stored[name].get(t)))
            self.assertEqual(lost[:10], [], "writer %d: %d acknowledged points lost or wrong "
                             "(name, time, want, got)" % (w, len(lost)))
            for name, pts, status in st["refused"]:
                present = [t for t, _ in pts if t in stored[name]]
                self.assertEqual(present, [], "writer %d: a batch refused with %d was stored"
                                 % (w, status))
            for name, pts in st["unknown"]:
                present = sum(1 for t, v in pts if stored[name].get(t) == v)
                self.assertIn(present, (0, len(pts)),
                              "writer %d: an unanswered batch is half-applied" % w)


if __name__ == "__main__":
    main()
