"""POST /search: full-text search over the unencrypted messages, names and topics of the
rooms a user is in, with prefix matching, rank and recent ordering, pagination, filters,
context with profiles, groupings, include_state; redacted and encrypted events and other
people's rooms are never found; bad input gets clear errors."""
import time
import urllib.parse

from harness import ServerTestCase

CS = "/_matrix/client/v3"


def q(s):
    return urllib.parse.quote(s, safe="")


class TestSearch(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        s = cls.server
        cls.a = s.register("sa")["access_token"]
        cls.b = s.register("sb")["access_token"]
        cls.c = s.register("sc")["access_token"]
        cls.n = 0
        r = s.post(CS + "/createRoom", {"preset": "public_chat", "name": "Lagezentrum",
                                        "topic": "Koordination Hochwasser"}, token=cls.a)
        cls.room = r["room_id"]
        s.post(CS + f"/rooms/{q(cls.room)}/join", {}, token=cls.b)
        cls.room2 = s.post(CS + "/createRoom", {"preset": "private_chat"}, token=cls.a)["room_id"]
        cls.secret = s.post(CS + "/createRoom", {"preset": "private_chat"},
                            token=cls.c)["room_id"]
        s.put(CS + "/profile/@sb:test.local/displayname", {"displayname": "Beate"}, token=cls.b)
        cls.ev = {}
        for key, room, tok, body in (
                ("pegel", cls.room, cls.a, "Der Pegel am Rhein steigt weiter"),
                ("praes", cls.room, cls.b, "Die Präsidentin lädt zur Lagebesprechung"),
                ("pegel2", cls.room, cls.b, "Pegel Pegel Pegel: Rhein bei 7,5 m"),
                ("other", cls.room2, cls.a, "Pegelstand im zweiten Raum"),
                ("gone", cls.room, cls.a, "Pegel geheim, wird gelöscht"),
                ("hidden", cls.secret, cls.c, "Pegel in einem fremden Raum")):
            cls.ev[key] = cls.send(room, tok, body)
        s.put(CS + f"/rooms/{q(cls.room)}/redact/{q(cls.ev['gone'])}/red1", {}, token=cls.a)
        s.put(CS + f"/rooms/{q(cls.room)}/send/m.room.encrypted/enc1",
              {"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "Pegel", "sender_key": "k",
               "device_id": "D", "session_id": "s"}, token=cls.a)
        cls.wait_indexed()

    @classmethod
    def send(cls, room, tok, body):
        cls.n += 1
        r = cls.server.put(CS + f"/rooms/{q(room)}/send/m.room.message/s{cls.n}",
                           {"msgtype": "m.text", "body": body}, token=tok)
        assert r.status == 200, r
        return r["event_id"]

    @classmethod
    def wait_indexed(cls):
        deadline = time.time() + 10
        while time.time() < deadline:
            r = cls.server.post(CS + "/search", {"search_categories": {"room_events": {
                "search_term": "Pegelstand"}}}, token=cls.a)
            if r.status == 200 and r["search_categories"]["room_events"]["results"]:
                return
            time.sleep(0.1)
        raise AssertionError("the search index did not catch up within 10 s")

    def search(self, term, token=None, next_batch=None, **extra):
        path = CS + "/search" + (f"?next_batch={next_batch}" if next_batch else "")
        r = self.s.post(path, {"search_categories": {"room_events": {"search_term": term,
                                                                     **extra}}},
                        token=token or self.a)
        self.assertEqual(r.status, 200, r)
        return r["search_categories"]["room_events"]

    def ids(self, res):
        return [x["result"]["event_id"] for x in res["results"]]

    def test_words_prefixes_and_visibility(self):
        res = self.search("pegel")
        ids = self.ids(res)
        self.assertEqual(set(ids), {self.ev["pegel"], self.ev["pegel2"], self.ev["other"]})
        self.assertEqual(res["count"], 3)
        self.assertEqual(res["highlights"], ["pegel"])
        self.assertEqual(ids[0], self.ev["pegel2"])  # rank: three hits in one message
        # every word must match, each as a prefix; umlauts as written
        self.assertEqual(self.ids(self.search("rhein pegel")),
                         [self.ev["pegel2"], self.ev["pegel"]])
        self.assertEqual(self.ids(self.search("Präsid")), [self.ev["praes"]])
        self.assertEqual(self.ids(self.search("lagebespr")), [self.ev["praes"]])
        self.assertEqual(self.search("nichtvorhanden")["results"], [])
        self.assertEqual(self.search("  !!  ")["results"], [])
        # bob is not in room2: he does not find its message
        self.assertEqual(set(self.ids(self.search("pegel", token=self.b))),
                         {self.ev["pegel"], self.ev["pegel2"]})

    def test_names_topics_and_keys(self):
        res = self.search("hochwasser")
        self.assertEqual([x["result"]["type"] for x in res["results"]], ["m.room.topic"])
        res = self.search("lagezentrum", keys=["content.name"])
        self.assertEqual([x["result"]["type"] for x in res["results"]], ["m.room.name"])
        self.assertEqual(self.search("pegel", keys=["content.topic"])["results"], [])

    def test_recent_order_and_pagination(self):
        res = self.search("pegel", order_by="recent", filter={"limit": 2})
        self.assertEqual(self.ids(res), [self.ev["other"], self.ev["pegel2"]])
        self.assertIn("next_batch", res)
        res2 = self.search("pegel", order_by="recent", filter={"limit": 2},
                           next_batch=res["next_batch"])
        self.assertEqual(self.ids(res2), [self.ev["pegel"]])
        self.assertNotIn("next_batch", res2)

    def test_filter_rooms_and_senders(self):
        res = self.search("pegel", filter={"rooms": [self.room2]})
        self.assertEqual(self.ids(res), [self.ev["other"]])
        res = self.search("pegel", filter={"not_senders": ["@sb:test.local"]})
        self.assertEqual(set(self.ids(res)), {self.ev["pegel"], self.ev["other"]})
        self.assertEqual(self.search("pegel", filter={"rooms": [self.secret]})["results"], [])

    def test_context_groups_state(self):
        res = self.search("präsidentin", event_context={"before_limit": 1, "after_limit": 1,
                                                        "include_profile": True},
                          groupings={"group_by": [{"key": "room_id"}]}, include_state=True)
        (hit,) = res["results"]
        ctx = hit["context"]
        self.assertEqual([e["event_id"] for e in ctx["events_before"]], [self.ev["pegel"]])
        self.assertEqual([e["event_id"] for e in ctx["events_after"]], [self.ev["pegel2"]])
        self.assertEqual(ctx["profile_info"]["@sb:test.local"]["displayname"], "Beate")
        self.assertIn("start", ctx)
        self.assertEqual(res["groups"]["room_id"][self.room]["results"], [self.ev["praes"]])
        types = {e["type"] for e in res["state"][self.room]}
        self.assertIn("m.room.create", types)

    def test_bad_input(self):
        for body in ({}, {"search_categories": []},
                     {"search_categories": {"room_events": {}}},
                     {"search_categories": {"room_events": {"search_term": 5}}},
                     {"search_categories": {"room_events": {"search_term": "x",
                                                            "filter": {"rooms": "x"}}}}):
            r = self.s.post(CS + "/search", body, token=self.a)
            self.assertError(r, 400, "M_BAD_JSON")
        r = self.s.post(CS + "/search", {"search_categories": {"room_events": {
            "search_term": "x", "order_by": "random"}}}, token=self.a)
        self.assertError(r, 400, "M_INVALID_PARAM")
        r = self.s.post(CS + "/search?next_batch=abc", {"search_categories": {"room_events": {
            "search_term": "x"}}}, token=self.a)
        self.assertError(r, 400, "M_INVALID_PARAM")
        r = self.s.post(CS + "/search", {"search_categories": {}}, token=self.a)
        self.assertEqual(r.body, {"search_categories": {}})
