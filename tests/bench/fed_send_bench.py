#!/usr/bin/python3
"""Federation transaction benchmark: sustained federated events per second from server A to
server B (issue 12, "Transactions").

    make bench                              (runs this through tests/bench/run.py)
    tests/bench/fed_send_bench.py [--events 2000] [--senders 4] [--max-seconds 300]

Two release-build instances on loopback behind TLS fronts (tests/e2e/fedharness.py). A user of
B joins a room on A; then --senders clients send --events messages on A as fast as A answers,
and the clock runs until B's /sync has shown the last of them: A's room engine, its outbound
queue (PostgreSQL), transactions of up to 50 PDUs, B's checks of every PDU (signatures, hashes,
auth against the state before it and current state) and storage. Prints the client-side send
rate on A and the end-to-end rate seen on B. Every loop is bounded in count and time."""
import argparse
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from fedbench import CS, q, two_servers


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=2000)
    ap.add_argument("--senders", type=int, default=4)
    ap.add_argument("--max-seconds", type=float, default=300)
    args = ap.parse_args()
    n = max(1, min(args.events, 50000))
    k = max(1, min(args.senders, 16))
    deadline = time.time() + args.max_seconds
    log_level = "info" if os.environ.get("FED_BENCH_LOG") else "warn"
    with two_servers("amtsbote-fedsend-bench-", log_level) as (A, B):
        toks = []
        for i in range(k):
            A.register(f"s{i}")
            toks.append(A.login(f"s{i}")["access_token"])
        r = A.post(f"{CS}/createRoom", {"preset": "public_chat"}, token=toks[0])
        assert r.status == 200, r
        room = r["room_id"]
        for t in toks[1:]:
            assert A.post(f"{CS}/rooms/{q(room)}/join", {}, token=t).status == 200
        B.register("bob")
        bob = B.login("bob")["access_token"]
        r = B.post(f"{CS}/join/{q(room)}?server_name={q(A.server_name)}", {}, token=bob)
        assert r.status == 200, f"{r}\n{B.read_log()[-3000:]}"
        since = B.get(f"{CS}/sync?timeout=0", token=bob)["next_batch"]

        def send(i):
            if time.time() > deadline:
                return False
            r = A.put(f"{CS}/rooms/{q(room)}/send/m.room.message/b{i}",
                      {"msgtype": "m.text", "body": f"bench {i}"}, token=toks[i % k])
            return r.status == 200

        t0 = time.time()
        with ThreadPoolExecutor(k) as ex:
            ok = sum(ex.map(send, range(n)))
        sent_s = time.time() - t0
        assert ok == n, f"only {ok} of {n} sent within the time limit"
        # follow B's /sync until it has been idle for 5 s; the last batch with bench events
        # marks the end; then count what B stored through /messages
        t_last = time.time()
        while time.time() < deadline and time.time() - t_last < 5:
            r = B.get(f"{CS}/sync?timeout=1000&since={since}", token=bob)
            assert r.status == 200, r
            since = r["next_batch"]
            ev = r.body.get("rooms", {}).get("join", {}).get(room, {}).get("timeline", {})
            if ev.get("limited") or any(e.get("content", {}).get("body", "").startswith("bench ")
                                        for e in ev.get("events", [])):
                t_last = time.time()
        total_s = t_last - t0
        seen, frm = set(), None
        for _ in range(n // 100 + 20):
            path = f"{CS}/rooms/{q(room)}/messages?dir=b&limit=100" + (f"&from={frm}" if frm else "")
            r = B.get(path, token=bob)
            assert r.status == 200, r
            seen |= {e["content"]["body"] for e in r["chunk"]
                     if e.get("content", {}).get("body", "").startswith("bench ")}
            frm = r.get("end")
            if not r["chunk"] or not frm:
                break
        seen = len(seen)
        assert seen >= n, f"B has {seen} of {n}"
        if os.environ.get("FED_BENCH_LOG"):
            sends = [ln for ln in B.read_log().splitlines() if "/send/" in ln and "PUT" in ln]
            print("\n".join(sends[:5] + ["..."] + sends[-5:]))
            # B's own cost: the time its /send answers took, summed (from the access log)
            busy = sum(float(ln.rsplit(" ", 1)[1].rstrip("ms")) for ln in sends
                       if ln.endswith("ms")) / 1000
            print(f"B answered {len(sends)} transactions in {busy:.2f} s of /send time "
                  f"({n / busy if busy else 0:.0f} PDUs per second of it)")
        print(f"A: {n} messages sent by {k} clients in {sent_s:.2f} s ({n / sent_s:.0f}/s)")
        print(f"B: all {n} received through transactions after {total_s:.2f} s "
              f"({n / total_s:.0f} federated events/s sustained)")
        return 0

if __name__ == "__main__":
    sys.exit(main())
