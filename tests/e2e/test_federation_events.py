"""Federation event retrieval (issue 13): three instances on loopback behind TLS fronts
(fedharness.py). Alice on A writes history in a public room; Bob on B joins over federation
and pages /messages back into the history from before his join, which B fetches from A with
/backfill (stored below the join, never in /sync as new). Hand-signed requests check A's
answers to /event, /state, /state_ids, /event_auth, /backfill and /get_missing_events for B
(in the room) and C (not in the room: 403). Finally a PDU whose prev event B lacks is sent to
B in a transaction, and B completes it with /get_missing_events from A."""
import base64
import hashlib
import os
import time
import unittest
import urllib.parse

from fedharness import FedServer, FedTestCase, b64, canonical

CS = "/_matrix/client/v3"
FED = "/_matrix/federation"
WAIT_S = 30
EARLY = 15
BACKFILL_LINE = "GET /_matrix/federation/v1/backfill/"  # in A's access log
GME_LINE = "POST /_matrix/federation/v1/get_missing_events/"


def q(s):
    return urllib.parse.quote(s, safe="")


def b64u(data):
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


class TestFederationEvents(FedTestCase):
    PREFIX = "amtsbote-fedevents-"
    INSTANCES = {"A": FedServer, "B": FedServer, "C": FedServer}

    @classmethod
    def after_start(cls):
        cls.tok = {}
        for srv, name in ((cls.A, "alice"), (cls.B, "bob"), (cls.C, "cyril")):
            srv.register(name)
            cls.tok[name] = srv.login(name)["access_token"]
        r = cls.A.post(f"{CS}/createRoom", {"preset": "public_chat", "room_version": "10"},
                       token=cls.tok["alice"])
        assert r.status == 200, r
        cls.room = r["room_id"]
        cls.early = []
        for i in range(EARLY):
            r = cls.A.put(f"{CS}/rooms/{q(cls.room)}/send/m.room.message/e{i}",
                          {"msgtype": "m.text", "body": f"early {i}"}, token=cls.tok["alice"])
            assert r.status == 200, r
            cls.early.append(r["event_id"])
        r = cls.B.post(f"{CS}/join/{q(cls.room)}?server_name={q(cls.A.server_name)}", {},
                       token=cls.tok["bob"])
        assert r.status == 200, f"{r}\n{cls.B.read_log()[-3000:]}"

    def fed_get(self, asker, path):
        return self.A.fed_request("GET", path, asker.key, asker.server_name)

    def bodies(self, chunk):
        return [e["content"].get("body") for e in chunk if e["type"] == "m.room.message"]

    def page_back(self, room, limit):
        """Bob pages /messages on B back to the start of the room (at most 10 pages): the
        message bodies seen (None for redacted ones) and whether the start was reached."""
        seen, frm = [], None
        for _ in range(10):  # bounded paging
            path = f"{CS}/rooms/{q(room)}/messages?dir=b&limit={limit}"
            if frm:
                path += f"&from={q(frm)}"
            r = self.B.get(path, token=self.tok["bob"])
            self.assertEqual(r.status, 200, f"{r}\n{self.B.read_log()[-3000:]}")
            seen += self.bodies(r["chunk"])
            if "end" not in r.body or any(e["type"] == "m.room.create" for e in r["chunk"]):
                return seen, True
            frm = r["end"]
        return seen, False

    # --- serving, to a server in the room and to one that is not --------------------------
    def test_event_and_state_ids_answer_servers_in_the_room_only(self):
        eid = self.early[3]
        r = self.fed_get(self.B, f"{FED}/v1/event/{q(eid)}")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r["origin"], self.A.server_name)
        self.assertEqual(len(r["pdus"]), 1)
        pdu = r["pdus"][0]
        self.assertEqual(pdu["content"]["body"], "early 3")
        self.assertNotIn("event_id", pdu)  # room version 10
        self.assertNotIn("unsigned", pdu)
        self.assertIn(self.A.server_name, pdu["signatures"])

        r = self.fed_get(self.B, f"{FED}/v1/state_ids/{q(self.room)}?event_id={q(eid)}")
        self.assertEqual(r.status, 200, r)
        self.assertGreaterEqual(len(r["pdu_ids"]), 5)  # create, alice, power, join rules, ...
        self.assertGreaterEqual(len(r["auth_chain_ids"]), 3)
        self.assertNotIn(eid, r["pdu_ids"])
        ids = set(r["pdu_ids"])
        r = self.fed_get(self.B, f"{FED}/v1/state/{q(self.room)}?event_id={q(eid)}")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(r["pdus"]), len(ids))
        types = {p["type"] for p in r["pdus"]}
        self.assertIn("m.room.create", types)
        self.assertIn("m.room.power_levels", types)
        # bob joined after early 3: not in the state at it
        self.assertFalse(any(p["type"] == "m.room.member" and
                             p["state_key"].endswith(":" + self.B.server_name)
                             for p in r["pdus"]))
        r = self.fed_get(self.B, f"{FED}/v1/event_auth/{q(self.room)}/{q(eid)}")
        self.assertEqual(r.status, 200, r)
        self.assertIn("m.room.create", {p["type"] for p in r["auth_chain"]})

        # C has nobody in the room
        for path in (f"{FED}/v1/event/{q(eid)}",
                     f"{FED}/v1/state_ids/{q(self.room)}?event_id={q(eid)}",
                     f"{FED}/v1/state/{q(self.room)}?event_id={q(eid)}",
                     f"{FED}/v1/event_auth/{q(self.room)}/{q(eid)}",
                     f"{FED}/v1/backfill/{q(self.room)}?v={q(eid)}&limit=5"):
            r = self.fed_get(self.C, path)
            self.assertEqual(r.status, 403, (path, r))
            self.assertEqual(r.errcode, "M_FORBIDDEN")
        r = self.A.fed_request("POST", f"{FED}/v1/get_missing_events/{q(self.room)}", self.C.key,
                               self.C.server_name,
                               content={"earliest_events": [], "latest_events": [eid]})
        self.assertEqual(r.status, 403, r)
        # unsigned, unknown, malformed
        r = self.A.request("GET", f"{FED}/v1/event/{q(eid)}")
        self.assertEqual(r.status, 401, r)
        r = self.fed_get(self.B, f"{FED}/v1/event/{q('$unknown')}")
        self.assertEqual(r.status, 404, r)
        self.assertEqual(r.errcode, "M_NOT_FOUND")
        r = self.fed_get(self.B, f"{FED}/v1/state_ids/{q(self.room)}?event_id={q('$unknown')}")
        self.assertEqual(r.status, 404, r)
        r = self.fed_get(self.B, f"{FED}/v1/state_ids/{q(self.room)}")
        self.assertEqual(r.status, 400, r)
        r = self.fed_get(self.B, f"{FED}/v1/backfill/{q(self.room)}?limit=5")
        self.assertEqual(r.status, 400, r)

    def test_state_at_a_join_over_federation(self):
        """B answers /state_ids at bob's join, whose prev events it never fetched: the state
        the join came into (without bob), read from the join's state group."""
        r = self.B.get(f"{CS}/rooms/{q(self.room)}/state/m.room.member/"
                       f"{q('@bob:' + self.B.server_name)}", token=self.tok["bob"])
        self.assertEqual(r.status, 200, r)
        r = self.B.get(f"{CS}/rooms/{q(self.room)}/state", token=self.tok["bob"])
        join = [e["event_id"] for e in r.body if e["type"] == "m.room.member" and
                e["state_key"] == f"@bob:{self.B.server_name}"][0]
        r = self.B.fed_request("GET", f"{FED}/v1/state_ids/{q(self.room)}?event_id={q(join)}",
                               self.A.key, self.A.server_name)
        self.assertEqual(r.status, 200, r)
        self.assertNotIn(join, r["pdu_ids"])
        self.assertGreaterEqual(len(r["pdu_ids"]), 5)
        # A agrees on the state before the join
        r2 = self.fed_get(self.B, f"{FED}/v1/state_ids/{q(self.room)}?event_id={q(join)}")
        self.assertEqual(r2.status, 200, r2)
        self.assertEqual(sorted(r["pdu_ids"]), sorted(r2["pdu_ids"]))

    def test_backfill_and_missing_events_served(self):
        v = self.early[10]
        r = self.fed_get(self.B, f"{FED}/v1/backfill/{q(self.room)}?v={q(v)}&limit=4")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r["origin"], self.A.server_name)
        self.assertIsInstance(r["origin_server_ts"], int)
        self.assertEqual(self.bodies(r["pdus"]), ["early 10", "early 9", "early 8", "early 7"])
        r = self.fed_get(self.B, f"{FED}/v1/backfill/{q(self.room)}?v={q(v)}&limit=100000")
        self.assertEqual(r.status, 200, r)
        self.assertLessEqual(len(r["pdus"]), 100)
        body = {"earliest_events": [self.early[2]], "latest_events": [self.early[6]],
                "limit": 10, "min_depth": 0}
        r = self.A.fed_request("POST", f"{FED}/v1/get_missing_events/{q(self.room)}",
                               self.B.key, self.B.server_name, content=body)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.bodies(r["events"]), ["early 3", "early 4", "early 5"])
        body["limit"] = 500
        body["earliest_events"] = []
        r = self.A.fed_request("POST", f"{FED}/v1/get_missing_events/{q(self.room)}",
                               self.B.key, self.B.server_name, content=body)
        self.assertEqual(r.status, 200, r)
        self.assertLessEqual(len(r["events"]), 20)
        r = self.A.fed_request("POST", f"{FED}/v1/get_missing_events/{q(self.room)}",
                               self.B.key, self.B.server_name, content={"latest_events": "x"})
        self.assertEqual(r.status, 400, r)

    def test_joined_history_is_redacted_and_the_acl_refuses(self):
        """A room whose history is for joined members only: B, not joined when alice wrote,
        gets the event redacted; then an ACL denying B refuses B's requests."""
        r = self.A.post(f"{CS}/createRoom", {
            "preset": "public_chat", "room_version": "10",
            "initial_state": [{"type": "m.room.history_visibility", "state_key": "",
                               "content": {"history_visibility": "joined"}}]},
            token=self.tok["alice"])
        self.assertEqual(r.status, 200, r)
        room = r["room_id"]
        r = self.A.put(f"{CS}/rooms/{q(room)}/send/m.room.message/s1",
                       {"msgtype": "m.text", "body": "before bob"}, token=self.tok["alice"])
        self.assertEqual(r.status, 200, r)
        secret = r["event_id"]
        r = self.B.post(f"{CS}/join/{q(room)}?server_name={q(self.A.server_name)}", {},
                        token=self.tok["bob"])
        self.assertEqual(r.status, 200, r)
        r = self.fed_get(self.B, f"{FED}/v1/event/{q(secret)}")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r["pdus"][0]["content"], {})  # redacted for B
        # and bob's /messages on B does not show it
        r = self.B.get(f"{CS}/rooms/{q(room)}/messages?dir=b&limit=50", token=self.tok["bob"])
        self.assertEqual(r.status, 200, r)
        self.assertNotIn("before bob", self.bodies(r["chunk"]))
        # the server ACL: B denied
        r = self.A.put(f"{CS}/rooms/{q(room)}/state/m.room.server_acl/",
                       {"allow": ["*"], "deny": [self.B.server_name.split(":")[0]]},
                       token=self.tok["alice"])
        self.assertEqual(r.status, 200, r)
        r = self.fed_get(self.B, f"{FED}/v1/state_ids/{q(room)}?event_id={q(secret)}")
        self.assertEqual(r.status, 403, r)
        self.assertEqual(r.errcode, "M_FORBIDDEN")
        r = self.fed_get(self.B, f"{FED}/v1/event/{q(secret)}")
        self.assertEqual(r.status, 403, r)

    def test_world_readable_room_answers_any_server(self):
        r = self.A.post(f"{CS}/createRoom", {
            "preset": "public_chat", "room_version": "10",
            "initial_state": [{"type": "m.room.history_visibility", "state_key": "",
                               "content": {"history_visibility": "world_readable"}}]},
            token=self.tok["alice"])
        self.assertEqual(r.status, 200, r)
        room = r["room_id"]
        r = self.A.put(f"{CS}/rooms/{q(room)}/send/m.room.message/w1",
                       {"msgtype": "m.text", "body": "for everyone"}, token=self.tok["alice"])
        self.assertEqual(r.status, 200, r)
        eid = r["event_id"]
        r = self.fed_get(self.C, f"{FED}/v1/event/{q(eid)}")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r["pdus"][0]["content"]["body"], "for everyone")
        r = self.fed_get(self.C, f"{FED}/v1/state_ids/{q(room)}?event_id={q(eid)}")
        self.assertEqual(r.status, 200, r)

    # --- backfill as the client's server ----------------------------------------------------
    def test_messages_backfills_history_from_before_the_join(self):
        r = self.B.get(f"{CS}/sync?timeout=0", token=self.tok["bob"])
        self.assertEqual(r.status, 200, r)
        since = r["next_batch"]
        backfills = self.A.read_log().count(BACKFILL_LINE)
        seen, _ = self.page_back(self.room, 10)
        want = [f"early {i}" for i in reversed(range(EARLY))]
        got = [b for b in seen if b and b.startswith("early")]
        self.assertEqual(got, want, f"B: {self.B.read_log()[-3000:]}")
        self.assertGreater(self.A.read_log().count(BACKFILL_LINE), backfills)
        # an event fetched by backfill is readable by bob on its own
        r = self.B.get(f"{CS}/rooms/{q(self.room)}/event/{q(self.early[0])}",
                       token=self.tok["bob"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r["content"]["body"], "early 0")
        # nothing backfilled arrives in /sync as new
        r = self.B.get(f"{CS}/sync?timeout=0&since={since}", token=self.tok["bob"])
        self.assertEqual(r.status, 200, r)
        tl = r.body.get("rooms", {}).get("join", {}).get(self.room, {}).get(
            "timeline", {}).get("events", [])
        self.assertFalse([e for e in tl if e["content"].get("body", "").startswith("early")])
        # and current state is unchanged: bob is still joined, the room's name unchanged
        r = self.B.get(f"{CS}/rooms/{q(self.room)}/joined_members", token=self.tok["bob"])
        self.assertEqual(r.status, 200, r)
        self.assertIn(f"@bob:{self.B.server_name}", r["joined"])

    def test_backfilled_history_obeys_visibility_at_each_event(self):
        """Issue 13: events fetched by /backfill are read with the state at each of them: a
        room whose history_visibility went to invited (with bert of B invited: A serves B
        those events whole) and back to shared shows bob, who joined later from B, the shared
        stretches of its history and not the invited one."""
        tok = self.tok["alice"]
        r = self.A.post(f"{CS}/createRoom", {"preset": "public_chat", "room_version": "10"},
                        token=tok)
        self.assertEqual(r.status, 200, r)
        room = r["room_id"]

        def say(body):
            r = self.A.put(f"{CS}/rooms/{q(room)}/send/m.room.message/{os.urandom(4).hex()}",
                           {"msgtype": "m.text", "body": body}, token=tok)
            self.assertEqual(r.status, 200, r)

        def visibility(v):
            r = self.A.put(f"{CS}/rooms/{q(room)}/state/m.room.history_visibility/",
                           {"history_visibility": v}, token=tok)
            self.assertEqual(r.status, 200, r)

        say("shared 1")
        say("shared 2")
        visibility("invited")
        self.B.register("bert")
        r = self.A.post(f"{CS}/rooms/{q(room)}/invite",
                        {"user_id": f"@bert:{self.B.server_name}"}, token=tok)
        self.assertEqual(r.status, 200, r)
        say("invited only 1")
        say("invited only 2")
        visibility("shared")
        say("shared 3")
        r = self.B.post(f"{CS}/join/{q(room)}?server_name={q(self.A.server_name)}", {},
                        token=self.tok["bob"])
        self.assertEqual(r.status, 200, r)
        seen, reached = self.page_back(room, 5)
        self.assertTrue(reached, "paging did not reach the start of the room")
        self.assertEqual([b for b in seen if b], ["shared 3", "shared 2", "shared 1"],
                         f"B: {self.B.read_log()[-3000:]}")
        # alice, joined all along, sees everything on A
        r = self.A.get(f"{CS}/rooms/{q(room)}/messages?dir=b&limit=50", token=tok)
        self.assertEqual(len([b for b in self.bodies(r["chunk"]) if b]), 5)

    # --- get_missing_events as the receiving server ------------------------------------------
    def _anchor(self, room, body):
        """A message of alice's that B holds too: (its ID, its depth, the auth events of a
        message of bob's)."""
        r = self.A.put(f"{CS}/rooms/{q(room)}/send/m.room.message/{os.urandom(4).hex()}",
                       {"msgtype": "m.text", "body": body}, token=self.tok["alice"])
        self.assertEqual(r.status, 200, r)
        anchor = r["event_id"]
        deadline = time.time() + WAIT_S
        while time.time() < deadline:
            r = self.B.get(f"{CS}/rooms/{q(room)}/event/{q(anchor)}", token=self.tok["bob"])
            if r.status == 200:
                break
            time.sleep(0.2)
        self.assertEqual(r.status, 200, "anchor did not reach B")
        r = self.fed_get(self.B, f"{FED}/v1/event/{q(anchor)}")
        depth = r["pdus"][0]["depth"]
        r = self.A.get(f"{CS}/rooms/{q(room)}/state", token=self.tok["alice"])
        auth = [e["event_id"] for e in r.body
                if (e["type"], e["state_key"]) in (("m.room.create", ""),
                                                   ("m.room.power_levels", ""),
                                                   ("m.room.member", f"@bob:{self.B.server_name}"))]
        self.assertEqual(len(auth), 3)
        return anchor, depth, auth

    def _bob_event(self, room, body, prev, depth, auth):
        """A message from bob, signed with B's key (room version 10)."""
        ev = {"type": "m.room.message", "room_id": room,
              "sender": f"@bob:{self.B.server_name}",
              "content": {"msgtype": "m.text", "body": body},
              "origin_server_ts": int(time.time() * 1000), "depth": depth,
              "prev_events": [prev], "auth_events": auth}
        ev["hashes"] = {"sha256": b64(hashlib.sha256(canonical(ev)).digest())}
        redacted = dict(ev, content={})
        ev["signatures"] = {self.B.server_name: {
            self.B.key.key_id: self.B.key.sign(canonical(redacted))}}
        return ev, "$" + b64u(hashlib.sha256(canonical(redacted)).digest())

    def send_txn(self, dest, origin_srv, pdus):
        body = {"origin": origin_srv.server_name, "origin_server_ts": int(time.time() * 1000),
                "pdus": pdus, "edus": []}
        return dest.fed_request("PUT", f"{FED}/v1/send/{os.urandom(6).hex()}", origin_srv.key,
                                origin_srv.server_name, content=body)

    def test_missing_events_asked_of_another_server_when_the_origin_has_none(self):
        """A, B and C in a room; B gets from C a PDU whose prev event only A has: C answers
        nothing, and B's fetcher asks A, the room's other server."""
        r = self.A.post(f"{CS}/createRoom", {"preset": "public_chat", "room_version": "10"},
                        token=self.tok["alice"])
        self.assertEqual(r.status, 200, r)
        room = r["room_id"]
        for srv, name in ((self.B, "bob"), (self.C, "cyril")):
            r = srv.post(f"{CS}/join/{q(room)}?server_name={q(self.A.server_name)}", {},
                         token=self.tok[name])
            self.assertEqual(r.status, 200, r)
        anchor, depth, auth = self._anchor(room, "anchor 2")
        e1, id1 = self._bob_event(room, "other 1", anchor, depth + 1, auth)
        e2, id2 = self._bob_event(room, "other 2", id1, depth + 2, auth)
        r = self.send_txn(self.A, self.B, [e1, e2])
        self.assertEqual(r["pdus"], {id1: {}, id2: {}}, self.A.read_log()[-3000:])
        asked = self.A.read_log().count(GME_LINE)
        r = self.send_txn(self.B, self.C, [e2])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r["pdus"], {id2: {}}, self.B.read_log()[-3000:])
        self.assertGreater(self.A.read_log().count(GME_LINE), asked)
        r = self.B.get(f"{CS}/rooms/{q(room)}/event/{q(id1)}", token=self.tok["bob"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r["content"]["body"], "other 1")

    def test_unknown_prev_event_completed_with_get_missing_events(self):
        anchor, depth, auth = self._anchor(self.room, "anchor")
        e1, id1 = self._bob_event(self.room, "gap 1", anchor, depth + 1, auth)
        e2, id2 = self._bob_event(self.room, "gap 2", id1, depth + 2, auth)
        # A gets both (from B, as B would send them); B gets only the second, from A
        r = self.send_txn(self.A, self.B, [e1, e2])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r["pdus"], {id1: {}, id2: {}}, self.A.read_log()[-3000:])
        r = self.B.get(f"{CS}/rooms/{q(self.room)}/event/{q(id1)}", token=self.tok["bob"])
        self.assertEqual(r.status, 404, r)
        asked = self.A.read_log().count(GME_LINE)
        r = self.send_txn(self.B, self.A, [e2])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r["pdus"], {id2: {}}, self.B.read_log()[-3000:])
        self.assertGreater(self.A.read_log().count(GME_LINE), asked)
        for eid, body in ((id1, "gap 1"), (id2, "gap 2")):
            r = self.B.get(f"{CS}/rooms/{q(self.room)}/event/{q(eid)}", token=self.tok["bob"])
            self.assertEqual(r.status, 200, (eid, r, self.B.read_log()[-3000:]))
            self.assertEqual(r["content"]["body"], body)


if __name__ == "__main__":
    unittest.main()
