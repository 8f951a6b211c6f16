"""The HTTP front under pressure (issue 17): connection limits refuse at once, log, and
recover; one address cannot take every connection; a client dripping its request head or body
is cut off; SIGTERM does not wait for keep-alive clients; PostgreSQL down answers 503 with
Retry-After; upload temp files of a killed process are removed at start-up.

Raw sockets from several loopback addresses (127.0.0.0/8 is all loopback on Linux), small
limits and timeouts in the configuration, every wait bounded."""
import asyncio
import json
import os
import resource
import signal
import socket
import subprocess
import time
import unittest
import urllib.parse
import urllib.request

from harness import Server, ServerTestCase, pg_env

VERSIONS = b"GET /_matrix/client/versions HTTP/1.1\r\nHost: t\r\n\r\n"


class FrontServer(Server):
    """A Server whose one listener takes extra keys (per-address limit)."""

    def __init__(self, config=None, listener=None):
        super().__init__(config)
        self.listener = listener or {}

    def config(self):
        cfg = super().config()
        cfg["listeners"][0].update(self.listener)
        return cfg


def connect(port, src="127.0.0.1"):
    return socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(src, 0))


def read_response(s):
    """Status of one response read from s, or None when the server closed the connection."""
    buf = b""
    try:
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                return None
            buf += chunk
    except (ConnectionResetError, BrokenPipeError):
        return None
    head, _, body = buf.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    while len(body) < length:
        chunk = s.recv(65536)
        if not chunk:
            return None
        body += chunk
    return int(head.split()[1])


def answered(port, src="127.0.0.1"):
    """A connection that got a /versions answer (kept open), or None when refused."""
    s = connect(port, src)
    try:
        s.sendall(VERSIONS)
        if read_response(s) == 200:
            return s
    except OSError:
        pass
    s.close()
    return None


def closed_within(s, seconds):
    """Seconds until the server closed s, or None if it was still open after `seconds`."""
    t0 = time.monotonic()
    s.settimeout(0.2)
    while time.monotonic() - t0 < seconds:
        try:
            if s.recv(4096) == b"":
                return time.monotonic() - t0
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - t0
    return None


def refused(port, src):
    """True when a new connection from src is closed by the server without an answer (a
    refusal), fast; False when it is answered."""
    s = connect(port, src)
    try:
        try:
            s.sendall(VERSIONS)
        except (ConnectionResetError, BrokenPipeError):
            return True
        return read_response(s) is None
    finally:
        s.close()


def eventually(fn, seconds=5.0):
    deadline = time.monotonic() + seconds
    while True:
        v = fn()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(0.05)


class ConnectionLimitTest(unittest.TestCase):
    """max_connections 16; 4 connections per address on the listener."""

    @classmethod
    def setUpClass(cls):
        cls.s = FrontServer({"max_connections": 16},
                            {"max_connections_per_address": 4}).start()

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()

    def test_per_address_limit_refuses_and_recovers(self):
        port = self.s.port
        held = [answered(port, "127.0.0.2") for _ in range(4)]
        try:
            self.assertTrue(all(held))
            self.assertTrue(refused(port, "127.0.0.2"))
            other = answered(port, "127.0.0.3")  # another address is not affected
            self.assertIsNotNone(other)
            other.close()
            held.pop().close()
            again = eventually(lambda: answered(port, "127.0.0.2"))
            self.assertIsNotNone(again, "no recovery after a connection closed")
            held.append(again)
        finally:
            for h in held:
                if h:
                    h.close()
        self.assertIn("max_connections_per_address", self.s.read_log())

    def test_total_limit_refuses_at_once_logs_once_and_recovers(self):
        port = self.s.port
        held = []
        try:
            # open from fresh addresses, 3 each, until one is refused (bounded)
            for i in range(40):
                c = answered(port, f"127.0.1.{10 + i // 3}")
                if c is None:
                    break
                held.append(c)
            self.assertGreaterEqual(len(held), 14)
            self.assertLessEqual(len(held), 16)
            t0 = time.monotonic()
            for i in range(5):
                self.assertTrue(refused(port, f"127.0.2.{i + 1}"))
            self.assertLess(time.monotonic() - t0, 3, "refusals were not immediate")
            log = self.s.read_log()
            self.assertEqual(log.count("connections open (max_connections)"), 1, log[-2000:])
            for c in held[:3]:
                c.close()
            del held[:3]
            again = eventually(lambda: answered(port, "127.0.2.9"))
            self.assertIsNotNone(again, "no recovery after connections closed")
            held.append(again)
        finally:
            for c in held:
                c.close()


    def test_parked_sync_of_a_client_that_left_frees_its_slot(self):
        port = self.s.port
        tok = self.s.register("leaver")["access_token"]
        since = self.s.get("/_matrix/client/v3/sync", token=tok)["next_batch"]
        parked = []
        for _ in range(4):
            c = connect(port, "127.0.0.7")
            c.sendall(f"GET /_matrix/client/v3/sync?since={since}&timeout=6000 HTTP/1.1\r\n"
                      f"Host: t\r\nAuthorization: Bearer {tok}\r\n\r\n".encode())
            parked.append(c)
        t0 = time.monotonic()
        time.sleep(0.5)
        self.assertTrue(refused(port, "127.0.0.7"))
        for c in parked:
            c.close()
        # libmicrohttpd does not watch a parked socket; the guard does, about once a second
        again = eventually(lambda: answered(port, "127.0.0.7"), 3)
        self.assertIsNotNone(again, "the parked syncs of a client that left kept their slots")
        again.close()
        self.assertLess(time.monotonic() - t0, 5)
        # their waiters still fire at the sync timeout, after the requests ended: harmless
        time.sleep(max(0, t0 + 7 - time.monotonic()))
        self.assertEqual(self.s.get("/_matrix/client/v3/sync", token=tok).status, 200)


class ParkedJobLeftTest(unittest.TestCase):
    """A URL preview parked on a slow site (a job on another thread) whose client leaves: its
    slot frees within about a second, and the job finishing later touches nothing freed."""

    def test_preview_of_a_client_that_left(self):
        from test_preview import Site
        site = Site(slow_s=4)
        srv = FrontServer({"url_preview_enabled": True,
                           "url_preview_domain_whitelist": ["127.0.0.1"],
                           "url_preview_ip_range_whitelist": ["127.0.0.1"]},
                          {"max_connections_per_address": 2}).start()
        try:
            tok = srv.register("previewer")["access_token"]
            url = urllib.parse.quote(site.base + "/slow", safe="")
            parked = []
            for i in range(2):
                c = connect(srv.port, "127.0.0.8")
                c.sendall(f"GET /_matrix/client/v1/media/preview_url?url={url}{i} HTTP/1.1\r\n"
                          f"Host: t\r\nAuthorization: Bearer {tok}\r\n\r\n".encode())
                parked.append(c)
            self.assertTrue(eventually(lambda: site.hits >= 2, 5))
            self.assertTrue(refused(srv.port, "127.0.0.8"))
            t0 = time.monotonic()
            for c in parked:
                c.close()
            again = eventually(lambda: answered(srv.port, "127.0.0.8"), 3)
            self.assertIsNotNone(again, "the parked previews of a client that left kept their slots")
            again.close()
            self.assertLess(time.monotonic() - t0, 3)
            time.sleep(4.5)  # the site answers; the jobs end without a request to resume
            self.assertEqual(srv.get("/_matrix/client/versions").status, 200)
        finally:
            srv.stop()  # raises on a sanitizer report (use after free, leak)
            site.httpd.shutdown()


class DeadlineTest(unittest.TestCase):
    """request_header_timeout 1 s, request_body_timeout 1 s."""

    @classmethod
    def setUpClass(cls):
        cls.s = FrontServer({"request_header_timeout": "1s", "request_body_timeout": "1s"}).start()

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()

    def drip(self, s, data, interval, seconds):
        """Send data a byte at a time; seconds until the server closed, or None."""
        t0 = time.monotonic()
        for b in data:
            if time.monotonic() - t0 > seconds:
                return None
            try:
                s.sendall(bytes([b]))
            except (ConnectionResetError, BrokenPipeError):
                return time.monotonic() - t0
            time.sleep(interval)
            s.settimeout(0.001)
            try:
                if s.recv(4096) == b"":
                    return time.monotonic() - t0
            except socket.timeout:
                pass
            except (ConnectionResetError, BrokenPipeError):
                return time.monotonic() - t0
        return None

    def test_slowloris_head_is_cut_off(self):
        s = connect(self.s.port)
        head = b"GET /_matrix/client/versions HTTP/1.1\r\nHost: t\r\nX-Slow: " + b"a" * 200
        took = self.drip(s, head, 0.2, 8)
        s.close()
        self.assertIsNotNone(took, "a dripping request head held its connection")
        self.assertLess(took, 4)
        self.assertIn("request_header_timeout", self.s.read_log())

    def test_slow_body_is_cut_off(self):
        s = connect(self.s.port)
        s.sendall(b"POST /_matrix/client/v3/login HTTP/1.1\r\nHost: t\r\n"
                  b"Content-Type: application/json\r\nContent-Length: 300\r\n\r\n")
        took = self.drip(s, b"{" + b" " * 298 + b"}", 0.2, 8)
        s.close()
        self.assertIsNotNone(took, "a dripping body held its connection")
        self.assertLess(took, 4)
        self.assertIn("request_body_timeout", self.s.read_log())

    def test_idle_keepalive_closes_and_working_requests_do_not(self):
        s = answered(self.s.port)
        self.assertIsNotNone(s)
        took = closed_within(s, 5)
        s.close()
        self.assertIsNotNone(took)
        self.assertGreater(took, 0.5)
        # a body sent at once, and a /sync parked far longer than both timeouts, still work
        tok = self.s.register("parker")["access_token"]
        since = self.s.get("/_matrix/client/v3/sync", token=tok)["next_batch"]
        t0 = time.monotonic()
        r = self.s.get("/_matrix/client/v3/sync", token=tok,
                       query={"since": since, "timeout": "3000"})
        self.assertEqual(r.status, 200, r)
        self.assertGreater(time.monotonic() - t0, 2.5)


class ShutdownTest(unittest.TestCase):
    def test_sigterm_under_keepalive_load_is_quick(self):
        srv = Server().start()
        try:
            toks = [srv.register(f"k{i}")["access_token"] for i in range(5)]
            idle = [answered(srv.port) for _ in range(10)]
            self.assertTrue(all(idle))
            took = asyncio.run(self.load_and_stop(srv, toks))
            for c in idle:
                self.assertIsNotNone(closed_within(c, 2), "idle keep-alive not closed")
                c.close()
            # the grace period is 10 s; before, clients that kept syncing held it to the end
            self.assertLess(took, 3.0)
        finally:
            srv.stop()

    async def load_and_stop(self, srv, toks):
        stop = asyncio.Event()

        async def syncer(tok):
            r, w = await asyncio.open_connection("127.0.0.1", srv.port)
            since = None
            try:
                while not stop.is_set():
                    q = "timeout=30000" + (f"&since={since}" if since else "")
                    w.write(f"GET /_matrix/client/v3/sync?{q} HTTP/1.1\r\nHost: t\r\n"
                            f"Authorization: Bearer {tok}\r\n\r\n".encode())
                    await w.drain()
                    if not await r.readline():
                        return
                    length = 0
                    while True:
                        h = await r.readline()
                        if h in (b"\r\n", b""):
                            break
                        if h.lower().startswith(b"content-length"):
                            length = int(h.split(b":")[1])
                    since = json.loads(await r.readexactly(length))["next_batch"]
            except (ConnectionError, asyncio.IncompleteReadError):
                return
            finally:
                w.close()

        tasks = [asyncio.ensure_future(syncer(toks[i % len(toks)])) for i in range(50)]
        await asyncio.sleep(2)
        t0 = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        while srv.proc.poll() is None and time.monotonic() - t0 < 20:
            await asyncio.sleep(0.01)
        took = time.monotonic() - t0
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 10)
        return took


class DatabaseDownTest(ServerTestCase):
    """The server's database refuses connections and its backends are terminated."""

    def psql(self, sql):
        pg = pg_env()
        subprocess.run([os.path.join(pg["PGBIN"], "psql"), "-h", pg["PGHOST"], "-U", pg["PGUSER"],
                        "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql],
                       check=True, capture_output=True, timeout=30)

    def test_503_with_retry_after_then_recovery(self):
        tok = self.s.register("dbdown")["access_token"]
        db = self.s.dbname
        self.psql(f'ALTER DATABASE "{db}" ALLOW_CONNECTIONS false')
        try:
            self.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      f"WHERE datname = '{db}' AND pid <> pg_backend_pid()")
            for i in range(3):
                r = self.s.post("/_matrix/client/v3/createRoom", {}, token=tok)
                self.assertError(r, 503, "M_UNKNOWN")
                self.assertEqual(r.headers.get("Retry-After"), "5", r.headers)
        finally:
            self.psql(f'ALTER DATABASE "{db}" ALLOW_CONNECTIONS true')
        ok = eventually(lambda: self.s.post("/_matrix/client/v3/createRoom", {},
                                            token=tok).status == 200, 10)
        self.assertTrue(ok, "no recovery once the database was back")


class DescriptorLimitTest(unittest.TestCase):
    """RLIMIT_NOFILE is raised at start-up to fit max_connections; when the hard limit is too
    low, max_connections is lowered to fit, with a warning."""

    def start_with_limits(self, soft, hard, config):
        """Start the server through a shell that sets its descriptor limits first (a lowered
        hard limit cannot be raised again, so not in this process)."""
        old = resource.getrlimit(resource.RLIMIT_NOFILE)
        if old[1] != resource.RLIM_INFINITY and old[1] < hard:
            self.skipTest(f"hard descriptor limit {old[1]} below {hard}")
        srv = Server(config)
        wrapper = os.path.join(srv.dir, "limited.sh")
        with open(wrapper, "w") as f:
            f.write(f"#!/bin/sh\nulimit -S -n {soft} && ulimit -H -n {hard} && "
                    f"exec {srv.binary} \"$@\"\n")
        os.chmod(wrapper, 0o755)
        srv.binary = wrapper
        return srv.start()

    @staticmethod
    def soft_limit(pid):
        with open(f"/proc/{pid}/limits") as f:
            for line in f:
                if line.startswith("Max open files"):
                    return int(line.split()[3])
        return 0

    def test_soft_limit_raised_to_fit(self):
        srv = self.start_with_limits(1024, 8192, {"max_connections": 3000})
        try:
            self.assertGreaterEqual(self.soft_limit(srv.proc.pid), 3000 + 512)
        finally:
            srv.stop()

    def test_low_hard_limit_lowers_max_connections(self):
        srv = self.start_with_limits(1024, 1200, {"max_connections": 5000})
        try:
            log = srv.read_log()
            self.assertIn("max_connections 5000 needs", log)
            self.assertIn("serving at most", log)
            self.assertEqual(self.soft_limit(srv.proc.pid), 1200)
        finally:
            srv.stop()


class StaleUploadTest(unittest.TestCase):
    def test_killed_upload_temp_file_removed_at_start(self):
        srv = Server().start()
        try:
            tok = srv.register("uploader")["access_token"]
            tmp = os.path.join(srv.dir, "media", "tmp")
            keep = os.path.join(tmp, "not-ours.txt")
            with open(keep, "w") as f:
                f.write("an operator's file")
            s = connect(srv.port)
            s.sendall(b"POST /_matrix/media/v3/upload HTTP/1.1\r\nHost: t\r\n"
                      b"Authorization: Bearer " + tok.encode() + b"\r\n"
                      b"Content-Type: application/octet-stream\r\n"
                      b"Content-Length: 10000000\r\n\r\n" + b"x" * 200000)
            started = eventually(lambda: [n for n in os.listdir(tmp)
                                          if n.startswith("upload-")])
            self.assertTrue(started, "the upload did not reach a temporary file")
            srv.proc.kill()
            srv.proc.wait(10)
            s.close()
            self.assertTrue(os.path.exists(os.path.join(tmp, started[0])))
            # start again on the same configuration and database
            srv.log = open(srv.log_path, "a")
            srv.proc = subprocess.Popen([srv.binary, "-c", srv.config_path], stdout=srv.log,
                                        stderr=subprocess.STDOUT)
            up = eventually(lambda: self.versions(srv), 60)
            self.assertTrue(up, srv.read_log()[-2000:])
            self.assertEqual([n for n in os.listdir(tmp) if n.startswith("upload-")], [])
            self.assertTrue(os.path.exists(keep))
        finally:
            srv.stop()

    @staticmethod
    def versions(srv):
        try:
            with urllib.request.urlopen(srv.base + "/_matrix/client/versions", timeout=2):
                return True
        except OSError:
            return False


if __name__ == "__main__":
    unittest.main()
