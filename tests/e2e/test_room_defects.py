"""Room defects an established integration suite found (issue 16) and two of issue 12, each
reproduced over HTTP: concurrent v12 room creation, the log line of every 500, room upgrades
(v12 creators, predecessor, bans, m.federate, no duplicate state, canonical alias), kicking a
non-member, canonical alias validation, unauthenticated /publicRooms, events hidden from
non-members answering 404, shared-secret registration lower-casing, the user directory
leaving out the searcher, m.heroes only for rooms without a name, and v12 trusted private
chats naming their invitees as additional creators."""
import hashlib
import hmac
import os
import subprocess
import threading

from test_rooms import CS, RoomsBase, q


class Base(RoomsBase):
    def join(self, room, token):
        r = super().join(room, token)
        self.assertEqual(r.status, 200, r)
        return r

    def state(self, room, etype, key="", token=None):
        return self.s.get(CS + f"/rooms/{q(room)}/state/{etype}/{q(key)}",
                          token=token or self.alice)

    def put_state(self, room, etype, content, key="", token=None):
        return self.s.put(CS + f"/rooms/{q(room)}/state/{etype}/{q(key)}", content,
                          token=token or self.alice)

    def timeline(self, room, token=None):
        r = self.s.get(CS + f"/rooms/{q(room)}/messages", token=token or self.alice,
                       query={"dir": "f", "limit": "200"})
        self.assertEqual(r.status, 200, r)
        return r["chunk"]


class CreateRoom(Base):
    def test_concurrent_v12_creates_by_one_user_all_succeed(self):
        """Identical create events hash to the same v12 room ID: each must still be unique."""
        results, lock = [], threading.Lock()

        def creator():
            for _ in range(5):
                r = self.s.post(CS + "/createRoom", {"room_version": "12"}, token=self.alice)
                with lock:
                    results.append(r)

        threads = [threading.Thread(target=creator) for _ in range(8)]
        [t.start() for t in threads]
        [t.join(timeout=120) for t in threads]
        self.assertEqual(len(results), 40)
        self.assertEqual([r for r in results if r.status != 200], [])
        self.assertEqual(len({r["room_id"] for r in results}), 40)

    def test_every_500_is_logged_with_its_cause(self):
        pg = self.s.pg
        psql = [os.path.join(pg["PGBIN"], "psql"), "-h", pg["PGHOST"], "-U", pg["PGUSER"],
                "-d", self.s.dbname, "-q", "-c"]
        subprocess.run(psql + ["ALTER TABLE room_aliases RENAME TO room_aliases_gone"],
                       check=True, capture_output=True)
        try:
            r = self.s.get(CS + "/directory/room/" + q("#nirgends:test.local"))
            self.assertEqual(r.status, 500, r)
        finally:
            subprocess.run(psql + ["ALTER TABLE room_aliases_gone RENAME TO room_aliases"],
                           check=True, capture_output=True)
        log = self.s.read_log().splitlines()
        lines = [ln for ln in log if ln.startswith("ERROR") and "/directory/room/" in ln
                 and "500" in ln]
        self.assertTrue(lines, log[-30:])
        # the cause, libpq's message included, is one line (no line breaks inside a message)
        self.assertTrue([ln for ln in log if ln.startswith("ERROR database:")
                         and "does not exist" in ln and "(in: " in ln], log[-30:])

    def test_trusted_private_chat_invitees_become_additional_creators(self):
        room = self.create(room_version="12", preset="trusted_private_chat",
                           invite=["@bob:test.local"], is_direct=True)
        create = self.state(room, "m.room.create").body
        self.assertEqual(create.get("additional_creators"), ["@bob:test.local"])
        pl = self.state(room, "m.room.power_levels").body
        self.assertNotIn("@bob:test.local", pl["users"])
        self.assertNotIn("@alice:test.local", pl["users"])
        self.assertGreater(pl["events"]["m.room.tombstone"], pl["state_default"])
        self.join(room, self.bob)
        # bob is a creator: he may change anything, like alice
        r = self.put_state(room, "m.room.name", {"name": "Beide"}, token=self.bob)
        self.assertEqual(r.status, 200, r)
        # in v10 invitees get the creator's power level instead
        old = self.create(room_version="10", preset="trusted_private_chat",
                          invite=["@bob:test.local"])
        self.assertNotIn("additional_creators", self.state(old, "m.room.create").body)
        self.assertEqual(self.state(old, "m.room.power_levels")["users"]["@bob:test.local"], 100)

    def test_additional_creators_naming_an_invitee(self):
        for preset in ("private_chat", "trusted_private_chat"):
            r = self.s.post(CS + "/createRoom",
                            {"room_version": "12", "preset": preset,
                             "invite": ["@bob:test.local", "@carol:test.local"],
                             "creation_content": {"additional_creators": ["@bob:test.local"]}},
                            token=self.alice)
            self.assertEqual(r.status, 200, r)
            create = self.state(r["room_id"], "m.room.create").body
            want = (["@bob:test.local", "@carol:test.local"] if preset == "trusted_private_chat"
                    else ["@bob:test.local"])
            self.assertEqual(sorted(create["additional_creators"]), want)
            pl = self.state(r["room_id"], "m.room.power_levels").body
            for u in want:
                self.assertNotIn(u, pl["users"])
            members = self.s.get(CS + f"/rooms/{q(r['room_id'])}/members", token=self.alice)
            invited = {m["state_key"] for m in members["chunk"]
                       if m["content"]["membership"] == "invite"}
            self.assertEqual(invited, {"@bob:test.local", "@carol:test.local"})
        r = self.s.post(CS + "/createRoom", {"room_version": "12",
                        "creation_content": {"additional_creators": ["nobody"]}},
                        token=self.alice)
        self.assertEqual(r.status, 400, r)


class Upgrades(Base):
    def upgrade(self, room, version, token=None, **extra):
        r = self.s.post(CS + f"/rooms/{q(room)}/upgrade", {"new_version": version, **extra},
                        token=token or self.alice)
        self.assertEqual(r.status, 200, r)
        return r["replacement_room"]

    def state_types(self, room):
        return [e["type"] for e in self.timeline(room) if "state_key" in e]

    def test_v12_room_upgrades_to_other_versions(self):
        room = self.create(room_version="12", preset="public_chat", name="Zwölf")
        self.join(room, self.bob)
        new = self.upgrade(room, "10")
        pl = self.state(new, "m.room.power_levels").body
        # the creator keeps control: the highest level the power levels use (tombstone: 150)
        self.assertEqual(pl["users"].get("@alice:test.local"), 150)
        self.assertEqual(pl["events"]["m.room.tombstone"], 150)
        self.assertEqual(self.state(new, "m.room.name")["name"], "Zwölf")
        r = self.put_state(new, "m.room.topic", {"topic": "weiter"})
        self.assertEqual(r.status, 200, r)
        # and back to 12: alice is the creator again, so not listed in users
        newer = self.upgrade(new, "12")
        pl = self.state(newer, "m.room.power_levels").body
        self.assertNotIn("@alice:test.local", pl["users"])
        self.assertEqual(self.state(newer, "m.room.topic")["topic"], "weiter")

    def test_v12_to_v12_with_additional_creators(self):
        room = self.create(room_version="12", preset="public_chat",
                           power_level_content_override={"users": {"@bob:test.local": 100}})
        self.join(room, self.bob)
        new = self.upgrade(room, "12", additional_creators=["@bob:test.local"])
        create = self.state(new, "m.room.create").body
        self.assertEqual(create["additional_creators"], ["@bob:test.local"])
        pl = self.state(new, "m.room.power_levels").body
        self.assertNotIn("@bob:test.local", pl["users"])
        self.assertNotIn("@alice:test.local", pl["users"])
        r = self.s.post(CS + f"/rooms/{q(room)}/upgrade",
                        {"new_version": "12", "additional_creators": "@bob:test.local"},
                        token=self.alice)
        self.assertEqual(r.status, 400, r)

    def test_predecessor_has_event_id(self):
        for old_v, new_v in (("10", "11"), ("11", "10"), ("10", "12")):
            room = self.create(room_version=old_v)
            self.msg(room, "vorher")
            new = self.upgrade(room, new_v)
            pred = self.state(new, "m.room.create")["predecessor"]
            self.assertEqual(pred["room_id"], room)
            eid = pred.get("event_id")
            self.assertTrue(eid and eid.startswith("$"), pred)
            r = self.s.get(CS + f"/rooms/{q(room)}/event/{q(eid)}", token=self.alice)
            self.assertEqual(r.status, 200, r)

    def test_bans_federate_type_and_no_duplicate_state(self):
        room = self.create(room_version="10", preset="public_chat", name="Alt", topic="Thema",
                           room_alias_name="wanderer",
                           creation_content={"m.federate": False, "type": "m.space"})
        r = self.s.post(CS + f"/rooms/{q(room)}/ban",
                        {"user_id": "@carol:test.local", "reason": "Lärm"}, token=self.alice)
        self.assertEqual(r.status, 200, r)
        new = self.upgrade(room, "12")
        create = self.state(new, "m.room.create").body
        self.assertIs(create.get("m.federate"), False)
        self.assertEqual(create.get("type"), "m.space")
        ban = self.state(new, "m.room.member", "@carol:test.local").body
        self.assertEqual(ban["membership"], "ban")
        self.assertError(self.s.post(CS + f"/rooms/{q(new)}/join", {}, token=self.carol),
                         403, "M_FORBIDDEN")
        types = self.state_types(new)
        for t in ("m.room.join_rules", "m.room.history_visibility", "m.room.power_levels",
                  "m.room.name", "m.room.topic", "m.room.canonical_alias"):
            self.assertEqual(types.count(t), 1, (t, types))
        self.assertEqual(self.state(new, "m.room.canonical_alias")["alias"],
                         "#wanderer:test.local")
        self.assertEqual(self.state(new, "m.room.join_rules")["join_rule"], "public")
        # a room without a type gets none
        plain = self.upgrade(self.create(room_version="10"), "11")
        self.assertNotIn("type", self.state(plain, "m.room.create").body)


    def test_string_power_levels_become_integers(self):
        room = self.create(room_version="9")
        pl = self.state(room, "m.room.power_levels").body
        pl["users"]["@bob:test.local"] = "50"
        pl["ban"] = "60"
        r = self.put_state(room, "m.room.power_levels", pl)
        self.assertEqual(r.status, 200, r)  # room versions 1-9 accept numeric strings
        new = self.upgrade(room, "10")
        pl = self.state(new, "m.room.power_levels").body
        self.assertEqual(pl["users"]["@bob:test.local"], 50)
        self.assertEqual(pl["ban"], 60)

    def test_many_bans_all_carried(self):
        room = self.create(room_version="10")
        banned = [f"@stoerer{i}:test.local" for i in range(155)]  # beyond one batch (150)
        for u in banned:
            r = self.s.post(CS + f"/rooms/{q(room)}/ban", {"user_id": u}, token=self.alice)
            self.assertEqual(r.status, 200, r)
        new = self.upgrade(room, "12")
        for u in (banned[0], banned[149], banned[150], banned[-1]):
            self.assertEqual(self.state(new, "m.room.member", u)["membership"], "ban", u)


class Membership(Base):
    def test_kick_needs_a_member(self):
        room = self.create(preset="public_chat")
        r = self.s.post(CS + f"/rooms/{q(room)}/kick", {"user_id": "@carol:test.local"},
                        token=self.alice)
        self.assertError(r, 403, "M_FORBIDDEN")
        self.assertEqual(self.state(room, "m.room.member", "@carol:test.local").status, 404)
        # an invitee may be kicked (the invitation withdrawn), and a member of course
        self.s.post(CS + f"/rooms/{q(room)}/invite", {"user_id": "@carol:test.local"},
                    token=self.alice)
        r = self.s.post(CS + f"/rooms/{q(room)}/kick", {"user_id": "@carol:test.local"},
                        token=self.alice)
        self.assertEqual(r.status, 200, r)
        self.join(room, self.bob)
        r = self.s.post(CS + f"/rooms/{q(room)}/kick", {"user_id": "@bob:test.local"},
                        token=self.alice)
        self.assertEqual(r.status, 200, r)
        # once gone, he cannot be kicked again
        r = self.s.post(CS + f"/rooms/{q(room)}/kick", {"user_id": "@bob:test.local"},
                        token=self.alice)
        self.assertError(r, 403, "M_FORBIDDEN")


class CanonicalAlias(Base):
    def test_aliases_must_point_to_the_room(self):
        room = self.create(preset="public_chat")
        other = self.create(preset="public_chat", room_alias_name="anderswo")
        r = self.s.put(CS + "/directory/room/" + q("#hier:test.local"), {"room_id": room},
                       token=self.alice)
        self.assertEqual(r.status, 200, r)
        bad = [({"alias": "#gibtsnicht:test.local"}, "M_BAD_ALIAS"),
               ({"alias": "#anderswo:test.local"}, "M_BAD_ALIAS"),
               ({"alias": "#hier:test.local", "alt_aliases": ["#anderswo:test.local"]},
                "M_BAD_ALIAS"),
               ({"alt_aliases": ["#gibtsnicht:test.local"]}, "M_BAD_ALIAS"),
               ({"alias": "kein-alias"}, "M_INVALID_PARAM"),
               ({"alt_aliases": ["#hier:test.local", 7]}, "M_INVALID_PARAM"),
               ({"alt_aliases": "#hier:test.local"}, "M_INVALID_PARAM")]
        for content, code in bad:
            self.assertError(self.put_state(room, "m.room.canonical_alias", content), 400, code)
        self.assertEqual(self.state(room, "m.room.canonical_alias").status, 404)
        for content in ({"alias": "#hier:test.local", "alt_aliases": ["#hier:test.local"]}, {}):
            r = self.put_state(room, "m.room.canonical_alias", content)
            self.assertEqual(r.status, 200, r)
        self.assertEqual(self.state(other, "m.room.canonical_alias")["alias"],
                         "#anderswo:test.local")
        r = self.s.post(CS + "/createRoom",
                        {"initial_state": [{"type": "m.room.canonical_alias",
                                            "content": {"alias": "#anderswo:test.local"}}]},
                        token=self.alice)
        self.assertError(r, 400, "M_BAD_ALIAS")


class Visibility(Base):
    def test_public_rooms_without_token(self):
        self.create(preset="public_chat", visibility="public", name="Offen")
        r = self.s.get(CS + "/publicRooms")
        self.assertEqual(r.status, 200, r)
        self.assertIn("Offen", [x.get("name") for x in r["chunk"]])
        self.assertError(self.s.post(CS + "/publicRooms", {}), 401, "M_MISSING_TOKEN")

    def test_event_hidden_from_non_members_is_not_found(self):
        room = self.create(preset="public_chat")
        self.join(room, self.bob)
        seen = self.msg(room, "gesehen")
        r = self.s.post(CS + f"/rooms/{q(room)}/leave", {}, token=self.bob)
        self.assertEqual(r.status, 200, r)
        later = self.msg(room, "später")
        r = self.s.get(CS + f"/rooms/{q(room)}/event/{q(seen)}", token=self.bob)
        self.assertEqual(r.status, 200, r)  # history up to his leaving stays readable
        self.assertError(self.s.get(CS + f"/rooms/{q(room)}/event/{q(later)}", token=self.bob),
                         404, "M_NOT_FOUND")
        self.assertError(self.s.get(CS + f"/rooms/{q(room)}/event/{q(seen)}", token=self.carol),
                         404, "M_NOT_FOUND")
        self.assertError(self.s.get(f"/_matrix/client/v1/rooms/{q(room)}/relations/{q(seen)}",
                                    token=self.carol), 404, "M_NOT_FOUND")
        # events sent while the history is world_readable are readable by anyone
        r = self.put_state(room, "m.room.history_visibility",
                           {"history_visibility": "world_readable"})
        self.assertEqual(r.status, 200, r)
        public = self.msg(room, "für alle")
        r = self.s.get(CS + f"/rooms/{q(room)}/event/{q(public)}", token=self.carol)
        self.assertEqual(r.status, 200, r)
        self.assertError(self.s.get(CS + f"/rooms/{q(room)}/event/{q(later)}", token=self.carol),
                         404, "M_NOT_FOUND")

    def test_shared_secret_registration_lower_cases(self):
        s = self.s
        nonce = s.get("/_synapse/admin/v1/register")["nonce"]
        mac = hmac.new(s.SHARED_SECRET.encode(),
                       b"\0".join([nonce.encode(), b"GrossUndKlein", b"pw-pw-pw-pw",
                                   b"notadmin"]), hashlib.sha1).hexdigest()
        r = s.post("/_synapse/admin/v1/register", dict(nonce=nonce, username="GrossUndKlein",
                   password="pw-pw-pw-pw", admin=False, mac=mac))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r["user_id"], "@grossundklein:test.local")
        r = s.login("grossundklein", password="pw-pw-pw-pw")
        self.assertEqual(r["user_id"], "@grossundklein:test.local")

    def test_user_directory_leaves_out_the_searcher(self):
        room = self.create(preset="public_chat")
        self.join(room, self.bob)
        r = self.s.post(CS + "/user_directory/search", {"search_term": "test.local"},
                        token=self.alice)
        self.assertEqual(r.status, 200, r)
        ids = [x["user_id"] for x in r["results"]]
        self.assertIn("@bob:test.local", ids)
        self.assertNotIn("@alice:test.local", ids)

    def test_heroes_only_without_name(self):
        named = self.create(preset="public_chat", name="Benannt")
        plain = self.create(preset="public_chat")
        for room in (named, plain):
            self.join(room, self.bob)
        r = self.s.get(CS + "/sync", token=self.bob)
        self.assertEqual(r.status, 200, r)
        joined = r["rooms"]["join"]
        self.assertNotIn("m.heroes", joined[named]["summary"])
        self.assertIn("@alice:test.local", joined[plain]["summary"]["m.heroes"])

    def test_deprecated_endpoints_and_guests_stay_refused(self):
        """README's decision: the pre-v1.0 endpoints are not served, guests are refused."""
        room = self.create()
        for path in ("/events", "/initialSync", f"/rooms/{q(room)}/initialSync"):
            self.assertError(self.s.get(CS + path, token=self.alice), 404, "M_UNRECOGNIZED")
        r = self.s.post(CS + "/register", {}, query={"kind": "guest"})
        self.assertError(r, 403, "M_GUEST_ACCESS_FORBIDDEN")
