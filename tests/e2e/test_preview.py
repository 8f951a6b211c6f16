"""URL previews when an agency turns them on: only allow-listed hosts are fetched, Open Graph
data comes back, answers are cached; off by default (403, see test_media.py)."""
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer

from harness import ServerTestCase

V1 = "/_matrix/client/v1/media"


class Site:
    def __init__(self, slow_s=0):
        self.hits = 0
        site = self

        class H(BaseHTTPRequestHandler):
            def do_GET(self):
                site.hits += 1
                if self.path.startswith("/slow"):  # a slow site: answers after slow_s
                    time.sleep(slow_s)
                if self.path.startswith("/page") or self.path.startswith("/slow"):
                    body = ('<html><head><title>T</title><meta property="og:title" '
                            'content="Dienstanweisung &amp; Hinweise"><meta property='
                            '"og:description" content="Bitte lesen"></head></html>').encode()
                    ctype = "text/html; charset=utf-8"
                elif self.path.startswith("/file"):
                    body, ctype = b"%PDF-1.4", "application/pdf"
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


class SiteCase(ServerTestCase):
    """A server with a local site (slow_s: how long /slow takes) and `users` users."""
    slow_s, users = 0, 1

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.site = Site(cls.slow_s)
        cls.toks = [cls.server.register(f"{cls.__name__.lower()}{i}")["access_token"]
                    for i in range(cls.users)]
        cls.tok = cls.toks[0]

    @classmethod
    def tearDownClass(cls):
        cls.site.httpd.shutdown()
        super().tearDownClass()


class TestPreviewOn(SiteCase):
    config = {"url_preview_enabled": True, "url_preview_domain_whitelist": ["127.0.0.1"],
              "url_preview_ip_range_whitelist": ["127.0.0.1"]}  # the local site is on loopback

    def preview(self, url):
        return self.s.get(f"{V1}/preview_url?url={urllib.parse.quote(url, safe='')}",
                          token=self.tok)

    def test_allowed_host(self):
        r = self.preview(self.site.base + "/page")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r["og:title"], "Dienstanweisung & Hinweise")
        self.assertEqual(r["og:description"], "Bitte lesen")
        hits = self.site.hits
        self.assertEqual(self.preview(self.site.base + "/page").body, r.body)
        self.assertEqual(self.site.hits, hits)  # from the cache
        self.assertEqual(self.preview(self.site.base + "/file").body, {})
        self.assertError(self.preview(self.site.base + "/missing"), 404, "M_NOT_FOUND")

    def test_refused(self):
        port = self.site.httpd.server_port
        self.assertError(self.preview(f"http://localhost:{port}/page"), 403, "M_FORBIDDEN")
        self.assertError(self.preview(f"http://x@127.0.0.1:{port}/page"), 400, "M_INVALID_PARAM")
        self.assertError(self.preview("file:///etc/passwd"), 400, "M_INVALID_PARAM")
        self.assertError(self.s.get(f"{V1}/preview_url", token=self.tok), 400, "M_INVALID_PARAM")


class TestPreviewOffWorkers(SiteCase):
    """Previews wait for their site on parked connections, not on the HTTP worker threads: with
    two workers, six slow previews leave /versions fast; each user has at most three in
    flight (429 beyond)."""
    config = {"url_preview_enabled": True, "url_preview_domain_whitelist": ["127.0.0.1"],
              "url_preview_ip_range_whitelist": ["127.0.0.1"], "worker_threads": 2}
    slow_s, users = 3, 2

    def preview(self, tok, path):
        url = urllib.parse.quote(self.site.base + path, safe="")
        return self.s.get(f"{V1}/preview_url?url={url}", token=tok)

    def test_slow_site_holds_no_worker(self):
        with ThreadPoolExecutor(6) as ex:
            futs = [ex.submit(self.preview, self.toks[i % 2], f"/slow{i}") for i in range(6)]
            time.sleep(1)  # all six are waiting for the site now
            t0 = time.time()
            for _ in range(5):
                self.assertEqual(self.s.get("/_matrix/client/versions").status, 200)
            self.assertLess(time.time() - t0, 1.0)
            self.assertError(self.preview(self.toks[0], "/slow-extra"), 429, "M_LIMIT_EXCEEDED")
            results = [f.result() for f in futs]
        for r in results:
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r["og:title"], "Dienstanweisung & Hinweise")
        self.assertEqual(self.preview(self.toks[0], "/page").status, 200)  # slots given back


class TestPreviewAddresses(SiteCase):
    """Without url_preview_ip_range_whitelist the default blacklist applies at connect time:
    an allow-listed name (or address) that leads to loopback fetches nothing."""
    config = {"url_preview_enabled": True,
              "url_preview_domain_whitelist": ["localhost", "127.0.0.1"]}

    def test_internal_addresses_refused(self):
        port = self.site.httpd.server_port
        for base in (f"http://localhost:{port}", f"http://127.0.0.1:{port}"):
            url = urllib.parse.quote(base + "/page", safe="")
            r = self.s.get(f"{V1}/preview_url?url={url}", token=self.tok)
            self.assertError(r, 404, "M_NOT_FOUND")
        self.assertEqual(self.site.hits, 0)


class TestPreviewShutdown(ServerTestCase):
    """A preview waiting for a slow site when the server stops is answered and released: the
    server exits promptly and cleanly (sanitizers included)."""
    config = TestPreviewOffWorkers.config

    def test_stop_with_preview_in_flight(self):
        site = Site(slow_s=8)
        try:
            tok = self.s.register("prevstop")["access_token"]
            url = urllib.parse.quote(site.base + "/slow", safe="")
            with ThreadPoolExecutor(1) as ex:
                fut = ex.submit(self.s.get, f"{V1}/preview_url?url={url}", token=tok)
                deadline = time.time() + 5
                while site.hits == 0 and time.time() < deadline:
                    time.sleep(0.05)
                self.assertEqual(site.hits, 1)
                t0 = time.time()
                self.server.stop()  # raises on an unclean exit or a sanitizer report
                self.assertLess(time.time() - t0, 4)
                try:
                    r = fut.result(timeout=5)
                    self.assertEqual(r.status, 404)
                except OSError:
                    pass  # the connection closed with the server: acceptable too
        finally:
            site.httpd.shutdown()
