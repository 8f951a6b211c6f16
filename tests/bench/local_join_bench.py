#!/usr/bin/python3
"""Local join benchmark: what one local user's join costs in a room of many local members
(issue 13: each member event used to evaluate push rules for every local member).

    tests/bench/local_join_bench.py [--members 3000] [--timed 50] [--max-seconds 600]

One release-build instance. --members users are made by a direct database fill (users,
devices, access tokens, as fed_join_bench.py does) and join a public room over the
Client-Server API (8 threads); then --timed more users join one after another, each join timed
from request to answer: the figure printed is their median and mean. With --custom-rules K,
the first K members store a push rule of their own (an override on m.room.member), so the
rules of those users are still evaluated for each join.
Private PostgreSQL cluster, loopback only; every loop is bounded in count and time."""
import argparse
import os
import statistics
import sys
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from harness import ROOT, Server  # noqa: E402
from fed_join_bench import fill_members, q  # noqa: E402

CS = "/_matrix/client/v3"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--members", type=int, default=3000)
    ap.add_argument("--timed", type=int, default=50)
    ap.add_argument("--custom-rules", type=int, default=0)
    ap.add_argument("--max-seconds", type=float, default=600)
    args = ap.parse_args()
    n = max(1, min(args.members, 20000))
    timed = max(1, min(args.timed, 1000))
    deadline = time.time() + args.max_seconds
    binary = os.environ.get("AMTSBOTE_BIN", os.path.join(ROOT, "build", "release", "amtsbote"))
    srv = Server({"log_level": "warn"}, binary=binary)
    try:
        srv.start()
        srv.register("owner")
        owner = srv.login("owner")["access_token"]
        r = srv.post(f"{CS}/createRoom", {"preset": "public_chat"}, token=owner)
        assert r.status == 200, r
        room = r["room_id"]
        fill_members(srv, n + timed)
        for i in range(1, min(args.custom_rules, n) + 1):
            r = srv.put(f"{CS}/pushrules/global/override/watch-members",
                        {"conditions": [{"kind": "event_match", "key": "type",
                                         "pattern": "m.room.member"}],
                         "actions": ["notify"]}, token=f"bench-tok-{i}")
            assert r.status == 200, r

        def join(i):
            if time.time() > deadline:
                return False
            return srv.post(f"{CS}/rooms/{q(room)}/join", {}, token=f"bench-tok-{i}").status == 200

        t0 = time.time()
        with ThreadPoolExecutor(8) as ex:
            ok = sum(ex.map(join, range(1, n + 1)))
        print(f"{ok} of {n} members joined in {time.time() - t0:.1f} s", flush=True)
        times = []
        for i in range(n + 1, n + timed + 1):
            if time.time() > deadline:
                break
            t1 = time.time()
            r = srv.post(f"{CS}/rooms/{q(room)}/join", {}, token=f"bench-tok-{i}")
            times.append(time.time() - t1)
            assert r.status == 200, r
        assert times, "no time left for the timed joins"
        print(f"join into a room of ~{ok + 1} members ({len(times)} timed, "
              f"{args.custom_rules} with rules of their own): median "
              f"{statistics.median(times) * 1000:.1f} ms, mean "
              f"{statistics.mean(times) * 1000:.1f} ms")
        return 0
    finally:
        srv.stop(check=False)


if __name__ == "__main__":
    sys.exit(main())
