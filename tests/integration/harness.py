"""harness.py: shared code of the integration tests, which start the real diamondd.

Each test file starts its own servers on free loopback ports with a temp data dir, talks
HTTP (http.client or raw sockets) and the Graphite plaintext protocol to them, and stops
them by PID in every exit path. Standard library only.

Environment: DIAMONDD = path of the diamondd binary (ctest sets it; otherwise build/diamondd
and a few build-* dirs are tried), DM_LOAD = path of bench/load's binary (optional).

Remote engines (engines.py: Redis, RedisCluster, Dynalite, S3rver, Engines): pass them as
Server(engines=[...]) (their [cache]/[table]/[blob] keys become --set flags, their AWS_*
variables the environment), and ServerTestCase.start_nodes(2, engines=...) starts two
diamondd nodes sharing them. Every child process (diamondd and the engines) is also
registered here, so it is stopped by PID at exit and on SIGTERM of the test (track_child).
"""

import atexit

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STEP = 60
DAY = 86400


# --- child processes stopped at exit and on SIGTERM ----------------------------------------
# Every process a test starts is stopped by its PID in the test's own cleanups; this registry
# is the backstop for the paths that skip them: an exception during set-up, sys.exit, and
# SIGTERM (ctest's timeout, a CI stop), which unittest would not unwind.
_children = {}  # pid -> Popen
_dirs = set()   # temp dirs removed at exit
_reg_lock = threading.Lock()
_installed = False


def track_child(proc):
    """Registers a Popen: SIGTERM (then SIGKILL after 5 s) by its PID at exit or on SIGTERM."""
    _install_handlers()
    with _reg_lock:
        _children[proc.pid] = proc
    return proc


def untrack_child(proc):
    with _reg_lock:
        _children.pop(getattr(proc, "pid", None), None)


def track_dir(path):
    """A temp dir removed at exit (after the children are stopped)."""
    _install_handlers()
    with _reg_lock:
        _dirs.add(path)
    return path


def untrack_dir(path):
    with _reg_lock:
        _dirs.discard(path)


def stop_tracked_children(grace=5.0):
    """SIGTERM every registered child still running, SIGKILL those left after grace."""
    with _reg_lock:
        procs = list(_children.values())
        _children.clear()
    live = [p for p in procs if p.poll() is None]
    for p in live:
        try:
            p.send_signal(signal.SIGTERM)
        except OSError:
            pass
    deadline = time.monotonic() + grace
    for p in live:
        try:
            p.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def _at_exit():
    stop_tracked_children()
    with _reg_lock:
        dirs = list(_dirs)
        _dirs.clear()
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)


def _on_sigterm(signum, frame):
    _at_exit()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)  # die of the signal, as without the handler


def _install_handlers():
    global _installed
    if _installed:
        return
    _installed = True
    atexit.register(_at_exit)
    if threading.current_thread() is threading.main_thread():
        if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
            signal.signal(signal.SIGTERM, _on_sigterm)


def find_diamondd():
    path = os.environ.get("DIAMONDD")
    if path:
        return path
    for d in ("build", "build-itest", "build-asan"):
        p = os.path.join(ROOT, d, "diamondd")
        if os.access(p, os.X_OK):
            return p
    raise RuntimeError("set DIAMONDD to the path of the diamondd binary")


def free_port():
    """A port that was free a moment ago (bind 127.0.0.1:0, read it, close)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def free_udp_port():
    """A UDP port that was free a moment ago."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def now():
    return int(time.time())


def floor_step(t, step=STEP):
    return t - t % step


def utc_day(t):
    return time.strftime("%Y-%m-%d", time.gmtime(t))


def parse_body(headers, raw):
    """JSON when the content type says so (or the body looks like it), else text."""
    ctype = headers.get("content-type", "")
    text = raw.decode("utf-8", "replace")
    if "json" in ctype or text[:1] in ("{", "["):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


class Server:
    """One diamondd process on a temp (or given) data dir and free ports."""

    def __init__(self, data_dir=None, sets=(), env=None, args=(), graphite=True, preexec=None,
                 engines=(), node_id=None, config=None, udp=False):
        """engines: objects with diamond_config() -> {"section.key": value} and env() -> dict
        (engines.py), or plain dicts of "section.key": value; they come before sets, so sets
        win. node_id: server.node_id. config: an INI file path, or INI text (written to the
        temp dir), passed as --config. udp: also listen for Graphite plaintext over UDP on a
        free port (self.udp_port); off by default, so that servers started at once do not
        all claim graphite.udp's default 127.0.0.1:2003."""
        self.binary = find_diamondd()
        self.root = tempfile.mkdtemp(prefix="diamond-it-")  # logs, and data unless given
        self.data_dir = data_dir or os.path.join(self.root, "data")
        self.engines = list(engines)
        eng_sets, eng_env = engine_settings(self.engines)
        self.sets = eng_sets + list(sets)
        if node_id is not None:
            self.sets.append("server.node_id=%s" % node_id)
        self.node_id = node_id
        self.env = dict(eng_env)
        self.env.update(env or {})
        self.config = config
        if config is not None and "\n" in config:
            self.config = os.path.join(self.root, "diamond.ini")
            with open(self.config, "w") as f:
                f.write(config)
        self.args = list(args)
        self.graphite = graphite
        self.udp = udp
        self.udp_port = None
        self.preexec = preexec  # run in the child before exec (e.g. setrlimit)
        self.proc = None
        self.http_port = None
        self.graphite_port = None
        self.log_files = []  # one stderr file per start
        self.exit_codes = []

    # --- lifecycle -------------------------------------------------------------------
    def command(self):
        cmd = [self.binary]
        if getattr(self, "config", None):
            cmd += ["--config", self.config]
        cmd += ["--data-dir", self.data_dir, "--http", "127.0.0.1:%d" % (self.http_port or 0)]
        cmd += ["--graphite", "127.0.0.1:%d" % (self.graphite_port or 0) if self.graphite
                else "off"]
        cmd += ["--set", "graphite.udp=" + ("127.0.0.1:%d" % (self.udp_port or 0) if self.udp
                                            else "off")]
        for s in self.sets:
            cmd += ["--set", s]
        return cmd + self.args

    def start(self, timeout=10.0, keep_ports=False):
        """Starts the process and waits for GET /healthz == 200 (fails fast on exit)."""
        for attempt in range(3):
            if not keep_ports or self.http_port is None:
                self.http_port, self.graphite_port = free_port(), free_port()
                self.udp_port = free_udp_port() if self.udp else None
            log = os.path.join(self.root, "stderr.%d" % len(self.log_files))
            self.log_files.append(log)
            env = self.child_env()
            with open(log, "wb") as f:
                self.proc = subprocess.Popen(self.command(), stdout=f, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, env=env,
                                             preexec_fn=self.preexec)
            track_child(self.proc)
            if self._wait_healthy(timeout):
                return self
            code = self.proc.poll()
            if code is None:
                self.kill9()
                raise AssertionError("diamondd not healthy after %.0f s\n%s" %
                                     (timeout, self.log_text()))
            self.exit_codes.append(code)
            self.proc = None
            text = self.log_text()
            if "in use" in text.lower() and not keep_ports:
                continue  # lost a port race: try other ports
            raise AssertionError("diamondd exited with %d during start-up\n%s" % (code, text))
        raise AssertionError("diamondd could not bind free ports 3 times\n" + self.log_text())

    def child_env(self):
        """The environment diamondd runs with: this process's, less DIAMOND_* (and, with
        engines, less AWS_*: only the engines' credentials), plus self.env."""
        drop = ("DIAMOND_", "AWS_") if getattr(self, "engines", None) else ("DIAMOND_",)
        env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
        env.update(self.env)
        return env

    def run_once(self, *args, timeout=120):
        """Runs diamondd with this server's config plus args (e.g. "--create-storage",
        "--check-config") to completion: (exit code, stdout, stderr)."""
        r = subprocess.run(self.command() + list(args), stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=self.child_env(), timeout=timeout)
        return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8",
                                                                                   "replace")

    def create_storage(self, timeout=120):
        """diamondd --create-storage with this config (DynamoDB table, S3 bucket); asserts 0."""
        code, out, err = self.run_once("--create-storage", timeout=timeout)
        if code != 0:
            raise AssertionError("diamondd --create-storage exited %d\n%s%s" % (code, out, err))
        return out + err

    def _wait_healthy(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=2)
                c.request("GET", "/healthz")
                r = c.getresponse()
                r.read()
                c.close()
                if r.status == 200:
                    return True
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.05)
        return False

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=15.0):
        """SIGTERM by PID, wait up to timeout, then SIGKILL. Returns the exit code."""
        if self.proc is None:
            return None
        p, self.proc = self.proc, None
        untrack_child(p)
        if p.poll() is None:
            try:
                p.send_signal(signal.SIGTERM)
                code = p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                code = p.wait()
                code = "killed after SIGTERM timeout (%s)" % code
        else:
            code = p.returncode
        self.exit_codes.append(code)
        return code

    def wait_exit(self, timeout=15.0):
        """Waits for the process to exit on its own (SIGKILL after timeout); exit code."""
        if self.proc is None:
            return None
        p, self.proc = self.proc, None
        untrack_child(p)
        try:
            code = p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            code = "killed: did not exit within %.0f s" % timeout
        self.exit_codes.append(code)
        return code

    def kill9(self):
        if self.proc is None:
            return
        p, self.proc = self.proc, None
        untrack_child(p)
        if p.poll() is None:
            p.kill()
        self.exit_codes.append(p.wait())

    def restart(self, timeout=10.0):
        """Stops (SIGTERM) if running and starts again on the same data dir."""
        self.stop()
        return self.start(timeout)

    def cleanup(self):
        try:
            self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def log_text(self, which=None):
        files = self.log_files if which is None else [self.log_files[which]]
        out = []
        for i, f in enumerate(files):
            try:
                with open(f, "rb") as fh:
                    data = fh.read().decode("utf-8", "replace")
            except OSError:
                data = ""
            if len(files) > 1:
                out.append("--- diamondd run %d stderr ---" % i)
            if len(data) > 20000:
                data = "...(cut)...\n" + data[-20000:]
            out.append(data)
        return "\n".join(out)

    # --- HTTP -------------------------------------------------------------------------
    def connect(self, timeout=30):
        return http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, conn=None, timeout=30):
        """(status, headers with lower-case names, parsed JSON or text)."""
        if isinstance(body, (list, dict)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        own = conn is None
        c = conn or self.connect(timeout)
        try:
            hdrs = dict(headers or {})
            if body is not None and "Content-Type" not in hdrs:
                hdrs["Content-Type"] = "application/json"
            c.request(method, path, body=body, headers=hdrs)
            r = c.getresponse()
            raw = r.read()
            h = {k.lower(): v for k, v in r.getheaders()}
            return r.status, h, parse_body(h, raw)
        finally:
            if own:
                c.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)

    def key_headers(self, key):
        return {"X-Api-Key": key} if key else {}

    def post_points(self, points, key=None, conn=None):
        return self.post("/api/v0/tsdb", points, headers=self.key_headers(key), conn=conn)

    def post_service(self, service, points, key=None):
        return self.post("/api/v0/services/%s/tsdb" % service, points,
                         headers=self.key_headers(key))

    def host_metrics(self, host, name, frm, to, key=None):
        """The list of (time, value) of one host metric; asserts a 200."""
        st, _, body = self.get("/api/v0/hosts/%s/metrics?name=%s&from=%d&to=%d" %
                               (host, name, frm, to), headers=self.key_headers(key))
        if st != 200:
            raise AssertionError("read %s/%s: HTTP %s %r" % (host, name, st, body))
        return [(m["time"], m["value"]) for m in body["metrics"]]

    def service_metrics(self, service, name, frm, to):
        st, _, body = self.get("/api/v0/services/%s/metrics?name=%s&from=%d&to=%d" %
                               (service, name, frm, to))
        if st != 200:
            raise AssertionError("read service %s/%s: HTTP %s %r" % (service, name, st, body))
        return [(m["time"], m["value"]) for m in body["metrics"]]

    def flush(self, key=None):
        st, _, body = self.post("/admin/flush", headers=self.key_headers(key))
        if st != 200:
            raise AssertionError("/admin/flush: HTTP %s %r" % (st, body))
        return body

    def age(self, key=None):
        st, _, body = self.post("/admin/age", headers=self.key_headers(key))
        if st != 200:
            raise AssertionError("/admin/age: HTTP %s %r" % (st, body))
        return body

    def metrics_text(self):
        st, h, body = self.get("/metrics")
        if st != 200:
            raise AssertionError("/metrics: HTTP %s" % st)
        return h, body

    def raw(self, data, timeout=10, half_close=False):
        """Sends raw bytes and reads one HTTP response: (status, headers, body) or
        (None, {}, error text) when the server closed without answering."""
        s = socket.create_connection(("127.0.0.1", self.http_port), timeout=timeout)
        try:
            try:
                s.sendall(data)
                if half_close:
                    s.shutdown(socket.SHUT_WR)
            except OSError:
                pass  # the server may answer and close before reading everything
            r = http.client.HTTPResponse(s)
            try:
                r.begin()
                raw = r.read()
            except (OSError, http.client.HTTPException) as e:
                return None, {}, "no response: %r" % e
            h = {k.lower(): v for k, v in r.getheaders()}
            return r.status, h, parse_body(h, raw)
        finally:
            s.close()

    # --- Graphite ---------------------------------------------------------------------
    def graphite_conn(self, timeout=10):
        return socket.create_connection(("127.0.0.1", self.graphite_port), timeout=timeout)


def engine_settings(engines):
    """(["section.key=value", ...], {env}) of engines (objects with diamond_config() and
    env(), or dicts of "section.key": value)."""
    sets, env = [], {}
    for e in engines:
        cfg = e if isinstance(e, dict) else e.diamond_config()
        sets += ["%s=%s" % (k, v) for k, v in cfg.items()]
        if not isinstance(e, dict) and hasattr(e, "env"):
            env.update(e.env())
    return sets, env


def metric_value(text, name, labels=None):
    """Value of one Prometheus sample (labels: dict that must be a subset), or None."""
    total = None
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, _, value = line.rpartition(" ")
        mname, _, lab = head.partition("{")
        if mname != name:
            continue
        if labels:
            got = dict(kv.split("=", 1) for kv in split_labels(lab.rstrip("}")))
            if any(got.get(k) != '"%s"' % v for k, v in labels.items()):
                continue
        total = (total or 0.0) + float(value)
    return total


def split_labels(s):
    out, cur, q = [], "", False
    for ch in s:
        if ch == '"' and not cur.endswith("\\"):
            q = not q
        if ch == "," and not q:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        out.append(cur)
    return out


class ServerTestCase(unittest.TestCase):
    """Base class: start_server() registers a cleanup that stops it by PID, and its stderr
    is printed when the test fails."""

    maxDiff = 4000
    server = None  # a class-wide server, when the class starts one in setUpClass

    @classmethod
    def start_class_server(cls, **kw):
        """One server for every test of the class (faster); stopped after the class."""
        s = Server(**kw)
        cls.addClassCleanup(s.cleanup)
        s.start()
        cls.server = s
        return s

    def setUp(self):
        if type(self).server is not None:
            self.addCleanup(self._dump_on_failure, type(self).server)

    def start_server(self, **kw):
        s = Server(**kw)
        self.addCleanup(s.cleanup)
        self.addCleanup(self._dump_on_failure, s)
        s.start()
        return s

    def start_nodes(self, n=2, engines=(), create_storage=False, node_ids=None, **kw):
        """n diamondd nodes sharing engines (each its own ports, data dir, node_id n1..nN);
        create_storage: run diamondd --create-storage once first. Each is stopped by
        cleanup, its stderr printed on failure."""
        ids = list(node_ids or ["n%d" % (i + 1) for i in range(n)])
        servers = []
        for i in range(n):
            s = Server(engines=engines, node_id=ids[i], **kw)
            self.addCleanup(s.cleanup)
            self.addCleanup(self._dump_on_failure, s)
            servers.append(s)
        if create_storage:
            servers[0].create_storage()
        for s in servers:
            s.start()
        return servers

    def _dump_on_failure(self, s):
        result = getattr(getattr(self, "_outcome", None), "result", None)
        failed = result is None or any(t is self for t, _ in
                                       getattr(result, "errors", []) +
                                       getattr(result, "failures", []))
        if failed:
            sys.stderr.write("\n=== %s: diamondd stderr (%s) ===\n%s\n" %
                             (self.id(), " ".join(s.command()), s.log_text()))

    # assertions -----------------------------------------------------------------------
    def wait_for(self, fn, timeout=60.0, what="condition"):
        """Polls fn every 0.2 s until it returns something true (returned), or fails."""
        end = time.time() + timeout
        while time.time() < end:
            v = fn()
            if v:
                return v
            time.sleep(0.2)
        self.fail("timed out waiting for " + what)

    def assertStatus(self, resp, status, msg=None):
        st, h, body = resp
        if st != status:
            self.fail("%sexpected HTTP %d, got %s: %r" %
                      (msg + ": " if msg else "", status, st, body))

    def assertPoints(self, got, want, msg=None):
        """Lists of (time, value) equal; on failure a short report, not a difflib diff."""
        if got == want:
            return
        n = min(len(got), len(want))
        i = next((k for k in range(n) if got[k] != want[k]), n)
        self.fail("%s%d points, want %d; first difference at index %d: got %r, want %r" % (
            msg + ": " if msg else "", len(got), len(want), i,
            got[i:i + 3], want[i:i + 3]))

    def assertError(self, resp, status, *words):
        """status, {"error":{"message":...}} containing every word (case-insensitive)."""
        self.assertStatus(resp, status)
        body = resp[2]
        self.assertIsInstance(body, dict, "error body is not JSON: %r" % (body,))
        self.assertIn("error", body)
        self.assertIsInstance(body["error"], dict)
        m = body["error"].get("message")
        self.assertIsInstance(m, str)
        for w in words:
            self.assertIn(w.lower(), m.lower(), "error message %r lacks %r" % (m, w))
        return m


def main():
    unittest.main(verbosity=2)
