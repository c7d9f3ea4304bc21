"""test_page: the graph page at GET /, served from the binary.

GET / and GET /static/<file> answer the bytes of web/ and of uPlot's dist files (embedded at
build time by cmake/embed.cmake) with their content types, an ETag and Cache-Control, 304
for If-None-Match, 404 for an unknown file, and need no key when keys are configured.

Then headless Chromium (Debian package chromium) loads
/?target=host.h1.cpu&target=host.h2.cpu&from=-1h against a diamondd holding those series:
--dump-dom gives the DOM after the scripts ran, whose <pre id="status"> (written by app.js
once the chart drew) names the series and their non-null point counts; --screenshot saves a
PNG into the test's temp dir (its path is printed). That part is skipped only while GET
/render answers 404 (the Graphite render API not built yet)."""

import base64
import hashlib
import html
import http.client
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (ROOT, STEP, ServerTestCase, floor_step, main, now,  # noqa: E402
                     track_child, track_dir, untrack_child)

UPLOT = os.path.join(ROOT, "web", "node_modules", "uplot", "dist")
FILES = {  # URL -> (file, content type)
    "/": (os.path.join(ROOT, "web", "index.html"), "text/html; charset=utf-8"),
    "/static/index.html": (os.path.join(ROOT, "web", "index.html"), "text/html; charset=utf-8"),
    "/static/app.js": (os.path.join(ROOT, "web", "app.js"), "text/javascript; charset=utf-8"),
    "/static/app.css": (os.path.join(ROOT, "web", "app.css"), "text/css; charset=utf-8"),
    "/static/uPlot.iife.min.js": (os.path.join(UPLOT, "uPlot.iife.min.js"),
                                  "text/javascript; charset=utf-8"),
    "/static/uPlot.min.css": (os.path.join(UPLOT, "uPlot.min.css"), "text/css; charset=utf-8"),
}
KEY = "pagekey"


def chromium_flags(profile, budget=True):
    return ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage", "--user-data-dir=" + profile, "--window-size=1200,800"] + \
        (["--virtual-time-budget=10000"] if budget else [])


# ---- a minimal DevTools client, to click, type and drag (no npm playwright needed) ----

class CDP:
    """A minimal Chrome DevTools Protocol client over one page's WebSocket (stdlib only)."""

    def __init__(self, ws_url, timeout=30):
        m = re.match(r"ws://([^/:]+):(\d+)(/.*)", ws_url)
        self.sock = socket.create_connection((m.group(1), int(m.group(2))), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(("GET %s HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n"
                           % (m.group(3), m.group(1), m.group(2), key)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise OSError("DevTools closed the WebSocket handshake")
            head += chunk
        head, self.buf = head.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise OSError("DevTools refused the WebSocket: %r" % head[:200])
        self.next_id = 0

    def _recv_exact(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise OSError("DevTools closed the WebSocket")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _recv_msg(self):
        data = b""
        while True:
            b0, b1 = self._recv_exact(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._recv_exact(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._recv_exact(8))[0]
            payload = self._recv_exact(n)  # a server never masks
            op = b0 & 0x0F
            if op == 8:
                raise OSError("DevTools closed the WebSocket")
            if op in (0, 1, 2):
                data += payload
                if b0 & 0x80:
                    return json.loads(data.decode())

    def _send_msg(self, text):
        payload = text.encode()
        n = len(payload)
        head = bytes([0x81])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def call(self, method, **params):
        self.next_id += 1
        self._send_msg(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = self._recv_msg()
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise AssertionError("%s: %s" % (method, msg["error"]))
                return msg.get("result", {})

    def eval(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise AssertionError("%s: %s" % (expr, r["exceptionDetails"]))
        return r["result"].get("value")

    def wait(self, expr, timeout=15.0, what=None):
        """Polls a JS expression until truthy; returns its value."""
        end = time.time() + timeout
        while True:
            try:
                v = self.eval(expr)
            except AssertionError:  # e.g. the page is still loading
                v = None
            if v:
                return v
            if time.time() > end:
                raise AssertionError("timed out waiting for %s" % (what or expr))
            time.sleep(0.1)

    def close(self):
        self.sock.close()


def start_chromium(chromium, flags, url):
    """chromium with --remote-debugging-port=0: (Popen, CDP of the page showing url)."""
    p = track_child(subprocess.Popen([chromium] + flags + ["--remote-debugging-port=0", url],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
    port, end, err = None, time.time() + 30, b""
    while port is None:
        line = p.stderr.readline()
        if not line and (p.poll() is not None or time.time() > end):
            raise AssertionError("chromium gave no DevTools port: %s" % err[-2000:])
        err += line
        m = re.search(rb"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
        if m:
            port = int(m.group(1))
    # keep draining stderr so that chromium never blocks on a full pipe
    threading.Thread(target=lambda: [None for _ in p.stderr], daemon=True).start()
    while True:
        with urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port, timeout=10) as r:
            pages = [t for t in json.load(r) if t.get("type") == "page"]
        if pages:
            return p, CDP(pages[0]["webSocketDebuggerUrl"])
        if time.time() > end:
            raise AssertionError("chromium has no page target")
        time.sleep(0.1)


class Page(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        # with a key configured: the page's files must still need none
        cls.start_class_server(sets=["auth.keys=%s=read+write" % KEY])

    def raw_get(self, path, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.server.http_port, timeout=30)
        try:
            c.request("GET", path, headers=headers or {})
            r = c.getresponse()
            body = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, body
        finally:
            c.close()

    def test_files_bytes_types_etags(self):
        etags = {}
        for url, (path, ctype) in FILES.items():
            with open(path, "rb") as f:
                want = f.read()
            st, h, body = self.raw_get(url)
            self.assertEqual(st, 200, url)
            self.assertEqual(body, want, url)
            self.assertEqual(h["content-type"], ctype, url)
            self.assertEqual(h["cache-control"], "no-cache", url)
            self.assertEqual(h["etag"], '"%s"' % hashlib.sha256(want).hexdigest()[:16], url)
            etags[url] = h["etag"]
            # HEAD: the headers without the body
            c = http.client.HTTPConnection("127.0.0.1", self.server.http_port, timeout=30)
            c.request("HEAD", url)
            r = c.getresponse()
            self.assertEqual((r.status, r.read()), (200, b""), url)
            c.close()
        self.assertEqual(etags["/"], etags["/static/index.html"])
        self.assertEqual(len(set(etags.values())), len(FILES) - 1)

    def test_if_none_match(self):
        for url in FILES:
            st, h, _ = self.raw_get(url)
            etag = h["etag"]
            for inm in (etag, "W/" + etag, '"nope", ' + etag, "*"):
                st, h2, body = self.raw_get(url, {"If-None-Match": inm})
                self.assertEqual((st, body), (304, b""), (url, inm))
                self.assertEqual(h2["etag"], etag)
            st, _, body = self.raw_get(url, {"If-None-Match": '"0000000000000000"'})
            self.assertEqual(st, 200, url)
            self.assertTrue(body)

    def test_unknown_static_file(self):
        for url in ("/static/nope.js", "/static/..%2Fapp.js", "/static/app.js/x", "/static/"):
            st, _, _ = self.raw_get(url)
            self.assertEqual(st, 404, url)

    def test_page_refers_only_to_itself(self):
        """No CDN, no external request: every src/href of the page is a served /static file."""
        _, _, body = self.raw_get("/")
        refs = re.findall(r'(?:src|href)="([^"]*)"', body.decode())
        self.assertTrue(refs)
        for ref in refs:
            if ref != "data:,":  # the (empty) icon, so that no /favicon.ico is asked for
                self.assertIn(ref, FILES, ref)
        for url in ("/static/app.js", "/static/app.css"):  # (uPlot's only URL is a comment)
            _, _, text = self.raw_get(url)
            self.assertNotIn("://", text.decode(), url)

    def chromium_server(self):
        """(chromium, profiles dir, screenshot dir, server with data); skips while /render is
        404. The key the page sends comes from localStorage, empty in a new profile, so the
        page is loaded from a second server, open (no keys)."""
        st, _, _ = self.raw_get("/render?target=host.h1.cpu&from=-1h&format=json",
                                {"X-Api-Key": KEY})
        if st == 404:
            self.skipTest("GET /render answers 404: the Graphite render API is not built yet")
        chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        self.assertIsNotNone(chromium, "chromium not installed (scripts/deps.sh --test)")
        profiles = track_dir(tempfile.mkdtemp(prefix="diamond-page-profiles-"))
        shots = tempfile.mkdtemp(prefix="diamond-page-")  # kept: the screenshots
        srv = self.start_server()
        t_end = floor_step(now()) - STEP
        points = []  # 55 points each over the last hour, and a series not asked for at first
        for host, base in (("h1", 20.0), ("h2", 60.0)):
            for i in range(55):
                points.append({"hostId": host, "name": "cpu", "time": t_end - i * STEP,
                               "value": base + 10 * ((i * 7) % 11) / 11.0})
        for i in range(30):
            points.append({"hostId": "h1", "name": "mem", "time": t_end - i * STEP,
                           "value": 40.0 + i % 5})
        st, _, body = srv.post_points(points)
        self.assertEqual(st, 200, body)
        return chromium, profiles, shots, srv

    def assert_drawn(self, status, names):
        self.assertEqual(status.get("state"), "drawn", status)
        self.assertEqual(sorted(s["name"] for s in status["series"]), sorted(names), status)
        for s in status["series"]:
            self.assertGreater(s["points"], 0, status)

    def test_chromium_draws_the_chart(self):
        """--dump-dom and --screenshot: the page as a shared link opens it."""
        chromium, profiles, shots, srv = self.chromium_server()
        url = ("http://127.0.0.1:%d/?target=host.h1.cpu&target=host.h2.cpu&from=-1h"
               % srv.http_port)

        def run(extra, profile):
            p = subprocess.run([chromium] + chromium_flags(os.path.join(profiles, profile))
                               + extra + [url], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=120)
            return p.returncode, p.stdout.decode(errors="replace"), \
                p.stderr.decode(errors="replace")

        code, dom, err = run(["--dump-dom"], "profile-dom")
        self.assertEqual(code, 0, err[-3000:])
        m = re.search(r'<pre id="status">(.*?)</pre>', dom, re.S)
        self.assertIsNotNone(m, "no #status in the DOM:\n" + dom[-3000:] + err[-2000:])
        status = json.loads(html.unescape(m.group(1)))
        self.assert_drawn(status, ["host.h1.cpu", "host.h2.cpu"])
        self.assertIn('class="uplot', dom)  # uPlot built its chart and legend
        self.assertIn("u-legend", dom)
        self.assertIn("host.h2.cpu", re.search(r'class="u-legend.*?</table>', dom, re.S).group(0))
        if srv.get("/metrics/find?query=*")[0] != 404:  # the tree's first level
            self.assertIn('<span title="host">host</span>', dom)

        png = os.path.join(shots, "page.png")
        code, _, err = run(["--screenshot=" + png], "profile-shot")
        self.assertEqual(code, 0, err[-3000:])
        with open(png, "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
        print("\ntest_page: screenshot %s (series %s)" % (png, json.dumps(status["series"])))

    def test_chromium_api_key(self):
        """With auth.keys: the page loads without a key, its API calls answer 401 until a
        key is typed in "API key"; then the chart draws (the key is sent as X-Api-Key) and
        the key stays in localStorage across a reload."""
        chromium, profiles, _, _ = self.chromium_server()
        t_end = floor_step(now()) - STEP
        st, _, body = self.server.post_points(
            [{"hostId": "k1", "name": "cpu", "time": t_end - i * STEP, "value": float(i)}
             for i in range(20)], key=KEY)
        self.assertEqual(st, 200, body)
        p, c = start_chromium(chromium, chromium_flags(os.path.join(profiles, "key"), False),
                              "http://127.0.0.1:%d/?target=host.k1.cpu&from=-1h"
                              % self.server.http_port)
        self.addCleanup(lambda: (c.close(), p.terminate(), p.wait(10), p.stderr.close(),
                                 untrack_child(p)))
        status_js = "JSON.parse(document.getElementById('status').textContent)"
        c.wait("(function(){return %s.state === 'error';})()" % status_js, what="a 401")
        self.assertIn("401", c.eval(status_js)["error"])
        c.eval("var k = document.getElementById('apikey'); k.value = '%s';"
               "k.dispatchEvent(new Event('change'))" % KEY)
        c.wait("(function(){return %s.state === 'drawn';})()" % status_js, what="a draw")
        self.assert_drawn(c.eval(status_js), ["host.k1.cpu"])
        c.wait("!!document.querySelector('#tree span[title=\"host\"]')", what="the tree")
        c.eval("window.dmBeforeReload = true")
        c.call("Page.reload")
        c.wait("(function(){return !window.dmBeforeReload && %s.state === 'drawn';})()"
               % status_js, what="a draw after the reload")
        self.assertEqual(c.eval("document.getElementById('apikey').value"), KEY)

    def test_chromium_interactions(self):
        """Through DevTools: type a target, browse the tree, a preset, zoom by dragging,
        auto-refresh; the URL keeps it all across a reload."""
        chromium, profiles, shots, srv = self.chromium_server()
        p, c = start_chromium(chromium, chromium_flags(os.path.join(profiles, "cdp"), False),
                              "http://127.0.0.1:%d/?target=host.h1.cpu&from=-1h"
                              % srv.http_port)
        self.addCleanup(lambda: (c.close(), p.terminate(), p.wait(10), p.stderr.close(),
                                 untrack_child(p)))
        status_js = "JSON.parse(document.getElementById('status').textContent)"

        def drawn(cond="true"):
            c.wait("(function(){var s=%s; return s.state === 'drawn' && (%s);})()"
                   % (status_js, cond), what="a draw with " + cond)
            return c.eval(status_js)

        self.assert_drawn(drawn(), ["host.h1.cpu"])
        # a typed target
        c.eval("document.getElementById('target-input').value = 'host.h2.cpu';"
               "document.getElementById('target-form').requestSubmit()")
        self.assert_drawn(drawn("s.series.length === 2"), ["host.h1.cpu", "host.h2.cpu"])
        self.assertIn("target=host.h2.cpu", c.eval("location.search"))
        # the tree, one level at a time: host > h1 > mem
        for title in ("host", "host.h1", "host.h1.mem"):
            sel = "#tree span[title=\"%s\"]" % title
            c.wait("!!document.querySelector('%s')" % sel, what=title + " in the tree")
            c.eval("document.querySelector('%s').click()" % sel)
        self.assert_drawn(drawn("s.series.length === 3"),
                          ["host.h1.cpu", "host.h2.cpu", "host.h1.mem"])
        # a preset
        c.eval("document.querySelector('#ranges [data-from=\"-6h\"]').click()")
        self.assertEqual(drawn("s.from === '-6h'")["until"], "now")
        self.assertIn("from=-6h", c.eval("location.search"))
        # zoom: drag over the last 20 % of the 6 h (the data is in the last hour)
        box = c.eval("(function(){var b = document.querySelector('#chart .u-over')"
                     ".getBoundingClientRect(); return [b.left, b.top, b.width, b.height];})()")
        x1, x2, y = box[0] + box[2] * 0.80, box[0] + box[2] * 0.98, box[1] + box[3] / 2
        c.call("Input.dispatchMouseEvent", type="mouseMoved", x=x1, y=y)
        c.call("Input.dispatchMouseEvent", type="mousePressed", x=x1, y=y, button="left",
               buttons=1, clickCount=1)
        for i in range(1, 11):
            c.call("Input.dispatchMouseEvent", type="mouseMoved", x=x1 + (x2 - x1) * i / 10,
                   y=y, button="left", buttons=1)
        c.call("Input.dispatchMouseEvent", type="mouseReleased", x=x2, y=y, button="left",
               buttons=0, clickCount=1)
        zoomed = drawn("/^\\d+$/.test(s.from) && /^\\d+$/.test(s.until)")
        frm, until = int(zoomed["from"]), int(zoomed["until"])
        self.assertTrue(0 < until - frm < 3 * 3600 and until <= now() + STEP, zoomed)
        self.assert_drawn(zoomed, ["host.h1.cpu", "host.h2.cpu", "host.h1.mem"])
        # auto-refresh
        c.eval("var r = document.getElementById('refresh'); r.value = '10s';"
               "r.dispatchEvent(new Event('change'))")
        c.wait("location.search.indexOf('refresh=10s') >= 0", what="refresh=10s in the URL")
        # the URL is the whole state: a reload shows the same view
        search = c.eval("location.search")
        c.eval("window.dmBeforeReload = true")
        c.call("Page.reload")
        again = drawn("!window.dmBeforeReload")
        self.assertEqual(c.eval("location.search"), search)
        self.assertEqual((again["from"], again["until"]), (zoomed["from"], zoomed["until"]))
        self.assertEqual(c.eval("document.getElementById('refresh').value"), "10s")
        self.assert_drawn(again, ["host.h1.cpu", "host.h2.cpu", "host.h1.mem"])
        png = os.path.join(shots, "page-zoomed.png")
        with open(png, "wb") as f:
            f.write(base64.b64decode(c.call("Page.captureScreenshot", format="png")["data"]))
        print("\ntest_page: screenshot %s (%s)" % (png, search))


if __name__ == "__main__":
    main()
