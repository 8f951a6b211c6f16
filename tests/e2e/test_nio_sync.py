"""/sync through a real client library: two matrix-nio clients (Debian python3-matrix-nio)
follow a room live. Messages, typing and receipts arrive through nio's sync loop; unread
counts land in nio's room model; a lazy-loading filter keeps silent members out; a gappy
timeline is continued with room_messages from prev_batch."""
import asyncio
import tempfile

from harness import ServerTestCase

import nio

CS = "/_matrix/client/v3"


def client(hs, user):
    cfg = nio.AsyncClientConfig(encryption_enabled=False, store_sync_tokens=False)
    return nio.AsyncClient(hs, user, store_path=tempfile.mkdtemp(), config=cfg)


class NioSync(ServerTestCase):
    def test_two_clients_follow_a_room(self):
        asyncio.run(self.flow())

    async def login(self, name):
        c = client(self.s.base, name)
        r = await c.register(name, "nio-secret", f"{name} laptop")
        self.assertIsInstance(r, nio.RegisterResponse, r)
        return c

    async def flow(self):
        alice = await self.login("nalice")
        bob = await self.login("nbob")
        carol = await self.login("ncarol")
        try:
            r = await alice.room_create(name="nio sync", preset=nio.RoomPreset.public_chat)
            self.assertIsInstance(r, nio.RoomCreateResponse, r)
            room = r.room_id
            for c in (bob, carol):
                j = await c.join(room)
                self.assertIsInstance(j, nio.JoinResponse, j)

            first = await bob.sync(timeout=0, full_state=True)
            self.assertIsInstance(first, nio.SyncResponse, first)
            self.assertIn(room, first.rooms.join)
            self.assertEqual(bob.rooms[room].display_name, "nio sync")
            self.assertEqual(bob.rooms[room].joined_count, 3)
            await alice.sync(timeout=0)

            # a message reaches bob's waiting sync
            received = asyncio.Event()
            seen = []

            def on_message(room_obj, event):
                seen.append(event.body)
                if event.body == "hello bob":
                    received.set()

            bob.add_event_callback(on_message, nio.RoomMessageText)
            waiting = asyncio.create_task(bob.sync(timeout=20000))
            await asyncio.sleep(0.3)
            sent = await alice.room_send(room, "m.room.message",
                                         {"msgtype": "m.text", "body": "hello bob"})
            self.assertIsInstance(sent, nio.RoomSendResponse, sent)
            resp = await asyncio.wait_for(waiting, 10)
            self.assertIsInstance(resp, nio.SyncResponse, resp)
            self.assertTrue(received.is_set(), seen)

            # typing
            waiting = asyncio.create_task(bob.sync(timeout=20000))
            await asyncio.sleep(0.3)
            t = await alice.room_typing(room, True, timeout=30000)
            self.assertIsInstance(t, nio.RoomTypingResponse, t)
            await asyncio.wait_for(waiting, 10)
            self.assertIn(alice.user_id, bob.rooms[room].typing_users)

            # unread counts, then read markers clear them
            for i in range(3):
                await alice.room_send(room, "m.room.message",
                                      {"msgtype": "m.text", "body": f"unread {i}"})
            await bob.sync(timeout=0)
            # "hello bob" and the three: bob has read none of them
            self.assertEqual(bob.rooms[room].unread_notifications, 4)
            last = (await alice.room_send(room, "m.room.message",
                                          {"msgtype": "m.text", "body": "last"})).event_id
            await bob.sync(timeout=0)
            rm = await bob.room_read_markers(room, last, last)
            self.assertIsInstance(rm, nio.RoomReadMarkersResponse, rm)
            await bob.sync(timeout=0)
            self.assertEqual(bob.rooms[room].unread_notifications, 0)

            # bob's receipt reaches alice
            receipts = []
            alice.add_ephemeral_callback(lambda r, e: receipts.append(e), nio.ReceiptEvent)
            await alice.sync(timeout=5000)
            self.assertTrue(any(x.event_id == last and x.user_id == bob.user_id
                                for ev in receipts for x in ev.receipts), receipts)

            # lazy loading: a fresh login of alice sees only the members who spoke
            lazy = client(self.s.base, alice.user_id)
            lr = await lazy.login("nio-secret")
            self.assertIsInstance(lr, nio.LoginResponse, lr)
            f = {"room": {"state": {"lazy_load_members": True}, "timeline": {"limit": 3}}}
            s = await lazy.sync(timeout=0, sync_filter=f, full_state=True)
            self.assertIsInstance(s, nio.SyncResponse, s)
            members = {e.state_key for e in s.rooms.join[room].state
                       if isinstance(e, nio.RoomMemberEvent)}
            self.assertNotIn(carol.user_id, members)
            self.assertEqual(lazy.rooms[room].joined_count, 3)  # from the summary

            # a gap: 12 messages, a sync with limit 4, then back-pagination
            since = bob.next_batch
            for i in range(12):
                await alice.room_send(room, "m.room.message",
                                      {"msgtype": "m.text", "body": f"gap {i}"})
            gappy = await bob.sync(timeout=0, since=since,
                                   sync_filter={"room": {"timeline": {"limit": 4}}})
            tl = gappy.rooms.join[room].timeline
            self.assertTrue(tl.limited)
            self.assertEqual([e.body for e in tl.events], [f"gap {i}" for i in range(8, 12)])
            older = await bob.room_messages(room, tl.prev_batch, limit=8)
            self.assertIsInstance(older, nio.RoomMessagesResponse, older)
            self.assertEqual([e.body for e in reversed(older.chunk)],
                             [f"gap {i}" for i in range(8)])
            await lazy.close()
        finally:
            for c in (alice, bob, carol):
                await c.close()
