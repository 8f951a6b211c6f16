"""Operations end to end: shared-secret registration (Synapse's admin API and the
`amtsbote register-user` command), registration tokens (admin API, the validity endpoint and
the m.login.registration_token stage), closed registration, rate limits, configuration
errors, generate-config, schema versions and clean shutdown."""
import hashlib
import hmac
import json
import os
import subprocess
import threading
import time
import unittest

from harness import BIN, Server, ServerTestCase

CS = "/_matrix/client/v3"
ADMIN = "/_synapse/admin/v1"


class SharedSecretRegistration(ServerTestCase):
    config = {"enable_registration": False}

    def test_registration_closed(self):
        r = self.s.post(CS + "/register", {"username": "x", "password": "y"})
        self.assertError(r, 403, "M_FORBIDDEN")

    def test_admin_register(self):
        body = self.s.admin_register("root", "root-pw", admin=True)
        self.assertEqual(body["user_id"], "@root:test.local")
        w = self.s.get(CS + "/account/whoami", token=body["access_token"])
        self.assertEqual(w["user_id"], "@root:test.local")
        self.s.login("root", "root-pw")

    def test_bad_mac(self):
        nonce = self.s.get(ADMIN + "/register")["nonce"]
        r = self.s.post(ADMIN + "/register", {"nonce": nonce, "username": "mallory",
                                              "password": "x", "admin": True, "mac": "00" * 20})
        self.assertError(r, 403, "M_FORBIDDEN")

    def test_nonce_single_use(self):
        nonce = self.s.get(ADMIN + "/register")["nonce"]
        mac = hmac.new(Server.SHARED_SECRET.encode(), b"\0".join(
            [nonce.encode(), b"once", b"pw", b"notadmin"]), hashlib.sha1).hexdigest()
        body = {"nonce": nonce, "username": "once", "password": "pw", "mac": mac}
        self.assertEqual(self.s.post(ADMIN + "/register", body).status, 200)
        self.assertError(self.s.post(ADMIN + "/register", body), 400, "M_UNKNOWN")

    def psql(self, sql):
        return subprocess.run([os.path.join(self.s.pg["PGBIN"], "psql"), "-h",
                               self.s.pg["PGHOST"], "-U", self.s.pg["PGUSER"], "-d",
                               self.s.dbname, "-Atc", sql],
                              check=True, capture_output=True, text=True).stdout.strip()

    def test_nonces_bounded_and_expiring(self):
        # issue 17: every unauthenticated GET wrote a row, without limit. At most 1,000
        # unexpired nonces are outstanding; stale ones (over 60 s) go when a new one is made.
        self.psql("INSERT INTO admin_register_nonces (nonce, created_ts) SELECT 'n' || i, "
                  "(extract(epoch from now()) * 1000)::bigint FROM generate_series(1, 1000) i")
        r = self.s.get(ADMIN + "/register")
        self.assertError(r, 429, "M_LIMIT_EXCEEDED")
        self.assertGreater(r["retry_after_ms"], 0)
        self.psql("UPDATE admin_register_nonces SET created_ts = created_ts - 61000")
        r = self.s.get(ADMIN + "/register")
        self.assertEqual(r.status, 200, r)
        self.assertLess(int(self.psql("SELECT count(*) FROM admin_register_nonces")), 10)
        # a nonce older than 60 s is refused
        nonce = r["nonce"]
        self.psql(f"UPDATE admin_register_nonces SET created_ts = created_ts - 61000 "
                  f"WHERE nonce = '{nonce}'")
        mac = hmac.new(Server.SHARED_SECRET.encode(), b"\0".join(
            [nonce.encode(), b"late", b"pw", b"notadmin"]), hashlib.sha1).hexdigest()
        r = self.s.post(ADMIN + "/register", {"nonce": nonce, "username": "late",
                                              "password": "pw", "mac": mac})
        self.assertError(r, 400, "M_UNKNOWN")

    def test_register_user_command(self):
        out = subprocess.run([BIN, "register-user", "-c", self.s.config_path, "-u", "cmduser",
                              "-p", "cmd-pw", "--admin"], capture_output=True, text=True,
                             timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("@cmduser:test.local", out.stdout)
        tok = self.s.login("cmduser", "cmd-pw")["access_token"]
        # an admin may use the admin API
        self.assertEqual(self.s.get(ADMIN + "/registration_tokens", token=tok).status, 200)
        # password from standard input
        out = subprocess.run([BIN, "register-user", "-c", self.s.config_path, "-u", "stdin.user"],
                             input="stdin-pw\n", capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.s.login("stdin.user", "stdin-pw")
        # taken name: non-zero exit and the server's reason
        out = subprocess.run([BIN, "register-user", "-c", self.s.config_path, "-u", "cmduser",
                              "-p", "x"], capture_output=True, text=True, timeout=60)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("taken", out.stderr)


class RegistrationTokens(ServerTestCase):
    config = {"registration_requires_token": True,
              "enable_registration_without_verification": False}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.admin = cls.server.admin_register("tokadmin", "pw", admin=True)["access_token"]
        cls.user = cls.server.admin_register("plain", "pw", admin=False)["access_token"]

    def new_token(self, **body):
        r = self.s.post(ADMIN + "/registration_tokens/new", body, token=self.admin)
        self.assertEqual(r.status, 200, r)
        return r.body

    def register_with(self, username, token):
        r = self.s.post(CS + "/register", {"username": username, "password": "pw"})
        self.assertEqual(r.status, 401, r)
        self.assertEqual(r["flows"], [{"stages": ["m.login.registration_token"]}])
        return self.s.post(CS + "/register", {"username": username, "password": "pw", "auth": {
            "type": "m.login.registration_token", "token": token, "session": r["session"]}})

    def test_admin_only(self):
        self.assertError(self.s.get(ADMIN + "/registration_tokens", token=self.user), 403,
                         "M_FORBIDDEN")
        self.assertError(self.s.get(ADMIN + "/registration_tokens"), 401, "M_MISSING_TOKEN")

    def test_token_lifecycle(self):
        t = self.new_token(token="abc-123", uses_allowed=2)
        self.assertEqual(t, {"token": "abc-123", "uses_allowed": 2, "pending": 0,
                             "completed": 0, "expiry_time": None})
        v = self.s.get("/_matrix/client/v1/register/m.login.registration_token/validity",
                       query={"token": "abc-123"})
        self.assertEqual(v.body, {"valid": True})
        self.assertEqual(self.register_with("tok1", "abc-123").status, 200)
        self.assertEqual(self.register_with("tok2", "abc-123").status, 200)
        r = self.register_with("tok3", "abc-123")
        self.assertEqual(r.status, 401)
        self.assertEqual(r.errcode, "M_FORBIDDEN")
        g = self.s.get(ADMIN + "/registration_tokens/abc-123", token=self.admin)
        self.assertEqual((g["completed"], g["pending"]), (2, 0))
        v = self.s.get("/_matrix/client/v1/register/m.login.registration_token/validity",
                       query={"token": "abc-123"})
        self.assertEqual(v.body, {"valid": False})
        u = self.s.put(ADMIN + "/registration_tokens/abc-123", {"uses_allowed": None},
                       token=self.admin)
        self.assertIsNone(u["uses_allowed"])
        self.assertEqual(self.register_with("tok3", "abc-123").status, 200)
        lst = self.s.get(ADMIN + "/registration_tokens", token=self.admin,
                         query={"valid": "true"})
        self.assertIn("abc-123", [x["token"] for x in lst["registration_tokens"]])
        self.assertEqual(self.s.delete(ADMIN + "/registration_tokens/abc-123",
                                       token=self.admin).status, 200)
        self.assertError(self.s.get(ADMIN + "/registration_tokens/abc-123", token=self.admin),
                         404, "M_NOT_FOUND")

    def test_expired_and_unknown(self):
        past = int(time.time() * 1000) - 1000
        r = self.s.post(ADMIN + "/registration_tokens/new", {"expiry_time": past},
                        token=self.admin)
        self.assertError(r, 400, "M_INVALID_PARAM")
        t = self.new_token(expiry_time=int(time.time() * 1000) + 1500)
        self.assertEqual(len(t["token"]), 16)
        time.sleep(2)
        self.assertEqual(self.register_with("late", t["token"]).status, 401)
        self.assertEqual(self.register_with("unknown", "nosuchtoken").status, 401)
        v = self.s.get("/_matrix/client/v1/register/m.login.registration_token/validity",
                       query={"token": "bad token!"})
        self.assertEqual(v.body, {"valid": False})

    def test_bad_admin_input(self):
        for body in [{"token": "has space"}, {"uses_allowed": -1}, {"uses_allowed": "3"},
                     {"length": 65}, {"length": 0}]:
            r = self.s.post(ADMIN + "/registration_tokens/new", body, token=self.admin)
            self.assertError(r, 400, "M_INVALID_PARAM")
        self.new_token(token="dup")
        self.assertError(self.s.post(ADMIN + "/registration_tokens/new", {"token": "dup"},
                                     token=self.admin), 400, "M_INVALID_PARAM")

    def test_single_use_under_concurrency(self):
        self.new_token(token="once-only", uses_allowed=1)
        sessions = []
        for i in range(6):
            r = self.s.post(CS + "/register", {"username": f"con{i}", "password": "pw"})
            sessions.append(r["session"])
        results = []

        def go(i):
            r = self.s.post(CS + "/register", {"username": f"con{i}", "password": "pw", "auth": {
                "type": "m.login.registration_token", "token": "once-only",
                "session": sessions[i]}})
            results.append(r.status)

        ts = [threading.Thread(target=go, args=(i,)) for i in range(6)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        self.assertEqual(results.count(200), 1, results)


class RateLimits(ServerTestCase):
    config = {"rc_login": {"address": {"per_second": 0.1, "burst_count": 3}},
              "rc_registration": {"per_second": 0.1, "burst_count": 2}}

    def test_login_limited(self):
        statuses = []
        for _ in range(5):
            r = self.s.post(CS + "/login", {"type": "m.login.password", "password": "x",
                                            "identifier": {"type": "m.id.user", "user": "z"}})
            statuses.append(r.status)
        self.assertEqual(statuses[:3], [403, 403, 403])
        self.assertEqual(r.status, 429)
        self.assertEqual(r.errcode, "M_LIMIT_EXCEEDED")
        self.assertGreater(r["retry_after_ms"], 0)

    def test_admin_nonce_limited(self):
        # the shared-secret nonce endpoint is unauthenticated: limited per address
        for _ in range(2):
            self.assertEqual(self.s.get(ADMIN + "/register").status, 200)
        r = self.s.get(ADMIN + "/register")
        self.assertError(r, 429, "M_LIMIT_EXCEEDED")
        self.assertIn("retry_after_ms", r.body)

    def test_registration_limited(self):
        self.s.register("rl1")
        self.s.register("rl2")
        r = self.s.post(CS + "/register", {"username": "rl3", "password": "x"})
        self.assertError(r, 429, "M_LIMIT_EXCEEDED")
        self.assertIn("retry_after_ms", r.body)


class MessageLimit(ServerTestCase):
    """rc_message with Synapse's defaults (0.2/s, burst 10; null keeps the default) for
    messages, state events and redactions, per user; and unauthenticated profile lookups
    limited per address like /register/available (issue 17, item 8)."""
    config = {"rc_message": None,
              "rc_registration": {"per_second": 0.001, "burst_count": 3}}

    def test_messages_limited_per_user(self):
        a = self.s.register("msga")["access_token"]
        b = self.s.register("msgb")["access_token"]
        room = self.s.post(CS + "/createRoom", {"preset": "public_chat"}, token=a)["room_id"]
        self.assertEqual(self.s.post(CS + f"/rooms/{room}/join", {}, token=b).status, 200)
        ids = []
        for i in range(10):
            r = self.s.put(CS + f"/rooms/{room}/send/m.room.message/t{i}",
                           {"msgtype": "m.text", "body": str(i)}, token=a)
            self.assertEqual(r.status, 200, r)
            ids.append(r["event_id"])
        r = self.s.put(CS + f"/rooms/{room}/send/m.room.message/t10",
                       {"msgtype": "m.text", "body": "10"}, token=a)
        self.assertError(r, 429, "M_LIMIT_EXCEEDED")
        self.assertGreater(r["retry_after_ms"], 1000)  # a token every 5 s
        self.assertLessEqual(r["retry_after_ms"], 5000)
        r = self.s.put(CS + f"/rooms/{room}/state/m.room.topic/", {"topic": "x"}, token=a)
        self.assertError(r, 429, "M_LIMIT_EXCEEDED")
        r = self.s.put(CS + f"/rooms/{room}/redact/{ids[0]}/r1", {}, token=a)
        self.assertError(r, 429, "M_LIMIT_EXCEEDED")
        # another user has a bucket of their own
        r = self.s.put(CS + f"/rooms/{room}/send/m.room.message/b1",
                       {"msgtype": "m.text", "body": "b"}, token=b)
        self.assertEqual(r.status, 200, r)

    def test_unauthenticated_profile_limited(self):
        tok = self.s.register("prof")["access_token"]
        for _ in range(3):
            self.assertEqual(self.s.get(CS + "/profile/@prof:test.local").status, 200)
        r = self.s.get(CS + "/profile/@prof:test.local/displayname")
        self.assertError(r, 429, "M_LIMIT_EXCEEDED")
        for _ in range(5):  # with an access token: not limited
            self.assertEqual(self.s.get(CS + "/profile/@prof:test.local", token=tok).status,
                             200)


class FailedLoginLimit(ServerTestCase):
    config = {"rc_login": {"failed_attempts": {"per_second": 0.05, "burst_count": 2}}}

    def test_failed_attempts(self):
        self.s.register("victim", "right")
        for _ in range(2):
            r = self.s.post(CS + "/login", {"type": "m.login.password", "password": "wrong",
                                            "identifier": {"type": "m.id.user", "user": "victim"}})
            self.assertError(r, 403, "M_FORBIDDEN")
        r = self.s.post(CS + "/login", {"type": "m.login.password", "password": "right",
                                        "identifier": {"type": "m.id.user", "user": "victim"}})
        self.assertError(r, 429, "M_LIMIT_EXCEEDED")


class StartUp(unittest.TestCase):
    """Configuration problems stop the server at start-up with a message naming the key."""

    def start_fails(self, overrides, expect):
        srv = Server(overrides)
        with self.assertRaises(RuntimeError) as ctx:
            srv.start()
        self.assertIn(expect, str(ctx.exception))
        srv.stop(check=False)

    def test_wrong_type(self):
        self.start_fails({"enable_registration": "maybe"}, "enable_registration")

    def test_bad_port(self):
        self.start_fails({"listeners": [{"port": "eighty"}]}, "port")

    def test_open_registration_needs_explicit_consent(self):
        self.start_fails({"enable_registration_without_verification": False},
                         "enable_registration_without_verification")

    def test_missing_signing_key(self):
        self.start_fails({"signing_key_path": "/nonexistent/key"}, "signing key")

    def test_database_unreachable(self):
        self.start_fails({"database": {"args": {"host": "/nonexistent-socket-dir"}}}, "database")

    def test_unknown_key_is_only_a_warning(self):
        srv = Server({"some_unknown_key": 1}).start()
        log = srv.stop()
        self.assertIn("some_unknown_key", log)

    def test_newer_schema_refused(self):
        srv = Server().start()
        srv.stop()
        # a fresh database, migrated once, then marked as coming from the future
        srv2 = Server()
        srv2.start()
        psql = os.path.join(srv2.pg["PGBIN"], "psql")
        srv2.proc.send_signal(15)
        srv2.proc.wait(timeout=60)
        subprocess.run([psql, "-h", srv2.pg["PGHOST"], "-U", srv2.pg["PGUSER"], "-d",
                        srv2.dbname, "-c",
                        "INSERT INTO schema_version VALUES (9999, '9999_future', 0)"],
                       check=True, capture_output=True)
        srv2.log.close()
        srv2.log = open(srv2.log_path, "a")
        srv2.proc = subprocess.Popen([srv2.binary, "-c", srv2.config_path], stdout=srv2.log,
                                     stderr=subprocess.STDOUT)
        self.assertNotEqual(srv2.proc.wait(timeout=60), 0)
        self.assertIn("newer than this amtsbote knows", srv2.read_log())
        srv2.proc = None
        srv2.stop(check=False)

    def test_missing_older_migration_is_applied(self):
        # migrations written in parallel land in any order: one missing below the newest
        # recorded still gets applied at the next start
        srv = Server()
        srv.start()
        psql = os.path.join(srv.pg["PGBIN"], "psql")
        srv.proc.send_signal(15)
        self.assertEqual(srv.proc.wait(timeout=60), 0)
        subprocess.run([psql, "-h", srv.pg["PGHOST"], "-U", srv.pg["PGUSER"], "-d", srv.dbname,
                        "-c", "DROP TABLE openid_tokens, event_search, search_position; "
                        "DELETE FROM schema_version WHERE version = 8"],
                       check=True, capture_output=True)
        srv.log.close()
        srv.log = open(srv.log_path, "a")
        srv.proc = subprocess.Popen([srv.binary, "-c", srv.config_path], stdout=srv.log,
                                    stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while srv.read_log().count(" serving ") < 2 and time.time() < deadline:
            time.sleep(0.05)
        self.assertIn("applied migration 0008_openid_search", srv.read_log())
        tok = srv.register("late")["access_token"]
        r = srv.post("/_matrix/client/v3/user/@late:test.local/openid/request_token", {},
                     token=tok)
        self.assertEqual(r.status, 200, r)
        srv.stop()

    def test_restart_keeps_accounts(self):
        srv = Server().start()
        tok = srv.register("persist")["access_token"]
        srv.proc.send_signal(15)
        self.assertEqual(srv.proc.wait(timeout=60), 0)
        srv.log.close()
        # same database, same config: the token and the account survive
        srv.log = open(srv.log_path, "a")
        srv.proc = subprocess.Popen([srv.binary, "-c", srv.config_path], stdout=srv.log,
                                    stderr=subprocess.STDOUT)
        for _ in range(600):
            try:
                r = srv.get(CS + "/account/whoami", token=tok)
                break
            except OSError:
                time.sleep(0.05)
        self.assertEqual(r["user_id"], "@persist:test.local")
        srv.stop()


class GenerateConfig(unittest.TestCase):
    def test_generate_config_and_key(self):
        import tempfile
        d = tempfile.mkdtemp()
        out = os.path.join(d, "hs.yaml")
        r = subprocess.run([BIN, "generate-config", "--server-name", "example.org", "--out", out],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        key = open(os.path.join(d, "example.org.signing.key")).read().split()
        self.assertEqual(key[0], "ed25519")
        self.assertRegex(key[1], r"^a_[A-Za-z0-9]{4}$")
        self.assertEqual(len(key[2]), 43)  # unpadded base64 of a 32-byte seed
        self.assertEqual(os.stat(os.path.join(d, "example.org.signing.key")).st_mode & 0o777,
                         0o600)
        text = open(out).read()
        for k in ["server_name", "listeners", "database", "signing_key_path",
                  "media_store_path", "enable_registration", "registration_shared_secret"]:
            self.assertIn(k, text)
        # refuses to overwrite
        r = subprocess.run([BIN, "generate-config", "--server-name", "example.org", "--out", out],
                           capture_output=True, text=True)
        self.assertNotEqual(r.returncode, 0)
        # an invalid server name leaves no file behind
        bad = os.path.join(d, "bad.yaml")
        r = subprocess.run([BIN, "generate-config", "--server-name", "exa mple..org", "--out", bad],
                           capture_output=True, text=True)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("not a valid server name", r.stderr)
        self.assertFalse(os.path.exists(bad))


class Shutdown(ServerTestCase):
    def test_sigterm_finishes_request_in_flight(self):
        """A login (argon2id: slow on purpose) in flight when SIGTERM arrives still gets its
        answer; the server then exits 0 (checked by tearDownClass)."""
        self.s.register("late.login", "pw")
        results = []

        def login():
            r = self.s.post(CS + "/login", {"type": "m.login.password", "password": "pw",
                                            "identifier": {"type": "m.id.user",
                                                           "user": "late.login"}})
            results.append(r.status)

        t = threading.Thread(target=login)
        t.start()
        time.sleep(0.02)
        self.s.proc.send_signal(15)
        t.join(timeout=60)
        self.assertEqual(results, [200])
