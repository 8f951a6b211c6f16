"""Server-side key backups end to end (Client-Server API "Server-side key backups"):
/room_keys/version create, read, update and delete with per-user numbering that never reuses
a version; /room_keys/keys put, get and delete at all three levels with etag and count; the
spec's replacement rules for a session already stored (is_verified, then
first_message_index, then forwarded_count, each in both directions, and a full tie);
M_WRONG_ROOM_KEYS_VERSION with current_version; users who cannot see each other's backups;
concurrent writers; bad input; and a backup of a real Megolm session encrypted to a real
curve25519 backup key (python-olm), decrypted again after the round trip.

matrix-nio (0.20) has no key-backup calls, so the requests are raw HTTP."""
import json
import threading
import urllib.parse

import olm

from harness import ServerTestCase

CS = "/_matrix/client/v3"
ALG = "m.megolm_backup.v1.curve25519-aes-sha2"
ROOM = "!room:test.local"
ROOM2 = "!other:test.local"


def q(s):
    return urllib.parse.quote(s, safe="")


def key(fmi=0, fc=0, verified=False, marker="x", **data):
    """A KeyBackupData whose session_data carries `marker` to tell uploads apart."""
    return {"first_message_index": fmi, "forwarded_count": fc, "is_verified": verified,
            "session_data": {"ephemeral": "eph", "ciphertext": marker, "mac": "mac", **data}}


class KeyBackupBase(ServerTestCase):
    n_users = 0

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.alice = cls.server.register("alice")["access_token"]
        cls.bob = cls.server.register("bob")["access_token"]

    def fresh_user(self):
        """A new user with no backup yet."""
        type(self).n_users += 1
        return self.s.register(f"kb{self.n_users}")["access_token"]

    def create(self, token, auth_data=None, algorithm=ALG):
        r = self.s.post(CS + "/room_keys/version",
                        {"algorithm": algorithm,
                         "auth_data": auth_data if auth_data is not None
                         else {"public_key": "abcdefg", "signatures": {}}},
                        token=token)
        self.assertEqual(r.status, 200, r)
        self.assertIsInstance(r["version"], str)
        return r["version"]

    def info(self, token, version=None):
        path = CS + "/room_keys/version" + (f"/{q(version)}" if version is not None else "")
        return self.s.get(path, token=token)

    def keys_path(self, room=None, session=None):
        path = CS + "/room_keys/keys"
        if room is not None:
            path += "/" + q(room)
        if session is not None:
            path += "/" + q(session)
        return path

    def put_keys(self, token, version, body, room=None, session=None):
        return self.s.put(self.keys_path(room, session), body, token=token,
                          query={"version": version})

    def put_ok(self, token, version, body, room=None, session=None):
        r = self.put_keys(token, version, body, room, session)
        self.assertEqual(r.status, 200, r)
        self.assertIsInstance(r["etag"], str)
        self.assertIsInstance(r["count"], int)
        return r.body

    def get_keys(self, token, version, room=None, session=None):
        return self.s.get(self.keys_path(room, session), token=token,
                          query={"version": version})

    def delete_keys(self, token, version, room=None, session=None):
        return self.s.delete(self.keys_path(room, session), token=token,
                             query={"version": version})

    def stored(self, token, version, room, session):
        r = self.get_keys(token, version, room, session)
        self.assertEqual(r.status, 200, r)
        return r.body


class Versions(KeyBackupBase):
    def test_no_backup_yet(self):
        t = self.fresh_user()
        r = self.info(t)
        self.assertError(r, 404, "M_NOT_FOUND")
        self.assertError(self.info(t, "1"), 404, "M_NOT_FOUND")
        self.assertError(self.put_keys(t, "1", key(), ROOM, "s"), 404, "M_NOT_FOUND")
        self.assertError(self.get_keys(t, "1"), 404, "M_NOT_FOUND")
        self.assertError(self.delete_keys(t, "1"), 404, "M_NOT_FOUND")
        self.assertError(self.s.delete(CS + "/room_keys/version/1", token=t), 404,
                         "M_NOT_FOUND")

    def test_create_and_get(self):
        t = self.fresh_user()
        auth = {"public_key": "hPQNcabIABgGnx3/ACv/jmMmiQHoeFfuLB17tzWp6Hw",
                "signatures": {"@x:test.local": {"ed25519:DEV": "sig"}}}
        v = self.create(t, auth)
        self.assertEqual(v, "1")
        for r in (self.info(t), self.info(t, v)):
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.body, {"algorithm": ALG, "auth_data": auth, "count": 0,
                                      "etag": r["etag"], "version": "1"})
            self.assertIsInstance(r["etag"], str)
        v2 = self.create(t)
        self.assertEqual(v2, "2")
        self.assertEqual(self.info(t)["version"], "2")
        self.assertEqual(self.info(t, "1")["auth_data"], auth)  # older versions stay readable

    def test_numbering_is_per_user_increasing_and_never_reused(self):
        t, u = self.fresh_user(), self.fresh_user()
        versions = [self.create(t) for _ in range(12)]
        self.assertEqual(versions, [str(i) for i in range(1, 13)])
        self.assertEqual(self.info(t)["version"], "12")  # numeric, not string, order
        self.assertEqual(self.create(u), "1")  # another user counts from 1
        r = self.s.delete(CS + "/room_keys/version/12", token=t)
        self.assertEqual((r.status, r.body), (200, {}))
        self.assertEqual(self.info(t)["version"], "11")  # the newest not deleted
        self.assertEqual(self.create(t), "13")  # 12 is not handed out again
        for v in ("13", "11"):
            self.s.delete(CS + f"/room_keys/version/{v}", token=t)
        self.assertEqual(self.info(t)["version"], "10")

    def test_concurrent_creates_get_distinct_versions(self):
        t = self.fresh_user()
        got, lock = [], threading.Lock()

        def one():
            r = self.s.post(CS + "/room_keys/version",
                            {"algorithm": ALG, "auth_data": {"public_key": "k"}}, token=t)
            with lock:
                got.append((r.status, r.get("version")))

        threads = [threading.Thread(target=one) for _ in range(10)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(60)
        self.assertEqual(sorted(got), sorted((200, str(i)) for i in range(1, 11)))
        self.assertEqual(self.info(t)["version"], "10")

    def test_update_auth_data(self):
        t = self.fresh_user()
        v = self.create(t, {"public_key": "one"})
        self.put_ok(t, v, key(), ROOM, "s1")
        etag = self.info(t, v)["etag"]
        new = {"public_key": "one", "signatures": {"@kb:test.local": {"ed25519:D": "s"}}}
        r = self.s.put(CS + f"/room_keys/version/{v}", {"algorithm": ALG, "auth_data": new},
                       token=t)
        self.assertEqual((r.status, r.body), (200, {}))
        info = self.info(t, v)
        self.assertEqual(info["auth_data"], new)
        self.assertEqual((info["count"], info["etag"]), (1, etag))  # keys untouched
        # the body's version, when present, must be the path's
        r = self.s.put(CS + f"/room_keys/version/{v}",
                       {"algorithm": ALG, "auth_data": {"public_key": "two"}, "version": v},
                       token=t)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.info(t, v)["auth_data"], {"public_key": "two"})
        r = self.s.put(CS + f"/room_keys/version/{v}",
                       {"algorithm": ALG, "auth_data": {"public_key": "three"}, "version": "99"},
                       token=t)
        self.assertError(r, 400, "M_INVALID_PARAM")
        r = self.s.put(CS + f"/room_keys/version/{v}",
                       {"algorithm": "m.other.algorithm", "auth_data": {"public_key": "x"}},
                       token=t)
        self.assertError(r, 400, "M_INVALID_PARAM")
        self.assertEqual(self.info(t, v)["auth_data"], {"public_key": "two"})
        r = self.s.put(CS + "/room_keys/version/77", {"algorithm": ALG,
                       "auth_data": {"public_key": "x"}}, token=t)
        self.assertError(r, 404, "M_NOT_FOUND")
        # an older version can be updated too
        self.create(t)
        r = self.s.put(CS + f"/room_keys/version/{v}", {"algorithm": ALG,
                       "auth_data": {"public_key": "old"}}, token=t)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.info(t, v)["auth_data"], {"public_key": "old"})

    def test_delete_version_with_its_keys(self):
        t = self.fresh_user()
        v = self.create(t)
        self.put_ok(t, v, key(marker="gone"), ROOM, "s1")
        r = self.s.delete(CS + f"/room_keys/version/{v}", token=t)
        self.assertEqual((r.status, r.body), (200, {}))
        self.assertError(self.info(t, v), 404, "M_NOT_FOUND")
        self.assertError(self.info(t), 404, "M_NOT_FOUND")
        self.assertError(self.get_keys(t, v), 404, "M_NOT_FOUND")
        self.assertError(self.get_keys(t, v, ROOM, "s1"), 404, "M_NOT_FOUND")
        self.assertError(self.put_keys(t, v, key(), ROOM, "s1"), 404, "M_NOT_FOUND")
        self.assertError(self.delete_keys(t, v), 404, "M_NOT_FOUND")
        # deleting it again succeeds; a version that never existed does not
        r = self.s.delete(CS + f"/room_keys/version/{v}", token=t)
        self.assertEqual((r.status, r.body), (200, {}))
        self.assertError(self.s.delete(CS + "/room_keys/version/5", token=t), 404,
                         "M_NOT_FOUND")
        # a new backup starts empty
        v2 = self.create(t)
        self.assertNotEqual(v2, v)
        self.assertEqual(self.get_keys(t, v2).body, {"rooms": {}})
        self.assertEqual(self.info(t, v2)["count"], 0)

    def test_r0_paths(self):
        t = self.fresh_user()
        r = self.s.post("/_matrix/client/r0/room_keys/version",
                        {"algorithm": ALG, "auth_data": {"public_key": "k"}}, token=t)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.s.get("/_matrix/client/r0/room_keys/version", token=t)["version"],
                         r["version"])


class Keys(KeyBackupBase):
    def test_put_and_get_at_three_levels(self):
        t = self.fresh_user()
        v = self.create(t)
        self.assertEqual(self.get_keys(t, v).body, {"rooms": {}})
        self.assertEqual(self.get_keys(t, v, ROOM).body, {"sessions": {}})
        self.assertError(self.get_keys(t, v, ROOM, "nope"), 404, "M_NOT_FOUND")
        etag0 = self.info(t)["etag"]

        r1 = self.put_ok(t, v, key(1, 0, True, "a"), ROOM, "sa")
        self.assertEqual(r1["count"], 1)
        self.assertNotEqual(r1["etag"], etag0)
        r2 = self.put_ok(t, v, {"sessions": {"sb": key(2, 1, False, "b"),
                                             "sc": key(0, 0, False, "c")}}, ROOM)
        self.assertEqual(r2["count"], 3)
        self.assertNotEqual(r2["etag"], r1["etag"])
        r3 = self.put_ok(t, v, {"rooms": {ROOM2: {"sessions": {"sd": key(marker="d")}},
                                          ROOM: {"sessions": {"se": key(marker="e")}}}})
        self.assertEqual(r3["count"], 5)
        self.assertNotIn(r3["etag"], (etag0, r1["etag"], r2["etag"]))

        self.assertEqual(self.stored(t, v, ROOM, "sa"), key(1, 0, True, "a"))
        self.assertEqual(self.get_keys(t, v, ROOM).body,
                         {"sessions": {"sa": key(1, 0, True, "a"), "sb": key(2, 1, False, "b"),
                                       "sc": key(marker="c"), "se": key(marker="e")}})
        self.assertEqual(self.get_keys(t, v).body, {"rooms": {
            ROOM: {"sessions": {"sa": key(1, 0, True, "a"), "sb": key(2, 1, False, "b"),
                                "sc": key(marker="c"), "se": key(marker="e")}},
            ROOM2: {"sessions": {"sd": key(marker="d")}}}})
        info = self.info(t)
        self.assertEqual((info["count"], info["etag"]), (5, r3["etag"]))
        self.assertEqual(self.get_keys(t, v, "!empty:test.local").body, {"sessions": {}})
        self.assertError(self.get_keys(t, v, ROOM2, "sa"), 404, "M_NOT_FOUND")
        # an empty upload changes nothing
        r = self.put_ok(t, v, {"rooms": {}})
        self.assertEqual((r["etag"], r["count"]), (r3["etag"], 5))
        r = self.put_ok(t, v, {"sessions": {}}, ROOM)
        self.assertEqual((r["etag"], r["count"]), (r3["etag"], 5))

    def test_session_data_comes_back_as_uploaded(self):
        t = self.fresh_user()
        v = self.create(t)
        data = {"ephemeral": "e", "ciphertext": "c" * 3000, "mac": "m",
                "nested": {"list": [1, -2, 3.5, True, None, {"deep": ["x"]}], "empty": {}},
                "unicode": "Grüße, 日本, \u2603, \"quoted\" \\ /", "big": 9007199254740991}
        body = {"first_message_index": 7, "forwarded_count": 2, "is_verified": True,
                "session_data": data}
        self.put_ok(t, v, body, ROOM, "s/with spaces+and%")
        self.assertEqual(self.stored(t, v, ROOM, "s/with spaces+and%"), body)
        self.assertEqual(self.get_keys(t, v).body["rooms"][ROOM]["sessions"]
                         ["s/with spaces+and%"], body)

    def test_wrong_version(self):
        t = self.fresh_user()
        v1 = self.create(t)
        self.put_ok(t, v1, key(marker="old"), ROOM, "s1")
        v2 = self.create(t)
        for args in ((key(), ROOM, "s1"), ({"sessions": {"s1": key()}}, ROOM),
                     ({"rooms": {ROOM: {"sessions": {"s1": key()}}}},)):
            for bad in (v1, "999", "abc"):
                r = self.put_keys(t, bad, *args)
                self.assertError(r, 403, "M_WRONG_ROOM_KEYS_VERSION")
                self.assertEqual(r["current_version"], v2, r)
        # the old version is still readable and its keys deletable
        self.assertEqual(self.stored(t, v1, ROOM, "s1"), key(marker="old"))
        self.assertEqual(self.info(t, v1)["count"], 1)
        r = self.delete_keys(t, v1, ROOM, "s1")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r["count"], 0)
        # after the current version is deleted, the older one is current again
        self.s.delete(CS + f"/room_keys/version/{v2}", token=t)
        r = self.put_keys(t, v2, key(), ROOM, "s1")
        self.assertError(r, 403, "M_WRONG_ROOM_KEYS_VERSION")
        self.assertEqual(r["current_version"], v1)
        self.put_ok(t, v1, key(), ROOM, "s1")

    def test_delete_keys_at_three_levels(self):
        t = self.fresh_user()
        v = self.create(t)
        r = self.put_ok(t, v, {"rooms": {
            ROOM: {"sessions": {"a": key(), "b": key(), "c": key()}},
            ROOM2: {"sessions": {"d": key(), "e": key()}}}})
        self.assertEqual(r["count"], 5)
        etag = r["etag"]

        r = self.delete_keys(t, v, ROOM, "a")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r["count"], 4)
        self.assertNotEqual(r["etag"], etag)
        etag = r["etag"]
        self.assertError(self.get_keys(t, v, ROOM, "a"), 404, "M_NOT_FOUND")

        r = self.delete_keys(t, v, ROOM, "a")  # nothing left to delete: nothing changes
        self.assertEqual((r.status, r["count"], r["etag"]), (200, 4, etag))
        r = self.delete_keys(t, v, "!unknown:test.local")
        self.assertEqual((r.status, r["count"], r["etag"]), (200, 4, etag))

        r = self.delete_keys(t, v, ROOM)
        self.assertEqual(r["count"], 2)
        self.assertNotEqual(r["etag"], etag)
        etag = r["etag"]
        self.assertEqual(self.get_keys(t, v, ROOM).body, {"sessions": {}})
        self.assertEqual(list(self.get_keys(t, v).body["rooms"]), [ROOM2])

        r = self.delete_keys(t, v)
        self.assertEqual(r["count"], 0)
        self.assertNotEqual(r["etag"], etag)
        self.assertEqual(self.get_keys(t, v).body, {"rooms": {}})
        info = self.info(t, v)
        self.assertEqual((info["count"], info["etag"]), (0, r["etag"]))
        # keys can be stored again afterwards
        self.assertEqual(self.put_ok(t, v, key(), ROOM, "a")["count"], 1)

    def test_concurrent_uploads_keep_count_exact(self):
        t = self.fresh_user()
        v = self.create(t)
        results, lock = [], threading.Lock()

        def upload(i):
            body = {"rooms": {ROOM: {"sessions": {f"t{i}-{j}": key(marker=str(j))
                                                  for j in range(20)}},
                              ROOM2: {"sessions": {"shared": key(fmi=i)}}}}
            r = self.put_keys(t, v, body)
            with lock:
                results.append((r.status, r.get("etag")))

        threads = [threading.Thread(target=upload, args=(i,)) for i in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(60)
        self.assertEqual([s for s, _ in results], [200] * 8, results)
        self.assertEqual(len({e for _, e in results}), 8)  # each upload changed the keys
        self.assertEqual(self.info(t)["count"], 8 * 20 + 1)
        keys = self.get_keys(t, v).body["rooms"]
        self.assertEqual(len(keys[ROOM]["sessions"]), 160)
        # whatever the order, the lowest first_message_index won
        self.assertEqual(keys[ROOM2]["sessions"]["shared"]["first_message_index"], 0)


class Replacement(KeyBackupBase):
    """When a session is already stored: keep the verified key; then the lower
    first_message_index; then the lower forwarded_count; on a full tie, the stored one."""

    def check(self, first, second, winner):
        t = self.fresh_user()
        v = self.create(t)
        r1 = self.put_ok(t, v, first, ROOM, "s")
        r2 = self.put_ok(t, v, second, ROOM, "s")
        self.assertEqual(r2["count"], 1)
        self.assertEqual(self.stored(t, v, ROOM, "s"), winner)
        if winner is first:
            self.assertEqual(r2["etag"], r1["etag"])  # nothing changed
        else:
            self.assertNotEqual(r2["etag"], r1["etag"])
        self.assertEqual(self.info(t, v)["etag"], r2["etag"])

    def test_verified_replaces_unverified(self):
        old = key(fmi=0, fc=0, verified=False, marker="old")
        new = key(fmi=5, fc=3, verified=True, marker="new")  # worse index and count
        self.check(old, new, new)

    def test_unverified_does_not_replace_verified(self):
        old = key(fmi=5, fc=3, verified=True, marker="old")
        new = key(fmi=0, fc=0, verified=False, marker="new")  # better index and count
        self.check(old, new, old)

    def test_lower_first_message_index_replaces(self):
        for verified in (False, True):
            old = key(fmi=10, fc=0, verified=verified, marker="old")
            new = key(fmi=3, fc=9, verified=verified, marker="new")  # worse count
            self.check(old, new, new)

    def test_higher_first_message_index_does_not_replace(self):
        for verified in (False, True):
            old = key(fmi=3, fc=9, verified=verified, marker="old")
            new = key(fmi=10, fc=0, verified=verified, marker="new")  # better count
            self.check(old, new, old)

    def test_lower_forwarded_count_replaces(self):
        old = key(fmi=4, fc=2, verified=True, marker="old")
        new = key(fmi=4, fc=1, verified=True, marker="new")
        self.check(old, new, new)

    def test_higher_forwarded_count_does_not_replace(self):
        old = key(fmi=4, fc=1, verified=False, marker="old")
        new = key(fmi=4, fc=2, verified=False, marker="new")
        self.check(old, new, old)

    def test_full_tie_keeps_stored(self):
        old = key(fmi=4, fc=1, verified=True, marker="old")
        new = key(fmi=4, fc=1, verified=True, marker="new")
        self.check(old, new, old)

    def test_rules_apply_per_session_in_bulk_uploads(self):
        t = self.fresh_user()
        v = self.create(t)
        self.put_ok(t, v, {"rooms": {ROOM: {"sessions": {
            "better": key(fmi=5, marker="old"), "worse": key(fmi=1, marker="old")}}}})
        r0 = self.info(t, v)
        r = self.put_ok(t, v, {"rooms": {
            ROOM: {"sessions": {"better": key(fmi=2, marker="new"),
                                "worse": key(fmi=3, marker="new")}},
            ROOM2: {"sessions": {"fresh": key(marker="new")}}}})
        self.assertEqual(r["count"], 3)
        self.assertNotEqual(r["etag"], r0["etag"])
        self.assertEqual(self.stored(t, v, ROOM, "better"), key(fmi=2, marker="new"))
        self.assertEqual(self.stored(t, v, ROOM, "worse"), key(fmi=1, marker="old"))
        self.assertEqual(self.stored(t, v, ROOM2, "fresh"), key(marker="new"))
        # all rejected: neither etag nor count moves
        r2 = self.put_ok(t, v, {"sessions": {"better": key(fmi=9), "worse": key(fmi=9)}}, ROOM)
        self.assertEqual((r2["etag"], r2["count"]), (r["etag"], 3))


class Isolation(KeyBackupBase):
    def test_users_see_only_their_own_backups(self):
        a, b = self.fresh_user(), self.fresh_user()
        va = self.create(a, {"public_key": "alice-key"})
        self.put_ok(a, va, key(marker="alice-secret"), ROOM, "s1")
        # b has no backup: everything of a's is invisible to b
        self.assertError(self.info(b), 404, "M_NOT_FOUND")
        self.assertError(self.info(b, va), 404, "M_NOT_FOUND")
        self.assertError(self.get_keys(b, va), 404, "M_NOT_FOUND")
        self.assertError(self.get_keys(b, va, ROOM, "s1"), 404, "M_NOT_FOUND")
        self.assertError(self.put_keys(b, va, key(), ROOM, "s1"), 404, "M_NOT_FOUND")
        self.assertError(self.delete_keys(b, va, ROOM, "s1"), 404, "M_NOT_FOUND")
        self.assertError(self.s.delete(CS + f"/room_keys/version/{va}", token=b), 404,
                         "M_NOT_FOUND")
        r = self.s.put(CS + f"/room_keys/version/{va}",
                       {"algorithm": ALG, "auth_data": {"public_key": "evil"}}, token=b)
        self.assertError(r, 404, "M_NOT_FOUND")
        # b's own version has the same number and none of a's keys
        vb = self.create(b, {"public_key": "bob-key"})
        self.assertEqual(vb, va)
        self.assertEqual(self.get_keys(b, vb).body, {"rooms": {}})
        self.put_ok(b, vb, key(marker="bob-secret"), ROOM, "s1")
        self.delete_keys(b, vb)
        self.s.delete(CS + f"/room_keys/version/{vb}", token=b)
        # a's backup is untouched by all of that
        info = self.info(a, va)
        self.assertEqual((info["auth_data"], info["count"]), ({"public_key": "alice-key"}, 1))
        self.assertEqual(self.stored(a, va, ROOM, "s1"), key(marker="alice-secret"))

    def test_requires_access_token(self):
        for method, path in (("POST", "/room_keys/version"), ("GET", "/room_keys/version"),
                             ("GET", "/room_keys/version/1"), ("PUT", "/room_keys/version/1"),
                             ("DELETE", "/room_keys/version/1"),
                             ("GET", "/room_keys/keys?version=1"),
                             ("PUT", "/room_keys/keys?version=1"),
                             ("DELETE", "/room_keys/keys?version=1"),
                             ("GET", f"/room_keys/keys/{q(ROOM)}/s?version=1")):
            r = self.s.request(method, CS + path, {} if method in ("POST", "PUT") else None)
            self.assertError(r, 401, "M_MISSING_TOKEN")


class BadInput(KeyBackupBase):
    def test_bad_version_bodies(self):
        t = self.fresh_user()
        for body in ({}, {"algorithm": ALG}, {"auth_data": {"public_key": "k"}},
                     {"algorithm": 5, "auth_data": {"public_key": "k"}},
                     {"algorithm": "", "auth_data": {"public_key": "k"}},
                     {"algorithm": "a" * 300, "auth_data": {"public_key": "k"}},
                     {"algorithm": ALG, "auth_data": "anopaquestring"},
                     {"algorithm": ALG, "auth_data": ["public_key"]},
                     {"algorithm": ALG, "auth_data": {}},
                     {"algorithm": ALG, "auth_data": {"public_key": 5}}):
            r = self.s.post(CS + "/room_keys/version", body, token=t)
            self.assertError(r, 400, "M_BAD_JSON")
            self.assertTrue(r["error"], r)
        r = self.s.post(CS + "/room_keys/version", raw=b"{not json", token=t)
        self.assertError(r, 400, "M_NOT_JSON")
        r = self.s.post(CS + "/room_keys/version",
                        {"algorithm": ALG, "auth_data": {"public_key": "k", "pad": "x" * 70000}},
                        token=t)
        self.assertError(r, 413, "M_TOO_LARGE")
        self.assertError(self.info(t), 404, "M_NOT_FOUND")  # nothing was created
        # another algorithm's auth_data is opaque
        v = self.create(t, {"anything": [1, 2]}, algorithm="org.example.backup.v9")
        self.assertEqual(self.info(t, v)["auth_data"], {"anything": [1, 2]})
        for body in ({"algorithm": "org.example.backup.v9", "auth_data": {}, "version": 1},
                     {"algorithm": "org.example.backup.v9"}):
            r = self.s.put(CS + f"/room_keys/version/{v}", body, token=t)
            self.assertError(r, 400, "M_BAD_JSON")

    def test_bad_version_strings(self):
        t = self.fresh_user()
        v = self.create(t)
        self.assertEqual(v, "1")
        for bad in ("0", "-1", "01", "+1", "1.0", " 1", "abc", "9" * 19, "9" * 300, "1\u00e9"):
            self.assertError(self.info(t, bad), 404, "M_NOT_FOUND")
            self.assertError(self.get_keys(t, bad), 404, "M_NOT_FOUND")
            self.assertError(self.delete_keys(t, bad, ROOM), 404, "M_NOT_FOUND")
            self.assertError(self.s.delete(CS + f"/room_keys/version/{q(bad)}", token=t), 404,
                             "M_NOT_FOUND")
            r = self.put_keys(t, bad, key(), ROOM, "s")
            self.assertError(r, 403, "M_WRONG_ROOM_KEYS_VERSION")
            self.assertEqual(r["current_version"], "1")
        for path in ("/room_keys/keys", f"/room_keys/keys/{q(ROOM)}",
                     f"/room_keys/keys/{q(ROOM)}/s"):
            for method in ("GET", "PUT", "DELETE"):
                r = self.s.request(method, CS + path, key() if method == "PUT" else None,
                                   token=t)
                self.assertError(r, 400, "M_MISSING_PARAM")

    def test_bad_key_bodies(self):
        t = self.fresh_user()
        v = self.create(t)
        good = key()
        bad_keys = [
            ({k: x for k, x in good.items() if k != "first_message_index"}, "M_BAD_JSON"),
            ({k: x for k, x in good.items() if k != "forwarded_count"}, "M_BAD_JSON"),
            ({k: x for k, x in good.items() if k != "is_verified"}, "M_BAD_JSON"),
            ({k: x for k, x in good.items() if k != "session_data"}, "M_BAD_JSON"),
            ({**good, "first_message_index": -1}, "M_BAD_JSON"),
            ({**good, "first_message_index": "1"}, "M_BAD_JSON"),
            ({**good, "first_message_index": 1.5}, "M_BAD_JSON"),
            ({**good, "forwarded_count": None}, "M_BAD_JSON"),
            ({**good, "is_verified": "true"}, "M_BAD_JSON"),
            ({**good, "is_verified": 1}, "M_BAD_JSON"),
            ({**good, "session_data": "opaque"}, "M_BAD_JSON"),
            ({**good, "session_data": [1]}, "M_BAD_JSON"),
            ({**good, "session_data": {"ciphertext": "x" * 70000}}, "M_TOO_LARGE"),
        ]
        for body, errcode in bad_keys:
            status = 413 if errcode == "M_TOO_LARGE" else 400
            with self.subTest(body=str(body)[:80]):
                self.assertError(self.put_keys(t, v, body, ROOM, "s"), status, errcode)
                self.assertError(self.put_keys(t, v, {"sessions": {"s": body}}, ROOM), status,
                                 errcode)
                self.assertError(self.put_keys(t, v, {"rooms": {ROOM: {"sessions":
                                                                       {"s": body}}}}),
                                 status, errcode)
        for body in ({}, {"rooms": []}, {"rooms": {ROOM: []}}, {"rooms": {ROOM: {}}},
                     {"rooms": {ROOM: {"sessions": []}}}):
            self.assertError(self.put_keys(t, v, body), 400, "M_BAD_JSON")
        for body in ({}, {"sessions": "x"}):
            self.assertError(self.put_keys(t, v, body, ROOM), 400, "M_BAD_JSON")
        self.assertError(self.put_keys(t, v, {"rooms": {"notaroom": {"sessions": {}}}}), 400,
                         "M_INVALID_PARAM")
        self.assertError(self.put_keys(t, v, {"sessions": {"s" * 300: good}}, ROOM), 400,
                         "M_INVALID_PARAM")
        self.assertError(self.put_keys(t, v, {"sessions": {"": good}}, ROOM), 400,
                         "M_INVALID_PARAM")
        for method in ("GET", "PUT", "DELETE"):
            r = self.s.request(method, CS + "/room_keys/keys/notaroom/s",
                               good if method == "PUT" else None, token=t,
                               query={"version": v})
            self.assertError(r, 400, "M_INVALID_PARAM")
        r = self.s.put(self.keys_path(ROOM, "s"), raw=b"[1, 2", token=t, query={"version": v})
        self.assertError(r, 400, "M_NOT_JSON")
        r = self.s.put(self.keys_path(ROOM, "s"), raw=b"[]", token=t, query={"version": v})
        self.assertError(r, 400, "M_BAD_JSON")
        deep = {"ciphertext": "x"}
        for _ in range(150):
            deep = {"d": deep}
        self.assertError(self.put_keys(t, v, {**good, "session_data": deep}, ROOM, "s"), 400,
                         "M_BAD_JSON")
        # a request with one bad session stores nothing of it
        r = self.put_keys(t, v, {"rooms": {ROOM: {"sessions": {"ok1": good, "ok2": good}},
                                           ROOM2: {"sessions": {"bad": {**good,
                                                                        "is_verified": None}}}}})
        self.assertError(r, 400, "M_BAD_JSON")
        self.assertEqual(self.get_keys(t, v).body, {"rooms": {}})
        self.assertEqual(self.info(t, v)["count"], 0)


class RealKeys(KeyBackupBase):
    def test_backup_of_a_real_megolm_session(self):
        """A client's whole flow with real crypto: a curve25519 backup key signed by the
        device's ed25519 key, a Megolm session exported, encrypted to the backup key, stored,
        fetched back and decrypted, and a message decrypted with the restored session."""
        t = self.fresh_user()
        device = olm.Account()
        backup_key = olm.PkDecryption()
        auth = {"public_key": backup_key.public_key}
        canonical = json.dumps(auth, sort_keys=True, separators=(",", ":"))
        auth["signatures"] = {"@kb:test.local": {"ed25519:DEV": device.sign(canonical)}}
        v = self.create(t, auth)

        # a client finds the backup and checks its signature before using it
        info = self.info(t)
        self.assertEqual(info["version"], v)
        got = info["auth_data"]
        signed = {k: x for k, x in got.items() if k != "signatures"}
        olm.ed25519_verify(device.identity_keys["ed25519"],
                           json.dumps(signed, sort_keys=True, separators=(",", ":")),
                           got["signatures"]["@kb:test.local"]["ed25519:DEV"])

        outbound = olm.OutboundGroupSession()
        inbound = olm.InboundGroupSession(outbound.session_key)  # index 0
        ciphertext = outbound.encrypt("a secret message")
        session = {"algorithm": "m.megolm.v1.aes-sha2", "forwarding_curve25519_key_chain": [],
                   "sender_key": device.identity_keys["curve25519"],
                   "sender_claimed_keys": {"ed25519": device.identity_keys["ed25519"]},
                   "session_key": inbound.export_session(inbound.first_known_index)}
        msg = olm.PkEncryption(got["public_key"]).encrypt(json.dumps(session))
        upload = {"first_message_index": inbound.first_known_index, "forwarded_count": 0,
                  "is_verified": True,
                  "session_data": {"ephemeral": msg.ephemeral_key, "ciphertext": msg.ciphertext,
                                   "mac": msg.mac}}
        r = self.put_ok(t, v, {"rooms": {ROOM: {"sessions": {inbound.id: upload}}}})
        self.assertEqual(r["count"], 1)

        # a new device restores it
        back = self.get_keys(t, v).body["rooms"][ROOM]["sessions"][inbound.id]
        self.assertEqual(back, upload)
        sd = back["session_data"]
        plain = json.loads(backup_key.decrypt(olm.PkMessage(sd["ephemeral"], sd["mac"],
                                                            sd["ciphertext"])))
        self.assertEqual(plain, session)
        restored = olm.InboundGroupSession.import_session(plain["session_key"])
        self.assertEqual(restored.id, inbound.id)
        self.assertEqual(restored.decrypt(ciphertext)[0], "a secret message")
