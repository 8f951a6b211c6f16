"""Operations: GET /health on every listener, and Prometheus metrics on a listener with the
`metrics` resource only: request counters by route pattern and status move, the latency
histogram, events persisted, parked /sync requests, the database pool."""
import re
import threading
import time
import unittest
import urllib.error
import urllib.request

from harness import Server, free_port


def scrape(base, path="/_synapse/metrics"):
    with urllib.request.urlopen(base + path, timeout=10) as r:
        assert r.status == 200
        ctype = r.headers["Content-Type"]
        return r.read().decode(), ctype


def value(text, name, **labels):
    """The sample of `name` whose labels include `labels` (sum when several), or None."""
    total, found = 0.0, False
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$', line)
        assert m, f"bad exposition line {line!r}"
        if m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        if all(got.get(k) == v for k, v in labels.items()):
            total += float(m.group(3))
            found = True
    return total if found else None


class TestOps(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        s = Server()
        cls.mport = free_port()
        s.overrides = {"listeners": [
            {"port": s.port, "bind_addresses": ["127.0.0.1"], "type": "http",
             "resources": [{"names": ["client", "federation"]}]},
            {"port": cls.mport, "bind_addresses": ["127.0.0.1"], "type": "http",
             "resources": [{"names": ["metrics"]}]}]}
        cls.s = s.start()
        cls.mbase = f"http://127.0.0.1:{cls.mport}"

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()

    def test_health(self):
        for base in (self.s.base, self.mbase):
            with urllib.request.urlopen(base + "/health", timeout=10) as r:
                self.assertEqual((r.status, r.read()), (200, b"OK"))

    def test_scan_encrypted_off(self):
        tok = self.s.register("opsscan")["access_token"]
        r = self.s.post("/_matrix/media_proxy/unstable/scan_encrypted", {"file": {}}, token=tok)
        self.assertEqual((r.status, r.errcode), (404, "M_UNRECOGNIZED"), r)

    def test_metrics_not_on_client_listener(self):
        for path in ("/_synapse/metrics", "/metrics"):
            r = self.s.get(path)
            self.assertEqual((r.status, r.errcode), (404, "M_UNRECOGNIZED"), r)
        # and the client API is not on the metrics listener
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(self.mbase + "/_matrix/client/versions", timeout=10)
        self.assertEqual(e.exception.code, 404)

    def test_counters_move(self):
        text, ctype = scrape(self.mbase)
        self.assertTrue(ctype.startswith("text/plain; version=0.0.4"), ctype)
        ver = dict(method="GET", endpoint="/_matrix/client/versions", code="200")
        v0 = value(text, "amtsbote_http_requests_total", **ver) or 0
        ev0 = value(text, "amtsbote_events_persisted_total")
        self.assertIsNotNone(ev0)
        for _ in range(3):
            self.assertEqual(self.s.get("/_matrix/client/versions").status, 200)
        tok = self.s.register("opsuser")["access_token"]
        room = self.s.post("/_matrix/client/v3/createRoom", {}, token=tok)["room_id"]
        r = self.s.put(f"/_matrix/client/v3/rooms/{room}/send/m.room.message/t1",
                       {"msgtype": "m.text", "body": "hallo"}, token=tok)
        self.assertEqual(r.status, 200, r)
        r = self.s.get(f"/_matrix/client/v3/rooms/{room}/state/m.room.nothing", token=tok)
        self.assertEqual(r.status, 404)
        self.s.get("/_matrix/client/v3/no/such/thing")

        text, _ = scrape(self.mbase)
        self.assertGreaterEqual(value(text, "amtsbote_http_requests_total", **ver), v0 + 3)
        send = "/_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}"
        self.assertEqual(value(text, "amtsbote_http_requests_total", method="PUT",
                               endpoint=send, code="200"), 1)
        self.assertGreaterEqual(value(text, "amtsbote_http_requests_total",
                                      endpoint="unmatched", code="404"), 1)
        self.assertEqual(value(text, "amtsbote_http_request_duration_seconds_count",
                               method="PUT", endpoint=send), 1)
        self.assertEqual(value(text, "amtsbote_http_request_duration_seconds_bucket",
                               method="PUT", endpoint=send, le="+Inf"), 1)
        self.assertGreater(value(text, "amtsbote_http_request_duration_seconds_sum",
                                 method="PUT", endpoint=send), 0)
        # createRoom's events and the message
        self.assertGreaterEqual(value(text, "amtsbote_events_persisted_total"), ev0 + 6)
        self.assertEqual(value(text, "amtsbote_db_pool_max"), 8)
        self.assertGreaterEqual(value(text, "amtsbote_db_pool_connections"), 1)
        for g in ("amtsbote_federation_destinations_queued", "amtsbote_outbound_requests_queued",
                  "amtsbote_federation_transactions_in_flight"):
            self.assertIsNotNone(value(text, g), g)
        # route patterns only: no room ID, user ID or raw path in the metrics
        self.assertNotIn(room, text)
        self.assertNotIn("opsuser", text)
        self.assertNotIn("no/such", text)

    def test_sync_waiters(self):
        tok = self.s.register("opssync")["access_token"]
        since = self.s.get("/_matrix/client/v3/sync", token=tok)["next_batch"]
        t = threading.Thread(target=lambda: self.s.get(
            "/_matrix/client/v3/sync", token=tok, query={"since": since, "timeout": "3000"}))
        t.start()
        seen = 0
        deadline = time.time() + 3
        while time.time() < deadline and not seen:
            seen = value(scrape(self.mbase)[0], "amtsbote_sync_waiters")
            time.sleep(0.05)
        t.join(10)
        self.assertGreaterEqual(seen, 1)
        self.assertEqual(value(scrape(self.mbase)[0], "amtsbote_sync_waiters"), 0)


if __name__ == "__main__":
    unittest.main()
