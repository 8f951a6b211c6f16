"""Federation II (issue 13): outages and forks with three instances on loopback, bund (A),
nrw (B) and hessen (C), behind TLS fronts (fedharness.py).

Outage: hessen is stopped while bund and nrw exchange 30 messages and a topic change; bund
(holding hessen's queue) is itself restarted in the middle; hessen comes back and gets every
message, seen both in /messages and in /sync.

Fork: nrw is restarted with a federation_domain_whitelist that leaves out bund, so the two
cannot hear each other (bund's transactions are refused and stay queued, nrw's are not sent)
while hessen hears both. On bund the admin demotes the moderator on nrw and names the room;
on nrw that moderator, who does not know yet, changes the topic, bans a user and sets his
display name. nrw is restarted with
its normal configuration; a message from hessen and one from nrw tie the forks together.
Every instance must end with the same current state (state resolution v2): the demotion wins,
the moderator's topic and ban are not in the resolved state."""
import os
import shutil
import time
import unittest
import urllib.parse

from fedharness import FedTestCase, Restartable

CS = "/_matrix/client/v3"
WAIT_S = 60


def q(s):
    return urllib.parse.quote(s, safe="")


class TestFederationForks(FedTestCase):
    PREFIX = "amtsbote-fedforks-"
    INSTANCES = {"A": Restartable, "B": Restartable, "C": Restartable}  # bund, nrw, hessen

    @classmethod
    def after_start(cls):
        cls.tok = {}
        for srv, name in ((cls.A, "alice"), (cls.B, "bob"), (cls.C, "cyril"), (cls.C, "carl")):
            srv.register(name)
            cls.tok[name] = srv.login(name)["access_token"]
        cls.home = {"alice": cls.A, "bob": cls.B, "cyril": cls.C, "carl": cls.C}

    # --- helpers ------------------------------------------------------------------------
    def uid(self, name):
        return f"@{name}:{self.home[name].server_name}"

    def logs(self):
        return "\n".join(f"{n}: {s.read_log()[-2500:]}" for n, s in
                         (("bund", self.A), ("nrw", self.B), ("hessen", self.C)))

    def send_text(self, name, text, room):
        r = self.home[name].put(f"{CS}/rooms/{q(room)}/send/m.room.message/"
                                f"{os.urandom(6).hex()}", {"msgtype": "m.text", "body": text},
                                token=self.tok[name])
        self.assertEqual(r.status, 200, r)
        return r["event_id"]

    def room_of_three(self, version, extra_joiners=()):
        pl = {"users": {self.uid("alice"): 100, self.uid("bob"): 50},
              "events": {"m.room.topic": 50, "m.room.power_levels": 100}, "ban": 50}
        r = self.A.post(f"{CS}/createRoom", {"preset": "public_chat", "room_version": version,
                                             "power_level_content_override": pl},
                        token=self.tok["alice"])
        self.assertEqual(r.status, 200, r)
        room = r["room_id"]
        for name in ("bob", "cyril") + tuple(extra_joiners):
            srv = self.home[name]
            r = srv.post(f"{CS}/join/{q(room)}?server_name={q(self.A.server_name)}", {},
                         token=self.tok[name])
            self.assertEqual(r.status, 200, f"{r}\n{srv.read_log()[-3000:]}")
        last = self.uid(([*extra_joiners] or ["cyril"])[-1])
        for srv, name in ((self.A, "alice"), (self.B, "bob"), (self.C, "cyril")):
            self.wait_for(lambda: self.membership(srv, name, room, last) == "join",
                          f"{last} joined, seen on {srv.server_name}")
        return room

    def membership(self, srv, name, room, user):
        r = srv.get(f"{CS}/rooms/{q(room)}/state/m.room.member/{q(user)}", token=self.tok[name])
        return r["membership"] if r.status == 200 else None

    def wait_for(self, pred, what, wait=WAIT_S):
        deadline = time.time() + wait
        while time.time() < deadline:
            if pred():
                return
            time.sleep(0.25)
        self.fail(f"{what}: not within {wait} s\n{self.logs()}")

    def state_map(self, srv, name, room):
        """(type, state_key) -> event_id of srv's current state of room."""
        r = srv.get(f"{CS}/rooms/{q(room)}/state", token=self.tok[name])
        self.assertEqual(r.status, 200, r)
        return {(e["type"], e["state_key"]): e["event_id"] for e in r.body}

    def messages_texts(self, srv, name, room, limit=200):
        r = srv.get(f"{CS}/rooms/{q(room)}/messages?dir=b&limit={limit}", token=self.tok[name])
        self.assertEqual(r.status, 200, r)
        return [e["content"].get("body") for e in r["chunk"] if e["type"] == "m.room.message"]

    # --- outage ---------------------------------------------------------------------------
    def test_outage_everything_arrives_after_restart(self):
        room = self.room_of_three("10")
        r = self.C.get(f"{CS}/sync?timeout=0", token=self.tok["cyril"])
        self.assertEqual(r.status, 200, r)
        since = r["next_batch"]
        self.C.pause()
        sent = []
        try:
            for i in range(30):
                name = "alice" if i % 2 == 0 else "bob"
                text = f"outage {i}"
                self.send_text(name, text, room)
                sent.append(text)
                if i == 14:
                    r = self.A.put(f"{CS}/rooms/{q(room)}/state/m.room.topic/",
                                   {"topic": "während der Störung"}, token=self.tok["alice"])
                    self.assertEqual(r.status, 200, r)
                    # bund holds hessen's queue: restart it; nothing may be lost
                    self.A.pause()
                    self.A.resume()
            time.sleep(2)
        finally:
            self.C.resume()
        # /sync on hessen from before the outage: every message (a gappy timeline may be
        # limited; then /messages has the rest)
        seen = set()
        topic_seen = False
        deadline = time.time() + WAIT_S
        while time.time() < deadline and not (len(seen) == 30 and topic_seen):
            r = self.C.get(f"{CS}/sync?timeout=2000&since={since}", token=self.tok["cyril"])
            self.assertEqual(r.status, 200, r)
            since = r["next_batch"]
            entry = r.body.get("rooms", {}).get("join", {}).get(room, {})
            for e in entry.get("timeline", {}).get("events", []) + \
                    entry.get("state", {}).get("events", []):
                if e["type"] == "m.room.message" and e["content"].get("body", "") \
                        .startswith("outage "):
                    seen.add(e["content"]["body"])
                if e["type"] == "m.room.topic":
                    topic_seen = True
            if len(seen) < 30:
                seen.update(t for t in self.messages_texts(self.C, "cyril", room)
                            if t and t.startswith("outage "))
        self.assertEqual(seen, set(sent), f"missing {set(sent) - seen}\n{self.logs()}")
        self.assertTrue(topic_seen, "topic change not in hessen's /sync")
        texts = [t for t in self.messages_texts(self.C, "cyril", room)
                 if t and t.startswith("outage ")]
        self.assertEqual(sorted(texts), sorted(sent))
        r = self.C.get(f"{CS}/rooms/{q(room)}/state/m.room.topic/", token=self.tok["cyril"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r["topic"], "während der Störung")
        # and the three agree on the state
        self.assertEqual(self.state_map(self.A, "alice", room),
                         self.state_map(self.C, "cyril", room))

    # --- fork -----------------------------------------------------------------------------
    def test_fork_resolves_identically_everywhere(self):
        self.fork("10")

    def tearDown(self):
        keep = os.environ.get("FEDFORKS_KEEP_LOGS")  # a directory: logs go there
        if keep:
            os.makedirs(keep, exist_ok=True)
            for n, s in (("bund", self.A), ("nrw", self.B), ("hessen", self.C)):
                shutil.copy(s.log_path, os.path.join(keep, f"{self._testMethodName}-{n}.log"))

    def test_fork_resolves_identically_everywhere_v1(self):
        """Room version 1 (state resolution v1, event IDs from the origin): the same fork
        ends in the same state on all three (v1 resolves the topic by depth, not by auth)."""
        self.fork("1")

    def fork(self, version):
        room = self.room_of_three(version, extra_joiners=("carl",))
        bob, carl = self.uid("bob"), self.uid("carl")
        # partition: nrw refuses bund and does not send to it; hessen hears both
        self.B.pause()
        self.B.resume({"federation_domain_whitelist": [self.B.server_name,
                                                       self.C.server_name]})
        # bund: demote the moderator on nrw
        r = self.A.get(f"{CS}/rooms/{q(room)}/state/m.room.power_levels/",
                       token=self.tok["alice"])
        self.assertEqual(r.status, 200, r)
        pl = r.body
        pl["users"].pop(bob, None)
        r = self.A.put(f"{CS}/rooms/{q(room)}/state/m.room.power_levels/", pl,
                       token=self.tok["alice"])
        self.assertEqual(r.status, 200, r)
        demotion = r["event_id"]
        r = self.A.put(f"{CS}/rooms/{q(room)}/state/m.room.name/", {"name": "Bund"},
                       token=self.tok["alice"])
        self.assertEqual(r.status, 200, r)
        # nrw: the moderator, who still is one there, changes the topic and bans carl
        r = self.B.put(f"{CS}/rooms/{q(room)}/state/m.room.topic/", {"topic": "von nrw"},
                       token=self.tok["bob"])
        self.assertEqual(r.status, 200, r)
        r = self.B.post(f"{CS}/rooms/{q(room)}/ban", {"user_id": carl, "reason": "fork"},
                        token=self.tok["bob"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.membership(self.B, "bob", room, carl), "ban")
        r = self.B.put(f"{CS}/rooms/{q(room)}/state/m.room.member/{q(bob)}",
                       {"membership": "join", "displayname": "Bob (nrw)"}, token=self.tok["bob"])
        self.assertEqual(r.status, 200, r)
        # hessen sees both sides (bund's demotion and nrw's ban)
        self.wait_for(lambda: self.state_map(self.C, "cyril", room)
                      .get(("m.room.power_levels", "")) == demotion, "demotion on hessen")
        # the partition holds: neither side has the other's change
        self.assertNotEqual(self.state_map(self.B, "bob", room).get(("m.room.power_levels", "")),
                            demotion)
        self.assertEqual(self.membership(self.A, "alice", room, carl), "join")
        # reconnect
        self.B.pause()
        self.B.resume()
        self.send_text("cyril", "joining the forks", room)
        self.send_text("bob", "after the partition", room)
        self.send_text("alice", "after the partition too", room)

        def agree():
            maps = [self.state_map(s, n, room) for s, n in
                    ((self.A, "alice"), (self.B, "bob"), (self.C, "cyril"))]
            return maps[0] == maps[1] == maps[2] and \
                maps[0].get(("m.room.power_levels", "")) == demotion
        deadline = time.time() + WAIT_S
        while time.time() < deadline and not agree():
            time.sleep(0.5)
        maps = {n: self.state_map(s, t, room) for n, s, t in
                (("bund", self.A, "alice"), ("nrw", self.B, "bob"),
                 ("hessen", self.C, "cyril"))}
        diff = {k: {n: m.get(k) for n, m in maps.items()} for k in
                set().union(*maps.values()) if len({m.get(k) for m in maps.values()}) > 1}
        self.assertEqual(diff, {}, f"state differs\n{self.logs()}")
        self.assertEqual(maps["bund"][("m.room.power_levels", "")], demotion)
        # the demotion wins: the demoted moderator's ban is not in the state (nor, in v2,
        # the topic); the changes nobody disputes (bob's display name on nrw, the room name on
        # bund) are in it everywhere: the forks were merged, not one side dropped
        for srv, name in ((self.A, "alice"), (self.B, "bob"), (self.C, "cyril")):
            self.assertEqual(self.membership(srv, name, room, carl), "join", srv.server_name)
            r = srv.get(f"{CS}/rooms/{q(room)}/state/m.room.member/{q(bob)}",
                        token=self.tok[name])
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.body.get("displayname"), "Bob (nrw)", srv.server_name)
            r = srv.get(f"{CS}/rooms/{q(room)}/state/m.room.name/", token=self.tok[name])
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r["name"], "Bund", srv.server_name)
            if version != "1":
                r = srv.get(f"{CS}/rooms/{q(room)}/state/m.room.topic/", token=self.tok[name])
                self.assertFalse(r.status == 200 and r.body.get("topic") == "von nrw",
                                 f"{srv.server_name}: {r}")


if __name__ == "__main__":
    unittest.main()
