"""engines.py: the real servers behind diamondd's remote tiers, for the integration tests.

    Redis(port=None, appendonly=True)   redis-server on 127.0.0.1 (AOF, fsync always)
    RedisCluster(n=3)                   n redis-server --cluster-enabled nodes, slots assigned
    Dynalite()                          the DynamoDB API (npm dynalite, LevelDB in a temp dir)
    S3rver()                            the S3 API (npm s3rver, files in a temp dir)
    Engines(...)                        any of them together, one config and env

Each starts a real process on a free random 127.0.0.1 port, waits until it answers, and is
stopped by the PID it started (never by name): stop() (SIGTERM, SIGKILL after a timeout),
kill9(), cleanup() (stop + remove the temp dir), or `with` (cleanup on the way out, test
failure included). Every process is also registered with harness.track_child, so it is
stopped at exit and on SIGTERM of the test; started from the main thread, it also gets
SIGKILL if the test process dies without a word (setpriv --pdeathsig KILL).

diamond_config() gives the "section.key": value settings diamondd needs for the engine
(harness.Server(engines=[...]) turns them into --set flags), env() the environment
(AWS_ACCESS_KEY_ID=S3RVER, AWS_SECRET_ACCESS_KEY=S3RVER: s3rver accepts only that key,
dynalite any). to_sets / to_ini / to_env turn a config dict into flags, INI text or
DIAMOND_<SECTION>_<KEY> variables.

    with Engines(redis=True, dynamodb=True, s3=True) as e:
        a, b = self.start_nodes(2, engines=[e], create_storage=True)

Standard library only. The node engines come from tests/node_modules (make test-deps:
npm ci in tests/); `python3 tests/integration/engines.py serve` starts all three on the
ports of conf/test-engines.ini until Ctrl-C, `... selftest` checks each class.
"""

import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import ROOT, free_port  # noqa: E402

NODE_MODULES = os.environ.get("DM_NODE_MODULES") or os.path.join(ROOT, "tests", "node_modules")
NODE = os.environ.get("DM_NODE") or "node"
REGION = "us-east-1"
# s3rver knows exactly one account; dynalite takes any key; diamondd signs with these.
AWS_ENV = {"AWS_ACCESS_KEY_ID": "S3RVER", "AWS_SECRET_ACCESS_KEY": "S3RVER"}


class EngineError(RuntimeError):
    pass


class RedisError(EngineError):
    """An error reply (-ERR ...) from Redis."""


# --- config helpers --------------------------------------------------------------------
def merge_config(*parts):
    """One {"section.key": value} from engines (diamond_config()) and dicts, later wins."""
    out = {}
    for p in parts:
        out.update(p if isinstance(p, dict) else p.diamond_config())
    return out


def to_sets(cfg):
    """["section.key=value", ...]: the arguments of diamondd --set."""
    return ["%s=%s" % (k, v) for k, v in cfg.items()]


def to_ini(cfg):
    """INI text of a config dict, one [section] block per section, in first-seen order."""
    sections = {}
    for k, v in cfg.items():
        sec, _, key = k.partition(".")
        sections.setdefault(sec, []).append("%s = %s" % (key, v))
    return "".join("[%s]\n%s\n\n" % (s, "\n".join(lines)) for s, lines in sections.items())


def to_env(cfg):
    """{"DIAMOND_<SECTION>_<KEY>": value}."""
    return {"DIAMOND_%s_%s" % tuple(p.upper() for p in k.split(".", 1)): str(v)
            for k, v in cfg.items()}


# --- processes ---------------------------------------------------------------------------
def _node_module(*parts):
    path = os.path.join(NODE_MODULES, *parts)
    if not os.path.exists(path):
        raise EngineError("%s not found: run `make test-deps` (npm ci in tests/)" % path)
    return path


def _have(cmd):
    return shutil.which(cmd) is not None


def _pdeathsig_prefix():
    """setpriv --pdeathsig KILL: the child dies with the thread that started it. Only from
    the main thread (a worker thread that ends would take the engine with it)."""
    if threading.current_thread() is threading.main_thread() and _have("setpriv"):
        return ["setpriv", "--pdeathsig", "KILL", "--"]
    return []


def _port_pair_free(port, offset):
    """True if port and port+offset can both be bound on 127.0.0.1 now."""
    socks = []
    try:
        for p in (port, port + offset):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(s)
            s.bind(("127.0.0.1", p))
        return True
    except OSError:
        return False
    finally:
        for s in socks:
            s.close()


def free_port_with_bus(offset=10000):
    """A port P with P+offset also free (Redis Cluster's bus port is P+10000)."""
    rng = random.Random()
    for _ in range(200):
        p = rng.randrange(20000, 65535 - offset)
        if _port_pair_free(p, offset):
            return p
    raise EngineError("no free port pair (P, P+%d) on 127.0.0.1" % offset)


class _Managed:
    """with X() as x: start() on entry (cleanup() if that fails), cleanup() on exit."""

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.cleanup()
            raise

    def __exit__(self, *exc):
        self.cleanup()
        return False


class _Process(_Managed):
    """One server process on a temp dir and a port that stays the same across restarts."""

    name = "engine"

    def __init__(self, port=None):
        self.root = harness.track_dir(tempfile.mkdtemp(prefix="diamond-%s-" % self.name))
        self.port = port
        self._fixed_port = port is not None
        self.proc = None
        self.log_files = []
        self.starts = 0

    # to override ---------------------------------------------------------------------
    def argv(self):
        raise NotImplementedError

    def ready(self):
        """True once the server answers."""
        raise NotImplementedError

    def pick_port(self):
        return free_port()

    # lifecycle -------------------------------------------------------------------------
    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout=30.0):
        """Starts (a no-op if running) and waits until ready(); the same port and dir on a
        restart. A lost race for a random port retries on another, a fixed port fails."""
        if self.running():
            return self
        for attempt in range(4):
            if self.port is None:
                self.port = self.pick_port()
            log = os.path.join(self.root, "%s.log.%d" % (self.name, len(self.log_files)))
            self.log_files.append(log)
            with open(log, "wb") as f:
                self.proc = subprocess.Popen(_pdeathsig_prefix() + self.argv(), stdout=f,
                                             stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, cwd=self.root,
                                             start_new_session=True)
            harness.track_child(self.proc)
            if self._wait_ready(timeout):
                self.starts += 1
                return self
            code = self.proc.poll()
            text = self.log_text(-1)
            if code is None:
                self.kill9()
                raise EngineError("%s not ready after %.0f s on port %d\n%s" %
                                  (self.name, timeout, self.port, text))
            harness.untrack_child(self.proc)
            self.proc = None
            low = text.lower()
            if ("in use" in low or "eaddrinuse" in low) and not self._fixed_port \
                    and self.starts == 0:
                self.port = None
                continue
            raise EngineError("%s exited with %d during start-up: %s\n%s" %
                              (self.name, code, " ".join(self.argv()), text))
        raise EngineError("%s could not bind a free port 4 times" % self.name)

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                if self.ready():
                    return True
            except (OSError, http.client.HTTPException, EngineError, ValueError):
                pass
            time.sleep(0.05)
        return False

    def stop(self, timeout=10.0):
        """SIGTERM by PID, SIGKILL after timeout; the exit code (None if not running)."""
        if self.proc is None:
            return None
        p, self.proc = self.proc, None
        harness.untrack_child(p)
        if p.poll() is None:
            try:
                p.send_signal(signal.SIGTERM)
                return p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                return "killed after SIGTERM timeout"
        return p.returncode

    def kill9(self):
        """SIGKILL by PID: a crash (Redis loses nothing acknowledged with appendfsync always)."""
        if self.proc is None:
            return None
        p, self.proc = self.proc, None
        harness.untrack_child(p)
        if p.poll() is None:
            p.kill()
        return p.wait()

    def restart(self, timeout=30.0, kill=False):
        """Stops (SIGTERM, or SIGKILL with kill=True) and starts on the same port and dir."""
        if kill:
            self.kill9()
        else:
            self.stop()
        return self.start(timeout)

    def cleanup(self):
        try:
            self.stop()
        finally:
            harness.untrack_dir(self.root)
            shutil.rmtree(self.root, ignore_errors=True)


    def log_text(self, which=None):
        files = self.log_files if which is None else [self.log_files[which]]
        out = []
        for f in files:
            try:
                with open(f, "rb") as fh:
                    data = fh.read().decode("utf-8", "replace")
            except OSError:
                data = ""
            out.append(data[-20000:])
        return "\n".join(out)

    def env(self):
        return {}

    def __repr__(self):
        return "<%s port=%s pid=%s>" % (type(self).__name__, self.port, self.pid)


# --- Redis ---------------------------------------------------------------------------------
def _resp_encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if not isinstance(a, bytes):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def _resp_read(f):
    line = f.readline()
    if not line.endswith(b"\r\n"):
        raise EngineError("redis: connection closed mid-reply")
    t, rest = line[:1], line[1:-2]
    if t == b"+":
        return rest.decode()
    if t == b"-":
        raise RedisError(rest.decode())
    if t == b":":
        return int(rest)
    if t == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        return data[:-2]
    if t == b"*":
        n = int(rest)
        return None if n < 0 else [_resp_read(f) for _ in range(n)]
    raise EngineError("redis: unexpected reply %r" % line)


class Redis(_Process):
    """redis-server --bind 127.0.0.1 --port P --dir <tmp> --appendonly yes
    --appendfsync always --save '' (cluster=True: a cluster node, see RedisCluster)."""

    name = "redis"

    def __init__(self, port=None, appendonly=True, cluster=False, password=None, args=(),
                 node_timeout_ms=2000):
        super().__init__(port)
        self.appendonly = appendonly
        self.cluster = cluster
        self.password = password
        self.args = list(args)
        self.node_timeout_ms = node_timeout_ms
        self.dir = os.path.join(self.root, "data")
        os.makedirs(self.dir, exist_ok=True)

    def pick_port(self):
        return free_port_with_bus() if self.cluster else free_port()

    def argv(self):
        cmd = ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port),
               "--dir", self.dir, "--daemonize", "no", "--logfile", "",
               "--appendonly", "yes" if self.appendonly else "no",
               "--appendfsync", "always", "--save", ""]
        if self.password:
            cmd += ["--requirepass", self.password]
        if self.cluster:
            cmd += ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                    "--cluster-node-timeout", str(self.node_timeout_ms)]
        return cmd + self.args

    def ready(self):
        return self.call("PING") == "PONG"

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def call(self, *args, timeout=10.0):
        """One command over RESP (a fresh connection): the decoded reply; an error reply
        raises RedisError. Bulk strings come back as bytes, arrays as lists."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
            f = s.makefile("rb")
            if self.password:
                s.sendall(_resp_encode(["AUTH", self.password]))
                _resp_read(f)
            s.sendall(_resp_encode(args))
            return _resp_read(f)

    def cli(self, *args, cluster_mode=False, check=True, timeout=60):
        """redis-cli -h 127.0.0.1 -p P [-c] args...: its stdout, stripped."""
        cmd = ["redis-cli", "-h", "127.0.0.1", "-p", str(self.port)]
        if self.password:
            cmd += ["--no-auth-warning", "-a", self.password]
        if cluster_mode:
            cmd.append("-c")
        r = subprocess.run(cmd + [str(a) for a in args], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
        if check and r.returncode != 0:
            raise EngineError("redis-cli %s: exit %d: %s" % (" ".join(map(str, args)),
                                                             r.returncode, r.stderr.decode()))
        return r.stdout.decode().strip()

    def info(self, section=None):
        """INFO [section] as a dict of strings."""
        raw = self.call(*(["INFO", section] if section else ["INFO"]))
        out = {}
        for line in raw.decode().splitlines():
            if ":" in line and not line.startswith("#"):
                k, _, v = line.partition(":")
                out[k] = v
        return out

    def diamond_config(self):
        cfg = {"cache.engine": "redis", "cache.redis": self.address}
        if self.password:
            cfg["cache.redis_password"] = self.password
        return cfg


class RedisCluster(_Managed):
    """n redis-server cluster nodes (ports P and P+10000 free), slots spread by
    `redis-cli --cluster create ... --cluster-replicas 0 --cluster-yes`; start() returns
    once every node says cluster_state:ok with all 16384 slots and n known nodes."""

    def __init__(self, n=3, appendonly=True, node_timeout_ms=2000):
        self.n = n
        self.nodes = [Redis(appendonly=appendonly, cluster=True,
                            node_timeout_ms=node_timeout_ms) for _ in range(n)]
        self.created = False

    @property
    def seeds(self):
        """"127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3": the value of [cache] redis."""
        return ",".join(r.address for r in self.nodes)

    @property
    def addresses(self):
        return [r.address for r in self.nodes]

    def start(self, timeout=60.0):
        for r in self.nodes:
            r.start()
        if not self.created:
            out = subprocess.run(["redis-cli", "--cluster", "create"] + self.addresses +
                                 ["--cluster-replicas", "0", "--cluster-yes"],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, timeout=timeout)
            text = out.stdout.decode("utf-8", "replace")
            if out.returncode != 0 or "[OK] All 16384 slots covered" not in text:
                raise EngineError("redis-cli --cluster create: exit %d\n%s" %
                                  (out.returncode, text))
            self.created = True
        self.wait_ok(timeout)
        return self

    def cluster_info(self, i):
        raw = self.nodes[i].call("CLUSTER", "INFO").decode()
        return dict(line.split(":", 1) for line in raw.splitlines() if ":" in line)

    def is_ok(self):
        for i, r in enumerate(self.nodes):
            if not r.running():
                return False
            try:
                ci = self.cluster_info(i)
            except (OSError, EngineError):
                return False
            if (ci.get("cluster_state") != "ok" or ci.get("cluster_slots_ok") != "16384" or
                    ci.get("cluster_known_nodes") != str(self.n)):
                return False
        return True

    def wait_ok(self, timeout=60.0):
        """Waits until every node reports cluster_state:ok, 16384 slots ok, n nodes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.is_ok():
                return self
            time.sleep(0.1)
        states = []
        for i in range(self.n):
            try:
                states.append(self.cluster_info(i))
            except (OSError, EngineError) as e:
                states.append(repr(e))
        raise EngineError("redis cluster not ok after %.0f s: %r" % (timeout, states))

    def stop_node(self, i):
        return self.nodes[i].stop()

    def kill9_node(self, i):
        return self.nodes[i].kill9()

    def start_node(self, i, wait=True, timeout=60.0):
        self.nodes[i].start()
        if wait:
            self.wait_ok(timeout)
        return self.nodes[i]

    def restart_node(self, i, kill=False, down_seconds=0.0, timeout=60.0):
        """Stops node i (SIGTERM, or SIGKILL), waits down_seconds, starts it on the same port
        and dir (nodes.conf and AOF kept: it rejoins as itself), waits for cluster ok."""
        if kill:
            self.kill9_node(i)
        else:
            self.stop_node(i)
        if down_seconds:
            time.sleep(down_seconds)
        return self.start_node(i, timeout=timeout)

    def keyslot(self, key):
        return self.nodes[0].call("CLUSTER", "KEYSLOT", key)

    def node_for_key(self, key):
        """The index of the node serving key's slot."""
        slot = self.keyslot(key)
        for start, end, master, *_ in self.nodes[0].call("CLUSTER", "SLOTS"):
            if start <= slot <= end:
                port = int(master[1])
                return next(i for i, r in enumerate(self.nodes) if r.port == port)
        raise EngineError("slot %d unassigned" % slot)

    def cli(self, *args, **kw):
        """redis-cli -c (follows MOVED) against the first running node."""
        r = next(r for r in self.nodes if r.running())
        return r.cli(*args, cluster_mode=True, **kw)

    def stop(self):
        for r in self.nodes:
            r.stop()

    def cleanup(self):
        for r in self.nodes:
            r.cleanup()

    def running(self):
        return all(r.running() for r in self.nodes)


    def log_text(self):
        return "\n".join("--- node %d (%s) ---\n%s" % (i, r.address, r.log_text())
                         for i, r in enumerate(self.nodes))

    def diamond_config(self):
        return {"cache.engine": "redis", "cache.redis": self.seeds}

    def env(self):
        return {}


# --- HTTP engines (node) -------------------------------------------------------------------
def _http(port, method, path, body=None, headers=None, timeout=30.0):
    """(status, {lower-case header: value}, body bytes) of one request to 127.0.0.1:port."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        if isinstance(body, str):
            body = body.encode()
        c.request(method, path, body=body, headers=dict(headers or {}))
        r = c.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        c.close()


def fake_sigv4_headers(service, region=REGION, key="S3RVER"):
    """An Authorization header of the right shape (dynalite checks the shape, not the
    signature; s3rver checks the key only) plus X-Amz-Date."""
    t = time.gmtime()
    day, stamp = time.strftime("%Y%m%d", t), time.strftime("%Y%m%dT%H%M%SZ", t)
    return {"X-Amz-Date": stamp,
            "Authorization": "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, "
                             "SignedHeaders=host;x-amz-date, Signature=%s" %
                             (key, day, region, service, "0" * 64)}


class Dynalite(_Process):
    """node tests/node_modules/dynalite/cli.js --host 127.0.0.1 --port P [--path <tmp>]:
    the DynamoDB API. persist=True keeps the tables in LevelDB under the temp dir, so a
    restart() keeps them; create_table_ms etc. shorten the CREATING/DELETING states."""

    name = "dynalite"

    def __init__(self, port=None, persist=True, create_table_ms=100, delete_table_ms=100,
                 update_table_ms=100, table="diamond", region=REGION, args=()):
        super().__init__(port)
        self.cli_js = _node_module("dynalite", "cli.js")
        self.persist = persist
        self.ms = (create_table_ms, delete_table_ms, update_table_ms)
        self.table = table
        self.region = region
        self.args = list(args)

    def argv(self):
        cmd = [NODE, self.cli_js, "--host", "127.0.0.1", "--port", str(self.port),
               "--createTableMs", str(self.ms[0]), "--deleteTableMs", str(self.ms[1]),
               "--updateTableMs", str(self.ms[2])]
        if self.persist:
            cmd += ["--path", os.path.join(self.root, "db")]
        return cmd + self.args

    @property
    def endpoint(self):
        return "http://127.0.0.1:%d" % self.port

    def call(self, op, payload=None, timeout=30.0):
        """One DynamoDB call (X-Amz-Target DynamoDB_20120810.<op>): (status, parsed JSON)."""
        h = {"X-Amz-Target": "DynamoDB_20120810." + op,
             "Content-Type": "application/x-amz-json-1.0"}
        h.update(fake_sigv4_headers("dynamodb", self.region))
        st, _, data = _http(self.port, "POST", "/", json.dumps(payload or {}), h, timeout)
        return st, json.loads(data.decode() or "null")

    def ready(self):
        return self.call("ListTables", timeout=2)[0] == 200

    def list_tables(self):
        st, body = self.call("ListTables")
        if st != 200:
            raise EngineError("ListTables: %d %r" % (st, body))
        return body["TableNames"]

    def describe_table(self, name=None):
        """DescribeTable's "Table", or None if there is no such table."""
        st, body = self.call("DescribeTable", {"TableName": name or self.table})
        if st == 400 and "ResourceNotFound" in body.get("__type", ""):
            return None
        if st != 200:
            raise EngineError("DescribeTable: %d %r" % (st, body))
        return body["Table"]

    def scan(self, name=None, limit_pages=1000):
        """Every item of the table (Scan, all pages)."""
        items, start = [], None
        for _ in range(limit_pages):
            req = {"TableName": name or self.table}
            if start:
                req["ExclusiveStartKey"] = start
            st, body = self.call("Scan", req)
            if st != 200:
                raise EngineError("Scan: %d %r" % (st, body))
            items += body.get("Items", [])
            start = body.get("LastEvaluatedKey")
            if not start:
                break
        return items

    def diamond_config(self, endpoint=None, name=None):
        """[table] keys; endpoint: another URL in front of it (a FaultProxy's url)."""
        return {"table.engine": "dynamodb", "table.endpoint": endpoint or self.endpoint,
                "table.region": self.region, "table.name": name or self.table}

    def env(self):
        return dict(AWS_ENV)


class S3rver(_Process):
    """node --openssl-legacy-provider tests/node_modules/s3rver/bin/s3rver.js --directory
    <tmp> --port P --address 127.0.0.1 --silent: the S3 API, path-style. buckets are
    created after start (a plain PUT /<bucket>); by default none, diamondd
    --create-storage makes its own. Requests need no signature, but a signed one must use
    access key S3RVER and carry x-amz-content-sha256 (SigV4 itself is not verified)."""

    name = "s3rver"

    def __init__(self, port=None, buckets=(), bucket="diamond", prefix="dm/", region=REGION,
                 args=()):
        super().__init__(port)
        self.js = _node_module("s3rver", "bin", "s3rver.js")
        self.buckets = list(buckets)
        self.bucket = bucket
        self.prefix = prefix
        self.region = region
        self.args = list(args)
        self.dir = os.path.join(self.root, "data")
        os.makedirs(self.dir, exist_ok=True)

    def argv(self):
        # --openssl-legacy-provider: s3rver hashes with an algorithm OpenSSL 3 keeps only in
        # the legacy provider (listings fail without it).
        return [NODE, "--openssl-legacy-provider", self.js, "--directory", self.dir,
                "--port", str(self.port), "--address", "127.0.0.1", "--silent"] + self.args

    def start(self, timeout=30.0):
        super().start(timeout)
        for b in self.buckets:
            self.create_bucket(b)
        return self

    def ready(self):
        st, _, _ = _http(self.port, "GET", "/", timeout=2)
        return st in (200, 403)

    @property
    def endpoint(self):
        return "http://127.0.0.1:%d" % self.port

    def request(self, method, path, body=None, headers=None, timeout=30.0):
        """(status, headers, body bytes) of a plain, unsigned request."""
        return _http(self.port, method, path, body, headers, timeout)

    def create_bucket(self, name=None):
        """PUT /<name>; an existing bucket is fine. Returns the name."""
        name = name or self.bucket
        st, _, data = self.request("PUT", "/" + name)
        if st not in (200, 409):
            raise EngineError("create bucket %s: %d %r" % (name, st, data))
        return name

    def bucket_exists(self, name=None):
        return self.request("HEAD", "/" + (name or self.bucket))[0] == 200

    def put_object(self, key, data, bucket=None, headers=None):
        st, h, body = self.request("PUT", "/%s/%s" % (bucket or self.bucket, key), data,
                                   headers)
        if st != 200:
            raise EngineError("PUT %s: %d %r" % (key, st, body))
        return h.get("etag")

    def get_object(self, key, bucket=None):
        """The object's bytes, or None if it does not exist."""
        st, _, body = self.request("GET", "/%s/%s" % (bucket or self.bucket, key))
        if st == 404:
            return None
        if st != 200:
            raise EngineError("GET %s: %d %r" % (key, st, body))
        return body

    def list_keys(self, prefix="", bucket=None):
        """Every key under prefix (ListObjectsV2, all pages), sorted."""
        import urllib.parse
        import xml.etree.ElementTree as ET
        keys, token = [], None
        while True:
            q = {"list-type": "2", "prefix": prefix}
            if token:
                q["continuation-token"] = token
            st, _, body = self.request("GET", "/%s?%s" % (bucket or self.bucket,
                                                          urllib.parse.urlencode(q)))
            if st != 200:
                raise EngineError("list %s: %d %r" % (prefix, st, body))
            root = ET.fromstring(body)
            ns = root.tag[:root.tag.index("}") + 1] if root.tag.startswith("{") else ""
            keys += [e.text for e in root.iter(ns + "Key")]
            trunc = root.find(ns + "IsTruncated")
            token_el = root.find(ns + "NextContinuationToken")
            if trunc is None or trunc.text != "true" or token_el is None:
                return sorted(keys)
            token = token_el.text

    def diamond_config(self, endpoint=None, bucket=None, prefix=None):
        """[blob] keys; endpoint: another URL in front of it (a FaultProxy's url)."""
        return {"blob.engine": "s3", "blob.endpoint": endpoint or self.endpoint,
                "blob.region": self.region, "blob.bucket": bucket or self.bucket,
                "blob.prefix": self.prefix if prefix is None else prefix}

    def env(self):
        return dict(AWS_ENV)


# --- all together ----------------------------------------------------------------------
class Engines(_Managed):
    """Any of the engines together: redis=True (or cluster=True for a RedisCluster),
    dynamodb=True, s3=True. diamond_config() merges their keys; table_endpoint and
    blob_endpoint put something (a FaultProxy) in front of dynalite and s3rver."""

    def __init__(self, redis=True, cluster=False, dynamodb=True, s3=True, table="diamond",
                 bucket="diamond", prefix="dm/", cluster_nodes=3):
        self.redis = None
        if cluster:
            self.redis = RedisCluster(cluster_nodes)
        elif redis:
            self.redis = Redis()
        self.dynalite = Dynalite(table=table) if dynamodb else None
        self.s3rver = S3rver(bucket=bucket, prefix=prefix) if s3 else None
        self.table_endpoint = None
        self.blob_endpoint = None

    def parts(self):
        return [p for p in (self.redis, self.dynalite, self.s3rver) if p is not None]

    def start(self):
        for p in self.parts():
            p.start()
        return self

    def cleanup(self):
        for p in self.parts():
            try:
                p.cleanup()
            except Exception:  # noqa: BLE001 - clean up the rest anyway
                pass


    def diamond_config(self):
        cfg = {}
        if self.redis:
            cfg.update(self.redis.diamond_config())
        if self.dynalite:
            cfg.update(self.dynalite.diamond_config(endpoint=self.table_endpoint))
        if self.s3rver:
            cfg.update(self.s3rver.diamond_config(endpoint=self.blob_endpoint))
        return cfg

    def env(self):
        return dict(AWS_ENV) if (self.dynalite or self.s3rver) else {}

    def log_text(self):
        return "\n".join("=== %r ===\n%s" % (p, p.log_text()) for p in self.parts())


# --- by hand ---------------------------------------------------------------------------------
def _selftest():
    t0 = time.monotonic()
    with Redis() as r:
        assert r.call("SET", "k", "v") == "OK" and r.cli("GET", "k") == "v"
        r.kill9()
        r.start()
        assert r.call("GET", "k") == b"v", "AOF lost an acknowledged write"
        print("redis ok (kill -9 + restart kept the write) port %d" % r.port)
    with RedisCluster(3) as c:
        assert c.cli("SET", "a", "1") == "OK"
        i = c.node_for_key("a")
        c.restart_node(i, kill=True)
        assert c.cli("GET", "a") == "1"
        print("cluster ok: %s (node %d restarted)" % (c.seeds, i))
    with Dynalite() as d:
        assert d.list_tables() == []
        print("dynalite ok %s" % d.endpoint)
    with S3rver(buckets=["diamond"]) as s:
        s.put_object("dm/x", b"\x00\xffdata")
        assert s.get_object("dm/x") == b"\x00\xffdata" and s.list_keys("dm/") == ["dm/x"]
        s.restart()
        assert s.get_object("dm/x") == b"\x00\xffdata"
        print("s3rver ok %s" % s.endpoint)
    print("selftest passed in %.1f s" % (time.monotonic() - t0))


def _serve():
    """The engines on conf/test-engines.ini's fixed ports, until Ctrl-C or SIGTERM."""
    parts = [Redis(port=6379), Dynalite(port=4567), S3rver(port=4568, buckets=["diamond"])]
    try:
        for p in parts:
            p.start()
            print("%s on 127.0.0.1:%d (pid %d, dir %s)" % (p.name, p.port, p.pid, p.root))
        print(to_ini(merge_config(*parts)) + "env: %s" % " ".join(
            "%s=%s" % kv for kv in AWS_ENV.items()))
        sys.stdout.flush()
        while all(p.running() for p in parts):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for p in parts:
            p.cleanup()


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "selftest"
    if what == "serve":
        _serve()
    elif what == "selftest":
        _selftest()
    else:
        sys.exit("usage: engines.py selftest|serve")
