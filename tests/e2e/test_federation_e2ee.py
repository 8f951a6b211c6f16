"""Federation II (issue 13): end-to-end encryption across three instances on loopback, bund
(A), nrw (B) and hessen (C), with a matrix-nio client (python-olm, its own device and store)
on each.

1. An encrypted room (m.room.encryption, Megolm) on bund with alice (bund), bob (nrw) and
   cyril (hessen): each client's /keys/query and /keys/claim for the others reach their
   servers over federation, the Megolm keys travel as Olm-encrypted to-device messages over
   federation (m.direct_to_device), and every client decrypts every other client's message.
2. Outage: hessen is stopped. alice and bob go on talking; bob logs in on a second device
   (nrw sends m.device_list_update; hessen's copy waits in nrw's queue), alice starts a new
   Megolm session (its key for cyril's device waits as a to-device message in bund's queue)
   and both send more messages. hessen comes back: cyril's client gets every missed message
   and decrypts it, and its /sync names bob in device_lists.changed; bob's new device then
   reaches cyril (keys claimed over federation) and cyril decrypts its message too.
3. An image uploaded on bund, sent as an encrypted m.image with a thumbnail, is downloaded
   with a thumbnail by cyril through hessen (authenticated media, fetched over federation).
4. After a long outage bund's queue for hessen waits out an hour's back-off; the first request
   hessen signs after its restart ends it, and the to-device message and the event waiting
   for hessen arrive at once (test_queue_goes_when_the_server_is_back).

Every wait polls a condition under a deadline; nothing sleeps for a fixed time to let
federation catch up."""
import asyncio
import os
import subprocess
import tempfile
import time
import unittest
import urllib.parse

import nio

from fedharness import FedTestCase, Restartable, keep_logs
from test_media import image_size, png

CS = "/_matrix/client/v3"
WAIT_S = 60
PASSWORD = "nio-secret-passwort"
MEGOLM = {"algorithm": "m.megolm.v1.aes-sha2"}


def q(s):
    return urllib.parse.quote(s, safe="")


class Client:
    """A nio client with its own Olm store in a temporary directory, collecting what it
    decrypted (body -> event) and the device_lists.changed of its syncs."""

    def __init__(self, server, user, tmp):
        cfg = nio.AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False)
        store = tempfile.mkdtemp(dir=tmp, prefix=f"{user}-")
        self.server = server
        self.nio = nio.AsyncClient(server.base, user, store_path=store, config=cfg)
        self.texts = {}
        self.images = {}
        self.undecrypted = []
        self.changed = set()
        self.nio.add_event_callback(self._on_text, nio.RoomMessageText)
        self.nio.add_event_callback(self._on_image, nio.RoomEncryptedImage)
        self.nio.add_event_callback(lambda r, e: self.undecrypted.append(e), nio.MegolmEvent)

    def _on_text(self, room, event):
        self.texts.setdefault(event.body, event)

    def _on_image(self, room, event):
        self.images.setdefault(event.body, event)  # RoomEncryptedImage: an attachment

    async def sync(self, timeout, full_state=False):
        """One /sync (nio runs the event callbacks), noting device_lists.changed."""
        r = await self.nio.sync(timeout=timeout, full_state=full_state)
        if isinstance(r, nio.SyncResponse):
            self.changed.update(r.device_list.changed)
        return r

    def messages(self, response):
        """Take in decrypted events of a /messages answer (nio decrypts them, no callbacks)."""
        for e in response.chunk:
            if isinstance(e, nio.RoomMessageText):
                self.texts.setdefault(e.body, e)
            elif isinstance(e, nio.RoomEncryptedImage):
                self.images.setdefault(e.body, e)

    @property
    def user_id(self):
        return self.nio.user_id


class TestFederationE2EE(FedTestCase):
    PREFIX = "amtsbote-fede2ee-"
    INSTANCES = {"A": Restartable, "B": Restartable, "C": Restartable}  # bund, nrw, hessen

    def tearDown(self):
        keep_logs("FEDE2EE_KEEP_LOGS", self._testMethodName,
                  (("bund", self.A), ("nrw", self.B), ("hessen", self.C)))

    def logs(self):
        return "\n".join(f"--- {n}:\n{s.read_log()[-3000:]}" for n, s in
                         (("bund", self.A), ("nrw", self.B), ("hessen", self.C)))

    # --- helpers --------------------------------------------------------------------------
    async def register(self, server, user):
        c = Client(server, user, self.tmp)
        r = await c.nio.register(user, PASSWORD, f"{user} phone")
        self.assertIsInstance(r, nio.RegisterResponse, r)
        await self.upload(c)
        return c

    async def login(self, server, user, device_name):
        c = Client(server, user, self.tmp)
        r = await c.nio.login(PASSWORD, device_name=device_name)
        self.assertIsInstance(r, nio.LoginResponse, r)
        await self.upload(c)
        return c

    async def upload(self, c):
        r = await c.nio.keys_upload()
        self.assertIsInstance(r, nio.KeysUploadResponse, r)
        self.assertGreater(r.signed_curve25519_count, 0)

    async def settle(self, *clients):
        """Sync each client once, then upload and query the keys it wants."""
        for c in clients:
            r = await c.sync(0, full_state=c.nio.next_batch is None)
            self.assertIsInstance(r, nio.SyncResponse, r)
            if c.nio.should_upload_keys:
                await c.nio.keys_upload()
            if c.nio.should_query_keys:
                k = await c.nio.keys_query()
                self.assertIsInstance(k, nio.KeysQueryResponse, k)

    async def until(self, pred, what, *clients, wait=WAIT_S):
        """Sync `clients` (and fetch keys they want) until pred() holds, within `wait` s."""
        deadline = time.time() + wait
        while time.time() < deadline:
            if pred():
                return
            for c in clients:
                r = await c.sync(1000)
                self.assertIsInstance(r, nio.SyncResponse, r)
                if c.nio.should_query_keys:
                    await c.nio.keys_query()
        if not pred():
            if os.environ.get("FEDE2EE_HOLD"):
                print("HOLD", [x.proc.pid for x in (self.A, self.B, self.C)], flush=True)
                time.sleep(int(os.environ["FEDE2EE_HOLD"]))
            undecrypted = {c.user_id: [(e.sender, e.session_id) for e in c.undecrypted]
                           for c in clients}
            self.fail(f"{what}: not within {wait} s; undecrypted (sender, session): "
                      f"{undecrypted}\n{self.logs()}")

    def knows_device(self, c, user_id, device_id):
        return device_id in c.nio.device_store.active_user_devices_dict(user_id) \
            if hasattr(c.nio.device_store, "active_user_devices_dict") else \
            device_id in c.nio.device_store[user_id]

    async def send(self, c, room, body):
        r = await c.nio.room_send(room, "m.room.message", {"msgtype": "m.text", "body": body},
                                  ignore_unverified_devices=True)
        self.assertIsInstance(r, nio.RoomSendResponse, r)
        return r.event_id

    def decrypted(self, c, body, sender):
        e = c.texts.get(body)
        return e is not None and e.decrypted and e.sender == sender

    async def joined(self, server, token, room, user_ids):
        r = server.get(f"{CS}/rooms/{q(room)}/joined_members", token=token)
        return r.status == 200 and set(user_ids) <= set(r["joined"])

    # --- the demonstration ----------------------------------------------------------------
    def test_encrypted_room_across_three_servers_with_outage(self):
        asyncio.run(asyncio.wait_for(self.flow(), 420))

    async def flow(self):
        alice = await self.register(self.A, "alice")
        bob = await self.register(self.B, "bob")
        cyril = await self.register(self.C, "cyril")
        clients = [alice, bob, cyril]
        bob2 = None
        try:
            await self.conversation(alice, bob, cyril)
            bob2 = await self.outage(alice, bob, cyril)
            await self.remote_image(alice, cyril)
        finally:
            for c in clients + ([bob2] if bob2 else []):
                await c.nio.close()

    async def conversation(self, alice, bob, cyril):
        r = await alice.nio.room_create(
            name="verschlüsselt", invite=[bob.user_id, cyril.user_id],
            initial_state=[{"type": "m.room.encryption", "state_key": "", "content": MEGOLM}])
        self.assertIsInstance(r, nio.RoomCreateResponse, r)
        self.room = room = r.room_id
        for c in (bob, cyril):
            # the invite reached the other server; join through bund
            await self.until(lambda c=c: room in c.nio.invited_rooms, "invite", c)
            r = c.server.post(f"{CS}/join/{q(room)}?server_name={q(self.A.server_name)}", {},
                              token=c.nio.access_token)
            self.assertEqual(r.status, 200, f"{r}\n{self.logs()}")
        everyone = [c.user_id for c in (alice, bob, cyril)]
        for c in (alice, bob, cyril):
            deadline = time.time() + WAIT_S
            while not await self.joined(c.server, c.nio.access_token, room, everyone):
                self.assertLess(time.time(), deadline, f"joins on {c.server.server_name}\n"
                                f"{self.logs()}")
                await asyncio.sleep(0.25)
        # every client knows every other client's device, fetched over federation
        pairs = [(a, b) for a in (alice, bob, cyril) for b in (alice, bob, cyril) if a is not b]
        await self.until(lambda: all(self.knows_device(a, b.user_id, b.nio.device_id)
                                     for a, b in pairs), "devices known", alice, bob, cyril)
        for a, b in pairs:
            self.assertEqual(a.nio.device_store[b.user_id][b.nio.device_id].ed25519,
                             b.nio.olm.account.identity_keys["ed25519"])
        self.assertTrue(all(c.nio.rooms[room].encrypted for c in (alice, bob, cyril)))
        # each one speaks, the two others decrypt (the Megolm keys go by to-device over
        # federation, after one-time keys were claimed over federation)
        for speaker in (alice, bob, cyril):
            body = f"Grüße von {speaker.user_id}"
            eid = await self.send(speaker, room, body)
            raw = speaker.server.get(f"{CS}/rooms/{q(room)}/event/{q(eid)}",
                                     token=speaker.nio.access_token)
            self.assertEqual(raw["type"], "m.room.encrypted")
            self.assertNotIn("Grüße", raw.raw.decode())
            others = [c for c in (alice, bob, cyril) if c is not speaker]
            await self.until(lambda: all(self.decrypted(c, body, speaker.user_id)
                                         for c in others),
                             f"{body!r} decrypted by the others", *others)

    async def outage(self, alice, bob, cyril):
        room = self.room
        await self.settle(cyril)
        cyril.changed.clear()
        self.C.pause()
        sent = []
        try:
            for i in range(3):
                for c in (alice, bob):
                    body = f"während der Störung {len(sent)} von {c.user_id}"
                    await self.send(c, room, body)
                    sent.append((body, c.user_id))
            # a new device on nrw: bund learns of it (m.device_list_update), hessen's copy of
            # the update waits in nrw's queue
            bob2 = await self.login(self.B, "bob", "bob tablet")
            await self.until(lambda: self.knows_device(alice, bob.user_id, bob2.nio.device_id),
                             "bob's new device known on bund", alice)
            self.assertIn(bob.user_id, alice.changed)
            # a new Megolm session: its key for cyril's device is a to-device message that
            # waits in bund's queue for hessen
            alice.nio.invalidate_outbound_session(room)
            for i in range(3):
                for c in (alice, bob):
                    body = f"neue Sitzung {len(sent)} von {c.user_id}"
                    await self.send(c, room, body)
                    sent.append((body, c.user_id))
            await self.until(lambda: all(self.decrypted(bob, b, s) for b, s in sent
                                         if s == alice.user_id), "bob decrypts alice", bob)
        finally:
            self.C.resume()
        # cyril catches up: every missed message, decrypted; gappy timelines are read back
        # with /messages
        def caught_up():
            return all(self.decrypted(cyril, b, s) for b, s in sent)

        deadline = time.time() + WAIT_S
        while time.time() < deadline and not (caught_up() and bob.user_id in cyril.changed):
            r = await cyril.sync(1000)
            self.assertIsInstance(r, nio.SyncResponse, r)
            entry = r.rooms.join.get(room)
            if entry and entry.timeline.limited and not caught_up():
                m = await cyril.nio.room_messages(room, entry.timeline.prev_batch, limit=100)
                self.assertIsInstance(m, nio.RoomMessagesResponse, m)
                cyril.messages(m)
        missing = [b for b, s in sent if not self.decrypted(cyril, b, s)]
        self.assertEqual(missing, [], f"not decrypted by cyril; undecryptable: "
                         f"{cyril.undecrypted}\n{self.logs()}")
        self.assertIn(bob.user_id, cyril.changed,
                      f"bob not in hessen's device_lists.changed\n{self.logs()}")
        # alice's later messages are in a session cyril only learnt of by the to-device
        # message that waited for hessen in bund's queue
        before = {cyril.texts[b].session_id for b, u in sent
                  if u == alice.user_id and b.startswith("während")}
        after = {cyril.texts[b].session_id for b, u in sent
                 if u == alice.user_id and b.startswith("neue Sitzung")}
        self.assertEqual(len(before), 1)
        self.assertEqual(len(after), 1)
        self.assertNotEqual(before, after)
        # cyril's client fetches bob's list again and finds the new device
        await self.until(lambda: self.knows_device(cyril, bob.user_id, bob2.nio.device_id),
                         "bob's new device known on hessen", cyril)
        # the new device speaks: it claims a one-time key of cyril's device on hessen and
        # sends the Megolm key to hessen, which came back
        await self.settle(bob2)
        await self.until(lambda: room in bob2.nio.rooms, "room on bob's new device", bob2)
        body = "vom Tablet"
        await self.send(bob2, room, body)
        await self.until(lambda: all(self.decrypted(c, body, bob.user_id)
                                     for c in (alice, cyril)),
                         "the new device's message decrypted", alice, cyril)
        return bob2

    def upload_media(self, server, token, data, ctype, name):
        r = server.request("POST", f"/_matrix/media/v3/upload?filename={q(name)}", raw=data,
                           token=token, headers={"Content-Type": ctype})
        self.assertEqual(r.status, 200, r)
        return r["content_uri"]

    def download(self, server, token, mxc):
        origin, media_id = mxc[len("mxc://"):].split("/", 1)
        self.assertEqual(origin, self.A.server_name)
        r = server.get(f"/_matrix/client/v1/media/download/{origin}/{media_id}", token=token)
        self.assertEqual(r.status, 200, f"{r}\n{self.logs()}")
        return r.raw

    async def remote_image(self, alice, cyril):
        """An image in the encrypted room is an encrypted attachment (the server never sees
        the picture): alice encrypts the image and the thumbnail her client made, uploads
        both to bund and sends m.image with `file` and `info.thumbnail_file`; cyril
        decrypts the event, fetches both through hessen (over federation from bund) and
        decrypts them. A plain image of bund (as an avatar is) gets a thumbnail made for
        cyril through hessen."""
        from nio.crypto.attachments import decrypt_attachment, encrypt_attachment
        room, tok_a, tok_c = self.room, alice.nio.access_token, cyril.nio.access_token
        big, small = png(320, 240), png(64, 48)
        files = {}
        for name, data in (("karte.png", big), ("karte-klein.png", small)):
            cipher, keys = encrypt_attachment(data)
            self.assertNotEqual(cipher, data)
            keys["url"] = self.upload_media(self.A, tok_a, cipher, "application/octet-stream", name)
            keys["mimetype"] = "image/png"
            files[name] = keys
        content = {"msgtype": "m.image", "body": "karte.png", "file": files["karte.png"],
                   "info": {"mimetype": "image/png", "w": 320, "h": 240, "size": len(big),
                            "thumbnail_file": files["karte-klein.png"],
                            "thumbnail_info": {"mimetype": "image/png", "w": 64, "h": 48,
                                               "size": len(small)}}}
        r = await alice.nio.room_send(room, "m.room.message", content,
                                      ignore_unverified_devices=True)
        self.assertIsInstance(r, nio.RoomSendResponse, r)
        await self.until(lambda: "karte.png" in cyril.images, "m.image on hessen", cyril)
        ev = cyril.images["karte.png"]
        self.assertIsInstance(ev, nio.RoomEncryptedImage)
        self.assertTrue(ev.decrypted)
        got = decrypt_attachment(self.download(self.C, tok_c, ev.url), ev.key["k"],
                                 ev.hashes["sha256"], ev.iv)
        self.assertEqual(got, big)
        got = decrypt_attachment(self.download(self.C, tok_c, ev.thumbnail_url),
                                 ev.thumbnail_key["k"], ev.thumbnail_hashes["sha256"],
                                 ev.thumbnail_iv)
        self.assertEqual(got, small)
        self.assertEqual(image_size(got), (64, 48))
        # a plain image of bund: hessen fetches it and makes the thumbnail
        mxc = self.upload_media(self.A, tok_a, big, "image/png", "wappen.png")
        origin, media_id = mxc[len("mxc://"):].split("/", 1)
        r = self.C.get(f"/_matrix/client/v1/media/thumbnail/{origin}/{media_id}"
                       "?width=32&height=32&method=crop", token=tok_c)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.headers.get("Content-Type", "").startswith("image/"), r.headers)
        w, h = image_size(r.raw)
        self.assertLessEqual(max(w, h), 96)
        self.assertLess(len(r.raw), len(big))
        self.assertEqual(self.download(self.C, tok_c, mxc), big)
    # --- back from a long outage ------------------------------------------------------------
    def psql(self, server, sql):
        env = dict(os.environ, **server.pg)
        subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", server.dbname, "-c",
                        sql], check=True, capture_output=True, env=env)

    def test_queue_goes_when_the_server_is_back(self):
        A, C = self.A, self.C
        A.register("anna")
        C.register("cora")
        anna = A.login("anna")
        cora = C.login("cora")
        ta, tc = anna["access_token"], cora["access_token"]
        r = A.post(f"{CS}/createRoom", {"preset": "public_chat"}, token=ta)
        self.assertEqual(r.status, 200, r)
        room = r["room_id"]
        r = C.post(f"{CS}/join/{q(room)}?server_name={q(A.server_name)}", {}, token=tc)
        self.assertEqual(r.status, 200, r)
        since = C.get(f"{CS}/sync?timeout=0", token=tc)["next_batch"]
        tried = A.read_log().count("federation sender: " + C.server_name)
        C.pause()
        try:
            r = A.put(f"{CS}/sendToDevice/m.test.ping/{os.urandom(6).hex()}",
                      {"messages": {cora["user_id"]: {cora["device_id"]: {"n": 1}}}}, token=ta)
            self.assertEqual(r.status, 200, r)
            r = A.put(f"{CS}/rooms/{q(room)}/send/m.room.message/{os.urandom(6).hex()}",
                      {"msgtype": "m.text", "body": "nach der langen Störung"}, token=ta)
            self.assertEqual(r.status, 200, r)
            # bund has tried and backs off; as after an outage of hours, the back-off is an
            # hour (set in its database while it is stopped; it reads it back at start)
            deadline = time.time() + WAIT_S
            while A.read_log().count("federation sender: " + C.server_name) == tried:
                self.assertLess(time.time(), deadline, A.read_log()[-2000:])
                time.sleep(0.2)
            A.pause()
            hour = 3600 * 1000
            self.psql(A, f"UPDATE fed_destinations SET retry_ms = {hour}, next_ts = "
                      f"(extract(epoch from now()) * 1000)::bigint + {hour} "
                      f"WHERE destination = '{C.server_name}'")
            A.resume()
        finally:
            C.resume()
        # hessen's first signed request to bund (cora speaks) ends the back-off
        r = C.put(f"{CS}/rooms/{q(room)}/send/m.room.message/{os.urandom(6).hex()}",
                  {"msgtype": "m.text", "body": "wieder da"}, token=tc)
        self.assertEqual(r.status, 200, r)
        ping, text = False, False
        deadline = time.time() + WAIT_S
        while time.time() < deadline and not (ping and text):
            r = C.get(f"{CS}/sync?timeout=1000&since={q(since)}", token=tc)
            self.assertEqual(r.status, 200, r)
            since = r["next_batch"]
            ping = ping or any(e["type"] == "m.test.ping" and e["sender"] == anna["user_id"]
                               for e in r.body.get("to_device", {}).get("events", []))
            entry = r.body.get("rooms", {}).get("join", {}).get(room, {})
            text = text or any(e["content"].get("body") == "nach der langen Störung"
                               for e in entry.get("timeline", {}).get("events", []))
        if not (ping and text):
            m = C.get(f"{CS}/rooms/{q(room)}/messages?dir=b&limit=20", token=tc)
            self.fail(f"to-device {ping}, event {text}; hessen's /messages: "
                      f"{[e['content'].get('body') for e in m.body.get('chunk', [])]}\n"
                      f"{self.logs()}")
        self.assertIn(f"{C.server_name} is back", A.read_log())


if __name__ == "__main__":
    unittest.main()
