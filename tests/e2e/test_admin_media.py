"""Synapse's media admin API end to end: a user's media (paging, orders), quarantine by ID,
room and user (downloads and thumbnails answer 404), protection, media info, deletion by ID
(the file leaves the disk), by user and by age (keep_profiles), and the refusal of
non-admins."""
import os
import time
import urllib.parse

from harness import ServerTestCase
from test_media import png

CS = "/_matrix/client/v3"
A1 = "/_synapse/admin/v1"
UP = "/_matrix/media/v3/upload"
DL = "/_matrix/client/v1/media/download/"
TH = "/_matrix/client/v1/media/thumbnail/"


def q(s):
    return urllib.parse.quote(s, safe="")


class AdminMedia(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        s = cls.server
        cls.admin = s.admin_register("boss", admin=True)["access_token"]
        cls.n = 0

    def user(self):
        AdminMedia.n += 1
        name = f"u{AdminMedia.n}"
        return f"@{name}:test.local", self.s.register(name)["access_token"]

    def upload(self, tok, data, ctype="application/octet-stream", name=None):
        path = UP + (f"?filename={q(name)}" if name else "")
        r = self.s.request("POST", path, raw=data, token=tok, headers={"Content-Type": ctype})
        self.assertEqual(r.status, 200, r)
        return r["content_uri"][len("mxc://test.local/"):]

    def download(self, mid, tok):
        return self.s.get(DL + f"test.local/{mid}", token=tok)

    def test_non_admin_refused(self):
        uid, tok = self.user()
        mid = self.upload(tok, b"x")
        calls = [("GET", A1 + f"/users/{q(uid)}/media"), ("DELETE", A1 + f"/users/{q(uid)}/media"),
                 ("GET", A1 + f"/room/{q('!r:test.local')}/media"),
                 ("POST", A1 + f"/media/quarantine/test.local/{mid}"),
                 ("POST", A1 + f"/media/unquarantine/test.local/{mid}"),
                 ("POST", A1 + f"/room/{q('!r:test.local')}/media/quarantine"),
                 ("POST", A1 + f"/user/{q(uid)}/media/quarantine"),
                 ("POST", A1 + f"/media/protect/{mid}"), ("POST", A1 + f"/media/unprotect/{mid}"),
                 ("DELETE", A1 + f"/media/test.local/{mid}"),
                 ("POST", A1 + "/media/delete?before_ts=99999999999999"),
                 ("GET", A1 + f"/media/test.local/{mid}")]
        for method, path in calls:
            self.assertError(self.s.request(method, path, {}, token=tok), 403, "M_FORBIDDEN")
        self.assertEqual(self.download(mid, tok).status, 200)

    def test_user_media_paging_and_orders(self):
        uid, tok = self.user()
        ids = []
        for i, size in enumerate((30, 10, 20)):
            ids.append(self.upload(tok, bytes([65 + i]) * size, "text/plain", f"f{i}.txt"))
            time.sleep(0.01)
        path = A1 + f"/users/{q(uid)}/media"
        r = self.s.get(path, token=self.admin)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r["total"], 3)
        self.assertEqual([m["media_id"] for m in r["media"]], ids[::-1])  # newest first
        m = r["media"][0]
        for k in ("created_ts", "last_access_ts", "media_id", "media_length", "media_type",
                  "quarantined_by", "safe_from_quarantine", "upload_name"):
            self.assertIn(k, m)
        self.assertEqual(m["upload_name"], "f2.txt")
        self.assertEqual(m["media_length"], 20)
        r = self.s.get(path, token=self.admin, query={"order_by": "media_length"})
        self.assertEqual([m["media_length"] for m in r["media"]], [10, 20, 30])
        r = self.s.get(path, token=self.admin, query={"order_by": "media_length", "dir": "b"})
        self.assertEqual([m["media_length"] for m in r["media"]], [30, 20, 10])
        r = self.s.get(path, token=self.admin, query={"order_by": "created_ts", "limit": 2})
        self.assertEqual([m["media_id"] for m in r["media"]], ids[:2])
        self.assertEqual(r["next_token"], 2)
        r = self.s.get(path, token=self.admin, query={"order_by": "created_ts", "from": 2})
        self.assertEqual([m["media_id"] for m in r["media"]], ids[2:])
        self.assertNotIn("next_token", r.body)
        self.assertError(self.s.get(path, token=self.admin, query={"order_by": "size"}), 400,
                         "M_INVALID_PARAM")
        self.assertError(self.s.get(path, token=self.admin, query={"limit": "-3"}), 400,
                         "M_INVALID_PARAM")
        self.assertError(self.s.get(A1 + f"/users/{q('@niemand:test.local')}/media",
                                    token=self.admin), 404, "M_NOT_FOUND")
        self.assertError(self.s.get(A1 + f"/users/{q('@x:elsewhere.example')}/media",
                                    token=self.admin), 400, "M_INVALID_PARAM")
        # DELETE with the same selection: the two largest
        r = self.s.delete(path + "?order_by=media_length&dir=b&limit=2", {}, token=self.admin)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r["total"], 2)
        self.assertEqual(sorted(r["deleted_media"]), sorted([ids[0], ids[2]]))
        self.assertEqual(self.s.get(path, token=self.admin)["total"], 1)
        self.assertError(self.download(ids[0], tok), 404, "M_NOT_FOUND")

    def test_quarantine_by_id_and_protect(self):
        uid, tok = self.user()
        img = self.upload(tok, png(64, 48), "image/png", "bild.png")
        self.assertEqual(self.s.get(TH + f"test.local/{img}", token=tok,
                                    query={"width": 32, "height": 32}).status, 200)
        r = self.s.post(A1 + f"/media/quarantine/test.local/{img}", {}, token=self.admin)
        self.assertEqual(r.body, {})
        self.assertError(self.download(img, tok), 404, "M_NOT_FOUND")
        self.assertError(self.s.get(TH + f"test.local/{img}", token=tok,
                                    query={"width": 32, "height": 32}), 404, "M_NOT_FOUND")
        self.assertEqual(self.s.get(f"/_matrix/media/v3/download/test.local/{img}").status, 404)
        info = self.s.get(A1 + f"/media/test.local/{img}", token=self.admin)["media_info"]
        self.assertEqual(info["quarantined_by"], "@boss:test.local")
        self.assertEqual(info["media_type"], "image/png")
        self.assertEqual(info["user_id"], uid)
        self.assertEqual(self.s.post(A1 + f"/media/unquarantine/test.local/{img}", {},
                                     token=self.admin).status, 200)
        self.assertEqual(self.download(img, tok).status, 200)
        # protected media is left alone by a quarantine
        self.assertEqual(self.s.post(A1 + f"/media/protect/{img}", {}, token=self.admin).body, {})
        self.s.post(A1 + f"/media/quarantine/test.local/{img}", {}, token=self.admin)
        self.assertEqual(self.download(img, tok).status, 200)
        other = self.upload(tok, b"zweite Datei")
        r = self.s.post(A1 + f"/user/{q(uid)}/media/quarantine", {}, token=self.admin)
        self.assertEqual(r.body, {"num_quarantined": 1})
        self.assertEqual(self.download(img, tok).status, 200)
        self.assertError(self.download(other, tok), 404, "M_NOT_FOUND")
        listed = {m["media_id"]: m for m in
                  self.s.get(A1 + f"/users/{q(uid)}/media", token=self.admin)["media"]}
        self.assertTrue(listed[img]["safe_from_quarantine"])
        self.assertEqual(listed[other]["quarantined_by"], "@boss:test.local")
        self.assertEqual(self.s.post(A1 + f"/media/unprotect/{img}", {}, token=self.admin).body,
                         {})
        self.assertError(self.s.post(A1 + "/media/protect/nope", {}, token=self.admin), 404,
                         "M_NOT_FOUND")
        # media of other servers, not even fetched: 404 without asking anyone
        self.s.post(A1 + "/media/quarantine/elsewhere.example/abcdef", {}, token=self.admin)
        self.assertError(self.s.get(DL + "elsewhere.example/abcdef", token=tok), 404,
                         "M_NOT_FOUND")
        self.assertError(self.s.get(A1 + "/media/elsewhere.example/abcdef", token=self.admin),
                         404, "M_NOT_FOUND")

    def test_room_media(self):
        uid, tok = self.user()
        a = self.upload(tok, png(20, 20), "image/png")
        b = self.upload(tok, b"anhang", "text/plain")
        room = self.s.post(CS + "/createRoom", {}, token=tok)["room_id"]
        self.s.put(CS + f"/rooms/{q(room)}/send/m.room.message/1",
                   {"msgtype": "m.image", "body": "bild", "url": f"mxc://test.local/{a}"},
                   token=tok)
        self.s.put(CS + f"/rooms/{q(room)}/send/m.room.message/2",
                   {"msgtype": "m.file", "body": "datei", "url": f"mxc://test.local/{b}",
                    "info": {"thumbnail_url": "mxc://elsewhere.example/thumb"}}, token=tok)
        r = self.s.get(A1 + f"/room/{q(room)}/media", token=self.admin)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(sorted(r["local"]), sorted([f"mxc://test.local/{a}",
                                                     f"mxc://test.local/{b}"]))
        self.assertEqual(r["remote"], ["mxc://elsewhere.example/thumb"])
        r = self.s.post(A1 + f"/room/{q(room)}/media/quarantine", {}, token=self.admin)
        self.assertEqual(r.body, {"num_quarantined": 3})
        self.assertError(self.download(a, tok), 404, "M_NOT_FOUND")
        self.assertError(self.download(b, tok), 404, "M_NOT_FOUND")

    def file_path(self, mid):
        sha = self.s.get(A1 + f"/media/test.local/{mid}", token=self.admin)["media_info"]["sha256"]
        return os.path.join(self.s.dir, "media", sha[:2], sha[2:4], sha)

    def test_delete_by_id_removes_files(self):
        uid, tok = self.user()
        mid = self.upload(tok, png(50, 50), "image/png")
        self.assertEqual(self.s.get(TH + f"test.local/{mid}", token=tok,
                                    query={"width": 32, "height": 32}).status, 200)
        path = self.file_path(mid)
        self.assertTrue(os.path.exists(path), path)
        same = self.upload(tok, png(50, 50), "image/png")  # the same content: one file
        r = self.s.delete(A1 + f"/media/test.local/{mid}", {}, token=self.admin)
        self.assertEqual(r.body, {"deleted_media": [mid], "total": 1})
        self.assertError(self.download(mid, tok), 404, "M_NOT_FOUND")
        self.assertTrue(os.path.exists(path), "a file another upload uses stays")
        self.assertEqual(self.download(same, tok).status, 200)
        self.s.delete(A1 + f"/media/test.local/{same}", {}, token=self.admin)
        self.assertFalse(os.path.exists(path), "the file goes with its last upload")
        thumbs = os.path.join(self.s.dir, "media", "thumbnails")
        left = [f for _, _, fs in os.walk(thumbs) for f in fs]
        self.assertEqual(left, [], "thumbnails go with their media")
        self.assertError(self.s.delete(A1 + f"/media/test.local/{mid}", {}, token=self.admin),
                         404, "M_NOT_FOUND")
        self.assertError(self.s.delete(A1 + "/media/elsewhere.example/x", {}, token=self.admin),
                         400, "M_INVALID_PARAM")

    def test_delete_older_than(self):
        uid, tok = self.user()
        avatar = self.upload(tok, png(16, 16), "image/png")
        self.assertEqual(self.s.put(CS + f"/profile/{q(uid)}/avatar_url",
                                    {"avatar_url": f"mxc://test.local/{avatar}"},
                                    token=tok).status, 200)
        small = self.upload(tok, b"k" * 10)
        big = self.upload(tok, b"g" * 5000)
        time.sleep(0.05)
        cut = int(time.time() * 1000)
        time.sleep(0.05)
        newer = self.upload(tok, b"n" * 5000)
        path = A1 + "/media/delete"
        self.assertError(self.s.post(path, {}, token=self.admin), 400, "M_MISSING_PARAM")
        self.assertError(self.s.post(path + "?before_ts=1000", {}, token=self.admin), 400,
                         "M_INVALID_PARAM")
        r = self.s.post(path + f"?before_ts={cut}&size_gt=100", {}, token=self.admin)
        self.assertEqual(r.status, 200, r)
        self.assertIn(big, r["deleted_media"])
        self.assertNotIn(small, r["deleted_media"])
        self.assertNotIn(newer, r["deleted_media"])
        self.assertNotIn(avatar, r["deleted_media"])  # keep_profiles defaults to true
        self.assertEqual(r["total"], len(r["deleted_media"]))
        r = self.s.post(path + f"?before_ts={cut}&keep_profiles=true", {}, token=self.admin)
        self.assertIn(small, r["deleted_media"])
        self.assertNotIn(avatar, r["deleted_media"])
        r = self.s.post(path + f"?before_ts={cut}&keep_profiles=false", {}, token=self.admin)
        self.assertIn(avatar, r["deleted_media"])
        left = [m["media_id"] for m in
                self.s.get(A1 + f"/users/{q(uid)}/media", token=self.admin)["media"]]
        self.assertEqual(left, [newer])
        self.assertEqual(self.download(newer, tok).status, 200)
