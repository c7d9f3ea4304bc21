"""test_ops: what an operator uses: /healthz, /readyz, Prometheus /metrics, --check-config
(with files, bad files and DIAMOND_* environment overrides), --config and env at run time,
clean exit 0 on SIGTERM, logfmt lines on stderr, refusal to start on a busy port."""

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (ROOT, ServerTestCase, find_diamondd, floor_step, free_port,  # noqa: E402
                     main, metric_value, now)

LOGFMT = re.compile(r"^ts=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z "
                    r"level=(debug|info|warn|error) event=[A-Za-z0-9_.-]+( .*)?$")
SAMPLE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? "
                    r"(-?[0-9.]+([eE][-+]?[0-9]+)?|[-+]?Inf|NaN)( [0-9]+)?$")


def pt(host, name, t, v):
    return {"hostId": host, "name": name, "time": t, "value": v}


def duration(text):
    """Seconds of a config duration: "90", "90s", "15m", "3h", "14d", "2w"."""
    m = re.match(r"^(\d+)(s|m|h|d|w)?$", text)
    if m is None:
        return text
    return int(m.group(1)) * {None: 1, "s": 1, "m": 60, "h": 3600, "d": 86400,
                              "w": 604800}[m.group(2)]


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIAMOND_")}
    env.update(extra)
    return env


class Ops(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.start_class_server()
        cls.base = floor_step(now() - 3600)

    def test_healthz_and_readyz(self):
        st, h, body = self.server.get("/healthz")
        self.assertEqual((st, body), (200, {"status": "ok"}))
        self.assertIn("application/json", h.get("content-type", ""))
        st, _, body = self.server.get("/readyz")
        self.assertEqual((st, body), (200, {"status": "ready"}))

    def test_metrics_exposition(self):
        s = self.server
        _, text0 = s.metrics_text()
        self.assertStatus(s.post_points([pt("ops1", "m", self.base + 60 * i, 1.0)
                                         for i in range(3)]), 200)
        s.get("/no/such/route")
        h, text = s.metrics_text()
        ctype = h.get("content-type", "")
        self.assertTrue(ctype.startswith("text/plain; version=0.0.4"), ctype)
        for name in ("diamond_points_total", "diamond_http_requests_total",
                     "diamond_wal_bytes", "diamond_wal_fsync_seconds_bucket",
                     "diamond_wal_fsync_seconds_sum", "diamond_wal_fsync_seconds_count",
                     "diamond_cache_windows", "diamond_cache_bytes",
                     "diamond_flush_lag_seconds", "diamond_ager_lag_seconds",
                     "process_cpu_seconds_total", "process_resident_memory_bytes",
                     "process_open_fds"):
            self.assertIsNotNone(metric_value(text, name), "%s missing from /metrics" % name)
        self.assertIn("# TYPE diamond_wal_fsync_seconds histogram", text)
        self.assertIn("# TYPE diamond_points_total counter", text)
        self.assertRegex(text, r'diamond_wal_fsync_seconds_bucket\{[^}]*le="\+Inf"[^}]*\} [1-9]')
        self.assertGreater(metric_value(text, "diamond_wal_fsync_seconds_count"), 0)
        self.assertGreater(metric_value(text, "diamond_wal_bytes"), 0)
        self.assertGreater(metric_value(text, "process_resident_memory_bytes"), 1 << 20)
        self.assertGreater(metric_value(text, "process_open_fds"), 3)
        self.assertGreater(metric_value(text, "diamond_cache_bytes"), 0)
        self.assertGreaterEqual(metric_value(text, "diamond_cache_windows"), 1)
        lbl = {"source": "http"}
        if metric_value(text, "diamond_points_total", lbl) is None:
            lbl = None
        self.assertEqual(metric_value(text, "diamond_points_total", lbl) -
                         (metric_value(text0, "diamond_points_total", lbl) or 0.0), 3.0)
        self.assertRegex(text, r'diamond_http_requests_total\{[^}]*route="[^"]+"[^}]*'
                               r'code="200"[^}]*\} [1-9]|diamond_http_requests_total\{[^}]*'
                               r'code="200"[^}]*route="[^"]+"[^}]*\} [1-9]')
        self.assertRegex(text, r'diamond_http_requests_total\{[^}]*code="404"[^}]*\} [1-9]')
        for line in text.splitlines():
            if line and not line.startswith("#"):
                self.assertRegex(line, SAMPLE)

    def test_metrics_families_are_contiguous(self):
        # one HELP and TYPE per name, then all of that name's samples together, even when
        # label sets are registered apart (HTTP and Graphite points, request codes seen late)
        s = self.server
        s.get("/no/such/route/either")
        _, text = s.metrics_text()
        types, done, current = {}, set(), None
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                name, kind = line.split()[2:4]
                self.assertNotIn(name, types, "second TYPE line for " + name)
                types[name] = kind
                done.add(current)
                current = name
                continue
            if not line or line.startswith("#"):
                continue
            name = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0)
            family = name
            for suffix in ("_bucket", "_sum", "_count"):
                base = name[:-len(suffix)]
                if name.endswith(suffix) and types.get(base) == "histogram":
                    family = base
            self.assertEqual(family, current, "sample %r outside its family %r" %
                             (line, current))
            self.assertNotIn(family, done)
        self.assertIn("diamond_points_total", types)
        self.assertIsNotNone(metric_value(text, "diamond_points_total", {"source": "graphite"}))

    def test_cache_windows_drop_after_flush(self):
        s = self.server
        self.assertStatus(s.post_points([pt("ops2", "m", self.base - 3600 * i, 1.0)
                                         for i in range(3)]), 200)
        _, text = s.metrics_text()
        before = metric_value(text, "diamond_cache_windows")
        self.assertGreaterEqual(before, 3)
        s.flush()
        _, text = s.metrics_text()
        self.assertLessEqual(metric_value(text, "diamond_cache_windows"), before - 3)

    def test_stderr_is_logfmt(self):
        lines = [ln for ln in self.server.log_text().splitlines() if ln.strip()]
        self.assertTrue(lines, "diamondd logged nothing at start-up")
        for ln in lines:
            self.assertRegex(ln, LOGFMT)


class CheckConfig(ServerTestCase):
    def run_check(self, *args, env=None):
        tmp = tempfile.mkdtemp(prefix="diamond-cc-")
        self.addCleanup(shutil.rmtree, tmp, True)
        p = subprocess.run([find_diamondd(), "--check-config"] + list(args), cwd=tmp,
                           env=env or clean_env(), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=20)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def ini(self, text):
        fd, path = tempfile.mkstemp(prefix="diamond-", suffix=".ini")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        self.addCleanup(os.unlink, path)
        return path

    def assertKey(self, out, key, seconds):
        """The printed duration key equals seconds ("60", "60s" and "1m" are the same)."""
        m = re.search(r"(?m)^%s\s*=\s*(\S+)\s*$" % re.escape(key), out)
        self.assertIsNotNone(m, "%s missing from:\n%s" % (key, out))
        self.assertEqual(duration(m.group(1)), duration(seconds), m.group(0))

    def assertText(self, out, key, value):
        self.assertRegex(out, r"(?m)^%s\s*=\s*%s\s*$" % (re.escape(key), re.escape(value)))

    def test_defaults(self):
        code, out, err = self.run_check()
        self.assertEqual(code, 0, err)
        for sec in ("[server]", "[storage]", "[limits]", "[wal]", "[table]", "[blob]"):
            self.assertIn(sec, out)
        self.assertKey(out, "step", "60")
        self.assertText(out, "fsync", "always")

    def test_env_override(self):
        code, out, err = self.run_check(env=clean_env(DIAMOND_STORAGE_STEP="10"))
        self.assertEqual(code, 0, err)
        self.assertKey(out, "step", "10")
        code, out, err = self.run_check(env=clean_env(DIAMOND_WAL_FSYNC="interval"))
        self.assertEqual(code, 0, err)
        self.assertText(out, "fsync", "interval")

    def test_file_env_flag_precedence(self):
        path = self.ini("[storage]\nstep = 30\n")
        code, out, err = self.run_check("--config", path)
        self.assertEqual(code, 0, err)
        self.assertKey(out, "step", "30")
        code, out, _ = self.run_check("--config", path,
                                      env=clean_env(DIAMOND_STORAGE_STEP="10"))
        self.assertKey(out, "step", "10")
        code, out, _ = self.run_check("--config", path, "--set", "storage.step=20",
                                      env=clean_env(DIAMOND_STORAGE_STEP="10"))
        self.assertEqual(code, 0)
        self.assertKey(out, "step", "20")

    def test_unknown_key_names_file_and_line(self):
        path = self.ini("[server]\nlog_level = info\nbogus_key = 1\n")
        code, out, err = self.run_check("--config", path)
        self.assertNotEqual(code, 0)
        self.assertIn(os.path.basename(path) + ":3", out + err)

    def test_bad_value_names_file_and_line(self):
        path = self.ini("# comment\n[storage]\nstep = abc\n")
        code, out, err = self.run_check("--config", path)
        self.assertNotEqual(code, 0)
        self.assertIn(os.path.basename(path) + ":3", out + err)
        path = self.ini("[wal]\nfsync = sometimes\n")
        code, out, err = self.run_check("--config", path)
        self.assertNotEqual(code, 0)
        self.assertIn(os.path.basename(path) + ":2", out + err)

    def test_unknown_section_and_missing_file(self):
        path = self.ini("[nosuch]\nx = 1\n")
        code, out, err = self.run_check("--config", path)
        self.assertNotEqual(code, 0)
        self.assertIn(os.path.basename(path) + ":1", out + err)
        code, out, err = self.run_check("--config", "/nonexistent/diamond.ini")
        self.assertNotEqual(code, 0)

    def test_bad_env_value_is_an_error(self):
        code, out, err = self.run_check(env=clean_env(DIAMOND_STORAGE_STEP="soon"))
        self.assertNotEqual(code, 0)
        self.assertIn("step", (out + err).lower())

    def test_auth_keys_are_masked(self):
        code, out, err = self.run_check(env=clean_env(DIAMOND_AUTH_KEYS="s3cr3tkey=read"))
        self.assertEqual(code, 0, err)
        self.assertNotIn("s3cr3tkey", out + err)

    def test_shipped_config_is_valid_and_documents_every_key(self):
        path = os.path.join(ROOT, "conf", "diamond.ini")
        self.assertTrue(os.path.exists(path), path)
        code, out, err = self.run_check("--config", path)
        self.assertEqual(code, 0, err)
        with open(path) as f:
            shipped = f.read()
        for line in out.splitlines():
            m = re.match(r"^([a-z_]+)\s*=", line)
            if m:
                self.assertRegex(shipped, r"(?m)^%s\s*=" % m.group(1),
                                 "conf/diamond.ini does not document %s" % m.group(1))

    def test_unknown_flag_fails(self):
        p = subprocess.run([find_diamondd(), "--no-such-flag"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=20, env=clean_env())
        self.assertNotEqual(p.returncode, 0)


class Runtime(ServerTestCase):
    def test_env_override_applies_to_the_server(self):
        s = self.start_server(env={"DIAMOND_STORAGE_STEP": "10"})
        b = floor_step(now() - 3600)
        self.assertStatus(s.post_points([pt("env", "m", b + 15, 1.0), pt("env", "m", b + 29,
                                                                           2.0)]), 200)
        self.assertEqual(s.host_metrics("env", "m", b, b + 59), [(b + 10, 1.0),
                                                                 (b + 20, 2.0)])

    def test_config_file_applies_to_the_server(self):
        fd, path = tempfile.mkstemp(prefix="diamond-", suffix=".ini")
        with os.fdopen(fd, "w") as f:
            f.write("[limits]\nmax_points = 5\n")
        self.addCleanup(os.unlink, path)
        s = self.start_server(args=["--config", path])
        b = floor_step(now() - 3600)
        self.assertStatus(s.post_points([pt("cf", "m", b + 60 * i, 1.0) for i in range(5)]),
                          200)
        self.assertError(s.post_points([pt("cf", "m", b + 60 * i, 1.0) for i in range(6)]),
                         413)

    def test_sigterm_exits_zero_and_logs_are_logfmt(self):
        s = self.start_server()
        b = floor_step(now() - 3600)
        self.assertStatus(s.post_points([pt("term", "m", b, 1.0)]), 200)
        t0 = time.monotonic()
        self.assertEqual(s.stop(), 0)
        self.assertLess(time.monotonic() - t0, 15)
        lines = [ln for ln in s.log_text().splitlines() if ln.strip()]
        self.assertGreaterEqual(len(lines), 2)
        for ln in lines:
            self.assertRegex(ln, LOGFMT)
        s.start()
        self.assertEqual(s.host_metrics("term", "m", b, b), [(b, 1.0)])

    def test_busy_port_fails_to_start(self):
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        self.addCleanup(busy.close)
        tmp = tempfile.mkdtemp(prefix="diamond-busy-")
        self.addCleanup(shutil.rmtree, tmp, True)
        p = subprocess.Popen([find_diamondd(), "--data-dir", os.path.join(tmp, "data"),
                              "--http", "127.0.0.1:%d" % busy.getsockname()[1],
                              "--graphite", "127.0.0.1:%d" % free_port()],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=clean_env())
        try:
            out, _ = p.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            self.fail("diamondd kept running on a busy port")
        self.assertNotEqual(p.returncode, 0)
        self.assertTrue(out.strip(), "no error message")


if __name__ == "__main__":
    main()
