"""GET /_matrix/federation/v1/hierarchy/{roomId} (Server-Server API "Spaces"), judged per asking
server: two instances behind TLS fronts, bund (A) holds a space with a public child, an
invite-only child, a restricted child allowing members of the space, and a child on a server
nobody knows; nrw (B) asks, signed. The public child is listed; the invite-only and restricted
ones are inaccessible until a user of nrw joins the space, after which the restricted one is
listed with its allowed_room_ids; the unknown one is left out; suggested_only filters; an
unknown or invisible root is 404."""
import unittest
import urllib.parse

from fedharness import FedTestCase

CS = "/_matrix/client/v3"
H = "/_matrix/federation/v1/hierarchy/"


def q(s):
    return urllib.parse.quote(s, safe="")


class TestFederationHierarchy(FedTestCase):
    PREFIX = "amtsbote-fedhier-"

    @classmethod
    def after_start(cls):
        cls.A.register("alice")
        cls.B.register("bob")
        cls.atok = cls.A.login("alice")["access_token"]
        cls.btok = cls.B.login("bob")["access_token"]

        def room(**body):
            body.setdefault("room_version", "10")
            r = cls.A.post(f"{CS}/createRoom", body, token=cls.atok)
            assert r.status == 200, r
            return r["room_id"]

        cls.space = room(preset="public_chat", name="Land", creation_content={"type": "m.space"})
        cls.public = room(preset="public_chat", name="Offen")
        cls.private = room(preset="private_chat", name="Intern")
        cls.restricted = room(preset="private_chat", name="Mitglieder", initial_state=[
            {"type": "m.room.join_rules", "state_key": "",
             "content": {"join_rule": "restricted", "allow": [
                 {"type": "m.room_membership", "room_id": cls.space}]}}])
        cls.unknown = "!nirgends:elsewhere.example"
        for child in (cls.public, cls.private, cls.restricted, cls.unknown):
            content = {"via": [cls.A.server_name]}
            if child == cls.public:
                content["suggested"] = True
            r = cls.A.put(f"{CS}/rooms/{q(cls.space)}/state/m.space.child/{q(child)}", content,
                          token=cls.atok)
            assert r.status == 200, r

    def ask(self, room, query=""):
        return self.A.fed_request("GET", H + q(room) + query, self.B.key, self.B.server_name)

    def test_hierarchy_per_server(self):
        r = self.ask(self.space)
        self.assertEqual(r.status, 200, r)
        room = r["room"]
        self.assertEqual(room["room_id"], self.space)
        self.assertEqual(room["room_type"], "m.space")
        self.assertEqual(room["name"], "Land")
        self.assertIs(room["world_readable"], False)
        self.assertEqual(room["join_rule"], "public")
        states = room["children_state"]
        self.assertEqual({s["state_key"] for s in states},
                         {self.public, self.private, self.restricted, self.unknown})
        for s in states:
            self.assertEqual(s["type"], "m.space.child")
            self.assertIsInstance(s["origin_server_ts"], int)
            self.assertEqual(s["content"]["via"], [self.A.server_name])
        self.assertEqual([c["room_id"] for c in r["children"]], [self.public])
        self.assertEqual(r["children"][0]["name"], "Offen")
        self.assertEqual(set(r["inaccessible_children"]), {self.private, self.restricted})

        # suggested_only: only the suggested child
        r = self.ask(self.space, "?suggested_only=true")
        self.assertEqual(r.status, 200, r)
        self.assertEqual([s["state_key"] for s in r["room"]["children_state"]], [self.public])
        self.assertEqual(r["inaccessible_children"], [])
        r = self.ask(self.space, "?suggested_only=maybe")
        self.assertEqual((r.status, r.errcode), (400, "M_INVALID_PARAM"), r)

        # an unknown root and one nrw may not see: 404 alike
        for root in ("!nichts:" + self.A.server_name, self.private):
            r = self.ask(root)
            self.assertEqual((r.status, r.errcode), (404, "M_NOT_FOUND"), r)

        # bob of nrw joins the space: the restricted child becomes visible to nrw
        r = self.B.post(f"{CS}/join/{q(self.space)}?server_name={q(self.A.server_name)}", {},
                        token=self.btok)
        self.assertEqual(r.status, 200, r)
        r = self.ask(self.space)
        self.assertEqual(r.status, 200, r)
        kids = {c["room_id"]: c for c in r["children"]}
        self.assertEqual(set(kids), {self.public, self.restricted})
        self.assertEqual(kids[self.restricted]["allowed_room_ids"], [self.space])
        self.assertEqual(r["inaccessible_children"], [self.private])

        # unsigned: refused before anything is read
        r = self.A.get(H + q(self.space))
        self.assertEqual((r.status, r.errcode), (401, "M_UNAUTHORIZED"), r)


if __name__ == "__main__":
    unittest.main()
