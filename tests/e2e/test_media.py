"""The media repository: uploads (also over 1 MB, also chunked), asynchronous create+upload,
authenticated downloads and thumbnails (crop and scale, PNG and JPEG out), the freeze of
unauthenticated media, safe headers, the upload limit, image bombs, bad IDs, config and
the disabled URL previews."""
import hashlib
import http.client
import os
import struct
import time
import urllib.parse
import zlib
from concurrent.futures import ThreadPoolExecutor

from harness import ServerTestCase

V1 = "/_matrix/client/v1/media"
UP = "/_matrix/media/v3/upload"


def png(width, height, alpha=False, claim=None):
    """A real PNG (gradient), or with `claim` a header claiming other dimensions."""
    channels = 4 if alpha else 3
    rows = b""
    for y in range(height):
        row = bytearray([0])
        for x in range(width):
            px = [x * 255 // max(1, width - 1), y * 255 // max(1, height - 1), 128]
            if alpha:
                px.append(200)
            row += bytes(px)
        rows += bytes(row)

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))

    w, h = claim or (width, height)
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 6 if alpha else 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows)) +
            chunk(b"IEND", b""))


def image_size(data):
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return struct.unpack(">II", data[16:24])
    i = 2  # JPEG: find the SOF marker
    while i < len(data):
        marker, length = data[i + 1], struct.unpack(">H", data[i + 2:i + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            h, w = struct.unpack(">HH", data[i + 5:i + 9])
            return w, h
        i += 2 + length
    raise AssertionError("not an image")


class TestMedia(ServerTestCase):
    config = {"max_upload_size": "2M"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tok = cls.server.register("media")["access_token"]
        cls.other = cls.server.register("media2")["access_token"]

    def upload(self, data, ctype="application/octet-stream", name=None, tok=None):
        path = UP + (f"?filename={urllib.parse.quote(name)}" if name else "")
        r = self.s.request("POST", path, raw=data, token=tok or self.tok,
                           headers={"Content-Type": ctype})
        return r

    def mxc(self, r):
        self.assertEqual(r.status, 200, r)
        uri = r["content_uri"]
        self.assertTrue(uri.startswith("mxc://test.local/"), uri)
        return uri[len("mxc://"):]

    def test_roundtrip_and_headers(self):
        data = os.urandom(1500 * 1024)
        sm = self.mxc(self.upload(data, "application/pdf", "Bericht März.pdf"))
        r = self.s.request("GET", f"{V1}/download/{sm}", token=self.tok)
        self.assertEqual(r.status, 200)
        self.assertEqual(hashlib.sha256(r.raw).hexdigest(), hashlib.sha256(data).hexdigest())
        h = {k.lower(): v for k, v in r.headers.items()}
        self.assertEqual(h["content-type"], "application/octet-stream")  # not a safe type
        self.assertTrue(h["content-disposition"].startswith("attachment; filename*=utf-8''"))
        self.assertIn("M%C3%A4rz", h["content-disposition"])
        self.assertIn("sandbox", h["content-security-policy"])
        self.assertEqual(h["x-content-type-options"], "nosniff")
        # a safe type is served inline as itself; a download name overrides the stored one
        sm = self.mxc(self.upload(b"hallo", "text/plain", "a.txt"))
        r = self.s.request("GET", f"{V1}/download/{sm}/neu.txt", token=self.tok)
        h = {k.lower(): v for k, v in r.headers.items()}
        self.assertEqual((r.raw, h["content-type"]), (b"hallo", "text/plain"))
        self.assertEqual(h["content-disposition"], "inline; filename*=utf-8''neu.txt")
        # HTML never runs: octet-stream, attachment
        sm = self.mxc(self.upload(b"<script>alert(1)</script>", "text/html", "x.html"))
        r = self.s.request("GET", f"{V1}/download/{sm}", token=self.tok)
        h = {k.lower(): v for k, v in r.headers.items()}
        self.assertEqual(h["content-type"], "application/octet-stream")
        self.assertTrue(h["content-disposition"].startswith("attachment"))
        # an empty file
        sm = self.mxc(self.upload(b""))
        r = self.s.request("GET", f"{V1}/download/{sm}", token=self.tok)
        self.assertEqual((r.status, r.raw), (200, b""))

    def test_authentication_and_freeze(self):
        sm = self.mxc(self.upload(b"secret"))
        self.assertError(self.s.get(f"{V1}/download/{sm}"), 401, "M_MISSING_TOKEN")
        r = self.s.get(f"/_matrix/media/v3/download/{sm}")
        self.assertError(r, 404, "M_NOT_FOUND")
        self.assertError(self.s.request("POST", UP, raw=b"x"), 401, "M_MISSING_TOKEN")

    def test_limits(self):
        # a Content-Length over the limit is refused before the body is read
        c = http.client.HTTPConnection("127.0.0.1", self.s.port, timeout=30)
        c.putrequest("POST", UP)
        c.putheader("Authorization", f"Bearer {self.tok}")
        c.putheader("Content-Length", str(2 * 1024 * 1024 + 1))
        c.endheaders()
        resp = c.getresponse()
        self.assertEqual(resp.status, 413)
        self.assertIn(b"M_TOO_LARGE", resp.read())
        c.close()
        # chunked, without Content-Length: cut off at the limit
        c = http.client.HTTPConnection("127.0.0.1", self.s.port, timeout=30)
        c.putrequest("POST", UP)
        c.putheader("Authorization", f"Bearer {self.tok}")
        c.putheader("Transfer-Encoding", "chunked")
        c.endheaders()
        block = b"y" * 65536
        for _ in range(40):
            c.send(b"%x\r\n" % len(block) + block + b"\r\n")
        c.send(b"0\r\n\r\n")
        resp = c.getresponse()
        self.assertEqual(resp.status, 413)
        self.assertIn(b"M_TOO_LARGE", resp.read())
        c.close()
        self.assertEqual(self.s.get(f"{V1}/config", token=self.tok).body,
                         {"m.upload.size": 2 * 1024 * 1024})

    def test_unknown_and_bad_ids(self):
        for path in ("test.local/AAAAAAAAAAAAAAAAAAAAAAAA", "test.local/..%2F..%2Fetc",
                     "test.local/short"):
            r = self.s.get(f"{V1}/download/{path}", token=self.tok)
            self.assertError(r, 404, "M_NOT_FOUND")
        # another server's media is fetched over federation: this one cannot be reached
        r = self.s.get(f"{V1}/download/elsewhere.example/AAAAAAAAAAAAAAAAAAAAAAAA", token=self.tok)
        self.assertEqual(r.status, 502, r)
        r = self.s.get(f"{V1}/thumbnail/test.local/nope?width=10&height=10", token=self.tok)
        self.assertError(r, 404, "M_NOT_FOUND")

    def test_async_upload(self):
        r = self.s.post("/_matrix/media/v1/create", {}, token=self.tok)
        self.assertEqual(r.status, 200, r)
        self.assertIn("unused_expires_at", r.body)
        sm = r["content_uri"][len("mxc://"):]
        self.assertError(self.s.get(f"{V1}/download/{sm}", token=self.tok), 504,
                         "M_NOT_YET_UPLOADED")
        put = f"/_matrix/media/v3/upload/{sm}"
        r = self.s.request("PUT", put, raw=b"later", token=self.other,
                           headers={"Content-Type": "text/plain"})
        self.assertError(r, 403, "M_FORBIDDEN")
        r = self.s.request("PUT", put, raw=b"later", token=self.tok,
                           headers={"Content-Type": "text/plain"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.s.request("GET", f"{V1}/download/{sm}", token=self.tok).raw,
                         b"later")
        r = self.s.request("PUT", put, raw=b"again", token=self.tok)
        self.assertError(r, 409, "M_CANNOT_OVERWRITE_MEDIA")

    def test_thumbnails(self):
        # served in Synapse's default thumbnail_sizes (32x32 and 96x96 crop, 320x240, 640x480
        # and 800x600 scale), the nearest size at least as large as asked, as Synapse picks
        sm = self.mxc(self.upload(png(400, 200), "image/png", "bild.png"))
        r = self.s.request("GET", f"{V1}/thumbnail/{sm}?width=100&height=100&method=scale",
                           token=self.tok)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers["Content-Type"], "image/jpeg")
        self.assertEqual(image_size(r.raw), (320, 160))  # 320x240, keeping the aspect ratio
        other = self.s.request("GET", f"{V1}/thumbnail/{sm}?width=300&height=200&method=scale",
                               token=self.tok)
        self.assertEqual(other.raw, r.raw)  # the same stored size, not one per request
        r = self.s.request("GET", f"{V1}/thumbnail/{sm}?width=100&height=100&method=crop",
                           token=self.tok)
        self.assertEqual(image_size(r.raw), (96, 96))  # no crop size is as large: the nearest
        r1 = self.s.request("GET", f"{V1}/thumbnail/{sm}?width=1&height=1&method=crop",
                            token=self.tok)
        self.assertEqual(image_size(r1.raw), (32, 32))
        big = self.s.request("GET", f"{V1}/thumbnail/{sm}?width=100000&height=100000",
                             token=self.tok)
        self.assertEqual(image_size(big.raw), (400, 200))  # 800x600, never enlarged
        again = self.s.request("GET", f"{V1}/thumbnail/{sm}?width=100&height=100&method=crop",
                               token=self.tok)
        self.assertEqual(again.raw, r.raw)  # the stored one
        # never enlarged; transparency gives PNG
        sm = self.mxc(self.upload(png(40, 30, alpha=True), "image/png"))
        r = self.s.request("GET", f"{V1}/thumbnail/{sm}?width=640&height=480", token=self.tok)
        self.assertEqual(r.headers["Content-Type"], "image/png")
        self.assertEqual(image_size(r.raw), (40, 30))
        # not an image; an image bomb; bad parameters
        sm = self.mxc(self.upload(b"just text", "text/plain"))
        r = self.s.get(f"{V1}/thumbnail/{sm}?width=32&height=32", token=self.tok)
        self.assertError(r, 400, "M_UNKNOWN")
        bomb = self.mxc(self.upload(png(8, 8, claim=(100000, 100000)), "image/png"))
        r = self.s.get(f"{V1}/thumbnail/{bomb}?width=32&height=32", token=self.tok)
        self.assertError(r, 400, "M_UNKNOWN")
        for q in ("width=0&height=5", "width=x&height=5", "width=5&height=5&method=zoom"):
            self.assertError(self.s.get(f"{V1}/thumbnail/{sm}?{q}", token=self.tok), 400,
                             "M_INVALID_PARAM")

    def test_preview_url_is_off(self):
        r = self.s.get(f"{V1}/preview_url?url=https%3A%2F%2Fexample.org", token=self.tok)
        self.assertError(r, 403, "M_FORBIDDEN")


def big_png(width, height, seed):
    """A large real PNG, built quickly (rows from one pattern; compresses well)."""
    base = bytes((i * 7 + seed) % 256 for i in range(width * 3 + 256))
    rows = b"".join(b"\x00" + base[y % 256:y % 256 + width * 3] for y in range(height))

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) +
            chunk(b"IDAT", zlib.compress(rows, 1)) + chunk(b"IEND", b""))


class TestThumbnailsOffWorkers(ServerTestCase):
    """Thumbnails are made on their own small pool while the request is parked: with two HTTP
    workers, ten large thumbnails in the making leave /versions fast; a user has at most two
    being made (429 beyond)."""
    config = {"worker_threads": 2}

    def test_large_thumbnails_hold_no_worker(self):
        toks = [self.s.register(f"thumbw{i}")["access_token"] for i in range(5)]
        mxcs = []
        for seed in (1, 2):
            r = self.s.request("POST", "/_matrix/media/v3/upload", raw=big_png(5000, 5000, seed),
                               token=toks[0], headers={"Content-Type": "image/png"})
            self.assertEqual(r.status, 200, r)
            mxcs.append(r["content_uri"][len("mxc://"):])
        r = self.s.request("POST", "/_matrix/media/v3/upload", raw=png(64, 64), token=toks[4],
                           headers={"Content-Type": "image/png"})
        small = r["content_uri"][len("mxc://"):]  # a thumbnail nobody has made yet
        sizes = ["width=32&height=32&method=crop", "width=96&height=96&method=crop",
                 "width=320&height=240", "width=640&height=480", "width=800&height=600"]
        jobs = [(toks[i // 2], f"{V1}/thumbnail/{mxcs[i % 2]}?{sizes[i // 2]}")
                for i in range(10)]  # ten different thumbnails, two per user
        with ThreadPoolExecutor(10) as ex:
            futs = [ex.submit(self.s.get, path, token=tok) for tok, path in jobs]
            time.sleep(0.3)
            t0 = time.time()
            for _ in range(5):
                self.assertEqual(self.s.get("/_matrix/client/versions").status, 200)
            elapsed = time.time() - t0
            third = self.s.get(f"{V1}/thumbnail/{small}?width=1&height=1", token=toks[4])
            results = [f.result() for f in futs]
        self.assertLess(elapsed, 1.0)
        self.assertError(third, 429, "M_LIMIT_EXCEEDED")
        for r in results:
            self.assertEqual(r.status, 200, r)
