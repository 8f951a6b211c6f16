#!/usr/bin/env python3
"""Interop checks against a real Synapse (issue 12): joins, messages and invites both ways.

    python3 deploy/dev/synapse_interop.py /path/to/synapse-1.67.0-source [--keep]

Starts, on loopback only, one Amtsbote instance (build/asan/amtsbote behind the TLS front of
tests/e2e/fedharness.py) and one Synapse 1.67.0 run from the given source tree with Debian's
python3 packages (see /work/shared/peers/synapse.md; this script fetches nothing and holds no
Synapse code). Both are named 127.0.0.1:PORT (IP literal with port: no DNS) and trust one
test CA made with openssl; Synapse serves federation over TLS itself (tls: true on its
listener) and a plain client listener on another port. Synapse's database is a fresh C-collated
database in this checkout's private PostgreSQL cluster (deploy/dev/pg.sh start first).

Checks, all in room version 10 (Synapse 1.67 knows versions 1-10 only): a Synapse user joins
an Amtsbote room by ID and another by alias; an Amtsbote user joins a Synapse room by ID;
messages both ways in each of those rooms appear in the other side's /sync; an invite from
each side to the other is seen in /sync and accepted. Each check prints PASS or FAIL with the
reason; the exit status is the number of failures (0: all passed). Every wait is bounded.
Not part of `make test` (CI has no Synapse). --keep leaves the temporary directory (logs).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
from fedharness import Restartable, TestCA  # noqa: E402
from harness import free_port, pg_env  # noqa: E402

CS = "/_matrix/client/v3"
PY = "/usr/bin/python3"  # Debian's, with the python3-* packages Synapse needs
WAIT = 40  # seconds, for anything that crosses federation


def q(s):
    return urllib.parse.quote(s, safe="")


class Client:
    """A minimal client-server API client on a plain-HTTP base URL."""

    def __init__(self, base):
        self.base = base

    def req(self, method, path, body=None, token=None, query=None):
        url = self.base + path + ("?" + urllib.parse.urlencode(query) if query else "")
        data = json.dumps(body).encode() if body is not None else None
        r = urllib.request.Request(url, data=data, method=method)
        if data is not None:
            r.add_header("Content-Type", "application/json")
        if token:
            r.add_header("Authorization", "Bearer " + token)
        try:
            with urllib.request.urlopen(r, timeout=60) as resp:
                status, text = resp.status, resp.read()
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read()
        try:
            return status, json.loads(text) if text else None
        except ValueError:
            return status, {"raw": text[:200].decode("utf-8", "replace")}

    def register(self, localpart, password="interop pass 123"):
        body = {"username": localpart, "password": password}
        st, r = self.req("POST", CS + "/register", body)
        if st == 401:
            body["auth"] = {"type": "m.login.dummy", "session": r["session"]}
            st, r = self.req("POST", CS + "/register", body)
        if st != 200:
            raise RuntimeError(f"register {localpart}: {st} {r}")
        return r["user_id"], r["access_token"]


class Synapse:
    """Synapse 1.67.0 from a source tree, on loopback, with its own TLS federation listener."""

    def __init__(self, src, tmp, ca):
        self.src, self.ca = src, ca
        self.dir = os.path.join(tmp, "synapse")
        os.makedirs(self.dir)
        self.site = os.path.join(self.dir, "site")
        os.makedirs(self.site)
        self.fed_port, self.client_port = free_port(), free_port()
        self.server_name = f"127.0.0.1:{self.fed_port}"
        self.client = Client(f"http://127.0.0.1:{self.client_port}")
        self.pg = pg_env()
        self.dbname = "synapse_" + uuid.uuid4().hex[:10]
        self.proc = None

    def env(self):
        e = dict(os.environ)
        e["PYTHONPATH"] = self.src + ":" + self.site
        return e

    def start(self, amtsbote_name):
        self.configure(amtsbote_name)
        self.run()

    def configure(self, amtsbote_name):
        """A fresh database and homeserver.yaml federating with amtsbote_name only."""
        import yaml
        pgbin = self.pg["PGBIN"]
        subprocess.run([os.path.join(pgbin, "createdb"), "-h", self.pg["PGHOST"], "-U",
                        self.pg["PGUSER"], "--lc-collate=C", "--lc-ctype=C",
                        "--template=template0", self.dbname], check=True)
        subprocess.run([PY, "-c", "import poetry.core.masonry.api as a; "
                        f"a.prepare_metadata_for_build_wheel({self.site!r})"],
                       cwd=self.src, check=True, capture_output=True)
        cfg_path = os.path.join(self.dir, "homeserver.yaml")
        subprocess.run([PY, "-m", "synapse.app.homeserver", "--server-name", self.server_name,
                        "--config-path", cfg_path, "--generate-config", "--report-stats=no",
                        "--config-directory", self.dir, "--data-directory", self.dir],
                       cwd=self.dir, env=self.env(), check=True, capture_output=True)
        with open(cfg_path) as f:
            cfg = yaml.safe_load(f)
        many = {"per_second": 1000, "burst_count": 1000}
        cfg.update({
            "listeners": [
                {"port": self.fed_port, "bind_addresses": ["127.0.0.1"], "type": "http",
                 "tls": True, "x_forwarded": False,
                 "resources": [{"names": ["federation"], "compress": False}]},
                {"port": self.client_port, "bind_addresses": ["127.0.0.1"], "type": "http",
                 "tls": False, "x_forwarded": False,
                 "resources": [{"names": ["client"], "compress": False}]}],
            "tls_certificate_path": self.ca.cert,
            "tls_private_key_path": self.ca.key,
            "federation_verify_certificates": True,
            "federation_custom_ca_list": [self.ca.ca],
            "ip_range_whitelist": ["127.0.0.1/32"],
            # Synapse 1.67 checks IP-literal server names against the blacklist only (its
            # BlacklistingAgentWrapper ignores ip_range_whitelist): this legacy key, when
            # given, replaces the federation blacklist (0.0.0.0 and :: stay refused).
            "federation_ip_range_blacklist": [],
            "database": {"name": "psycopg2", "args": {
                "user": self.pg["PGUSER"], "host": self.pg["PGHOST"],
                "database": self.dbname, "cp_min": 1, "cp_max": 5}},
            "enable_registration": True,
            "enable_registration_without_verification": True,
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "default_room_version": "10",
            # Synapse caches a /sync answer for 2 minutes by default, so that polling with the
            # same since token would not see new events: no cache
            "caches": {"sync_response_cache_duration": 0},
            "rc_message": many, "rc_registration": many, "rc_joins": {"local": many,
                                                                       "remote": many},
            "rc_joins_per_room": many, "rc_invites": {"per_room": many, "per_user": many,
                                                      "per_issuer": many},
            "rc_login": {"address": many, "account": many, "failed_attempts": many},
            "rc_federation": {"window_size": 1000, "sleep_limit": 1000, "sleep_delay": 1,
                              "reject_limit": 1000, "concurrent": 100},
            "federation_domain_whitelist": [self.server_name, amtsbote_name],
        })
        with open(cfg_path, "w") as f:
            yaml.safe_dump(cfg, f)
        self.cfg_path = cfg_path
        self.log_path = os.path.join(self.dir, "homeserver.log")

    def run(self):
        """Start the configured Synapse (again: same database, same name) and wait until its
        client listener answers (180 s at most)."""
        self.out = open(os.path.join(self.dir, "stdout.log"), "a")
        self.proc = subprocess.Popen([PY, "-m", "synapse.app.homeserver", "-c", self.cfg_path],
                                     cwd=self.dir, env=self.env(), stdout=self.out,
                                     stderr=subprocess.STDOUT)
        deadline = time.time() + 180
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("synapse exited at start-up; see " + self.out.name)
            try:
                st, _ = self.client.req("GET", "/_matrix/client/versions")
                if st == 200:
                    return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.5)
        raise RuntimeError("synapse did not answer within 180 s")

    def stop(self):
        self.halt()
        self.drop()

    def halt(self):
        """Stop the process (SIGTERM, then SIGKILL after 30 s); the database stays."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.out.close()
        self.proc = None

    def drop(self):
        subprocess.run([os.path.join(self.pg["PGBIN"], "dropdb"), "-h", self.pg["PGHOST"], "-U",
                        self.pg["PGUSER"], "--if-exists", self.dbname])


# --- checks ---------------------------------------------------------------------------------
RESULTS = []


def check(name, fn):
    t0 = time.time()
    try:
        detail = fn()
        RESULTS.append((name, True))
        print(f"PASS  {name} ({time.time() - t0:.1f} s){': ' + detail if detail else ''}",
              flush=True)
        return True
    except Exception as e:  # a failed check is reported, the others still run
        RESULTS.append((name, False))
        print(f"FAIL  {name} ({time.time() - t0:.1f} s): {e}", flush=True)
        return False


def ok(st, r, what):
    if st != 200:
        raise AssertionError(f"{what}: HTTP {st} {r}")
    return r


SYNC = {}  # token -> [next_batch, accumulated view in /sync's shape]


def wait_sync(client, token, pred, what, wait=None):
    """Poll /sync (timeout=0, incremental after the first: Synapse caches an identical full
    sync for minutes) until pred(view) holds, where view gathers every timeline and state
    event and every invite seen so far in /sync's shape. Bounded by `wait` (default WAIT)
    seconds; a server that does not answer meanwhile counts as a poll without news."""
    since, view = SYNC.setdefault(token, [None, {"rooms": {"join": {}, "invite": {}}}])
    wait = wait or WAIT
    deadline = time.time() + wait
    last = None
    while time.time() < deadline:
        query = {"timeout": "0", "filter": json.dumps({"room": {"timeline": {"limit": 50}}})}
        if SYNC[token][0]:
            query["since"] = SYNC[token][0]
        try:
            st, r = client.req("GET", CS + "/sync", token=token, query=query)
        except (urllib.error.URLError, OSError) as e:
            st, r = str(e), None
        last = st
        if st == 200:
            SYNC[token][0] = r.get("next_batch")
            rooms = r.get("rooms", {})
            for rid, room in rooms.get("join", {}).items():
                v = view["rooms"]["join"].setdefault(rid, {"timeline": {"events": []},
                                                           "state": {"events": []}})
                for part in ("timeline", "state"):
                    v[part]["events"] += room.get(part, {}).get("events", [])
            for rid, room in rooms.get("invite", {}).items():
                view["rooms"]["invite"][rid] = room
            if pred(view):
                return view
        time.sleep(0.5)
    raise AssertionError(f"not in /sync within {wait} s: {what} (last HTTP {last})")


def timeline_has(room_id, body_text):
    def pred(s):
        evs = s.get("rooms", {}).get("join", {}).get(room_id, {}).get("timeline", {}) \
            .get("events", [])
        return any(e.get("type") == "m.room.message" and
                   e.get("content", {}).get("body") == body_text for e in evs)
    return pred


def member_joined(room_id, user_id):
    def pred(s):
        room = s.get("rooms", {}).get("join", {}).get(room_id, {})
        evs = room.get("timeline", {}).get("events", []) + room.get("state", {}).get("events",
                                                                                      [])
        return any(e.get("type") == "m.room.member" and e.get("state_key") == user_id and
                   e.get("content", {}).get("membership") == "join" for e in evs)
    return pred


def invited(room_id):
    return lambda s: room_id in s.get("rooms", {}).get("invite", {})


def join(client, token, target, via):
    st, r = client.req("POST", CS + "/join/" + q(target), {}, token=token,
                       query={"server_name": via})
    return ok(st, r, f"join {target} via {via}")["room_id"]


def send(client, token, room_id, text):
    st, r = client.req("PUT", f"{CS}/rooms/{q(room_id)}/send/m.room.message/{uuid.uuid4().hex}",
                       {"msgtype": "m.text", "body": text}, token=token)
    return ok(st, r, f"send in {room_id}")["event_id"]


def create(client, token, **body):
    body.setdefault("room_version", "10")
    st, r = client.req("POST", CS + "/createRoom", body, token=token)
    return ok(st, r, "createRoom")["room_id"]


def source_arg(script):
    """(Synapse source tree, --keep) from the command line, or None after printing usage."""
    if len(sys.argv) < 2 or not os.path.isfile(os.path.join(sys.argv[1], "synapse",
                                                             "__init__.py")):
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        print(f"usage: {script} SYNAPSE_SOURCE_TREE [--keep]", file=sys.stderr)
        return None
    return os.path.abspath(sys.argv[1]), "--keep" in sys.argv[2:]


def open_pair(src, prefix):
    """A temporary directory, one Amtsbote instance (restartable: pause/resume) and one
    Synapse, configured to federate with each other only; neither is started yet."""
    tmp = tempfile.mkdtemp(prefix=prefix)
    ca = TestCA(tmp)
    amt = Restartable(ca, {"federation_custom_ca_list": [ca.ca], "log_level": "info"})
    syn = Synapse(src, tmp, ca)
    amt.overrides["federation_domain_whitelist"] = [amt.server_name, syn.server_name]
    amt.overrides["ip_range_whitelist"] = ["127.0.0.1/32"]
    return tmp, amt, syn


def start_pair(amt, syn):
    amt.start()
    syn.start(amt.server_name)
    print(f"amtsbote {amt.server_name} (log {amt.log_path})\n"
          f"synapse  {syn.server_name} (log {syn.log_path})", flush=True)


def close_pair(tmp, amt, syn, keep):
    """Stop both (Synapse's database dropped), keep or remove the directory."""
    syn.stop()
    try:
        log = amt.stop(check=False)
    except Exception as e:
        log = f"amtsbote stop: {e}"
        print(log)
    if keep:
        with open(os.path.join(tmp, "amtsbote.log"), "w") as f:
            f.write(log or "")
        print("kept", tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)


def run_steps(steps, rooms):
    """Run (name, fn, needs) steps: a step whose needed rooms (keys of `rooms`) are missing
    fails as skipped."""
    for name, fn, needs in steps:
        if any(n not in rooms for n in needs):
            RESULTS.append((name, False))
            print(f"FAIL  {name}: skipped, its room was not joined", flush=True)
            continue
        check(name, fn)


def summary(what):
    """Print the summary line; the number of failures."""
    failures = sum(1 for _, good in RESULTS if not good)
    print(f"\n{len(RESULTS) - failures} of {len(RESULTS)} {what} passed", flush=True)
    return failures


def main():
    args = source_arg("synapse_interop.py")
    if not args:
        return 2
    src, keep = args
    tmp, amt, syn = open_pair(src, "amtsbote-synapse-interop-")
    A = Client(amt.base)
    S = syn.client
    failures = 0
    try:
        start_pair(amt, syn)
        alice, atok = A.register("alice")
        bob, btok = A.register("bob")
        sam, stok = S.register("sam")
        sue, utok = S.register("sue")
        rooms = {}

        def joins_by_id(host, htok, guest, gtok, guest_id, via, key):
            """guest_id (on guest) joins a public room made on host, by room ID via `via`;
            both sides' /sync show the join."""
            def run():
                rid = create(host, htok, preset="public_chat", name="interop " + key)
                got = join(guest, gtok, rid, via)
                assert got == rid, got
                rooms[key] = rid
                wait_sync(host, htok, member_joined(rid, guest_id), f"{guest_id} joined, host")
                wait_sync(guest, gtok, member_joined(rid, guest_id), f"{guest_id} joined, guest")
                return rid
            return run

        def syn_joins_by_alias():
            alias = f"#interop:{amt.server_name}"
            rid = create(A, atok, preset="public_chat", room_alias_name="interop")
            got = join(S, utok, alias, amt.server_name)
            assert got == rid, f"{got} != {rid}"
            rooms["a2"] = rid
            wait_sync(A, atok, member_joined(rid, sue), f"{sue} joined on Amtsbote")
            return f"{alias} -> {rid}"

        def msg(room_key, sender, stok_, receiver, rtok_):
            def run():
                rid = rooms[room_key]
                text = f"interop {uuid.uuid4().hex[:8]}"
                eid = send(sender, stok_, rid, text)
                wait_sync(receiver, rtok_, timeline_has(rid, text), f"{text!r} in {rid}")
                return eid
            return run

        def invite(inviter, itok, invitee_client, etok, invitee_id, key):
            def run():
                rid = create(inviter, itok, preset="private_chat")
                rooms[key] = rid
                st, r = inviter.req("POST", f"{CS}/rooms/{q(rid)}/invite",
                                    {"user_id": invitee_id}, token=itok)
                ok(st, r, "invite")
                wait_sync(invitee_client, etok, invited(rid), f"invite to {rid}")
                got = join(invitee_client, etok, rid,
                           rid.split(":", 1)[1] if ":" in rid else "")
                assert got == rid, got
                wait_sync(inviter, itok, member_joined(rid, invitee_id),
                          f"{invitee_id} joined, seen by inviter")
                return rid
            return run

        steps = [
            ("Synapse user joins Amtsbote v10 room by ID",
             joins_by_id(A, atok, S, stok, sam, amt.server_name, "a1"), []),
            ("Synapse user joins Amtsbote v10 room by alias", syn_joins_by_alias, []),
            ("Amtsbote user joins Synapse v10 room by ID",
             joins_by_id(S, stok, A, btok, bob, syn.server_name, "s1"), []),
            ("message Amtsbote -> Synapse in Amtsbote room", msg("a1", A, atok, S, stok),
             ["a1"]),
            ("message Synapse -> Amtsbote in Amtsbote room", msg("a1", S, stok, A, atok),
             ["a1"]),
            ("message Synapse -> Amtsbote in Synapse room", msg("s1", S, stok, A, btok),
             ["s1"]),
            ("message Amtsbote -> Synapse in Synapse room", msg("s1", A, btok, S, stok),
             ["s1"]),
            ("Amtsbote invites Synapse user, accepted",
             invite(A, atok, S, utok, sue, "ai"), []),
            ("Synapse invites Amtsbote user, accepted",
             invite(S, stok, A, btok, bob, "si"), []),
        ]
        run_steps(steps, rooms)
        failures = summary("interop checks")
    except Exception as e:
        print(f"FAIL  set-up: {e}", flush=True)
        failures = max(failures, 1)
    finally:
        close_pair(tmp, amt, syn, keep)
    return min(failures, 100)


if __name__ == "__main__":
    sys.exit(main())
