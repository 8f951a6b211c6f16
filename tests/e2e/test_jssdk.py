"""Element's client stack against the real server: matrix-js-sdk with its Rust crypto
(@matrix-org/matrix-sdk-crypto-wasm) in Node runs tests/js/element_flow.mjs — password login
of two clients, initRustCrypto and first sync, an encrypted room, cross-signing, secret
storage and a key backup, encrypted messages both ways, an upload and its thumbnail through
authenticated media; and its SlidingSync client (MSC4186) in tests/js/sliding_flow.mjs.

The npm packages are pinned in tests/js/package-lock.json and installed here with `npm ci`
when tests/js/node_modules is missing or was installed from another lock file. Node.js and
npm are required: without them the test fails, it does not skip."""
import hashlib
import json
import os
import shutil
import subprocess
import urllib.parse

from harness import ROOT, ServerTestCase

JS = os.path.join(ROOT, "tests", "js")
STAMP = os.path.join(JS, "node_modules", ".amtsbote-lock-sha256")
NPM_CI_TIMEOUT = 300
NODE_TIMEOUT = 150  # the script ends itself after 120 s


def lock_digest():
    with open(os.path.join(JS, "package-lock.json"), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def ensure_node_modules(test):
    digest = lock_digest()
    try:
        with open(STAMP) as f:
            if f.read().strip() == digest:
                return
    except OSError:
        pass
    try:
        r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=JS, capture_output=True,
                           text=True, timeout=NPM_CI_TIMEOUT)
    except subprocess.TimeoutExpired as e:
        test.fail(f"npm ci in tests/js took longer than {NPM_CI_TIMEOUT} s:\n"
                  f"{(e.stdout or b'').decode(errors='replace')}"
                  f"{(e.stderr or b'').decode(errors='replace')}")
    if r.returncode != 0:
        test.fail(f"npm ci in tests/js failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    with open(STAMP, "w") as f:
        f.write(digest + "\n")


class JsSdk(ServerTestCase):
    USERS = (("jsalice", "alice js-sdk password 1"), ("jsbob", "bob js-sdk password 2"))

    def need_node(self):
        missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
        if missing:
            self.fail(f"{' and '.join(missing)} not found on PATH: this test needs Node.js >= 20 "
                      "and npm (README, Tests) to run matrix-js-sdk")
        version = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout
        major = int(version.strip().lstrip("v").split(".")[0] or 0)
        self.assertGreaterEqual(major, 20, f"Node.js >= 20 needed, found {version!r}")

    def run_script(self, script, env_extra):
        ensure_node_modules(self)
        env = dict(os.environ)
        env.update(env_extra)
        try:
            r = subprocess.run(["node", os.path.join(JS, script)], cwd=JS, env=env,
                               capture_output=True, text=True, timeout=NODE_TIMEOUT)
            out, rc = r.stdout + r.stderr, r.returncode
        except subprocess.TimeoutExpired as e:
            out = ((e.stdout or b"").decode(errors="replace")
                   + (e.stderr or b"").decode(errors="replace"))
            rc = None
        if rc != 0:
            self.fail(f"{script} exit status {rc if rc is not None else 'timeout'}; "
                      f"its output:\n{out}")
        self.assertRegex(out, r"(?m)^\d+ passed, 0 failed$", out)

    def test_jssdk_element_flow(self):
        self.need_node()
        for name, password in self.USERS:
            self.s.register(name, password=password, inhibit_login=True)
        self.run_script("element_flow.mjs", dict(
            HS_URL=self.s.base, USER_A=f"@{self.USERS[0][0]}:{self.s.server_name}",
            PASSWORD_A=self.USERS[0][1], USER_B=self.USERS[1][0], PASSWORD_B=self.USERS[1][1]))

    def test_jssdk_sliding_sync(self):
        """matrix-js-sdk 37's SlidingSync class speaks MSC4186 (org.matrix.simplified_msc3575):
        tests/js/sliding_flow.mjs drives the endpoint with it (a list of 20 of 22 rooms, a
        subscription, a message arriving while it long-polls, a room entering the window)."""
        self.need_node()
        a = self.s.register("jsslider")
        b = self.s.register("jssender")
        rooms = []
        for i in range(22):
            rid = self.s.post("/_matrix/client/v3/createRoom",
                              {"preset": "public_chat", "name": f"room {i}"},
                              token=a["access_token"])["room_id"]
            self.assertEqual(self.s.post(f"/_matrix/client/v3/join/{urllib.parse.quote(rid)}",
                                         {}, token=b["access_token"]).status, 200)
            rooms.append(rid)
        self.run_script("sliding_flow.mjs", dict(
            HS_URL=self.s.base, USER_A=a["user_id"], TOKEN_A=a["access_token"],
            TOKEN_B=b["access_token"], ROOMS=json.dumps(rooms)))
