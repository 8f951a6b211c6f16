"""Rooms end to end: creation in every room version, conversation, invites, joins, kicks,
bans, power levels, redactions, edits, pagination, history visibility, aliases, and the
errors for each wrong move (nothing persisted from a rejected request)."""
import asyncio
import json
import tempfile
import urllib.parse

from harness import ServerTestCase

import nio

CS = "/_matrix/client/v3"


def q(s):
    return urllib.parse.quote(s, safe="")


class RoomsBase(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.alice = cls.server.register("alice")["access_token"]
        cls.bob = cls.server.register("bob")["access_token"]
        cls.carol = cls.server.register("carol")["access_token"]
        cls.n = 0

    def txn(self):
        type(self).n += 1
        return f"t{self.n}"

    def create(self, token=None, **body):
        r = self.s.post(CS + "/createRoom", body, token=token or self.alice)
        self.assertEqual(r.status, 200, r)
        return r["room_id"]

    def send(self, room, body, token=None, etype="m.room.message"):
        return self.s.put(CS + f"/rooms/{q(room)}/send/{etype}/{self.txn()}",
                          body, token=token or self.alice)

    def msg(self, room, text, token=None):
        r = self.send(room, {"msgtype": "m.text", "body": text}, token)
        self.assertEqual(r.status, 200, r)
        return r["event_id"]

    def join(self, room, token):
        return self.s.post(CS + f"/rooms/{q(room)}/join", {}, token=token)

    def messages(self, room, token, **params):
        r = self.s.get(CS + f"/rooms/{q(room)}/messages", token=token,
                       query={k: v for k, v in params.items() if v is not None})
        self.assertEqual(r.status, 200, r)
        return r.body

    def bodies(self, chunk):
        return [e["content"].get("body") for e in chunk if e["type"] == "m.room.message"]


class Conversation(RoomsBase):
    def test_two_users_talk(self):
        room = self.create(name="Lagebesprechung", topic="Montag", preset="private_chat",
                           invite=["@bob:test.local"])
        self.assertIn(room, self.s.get(CS + "/joined_rooms", token=self.alice)["joined_rooms"])
        self.assertError(self.send(room, {"body": "x"}, self.bob), 403, "M_FORBIDDEN")
        self.assertEqual(self.join(room, self.bob).status, 200)
        self.assertIn(room, self.s.get(CS + "/joined_rooms", token=self.bob)["joined_rooms"])
        self.msg(room, "Guten Morgen")
        self.msg(room, "Morgen!", self.bob)
        back = self.messages(room, self.bob, dir="b", limit="10")
        self.assertEqual(self.bodies(back["chunk"])[:2], ["Morgen!", "Guten Morgen"])
        ev = back["chunk"][0]
        for k in ["event_id", "sender", "origin_server_ts", "room_id", "content", "type",
                  "unsigned"]:
            self.assertIn(k, ev)
        self.assertEqual(ev["sender"], "@bob:test.local")
        fwd = self.messages(room, self.bob, dir="f", limit="50")
        self.assertEqual(fwd["chunk"][0]["type"], "m.room.create")
        self.assertEqual(self.bodies(fwd["chunk"]), ["Guten Morgen", "Morgen!"])
        jm = self.s.get(CS + f"/rooms/{q(room)}/joined_members", token=self.bob)["joined"]
        self.assertEqual(set(jm), {"@alice:test.local", "@bob:test.local"})
        self.assertEqual(jm["@bob:test.local"]["display_name"], "bob")
        members = self.s.get(CS + f"/rooms/{q(room)}/members", token=self.bob)["chunk"]
        self.assertEqual({m["state_key"] for m in members},
                         {"@alice:test.local", "@bob:test.local"})
        name = self.s.get(CS + f"/rooms/{q(room)}/state/m.room.name", token=self.bob)
        self.assertEqual(name.body, {"name": "Lagebesprechung"})
        state = self.s.get(CS + f"/rooms/{q(room)}/state", token=self.bob).body
        types = {e["type"] for e in state}
        self.assertTrue({"m.room.create", "m.room.power_levels", "m.room.join_rules",
                         "m.room.history_visibility", "m.room.name", "m.room.topic",
                         "m.room.member"} <= types)
        self.assertError(self.s.get(CS + f"/rooms/{q(room)}/state", token=self.carol), 403,
                         "M_FORBIDDEN")

    def test_pagination_tokens(self):
        room = self.create(preset="public_chat")
        for i in range(25):
            self.msg(room, f"m{i}")
        seen, token = [], None
        for _ in range(10):
            page = self.messages(room, self.alice, dir="b", limit="7", **{"from": token})
            seen += self.bodies(page["chunk"])
            token = page.get("end")
            if not token:
                break
        self.assertEqual(seen, [f"m{i}" for i in reversed(range(25))])
        fwd = self.messages(room, self.alice, dir="f", limit="1000")
        self.assertEqual(self.bodies(fwd["chunk"]), [f"m{i}" for i in range(25)])
        only = self.messages(room, self.alice, dir="b", limit="100",
                             filter=json.dumps({"types": ["m.room.member"]}))
        self.assertEqual({e["type"] for e in only["chunk"]}, {"m.room.member"})
        self.assertError(self.s.get(CS + f"/rooms/{q(room)}/messages", token=self.alice,
                                    query={"dir": "x"}), 400, "M_INVALID_PARAM")
        self.assertError(self.s.get(CS + f"/rooms/{q(room)}/messages", token=self.alice,
                                    query={"dir": "b", "from": "garbage"}), 400, "M_INVALID_PARAM")

    def test_transaction_ids(self):
        room = self.create()
        path = CS + f"/rooms/{q(room)}/send/m.room.message/same-txn"
        a = self.s.put(path, {"body": "once"}, token=self.alice)
        b = self.s.put(path, {"body": "once"}, token=self.alice)
        self.assertEqual(a["event_id"], b["event_id"])
        other_device = self.s.login("alice")["access_token"]
        c = self.s.put(path, {"body": "once"}, token=other_device)
        self.assertNotEqual(a["event_id"], c["event_id"])
        page = self.messages(room, self.alice, dir="b", limit="10")
        self.assertEqual(self.bodies(page["chunk"]), ["once", "once"])

    def test_get_event(self):
        room = self.create()
        eid = self.msg(room, "findable")
        r = self.s.get(CS + f"/rooms/{q(room)}/event/{q(eid)}", token=self.alice)
        self.assertEqual(r["content"]["body"], "findable")
        self.assertError(self.s.get(CS + f"/rooms/{q(room)}/event/{q('$nope')}",
                                    token=self.alice), 404, "M_NOT_FOUND")
        self.assertError(self.s.get(CS + f"/rooms/{q(room)}/event/{q(eid)}", token=self.carol),
                         404, "M_NOT_FOUND")  # spec: also when not permitted to read it


class Membership(RoomsBase):
    def test_invite_kick_ban(self):
        room = self.create(preset="public_chat")
        self.assertEqual(self.join(room, self.bob).status, 200)
        # bob (PL 0) may not kick alice
        r = self.s.post(CS + f"/rooms/{q(room)}/kick", {"user_id": "@alice:test.local"},
                        token=self.bob)
        self.assertError(r, 403, "M_FORBIDDEN")
        # alice kicks bob; he can no longer send but may rejoin a public room
        r = self.s.post(CS + f"/rooms/{q(room)}/kick", {"user_id": "@bob:test.local",
                                                       "reason": "Ruhe bitte"},
                        token=self.alice)
        self.assertEqual(r.status, 200, r)
        self.assertError(self.send(room, {"body": "x"}, self.bob), 403, "M_FORBIDDEN")
        self.assertEqual(self.join(room, self.bob).status, 200)
        # ban: cannot rejoin until unbanned
        self.assertEqual(self.s.post(CS + f"/rooms/{q(room)}/ban",
                                     {"user_id": "@bob:test.local"}, token=self.alice).status,
                         200)
        self.assertError(self.join(room, self.bob), 403, "M_FORBIDDEN")
        self.assertEqual(self.s.post(CS + f"/rooms/{q(room)}/unban",
                                     {"user_id": "@bob:test.local"}, token=self.alice).status,
                         200)
        self.assertEqual(self.join(room, self.bob).status, 200)
        members = self.s.get(CS + f"/rooms/{q(room)}/members", token=self.alice,
                             query={"membership": "join"})["chunk"]
        self.assertEqual(len(members), 2)

    def test_invite_only(self):
        room = self.create(preset="private_chat")
        self.assertError(self.join(room, self.carol), 403, "M_FORBIDDEN")
        self.assertError(self.s.post(CS + f"/rooms/{q(room)}/invite",
                                     {"user_id": "@carol:test.local"}, token=self.bob), 403,
                         "M_FORBIDDEN")
        self.assertEqual(self.s.post(CS + f"/rooms/{q(room)}/invite",
                                     {"user_id": "@carol:test.local"}, token=self.alice).status,
                         200)
        self.assertEqual(self.join(room, self.carol).status, 200)
        self.assertError(self.s.post(CS + f"/rooms/{q(room)}/invite",
                                     {"user_id": "@nobody:test.local"}, token=self.alice), 404,
                         "M_NOT_FOUND")
        self.assertError(self.s.post(CS + f"/rooms/{q(room)}/invite", {}, token=self.alice),
                         400, "M_MISSING_PARAM")

    def test_leave_and_forget(self):
        room = self.create(preset="public_chat")
        self.join(room, self.bob)
        self.msg(room, "before")
        self.assertEqual(self.s.post(CS + f"/rooms/{q(room)}/leave", {}, token=self.bob).status,
                         200)
        self.msg(room, "after")
        page = self.messages(room, self.bob, dir="b", limit="50")
        self.assertIn("before", self.bodies(page["chunk"]))
        self.assertNotIn("after", self.bodies(page["chunk"]))
        self.assertNotIn(room, self.s.get(CS + "/joined_rooms", token=self.bob)["joined_rooms"])
        self.assertEqual(self.s.post(CS + f"/rooms/{q(room)}/forget", {}, token=self.bob).status,
                         200)
        self.assertError(self.s.post(CS + f"/rooms/{q(room)}/forget", {}, token=self.alice),
                         400, "M_BAD_JSON")

    def test_join_by_alias(self):
        self.create(preset="public_chat", room_alias_name="treffpunkt")
        r = self.s.post(CS + "/join/" + q("#treffpunkt:test.local"), {}, token=self.carol)
        self.assertEqual(r.status, 200, r)
        self.assertError(self.s.post(CS + "/join/" + q("#nirgendwo:test.local"), {},
                                     token=self.carol), 404, "M_NOT_FOUND")


class PowerAndRedaction(RoomsBase):
    def test_power_levels(self):
        room = self.create(preset="public_chat")
        self.join(room, self.bob)
        path = CS + f"/rooms/{q(room)}/state/m.room.topic"
        self.assertError(self.s.put(path, {"topic": "bob's"}, token=self.bob), 403, "M_FORBIDDEN")
        pl = self.s.get(CS + f"/rooms/{q(room)}/state/m.room.power_levels", token=self.alice).body
        self.assertNotIn("@alice:test.local", pl["users"])  # v12: creators are implicit
        pl["users"]["@bob:test.local"] = 50
        self.assertEqual(self.s.put(CS + f"/rooms/{q(room)}/state/m.room.power_levels", pl,
                                    token=self.alice).status, 200)
        self.assertEqual(self.s.put(path, {"topic": "bob's"}, token=self.bob).status, 200)
        # bob (50) may not raise himself to 100 nor change power levels (needs 100)
        pl["users"]["@bob:test.local"] = 100
        self.assertError(self.s.put(CS + f"/rooms/{q(room)}/state/m.room.power_levels", pl,
                                    token=self.bob), 403, "M_FORBIDDEN")
        # nothing persisted from the rejected request
        now = self.s.get(CS + f"/rooms/{q(room)}/state/m.room.power_levels", token=self.bob).body
        self.assertEqual(now["users"]["@bob:test.local"], 50)

    def test_redaction(self):
        room = self.create(preset="public_chat")
        self.join(room, self.bob)
        mine = self.msg(room, "secret text", self.bob)
        theirs = self.msg(room, "alice's text")
        r = self.s.put(CS + f"/rooms/{q(room)}/redact/{q(theirs)}/{self.txn()}", {},
                       token=self.bob)
        self.assertError(r, 403, "M_FORBIDDEN")
        r = self.s.put(CS + f"/rooms/{q(room)}/redact/{q(mine)}/{self.txn()}",
                       {"reason": "typo"}, token=self.bob)
        self.assertEqual(r.status, 200, r)
        ev = self.s.get(CS + f"/rooms/{q(room)}/event/{q(mine)}", token=self.alice).body
        self.assertEqual(ev["content"], {})
        self.assertEqual(ev["unsigned"]["redacted_because"]["event_id"], r["event_id"])
        # the creator may redact anyone's
        r = self.s.put(CS + f"/rooms/{q(room)}/redact/{q(theirs)}/{self.txn()}", {},
                       token=self.alice)
        self.assertEqual(r.status, 200)
        self.assertError(self.s.put(CS + f"/rooms/{q(room)}/redact/{q('$missing')}/x1", {},
                                    token=self.alice), 404, "M_NOT_FOUND")

    def test_edit_and_reaction_are_stored(self):
        room = self.create()
        orig = self.msg(room, "Tippfehlr")
        edit = self.send(room, {"msgtype": "m.text", "body": "* Tippfehler",
                                "m.new_content": {"msgtype": "m.text", "body": "Tippfehler"},
                                "m.relates_to": {"rel_type": "m.replace", "event_id": orig}})
        self.assertEqual(edit.status, 200, edit)
        react = self.send(room, {"m.relates_to": {"rel_type": "m.annotation",
                                                  "event_id": orig, "key": "👍"}},
                          etype="m.reaction")
        self.assertEqual(react.status, 200, react)
        page = self.messages(room, self.alice, dir="b", limit="3")
        self.assertEqual(page["chunk"][0]["type"], "m.reaction")
        self.assertEqual(page["chunk"][1]["content"]["m.relates_to"]["event_id"], orig)


class HistoryVisibility(RoomsBase):
    def test_joined_visibility_hides_earlier_history(self):
        room = self.create(preset="public_chat",
                           initial_state=[{"type": "m.room.history_visibility",
                                           "content": {"history_visibility": "joined"}}])
        self.msg(room, "vor dir")
        self.join(room, self.carol)
        self.msg(room, "nach dir")
        page = self.messages(room, self.carol, dir="b", limit="50")
        self.assertEqual(self.bodies(page["chunk"]), ["nach dir"])

    def test_shared_visibility_shows_earlier_history(self):
        room = self.create(preset="public_chat")
        self.msg(room, "vor dir")
        self.join(room, self.carol)
        page = self.messages(room, self.carol, dir="b", limit="50")
        self.assertEqual(self.bodies(page["chunk"]), ["vor dir"])

    def test_world_readable_without_joining(self):
        room = self.create(preset="public_chat",
                           initial_state=[{"type": "m.room.history_visibility",
                                           "content": {"history_visibility": "world_readable"}}])
        self.msg(room, "öffentlich")
        page = self.messages(room, self.carol, dir="b", limit="50")
        self.assertEqual(self.bodies(page["chunk"]), ["öffentlich"])


class VersionsAndErrors(RoomsBase):
    def test_every_room_version(self):
        for v in range(1, 13):
            room = self.create(room_version=str(v), preset="public_chat", name=f"v{v}")
            if v < 12:
                self.assertTrue(room.endswith(":test.local"), room)
            else:
                self.assertNotIn(":", room)
            eid = self.msg(room, f"hello v{v}")
            if v <= 2:
                self.assertTrue(eid.endswith(":test.local"), eid)
            else:
                self.assertEqual(len(eid), 44, eid)
            self.assertEqual(self.join(room, self.bob).status, 200, v)
            self.assertEqual(self.s.put(CS + f"/rooms/{q(room)}/state/m.room.topic",
                                        {"topic": "t"}, token=self.alice).status, 200)
            r = self.s.put(CS + f"/rooms/{q(room)}/redact/{q(eid)}/{self.txn()}", {},
                           token=self.alice)
            self.assertEqual(r.status, 200, (v, r))
            ev = self.s.get(CS + f"/rooms/{q(room)}/event/{q(eid)}", token=self.bob).body
            self.assertEqual(ev["content"], {}, v)
            create = self.s.get(CS + f"/rooms/{q(room)}/state/m.room.create", token=self.bob)
            self.assertEqual(create["room_version"], str(v))

    def test_create_room_errors(self):
        r = self.s.post(CS + "/createRoom", {"room_version": "99"}, token=self.alice)
        self.assertError(r, 400, "M_UNSUPPORTED_ROOM_VERSION")
        r = self.s.post(CS + "/createRoom", {"initial_state": [{"type": "m.room.member",
                                                                "content": {}}]},
                        token=self.alice)
        self.assertError(r, 400, "M_INVALID_ROOM_STATE")
        r = self.s.post(CS + "/createRoom", {"initial_state": [{"content": {}}]},
                        token=self.alice)
        self.assertError(r, 400, "M_INVALID_ROOM_STATE")
        self.create(room_alias_name="doppelt")
        r = self.s.post(CS + "/createRoom", {"room_alias_name": "doppelt"}, token=self.alice)
        self.assertError(r, 400, "M_ROOM_IN_USE")
        r = self.s.post(CS + "/createRoom", {"preset": "everyone_admin"}, token=self.alice)
        self.assertError(r, 400, "M_BAD_JSON")
        # a user of another server is invited once the room exists; an unreachable server
        # leaves the room as it is (the failure is logged)
        r = self.s.post(CS + "/createRoom", {"invite": ["@x:elsewhere.org"]}, token=self.alice)
        self.assertEqual(r.status, 200, r)
        self.assertError(self.s.post(CS + "/createRoom", {}), 401, "M_MISSING_TOKEN")

    def test_send_errors(self):
        room = self.create()
        self.assertError(self.send("!unknown:test.local", {"body": "x"}), 404, "M_NOT_FOUND")
        self.assertError(self.send("not-a-room", {"body": "x"}), 400, "M_INVALID_PARAM")
        r = self.s.request("PUT", CS + f"/rooms/{q(room)}/send/m.room.message/{self.txn()}",
                           raw=b"{broken", token=self.alice)
        self.assertError(r, 400, "M_NOT_JSON")
        big = {"body": "x" * 70000}
        self.assertError(self.send(room, big), 413, "M_TOO_LARGE")
        r = self.send(room, {"n": 1.5})
        self.assertError(r, 400, "M_BAD_JSON")
        # integral floats too: canonical JSON has integers only (they were rewritten before)
        for raw in (b'{"n": 1.0}', b'{"n": 1e10}', b'{"a": [{"n": -0.0}]}'):
            r = self.s.request("PUT", CS + f"/rooms/{q(room)}/send/m.room.message/{self.txn()}",
                               raw=raw, token=self.alice)
            self.assertError(r, 400, "M_BAD_JSON")
        # auth rule 1 holds for every m.room.create, whatever its state_key
        r = self.s.put(CS + f"/rooms/{q(room)}/state/m.room.create/x", {"creator": "x"},
                       token=self.alice)
        self.assertError(r, 403, "M_FORBIDDEN")
        self.assertError(self.send(room, {"creator": "x"}, etype="m.room.create"), 403,
                         "M_FORBIDDEN")
        # a rejected send leaves no trace
        page = self.messages(room, self.alice, dir="b", limit="5")
        self.assertEqual(self.bodies(page["chunk"]), [])

    def test_aliases(self):
        room = self.create()
        path = CS + "/directory/room/" + q("#amt:test.local")
        self.assertEqual(self.s.put(path, {"room_id": room}, token=self.alice).status, 200)
        self.assertEqual(self.s.put(path, {"room_id": room}, token=self.alice).status, 409)
        self.assertEqual(self.s.get(path)["room_id"], room)
        self.assertEqual(self.s.get(CS + f"/rooms/{q(room)}/aliases", token=self.alice)
                         ["aliases"], ["#amt:test.local"])
        self.assertError(self.s.delete(path, token=self.bob), 403, "M_FORBIDDEN")
        self.assertEqual(self.s.delete(path, token=self.alice).status, 200)
        self.assertError(self.s.get(path), 404, "M_NOT_FOUND")
        self.assertError(self.s.put(CS + "/directory/room/" + q("#x:elsewhere.org"),
                                    {"room_id": room}, token=self.alice), 404, "M_NOT_FOUND")


class NioRooms(RoomsBase):
    def test_nio_two_clients(self):
        asyncio.run(self.flow())

    async def flow(self):
        store = tempfile.mkdtemp()
        plain = nio.AsyncClientConfig(encryption_enabled=False)  # E2EE needs /sync first
        a = nio.AsyncClient(self.s.base, "@dora:test.local", store_path=store, config=plain)
        b = nio.AsyncClient(self.s.base, "@emil:test.local", store_path=store, config=plain)
        try:
            self.assertIsInstance(await a.register("dora", "pw-dora"), nio.RegisterResponse)
            self.assertIsInstance(await b.register("emil", "pw-emil"), nio.RegisterResponse)
            created = await a.room_create(name="nio room", invite=["@emil:test.local"])
            self.assertIsInstance(created, nio.RoomCreateResponse, created)
            joined = await b.join(created.room_id)
            self.assertIsInstance(joined, nio.JoinResponse, joined)
            sent = await a.room_send(created.room_id, "m.room.message",
                                     {"msgtype": "m.text", "body": "Hallo Emil"})
            self.assertIsInstance(sent, nio.RoomSendResponse, sent)
            sent = await b.room_send(created.room_id, "m.room.message",
                                     {"msgtype": "m.text", "body": "Hallo Dora"})
            self.assertIsInstance(sent, nio.RoomSendResponse, sent)
            first = self.messages(created.room_id, b.access_token, dir="b", limit="1")
            msgs = await b.room_messages(created.room_id, first["start"], limit=10)
            self.assertIsInstance(msgs, nio.RoomMessagesResponse, msgs)
            texts = [e.body for e in msgs.chunk if isinstance(e, nio.RoomMessageText)]
            self.assertEqual(texts[:2], ["Hallo Dora", "Hallo Emil"])
            red = await a.room_redact(created.room_id, sent.event_id, reason="weg")
            self.assertIsInstance(red, nio.RoomRedactResponse, red)
            kicked = await a.room_kick(created.room_id, "@emil:test.local", reason="Ende")
            self.assertIsInstance(kicked, nio.RoomKickResponse, kicked)
            left = await b.room_send(created.room_id, "m.room.message", {"body": "x"})
            self.assertIsInstance(left, nio.RoomSendError)
        finally:
            await a.close()
            await b.close()


class Extras(RoomsBase):
    V1 = "/_matrix/client/v1"

    def test_context(self):
        room = self.create()
        ids = [self.msg(room, f"c{i}") for i in range(7)]
        r = self.s.get(CS + f"/rooms/{q(room)}/context/{q(ids[3])}", token=self.alice,
                       query={"limit": "4"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r["event"]["content"]["body"], "c3")
        self.assertEqual(self.bodies(r["events_before"]), ["c2", "c1"])
        self.assertEqual(self.bodies(r["events_after"]), ["c4", "c5"])
        self.assertIn("start", r.body)
        self.assertIn("end", r.body)
        self.assertTrue(any(e["type"] == "m.room.create" for e in r["state"]))
        self.assertError(self.s.get(CS + f"/rooms/{q(room)}/context/{q(ids[3])}",
                                    token=self.carol), 403, "M_FORBIDDEN")

    def test_relations_and_aggregation(self):
        room = self.create()
        root = self.msg(room, "Wurzel")
        for i in range(3):
            self.send(room, {"msgtype": "m.text", "body": f"thread {i}",
                             "m.relates_to": {"rel_type": "m.thread", "event_id": root}})
        self.send(room, {"msgtype": "m.text", "body": "* Wurzel!",
                         "m.new_content": {"msgtype": "m.text", "body": "Wurzel!"},
                         "m.relates_to": {"rel_type": "m.replace", "event_id": root}})
        self.send(room, {"m.relates_to": {"rel_type": "m.annotation", "event_id": root,
                                          "key": "👍"}}, etype="m.reaction")
        r = self.s.get(self.V1 + f"/rooms/{q(room)}/relations/{q(root)}", token=self.alice)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(r["chunk"]), 5)
        t = self.s.get(self.V1 + f"/rooms/{q(room)}/relations/{q(root)}/m.thread",
                       token=self.alice, query={"limit": "2"})
        self.assertEqual([e["content"]["body"] for e in t["chunk"]], ["thread 2", "thread 1"])
        more = self.s.get(self.V1 + f"/rooms/{q(room)}/relations/{q(root)}/m.thread",
                          token=self.alice, query={"limit": "2", "from": t["next_batch"]})
        self.assertEqual([e["content"]["body"] for e in more["chunk"]], ["thread 0"])
        ann = self.s.get(self.V1 + f"/rooms/{q(room)}/relations/{q(root)}/m.annotation/m.reaction",
                         token=self.alice)
        self.assertEqual(len(ann["chunk"]), 1)
        ev = self.s.get(CS + f"/rooms/{q(room)}/event/{q(root)}", token=self.alice).body
        rel = ev["unsigned"]["m.relations"]
        self.assertEqual(rel["m.thread"]["count"], 3)
        self.assertTrue(rel["m.thread"]["current_user_participated"])
        self.assertEqual(rel["m.thread"]["latest_event"]["content"]["body"], "thread 2")
        self.assertEqual(rel["m.replace"]["content"]["m.new_content"]["body"], "Wurzel!")
        self.assertError(self.s.get(self.V1 + f"/rooms/{q(room)}/relations/{q(root)}",
                                    token=self.carol), 404, "M_NOT_FOUND")  # not readable

    def test_timestamp_to_event(self):
        room = self.create()
        first = self.msg(room, "früh")
        ev = self.s.get(CS + f"/rooms/{q(room)}/event/{q(first)}", token=self.alice).body
        ts = ev["origin_server_ts"]
        r = self.s.get(self.V1 + f"/rooms/{q(room)}/timestamp_to_event", token=self.alice,
                       query={"ts": str(ts), "dir": "f"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r["origin_server_ts"], ts)
        r = self.s.get(self.V1 + f"/rooms/{q(room)}/timestamp_to_event", token=self.alice,
                       query={"ts": str(ts + 10 ** 9), "dir": "f"})
        self.assertError(r, 404, "M_NOT_FOUND")
        r = self.s.get(self.V1 + f"/rooms/{q(room)}/timestamp_to_event", token=self.alice,
                       query={"ts": "x", "dir": "f"})
        self.assertError(r, 400, "M_INVALID_PARAM")

    def test_public_directory(self):
        room = self.create(preset="public_chat", visibility="public", name="Bürgerservice",
                           topic="Fragen", room_alias_name="buerger")
        self.create(preset="private_chat", name="Geheim")
        r = self.s.get(CS + "/publicRooms", token=self.bob)
        self.assertEqual(r.status, 200, r)
        names = [c.get("name") for c in r["chunk"]]
        self.assertIn("Bürgerservice", names)
        self.assertNotIn("Geheim", names)
        entry = next(c for c in r["chunk"] if c["room_id"] == room)
        self.assertEqual(entry["num_joined_members"], 1)
        self.assertEqual(entry["canonical_alias"], "#buerger:test.local")
        self.assertFalse(entry["world_readable"])
        self.assertEqual(entry["join_rule"], "public")
        r = self.s.post(CS + "/publicRooms", {"filter": {"generic_search_term": "BÜRGER"},
                                              "limit": 5}, token=self.bob)
        self.assertIn(room, [c["room_id"] for c in r["chunk"]])
        r = self.s.post(CS + "/publicRooms", {"filter": {"generic_search_term": "nichtda"}},
                        token=self.bob)
        self.assertEqual(r["chunk"], [])
        vis = CS + f"/directory/list/room/{q(room)}"
        self.assertEqual(self.s.get(vis)["visibility"], "public")
        self.assertError(self.s.put(vis, {"visibility": "private"}, token=self.bob), 403,
                         "M_FORBIDDEN")
        self.assertEqual(self.s.put(vis, {"visibility": "private"}, token=self.alice).status,
                         200)
        self.assertEqual(self.s.get(vis)["visibility"], "private")
        r = self.s.get(CS + "/publicRooms", token=self.bob)
        self.assertNotIn(room, [c["room_id"] for c in r["chunk"]])

    def test_public_directory_pagination(self):
        for i in range(5):
            self.create(preset="public_chat", visibility="public", name=f"P{i}")
        seen, since = [], None
        for _ in range(10):
            query = {"limit": "2"}
            if since:
                query["since"] = since
            r = self.s.get(CS + "/publicRooms", token=self.bob, query=query)
            seen += [c["room_id"] for c in r["chunk"]]
            since = r.get("next_batch")
            if not since:
                break
        self.assertEqual(len(seen), len(set(seen)))
        self.assertGreaterEqual(len(seen), 5)

    def test_knock(self):
        room = self.create(room_version="7", initial_state=[
            {"type": "m.room.join_rules", "content": {"join_rule": "knock"}}])
        r = self.s.post(CS + f"/knock/{q(room)}", {"reason": "Darf ich?"}, token=self.carol)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r["room_id"], room)
        members = self.s.get(CS + f"/rooms/{q(room)}/members", token=self.alice,
                             query={"membership": "knock"})["chunk"]
        self.assertEqual([m["state_key"] for m in members], ["@carol:test.local"])
        old = self.create(room_version="6")
        self.assertError(self.s.post(CS + f"/knock/{q(old)}", {}, token=self.carol), 403,
                         "M_FORBIDDEN")

    def test_reports(self):
        room = self.create(preset="public_chat")
        eid = self.msg(room, "Spam")
        self.join(room, self.bob)
        r = self.s.post(CS + f"/rooms/{q(room)}/report/{q(eid)}", {"reason": "spam", "score": -100},
                        token=self.bob)
        self.assertEqual(r.status, 200, r)
        r = self.s.post(CS + f"/rooms/{q(room)}/report", {"reason": "Raum ist Spam"},
                        token=self.bob)
        self.assertEqual(r.status, 200, r)
        r = self.s.post(CS + f"/rooms/{q(room)}/report/{q('$none')}", {}, token=self.bob)
        self.assertError(r, 404, "M_NOT_FOUND")

    def test_summary(self):
        room = self.create(preset="public_chat", name="Zusammenfassung")
        r = self.s.get(self.V1 + f"/room_summary/{q(room)}", token=self.carol)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r["name"], "Zusammenfassung")
        self.assertEqual(r["num_joined_members"], 1)
        self.assertEqual(r["room_version"], "12")
        secret = self.create(preset="private_chat")
        self.assertError(self.s.get(self.V1 + f"/room_summary/{q(secret)}", token=self.carol),
                         403, "M_FORBIDDEN")

    def test_upgrade(self):
        room = self.create(room_version="10", preset="public_chat", name="Alt",
                           room_alias_name="umzug")
        self.join(room, self.bob)
        self.assertError(self.s.post(CS + f"/rooms/{q(room)}/upgrade", {"new_version": "12"},
                                     token=self.bob), 403, "M_FORBIDDEN")
        r = self.s.post(CS + f"/rooms/{q(room)}/upgrade", {"new_version": "12"},
                        token=self.alice)
        self.assertEqual(r.status, 200, r)
        new = r["replacement_room"]
        tomb = self.s.get(CS + f"/rooms/{q(room)}/state/m.room.tombstone", token=self.alice)
        self.assertEqual(tomb["replacement_room"], new)
        create = self.s.get(CS + f"/rooms/{q(new)}/state/m.room.create", token=self.alice).body
        self.assertEqual(create["predecessor"]["room_id"], room)
        self.assertEqual(create["room_version"], "12")
        self.assertEqual(self.s.get(CS + f"/rooms/{q(new)}/state/m.room.name",
                                    token=self.alice)["name"], "Alt")
        self.assertEqual(self.s.get(CS + "/directory/room/" + q("#umzug:test.local"))["room_id"],
                         new)
        # the old room is now read-only for ordinary members
        self.assertError(self.send(room, {"body": "x"}, self.bob), 403, "M_FORBIDDEN")
        self.assertError(self.s.post(CS + f"/rooms/{q(room)}/upgrade", {"new_version": "77"},
                                     token=self.alice), 400, "M_UNSUPPORTED_ROOM_VERSION")


class Concurrency(RoomsBase):
    def test_concurrent_senders_keep_a_linear_dag(self):
        """Appends to one room are serialised by its writer lock: no lost events, no forks."""
        import os
        import subprocess
        import threading
        room = self.create(preset="public_chat")
        self.join(room, self.bob)
        errors = []

        def sender(k):
            tok = self.alice if k % 2 else self.bob
            for i in range(15):
                r = self.s.put(CS + f"/rooms/{q(room)}/send/m.room.message/par{k}_{i}",
                               {"body": f"{k}:{i}"}, token=tok)
                if r.status != 200:
                    errors.append(r)

        ts = [threading.Thread(target=sender, args=(k,)) for k in range(6)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        self.assertEqual(errors, [])
        page = self.messages(room, self.alice, dir="f", limit="500")
        self.assertEqual(len(self.bodies(page["chunk"])), 90)
        out = subprocess.run(
            [os.path.join(self.s.pg["PGBIN"], "psql"), "-h", self.s.pg["PGHOST"], "-U",
             self.s.pg["PGUSER"], "-d", self.s.dbname, "-Atc",
             f"SELECT count(*), count(DISTINCT depth), "
             f"(SELECT count(*) FROM event_edges g JOIN events e USING (event_nid) "
             f" WHERE e.room_id = '{room}'), "
             f"(SELECT count(*) FROM room_extremities WHERE room_id = '{room}') "
             f"FROM events WHERE room_id = '{room}'"],
            capture_output=True, text=True, check=True).stdout.strip()
        total, depths, edges, extremities = map(int, out.split("|"))
        self.assertEqual(total, depths)        # every event one step further
        self.assertEqual(edges, total - 1)     # one prev_event each, but the create event
        self.assertEqual(extremities, 1)

    def test_same_transaction_in_parallel(self):
        import threading
        room = self.create()
        ids = []

        def send():
            r = self.s.put(CS + f"/rooms/{q(room)}/send/m.room.message/once", {"body": "one"},
                           token=self.alice)
            ids.append(r.get("event_id") if r.status == 200 else r.status)

        ts = [threading.Thread(target=send) for _ in range(5)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        self.assertEqual(len(set(ids)), 1, ids)
        self.assertEqual(self.bodies(self.messages(room, self.alice, dir="b")["chunk"]), ["one"])


class RestrictedJoins(RoomsBase):
    def test_members_of_the_space_may_join(self):
        space = self.create(preset="private_chat", invite=["@bob:test.local"])
        self.join(space, self.bob)
        room = self.create(room_version="10", preset="private_chat", initial_state=[
            {"type": "m.room.join_rules",
             "content": {"join_rule": "restricted",
                         "allow": [{"type": "m.room_membership", "room_id": space}]}}])
        # carol is not in the space: refused; bob is: allowed, vouched for by alice
        self.assertError(self.join(room, self.carol), 403, "M_FORBIDDEN")
        self.assertEqual(self.join(room, self.bob).status, 200)
        members = self.s.get(CS + f"/rooms/{q(room)}/members", token=self.bob,
                             query={"membership": "join"})["chunk"]
        bob = next(m for m in members if m["state_key"] == "@bob:test.local")
        self.assertEqual(bob["content"]["join_authorised_via_users_server"],
                         "@alice:test.local")
        # restricted is unknown to version 7 rooms: nobody gets in uninvited
        old = self.create(room_version="7", preset="private_chat", initial_state=[
            {"type": "m.room.join_rules",
             "content": {"join_rule": "restricted",
                         "allow": [{"type": "m.room_membership", "room_id": space}]}}])
        self.assertError(self.join(old, self.bob), 403, "M_FORBIDDEN")


class MembersAt(RoomsBase):
    def test_members_at_a_token(self):
        room = self.create(preset="public_chat")
        self.msg(room, "nur alice")
        token = self.messages(room, self.alice, dir="b", limit="1")["start"]
        self.join(room, self.bob)
        self.join(room, self.carol)
        now = self.s.get(CS + f"/rooms/{q(room)}/members", token=self.alice)["chunk"]
        self.assertEqual(len(now), 3)
        then = self.s.get(CS + f"/rooms/{q(room)}/members", token=self.alice,
                          query={"at": token})["chunk"]
        self.assertEqual([m["state_key"] for m in then], ["@alice:test.local"])
        self.assertError(self.s.get(CS + f"/rooms/{q(room)}/members", token=self.alice,
                                    query={"at": "nonsense"}), 400, "M_INVALID_PARAM")


class ProfileInRooms(RoomsBase):
    def test_displayname_change_reaches_rooms(self):
        room = self.create(preset="public_chat")
        self.join(room, self.bob)
        r = self.s.put(CS + "/profile/@bob:test.local/displayname", {"displayname": "Robert"},
                       token=self.bob)
        self.assertEqual(r.status, 200)
        jm = self.s.get(CS + f"/rooms/{q(room)}/joined_members", token=self.alice)["joined"]
        self.assertEqual(jm["@bob:test.local"]["display_name"], "Robert")
        self.s.put(CS + "/profile/@bob:test.local/displayname", {"displayname": "bob"},
                   token=self.bob)
