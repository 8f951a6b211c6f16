"""End-to-end encryption endpoints over HTTP with real keys (python-olm): /keys/upload,
/keys/query, /keys/claim (also under 50 concurrent claims), /keys/changes, /sendToDevice,
the E2EE sections of /sync, cross-signing (/keys/device_signing/upload with and without
user-interactive auth) and /keys/signatures/upload with verified and forged signatures."""
import copy
import json
import threading
import urllib.parse

import olm

from harness import ServerTestCase

CS = "/_matrix/client/v3"
PASSWORD = "correct horse battery"


def q(s):
    return urllib.parse.quote(s, safe="")


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def signable(obj):
    o = {k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}
    return canonical(o)


class Device:
    """A real Olm account behind one login."""

    def __init__(self, server, user, password=PASSWORD):
        r = server.login(user, password)
        self.s, self.token, self.user_id, self.device_id = (server, r["access_token"],
                                                            r["user_id"], r["device_id"])
        self.acct = olm.Account()
        self.n = 0

    def device_keys(self):
        ik = self.acct.identity_keys
        dk = {"user_id": self.user_id, "device_id": self.device_id,
              "algorithms": ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
              "keys": {f"curve25519:{self.device_id}": ik["curve25519"],
                       f"ed25519:{self.device_id}": ik["ed25519"]}}
        dk["signatures"] = {self.user_id: {
            f"ed25519:{self.device_id}": self.acct.sign(signable(dk).decode())}}
        return dk

    def signed_otks(self, n, fallback=False):
        if fallback:
            self.acct.generate_fallback_key()
            keys = self.acct.fallback_key["curve25519"]
        else:
            self.acct.generate_one_time_keys(n)
            keys = self.acct.one_time_keys["curve25519"]
            self.acct.mark_keys_as_published()
        out = {}
        for kid, key in keys.items():
            obj = {"key": key}
            if fallback:
                obj["fallback"] = True
            obj["signatures"] = {self.user_id: {
                f"ed25519:{self.device_id}": self.acct.sign(signable(obj).decode())}}
            out[f"signed_curve25519:{kid}"] = obj
        return out

    def post(self, path, body):
        return self.s.post(CS + path, body, token=self.token)

    def txn(self):
        self.n += 1
        return f"{self.device_id}-{self.n}"


class KeysBase(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for name in ("alice", "bob", "carol", "dave"):
            cls.server.register(name)

    def dev(self, name):
        return Device(self.s, name)

    def upload(self, d, otks=0, device_keys=True, fallback=False):
        body = {}
        if device_keys:
            body["device_keys"] = d.device_keys()
        if otks:
            body["one_time_keys"] = d.signed_otks(otks)
        if fallback:
            body["fallback_keys"] = d.signed_otks(1, fallback=True)
        r = d.post("/keys/upload", body)
        self.assertEqual(r.status, 200, r)
        return r.body

    def sync(self, d, since=None, timeout=0):
        params = {"timeout": str(timeout)}
        if since:
            params["since"] = since
        r = self.s.get(CS + "/sync?" + urllib.parse.urlencode(params), token=d.token)
        self.assertEqual(r.status, 200, r)
        return r.body

    def shared_room(self, owner, *others):
        r = self.s.post(CS + "/createRoom", {"preset": "public_chat"}, token=owner.token)
        self.assertEqual(r.status, 200, r)
        room = r["room_id"]
        for o in others:
            self.assertEqual(self.s.post(CS + f"/rooms/{q(room)}/join", {},
                                         token=o.token).status, 200)
        return room


class TestUploadQueryClaim(KeysBase):
    def test_upload_counts_and_query_roundtrip(self):
        a, b = self.dev("alice"), self.dev("bob")
        r = self.upload(a, otks=5)
        self.assertEqual(r["one_time_key_counts"], {"signed_curve25519": 5})
        r = b.post("/keys/query", {"device_keys": {a.user_id: []}})
        self.assertEqual(r.status, 200, r)
        got = r["device_keys"][a.user_id][a.device_id]
        sent = a.device_keys()
        self.assertEqual({k: v for k, v in got.items() if k != "unsigned"}, sent)
        olm.ed25519_verify(got["keys"][f"ed25519:{a.device_id}"], signable(got),
                           got["signatures"][a.user_id][f"ed25519:{a.device_id}"])
        self.assertEqual(r["failures"], {})
        self.assertEqual(r["master_keys"], {})
        # a device list naming one device; an unknown device; a user with no keys
        r = b.post("/keys/query", {"device_keys": {a.user_id: [a.device_id, "NOPE"],
                                                   "@carol:test.local": []}})
        self.assertEqual(list(r["device_keys"][a.user_id]), [a.device_id])
        self.assertEqual(r["device_keys"]["@carol:test.local"], {})
        # the same upload again changes nothing; the count is reported without new keys
        r = self.upload(a)
        self.assertEqual(r["one_time_key_counts"]["signed_curve25519"], 5)

    def test_display_name_in_unsigned(self):
        a = self.dev("alice")
        self.s.put(CS + f"/devices/{a.device_id}", {"display_name": "Büro-Laptop"},
                   token=a.token)
        self.upload(a)
        r = a.post("/keys/query", {"device_keys": {a.user_id: [a.device_id]}})
        self.assertEqual(r["device_keys"][a.user_id][a.device_id]["unsigned"],
                         {"device_display_name": "Büro-Laptop"})

    def test_identity_keys_cannot_be_replaced(self):
        a = self.dev("alice")
        self.upload(a)
        a.acct = olm.Account()  # other keys, same device
        r = a.post("/keys/upload", {"device_keys": a.device_keys()})
        self.assertError(r, 400, "M_INVALID_PARAM")

    def test_device_keys_must_be_own(self):
        a = self.dev("alice")
        dk = a.device_keys()
        dk["device_id"] = "OTHER"
        self.assertError(a.post("/keys/upload", {"device_keys": dk}), 400, "M_INVALID_PARAM")
        dk = a.device_keys()
        dk["user_id"] = "@bob:test.local"
        self.assertError(a.post("/keys/upload", {"device_keys": dk}), 400, "M_INVALID_PARAM")

    def test_bad_input(self):
        a = self.dev("alice")
        for body in ({"device_keys": "x"}, {"device_keys": {"user_id": a.user_id}},
                     {"one_time_keys": []}, {"one_time_keys": {"nocolon": "k"}},
                     {"one_time_keys": {"a:b": 5}}, {"fallback_keys": {"a:b": "str"}},
                     {"one_time_keys": {"a:b": {"x": 1.5}}}):
            self.assertError(a.post("/keys/upload", body), 400, "M_BAD_JSON")
        too_many = {f"signed_curve25519:{i}": "k" for i in range(1001)}
        self.assertError(a.post("/keys/upload", {"one_time_keys": too_many}), 400,
                         "M_TOO_LARGE")
        for body in ({}, {"device_keys": []}, {"device_keys": {"@x:test.local": "DEV"}}):
            self.assertError(a.post("/keys/query", body), 400, "M_BAD_JSON")
        for body in ({}, {"one_time_keys": {"@x:test.local": ["DEV"]}},
                     {"one_time_keys": {"@x:test.local": {"DEV": 1}}}):
            self.assertError(a.post("/keys/claim", body), 400, "M_BAD_JSON")
        r = self.s.request("POST", CS + "/keys/upload", raw=b"{nope", token=a.token)
        self.assertError(r, 400, "M_NOT_JSON")

    def test_otk_id_reuse_with_other_content(self):
        a = self.dev("alice")
        self.assertEqual(a.post("/keys/upload", {"one_time_keys": {"curve25519:AAA": "k1"}})
                         .status, 200)
        r = a.post("/keys/upload", {"one_time_keys": {"curve25519:AAA": "k1"}})
        self.assertEqual(r["one_time_key_counts"]["curve25519"], 1)
        r = a.post("/keys/upload", {"one_time_keys": {"curve25519:AAA": "k2",
                                                      "curve25519:BBB": "k3"}})
        self.assertError(r, 400, "M_INVALID_PARAM")
        r = a.post("/keys/upload", {})
        self.assertEqual(r["one_time_key_counts"]["curve25519"], 1)  # nothing half-added

    def test_remote_users_are_failures(self):
        a = self.dev("alice")
        r = a.post("/keys/query", {"device_keys": {"@x:elsewhere.example": []}})
        self.assertIn("elsewhere.example", r["failures"])
        r = a.post("/keys/claim", {"one_time_keys": {"@x:elsewhere.example": {"D": "alg"}}})
        self.assertIn("elsewhere.example", r["failures"])

    def test_claim_then_fallback(self):
        a, b = self.dev("alice"), self.dev("bob")
        self.upload(a, otks=2, fallback=True)
        first = self.sync(a)
        self.assertEqual(first["device_one_time_keys_count"]["signed_curve25519"], 2)
        self.assertEqual(first["device_unused_fallback_key_types"], ["signed_curve25519"])
        got = []
        for _ in range(3):
            r = b.post("/keys/claim", {"one_time_keys": {a.user_id: {
                a.device_id: "signed_curve25519"}}})
            self.assertEqual(r.status, 200, r)
            keys = r["one_time_keys"][a.user_id][a.device_id]
            (kid, key), = keys.items()
            olm.ed25519_verify(a.acct.identity_keys["ed25519"], signable(key),
                               key["signatures"][a.user_id][f"ed25519:{a.device_id}"])
            got.append((kid, key))
        self.assertEqual(len({k for k, _ in got[:2]}), 2)
        self.assertTrue(got[2][1].get("fallback"))  # the one-time keys are gone
        later = self.sync(a, since=first["next_batch"])
        self.assertEqual(later["device_one_time_keys_count"]["signed_curve25519"], 0)
        self.assertEqual(later["device_unused_fallback_key_types"], [])
        # the fallback key keeps being handed out; a new one is unused again
        r = b.post("/keys/claim", {"one_time_keys": {a.user_id: {
            a.device_id: "signed_curve25519"}}})
        self.assertEqual(list(r["one_time_keys"][a.user_id][a.device_id]), [got[2][0]])
        self.upload(a, device_keys=False, fallback=True)
        self.assertEqual(self.sync(a)["device_unused_fallback_key_types"],
                         ["signed_curve25519"])

    def test_fifty_parallel_claims_hand_out_each_key_once(self):
        a = self.dev("alice")
        self.upload(a, otks=10)
        claimers = [self.dev("bob") for _ in range(5)]
        results, lock = [], threading.Lock()

        def claim(d):
            r = d.post("/keys/claim", {"one_time_keys": {a.user_id: {
                a.device_id: "signed_curve25519"}}})
            with lock:
                results.append(r)

        threads = [threading.Thread(target=claim, args=(claimers[i % 5],)) for i in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(len(results), 50)
        handed = []
        for r in results:
            self.assertEqual(r.status, 200, r)
            handed += list(r["one_time_keys"].get(a.user_id, {}).get(a.device_id, {}))
        self.assertEqual(len(handed), 10)
        self.assertEqual(len(set(handed)), 10)
        r = a.post("/keys/upload", {})
        self.assertEqual(r["one_time_key_counts"]["signed_curve25519"], 0)


class TestToDevice(KeysBase):
    def test_send_receive_ack_and_idempotency(self):
        a, b1, b2 = self.dev("alice"), self.dev("bob"), self.dev("bob")
        s1, s2 = self.sync(b1), self.sync(b2)
        body = {"messages": {b1.user_id: {b1.device_id: {"n": 1, "ü": "x"}}}}
        for _ in range(2):  # the same transaction twice delivers once
            r = self.s.put(CS + "/sendToDevice/m.test/txn1", body, token=a.token)
            self.assertEqual(r.status, 200, r)
        r = self.sync(b1, since=s1["next_batch"])
        evs = r["to_device"]["events"]
        self.assertEqual(evs, [{"sender": a.user_id, "type": "m.test",
                                "content": {"n": 1, "ü": "x"}}])
        self.assertEqual(self.sync(b2, since=s2["next_batch"])["to_device"]["events"], [])
        # not acknowledged yet: the same since gives it again; the next token acknowledges it
        again = self.sync(b1, since=s1["next_batch"])
        self.assertEqual(len(again["to_device"]["events"]), 1)
        after = self.sync(b1, since=r["next_batch"])
        self.assertEqual(after["to_device"]["events"], [])
        # "*" reaches every device of the user
        r = self.s.put(CS + "/sendToDevice/m.test/txn2",
                       {"messages": {b1.user_id: {"*": {"all": True}}}}, token=a.token)
        self.assertEqual(r.status, 200)
        for d, since in ((b1, after["next_batch"]), (b2, s2["next_batch"])):
            evs = self.sync(d, since=since)["to_device"]["events"]
            self.assertEqual([e["content"] for e in evs], [{"all": True}])

    def test_parked_sync_is_woken(self):
        a, b = self.dev("alice"), self.dev("bob")
        first = self.sync(b)
        out = {}

        def wait():
            out["r"] = self.sync(b, since=first["next_batch"], timeout=10000)

        t = threading.Thread(target=wait)
        t.start()
        import time
        time.sleep(0.3)
        self.s.put(CS + "/sendToDevice/m.ping/p1",
                   {"messages": {b.user_id: {b.device_id: {"x": 1}}}}, token=a.token)
        t.join(10)
        self.assertFalse(t.is_alive())
        self.assertEqual(out["r"]["to_device"]["events"][0]["type"], "m.ping")

    def test_bad_input(self):
        a = self.dev("alice")
        for body in ({}, {"messages": []}, {"messages": {"@bob:test.local": []}},
                     {"messages": {"@bob:test.local": {"D": "x"}}}):
            r = self.s.put(CS + "/sendToDevice/m.test/bad", body, token=a.token)
            self.assertError(r, 400, "M_BAD_JSON")
        r = self.s.put(CS + "/sendToDevice/m.test/" + "x" * 300, {"messages": {}},
                       token=a.token)
        self.assertError(r, 400, "M_INVALID_PARAM")
        # unknown users, devices and remote users are skipped, not errors
        r = self.s.put(CS + "/sendToDevice/m.test/skip", {"messages": {
            "@nobody:test.local": {"D": {}}, "@x:elsewhere.example": {"D": {}}}},
            token=a.token)
        self.assertEqual(r.status, 200, r)


class TestDeviceLists(KeysBase):
    def test_changed_and_left(self):
        a, c, d = self.dev("carol"), self.dev("dave"), self.dev("alice")
        room = self.shared_room(a, c)
        first = self.sync(a)
        self.upload(c)
        r = self.sync(a, since=first["next_batch"])
        self.assertIn(c.user_id, r["device_lists"]["changed"])
        ch = self.s.get(CS + "/keys/changes?" + urllib.parse.urlencode(
            {"from": first["next_batch"], "to": r["next_batch"]}), token=a.token)
        self.assertEqual(ch.status, 200, ch)
        self.assertIn(c.user_id, ch["changed"])
        # a new member of a shared room shows up as changed
        self.assertEqual(self.s.post(CS + f"/rooms/{q(room)}/join", {}, token=d.token).status,
                         200)
        r2 = self.sync(a, since=r["next_batch"])
        self.assertIn(d.user_id, r2["device_lists"]["changed"])
        # someone who no longer shares a room is "left"
        self.s.post(CS + f"/rooms/{q(room)}/leave", {}, token=c.token)
        r3 = self.sync(a, since=r2["next_batch"])
        self.assertIn(c.user_id, r3["device_lists"]["left"])
        self.assertNotIn(c.user_id, r3["device_lists"]["changed"])
        # their later changes are not reported any more
        c.acct = olm.Account()
        c2 = self.dev("dave")
        self.upload(c2)
        r4 = self.sync(a, since=r3["next_batch"])
        self.assertNotIn(c.user_id, r4["device_lists"]["changed"])
        # a deleted device is a change
        self.s.post(CS + "/logout", {}, token=d.token)
        r5 = self.sync(a, since=r4["next_batch"])
        self.assertIn(d.user_id, r5["device_lists"]["changed"])

    def test_own_new_device_and_wakeup(self):
        a = self.dev("alice")
        first = self.sync(a)
        out = {}

        def wait():
            out["r"] = self.sync(a, since=first["next_batch"], timeout=10000)

        t = threading.Thread(target=wait)
        t.start()
        import time
        time.sleep(0.3)
        self.upload(self.dev("alice"))
        t.join(10)
        self.assertFalse(t.is_alive())
        self.assertIn(a.user_id, out["r"]["device_lists"]["changed"])

    def test_changes_bad_tokens(self):
        a = self.dev("alice")
        r = self.s.get(CS + "/keys/changes?from=garbage&to=s1_0_0", token=a.token)
        self.assertError(r, 400, "M_INVALID_PARAM")
        r = self.s.get(CS + "/keys/changes", token=a.token)
        self.assertError(r, 400, "M_INVALID_PARAM")


class CrossSigning:
    def __init__(self, user_id):
        self.user_id = user_id
        self.master = olm.PkSigning(olm.PkSigning.generate_seed())
        self.ss = olm.PkSigning(olm.PkSigning.generate_seed())
        self.us = olm.PkSigning(olm.PkSigning.generate_seed())

    def key(self, signer, usage, by=None):
        pub = signer.public_key
        k = {"user_id": self.user_id, "usage": [usage], "keys": {f"ed25519:{pub}": pub}}
        if by is not None:
            k["signatures"] = {self.user_id: {
                f"ed25519:{by.public_key}": by.sign(signable(k).decode())}}
        return k

    def upload_body(self):
        return {"master_key": self.key(self.master, "master"),
                "self_signing_key": self.key(self.ss, "self_signing", self.master),
                "user_signing_key": self.key(self.us, "user_signing", self.master)}


def add_sig(obj, user_id, signer):
    o = copy.deepcopy(obj)
    o.pop("unsigned", None)
    o.setdefault("signatures", {}).setdefault(user_id, {})[f"ed25519:{signer.public_key}"] = \
        signer.sign(signable(o).decode())
    return o


class TestCrossSigning(KeysBase):
    def test_upload_query_replace_with_uia(self):
        e = self.s.register("erin")
        a = Device(self.s, "erin")
        b = self.dev("bob")
        cs = CrossSigning(a.user_id)
        r = a.post("/keys/device_signing/upload", cs.upload_body())
        self.assertEqual(r.status, 200, r)  # the first upload needs no UIA
        self.assertEqual(a.post("/keys/device_signing/upload", cs.upload_body()).status, 200)
        mine = a.post("/keys/query", {"device_keys": {a.user_id: []}})
        self.assertEqual(mine["master_keys"][a.user_id], cs.key(cs.master, "master"))
        self.assertEqual(mine["self_signing_keys"][a.user_id],
                         cs.key(cs.ss, "self_signing", cs.master))
        self.assertIn(a.user_id, mine["user_signing_keys"])
        theirs = b.post("/keys/query", {"device_keys": {a.user_id: []}})
        self.assertIn(a.user_id, theirs["master_keys"])
        self.assertEqual(theirs["user_signing_keys"], {})  # only for the owner
        # replacing the keys needs the password
        cs2 = CrossSigning(a.user_id)
        r = a.post("/keys/device_signing/upload", cs2.upload_body())
        self.assertEqual(r.status, 401, r)
        body = cs2.upload_body()
        body["auth"] = {"type": "m.login.password", "session": r["session"], "password": PASSWORD,
                        "identifier": {"type": "m.id.user", "user": a.user_id}}
        r = a.post("/keys/device_signing/upload", body)
        self.assertEqual(r.status, 200, r)
        mine = a.post("/keys/query", {"device_keys": {a.user_id: []}})
        self.assertEqual(mine["master_keys"][a.user_id], cs2.key(cs2.master, "master"))
        del e

    def test_rejects_unsigned_or_malformed_keys(self):
        self.s.register("frank")
        a = Device(self.s, "frank")
        cs = CrossSigning(a.user_id)
        body = cs.upload_body()
        body["self_signing_key"] = cs.key(cs.ss, "self_signing", cs.us)  # wrong signer
        self.assertError(a.post("/keys/device_signing/upload", body), 400,
                         "M_INVALID_SIGNATURE")
        body = cs.upload_body()
        body["master_key"]["usage"] = ["self_signing"]
        self.assertError(a.post("/keys/device_signing/upload", body), 400, "M_INVALID_PARAM")
        body = cs.upload_body()
        body["master_key"]["user_id"] = "@bob:test.local"
        self.assertError(a.post("/keys/device_signing/upload", body), 400, "M_INVALID_PARAM")
        body = {"self_signing_key": cs.key(cs.ss, "self_signing", cs.master)}
        self.assertError(a.post("/keys/device_signing/upload", body), 400, "M_MISSING_PARAM")
        q_ = a.post("/keys/query", {"device_keys": {a.user_id: []}})
        self.assertEqual(q_["master_keys"], {})  # nothing stored

    def test_signatures_upload_verified(self):
        self.s.register("gina")
        self.s.register("hank")
        g, h = Device(self.s, "gina"), Device(self.s, "hank")
        self.upload(g)
        gcs, hcs = CrossSigning(g.user_id), CrossSigning(h.user_id)
        self.assertEqual(g.post("/keys/device_signing/upload", gcs.upload_body()).status, 200)
        self.assertEqual(h.post("/keys/device_signing/upload", hcs.upload_body()).status, 200)
        room = self.shared_room(g, h)
        del room
        first = self.sync(h)
        # gina signs her device with her self-signing key and her master key with her device
        dev = g.device_keys()
        signed_dev = add_sig(dev, g.user_id, gcs.ss)
        master = gcs.key(gcs.master, "master")
        signed_master = copy.deepcopy(master)
        signed_master["signatures"] = {g.user_id: {
            f"ed25519:{g.device_id}": g.acct.sign(signable(master).decode())}}
        r = g.post("/keys/signatures/upload", {g.user_id: {
            g.device_id: signed_dev, gcs.master.public_key: signed_master}})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r["failures"], {})
        seen = h.post("/keys/query", {"device_keys": {g.user_id: []}})
        sigs = seen["device_keys"][g.user_id][g.device_id]["signatures"][g.user_id]
        self.assertIn(f"ed25519:{gcs.ss.public_key}", sigs)
        olm.ed25519_verify(gcs.ss.public_key, signable(dev), sigs[f"ed25519:{gcs.ss.public_key}"])
        msigs = seen["master_keys"][g.user_id]["signatures"][g.user_id]
        self.assertIn(f"ed25519:{g.device_id}", msigs)
        # hank sees gina's device-list change
        r = self.sync(h, since=first["next_batch"])
        self.assertIn(g.user_id, r["device_lists"]["changed"])
        # gina signs hank's master key with her user-signing key: only gina sees it
        signed = add_sig(hcs.key(hcs.master, "master"), g.user_id, gcs.us)
        r = g.post("/keys/signatures/upload", {h.user_id: {hcs.master.public_key: signed}})
        self.assertEqual(r["failures"], {}, r)
        by_g = g.post("/keys/query", {"device_keys": {h.user_id: []}})
        self.assertIn(g.user_id, by_g["master_keys"][h.user_id]["signatures"])
        by_h = h.post("/keys/query", {"device_keys": {h.user_id: []}})
        self.assertNotIn(g.user_id, by_h["master_keys"][h.user_id].get("signatures", {}))

    def test_forged_signatures_rejected(self):
        self.s.register("ivan")
        self.s.register("judy")
        i, j = Device(self.s, "ivan"), Device(self.s, "judy")
        self.upload(i)
        ics, jcs = CrossSigning(i.user_id), CrossSigning(j.user_id)
        i.post("/keys/device_signing/upload", ics.upload_body())
        j.post("/keys/device_signing/upload", jcs.upload_body())
        # a signature claiming to be ivan's self-signing key, made with another key
        forged = add_sig(i.device_keys(), i.user_id, olm.PkSigning(olm.PkSigning.generate_seed()))
        sig = forged["signatures"][i.user_id].pop(next(k for k in forged["signatures"][i.user_id]
                                                       if k != f"ed25519:{i.device_id}"))
        forged["signatures"][i.user_id][f"ed25519:{ics.ss.public_key}"] = sig
        # judy's master key "signed" by ivan's user-signing key, with a changed body
        tampered = add_sig(jcs.key(jcs.master, "master"), i.user_id, ics.us)
        tampered["usage"] = ["master", "extra"]
        # a signature on a key that does not exist
        r = i.post("/keys/signatures/upload", {
            i.user_id: {i.device_id: forged, "NODEVICE": forged},
            j.user_id: {jcs.master.public_key: tampered}})
        self.assertEqual(r.status, 200, r)
        f = r["failures"]
        self.assertEqual(f[i.user_id][i.device_id]["errcode"], "M_INVALID_SIGNATURE")
        self.assertEqual(f[i.user_id]["NODEVICE"]["errcode"], "M_NOT_FOUND")
        self.assertIn(jcs.master.public_key, f[j.user_id])
        seen = j.post("/keys/query", {"device_keys": {i.user_id: []}})
        self.assertEqual(list(seen["device_keys"][i.user_id][i.device_id]["signatures"]
                              [i.user_id]), [f"ed25519:{i.device_id}"])


MSC3814 = "/_matrix/client/unstable/org.matrix.msc3814.v1"


class TestDehydratedDevice(KeysBase):
    def dehydrate(self, owner, device_id, pickle="opaque"):
        fake = Device.__new__(Device)
        fake.s, fake.token, fake.user_id, fake.device_id = self.s, owner.token, owner.user_id, \
            device_id
        fake.acct, fake.n = olm.Account(), 0
        body = {"device_id": device_id, "device_data": {"algorithm": "x", "pickle": pickle},
                "initial_device_display_name": "Dehydrated", "device_keys": fake.device_keys(),
                "one_time_keys": fake.signed_otks(3)}
        return fake, self.s.put(MSC3814 + "/dehydrated_device", body, token=owner.token)

    def test_lifecycle(self):
        a, b = self.dev("alice"), self.dev("bob")
        self.assertEqual(self.s.get(CS.replace("/v3", "") + "/versions").body[
            "unstable_features"]["org.matrix.msc3814"], True)
        self.assertError(self.s.get(MSC3814 + "/dehydrated_device", token=a.token), 404,
                         "M_NOT_FOUND")
        dd, r = self.dehydrate(a, "DEHYD1")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, {"device_id": "DEHYD1"})
        r = self.s.get(MSC3814 + "/dehydrated_device", token=a.token)
        self.assertEqual(r.body, {"device_id": "DEHYD1",
                                  "device_data": {"algorithm": "x", "pickle": "opaque"}})
        # others see its keys and can claim its one-time keys
        seen = b.post("/keys/query", {"device_keys": {a.user_id: ["DEHYD1"]}})
        self.assertEqual({k: v for k, v in seen["device_keys"][a.user_id]["DEHYD1"].items()
                          if k != "unsigned"}, dd.device_keys())
        got = b.post("/keys/claim", {"one_time_keys": {a.user_id: {
            "DEHYD1": "signed_curve25519"}}})
        self.assertEqual(len(got["one_time_keys"][a.user_id]["DEHYD1"]), 1)
        # to-device messages wait for it; next_batch acknowledges them
        for i in range(3):
            self.s.put(CS + f"/sendToDevice/m.test/dd{i}",
                       {"messages": {a.user_id: {"DEHYD1": {"i": i}}}}, token=b.token)
        r = self.s.post(MSC3814 + "/dehydrated_device/DEHYD1/events", {}, token=a.token)
        self.assertEqual([e["content"]["i"] for e in r["events"]], [0, 1, 2])
        self.assertEqual(r["events"][0]["sender"], b.user_id)
        r2 = self.s.post(MSC3814 + "/dehydrated_device/DEHYD1/events",
                         {"next_batch": r["next_batch"]}, token=a.token)
        self.assertEqual(r2["events"], [])
        # a new one replaces the old, whose keys go with it
        _, r = self.dehydrate(a, "DEHYD2", pickle="newer")
        self.assertEqual(r.status, 200, r)
        seen = b.post("/keys/query", {"device_keys": {a.user_id: []}})
        self.assertNotIn("DEHYD1", seen["device_keys"][a.user_id])
        self.assertIn("DEHYD2", seen["device_keys"][a.user_id])
        self.assertError(self.s.post(MSC3814 + "/dehydrated_device/DEHYD1/events", {},
                                     token=a.token), 404, "M_NOT_FOUND")
        r = self.s.delete(MSC3814 + "/dehydrated_device", token=a.token)
        self.assertEqual(r.body, {"device_id": "DEHYD2"})
        self.assertError(self.s.get(MSC3814 + "/dehydrated_device", token=a.token), 404,
                         "M_NOT_FOUND")

    def test_refusals(self):
        a = self.dev("carol")
        _, r = self.dehydrate(a, a.device_id)  # a real device never becomes dehydrated
        self.assertError(r, 400, "M_INVALID_PARAM")
        for body in ({}, {"device_id": "X", "device_data": "s", "device_keys": {}},
                     {"device_id": "X", "device_data": {}}):
            r = self.s.put(MSC3814 + "/dehydrated_device", body, token=a.token)
            self.assertError(r, 400, "M_BAD_JSON")
        # keys for another device ID: refused, and no device is left behind
        fake, _ = self.dehydrate(a, "DHX")
        self.s.delete(MSC3814 + "/dehydrated_device", token=a.token)
        body = {"device_id": "DHY", "device_data": {}, "device_keys": fake.device_keys()}
        r = self.s.put(MSC3814 + "/dehydrated_device", body, token=a.token)
        self.assertError(r, 400, "M_INVALID_PARAM")
        self.assertError(self.s.get(MSC3814 + "/dehydrated_device", token=a.token), 404,
                         "M_NOT_FOUND")
        devs = [d["device_id"] for d in self.s.get(CS + "/devices", token=a.token)["devices"]]
        self.assertNotIn("DHY", devs)
        r = self.s.post(MSC3814 + "/dehydrated_device/DHX/events", {"next_batch": "zz"},
                        token=a.token)
        self.assertError(r, 400, "M_INVALID_PARAM")


class TestDeactivation(KeysBase):
    def test_deactivation_forgets_keys(self):
        self.s.register("kim")
        k, other = Device(self.s, "kim"), self.dev("bob")
        self.upload(k, otks=2)
        cs = CrossSigning(k.user_id)
        self.assertEqual(k.post("/keys/device_signing/upload", cs.upload_body()).status, 200)
        r = k.post("/room_keys/version", {"algorithm": "m.megolm_backup.v1.curve25519-aes-sha2",
                                          "auth_data": {"public_key": "abc"}})
        self.assertEqual(r.status, 200, r)
        r = k.post("/account/deactivate", {"auth": {
            "type": "m.login.password", "password": PASSWORD,
            "identifier": {"type": "m.id.user", "user": k.user_id}}})
        self.assertEqual(r.status, 200, r)
        seen = other.post("/keys/query", {"device_keys": {k.user_id: []}})
        self.assertEqual(seen["device_keys"][k.user_id], {})
        self.assertEqual(seen["master_keys"], {})
        self.assertEqual(seen["self_signing_keys"], {})
