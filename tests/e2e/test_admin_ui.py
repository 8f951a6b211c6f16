"""The requests synapse-admin (the web UI, src/synapse/dataProvider.ts) makes on its rooms,
room members and state, event reports, user media, media actions and server notices pages,
replayed as it sends them (query keys sorted by query-string's stringify, room IDs not
encoded in the reference paths, bodies absent where it sends none), checking the fields it
reads are there."""
import urllib.parse

from harness import ServerTestCase

CS = "/_matrix/client/v3"
A1 = "/_synapse/admin/v1"
A2 = "/_synapse/admin/v2"


def enc(s):
    return urllib.parse.quote(s, safe="")


class SynapseAdminUI(ServerTestCase):
    config = {"server_notices": {"system_mxid_localpart": "server"}}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        s = cls.server
        cls.admin = s.admin_register("admin", admin=True)["access_token"]
        cls.eve = s.register("eve")["access_token"]

    def call(self, method, path, body=None):
        r = self.s.request(method, path, body, token=self.admin)
        self.assertEqual(r.status, 200, f"{method} {path}: {r}")
        return r.body

    def test_rooms_pages(self):
        room = self.s.post(CS + "/createRoom", {"name": "Amtsstube", "preset": "public_chat",
                                                "room_alias_name": "amtsstube"},
                           token=self.eve)["room_id"]
        ev = self.s.put(CS + f"/rooms/{enc(room)}/send/m.room.message/1",
                        {"msgtype": "m.text", "body": "Beschwerde"}, token=self.eve)["event_id"]
        self.s.post(CS + f"/rooms/{enc(room)}/report/{enc(ev)}", {"reason": "x", "score": -1},
                    token=self.eve)
        # RoomList: getList rooms, sorted by name; then with the search filter
        j = self.call("GET", A1 + "/rooms?dir=f&from=0&limit=10&order_by=name")
        j2 = self.call("GET", A1 + "/rooms?dir=f&from=0&limit=10&order_by=name&search_term=Amts")
        for body in (j, j2):
            self.assertIsInstance(body["total_rooms"], int)
            r = [x for x in body["rooms"] if x["room_id"] == room][0]
            for k in ("room_id", "name", "canonical_alias", "joined_members",
                      "joined_local_members", "version", "creator", "encryption", "federatable",
                      "public", "join_rules", "guest_access", "history_visibility",
                      "state_events"):
                self.assertIn(k, r)
        # sortable columns of the list
        for field in ("joined_local_members", "state_events", "version", "encryption"):
            self.call("GET", A1 + f"/rooms?dir=b&from=0&limit=10&order_by={field}")
        # RoomShow: getOne (encoded), then the members and state tabs (raw IDs)
        d = self.call("GET", A1 + f"/rooms/{enc(room)}")
        self.assertEqual(d["room_id"], room)
        m = self.call("GET", A1 + f"/rooms/{room}/members?dir=f&from=0&limit=25&order_by=id")
        self.assertEqual(m["members"], ["@eve:test.local"])
        self.assertEqual(m["total"], 1)
        st = self.call("GET", A1 + f"/rooms/{room}/state?dir=f&from=0&limit=25&order_by=type")
        self.assertTrue(all(k in e for e in st["state"]
                            for k in ("event_id", "type", "sender", "origin_server_ts",
                                      "content")))
        fx = self.call("GET", A1 + f"/rooms/{room}/forward_extremities?dir=f&from=0&limit=25"
                                   "&order_by=depth")
        self.assertEqual(fx["count"], 1)
        self.assertEqual(fx["results"][0]["event_id"], ev)
        for k in ("state_group", "depth", "received_ts"):
            self.assertIn(k, fx["results"][0])
        # ReportList and ReportShow
        rep = self.call("GET", A1 + "/event_reports?dir=b&from=0&limit=10&order_by=received_ts")
        self.assertEqual(rep["total"], 1)
        x = rep["event_reports"][0]
        for k in ("id", "received_ts", "room_id", "name", "event_id", "user_id", "reason",
                  "score", "sender", "canonical_alias"):
            self.assertIn(k, x)
        one = self.call("GET", A1 + f"/event_reports/{x['id']}")
        self.assertIn("event_json", one)
        # server notice from the user page
        n = self.call("POST", A1 + "/send_server_notice",
                      {"user_id": "@eve:test.local",
                       "content": {"msgtype": "m.text", "body": "Hallo"}})
        self.assertIn("event_id", n)
        # delete from the list: DELETE v2 with {"block": false}
        dl = self.call("DELETE", A2 + f"/rooms/{room}", {"block": False})
        self.assertIn("delete_id", dl)

    def test_user_media_pages(self):
        up = self.s.request("POST", "/_matrix/media/v3/upload", raw=b"akte",
                            token=self.eve, headers={"Content-Type": "text/plain"})
        mid = up["content_uri"].rsplit("/", 1)[1]
        uid = enc("@eve:test.local")
        j = self.call("GET", A1 + f"/users/{uid}/media?dir=b&from=0&limit=10&order_by=created_ts")
        self.assertEqual(j["total"], 1)
        for k in ("created_ts", "last_access_ts", "media_id", "media_length", "media_type",
                  "quarantined_by", "safe_from_quarantine", "upload_name"):
            self.assertIn(k, j["media"][0])
        # protect / unprotect and quarantine / unquarantine buttons: POST without a body
        for path in (f"/media/protect/{mid}", f"/media/unprotect/{mid}",
                     f"/media/quarantine/test.local/{mid}",
                     f"/media/unquarantine/test.local/{mid}"):
            self.call("POST", A1 + path)
        # delete one medium (no body), and the "delete media" dialog (the pre-1.78 path)
        other = self.s.request("POST", "/_matrix/media/v3/upload", raw=b"alt", token=self.eve,
                               headers={"Content-Type": "text/plain"})["content_uri"]
        self.call("DELETE", A1 + f"/media/test.local/{mid}")
        res = self.call("POST", A1 + "/media/test.local/delete?before_ts=99999999999999"
                                     "&size_gt=0&keep_profiles=true")
        self.assertEqual(res["deleted_media"], [other.rsplit("/", 1)[1]])
        self.assertEqual(res["total"], 1)
        r = self.s.request("POST", A1 + "/media/elsewhere.example/delete?before_ts=99999999999999",
                           token=self.admin)
        self.assertEqual(r.status, 400, r)

    def test_login_and_users_pages(self):
        # at login synapse-admin asks the version without a token
        r = self.s.request("GET", A1 + "/server_version", None)
        self.assertEqual(r.status, 200)
        self.assertIn("server_version", r.body)
        self.s.register("wilma")
        # the users list: getList("users")
        q = "deactivated=false&dir=f&from=0&guests=false&limit=10&locked=false&order_by=name"
        body = self.call("GET", A2 + "/users?" + q)
        self.assertIn("total", body)
        names = [u["name"] for u in body["users"]]
        self.assertIn("@wilma:" + self.s.server_name, names)
        for u in body["users"]:
            for k in ("name", "is_guest", "admin", "deactivated", "displayname",
                      "avatar_url", "creation_ts", "user_type", "shadow_banned"):
                self.assertIn(k, u)
        uid = enc("@wilma:" + self.s.server_name)
        # the user's show page and its tabs
        user = self.call("GET", A2 + f"/users/{uid}")
        self.assertEqual(user["name"], "@wilma:" + self.s.server_name)
        self.assertIn("devices", self.call("GET", A2 + f"/users/{uid}/devices"))
        self.assertIn("joined_rooms", self.call("GET", A1 + f"/users/{uid}/joined_rooms"))
        self.assertIn("pushers", self.call("GET", A1 + f"/users/{uid}/pushers"))
        self.assertIn("media", self.call("GET", A1 + f"/users/{uid}/media"))
        who = self.call("GET", A1 + f"/whois/{uid}")
        self.assertEqual(who["user_id"], "@wilma:" + self.s.server_name)
        self.assertIn("devices", who)
        # the edit form saves with PUT
        self.call("PUT", A2 + f"/users/{uid}", {"displayname": "Wilma", "admin": False})
        self.assertEqual(self.call("GET", A2 + f"/users/{uid}")["displayname"], "Wilma")
