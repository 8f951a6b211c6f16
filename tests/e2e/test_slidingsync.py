"""Native sliding sync (MSC4186, org.matrix.simplified_msc3575) driven as Element X drives it:
a room list of the 20 most active rooms (range [0,19], timeline_limit 1), a subscription to
one room, an encrypted room with the to_device and e2ee extensions, an invite, a room leaving
the window on later activity, long-polling on `pos` with `timeout`, and M_UNKNOWN_POS."""
import threading
import time
import urllib.parse

from harness import ServerTestCase
from test_keys import Device

CS = "/_matrix/client/v3"
SS = "/_matrix/client/unstable/org.matrix.simplified_msc3575/sync"
ROOM_LIST_STATE = [["m.room.encryption", ""], ["m.room.member", "$LAZY"],
                   ["m.room.member", "$ME"], ["m.room.name", ""], ["m.room.avatar", ""],
                   ["m.room.create", ""], ["m.room.power_levels", ""]]


def q(s):
    return urllib.parse.quote(s, safe="")


class SlidingSync(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tok = {n: cls.server.register(n)["access_token"] for n in ("alice", "bob", "carol")}
        cls.n = 0

    def txn(self):
        type(self).n += 1
        return f"t{self.n}"

    def room(self, who="alice", **body):
        body.setdefault("preset", "public_chat")
        r = self.s.post(CS + "/createRoom", body, token=self.tok[who])
        self.assertEqual(r.status, 200, r)
        return r["room_id"]

    def msg(self, room, who, text):
        r = self.s.put(CS + f"/rooms/{q(room)}/send/m.room.message/{self.txn()}",
                       {"msgtype": "m.text", "body": text}, token=self.tok[who])
        self.assertEqual(r.status, 200, r)
        return r["event_id"]

    def ss(self, token, body, pos=None, timeout=0, status=200):
        query = {"timeout": str(timeout)}
        if pos:
            query["pos"] = pos
        r = self.s.post(SS, body, token=token, query=query, timeout=60)
        self.assertEqual(r.status, status, r)
        return r

    def test_versions_advertise(self):
        r = self.s.get("/_matrix/client/versions")
        self.assertIs(r["unstable_features"].get("org.matrix.simplified_msc3575"), True)

    def test_room_list_window_subscription_and_longpoll(self):
        tok = self.s.register("erin")["access_token"]
        self.tok["erin"] = tok
        rooms = []
        for i in range(22):
            rid = self.room("erin", name=f"room {i}")
            rooms.append(rid)
        # newest activity first: room 21 .. room 0; rooms 0 and 1 are outside [0,19]
        body = {"conn_id": "room-list", "lists": {"all": {
            "ranges": [[0, 19]], "timeline_limit": 1, "required_state": ROOM_LIST_STATE}}}
        r = self.ss(tok, body)
        self.assertEqual(r["lists"]["all"]["count"], 22)
        got = r["rooms"]
        self.assertEqual(set(got), set(rooms[2:]))
        stamps = [got[rid]["bump_stamp"] for rid in rooms[2:]]
        self.assertEqual(stamps, sorted(stamps))
        e = got[rooms[21]]
        self.assertTrue(e["initial"])
        self.assertEqual(e["name"], "room 21")
        self.assertEqual(e["membership"], "join")
        self.assertEqual(len(e["timeline"]), 1)
        self.assertTrue(e["limited"])
        self.assertIn("prev_batch", e)
        self.assertEqual(e["joined_count"], 1)
        self.assertEqual(e["notification_count"], 0)
        types = {(ev["type"], ev["state_key"]) for ev in e["required_state"]}
        self.assertIn(("m.room.create", ""), types)
        self.assertIn(("m.room.member", "@erin:test.local"), types)  # $ME
        self.assertNotIn(("m.room.join_rules", ""), types)
        pos = r["pos"]

        # nothing new: an immediate empty answer with a new pos
        r = self.ss(tok, body, pos=pos)
        self.assertEqual(r.get("rooms", {}), {})
        pos = r["pos"]

        # activity in room 0 brings it into the window (sent initial: never sent before); room
        # 2 leaves the window and is not sent
        self.msg(rooms[0], "erin", "hello from the bottom")
        r = self.ss(tok, body, pos=pos)
        self.assertEqual(set(r["rooms"]), {rooms[0]})
        e = r["rooms"][rooms[0]]
        self.assertTrue(e["initial"])
        self.assertEqual(e["timeline"][-1]["content"]["body"], "hello from the bottom")
        pos = r["pos"]

        # an update in a room already sent: only the change, num_live counts it
        self.msg(rooms[21], "erin", "again")
        r = self.ss(tok, body, pos=pos)
        e = r["rooms"][rooms[21]]
        self.assertNotIn("initial", e)
        self.assertNotIn("name", e)  # unchanged fields are left out
        self.assertEqual([ev["content"]["body"] for ev in e["timeline"]], ["again"])
        self.assertEqual(e["num_live"], 1)
        self.assertNotIn("required_state", e)
        pos = r["pos"]

        # a retry with the same pos answers the same again (the client may not have got it)
        r2 = self.ss(tok, body, pos=pos)
        self.assertEqual(r2.get("rooms", {}), {})

        # subscription to one room with more history and all state
        sub = dict(body, room_subscriptions={rooms[5]: {
            "timeline_limit": 5, "required_state": [["*", "*"]]}})
        for i in range(3):
            self.msg(rooms[5], "erin", f"m{i}")
        r = self.ss(tok, sub, pos=r2["pos"])
        e = r["rooms"][rooms[5]]
        self.assertEqual(len(e["timeline"]), 5)
        self.assertTrue(e.get("expanded_timeline") or e.get("initial"))
        types = {ev["type"] for ev in e["required_state"]}
        self.assertIn("m.room.join_rules", types)  # the wider required_state
        pos = r["pos"]

        # long-poll: parks, wakes on a message, answers with it
        out = {}

        def poll():
            t0 = time.monotonic()
            out["r"] = self.ss(tok, sub, pos=pos, timeout=10000)
            out["t"] = time.monotonic() - t0

        th = threading.Thread(target=poll)
        th.start()
        time.sleep(0.5)
        self.msg(rooms[7], "erin", "wake up")
        th.join(20)
        self.assertFalse(th.is_alive())
        self.assertLess(out["t"], 5)
        e = out["r"]["rooms"][rooms[7]]
        self.assertEqual(e["timeline"][-1]["content"]["body"], "wake up")
        # a long-poll with nothing to say waits for its timeout
        t0 = time.monotonic()
        r = self.ss(tok, sub, pos=out["r"]["pos"], timeout=700)
        self.assertGreaterEqual(time.monotonic() - t0, 0.6)
        self.assertEqual(r.get("rooms", {}), {})

    def test_invite_and_kick(self):
        rid = self.room("bob", preset="private_chat", name="secret plans")
        r = self.s.post(CS + f"/rooms/{q(rid)}/invite", {"user_id": "@carol:test.local"},
                        token=self.tok["bob"])
        self.assertEqual(r.status, 200, r)
        body = {"lists": {"invites": {"ranges": [[0, 9]], "timeline_limit": 1,
                                      "required_state": [], "filters": {"is_invite": True}}}}
        r = self.ss(self.tok["carol"], body)
        self.assertEqual(r["lists"]["invites"]["count"], 1)
        e = r["rooms"][rid]
        self.assertEqual(e["membership"], "invite")
        st = {ev["type"]: ev for ev in e["invite_state"]}
        self.assertEqual(st["m.room.name"]["content"]["name"], "secret plans")
        self.assertNotIn("timeline", e)  # no history before joining
        pos = r["pos"]
        # joining: the room leaves the invite list, and a join list gets it from scratch
        self.assertEqual(self.s.post(CS + f"/rooms/{q(rid)}/join", {},
                                     token=self.tok["carol"]).status, 200)
        body["lists"]["all"] = {"ranges": [[0, 9]], "timeline_limit": 3, "required_state": []}
        r = self.ss(self.tok["carol"], body, pos=pos)
        self.assertEqual(r["lists"]["invites"]["count"], 0)
        e = r["rooms"][rid]
        self.assertEqual(e["membership"], "join")
        self.assertTrue(e["initial"])
        self.assertEqual(e["timeline"][-1]["type"], "m.room.member")
        # a room carol may not see is not given to a subscription
        other = self.room("bob", preset="private_chat")
        r = self.ss(self.tok["carol"], {"room_subscriptions": {other: {
            "timeline_limit": 5, "required_state": [["*", "*"]]}}})
        self.assertNotIn(other, r.get("rooms", {}))

    def test_encrypted_room_extensions(self):
        self.s.register("frank")
        self.s.register("gina")
        f = Device(self.s, "frank")
        g = Device(self.s, "gina")
        for d in (f, g):
            self.assertEqual(d.post("/keys/upload", {"device_keys": d.device_keys(),
                                                     "one_time_keys": d.signed_otks(3)}).status,
                             200)
        rid = self.s.post(CS + "/createRoom", {"preset": "private_chat", "invite": [g.user_id],
                          "initial_state": [{"type": "m.room.encryption", "state_key": "",
                                             "content": {"algorithm": "m.megolm.v1.aes-sha2"}}]},
                          token=f.token)["room_id"]
        self.assertEqual(self.s.post(CS + f"/rooms/{q(rid)}/join", {}, token=g.token).status,
                         200)
        plain = self.s.post(CS + "/createRoom", {}, token=f.token)["room_id"]
        body = {"conn_id": "encryption", "lists": {"enc": {
            "ranges": [[0, 9]], "timeline_limit": 1, "required_state": [],
            "filters": {"is_encrypted": True}}},
            "extensions": {"to_device": {"enabled": True}, "e2ee": {"enabled": True}}}
        r = self.ss(f.token, body)
        self.assertEqual(set(r["rooms"]), {rid})
        self.assertNotIn(plain, r["rooms"])
        e2ee = r["extensions"]["e2ee"]
        self.assertEqual(e2ee["device_one_time_keys_count"]["signed_curve25519"], 3)
        self.assertIn("device_unused_fallback_key_types", e2ee)
        since = r["extensions"]["to_device"]["next_batch"]
        pos = r["pos"]
        # a to-device message from gina
        r = self.s.put(CS + f"/sendToDevice/m.room_key_request/{g.txn()}",
                       {"messages": {f.user_id: {f.device_id: {"hello": "frank"}}}},
                       token=g.token)
        self.assertEqual(r.status, 200, r)
        body["extensions"]["to_device"]["since"] = since
        r = self.ss(f.token, body, pos=pos, timeout=5000)
        evs = r["extensions"]["to_device"]["events"]
        self.assertEqual([(e["sender"], e["content"]) for e in evs],
                         [(g.user_id, {"hello": "frank"})])
        since = r["extensions"]["to_device"]["next_batch"]
        pos = r["pos"]
        # acknowledged by presenting next_batch: not sent again
        body["extensions"]["to_device"]["since"] = since
        r = self.ss(f.token, body, pos=pos)
        self.assertEqual(r["extensions"]["to_device"]["events"], [])
        pos = r["pos"]
        # gina logs in a new device: frank learns her device list changed (they share a room)
        g2 = Device(self.s, "gina")
        self.assertEqual(g2.post("/keys/upload", {"device_keys": g2.device_keys()}).status, 200)
        r = self.ss(f.token, body, pos=pos, timeout=5000)
        self.assertIn(g.user_id, r["extensions"]["e2ee"]["device_lists"]["changed"])

    def test_account_data_receipts_typing(self):
        rid = self.room("alice", name="chatter")
        self.assertEqual(self.s.post(CS + f"/rooms/{q(rid)}/join", {},
                                     token=self.tok["bob"]).status, 200)
        ev = self.msg(rid, "bob", "read me")
        self.s.put(CS + f"/user/{q('@alice:test.local')}/account_data/m.direct",
                   {"@bob:test.local": [rid]}, token=self.tok["alice"])
        self.s.put(CS + f"/user/{q('@alice:test.local')}/rooms/{q(rid)}/account_data/m.tag",
                   {"tags": {"u.work": {}}}, token=self.tok["alice"])
        body = {"conn_id": "ad", "lists": {"dms": {"ranges": [[0, 9]], "timeline_limit": 1,
                                                   "required_state": [],
                                                   "filters": {"is_dm": True}}},
                "extensions": {"account_data": {"enabled": True},
                               "receipts": {"enabled": True},
                               "typing": {"enabled": True}}}
        r = self.ss(self.tok["alice"], body)
        self.assertEqual(set(r["rooms"]), {rid})
        self.assertTrue(r["rooms"][rid]["is_dm"])
        ad = r["extensions"]["account_data"]
        self.assertIn("m.direct", [e["type"] for e in ad["global"]])
        self.assertEqual([e["type"] for e in ad["rooms"][rid]], ["m.tag"])
        pos = r["pos"]
        self.assertEqual(self.s.post(CS + f"/rooms/{q(rid)}/receipt/m.read/{q(ev)}", {},
                                     token=self.tok["bob"]).status, 200)
        r = self.ss(self.tok["alice"], body, pos=pos, timeout=5000)
        rc = r["extensions"]["receipts"]["rooms"][rid]
        self.assertEqual(rc["type"], "m.receipt")
        self.assertIn("@bob:test.local", rc["content"][ev]["m.read"])
        pos = r["pos"]
        self.assertEqual(self.s.put(CS + f"/rooms/{q(rid)}/typing/{q('@bob:test.local')}",
                                    {"typing": True, "timeout": 5000},
                                    token=self.tok["bob"]).status, 200)
        r = self.ss(self.tok["alice"], body, pos=pos, timeout=5000)
        t = r["extensions"]["typing"]["rooms"][rid]
        self.assertEqual(t["content"]["user_ids"], ["@bob:test.local"])

    def test_unknown_pos_and_bad_requests(self):
        tok = self.tok["alice"]
        self.assertEqual(self.ss(tok, {"conn_id": "x"}, pos="12_3", status=400).errcode,
                         "M_UNKNOWN_POS")
        r = self.ss(tok, {"conn_id": "x"})
        # the pos of another device (same user, same conn_id) is not accepted
        other = self.s.login("alice")["access_token"]
        self.assertEqual(self.ss(other, {"conn_id": "x"}, pos=r["pos"], status=400).errcode,
                         "M_UNKNOWN_POS")
        # a new connection of the same conn_id replaces the old one
        self.ss(tok, {"conn_id": "x"})
        self.assertEqual(self.ss(tok, {"conn_id": "x"}, pos=r["pos"], status=400).errcode,
                         "M_UNKNOWN_POS")
        for bad in ({"lists": {"a": {"ranges": [[5, 1]], "timeline_limit": 1}}},
                    {"lists": {"a": {"ranges": [[0, -1]]}}},
                    {"lists": {"a": {"timeline_limit": "ten"}}},
                    {"lists": {"a": {"required_state": [["m.room.name"]]}}},
                    {"lists": {str(i): {} for i in range(101)}},
                    {"room_subscriptions": []},
                    {"extensions": {"to_device": {"enabled": True, "since": 5}}}):
            self.assertEqual(self.ss(tok, bad, status=400).errcode, "M_INVALID_PARAM", bad)

    def test_lazy_members_heroes_and_kick(self):
        self.s.register("hank")
        self.s.register("ivy")
        hank = self.s.login("hank")["access_token"]
        ivy = self.s.login("ivy")["access_token"]
        rid = self.s.post(CS + "/createRoom", {"preset": "public_chat"}, token=hank)["room_id"]
        self.assertEqual(self.s.post(CS + f"/rooms/{q(rid)}/join", {}, token=ivy).status, 200)
        self.s.put(CS + f"/profile/{q('@hank:test.local')}/displayname",
                   {"displayname": "Hank H."}, token=hank)
        self.s.put(CS + f"/rooms/{q(rid)}/send/m.room.message/l1",
                   {"msgtype": "m.text", "body": "from hank"}, token=hank)
        body = {"lists": {"all": {"ranges": [[0, 9]], "timeline_limit": 1,
                                  "required_state": [["m.room.member", "$LAZY"]]}}}
        r = self.ss(ivy, body)
        e = r["rooms"][rid]
        # unnamed room: heroes with their display names; $LAZY gives the sender's member event
        self.assertEqual([h["user_id"] for h in e["heroes"]], ["@hank:test.local"])
        self.assertEqual(e["heroes"][0].get("displayname"), "Hank H.")
        self.assertEqual([ev["state_key"] for ev in e["required_state"]], ["@hank:test.local"])
        self.assertEqual(e["joined_count"], 2)
        pos = r["pos"]
        # hank again: his member event is not sent twice on the connection
        self.s.put(CS + f"/rooms/{q(rid)}/send/m.room.message/l2",
                   {"msgtype": "m.text", "body": "again"}, token=hank)
        r = self.ss(ivy, body, pos=pos)
        self.assertEqual(r["rooms"][rid].get("required_state", []), [])
        pos = r["pos"]
        # ivy is kicked: the room comes with membership leave and the kick; what follows in
        # the room is never shown to her
        self.assertEqual(self.s.post(CS + f"/rooms/{q(rid)}/kick",
                                     {"user_id": "@ivy:test.local"}, token=hank).status, 200)
        r = self.ss(ivy, body, pos=pos)
        e = r["rooms"][rid]
        self.assertEqual(e["membership"], "leave")
        self.assertEqual(e["timeline"][-1]["type"], "m.room.member")
        self.assertEqual(e["timeline"][-1]["content"]["membership"], "leave")
        pos = r["pos"]
        self.s.put(CS + f"/rooms/{q(rid)}/send/m.room.message/l3",
                   {"msgtype": "m.text", "body": "secret after kick"}, token=hank)
        r = self.ss(ivy, body, pos=pos)
        self.assertNotIn(rid, r.get("rooms", {}))
        fresh = self.ss(ivy, body)  # a new connection: the kick is still listed, not the secret
        e = fresh["rooms"][rid]
        self.assertEqual(e["membership"], "leave")
        self.assertNotIn("secret after kick",
                         [ev["content"].get("body") for ev in e.get("timeline", [])])

    def test_filters_spaces_tags_types(self):
        tok = self.s.register("jo")["access_token"]
        space = self.s.post(CS + "/createRoom", {"preset": "public_chat", "creation_content":
                                                 {"type": "m.space"}}, token=tok)["room_id"]
        child = self.s.post(CS + "/createRoom", {"preset": "public_chat"}, token=tok)["room_id"]
        other = self.s.post(CS + "/createRoom", {"preset": "public_chat"}, token=tok)["room_id"]
        r = self.s.put(CS + f"/rooms/{q(space)}/state/m.space.child/{q(child)}",
                       {"via": ["test.local"]}, token=tok)
        self.assertEqual(r.status, 200, r)
        r = self.s.put(CS + f"/user/{q('@jo:test.local')}/rooms/{q(other)}/tags/m.favourite",
                       {}, token=tok)
        self.assertEqual(r.status, 200, r)

        def rooms(filters):
            r = self.ss(tok, {"lists": {"l": {"ranges": [[0, 9]], "timeline_limit": 0,
                                              "required_state": [], "filters": filters}}})
            self.assertEqual(r["lists"]["l"]["count"], len(r.get("rooms", {})))
            for e in r.get("rooms", {}).values():
                self.assertEqual(e["lists"], ["l"])
            return set(r.get("rooms", {}))

        self.assertEqual(rooms({"room_types": ["m.space"]}), {space})
        self.assertEqual(rooms({"not_room_types": ["m.space"]}), {child, other})
        self.assertEqual(rooms({"room_types": [None]}), {child, other})
        self.assertEqual(rooms({"spaces": [space]}), {child})
        self.assertEqual(rooms({"tags": ["m.favourite"]}), {other})
        self.assertEqual(rooms({"not_tags": ["m.favourite"]}), {space, child})
        self.assertEqual(rooms({"is_dm": False, "is_encrypted": False}), {space, child, other})

    def test_state_change_on_update(self):
        tok = self.s.register("kim")["access_token"]
        rid = self.s.post(CS + "/createRoom", {"preset": "public_chat", "name": "before"},
                          token=tok)["room_id"]
        body = {"lists": {"l": {"ranges": [[0, 0]], "timeline_limit": 1,
                                "required_state": [["m.room.name", ""], ["m.room.topic", ""]]}}}
        r = self.ss(tok, body)
        self.assertEqual(r["rooms"][rid]["name"], "before")
        pos = r["pos"]
        self.s.put(CS + f"/rooms/{q(rid)}/state/m.room.name/", {"name": "after"}, token=tok)
        self.s.put(CS + f"/rooms/{q(rid)}/send/m.room.message/s1",
                   {"msgtype": "m.text", "body": "x"}, token=tok)
        r = self.ss(tok, body, pos=pos)
        e = r["rooms"][rid]
        self.assertEqual(e["name"], "after")
        self.assertEqual([(ev["type"], ev["content"]) for ev in e["required_state"]],
                         [("m.room.name", {"name": "after"})])
        self.assertTrue(e["limited"])
        pos = r["pos"]
        # a message only: no name, no required_state
        self.s.put(CS + f"/rooms/{q(rid)}/send/m.room.message/s2",
                   {"msgtype": "m.text", "body": "y"}, token=tok)
        r = self.ss(tok, body, pos=pos)
        e = r["rooms"][rid]
        self.assertNotIn("name", e)
        self.assertNotIn("required_state", e)
        # a state change that is in the timeline is in required_state too: MSC4186 clients
        # take state from required_state only
        self.s.put(CS + f"/rooms/{q(rid)}/state/m.room.topic/", {"topic": "t"}, token=tok)
        r = self.ss(tok, body, pos=r["pos"])
        e = r["rooms"][rid]
        self.assertEqual([ev["type"] for ev in e["timeline"]], ["m.room.topic"])
        self.assertEqual([(ev["type"], ev["content"]) for ev in e["required_state"]],
                         [("m.room.topic", {"topic": "t"})])

    def test_parked_request_of_a_client_that_left(self):
        """A long-poll whose client goes away ends while parked (the HTTP front notices within
        about a second); a send that then wakes its waiter must resume nothing (it used to
        resume the freed request: libmicrohttpd aborted, or ASan spoke at shutdown)."""
        import json
        import socket
        tok = self.s.register("leaver")["access_token"]
        self.tok["leaver"] = tok
        rid = self.room("leaver")
        body = {"conn_id": "leaving", "lists": {"all": {"ranges": [[0, 9]],
                                                         "timeline_limit": 1}}}
        pos = self.ss(tok, body)["pos"]
        data = json.dumps(body).encode()
        socks = []
        for _ in range(3):
            c = socket.create_connection(("127.0.0.1", self.s.port))
            c.sendall((f"POST {SS}?pos={pos}&timeout=20000 HTTP/1.1\r\nHost: t\r\n"
                       f"Authorization: Bearer {tok}\r\nContent-Type: application/json\r\n"
                       f"Content-Length: {len(data)}\r\n\r\n").encode() + data)
            socks.append(c)
        time.sleep(0.5)
        for c in socks:
            c.close()
        time.sleep(2.5)  # the front ends the parked requests of the closed sockets
        self.msg(rid, "leaver", "wake the waiters of requests that ended")
        time.sleep(0.5)
        r = self.ss(tok, body, pos=pos)
        self.assertIn(rid, r["rooms"])
        self.assertEqual(self.s.get("/_matrix/client/versions").status, 200)

    def park(self, token, body, pos, then, timeout=10000):
        """Long-poll in a thread, do `then()` once it is parked; the response and its time."""
        out = {}

        def poll():
            t0 = time.monotonic()
            out["r"] = self.ss(token, body, pos=pos, timeout=timeout)
            out["t"] = time.monotonic() - t0

        th = threading.Thread(target=poll)
        th.start()
        time.sleep(0.5)
        then()
        th.join(timeout / 1000 + 10)
        self.assertFalse(th.is_alive())
        return out["r"], out["t"]

    def test_parked_request_sees_the_list_move(self):
        """A woken long-poll reuses the room list it read and reads only the rooms that moved:
        their new order, encryption, and a new membership (which reads the list again) must
        show as they would on a fresh request."""
        tok = self.s.register("lena")["access_token"]
        self.tok["lena"] = tok
        old = self.room("lena", name="old")
        self.assertEqual(self.s.post(CS + f"/rooms/{q(old)}/join", {},
                                     token=self.tok["bob"]).status, 200)
        new = self.room("lena", name="new")
        body = {"conn_id": "moving", "lists": {
            "top": {"ranges": [[0, 0]], "timeline_limit": 1, "required_state": []},
            "enc": {"ranges": [[0, 9]], "timeline_limit": 0, "required_state": [],
                    "filters": {"is_encrypted": True}}}}
        r = self.ss(tok, body)
        self.assertEqual(set(r["rooms"]), {new})
        self.assertEqual(r["lists"]["enc"]["count"], 0)
        # bob's message moves "old" to the top of the window while lena waits
        r, t = self.park(tok, body, r["pos"], lambda: self.msg(old, "bob", "to the top"))
        self.assertLess(t, 5)
        self.assertEqual(set(r["rooms"]), {old})
        self.assertEqual(r["rooms"][old]["timeline"][-1]["content"]["body"], "to the top")
        self.assertEqual(r["rooms"][old]["lists"], ["top"])
        # bob turns encryption on in "old": the encrypted list counts it while lena waits
        pl = self.s.get(CS + f"/rooms/{q(old)}/state/m.room.power_levels/", token=tok).body
        pl["users"]["@bob:test.local"] = 100
        put = self.s.put(CS + f"/rooms/{q(old)}/state/m.room.power_levels/", pl, token=tok)
        self.assertEqual(put.status, 200, put)
        r = self.ss(tok, body, pos=r["pos"])

        def encrypt():
            self.assertEqual(self.s.put(CS + f"/rooms/{q(old)}/state/m.room.encryption/",
                                        {"algorithm": "m.megolm.v1.aes-sha2"},
                                        token=self.tok["bob"]).status, 200)
        r, t = self.park(tok, body, r["pos"], encrypt)
        self.assertLess(t, 5)
        self.assertEqual(r["lists"]["enc"]["count"], 1)
        self.assertIn(old, r["rooms"])
        # an invite while waiting: a new membership, the list is read again
        other = self.room("bob", preset="private_chat")
        invite = lambda: self.assertEqual(self.s.post(  # noqa: E731
            CS + f"/rooms/{q(other)}/invite", {"user_id": "@lena:test.local"},
            token=self.tok["bob"]).status, 200)
        r, t = self.park(tok, body, r["pos"], invite)
        self.assertLess(t, 5)
        self.assertEqual(set(r["rooms"]), {other})
        self.assertEqual(r["rooms"][other]["membership"], "invite")

    def test_lazy_member_that_changed_unsent(self):
        """$LAZY with timeline_limit 1: a member event that changed inside a gap (not a sender
        then) must go out when that user next speaks, though the connection had the older
        one; a second message of the same sender brings no member event again."""
        tok = self.s.register("mo")["access_token"]
        self.tok["mo"] = tok
        rid = self.room("mo")
        for who in ("bob", "carol"):
            self.assertEqual(self.s.post(CS + f"/rooms/{q(rid)}/join", {},
                                         token=self.tok[who]).status, 200)
        body = {"lists": {"all": {"ranges": [[0, 9]], "timeline_limit": 1,
                                  "required_state": [["m.room.member", "$LAZY"]]}}}
        self.msg(rid, "bob", "bob speaks")
        r = self.ss(tok, body)
        self.assertEqual([ev["state_key"] for ev in r["rooms"][rid]["required_state"]],
                         ["@bob:test.local"])
        pos = r["pos"]
        # bob renames himself, then carol speaks twice: a gap over bob's change
        self.assertEqual(self.s.put(CS + f"/rooms/{q(rid)}/state/m.room.member/"
                                    f"{q('@bob:test.local')}",
                                    {"membership": "join", "displayname": "Bobby"},
                                    token=self.tok["bob"]).status, 200)
        self.msg(rid, "carol", "one")
        self.msg(rid, "carol", "two")
        r = self.ss(tok, body, pos=pos)
        e = r["rooms"][rid]
        self.assertTrue(e["limited"])
        self.assertEqual([ev["state_key"] for ev in e["required_state"]], ["@carol:test.local"])
        pos = r["pos"]
        # bob speaks: his new member event goes out
        self.msg(rid, "bob", "it is me")
        r = self.ss(tok, body, pos=pos)
        e = r["rooms"][rid]
        self.assertEqual([(ev["state_key"], ev["content"].get("displayname"))
                          for ev in e.get("required_state", [])],
                         [("@bob:test.local", "Bobby")])
        # and only once
        self.msg(rid, "bob", "me again")
        r = self.ss(tok, body, pos=r["pos"])
        self.assertEqual(r["rooms"][rid].get("required_state", []), [])

    def test_lazy_sender_of_one_wake(self):
        """Connections of several users woken by the same message each get its sender's
        member event ($LAZY; the server reads it once for all of them), and only once."""
        for n in ("lzo", "lz1", "lz2"):
            self.tok[n] = self.s.register(n)["access_token"]
        rid = self.room("lzo")
        for n in ("lz1", "lz2"):
            self.assertEqual(self.s.post(CS + f"/rooms/{q(rid)}/join", {},
                                         token=self.tok[n]).status, 200)
        body = {"lists": {"all": {"ranges": [[0, 9]], "timeline_limit": 1,
                                  "required_state": [["m.room.member", "$LAZY"]]}}}
        pos = {n: self.ss(self.tok[n], body)["pos"] for n in ("lz1", "lz2")}
        out = {}

        def poll(n):
            out[n] = self.ss(self.tok[n], body, pos=pos[n], timeout=10000)

        ths = [threading.Thread(target=poll, args=(n,)) for n in pos]
        for th in ths:
            th.start()
        time.sleep(0.5)
        self.msg(rid, "lzo", "to all")
        for th in ths:
            th.join(20)
            self.assertFalse(th.is_alive())
        for n in pos:
            e = out[n]["rooms"][rid]
            self.assertEqual(e["timeline"][-1]["content"]["body"], "to all")
            self.assertEqual([(ev["state_key"], ev["content"]["membership"])
                              for ev in e["required_state"]], [("@lzo:test.local", "join")])
            pos[n] = out[n]["pos"]
        self.msg(rid, "lzo", "again")
        for n in pos:
            e = self.ss(self.tok[n], body, pos=pos[n])["rooms"][rid]
            self.assertEqual(e["timeline"][-1]["content"]["body"], "again")
            self.assertEqual(e.get("required_state", []), [])

    def test_stale_pos_of_a_parked_request(self):
        """MSC4186 "Connections": a pos the connection no longer stands for answers
        M_UNKNOWN_POS, also for a request that was parked on it while the conn_id started again
        (it used to revive the old connection and kill the new one) or while the client went
        on with a newer pos (it used to forget the client's current pos)."""
        tok = self.s.register("stale")["access_token"]
        self.tok["stale"] = tok
        rid = self.room("stale")
        body = {"conn_id": "stale", "lists": {"all": {"ranges": [[0, 9]],
                                                       "timeline_limit": 1}}}
        a = self.ss(tok, body)["pos"]
        out = {}

        def poll(key, pos):
            out[key] = self.s.post(SS, body, token=tok, query={"pos": pos, "timeout": "20000"},
                                   timeout=60)

        # 1. parked on a; the same conn_id starts again (no pos): the old connection is gone
        th = threading.Thread(target=poll, args=("replaced", a))
        th.start()
        time.sleep(0.5)
        b = self.ss(tok, body)["pos"]
        self.msg(rid, "stale", "wake the parked request of the replaced connection")
        th.join(30)
        self.assertFalse(th.is_alive())
        self.assertEqual(out["replaced"].status, 400, out["replaced"])
        self.assertEqual(out["replaced"].errcode, "M_UNKNOWN_POS")
        self.assertEqual(self.ss(tok, body, pos=a, status=400).errcode, "M_UNKNOWN_POS")
        # the new connection is untouched: its pos answers, with the message
        r = self.ss(tok, body, pos=b)
        self.assertEqual(r["rooms"][rid]["timeline"][-1]["content"]["body"],
                         "wake the parked request of the replaced connection")
        c = r["pos"]

        # 2. parked on c; the client cancels, retries c, and goes on with the answer's pos
        th = threading.Thread(target=poll, args=("superseded", c))
        th.start()
        time.sleep(0.5)
        d = self.ss(tok, body, pos=c)["pos"]  # a retry of c answers at once
        e = self.ss(tok, body, pos=d)["pos"]  # the client went on: c is acknowledged away
        self.msg(rid, "stale", "wake the request parked on an acknowledged pos")
        th.join(30)
        self.assertFalse(th.is_alive())
        self.assertEqual(out["superseded"].status, 400, out["superseded"])
        self.assertEqual(out["superseded"].errcode, "M_UNKNOWN_POS")
        for old in (a, b, c):
            self.assertEqual(self.ss(tok, body, pos=old, status=400).errcode, "M_UNKNOWN_POS",
                             old)
        # the client's current pos still answers (it used to be dropped by the stale answer)
        r = self.ss(tok, body, pos=e)
        self.assertEqual(r["rooms"][rid]["timeline"][-1]["content"]["body"],
                         "wake the request parked on an acknowledged pos")
        # presenting e acknowledged it: d, which e answered, is gone now
        self.assertEqual(self.ss(tok, body, pos=d, status=400).errcode, "M_UNKNOWN_POS")
        # and a retry of the current pos is still good, once answered or twice
        f1 = self.ss(tok, body, pos=r["pos"])["pos"]
        f2 = self.ss(tok, body, pos=r["pos"])["pos"]
        self.assertNotEqual(f1, f2)
        self.ss(tok, body, pos=f2)
        self.assertEqual(self.ss(tok, body, pos=f1, status=400).errcode, "M_UNKNOWN_POS")

    def test_forgotten_room_leaves_the_kept_list(self):
        """A connection's next request starts from the room list its last answer read; a room
        forgotten meanwhile (nothing in the stream names the user for it) must still drop out
        of the list."""
        tok = self.s.register("forgetful")["access_token"]
        self.tok["forgetful"] = tok
        rid = self.room("forgetful")
        body = {"conn_id": "forget", "lists": {"all": {"ranges": [[0, 9]], "timeline_limit": 1}}}
        r = self.ss(tok, body)
        self.assertEqual(r["lists"]["all"]["count"], 1)
        self.assertEqual(self.s.post(CS + f"/rooms/{q(rid)}/leave", {}, token=tok).status, 200)
        r = self.ss(tok, body, pos=r["pos"])
        self.assertEqual(r["rooms"][rid]["membership"], "leave")
        self.assertEqual(r["lists"]["all"]["count"], 1)  # sent before: it stays, as left
        self.assertEqual(self.s.post(CS + f"/rooms/{q(rid)}/forget", {}, token=tok).status, 200)
        r = self.ss(tok, body, pos=r["pos"])
        self.assertEqual(r["lists"]["all"]["count"], 0)
        self.assertNotIn(rid, r.get("rooms", {}))
