"""Synapse's admin API for rooms end to end: listing (paging, orders, search), details,
members, state, blocking, DELETE v2 with block + purge and its status, event reports, server
notices, and the refusal of non-admins."""
import os
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.parse

from fedharness import FedServer, TestCA, start_servers, stop_servers
from harness import ServerTestCase

CS = "/_matrix/client/v3"
A1 = "/_synapse/admin/v1"
A2 = "/_synapse/admin/v2"


def q(s):
    return urllib.parse.quote(s, safe="")


class AdminRooms(ServerTestCase):
    config = {"server_notices": {"system_mxid_localpart": "notices",
                                 "system_mxid_display_name": "Hinweise",
                                 "room_name": "Serverhinweise"}}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        s = cls.server
        cls.admin = s.admin_register("boss", admin=True)["access_token"]
        cls.alice = s.register("alice")["access_token"]
        cls.bob = s.register("bob")["access_token"]
        cls.carol = s.register("carol")["access_token"]

    def create(self, tok, **body):
        r = self.s.post(CS + "/createRoom", body, token=tok)
        self.assertEqual(r.status, 200, r)
        return r["room_id"]

    def join(self, room, tok):
        return self.s.post(CS + f"/rooms/{q(room)}/join", {}, token=tok)

    def psql(self, sql):
        return subprocess.run([os.path.join(self.s.pg["PGBIN"], "psql"), "-h",
                               self.s.pg["PGHOST"], "-U", self.s.pg["PGUSER"], "-d",
                               self.s.dbname, "-Atc", sql],
                              check=True, capture_output=True, text=True).stdout.strip()

    def test_non_admin_refused(self):
        room = self.create(self.alice, name="Mine")
        calls = [("GET", A1 + "/rooms"), ("GET", A1 + f"/rooms/{q(room)}"),
                 ("GET", A1 + f"/rooms/{q(room)}/members"),
                 ("GET", A1 + f"/rooms/{q(room)}/state"),
                 ("GET", A1 + f"/rooms/{q(room)}/block"),
                 ("PUT", A1 + f"/rooms/{q(room)}/block"),
                 ("DELETE", A2 + f"/rooms/{q(room)}"),
                 ("GET", A2 + f"/rooms/{q(room)}/delete_status"),
                 ("GET", A2 + "/rooms/delete_status/abc"),
                 ("GET", A1 + "/event_reports"), ("GET", A1 + "/event_reports/1"),
                 ("DELETE", A1 + "/event_reports/1"),
                 ("POST", A1 + "/send_server_notice"),
                 ("PUT", A1 + "/send_server_notice/t1")]
        for method, path in calls:
            r = self.s.request(method, path, {"block": True}, token=self.alice)
            self.assertError(r, 403, "M_FORBIDDEN")
        self.assertError(self.s.get(A1 + "/rooms"), 401, "M_MISSING_TOKEN")
        # the room still stands
        self.assertEqual(self.s.get(A1 + f"/rooms/{q(room)}", token=self.admin).status, 200)

    def test_list_paging_orders_search(self):
        ra = self.create(self.alice, preset="public_chat", name="Ordnung A")
        rb = self.create(self.alice, preset="public_chat", name="Ordnung B")
        rc = self.create(self.alice, preset="public_chat", name="Ordnung C")
        for tok in (self.bob, self.carol):
            self.assertEqual(self.join(rc, tok).status, 200)  # C: 3 members
        self.assertEqual(self.join(ra, self.bob).status, 200)  # A: 2, B: 1
        L = A1 + "/rooms"

        def names(**query):
            r = self.s.get(L, token=self.admin, query=dict(search_term="Ordnung", **query))
            self.assertEqual(r.status, 200, r)
            return r, [x["name"] for x in r["rooms"]]

        r, n = names()
        self.assertEqual(n, ["Ordnung A", "Ordnung B", "Ordnung C"])  # default: name
        self.assertEqual(r["total_rooms"], 3)
        self.assertEqual(r["offset"], 0)
        self.assertNotIn("next_batch", r.body)
        self.assertEqual(names(dir="b")[1], ["Ordnung C", "Ordnung B", "Ordnung A"])
        self.assertEqual(names(order_by="joined_members")[1],
                         ["Ordnung C", "Ordnung A", "Ordnung B"])  # largest first
        self.assertEqual(names(order_by="joined_members", dir="b")[1],
                         ["Ordnung B", "Ordnung A", "Ordnung C"])
        r, n = names(limit=2)
        self.assertEqual(n, ["Ordnung A", "Ordnung B"])
        self.assertEqual(r["next_batch"], 2)
        r, n = names(limit=2, **{"from": 2})
        self.assertEqual(n, ["Ordnung C"])
        self.assertEqual(r["prev_batch"], 0)
        self.assertNotIn("next_batch", r.body)
        # every field synapse-admin and scripts read
        room = [x for x in self.s.get(L, token=self.admin,
                                      query={"search_term": rc})["rooms"]][0]
        for k in ("room_id", "name", "canonical_alias", "joined_members", "joined_local_members",
                  "version", "creator", "encryption", "federatable", "public", "join_rules",
                  "guest_access", "history_visibility", "state_events", "room_type"):
            self.assertIn(k, room)
        self.assertEqual(room["room_id"], rc)
        self.assertEqual(room["joined_members"], 3)
        self.assertEqual(room["joined_local_members"], 3)
        self.assertEqual(room["creator"], "@alice:test.local")
        self.assertTrue(room["federatable"])
        # search: case-insensitive in the name, exact in the room ID
        self.assertEqual(names()[0]["total_rooms"],
                         self.s.get(L, token=self.admin,
                                    query={"search_term": "ordnung"})["total_rooms"])
        # every documented order is accepted; an unknown one is not
        for o in ("name", "canonical_alias", "joined_members", "joined_local_members", "version",
                  "creator", "encryption", "federatable", "public", "join_rules", "guest_access",
                  "history_visibility", "state_events", "size", "alphabetical"):
            self.assertEqual(self.s.get(L, token=self.admin, query={"order_by": o}).status, 200,
                             o)
        # the public_rooms and empty_rooms filters
        pub = self.s.get(L, token=self.admin, query={"search_term": "Ordnung",
                                                     "public_rooms": "false"})
        self.assertEqual(pub["total_rooms"], 3)  # published in no directory
        self.s.put(CS + f"/directory/list/room/{q(rb)}", {"visibility": "public"},
                   token=self.alice)
        pub = self.s.get(L, token=self.admin, query={"search_term": "Ordnung",
                                                     "public_rooms": "true"})
        self.assertEqual([x["room_id"] for x in pub["rooms"]], [rb])
        self.assertEqual(self.s.get(L, token=self.admin, query={"search_term": "Ordnung",
                                                                "empty_rooms": "true"}
                                    )["total_rooms"], 0)
        self.assertError(self.s.get(L, token=self.admin, query={"empty_rooms": "ja"}), 400,
                         "M_INVALID_PARAM")
        self.assertError(self.s.get(L, token=self.admin, query={"order_by": "x"}), 400,
                         "M_INVALID_PARAM")
        self.assertError(self.s.get(L, token=self.admin, query={"from": "-1"}), 400,
                         "M_INVALID_PARAM")
        self.assertError(self.s.get(L, token=self.admin, query={"dir": "x"}), 400,
                         "M_INVALID_PARAM")

    def test_details_members_state(self):
        room = self.create(self.alice, preset="public_chat", name="Details", topic="Worum es geht",
                           room_alias_name="details")
        self.assertEqual(self.join(room, self.bob).status, 200)
        d = self.s.get(A1 + f"/rooms/{q(room)}", token=self.admin)
        self.assertEqual(d.status, 200, d)
        self.assertEqual(d["name"], "Details")
        self.assertEqual(d["topic"], "Worum es geht")
        self.assertEqual(d["canonical_alias"], "#details:test.local")
        self.assertEqual(d["joined_members"], 2)
        self.assertGreaterEqual(d["joined_local_devices"], 2)
        for k in ("avatar", "forgotten", "tombstoned", "replacement_room", "room_type",
                  "state_events", "version"):
            self.assertIn(k, d.body)
        self.assertFalse(d["tombstoned"])
        m = self.s.get(A1 + f"/rooms/{q(room)}/members", token=self.admin)
        self.assertEqual(m.body, {"members": ["@alice:test.local", "@bob:test.local"],
                                  "total": 2})
        st = self.s.get(A1 + f"/rooms/{q(room)}/state", token=self.admin)
        types = {e["type"] for e in st["state"]}
        self.assertTrue({"m.room.create", "m.room.name", "m.room.member"} <= types, types)
        only = self.s.get(A1 + f"/rooms/{q(room)}/state", token=self.admin,
                          query={"type": "m.room.member"})
        self.assertEqual(len(only["state"]), 2)
        self.assertTrue(all("event_id" in e and "sender" in e for e in only["state"]))
        for sub in ("", "/members", "/state"):
            self.assertError(self.s.get(A1 + f"/rooms/{q('!nope:test.local')}{sub}",
                                        token=self.admin), 404, "M_NOT_FOUND")
        self.assertError(self.s.get(A1 + "/rooms/not-a-room", token=self.admin), 400,
                         "M_INVALID_PARAM")

    def test_messages(self):
        room = self.create(self.alice, name="Verlauf",
                           initial_state=[{"type": "m.room.history_visibility", "state_key": "",
                                           "content": {"history_visibility": "joined"}}])
        for i in range(5):
            self.s.put(CS + f"/rooms/{q(room)}/send/m.room.message/m{i}",
                       {"msgtype": "m.text", "body": f"m{i}"}, token=self.alice)
        path = A1 + f"/rooms/{q(room)}/messages"
        r = self.s.get(path, token=self.admin, query={"dir": "b", "limit": 3})
        self.assertEqual(r.status, 200, r)
        self.assertEqual([e["content"].get("body") for e in r["chunk"]], ["m4", "m3", "m2"])
        self.assertIn("end", r.body)
        r2 = self.s.get(path, token=self.admin, query={"dir": "b", "limit": 3, "from": r["end"]})
        self.assertEqual([e["content"].get("body") for e in r2["chunk"]][:2], ["m1", "m0"])
        # forwards from the start, only messages (filter), to the end
        f = self.s.get(path, token=self.admin,
                       query={"limit": 100, "filter": '{"types": ["m.room.message"]}'})
        self.assertEqual([e["content"]["body"] for e in f["chunk"]],
                         ["m0", "m1", "m2", "m3", "m4"])
        self.assertNotIn("end", f.body)
        self.assertError(self.s.get(path, token=self.admin, query={"from": "garbage"}), 400,
                         "M_INVALID_PARAM")
        self.assertError(self.s.get(A1 + f"/rooms/{q('!no:test.local')}/messages",
                                    token=self.admin), 404, "M_NOT_FOUND")
        self.assertError(self.s.get(path, token=self.bob), 403, "M_FORBIDDEN")

    def test_block_unblock(self):
        room = self.create(self.alice, preset="public_chat", name="Blockiert")
        path = A1 + f"/rooms/{q(room)}/block"
        self.assertEqual(self.s.get(path, token=self.admin).body, {"block": False})
        r = self.s.put(path, {"block": True}, token=self.admin)
        self.assertEqual(r.body, {"block": True})
        self.assertEqual(self.s.get(path, token=self.admin).body,
                         {"block": True, "user_id": "@boss:test.local"})
        self.assertError(self.join(room, self.bob), 403, "M_FORBIDDEN")
        self.assertError(self.s.put(path, {"block": "yes"}, token=self.admin), 400, "M_BAD_JSON")
        self.assertEqual(self.s.put(path, {"block": False}, token=self.admin).body,
                         {"block": False})
        self.assertEqual(self.join(room, self.bob).status, 200)
        # a room unknown here may be blocked ahead of time
        unknown = A1 + f"/rooms/{q('!ahead:elsewhere.example')}/block"
        self.assertEqual(self.s.put(unknown, {"block": True}, token=self.admin).status, 200)
        self.assertTrue(self.s.get(unknown, token=self.admin)["block"])

    def wait_status(self, delete_id):
        deadline = time.time() + 30
        while time.time() < deadline:
            r = self.s.get(A2 + f"/rooms/delete_status/{delete_id}", token=self.admin)
            self.assertEqual(r.status, 200, r)
            if r["status"] in ("complete", "failed"):
                return r
            time.sleep(0.1)
        self.fail("the deletion did not end within 30 s")

    def test_delete_block_purge(self):
        room = self.create(self.alice, preset="public_chat", name="Weg damit",
                           room_alias_name="wegdamit")
        self.assertEqual(self.join(room, self.bob).status, 200)
        for i in range(5):
            r = self.s.put(CS + f"/rooms/{q(room)}/send/m.room.message/t{i}",
                           {"msgtype": "m.text", "body": f"n{i}"}, token=self.bob)
            self.assertEqual(r.status, 200, r)
            eid = r["event_id"]
        self.s.put(CS + f"/rooms/{q(room)}/send/m.reaction/t9",
                   {"m.relates_to": {"rel_type": "m.annotation", "event_id": eid, "key": "x"}},
                   token=self.alice)
        self.s.post(CS + f"/rooms/{q(room)}/receipt/m.read/{q(eid)}", {}, token=self.alice)
        self.s.put(CS + f"/user/{q('@bob:test.local')}/rooms/{q(room)}/tags/u.work", {},
                   token=self.bob)
        tables = ("rooms", "events", "current_state", "state_groups", "room_aliases",
                  "receipts", "event_push_actions", "room_extremities", "account_data",
                  "event_relations")
        for table in tables:  # the purge below has something to remove
            self.assertNotEqual(
                self.psql(f"SELECT count(*) FROM {table} WHERE room_id = '{room}'"), "0", table)
        since = self.s.get(CS + "/sync", token=self.bob, query={"timeout": 0})["next_batch"]
        self.assertError(self.s.delete(A2 + f"/rooms/{q(room)}", {"block": "ja"},
                                       token=self.admin), 400, "M_BAD_JSON")
        r = self.s.delete(A2 + f"/rooms/{q(room)}", {"block": True, "purge": True},
                          token=self.admin)
        self.assertEqual(r.status, 200, r)
        st = self.wait_status(r["delete_id"])
        self.assertEqual(st["status"], "complete", st)
        self.assertEqual(st["room_id"], room)
        sr = st["shutdown_room"]
        self.assertEqual(sorted(sr["kicked_users"]), ["@alice:test.local", "@bob:test.local"])
        self.assertEqual(sr["failed_to_kick_users"], [])
        self.assertEqual(sr["local_aliases"], ["#wegdamit:test.local"])
        self.assertIsNone(sr["new_room_id"])
        by_room = self.s.get(A2 + f"/rooms/{q(room)}/delete_status", token=self.admin)
        self.assertEqual([x["delete_id"] for x in by_room["results"]], [r["delete_id"]])
        # gone from the API ...
        self.assertError(self.s.get(A1 + f"/rooms/{q(room)}", token=self.admin), 404,
                         "M_NOT_FOUND")
        listed = self.s.get(A1 + "/rooms", token=self.admin, query={"limit": 1000})["rooms"]
        self.assertNotIn(room, [x["room_id"] for x in listed])
        self.assertError(self.s.get(CS + f"/directory/room/{q('#wegdamit:test.local')}"),
                         404, "M_NOT_FOUND")
        self.assertNotIn(room, self.s.get(CS + "/joined_rooms", token=self.bob)["joined_rooms"])
        # the members' syncs go on, incremental and initial
        for query in ({"since": since, "timeout": 0}, {"timeout": 0}):
            r = self.s.get(CS + "/sync", token=self.bob, query=query)
            self.assertEqual(r.status, 200, r)
            self.assertNotIn(room, r.body.get("rooms", {}).get("join", {}))
        # ... and from every table that holds rooms
        for table in tables + ("event_search", "room_forgotten", "push_queue",
                               "sync_lazy_members"):
            self.assertEqual(self.psql(f"SELECT count(*) FROM {table} WHERE room_id = '{room}'"),
                             "0", table)
        # blocked: joins are refused, also by ID through the client API
        self.assertError(self.join(room, self.carol), 403, "M_FORBIDDEN")
        self.assertError(self.s.post(CS + f"/join/{q(room)}", {}, token=self.carol), 403,
                         "M_FORBIDDEN")
        self.assertTrue(self.s.get(A1 + f"/rooms/{q(room)}/block", token=self.admin)["block"])
        # unknown IDs
        self.assertError(self.s.get(A2 + "/rooms/delete_status/nope", token=self.admin), 404,
                         "M_NOT_FOUND")
        self.assertError(self.s.get(A2 + f"/rooms/{q('!x:test.local')}/delete_status",
                                    token=self.admin), 404, "M_NOT_FOUND")

    def test_delete_moves_to_new_room(self):
        room = self.create(self.alice, preset="public_chat", name="Alt",
                           room_alias_name="umzug")
        self.assertEqual(self.join(room, self.carol).status, 200)
        r = self.s.delete(A2 + f"/rooms/{q(room)}",
                          {"new_room_user_id": "@boss:test.local", "room_name": "Neu",
                           "message": "Dieser Raum wurde geschlossen.", "purge": False},
                          token=self.admin)
        self.assertEqual(r.status, 200, r)
        st = self.wait_status(r["delete_id"])
        self.assertEqual(st["status"], "complete", st)
        new = st["shutdown_room"]["new_room_id"]
        self.assertTrue(new and new != room, st)
        self.assertIn(new, self.s.get(CS + "/joined_rooms", token=self.carol)["joined_rooms"])
        self.assertNotIn(room, self.s.get(CS + "/joined_rooms", token=self.carol)["joined_rooms"])
        self.assertEqual(self.s.get(CS + f"/directory/room/{q('#umzug:test.local')}")["room_id"],
                         new)
        msgs = self.s.get(CS + f"/rooms/{q(new)}/messages", token=self.carol,
                          query={"dir": "b", "limit": 20})["chunk"]
        self.assertIn("Dieser Raum wurde geschlossen.",
                      [e["content"].get("body") for e in msgs])
        # not purged: the admin still sees it, with nobody left
        d = self.s.get(A1 + f"/rooms/{q(room)}", token=self.admin)
        self.assertEqual(d["joined_members"], 0)
        self.assertTrue(d["forgotten"])
        # not blocked: a join is possible again (and the room is still known)
        self.assertFalse(self.s.get(A1 + f"/rooms/{q(room)}/block", token=self.admin)["block"])

    def test_delete_v1_synchronous(self):
        room = self.create(self.alice, preset="public_chat", name="Sofort")
        self.assertEqual(self.join(room, self.carol).status, 200)
        r = self.s.delete(A1 + f"/rooms/{q(room)}", {}, token=self.admin)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(sorted(r["kicked_users"]), ["@alice:test.local", "@carol:test.local"])
        self.assertIsNone(r["new_room_id"])
        self.assertError(self.s.get(A1 + f"/rooms/{q(room)}", token=self.admin), 404,
                         "M_NOT_FOUND")  # purged (the default)
        unknown = q("!unbekannt:elsewhere.example")
        self.assertError(self.s.delete(A1 + f"/rooms/{unknown}", {}, token=self.admin), 400,
                         "M_UNKNOWN")
        r = self.s.delete(A1 + f"/rooms/{unknown}", {"block": True}, token=self.admin)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(self.s.get(A1 + f"/rooms/{unknown}/block", token=self.admin)["block"])
        self.assertError(self.s.delete(A1 + f"/rooms/{q(room)}", {}, token=self.alice), 403,
                         "M_FORBIDDEN")

    def test_event_reports(self):
        room = self.create(self.alice, preset="public_chat", name="Gemeldet", room_alias_name="gemeldet")
        self.assertEqual(self.join(room, self.bob).status, 200)
        eids = []
        for i in range(3):
            eids.append(self.s.put(CS + f"/rooms/{q(room)}/send/m.room.message/r{i}",
                                   {"msgtype": "m.text", "body": f"böse {i}"},
                                   token=self.alice)["event_id"])
        for i, eid in enumerate(eids):
            r = self.s.post(CS + f"/rooms/{q(room)}/report/{q(eid)}",
                            {"reason": f"Grund {i}", "score": -100 + i}, token=self.bob)
            self.assertEqual(r.status, 200, r)
        L = A1 + "/event_reports"
        r = self.s.get(L, token=self.admin, query={"room_id": room})
        self.assertEqual(r["total"], 3)
        reps = r["event_reports"]
        self.assertEqual([x["event_id"] for x in reps], eids[::-1])  # newest first
        x = reps[0]
        self.assertEqual(x["sender"], "@alice:test.local")
        self.assertEqual(x["user_id"], "@bob:test.local")
        self.assertEqual(x["name"], "Gemeldet")
        self.assertEqual(x["canonical_alias"], "#gemeldet:test.local")
        self.assertEqual(x["reason"], "Grund 2")
        self.assertEqual(x["score"], -98)
        for k in ("id", "received_ts", "room_id"):
            self.assertIn(k, x)
        r = self.s.get(L, token=self.admin, query={"room_id": room, "limit": 2, "dir": "f"})
        self.assertEqual([x["event_id"] for x in r["event_reports"]], eids[:2])
        self.assertEqual(r["next_token"], 2)
        r = self.s.get(L, token=self.admin, query={"room_id": room, "from": 2, "dir": "f"})
        self.assertEqual([x["event_id"] for x in r["event_reports"]], eids[2:])
        self.assertNotIn("next_token", r.body)
        self.assertEqual(self.s.get(L, token=self.admin,
                                    query={"room_id": room, "user_id": "@alice:test.local"}
                                    )["total"], 0)
        for sender, total in (("@alice:test.local", 3), ("@bob:test.local", 0)):
            self.assertEqual(self.s.get(L, token=self.admin,
                                        query={"room_id": room, "event_sender_user_id": sender}
                                        )["total"], total)
        one = self.s.get(L + f"/{x['id']}", token=self.admin)
        self.assertEqual(one.status, 200, one)
        self.assertEqual(one["event_json"]["type"], "m.room.message")  # the PDU
        self.assertEqual(one["event_json"]["content"]["body"], "böse 2")
        self.assertEqual(self.s.delete(L + f"/{x['id']}", token=self.admin).body, {})
        self.assertError(self.s.get(L + f"/{x['id']}", token=self.admin), 404, "M_NOT_FOUND")
        self.assertError(self.s.delete(L + f"/{x['id']}", token=self.admin), 404, "M_NOT_FOUND")
        self.assertError(self.s.get(L + "/abc", token=self.admin), 400, "M_INVALID_PARAM")
        self.assertEqual(self.s.get(L, token=self.admin, query={"room_id": room})["total"], 2)

    def test_server_notices(self):
        path = A1 + "/send_server_notice"
        body = {"user_id": "@carol:test.local",
                "content": {"msgtype": "m.text", "body": "Wartung heute Nacht"}}
        r = self.s.post(path, body, token=self.admin)
        self.assertEqual(r.status, 200, r)
        sync = self.s.get(CS + "/sync", token=self.carol)["rooms"]
        invited = sync.get("invite", {})
        self.assertEqual(len(invited), 1, sync)
        room = next(iter(invited))
        names = [e["content"].get("name") for e in invited[room]["invite_state"]["events"]
                 if e["type"] == "m.room.name"]
        self.assertEqual(names, ["Serverhinweise"])
        tags = self.s.get(CS + f"/user/{q('@carol:test.local')}/rooms/{q(room)}/tags",
                          token=self.carol)["tags"]
        self.assertIn("m.server_notice", tags)
        self.assertError(self.s.post(CS + f"/rooms/{q(room)}/leave", {}, token=self.carol), 403,
                         "M_CANNOT_LEAVE_SERVER_NOTICE_ROOM")
        self.assertEqual(self.join(room, self.carol).status, 200)
        # the next notice goes to the same room; the user cannot speak there
        r2 = self.s.post(path, body, token=self.admin)
        self.assertEqual(r2.status, 200, r2)
        ev = self.s.get(CS + f"/rooms/{q(room)}/event/{q(r2['event_id'])}", token=self.carol)
        self.assertEqual(ev["sender"], "@notices:test.local")
        self.assertError(self.s.put(CS + f"/rooms/{q(room)}/send/m.room.message/x",
                                    {"msgtype": "m.text", "body": "hi"}, token=self.carol),
                         403, "M_FORBIDDEN")
        # PUT with a transaction ID: a retransmission gives the same event
        a = self.s.put(path + "/txn1", body, token=self.admin)
        b = self.s.put(path + "/txn1", body, token=self.admin)
        self.assertEqual(a.status, 200, a)
        self.assertEqual(a["event_id"], b["event_id"])
        # once joined the user may leave; the next notice makes a new room
        self.assertEqual(self.s.post(CS + f"/rooms/{q(room)}/leave", {}, token=self.carol).status,
                         200)
        self.assertEqual(self.s.post(path, body, token=self.admin).status, 200)
        invited = self.s.get(CS + "/sync", token=self.carol)["rooms"].get("invite", {})
        self.assertEqual(len(invited), 1)
        self.assertNotEqual(next(iter(invited)), room)
        self.assertError(self.s.post(path, {"user_id": "@nobody:test.local",
                                            "content": {"body": "x"}}, token=self.admin),
                         404, "M_NOT_FOUND")
        self.assertError(self.s.post(path, {"user_id": "@x:elsewhere.example",
                                            "content": {"body": "x"}}, token=self.admin),
                         400, "M_UNKNOWN")
        self.assertError(self.s.post(path, {"user_id": "@carol:test.local"}, token=self.admin),
                         400, "M_MISSING_PARAM")


class AdminNoNotices(ServerTestCase):
    def test_not_configured(self):
        admin = self.s.admin_register("root", admin=True)["access_token"]
        self.s.register("dora")
        r = self.s.post(A1 + "/send_server_notice",
                        {"user_id": "@dora:test.local", "content": {"body": "x"}}, token=admin)
        self.assertError(r, 400, "M_UNKNOWN")


class AdminFederated(unittest.TestCase):
    """Blocked and deleted rooms between two servers: a blocked room refuses other servers'
    joins (make_join and send_join answer 403); deleting a room another server's user is in,
    the local members' leaves reach that server, and the purge here leaves its copy alone."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="amtsbote-fed-")
        cls.ca = TestCA(cls.tmp)
        ca_cfg = {"federation_custom_ca_list": [cls.ca.ca]}
        cls.A = FedServer(cls.ca, dict(ca_cfg))
        cls.B = FedServer(cls.ca, dict(ca_cfg))
        try:
            cls.servers = start_servers(cls.A, cls.B)
        except Exception:
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        stop_servers(cls.servers)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_remote_join_refused(self):
        A, B = self.A, self.B
        admin = A.admin_register("chef", admin=True)["access_token"]
        room = A.post(CS + "/createRoom", {"preset": "public_chat"}, token=admin)["room_id"]
        user = q(f"@gast:{B.server_name}")
        path = f"/_matrix/federation/v1/make_join/{q(room)}/{user}?ver=12&ver=10"
        r = A.fed_request("GET", path, B.key, B.server_name)
        self.assertEqual(r.status, 200, r)
        template = r["event"]
        self.assertEqual(A.put(A1 + f"/rooms/{q(room)}/block", {"block": True},
                               token=admin).status, 200)
        r = A.fed_request("GET", path, B.key, B.server_name)
        self.assertEqual((r.status, r.errcode), (403, "M_FORBIDDEN"), r)
        # a join built from the earlier template, sent anyway
        template["origin_server_ts"] = int(time.time() * 1000)
        r = A.fed_request("PUT", f"/_matrix/federation/v2/send_join/{q(room)}/$x", B.key,
                          B.server_name, content=template)
        self.assertEqual((r.status, r.errcode), (403, "M_FORBIDDEN"), r)

    def test_remote_member_sees_the_leaves(self):
        A, B = self.A, self.B
        admin = A.admin_register("boss", admin=True)["access_token"]
        alice = A.register("alice")["access_token"]
        bob = B.register("bob")["access_token"]
        room = A.post(CS + "/createRoom", {"preset": "public_chat"}, token=alice)["room_id"]
        r = B.post(CS + f"/join/{q(room)}?server_name={q(A.server_name)}", {}, token=bob)
        self.assertEqual(r.status, 200, r)
        r = A.delete(A2 + f"/rooms/{q(room)}", {"block": True}, token=admin)
        self.assertEqual(r.status, 200, r)
        deadline = time.time() + 30
        while time.time() < deadline:
            st = A.get(A2 + f"/rooms/delete_status/{r['delete_id']}", token=admin)["status"]
            if st in ("complete", "failed"):
                break
            time.sleep(0.1)
        self.assertEqual(st, "complete")
        alice_id = f"@alice:{A.server_name}"
        path = CS + f"/rooms/{q(room)}/state/m.room.member/{q(alice_id)}"
        deadline = time.time() + 30
        while time.time() < deadline:
            m = B.get(path, token=bob)
            if m.status == 200 and m["membership"] == "leave":
                break
            time.sleep(0.2)
        self.assertEqual(m["membership"], "leave", m)
        self.assertEqual(B.get(CS + f"/rooms/{q(room)}/joined_members", token=bob).status, 200)
        # gone here; bob cannot come back through this server
        self.assertEqual(A.get(A1 + f"/rooms/{q(room)}", token=admin).status, 404)
        r = A.fed_request("GET", f"/_matrix/federation/v1/make_join/{q(room)}/"
                          f"{q('@bob:' + B.server_name)}?ver=12", B.key, B.server_name)
        self.assertEqual(r.status, 403, r)
