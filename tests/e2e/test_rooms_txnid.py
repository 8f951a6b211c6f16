"""Client transaction IDs end to end (Client-Server API "Transaction identifiers"): a request
is a retransmission when the same device sends the same txnId on the same request path, and
only then. The same txnId on another path (another room, another event type, a redaction,
/sendToDevice) is a new request; a retransmission gets the first answer again, also after a
restart; /sync tells the sending device its transaction ID."""
import urllib.parse

from harness import ServerTestCase

CS = "/_matrix/client/v3"


def q(s):
    return urllib.parse.quote(s, safe="")


class TxnIds(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.alice = cls.server.register("alice")["access_token"]
        cls.bob = cls.server.register("bob")["access_token"]

    def room(self):
        r = self.s.post(CS + "/createRoom", {"preset": "public_chat"}, token=self.alice)
        self.assertEqual(r.status, 200, r)
        return r["room_id"]

    def put_msg(self, room, txn, body, etype="m.room.message", token=None):
        r = self.s.put(CS + f"/rooms/{q(room)}/send/{etype}/{q(txn)}",
                       {"msgtype": "m.text", "body": body}, token=token or self.alice)
        self.assertEqual(r.status, 200, r)
        return r["event_id"]

    def put_redact(self, room, target, txn):
        r = self.s.put(CS + f"/rooms/{q(room)}/redact/{q(target)}/{q(txn)}", {},
                       token=self.alice)
        self.assertEqual(r.status, 200, r)
        return r["event_id"]

    def timeline(self, room, token=None):
        r = self.s.get(CS + f"/rooms/{q(room)}/messages", token=token or self.alice,
                       query={"dir": "b", "limit": "50"})
        self.assertEqual(r.status, 200, r)
        return r["chunk"]

    def event(self, room, event_id):
        r = self.s.get(CS + f"/rooms/{q(room)}/event/{q(event_id)}", token=self.alice)
        self.assertEqual(r.status, 200, r)
        return r.body

    def test_same_txn_in_two_rooms_is_two_events(self):
        a, b = self.room(), self.room()
        ea = self.put_msg(a, "shared-1", "to room A")
        eb = self.put_msg(b, "shared-1", "to room B")
        self.assertNotEqual(ea, eb)
        self.assertEqual(self.event(a, ea)["content"]["body"], "to room A")
        self.assertEqual(self.event(b, eb)["content"]["body"], "to room B")
        self.assertEqual(self.event(b, eb)["room_id"], b)
        self.assertIn("to room B", [e["content"].get("body") for e in self.timeline(b)])
        # each path is still idempotent on its own
        self.assertEqual(self.put_msg(a, "shared-1", "to room A"), ea)
        self.assertEqual(self.put_msg(b, "shared-1", "to room B"), eb)

    def test_same_txn_for_another_event_type_is_another_event(self):
        room = self.room()
        e1 = self.put_msg(room, "typed-1", "a message")
        e2 = self.put_msg(room, "typed-1", "a notice", etype="org.example.custom")
        self.assertNotEqual(e1, e2)
        self.assertEqual(self.event(room, e2)["type"], "org.example.custom")

    def test_same_txn_for_message_and_redaction(self):
        room = self.room()
        target = self.put_msg(room, "t-target", "to be redacted")
        msg = self.put_msg(room, "both-1", "a message")
        red = self.put_redact(room, target, "both-1")
        self.assertNotEqual(msg, red)
        self.assertEqual(self.event(room, red)["type"], "m.room.redaction")
        self.assertEqual(self.event(room, target)["content"], {})  # redacted
        self.assertEqual(self.event(room, msg)["content"]["body"], "a message")
        # the redaction's retransmission is the same redaction; another target is another one
        self.assertEqual(self.put_redact(room, target, "both-1"), red)
        other = self.put_msg(room, "t-other", "also to be redacted")
        red2 = self.put_redact(room, other, "both-1")
        self.assertNotIn(red2, (msg, red))
        self.assertEqual(self.event(room, other)["content"], {})

    def test_retransmission_is_the_same_event(self):
        room = self.room()
        first = self.put_msg(room, "again-1", "only once")
        for _ in range(3):
            self.assertEqual(self.put_msg(room, "again-1", "only once"), first)
        bodies = [e["content"].get("body") for e in self.timeline(room)]
        self.assertEqual(bodies.count("only once"), 1)
        # another device of the same user: another transaction
        other = self.s.login("alice")["access_token"]
        self.assertNotEqual(self.put_msg(room, "again-1", "only once", token=other), first)

    def test_sync_transaction_id_for_the_sending_device_only(self):
        a, b = self.room(), self.room()
        r = self.s.post(CS + f"/rooms/{q(a)}/join", {}, token=self.bob)
        self.assertEqual(r.status, 200, r)
        since = self.s.get(CS + "/sync", token=self.alice, query={"timeout": "0"})["next_batch"]
        bob_since = self.s.get(CS + "/sync", token=self.bob,
                               query={"timeout": "0"})["next_batch"]
        ea = self.put_msg(a, "sync-1", "in A")
        eb = self.put_msg(b, "sync-1", "in B")
        r = self.s.get(CS + "/sync", token=self.alice, query={"since": since, "timeout": "0"})
        self.assertEqual(r.status, 200, r)
        for room, eid in ((a, ea), (b, eb)):
            evs = {e["event_id"]: e for e in r["rooms"]["join"][room]["timeline"]["events"]}
            self.assertEqual(evs[eid]["unsigned"].get("transaction_id"), "sync-1", evs[eid])
        r = self.s.get(CS + "/sync", token=self.bob, query={"since": bob_since, "timeout": "0"})
        evs = {e["event_id"]: e for e in r["rooms"]["join"][a]["timeline"]["events"]}
        self.assertNotIn("transaction_id", evs[ea].get("unsigned", {}))

    def test_to_device_same_txn_for_two_types(self):
        bob = self.s.login("bob")
        since = self.s.get(CS + "/sync", token=bob["access_token"],
                           query={"timeout": "0"})["next_batch"]
        body = {"messages": {bob["user_id"]: {bob["device_id"]: {"n": 1}}}}
        for etype in ("org.example.one", "org.example.two", "org.example.one"):
            r = self.s.put(CS + f"/sendToDevice/{etype}/td-1", body, token=self.alice)
            self.assertEqual(r.status, 200, r)
        r = self.s.get(CS + "/sync", token=bob["access_token"],
                       query={"since": since, "timeout": "0"})
        types = sorted(e["type"] for e in r["to_device"]["events"])
        self.assertEqual(types, ["org.example.one", "org.example.two"])

    def test_retransmission_after_restart(self):
        a, b = self.room(), self.room()
        ea = self.put_msg(a, "restart-1", "before the restart")
        target = self.put_msg(a, "restart-target", "redact me")
        red = self.put_redact(a, target, "restart-2")
        self.s.restart()
        self.assertEqual(self.put_msg(a, "restart-1", "before the restart"), ea)
        self.assertEqual(self.put_redact(a, target, "restart-2"), red)
        eb = self.put_msg(b, "restart-1", "after the restart")
        self.assertNotEqual(eb, ea)
        self.assertEqual(self.event(b, eb)["content"]["body"], "after the restart")
        bodies = [e["content"].get("body") for e in self.timeline(a)]
        self.assertEqual(bodies.count("before the restart"), 1)
