"""/sync end to end: initial and incremental syncs, long-polling woken by sends, typing,
receipts and read markers, unread counts, account data and tags, filters (stored and
inline), lazy-loaded members, gappy timelines continued through /messages, invites, leaves,
tokens across a restart, presence (off by default, and on), and bad input."""
import json
import threading
import time
import urllib.parse

from harness import Server, ServerTestCase

CS = "/_matrix/client/v3"


def q(s):
    return urllib.parse.quote(s, safe="")


class SyncBase(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tokens = {}
        for name in ("alice", "bob", "carol"):
            cls.tokens[name] = cls.server.register(name)["access_token"]
        cls.alice, cls.bob, cls.carol = (cls.tokens[n] for n in ("alice", "bob", "carol"))
        cls.n = 0

    def uid(self, name):
        return f"@{name}:test.local"

    def txn(self):
        type(self).n += 1
        return f"t{self.n}"

    def room(self, token=None, **body):
        r = self.s.post(CS + "/createRoom", body, token=token or self.alice)
        self.assertEqual(r.status, 200, r)
        return r["room_id"]

    def join(self, room, token):
        r = self.s.post(CS + f"/rooms/{q(room)}/join", {}, token=token)
        self.assertEqual(r.status, 200, r)

    def shared_room(self, *tokens, **body):
        room = self.room(preset="public_chat", **body)
        for t in tokens:
            self.join(room, t)
        return room

    def msg(self, room, text, token=None, **extra):
        content = {"msgtype": "m.text", "body": text, **extra}
        r = self.s.put(CS + f"/rooms/{q(room)}/send/m.room.message/{self.txn()}", content,
                       token=token or self.alice)
        self.assertEqual(r.status, 200, r)
        return r["event_id"]

    def sync(self, token, since=None, timeout=None, filter=None, **params):
        query = dict(params)
        if since:
            query["since"] = since
        if timeout is not None:
            query["timeout"] = str(timeout)
        if filter is not None:
            query["filter"] = filter if isinstance(filter, str) else json.dumps(filter)
        r = self.s.get(CS + "/sync", token=token, query=query, timeout=60)
        self.assertEqual(r.status, 200, r)
        return r.body

    def timeline(self, body, room):
        return body["rooms"]["join"].get(room, {}).get("timeline", {}).get("events", [])

    def bodies(self, events):
        return [e["content"].get("body") for e in events if e["type"] == "m.room.message"]


class InitialAndIncremental(SyncBase):
    def test_initial_sync_has_state_timeline_summary(self):
        room = self.shared_room(self.bob, name="Initial")
        self.msg(room, "hello")
        body = self.sync(self.bob)
        self.assertRegex(body["next_batch"], r"^s\d+_\d+_\d+$")
        entry = body["rooms"]["join"][room]
        self.assertIn("hello", self.bodies(entry["timeline"]["events"]))
        types = {(e["type"], e.get("state_key")) for e in entry["state"]["events"]}
        types |= {(e["type"], e.get("state_key")) for e in entry["timeline"]["events"]}
        self.assertIn(("m.room.create", ""), types)
        self.assertIn(("m.room.name", ""), types)
        self.assertIn(("m.room.member", self.uid("bob")), types)
        self.assertEqual(entry["summary"]["m.joined_member_count"], 2)
        self.assertNotIn("m.heroes", entry["summary"])  # the room has a name: none needed
        self.assertIn("unread_notifications", entry)
        for key in ("account_data", "presence", "to_device", "device_lists",
                    "device_one_time_keys_count"):
            self.assertIn(key, body)

    def test_incremental_only_new_events_and_txn_id(self):
        room = self.shared_room(self.bob)
        since_a = self.sync(self.alice)["next_batch"]
        since_b = self.sync(self.bob)["next_batch"]
        r = self.s.put(CS + f"/rooms/{q(room)}/send/m.room.message/mytxn1",
                       {"msgtype": "m.text", "body": "new"}, token=self.alice)
        self.assertEqual(r.status, 200, r)
        a = self.sync(self.alice, since_a)
        evs = self.timeline(a, room)
        self.assertEqual(self.bodies(evs), ["new"])
        self.assertEqual(evs[0]["unsigned"]["transaction_id"], "mytxn1")
        self.assertFalse(a["rooms"]["join"][room]["timeline"]["limited"])
        self.assertEqual(a["rooms"]["join"][room]["state"]["events"], [])
        b = self.sync(self.bob, since_b)
        evs = self.timeline(b, room)
        self.assertEqual(self.bodies(evs), ["new"])
        self.assertNotIn("transaction_id", evs[0]["unsigned"])
        # nothing new: an empty answer at once without timeout
        again = self.sync(self.alice, a["next_batch"])
        self.assertEqual(again["rooms"]["join"], {})

    def test_long_poll_woken_by_send(self):
        room = self.shared_room(self.bob)
        since = self.sync(self.bob)["next_batch"]
        out = {}

        def waiter():
            t0 = time.monotonic()
            out["body"] = self.sync(self.bob, since, timeout=20000)
            out["took"] = time.monotonic() - t0

        th = threading.Thread(target=waiter)
        th.start()
        time.sleep(0.3)
        self.msg(room, "wake up")
        th.join(30)
        self.assertFalse(th.is_alive())
        self.assertIn("wake up", self.bodies(self.timeline(out["body"], room)))
        self.assertLess(out["took"], 5)

    def test_invite_wakes_parked_sync(self):
        self.shared_room(self.bob)  # bob waits with a room, so his memberships are reused
        since = self.sync(self.bob)["next_batch"]
        out = {}

        def waiter():
            out["body"] = self.sync(self.bob, since, timeout=20000)

        th = threading.Thread(target=waiter)
        th.start()
        time.sleep(0.3)
        room = self.room(token=self.carol)
        r = self.s.post(CS + f"/rooms/{q(room)}/invite", {"user_id": self.uid("bob")},
                        token=self.carol)
        self.assertEqual(r.status, 200, r)
        th.join(30)
        self.assertIn(room, out["body"]["rooms"]["invite"])
        # and once joined, the next parked sync sees the room's messages
        self.join(room, self.bob)
        nb = self.sync(self.bob, out["body"]["next_batch"])["next_batch"]
        th = threading.Thread(target=lambda: out.update(body=self.sync(self.bob, nb,
                                                                         timeout=20000)))
        th.start()
        time.sleep(0.3)
        self.msg(room, "welcome", token=self.carol)
        th.join(30)
        self.assertIn("welcome", self.bodies(self.timeline(out["body"], room)))

    def test_long_poll_times_out_empty(self):
        self.shared_room(self.bob)
        since = self.sync(self.bob)["next_batch"]
        t0 = time.monotonic()
        body = self.sync(self.bob, since, timeout=400)
        took = time.monotonic() - t0
        self.assertGreaterEqual(took, 0.35)
        self.assertLess(took, 5)
        self.assertEqual(body["rooms"]["join"], {})
        self.assertEqual(body["next_batch"].split("_")[0], since.split("_")[0])

    def test_user_without_rooms_long_polls(self):
        tok = self.s.register("loner")["access_token"]
        since = self.sync(tok)["next_batch"]
        t0 = time.monotonic()
        body = self.sync(tok, since, timeout=300)
        self.assertGreaterEqual(time.monotonic() - t0, 0.25)
        self.assertEqual(body["rooms"]["join"], {})

    def test_unrelated_room_does_not_wake(self):
        mine = self.shared_room(self.bob)
        other = self.room(token=self.carol)
        since = self.sync(self.bob)["next_batch"]
        out = {}

        def waiter():
            t0 = time.monotonic()
            out["body"] = self.sync(self.bob, since, timeout=1500)
            out["took"] = time.monotonic() - t0

        th = threading.Thread(target=waiter)
        th.start()
        time.sleep(0.2)
        self.msg(other, "not for bob", token=self.carol)
        th.join(30)
        self.assertGreaterEqual(out["took"], 1.2)
        self.assertNotIn(other, out["body"]["rooms"]["join"])
        self.assertNotIn(mine, out["body"]["rooms"]["join"])

    def test_bad_input(self):
        for bad in ("garbage", "t1_2", "s1_2", "s-1_0_0", "s1_2_3x"):
            r = self.s.get(CS + "/sync", token=self.alice, query={"since": bad})
            self.assertError(r, 400, "M_INVALID_PARAM")
        r = self.s.get(CS + "/sync", token=self.alice, query={"timeout": "soon"})
        self.assertError(r, 400, "M_INVALID_PARAM")
        r = self.s.get(CS + "/sync", token=self.alice, query={"filter": "{not json"})
        self.assertError(r, 400, "M_BAD_JSON")
        r = self.s.get(CS + "/sync", token=self.alice, query={"filter": "99999"})
        self.assertError(r, 400, "M_INVALID_PARAM")
        r = self.s.get(CS + "/sync", token=self.alice, query={"set_presence": "busy"})
        self.assertError(r, 400, "M_INVALID_PARAM")
        r = self.s.get(CS + "/sync")
        self.assertError(r, 401, "M_MISSING_TOKEN")

    def test_gappy_timeline_and_back_pagination(self):
        room = self.shared_room(self.bob)
        since = self.sync(self.bob)["next_batch"]
        sent = [f"m{i}" for i in range(15)]
        for text in sent:
            self.msg(room, text)
        body = self.sync(self.bob, since, filter={"room": {"timeline": {"limit": 5}}})
        tl = body["rooms"]["join"][room]["timeline"]
        self.assertTrue(tl["limited"])
        self.assertEqual(self.bodies(tl["events"]), sent[-5:])
        r = self.s.get(CS + f"/rooms/{q(room)}/messages", token=self.bob,
                       query={"from": tl["prev_batch"], "dir": "b", "limit": "10"})
        self.assertEqual(r.status, 200, r)
        older = list(reversed(self.bodies(r["chunk"])))
        self.assertEqual(older, sent[:10])

    def test_messages_accepts_sync_tokens(self):
        room = self.shared_room(self.bob)
        since = self.sync(self.bob)["next_batch"]
        for text in ("x1", "x2", "x3"):
            self.msg(room, text)
        nb = self.sync(self.bob, since)["next_batch"]
        r = self.s.get(CS + f"/rooms/{q(room)}/messages", token=self.bob,
                       query={"from": nb, "dir": "b", "limit": "2"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.bodies(r["chunk"]), ["x3", "x2"])
        r = self.s.get(CS + f"/rooms/{q(room)}/messages", token=self.bob,
                       query={"from": since, "dir": "f", "limit": "10"})
        self.assertEqual(self.bodies(r["chunk"]), ["x1", "x2", "x3"])
        r = self.s.get(CS + f"/rooms/{q(room)}/messages", token=self.bob,
                       query={"from": "s1_x", "dir": "b"})
        self.assertError(r, 400, "M_INVALID_PARAM")  # a query parameter, not the body

    def test_bundled_aggregations_in_timeline(self):
        room = self.shared_room(self.bob)
        root = self.msg(room, "root")
        self.msg(room, "reply", token=self.bob,
                 **{"m.relates_to": {"rel_type": "m.thread", "event_id": root}})
        self.msg(room, "* rooted", **{"m.new_content": {"msgtype": "m.text", "body": "rooted"},
                                      "m.relates_to": {"rel_type": "m.replace", "event_id": root}})
        body = self.sync(self.bob, filter={"room": {"timeline": {"limit": 5}}})
        ev = [e for e in self.timeline(body, room) if e["event_id"] == root][0]
        rel = ev["unsigned"]["m.relations"]
        self.assertEqual(rel["m.thread"]["count"], 1)
        self.assertTrue(rel["m.thread"]["current_user_participated"])
        self.assertEqual(rel["m.replace"]["content"]["m.new_content"]["body"], "rooted")

    def test_invite_and_leave_sections(self):
        since_b = self.sync(self.bob)["next_batch"]
        room = self.room(name="Invitation")
        r = self.s.post(CS + f"/rooms/{q(room)}/invite", {"user_id": self.uid("bob")},
                        token=self.alice)
        self.assertEqual(r.status, 200, r)
        body = self.sync(self.bob, since_b)
        inv = body["rooms"]["invite"][room]["invite_state"]["events"]
        kinds = {(e["type"], e["state_key"]) for e in inv}
        self.assertIn(("m.room.name", ""), kinds)
        self.assertIn(("m.room.member", self.uid("bob")), kinds)
        self.join(room, self.bob)
        body = self.sync(self.bob, body["next_batch"])
        self.assertIn(room, body["rooms"]["join"])
        self.assertNotIn(room, body["rooms"]["invite"])
        # joined within the range: full state
        state = body["rooms"]["join"][room]["state"]["events"] + self.timeline(body, room)
        self.assertIn("m.room.create", {e["type"] for e in state})
        r = self.s.post(CS + f"/rooms/{q(room)}/leave", {}, token=self.bob)
        self.assertEqual(r.status, 200, r)
        left = self.sync(self.bob, body["next_batch"])
        self.assertIn(room, left["rooms"]["leave"])
        last = left["rooms"]["leave"][room]["timeline"]["events"][-1]
        self.assertEqual((last["type"], last["content"]["membership"]), ("m.room.member", "leave"))
        # initial sync: left rooms only with include_leave
        self.assertNotIn(room, self.sync(self.bob)["rooms"]["leave"])
        body = self.sync(self.bob, filter={"room": {"include_leave": True}})
        self.assertIn(room, body["rooms"]["leave"])


    def test_knock_section(self):
        room = self.room(name="Knock here", initial_state=[
            {"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": "knock"}}])
        since_a = self.sync(self.alice)["next_batch"]
        since = self.sync(self.carol)["next_batch"]
        r = self.s.post(CS + f"/knock/{q(room)}", {"reason": "let me in"}, token=self.carol)
        self.assertEqual(r.status, 200, r)
        body = self.sync(self.carol, since)
        kinds = {(e["type"], e["state_key"]) for e in
                 body["rooms"]["knock"][room]["knock_state"]["events"]}
        self.assertIn(("m.room.name", ""), kinds)
        self.assertIn(("m.room.member", self.uid("carol")), kinds)
        # the room's members see the knock in their timeline
        evs = self.timeline(self.sync(self.alice, since_a), room)
        self.assertEqual([(e["state_key"], e["content"]["membership"]) for e in evs
                          if e["type"] == "m.room.member"], [(self.uid("carol"), "knock")])


class Ephemeral(SyncBase):
    def test_typing_start_wake_and_stop(self):
        room = self.shared_room(self.bob)
        since = self.sync(self.bob)["next_batch"]
        out = {}

        def waiter():
            out["body"] = self.sync(self.bob, since, timeout=20000)

        th = threading.Thread(target=waiter)
        th.start()
        time.sleep(0.3)
        r = self.s.put(CS + f"/rooms/{q(room)}/typing/{q(self.uid('alice'))}",
                       {"typing": True, "timeout": 30000}, token=self.alice)
        self.assertEqual(r.status, 200, r)
        th.join(30)
        eph = out["body"]["rooms"]["join"][room]["ephemeral"]["events"]
        typing = [e for e in eph if e["type"] == "m.typing"]
        self.assertEqual(typing[0]["content"]["user_ids"], [self.uid("alice")])
        r = self.s.put(CS + f"/rooms/{q(room)}/typing/{q(self.uid('alice'))}",
                       {"typing": False}, token=self.alice)
        self.assertEqual(r.status, 200, r)
        body = self.sync(self.bob, out["body"]["next_batch"], timeout=5000)
        typing = [e for e in body["rooms"]["join"][room]["ephemeral"]["events"]
                  if e["type"] == "m.typing"]
        self.assertEqual(typing[0]["content"]["user_ids"], [])

    def test_typing_expires(self):
        room = self.shared_room(self.bob)
        r = self.s.put(CS + f"/rooms/{q(room)}/typing/{q(self.uid('alice'))}",
                       {"typing": True, "timeout": 300}, token=self.alice)
        self.assertEqual(r.status, 200, r)
        since = self.sync(self.bob)["next_batch"]
        body = self.sync(self.bob, since, timeout=5000)
        typing = [e for e in body["rooms"]["join"][room]["ephemeral"]["events"]
                  if e["type"] == "m.typing"]
        self.assertEqual(typing[0]["content"]["user_ids"], [])

    def test_typing_errors(self):
        room = self.room()
        r = self.s.put(CS + f"/rooms/{q(room)}/typing/{q(self.uid('bob'))}", {"typing": True},
                       token=self.bob)
        self.assertError(r, 403, "M_FORBIDDEN")
        r = self.s.put(CS + f"/rooms/{q(room)}/typing/{q(self.uid('bob'))}", {"typing": True},
                       token=self.alice)
        self.assertError(r, 403, "M_FORBIDDEN")
        r = self.s.put(CS + f"/rooms/{q(room)}/typing/{q(self.uid('alice'))}", {"typing": "yes"},
                       token=self.alice)
        self.assertError(r, 400, "M_BAD_JSON")

    def test_receipts_public_and_private(self):
        room = self.shared_room(self.bob)
        ev = self.msg(room, "read me")
        since_a = self.sync(self.alice)["next_batch"]
        r = self.s.post(CS + f"/rooms/{q(room)}/receipt/m.read/{q(ev)}", {}, token=self.bob)
        self.assertEqual(r.status, 200, r)
        body = self.sync(self.alice, since_a, timeout=5000)
        rc = [e for e in body["rooms"]["join"][room]["ephemeral"]["events"]
              if e["type"] == "m.receipt"][0]["content"]
        self.assertIn("ts", rc[ev]["m.read"][self.uid("bob")])
        since_a, since_b = body["next_batch"], self.sync(self.bob)["next_batch"]
        ev2 = self.msg(room, "private")
        r = self.s.post(CS + f"/rooms/{q(room)}/receipt/m.read.private/{q(ev2)}", {},
                        token=self.bob)
        self.assertEqual(r.status, 200, r)
        a = self.sync(self.alice, since_a)
        for e in a["rooms"]["join"].get(room, {}).get("ephemeral", {}).get("events", []):
            if e["type"] == "m.receipt":
                self.assertNotIn("m.read.private", json.dumps(e["content"]))
        b = self.sync(self.bob, since_b)
        rc = [e for e in b["rooms"]["join"][room]["ephemeral"]["events"]
              if e["type"] == "m.receipt"][0]["content"]
        self.assertIn(self.uid("bob"), rc[ev2]["m.read.private"])

    def test_receipt_errors(self):
        room = self.shared_room(self.bob)
        ev = self.msg(room, "x")
        base = CS + f"/rooms/{q(room)}/receipt"
        self.assertError(self.s.post(f"{base}/m.bogus/{q(ev)}", {}, token=self.bob), 400,
                         "M_INVALID_PARAM")
        self.assertError(self.s.post(f"{base}/m.read/{q(ev)}", {"thread_id": ""},
                                     token=self.bob), 400, "M_INVALID_PARAM")
        self.assertError(self.s.post(f"{base}/m.read/{q('$nope')}", {}, token=self.bob), 404,
                         "M_NOT_FOUND")
        self.assertError(self.s.post(f"{base}/m.read/{q(ev)}", {}, token=self.carol), 403,
                         "M_FORBIDDEN")

    def test_unread_counts_and_read_markers(self):
        room = self.shared_room(self.bob)
        since = self.sync(self.alice)["next_batch"]
        self.msg(room, "one", token=self.bob)
        self.msg(room, "two", token=self.bob)
        last = self.msg(room, "hey alice", token=self.bob,
                        **{"m.mentions": {"user_ids": [self.uid("alice")]}})
        body = self.sync(self.alice, since)
        counts = body["rooms"]["join"][room]["unread_notifications"]
        self.assertEqual(counts["notification_count"], 3)
        self.assertEqual(counts["highlight_count"], 1)  # the m.mentions of the last
        # the sender's own messages never count
        self.assertEqual(self.sync(self.bob)["rooms"]["join"][room]["unread_notifications"]
                         ["notification_count"], 0)
        r = self.s.post(CS + f"/rooms/{q(room)}/read_markers",
                        {"m.fully_read": last, "m.read": last}, token=self.alice)
        self.assertEqual(r.status, 200, r)
        body = self.sync(self.alice, body["next_batch"])
        entry = body["rooms"]["join"][room]
        self.assertEqual(entry["unread_notifications"]["notification_count"], 0)
        fully = [e for e in entry["account_data"]["events"] if e["type"] == "m.fully_read"]
        self.assertEqual(fully[0]["content"]["event_id"], last)

    def test_room_mention_by_creator_highlights(self):
        # in a version 12 room the creator has unlimited power without a power-levels entry
        room = self.shared_room(self.bob)
        since = self.sync(self.bob)["next_batch"]
        self.msg(room, "@room all hands", **{"m.mentions": {"room": True}})
        self.msg(room, "@room from bob", token=self.bob, **{"m.mentions": {"room": True}})
        a = self.sync(self.alice)["rooms"]["join"][room]["unread_notifications"]
        b = self.sync(self.bob, since)["rooms"]["join"][room]["unread_notifications"]
        self.assertEqual(b["highlight_count"], 1)  # alice may notify the room
        self.assertEqual(a["highlight_count"], 0)  # bob (power 0) may not

    def test_thread_counts(self):
        room = self.shared_room(self.bob)
        root = self.msg(room, "root", token=self.bob)
        since = self.sync(self.alice)["next_batch"]
        self.msg(room, "in thread", token=self.bob,
                 **{"m.relates_to": {"rel_type": "m.thread", "event_id": root}})
        body = self.sync(self.alice, since, filter={
            "room": {"timeline": {"unread_thread_notifications": True}}})
        entry = body["rooms"]["join"][room]
        self.assertEqual(entry["unread_thread_notifications"][root]["notification_count"], 1)
        self.assertEqual(entry["unread_notifications"]["notification_count"], 1)  # "root"


class AccountData(SyncBase):
    def test_global_and_room_account_data(self):
        me = q(self.uid("alice"))
        since = self.sync(self.alice)["next_batch"]
        r = self.s.put(CS + f"/user/{me}/account_data/org.example.prefs", {"theme": "dark"},
                       token=self.alice)
        self.assertEqual(r.status, 200, r)
        r = self.s.get(CS + f"/user/{me}/account_data/org.example.prefs", token=self.alice)
        self.assertEqual(r.body, {"theme": "dark"})
        body = self.sync(self.alice, since, timeout=5000)
        evs = body["account_data"]["events"]
        self.assertIn({"type": "org.example.prefs", "content": {"theme": "dark"}}, evs)
        room = self.room()
        since = body["next_batch"]
        r = self.s.put(CS + f"/user/{me}/rooms/{q(room)}/account_data/org.example.r",
                       {"x": 1}, token=self.alice)
        self.assertEqual(r.status, 200, r)
        body = self.sync(self.alice, since)
        self.assertEqual(body["rooms"]["join"][room]["account_data"]["events"],
                         [{"type": "org.example.r", "content": {"x": 1}}])
        r = self.s.get(CS + f"/user/{me}/rooms/{q(room)}/account_data/org.example.r",
                       token=self.alice)
        self.assertEqual(r.body, {"x": 1})

    def test_account_data_errors(self):
        me, bob = q(self.uid("alice")), q(self.uid("bob"))
        self.assertError(self.s.get(CS + f"/user/{me}/account_data/never.set", token=self.alice),
                         404, "M_NOT_FOUND")
        self.assertError(self.s.put(CS + f"/user/{bob}/account_data/x", {}, token=self.alice),
                         403, "M_FORBIDDEN")
        self.assertError(self.s.put(CS + f"/user/{me}/account_data/m.fully_read", {},
                                    token=self.alice), 405, "M_BAD_JSON")
        self.assertError(self.s.put(CS + f"/user/{me}/account_data/x", raw=b"[1]",
                                    token=self.alice), 400, "M_BAD_JSON")
        big = {"v": "x" * 70000}
        self.assertError(self.s.put(CS + f"/user/{me}/account_data/big", big, token=self.alice),
                         413, "M_TOO_LARGE")

    def test_tags(self):
        me = q(self.uid("alice"))
        room = self.room()
        base = CS + f"/user/{me}/rooms/{q(room)}/tags"
        self.assertEqual(self.s.get(base, token=self.alice).body, {"tags": {}})
        since = self.sync(self.alice)["next_batch"]
        r = self.s.put(base + "/m.favourite", {"order": 0.5}, token=self.alice)
        self.assertEqual(r.status, 200, r)
        r = self.s.put(base + "/u.work", {}, token=self.alice)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.s.get(base, token=self.alice).body,
                         {"tags": {"m.favourite": {"order": 0.5}, "u.work": {}}})
        body = self.sync(self.alice, since)
        tag = [e for e in body["rooms"]["join"][room]["account_data"]["events"]
               if e["type"] == "m.tag"][0]
        self.assertEqual(set(tag["content"]["tags"]), {"m.favourite", "u.work"})
        r = self.s.delete(base + "/u.work", token=self.alice)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.s.get(base, token=self.alice).body,
                         {"tags": {"m.favourite": {"order": 0.5}}})
        self.assertError(self.s.put(base + "/x", {"order": "first"}, token=self.alice), 400,
                         "M_BAD_JSON")


class Filters(SyncBase):
    def test_store_get_and_use(self):
        me = q(self.uid("alice"))
        f = {"room": {"timeline": {"limit": 2, "not_types": ["m.room.member"]}},
             "event_fields": ["type", "content.body", "event_id"]}
        r = self.s.post(CS + f"/user/{me}/filter", f, token=self.alice)
        self.assertEqual(r.status, 200, r)
        fid = r["filter_id"]
        self.assertEqual(self.s.get(CS + f"/user/{me}/filter/{fid}", token=self.alice).body, f)
        self.assertError(self.s.get(CS + f"/user/{me}/filter/424242", token=self.alice), 404,
                         "M_NOT_FOUND")
        self.assertError(self.s.get(CS + f"/user/{q(self.uid('bob'))}/filter/{fid}",
                                    token=self.alice), 403, "M_FORBIDDEN")
        room = self.room()
        for i in range(3):
            self.msg(room, f"f{i}")
        body = self.sync(self.alice, filter=fid)
        evs = self.timeline(body, room)
        self.assertEqual(len(evs), 2)
        for e in evs:
            self.assertLessEqual(set(e), {"type", "content", "event_id"})
            self.assertEqual(e["type"], "m.room.message")
        self.assertEqual([e["content"]["body"] for e in evs], ["f1", "f2"])

    def test_invalid_filters(self):
        me = q(self.uid("alice"))
        for bad in ({"room": {"timeline": {"limit": "ten"}}}, {"event_format": "xml"},
                    {"room": {"state": {"lazy_load_members": "yes"}}},
                    {"room": {"timeline": {"types": "m.room.message"}}}, {"presence": []}):
            r = self.s.post(CS + f"/user/{me}/filter", bad, token=self.alice)
            self.assertError(r, 400, "M_BAD_JSON")
        self.assertError(self.s.post(CS + f"/user/{q(self.uid('bob'))}/filter", {},
                                     token=self.alice), 403, "M_FORBIDDEN")

    def test_rooms_and_senders(self):
        a = self.shared_room(self.bob)
        b = self.shared_room(self.bob)
        self.msg(a, "from alice")
        self.msg(a, "from bob", token=self.bob)
        body = self.sync(self.bob, filter={"room": {"rooms": [a], "timeline": {
            "senders": [self.uid("bob")]}}})
        self.assertIn(a, body["rooms"]["join"])
        self.assertNotIn(b, body["rooms"]["join"])
        self.assertEqual(self.bodies(self.timeline(body, a)), ["from bob"])

    def test_lazy_loading_members(self):
        room = self.shared_room(self.bob, self.carol)
        self.msg(room, "only bob talks", token=self.bob)
        lazy = {"room": {"state": {"lazy_load_members": True}, "timeline": {"limit": 1}}}
        body = self.sync(self.alice, filter=lazy)
        entry = body["rooms"]["join"][room]
        members = {e["state_key"] for e in entry["state"]["events"]
                   if e["type"] == "m.room.member"}
        self.assertEqual(members, {self.uid("bob"), self.uid("alice")})
        self.assertEqual(entry["summary"]["m.joined_member_count"], 3)
        # without lazy loading every member is there
        full = self.sync(self.alice, filter={"room": {"timeline": {"limit": 1}}})
        members = {e["state_key"] for e in full["rooms"]["join"][room]["state"]["events"]
                   if e["type"] == "m.room.member"}
        self.assertEqual(members, {self.uid(n) for n in ("alice", "bob", "carol")})
        # incremental: a new speaker's member event comes with their message
        since = body["next_batch"]
        self.msg(room, "carol now", token=self.carol)
        inc = self.sync(self.alice, since, filter=lazy)
        members = {e["state_key"] for e in inc["rooms"]["join"][room]["state"]["events"]
                   if e["type"] == "m.room.member"}
        self.assertIn(self.uid("carol"), members)


class MembersAtSyncToken(SyncBase):
    def test_members_at_next_batch(self):
        # lazy-loading clients (matrix-js-sdk, Element) ask /members?at=<their next_batch>
        room = self.shared_room(self.bob)
        nb = self.sync(self.alice)["next_batch"]
        self.join(room, self.carol)
        path = CS + f"/rooms/{q(room)}/members"
        then = self.s.get(path + "?not_membership=leave&at=" + q(nb), token=self.alice)
        self.assertEqual(then.status, 200, then)
        self.assertEqual(sorted(e["state_key"] for e in then["chunk"]),
                         [self.uid("alice"), self.uid("bob")])
        now = self.s.get(path, token=self.alice)
        self.assertIn(self.uid("carol"), [e["state_key"] for e in now["chunk"]])
        # a token from before the room existed: nothing to show yet, not an error
        r = self.s.get(path + "?at=s1_0_0", token=self.alice)
        self.assertEqual(r.status, 200, r)
        r = self.s.get(path + "?at=garbage", token=self.alice)
        self.assertError(r, 400, "M_INVALID_PARAM")


class Presence(SyncBase):
    def test_presence_off_reveals_nothing(self):
        self.shared_room(self.bob)
        me = q(self.uid("alice"))
        r = self.s.put(CS + f"/presence/{me}/status", {"presence": "online",
                       "status_msg": "at my desk"}, token=self.alice)
        self.assertEqual(r.status, 200, r)
        r = self.s.get(CS + f"/presence/{me}/status", token=self.bob)
        self.assertEqual(r.body, {"presence": "offline"})
        self.assertEqual(self.sync(self.bob)["presence"]["events"], [])
        self.assertError(self.s.put(CS + f"/presence/{q(self.uid('bob'))}/status",
                                    {"presence": "online"}, token=self.alice), 403, "M_FORBIDDEN")


class PresenceOn(SyncBase):
    config = {"presence": {"enabled": True}}

    def test_presence_shared_with_room_members(self):
        self.shared_room(self.bob)
        since = self.sync(self.bob)["next_batch"]
        me = q(self.uid("alice"))
        r = self.s.put(CS + f"/presence/{me}/status", {"presence": "unavailable",
                       "status_msg": "in a meeting"}, token=self.alice)
        self.assertEqual(r.status, 200, r)
        body = self.sync(self.bob, since, timeout=5000, set_presence="offline")
        pres = [e for e in body["presence"]["events"] if e["sender"] == self.uid("alice")]
        self.assertEqual(pres[0]["content"]["presence"], "unavailable")
        self.assertEqual(pres[0]["content"]["status_msg"], "in a meeting")
        r = self.s.get(CS + f"/presence/{me}/status", token=self.bob)
        self.assertEqual(r["presence"], "unavailable")
        self.assertError(self.s.get(CS + f"/presence/{me}/status", token=self.carol), 403,
                         "M_FORBIDDEN")


class Restart(ServerTestCase):
    def test_token_survives_restart(self):
        s = self.s
        tok = s.register("dora")["access_token"]
        room = s.post(CS + "/createRoom", {}, token=tok)["room_id"]
        s.put(CS + f"/rooms/{q(room)}/send/m.room.message/a", {"msgtype": "m.text",
              "body": "before"}, token=tok)
        since = s.get(CS + "/sync", token=tok)["next_batch"]
        s.restart()  # a clean exit, then the same database again
        r = s.get(CS + "/sync", token=tok, query={"since": since})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r["rooms"]["join"], {})
        s.put(CS + f"/rooms/{q(room)}/send/m.room.message/b", {"msgtype": "m.text",
              "body": "after"}, token=tok)
        r = s.get(CS + "/sync", token=tok, query={"since": since, "timeout": "5000"})
        self.assertEqual([e["content"]["body"] for e in
                          r["rooms"]["join"][room]["timeline"]["events"]], ["after"])


class Shutdown(ServerTestCase):
    def test_parked_sync_answers_on_sigterm(self):
        s = self.s
        tok = s.register("erin")["access_token"]
        s.post(CS + "/createRoom", {}, token=tok)
        since = s.get(CS + "/sync", token=tok)["next_batch"]
        out = {}

        def waiter():
            t0 = time.monotonic()
            out["r"] = s.get(CS + "/sync", token=tok, query={"since": since, "timeout": "60000"},
                             timeout=90)
            out["took"] = time.monotonic() - t0

        th = threading.Thread(target=waiter)
        th.start()
        time.sleep(0.5)
        s.proc.send_signal(15)
        th.join(30)
        self.assertFalse(th.is_alive())
        self.assertEqual(out["r"].status, 200, out["r"])
        self.assertLess(out["took"], 20)
        s.proc.wait(timeout=60)
        self.assertEqual(s.proc.returncode, 0)
