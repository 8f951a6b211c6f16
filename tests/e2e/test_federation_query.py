"""Federation II (issue 13): queries and end-to-end encryption across servers, with two
instances on loopback (fedharness.py). A client on A queries and claims the keys of a user on
B (real Olm keys uploaded on B first), failures are reported per server, B answers
/user/devices, /user/keys/query and /user/keys/claim for its own users only; remote media
through the client's own server; publicRooms over federation refused unless
allow_public_rooms_over_federation; timestamp_to_event over federation."""
import shutil
import tempfile
import time
import unittest
import urllib.parse

from fedharness import FedServer, FedTestCase, TestCA, canonical, start_servers, stop_servers
from test_keys import Device as KeysDevice
from test_media import image_size, png

CS = "/_matrix/client/v3"
FED = "/_matrix/federation/v1"


def q(s):
    return urllib.parse.quote(s, safe="")


def signable(obj):
    return canonical({k: v for k, v in obj.items() if k not in ("signatures", "unsigned")})


class Device(KeysDevice):
    """A real Olm account behind one login (test_keys.py), uploading its keys."""

    def upload(self, otks=0):
        body = {"device_keys": self.device_keys()}
        if otks:
            body["one_time_keys"] = self.signed_otks(otks)
        r = self.post("/keys/upload", body)
        assert r.status == 200, r
        return body


class TestFederationQuery(FedTestCase):
    PREFIX = "amtsbote-fedquery-"

    @classmethod
    def before_start(cls):
        cls.B.overrides["allow_public_rooms_over_federation"] = True
        cls.A.overrides["max_upload_size"] = "1M"  # remote media beyond it is refused

    @classmethod
    def after_start(cls):
        for srv, names in ((cls.A, ["alice"]), (cls.B, ["bob", "bea", "carl"])):
            for n in names:
                srv.register(n)
        cls.alice = cls.A.login("alice")["access_token"]

    def uid(self, name, server):
        return f"@{name}:{server.server_name}"

    def fed(self, server, method, path, content=None, origin=None):
        """A request to `server` signed as A (or origin)."""
        o = origin or self.A
        return server.fed_request(method, path, o.key, o.server_name, content=content)

    # --- keys of another server's users ----------------------------------------------------
    def test_query_and_claim_remote_keys(self):
        bob = Device(self.B, "bob")
        up = bob.upload(otks=3)
        r = self.A.post(CS + "/keys/query", {"device_keys": {bob.user_id: []}}, token=self.alice)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r["failures"], {})
        got = r["device_keys"][bob.user_id][bob.device_id]
        self.assertEqual(signable(got), signable(up["device_keys"]))
        self.assertEqual(got["signatures"], up["device_keys"]["signatures"])
        # only the device asked for
        r = self.A.post(CS + "/keys/query", {"device_keys": {bob.user_id: ["NOSUCH"]}},
                        token=self.alice)
        self.assertEqual(r["device_keys"][bob.user_id], {}, r)
        # claims hand out each one-time key once, signed by bob's device
        seen = set()
        for _ in range(3):
            r = self.A.post(CS + "/keys/claim",
                            {"one_time_keys": {bob.user_id: {bob.device_id: "signed_curve25519"}}},
                            token=self.alice)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r["failures"], {})
            (kid, key), = r["one_time_keys"][bob.user_id][bob.device_id].items()
            self.assertEqual(up["one_time_keys"][kid], key)
            seen.add(kid)
        self.assertEqual(len(seen), 3)
        r = self.A.post(CS + "/keys/claim",
                        {"one_time_keys": {bob.user_id: {bob.device_id: "signed_curve25519"}}},
                        token=self.alice)
        self.assertEqual(r["one_time_keys"], {}, r)

    def test_failures_per_server(self):
        bea = Device(self.B, "bea")
        bea.upload()
        dead = "127.0.0.1:1"  # nothing listens there: connection refused
        t0 = time.time()
        r = self.A.post(CS + "/keys/query",
                        {"device_keys": {bea.user_id: [], f"@x:{dead}": []}, "timeout": 5000},
                        token=self.alice)
        self.assertLess(time.time() - t0, 15)
        self.assertEqual(r.status, 200, r)
        self.assertIn(dead, r["failures"])
        self.assertNotIn(self.B.server_name, r["failures"])
        self.assertIn(bea.device_id, r["device_keys"][bea.user_id])
        r = self.A.post(CS + "/keys/claim",
                        {"one_time_keys": {f"@x:{dead}": {"D": "signed_curve25519"}}},
                        token=self.alice)
        self.assertEqual(r.status, 200, r)
        self.assertIn(dead, r["failures"])
        # more servers than one request asks at once (64): each still named in failures
        many = {f"@x:127.0.0.1:{p}": [] for p in range(2, 80)}
        r = self.A.post(CS + "/keys/query", {"device_keys": many, "timeout": 3000},
                        token=self.alice)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(r["failures"]), len(many), r)

    def test_federation_endpoints_local_users_only(self):
        carl = Device(self.B, "carl")
        up = carl.upload(otks=1)
        r = self.fed(self.B, "GET", f"{FED}/user/devices/{q(carl.user_id)}")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r["user_id"], carl.user_id)
        self.assertIsInstance(r["stream_id"], int)
        self.assertGreater(r["stream_id"], 0)
        (dev,) = r["devices"]
        self.assertEqual(dev["device_id"], carl.device_id)
        self.assertNotIn("device_display_name", dev)
        self.assertEqual(signable(dev["keys"]), signable(up["device_keys"]))
        r = self.fed(self.B, "GET", f"{FED}/user/devices/{q(self.uid('alice', self.A))}")
        self.assertEqual(r.status, 400, r)
        # unsigned: refused
        r = self.B.get(f"{FED}/user/devices/{q(carl.user_id)}")
        self.assertEqual(r.status, 401, r)
        r = self.fed(self.B, "POST", f"{FED}/user/keys/query",
                     {"device_keys": {carl.user_id: [], "@other:elsewhere.example": []}})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(list(r["device_keys"]), [carl.user_id])
        self.assertIn(carl.device_id, r["device_keys"][carl.user_id])
        r = self.fed(self.B, "POST", f"{FED}/user/keys/query", {"device_keys": "x"})
        self.assertEqual(r.status, 400, r)
        r = self.fed(self.B, "POST", f"{FED}/user/keys/claim",
                     {"one_time_keys": {carl.user_id: {carl.device_id: "signed_curve25519"}}})
        self.assertEqual(r.status, 200, r)
        (kid, key), = r["one_time_keys"][carl.user_id][carl.device_id].items()
        self.assertEqual(up["one_time_keys"][kid], key)

    def test_tracked_user_keys_through_user_devices(self):
        """bob of B joins alice's room on A: A now shares a room with him, fetches his whole
        list with /user/devices and keeps it (invariant 4 of server/e2e_fed.c)."""
        bob = Device(self.B, "bob")
        up = bob.upload()
        room = self.A.post(CS + "/createRoom", {"preset": "public_chat"}, token=self.alice)
        self.assertEqual(room.status, 200, room)
        room = room["room_id"]
        r = self.B.post(f"{CS}/join/{q(room)}?server_name={q(self.A.server_name)}", {},
                        token=bob.token)
        self.assertEqual(r.status, 200, r)
        path = f"/_matrix/federation/v1/user/devices/{q(bob.user_id)}"
        before = self.B.read_log().count(path)
        for _ in range(2):  # fetched, then from the cache
            r = self.A.post(CS + "/keys/query", {"device_keys": {bob.user_id: [bob.device_id]}},
                            token=self.alice)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r["failures"], {})
            got = r["device_keys"][bob.user_id][bob.device_id]
            self.assertEqual(signable(got), signable(up["device_keys"]))
        self.assertEqual(self.B.read_log().count(path), before + 1)  # B's access log
        # timestamp_to_event over federation: B has a user in the room
        ts = int(time.time() * 1000) + 60_000
        r = self.fed(self.A, "GET", f"{FED}/timestamp_to_event/{q(room)}?ts={ts}&dir=b",
                     origin=self.B)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r["event_id"].startswith("$"), r)
        self.assertIsInstance(r["origin_server_ts"], int)
        r = self.fed(self.A, "GET", f"{FED}/timestamp_to_event/{q(room)}?ts=0&dir=b",
                     origin=self.B)
        self.assertEqual(r.status, 404, r)
        r = self.fed(self.A, "GET", f"{FED}/timestamp_to_event/{q(room)}?ts=x&dir=b",
                     origin=self.B)
        self.assertEqual(r.status, 400, r)
        other = self.A.post(CS + "/createRoom", {}, token=self.alice)["room_id"]
        r = self.fed(self.A, "GET", f"{FED}/timestamp_to_event/{q(other)}?ts={ts}&dir=b",
                     origin=self.B)
        self.assertEqual(r.status, 403, r)
        # the client's own /timestamp_to_event stays local
        r = self.A.get(f"/_matrix/client/v1/rooms/{q(room)}/timestamp_to_event?ts={ts}&dir=b",
                       token=self.alice)
        self.assertEqual(r.status, 200, r)

    def test_device_list_update_reaches_the_cache(self):
        """A new device of a user of B who shares a room with alice: B sends
        m.device_list_update (fedsend's queue), A applies it to its copy and shows the user in
        alice's device_lists.changed, and the next query has the new device."""
        u = "dora"
        self.B.register(u)
        d1 = Device(self.B, u)
        d1.upload()
        room = self.A.post(CS + "/createRoom", {"preset": "public_chat"}, token=self.alice)
        room = room["room_id"]
        r = self.B.post(f"{CS}/join/{q(room)}?server_name={q(self.A.server_name)}", {},
                        token=d1.token)
        self.assertEqual(r.status, 200, r)
        r = self.A.post(CS + "/keys/query", {"device_keys": {d1.user_id: []}}, token=self.alice)
        self.assertEqual(list(r["device_keys"][d1.user_id]), [d1.device_id], r)
        since = self.A.get(CS + "/sync?timeout=0", token=self.alice)["next_batch"]
        d2 = Device(self.B, u)
        d2.upload()
        # the login and the keys are two updates; as a client does, query after each change
        changed, r, deadline = False, None, time.time() + 20
        while time.time() < deadline:
            s = self.A.get(f"{CS}/sync?timeout=2000&since={q(since)}", token=self.alice)
            self.assertEqual(s.status, 200, s)
            since = s["next_batch"]
            if d1.user_id not in s.get("device_lists", {}).get("changed", []):
                continue
            changed = True
            r = self.A.post(CS + "/keys/query", {"device_keys": {d1.user_id: []}},
                            token=self.alice)
            if d2.device_id in r["device_keys"][d1.user_id]:
                break
        self.assertTrue(changed, "the device list update did not reach alice's /sync")
        self.assertEqual(sorted(r["device_keys"][d1.user_id]),
                         sorted([d1.device_id, d2.device_id]), r)

    # --- other queries ---------------------------------------------------------------------
    def test_openid_userinfo_and_version(self):
        uid = self.uid("alice", self.A)
        r = self.A.post(f"{CS}/user/{q(uid)}/openid/request_token", {}, token=self.alice)
        self.assertEqual(r.status, 200, r)
        # a third party asks A's federation API, without X-Matrix (the spec's security: none)
        r = self.A.get(f"{FED}/openid/userinfo?access_token={q(r['access_token'])}")
        self.assertEqual((r.status, r.body), (200, {"sub": uid}), r)
        r = self.A.get(f"{FED}/openid/userinfo?access_token=nope")
        self.assertEqual((r.status, r.errcode), (401, "M_UNKNOWN_TOKEN"), r)
        r = self.A.get(f"{FED}/version")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r["server"]["name"], "Amtsbote")

    # --- the public room directory over federation ------------------------------------------
    def test_public_rooms_over_federation(self):
        btok = self.B.login("carl")["access_token"]
        r = self.B.post(CS + "/createRoom", {"visibility": "public", "name": "Amtsstube B",
                                             "preset": "public_chat"}, token=btok)
        self.assertEqual(r.status, 200, r)
        room = r["room_id"]
        # B allows it (allow_public_rooms_over_federation: true), A by default does not
        r = self.fed(self.B, "GET", f"{FED}/publicRooms?limit=10")
        self.assertEqual(r.status, 200, r)
        self.assertIn(room, [c["room_id"] for c in r["chunk"]])
        r = self.fed(self.B, "POST", f"{FED}/publicRooms",
                     {"limit": 10, "filter": {"generic_search_term": "amtsstube"}})
        self.assertEqual(r.status, 200, r)
        self.assertEqual([c["room_id"] for c in r["chunk"]], [room])
        r = self.fed(self.A, "GET", f"{FED}/publicRooms", origin=self.B)
        self.assertEqual((r.status, r.errcode), (403, "M_FORBIDDEN"), r)
        r = self.fed(self.A, "POST", f"{FED}/publicRooms", {}, origin=self.B)
        self.assertEqual((r.status, r.errcode), (403, "M_FORBIDDEN"), r)
        self.assertEqual(self.B.get(f"{FED}/publicRooms").status, 401)
        # clients: ?server= asks the other server through their own
        r = self.A.get(f"{CS}/publicRooms?server={q(self.B.server_name)}", token=self.alice)
        self.assertEqual(r.status, 200, r)
        self.assertIn(room, [c["room_id"] for c in r["chunk"]])
        r = self.A.post(f"{CS}/publicRooms?server={q(self.B.server_name)}",
                        {"filter": {"generic_search_term": "amtsstube"}}, token=self.alice)
        self.assertEqual(r.status, 200, r)
        self.assertEqual([c["room_id"] for c in r["chunk"]], [room])
        r = self.B.get(f"{CS}/publicRooms?server={q(self.A.server_name)}", token=btok)
        self.assertEqual((r.status, r.errcode), (403, "M_FORBIDDEN"), r)
        r = self.A.get(f"{CS}/publicRooms?server={q(self.B.server_name)}")
        self.assertEqual(r.status, 401, r)
        # without server (or naming itself): the local directory, no token needed
        self.assertEqual(self.A.get(f"{CS}/publicRooms").status, 200)

    # --- media of another server ------------------------------------------------------------
    def upload_b(self, data, ctype, name):
        tok = self.B.login("carl")["access_token"]
        r = self.B.request("POST", f"/_matrix/media/v3/upload?filename={q(name)}", raw=data,
                           token=tok, headers={"Content-Type": ctype})
        self.assertEqual(r.status, 200, r)
        uri = r["content_uri"]
        self.assertTrue(uri.startswith(f"mxc://{self.B.server_name}/"), uri)
        return uri.rsplit("/", 1)[1]

    def parse_multipart(self, r):
        ctype = r.headers.get("Content-Type") or r.headers.get("content-type")
        self.assertTrue(ctype.startswith("multipart/mixed; boundary="), ctype)
        boundary = ctype.split("boundary=", 1)[1].encode()
        parts = r.raw.split(b"--" + boundary)
        self.assertEqual(parts[0], b"")
        self.assertTrue(parts[-1].startswith(b"--"), parts[-1][:10])
        out = []
        for p in parts[1:-1]:
            head, body = p[2:].split(b"\r\n\r\n", 1)
            self.assertTrue(body.endswith(b"\r\n"))
            hdrs = dict(line.split(b": ", 1) for line in head.split(b"\r\n"))
            out.append(({k.decode().lower(): v.decode() for k, v in hdrs.items()}, body[:-2]))
        return out

    def test_remote_media_download_and_thumbnail(self):
        image = png(200, 100)
        mid = self.upload_b(image, "image/png", "plan.png")
        # B serves it over federation as multipart/mixed: JSON, then the media
        r = self.fed(self.B, "GET", f"{FED}/media/download/{mid}")
        self.assertEqual(r.status, 200, r)
        (h1, b1), (h2, b2) = self.parse_multipart(r)
        self.assertEqual(h1["content-type"], "application/json")
        self.assertEqual(b1, b"{}")
        self.assertEqual((h2["content-type"], b2), ("image/png", image))
        self.assertIn("plan.png", h2["content-disposition"])
        self.assertEqual(self.B.get(f"{FED}/media/download/{mid}").status, 401)
        self.assertEqual(self.fed(self.B, "GET", f"{FED}/media/download/nosuchmedia").status, 404)
        # alice on A downloads through her own server, once fetched and then cached
        path = f"/_matrix/federation/v1/media/download/{mid}"
        before = self.B.read_log().count(path)
        for _ in range(2):
            r = self.A.get(f"/_matrix/client/v1/media/download/{self.B.server_name}/{mid}",
                           token=self.alice)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.raw, image)
            self.assertEqual(r.headers.get("Content-Type"), "image/png")
            self.assertIn("plan.png", r.headers.get("Content-Disposition"))
        self.assertEqual(self.B.read_log().count(path), before + 1)
        # a thumbnail of the cached original is made on A
        r = self.A.get(f"/_matrix/client/v1/media/thumbnail/{self.B.server_name}/{mid}"
                       "?width=32&height=32&method=crop", token=self.alice)
        self.assertEqual(r.status, 200, r)
        w, h = image_size(r.raw)
        self.assertLessEqual(max(w, h), 96)
        self.assertNotIn(f"/_matrix/federation/v1/media/thumbnail/{mid}", self.B.read_log())
        # a thumbnail of media A has not seen is asked of B
        mid2 = self.upload_b(png(300, 300), "image/png", "big.png")
        r = self.A.get(f"/_matrix/client/v1/media/thumbnail/{self.B.server_name}/{mid2}"
                       "?width=32&height=32&method=crop", token=self.alice)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.headers.get("Content-Type").startswith("image/"), r.headers)
        image_size(r.raw)
        self.assertIn(f"/_matrix/federation/v1/media/thumbnail/{mid2}", self.B.read_log())
        # B answers thumbnails over federation as multipart too
        r = self.fed(self.B, "GET", f"{FED}/media/thumbnail/{mid2}?width=32&height=32")
        self.assertEqual(r.status, 200, r)
        (_, _), (h2, b2) = self.parse_multipart(r)
        self.assertTrue(h2["content-type"].startswith("image/"))
        image_size(b2)

    def test_remote_media_refusals(self):
        # unknown at B: 404 through A
        r = self.A.get(f"/_matrix/client/v1/media/download/{self.B.server_name}/nosuchmedia",
                       token=self.alice)
        self.assertEqual((r.status, r.errcode), (404, "M_NOT_FOUND"), r)
        # a bad media ID never leaves A
        r = self.A.get(f"/_matrix/client/v1/media/download/{self.B.server_name}/a.b",
                       token=self.alice)
        self.assertEqual(r.status, 404, r)
        # larger than A's max_upload_size (1M): refused, not kept
        mid = self.upload_b(b"x" * 1_500_000, "application/octet-stream", "big.bin")
        for _ in range(2):
            r = self.A.get(f"/_matrix/client/v1/media/download/{self.B.server_name}/{mid}",
                           token=self.alice)
            self.assertEqual((r.status, r.errcode), (502, "M_TOO_LARGE"), r)
        # a server that cannot be reached
        r = self.A.get("/_matrix/client/v1/media/download/127.0.0.1:1/abcdef", token=self.alice)
        self.assertEqual(r.status, 502, r)


class TestWaitsHoldNoWorker(unittest.TestCase):
    """A server with one HTTP worker stays responsive while a client's /keys/query and a
    remote media download wait on a server that accepts connections and never answers: those
    calls are parked on threads of their own (api/parked.c)."""

    @classmethod
    def setUpClass(cls):
        import socket
        import threading
        cls.tmp = tempfile.mkdtemp(prefix="amtsbote-fedpark-")
        cls.ca = TestCA(cls.tmp)
        cls.A = FedServer(cls.ca, {"federation_custom_ca_list": [cls.ca.ca], "worker_threads": 1})
        cls.silent = socket.socket()
        cls.silent.bind(("127.0.0.1", 0))
        cls.silent.listen(16)  # the kernel completes handshakes; nobody ever reads
        cls.slow = f"127.0.0.1:{cls.silent.getsockname()[1]}"
        try:
            cls.servers = start_servers(cls.A)
        except Exception:
            cls.silent.close()
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise
        cls.A.register("alice")
        cls.tok = cls.A.login("alice")["access_token"]
        cls.threading = threading

    @classmethod
    def tearDownClass(cls):
        stop_servers(cls.servers)
        cls.silent.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_worker_free_while_waiting(self):
        results = []
        calls = [
            lambda: self.A.post(CS + "/keys/query",
                                {"device_keys": {f"@x:{self.slow}": []}, "timeout": 3000},
                                token=self.tok),
            lambda: self.A.get(f"/_matrix/client/v1/media/download/{self.slow}/abcdef",
                               token=self.tok, timeout=60),
        ]
        threads = [self.threading.Thread(target=lambda c=c: results.append(c())) for c in calls]
        for t in threads:
            t.start()
        time.sleep(0.5)
        t0 = time.time()
        r = self.A.get("/_matrix/client/versions")
        self.assertEqual(r.status, 200)
        self.assertLess(time.time() - t0, 1.5)
        for t in threads:
            t.join(60)
        statuses = sorted(r.status for r in results)
        self.assertEqual(statuses, [200, 502], results)
        q = [r for r in results if r.status == 200][0]
        self.assertIn(self.slow, q["failures"])


if __name__ == "__main__":
    unittest.main()
