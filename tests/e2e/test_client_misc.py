"""The smaller endpoints Element calls at start-up or in everyday use: the user directory,
/voip/turnServer (with and without TURN configured), the third-party network lookups,
OpenID tokens checked through the federation userinfo endpoint, and the third-party
identifier endpoints answering that 3PIDs are not supported."""
import base64
import hashlib
import hmac
import time
import urllib.parse

from harness import ServerTestCase

CS = "/_matrix/client/v3"


def q(s):
    return urllib.parse.quote(s, safe="")


class TestUserDirectory(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.t = {}
        for name in ("anna", "bernd", "clara", "dieter", "emil"):
            cls.t[name] = cls.server.register(name)["access_token"]
        s = cls.server
        s.put(CS + "/profile/@bernd:test.local/displayname", {"displayname": "Bernd Müller"},
              token=cls.t["bernd"])
        s.put(CS + "/profile/@clara:test.local/displayname", {"displayname": "Clara Berndt"},
              token=cls.t["clara"])
        # anna and bernd share a private room; clara is in a public room; dieter in a private
        # room of his own; emil is deactivated
        r = s.post(CS + "/createRoom", {"preset": "private_chat", "invite": ["@bernd:test.local"]},
                   token=cls.t["anna"])
        s.post(CS + f"/rooms/{q(r['room_id'])}/join", {}, token=cls.t["bernd"])
        s.post(CS + "/createRoom", {"preset": "public_chat"}, token=cls.t["clara"])
        s.post(CS + "/createRoom", {"preset": "private_chat"}, token=cls.t["dieter"])

    def search(self, term, token=None, **extra):
        r = self.s.post(CS + "/user_directory/search", {"search_term": term, **extra},
                        token=token or self.t["anna"])
        self.assertEqual(r.status, 200, r)
        return r.body

    def test_shared_and_public_rooms_only(self):
        ids = [x["user_id"] for x in self.search("")["results"]]
        self.assertIn("@bernd:test.local", ids)
        self.assertIn("@clara:test.local", ids)
        self.assertNotIn("@dieter:test.local", ids)  # shares nothing, not in a public room

    def test_matches_name_and_id_and_orders(self):
        r = self.search("bernd")
        self.assertEqual([x["user_id"] for x in r["results"]],
                         ["@bernd:test.local", "@clara:test.local"])  # prefix match first
        self.assertEqual(r["results"][0]["display_name"], "Bernd Müller")
        self.assertFalse(r["limited"])
        self.assertEqual(self.search("MÜLLER")["results"], [])  # ASCII case folding only
        self.assertEqual([x["user_id"] for x in self.search("Müller")["results"]],
                         ["@bernd:test.local"])
        r = self.search("", limit=1)
        self.assertEqual(len(r["results"]), 1)
        self.assertTrue(r["limited"])
        self.assertEqual(self.search("%")["results"], [])  # wildcards are literal

    def test_bad_input(self):
        for body in ({}, {"search_term": 5}, {"search_term": "a", "limit": "x"}):
            r = self.s.post(CS + "/user_directory/search", body, token=self.t["anna"])
            self.assertError(r, 400, "M_BAD_JSON")
        r = self.s.post(CS + "/user_directory/search", {"search_term": "a" * 300},
                        token=self.t["anna"])
        self.assertError(r, 400, "M_INVALID_PARAM")


class TestUserDirectoryAllUsers(ServerTestCase):
    config = {"user_directory": {"search_all_users": True}}

    def test_finds_everyone_active(self):
        a = self.s.register("ulla")["access_token"]
        self.s.register("viktor")
        gone = self.s.register("walter")["access_token"]
        r = self.s.post(CS + "/account/deactivate", {"auth": {
            "type": "m.login.password", "password": "correct horse battery",
            "identifier": {"type": "m.id.user", "user": "walter"}}}, token=gone)
        self.assertEqual(r.status, 200, r)
        ids = [x["user_id"] for x in self.s.post(CS + "/user_directory/search",
                                                 {"search_term": ""}, token=a)["results"]]
        self.assertIn("@viktor:test.local", ids)
        self.assertNotIn("@walter:test.local", ids)


class TestTurnAndFriends(ServerTestCase):
    def test_no_turn_configured(self):
        t = self.s.register("turnless")["access_token"]
        r = self.s.get(CS + "/voip/turnServer", token=t)
        self.assertEqual((r.status, r.body), (200, {}))

    def test_thirdparty(self):
        t = self.s.register("tp")["access_token"]
        self.assertEqual(self.s.get(CS + "/thirdparty/protocols", token=t).body, {})
        self.assertError(self.s.get(CS + "/thirdparty/protocol/irc", token=t), 404, "M_NOT_FOUND")
        self.assertEqual(self.s.get(CS + "/thirdparty/location?alias=%23x:y", token=t).body, [])
        self.assertEqual(self.s.get(CS + "/thirdparty/user?userid=@x:y", token=t).body, [])

    def test_threepids_not_supported(self):
        t = self.s.register("threep")["access_token"]
        self.assertEqual(self.s.get(CS + "/account/3pid", token=t).body, {"threepids": []})
        r = self.s.post(CS + "/account/3pid/email/requestToken",
                        {"client_secret": "x", "email": "a@b.de", "send_attempt": 1}, token=t)
        self.assertError(r, 403, "M_THREEPID_DENIED")
        r = self.s.post(CS + "/account/3pid/add", {"client_secret": "x", "sid": "y"}, token=t)
        self.assertError(r, 403, "M_THREEPID_DENIED")
        r = self.s.post(CS + "/account/3pid/delete", {"medium": "email", "address": "a@b.de"},
                        token=t)
        self.assertEqual(r.body, {"id_server_unbind_result": "no-support"})
        caps = self.s.get(CS + "/capabilities", token=t)["capabilities"]
        self.assertFalse(caps["m.3pid_changes"]["enabled"])

    def test_openid(self):
        t = self.s.register("oid")["access_token"]
        r = self.s.post(CS + "/user/@oid:test.local/openid/request_token", {}, token=t)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r["token_type"], "Bearer")
        self.assertEqual(r["matrix_server_name"], "test.local")
        self.assertEqual(r["expires_in"], 3600)
        info = self.s.get("/_matrix/federation/v1/openid/userinfo?access_token=" +
                          q(r["access_token"]))
        self.assertEqual((info.status, info.body), (200, {"sub": "@oid:test.local"}))
        bad = self.s.get("/_matrix/federation/v1/openid/userinfo?access_token=nope")
        self.assertError(bad, 401, "M_UNKNOWN_TOKEN")
        other = self.s.post(CS + "/user/@someone:test.local/openid/request_token", {}, token=t)
        self.assertError(other, 403, "M_FORBIDDEN")


class TestTurnConfigured(ServerTestCase):
    config = {"turn_uris": ["turn:turn.example.org:3478?transport=udp",
                            "turns:turn.example.org:5349?transport=tcp"],
              "turn_shared_secret": "s3cret", "turn_user_lifetime": "2h"}

    def test_credentials_verify_like_coturn(self):
        t = self.s.register("caller")["access_token"]
        before = int(time.time())
        r = self.s.get(CS + "/voip/turnServer", token=t)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r["ttl"], 7200)
        self.assertEqual(len(r["uris"]), 2)
        expiry, user = r["username"].split(":", 1)
        self.assertEqual(user, "@caller:test.local")
        self.assertTrue(before + 7200 - 2 <= int(expiry) <= before + 7200 + 2)
        mac = hmac.new(b"s3cret", r["username"].encode(), hashlib.sha1).digest()
        self.assertEqual(r["password"], base64.b64encode(mac).decode())


class TestWhois(ServerTestCase):
    def test_self_admin_and_others(self):
        t = self.s.register("who")["access_token"]
        other = self.s.register("who2")["access_token"]
        r = self.s.get(CS + "/admin/whois/@who:test.local", token=t)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r["user_id"], "@who:test.local")
        (dev,) = r["devices"].values()
        conns = dev["sessions"][0]["connections"]
        self.assertTrue(all("last_seen" in c for c in conns))
        self.assertError(self.s.get(CS + "/admin/whois/@who:test.local", token=other), 403,
                         "M_FORBIDDEN")
        admin = self.s.admin_register("whoadmin", admin=True)["access_token"]
        self.assertEqual(self.s.get(CS + "/admin/whois/@who:test.local", token=admin).status,
                         200)
