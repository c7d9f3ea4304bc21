"""graphite_ref.py: the reference Graphite (Debian's graphite-carbon + graphite-web 1.1) on
loopback, for the differential test and the /render benchmark.

Carbon(step, days): carbon-cache in the foreground on a temp dir: plaintext TCP on a free
port, the cache query port (carbonlink) on another, whisper files at one retention
`<step>s:<days>d` for every series, no rate limits on creates or updates.
GraphiteWeb(carbon): graphite-web's WSGI app under gunicorn on a free port, reading the
carbon's whisper dir and asking its carbonlink for points not yet on disk.

Both are engines._Process: started by PID, stopped by PID (cleanup()), logs on failure.
Needs the Debian packages graphite-carbon, graphite-web and gunicorn (scripts/deps.sh --test).
"""

import http.client
import json
import os
import socket
import time
import urllib.parse

import engines
from harness import free_port

SYS_PYTHON = "/usr/bin/python3"  # Debian's python, where graphite and carbon are installed
CARBON = "/usr/bin/carbon-cache"
GUNICORN = "/usr/bin/gunicorn"


def available():
    """None if the reference can run here, else why not."""
    for path in (CARBON, GUNICORN, SYS_PYTHON):
        if not os.path.exists(path):
            return "%s not found: run `make test-deps` (graphite-carbon, graphite-web, " \
                   "gunicorn)" % path
    if not os.path.isdir("/usr/lib/python3/dist-packages/graphite"):
        return "graphite-web not installed: run `make test-deps`"
    return None


class Carbon(engines._Process):
    name = "carbon"

    def __init__(self, step=60, days=30):
        super().__init__()
        self.step = step
        self.days = days
        self.query_port = None
        self.storage = os.path.join(self.root, "storage")
        self.whisper = os.path.join(self.storage, "whisper")
        os.makedirs(self.whisper, exist_ok=True)

    def _write_conf(self):
        if self.query_port is None:
            self.query_port = free_port()
        with open(os.path.join(self.root, "storage-schemas.conf"), "w") as f:
            f.write("[all]\npattern = .*\nretentions = %ds:%dd\n" % (self.step, self.days))
        with open(os.path.join(self.root, "storage-aggregation.conf"), "w") as f:
            f.write("[default]\npattern = .*\nxFilesFactor = 0\naggregationMethod = average\n")
        conf = {
            "STORAGE_DIR": self.storage, "LOCAL_DATA_DIR": self.whisper,
            "WHITELISTS_DIR": os.path.join(self.storage, "lists"), "CONF_DIR": self.root,
            "LOG_DIR": self.root, "PID_DIR": self.root, "ENABLE_LOGROTATION": "False",
            "USER": "", "MAX_CACHE_SIZE": "inf", "MAX_UPDATES_PER_SECOND": "inf",
            "MAX_CREATES_PER_MINUTE": "inf", "LINE_RECEIVER_INTERFACE": "127.0.0.1",
            "LINE_RECEIVER_PORT": str(self.port), "ENABLE_UDP_LISTENER": "False",
            "PICKLE_RECEIVER_INTERFACE": "127.0.0.1", "PICKLE_RECEIVER_PORT": "0",
            "CACHE_QUERY_INTERFACE": "127.0.0.1", "CACHE_QUERY_PORT": str(self.query_port),
            "LOG_LISTENER_CONNECTIONS": "False", "LOG_UPDATES": "False",
            "LOG_CACHE_HITS": "False", "WHISPER_AUTOFLUSH": "False",
            "CACHE_WRITE_STRATEGY": "sorted",
        }
        with open(os.path.join(self.root, "carbon.conf"), "w") as f:
            f.write("[cache]\n" + "".join("%s = %s\n" % kv for kv in conf.items()))

    def argv(self):
        self._write_conf()
        return [SYS_PYTHON, CARBON, "--config", os.path.join(self.root, "carbon.conf"),
                "--pidfile", os.path.join(self.root, "carbon.pid"),
                "--logdir", self.root, "--nodaemon", "start"]

    def ready(self):
        with socket.create_connection(("127.0.0.1", self.port), timeout=1):
            pass
        with socket.create_connection(("127.0.0.1", self.query_port), timeout=1):
            return True

    def send(self, lines):
        """Plaintext lines ("name value ts") over one TCP connection."""
        data = "".join(l if l.endswith("\n") else l + "\n" for l in lines).encode()
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as s:
            s.sendall(data)

    def whisper_files(self):
        n = 0
        for _, _, files in os.walk(self.whisper):
            n += sum(1 for f in files if f.endswith(".wsp"))
        return n


class GraphiteWeb(engines._Process):
    name = "graphite-web"

    def __init__(self, carbon, workers=2):
        super().__init__()
        self.carbon = carbon
        self.workers = workers
        self.pkg = os.path.join(self.root, "py")
        os.makedirs(self.pkg, exist_ok=True)

    def _write_settings(self):
        c = self.carbon
        text = "\n".join([
            "SECRET_KEY = 'diamond-differential-test'",
            "GRAPHITE_ROOT = '/usr/share/graphite-web'",
            "STATIC_ROOT = '/usr/share/graphite-web/static'",
            "CONF_DIR = %r" % self.root,
            "STORAGE_DIR = %r" % c.storage,
            "WHISPER_DIR = %r" % c.whisper,
            "STANDARD_DIRS = [%r]" % c.whisper,
            "LOG_DIR = %r" % self.root,
            "INDEX_FILE = %r" % os.path.join(self.root, "index"),
            "LOG_ROTATION = False",
            "LOG_RENDERING_PERFORMANCE = False",
            "LOG_CACHE_PERFORMANCE = False",
            "DEFAULT_XFILES_FACTOR = 0",
            "CARBONLINK_HOSTS = ['127.0.0.1:%d']" % c.query_port,
            "CARBONLINK_TIMEOUT = 5.0",
            "TAGDB = ''",
            "FUNCTION_PLUGINS = []",
            "USE_WORKER_POOL = False",
            "TIME_ZONE = 'UTC'",
            "DATABASES = {'default': {'NAME': %r, 'ENGINE': 'django.db.backends.sqlite3'}}"
            % os.path.join(self.root, "graphite.db"),
            "",
        ])
        with open(os.path.join(self.pkg, "diamond_graphite_settings.py"), "w") as f:
            f.write(text)

    def argv(self):
        self._write_settings()
        return ["env", "GRAPHITE_SETTINGS_MODULE=diamond_graphite_settings",
                "DJANGO_SETTINGS_MODULE=graphite.settings", "PYTHONPATH=" + self.pkg,
                SYS_PYTHON, GUNICORN, "--bind", "127.0.0.1:%d" % self.port,
                "--workers", str(self.workers), "--timeout", "120",
                "--pythonpath", self.pkg, "graphite.wsgi:application"]

    def start(self, timeout=60.0):
        return super().start(timeout)

    def ready(self):
        status, _ = self.get("/version")
        return status == 200

    def get(self, path, timeout=120):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("GET", path)
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def render(self, targets, frm, until, **params):
        """/render?format=json: the decoded list (raises on a non-200)."""
        q = [("target", t) for t in ([targets] if isinstance(targets, str) else targets)]
        q += [("from", str(frm)), ("until", str(until)), ("format", "json")]
        q += [(k, str(v)) for k, v in params.items()]
        status, body = self.get("/render?" + urllib.parse.urlencode(q))
        if status != 200:
            raise engines.EngineError("graphite-web /render %d: %s" % (status, body[-2000:]))
        return json.loads(body)


def wait_points(web, target, frm, until, count, timeout=60.0):
    """Waits until graphite-web's render of target has `count` non-null points in total."""
    deadline = time.monotonic() + timeout
    got = -1
    while time.monotonic() < deadline:
        try:
            got = sum(1 for s in web.render(target, frm, until) for v, _ in s["datapoints"]
                      if v is not None)
            if got >= count:
                return got
        except (OSError, engines.EngineError, ValueError):
            pass
        time.sleep(0.2)
    raise engines.EngineError("graphite-web: %d of %d points of %s after %.0f s" %
                              (got, count, target, timeout))
