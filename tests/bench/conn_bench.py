#!/usr/bin/python3
"""Connection benchmark (issue 17): thousands of parked /sync requests must not crowd out
anyone else.

    make bench                         (runs this through tests/bench/run.py)
    tests/bench/conn_bench.py [--parked 5000] [--rounds 50] [--users 50]

1. Baseline: the latency of GET /versions on a fresh connection (connect + request + answer)
   and of a message send on a keep-alive connection, with nothing else connected.
2. --parked long-polling /sync requests (120 s timeout, so they stay parked throughout) from
   --users users, spread over 25 loopback source addresses (200 each: under the default
   per-address limit of 256), held by a separate process. Then the same two measurements, a
   fresh /sync, and the server's resident memory and open descriptors.
3. The parked clients disconnect; how soon the server has let their connections go.
4. --slowloris connections (25 source addresses) each send part of a request head, then one
   byte every 5 s; meanwhile /versions on fresh connections; then how long until the server
   has closed them all (request_header_timeout is 10 s here).

Every request has a 10 s timeout, so a server that stops accepting (libmicrohttpd's default
limit, about 1,016 connections, before the fix) shows as failures, not a hang. Release build,
private PostgreSQL cluster, loopback only; bounded by --max-seconds."""
import argparse
import asyncio
import http.client
import multiprocessing
import os
import resource
import socket
import sys
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from harness import ROOT, Server  # noqa: E402
from sync_bench import Blocking  # noqa: E402

CS = "/_matrix/client/v3"
SOURCES = 25  # loopback source addresses 127.0.3.1 .. 127.0.3.25


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))] if values else float("nan")


def proc_status(pid):
    rss = 0.0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def fresh_versions(port):
    """ms for connect + GET /versions + answer on a new connection, or None on failure."""
    t0 = time.perf_counter()
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("GET", "/_matrix/client/versions")
        r = c.getresponse()
        r.read()
        c.close()
        if r.status != 200:
            return None
    except OSError:
        return None
    return (time.perf_counter() - t0) * 1000


def timed(client, method, path, body=None):
    """(ms, body) of one request on a keep-alive sync_bench.Blocking client, or (None, None)
    when it failed."""
    t0 = time.perf_counter()
    try:
        out = client.request(method, path, body)
    except (OSError, RuntimeError, http.client.HTTPException):
        client.conn.close()
        return None, None
    return (time.perf_counter() - t0) * 1000, out


def keepalive(port, token):
    client = Blocking(port, token)
    client.conn.timeout = 10
    return client


def measure(srv, tok, room, rounds, label):
    vers = [fresh_versions(srv.port) for _ in range(rounds)]
    sender = keepalive(srv.port, tok)
    path = CS + f"/rooms/{urllib.parse.quote(room)}/send/m.room.message/"
    sends = [timed(sender, "PUT", path + f"t{i}-{time.time_ns()}",
                   {"msgtype": "m.text", "body": f"{label} {i}"})[0]
             for i in range(rounds)]
    ok_v = [v for v in vers if v is not None]
    ok_s = [v for v in sends if v is not None]
    print(f"{label:>22}: fresh /versions p50 {pct(ok_v, 50):6.2f} ms  p99 {pct(ok_v, 99):7.2f} ms"
          f"  max {max(ok_v, default=float('nan')):7.2f} ms  ({len(vers) - len(ok_v)} failed);"
          f"  send p50 {pct(ok_s, 50):6.2f} ms  p99 {pct(ok_s, 99):7.2f} ms"
          f"  ({len(sends) - len(ok_s)} failed)", flush=True)
    return len(vers) - len(ok_v) + len(sends) - len(ok_s)


def parked_process(port, plan, ready, stop, result):
    """Hold one parked /sync per (token, since, source) in plan until stop is set."""
    resource.setrlimit(resource.RLIMIT_NOFILE, (20000, resource.getrlimit(
        resource.RLIMIT_NOFILE)[1]))

    async def park(tok, since, src, counts):
        try:
            r, w = await asyncio.wait_for(asyncio.open_connection(
                "127.0.0.1", port, local_addr=(src, 0)), 10)
        except (OSError, asyncio.TimeoutError):
            counts["refused"] += 1
            return None
        w.write(f"GET {CS}/sync?since={since}&timeout=120000 HTTP/1.1\r\nHost: b\r\n"
                f"Authorization: Bearer {tok}\r\n\r\n".encode())
        await w.drain()
        counts["parked"] += 1
        return r, w

    async def main():
        counts = {"parked": 0, "refused": 0}
        conns = []
        for i in range(0, len(plan), 250):
            batch = await asyncio.gather(*(park(*p, counts) for p in plan[i:i + 250]))
            conns += [c for c in batch if c]
        await asyncio.sleep(1.0)
        # a parked request has no answer yet; an answer (or a closed socket) means it was not
        early = 0
        for r, _ in conns:
            if r.at_eof() or len(r._buffer):  # noqa: SLF001 - peek without reading
                early += 1
        result.put({"parked": counts["parked"] - early, "refused": counts["refused"],
                    "answered_early": early})
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.1)
        for _, w in conns:
            w.close()
    asyncio.run(main())


def slowloris(srv, n, rounds):
    """Phase 4; returns the number of failures."""
    socks, t0 = [], time.monotonic()
    for i in range(n):
        try:
            c = socket.create_connection(("127.0.0.1", srv.port), timeout=5,
                                         source_address=(f"127.0.4.{1 + i % SOURCES}", 0))
            c.sendall(b"GET /_matrix/client/versions HTTP/1.1\r\nHost: b\r\nX-Slow: a")
            c.setblocking(False)
            socks.append(c)
        except OSError:
            pass
    vers = [fresh_versions(srv.port) for _ in range(rounds)]
    ok = [v for v in vers if v is not None]
    print(f"{n} slowloris connections ({len(socks)} opened): fresh /versions p50 "
          f"{pct(ok, 50):.2f} ms  p99 {pct(ok, 99):.2f} ms  ({len(vers) - len(ok)} failed)",
          flush=True)
    open_ = list(socks)
    last_drip = time.monotonic()
    while open_ and time.monotonic() - t0 < 30:
        still = []
        for c in open_:
            try:
                if c.recv(4096) == b"":
                    c.close()
                    continue
            except BlockingIOError:
                pass
            except OSError:
                c.close()
                continue
            still.append(c)
        open_ = still
        if time.monotonic() - last_drip >= 5:  # one more header byte each
            last_drip = time.monotonic()
            for c in open_:
                try:
                    c.send(b"a")
                except OSError:
                    pass
        time.sleep(0.1)
    print(f"the server closed {len(socks) - len(open_)} of them within "
          f"{time.monotonic() - t0:.1f} s of their opening", flush=True)
    for c in open_:
        c.close()
    return len(vers) - len(ok) + len(open_)


def run(srv, args):
    deadline = time.monotonic() + args.max_seconds
    with ThreadPoolExecutor(4) as ex:
        toks = list(ex.map(lambda i: srv.register(f"park{i}")["access_token"],
                           range(args.users + 1)))
    tok_s, park_toks = toks[0], toks[1:]
    room = srv.post(CS + "/createRoom", {"preset": "public_chat"}, token=tok_s)["room_id"]
    sinces = [srv.get(CS + "/sync", token=t)["next_batch"] for t in park_toks]

    failures = measure(srv, tok_s, room, args.rounds, "baseline")
    base_rss, base_fds = proc_status(srv.proc.pid)

    plan = [(park_toks[i % args.users], sinces[i % args.users],
             f"127.0.3.{1 + i % SOURCES}") for i in range(args.parked)]
    ready, stop = multiprocessing.Event(), multiprocessing.Event()
    result = multiprocessing.Queue()
    proc = multiprocessing.Process(target=parked_process,
                                   args=(srv.port, plan, ready, stop, result))
    t0 = time.monotonic()
    proc.start()
    ready.wait(max(1, deadline - time.monotonic()))
    got = result.get(timeout=10) if ready.is_set() else {"parked": 0, "refused": args.parked,
                                                          "answered_early": 0}
    print(f"parked {got['parked']} /sync requests in {time.monotonic() - t0:.1f} s "
          f"({got['refused']} connections refused, {got['answered_early']} answered early)",
          flush=True)
    time.sleep(1.0)
    rss, fds = proc_status(srv.proc.pid)
    failures += measure(srv, tok_s, room, args.rounds, f"with {got['parked']} parked")
    ms, _ = timed(keepalive(srv.port, tok_s), "GET", CS + "/sync?timeout=0")
    print(f"{'':>22}  a fresh /sync?timeout=0: "
          f"{'failed' if ms is None else f'{ms:.2f} ms'}", flush=True)
    print(f"server: RSS {base_rss:.1f} MB and {base_fds} descriptors before, {rss:.1f} MB and "
          f"{fds} with the parked syncs", flush=True)
    stop.set()
    proc.join(60)
    t_left = time.monotonic()
    while time.monotonic() - t_left < 10 and proc_status(srv.proc.pid)[1] > base_fds + 10:
        time.sleep(0.1)
    print(f"after the parked clients left: {proc_status(srv.proc.pid)[1]} descriptors after "
          f"{time.monotonic() - t_left:.1f} s (their parked requests are ended)", flush=True)
    failures += 0 if ms is not None else 1
    if args.slowloris:
        failures += slowloris(srv, args.slowloris, args.rounds)
    return 1 if failures or got["parked"] < args.parked else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--parked", type=int, default=5000)
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=50)
    ap.add_argument("--slowloris", type=int, default=1100)
    ap.add_argument("--max-seconds", type=float, default=300)
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < args.parked + 1000:
        print(f"the descriptor hard limit ({hard}) is too low for {args.parked} connections")
        return 1
    binary = os.environ.get("AMTSBOTE_BIN", os.path.join(ROOT, "build", "release", "amtsbote"))
    srv = Server({"worker_threads": 4, "log_level": "warning", "request_header_timeout": "10s",
                  "database": {"args": {"cp_min": 4, "cp_max": 10}},
                  "rc_message": {"per_second": 100000, "burst_count": 100000}},
                 binary=binary).start()
    try:
        return run(srv, args)
    finally:
        srv.stop()


if __name__ == "__main__":
    sys.exit(main())
