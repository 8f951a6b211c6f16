"""End-to-end harness: start the real amtsbote binary (the ASan/UBSan build) on a free
loopback port with a database of its own in the private PostgreSQL cluster, talk HTTP to it,
and on shutdown fail the test if the process did not exit cleanly or a sanitizer spoke.

The configuration is written as JSON, which is YAML, so the test states it as a dict.
"""
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("AMTSBOTE_BIN", os.path.join(ROOT, "build", "asan", "amtsbote"))
SANITIZER_RE = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:")


def pg_env():
    out = subprocess.run([os.path.join(ROOT, "deploy", "dev", "pg.sh"), "env"], check=True,
                         capture_output=True, text=True).stdout
    return dict(line.split("=", 1) for line in out.split())


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def deep_merge(base, extra):
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            deep_merge(base[k], v)
        else:
            base[k] = v
    return base


class Response:
    def __init__(self, status, body, headers, raw):
        self.status, self.body, self.headers, self.raw = status, body, headers, raw

    def __getitem__(self, k):
        return self.body[k]

    def get(self, k, d=None):
        return self.body.get(k, d) if isinstance(self.body, dict) else d

    @property
    def errcode(self):
        return self.get("errcode")

    def __repr__(self):
        return f"<{self.status} {self.raw[:300]!r}>"


class Server:
    SHARED_SECRET = "test-shared-secret-0123456789abcdef"

    def __init__(self, config=None, binary=BIN):
        self.binary = binary
        self.overrides = config or {}
        self.proc = None
        self.dir = tempfile.mkdtemp(prefix="amtsbote-e2e-")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.pg = pg_env()
        self.dbname = "e2e_" + uuid.uuid4().hex[:12]
        self.server_name = "test.local"

    # --- life cycle ----------------------------------------------------------------------
    def config(self):
        cfg = {
            "server_name": self.server_name,
            "public_baseurl": self.base + "/",
            "listeners": [{"port": self.port, "bind_addresses": ["127.0.0.1"], "type": "http",
                           "tls": False, "x_forwarded": False,
                           "resources": [{"names": ["client", "federation"]}]}],
            "database": {"name": "psycopg2", "args": {"user": self.pg["PGUSER"],
                         "host": self.pg["PGHOST"], "database": self.dbname,
                         "cp_min": 1, "cp_max": 8}},
            "signing_key_path": os.path.join(self.dir, "signing.key"),
            "media_store_path": os.path.join(self.dir, "media"),
            "enable_registration": True,
            "enable_registration_without_verification": True,
            "registration_shared_secret": self.SHARED_SECRET,
            "log_level": "info",
            "worker_threads": 4,
            "rc_registration": {"per_second": 1000, "burst_count": 1000},
            "rc_login": {"address": {"per_second": 1000, "burst_count": 1000},
                         "account": {"per_second": 1000, "burst_count": 1000},
                         "failed_attempts": {"per_second": 1000, "burst_count": 1000}},
            # tests send many messages: the default (0.2/s, burst 10) is tested on its own
            "rc_message": {"per_second": 1000, "burst_count": 1000},
        }
        return deep_merge(cfg, self.overrides)

    def start(self):
        subprocess.run([os.path.join(self.pg["PGBIN"], "createdb"), "-h", self.pg["PGHOST"],
                        "-U", self.pg["PGUSER"], self.dbname], check=True)
        gen = subprocess.run([self.binary, "generate-config", "--server-name", self.server_name,
                              "--out", os.path.join(self.dir, "generated.yaml"),
                              "--signing-key", os.path.join(self.dir, "signing.key")],
                             capture_output=True, text=True)
        assert gen.returncode == 0, gen.stderr
        self.config_path = os.path.join(self.dir, "homeserver.yaml")
        with open(self.config_path, "w") as f:
            json.dump(self.config(), f, indent=2)
        self.log_path = os.path.join(self.dir, "server.log")
        self.log = open(self.log_path, "w")
        self._launch()
        return self

    def _launch(self):
        """Start the binary on the written configuration (log appended to self.log) and wait
        until it answers."""
        env = dict(os.environ)
        env["ASAN_OPTIONS"] = "detect_leaks=1:halt_on_error=1:abort_on_error=0"
        env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
        self.proc = subprocess.Popen([self.binary, "-c", self.config_path], stdout=self.log,
                                     stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited at start-up:\n{self.read_log()}")
            try:
                with urllib.request.urlopen(self.base + "/_matrix/client/versions", timeout=2):
                    return
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.05)
        raise RuntimeError(f"server did not answer within 60 s:\n{self.read_log()}")

    def pause(self):
        """SIGTERM and wait for a clean exit; the database, name and key stay (resume())."""
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)
        assert self.proc.returncode == 0, self.read_log()[-5000:]
        self.log.close()

    def resume(self, extra=None):
        """Start again after pause(), optionally with extra top-level configuration."""
        cfg = self.config()
        cfg.update(extra or {})
        with open(self.config_path, "w") as f:
            json.dump(cfg, f, indent=2)
        self.log = open(self.log_path, "a")
        self._launch()

    def restart(self):
        self.pause()
        self.resume()

    def read_log(self):
        try:
            with open(self.log_path) as f:
                return f.read()
        except OSError:
            return ""

    def stop(self, check=True):
        """SIGTERM, wait; return the log. Raise if the exit was unclean or a sanitizer spoke."""
        problems = []
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                problems.append("did not exit within 60 s of SIGTERM")
        if self.proc and self.proc.returncode != 0:
            problems.append(f"exit status {self.proc.returncode}")
        self.log.close()
        log = self.read_log()
        if SANITIZER_RE.search(log):
            problems.append("sanitizer report")
        subprocess.run([os.path.join(self.pg["PGBIN"], "dropdb"), "-h", self.pg["PGHOST"],
                        "-U", self.pg["PGUSER"], "--if-exists", self.dbname])
        if check and problems:
            raise AssertionError(f"server: {', '.join(problems)}\n{log[-20000:]}")
        shutil.rmtree(self.dir, ignore_errors=True)
        return log

    # --- HTTP --------------------------------------------------------------------------
    def request(self, method, path, body=None, token=None, raw=None, headers=None,
                query=None, timeout=30):
        url = self.base + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None
                                            else None)
        req = urllib.request.Request(url, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                status, text, hdrs = r.status, r.read(), dict(r.headers)
        except urllib.error.HTTPError as e:
            status, text, hdrs = e.code, e.read(), dict(e.headers)
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = None
        return Response(status, parsed, hdrs, text)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body if body is not None else {}, **kw)

    def put(self, path, body=None, **kw):
        return self.request("PUT", path, body if body is not None else {}, **kw)

    def delete(self, path, body=None, **kw):
        return self.request("DELETE", path, body, **kw)

    # --- accounts ----------------------------------------------------------------------
    def register(self, username, password="correct horse battery", **extra):
        """Register through UIA with m.login.dummy; returns the final response body."""
        body = dict(username=username, password=password, **extra)
        r = self.post("/_matrix/client/v3/register", body)
        assert r.status == 401, r
        body["auth"] = {"type": "m.login.dummy", "session": r["session"]}
        r = self.post("/_matrix/client/v3/register", body)
        assert r.status == 200, f"{r}\nserver log:\n{self.read_log()[-3000:]}"
        return r.body

    def login(self, user, password="correct horse battery", **extra):
        r = self.post("/_matrix/client/v3/login",
                      dict(type="m.login.password", password=password,
                           identifier={"type": "m.id.user", "user": user}, **extra))
        assert r.status == 200, r
        return r.body

    def admin_register(self, username, password="correct horse battery", admin=False):
        nonce = self.get("/_synapse/admin/v1/register")["nonce"]
        mac = hmac.new(self.SHARED_SECRET.encode(),
                       b"\0".join([nonce.encode(), username.encode(), password.encode(),
                                   b"admin" if admin else b"notadmin"]),
                       hashlib.sha1).hexdigest()
        r = self.post("/_synapse/admin/v1/register", dict(nonce=nonce, username=username,
                      password=password, admin=admin, mac=mac))
        assert r.status == 200, r
        return r.body


class ServerTestCase(unittest.TestCase):
    """One server per test class; `config` overrides the defaults."""
    config = {}

    @classmethod
    def setUpClass(cls):
        cls.server = Server(cls.config).start()
        cls.s = cls.server

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def assertError(self, r, status, errcode):
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.errcode, errcode, r)
