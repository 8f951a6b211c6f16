"""Federation II (issue 13): catch-up after an outage, newest events first (Synapse's
per_destination_queue). Two instances behind TLS fronts: bund (A, the sender, with a metrics
listener) and nrw (B). nrw is stopped while alice on bund sends 25 messages in one room and 5 in another;
bund's transactions fail and back off; nrw comes back. bund must then send only the newest
PDU of each room (amtsbote_federation_pdus_sent_total grows by 2, not 30, and
amtsbote_federation_catchup_pdus_skipped_total counts the rest), and nrw must still get every
message, fetching the older ones through the newest one's prev_events (/get_missing_events):
all 25 in nrw's /messages, and the newest in its /sync."""
import re
import sys
import time
import unittest
import urllib.parse
import urllib.request

from fedharness import FedTestCase, Restartable
from harness import free_port

CS = "/_matrix/client/v3"
WAIT_S = 90
N = 25


def q(s):
    return urllib.parse.quote(s, safe="")


class TestFederationCatchUp(FedTestCase):
    PREFIX = "amtsbote-fedcatchup-"
    INSTANCES = {"A": Restartable, "B": Restartable}  # bund, nrw

    @classmethod
    def before_start(cls):
        cls.mport = free_port()
        cls.A.overrides["listeners"] = [
            {"port": cls.A.port, "bind_addresses": ["127.0.0.1"], "type": "http",
             "resources": [{"names": ["client", "federation"]}]},
            {"port": cls.mport, "bind_addresses": ["127.0.0.1"], "type": "http",
             "resources": [{"names": ["metrics"]}]}]

    @classmethod
    def after_start(cls):
        cls.A.register("alice")
        cls.B.register("bob")
        cls.atok = cls.A.login("alice")["access_token"]
        cls.btok = cls.B.login("bob")["access_token"]

    def metric(self, name):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.mport}/_synapse/metrics",
                                    timeout=10) as r:
            text = r.read().decode()
        m = re.search(rf"^{name} (\d+)$", text, re.M)
        self.assertIsNotNone(m, name)
        return int(m.group(1))

    def logs(self):
        return f"bund: {self.A.read_log()[-3000:]}\nnrw: {self.B.read_log()[-3000:]}"

    def texts(self, room):
        r = self.B.get(f"{CS}/rooms/{q(room)}/messages?dir=b&limit=100", token=self.btok)
        self.assertEqual(r.status, 200, r)
        return {e["content"].get("body") for e in r["chunk"] if e["type"] == "m.room.message"}

    def shared_room(self):
        r = self.A.post(f"{CS}/createRoom", {"preset": "public_chat", "room_version": "10"},
                        token=self.atok)
        self.assertEqual(r.status, 200, r)
        room = r["room_id"]
        r = self.B.post(f"{CS}/join/{q(room)}?server_name={q(self.A.server_name)}", {},
                        token=self.btok)
        self.assertEqual(r.status, 200, f"{r}\n{self.logs()}")
        return room

    def test_outage_sends_newest_only_and_everything_arrives(self):
        room, other = self.shared_room(), self.shared_room()
        # a message before the outage arrives the ordinary way
        r = self.A.put(f"{CS}/rooms/{q(room)}/send/m.room.message/before",
                       {"msgtype": "m.text", "body": "before"}, token=self.atok)
        self.assertEqual(r.status, 200, r)
        deadline = time.time() + WAIT_S
        while time.time() < deadline and "before" not in self.texts(room):
            time.sleep(0.25)
        self.assertIn("before", self.texts(room), self.logs())
        r = self.B.get(f"{CS}/sync?timeout=0", token=self.btok)
        since = r["next_batch"]
        self.B.pause()
        sent = [f"outage {i}" for i in range(N)]
        try:
            for i, text in enumerate(sent):
                r = self.A.put(f"{CS}/rooms/{q(room)}/send/m.room.message/o{i}",
                               {"msgtype": "m.text", "body": text}, token=self.atok)
                self.assertEqual(r.status, 200, r)
                if i % 5 == 0:  # and a few in a second room
                    r = self.A.put(f"{CS}/rooms/{q(other)}/send/m.room.message/p{i}",
                                   {"msgtype": "m.text", "body": "other " + text},
                                   token=self.atok)
                    self.assertEqual(r.status, 200, r)
            time.sleep(3)  # at least one failed try and one catch-up while nrw is down
            pdus_before = self.metric("amtsbote_federation_pdus_sent_total")
        finally:
            self.B.resume()
        deadline = time.time() + WAIT_S
        newest_in_sync = False
        while time.time() < deadline:
            r = self.B.get(f"{CS}/sync?timeout=1000&since={since}", token=self.btok)
            self.assertEqual(r.status, 200, r)
            since = r["next_batch"]
            tl = r.body.get("rooms", {}).get("join", {}).get(room, {}).get("timeline", {})
            if any(e["content"].get("body") == sent[-1] for e in tl.get("events", [])
                   if e["type"] == "m.room.message"):
                newest_in_sync = True
            if newest_in_sync and set(sent) <= self.texts(room):
                break
        self.assertTrue(newest_in_sync, f"newest message not in nrw's /sync\n{self.logs()}")
        self.assertEqual(set(sent) - self.texts(room), set(), self.logs())
        others = {"other " + t for t in sent[::5]}
        while time.time() < deadline and not others <= self.texts(other):
            time.sleep(0.25)
        self.assertEqual(others - self.texts(other), set(), self.logs())
        sent_after = self.metric("amtsbote_federation_pdus_sent_total") - pdus_before
        skipped = self.metric("amtsbote_federation_catchup_pdus_skipped_total")
        print(f"\ncatch-up: {sent_after} PDU(s) sent after the outage, {skipped} skipped "
              f"of {N + len(others)} queued in 2 rooms", file=sys.stderr)
        # each room's newest PDU, not a replay of N + N / 5
        self.assertLessEqual(sent_after, 3, self.logs())
        self.assertGreaterEqual(skipped, N + len(others) - 3, self.logs())
        # and ordinary sending resumes
        r = self.A.put(f"{CS}/rooms/{q(room)}/send/m.room.message/after",
                       {"msgtype": "m.text", "body": "after"}, token=self.atok)
        deadline = time.time() + WAIT_S
        while time.time() < deadline and "after" not in self.texts(room):
            time.sleep(0.25)
        self.assertIn("after", self.texts(room), self.logs())

    def test_signed_request_from_destination_ends_back_off(self):
        """nrw comes back while bund waits out a back-off; bob's message (a signed
        transaction from nrw) makes bund try nrw at once, as Synapse does."""
        room = self.shared_room()
        self.B.pause()
        try:
            for i in range(3):
                r = self.A.put(f"{CS}/rooms/{q(room)}/send/m.room.message/w{i}",
                               {"msgtype": "m.text", "body": f"wake {i}"}, token=self.atok)
                self.assertEqual(r.status, 200, r)
            time.sleep(7)  # tries at 0, 2 and 6 s failed: the next one is 8 s away
        finally:
            self.B.resume()
        t0 = time.time()
        r = self.B.put(f"{CS}/rooms/{q(room)}/send/m.room.message/back",
                       {"msgtype": "m.text", "body": "back"}, token=self.btok)
        self.assertEqual(r.status, 200, r)
        want = {f"wake {i}" for i in range(3)}
        while time.time() < t0 + WAIT_S and not want <= self.texts(room):
            time.sleep(0.2)
        self.assertEqual(want - self.texts(room), set(), self.logs())
        self.assertIn("is back; its queue goes now", self.A.read_log())


if __name__ == "__main__":
    unittest.main()
