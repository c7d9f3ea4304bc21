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

import hashlib
import html
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ROOT, STEP, ServerTestCase, floor_step, main, now, track_dir  # noqa: E402

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


def chromium_flags(profile):
    return ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage", "--user-data-dir=" + profile, "--window-size=1200,800",
            "--virtual-time-budget=10000"]


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
            self.assertIn(ref, FILES, ref)
        for url in ("/static/app.js", "/static/app.css"):  # (uPlot's only URL is a comment)
            _, _, text = self.raw_get(url)
            self.assertNotIn("://", text.decode(), url)

    def test_chromium_draws_the_chart(self):
        st, _, _ = self.raw_get("/render?target=host.h1.cpu&from=-1h&format=json",
                                {"X-Api-Key": KEY})
        if st == 404:
            self.skipTest("GET /render answers 404: the Graphite render API is not built yet")
        chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        self.assertIsNotNone(chromium, "chromium not installed (scripts/deps.sh --test)")
        tmp = track_dir(tempfile.mkdtemp(prefix="diamond-page-"))
        # The key the page sends comes from localStorage, empty in a new profile: the page
        # is loaded from a second server, open (no keys).
        srv = self.start_server()
        t_end = floor_step(now()) - STEP
        points = []  # 55 points each over the last hour, and a series not asked for
        for host, base in (("h1", 20.0), ("h2", 60.0)):
            for i in range(55):
                points.append({"hostId": host, "name": "cpu", "time": t_end - i * STEP,
                               "value": base + 10 * ((i * 7) % 11) / 11.0})
        points.append({"hostId": "h1", "name": "mem", "time": t_end, "value": 1.0})
        st, _, body = srv.post_points(points)
        self.assertEqual(st, 200, body)
        url = ("http://127.0.0.1:%d/?target=host.h1.cpu&target=host.h2.cpu&from=-1h"
               % srv.http_port)

        def run(extra, profile):
            p = subprocess.run([chromium] + chromium_flags(os.path.join(tmp, profile)) + extra
                               + [url], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=120)
            return p.returncode, p.stdout.decode(errors="replace"), \
                p.stderr.decode(errors="replace")

        code, dom, err = run(["--dump-dom"], "profile-dom")
        self.assertEqual(code, 0, err[-3000:])
        m = re.search(r'<pre id="status">(.*?)</pre>', dom, re.S)
        self.assertIsNotNone(m, "no #status in the DOM:\n" + dom[-3000:] + err[-2000:])
        status = json.loads(html.unescape(m.group(1)))
        self.assertEqual(status.get("state"), "drawn", status)
        names = sorted(s["name"] for s in status["series"])
        self.assertEqual(names, ["host.h1.cpu", "host.h2.cpu"], status)
        for s in status["series"]:
            self.assertGreater(s["points"], 0, status)
        self.assertIn('class="uplot', dom)  # uPlot built its chart and legend
        self.assertIn("u-legend", dom)
        if srv.get("/metrics/find?query=*")[0] != 404:  # the tree's first level
            self.assertIn('<span title="host">host</span>', dom)

        png = os.path.join(tmp, "page.png")
        code, _, err = run(["--screenshot=" + png], "profile-shot")
        self.assertEqual(code, 0, err[-3000:])
        with open(png, "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
        print("\ntest_page: screenshot %s (series %s)" % (png, json.dumps(status["series"])))
        # keep the screenshot after the test (the temp dir is removed at exit otherwise)
        keep = os.environ.get("DM_PAGE_SCREENSHOT")
        if keep:
            shutil.copy(png, keep)


if __name__ == "__main__":
    main()
