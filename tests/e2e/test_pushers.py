"""Pushers and delivery to a real HTTP push gateway (a local receiver started by the test):
/pushers/set and /pushers, event_id_only notifications without content by default, retry
after a failing gateway, rejected pushkeys removing their pusher, push.include_content,
/notifications, and a prompt shutdown while a gateway does not answer."""
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer

from harness import ServerTestCase

CS = "/_matrix/client/v3"


def q(s):
    return urllib.parse.quote(s, safe="")


class Gateway:
    """POST /_matrix/push/v1/notify receiver: records bodies; can fail or reject."""

    def __init__(self):
        self.received, self.fail_next, self.reject = [], 0, set()
        self.hang, self.release, self.hanging = False, threading.Event(), threading.Event()
        gw = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if gw.hang:  # a silent gateway: no answer until released (bounded)
                    gw.hanging.set()
                    gw.release.wait(30)
                    return
                if gw.fail_next > 0:
                    gw.fail_next -= 1
                    self.send_response(500)
                    self.end_headers()
                    return
                gw.received.append(body)
                keys = [d["pushkey"] for d in body["notification"]["devices"]]
                out = json.dumps({"rejected": [k for k in keys if k in gw.reject]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *a):
                pass

        self.httpd = HTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/_matrix/push/v1/notify"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def wait(self, n, timeout=15):
        deadline = time.time() + timeout
        while len(self.received) < n and time.time() < deadline:
            time.sleep(0.05)
        return self.received[:n]

    def close(self):
        self.release.set()
        self.httpd.shutdown()


# the local gateway listens on loopback, which ip_range_blacklist refuses by default
LOCAL = {"ip_range_whitelist": ["127.0.0.1"]}


class PushBase(ServerTestCase):
    config = LOCAL

    def setUp(self):
        self.gw = Gateway()

    def tearDown(self):
        self.gw.close()

    def pusher(self, tok, pushkey="pk1", **extra):
        body = {"kind": "http", "app_id": "de.amtsbote.test", "pushkey": pushkey,
                "app_display_name": "Test", "device_display_name": "Phone", "lang": "de",
                "data": {"url": self.gw.url, "format": "event_id_only"}}
        body.update(extra)
        return self.s.post(CS + "/pushers/set", body, token=tok)

    def pair(self, a, b):
        ta = self.s.register(a)["access_token"]
        tb = self.s.register(b)["access_token"]
        room = self.s.post(CS + "/createRoom", {"preset": "private_chat", "is_direct": True,
                                                "invite": [f"@{b}:test.local"]},
                           token=ta)["room_id"]
        self.s.post(CS + f"/rooms/{q(room)}/join", {}, token=tb)
        return ta, tb, room

    def send(self, room, tok, body, n):
        r = self.s.put(CS + f"/rooms/{q(room)}/send/m.room.message/{n}",
                       {"msgtype": "m.text", "body": body}, token=tok)
        self.assertEqual(r.status, 200, r)
        return r["event_id"]


class TestPushers(PushBase):
    def test_set_list_and_delivery_without_content(self):
        ta, tb, room = self.pair("pusha", "pushb")
        self.assertEqual(self.pusher(tb).status, 200)
        lst = self.s.get(CS + "/pushers", token=tb)["pushers"]
        self.assertEqual([p["pushkey"] for p in lst], ["pk1"])
        self.assertEqual(lst[0]["data"]["url"], self.gw.url)
        ev = self.send(room, ta, "geheime Nachricht", "m1")
        (got,) = self.gw.wait(1)
        n = got["notification"]
        self.assertEqual((n["event_id"], n["room_id"]), (ev, room))
        self.assertGreaterEqual(n["counts"]["unread"], 1)  # the invite may count too
        self.assertEqual(n["devices"][0]["pushkey"], "pk1")
        self.assertNotIn("url", n["devices"][0]["data"])
        self.assertNotIn("content", n)
        self.assertNotIn("geheime", json.dumps(got))
        # the deciding rule's tweaks: a two-member room is .m.rule.room_one_to_one
        self.assertEqual(n["devices"][0]["tweaks"], {"sound": "default"})
        # the sender's own message pushes nothing to the sender
        self.assertEqual(self.pusher(ta, "pka").status, 200)
        self.send(room, ta, "zweite", "m2")
        self.gw.wait(2)
        time.sleep(1.5)
        keys = [g["notification"]["devices"][0]["pushkey"] for g in self.gw.received]
        self.assertEqual(keys, ["pk1", "pk1"])
        # /notifications
        r = self.s.get(CS + "/notifications", token=tb)
        self.assertEqual(r.status, 200, r)
        ids = [x["event"]["event_id"] for x in r["notifications"]]
        self.assertEqual(ids[1], ev)  # newest first: "zweite", then ev (then the invite)
        self.assertFalse(r["notifications"][0]["read"])
        self.assertEqual(r["notifications"][1]["actions"],
                         ["notify", {"set_tweak": "sound", "value": "default"}])
        r = self.s.get(CS + "/notifications?limit=1", token=tb)
        self.assertEqual(len(r["notifications"]), 1)
        r2 = self.s.get(CS + "/notifications?limit=1&from=" + r["next_token"], token=tb)
        self.assertEqual(r2["notifications"][0]["event"]["event_id"], ev)
        self.assertError(self.s.get(CS + "/notifications?from=x", token=tb), 400,
                         "M_INVALID_PARAM")
        # delete
        r = self.s.post(CS + "/pushers/set", {"kind": None, "app_id": "de.amtsbote.test",
                                              "pushkey": "pk1"}, token=tb)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.s.get(CS + "/pushers", token=tb)["pushers"], [])

    def test_retry_and_rejection(self):
        ta, tb, room = self.pair("pushc", "pushd")
        self.pusher(tb, "pk-retry")
        self.gw.fail_next = 1
        ev = self.send(room, ta, "bitte zustellen", "r1")
        (got,) = self.gw.wait(1)  # after the failure, the retry arrives
        self.assertEqual(got["notification"]["event_id"], ev)
        self.gw.reject.add("pk-retry")
        self.send(room, ta, "abgelehnt", "r2")
        self.gw.wait(2)
        deadline = time.time() + 5
        while time.time() < deadline and self.s.get(CS + "/pushers", token=tb)["pushers"]:
            time.sleep(0.1)
        self.assertEqual(self.s.get(CS + "/pushers", token=tb)["pushers"], [])

    def test_validation(self):
        tok = self.s.register("pushv")["access_token"]
        for extra in ({"kind": "email"}, {"data": {"url": "ftp://x/_matrix/push/v1/notify"}},
                      {"data": {"url": "https://gw.example/other"}},
                      {"data": {"url": self.gw.url, "format": "full"}}, {"data": {}}):
            self.assertError(self.pusher(tok, **extra), 400, "M_INVALID_PARAM")
        r = self.s.post(CS + "/pushers/set", {"kind": "http"}, token=tok)
        self.assertError(r, 400, "M_MISSING_PARAM")
        r = self.s.post(CS + "/pushers/set", {"app_id": "a", "pushkey": "k"}, token=tok)
        self.assertError(r, 400, "M_MISSING_PARAM")  # kind is required; null deletes
        for i in range(20):
            self.assertEqual(self.pusher(tok, f"k{i}").status, 200)
        self.assertError(self.pusher(tok, "k20"), 429, "M_LIMIT_EXCEEDED")


class TestPushContent(PushBase):
    config = {"push": {"include_content": True}, **LOCAL}

    def test_content_when_configured(self):
        ta, tb, room = self.pair("pushe", "pushf")
        body = {"kind": "http", "app_id": "a", "pushkey": "full", "app_display_name": "T",
                "device_display_name": "D", "lang": "de", "data": {"url": self.gw.url}}
        self.assertEqual(self.s.post(CS + "/pushers/set", body, token=tb).status, 200)
        self.send(room, ta, "mit Inhalt", "c1")
        (got,) = self.gw.wait(1)
        self.assertEqual(got["notification"]["content"]["body"], "mit Inhalt")
        self.assertEqual(got["notification"]["type"], "m.room.message")


class TestPushShutdown(PushBase):
    def test_silent_gateway_does_not_hold_shutdown(self):
        ta, tb, room = self.pair("pushg", "pushh")
        self.assertEqual(self.pusher(tb, "pk-silent").status, 200)
        self.gw.hang = True
        self.send(room, ta, "niemand antwortet", "s1")
        self.assertTrue(self.gw.hanging.wait(15))
        t0 = time.time()
        self.server.stop()  # raises on an unclean exit or a sanitizer report
        self.assertLess(time.time() - t0, 5)  # not the request's 10 s timeout


class TestPushGatewayAddresses(PushBase):
    """Without ip_range_whitelist, Synapse's default blacklist keeps gateways off loopback and
    private ranges: IP literals are refused by /pushers/set, names resolving there are
    refused when connecting (after DNS), so nothing reaches the gateway."""
    config = {}

    def test_refused_addresses_and_urls(self):
        tok = self.s.register("pushaddr")["access_token"]
        port = self.gw.httpd.server_port
        for url in (self.gw.url, f"http://[::1]:{port}/_matrix/push/v1/notify",
                    "http://10.1.2.3/_matrix/push/v1/notify",
                    "https://169.254.169.254/_matrix/push/v1/notify",
                    "http://[::ffff:127.0.0.1]/_matrix/push/v1/notify",
                    "https://gw.example/_matrix/push/v1/notify?/_matrix/push/v1/notify",
                    "https://gw.example/x#/_matrix/push/v1/notify",
                    "https://gw.example/x?y=/_matrix/push/v1/notify",
                    "https://user@gw.example/_matrix/push/v1/notify",
                    "https://gw.example/_matrix/push/v1/notify/../../x/_matrix/push/v1/notify"):
            r = self.pusher(tok, data={"url": url})
            self.assertError(r, 400, "M_INVALID_PARAM")
        self.assertEqual(self.pusher(tok, data={"url": "https://gw.example/_matrix/push/v1/notify"}
                                     ).status, 200)

    def test_name_resolving_to_loopback_gets_nothing(self):
        ta, tb, room = self.pair("pushi", "pushj")
        url = f"http://localhost:{self.gw.httpd.server_port}/_matrix/push/v1/notify"
        self.assertEqual(self.pusher(tb, "pk-local", data={"url": url}).status, 200)
        self.send(room, ta, "an die Loopback-Adresse", "l1")
        time.sleep(3)
        self.assertEqual(self.gw.received, [])
        self.assertIn("push: a gateway of @pushj:test.local is refused", self.server.read_log())


class TestPushGatewaysInParallel(PushBase):
    def test_silent_gateway_does_not_delay_others(self):
        silent = self.gw
        good = Gateway()
        try:
            ta, tb, room_b = self.pair("pushk", "pushl")
            tc = self.s.register("pushm")["access_token"]
            room_c = self.s.post(CS + "/createRoom", {"invite": ["@pushm:test.local"]},
                                 token=ta)["room_id"]
            self.s.post(CS + f"/rooms/{q(room_c)}/join", {}, token=tc)
            self.assertEqual(self.pusher(tb, "pk-silent").status, 200)
            body = {"kind": "http", "app_id": "de.amtsbote.test", "pushkey": "pk-good",
                    "app_display_name": "T", "device_display_name": "D", "lang": "de",
                    "data": {"url": good.url, "format": "event_id_only"}}
            self.assertEqual(self.s.post(CS + "/pushers/set", body, token=tc).status, 200)
            silent.hang = True
            for i in range(3):  # the silent gateway's requests go out first
                self.send(room_b, ta, "niemand antwortet", f"s{i}")
            self.assertTrue(silent.hanging.wait(15))
            t0 = time.time()
            ev = self.send(room_c, ta, "bitte sofort", "g1")
            got = good.wait(1, timeout=8)
            self.assertEqual([g["notification"]["event_id"] for g in got], [ev])
            self.assertLess(time.time() - t0, 3)  # not behind the silent gateway's 10 s
        finally:
            good.close()

    def test_silent_gateway_backlog_does_not_crowd_out_others(self):
        """More deliveries for a silent gateway than the sender keeps in flight in all: the
        sender caps each gateway's share, so another gateway's push still goes out."""
        silent = self.gw
        good = Gateway()
        try:
            ta, tb, room_b = self.pair("pushn", "pusho")
            tc = self.s.register("pushp")["access_token"]
            room_c = self.s.post(CS + "/createRoom", {"invite": ["@pushp:test.local"]},
                                 token=ta)["room_id"]
            self.s.post(CS + f"/rooms/{q(room_c)}/join", {}, token=tc)
            for i in range(20):  # 20 pushers: every message is 20 deliveries
                self.assertEqual(self.pusher(tb, f"silent{i}").status, 200)
            body = {"kind": "http", "app_id": "de.amtsbote.test", "pushkey": "pk-good2",
                    "app_display_name": "T", "device_display_name": "D", "lang": "de",
                    "data": {"url": good.url, "format": "event_id_only"}}
            self.assertEqual(self.s.post(CS + "/pushers/set", body, token=tc).status, 200)
            silent.hang = True
            for i in range(12):  # 240 deliveries to the silent gateway
                self.send(room_b, ta, "niemand antwortet", f"b{i}")
            self.assertTrue(silent.hanging.wait(15))
            time.sleep(1.5)  # the sender has taken up what it will
            t0 = time.time()
            ev = self.send(room_c, ta, "bitte sofort", "g2")
            got = good.wait(1, timeout=12)
            self.assertEqual([g["notification"]["event_id"] for g in got], [ev])
            self.assertLess(time.time() - t0, 4)
        finally:
            good.close()
