"""Every endpoint Element calls (tests/e2e/element_endpoints.txt) is known to the server:
none answers 404 or 405 M_UNRECOGNIZED. /auth_metadata is the one Element asks expecting
M_UNRECOGNIZED (no OAuth here), and it gets it."""
import os
import urllib.parse

from harness import ServerTestCase

CS = "/_matrix/client/v3"
HERE = os.path.dirname(os.path.abspath(__file__))


def q(s):
    return urllib.parse.quote(s, safe="")


def endpoints():
    with open(os.path.join(HERE, "element_endpoints.txt"), encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                method, path = line.split(" ", 1)
                yield method, path


class TestElementEndpoints(ServerTestCase):
    def test_all_known(self):
        s = self.s
        login = s.register("element")
        tok, user, device = login["access_token"], login["user_id"], login["device_id"]
        room = s.post(CS + "/createRoom", {"preset": "private_chat"}, token=tok)["room_id"]
        space = s.post(CS + "/createRoom", {"creation_content": {"type": "m.space"}},
                       token=tok)["room_id"]
        event = s.put(CS + f"/rooms/{q(room)}/send/m.room.message/e1",
                      {"msgtype": "m.text", "body": "hi"}, token=tok)["event_id"]
        filt = s.post(CS + f"/user/{q(user)}/filter", {}, token=tok)["filter_id"]
        up = s.request("POST", "/_matrix/media/v3/upload?filename=a.txt", raw=b"hello",
                       token=tok, headers={"Content-Type": "text/plain"})
        mxc = up.get("content_uri", "mxc://test.local/none")
        mxc_server, mxc_id = mxc[len("mxc://"):].split("/", 1)
        values = {"user": q(user), "device": q(device), "room": q(room), "space": q(space),
                  "event": q(event), "filter": filt, "mxc_server": mxc_server,
                  "mxc_id": mxc_id}
        unknown = []
        for n, (method, path) in enumerate(endpoints()):
            p = path.replace("{txn}", f"t{n}")
            for k, v in values.items():
                p = p.replace("{" + k + "}", v)
            body = None if method in ("GET", "DELETE") else {}
            r = s.request(method, p, body, token=tok)
            if r.errcode == "M_UNRECOGNIZED" or r.status == 405:
                unknown.append(f"{method} {path} -> {r.status} {r.raw[:120]!r}")
        self.assertEqual(unknown, [], "\n".join(unknown))
        r = s.get("/_matrix/client/v1/auth_metadata")
        self.assertError(r, 404, "M_UNRECOGNIZED")
