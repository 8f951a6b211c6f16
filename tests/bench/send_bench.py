#!/usr/bin/python3
"""Send benchmark: sequential latency and concurrent throughput of
PUT /rooms/{roomId}/send against the release build and the private PostgreSQL cluster
(synchronous_commit on, the default).

    make bench                        (runs this through tests/bench/run.py)
    tests/bench/send_bench.py [--sequential N] [--senders K] [--per-sender M]

Concurrent load comes from wrk (Debian package; `make bench` installs it) with
tests/bench/send.lua, so that the load generator does not compete with the server for the
CPU as much as Python threads do; without wrk, Python threads are used.

Loops are bounded by count and by time (--max-seconds); everything is on loopback."""
import argparse
import http.client
import json
import os
import re
import shutil
import subprocess
import statistics
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from harness import ROOT, Server  # noqa: E402

CS = "/_matrix/client/v3"


class Client:
    """One keep-alive HTTP connection, as a real client holds."""

    def __init__(self, server, token):
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        self.token = token

    def put(self, path, body):
        data = json.dumps(body).encode()
        t0 = time.perf_counter()
        self.conn.request("PUT", path, body=data, headers={
            "Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        r = self.conn.getresponse()
        r.read()
        dt = time.perf_counter() - t0
        if r.status != 200:
            raise RuntimeError(f"send failed: {r.status}")
        return dt


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sequential", type=int, default=1000)
    ap.add_argument("--senders", type=int, default=8)
    ap.add_argument("--per-sender", type=int, default=500)
    ap.add_argument("--max-seconds", type=float, default=60)
    ap.add_argument("--rooms", choices=["one", "each", "both"], default="both",
                    help="concurrent senders share one room, or each has its own")
    args = ap.parse_args()

    binary = os.environ.get("AMTSBOTE_BIN", os.path.join(ROOT, "build", "release", "amtsbote"))
    srv = Server({"worker_threads": max(4, args.senders), "log_level": "warning",
                  "database": {"args": {"cp_min": 4, "cp_max": max(8, args.senders + 2)}}},
                 binary=binary).start()
    try:
        tokens = [srv.register(f"bench{i}")["access_token"] for i in range(args.senders)]
        room = srv.post(CS + "/createRoom", {"preset": "public_chat"}, token=tokens[0])["room_id"]
        for t in tokens[1:]:
            srv.post(CS + f"/rooms/{urllib.parse.quote(room)}/join", {}, token=t)
        path = CS + f"/rooms/{urllib.parse.quote(room)}/send/m.room.message/"

        # warm-up
        c = Client(srv, tokens[0])
        for i in range(50):
            c.put(path + f"w{i}", {"msgtype": "m.text", "body": "warm"})

        # sequential latency
        lat = []
        deadline = time.time() + args.max_seconds
        for i in range(args.sequential):
            if time.time() > deadline:
                break
            lat.append(c.put(path + f"s{i}", {"msgtype": "m.text", "body": f"seq {i}"}))
        print(f"sequential: {len(lat)} sends, p50 {statistics.median(lat) * 1000:.2f} ms, "
              f"p90 {pct(lat, 90) * 1000:.2f} ms, p99 {pct(lat, 99) * 1000:.2f} ms, "
              f"{len(lat) / sum(lat):.0f} events/s")

        own = []
        for _ in tokens:  # one room per sender; every sender joined to all (wrk sends as one)
            r = srv.post(CS + "/createRoom", {"preset": "public_chat"}, token=tokens[0])
            rid = urllib.parse.quote(r["room_id"])
            for t in tokens[1:]:
                srv.post(CS + f"/rooms/{rid}/join", {}, token=t)
            own.append(CS + f"/rooms/{rid}/send/m.room.message/")
        modes = ["one", "each"] if args.rooms == "both" else [args.rooms]
        for mode in modes:
            concurrent(srv, tokens, [path] * len(tokens) if mode == "one" else own, args,
                       "one room" if mode == "one" else "a room each")
    finally:
        srv.stop(check=False)


def concurrent(srv, tokens, paths, args, label):
    if shutil.which("wrk"):
        env = dict(os.environ, ROOM_PATHS=" ".join(paths), TOKEN=tokens[0])
        secs = max(1, min(int(args.max_seconds), 10))
        out = subprocess.run(["wrk", f"-t{args.senders}", f"-c{args.senders}", f"-d{secs}s",
                              "--latency", "-s", os.path.join(os.path.dirname(
                                  os.path.abspath(__file__)), "send.lua"), srv.base],
                             env=env, capture_output=True, text=True, timeout=secs + 30)
        rps = re.search(r"Requests/sec:\s+([\d.]+)", out.stdout)
        p50 = re.search(r"50%\s+(\S+)", out.stdout)
        p99 = re.search(r"99%\s+(\S+)", out.stdout)
        errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out.stdout)
        print(f"concurrent ({label}, wrk): {args.senders} senders, "
              f"{rps.group(1) if rps else '?'} events/s persisted, p50 "
              f"{p50.group(1) if p50 else '?'}, p99 {p99.group(1) if p99 else '?'}"
              + (f", {errors.group(1)} errors" if errors else ""))
        return
    if True:
        # concurrent throughput: K senders, each on its own connection
        done = [0] * args.senders
        clat = [[] for _ in range(args.senders)]
        deadline = time.time() + args.max_seconds

        def sender(k):
            cl = Client(srv, tokens[k])
            for i in range(args.per_sender):
                if time.time() > deadline:
                    break
                clat[k].append(cl.put(paths[k] + f"c{label[0]}{k}_{i}",
                                      {"msgtype": "m.text", "body": f"{k} {i}"}))
                done[k] += 1

        threads = [threading.Thread(target=sender, args=(k,)) for k in range(args.senders)]
        t0 = time.perf_counter()
        [t.start() for t in threads]
        [t.join() for t in threads]
        elapsed = time.perf_counter() - t0
        all_lat = [x for l in clat for x in l]
        print(f"concurrent ({label}): {args.senders} senders, {sum(done)} sends in "
              f"{elapsed:.2f} s = {sum(done) / elapsed:.0f} events/s persisted, p50 "
              f"{statistics.median(all_lat) * 1000:.2f} ms, p99 {pct(all_lat, 99) * 1000:.2f} ms")


if __name__ == "__main__":
    main()
