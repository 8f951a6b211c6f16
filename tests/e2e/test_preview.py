"""URL previews when an agency turns them on: only allow-listed hosts are fetched, Open Graph
data comes back, answers are cached; off by default (403, see test_media.py)."""
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer

from harness import ServerTestCase

V1 = "/_matrix/client/v1/media"


class Site:
    def __init__(self):
        self.hits = 0
        site = self

        class H(BaseHTTPRequestHandler):
            def do_GET(self):
                site.hits += 1
                if self.path.startswith("/page"):
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

        self.httpd = HTTPServer(("127.0.0.1", 0), H)
        self.base = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


class TestPreviewOn(ServerTestCase):
    config = {"url_preview_enabled": True, "url_preview_domain_whitelist": ["127.0.0.1"],
              "url_preview_ip_range_whitelist": ["127.0.0.1"]}  # the local site is on loopback

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.site = Site()
        cls.tok = cls.server.register("prev")["access_token"]

    @classmethod
    def tearDownClass(cls):
        cls.site.httpd.shutdown()
        super().tearDownClass()

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
