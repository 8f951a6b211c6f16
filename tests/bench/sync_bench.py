#!/usr/bin/python3
"""Sync benchmark: how fast a send wakes a waiting /sync, and what waiting clients cost.

    make bench                         (runs this through tests/bench/run.py)
    tests/bench/sync_bench.py [--idle 500] [--rounds 200] [--fanout 500]

1. Wake-up latency: a receiver long-polls /sync in a room; a sender sends; the time from the
   send request leaving to the receiver's sync response arriving. Measured with no other
   client, then with --idle clients long-polling (each a user of its own, in a room of its
   own, so a send concerns none of them).
2. Memory: the server's resident set size with those clients parked.
3. Fan-out: --fanout clients long-polling in the sender's room, all woken by one send; the
   time until each has its response (p50, p99, last), the server's RSS with them parked and
   after, and the CPU time the server and PostgreSQL spent answering them (--perf FILE
   records a perf profile of the server during it).
With --sliding every client uses native sliding sync (MSC4186) instead of GET /sync, as Element
X's room list does: a list of range [0,19] with timeline_limit 1, long-polling on `pos`.

Release build, private PostgreSQL cluster, loopback only; every loop is bounded in count and
time (--max-seconds)."""
import argparse
import asyncio
import http.client
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from harness import ROOT, Server  # noqa: E402

CS = "/_matrix/client/v3"
SS = "/_matrix/client/unstable/org.matrix.simplified_msc3575/sync"
SLIDING = False  # --sliding
SS_BODY = {"conn_id": "room-list", "lists": {"all": {
    "ranges": [[0, 19]], "timeline_limit": 1,
    "required_state": [["m.room.name", ""], ["m.room.member", "$LAZY"]]}}}


def sync_call(since, timeout):
    """(method, path, body) of one sync request: GET /sync or sliding sync."""
    q = {"timeout": str(timeout)}
    if SLIDING:
        if since:
            q["pos"] = since
        return "POST", SS + "?" + urllib.parse.urlencode(q), SS_BODY
    if since:
        q["since"] = since
    return "GET", CS + "/sync?" + urllib.parse.urlencode(q), None


def next_token(body):
    return body["pos"] if SLIDING else body["next_batch"]


class Conn:
    """One keep-alive HTTP/1.1 connection driven by asyncio."""

    def __init__(self, port, token):
        self.port, self.token = port, token
        self.reader = self.writer = None

    async def open(self):
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)

    async def request(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else b""
        head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Bearer {self.token}\r\nContent-Length: {len(data)}\r\n")
        if data:
            head += "Content-Type: application/json\r\n"
        self.writer.write(head.encode() + b"\r\n" + data)
        await self.writer.drain()
        status = int((await self.reader.readline()).split()[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            k, _, v = line.decode().partition(":")
            if k.lower() == "content-length":
                length = int(v)
        payload = await self.reader.readexactly(length)
        if status != 200:
            raise RuntimeError(f"{method} {path}: {status} {payload[:200]!r}")
        return json.loads(payload)

    async def sync(self, since=None, timeout=0):
        return await self.request(*sync_call(since, timeout))

    def close(self):
        if self.writer:
            self.writer.close()


def pct(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))]


def cpu_s(pid):
    """User + system CPU seconds of a process (0.0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pg_cpu_s():
    """CPU seconds of the private cluster's postmaster and its children (the backends)."""
    try:
        with open(os.path.join(ROOT, "var", "pg", "data", "postmaster.pid")) as f:
            master = int(f.readline())
    except (OSError, ValueError):
        return 0.0
    total = cpu_s(master)
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rpartition(")")[2].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == master:
                total += cpu_s(int(d))
    return total


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def idle_loop(conn, since, stop):
    """Long-poll forever (until stop), as an idle client does."""
    while not stop.is_set():
        body = await conn.sync(since, timeout=60000)
        since = next_token(body)


class Blocking:
    """A keep-alive http.client connection: the measuring side, lean as send_bench's."""

    def __init__(self, port, token):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.token = token

    def request(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"Bearer {self.token}"}
        if data:
            headers["Content-Type"] = "application/json"
        self.conn.request(method, path, body=data, headers=headers)
        r = self.conn.getresponse()
        payload = r.read()
        if r.status != 200:
            raise RuntimeError(f"{method} {path}: {r.status} {payload[:200]!r}")
        return json.loads(payload)

    def sync(self, since=None, timeout=0):
        return self.request(*sync_call(since, timeout))


def wake_rounds(port, tok_s, tok_r, room, rounds, deadline):
    """Receiver long-polls in a thread; the sender sends; time from the send leaving to the
    receiver's response arriving."""
    sender, receiver = Blocking(port, tok_s), Blocking(port, tok_r)
    since = next_token(receiver.sync())
    lat, send_lat = [], []
    path = CS + f"/rooms/{urllib.parse.quote(room)}/send/m.room.message/"
    for i in range(rounds):
        if time.monotonic() > deadline:
            break
        box = {}

        def wait(since=since, box=box):
            box["body"] = receiver.sync(since, timeout=30000)
            box["t"] = time.perf_counter()

        th = threading.Thread(target=wait)
        th.start()
        time.sleep(0.02)  # let it park
        t0 = time.perf_counter()
        sender.request("PUT", path + f"w{time.time_ns()}",
                       {"msgtype": "m.text", "body": f"ping {i}"})
        send_lat.append((time.perf_counter() - t0) * 1000)
        th.join(35)
        lat.append((box["t"] - t0) * 1000)
        since = next_token(box["body"])
    if send_lat:
        after = [a - b for a, b in zip(lat, send_lat)]
        print(f"  (the send itself: p50 {pct(send_lat, 50):.2f} ms; the sync response came "
              f"p50 {pct(after, 50):.2f} ms / p99 {pct(after, 99):.2f} ms after the send's)",
              flush=True)
    return lat


def idle_process(port, tokens, ready, stop):
    """A separate process holding the idle clients, so their event loop does not share the
    measuring process's interpreter."""
    async def main():
        stop_ev = asyncio.Event()
        conns, tasks = [], []
        for t in tokens:
            c = Conn(port, t)
            await c.open()
            since = next_token(await c.sync())
            conns.append(c)
            tasks.append(asyncio.ensure_future(idle_loop(c, since, stop_ev)))
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.1)
        stop_ev.set()
        for c in conns:
            c.close()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    asyncio.run(main())


def register_many(srv, prefix, n):
    with ThreadPoolExecutor(4) as ex:
        return list(ex.map(lambda i: srv.register(f"{prefix}{i}")["access_token"], range(n)))


async def fan_out(srv, tok_s, room, fan_tokens, perf=None):
    with ThreadPoolExecutor(4) as ex:
        list(ex.map(lambda t: srv.post(CS + f"/rooms/{urllib.parse.quote(room)}/join", {},
                                       token=t), fan_tokens))
    fans, waits, done = [], [], []
    t0 = [0.0]

    async def wait_one(c, since, t0):
        body = await c.sync(since, timeout=90000)
        if t0[0]:
            done.append((time.perf_counter() - t0[0]) * 1000)
        else:
            raise RuntimeError(f"a fan-out long-poll returned before the send: {body}")

    # each long-polls right after its first sync: a kept-alive connection left idle while
    # the others make theirs is closed by the front after a few seconds
    for t in fan_tokens:
        c = Conn(srv.port, t)
        await c.open()
        fans.append((c, None))
        waits.append(asyncio.ensure_future(wait_one(c, next_token(await c.sync()), t0)))
    # until every request is parked: the server's CPU time stands still (at most 20 s)
    await asyncio.sleep(1.0)
    quiet_by = time.monotonic() + 20
    last = cpu_s(srv.proc.pid)
    while time.monotonic() < quiet_by:
        await asyncio.sleep(0.3)
        now = cpu_s(srv.proc.pid)
        if now - last < 0.02:
            break
        last = now
    rss_parked = rss_mb(srv.proc.pid)
    sender = Conn(srv.port, tok_s)  # opened now: an idle keep-alive may be closed meanwhile
    await sender.open()
    rec = None
    if perf:
        rec = subprocess.Popen(["perf", "record", "-F", "999", "-g", "-o", perf, "-p",
                                str(srv.proc.pid)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        await asyncio.sleep(1.0)
    cpu0, pg0 = cpu_s(srv.proc.pid), pg_cpu_s()
    t0[0] = time.perf_counter()
    await sender.request("PUT", CS + f"/rooms/{urllib.parse.quote(room)}/send/"
                         f"m.room.message/fan{time.time_ns()}",
                         {"msgtype": "m.text", "body": "everyone"})
    await asyncio.wait_for(asyncio.gather(*waits), 60)
    cpu1, pg1 = cpu_s(srv.proc.pid), pg_cpu_s()
    if rec:
        rec.send_signal(signal.SIGINT)
        rec.wait(30)
    print(f"fan-out to {len(fans)} in one room: first {min(done):.1f} ms, p50 "
          f"{pct(done, 50):.1f} ms, p99 {pct(done, 99):.1f} ms, last {max(done):.1f} ms",
          flush=True)
    print(f"  server CPU {(cpu1 - cpu0) * 1000:.0f} ms, PostgreSQL CPU {(pg1 - pg0) * 1000:.0f} "
          f"ms for the {len(fans)} responses; server RSS {rss_parked:.1f} MB parked, "
          f"{rss_mb(srv.proc.pid):.1f} MB after", flush=True)
    for c, _ in fans:
        c.close()
    sender.close()


def run(srv, args):
    deadline = time.monotonic() + args.max_seconds
    tok_s, tok_r = register_many(srv, "pair", 2)
    room = srv.post(CS + "/createRoom", {"preset": "public_chat"}, token=tok_s)["room_id"]
    srv.post(CS + f"/rooms/{urllib.parse.quote(room)}/join", {}, token=tok_r)

    lat = wake_rounds(srv.port, tok_s, tok_r, room, args.rounds, deadline)
    print(f"wake-up, 1 client:          p50 {pct(lat, 50):6.2f} ms  p99 {pct(lat, 99):6.2f} ms"
          f"  ({len(lat)} rounds)", flush=True)
    base_rss = rss_mb(srv.proc.pid)

    print(f"registering {args.idle} idle users ...", flush=True)
    idle_tokens = register_many(srv, "idle", args.idle)
    with ThreadPoolExecutor(4) as ex:
        list(ex.map(lambda t: srv.post(CS + "/createRoom", {}, token=t), idle_tokens))
    ready, stop = multiprocessing.Event(), multiprocessing.Event()
    proc = multiprocessing.Process(target=idle_process, args=(srv.port, idle_tokens, ready, stop))
    proc.start()
    ready.wait(120)
    time.sleep(1.0)
    rss = rss_mb(srv.proc.pid)
    lat = wake_rounds(srv.port, tok_s, tok_r, room, args.rounds, deadline)
    print(f"wake-up, {args.idle} waiting:      p50 {pct(lat, 50):6.2f} ms  p99 "
          f"{pct(lat, 99):6.2f} ms  ({len(lat)} rounds)", flush=True)
    print(f"server RSS: {base_rss:.1f} MB before, {rss:.1f} MB with {args.idle} parked syncs",
          flush=True)
    stop.set()
    proc.join(90)

    if args.fanout:
        asyncio.run(fan_out(srv, tok_s, room, idle_tokens[:args.fanout], args.perf))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--idle", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--fanout", type=int, default=500)
    ap.add_argument("--max-seconds", type=float, default=300)
    ap.add_argument("--perf", metavar="FILE", help="perf record the server during the fan-out")
    ap.add_argument("--sliding", action="store_true", help="native sliding sync (MSC4186)")
    args = ap.parse_args()
    global SLIDING
    SLIDING = args.sliding
    binary = os.environ.get("AMTSBOTE_BIN", os.path.join(ROOT, "build", "release", "amtsbote"))
    srv = Server({"worker_threads": 4, "log_level": "warning",
                  "database": {"args": {"cp_min": 4, "cp_max": 10}},
                  "rc_message": {"per_second": 100000, "burst_count": 100000}},
                 binary=binary)
    # all its clients come from 127.0.0.1: no per-address limit (as behind a reverse proxy)
    srv.overrides["listeners"] = [dict(srv.config()["listeners"][0],
                                       max_connections_per_address=0)]
    srv.start()
    try:
        run(srv, args)
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
