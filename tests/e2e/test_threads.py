"""GET /_matrix/client/v1/rooms/{roomId}/threads: thread roots ordered by latest activity,
include=participated, pagination, the bundled m.thread summary, and access rules."""
import urllib.parse

from harness import ServerTestCase

CS = "/_matrix/client/v3"
V1 = "/_matrix/client/v1"


def q(s):
    return urllib.parse.quote(s, safe="")


class TestThreads(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        s = cls.server
        cls.a = s.register("ta")["access_token"]
        cls.b = s.register("tb")["access_token"]
        cls.c = s.register("tc")["access_token"]
        cls.n = 0
        cls.room = s.post(CS + "/createRoom", {"preset": "public_chat"}, token=cls.a)["room_id"]
        s.post(CS + f"/rooms/{q(cls.room)}/join", {}, token=cls.b)
        cls.r1 = cls.send(cls.a, "root one")
        cls.r2 = cls.send(cls.b, "root two")
        cls.r3 = cls.send(cls.a, "root three")
        cls.send(cls.a, "not a thread")
        cls.send(cls.b, "reply 1", cls.r1)
        cls.send(cls.b, "reply 2", cls.r2)
        cls.send(cls.a, "reply 3", cls.r3)
        cls.send(cls.a, "reply 4", cls.r1)  # r1 is now the most recently active

    @classmethod
    def send(cls, tok, body, thread=None):
        cls.n += 1
        content = {"msgtype": "m.text", "body": body}
        if thread:
            content["m.relates_to"] = {"rel_type": "m.thread", "event_id": thread}
        r = cls.server.put(CS + f"/rooms/{q(cls.room)}/send/m.room.message/t{cls.n}", content,
                           token=tok)
        assert r.status == 200, r
        return r["event_id"]

    def threads(self, tok=None, **params):
        return self.s.get(V1 + f"/rooms/{q(self.room)}/threads?" +
                          urllib.parse.urlencode(params), token=tok or self.a)

    def test_order_and_summary(self):
        r = self.threads()
        self.assertEqual(r.status, 200, r)
        self.assertEqual([e["event_id"] for e in r["chunk"]], [self.r1, self.r3, self.r2])
        summary = r["chunk"][0]["unsigned"]["m.relations"]["m.thread"]
        self.assertEqual(summary["count"], 2)
        self.assertEqual(summary["latest_event"]["content"]["body"], "reply 4")
        self.assertTrue(summary["current_user_participated"])

    def test_participated_and_pages(self):
        r = self.threads(self.a, include="participated")
        # a started r1 and r3 and replied to r1 and r3; b's r2 only got b's reply
        self.assertEqual([e["event_id"] for e in r["chunk"]], [self.r1, self.r3])
        p1 = self.threads(limit="2")
        self.assertEqual(len(p1["chunk"]), 2)
        p2 = self.threads(limit="2", **{"from": p1["next_batch"]})
        self.assertEqual([e["event_id"] for e in p2["chunk"]], [self.r2])
        self.assertNotIn("next_batch", p2.body)

    def test_access_and_bad_input(self):
        self.assertError(self.threads(self.c), 403, "M_FORBIDDEN")
        self.assertError(self.threads(include="mine"), 400, "M_INVALID_PARAM")
        self.assertError(self.threads(limit="0"), 400, "M_INVALID_PARAM")
        self.assertError(self.threads(**{"from": "x"}), 400, "M_INVALID_PARAM")


class TestRelationsRecurse(ServerTestCase):
    def test_recurse(self):
        s = self.s
        tok = s.register("rr")["access_token"]
        room = s.post(CS + "/createRoom", {}, token=tok)["room_id"]

        def send(n, content, etype="m.room.message"):
            r = s.put(CS + f"/rooms/{q(room)}/send/{etype}/r{n}", content, token=tok)
            self.assertEqual(r.status, 200, r)
            return r["event_id"]

        root = send(1, {"msgtype": "m.text", "body": "root"})
        reply = send(2, {"msgtype": "m.text", "body": "reply", "m.relates_to": {
            "rel_type": "m.thread", "event_id": root}})
        react = send(3, {"m.relates_to": {"rel_type": "m.annotation", "event_id": reply,
                                          "key": "👍"}}, "m.reaction")
        base = V1 + f"/rooms/{q(room)}/relations/{q(root)}"
        r = s.get(base, token=tok)
        self.assertEqual([e["event_id"] for e in r["chunk"]], [reply])
        self.assertNotIn("recursion_depth", r.body)
        r = s.get(base + "?recurse=true", token=tok)
        self.assertEqual([e["event_id"] for e in r["chunk"]], [react, reply])
        self.assertEqual(r["recursion_depth"], 3)
        r = s.get(base + "/m.annotation?recurse=true", token=tok)
        self.assertEqual([e["event_id"] for e in r["chunk"]], [react])
        self.assertError(s.get(base + "?recurse=maybe", token=tok), 400, "M_INVALID_PARAM")
