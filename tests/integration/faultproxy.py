"""faultproxy.py: a fault-injecting HTTP/1.1 reverse proxy for the integration tests.

It listens on a random 127.0.0.1 port and forwards every request to one upstream (dynalite,
s3rver) byte-exact: the request head and body as the client sent them (Host included, so
a SigV4 signature made for the proxy's address stays valid), the response as the upstream
sent it; keep-alive on both sides, Content-Length and chunked bodies (trailers included),
bodies until close. One exception: for `Expect: 100-continue` the proxy answers
`100 Continue` itself, reads the body, and drops the upstream's own 100 (it needs the whole
request before deciding on a fault, and a client must not see two).

Rules decide, per request, whether to inject a fault instead: for the next `count`
requests (None: until cleared), with probability `fraction`, matching an optional `method`,
`path` substring and `target` substring of X-Amz-Target. The first rule that fires wins.

    kind         what the client gets
    throughput   400 ProvisionedThroughputExceededException (DynamoDB JSON, x-amzn-ErrorType)
    throttling   400 ThrottlingException (DynamoDB JSON)
    slowdown     503 SlowDown (S3 XML)
    internal     500: InternalServerError (DynamoDB JSON) when the request has X-Amz-Target,
                 else InternalError (S3 XML); flavour="dynamodb"|"s3" forces one
    status       any status=, body=, content_type=, headers={}
    delay        sleeps seconds=, then forwards (a slow reply)
    hang         holds the connection without a reply for seconds= (default 3600), then
                 closes it (a client timeout)
    reset        reads the request, then closes with SO_LINGER 0 (RST, no reply)

down(mode="refuse") closes the listener (connections are refused) and resets every open
connection; down(mode="reset") keeps listening but resets every request (control requests
still work); up() listens again on the same port. seconds= brings it back by itself.

In-process (threads in the test process):

    with FaultProxy(dynalite.endpoint) as p:
        p.add_rule("throughput", count=2, target="BatchWriteItem")
        ... diamondd with table.endpoint = p.url ...
        assert p.stats()["faults"]["throughput"] == 2

The same over HTTP, on the proxy's port under /__faultproxy/ (or on a separate
control_port, which survives down("refuse")): GET stats, GET|POST|DELETE rules,
DELETE rules/<id>, POST down {"mode","seconds"}, POST up, POST reset-stats, GET log.
RemoteFaultProxy(url) is the client; `python3 faultproxy.py --upstream URL [--port P]
[--control-port Q]` runs it as its own process (FaultProxyProcess starts that).

Standard library only.
"""

import argparse
import collections
import http.client
import json
import os
import random
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.parse

CONTROL_PREFIX = "/__faultproxy"
KINDS = ("throughput", "throttling", "slowdown", "internal", "status", "delay", "hang", "reset")
ALIASES = {"throttle": "throughput", "provisioned": "throughput", "500": "internal",
           "error500": "internal", "slow": "delay", "s3_slowdown": "slowdown"}
MAX_HEAD = 256 * 1024
REASONS = {100: "Continue", 200: "OK", 400: "Bad Request", 404: "Not Found",
           500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
           504: "Gateway Timeout"}


class _Abort(Exception):
    """The connection is to be reset (down, stop)."""


class _Closed(Exception):
    """The peer closed (mid-message when raised from a read)."""


def _rst_close(sock):
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


def _request_id():
    return "".join(random.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(20))


class _Reader:
    """Buffered reads from a socket; polls `abort` every tick so another thread can end it."""

    def __init__(self, sock, abort=lambda: False, idle_timeout=None, tick=0.25):
        self.sock = sock
        self.buf = bytearray()
        self.abort = abort
        self.idle_timeout = idle_timeout
        self.tick = tick

    def _fill(self):
        start = time.monotonic()
        while True:
            if self.abort():
                raise _Abort()
            r, _, _ = select.select([self.sock], [], [], self.tick)
            if r:
                try:
                    data = self.sock.recv(65536)
                except (ConnectionResetError, BrokenPipeError) as e:
                    raise _Closed(str(e))
                if not data:
                    raise _Closed("eof")
                self.buf += data
                return
            if self.idle_timeout is not None and time.monotonic() - start > self.idle_timeout:
                raise socket.timeout("idle for %.0f s" % self.idle_timeout)

    def read_head(self):
        """Bytes up to and including the blank line; None on a clean EOF before any byte."""
        while True:
            i = self.buf.find(b"\r\n\r\n")
            if i >= 0:
                head = bytes(self.buf[:i + 4])
                del self.buf[:i + 4]
                return head
            if len(self.buf) > MAX_HEAD:
                raise ValueError("head over %d bytes" % MAX_HEAD)
            try:
                self._fill()
            except _Closed:
                if not self.buf:
                    return None
                raise

    def read_line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[:i + 2])
                del self.buf[:i + 2]
                return line
            if len(self.buf) > MAX_HEAD:
                raise ValueError("line over %d bytes" % MAX_HEAD)
            self._fill()

    def read_exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def read_some(self, n=65536):
        """Up to n bytes (at least one); raises _Closed at EOF."""
        if not self.buf:
            self._fill()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def chunked(self):
        """Yields the raw bytes of a chunked body (sizes, data, trailers) as they come."""
        while True:
            line = self.read_line()
            size = int(line.split(b";", 1)[0].strip(), 16)
            yield line
            if size == 0:
                while True:
                    t = self.read_line()
                    yield t
                    if t == b"\r\n":
                        return
            yield self.read_exact(size + 2)

    def body(self, framing):
        """Yields the raw body for a framing from _framing()."""
        kind, n = framing
        if kind == "length":
            left = n
            while left > 0:
                part = self.read_some(min(left, 65536))
                left -= len(part)
                yield part
        elif kind == "chunked":
            yield from self.chunked()
        elif kind == "close":
            while True:
                try:
                    yield self.read_some()
                except _Closed:
                    return


class Message:
    """A parsed HTTP head: start line parts and headers (original names and order)."""

    def __init__(self, raw):
        self.raw = raw
        lines = raw[:-4].decode("latin-1").split("\r\n")
        self.start = lines[0]
        parts = self.start.split(" ", 2)
        if len(parts) < 2:
            raise ValueError("bad start line %r" % self.start)
        self.parts = parts
        self.headers = []
        for line in lines[1:]:
            if not line:
                continue
            if line[0] in " \t" and self.headers:  # obsolete folding
                n, v = self.headers[-1]
                self.headers[-1] = (n, v + " " + line.strip())
                continue
            name, _, value = line.partition(":")
            self.headers.append((name.strip(), value.strip()))

    def header(self, name, default=None):
        name = name.lower()
        for n, v in self.headers:
            if n.lower() == name:
                return v
        return default

    def tokens(self, name):
        return [t.strip().lower() for n, v in self.headers if n.lower() == name.lower()
                for t in v.split(",") if t.strip()]

    # request
    @property
    def method(self):
        return self.parts[0].upper()

    @property
    def path(self):
        return self.parts[1]

    @property
    def version(self):
        return (self.parts[2] if len(self.parts) > 2 else "HTTP/1.0").upper()

    @property
    def target(self):
        return self.header("X-Amz-Target", "")

    # response
    @property
    def status(self):
        return int(self.parts[1])

    def keep_alive(self, version):
        conn = self.tokens("connection")
        if "close" in conn:
            return False
        if version == "HTTP/1.0":
            return "keep-alive" in conn
        return True


def _request_framing(req):
    te = req.tokens("transfer-encoding")
    if te and te[-1] == "chunked":
        return ("chunked", None)
    cl = req.header("content-length")
    if cl is not None:
        return ("length", int(cl))
    return ("none", 0)


def _response_framing(resp, method):
    st = resp.status
    if method == "HEAD" or st in (204, 304) or 100 <= st < 200:
        return ("none", 0)
    te = resp.tokens("transfer-encoding")
    if te and te[-1] == "chunked":
        return ("chunked", None)
    cl = resp.header("content-length")
    if cl is not None:
        return ("length", int(cl))
    return ("close", None)


class Rule:
    def __init__(self, kind, count=None, fraction=None, method=None, path=None, target=None,
                 rid=0, **params):
        kind = ALIASES.get(kind, kind)
        if kind not in KINDS:
            raise ValueError("unknown fault kind %r (one of %s)" % (kind, ", ".join(KINDS)))
        if count is not None and int(count) < 1:
            raise ValueError("count must be >= 1 or None")
        if fraction is not None and not 0.0 <= float(fraction) <= 1.0:
            raise ValueError("fraction must be in [0, 1]")
        allowed = {"seconds", "status", "body", "content_type", "headers", "message",
                   "flavour"}
        bad = set(params) - allowed
        if bad:
            raise ValueError("unknown rule parameter(s) %s" % ", ".join(sorted(bad)))
        self.id = rid
        self.kind = kind
        self.count = None if count is None else int(count)
        self.fraction = None if fraction is None else float(fraction)
        self.method = method.upper() if method else None
        self.path = path
        self.target = target
        self.params = params
        self.hits = 0

    def matches(self, req):
        if self.method and req.method != self.method:
            return False
        if self.path and self.path not in req.path:
            return False
        if self.target and self.target not in req.target:
            return False
        return True

    def to_dict(self):
        d = {"id": self.id, "kind": self.kind, "count": self.count, "fraction": self.fraction,
             "method": self.method, "path": self.path, "target": self.target, "hits": self.hits}
        d.update(self.params)
        return d


def _dynamodb_error(status, type_, message):
    body = json.dumps({"__type": type_, "message": message}).encode()
    short = type_.rsplit("#", 1)[-1]
    return status, "application/x-amz-json-1.0", body, [("x-amzn-ErrorType", short),
                                                        ("x-amzn-RequestId", _request_id())]


def _s3_error(status, code, message):
    rid = _request_id()
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code><Message>%s'
            '</Message><RequestId>%s</RequestId><HostId>faultproxy</HostId></Error>' %
            (code, message, rid)).encode()
    return status, "application/xml", body, [("x-amz-request-id", rid)]


def fault_response(rule, req):
    """(status, content type, body, [extra headers]) of an answering fault."""
    p = rule.params
    msg = p.get("message")
    if rule.kind == "throughput":
        return _dynamodb_error(400, "com.amazonaws.dynamodb.v20120810#"
                               "ProvisionedThroughputExceededException",
                               msg or "The level of configured provisioned throughput for the "
                               "table was exceeded. Consider increasing your provisioning "
                               "level with the UpdateTable API.")
    if rule.kind == "throttling":
        return _dynamodb_error(400, "com.amazon.coral.availability#ThrottlingException",
                               msg or "Rate of requests exceeds the allowed throughput.")
    if rule.kind == "slowdown":
        return _s3_error(503, "SlowDown", msg or "Please reduce your request rate.")
    if rule.kind == "internal":
        flavour = p.get("flavour") or ("dynamodb" if req.target else "s3")
        if flavour == "dynamodb":
            return _dynamodb_error(500, "com.amazonaws.dynamodb.v20120810#InternalServerError",
                                   msg or "Internal server error")
        return _s3_error(500, "InternalError",
                         msg or "We encountered an internal error. Please try again.")
    if rule.kind == "status":
        body = p.get("body", "")
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        return (int(p.get("status", 500)), p.get("content_type", "text/plain"), body,
                list(dict(p.get("headers") or {}).items()))
    raise ValueError("not an answering fault: %s" % rule.kind)


def _response_bytes(status, ctype, body, extra, method, close=False):
    lines = ["HTTP/1.1 %d %s" % (status, REASONS.get(status, "Error")),
             "Content-Type: %s" % ctype, "Content-Length: %d" % len(body)]
    lines += ["%s: %s" % kv for kv in extra]
    lines.append("Date: %s" % time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime()))
    if close:
        lines.append("Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head if method == "HEAD" else head + body


def _parse_upstream(upstream):
    if isinstance(upstream, int):
        return "127.0.0.1", upstream
    if isinstance(upstream, (tuple, list)):
        return upstream[0], int(upstream[1])
    u = urllib.parse.urlsplit(upstream if "//" in upstream else "http://" + upstream)
    if u.scheme not in ("http", ""):
        raise ValueError("only http upstreams: %r" % upstream)
    return u.hostname or "127.0.0.1", u.port or 80


class FaultProxy:
    """The proxy, as threads in this process. upstream: "http://127.0.0.1:P", (host, port)
    or a port. port=0: a free port (kept across down/up). control_port: also serve the
    control API on its own listener (0: a free port). seed: the fraction rules' RNG."""

    def __init__(self, upstream, port=0, host="127.0.0.1", control_port=None, seed=None,
                 upstream_timeout=120.0, idle_timeout=300.0, log_size=10000):
        self.upstream = _parse_upstream(upstream)
        self.host = host
        self.port = port
        self.control_port = control_port
        self.upstream_timeout = upstream_timeout
        self.idle_timeout = idle_timeout
        self.rng = random.Random(seed)
        self._lock = threading.Lock()
        self._rules = []
        self._next_id = 1
        self._log = collections.deque(maxlen=log_size)
        self._conns = {}  # id -> [socket, abort flag]
        self._conn_seq = 0
        self._listener = None
        self._control_listener = None
        self._threads = []
        self._stopping = False
        self._down = None  # None, "refuse" or "reset"
        self._up_timer = None
        self.reset_stats()

    # --- lifecycle ------------------------------------------------------------------------
    def start(self):
        self._stopping = False
        self._listen()
        if self.control_port is not None:
            s = self._bind(self.control_port)
            self.control_port = s.getsockname()[1]
            self._control_listener = s
            self._spawn(self._accept_loop, s, True)
        return self

    def stop(self):
        """Closes the listeners and resets every connection; joins the threads."""
        self._stopping = True
        if self._up_timer:
            self._up_timer.cancel()
        self._close_listener()
        if self._control_listener is not None:
            self._control_listener.close()
            self._control_listener = None
        self._abort_all()
        for t in list(self._threads):
            if t is not threading.current_thread():
                t.join(5)
        self._threads = [t for t in self._threads if t.is_alive()]

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    @property
    def url(self):
        """http://127.0.0.1:P: the endpoint to give the client instead of the upstream's."""
        return "http://%s:%d" % (self.host, self.port)

    endpoint = url

    @property
    def control_url(self):
        return "http://%s:%d%s" % (self.host, self.control_port or self.port, CONTROL_PREFIX)

    def _bind(self, port):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((self.host, port))
        s.listen(128)
        return s

    def _listen(self):
        s = self._bind(self.port)
        self.port = s.getsockname()[1]
        self._listener = s
        self._accept_thread = self._spawn(self._accept_loop, s, False)

    def _close_listener(self):
        """Stops listening now: shutdown (a listening socket leaves LISTEN at once and the
        select() in the accept thread wakes), close, and wait for that thread, whose
        select() would otherwise hold the socket open for a moment."""
        s, self._listener = self._listener, None
        if s is None:
            return
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            s.close()
        except OSError:
            pass
        t = getattr(self, "_accept_thread", None)
        if t is not None and t is not threading.current_thread():
            t.join(5)

    def _spawn(self, fn, *args):
        t = threading.Thread(target=fn, args=args, daemon=True)
        self._threads = [x for x in self._threads if x.is_alive()] + [t]
        t.start()
        return t

    def _accept_loop(self, lsock, control_only):
        while not self._stopping:
            try:
                r, _, _ = select.select([lsock], [], [], 0.2)
            except (OSError, ValueError):
                return  # closed
            if lsock.fileno() < 0 or (not control_only and lsock is not self._listener):
                return
            if not r:
                continue
            try:
                c, _ = lsock.accept()
            except OSError:
                return
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._conn_seq += 1
                cid = self._conn_seq
                self._conns[cid] = [c, False]
                if not control_only:
                    self._stats["connections"] += 1
            self._spawn(self._serve, cid, c, control_only)

    def _abort_all(self):
        with self._lock:
            for entry in self._conns.values():
                entry[1] = True

    # --- rules and state (the Python API) --------------------------------------------------
    def add_rule(self, kind, count=None, fraction=None, method=None, path=None, target=None,
                 **params):
        """Adds a rule (see the module doc); returns its id."""
        with self._lock:
            r = Rule(kind, count, fraction, method, path, target, rid=self._next_id, **params)
            self._next_id += 1
            self._rules.append(r)
            return r.id

    def fail(self, kind, n=1, **kw):
        """add_rule(kind, count=n, ...): the next n matching requests."""
        return self.add_rule(kind, count=n, **kw)

    def remove_rule(self, rid):
        with self._lock:
            before = len(self._rules)
            self._rules = [r for r in self._rules if r.id != rid]
            return len(self._rules) != before

    def clear(self):
        """Removes every rule."""
        with self._lock:
            self._rules = []

    def rules(self):
        with self._lock:
            return [r.to_dict() for r in self._rules]

    def down(self, mode="refuse", seconds=None):
        """refuse: stop listening (connections refused) and reset open connections; reset:
        keep listening, reset every request. seconds: up() again after that long."""
        if mode not in ("refuse", "reset"):
            raise ValueError("mode must be refuse or reset")
        with self._lock:
            self._down = mode
        if self._up_timer:
            self._up_timer.cancel()
            self._up_timer = None
        if mode == "refuse":
            self._close_listener()
        self._abort_all()
        if seconds is not None:
            self._up_timer = threading.Timer(float(seconds), self.up)
            self._up_timer.daemon = True
            self._up_timer.start()

    def up(self):
        """Listens again (same port) and stops resetting."""
        with self._lock:
            mode, self._down = self._down, None
        if mode == "refuse" and self._listener is None and not self._stopping:
            for _ in range(50):  # the old socket may linger a moment
                try:
                    self._listen()
                    break
                except OSError:
                    time.sleep(0.05)
            else:
                raise OSError("could not listen on %s:%d again" % (self.host, self.port))

    @property
    def is_down(self):
        return self._down

    def stats(self):
        """{"requests", "forwarded", "faults": {kind: n}, "connections", "reset_down",
        "upstream_errors", "rules": [...], "down"}; control requests are not counted."""
        with self._lock:
            s = json.loads(json.dumps(self._stats))
            s["rules"] = [r.to_dict() for r in self._rules]
            s["down"] = self._down
            return s

    def faults(self, kind=None):
        """Faults injected, of one kind or all."""
        with self._lock:
            f = self._stats["faults"]
            return f.get(ALIASES.get(kind, kind), 0) if kind else sum(f.values())

    def reset_stats(self):
        with self._lock:
            self._stats = {"requests": 0, "forwarded": 0, "faults": {}, "connections": 0,
                           "reset_down": 0, "upstream_errors": 0}
            self._log.clear()

    def log(self, n=None):
        """The latest requests: [{"method", "path", "target", "fault", "time"}]."""
        with self._lock:
            items = list(self._log)
        return items[-n:] if n else items

    def seen(self, method=None, path=None, target=None, fault=False):
        """How many logged requests match (fault=True: only those given a fault)."""
        n = 0
        for e in self.log():
            if method and e["method"] != method.upper():
                continue
            if path and path not in e["path"]:
                continue
            if target and target not in e["target"]:
                continue
            if fault and not e["fault"]:
                continue
            n += 1
        return n

    def _choose(self, req):
        with self._lock:
            self._stats["requests"] += 1
            fired = None
            for r in self._rules:
                if not r.matches(req):
                    continue
                if r.fraction is not None and self.rng.random() >= r.fraction:
                    continue
                fired = r
                break
            if fired is not None:
                fired.hits += 1
                f = self._stats["faults"]
                f[fired.kind] = f.get(fired.kind, 0) + 1
                if fired.count is not None:
                    fired.count -= 1
                    if fired.count <= 0:
                        self._rules.remove(fired)
            self._log.append({"method": req.method, "path": req.path, "target": req.target,
                              "fault": fired.kind if fired else None, "time": time.time()})
            return fired

    def _count(self, key):
        with self._lock:
            self._stats[key] += 1

    # --- one connection ---------------------------------------------------------------
    def _serve(self, cid, sock, control_only):
        def aborted():
            return self._stopping or self._conns.get(cid, [None, True])[1]

        rd = _Reader(sock, aborted, self.idle_timeout)
        up = None  # [socket, _Reader] of the upstream connection
        rst = False
        try:
            while True:
                raw = rd.read_head()
                if raw is None:
                    break
                req = Message(raw)
                framing = _request_framing(req)
                expect = "100-continue" in req.tokens("expect") and framing != ("none", 0) \
                    and framing != ("length", 0)
                keep = req.keep_alive(req.version)
                if req.path.startswith(CONTROL_PREFIX):
                    if expect:
                        sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                    body = b"".join(rd.body(framing))
                    sock.sendall(self._control(req, body, keep))
                    if not keep:
                        break
                    continue
                if control_only:
                    sock.sendall(_response_bytes(404, "text/plain", b"control port only\n", [],
                                                 req.method, close=True))
                    break
                if self._down is not None:
                    self._count("reset_down")
                    rst = True
                    break
                rule = self._choose(req)
                kind = rule.kind if rule else None
                if kind == "reset":
                    if not expect:
                        for _ in rd.body(framing):
                            pass
                    rst = True
                    break
                if expect:
                    sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                body = b"".join(rd.body(framing))
                if kind in ("delay", "hang"):
                    default = 1.0 if kind == "delay" else 3600.0
                    end = time.monotonic() + float(rule.params.get("seconds", default))
                    while time.monotonic() < end:
                        if aborted():
                            raise _Abort()
                        time.sleep(min(0.05, max(0.0, end - time.monotonic())))
                    if kind == "hang":
                        break
                elif kind is not None:
                    st, ctype, fbody, extra = fault_response(rule, req)
                    sock.sendall(_response_bytes(st, ctype, fbody, extra, req.method,
                                                 close=not keep))
                    if not keep:
                        break
                    continue
                up, again = self._forward(req, raw, body, sock, up, aborted)
                if not (keep and again):
                    break
        except _Abort:
            rst = True
        except (_Closed, OSError, ValueError, socket.timeout):
            pass
        finally:
            with self._lock:
                self._conns.pop(cid, None)
            if up is not None:
                try:
                    up[0].close()
                except OSError:
                    pass
            if rst:
                _rst_close(sock)
            else:
                try:
                    sock.close()
                except OSError:
                    pass

    def _connect_upstream(self, aborted):
        s = socket.create_connection(self.upstream, timeout=10)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.settimeout(None)
        return [s, _Reader(s, aborted, self.upstream_timeout)]

    @staticmethod
    def _stale(up):
        """True if a kept-alive upstream connection was closed (or sent something unasked)."""
        try:
            r, _, _ = select.select([up[0]], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(r) or bool(up[1].buf)

    def _forward(self, req, raw, body, client, up, aborted):
        """Sends the request upstream and relays the response. Returns (upstream connection
        to keep or None, whether the client connection may carry another request)."""
        for attempt in range(2):
            reused = up is not None
            if up is not None and self._stale(up):
                up[0].close()
                up, reused = None, False
            try:
                if up is None:
                    up = self._connect_upstream(aborted)
                up[0].sendall(raw + body)
                resp_raw = up[1].read_head()
                if resp_raw is None:
                    raise _Closed("upstream closed before answering")
            except _Abort:
                raise
            except (OSError, _Closed, socket.timeout) as e:
                if up is not None:
                    up[0].close()
                    up = None
                if reused and attempt == 0:
                    continue  # a kept-alive connection the upstream had closed: once more
                self._count("upstream_errors")
                client.sendall(_response_bytes(502, "text/plain",
                                               ("faultproxy: upstream %s:%d: %s\n" %
                                                (self.upstream[0], self.upstream[1], e))
                                               .encode(), [], req.method, close=True))
                return None, False
            break
        self._count("forwarded")
        try:
            while True:
                resp = Message(resp_raw)
                if 100 <= resp.status < 200:
                    if resp.status != 100:  # our own 100 Continue went out already
                        client.sendall(resp_raw)
                    resp_raw = up[1].read_head()
                    if resp_raw is None:
                        raise _Closed("upstream closed after an interim response")
                    continue
                break
            framing = _response_framing(resp, req.method)
            client.sendall(resp_raw)
            for part in up[1].body(framing):
                client.sendall(part)
        except (_Closed, socket.timeout, OSError):
            self._count("upstream_errors")
            up[0].close()
            return None, False
        up_keep = framing[0] != "close" and resp.keep_alive(resp.parts[0].upper())
        if not up_keep:
            up[0].close()
            up = None
        return up, up_keep or framing[0] != "close"

    # --- control API ------------------------------------------------------------------
    def _control(self, req, body, keep):
        u = urllib.parse.urlsplit(req.path)
        sub = u.path[len(CONTROL_PREFIX):].strip("/")
        m = req.method
        try:
            data = json.loads(body.decode() or "{}") if body else {}
            if m == "GET" and sub == "stats":
                out = self.stats()
            elif sub == "rules" and m == "GET":
                out = self.rules()
            elif sub == "rules" and m == "POST":
                data = dict(data)
                kind = data.pop("kind")
                out = {"id": self.add_rule(kind, **data)}
            elif sub == "rules" and m == "DELETE":
                self.clear()
                out = {"cleared": True}
            elif sub.startswith("rules/") and m == "DELETE":
                out = {"removed": self.remove_rule(int(sub[6:]))}
            elif sub == "down" and m == "POST":
                self.down(data.get("mode", "refuse"), data.get("seconds"))
                out = {"down": data.get("mode", "refuse")}
            elif sub == "up" and m == "POST":
                self.up()
                out = {"down": None}
            elif sub == "reset-stats" and m == "POST":
                self.reset_stats()
                out = {"reset": True}
            elif sub == "log" and m == "GET":
                q = urllib.parse.parse_qs(u.query)
                out = self.log(int(q["n"][0]) if "n" in q else None)
            else:
                return _response_bytes(404, "application/json",
                                       b'{"error":"unknown control call"}', [], m,
                                       close=not keep)
            return _response_bytes(200, "application/json", json.dumps(out).encode(), [], m,
                                   close=not keep)
        except (ValueError, KeyError, TypeError) as e:
            return _response_bytes(400, "application/json",
                                   json.dumps({"error": str(e)}).encode(), [], m,
                                   close=not keep)


class RemoteFaultProxy:
    """The control API of a proxy elsewhere: RemoteFaultProxy("http://127.0.0.1:P") (its
    proxy or control port). Same methods as FaultProxy's Python API."""

    def __init__(self, url, timeout=10.0):
        u = urllib.parse.urlsplit(url)
        self._ctl = (u.hostname, u.port)
        self.timeout = timeout

    def _call(self, method, sub, data=None):
        c = http.client.HTTPConnection(self._ctl[0], self._ctl[1], timeout=self.timeout)
        try:
            body = json.dumps(data).encode() if data is not None else None
            c.request(method, "%s/%s" % (CONTROL_PREFIX, sub), body=body,
                      headers={"Content-Type": "application/json"} if body else {})
            r = c.getresponse()
            out = json.loads(r.read().decode() or "null")
            if r.status != 200:
                raise RuntimeError("faultproxy %s %s: %d %r" % (method, sub, r.status, out))
            return out
        finally:
            c.close()

    def add_rule(self, kind, count=None, fraction=None, method=None, path=None, target=None,
                 **params):
        d = {"kind": kind, "count": count, "fraction": fraction, "method": method, "path": path,
             "target": target}
        d.update(params)
        return self._call("POST", "rules", d)["id"]

    def fail(self, kind, n=1, **kw):
        return self.add_rule(kind, count=n, **kw)

    def remove_rule(self, rid):
        return self._call("DELETE", "rules/%d" % rid)["removed"]

    def clear(self):
        self._call("DELETE", "rules")

    def rules(self):
        return self._call("GET", "rules")

    def down(self, mode="refuse", seconds=None):
        self._call("POST", "down", {"mode": mode, "seconds": seconds})

    def up(self):
        self._call("POST", "up", {})

    def stats(self):
        return self._call("GET", "stats")

    def faults(self, kind=None):
        f = self.stats()["faults"]
        return f.get(ALIASES.get(kind, kind), 0) if kind else sum(f.values())

    def reset_stats(self):
        self._call("POST", "reset-stats", {})

    def log(self, n=None):
        return self._call("GET", "log" + ("?n=%d" % n if n else ""))


class FaultProxyProcess(RemoteFaultProxy):
    """`python3 faultproxy.py` as a child process (stopped by its PID; registered with
    harness.track_child). url: the proxy; control_url: a separate control port that keeps
    working while the proxy is down("refuse")."""

    def __init__(self, upstream, port=0, seed=None, timeout=10.0):
        cmd = [sys.executable, os.path.abspath(__file__), "--upstream",
               "http://%s:%d" % _parse_upstream(upstream), "--port", str(port),
               "--control-port", "0"]
        if seed is not None:
            cmd += ["--seed", str(seed)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        try:
            import harness
            harness.track_child(self.proc)
        except ImportError:
            pass
        line = self.proc.stdout.readline().decode()
        # "faultproxy listening 127.0.0.1:P control 127.0.0.1:Q upstream H:U"
        parts = line.split()
        if len(parts) < 4 or parts[1] != "listening":
            self.stop()
            raise RuntimeError("faultproxy did not start: %r" % line)
        self.port = int(parts[2].rsplit(":", 1)[1])
        self.control_port = int(parts[4].rsplit(":", 1)[1])
        self.url = "http://127.0.0.1:%d" % self.port
        self.endpoint = self.url
        self.control_url = "http://127.0.0.1:%d" % self.control_port
        super().__init__(self.control_url, timeout)

    def stop(self, timeout=10.0):
        p = self.proc
        try:
            import harness
            harness.untrack_child(p)
        except ImportError:
            pass
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if p.stdout:
            p.stdout.close()
        return p.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


def main(argv=None):
    ap = argparse.ArgumentParser(description="fault-injecting HTTP/1.1 reverse proxy")
    ap.add_argument("--upstream", required=True, help="http://host:port")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--control-port", type=int, default=None,
                    help="also serve the control API here (0: a free port)")
    ap.add_argument("--seed", type=int, default=None)
    a = ap.parse_args(argv)
    p = FaultProxy(a.upstream, port=a.port, host=a.host, control_port=a.control_port,
                   seed=a.seed).start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    print("faultproxy listening %s:%d control %s:%d upstream %s:%d" % (
        a.host, p.port, a.host, p.control_port or p.port, p.upstream[0], p.upstream[1]),
        flush=True)
    while not done.wait(0.5):
        pass
    p.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
