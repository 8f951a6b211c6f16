"""Federation transactions (issue 12, "Transactions"): three instances on loopback behind TLS
fronts (fedharness.py). A holds a room, B's user joins it over federation; then messages, state
changes, redactions, typing, receipts and to-device messages flow both ways through the
outbound transaction queue and show in the other side's /sync. Hand-signed transactions check
the receiving side: a repeated txnId is answered from the stored result and not processed
again; limits; a PDU for a room the server is not in; C, which is not in the room, cannot get
an event or an EDU applied. Presence (enabled here) reaches servers sharing a room. Finally B is stopped while A queues events, and gets them when it
comes back (same database, same name)."""
import base64
import hashlib
import os
import threading
import time
import unittest
import urllib.parse

from fedharness import FedServer, FedTestCase, Restartable, canonical

CS = "/_matrix/client/v3"
FED = "/_matrix/federation"
WAIT_S = 30


def q(s):
    return urllib.parse.quote(s, safe="")


def b64u(data):
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def b64(data):
    return base64.b64encode(data).decode().rstrip("=")


class TestFederationSend(FedTestCase):
    PREFIX = "amtsbote-fedsend-"
    INSTANCES = {"A": FedServer, "B": Restartable, "C": FedServer}
    CONFIG = {"presence": {"enabled": True}}

    @classmethod
    def after_start(cls):
        cls.tok = {}
        cls.dev = {}
        for srv, name in ((cls.A, "alice"), (cls.B, "bob"), (cls.C, "cyril")):
            srv.register(name)
            r = srv.login(name)
            cls.tok[name] = r["access_token"]
            cls.dev[name] = r["device_id"]
        cls.room = cls._create_and_join()

    @classmethod
    def _create_and_join(cls):
        r = cls.A.post(f"{CS}/createRoom", {"preset": "public_chat", "room_version": "10"},
                       token=cls.tok["alice"])
        assert r.status == 200, r
        room = r["room_id"]
        r = cls.B.post(f"{CS}/join/{q(room)}?server_name={q(cls.A.server_name)}", {},
                       token=cls.tok["bob"])
        assert r.status == 200, f"{r}\n{cls.B.read_log()[-3000:]}"
        return room

    # --- helpers ------------------------------------------------------------------------
    def uid(self, name, srv):
        return f"@{name}:{srv.server_name}"

    def since(self, srv, name):
        r = srv.get(f"{CS}/sync?timeout=0", token=self.tok[name])
        self.assertEqual(r.status, 200, r)
        return r["next_batch"]

    def wait_sync(self, srv, name, since, pred, what):
        """Long-poll srv's /sync for `name` from `since` until pred(body) is true (bounded)."""
        deadline = time.time() + WAIT_S
        while time.time() < deadline:
            r = srv.get(f"{CS}/sync?timeout=2000&since={since}", token=self.tok[name])
            self.assertEqual(r.status, 200, r)
            if pred(r.body):
                return r.body
            since = r["next_batch"]
        self.fail(f"{what}: not seen within {WAIT_S} s\nA: {self.A.read_log()[-2500:]}\n"
                  f"B: {self.B.read_log()[-2500:]}")

    def timeline(self, body, room=None):
        entry = body.get("rooms", {}).get("join", {}).get(room or self.room, {})
        return entry.get("timeline", {}).get("events", [])

    def ephemeral(self, body, typ):
        entry = body.get("rooms", {}).get("join", {}).get(self.room, {})
        return [e for e in entry.get("ephemeral", {}).get("events", []) if e["type"] == typ]

    def send_text(self, srv, name, text, room=None):
        r = srv.put(f"{CS}/rooms/{q(room or self.room)}/send/m.room.message/{os.urandom(6).hex()}",
                    {"msgtype": "m.text", "body": text}, token=self.tok[name])
        self.assertEqual(r.status, 200, r)
        return r["event_id"]

    def has_text(self, text):
        return lambda b: any(e.get("content", {}).get("body") == text for e in self.timeline(b))

    def send_txn(self, dest, origin_srv, txn_id, pdus=(), edus=()):
        body = {"origin": origin_srv.server_name, "origin_server_ts": int(time.time() * 1000),
                "pdus": list(pdus), "edus": list(edus)}
        return dest.fed_request("PUT", f"{FED}/v1/send/{q(txn_id)}", origin_srv.key,
                                origin_srv.server_name, content=body)

    # --- PDUs both ways -------------------------------------------------------------------
    def test_messages_state_and_redactions_both_ways(self):
        s_b, s_a = self.since(self.B, "bob"), self.since(self.A, "alice")
        self.send_text(self.A, "alice", "hello from A")
        self.wait_sync(self.B, "bob", s_b, self.has_text("hello from A"), "A's message on B")
        self.send_text(self.B, "bob", "hello from B")
        self.wait_sync(self.A, "alice", s_a, self.has_text("hello from B"), "B's message on A")
        # a state change
        s_b = self.since(self.B, "bob")
        r = self.A.put(f"{CS}/rooms/{q(self.room)}/state/m.room.topic/", {"topic": "federated"},
                       token=self.tok["alice"])
        self.assertEqual(r.status, 200, r)
        self.wait_sync(self.B, "bob", s_b, lambda b: any(
            e["type"] == "m.room.topic" and e["content"].get("topic") == "federated"
            for e in self.timeline(b)), "topic on B")
        r = self.B.get(f"{CS}/rooms/{q(self.room)}/state/m.room.topic/", token=self.tok["bob"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r["topic"], "federated")
        # a redaction of bob's message by bob reaches A
        s_b = self.since(self.B, "bob")
        eid = self.send_text(self.B, "bob", "to be redacted")
        self.wait_sync(self.A, "alice", s_a, self.has_text("to be redacted"), "message on A")
        r = self.B.put(f"{CS}/rooms/{q(self.room)}/redact/{q(eid)}/{os.urandom(4).hex()}", {},
                       token=self.tok["bob"])
        self.assertEqual(r.status, 200, r)
        deadline = time.time() + WAIT_S
        while time.time() < deadline:
            r = self.A.get(f"{CS}/rooms/{q(self.room)}/event/{q(eid)}", token=self.tok["alice"])
            if r.status == 200 and "body" not in r["content"]:
                break
            time.sleep(0.2)
        self.assertEqual(r.status, 200, r)
        self.assertNotIn("body", r["content"], "redaction did not reach A")

    # --- EDUs both ways -------------------------------------------------------------------
    def test_typing_and_receipts_both_ways(self):
        s_a = self.since(self.A, "alice")
        r = self.B.put(f"{CS}/rooms/{q(self.room)}/typing/{q(self.uid('bob', self.B))}",
                       {"typing": True, "timeout": 20000}, token=self.tok["bob"])
        self.assertEqual(r.status, 200, r)
        self.wait_sync(self.A, "alice", s_a, lambda b: any(
            self.uid("bob", self.B) in e["content"]["user_ids"]
            for e in self.ephemeral(b, "m.typing")), "bob typing on A")
        s_b = self.since(self.B, "bob")
        r = self.A.put(f"{CS}/rooms/{q(self.room)}/typing/{q(self.uid('alice', self.A))}",
                       {"typing": True, "timeout": 20000}, token=self.tok["alice"])
        self.assertEqual(r.status, 200, r)
        self.wait_sync(self.B, "bob", s_b, lambda b: any(
            self.uid("alice", self.A) in e["content"]["user_ids"]
            for e in self.ephemeral(b, "m.typing")), "alice typing on B")
        # receipts: alice reads bob's message, bob reads alice's
        s_a = self.since(self.A, "alice")
        eid_b = self.send_text(self.B, "bob", "read me")
        self.wait_sync(self.A, "alice", s_a, self.has_text("read me"), "message on A")
        s_b = self.since(self.B, "bob")
        r = self.A.post(f"{CS}/rooms/{q(self.room)}/receipt/m.read/{q(eid_b)}", {},
                        token=self.tok["alice"])
        self.assertEqual(r.status, 200, r)

        def has_receipt(user, eid):
            return lambda b: any(user in e["content"].get(eid, {}).get("m.read", {})
                                 for e in self.ephemeral(b, "m.receipt"))
        self.wait_sync(self.B, "bob", s_b, has_receipt(self.uid("alice", self.A), eid_b),
                       "alice's receipt on B")
        s_b = self.since(self.B, "bob")
        eid_a = self.send_text(self.A, "alice", "read me too")
        self.wait_sync(self.B, "bob", s_b, self.has_text("read me too"), "message on B")
        s_a = self.since(self.A, "alice")
        r = self.B.post(f"{CS}/rooms/{q(self.room)}/receipt/m.read/{q(eid_a)}", {},
                        token=self.tok["bob"])
        self.assertEqual(r.status, 200, r)
        self.wait_sync(self.A, "alice", s_a, has_receipt(self.uid("bob", self.B), eid_a),
                       "bob's receipt on A")

    def test_presence(self):
        s_a = self.since(self.A, "alice")
        bob = self.uid("bob", self.B)
        r = self.B.put(f"{CS}/presence/{q(bob)}/status",
                       {"presence": "unavailable", "status_msg": "in a meeting"},
                       token=self.tok["bob"])
        self.assertEqual(r.status, 200, r)
        self.wait_sync(self.A, "alice", s_a, lambda b: any(
            e["sender"] == bob and e["content"].get("status_msg") == "in a meeting"
            for e in b.get("presence", {}).get("events", [])), "bob's presence on A")
        r = self.A.get(f"{CS}/presence/{q(bob)}/status", token=self.tok["alice"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r["presence"], "unavailable")

    def test_to_device_both_ways(self):
        s_b = self.since(self.B, "bob")
        bob = self.uid("bob", self.B)
        r = self.A.put(f"{CS}/sendToDevice/m.test/{os.urandom(4).hex()}",
                       {"messages": {bob: {self.dev["bob"]: {"n": 1}}}}, token=self.tok["alice"])
        self.assertEqual(r.status, 200, r)
        body = self.wait_sync(self.B, "bob", s_b, lambda b: any(
            e["type"] == "m.test" for e in b.get("to_device", {}).get("events", [])),
            "to-device on B")
        ev = [e for e in body["to_device"]["events"] if e["type"] == "m.test"][0]
        self.assertEqual(ev["sender"], self.uid("alice", self.A))
        self.assertEqual(ev["content"], {"n": 1})
        s_a = self.since(self.A, "alice")
        r = self.B.put(f"{CS}/sendToDevice/m.test/{os.urandom(4).hex()}",
                       {"messages": {self.uid("alice", self.A): {"*": {"n": 2}}}},
                       token=self.tok["bob"])
        self.assertEqual(r.status, 200, r)
        self.wait_sync(self.A, "alice", s_a, lambda b: any(
            e["type"] == "m.test" and e["content"] == {"n": 2}
            for e in b.get("to_device", {}).get("events", [])), "to-device on A")

    # --- the receiving side, with hand-signed transactions --------------------------------
    def test_repeated_txn_is_not_processed_again(self):
        bob = self.uid("bob", self.B)
        s_b = self.since(self.B, "bob")
        txn = "repeat-" + os.urandom(4).hex()

        def todevice(mid, n):
            return {"edu_type": "m.direct_to_device",
                    "content": {"sender": self.uid("alice", self.A), "type": "m.repeat",
                                "message_id": mid, "messages": {bob: {"*": {"n": n}}}}}
        r = self.send_txn(self.B, self.A, txn, edus=[todevice("m1", 1)])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r["pdus"], {})
        # the same txnId with other content: the stored answer, nothing processed
        r = self.send_txn(self.B, self.A, txn, edus=[todevice("m2", 2)])
        self.assertEqual(r.status, 200, r)
        # a new txnId with the same message_id: delivered once only
        r = self.send_txn(self.B, self.A, txn + "b", edus=[todevice("m1", 1)])
        self.assertEqual(r.status, 200, r)
        time.sleep(1)
        r = self.B.get(f"{CS}/sync?timeout=0&since={s_b}", token=self.tok["bob"])
        got = [e["content"]["n"] for e in r.body.get("to_device", {}).get("events", [])
               if e["type"] == "m.repeat"]
        self.assertEqual(got, [1])

    def test_to_device_not_after_the_message_of_its_transaction(self):
        """A room key and the message it opens in one transaction: the key must be in bob's
        /sync no later than the message (nio never retries an event it could not decrypt),
        also while bob long-polls as the transaction lands. Many to-device EDUs come before
        the key, so a receiver that took PDUs and EDUs in parallel shows the message first."""
        bob = self.uid("bob", self.B)
        alice = self.uid("alice", self.A)
        ev, eid = self._forged_event(self.A, alice)
        ev["content"]["body"] = "opened by the key before it"
        ev, eid = self._resign(ev, self.A)
        n = 40
        edus = [{"edu_type": "m.direct_to_device",
                 "content": {"sender": alice, "type": "m.test.key",
                             "message_id": f"key-{eid}-{i}",
                             "messages": {bob: {self.dev["bob"]: {"i": i}}}}}
                for i in range(n)]
        since = self.since(self.B, "bob")
        seen, first_with_message = [], []
        ready = threading.Event()

        def poll():
            nonlocal since
            deadline = time.time() + WAIT_S
            while time.time() < deadline and not first_with_message:
                ready.set()
                r = self.B.get(f"{CS}/sync?timeout=5000&since={since}", token=self.tok["bob"])
                if r.status != 200:
                    return
                seen.extend(e["content"]["i"] for e in r.body.get("to_device", {})
                            .get("events", []) if e["type"] == "m.test.key")
                if any(e["event_id"] == eid for e in self.timeline(r.body)):
                    first_with_message.append(list(seen))
                since = r["next_batch"]

        t = threading.Thread(target=poll)
        t.start()
        ready.wait(10)
        time.sleep(0.2)  # bob's long-poll is waiting
        r = self.send_txn(self.B, self.A, "k-" + os.urandom(4).hex(), pdus=[ev], edus=edus)
        t.join(WAIT_S + 10)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r["pdus"], {eid: {}}, r)
        self.assertTrue(first_with_message, f"message not in bob's sync\n{self.B.read_log()}")
        self.assertEqual(sorted(first_with_message[0]), list(range(n)),
                         "to-device messages came after the message of their transaction")

    def test_group_bad_pdus_among_good_ones_and_a_crash(self):
        """One transaction, one room: PDUs are placed in order and committed together (server/
        room_group.c), yet each answers for itself: a good message, one with a broken
        signature (dropped), one from a user not in the room (rejected), a good message whose
        prev event is the first one. The good ones are stored, the bad ones reported with an
        error; B killed (SIGKILL) right after the 200 still has them when it comes back."""
        alice = self.uid("alice", self.A)
        good1, id1 = self._forged_event(self.A, alice)
        good1["content"]["body"] = "group 1"
        good1, id1 = self._resign(good1, self.A)
        broken = dict(good1, content={"msgtype": "m.text", "body": "group broken"},
                      origin_server_ts=good1["origin_server_ts"] + 1)
        broken, broken_id = self._resign(broken, self.A)
        sig = broken["signatures"][self.A.server_name]
        sig[self.A.key.key_id] = self.A.key.sign(b"something else")
        mallory, mallory_id = self._forged_event(self.A, self.uid("mallory", self.A))
        mallory["prev_events"] = [id1]
        mallory["content"]["body"] = "group mallory"
        mallory, mallory_id = self._resign(mallory, self.A)
        good2 = dict(good1, prev_events=[id1], depth=good1["depth"] + 1,
                     content={"msgtype": "m.text", "body": "group 2"})
        good2, id2 = self._resign(good2, self.A)
        r = self.send_txn(self.B, self.A, "g-" + os.urandom(4).hex(),
                          pdus=[good1, broken, mallory, good2])
        self.assertEqual(r.status, 200, r)
        self.B.proc.kill()  # no clean shutdown: what the 200 promised must be on disk
        self.B.proc.wait(timeout=30)
        try:
            self.assertEqual(r["pdus"].get(id1), {}, r)
            self.assertEqual(r["pdus"].get(id2), {}, r)
            self.assertIn("signature", r["pdus"][broken_id]["error"], r)
            self.assertIn("rejected", r["pdus"][mallory_id]["error"], r)
        finally:
            self.B.resume()
        for eid, text in ((id1, "group 1"), (id2, "group 2")):
            r = self.B.get(f"{CS}/rooms/{q(self.room)}/event/{q(eid)}", token=self.tok["bob"])
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r["content"]["body"], text)
        for eid in (broken_id, mallory_id):
            r = self.B.get(f"{CS}/rooms/{q(self.room)}/event/{q(eid)}", token=self.tok["bob"])
            self.assertEqual(r.status, 404, r)
        r = self.B.get(f"{CS}/rooms/{q(self.room)}/messages?dir=b&limit=5", token=self.tok["bob"])
        self.assertEqual([e["content"].get("body") for e in r["chunk"][:2]],
                         ["group 2", "group 1"], r)
        # A gets its own (hand-made) events too, relayed by B, so that both DAGs agree again
        r = self.send_txn(self.A, self.B, "gr-" + os.urandom(4).hex(), pdus=[good1, good2])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r["pdus"], {id1: {}, id2: {}}, r)

    def test_group_with_redaction_and_state(self):
        """A message, its redaction, a message, a topic change and a message in one
        transaction: the redaction applies to the message before it in the same group, the
        topic splits the group (the room is checked again after a state event), and each
        later PDU is placed on the one before it."""
        alice = self.uid("alice", self.A)
        chain, prev, depth = [], None, None

        def link(ev, body=None):
            nonlocal prev, depth
            if prev:
                ev["prev_events"] = [prev]
                ev["depth"] = depth + 1
            if body is not None:
                ev["content"] = {"msgtype": "m.text", "body": body}
            ev["origin_server_ts"] = int(time.time() * 1000) + len(chain)
            ev = {k: v for k, v in ev.items() if k not in ("hashes", "signatures")}
            ev["hashes"] = {"sha256": b64(hashlib.sha256(canonical(ev)).digest())}
            # v10 redaction keeps neither the content of these nor the top-level "redacts"
            redacted = {k: v for k, v in ev.items() if k != "redacts"}
            redacted["content"] = {}
            ev["signatures"] = {self.A.server_name: {
                self.A.key.key_id: self.A.key.sign(canonical(redacted))}}
            eid = "$" + b64u(hashlib.sha256(canonical(redacted)).digest())
            chain.append((ev, eid))
            prev, depth = eid, ev["depth"]
            return eid
        base, _ = self._forged_event(self.A, alice)
        base["depth"] = 5000  # above the other tests' hand-made events (/messages: by depth)
        id1 = link(dict(base), "group red 1")
        red = link(dict(base, type="m.room.redaction", redacts=id1, content={}))
        link(dict(base), "group red 2")
        topic = link(dict(base, type="m.room.topic", state_key="",
                          content={"topic": "group topic"}))
        id3 = link(dict(base), "group red 3")
        r = self.send_txn(self.B, self.A, "gs-" + os.urandom(4).hex(), pdus=[e for e, _ in chain])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r["pdus"], {eid: {} for _, eid in chain}, r)
        r = self.B.get(f"{CS}/rooms/{q(self.room)}/event/{q(id1)}", token=self.tok["bob"])
        self.assertEqual(r.status, 200, r)
        self.assertNotIn("body", r["content"], r)
        r = self.B.get(f"{CS}/rooms/{q(self.room)}/state/m.room.topic/", token=self.tok["bob"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r["topic"], "group topic")
        r = self.B.get(f"{CS}/rooms/{q(self.room)}/messages?dir=b&limit=5", token=self.tok["bob"])
        self.assertEqual([e["event_id"] for e in r["chunk"]],
                         [eid for _, eid in reversed(chain)], r)
        self.assertEqual(r["chunk"][0]["event_id"], id3)
        self.assertEqual(r["chunk"][3]["event_id"], red)
        self.assertEqual(r["chunk"][1]["event_id"], topic)
        # A gets its own (hand-made) events too, relayed by B, so that both DAGs agree again
        r = self.send_txn(self.A, self.B, "gsr-" + os.urandom(4).hex(),
                          pdus=[e for e, _ in chain])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r["pdus"], {eid: {} for _, eid in chain}, r)

    def test_limits_and_bad_transactions(self):
        pdu = {"type": "m.room.message"}
        r = self.send_txn(self.B, self.A, "big-" + os.urandom(4).hex(), pdus=[pdu] * 51)
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.errcode, "M_BAD_JSON")
        r = self.send_txn(self.B, self.A, "bige-" + os.urandom(4).hex(),
                          edus=[{"edu_type": "m.x", "content": {}}] * 101)
        self.assertEqual(r.status, 400, r)
        # a transaction over the client API's 1 MiB body limit is read (20 PDUs of 60 KB)
        big = [{"room_id": "!nowhere:example.org", "type": "m.room.message", "depth": i,
                "content": {"body": "x" * 60000}} for i in range(20)]
        r = self.send_txn(self.B, self.A, "large-" + os.urandom(4).hex(), pdus=big)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(r["pdus"]), 20, r)
        # unsigned
        r = self.B.request("PUT", f"{FED}/v1/send/x1", body={"origin": self.A.server_name,
                                                             "origin_server_ts": 1, "pdus": []})
        self.assertEqual(r.status, 401, r)
        # body origin other than the signed origin
        body = {"origin": self.C.server_name, "origin_server_ts": 1, "pdus": []}
        r = self.B.fed_request("PUT", f"{FED}/v1/send/x2", self.A.key, self.A.server_name,
                               content=body)
        self.assertEqual(r.status, 400, r)
        # malformed PDUs and EDUs do not fail the transaction
        r = self.send_txn(self.B, self.A, "junk-" + os.urandom(4).hex(),
                          pdus=[{"room_id": "!nowhere:example.org", "type": "m.room.message"}],
                          edus=[{"edu_type": "m.typing", "content": "x"}, 5,
                                {"edu_type": "m.receipt", "content": {"!r:x": 7}}])
        self.assertEqual(r.status, 200, r)

    def _forged_event(self, origin_srv, sender):
        """A message from `sender` in the room, signed by origin_srv, pointing at B's latest
        events (room version 10: reference hashes as event IDs)."""
        r = self.B.get(f"{CS}/rooms/{q(self.room)}/messages?dir=b&limit=1", token=self.tok["bob"])
        self.assertEqual(r.status, 200, r)
        prev = r["chunk"][0]["event_id"]
        r = self.B.get(f"{CS}/rooms/{q(self.room)}/state", token=self.tok["bob"])
        auth = [e["event_id"] for e in r.body
                if (e["type"], e["state_key"]) in (("m.room.create", ""),
                                                   ("m.room.power_levels", ""),
                                                   ("m.room.member", sender))]
        ev = {"type": "m.room.message", "room_id": self.room, "sender": sender,
              "content": {"msgtype": "m.text", "body": "forged"},
              "origin_server_ts": int(time.time() * 1000), "depth": 1000,
              "prev_events": [prev], "auth_events": auth}
        ev["hashes"] = {"sha256": b64(hashlib.sha256(canonical(ev)).digest())}
        redacted = dict(ev, content={})
        ev["signatures"] = {origin_srv.server_name: {
            origin_srv.key.key_id: origin_srv.key.sign(canonical(redacted))}}
        ref = dict(redacted)
        eid = "$" + b64u(hashlib.sha256(canonical(ref)).digest())
        return ev, eid

    def _resign(self, ev, origin_srv):
        ev = {k: v for k, v in ev.items() if k not in ("hashes", "signatures")}
        ev["hashes"] = {"sha256": b64(hashlib.sha256(canonical(ev)).digest())}
        redacted = dict(ev, content={})
        ev["signatures"] = {origin_srv.server_name: {
            origin_srv.key.key_id: origin_srv.key.sign(canonical(redacted))}}
        return ev, "$" + b64u(hashlib.sha256(canonical(redacted)).digest())

    def test_server_not_in_room_is_not_applied(self):
        s_b = self.since(self.B, "bob")
        cyril = self.uid("cyril", self.C)
        ev, eid = self._forged_event(self.C, cyril)
        typing = {"edu_type": "m.typing",
                  "content": {"room_id": self.room, "user_id": cyril, "typing": True}}
        # an EDU for another server's user: not from C
        typing_other = {"edu_type": "m.typing",
                        "content": {"room_id": self.room, "user_id": self.uid("alice", self.A),
                                    "typing": True}}
        r = self.send_txn(self.B, self.C, "c-" + os.urandom(4).hex(), pdus=[ev],
                          edus=[typing, typing_other])
        self.assertEqual(r.status, 200, r)
        self.assertIn(eid, r["pdus"])
        self.assertIn("error", r["pdus"][eid])
        time.sleep(1)
        r = self.B.get(f"{CS}/sync?timeout=0&since={s_b}", token=self.tok["bob"])
        self.assertFalse(any(e.get("content", {}).get("body") == "forged"
                             for e in self.timeline(r.body)))
        typing_now = [u for e in self.ephemeral(r.body, "m.typing")
                      for u in e["content"]["user_ids"]]
        self.assertNotIn(cyril, typing_now)
        self.assertNotIn(self.uid("alice", self.A), typing_now)
        # a room B is not in: an error entry
        other = self.A.post(f"{CS}/createRoom", {"room_version": "10"}, token=self.tok["alice"])
        self.assertEqual(other.status, 200, other)
        ev2 = dict(ev, room_id=other["room_id"])
        r = self.send_txn(self.B, self.A, "n-" + os.urandom(4).hex(), pdus=[ev2])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(r["pdus"]), 1)
        self.assertIn("not in the room", list(r["pdus"].values())[0]["error"])
        # PDUs of two rooms and a good one in one transaction (relayed by A): each answered
        good, good_id = self._forged_event(self.A, self.uid("alice", self.A))
        good["content"]["body"] = "relayed"  # re-hash and re-sign below
        good, good_id = self._resign(good, self.A)
        time.sleep(0.01)
        bad, bad_id = self._forged_event(self.C, cyril)  # not the one B has already refused
        r = self.send_txn(self.B, self.A, "m-" + os.urandom(4).hex(), pdus=[bad, ev2, good])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(r["pdus"]), 3, r)
        self.assertIn("error", r["pdus"][bad_id])
        self.assertEqual(r["pdus"][good_id], {}, r)
        self.wait_sync(self.B, "bob", s_b, self.has_text("relayed"), "the good PDU on B")
        # A gets its own (hand-made) event too, relayed by B, so that both sides' DAGs agree
        # again (B's next events point at it)
        r = self.send_txn(self.A, self.B, "r-" + os.urandom(4).hex(), pdus=[good])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r["pdus"], {good_id: {}}, r)

    def test_three_servers(self):
        """A room on A joined from B and from C: each side's messages reach both
        others (B hears of C's join from A, the resident server, and then sends to C
        directly)."""
        room = self._three_server_room()

        def has(text):
            return lambda b: any(e.get("content", {}).get("body") == text
                                 for e in self.timeline(b, room))
        for srv, name, text in ((self.A, "alice", "from A to all"), (self.B, "bob", "from B to all"),
                                (self.C, "cyril", "from C to all")):
            marks = {o: self.since(o, n) for o, n in
                     ((self.A, "alice"), (self.B, "bob"), (self.C, "cyril")) if o is not srv}
            self.send_text(srv, name, text, room=room)
            for other, since in marks.items():
                oname = {self.A: "alice", self.B: "bob", self.C: "cyril"}[other]
                self.wait_sync(other, oname, since, has(text), f"{text} on {oname}'s server")

    def _three_server_room(self):
        r = self.A.post(f"{CS}/createRoom", {"preset": "public_chat", "room_version": "10"},
                        token=self.tok["alice"])
        self.assertEqual(r.status, 200, r)
        room = r["room_id"]
        for srv, name in ((self.B, "bob"), (self.C, "cyril")):
            r = srv.post(f"{CS}/join/{q(room)}?server_name={q(self.A.server_name)}", {},
                         token=self.tok[name])
            self.assertEqual(r.status, 200, f"{r}\n{srv.read_log()[-3000:]}")
        cyril = self.uid("cyril", self.C)
        deadline = time.time() + WAIT_S
        while time.time() < deadline:
            r = self.B.get(f"{CS}/rooms/{q(room)}/state/m.room.member/{q(cyril)}",
                           token=self.tok["bob"])
            if r.status == 200 and r["membership"] == "join":
                return room
            time.sleep(0.2)
        self.fail("C's join did not reach B")

    def test_event_and_missing_events_endpoints(self):
        room = self._three_server_room()
        ids = [self.send_text(self.A, "alice", f"chain {i}", room=room) for i in range(4)]
        # B may read A's events (it is in the room); C's view is the same
        r = self.A.fed_request("GET", f"{FED}/v1/event/{q(ids[0])}", self.B.key,
                               self.B.server_name)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r["pdus"][0]["content"]["body"], "chain 0")
        self.assertNotIn("event_id", r["pdus"][0])  # v10: the ID is the reference hash
        r = self.A.fed_request("POST", f"{FED}/v1/get_missing_events/{q(room)}", self.B.key,
                               self.B.server_name,
                               content={"earliest_events": [ids[0]], "latest_events": [ids[3]],
                                        "limit": 10})
        self.assertEqual(r.status, 200, r)
        self.assertEqual([e["content"]["body"] for e in r["events"]], ["chain 1", "chain 2"])
        # a server with nobody in the room reads nothing
        other = self.A.post(f"{CS}/createRoom", {"room_version": "10"}, token=self.tok["alice"])
        eid = self.send_text(self.A, "alice", "private", room=other["room_id"])
        r = self.A.fed_request("GET", f"{FED}/v1/event/{q(eid)}", self.C.key, self.C.server_name)
        self.assertEqual(r.status, 403, r)  # as Synapse: "Host not in room"
        r = self.A.fed_request("POST", f"{FED}/v1/get_missing_events/{q(other['room_id'])}",
                               self.C.key, self.C.server_name,
                               content={"earliest_events": [], "latest_events": [eid]})
        self.assertEqual(r.status, 403, r)
        r = self.A.fed_request("POST", f"{FED}/v1/get_missing_events/{q(room)}", self.B.key,
                               self.B.server_name, content={"earliest_events": "x"})
        self.assertEqual(r.status, 400, r)

    def test_y_gap_filled_from_the_origin(self):
        """B misses cyril's message (B is down; C will retry later), then gets alice's next
        message, whose prev event is cyril's: B fetches the gap from A (get_missing_events)
        and places both."""
        room = self._three_server_room()
        self.B.pause()
        try:
            self.send_text(self.C, "cyril", "gap 1", room=room)
            deadline = time.time() + WAIT_S
            seen = False
            while time.time() < deadline and not seen:
                r = self.A.get(f"{CS}/rooms/{q(room)}/messages?dir=b&limit=1",
                               token=self.tok["alice"])
                seen = r.status == 200 and r["chunk"][0]["content"].get("body") == "gap 1"
                time.sleep(0.1)
            self.assertTrue(seen, "cyril's message did not reach A")
        finally:
            self.B.resume()
        s_b = self.since(self.B, "bob")
        self.send_text(self.A, "alice", "gap 2", room=room)

        def both(b):
            texts = [e.get("content", {}).get("body") for e in self.timeline(b, room)]
            return "gap 2" in texts
        self.wait_sync(self.B, "bob", s_b, both, "alice's message after the gap on B")
        r = self.B.get(f"{CS}/rooms/{q(room)}/messages?dir=b&limit=5", token=self.tok["bob"])
        texts = [e["content"].get("body") for e in r["chunk"]]
        self.assertIn("gap 1", texts)

    def test_z_stopped_destination_gets_the_queue(self):
        """B stops; A queues three messages; B comes back and receives them (A retries
        after its back-off, 2 s then 4 s ...)."""
        self.B.pause()
        try:
            for i in range(3):
                self.send_text(self.A, "alice", f"while away {i}")
            time.sleep(3)  # at least one failed attempt and a back-off on A
        finally:
            self.B.resume()
        s_b = None
        deadline = time.time() + 60
        seen = set()
        while time.time() < deadline and len(seen) < 3:
            path = f"{CS}/sync?timeout=2000" + (f"&since={s_b}" if s_b else "")
            r = self.B.get(path, token=self.tok["bob"])
            self.assertEqual(r.status, 200, r)
            s_b = r["next_batch"]
            for e in self.timeline(r.body):
                body = e.get("content", {}).get("body", "")
                if body.startswith("while away"):
                    seen.add(body)
        self.assertEqual(len(seen), 3, f"{seen}\n{self.A.read_log()[-3000:]}")


if __name__ == "__main__":
    unittest.main()
