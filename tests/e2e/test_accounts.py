"""Accounts end to end: discovery, registration (UIA), login, logout, whoami, password,
deactivation, devices, profiles, and the error answers the spec names for each."""
import re
import threading

from harness import ServerTestCase, Server

CS = "/_matrix/client/v3"


class Discovery(ServerTestCase):
    def test_versions(self):
        r = self.s.get("/_matrix/client/versions")
        self.assertEqual(r.status, 200)
        self.assertIn("v1.1", r["versions"])
        self.assertIn("v1.11", r["versions"])  # clients use authenticated media only then
        self.assertIsInstance(r["unstable_features"], dict)
        self.assertEqual(r.headers.get("Access-Control-Allow-Origin"), "*")

    def test_wellknown_client(self):
        r = self.s.get("/.well-known/matrix/client")
        self.assertEqual(r.status, 200)
        self.assertEqual(r["m.homeserver"]["base_url"], self.s.base + "/")

    def test_wellknown_server_off_by_default(self):
        self.assertError(self.s.get("/.well-known/matrix/server"), 404, "M_NOT_FOUND")

    def test_options_preflight(self):
        r = self.s.request("OPTIONS", CS + "/login",
                           headers={"Origin": "https://app.element.io",
                                    "Access-Control-Request-Method": "POST"})
        self.assertIn(r.status, (200, 204))
        self.assertEqual(r.headers.get("Access-Control-Allow-Origin"), "*")
        self.assertIn("Authorization", r.headers.get("Access-Control-Allow-Headers", ""))
        self.assertIn("POST", r.headers.get("Access-Control-Allow-Methods", ""))

    def test_unknown_endpoint(self):
        r = self.s.get(CS + "/no/such/thing")
        self.assertError(r, 404, "M_UNRECOGNIZED")
        self.assertEqual(r.headers.get("Access-Control-Allow-Origin"), "*")

    def test_wrong_method(self):
        self.assertError(self.s.request("DELETE", CS + "/login"), 405, "M_UNRECOGNIZED")

    def test_r0_alias(self):
        r = self.s.get("/_matrix/client/r0/login")
        self.assertEqual(r.status, 200)
        self.assertEqual(r["flows"], [{"type": "m.login.password"}])

    def test_capabilities(self):
        tok = self.s.register("capuser")["access_token"]
        r = self.s.get(CS + "/capabilities", token=tok)
        self.assertEqual(r.status, 200)
        self.assertTrue(r["capabilities"]["m.change_password"]["enabled"])
        self.assertFalse(r["capabilities"]["m.3pid_changes"]["enabled"])
        rv = r["capabilities"]["m.room_versions"]
        self.assertEqual(rv["default"], "12")
        self.assertEqual(set(rv["available"]), {str(v) for v in range(1, 13)})

    def test_key_server(self):
        r = self.s.get("/_matrix/key/v2/server")
        self.assertEqual(r.status, 200)
        self.assertEqual(r["server_name"], self.s.server_name)
        (key_id,) = r["verify_keys"].keys()
        self.assertTrue(key_id.startswith("ed25519:"))
        self.assertIn(key_id, r["signatures"][self.s.server_name])
        # the older form with a key ID, which Synapse 1.67 requests, gets the same answer
        r2 = self.s.get("/_matrix/key/v2/server/" + key_id.replace(":", "%3A"))
        self.assertEqual(r2.status, 200)
        self.assertEqual(r2["verify_keys"], r["verify_keys"])


class BadInput(ServerTestCase):
    config = {"max_request_body_size": "64K"}

    def test_not_json(self):
        r = self.s.request("POST", CS + "/login", raw=b"{not json")
        self.assertError(r, 400, "M_NOT_JSON")

    def test_not_an_object(self):
        self.assertError(self.s.request("POST", CS + "/login", raw=b"[1,2]"), 400, "M_BAD_JSON")

    def test_duplicate_keys(self):
        r = self.s.request("POST", CS + "/login",
                           raw=b'{"type":"m.login.password","type":"x"}')
        self.assertError(r, 400, "M_NOT_JSON")

    def test_too_deep(self):
        raw = b'{"a":' * 200 + b"1" + b"}" * 200
        self.assertError(self.s.request("POST", CS + "/login", raw=raw), 400, "M_BAD_JSON")

    def test_too_large(self):
        raw = b'{"a":"' + b"x" * (70 * 1024) + b'"}'
        self.assertError(self.s.request("POST", CS + "/login", raw=raw), 413, "M_TOO_LARGE")

    def test_wrong_field_types(self):
        r = self.s.post(CS + "/login", {"type": 5})
        self.assertError(r, 400, "M_BAD_JSON")
        r = self.s.post(CS + "/register", {"username": ["x"]})
        self.assertError(r, 400, "M_BAD_JSON")
        r = self.s.post(CS + "/register", {"inhibit_login": "yes"})
        self.assertError(r, 400, "M_BAD_JSON")

    def test_invalid_utf8(self):
        r = self.s.request("POST", CS + "/login", raw=b'{"type":"\xff\xfe"}')
        self.assertError(r, 400, "M_NOT_JSON")

    def test_missing_token(self):
        self.assertError(self.s.get(CS + "/account/whoami"), 401, "M_MISSING_TOKEN")

    def test_unknown_token(self):
        r = self.s.get(CS + "/account/whoami", token="amt_nonsense")
        self.assertError(r, 401, "M_UNKNOWN_TOKEN")
        self.assertIs(r["soft_logout"], False)

    def test_bad_percent_escape(self):
        r = self.s.get(CS + "/profile/%zz")
        self.assertEqual(r.status, 400)


class Registration(ServerTestCase):
    def test_uia_flow_and_login(self):
        r = self.s.post(CS + "/register", {"username": "alice", "password": "pw-alice-1"})
        self.assertEqual(r.status, 401)
        self.assertEqual(r["flows"], [{"stages": ["m.login.dummy"]}])
        self.assertIn("session", r.body)
        r = self.s.post(CS + "/register", {"username": "alice", "password": "pw-alice-1",
                                           "initial_device_display_name": "Alice's phone",
                                           "auth": {"type": "m.login.dummy",
                                                    "session": r["session"]}})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r["user_id"], "@alice:test.local")
        self.assertTrue(r["access_token"])
        self.assertTrue(r["device_id"])
        w = self.s.get(CS + "/account/whoami", token=r["access_token"])
        self.assertEqual(w.body, {"user_id": "@alice:test.local", "device_id": r["device_id"],
                                  "is_guest": False})
        d = self.s.get(CS + "/devices/" + r["device_id"], token=r["access_token"])
        self.assertEqual(d["display_name"], "Alice's phone")

    def test_no_auth_always_401(self):
        r = self.s.post(CS + "/register", {"username": "bob401", "password": "x"})
        self.assertEqual(r.status, 401)

    def test_session_cannot_be_reused(self):
        r = self.s.post(CS + "/register", {"username": "reuse1", "password": "x"})
        sess = r["session"]
        r = self.s.post(CS + "/register", {"username": "reuse1", "password": "x",
                                           "auth": {"type": "m.login.dummy", "session": sess}})
        self.assertEqual(r.status, 200)
        r = self.s.post(CS + "/register", {"username": "reuse2", "password": "x",
                                           "auth": {"type": "m.login.dummy", "session": sess}})
        self.assertError(r, 400, "M_UNKNOWN")

    def test_user_in_use(self):
        self.s.register("carol")
        r = self.s.post(CS + "/register", {"username": "carol", "password": "x"})
        self.assertError(r, 400, "M_USER_IN_USE")
        r = self.s.post(CS + "/register", {"username": "CAROL", "password": "x"})
        self.assertError(r, 400, "M_USER_IN_USE")

    def test_uppercase_is_folded(self):
        body = self.s.register("Dave.Upper")
        self.assertEqual(body["user_id"], "@dave.upper:test.local")

    def test_invalid_username(self):
        for bad in ["", "has space", "ümlaut", "colon:x", "a" * 300]:
            r = self.s.post(CS + "/register", {"username": bad, "password": "x"})
            self.assertError(r, 400, "M_INVALID_USERNAME")

    def test_available(self):
        r = self.s.get(CS + "/register/available", query={"username": "free.name"})
        self.assertEqual(r.body, {"available": True})
        self.s.register("taken.name")
        r = self.s.get(CS + "/register/available", query={"username": "taken.name"})
        self.assertError(r, 400, "M_USER_IN_USE")
        r = self.s.get(CS + "/register/available", query={"username": "bad name"})
        self.assertError(r, 400, "M_INVALID_USERNAME")
        self.assertError(self.s.get(CS + "/register/available"), 400, "M_MISSING_PARAM")

    def test_inhibit_login(self):
        body = self.s.register("quiet", inhibit_login=True)
        self.assertEqual(body["user_id"], "@quiet:test.local")
        self.assertNotIn("access_token", body)
        self.assertNotIn("device_id", body)

    def test_generated_username(self):
        r = self.s.post(CS + "/register", {"password": "x"})
        r = self.s.post(CS + "/register", {"password": "x", "auth": {
            "type": "m.login.dummy", "session": r["session"]}})
        self.assertEqual(r.status, 200, r)
        self.assertRegex(r["user_id"], r"^@[a-z0-9]+:test\.local$")

    def test_guest_refused(self):
        r = self.s.post(CS + "/register", {}, query={"kind": "guest"})
        self.assertError(r, 403, "M_GUEST_ACCESS_FORBIDDEN")

    def test_wrong_stage(self):
        r = self.s.post(CS + "/register", {"username": "stage", "password": "x"})
        r = self.s.post(CS + "/register", {"username": "stage", "password": "x", "auth": {
            "type": "m.login.password", "session": r["session"]}})
        self.assertEqual(r.status, 401)
        self.assertEqual(r.errcode, "M_FORBIDDEN")

    def test_unknown_stage_type(self):
        r = self.s.post(CS + "/register", {"username": "stage2", "password": "x"})
        r = self.s.post(CS + "/register", {"username": "stage2", "password": "x", "auth": {
            "type": "m.login.bogus", "session": r["session"]}})
        self.assertEqual(r.status, 401)

    def test_device_id_reuse_on_register(self):
        body = self.s.register("devreg", device_id="MYDEVICE")
        self.assertEqual(body["device_id"], "MYDEVICE")

    def test_concurrent_same_username(self):
        """Two racing registrations of one name: exactly one wins."""
        results = []

        def attempt():
            r = self.s.post(CS + "/register", {"username": "racer", "password": "x"})
            r = self.s.post(CS + "/register", {"username": "racer", "password": "x", "auth": {
                "type": "m.login.dummy", "session": r["session"]}})
            results.append(r.status)

        threads = [threading.Thread(target=attempt) for _ in range(4)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        self.assertEqual(results.count(200), 1, results)


class Login(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.reg = cls.server.register("erin", "erin-password")

    def test_flows(self):
        self.assertEqual(self.s.get(CS + "/login").body, {"flows": [{"type": "m.login.password"}]})

    def test_login_identifier_forms(self):
        for user in ["erin", "@erin:test.local", "@ERIN:test.local"]:
            r = self.s.login(user, "erin-password")
            self.assertEqual(r["user_id"], "@erin:test.local")
            self.assertEqual(r["home_server"], "test.local")
            self.assertNotIn("refresh_token", r)

    def test_legacy_user_field(self):
        r = self.s.post(CS + "/login", {"type": "m.login.password", "user": "erin",
                                        "password": "erin-password"})
        self.assertEqual(r.status, 200, r)

    def test_wrong_password_and_unknown_user(self):
        r = self.s.post(CS + "/login", {"type": "m.login.password", "password": "nope",
                                        "identifier": {"type": "m.id.user", "user": "erin"}})
        self.assertError(r, 403, "M_FORBIDDEN")
        r = self.s.post(CS + "/login", {"type": "m.login.password", "password": "nope",
                                        "identifier": {"type": "m.id.user", "user": "nobody"}})
        self.assertError(r, 403, "M_FORBIDDEN")

    def test_unknown_login_type(self):
        self.assertError(self.s.post(CS + "/login", {"type": "m.login.token", "token": "x"}),
                         400, "M_UNKNOWN")

    def test_third_party_identifier(self):
        r = self.s.post(CS + "/login", {"type": "m.login.password", "password": "x",
                                        "identifier": {"type": "m.id.thirdparty",
                                                       "medium": "email", "address": "a@b"}})
        self.assertEqual(r.status, 400)

    def test_device_id_reuse(self):
        a = self.s.login("erin", "erin-password", device_id="REUSED")
        # used once, so the server's token cache knows it
        self.assertEqual(self.s.get(CS + "/account/whoami", token=a["access_token"]).status, 200)
        b = self.s.login("erin", "erin-password", device_id="REUSED")
        self.assertEqual(a["device_id"], "REUSED")
        self.assertEqual(b["device_id"], "REUSED")
        # the old token of the reused device is replaced
        self.assertError(self.s.get(CS + "/account/whoami", token=a["access_token"]), 401,
                         "M_UNKNOWN_TOKEN")
        self.assertEqual(self.s.get(CS + "/account/whoami", token=b["access_token"]).status, 200)

    def test_token_in_query(self):
        tok = self.s.login("erin", "erin-password")["access_token"]
        r = self.s.get(CS + "/account/whoami", query={"access_token": tok})
        self.assertEqual(r["user_id"], "@erin:test.local")

    def test_logout(self):
        l = self.s.login("erin", "erin-password")
        self.assertEqual(self.s.post(CS + "/logout", token=l["access_token"]).status, 200)
        self.assertError(self.s.get(CS + "/account/whoami", token=l["access_token"]), 401,
                         "M_UNKNOWN_TOKEN")
        other = self.s.login("erin", "erin-password")["access_token"]
        devs = [d["device_id"] for d in self.s.get(CS + "/devices", token=other)["devices"]]
        self.assertNotIn(l["device_id"], devs)

    def test_logout_all(self):
        self.s.register("frank", "frank-pw")
        toks = [self.s.login("frank", "frank-pw")["access_token"] for _ in range(3)]
        for t in toks:  # cached by the server from here on
            self.assertEqual(self.s.get(CS + "/account/whoami", token=t).status, 200)
        self.assertEqual(self.s.post(CS + "/logout/all", token=toks[0]).status, 200)
        for t in toks:
            self.assertError(self.s.get(CS + "/account/whoami", token=t), 401, "M_UNKNOWN_TOKEN")
        t = self.s.login("frank", "frank-pw")["access_token"]
        self.assertEqual(len(self.s.get(CS + "/devices", token=t)["devices"]), 1)

    def test_tokens_are_not_stored_in_clear(self):
        tok = self.s.login("erin", "erin-password")["access_token"]
        self.assertTrue(tok.startswith("amt_"))
        import subprocess, os
        out = subprocess.run([os.path.join(self.s.pg["PGBIN"], "psql"), "-h", self.s.pg["PGHOST"],
                              "-U", self.s.pg["PGUSER"], "-d", self.s.dbname, "-Atc",
                              "SELECT encode(token_hash, 'hex') FROM access_tokens; "
                              "SELECT password_hash FROM users"],
                             capture_output=True, text=True, check=True).stdout
        self.assertNotIn(tok, out)
        self.assertNotIn("erin-password", out)
        self.assertIn("$argon2id$", out)


class PasswordAndDeactivation(ServerTestCase):
    def uia(self, path, body, token, user, password):
        r = self.s.post(path, body, token=token)
        self.assertEqual(r.status, 401, r)
        self.assertEqual(r["flows"], [{"stages": ["m.login.password"]}])
        body = dict(body, auth={"type": "m.login.password", "session": r["session"],
                                "identifier": {"type": "m.id.user", "user": user},
                                "password": password})
        return self.s.post(path, body, token=token)

    def test_change_password_logs_out_others(self):
        self.s.register("gina", "old-pw")
        t1 = self.s.login("gina", "old-pw")["access_token"]
        t2 = self.s.login("gina", "old-pw")["access_token"]
        self.assertEqual(self.s.get(CS + "/account/whoami", token=t2).status, 200)
        r = self.uia(CS + "/account/password", {"new_password": "new-pw"}, t1, "gina", "old-pw")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.s.get(CS + "/account/whoami", token=t1).status, 200)
        self.assertError(self.s.get(CS + "/account/whoami", token=t2), 401, "M_UNKNOWN_TOKEN")
        self.assertError(self.s.post(CS + "/login", {
            "type": "m.login.password", "password": "old-pw",
            "identifier": {"type": "m.id.user", "user": "gina"}}), 403, "M_FORBIDDEN")
        self.s.login("gina", "new-pw")

    def test_change_password_keep_devices(self):
        self.s.register("hank", "old-pw")
        t1 = self.s.login("hank", "old-pw")["access_token"]
        t2 = self.s.login("hank", "old-pw")["access_token"]
        r = self.uia(CS + "/account/password", {"new_password": "n", "logout_devices": False},
                     t1, "hank", "old-pw")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.s.get(CS + "/account/whoami", token=t2).status, 200)

    def test_wrong_password_in_uia(self):
        self.s.register("ivy", "ivy-pw")
        t = self.s.login("ivy", "ivy-pw")["access_token"]
        r = self.uia(CS + "/account/password", {"new_password": "n"}, t, "ivy", "wrong")
        self.assertEqual(r.status, 401)
        self.assertEqual(r.errcode, "M_FORBIDDEN")
        self.assertIn("flows", r.body)

    def test_other_users_password_in_uia(self):
        self.s.register("jack", "jack-pw")
        self.s.register("kate", "kate-pw")
        t = self.s.login("jack", "jack-pw")["access_token"]
        r = self.uia(CS + "/account/password", {"new_password": "n"}, t, "kate", "kate-pw")
        self.assertEqual(r.status, 401)
        self.assertEqual(r.errcode, "M_FORBIDDEN")

    def test_session_bound_to_endpoint(self):
        self.s.register("leo", "leo-pw")
        t = self.s.login("leo", "leo-pw")["access_token"]
        r = self.s.post(CS + "/account/password", {"new_password": "n"}, token=t)
        r = self.s.post(CS + "/account/deactivate", {"auth": {
            "type": "m.login.password", "session": r["session"], "password": "leo-pw",
            "identifier": {"type": "m.id.user", "user": "leo"}}}, token=t)
        self.assertError(r, 403, "M_FORBIDDEN")
        self.assertEqual(self.s.get(CS + "/account/whoami", token=t).status, 200)

    def test_deactivate(self):
        self.s.register("mia", "mia-pw")
        t = self.s.login("mia", "mia-pw")["access_token"]
        self.s.put(CS + "/profile/@mia:test.local/displayname", {"displayname": "Mia"}, token=t)
        r = self.uia(CS + "/account/deactivate", {"erase": True}, t, "mia", "mia-pw")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r["id_server_unbind_result"], "no-support")
        self.assertError(self.s.get(CS + "/account/whoami", token=t), 401, "M_UNKNOWN_TOKEN")
        r = self.s.post(CS + "/login", {"type": "m.login.password", "password": "mia-pw",
                                        "identifier": {"type": "m.id.user", "user": "mia"}})
        self.assertError(r, 403, "M_USER_DEACTIVATED")
        # a wrong password does not reveal the deactivation (issue 17, item 14)
        r = self.s.post(CS + "/login", {"type": "m.login.password", "password": "guess",
                                        "identifier": {"type": "m.id.user", "user": "mia"}})
        self.assertError(r, 403, "M_FORBIDDEN")
        self.assertNotIn("displayname", self.s.get(CS + "/profile/@mia:test.local").body or {})
        # the name stays taken
        self.assertError(self.s.post(CS + "/register", {"username": "mia", "password": "x"}),
                         400, "M_USER_IN_USE")

    def test_new_password_required(self):
        self.s.register("nina", "nina-pw")
        t = self.s.login("nina", "nina-pw")["access_token"]
        self.assertError(self.s.post(CS + "/account/password", {}, token=t), 400,
                         "M_MISSING_PARAM")


class Devices(ServerTestCase):
    def test_list_get_rename_delete(self):
        reg = self.s.register("olga", "olga-pw", initial_device_display_name="first")
        t = reg["access_token"]
        second = self.s.login("olga", "olga-pw", initial_device_display_name="second")
        devs = self.s.get(CS + "/devices", token=t)["devices"]
        self.assertEqual({d["device_id"] for d in devs}, {reg["device_id"], second["device_id"]})
        self.assertEqual(self.s.put(CS + "/devices/" + second["device_id"],
                                    {"display_name": "renamed"}, token=t).status, 200)
        d = self.s.get(CS + "/devices/" + second["device_id"], token=t)
        self.assertEqual(d["display_name"], "renamed")
        self.assertEqual(d["device_id"], second["device_id"])
        self.assertIn("last_seen_ts", self.s.get(CS + "/devices/" + reg["device_id"],
                                                 token=t).body)
        # delete with UIA
        path = CS + "/devices/" + second["device_id"]
        r = self.s.delete(path, {}, token=t)
        self.assertEqual(r.status, 401)
        r = self.s.delete(path, {"auth": {"type": "m.login.password", "session": r["session"],
                                          "user": "olga", "password": "olga-pw"}}, token=t)
        self.assertEqual(r.status, 200, r)
        self.assertError(self.s.get(path, token=t), 404, "M_NOT_FOUND")
        self.assertError(self.s.get(CS + "/account/whoami", token=second["access_token"]), 401,
                         "M_UNKNOWN_TOKEN")

    def test_unknown_device(self):
        t = self.s.register("pete", "pete-pw")["access_token"]
        self.assertError(self.s.get(CS + "/devices/NOPE", token=t), 404, "M_NOT_FOUND")
        self.assertError(self.s.put(CS + "/devices/NOPE", {"display_name": "x"}, token=t), 404,
                         "M_NOT_FOUND")
        self.assertError(self.s.delete(CS + "/devices/NOPE", {}, token=t), 404, "M_NOT_FOUND")

    def test_other_users_device_invisible(self):
        a = self.s.register("quinn", "q")
        b = self.s.register("rose", "r")
        self.assertError(self.s.get(CS + "/devices/" + a["device_id"], token=b["access_token"]),
                         404, "M_NOT_FOUND")

    def test_delete_devices(self):
        reg = self.s.register("sam", "sam-pw")
        others = [self.s.login("sam", "sam-pw")["device_id"] for _ in range(2)]
        t = reg["access_token"]
        r = self.s.post(CS + "/delete_devices", {"devices": others}, token=t)
        self.assertEqual(r.status, 401)
        r = self.s.post(CS + "/delete_devices", {"devices": others, "auth": {
            "type": "m.login.password", "session": r["session"], "password": "sam-pw",
            "identifier": {"type": "m.id.user", "user": "@sam:test.local"}}}, token=t)
        self.assertEqual(r.status, 200, r)
        devs = [d["device_id"] for d in self.s.get(CS + "/devices", token=t)["devices"]]
        self.assertEqual(devs, [reg["device_id"]])
        self.assertError(self.s.post(CS + "/delete_devices", {"devices": "x"}, token=t), 400,
                         "M_BAD_JSON")
        self.assertError(self.s.post(CS + "/delete_devices", {}, token=t), 400, "M_MISSING_PARAM")


class Profile(ServerTestCase):
    def test_profile(self):
        reg = self.s.register("tina", "t")
        t, uid = reg["access_token"], reg["user_id"]
        self.assertEqual(self.s.get(CS + f"/profile/{uid}").body, {"displayname": "tina"})
        self.assertEqual(self.s.put(CS + f"/profile/{uid}/displayname", {"displayname": "Tina T"},
                                    token=t).status, 200)
        self.assertEqual(self.s.put(CS + f"/profile/{uid}/avatar_url",
                                    {"avatar_url": "mxc://test.local/abc"}, token=t).status, 200)
        self.assertEqual(self.s.get(CS + f"/profile/{uid}").body,
                         {"displayname": "Tina T", "avatar_url": "mxc://test.local/abc"})
        self.assertEqual(self.s.get(CS + f"/profile/{uid}/displayname").body,
                         {"displayname": "Tina T"})
        # percent-encoded user ID in the path
        self.assertEqual(self.s.get(CS + "/profile/%40tina%3Atest.local/avatar_url").body,
                         {"avatar_url": "mxc://test.local/abc"})

    def test_profile_errors(self):
        a = self.s.register("ursula", "u")
        b = self.s.register("victor", "v")
        self.assertError(self.s.put(CS + f"/profile/{b['user_id']}/displayname",
                                    {"displayname": "x"}, token=a["access_token"]), 403,
                         "M_FORBIDDEN")
        self.assertError(self.s.get(CS + "/profile/@nobody:test.local"), 404, "M_NOT_FOUND")
        self.assertError(self.s.put(CS + f"/profile/{a['user_id']}/displayname",
                                    {"displayname": 5}, token=a["access_token"]), 400, "M_BAD_JSON")
        self.assertError(self.s.put(CS + f"/profile/{a['user_id']}/displayname",
                                    {"displayname": "x" * 300}, token=a["access_token"]), 400,
                         "M_BAD_JSON")
        self.assertError(self.s.put(CS + f"/profile/{a['user_id']}/displayname", {},
                                    token=a["access_token"]), 400, "M_MISSING_PARAM")
        self.assertError(self.s.get(CS + f"/profile/{a['user_id']}/avatar_url"), 404,
                         "M_NOT_FOUND")
        self.assertEqual(self.s.get(CS + "/profile/not-a-user-id").status, 400)
