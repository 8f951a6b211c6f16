"""/pushrules: the effective rule set (the predefined rules of v1.19 with the user's own),
rule CRUD with before/after, enabled and actions, the spec's errors, m.push_rules account
data in /sync, user rules deciding the unread counts /sync reports, and an invitee's own
rules deciding whether an invite notifies (also when the invite comes with createRoom); the
bounds on a user's rules (pattern length, conditions, rule count) and on what evaluating
them may cost a send (issue 17: one 200,000-byte glob stalled the room's writer)."""
import json
import os
import subprocess
import time
import urllib.parse

from harness import ServerTestCase

CS = "/_matrix/client/v3"
PR = CS + "/pushrules/global"


def q(s):
    return urllib.parse.quote(s, safe="")


class TestPushRules(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.a = cls.server.register("pa")["access_token"]
        cls.b = cls.server.register("pb")["access_token"]
        cls.n = 0

    def ids(self, kind, tok=None):
        r = self.s.get(CS + "/pushrules/", token=tok or self.a)
        self.assertEqual(r.status, 200, r)
        return [x["rule_id"] for x in r["global"][kind]]

    def test_predefined_and_crud(self):
        r = self.s.get(CS + "/pushrules/", token=self.a)
        self.assertEqual(r["global"]["override"][0]["rule_id"], ".m.rule.master")
        self.assertIn(".m.rule.is_user_mention", self.ids("override"))
        g = self.s.get(PR + "/", token=self.a)
        self.assertEqual(g.body, r["global"])
        # user content rules: new ones go first; before/after place them
        for rid in ("lunch", "pizza"):
            r = self.s.put(PR + f"/content/{rid}", {"pattern": rid, "actions": ["notify"]},
                           token=self.a)
            self.assertEqual(r.status, 200, r)
        self.assertEqual(self.ids("content"), ["pizza", "lunch"])
        r = self.s.put(PR + "/content/cake?after=lunch", {"pattern": "cake", "actions": []},
                       token=self.a)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.ids("content"), ["pizza", "lunch", "cake"])
        r = self.s.put(PR + "/content/tea?before=pizza", {"pattern": "tea", "actions": []},
                       token=self.a)
        self.assertEqual(self.ids("content"), ["tea", "pizza", "lunch", "cake"])
        rule = self.s.get(PR + "/content/lunch", token=self.a)
        self.assertEqual((rule["pattern"], rule["enabled"], rule["default"]),
                         ("lunch", True, False))
        # enabled and actions, for user rules and predefined ones
        self.assertEqual(self.s.put(PR + "/content/lunch/enabled", {"enabled": False},
                                    token=self.a).status, 200)
        self.assertEqual(self.s.get(PR + "/content/lunch/enabled", token=self.a).body,
                         {"enabled": False})
        r = self.s.put(PR + "/underride/.m.rule.message/actions", {"actions": []}, token=self.a)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.s.get(PR + "/underride/.m.rule.message/actions",
                                    token=self.a).body, {"actions": []})
        # delete
        self.assertEqual(self.s.delete(PR + "/content/tea", token=self.a).status, 200)
        self.assertNotIn("tea", self.ids("content"))
        # someone else's rules are untouched
        self.assertEqual(self.ids("content", self.b), [])

    def test_errors(self):
        self.assertError(self.s.get(PR + "/content/nope", token=self.a), 404, "M_NOT_FOUND")
        self.assertError(self.s.get(PR + "/sideways/x", token=self.a), 400, "M_INVALID_PARAM")
        self.assertError(self.s.delete(PR + "/override/.m.rule.master", token=self.a), 400,
                         "M_INVALID_PARAM")
        self.assertError(self.s.put(PR + "/content/.reserved", {"pattern": "x", "actions": []},
                                    token=self.a), 400, "M_INVALID_PARAM")
        self.assertError(self.s.put(PR + "/content/x", {"actions": []}, token=self.a), 400,
                         "M_BAD_JSON")
        self.assertError(self.s.put(PR + "/content/x/enabled", {"enabled": "yes"},
                                    token=self.a), 400, "M_BAD_JSON")
        r = self.s.put(PR + "/content/y?before=nonexistent", {"pattern": "y", "actions": []},
                       token=self.a)
        self.assertEqual(r.status, 400, r)
        self.assertError(self.s.put(PR + "/content/nope/enabled", {"enabled": True},
                                    token=self.a), 404, "M_NOT_FOUND")

    def send(self, room, tok, body):
        type(self).n += 1
        r = self.s.put(CS + f"/rooms/{q(room)}/send/m.room.message/p{self.n}",
                       {"msgtype": "m.text", "body": body}, token=tok)
        self.assertEqual(r.status, 200, r)

    def test_rules_decide_counts_and_reach_sync(self):
        c = self.s.register("pc")["access_token"]
        d = self.s.register("pd")["access_token"]
        quiet = self.s.post(CS + "/createRoom", {"preset": "public_chat"}, token=d)["room_id"]
        loud = self.s.post(CS + "/createRoom", {"preset": "public_chat"}, token=d)["room_id"]
        for room in (quiet, loud):
            self.s.post(CS + f"/rooms/{q(room)}/join", {}, token=c)
        first = self.s.get(CS + "/sync", token=c)["next_batch"]
        # c silences one room with a room rule
        r = self.s.put(PR + f"/room/{q(quiet)}", {"actions": []}, token=c)
        self.assertEqual(r.status, 200, r)
        for room in (quiet, loud):
            for i in range(2):
                self.send(room, d, f"hallo {i}")
        s = self.s.get(CS + "/sync?since=" + q(first), token=c).body
        counts = {rid: v["unread_notifications"]["notification_count"]
                  for rid, v in s["rooms"]["join"].items()}
        self.assertEqual(counts[quiet], 0)
        self.assertEqual(counts[loud], 2)
        pushrules = [e for e in s["account_data"]["events"] if e["type"] == "m.push_rules"]
        self.assertEqual(len(pushrules), 1)
        self.assertIn(quiet, [x["rule_id"] for x in pushrules[0]["content"]["global"]["room"]])
        # the master rule switches everything off
        self.assertEqual(self.s.put(PR + "/override/.m.rule.master/enabled", {"enabled": True},
                                    token=c).status, 200)
        self.send(loud, d, "noch einer")
        s2 = self.s.get(CS + "/sync?since=" + q(s["next_batch"]), token=c).body
        self.assertEqual(s2["rooms"]["join"][loud]["unread_notifications"]["notification_count"],
                         2)

    def test_invitee_rules_decide(self):
        host = self.s.register("pinvh")["access_token"]
        quiet = self.s.register("pinvq")["access_token"]
        loud = self.s.register("pinvl")["access_token"]
        r = self.s.put(PR + "/override/.m.rule.invite_for_me/enabled", {"enabled": False},
                       token=quiet)
        self.assertEqual(r.status, 200, r)
        # an invite into an existing room, and invites with createRoom
        room = self.s.post(CS + "/createRoom", {"preset": "private_chat"}, token=host)["room_id"]
        for who in ("pinvq", "pinvl"):
            r = self.s.post(CS + f"/rooms/{q(room)}/invite", {"user_id": f"@{who}:test.local"},
                            token=host)
            self.assertEqual(r.status, 200, r)
        room2 = self.s.post(CS + "/createRoom", {"preset": "private_chat", "invite": [
            "@pinvq:test.local", "@pinvl:test.local"]}, token=host)["room_id"]
        for tok, want in ((quiet, set()), (loud, {room, room2})):
            got = {n["room_id"] for n in self.s.get(CS + "/notifications", token=tok)
                   ["notifications"] if n["event"]["type"] == "m.room.member"}
            self.assertEqual(got, want)

    def test_bounds(self):
        tok = self.s.register("pbound")["access_token"]
        r = self.s.put(PR + "/content/long", {"pattern": "a*" * 300, "actions": ["notify"]},
                       token=tok)
        self.assertError(r, 400, "M_TOO_LARGE")
        r = self.s.put(PR + "/content/huge", {"pattern": "a*" * 100000, "actions": ["notify"]},
                       token=tok)
        self.assertIn(r.status, (400, 413), r)  # 413 if over max_request_body_size
        self.assertEqual(r.errcode, "M_TOO_LARGE", r)
        r = self.s.put(PR + "/override/many", {"actions": [], "conditions": [
            {"kind": "event_match", "key": "type", "pattern": "x"}] * 17}, token=tok)
        self.assertError(r, 400, "M_TOO_LARGE")
        r = self.s.put(PR + "/content/fine", {"pattern": "a*" * 256, "actions": ["notify"]},
                       token=tok)
        self.assertEqual(r.status, 200, r)
        # the stored rules in all: at most 256 KiB (the room writer reads them with every event)
        big = [{"set_tweak": "x", "value": "y" * 1000}] * 300
        r = self.s.put(PR + "/content/fat", {"pattern": "f", "actions": big}, token=tok)
        self.assertError(r, 400, "M_TOO_LARGE")
        r = self.s.put(PR + "/content/fine/actions", {"actions": big}, token=tok)
        self.assertError(r, 400, "M_TOO_LARGE")
        self.assertNotIn("huge", self.ids("content", tok))
        # the number of rules: 500 in all kinds; replacing one is always allowed
        for i in range(499):
            r = self.s.put(PR + f"/room/{q(f'!r{i}:test.local')}", {"actions": []}, token=tok)
            self.assertEqual(r.status, 200, r)
        r = self.s.put(PR + "/sender/@x:test.local", {"actions": []}, token=tok)
        self.assertError(r, 400, "M_TOO_LARGE")
        r = self.s.put(PR + "/content/fine", {"pattern": "b", "actions": []}, token=tok)
        self.assertEqual(r.status, 200, r)

    def test_pathological_rules_do_not_stall_sends(self):
        """A store written before the bounds (straight into the database) with the issue's
        rule ("a*" 100,000 times) as a content rule and in three override conditions: a
        60,000-byte message of 'a's into the owner's room is still answered promptly, and the
        predefined rules decide for the owner (the globs gave up)."""
        victim = self.s.register("pslow")
        sender = self.s.register("psend")["access_token"]
        room = self.s.post(CS + "/createRoom", {"preset": "public_chat"},
                           token=sender)["room_id"]
        self.s.post(CS + f"/rooms/{q(room)}/join", {}, token=victim["access_token"])
        pattern = "a*" * 99999 + "ab"
        cond = {"kind": "event_match", "key": "content.body", "pattern": pattern}
        store = {"content": [{"rule_id": "k", "enabled": True, "actions": ["notify"],
                              "pattern": pattern}],
                 "override": [{"rule_id": f"o{i}", "enabled": True, "actions": ["notify"],
                               "conditions": [cond]} for i in range(3)],
                 "room": [], "sender": [], "underride": [], "defaults": {}}
        sql = ("INSERT INTO push_rules (user_id, store) VALUES ('%s', '%s') ON CONFLICT "
               "(user_id) DO UPDATE SET store = EXCLUDED.store;" %
               (victim["user_id"], json.dumps(store)))
        subprocess.run([os.path.join(self.s.pg["PGBIN"], "psql"), "-h", self.s.pg["PGHOST"],
                        "-U", self.s.pg["PGUSER"], "-d", self.s.dbname, "-q", "-v",
                        "ON_ERROR_STOP=1", "-f", "-"], input=sql, text=True, check=True)
        first = self.s.get(CS + "/sync", token=victim["access_token"])["next_batch"]
        t0 = time.monotonic()
        r = self.s.put(CS + f"/rooms/{q(room)}/send/m.room.message/slow1",
                       {"msgtype": "m.text", "body": "a" * 60000}, token=sender, timeout=60)
        took = time.monotonic() - t0
        self.assertEqual(r.status, 200, r)
        self.assertLess(took, 5.0)  # ASan build: ~0.1 s; 24.8 s (release) before the bounds
        s = self.s.get(CS + "/sync?since=" + q(first), token=victim["access_token"]).body
        unread = s["rooms"]["join"][room]["unread_notifications"]
        self.assertEqual(unread["notification_count"], 1)  # .m.rule.room_one_to_one

    def test_shared_evaluation_same_outcomes(self):
        """Issue 13: the predefined rules are evaluated once per event for all members who
        changed nothing; members with rules of their own are still evaluated each. The
        notifications are the spec's, member by member, for joins, an invite, a topic,
        messages with and without mentions."""
        names = ["sh_owner", "sh_d1", "sh_d2", "sh_watch", "sh_name", "sh_inv"]
        tok = {n: self.s.register(n)["access_token"] for n in names}
        uid = {n: f"@{n}:test.local" for n in names}
        # sh_watch is told about every member event and topic; sh_name about its name
        for rule_id, cond in (("watch-m", {"kind": "event_match", "key": "type",
                                           "pattern": "m.room.member"}),
                              ("watch-t", {"kind": "event_match", "key": "type",
                                           "pattern": "m.room.topic"})):
            r = self.s.put(PR + f"/override/{rule_id}", {"conditions": [cond],
                                                        "actions": ["notify"]},
                           token=tok["sh_watch"])
            self.assertEqual(r.status, 200, r)
        r = self.s.put(PR + "/override/my-name", {"conditions": [
            {"kind": "contains_display_name"}], "actions": ["notify", {"set_tweak": "highlight"}]},
            token=tok["sh_name"])
        self.assertEqual(r.status, 200, r)
        self.s.put(CS + f"/profile/{q(uid['sh_name'])}/displayname", {"displayname": "Rosalind"},
                   token=tok["sh_name"])
        room = self.s.post(CS + "/createRoom", {"preset": "public_chat"},
                           token=tok["sh_owner"])["room_id"]
        for n in ("sh_d1", "sh_d2", "sh_watch", "sh_name"):
            r = self.s.post(CS + f"/rooms/{q(room)}/join", {}, token=tok[n])
            self.assertEqual(r.status, 200, r)
        ev = {}

        def put(key, typ, content, state_key=None):
            type(self).n += 1
            path = (f"/rooms/{q(room)}/state/{typ}/{q(state_key)}" if state_key is not None
                    else f"/rooms/{q(room)}/send/{typ}/sh{self.n}")
            r = self.s.put(CS + path, content, token=tok["sh_owner"])
            self.assertEqual(r.status, 200, r)
            ev[key] = r["event_id"]

        r = self.s.post(CS + f"/rooms/{q(room)}/invite", {"user_id": uid["sh_inv"]},
                        token=tok["sh_owner"])
        self.assertEqual(r.status, 200, r)
        put("topic", "m.room.topic", {"topic": "quiet"}, "")
        put("plain", "m.room.message", {"msgtype": "m.text", "body": "hallo"})
        put("named", "m.room.message", {"msgtype": "m.text", "body": "hallo Rosalind"})
        put("mention", "m.room.message", {"msgtype": "m.text", "body": "d1!",
                                          "m.mentions": {"user_ids": [uid["sh_d1"]]}})
        put("notice", "m.room.message", {"msgtype": "m.notice", "body": "bot"})

        def got(n):
            out = {}
            for x in self.s.get(CS + "/notifications?limit=100", token=tok[n])["notifications"]:
                if x["room_id"] == room:
                    e = x["event"]
                    key = next((k for k, v in ev.items() if v == e["event_id"]), None)
                    if key is None and e["type"] == "m.room.member":
                        key = "member:" + e["state_key"].split(":")[0][1:]
                    out[key] = "highlight" in json.dumps(x["actions"])
            return out

        plain = {"plain": False, "named": False, "mention": False}
        self.assertEqual(got("sh_d1"), {**plain, "mention": True})
        self.assertEqual(got("sh_d2"), plain)
        # the watcher: the joins after its own and the invite; the topic; the messages
        self.assertEqual(got("sh_watch"), {"member:sh_name": False, "member:sh_inv": False,
                                           "topic": False, **plain})
        self.assertEqual(got("sh_name"), {**plain, "named": True})
        self.assertEqual(got("sh_inv"), {"member:sh_inv": False})
        self.assertEqual(got("sh_owner"), {})
