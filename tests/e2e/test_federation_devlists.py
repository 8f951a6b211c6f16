"""Federation II (issue 13): device lists across servers (Server-Server API "Device
Management"), with two instances on loopback: A (default configuration) and B
(allow_device_name_lookup_over_federation: true).

A keeps a copy of the list of bob (B), who shares a room with alice (A). B sends one
m.device_list_update per device change, each naming the previous one in prev_id. A applies
an update that follows its copy without asking B again; an update whose prev_id A never got
(a lost EDU: here one the test sends signed as B) makes A fetch the whole list again with
GET /user/devices, after which the chain goes on from that answer's stream_id. Device display
names cross only from the server that allows it. A claim over federation for a device whose
one-time keys are used up gets its fallback key."""
import os
import time
import unittest
import urllib.parse

from fedharness import FedTestCase
from test_keys import PASSWORD
from test_keys import Device as KeysDevice

CS = "/_matrix/client/v3"
FED = "/_matrix/federation/v1"
WAIT_S = 30


def q(s):
    return urllib.parse.quote(s, safe="")


class Device(KeysDevice):
    """A login with a display name and real Olm identity keys, uploaded."""

    def __init__(self, server, user, name):
        r = server.login(user, PASSWORD, initial_device_display_name=name)
        self.s, self.token, self.user_id, self.device_id = (server, r["access_token"],
                                                            r["user_id"], r["device_id"])
        import olm
        self.acct = olm.Account()
        self.n = 0
        r = self.post("/keys/upload", {"device_keys": self.device_keys()})
        assert r.status == 200, r


class TestFederationDeviceLists(FedTestCase):
    PREFIX = "amtsbote-feddevlists-"

    @classmethod
    def before_start(cls):
        cls.B.overrides["allow_device_name_lookup_over_federation"] = True

    @classmethod
    def after_start(cls):
        cls.A.register("alice", PASSWORD)
        cls.B.register("bob", PASSWORD)

    def logs(self):
        return f"--- A:\n{self.A.read_log()[-3000:]}\n--- B:\n{self.B.read_log()[-3000:]}"

    def query(self, server, token, user):
        r = server.post(CS + "/keys/query", {"device_keys": {user: []}}, token=token)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r["failures"], {}, f"{r}\n{self.logs()}")
        return r["device_keys"].get(user, {})

    def fetches(self, user):
        """How often A fetched user's whole list from B (B's access log, less the test's own
        requests through b_devices)."""
        return self.B.read_log().count(f"{FED}/user/devices/{q(user)}") - self.own

    def b_devices(self, user):
        """B's /user/devices answer for its user, asked by the test signed as A."""
        self.own += 1
        r = self.B.fed_request("GET", f"{FED}/user/devices/{q(user)}", self.A.key,
                               self.A.server_name)
        self.assertEqual(r.status, 200, r)
        return r

    def wait_changed(self, server, token, since, user):
        """Sync until `user` is in device_lists.changed; the next since token."""
        deadline = time.time() + WAIT_S
        while time.time() < deadline:
            s = server.get(f"{CS}/sync?timeout=1000&since={q(since)}", token=token)
            self.assertEqual(s.status, 200, s)
            since = s["next_batch"]
            if user in s.get("device_lists", {}).get("changed", []):
                return since
        self.fail(f"{user} not in device_lists.changed within {WAIT_S} s\n{self.logs()}")

    def send_edu(self, content):
        """A transaction to A signed as B with one m.device_list_update."""
        txn = {"origin": self.B.server_name, "origin_server_ts": int(time.time() * 1000),
               "pdus": [], "edus": [{"edu_type": "m.device_list_update", "content": content}]}
        r = self.A.fed_request("PUT", f"{FED}/send/{os.urandom(8).hex()}", self.B.key,
                               self.B.server_name, content=txn)
        self.assertEqual(r.status, 200, r)

    def test_chain_applied_gap_resynced_names_by_config(self):
        self.own = 0
        alice = self.A.login("alice", PASSWORD)["access_token"]
        d1 = Device(self.B, "bob", "Bobs Telefon")
        bob = d1.user_id
        room = self.A.post(CS + "/createRoom", {"preset": "public_chat"}, token=alice)
        self.assertEqual(room.status, 200, room)
        room = room["room_id"]
        r = self.B.post(f"{CS}/join/{q(room)}?server_name={q(self.A.server_name)}", {},
                        token=d1.token)
        self.assertEqual(r.status, 200, r)
        # A fetches the whole list once: B shares device names, A shows them to alice
        got = self.query(self.A, alice, bob)
        self.assertEqual(list(got), [d1.device_id])
        self.assertEqual(got[d1.device_id]["unsigned"]["device_display_name"], "Bobs Telefon")
        self.assertEqual(self.fetches(bob), 1)
        # A does not share names (the default): B's answer for alice has none
        r = self.A.fed_request("GET", f"{FED}/user/devices/{q('@alice:' + self.A.server_name)}",
                               self.B.key, self.B.server_name)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(all("device_display_name" not in d for d in r["devices"]), r)
        r = self.b_devices(bob)
        self.assertEqual([d.get("device_display_name") for d in r["devices"]],
                         ["Bobs Telefon"])

        # a new device: B's updates (login, keys) follow A's copy and are applied there
        since = self.A.get(CS + "/sync?timeout=0", token=alice)["next_batch"]
        d2 = Device(self.B, "bob", "Bobs Tablet")
        deadline = time.time() + WAIT_S
        while time.time() < deadline and d2.device_id not in self.query(self.A, alice, bob):
            since = self.wait_changed(self.A, alice, since, bob)
        got = self.query(self.A, alice, bob)
        self.assertEqual(sorted(got), sorted([d1.device_id, d2.device_id]), self.logs())
        self.assertEqual(got[d2.device_id]["unsigned"]["device_display_name"], "Bobs Tablet")
        self.assertEqual(got[d2.device_id]["keys"], d2.device_keys()["keys"])
        self.assertEqual(self.fetches(bob), 1, f"an update that follows the copy was fetched\n{self.logs()}")
        stream = self.b_devices(bob)["stream_id"]

        # an update chained to A's copy (as B would send it) is applied without a fetch
        ghost = {"user_id": bob, "device_id": "GHOST", "algorithms": ["m.megolm.v1.aes-sha2"],
                 "keys": {"ed25519:GHOST": "AAAA"}, "signatures": {}}
        self.send_edu({"user_id": bob, "device_id": "GHOST", "stream_id": stream + 1000,
                       "prev_id": [stream], "keys": ghost})
        since = self.wait_changed(self.A, alice, since, bob)
        self.assertIn("GHOST", self.query(self.A, alice, bob))
        self.assertEqual(self.fetches(bob), 1)
        # one whose prev_id A never got (stream + 2000 was lost): A fetches the list again,
        # which B answers without GHOST
        self.send_edu({"user_id": bob, "device_id": "GHOST", "stream_id": stream + 3000,
                       "prev_id": [stream + 2000], "deleted": False, "keys": ghost})
        since = self.wait_changed(self.A, alice, since, bob)
        got = self.query(self.A, alice, bob)
        self.assertEqual(sorted(got), sorted([d1.device_id, d2.device_id]))
        self.assertEqual(self.fetches(bob), 2)
        self.assertIn("does not follow", self.A.read_log())
        # served from the new copy again, and the chain goes on from B's stream_id: deleting
        # d2 on B reaches A as an update that follows the fetched copy
        self.assertEqual(sorted(self.query(self.A, alice, bob)),
                         sorted([d1.device_id, d2.device_id]))
        self.assertEqual(self.fetches(bob), 2)
        r = d2.s.post(CS + "/logout", {}, token=d2.token)
        self.assertEqual(r.status, 200, r)
        deadline = time.time() + WAIT_S
        while time.time() < deadline and d2.device_id in self.query(self.A, alice, bob):
            since = self.wait_changed(self.A, alice, since, bob)
        self.assertEqual(list(self.query(self.A, alice, bob)), [d1.device_id])
        self.assertEqual(self.fetches(bob), 2, "the deletion was not applied to the copy")
        # a late update the copy already holds (its stream_id is not past the copy's) changes
        # nothing
        self.send_edu({"user_id": bob, "device_id": "GHOST", "stream_id": stream,
                       "prev_id": [stream - 1], "keys": ghost})
        self.wait_changed(self.A, alice, since, bob)
        self.assertEqual(list(self.query(self.A, alice, bob)), [d1.device_id])
        self.assertEqual(self.fetches(bob), 2)

    def test_claim_falls_back_over_federation(self):
        alice = self.A.login("alice", PASSWORD)["access_token"]
        d = Device(self.B, "bob", "Bobs Laptop")
        r = d.post("/keys/upload", {"one_time_keys": d.signed_otks(1),
                                    "fallback_keys": d.signed_otks(0, fallback=True)})
        self.assertEqual(r.status, 200, r)
        want = {"one_time_keys": {d.user_id: {d.device_id: "signed_curve25519"}}}
        got = []
        for _ in range(3):  # the one-time key, then the fallback key, which is kept
            r = self.A.post(CS + "/keys/claim", want, token=alice)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r["failures"], {}, r)
            keys = r["one_time_keys"][d.user_id][d.device_id]
            self.assertEqual(len(keys), 1, r)
            got.append(next(iter(keys.values())))
        self.assertNotIn("fallback", got[0])
        self.assertTrue(got[1].get("fallback"), got)
        self.assertEqual(got[1], got[2])
        self.assertIn(f"ed25519:{d.device_id}", got[1]["signatures"][d.user_id])


if __name__ == "__main__":
    unittest.main()
