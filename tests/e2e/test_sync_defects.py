"""/sync defects an established integration suite found (issue 16, the sync part), each in
room versions 10 and 12: a join->join membership change must not restart the room; filters
apply before the timeline limit and keep the state of the window; m.ignored_user_list hides
the ignored users' invites and messages (/sync, /messages, /context) but not their state;
lazy-loaded members are not resent to a device that has them, and /context lazy-loads;
device_lists.changed learns of new logins and keeps a user-signing key private; a newly
joined room carries no empty m.typing."""
import json
import urllib.parse

from harness import ServerTestCase
from test_keys import CrossSigning, add_sig

CS = "/_matrix/client/v3"


def q(s):
    return urllib.parse.quote(s, safe="")


class Base:
    room_version = "12"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tok = {n: cls.server.register(n)["access_token"]
                   for n in ("alice", "bob", "carol", "dave")}
        cls.n = 0

    def uid(self, name):
        return f"@{name}:test.local"

    def txn(self):
        type(self).n += 1
        return f"t{self.n}"

    def room(self, owner="alice", *joiners, **body):
        body.setdefault("preset", "public_chat")
        body["room_version"] = self.room_version
        r = self.s.post(CS + "/createRoom", body, token=self.tok[owner])
        self.assertEqual(r.status, 200, r)
        for j in joiners:
            self.join(r["room_id"], j)
        return r["room_id"]

    def join(self, room, who):
        r = self.s.post(CS + f"/rooms/{q(room)}/join", {}, token=self.tok[who])
        self.assertEqual(r.status, 200, r)

    def send(self, room, who, etype="m.room.message", content=None):
        content = content if content is not None else {"msgtype": "m.text", "body": "x"}
        r = self.s.put(CS + f"/rooms/{q(room)}/send/{etype}/{self.txn()}", content,
                       token=self.tok[who])
        self.assertEqual(r.status, 200, r)
        return r["event_id"]

    def msg(self, room, who, text, **extra):
        return self.send(room, who, content={"msgtype": "m.text", "body": text, **extra})

    def state(self, room, who, etype, key, content):
        r = self.s.put(CS + f"/rooms/{q(room)}/state/{etype}/{q(key)}", content,
                       token=self.tok[who])
        self.assertEqual(r.status, 200, r)
        return r["event_id"]

    def sync(self, who, since=None, filter=None, token=None, **params):
        query = dict(params)
        if since:
            query["since"] = since
        if filter is not None:
            query["filter"] = json.dumps(filter)
        r = self.s.get(CS + "/sync", token=token or self.tok[who], query=query, timeout=60)
        self.assertEqual(r.status, 200, r)
        return r.body

    def entry(self, body, room):
        return body["rooms"]["join"].get(room, {})

    def tl(self, body, room):
        return self.entry(body, room).get("timeline", {}).get("events", [])

    def st(self, body, room):
        return self.entry(body, room).get("state", {}).get("events", [])

    def bodies(self, events):
        return [e["content"].get("body") for e in events if e["type"] == "m.room.message"]

    def members(self, events):
        return {e["state_key"] for e in events if e["type"] == "m.room.member"}


# --- 1. join -> join --------------------------------------------------------------------------

class JoinJoin:
    def test_displayname_change_is_incremental(self):
        room = self.room("alice", "bob")
        self.msg(room, "alice", "before")
        since = self.sync("bob")["next_batch"]
        r = self.s.put(CS + f"/profile/{q(self.uid('bob'))}/displayname",
                       {"displayname": "Bobby"}, token=self.tok["bob"])
        self.assertEqual(r.status, 200, r)
        inc = self.sync("bob", since)
        evs = self.tl(inc, room)
        self.assertEqual([(e["type"], e.get("state_key")) for e in evs],
                         [("m.room.member", self.uid("bob"))], evs)
        self.assertEqual(evs[0]["content"]["displayname"], "Bobby")
        self.assertFalse(self.entry(inc, room)["timeline"]["limited"])
        self.assertEqual(self.st(inc, room), [])

    def test_second_join_is_incremental(self):
        room = self.room("alice", "bob")
        self.msg(room, "alice", "before")
        since = self.sync("bob")["next_batch"]
        self.join(room, "bob")
        self.msg(room, "alice", "after")
        inc = self.sync("bob", since)
        types = [e["type"] for e in self.tl(inc, room)]
        self.assertNotIn("m.room.create", types)
        self.assertEqual(self.bodies(self.tl(inc, room)), ["after"])
        self.assertEqual(self.st(inc, room), [])
        # a real rejoin (leave, then join) still starts the room from scratch
        since = inc["next_batch"]
        self.assertEqual(self.s.post(CS + f"/rooms/{q(room)}/leave", {},
                                     token=self.tok["bob"]).status, 200)
        self.join(room, "bob")
        again = self.sync("bob", since)
        seen = {(e["type"], e.get("state_key")) for e in self.tl(again, room) +
                self.st(again, room)}
        self.assertIn(("m.room.create", ""), seen)


# --- 2. filters before the limit --------------------------------------------------------------

class FilterWindow:
    def test_members_in_state_with_message_timeline(self):
        room = self.room("alice", "bob", "carol")
        for i in range(3):
            self.msg(room, "bob", f"m{i}")
        f = {"room": {"timeline": {"types": ["m.room.message"], "limit": 10},
                      "state": {"types": ["m.room.member"]}}}
        body = self.sync("alice", filter=f)
        self.assertEqual(self.bodies(self.tl(body, room)), ["m0", "m1", "m2"])
        self.assertEqual({e["type"] for e in self.tl(body, room)}, {"m.room.message"})
        self.assertEqual(self.members(self.st(body, room)),
                         {self.uid(n) for n in ("alice", "bob", "carol")})
        self.assertEqual({e["type"] for e in self.st(body, room)}, {"m.room.member"})

    def test_limit_filled_from_matching_events(self):
        room = self.room("alice", "bob")
        for i in range(3):
            self.msg(room, "bob", f"b{i}")
        self.send(room, "alice", "m.room.message", {"msgtype": "m.image", "body": "pic",
                                                     "url": "mxc://test.local/abc"})
        for i in range(12):
            self.send(room, "alice", "x.noise", {"i": i})
        for i in range(3):
            self.msg(room, "alice", f"a{i}")
        cases = [
            ({"types": ["m.room.message"], "limit": 4}, ["pic", "a0", "a1", "a2"], True),
            ({"not_types": ["x.*"], "limit": 4}, ["pic", "a0", "a1", "a2"], True),
            ({"senders": [self.uid("bob")], "limit": 3}, ["b0", "b1", "b2"], True),
            ({"not_senders": [self.uid("alice")], "types": ["m.room.message"], "limit": 3},
             ["b0", "b1", "b2"], False),
            ({"contains_url": True, "limit": 2}, ["pic"], False),
        ]
        for tf, want, _ in cases:
            body = self.sync("bob", filter={"room": {"timeline": tf}})
            evs = self.tl(body, room)
            self.assertEqual(self.bodies(evs), want, tf)
            self.assertEqual(len(evs), len(want), (tf, evs))
        # contains_url false: everything but the picture
        body = self.sync("bob", filter={"room": {"timeline": {"contains_url": False,
                                                               "types": ["m.room.message"],
                                                               "limit": 4}}})
        self.assertEqual(self.bodies(self.tl(body, room)), ["b2", "a0", "a1", "a2"])
        # the filter's prev_batch continues through /messages with the same filter
        tf = {"types": ["m.room.message"], "limit": 2}
        body = self.sync("bob", filter={"room": {"timeline": tf}})
        self.assertTrue(self.entry(body, room)["timeline"]["limited"])
        r = self.s.get(CS + f"/rooms/{q(room)}/messages", token=self.tok["bob"], query={
            "dir": "b", "limit": "3", "from": self.entry(body, room)["timeline"]["prev_batch"],
            "filter": json.dumps(tf)})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.bodies(r["chunk"]), ["a0", "pic", "b2"])

    def test_rooms_and_not_rooms(self):
        a = self.room("alice", "bob")
        b = self.room("alice", "bob")
        self.msg(a, "alice", "in a")
        self.msg(b, "alice", "in b")
        body = self.sync("bob", filter={"room": {"not_rooms": [a]}})
        self.assertNotIn(a, body["rooms"]["join"])
        self.assertIn("in b", self.bodies(self.tl(body, b)))
        body = self.sync("bob", filter={"room": {"timeline": {"rooms": [b]}}})
        self.assertEqual(self.tl(body, a), [])
        self.assertIn("in b", self.bodies(self.tl(body, b)))

    def test_incremental_state_of_filtered_events(self):
        room = self.room("alice", "bob")
        f = {"room": {"timeline": {"types": ["m.room.message"]}}}
        since = self.sync("bob", filter=f)["next_batch"]
        topic = self.state(room, "alice", "m.room.topic", "", {"topic": "hidden by filter"})
        self.msg(room, "alice", "after the topic")
        inc = self.sync("bob", since, filter=f)
        self.assertEqual(self.bodies(self.tl(inc, room)), ["after the topic"])
        self.assertIn(topic, [e["event_id"] for e in self.st(inc, room)])
        # with only the state event in the range, the room still reports it
        since = inc["next_batch"]
        topic2 = self.state(room, "alice", "m.room.topic", "", {"topic": "again"})
        inc = self.sync("bob", since, filter=f)
        self.assertEqual(self.tl(inc, room), [])
        self.assertEqual([e["event_id"] for e in self.st(inc, room)], [topic2])

    def test_messages_filter_fills_limit(self):
        room = self.room("alice", "bob")
        self.msg(room, "bob", "old")
        for i in range(30):
            self.send(room, "alice", "x.noise", {"i": i})
        r = self.s.get(CS + f"/rooms/{q(room)}/messages", token=self.tok["bob"], query={
            "dir": "b", "limit": "2",
            "filter": json.dumps({"types": ["m.room.message"]})})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.bodies(r["chunk"]), ["old"])
        r = self.s.get(CS + f"/rooms/{q(room)}/messages", token=self.tok["bob"], query={
            "dir": "b", "limit": "3",
            "filter": json.dumps({"senders": [self.uid("alice")], "not_types": ["x.noise"]})})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(r["chunk"]), 3, r)
        self.assertTrue(all(e["type"] != "x.noise" for e in r["chunk"]))


    def test_context_filter_fills(self):
        room = self.room("alice", "bob")
        self.msg(room, "bob", "earlier")
        for i in range(25):
            self.send(room, "alice", "x.noise", {"i": i})
        target = self.msg(room, "bob", "target")
        for i in range(25):
            self.send(room, "alice", "x.noise", {"i": i})
        self.msg(room, "bob", "later")
        r = self.s.get(CS + f"/rooms/{q(room)}/context/{q(target)}", token=self.tok["bob"],
                       query={"limit": "2", "filter": json.dumps({"types": ["m.room.message"]})})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.bodies(r["events_before"]), ["earlier"])
        self.assertEqual(self.bodies(r["events_after"]), ["later"])


# --- 3. m.ignored_user_list -------------------------------------------------------------------

class Ignoring:
    def ignore(self, who, *users):
        r = self.s.put(CS + f"/user/{q(self.uid(who))}/account_data/m.ignored_user_list",
                       {"ignored_users": {self.uid(u): {} for u in users}}, token=self.tok[who])
        self.assertEqual(r.status, 200, r)

    def test_ignored_messages_and_invites(self):
        room = self.room("alice", "dave", "carol")
        self.msg(room, "dave", "before ignoring")
        self.ignore("alice", "dave")
        try:
            since = self.sync("alice")["next_batch"]
            self.assertNotIn("before ignoring",
                             self.bodies(self.tl(self.sync("alice"), room)))
            for i in range(3):
                self.msg(room, "carol", f"c{i}")
            for i in range(12):
                self.msg(room, "dave", f"d{i}")
            topic = self.state(room, "dave", "m.room.member", self.uid("dave"),
                               {"membership": "join", "displayname": "still seen"})
            inv = self.room("dave")
            self.assertEqual(self.s.post(CS + f"/rooms/{q(inv)}/invite",
                                         {"user_id": self.uid("alice")},
                                         token=self.tok["dave"]).status, 200)
            inc = self.sync("alice", since, filter={"room": {"timeline": {"limit": 4}}})
            evs = self.tl(inc, room)
            self.assertEqual(self.bodies(evs), ["c0", "c1", "c2"])
            self.assertIn(topic, [e["event_id"] for e in evs])
            # their messages do not count as unread (the one from before ignoring does)
            self.assertEqual(self.entry(inc, room)["unread_notifications"]
                             ["notification_count"], 4)
            self.assertNotIn(inv, inc["rooms"]["invite"])
            self.assertNotIn(inv, self.sync("alice")["rooms"]["invite"])
            # the ignoring user learns the list in account data
            full = self.sync("alice")
            ad = {e["type"]: e["content"] for e in full["account_data"]["events"]}
            self.assertIn(self.uid("dave"), ad["m.ignored_user_list"]["ignored_users"])
            # /messages and /context leave them out too
            r = self.s.get(CS + f"/rooms/{q(room)}/messages", token=self.tok["alice"],
                           query={"dir": "b", "limit": "5"})
            self.assertEqual(r.status, 200, r)
            self.assertEqual(len(r["chunk"]), 5)
            self.assertFalse([e for e in r["chunk"] if e["sender"] == self.uid("dave")
                              and "state_key" not in e], r["chunk"])
            c2 = [e for e in evs if e["content"].get("body") == "c2"][0]
            r = self.s.get(CS + f"/rooms/{q(room)}/context/{q(c2['event_id'])}",
                           token=self.tok["alice"], query={"limit": "6"})
            self.assertEqual(r.status, 200, r)
            around = r["events_before"] + r["events_after"]
            self.assertFalse([e for e in around if e["sender"] == self.uid("dave")
                              and "state_key" not in e], around)
            # un-ignoring: new messages come again, the missed ones do not
            since = inc["next_batch"]
            self.ignore("alice")
            self.msg(room, "dave", "heard again")
            inc = self.sync("alice", since)
            self.assertEqual(self.bodies(self.tl(inc, room)), ["heard again"])
        finally:
            self.ignore("alice")


# --- 4. lazy-loading members ------------------------------------------------------------------

class LazyMembers:
    LAZY = {"room": {"state": {"lazy_load_members": True}}}

    def test_members_sent_once_per_device(self):
        room = self.room("alice", "bob", "carol")
        self.msg(room, "bob", "hi")
        first = {"room": {"state": {"lazy_load_members": True}, "timeline": {"limit": 1}}}
        body = self.sync("alice", filter=first)
        self.assertEqual(self.members(self.st(body, room)), {self.uid("alice"), self.uid("bob")})
        since = body["next_batch"]
        self.msg(room, "bob", "again")
        self.msg(room, "carol", "me too")
        inc = self.sync("alice", since, filter=self.LAZY)
        self.assertEqual(self.members(self.st(inc, room)), {self.uid("carol")})
        since = inc["next_batch"]
        self.msg(room, "bob", "third")
        self.msg(room, "carol", "fourth")
        inc = self.sync("alice", since, filter=self.LAZY)
        self.assertEqual(self.members(self.st(inc, room)), set())
        # include_redundant_members: everyone the timeline needs
        red = {"room": {"state": {"lazy_load_members": True, "include_redundant_members": True}}}
        since2 = inc["next_batch"]
        self.msg(room, "bob", "fifth")
        inc2 = self.sync("alice", since2, filter=red)
        self.assertEqual(self.members(self.st(inc2, room)), {self.uid("bob")})
        # another device has its own record
        other = self.s.login("alice")["access_token"]
        first = self.sync("alice", token=other, filter=first)
        self.msg(room, "carol", "sixth")
        inc3 = self.sync("alice", first["next_batch"], token=other, filter=self.LAZY)
        self.assertEqual(self.members(self.st(inc3, room)), {self.uid("carol")})
        # a changed member event is sent again (here in the timeline), then not repeated
        since = self.sync("alice", inc2["next_batch"], filter=self.LAZY)["next_batch"]
        self.state(room, "bob", "m.room.member", self.uid("bob"),
                   {"membership": "join", "displayname": "B"})
        self.msg(room, "bob", "renamed")
        inc4 = self.sync("alice", since, filter=self.LAZY)
        self.assertIn(self.uid("bob"), self.members(self.tl(inc4, room)))
        self.assertEqual(self.members(self.st(inc4, room)), set())
        # a fresh initial sync starts over: the members come again
        body = self.sync("alice", filter=self.LAZY)
        self.assertIn(self.uid("bob"), self.members(self.st(body, room)) |
                      self.members(self.tl(body, room)))
        since = body["next_batch"]
        self.msg(room, "bob", "after reset")
        self.assertEqual(self.members(self.st(self.sync("alice", since, filter=self.LAZY),
                                              room)), set())

    def test_context_lazy_loads(self):
        room = self.room("alice", "bob", "carol", "dave")
        ev = self.msg(room, "bob", "in context")
        lazy = json.dumps({"lazy_load_members": True})
        r = self.s.get(CS + f"/rooms/{q(room)}/context/{q(ev)}", token=self.tok["alice"],
                       query={"limit": "0", "filter": lazy})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.members(r["state"]), {self.uid("bob")})
        r = self.s.get(CS + f"/rooms/{q(room)}/context/{q(ev)}", token=self.tok["alice"],
                       query={"limit": "0"})
        self.assertEqual(self.members(r["state"]),
                         {self.uid(n) for n in ("alice", "bob", "carol", "dave")})


    def test_messages_lazy_loads(self):
        room = self.room("alice", "bob", "carol", "dave")
        self.msg(room, "carol", "older")
        self.msg(room, "bob", "newest")
        lazy = json.dumps({"lazy_load_members": True})
        r = self.s.get(CS + f"/rooms/{q(room)}/messages", token=self.tok["alice"],
                       query={"dir": "b", "limit": "2", "filter": lazy})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.members(r["state"]), {self.uid("bob"), self.uid("carol")})
        r = self.s.get(CS + f"/rooms/{q(room)}/messages", token=self.tok["alice"],
                       query={"dir": "b", "limit": "2"})
        self.assertNotIn("state", r.body)


# --- 5. device lists --------------------------------------------------------------------------

class DeviceLists:
    def test_new_login_is_a_change(self):
        self.room("alice", "bob")
        since_b = self.sync("bob")["next_batch"]
        since_a = self.sync("alice")["next_batch"]
        self.s.login("alice")  # a new device, no keys uploaded
        self.assertIn(self.uid("alice"), self.sync("bob", since_b)["device_lists"]["changed"])
        self.assertIn(self.uid("alice"), self.sync("alice", since_a)["device_lists"]["changed"])

    def test_user_signing_key_is_private(self):
        self.room("carol", "dave")
        cs = CrossSigning(self.uid("carol"))
        r = self.s.post(CS + "/keys/device_signing/upload", cs.upload_body(),
                        token=self.tok["carol"])
        self.assertEqual(r.status, 200, r)
        since_d = self.sync("dave")["next_batch"]
        since_c = self.sync("carol")["next_batch"]
        cs2 = CrossSigning(self.uid("carol"))
        cs2.master = cs.master
        body = {"user_signing_key": cs2.key(cs2.us, "user_signing", cs2.master)}
        r = self.s.post(CS + "/keys/device_signing/upload", body, token=self.tok["carol"])
        self.assertEqual(r.status, 401, r)
        body["auth"] = {"type": "m.login.password", "session": r["session"],
                        "password": "correct horse battery",
                        "identifier": {"type": "m.id.user", "user": self.uid("carol")}}
        r = self.s.post(CS + "/keys/device_signing/upload", body, token=self.tok["carol"])
        self.assertEqual(r.status, 200, r)
        self.assertNotIn(self.uid("carol"), self.sync("dave", since_d)["device_lists"]["changed"])
        self.assertIn(self.uid("carol"), self.sync("carol", since_c)["device_lists"]["changed"])
        ch = self.s.get(CS + "/keys/changes", token=self.tok["dave"],
                        query={"from": since_d, "to": self.sync("dave")["next_batch"]})
        self.assertEqual(ch.status, 200, ch)
        self.assertNotIn(self.uid("carol"), ch["changed"])
        # carol signs dave's master key with her user-signing key: only carol learns of it
        dcs = CrossSigning(self.uid("dave"))
        r = self.s.post(CS + "/keys/device_signing/upload", dcs.upload_body(),
                        token=self.tok["dave"])
        self.assertEqual(r.status, 200, r)
        since_d = self.sync("dave")["next_batch"]
        since_c = self.sync("carol")["next_batch"]
        signed = add_sig(dcs.key(dcs.master, "master"), self.uid("carol"), cs2.us)
        r = self.s.post(CS + "/keys/signatures/upload",
                        {self.uid("dave"): {dcs.master.public_key: signed}},
                        token=self.tok["carol"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r["failures"], {}, r)
        self.assertIn(self.uid("dave"), self.sync("carol", since_c)["device_lists"]["changed"])
        self.assertEqual(self.sync("dave", since_d)["device_lists"]["changed"], [])


# --- 6. ephemeral ------------------------------------------------------------------------------

class Ephemeral:
    def test_newly_joined_room_has_no_empty_typing(self):
        room = self.room("alice")
        since = self.sync("bob")["next_batch"]
        self.join(room, "bob")
        inc = self.sync("bob", since)
        eph = self.entry(inc, room).get("ephemeral", {}).get("events", [])
        self.assertFalse([e for e in eph if e["type"] == "m.typing"
                          and not e["content"]["user_ids"]], eph)
        init = self.sync("bob")
        eph = self.entry(init, room).get("ephemeral", {}).get("events", [])
        self.assertFalse([e for e in eph if e["type"] == "m.typing"
                          and not e["content"]["user_ids"]], eph)


class SyncDefectsV10(JoinJoin, FilterWindow, Ignoring, LazyMembers, DeviceLists, Ephemeral,
                    Base, ServerTestCase):
    room_version = "10"


class SyncDefectsV12(JoinJoin, FilterWindow, Ignoring, LazyMembers, DeviceLists, Ephemeral,
                    Base, ServerTestCase):
    room_version = "12"
