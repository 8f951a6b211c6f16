#!/usr/bin/python3
"""Federation join benchmark: how long a user of server B takes to join a room on server A
that has --members joined members (issue 12, "Joining and inviting, both ways").

    make bench                              (runs this through tests/bench/run.py)
    tests/bench/fed_join_bench.py [--members 1000] [--max-seconds 600]
    tests/bench/fed_join_bench.py --members 10000 --max-seconds 780   (issue 13's 10,000)

Two release-build instances on loopback behind TLS fronts (tests/e2e/fedharness.py). The
members are made on A by a direct database fill (users, devices, access tokens: no password
hashing), then each joins A's public room over the Client-Server API (a few threads). Then a
user of B joins by room ID with server_name=A, timed from the request to its answer: make_join,
send_join v2 (A assembles the full state and auth chain), and B's checks and storage of every
event (room_receive_state), plus a /sync on B that shows the room with all its members.
The fill slows as the room grows (each local join costs time proportional to the members); if
--max-seconds runs out first, the join is timed with the members joined so far (printed).
Private PostgreSQL cluster, loopback only; every loop is bounded in count and time."""
import argparse
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from fedbench import CS, q, two_servers


def fill_members(srv, n):
    """n users @mNNNN with a device and the access token 'bench-tok-NNNN' each, by SQL."""
    sql = f"""
INSERT INTO users (user_id, created_ts) SELECT '@m' || i || ':{srv.server_name}', 0
  FROM generate_series(1, {n}) i;
INSERT INTO devices (user_id, device_id, created_ts) SELECT '@m' || i || ':{srv.server_name}',
  'D' || i, 0 FROM generate_series(1, {n}) i;
INSERT INTO access_tokens (token_hash, user_id, device_id, created_ts)
  SELECT sha256(convert_to('bench-tok-' || i, 'UTF8')), '@m' || i || ':{srv.server_name}',
  'D' || i, 0 FROM generate_series(1, {n}) i;
"""
    subprocess.run([os.path.join(srv.pg["PGBIN"], "psql"), "-q", "-v", "ON_ERROR_STOP=1",
                    "-h", srv.pg["PGHOST"], "-U", srv.pg["PGUSER"], "-d", srv.dbname, "-c", sql],
                   check=True, capture_output=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--members", type=int, default=1000)
    ap.add_argument("--max-seconds", type=float, default=600)
    args = ap.parse_args()
    n = max(1, min(args.members, 20000))
    deadline = time.time() + args.max_seconds
    with two_servers("amtsbote-fedjoin-bench-", "info") as (A, B):
        A.register("owner")
        owner = A.login("owner")["access_token"]
        r = A.post(f"{CS}/createRoom", {"preset": "public_chat", "name": "Big room"},
                   token=owner)
        assert r.status == 200, r
        room = r["room_id"]

        t0 = time.time()
        fill_members(A, n)

        def join(i):
            if time.time() > deadline:
                return False
            r = A.post(f"{CS}/rooms/{q(room)}/join", {}, token=f"bench-tok-{i}")
            return r.status == 200

        with ThreadPoolExecutor(8) as ex:
            ok = sum(ex.map(join, range(1, n + 1)))
        assert ok > 0, "no member joined within the time limit"
        if ok < n:  # the fill costs more per join as the room grows: time the join anyway
            print(f"A: only {ok} of {n} members joined within --max-seconds", flush=True)
            n = ok
        print(f"A: {n} members made and joined in {time.time() - t0:.1f} s", flush=True)

        B.register("bob")
        bob = B.login("bob")["access_token"]
        t0 = time.time()
        r = B.post(f"{CS}/join/{q(room)}?server_name={q(A.server_name)}", {}, token=bob)
        join_s = time.time() - t0
        assert r.status == 200, f"{r}\n{B.read_log()[-3000:]}"
        t1 = time.time()
        r = B.get(f"{CS}/rooms/{q(room)}/joined_members", token=bob)
        assert r.status == 200 and len(r["joined"]) == n + 2, r
        s = B.get(f"{CS}/sync?timeout=0", token=bob)
        assert s.status == 200 and room in s["rooms"]["join"], s
        sync_s = time.time() - t1
        m = re.findall(r"(\d+) state, (\d+) auth chain events, (\d+) ms", B.read_log())
        detail = (f" (B's checks and storage of {m[-1][0]} state + {m[-1][1]} auth chain "
                  f"events: {int(m[-1][2]) / 1000:.2f} s)") if m else ""
        print(f"remote join into a room of {n + 1} members: {join_s:.2f} s{detail}")
        print(f"then joined_members and the first /sync on B: {sync_s:.2f} s")
        return 0

if __name__ == "__main__":
    sys.exit(main())
