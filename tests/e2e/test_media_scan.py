"""Virus scanning of uploads with a real clamd (Debian's clamav-daemon), started by the test
with its own configuration and a signature database written here for the EICAR test file (no
signature download, no freshclam): clean files are stored and served, EICAR is refused (400
M_FORBIDDEN) and not stored, and without clamd (down or hung) uploads are refused (503) or,
with on_error: allow, accepted."""
import hashlib
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest
from concurrent.futures import ThreadPoolExecutor

from harness import Server, ServerTestCase

CLAMD = "/usr/sbin/clamd"
UP = "/_matrix/media/v3/upload"
V1 = "/_matrix/client/v1/media"
# the EICAR anti-virus test file (68 bytes), assembled so this file itself is not flagged
EICAR = (b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*")
SIG = "Amtsbote.Test.EICAR"


class Clamd:
    """A private clamd: LocalSocket and DatabaseDirectory in a temporary directory."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="amtsbote-clamd-")
        self.sock = os.path.join(self.dir, "clamd.sock")
        db = os.path.join(self.dir, "db")
        os.mkdir(db)
        with open(os.path.join(db, "eicar.hdb"), "w") as f:
            f.write(f"{hashlib.md5(EICAR).hexdigest()}:{len(EICAR)}:{SIG}\n")
        self.conf = os.path.join(self.dir, "clamd.conf")
        with open(self.conf, "w") as f:
            f.write(f"LocalSocket {self.sock}\nDatabaseDirectory {db}\nForeground yes\n"
                    f"LogFile {self.dir}/clamd.log\nPidFile {self.dir}/clamd.pid\n"
                    "StreamMaxLength 10M\nMaxThreads 2\n")
        self.log = open(os.path.join(self.dir, "out.log"), "w")
        self.proc = subprocess.Popen([CLAMD, "-c", self.conf], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("clamd exited:\n" + self.read_log())
            if self.ping():
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("clamd did not answer PING within 60 s:\n" + self.read_log())

    def ping(self):
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(2)
                s.connect(self.sock)
                s.sendall(b"zPING\0")
                return s.recv(16).startswith(b"PONG")
        except OSError:
            return False

    def read_log(self):
        text = ""
        for name in ("out.log", "clamd.log"):
            try:
                with open(os.path.join(self.dir, name)) as f:
                    text += f.read()
            except OSError:
                pass
        return text[-4000:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def upload(s, tok, data):
    return s.request("POST", UP, raw=data, token=tok,
                     headers={"Content-Type": "application/octet-stream"})


def store_files(server):
    """Files in the media store (outside tmp/)."""
    root = os.path.join(server.dir, "media")
    out = []
    for base, dirs, files in os.walk(root):
        if os.path.relpath(base, root).split(os.sep)[0] == "tmp":
            continue
        out += [os.path.join(base, f) for f in files]
    return out


@unittest.skipUnless(os.access(CLAMD, os.X_OK), "clamd (clamav-daemon) not installed")
class TestMediaScan(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.clamd = Clamd()
        cls.config = {"media_scanner": {"enabled": True, "clamd_socket": cls.clamd.sock,
                                        "timeout": "20s"}}
        try:
            super().setUpClass()
        except Exception:
            cls.clamd.stop()
            raise
        cls.tok = cls.s.register("scanned")["access_token"]

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.clamd.stop()

    def test_clean_accepted_and_served(self):
        data = os.urandom(300 * 1024)  # several INSTREAM chunks
        r = upload(self.s, self.tok, data)
        self.assertEqual(r.status, 200, r)
        sm = r["content_uri"][len("mxc://"):]
        r = self.s.request("GET", f"{V1}/download/{sm}", token=self.tok)
        self.assertEqual((r.status, r.raw), (200, data))
        # an empty upload has nothing to scan
        self.assertEqual(upload(self.s, self.tok, b"").status, 200)

    def test_eicar_refused_not_stored(self):
        before = set(store_files(self.s))
        r = upload(self.s, self.tok, EICAR)
        self.assertError(r, 400, "M_FORBIDDEN")
        self.assertEqual(set(store_files(self.s)), before)
        # the temporary file goes when the request ends (just after the answer is sent)
        tmp = os.path.join(self.s.dir, "media", "tmp")
        deadline = time.time() + 5
        while os.listdir(tmp) and time.time() < deadline:
            time.sleep(0.05)
        self.assertEqual(os.listdir(tmp), [])
        # also into a media ID made with /create: refused, and the ID stays empty
        r = self.s.post("/_matrix/media/v1/create", {}, token=self.tok)
        self.assertEqual(r.status, 200, r)
        sm = r["content_uri"][len("mxc://"):]
        r = self.s.request("PUT", f"{UP}/{sm}", raw=EICAR, token=self.tok,
                           headers={"Content-Type": "application/octet-stream"})
        self.assertError(r, 400, "M_FORBIDDEN")
        r = self.s.request("GET", f"{V1}/download/{sm}", token=self.tok,
                           query={"timeout_ms": "0"})
        self.assertNotEqual(r.status, 200)
        # logged with user, media ID and signature, never content
        log = self.s.read_log()
        line = [l for l in log.splitlines() if "infected" in l]
        self.assertTrue(line, log[-3000:])
        self.assertIn("@scanned:test.local", line[0])
        self.assertIn(SIG, line[0])
        self.assertNotIn("EICAR-STANDARD", log)

    def scan_encrypted(self, file):
        return self.s.post("/_matrix/media_proxy/unstable/scan_encrypted", {"file": file},
                           token=self.tok)

    def test_scan_encrypted(self):
        from nio.crypto import attachments  # AES-256-CTR as clients encrypt attachments
        results = {}
        for name, plain in (("clean", os.urandom(200 * 1024)), ("eicar", EICAR)):
            cipher, info = attachments.encrypt_attachment(plain)
            r = upload(self.s, self.tok, cipher)  # ciphertext: the upload scan sees nothing
            self.assertEqual(r.status, 200, r)
            info["url"] = r["content_uri"]
            results[name] = self.scan_encrypted(info)
            if name == "eicar":
                bad = dict(info, hashes={"sha256": info["hashes"]["sha256"][::-1]})
                r = self.scan_encrypted(bad)
                self.assertError(r, 400, "MCS_MEDIA_FAILED_TO_DECRYPT")
                self.assertEqual(r["reason"], "MCS_MEDIA_FAILED_TO_DECRYPT")  # the scanner's
                self.assertError(self.scan_encrypted(dict(info, iv="short")), 400,
                                 "MCS_MALFORMED_JSON")
                missing = dict(info, url="mxc://test.local/AAAAAAAAAAAAAAAAAAAAAAAA")
                self.assertEqual(self.scan_encrypted(missing).status, 404)
        self.assertEqual((results["clean"].status, results["clean"]["clean"]), (200, True))
        self.assertEqual((results["eicar"].status, results["eicar"]["clean"]), (200, False))
        self.assertEqual(os.listdir(os.path.join(self.s.dir, "media", "tmp")), [])
        self.assertNotIn("EICAR-STANDARD", self.s.read_log())


class HungClamd:
    """A Unix socket that accepts connections and never answers."""

    def __init__(self, path):
        self.srv = socket.socket(socket.AF_UNIX)
        self.srv.bind(path)
        self.srv.listen(8)
        self.conns = []
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while True:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            self.conns.append(c)

    def close(self):
        self.srv.close()
        for c in self.conns:
            c.close()


class TestMediaScanDown(unittest.TestCase):
    """No clamd: refused by default (also when clamd hangs: bounded by timeout); accepted with
    on_error: allow."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="amtsbote-noclamd-")
        self.sock = os.path.join(self.dir, "clamd.sock")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_refuse_by_default_and_hung(self):
        s = Server({"media_scanner": {"enabled": True, "clamd_socket": self.sock,
                                      "timeout": "2s"}}).start()
        try:
            tok = s.register("noscan")["access_token"]
            r = upload(s, tok, b"harmless")
            self.assertEqual((r.status, r.errcode), (503, "M_UNKNOWN"), r)
            self.assertEqual(store_files(s), [])
            hung = HungClamd(self.sock)
            try:
                # more uploads than HTTP workers (4) wait for clamd at once: they are parked,
                # so other requests are answered meanwhile
                t0 = time.monotonic()
                with ThreadPoolExecutor(6) as ex:
                    futs = [ex.submit(upload, s, tok, b"harmless") for _ in range(6)]
                    time.sleep(0.3)
                    t1 = time.monotonic()
                    self.assertEqual(s.get("/_matrix/client/versions", timeout=10).status, 200)
                    quick = time.monotonic() - t1
                    rs = [f.result() for f in futs]
                took = time.monotonic() - t0
            finally:
                hung.close()
            for r in rs:
                self.assertEqual((r.status, r.errcode), (503, "M_UNKNOWN"), r)
            self.assertLess(quick, 0.5)
            self.assertLess(took, 8)
            self.assertIn("no verdict in time", s.read_log())
        finally:
            s.stop()

    def test_on_error_allow(self):
        s = Server({"media_scanner": {"enabled": True, "clamd_socket": self.sock,
                                      "on_error": "allow"}}).start()
        try:
            tok = s.register("noscan")["access_token"]
            r = upload(s, tok, b"harmless")
            self.assertEqual(r.status, 200, r)
            self.assertIn("accepted (on_error: allow)", s.read_log())
        finally:
            s.stop()

    def test_bad_config(self):
        s = Server({"media_scanner": {"enabled": True, "on_error": "maybe"}})
        with self.assertRaises(RuntimeError) as e:
            s.start()
        self.assertIn("media_scanner.on_error", str(e.exception))
        s.stop(check=False)


@unittest.skipUnless(os.access(CLAMD, os.X_OK), "clamd (clamav-daemon) not installed")
class TestRemoteMediaScan(unittest.TestCase):
    """Remote media is scanned on fetch: B (no scanner) serves an EICAR file and a clean one;
    A (scanner on) refuses the first to its client (403 M_FORBIDDEN, nothing cached: a second
    try asks B again) and serves the second."""

    @classmethod
    def setUpClass(cls):
        from fedharness import FedServer, TestCA, start_servers
        cls.clamd = Clamd()
        cls.tmp = tempfile.mkdtemp(prefix="amtsbote-remote-scan-")
        try:
            cls.ca = TestCA(cls.tmp)
            ca_cfg = {"federation_custom_ca_list": [cls.ca.ca]}
            cls.A = FedServer(cls.ca, dict(ca_cfg, media_scanner={
                "enabled": True, "clamd_socket": cls.clamd.sock, "timeout": "20s"}))
            cls.B = FedServer(cls.ca, dict(ca_cfg))
            cls.servers = start_servers(cls.A, cls.B)
        except Exception:
            cls.clamd.stop()
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise
        cls.A.register("alice")
        cls.B.register("bob")
        cls.alice = cls.A.login("alice")["access_token"]
        cls.bob = cls.B.login("bob")["access_token"]

    @classmethod
    def tearDownClass(cls):
        from fedharness import stop_servers
        try:
            stop_servers(cls.servers)
        finally:
            cls.clamd.stop()
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def upload_b(self, data):
        r = self.B.request("POST", UP, raw=data, token=self.bob,
                           headers={"Content-Type": "application/octet-stream"})
        self.assertEqual(r.status, 200, r)
        return r["content_uri"].rsplit("/", 1)[1]

    def test_remote_media_scanned_on_fetch(self):
        bad, good = self.upload_b(EICAR), self.upload_b(b"clean remote bytes " * 100)
        path = f"/_matrix/federation/v1/media/download/{bad}"
        for attempt in (1, 2):
            r = self.A.get(f"{V1}/download/{self.B.server_name}/{bad}", token=self.alice)
            self.assertEqual((r.status, r.get("errcode")), (403, "M_FORBIDDEN"), r)
            self.assertEqual(self.B.read_log().count(path), attempt)  # nothing kept on A
        self.assertIn(SIG, self.A.read_log())
        r = self.A.get(f"{V1}/download/{self.B.server_name}/{good}", token=self.alice)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.raw, b"clean remote bytes " * 100)
