"""Data protection (issue 15): message retention policies (MSC1763 m.room.retention under
Synapse's `retention` settings) hide expired messages from every read path at once and a
purge job deletes them with the media only they referenced, while state events survive;
stale devices, old IP records, the last copies of redacted content and forget_rooms_on_leave;
export-data of one user."""
import hashlib
import json
import os
import subprocess
import tarfile
import tempfile
import time
import urllib.parse

from harness import ServerTestCase

CS = "/_matrix/client/v3"
V1 = "/_matrix/client/v1/media"


def q(s):
    return urllib.parse.quote(s, safe="")


class Helpers:
    def psql(self, sql):
        s = self.s
        return subprocess.run([os.path.join(s.pg["PGBIN"], "psql"), "-h", s.pg["PGHOST"], "-U",
                               s.pg["PGUSER"], "-d", s.dbname, "-Atc", sql],
                              check=True, capture_output=True, text=True).stdout.strip()

    def room(self, tok, **extra):
        r = self.s.post(CS + "/createRoom", {"preset": "private_chat", **extra}, token=tok)
        self.assertEqual(r.status, 200, r)
        return r["room_id"]

    def send(self, tok, room, body, **content):
        txn = f"t{time.time_ns()}"
        r = self.s.put(CS + f"/rooms/{q(room)}/send/m.room.message/{txn}",
                       {"msgtype": "m.text", "body": body, **content}, token=tok)
        self.assertEqual(r.status, 200, r)
        return r["event_id"]

    def state(self, tok, room, etype, content, key=""):
        r = self.s.put(CS + f"/rooms/{q(room)}/state/{etype}/{q(key)}", content, token=tok)
        self.assertEqual(r.status, 200, r)
        return r["event_id"]

    def upload(self, tok, data):
        r = self.s.request("POST", "/_matrix/media/v3/upload", raw=data, token=tok,
                           headers={"Content-Type": "application/octet-stream"})
        self.assertEqual(r.status, 200, r)
        return r["content_uri"]

    def messages(self, tok, room):
        r = self.s.get(CS + f"/rooms/{q(room)}/messages", token=tok,
                       query={"dir": "b", "limit": "50"})
        self.assertEqual(r.status, 200, r)
        return [e["event_id"] for e in r["chunk"]]

    def sync_timeline(self, tok, room):
        f = json.dumps({"room": {"timeline": {"limit": 50}}})
        r = self.s.get(CS + "/sync", token=tok, query={"filter": f})
        self.assertEqual(r.status, 200, r)
        tl = r["rooms"]["join"].get(room, {}).get("timeline", {}).get("events", [])
        return [e["event_id"] for e in tl]

    def wait_for(self, what, fn, seconds=15):
        deadline = time.time() + seconds
        while time.time() < deadline:
            if fn():
                return
            time.sleep(0.2)
        self.fail(f"{what}: not within {seconds} s\n{self.s.read_log()[-3000:]}")


class TestRetentionHidden(Helpers, ServerTestCase):
    """Read-time hiding, with a purge job that does not run during the test: min and max
    clamping, the default policy, state events never hidden."""
    config = {"retention": {"enabled": True, "default_policy": {"max_lifetime": "1h"},
                            "allowed_lifetime_min": "3s", "allowed_lifetime_max": "6s",
                            "purge_jobs": [{"interval": "1h"}]}}

    def test_expiry_hides_everywhere_with_clamping(self):
        a = self.s.register("hid")["access_token"]
        short = self.room(a, name="kurz")  # policy 1 s, raised to allowed_lifetime_min 3 s
        self.state(a, short, "m.room.retention", {"max_lifetime": 1000})
        long_ = self.room(a)  # policy 10 years, lowered to allowed_lifetime_max 6 s
        self.state(a, long_, "m.room.retention", {"max_lifetime": 10 * 365 * 86400000})
        plain = self.room(a)  # no policy: the default 1 h, also lowered to 6 s
        t0 = time.time()
        m1 = self.send(a, short, "Hochwasserwarnung Pegel")
        m2 = self.send(a, long_, "zwei")
        m3 = self.send(a, plain, "drei")
        self.send(a, short, "letzte")
        # the search index must have the message before it expires, to see search hide it
        self.wait_for("search index", lambda: self.s.post(CS + "/search", {
            "search_categories": {"room_events": {"search_term": "Hochwasserwarnung"}}},
            token=a)["search_categories"]["room_events"]["results"], 2.5)
        time.sleep(max(0, t0 + 1.3 - time.time()))
        self.assertIn(m1, self.messages(a, short))  # 1 s passed, but 3 s is the floor
        time.sleep(max(0, t0 + 3.5 - time.time()))
        self.assertNotIn(m1, self.messages(a, short))
        self.assertNotIn(m1, self.sync_timeline(a, short))
        self.assertEqual(self.s.get(CS + f"/rooms/{q(short)}/event/{q(m1)}", token=a).status,
                         404)
        self.assertEqual(self.s.get(CS + f"/rooms/{q(short)}/context/{q(m1)}", token=a).status,
                         404)
        r = self.s.post(CS + "/search", {"search_categories": {"room_events": {
            "search_term": "Hochwasserwarnung"}}}, token=a)
        self.assertEqual(r["search_categories"]["room_events"]["results"], [], r)
        # state events never expire: the room name is still served
        r = self.s.get(CS + f"/rooms/{q(short)}/state/m.room.name/", token=a)
        self.assertEqual(r.get("name"), "kurz", r)
        names = [e for e in self.s.get(CS + f"/rooms/{q(short)}/messages", token=a,
                                       query={"dir": "b", "limit": "50"})["chunk"]
                 if e["type"] == "m.room.name"]
        self.assertEqual(len(names), 1)
        self.assertIn(m2, self.messages(a, long_))  # 6 s ceiling not reached yet
        time.sleep(max(0, t0 + 6.5 - time.time()))
        self.assertNotIn(m2, self.messages(a, long_))
        self.assertNotIn(m3, self.messages(a, plain))
        self.assertNotIn(m3, self.sync_timeline(a, plain))
        # hidden, not yet purged: the job has not run since start-up
        self.assertEqual(self.psql(f"SELECT count(*) FROM events WHERE event_id = '{m1}'"), "1")

    def test_expired_notifications_hidden(self):
        a = self.s.register("notifier")["access_token"]
        b = self.s.register("notified")["access_token"]
        room = self.room(a, invite=["@notified:test.local"], is_direct=True)
        self.assertEqual(self.s.post(CS + f"/rooms/{q(room)}/join", {}, token=b).status, 200)
        self.state(a, room, "m.room.retention", {"max_lifetime": 1000})  # raised to 3 s
        t0 = time.time()
        ev = self.send(a, room, "Bitte melden")

        def notified():
            r = self.s.get(CS + "/notifications", token=b)
            self.assertEqual(r.status, 200, r)
            return [n["event"]["event_id"] for n in r["notifications"]]
        self.wait_for("notification", lambda: ev in notified(), 2)
        time.sleep(max(0, t0 + 3.5 - time.time()))
        self.assertNotIn(ev, notified())

    def test_bad_policy_refused(self):
        a = self.s.register("badpolicy")["access_token"]
        room = self.room(a)
        for bad in ({"max_lifetime": "1d"}, {"max_lifetime": 0},
                    {"min_lifetime": 5000, "max_lifetime": 1000}):
            r = self.s.put(CS + f"/rooms/{q(room)}/state/m.room.retention/", bad, token=a)
            self.assertError(r, 400, "M_BAD_JSON")

    def test_forget_rooms_on_leave_defaults_to_false(self):
        a = self.s.register("stays")["access_token"]
        room = self.room(a)
        self.assertEqual(self.s.post(CS + f"/rooms/{q(room)}/leave", {}, token=a).status, 200)
        self.assertEqual(self.psql(f"SELECT count(*) FROM room_forgotten WHERE room_id = "
                                   f"'{room}'"), "0")


class TestRetentionPurge(Helpers, ServerTestCase):
    """The purge job deletes expired messages and the local media only they referenced; state
    events, the newest event of a room and media still referenced elsewhere survive."""
    config = {"retention": {"enabled": True, "purge_jobs": [{"interval": "1s"}]}}

    def test_purge_events_and_media(self):
        a = self.s.register("purger")["access_token"]
        room = self.room(a, name="Lage")
        self.state(a, room, "m.room.retention", {"max_lifetime": 1500})
        keep_room = self.room(a)  # no policy, no default: kept forever
        only = self.upload(a, b"only referenced by an expiring message")
        shared = self.upload(a, b"also referenced by a message that stays")
        thumb = self.upload(a, b"a thumbnail")
        img = self.s.put(CS + f"/rooms/{q(room)}/send/m.room.message/img1", {
            "msgtype": "m.image", "body": "foto.png", "url": only,
            "info": {"thumbnail_url": thumb}}, token=a)["event_id"]
        txt = self.send(a, room, "vertraulich")
        ref = self.send(a, room, "Anhang", msgtype="m.file", url=shared)
        self.send(a, keep_room, "bleibt", msgtype="m.file", url=shared)
        topic = self.state(a, room, "m.room.topic", {"topic": "neuestes Ereignis"})
        for uri in (only, shared, thumb):
            self.assertEqual(self.s.get(f"{V1}/download/{uri[6:]}", token=a).status, 200)

        only_id = only.rsplit('/', 1)[1]
        gone = lambda: self.psql(  # noqa: E731  (events first, then their media, same round)
            f"SELECT count(*) FROM events WHERE event_id IN ('{img}', '{txt}', '{ref}')") == "0" \
            and self.psql(f"SELECT count(*) FROM media WHERE media_id = '{only_id}'") == "0"
        self.wait_for("purge", gone)
        self.assertEqual(self.s.get(f"{V1}/download/{only[6:]}", token=a).status, 404)
        self.assertEqual(self.s.get(f"{V1}/download/{thumb[6:]}", token=a).status, 404)
        self.assertEqual(self.s.get(f"{V1}/download/{shared[6:]}", token=a).status, 200)
        self.assertEqual(self.psql(f"SELECT count(*) FROM media WHERE media_id = "
                                   f"'{only.rsplit('/', 1)[1]}'"), "0")

        def stored(data):
            h = hashlib.sha256(data).hexdigest()
            return os.path.exists(os.path.join(self.s.dir, "media", h[:2], h[2:4], h))
        self.assertFalse(stored(b"only referenced by an expiring message"))
        self.assertFalse(stored(b"a thumbnail"))
        self.assertTrue(stored(b"also referenced by a message that stays"))
        # state survives, and the room goes on
        self.assertEqual(self.psql(f"SELECT count(*) FROM events WHERE event_id = '{topic}'"),
                         "1")
        self.assertEqual(self.psql(f"SELECT count(*) FROM events WHERE room_id = '{room}' AND "
                                   f"state_key IS NULL"), "0")
        self.assertGreaterEqual(int(self.psql(f"SELECT count(*) FROM events WHERE room_id = "
                                              f"'{room}' AND state_key IS NOT NULL")), 6)
        r = self.s.get(CS + f"/rooms/{q(room)}/state/m.room.name/", token=a)
        self.assertEqual(r.get("name"), "Lage", r)
        new = self.send(a, room, "danach")
        self.assertIn(new, self.messages(a, room))

    def test_newest_event_is_kept(self):
        a = self.s.register("lastone")["access_token"]
        room = self.room(a)
        self.state(a, room, "m.room.retention", {"max_lifetime": 1000})
        last = self.send(a, room, "das letzte Wort")
        time.sleep(3.5)
        self.assertNotIn(last, self.messages(a, room))  # hidden from clients
        self.assertEqual(self.psql(f"SELECT count(*) FROM events WHERE event_id = '{last}'"),
                         "1")  # but kept as the room's newest event (its forward extremity)


class TestHousekeeping(Helpers, ServerTestCase):
    config = {"delete_stale_devices_after": "7s", "user_ips_max_age": "2s",
              "redaction_retention_period": "2s", "forget_rooms_on_leave": True}

    def test_stale_devices_deleted_with_keys(self):
        self.s.register("stale")
        old = self.s.login("stale", device_id="ALT")["access_token"]
        r = self.s.post(CS + "/keys/upload", {"one_time_keys": {
            "signed_curve25519:AAAAAQ": {"key": "x", "signatures": {}}}}, token=old)
        self.assertEqual(r.status, 200, r)
        time.sleep(7.5)
        new = self.s.login("stale", device_id="NEU")["access_token"]
        self.assertEqual(self.s.get(CS + "/devices", token=new).status, 200)
        self.wait_for("stale device deleted", lambda: self.psql(
            "SELECT count(*) FROM devices WHERE user_id = '@stale:test.local' AND device_id = "
            "'ALT'") == "0", 5)
        self.assertEqual(self.s.get(CS + "/account/whoami", token=old).status, 401)
        self.assertEqual(self.psql("SELECT count(*) FROM e2e_one_time_keys WHERE user_id = "
                                   "'@stale:test.local' AND device_id = 'ALT'"), "0")
        ids = [d["device_id"] for d in self.s.get(CS + "/devices", token=new)["devices"]]
        self.assertIn("NEU", ids)
        self.assertNotIn("ALT", ids)

    def test_old_ip_records_forgotten(self):
        tok = self.s.register("ips")["access_token"]
        self.s.get(CS + "/account/whoami", token=tok, headers={"User-Agent": "Testclient/1"})
        sql = "SELECT count(*) FROM devices WHERE user_id = '@ips:test.local' AND {}"
        self.wait_for("IP recorded", lambda: self.psql(sql.format(
            "last_seen_ip IS NOT NULL")) == "1", 3)
        self.wait_for("IP forgotten", lambda: self.psql(sql.format(
            "last_seen_ip IS NULL AND last_seen_user_agent IS NULL")) == "1", 6)

    def test_redacted_originals_erased(self):
        a = self.s.register("redactor")["access_token"]
        room = self.room(a)
        ev = self.send(a, room, "Geheimwort Zugangscode")
        self.wait_for("indexed", lambda: self.psql(
            f"SELECT count(*) FROM event_search WHERE event_id = '{ev}'") == "1")
        r = self.s.put(CS + f"/rooms/{q(room)}/redact/{q(ev)}/r1", {}, token=a)
        self.assertEqual(r.status, 200, r)
        # the stored PDU is redacted at once
        self.assertEqual(self.psql(f"SELECT strpos(json, 'Geheimwort') FROM events WHERE "
                                   f"event_id = '{ev}'"), "0")
        self.wait_for("search copy erased", lambda: self.psql(
            f"SELECT count(*) FROM event_search WHERE event_id = '{ev}'") == "0", 6)
        self.assertEqual(self.psql("SELECT count(*) FROM event_search WHERE key LIKE "
                                   "'%Geheimwort%'"), "0")

    def test_forget_rooms_on_leave(self):
        a = self.s.register("leaver")["access_token"]
        room = self.room(a)
        self.send(a, room, "tschüss")
        self.assertEqual(self.s.post(CS + f"/rooms/{q(room)}/leave", {}, token=a).status, 200)
        self.assertEqual(self.psql(f"SELECT count(*) FROM room_forgotten WHERE user_id = "
                                   f"'@leaver:test.local' AND room_id = '{room}'"), "1")
        r = self.s.get(CS + "/sync", token=a)
        self.assertNotIn(room, r["rooms"].get("leave", {}))
        # joining again un-forgets
        b = self.s.register("host")["access_token"]
        pub = self.room(b, preset="public_chat")
        self.assertEqual(self.s.post(CS + f"/rooms/{q(pub)}/join", {}, token=a).status, 200)
        self.assertEqual(self.s.post(CS + f"/rooms/{q(pub)}/leave", {}, token=a).status, 200)
        self.assertEqual(self.psql(f"SELECT count(*) FROM room_forgotten WHERE user_id = "
                                   f"'@leaver:test.local' AND room_id = '{pub}'"), "1")
        self.assertEqual(self.s.post(CS + f"/rooms/{q(pub)}/join", {}, token=a).status, 200)
        self.assertEqual(self.psql(f"SELECT count(*) FROM room_forgotten WHERE user_id = "
                                   f"'@leaver:test.local' AND room_id = '{pub}'"), "0")
        # a kick forgets too (for the kicked user, not for the one who kicked)
        r = self.s.post(CS + f"/rooms/{q(pub)}/kick", {"user_id": "@leaver:test.local"}, token=b)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.psql(f"SELECT user_id FROM room_forgotten WHERE room_id = "
                                   f"'{pub}'"), "@leaver:test.local")


class TestExportData(Helpers, ServerTestCase):
    def test_export_user(self):
        a = self.s.register("betroffen", device_id="ERST")["access_token"]
        self.s.login("betroffen", device_id="ZWEIT")
        other = self.s.register("anderer")["access_token"]
        room = self.room(a, name="Akte")
        self.s.put(CS + "/user/@betroffen:test.local/account_data/m.direct", {"x": ["y"]},
                   token=a)
        self.s.put(CS + f"/user/@betroffen:test.local/rooms/{q(room)}/account_data/m.tag.test",
                   {"k": 1}, token=a)
        e1 = self.send(a, room, "erste Nachricht")
        e2 = self.send(a, room, "zweite Nachricht")
        uri = self.upload(a, b"Inhalt der Datei")
        self.upload(other, b"nicht meins")
        self.s.post(CS + f"/rooms/{q(room)}/invite", {"user_id": "@anderer:test.local"}, token=a)
        self.assertEqual(self.s.post(CS + f"/rooms/{q(room)}/join", {}, token=other).status, 200)
        self.send(other, room, "fremde Nachricht")
        left = self.room(a)
        self.s.post(CS + f"/rooms/{q(left)}/leave", {}, token=a)

        out = os.path.join(tempfile.mkdtemp(prefix="export-"), "betroffen")
        p = subprocess.run([self.s.binary, "-c", self.s.config_path, "export-data",
                            "@betroffen:test.local", "--output-directory", out, "--tar"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)

        def load(rel):
            with open(os.path.join(out, rel)) as f:
                return json.load(f)

        man = load("manifest.json")
        self.assertEqual(man["user_id"], "@betroffen:test.local")
        self.assertEqual(load("user_data/profile.json")["user_id"], "@betroffen:test.local")
        self.assertEqual(sorted(d["device_id"] for d in load("user_data/devices.json")),
                         ["ERST", "ZWEIT"])
        self.assertIn("m.direct", [x["type"] for x in load("user_data/account_data/global.json")])
        rooms = os.listdir(os.path.join(out, "rooms"))
        self.assertIn(room, rooms)
        self.assertIn(left, rooms)
        self.assertEqual(load(f"rooms/{left}/membership.json")["membership"], "leave")
        tags = load(f"user_data/account_data/rooms/{room}.json")
        self.assertEqual(tags[0]["type"], "m.tag.test")
        with open(os.path.join(out, "rooms", room, "events.jsonl")) as f:
            evs = [json.loads(line) for line in f]
        bodies = [e["content"].get("body") for e in evs]
        self.assertIn("erste Nachricht", bodies)
        self.assertIn("zweite Nachricht", bodies)
        self.assertNotIn("fremde Nachricht", bodies)  # only what the user sent
        self.assertTrue(all(e["sender"] == "@betroffen:test.local" for e in evs))
        self.assertLess(bodies.index("erste Nachricht"), bodies.index("zweite Nachricht"))
        del e1, e2
        media = load("media/index.json")
        self.assertEqual(len(media), 1)
        mid = uri.rsplit("/", 1)[1]
        self.assertEqual(media[0]["media_id"], mid)
        with open(os.path.join(out, "media", mid), "rb") as f:
            self.assertEqual(f.read(), b"Inhalt der Datei")
        with tarfile.open(out + ".tar") as t:
            self.assertIn("betroffen/manifest.json", t.getnames())
        # refuses to overwrite, and unknown users and bad arguments fail cleanly
        p = subprocess.run([self.s.binary, "-c", self.s.config_path, "export-data",
                            "@betroffen:test.local", "--output-directory", out],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 1)
        p = subprocess.run([self.s.binary, "-c", self.s.config_path, "export-data",
                            "@niemand:test.local", "--output-directory", out + "2"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 1)
        self.assertIn("no user", p.stderr)
        p = subprocess.run([self.s.binary, "-c", self.s.config_path, "export-data", "x"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 2)
