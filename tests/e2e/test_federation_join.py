"""Joining, leaving, knocking and inviting across servers (issue 12, "Joining and inviting,
both ways"): instances on loopback behind TLS fronts (fedharness.py). A holds the rooms; B's
users join by room ID (server_name, via; v12 room IDs) and by alias (/query/directory), leave,
accept and reject invites from A, and knock; C is off A's federation_domain_whitelist.
Refused: a banned user's join, an invite-only room, an unsupported room version, a server off
the allow-list. (Later messages from A reach B only with the outbound transaction queue: not
tested here.)"""
import base64
import hashlib
import os
import time
import unittest
import urllib.parse

from fedharness import FedServer, FedTestCase, canonical, user_with_name

CS = "/_matrix/client/v3"
FED = "/_matrix/federation"


def q(s):
    return urllib.parse.quote(s, safe="")


class TestFederationJoin(FedTestCase):
    PREFIX = "amtsbote-fedjoin-"
    INSTANCES = {"A": FedServer, "B": FedServer, "C": FedServer}

    @classmethod
    def before_start(cls):
        cls.A.overrides["federation_domain_whitelist"] = [cls.B.server_name]

    @classmethod
    def after_start(cls):
        cls.tok = {}
        for srv, names in ((cls.A, ["alice"]), (cls.C, ["cyril"]),
                           (cls.B, ["bob", "bea", "carol", "dave", "erin", "frank", "gina",
                                    "hugo", "ivy"])):
            for n in names:
                cls.tok[n] = user_with_name(srv, n, n.capitalize())

    # --- helpers ------------------------------------------------------------------------
    def uid(self, name, srv):
        return f"@{name}:{srv.server_name}"

    def create(self, **body):
        r = self.A.post(f"{CS}/createRoom", body, token=self.tok["alice"])
        self.assertEqual(r.status, 200, r)
        return r["room_id"]

    def membership_on(self, srv, token, room_id, user):
        r = srv.get(f"{CS}/rooms/{q(room_id)}/state/m.room.member/{q(user)}", token=token)
        return r["membership"] if r.status == 200 else None

    def sync(self, srv, name, since=None):
        path = f"{CS}/sync?timeout=0" + (f"&since={since}" if since else "")
        r = srv.get(path, token=self.tok[name])
        self.assertEqual(r.status, 200, r)
        return r.body

    def assertError(self, r, status, errcode):
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.errcode, errcode, r)

    def assertJoinedOnBoth(self, room_id, name):
        user = self.uid(name, self.B)
        self.assertEqual(self.membership_on(self.A, self.tok["alice"], room_id, user), "join")
        self.assertEqual(self.membership_on(self.B, self.tok[name], room_id, user), "join")

    # --- joins --------------------------------------------------------------------------
    def test_join_by_room_id_and_sync(self):
        room = self.create(preset="public_chat", name="Public A", room_version="10")
        r = self.B.post(f"{CS}/join/{q(room)}?server_name={q(self.A.server_name)}", {},
                        token=self.tok["bob"])
        self.assertEqual(r.status, 200, f"{r}\n{self.B.read_log()[-3000:]}")
        self.assertEqual(r["room_id"], room)
        self.assertJoinedOnBoth(room, "bob")
        r = self.A.get(f"{CS}/rooms/{q(room)}/state/m.room.member/{q(self.uid('bob', self.B))}",
                       token=self.tok["alice"])
        self.assertEqual(r["displayname"], "Bob")  # B's profile, in the event B signed
        # the room, its state and the join in bob's /sync on B
        s = self.sync(self.B, "bob")
        self.assertIn(room, s["rooms"]["join"])
        entry = s["rooms"]["join"][room]
        events = entry["state"]["events"] + entry["timeline"]["events"]
        types = {(e["type"], e.get("state_key")) for e in events}
        self.assertIn(("m.room.create", ""), types)
        self.assertIn(("m.room.name", ""), types)
        self.assertIn(("m.room.member", self.uid("alice", self.A)), types)
        joins = [e for e in entry["timeline"]["events"]
                 if e["type"] == "m.room.member" and e["state_key"] == self.uid("bob", self.B)]
        self.assertEqual(joins[-1]["content"]["membership"], "join")
        # both servers are in the room now
        r = self.B.get(f"{CS}/rooms/{q(room)}/joined_members", token=self.tok["bob"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(set(r["joined"]), {self.uid("alice", self.A), self.uid("bob", self.B)})

    def test_join_by_alias_and_leave(self):
        room = self.create(preset="public_chat", room_alias_name="lobby")
        alias = f"#lobby:{self.A.server_name}"
        # the client's alias lookup goes to A's /query/directory
        r = self.B.get(f"{CS}/directory/room/{q(alias)}", token=self.tok["bea"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r["room_id"], room)
        self.assertIn(self.A.server_name, r["servers"])
        r = self.B.get(f"{CS}/directory/room/{q('#nope:' + self.A.server_name)}",
                       token=self.tok["bea"])
        self.assertError(r, 404, "M_NOT_FOUND")
        self.assertError(self.B.get(f"{CS}/directory/room/{q(alias)}"), 401, "M_MISSING_TOKEN")
        r = self.B.post(f"{CS}/join/{q(alias)}", {}, token=self.tok["bea"])
        self.assertEqual(r.status, 200, f"{r}\n{self.B.read_log()[-3000:]}")
        self.assertEqual(r["room_id"], room)
        self.assertJoinedOnBoth(room, "bea")
        since = self.sync(self.B, "bea")["next_batch"]
        # an unknown alias is 404
        r = self.B.post(f"{CS}/join/{q('#nope:' + self.A.server_name)}", {},
                        token=self.tok["bea"])
        self.assertError(r, 404, "M_NOT_FOUND")
        # bea leaves: B writes the leave and hands it to A
        r = self.B.post(f"{CS}/rooms/{q(room)}/leave", {}, token=self.tok["bea"])
        self.assertEqual(r.status, 200, r)
        user = self.uid("bea", self.B)
        self.assertEqual(self.membership_on(self.A, self.tok["alice"], room, user), "leave")
        s = self.sync(self.B, "bea", since)
        self.assertIn(room, s["rooms"]["leave"])

    def test_query_directory(self):
        self.create(preset="public_chat", room_alias_name="dirq")
        alias = f"#dirq:{self.A.server_name}"
        r = self.A.fed_request("GET", f"{FED}/v1/query/directory?room_alias={q(alias)}",
                               self.B.key, self.B.server_name)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r["room_id"].startswith("!"))
        self.assertIn(self.A.server_name, r["servers"])
        r = self.A.fed_request("GET", f"{FED}/v1/query/directory?room_alias="
                               f"{q('#none:' + self.A.server_name)}", self.B.key,
                               self.B.server_name)
        self.assertError(r, 404, "M_NOT_FOUND")

    def test_join_and_leave_room_versions_1_and_3(self):
        """Sender-chosen event IDs and [id, hashes] references (v1), hash IDs (v3)."""
        for version in ("1", "3"):
            room = self.create(preset="public_chat", room_version=version)
            r = self.B.post(f"{CS}/join/{q(room)}", {}, token=self.tok["hugo"])
            self.assertEqual(r.status, 200, f"{version}: {r}\n{self.B.read_log()[-3000:]}")
            self.assertJoinedOnBoth(room, "hugo")
            r = self.B.post(f"{CS}/rooms/{q(room)}/leave", {}, token=self.tok["hugo"])
            self.assertEqual(r.status, 200, r)
            self.assertEqual(self.membership_on(self.A, self.tok["alice"], room,
                                                self.uid("hugo", self.B)), "leave")
            # and back: B is no longer in the room, so through A again
            r = self.B.post(f"{CS}/join/{q(room)}", {}, token=self.tok["hugo"])
            self.assertEqual(r.status, 200, f"{version}: {r}\n{self.B.read_log()[-3000:]}")
            self.assertJoinedOnBoth(room, "hugo")

    def test_join_v12_room_with_via(self):
        room = self.create(preset="public_chat", room_version="12")
        self.assertNotIn(":", room)
        r = self.B.post(f"{CS}/join/{q(room)}", {}, token=self.tok["hugo"])
        self.assertError(r, 404, "M_NOT_FOUND")  # no server to ask
        r = self.B.post(f"{CS}/join/{q(room)}?via={q(self.A.server_name)}", {},
                        token=self.tok["hugo"])
        self.assertEqual(r.status, 200, f"{r}\n{self.B.read_log()[-3000:]}")
        self.assertJoinedOnBoth(room, "hugo")

    def test_restricted_join_signed_by_resident(self):
        space = self.create(preset="public_chat", room_version="10")
        r = self.B.post(f"{CS}/join/{q(space)}?server_name={q(self.A.server_name)}", {},
                        token=self.tok["ivy"])
        self.assertEqual(r.status, 200, r)
        room = self.create(room_version="10", initial_state=[{
            "type": "m.room.join_rules", "state_key": "",
            "content": {"join_rule": "restricted",
                        "allow": [{"type": "m.room_membership", "room_id": space}]}}])
        # someone of B who is in no allowed room is refused
        r = self.B.post(f"{CS}/join/{q(room)}?server_name={q(self.A.server_name)}", {},
                        token=self.tok["gina"])
        self.assertError(r, 403, "M_FORBIDDEN")
        # allowed rooms A is not in: A cannot tell
        elsewhere = self.create(room_version="10", initial_state=[{
            "type": "m.room.join_rules", "state_key": "",
            "content": {"join_rule": "restricted", "allow": [
                {"type": "m.room_membership", "room_id": f"!gone:{self.B.server_name}"}]}}])
        r = self.B.post(f"{CS}/join/{q(elsewhere)}?server_name={q(self.A.server_name)}", {},
                        token=self.tok["ivy"])
        self.assertError(r, 400, "M_UNABLE_TO_AUTHORISE_JOIN")
        # ivy qualifies, but nobody on A may invite: another server would have to vouch
        weak = self.create(room_version="10", power_level_content_override={
            "invite": 100, "events": {}, "state_default": 50,
            "users": {self.uid("alice", self.A): 50}}, initial_state=[{
                "type": "m.room.join_rules", "state_key": "",
                "content": {"join_rule": "restricted",
                            "allow": [{"type": "m.room_membership", "room_id": space}]}}])
        r = self.B.post(f"{CS}/join/{q(weak)}?server_name={q(self.A.server_name)}", {},
                        token=self.tok["ivy"])
        self.assertError(r, 400, "M_UNABLE_TO_GRANT_JOIN")
        r = self.B.post(f"{CS}/rooms/{q(room)}/join?server_name={q(self.A.server_name)}", {},
                        token=self.tok["ivy"])
        self.assertEqual(r.status, 200, f"{r}\n{self.B.read_log()[-3000:]}")
        r = self.A.get(f"{CS}/rooms/{q(room)}/state/m.room.member/{q(self.uid('ivy', self.B))}",
                       token=self.tok["alice"])
        self.assertEqual(r["join_authorised_via_users_server"], self.uid("alice", self.A))

    # --- invites ------------------------------------------------------------------------
    def test_invite_accept_and_reject(self):
        room = self.create(preset="private_chat", name="Private A")
        carol, dave = self.uid("carol", self.B), self.uid("dave", self.B)
        for who in (carol, dave):
            r = self.A.post(f"{CS}/rooms/{q(room)}/invite", {"user_id": who},
                            token=self.tok["alice"])
            self.assertEqual(r.status, 200, f"{r}\n{self.A.read_log()[-3000:]}")
            self.assertEqual(self.membership_on(self.A, self.tok["alice"], room, who), "invite")
        # the invite in carol's /sync on B, with the room's stripped state
        s = self.sync(self.B, "carol")
        inv = s["rooms"]["invite"][room]["invite_state"]["events"]
        kinds = {(e["type"], e["state_key"]) for e in inv}
        self.assertIn(("m.room.create", ""), kinds)
        self.assertIn(("m.room.name", ""), kinds)
        mine = [e for e in inv if e["type"] == "m.room.member" and e["state_key"] == carol]
        self.assertEqual(mine[0]["content"]["membership"], "invite")
        self.assertEqual(mine[0]["sender"], self.uid("alice", self.A))
        # carol accepts: the join goes through A (the inviter's server) without via
        r = self.B.post(f"{CS}/join/{q(room)}", {}, token=self.tok["carol"])
        self.assertEqual(r.status, 200, f"{r}\n{self.B.read_log()[-3000:]}")
        self.assertJoinedOnBoth(room, "carol")
        s = self.sync(self.B, "carol")
        self.assertIn(room, s["rooms"]["join"])
        self.assertNotIn(room, s["rooms"]["invite"])
        # dave rejects: make_leave / send_leave through A
        since = self.sync(self.B, "dave")["next_batch"]
        r = self.B.post(f"{CS}/rooms/{q(room)}/leave", {}, token=self.tok["dave"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.membership_on(self.A, self.tok["alice"], room, dave), "leave")
        s = self.sync(self.B, "dave", since)
        self.assertIn(room, s["rooms"]["leave"])
        self.assertNotIn(room, self.sync(self.B, "dave")["rooms"]["invite"])

    def test_invite_checks(self):
        room = self.create(preset="private_chat")
        # an unknown user of B
        r = self.A.post(f"{CS}/rooms/{q(room)}/invite", {"user_id": self.uid("nobody", self.B)},
                        token=self.tok["alice"])
        self.assertEqual(r.status, 403, r)
        # an invite B is asked to sign for a user of A: refused
        r = self.B.fed_request("PUT", f"{FED}/v2/invite/{q(room)}/$x", self.A.key,
                               self.A.server_name,
                               content={"room_version": "10", "event": {
                                   "type": "m.room.member", "room_id": room,
                                   "sender": self.uid("alice", self.A),
                                   "state_key": self.uid("alice", self.A),
                                   "content": {"membership": "invite"}}})
        self.assertError(r, 400, "M_INVALID_PARAM")
        r = self.B.fed_request("PUT", f"{FED}/v2/invite/{q(room)}/$x", self.A.key,
                               self.A.server_name,
                               content={"room_version": "999", "event": {}})
        self.assertError(r, 400, "M_INCOMPATIBLE_ROOM_VERSION")

    def test_create_room_with_remote_invite(self):
        carol = self.uid("ivy", self.B)
        r = self.A.post(f"{CS}/createRoom", {"preset": "trusted_private_chat", "is_direct": True,
                                              "invite": [carol]}, token=self.tok["alice"])
        self.assertEqual(r.status, 200, f"{r}\n{self.A.read_log()[-3000:]}")
        room = r["room_id"]
        self.assertEqual(self.membership_on(self.A, self.tok["alice"], room, carol), "invite",
                         self.A.read_log()[-3000:])
        inv = self.sync(self.B, "ivy")["rooms"]["invite"][room]["invite_state"]["events"]
        mine = [e for e in inv if e["type"] == "m.room.member" and e["state_key"] == carol]
        self.assertTrue(mine[0]["content"]["is_direct"])

    def signed_invite(self, room, invitee):
        """An invite PDU (v10+ format) from alice of A signed with A's key, and its event ID."""
        ev = {"type": "m.room.member", "room_id": room, "sender": self.uid("alice", self.A),
              "state_key": invitee, "content": {"membership": "invite"},
              "origin_server_ts": int(time.time() * 1000), "depth": 5,
              "prev_events": ["$" + "a" * 43], "auth_events": ["$" + "b" * 43]}
        ev["hashes"] = {"sha256": base64.b64encode(
            hashlib.sha256(canonical(ev)).digest()).decode().rstrip("=")}
        ev["signatures"] = {self.A.server_name: {self.A.key.key_id: self.A.key.sign(canonical(ev))}}
        ref = {k: v for k, v in ev.items() if k not in ("signatures", "unsigned")}
        eid = "$" + base64.urlsafe_b64encode(
            hashlib.sha256(canonical(ref)).digest()).decode().rstrip("=")
        return ev, eid

    def test_invite_v2_signs_and_keeps_the_event(self):
        room = f"!direct:{self.A.server_name}"
        gina = self.uid("gina", self.B)
        ev, eid = self.signed_invite(room, gina)
        ev["unsigned"] = {"age": 5}
        r = self.B.fed_request("PUT", f"{FED}/v2/invite/{q(room)}/{q(eid)}", self.A.key,
                               self.A.server_name,
                               content={"room_version": "10", "event": ev,
                                        "invite_room_state": []})
        self.assertEqual(r.status, 200, r)
        out = r["event"]
        self.assertIn(self.B.key.key_id, out["signatures"][self.B.server_name])
        self.assertEqual(out["signatures"][self.A.server_name], ev["signatures"][self.A.server_name])
        self.assertEqual({k: v for k, v in out.items() if k != "signatures"},
                         {k: v for k, v in ev.items() if k != "signatures"})
        self.assertIn(room, self.sync(self.B, "gina")["rooms"]["invite"])
        # an ignored inviter's invite is not shown (Client-Server API "Ignoring Users")
        r = self.B.put(f"{CS}/user/{q(gina)}/account_data/m.ignored_user_list",
                       {"ignored_users": {self.uid("alice", self.A): {}}}, token=self.tok["gina"])
        self.assertEqual(r.status, 200, r)
        self.assertNotIn(room, self.sync(self.B, "gina")["rooms"]["invite"])
        r = self.B.put(f"{CS}/user/{q(gina)}/account_data/m.ignored_user_list",
                       {"ignored_users": {}}, token=self.tok["gina"])
        self.assertEqual(r.status, 200, r)
        # the wrong event ID in the path
        r = self.B.fed_request("PUT", f"{FED}/v2/invite/{q(room)}/{q('$other')}", self.A.key,
                               self.A.server_name,
                               content={"room_version": "10", "event": ev})
        self.assertError(r, 400, "M_INVALID_PARAM")

    def test_v12_invite_needs_create_in_invite_room_state(self):
        """A correctly signed v12 invite from A whose invite_room_state lacks the create
        event: refused (invite v2: SHOULD from room version 12)."""
        room = "!" + base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
        ev, eid = self.signed_invite(room, self.uid("gina", self.B))
        r = self.B.fed_request("PUT", f"{FED}/v2/invite/{q(room)}/{q(eid)}", self.A.key,
                               self.A.server_name,
                               content={"room_version": "12", "event": ev,
                                        "invite_room_state": []})
        self.assertError(r, 400, "M_INVALID_PARAM")
        self.assertIn("m.room.create", r["error"])

    # --- knocks -------------------------------------------------------------------------
    def test_knock_then_invite(self):
        room = self.create(room_version="10", initial_state=[{
            "type": "m.room.join_rules", "state_key": "", "content": {"join_rule": "knock"}}])
        erin = self.uid("erin", self.B)
        r = self.B.post(f"{CS}/knock/{q(room)}?via={q(self.A.server_name)}",
                        {"reason": "let me in"}, token=self.tok["erin"])
        self.assertEqual(r.status, 200, f"{r}\n{self.B.read_log()[-3000:]}")
        self.assertEqual(self.membership_on(self.A, self.tok["alice"], room, erin), "knock")
        s = self.sync(self.B, "erin")
        ks = s["rooms"]["knock"][room]["knock_state"]["events"]
        self.assertIn(("m.room.join_rules", ""), {(e["type"], e["state_key"]) for e in ks})
        # accepted by an invite from A, then erin joins
        r = self.A.post(f"{CS}/rooms/{q(room)}/invite", {"user_id": erin},
                        token=self.tok["alice"])
        self.assertEqual(r.status, 200, f"{r}\n{self.A.read_log()[-3000:]}")
        s = self.sync(self.B, "erin")
        self.assertIn(room, s["rooms"]["invite"])
        r = self.B.post(f"{CS}/join/{q(room)}", {}, token=self.tok["erin"])
        self.assertEqual(r.status, 200, f"{r}\n{self.B.read_log()[-3000:]}")
        self.assertJoinedOnBoth(room, "erin")

    # --- refused ------------------------------------------------------------------------
    def test_banned_user_cannot_join(self):
        room = self.create(preset="public_chat")
        frank = self.uid("frank", self.B)
        r = self.A.post(f"{CS}/rooms/{q(room)}/ban", {"user_id": frank},
                        token=self.tok["alice"])
        self.assertEqual(r.status, 200, r)
        r = self.B.post(f"{CS}/join/{q(room)}?server_name={q(self.A.server_name)}", {},
                        token=self.tok["frank"])
        self.assertError(r, 403, "M_FORBIDDEN")
        self.assertEqual(self.membership_on(self.A, self.tok["alice"], room, frank), "ban")

    def test_invite_only_room_refuses_join(self):
        room = self.create(preset="private_chat")
        r = self.B.post(f"{CS}/join/{q(room)}?via={q(self.A.server_name)}", {},
                        token=self.tok["gina"])
        self.assertError(r, 403, "M_FORBIDDEN")
        # the same over federation directly
        r = self.A.fed_request("GET", f"{FED}/v1/make_join/{q(room)}/"
                               f"{q(self.uid('gina', self.B))}?ver=12", self.B.key,
                               self.B.server_name)
        self.assertError(r, 403, "M_FORBIDDEN")
        # a user of another server than the asking one
        r = self.A.fed_request("GET", f"{FED}/v1/make_join/{q(room)}/"
                               f"{q(self.uid('alice', self.A))}?ver=12", self.B.key,
                               self.B.server_name)
        self.assertError(r, 403, "M_FORBIDDEN")
        r = self.A.fed_request("GET", f"{FED}/v1/make_join/{q('!nope:' + self.A.server_name)}/"
                               f"{q(self.uid('gina', self.B))}?ver=12", self.B.key,
                               self.B.server_name)
        self.assertError(r, 404, "M_NOT_FOUND")

    def test_unsupported_room_version(self):
        room = self.create(preset="public_chat", room_version="10")
        user = q(self.uid("gina", self.B))
        r = self.A.fed_request("GET", f"{FED}/v1/make_join/{q(room)}/{user}?ver=1&ver=2",
                               self.B.key, self.B.server_name)
        self.assertError(r, 400, "M_INCOMPATIBLE_ROOM_VERSION")
        self.assertEqual(r["room_version"], "10")
        r = self.A.fed_request("GET", f"{FED}/v1/make_join/{q(room)}/{user}",
                               self.B.key, self.B.server_name)  # ver defaults to [1]
        self.assertError(r, 400, "M_INCOMPATIBLE_ROOM_VERSION")
        r = self.A.fed_request("GET", f"{FED}/v1/make_join/{q(room)}/{user}?ver=9&ver=10",
                               self.B.key, self.B.server_name)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r["room_version"], "10")
        ev = r["event"]
        self.assertEqual((ev["type"], ev["state_key"], ev["sender"], ev["room_id"]),
                         ("m.room.member", self.uid("gina", self.B), self.uid("gina", self.B),
                          room))
        self.assertEqual(ev["content"]["membership"], "join")
        self.assertEqual(ev["origin"], self.A.server_name)

    def test_server_acl_refuses_join(self):
        room = self.create(preset="public_chat")
        r = self.A.put(f"{CS}/rooms/{q(room)}/state/m.room.server_acl/",
                       {"allow": ["*"], "deny": ["127.0.0.1"], "allow_ip_literals": True},
                       token=self.tok["alice"])
        self.assertEqual(r.status, 200, r)
        r = self.B.post(f"{CS}/join/{q(room)}?server_name={q(self.A.server_name)}", {},
                        token=self.tok["gina"])
        self.assertError(r, 403, "M_FORBIDDEN")
        self.assertIn("banned", r["error"])

    def test_server_off_allow_list(self):
        room = self.create(preset="public_chat")
        r = self.C.post(f"{CS}/join/{q(room)}?server_name={q(self.A.server_name)}", {},
                        token=self.tok["cyril"])
        self.assertEqual(r.status, 403, f"{r}\n{self.C.read_log()[-2000:]}")
        self.assertEqual(self.membership_on(self.A, self.tok["alice"], room,
                                            self.uid("cyril", self.C)), None)


if __name__ == "__main__":
    unittest.main()
