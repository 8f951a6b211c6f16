"""The user admin API end to end: Synapse's /_synapse/admin user endpoints (list with paging
and filters, query, create/modify, admin flag, deactivate with erase, reset_password,
joined_rooms, devices, whois, shadow_ban, suspend), the spec's v1.18 /admin/suspend and
/admin/lock, what suspended, locked, shadow-banned and erased accounts experience, and the
admin audit log (table and file)."""
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.parse
import uuid

from fedharness import FedServer, TestCA, start_servers, stop_servers
from harness import ServerTestCase

CS = "/_matrix/client/v3"
V1 = "/_matrix/client/v1"
A1 = "/_synapse/admin/v1"
A2 = "/_synapse/admin/v2"


def q(uid):
    return urllib.parse.quote(uid)


class AdminUsers(ServerTestCase):
    AUDIT = f"/tmp/amtsbote-audit-{uuid.uuid4().hex[:8]}.log"
    config = {"audit_log_path": AUDIT}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.root = cls.server.admin_register("root", "root-pw", admin=True)
        cls.tok = cls.root["access_token"]

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        try:
            os.unlink(cls.AUDIT)
        except OSError:
            pass

    def user(self, name):
        b = self.s.register(name)
        return b["user_id"], b["access_token"]

    def psql(self, sql):
        return subprocess.run([os.path.join(self.s.pg["PGBIN"], "psql"), "-h",
                               self.s.pg["PGHOST"], "-U", self.s.pg["PGUSER"], "-d",
                               self.s.dbname, "-Atc", sql],
                              check=True, capture_output=True, text=True).stdout.strip()

    def room(self, tok, **body):
        r = self.s.post(CS + "/createRoom", body, token=tok)
        self.assertEqual(r.status, 200, r)
        return r["room_id"]

    def send(self, tok, room, text):
        r = self.s.put(f"{CS}/rooms/{room}/send/m.room.message/{uuid.uuid4().hex}",
                       {"msgtype": "m.text", "body": text}, token=tok)
        return r

    def messages(self, tok, room):
        r = self.s.get(f"{CS}/rooms/{room}/messages", token=tok,
                       query={"dir": "b", "limit": "50"})
        self.assertEqual(r.status, 200, r)
        return r["chunk"]

    # --- refusal ------------------------------------------------------------------------
    def test_non_admin_refused(self):
        uid, tok = self.user("plain")
        for method, path in [("GET", A2 + "/users"), ("GET", f"{A2}/users/{q(uid)}"),
                             ("PUT", f"{A2}/users/{q('@x:test.local')}"),
                             ("POST", f"{A1}/deactivate/{q(uid)}"),
                             ("POST", f"{A1}/users/{q(uid)}/shadow_ban"),
                             ("PUT", f"{A1}/suspend/{q(uid)}"),
                             ("GET", f"{V1}/admin/suspend/{q(uid)}"),
                             ("PUT", f"{V1}/admin/lock/{q(uid)}"),
                             ("GET", f"{A2}/users/{q(uid)}/devices")]:
            r = self.s.request(method, path, {} if method != "GET" else None, token=tok)
            self.assertError(r, 403, "M_FORBIDDEN")
        # no enumeration: an unknown user is refused the same way
        r = self.s.get(f"{V1}/admin/lock/{q('@nobody:test.local')}", token=tok)
        self.assertError(r, 403, "M_FORBIDDEN")
        caps = self.s.get(CS + "/capabilities", token=tok)["capabilities"]
        self.assertNotIn("m.account_moderation", caps)
        caps = self.s.get(CS + "/capabilities", token=self.tok)["capabilities"]
        self.assertEqual(caps["m.account_moderation"], {"suspend": True, "lock": True})

    # --- list, query, create, modify ----------------------------------------------------
    def test_list_paging_and_filters(self):
        for i in range(5):
            self.user(f"pager{i}")
        r = self.s.get(A2 + "/users", token=self.tok, query={"name": "pager", "limit": "2"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r["total"], 5)
        self.assertEqual([u["name"] for u in r["users"]], ["@pager0:test.local",
                                                           "@pager1:test.local"])
        self.assertEqual(r["next_token"], "2")
        u = r["users"][0]
        for k in ("is_guest", "admin", "deactivated", "shadow_banned", "erased", "locked"):
            self.assertIs(u[k], False, u)
        for k in ("displayname", "avatar_url", "creation_ts", "user_type", "last_seen_ts"):
            self.assertIn(k, u)
        self.assertGreater(u["creation_ts"], 10**12)  # ms in the list
        r2 = self.s.get(A2 + "/users", token=self.tok,
                        query={"name": "pager", "limit": "2", "from": "4"})
        self.assertEqual(len(r2["users"]), 1)
        self.assertNotIn("next_token", r2.body)
        r3 = self.s.get(A2 + "/users", token=self.tok,
                        query={"user_id": "pager", "dir": "b", "order_by": "name"})
        self.assertEqual(r3["users"][0]["name"], "@pager4:test.local")
        r4 = self.s.get(A2 + "/users", token=self.tok, query={"admins": "true"})
        self.assertEqual([u["name"] for u in r4["users"]], ["@root:test.local"])
        # not_user_type, and v3's deactivated filter
        bot = f"{A2}/users/{q('@pagerbot:test.local')}"
        self.assertEqual(self.s.put(bot, {"user_type": "bot"}, token=self.tok).status, 201)
        r5 = self.s.get(A2 + "/users?name=pager&not_user_type=bot", token=self.tok)
        self.assertEqual(r5["total"], 5)
        r5 = self.s.get(A2 + "/users?name=pager&not_user_type=", token=self.tok)
        self.assertEqual([u["name"] for u in r5["users"]], ["@pagerbot:test.local"])
        self.s.post(f"{A1}/deactivate/{q('@pagerbot:test.local')}", {}, token=self.tok)
        self.assertEqual(self.s.get(A2 + "/users", token=self.tok,
                                    query={"name": "pager"})["total"], 5)
        self.assertEqual(self.s.get(A2 + "/users", token=self.tok,
                                    query={"name": "pager", "deactivated": "true"})["total"], 6)
        v3 = "/_synapse/admin/v3/users"
        self.assertEqual(self.s.get(v3, token=self.tok, query={"name": "pager"})["total"], 6)
        self.assertEqual([u["name"] for u in self.s.get(
            v3, token=self.tok, query={"name": "pager", "deactivated": "true"})["users"]],
            ["@pagerbot:test.local"])
        for bad in ({"from": "-1"}, {"limit": "x"}, {"order_by": "password"},
                    {"dir": "up"}, {"deactivated": "yes"}):
            self.assertError(self.s.get(A2 + "/users", token=self.tok, query=bad), 400,
                             "M_INVALID_PARAM")

    def test_create_modify_query(self):
        path = f"{A2}/users/{q('@made:test.local')}"
        r = self.s.put(path, {"password": "pw-made-1", "displayname": "Made",
                              "user_type": "bot", "threepids": []}, token=self.tok)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r["name"], "@made:test.local")
        self.assertEqual(r["displayname"], "Made")
        self.assertEqual(r["user_type"], "bot")
        self.s.login("made", "pw-made-1")
        r = self.s.put(path, {"displayname": "Made Two", "admin": True,
                              "avatar_url": "mxc://test.local/abc"}, token=self.tok)
        self.assertEqual(r.status, 200, r)
        self.assertIs(r["admin"], True)
        g = self.s.get(path, token=self.tok)
        self.assertEqual(g["displayname"], "Made Two")
        self.assertEqual(g["avatar_url"], "mxc://test.local/abc")
        self.assertLess(g["creation_ts"], 10**11)  # seconds for one account, as Synapse
        self.assertError(self.s.put(path, {"avatar_url": "https://x/y"}, token=self.tok), 400,
                         "M_INVALID_PARAM")
        self.assertIsNone(self.s.put(path, {"avatar_url": ""}, token=self.tok)["avatar_url"])
        a = self.s.get(f"{A1}/users/{q('@made:test.local')}/admin", token=self.tok)
        self.assertEqual(a.body, {"admin": True})
        self.assertEqual(self.s.put(f"{A1}/users/{q('@made:test.local')}/admin",
                                    {"admin": False}, token=self.tok).status, 200)
        self.assertEqual(self.s.get(f"{A1}/users/{q('@made:test.local')}/admin",
                                    token=self.tok).body, {"admin": False})
        self.assertError(self.s.get(f"{A2}/users/{q('@ghost:test.local')}", token=self.tok),
                         404, "M_NOT_FOUND")
        self.assertError(self.s.get(f"{A2}/users/{q('@x:elsewhere.org')}", token=self.tok),
                         400, "M_INVALID_PARAM")
        # deactivate through PUT, then reactivate with a password
        r = self.s.put(path, {"deactivated": True}, token=self.tok)
        self.assertIs(r["deactivated"], True)
        r = self.s.put(path, {"deactivated": False, "password": "pw-made-2"}, token=self.tok)
        self.assertIs(r["deactivated"], False)
        self.s.login("made", "pw-made-2")

    def test_reset_password_devices_whois_joined_rooms(self):
        uid, tok = self.user("devs")
        other = self.s.login("devs", device_id="SECOND")
        room = self.room(tok)
        jr = self.s.get(f"{A1}/users/{q(uid)}/joined_rooms", token=self.tok)
        self.assertEqual(jr.body, {"joined_rooms": [room], "total": 1})
        ms = self.s.get(f"{A1}/users/{q(uid)}/memberships", token=self.tok)
        self.assertEqual(ms.body, {"memberships": {room: "join"}})
        pu = self.s.get(f"{A1}/users/{q(uid)}/pushers", token=self.tok)
        self.assertEqual(pu.body, {"pushers": [], "total": 0})
        devs = self.s.get(f"{A2}/users/{q(uid)}/devices", token=self.tok)
        self.assertEqual(devs["total"], 2)
        self.assertIn("SECOND", [d["device_id"] for d in devs["devices"]])
        d = self.s.get(f"{A2}/users/{q(uid)}/devices/SECOND", token=self.tok)
        self.assertEqual(d["user_id"], uid)
        self.assertIs(d["dehydrated"], False)
        self.assertIn("last_seen_user_agent", d.body)
        self.assertEqual(self.s.post(f"{A2}/users/{q(uid)}/devices", {"device_id": "MADE"},
                                     token=self.tok).status, 201)
        self.assertEqual(self.s.get(f"{A2}/users/{q(uid)}/devices", token=self.tok)["total"], 3)
        self.assertEqual(self.s.delete(f"{A2}/users/{q(uid)}/devices/MADE",
                                       token=self.tok).status, 200)
        self.assertEqual(self.s.put(f"{A2}/users/{q(uid)}/devices/SECOND",
                                    {"display_name": "phone"}, token=self.tok).status, 200)
        self.assertEqual(self.s.get(f"{A2}/users/{q(uid)}/devices/SECOND",
                                    token=self.tok)["display_name"], "phone")
        w = self.s.get(f"{A1}/whois/{q(uid)}", token=self.tok)
        self.assertEqual(w["user_id"], uid)
        conns = [c for dev in w["devices"].values() for s in dev["sessions"]
                 for c in s["connections"]]
        self.assertTrue(conns and conns[0]["ip"] == "127.0.0.1", w)
        self.assertEqual(self.s.delete(f"{A2}/users/{q(uid)}/devices/SECOND",
                                       token=self.tok).status, 200)
        self.assertError(self.s.get(CS + "/account/whoami", token=other["access_token"]), 401,
                         "M_UNKNOWN_TOKEN")
        self.s.login("devs", device_id="THIRD")
        self.assertEqual(self.s.post(f"{A2}/users/{q(uid)}/delete_devices",
                                     {"devices": ["THIRD"]}, token=self.tok).status, 200)
        self.assertError(self.s.get(f"{A2}/users/{q(uid)}/devices/THIRD", token=self.tok),
                         404, "M_NOT_FOUND")
        r = self.s.post(f"{A1}/reset_password/{q(uid)}", {"new_password": "reset-pw"},
                        token=self.tok)
        self.assertEqual(r.status, 200, r)
        self.assertError(self.s.get(CS + "/account/whoami", token=tok), 401, "M_UNKNOWN_TOKEN")
        self.s.login("devs", "reset-pw")

    # --- suspend, lock, shadow-ban -----------------------------------------------------
    def test_suspend(self):
        uid, tok = self.user("susp")
        room = self.room(self.tok, preset="public_chat")
        self.assertEqual(self.s.post(f"{CS}/join/{room}", token=tok).status, 200)
        self.assertEqual(self.send(tok, room, "before").status, 200)
        r = self.s.put(f"{V1}/admin/suspend/{q(uid)}", {"suspended": True}, token=self.tok)
        self.assertEqual(r.body, {"suspended": True})
        self.assertEqual(self.s.get(f"{V1}/admin/suspend/{q(uid)}", token=self.tok).body,
                         {"suspended": True})
        self.assertError(self.send(tok, room, "during"), 403, "M_USER_SUSPENDED")
        self.assertError(self.s.post(CS + "/createRoom", {}, token=tok), 403, "M_USER_SUSPENDED")
        self.assertError(self.s.put(f"{CS}/profile/{q(uid)}/displayname", {"displayname": "x"},
                                    token=tok), 403, "M_USER_SUSPENDED")
        # their own events they may redact, other people's not
        mine = self.messages(tok, room)
        mine = [e["event_id"] for e in mine if e["content"].get("body") == "before"][0]
        other = self.send(self.tok, room, "admin's")["event_id"]
        self.assertError(self.s.put(f"{CS}/rooms/{room}/redact/{other}/r1", {}, token=tok),
                         403, "M_USER_SUSPENDED")
        self.assertEqual(self.s.put(f"{CS}/rooms/{room}/redact/{mine}/r2", {},
                                    token=tok).status, 200)
        # reading works
        self.assertIn("admin's", [e["content"].get("body") for e in self.messages(tok, room)])
        self.assertEqual(self.s.get(CS + "/sync", token=tok).status, 200)
        # Synapse's path lifts it
        r = self.s.put(f"{A1}/suspend/{q(uid)}", {"suspend": False}, token=self.tok)
        self.assertEqual(r.body, {f"user_{uid}_suspended": False})
        self.assertEqual(self.send(tok, room, "after").status, 200)
        self.assertError(self.s.put(f"{V1}/admin/suspend/{q(self.root['user_id'])}",
                                    {"suspended": True}, token=self.tok), 403, "M_FORBIDDEN")
        self.assertError(self.s.get(f"{V1}/admin/suspend/{q('@none:test.local')}",
                                    token=self.tok), 404, "M_NOT_FOUND")

    def test_lock(self):
        uid, tok = self.user("locky")
        r = self.s.put(f"{V1}/admin/lock/{q(uid)}", {"locked": True}, token=self.tok)
        self.assertEqual(r.body, {"locked": True})
        r = self.s.get(CS + "/account/whoami", token=tok)
        self.assertError(r, 401, "M_USER_LOCKED")
        self.assertIs(r["soft_logout"], True)
        self.assertEqual(self.s.get(f"{V1}/admin/lock/{q(uid)}", token=self.tok).body,
                         {"locked": True})
        lst = self.s.get(A2 + "/users", token=self.tok, query={"name": "locky"})
        self.assertEqual(lst["total"], 0)  # locked accounts are left out unless asked for
        lst = self.s.get(A2 + "/users", token=self.tok, query={"name": "locky", "locked": "true"})
        self.assertIs(lst["users"][0]["locked"], True)
        self.assertEqual(self.s.put(f"{V1}/admin/lock/{q(uid)}", {"locked": False},
                                    token=self.tok).status, 200)
        self.assertEqual(self.s.get(CS + "/account/whoami", token=tok).status, 200)
        # a locked account may still log out, and gets no new token until unlocked
        self.s.put(f"{V1}/admin/lock/{q(uid)}", {"locked": True}, token=self.tok)
        self.assertEqual(self.s.post(CS + "/logout", token=tok).status, 200)
        r = self.s.post(CS + "/login", {"type": "m.login.password", "password":
                                        "correct horse battery", "identifier":
                                        {"type": "m.id.user", "user": "locky"}})
        self.assertError(r, 401, "M_USER_LOCKED")
        self.assertIs(r["soft_logout"], True)

    def test_shadow_ban(self):
        uid, tok = self.user("shadow")
        wid, wtok = self.user("witness")
        room = self.room(wtok, preset="public_chat")
        self.assertEqual(self.s.post(f"{CS}/join/{room}", token=tok).status, 200)
        r = self.s.post(f"{A1}/users/{q(uid)}/shadow_ban", token=self.tok)
        self.assertEqual(r.status, 200, r)
        r = self.send(tok, room, "secret spam")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r["event_id"].startswith("$"))
        self.assertEqual(self.s.post(f"{CS}/rooms/{room}/invite", {"user_id": wid},
                                     token=tok).status, 200)
        bodies = [e["content"].get("body") for e in self.messages(wtok, room)]
        self.assertNotIn("secret spam", bodies)
        self.assertError(self.s.get(f"{CS}/rooms/{room}/event/{r['event_id']}", token=wtok),
                         404, "M_NOT_FOUND")
        # a retransmission gets the same made-up event ID, another txnId another one
        path = f"{CS}/rooms/{room}/send/m.room.message/shadow-t1"
        first = self.s.put(path, {"msgtype": "m.text", "body": "spam"}, token=tok)["event_id"]
        self.assertEqual(self.s.put(path, {"msgtype": "m.text", "body": "spam"},
                                    token=tok)["event_id"], first)
        self.assertEqual(len(first), 44)
        self.assertNotEqual(self.send(tok, room, "more spam")["event_id"], first)
        self.assertIs(self.s.get(f"{A2}/users/{q(uid)}", token=self.tok)["shadow_banned"], True)
        # a room they create is made, without the invites
        made = self.room(tok, invite=[wid])
        inv = self.s.get(CS + "/sync", token=wtok)["rooms"].get("invite", {})
        self.assertNotIn(made, inv)
        self.assertEqual(self.s.delete(f"{A1}/users/{q(uid)}/shadow_ban",
                                       token=self.tok).status, 200)
        self.assertEqual(self.send(tok, room, "visible again").status, 200)
        self.assertIn("visible again",
                      [e["content"].get("body") for e in self.messages(wtok, room)])

    # --- deactivation and erasure -------------------------------------------------------
    def test_erase(self):
        eid, etok = self.user("eraseme")
        mid, mtok = self.user("member")
        lid, ltok = self.user("latecomer")
        room = self.room(mtok, preset="public_chat")
        self.assertEqual(self.s.post(f"{CS}/join/{room}", token=etok).status, 200)
        sent = self.send(etok, room, "personal data")["event_id"]
        edit = self.s.put(f"{CS}/rooms/{room}/send/m.room.message/edit1",
                          {"msgtype": "m.text", "body": "* personal edit",
                           "m.new_content": {"msgtype": "m.text", "body": "personal edit"},
                           "m.relates_to": {"rel_type": "m.replace", "event_id": sent}},
                          token=etok)
        self.assertEqual(edit.status, 200, edit)
        up = self.s.request("POST", "/_matrix/media/v3/upload", raw=b"hello erasure",
                            token=etok, headers={"Content-Type": "text/plain"})
        self.assertEqual(up.status, 200, up)
        media = up["content_uri"][len("mxc://"):]
        r = self.s.post(f"{A1}/deactivate/{q(eid)}", {"erase": True}, token=self.tok)
        self.assertEqual(r.status, 200, r)
        u = self.s.get(f"{A2}/users/{q(eid)}", token=self.tok)
        self.assertIs(u["erased"], True)
        members = self.s.get(f"{CS}/rooms/{room}/joined_members", token=mtok)["joined"]
        self.assertNotIn(eid, members)  # deactivation leaves the rooms
        self.assertIs(u["deactivated"], True)
        self.assertIsNone(u["displayname"])
        # the media is gone
        self.assertEqual(self.s.get(f"{V1}/media/download/{media}", token=mtok).status, 404)
        # who was in the room when it was sent still sees it whole (Synapse's rule)
        ev = self.s.get(f"{CS}/rooms/{room}/event/{sent}", token=mtok)
        self.assertEqual(ev["content"].get("body"), "personal data")
        # who joins later sees it pruned, through /event, /messages and /sync
        self.assertEqual(self.s.post(f"{CS}/join/{room}", token=ltok).status, 200)
        ev = self.s.get(f"{CS}/rooms/{room}/event/{sent}", token=ltok)
        self.assertEqual(ev.status, 200, ev)
        self.assertEqual(ev["content"], {})
        got = [e for e in self.messages(ltok, room) if e["event_id"] == sent]
        self.assertEqual(got[0]["content"], {})
        # the bundled edit too (unsigned m.relations), and the member still sees it whole
        self.assertNotIn("personal", json.dumps(self.messages(ltok, room)))
        whole = self.s.get(f"{CS}/rooms/{room}/event/{sent}", token=mtok)
        self.assertIn("personal edit", json.dumps(whole.body))
        sync = self.s.get(CS + "/sync", token=ltok,
                          query={"filter": json.dumps({"room": {"timeline": {"limit": 50}}})})
        tl = sync["rooms"]["join"][room]["timeline"]["events"]
        got = [e for e in tl if e["event_id"] == sent]
        self.assertEqual(len(got), 1, tl)
        self.assertEqual(got[0]["content"], {})
        self.assertEqual(got[0]["sender"], eid)
        # the member's sync still has it whole
        self.assertIn("personal data", [e["content"].get("body") for e in
                                        self.messages(mtok, room)])

    def test_client_deactivate_erase(self):
        uid, tok = self.user("selferase")
        r = self.s.post(CS + "/account/deactivate", {"erase": True}, token=tok)
        self.assertEqual(r.status, 401)
        r = self.s.post(CS + "/account/deactivate", {
            "erase": True, "auth": {"type": "m.login.password", "session": r["session"],
                                    "identifier": {"type": "m.id.user", "user": uid},
                                    "password": "correct horse battery"}}, token=tok)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.psql(f"SELECT erased FROM users WHERE user_id = '{uid}'"), "t")

    # --- audit log ----------------------------------------------------------------------
    def test_audit_log(self):
        uid, tok = self.user("audited")
        self.s.put(f"{V1}/admin/lock/{q(uid)}", {"locked": True}, token=self.tok)
        self.s.put(f"{V1}/admin/lock/{q(uid)}", {"locked": False}, token=self.tok)
        self.s.post(A1 + "/registration_tokens/new", {"token": "sekrit-token"}, token=self.tok)
        self.s.delete(A1 + "/registration_tokens/sekrit-token", token=self.tok)
        self.s.get(A2 + "/users", token=self.tok)  # reads are not recorded
        self.s.post(f"{A1}/users/{q(uid)}/shadow_ban", token=tok)  # refused: still recorded
        deadline = time.time() + 5
        rows = ""
        while time.time() < deadline:
            rows = self.psql("SELECT admin_id, method, path, target, status, client_ip "
                             f"FROM admin_audit_log WHERE target = '{uid}' ORDER BY id")
            if rows.count("\n") >= 2:
                break
            time.sleep(0.1)
        lines = rows.split("\n")
        self.assertEqual(len(lines), 3, rows)
        self.assertTrue(lines[0].startswith("@root:test.local|PUT|/_matrix/client/v1/admin/lock/"))
        self.assertTrue(lines[0].endswith(f"|{uid}|200|127.0.0.1"), lines[0])
        self.assertTrue(lines[2].startswith(f"{uid}|POST|"), lines[2])
        self.assertIn("|403|", lines[2])
        self.assertEqual(self.psql("SELECT count(*) FROM admin_audit_log WHERE method = 'GET'"),
                         "0")
        # the registration token never reaches the log
        self.assertEqual(self.psql("SELECT count(*) FROM admin_audit_log WHERE path LIKE "
                                   "'%sekrit%'"), "0")
        self.assertEqual(self.psql("SELECT count(*) FROM admin_audit_log WHERE path = "
                                   "'/_synapse/admin/v1/registration_tokens/<redacted>'"), "1")
        with open(self.AUDIT) as f:
            entries = [json.loads(line) for line in f]
        mine = [e for e in entries if e.get("target") == uid]
        self.assertEqual(len(mine), 3, entries)
        self.assertEqual(mine[0]["admin"], "@root:test.local")
        self.assertEqual(mine[0]["method"], "PUT")
        self.assertEqual(mine[0]["status"], 200)
        self.assertEqual(mine[0]["client_ip"], "127.0.0.1")
        self.assertNotIn("sekrit", open(self.AUDIT).read())


class ErasedOverFederation(unittest.TestCase):
    """Another server asking for an erased user's event (/event, /backfill) gets it redacted,
    as Synapse filters erased senders for servers."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="amtsbote-erasefed-")
        cls.ca = TestCA(cls.tmp)
        cfg = {"federation_custom_ca_list": [cls.ca.ca]}
        cls.A = FedServer(cls.ca, dict(cfg))
        cls.B = FedServer(cls.ca, dict(cfg))
        cls.servers = start_servers(cls.A, cls.B)

    @classmethod
    def tearDownClass(cls):
        stop_servers(cls.servers)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_erased_event_redacted_for_servers(self):
        A, B = self.A, self.B
        root = A.admin_register("root", "root-pw", admin=True)["access_token"]
        A.register("eve")
        eve = A.login("eve")["access_token"]
        B.register("bob")
        bob = B.login("bob")["access_token"]
        r = A.post(f"{CS}/createRoom", {"preset": "public_chat"}, token=eve)
        room = r["room_id"]
        r = B.post(f"{CS}/join/{q(room)}?server_name={q(A.server_name)}", {}, token=bob)
        self.assertEqual(r.status, 200, r)
        sent = A.put(f"{CS}/rooms/{q(room)}/send/m.room.message/t1",
                     {"msgtype": "m.text", "body": "eve's words"}, token=eve)["event_id"]
        fed = "/_matrix/federation/v1/event/" + q(sent)
        r = A.fed_request("GET", fed, B.key, B.server_name)
        self.assertEqual(r["pdus"][0]["content"].get("body"), "eve's words")
        r = A.post(f"{A1}/deactivate/{q('@eve:' + A.server_name)}", {"erase": True},
                   token=root)
        self.assertEqual(r.status, 200, r)
        r = A.fed_request("GET", fed, B.key, B.server_name)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r["pdus"][0]["content"], {})
