"""Federation test support: several Amtsbote instances on loopback that talk to each other.

Each instance gets a server name "127.0.0.1:PORT" (an IP literal with a port: server discovery
step 1, no DNS needed), where PORT is a small TLS front (a Python ssl proxy) in front of the
instance's own plain-HTTP listener, because federation is HTTPS only. The front's certificate
comes from a test CA made with openssl; instances trust it through federation_custom_ca_list,
and reach loopback through ip_range_whitelist (loopback is refused by default).

Also: signing keys made up front (so that a notary's verify key can go into another
instance's configuration), and X-Matrix signing in Python (libsodium through ctypes), so that
tests can send requests that are mis-signed on purpose.
"""
import base64
import copy
import ctypes
import ctypes.util
import json
import os
import select
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import unittest

from harness import Server

_sodium = ctypes.CDLL(ctypes.util.find_library("sodium") or "libsodium.so.23")
_sodium.sodium_init()


def b64(data):
    return base64.b64encode(data).decode().rstrip("=")


def unb64(s):
    return base64.b64decode(s + "=" * (-len(s) % 4))


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class Key:
    """An ed25519 signing key, as Synapse's key file holds it."""

    def __init__(self, version="a_test", seed=None):
        self.version = version
        self.key_id = "ed25519:" + version
        self.seed = seed or os.urandom(32)
        self.pk = ctypes.create_string_buffer(32)
        self.sk = ctypes.create_string_buffer(64)
        _sodium.crypto_sign_seed_keypair(self.pk, self.sk, self.seed)
        self.public = b64(self.pk.raw)

    def write(self, path):
        with open(path, "w") as f:
            f.write(f"ed25519 {self.version} {b64(self.seed)}\n")
        os.chmod(path, 0o600)

    def sign(self, msg):
        sig = ctypes.create_string_buffer(64)
        _sodium.crypto_sign_detached(sig, None, msg, ctypes.c_ulonglong(len(msg)), self.sk)
        return b64(sig.raw)


def verify(public_b64, sig_b64, msg):
    pk = unb64(public_b64)
    sig = unb64(sig_b64)
    return _sodium.crypto_sign_verify_detached(sig, msg, ctypes.c_ulonglong(len(msg)), pk) == 0


def verify_json(obj, entity, key_id, public_b64):
    o = {k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}
    return verify(public_b64, obj["signatures"][entity][key_id], canonical(o))


def xmatrix(key, origin, destination, method, uri, content=None):
    """The Authorization header value for a request."""
    req = {"method": method, "uri": uri, "origin": origin, "destination": destination}
    if content is not None:
        req["content"] = content
    sig = key.sign(canonical(req))
    return f'X-Matrix origin="{origin}",destination="{destination}",key="{key.key_id}",sig="{sig}"'


class TestCA:
    """A CA and one certificate for 127.0.0.1 and localhost (subjectAltName IP and DNS), made
    with openssl."""

    def __init__(self, directory, name="Amtsbote Test CA"):
        self.dir = directory
        self.ca_key = os.path.join(directory, "ca.key")
        self.ca = os.path.join(directory, "ca.pem")
        self.key = os.path.join(directory, "server.key")
        self.cert = os.path.join(directory, "server.pem")
        run = lambda *a: subprocess.run(a, check=True, capture_output=True)
        run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", self.ca_key, "-out", self.ca, "-days", "2", "-subj",
            f"/CN={name}")
        csr = os.path.join(directory, "server.csr")
        ext = os.path.join(directory, "ext.cnf")
        with open(ext, "w") as f:
            f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n")
        run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", self.key, "-out", csr, "-subj", "/CN=127.0.0.1")
        run("openssl", "x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", self.ca_key,
            "-CAcreateserial", "-out", self.cert, "-days", "2", "-extfile", ext)


class TLSFront:
    """Terminates TLS on a free loopback port and relays to 127.0.0.1:backend_port, as the
    reverse proxy does in production. Counts accepted connections."""

    def __init__(self, cert, key):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.backend_port = None
        self.connections = 0
        self.stopping = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            self.connections += 1
            threading.Thread(target=self._relay, args=(conn,), daemon=True).start()

    def _relay(self, conn):
        conn.settimeout(10)
        try:
            tls = self.ctx.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError):
            conn.close()
            return
        try:
            back = socket.create_connection(("127.0.0.1", self.backend_port), timeout=10)
        except OSError:
            tls.close()
            return
        try:
            socks = [tls, back]
            for _ in range(100000):  # bounded: a request and its answer take a few rounds
                if tls.pending():
                    ready = [tls]
                else:
                    ready, _, _ = select.select(socks, [], [], 30)
                if not ready:
                    break
                done = False
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        done = True
                        break
                    (back if s is tls else tls).sendall(data)
                if done:
                    break
        except (OSError, ssl.SSLError):
            pass
        finally:
            tls.close()
            back.close()

    def close(self):
        self.stopping = True
        self.thread.join(timeout=2)
        self.sock.close()


class FedServer(Server):
    """A Server whose federation API is reachable as https://127.0.0.1:<front port>."""

    def __init__(self, ca, config=None, key=None, server_name=None):
        self.front = TLSFront(ca.cert, ca.key)
        super().__init__(config)
        self.front.backend_port = self.port
        self.server_name = server_name or f"127.0.0.1:{self.front.port}"
        self.key = key or Key()
        self.key.write(os.path.join(self.dir, "signing.key"))

    def config(self):
        cfg = super().config()
        cfg.setdefault("ip_range_whitelist", ["127.0.0.1/32"])
        return cfg

    def stop(self, check=True):
        self.front.close()
        return super().stop(check)

    def fed_request(self, method, path, key, origin, destination=None, content=None,
                    auth=None, raw=None):
        """A federation request signed as `origin` with `key` (auth overrides the header)."""
        destination = destination or self.server_name
        header = auth if auth is not None else xmatrix(key, origin, destination, method, path,
                                                       content)
        return self.request(method, path, body=content, raw=raw,
                            headers={"Authorization": header} if header else None)


class Restartable(FedServer):
    """A FedServer that is stopped and started again with its database and name (pause() and
    resume(extra) of harness.Server); the name says so where tests do it."""


def start_servers(*servers):
    """Start the servers in order; if one fails, stop those started, close every front and
    raise. Returns the list (give it to stop_servers)."""
    started = []
    try:
        for s in servers:
            s.start()
            started.append(s)
    except Exception:
        stop_servers(started)
        for s in servers:
            if s not in started:
                s.front.close()
        raise
    return started


def stop_servers(servers):
    for s in servers:
        s.stop()


class FedTestCase(unittest.TestCase):
    """Instances on loopback that trust one fresh test CA, made and started once per test class
    as class attributes named by INSTANCES ({"A": FedServer, "B": Restartable, ...}, in start
    order), each with CONFIG; stopped, and their directory removed, at the class's end.

    Subclasses set PREFIX (the temporary directory's) and may override before_start() (per
    instance configuration, which may name other instances: cls.A.overrides[...]) and
    after_start() (users, rooms). If anything in setUpClass fails, what was started is stopped
    before the error goes on (unittest runs no tearDownClass then)."""
    PREFIX = "amtsbote-fed-"
    INSTANCES = {"A": FedServer, "B": FedServer}
    CONFIG = {}

    @classmethod
    def before_start(cls):
        pass

    @classmethod
    def after_start(cls):
        pass

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix=cls.PREFIX)
        cls.servers, made, starting = [], [], False
        try:
            cls.ca = TestCA(cls.tmp)
            for name, kind in cls.INSTANCES.items():
                cfg = copy.deepcopy(cls.CONFIG)
                cfg["federation_custom_ca_list"] = [cls.ca.ca]
                made.append(kind(cls.ca, cfg))
                setattr(cls, name, made[-1])
            cls.before_start()
            starting = True  # start_servers cleans up after itself if a start fails
            cls.servers = start_servers(*made)
            cls.after_start()
        except BaseException:
            if not starting:
                for s in made:
                    s.front.close()
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        stop_servers(cls.servers)
        shutil.rmtree(cls.tmp, ignore_errors=True)


def keep_logs(env_var, test_name, named):
    """Copy the logs of `named` ((name, server) pairs) into the directory the environment
    variable env_var names, if it is set, as <test_name>-<name>.log."""
    keep = os.environ.get(env_var)
    if keep:
        os.makedirs(keep, exist_ok=True)
        for n, s in named:
            shutil.copy(s.log_path, os.path.join(keep, f"{test_name}-{n}.log"))


def user_with_name(server, localpart, displayname):
    """Register a user on server and set their display name; returns the access token."""
    server.register(localpart)
    tok = server.login(localpart)["access_token"]
    r = server.put(f"/_matrix/client/v3/profile/@{localpart}:{server.server_name}/displayname",
                   {"displayname": displayname}, token=tok)
    assert r.status == 200, r
    return tok


class FakeOrigin:
    """Another homeserver as far as its keys go: HTTPS on a free loopback port serving a
    signed /_matrix/key/v2/server answer whose valid_until_ts the test chooses. Its server
    name is 127.0.0.1:<port>; `key` signs requests from it."""

    def __init__(self, ca, valid_until_ts):
        import http.server
        outer = self
        self.key = Key()
        self.hits = 0
        self.valid_until_ts = valid_until_ts

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.hits += 1
                if self.path != "/_matrix/key/v2/server":
                    self.send_response(404)
                    self.end_headers()
                    return
                data = json.dumps(outer.answer()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(ca.cert, ca.key)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.server_name = f"127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def answer(self):
        a = {"server_name": self.server_name, "valid_until_ts": self.valid_until_ts,
             "verify_keys": {self.key.key_id: {"key": self.key.public}}, "old_verify_keys": {}}
        a["signatures"] = {self.server_name: {self.key.key_id: self.key.sign(canonical(a))}}
        return a

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class WellKnownServer:
    """HTTPS on 127.0.0.1:443 answering /.well-known/matrix/server with `body` (a dict, or
    None for 404), as a domain's web server does, after a redirect when `redirect`. Needs the
    port: check `ok`."""

    def __init__(self, ca, body, max_age=3600, redirect=False):
        import http.server
        outer = self
        self.hits = 0
        self.redirect = redirect
        self.body, self.max_age = body, max_age

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.hits += 1
                if self.path == "/.well-known/matrix/server" and outer.redirect:
                    self.send_response(302)  # as a web server moving the file would
                    self.send_header("Location", "https://localhost/moved/matrix-server")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if self.path not in ("/.well-known/matrix/server", "/moved/matrix-server") \
                        or outer.body is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                data = json.dumps(outer.body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Cache-Control", f"max-age={outer.max_age}")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *a):
                pass

        try:
            self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 443), H)
        except OSError:
            self.ok = False
            return
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(ca.cert, ca.key)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.ok = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        if self.ok:
            self.httpd.shutdown()
            self.httpd.server_close()
