"""What real clients trip on (issue 11), end to end: discovery only as configured
(public_baseurl), empty and foreign tokens on every token parameter, redactions that carry
their target in both places, and the access log."""
import os
import re
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.parse

from harness import BIN, Server, ServerTestCase

CS = "/_matrix/client/v3"
V1 = "/_matrix/client/v1"


def q(s):
    return urllib.parse.quote(s, safe="")


def login(s, user):
    return s.post(CS + "/login", {"type": "m.login.password", "password": "correct horse battery",
                                  "identifier": {"type": "m.id.user", "user": user}})


# --- 1. discovery ---------------------------------------------------------------------------

class DiscoveryWithoutBaseurl(ServerTestCase):
    """No public_baseurl: nothing guessed (nheko followed https://<server_name>/ and failed)."""
    config = {"public_baseurl": None, "serve_server_wellknown": True}

    def test_no_wellknown_client(self):
        self.assertError(self.s.get("/.well-known/matrix/client"), 404, "M_NOT_FOUND")

    def test_login_without_well_known(self):
        self.s.register("nowk")
        r = login(self.s, "nowk")
        self.assertEqual(r.status, 200, r)
        self.assertNotIn("well_known", r.body)
        self.assertEqual(r["home_server"], "test.local")

    def test_server_wellknown_delegates_to_server_name(self):
        r = self.s.get("/.well-known/matrix/server")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r["m.server"], "test.local:443")


class DiscoveryWithBaseurl(ServerTestCase):
    config = {"public_baseurl": "https://chat.example.org:8443", "serve_server_wellknown": True}

    def test_wellknown_client_is_exactly_it(self):
        r = self.s.get("/.well-known/matrix/client")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, {"m.homeserver": {"base_url": "https://chat.example.org:8443/"}})

    def test_login_well_known(self):
        self.s.register("wk")
        r = login(self.s, "wk")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r["well_known"],
                         {"m.homeserver": {"base_url": "https://chat.example.org:8443/"}})

    def test_server_wellknown_from_it(self):
        self.assertEqual(self.s.get("/.well-known/matrix/server")["m.server"],
                         "chat.example.org:8443")


class GenerateConfig(unittest.TestCase):
    """`make run` (deploy/dev/firstrun.sh) asks generate-config for the address it serves."""

    def test_public_baseurl_option(self):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "hs.yaml")
            r = subprocess.run([BIN, "generate-config", "--server-name", "localhost", "--out", out,
                                "--public-baseurl", "http://127.0.0.1:8008/"],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(out) as f:
                self.assertIn('\npublic_baseurl: "http://127.0.0.1:8008/"\n', f.read())
            out2 = os.path.join(d, "prod.yaml")
            subprocess.run([BIN, "generate-config", "--server-name", "example.org", "--out",
                            out2], check=True, capture_output=True)
            with open(out2) as f:
                self.assertIn("\n#public_baseurl: https://example.org/\n", f.read())
            r = subprocess.run([BIN, "generate-config", "--server-name", "x.org", "--out",
                                os.path.join(d, "bad.yaml"), "--public-baseurl", "x.org"],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 2)

    def test_firstrun_passes_the_served_address(self):
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        with open(os.path.join(root, "deploy", "dev", "firstrun.sh")) as f:
            text = f.read()
        self.assertIn("--port 8008", text)
        self.assertIn("--public-baseurl http://127.0.0.1:8008/", text)


# --- 2, 3. tokens -----------------------------------------------------------------------------

class Tokens(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        s = cls.server
        cls.t = s.register("tok")["access_token"]
        cls.room = s.post(CS + "/createRoom", {"preset": "public_chat", "name": "Tokens"},
                          token=cls.t)["room_id"]
        s.put(CS + f"/directory/list/room/{q(cls.room)}", {"visibility": "public"}, token=cls.t)
        cls.parent = s.put(CS + f"/rooms/{q(cls.room)}/send/m.room.message/p1",
                           {"msgtype": "m.text", "body": "parent"}, token=cls.t)["event_id"]
        for i in range(3):
            s.put(CS + f"/rooms/{q(cls.room)}/send/m.room.message/c{i}",
                  {"msgtype": "m.text", "body": f"child {i}",
                   "m.relates_to": {"rel_type": "m.thread", "event_id": cls.parent}},
                  token=cls.t)
        cls.next_batch = s.get(CS + "/sync", token=cls.t)["next_batch"]

    def get(self, path, **query):
        return self.s.get(path, token=self.t, query=query)

    def far(self):
        """A stream position far past anything issued."""
        pos = int(re.match(r"s(\d+)_", self.next_batch).group(1))
        return pos + 1000000

    def test_sync_since(self):
        self.assertEqual(self.get(CS + "/sync", since=self.next_batch, timeout=0).status, 200)
        self.assertEqual(self.get(CS + "/sync", since="").status, 200)  # as absent
        for bad in ("garbage", f"s{self.far()}_0_0", "s 1_0_0", "s+1_0_0", "s-1_0_0",
                    "s1_0_0x", "s99999999999999999999_0_0", "s1_0_5"):
            self.assertError(self.get(CS + "/sync", since=bad, timeout=0), 400,
                             "M_INVALID_PARAM")

    def test_messages_empty_from_is_absent(self):
        base = self.get(CS + f"/rooms/{q(self.room)}/messages", dir="b")
        r = self.get(CS + f"/rooms/{q(self.room)}/messages", dir="b", **{"from": ""})
        self.assertEqual(r.status, 200, r)
        self.assertEqual([e["event_id"] for e in r["chunk"]],
                         [e["event_id"] for e in base["chunk"]])
        r = self.get(CS + f"/rooms/{q(self.room)}/messages", dir="f", to="", **{"from": ""})
        self.assertEqual(r.status, 200, r)

    def test_messages_tokens(self):
        path = CS + f"/rooms/{q(self.room)}/messages"
        first = self.get(path, dir="b", limit=2)
        self.assertEqual(self.get(path, dir="b", **{"from": first["end"]}).status, 200)
        self.assertEqual(self.get(path, dir="b", **{"from": self.next_batch}).status, 200)
        for key in ("from", "to"):
            for bad in ("garbage", f"t1_{self.far()}", f"s{self.far()}_0_0", "t 1_1", "t1_+1"):
                self.assertError(self.get(path, dir="b", **{key: bad}), 400, "M_INVALID_PARAM")

    def test_members_at(self):
        path = CS + f"/rooms/{q(self.room)}/members"
        self.assertEqual(self.get(path, at=self.next_batch).status, 200)
        self.assertEqual(self.get(path, at="").status, 200)
        for bad in ("garbage", f"s{self.far()}_0_0", f"t1_{self.far()}"):
            self.assertError(self.get(path, at=bad), 400, "M_INVALID_PARAM")

    def test_keys_changes(self):
        path = CS + "/keys/changes"
        self.assertEqual(self.get(path, to=self.next_batch, **{"from": self.next_batch}).status,
                         200)
        self.assertError(self.get(path, to=f"s{self.far()}_0_0", **{"from": self.next_batch}),
                         400, "M_INVALID_PARAM")
        self.assertError(self.get(path, to=self.next_batch, **{"from": "s 1_0_0"}),
                         400, "M_INVALID_PARAM")

    def test_notifications_from(self):
        self.assertEqual(self.get(CS + "/notifications", **{"from": ""}).status, 200)
        for bad in ("garbage", str(self.far()), "+5", " 5"):
            self.assertError(self.get(CS + "/notifications", **{"from": bad}), 400,
                             "M_INVALID_PARAM")

    def test_relations_and_threads_from(self):
        rel = V1 + f"/rooms/{q(self.room)}/relations/{q(self.parent)}"
        page = self.get(rel, limit=1)
        self.assertEqual(len(page["chunk"]), 1)
        r = self.get(rel, limit=1, **{"from": page["next_batch"]})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(r["chunk"]), 1)
        self.assertEqual(self.get(rel, **{"from": ""}).status, 200)
        for bad in ("garbage", f"t1_{self.far()}"):
            self.assertError(self.get(rel, **{"from": bad}), 400, "M_INVALID_PARAM")
        threads = V1 + f"/rooms/{q(self.room)}/threads"
        self.assertEqual(len(self.get(threads, **{"from": ""})["chunk"]), 1)
        for bad in ("garbage", str(self.far()), "+1"):
            self.assertError(self.get(threads, **{"from": bad}), 400, "M_INVALID_PARAM")

    def test_search_next_batch(self):
        body = {"search_categories": {"room_events": {"search_term": "child"}}}
        for ok in ("", "0"):
            r = self.s.post(CS + "/search", body, token=self.t, query={"next_batch": ok})
            self.assertEqual(r.status, 200, r)
        for bad in ("garbage", "+1", " 1", "-1"):
            r = self.s.post(CS + "/search", body, token=self.t, query={"next_batch": bad})
            self.assertError(r, 400, "M_INVALID_PARAM")

    def test_public_rooms_since(self):
        self.assertEqual(self.get(CS + "/publicRooms", since="").status, 200)
        self.assertEqual(self.get(CS + "/publicRooms", since="o0").status, 200)
        for bad in ("garbage", "o+1", "o 1", "o-1", "o99999999999"):
            self.assertError(self.get(CS + "/publicRooms", since=bad), 400, "M_INVALID_PARAM")
            r = self.s.post(CS + "/publicRooms", {"since": bad}, token=self.t)
            self.assertError(r, 400, "M_INVALID_PARAM")

    def test_hierarchy_from(self):
        path = V1 + f"/rooms/{q(self.room)}/hierarchy"
        self.assertEqual(self.get(path, **{"from": ""}).status, 200)
        self.assertEqual(self.get(path, **{"from": "0"}).status, 200)
        for bad in ("garbage", "+1", " 1"):
            self.assertError(self.get(path, **{"from": bad}), 400, "M_INVALID_PARAM")


# --- 4. redactions ----------------------------------------------------------------------------

class Redactions(ServerTestCase):
    """Every way an event reaches a client shows the redaction's target at the top level and
    in content, whatever the room version."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.t = cls.server.register("red")["access_token"]

    def check(self, ev, target):
        self.assertEqual(ev["type"], "m.room.redaction")
        self.assertEqual(ev.get("redacts"), target, ev)
        self.assertEqual(ev["content"].get("redacts"), target, ev)

    def room_with_redaction(self, version):
        s = self.s
        room = s.post(CS + "/createRoom", {"room_version": version}, token=self.t)["room_id"]
        before = s.put(CS + f"/rooms/{q(room)}/send/m.room.message/b{version}",
                       {"msgtype": "m.text", "body": f"Wasserstand {version}"},
                       token=self.t)["event_id"]
        target = s.put(CS + f"/rooms/{q(room)}/send/m.room.message/m{version}",
                       {"msgtype": "m.text", "body": "gone"}, token=self.t)["event_id"]
        r = s.put(CS + f"/rooms/{q(room)}/redact/{q(target)}/r{version}", {"reason": "x"},
                  token=self.t)
        self.assertEqual(r.status, 200, r)
        return room, before, target, r["event_id"]

    def test_every_read_path(self):
        for version in ("1", "10", "11", "12"):
            with self.subTest(version=version):
                self.read_paths(version)

    def read_paths(self, version):
        s = self.s
        room, before, target, red = self.room_with_redaction(version)
        sync = s.get(CS + "/sync", token=self.t)
        tl = sync["rooms"]["join"][room]["timeline"]["events"]
        self.check([e for e in tl if e["event_id"] == red][0], target)
        chunk = s.get(CS + f"/rooms/{q(room)}/messages", token=self.t, query={"dir": "b"})["chunk"]
        self.check([e for e in chunk if e["event_id"] == red][0], target)
        self.check(s.get(CS + f"/rooms/{q(room)}/event/{q(red)}", token=self.t).body, target)
        ctx = s.get(CS + f"/rooms/{q(room)}/context/{q(red)}", token=self.t)
        self.check(ctx["event"], target)
        ctx = s.get(CS + f"/rooms/{q(room)}/context/{q(before)}", token=self.t,
                    query={"limit": 4})
        self.check([e for e in ctx["events_after"] if e["event_id"] == red][0], target)
        # search: the redaction appears in the context of a hit
        body = {"search_categories": {"room_events": {
            "search_term": f"Wasserstand", "filter": {"rooms": [room]},
            "event_context": {"before_limit": 0, "after_limit": 3}}}}
        deadline = time.time() + 10
        while True:
            r = s.post(CS + "/search", body, token=self.t)
            res = r["search_categories"]["room_events"]["results"]
            if res or time.time() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(len(res), 1, r)
        after = res[0]["context"]["events_after"]
        self.check([e for e in after if e["event_id"] == red][0], target)
        # the target's own view names its redaction
        ev = s.get(CS + f"/rooms/{q(room)}/event/{q(target)}", token=self.t).body
        self.assertEqual(ev["unsigned"]["redacted_because"]["event_id"], red)

    def test_send_with_content_redacts_in_old_room_is_a_redaction(self):
        """A v10 redaction sent through /send in the newer shape redacts its target, so the
        content.redacts old and new clients read is true."""
        s = self.s
        room = s.post(CS + "/createRoom", {"room_version": "10"}, token=self.t)["room_id"]
        target = s.put(CS + f"/rooms/{q(room)}/send/m.room.message/o1",
                       {"msgtype": "m.text", "body": "old"}, token=self.t)["event_id"]
        r = s.put(CS + f"/rooms/{q(room)}/send/m.room.redaction/o2", {"redacts": target},
                  token=self.t)
        self.assertEqual(r.status, 200, r)
        ev = s.get(CS + f"/rooms/{q(room)}/event/{q(target)}", token=self.t).body
        self.assertEqual(ev["content"], {})
        self.assertEqual(ev["unsigned"]["redacted_because"]["event_id"], r["event_id"])
        self.check(s.get(CS + f"/rooms/{q(room)}/event/{q(r['event_id'])}", token=self.t).body,
                   target)


# --- 5. access log ----------------------------------------------------------------------------

class AccessLog(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        srv = Server()  # behind a proxy: x_forwarded on the listener
        srv.overrides = {"listeners": [{"port": srv.port, "bind_addresses": ["127.0.0.1"],
                                        "type": "http", "tls": False, "x_forwarded": True,
                                        "resources": [{"names": ["client", "federation"]}]}]}
        cls.server = cls.s = srv.start()

    def lines(self, needle):
        deadline = time.time() + 5
        while time.time() < deadline:
            found = [ln for ln in self.s.read_log().splitlines() if needle in ln]
            if found:
                return found
            time.sleep(0.05)
        self.fail(f"no log line with {needle!r}:\n{self.s.read_log()[-3000:]}")

    def test_line_per_request_without_secrets(self):
        tok = self.s.register("logger")["access_token"]
        r = self.s.get(CS + "/account/whoami", query={"access_token": tok, "marker": "m1"},
                       headers={"X-Forwarded-For": "203.0.113.7, 10.0.0.1"})
        self.assertEqual(r.status, 200, r)
        (line,) = self.lines("marker=m1")
        self.assertTrue(line.startswith("INFO "), line)
        self.assertIn('"GET /_matrix/client/v3/account/whoami?access_token=<redacted>&marker=m1"',
                      line)
        self.assertIn(" 200 ", line)
        self.assertIn("@logger:test.local", line)
        self.assertIn("203.0.113.7", line)
        self.assertRegex(line, r" \d+\.\dms")
        r = self.s.get(CS + "/account/whoami", query={"access%5Ftoken": "x", "marker": "m2"})
        self.assertNotIn(tok, self.s.read_log())
        self.assertNotIn("access_token=x", self.s.read_log())

    def test_errors_and_path_secrets(self):
        admin = self.s.admin_register("boss", admin=True)["access_token"]
        r = self.s.post("/_synapse/admin/v1/registration_tokens/new", {"token": "Geheim123"},
                        token=admin)
        self.assertEqual(r.status, 200, r)
        r = self.s.get("/_synapse/admin/v1/registration_tokens/Geheim123", token=admin)
        self.assertEqual(r.status, 200, r)
        r = self.s.get("/_matrix/client/v1/register/m.login.registration_token/validity",
                       query={"token": "Geheim123"})
        self.assertEqual(r.status, 200, r)
        self.lines("/registration_tokens/<redacted>")
        self.lines("validity?token=<redacted>")
        self.assertNotIn("Geheim123", self.s.read_log())
        # bytes that could forge a line are escaped
        with socket.create_connection(("127.0.0.1", self.s.port), timeout=10) as c:
            c.sendall(b'GET /no/such/th"ing\x1b HTTP/1.1\r\nHost: x\r\n'
                      b'X-Forwarded-For: 198.51.100.9"\x01\r\nConnection: close\r\n\r\n')
            while c.recv(4096):
                pass
        (line,) = self.lines("/no/such/")
        self.assertIn(" 404 ", line)
        self.assertIn("th\\x22ing", line)
        self.assertNotIn("\x1b", line)
        self.assertNotIn("\x01", line)
