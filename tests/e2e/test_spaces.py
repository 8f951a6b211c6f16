"""GET /_matrix/client/v1/rooms/{roomId}/hierarchy: a space with public, restricted,
private and nested children; ordering by `order`; suggested_only, max_depth, pagination;
what a non-member may see; bad input."""
import urllib.parse

from harness import ServerTestCase

CS = "/_matrix/client/v3"
V1 = "/_matrix/client/v1"


def q(s):
    return urllib.parse.quote(s, safe="")


class TestHierarchy(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        s = cls.server
        cls.a = s.register("ha")["access_token"]
        cls.b = s.register("hb")["access_token"]
        cls.c = s.register("hc")["access_token"]

        def room(**body):
            r = s.post(CS + "/createRoom", body, token=cls.a)
            assert r.status == 200, r
            return r["room_id"]

        cls.space = room(preset="public_chat", name="Ministerium",
                         creation_content={"type": "m.space"})
        cls.pub = room(preset="public_chat", name="Allgemein")
        cls.priv = room(preset="private_chat", name="Leitung")
        cls.sub = room(preset="public_chat", name="Referat", creation_content={"type": "m.space"})
        cls.deep = room(preset="public_chat", name="Tief")
        cls.restricted = room(preset="private_chat", name="Intern", initial_state=[{
            "type": "m.room.join_rules", "state_key": "",
            "content": {"join_rule": "restricted",
                        "allow": [{"type": "m.room_membership", "room_id": cls.space}]}}])
        for child, extra in ((cls.pub, {"order": "b"}), (cls.priv, {}),
                             (cls.sub, {"order": "a", "suggested": True}),
                             (cls.restricted, {})):
            r = s.put(CS + f"/rooms/{q(cls.space)}/state/m.space.child/{q(child)}",
                      {"via": ["test.local"], **extra}, token=cls.a)
            assert r.status == 200, r
        s.put(CS + f"/rooms/{q(cls.sub)}/state/m.space.child/{q(cls.deep)}",
              {"via": ["test.local"]}, token=cls.a)
        # a child without via does not count
        s.put(CS + f"/rooms/{q(cls.space)}/state/m.space.child/{q(cls.deep)}", {}, token=cls.a)
        s.post(CS + f"/rooms/{q(cls.space)}/join", {}, token=cls.b)

    def get(self, room, token, **params):
        return self.s.get(V1 + f"/rooms/{q(room)}/hierarchy?" + urllib.parse.urlencode(params),
                          token=token)

    def test_walk_order_and_visibility(self):
        r = self.get(self.space, self.b)
        self.assertEqual(r.status, 200, r)
        names = [x.get("name") for x in r["rooms"]]
        # the space, then its children (ordered: "a", "b", then by time), then grandchildren;
        # the private room is hidden from bob, the restricted one allowed through the space
        self.assertEqual(names, ["Ministerium", "Referat", "Allgemein", "Intern", "Tief"])
        top = r["rooms"][0]
        self.assertEqual(top["room_type"], "m.space")
        self.assertEqual([c["state_key"] for c in top["children_state"]],
                         [self.sub, self.pub, self.priv, self.restricted])
        self.assertEqual(top["children_state"][0]["type"], "m.space.child")
        self.assertIn("num_joined_members", top)
        self.assertFalse(top["world_readable"])
        # the creator sees the private room too
        names = [x.get("name") for x in self.get(self.space, self.a)["rooms"]]
        self.assertIn("Leitung", names)

    def test_options(self):
        r = self.get(self.space, self.b, suggested_only="true")
        self.assertEqual([x["name"] for x in r["rooms"]], ["Ministerium", "Referat"])
        r = self.get(self.space, self.b, max_depth="0")
        self.assertEqual([x["name"] for x in r["rooms"]], ["Ministerium"])
        r = self.get(self.space, self.b, limit="2")
        self.assertEqual(len(r["rooms"]), 2)
        r2 = self.get(self.space, self.b, limit="2", **{"from": r["next_batch"]})
        self.assertEqual([x["name"] for x in r2["rooms"]], ["Allgemein", "Intern"])

    def test_errors(self):
        self.assertError(self.get(self.priv, self.c), 403, "M_FORBIDDEN")
        self.assertError(self.get("!nope:test.local", self.b), 404, "M_NOT_FOUND")
        self.assertError(self.get(self.space, self.b, limit="x"), 400, "M_INVALID_PARAM")
        self.assertError(self.get(self.space, self.b, **{"from": "zz"}), 400, "M_INVALID_PARAM")
        self.assertError(self.get(self.space, self.b, suggested_only="yes"), 400,
                         "M_INVALID_PARAM")
