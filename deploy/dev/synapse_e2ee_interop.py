#!/usr/bin/env python3
"""Encryption and catch-up against a real Synapse (issue 13, "Federation II").

    /usr/bin/python3 deploy/dev/synapse_e2ee_interop.py /path/to/synapse-1.67.0-source [--keep]

The set-up is synapse_interop.py's (one Amtsbote instance behind a TLS front, one Synapse
1.67.0 from the given source tree, both on loopback, trusting one test CA; see that script and
/work/shared/peers/synapse.md); the clients are matrix-nio with python-olm (Debian's
python3-matrix-nio and python3-olm, hence /usr/bin/python3).

Checks, in room version 10:
- an encrypted room made on Amtsbote, joined by a Synapse user: each side's nio client finds
  the other's device, with the keys it uploaded, through a keys query the home server
  answers over federation (/user/keys/query);
- a message from Amtsbote decrypts on Synapse and one from Synapse decrypts on Amtsbote: the
  sender's server claims the receiver's one-time key over federation (/user/keys/claim) and
  sends the Megolm key in an Olm-encrypted to-device message (m.direct_to_device EDU);
- device-list updates both ways: a second device of the Synapse user appears in the Amtsbote
  user's key query (m.device_list_update EDU, then a fresh query), and gets the next message
  from Amtsbote decrypted; a second device of the Amtsbote user appears on Synapse likewise;
- catch-up, Synapse stopped: messages sent on Amtsbote meanwhile all reach the Synapse user
  after Synapse is started again (Amtsbote's sender backs off, tries again, and sends the
  newest PDU of the room; Synapse fetches the others with /get_missing_events);
- catch-up, Amtsbote stopped: messages sent on Synapse meanwhile all reach the Amtsbote user
  after Amtsbote is started again. Synapse waits 10 minutes before trying a server that failed
  again, unless that server makes a signed request: the Amtsbote user says something after
  the restart, as a user would, and Synapse then catches up.
Each check prints PASS or FAIL; the last line is the summary; the exit status is the number of
failures. Every wait is bounded. Not part of `make test` (see README, Tests).
"""
import asyncio
import os
import re
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import synapse_interop as si  # noqa: E402

import nio  # noqa: E402

CATCH_UP_WAIT = 180  # seconds: a restart plus Amtsbote's back-off (2 s doubling)
N_OUTAGE = 5


def nio_client(base, user_id):
    cfg = nio.AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False)
    return nio.AsyncClient(base, user_id, store_path=tempfile.mkdtemp(prefix="nio-"),
                           config=cfg)


class E2EE:
    """The nio side: clients on both servers and the steps between them."""

    def __init__(self, amt_base, syn_base):
        self.amt_base, self.syn_base = amt_base, syn_base
        self.clients = []
        self.texts = {}  # client -> decrypted texts seen

    async def login(self, base, user_id, password, device):
        c = nio_client(base, user_id)
        r = await c.login(password, device_name=device)
        if not isinstance(r, nio.LoginResponse):
            raise AssertionError(f"nio login {user_id}: {r}")
        self.clients.append(c)
        self.texts[c] = []
        c.add_event_callback(lambda room, ev, c=c: self.texts[c].append(ev),
                             nio.RoomMessageText)
        r = await c.keys_upload()
        if not isinstance(r, nio.KeysUploadResponse):
            raise AssertionError(f"keys upload {user_id}: {r}")
        await c.sync(timeout=0, full_state=True)
        return c

    async def settle(self, *clients):
        for c in clients:
            await c.sync(timeout=0)
            if c.should_upload_keys:
                await c.keys_upload()
            if c.should_query_keys:
                r = await c.keys_query()
                if not isinstance(r, nio.KeysQueryResponse):
                    raise AssertionError(f"keys query by {c.user_id}: {r}")

    async def knows_device(self, c, other, device_id, wait=si.WAIT):
        """c's key query (answered over federation) lists other's device_id."""
        deadline = time.time() + wait
        while time.time() < deadline:
            await self.settle(c)
            if device_id in c.device_store[other.user_id]:
                return
            await asyncio.sleep(0.5)
        raise AssertionError(f"{c.user_id} does not see device {device_id}")

    async def send(self, c, room, text):
        await self.settle(c)
        r = await c.room_send(room, "m.room.message", {"msgtype": "m.text", "body": text},
                              ignore_unverified_devices=True)
        if not isinstance(r, nio.RoomSendResponse):
            raise AssertionError(f"send by {c.user_id}: {r}")
        return r.event_id

    async def expect_text(self, c, text, wait=si.WAIT):
        deadline = time.time() + wait
        while time.time() < deadline:
            await c.sync(timeout=1000)
            for ev in self.texts[c]:
                if ev.body == text:
                    if not ev.decrypted:
                        raise AssertionError("the message was not encrypted")
                    return
        raise AssertionError(f"{text!r} not decrypted by {c.user_id} ({c.device_id})")

    async def close(self):
        for c in self.clients:
            await c.close()


def main():
    args = si.source_arg("synapse_e2ee_interop.py")
    if not args:
        return 2
    src, keep = args
    tmp, amt, syn = si.open_pair(src, "amtsbote-synapse-e2ee-")
    A, S = si.Client(amt.base), syn.client
    loop = asyncio.new_event_loop()
    run = loop.run_until_complete
    e2 = E2EE(amt.base, syn.client.base)
    failures = 0
    try:
        si.start_pair(amt, syn)
        pw = "interop pass 123"
        alice, _ = A.register("alice")
        sam, _ = S.register("sam")
        carol, ctok = A.register("carol")
        sue, utok = S.register("sue")
        st = {}

        def cl(name):
            return st[name]

        async def setup_encrypted():
            st["alice"] = await e2.login(amt.base, alice, pw, "alice laptop")
            st["sam"] = await e2.login(syn.client.base, sam, pw, "sam phone")
            r = await cl("alice").room_create(
                name="encrypted interop", invite=[sam], room_version="10",
                initial_state=[{"type": "m.room.encryption", "state_key": "",
                                "content": {"algorithm": "m.megolm.v1.aes-sha2"}}])
            if not isinstance(r, nio.RoomCreateResponse):
                raise AssertionError(f"createRoom: {r}")
            st["room"] = r.room_id
            deadline = time.time() + si.WAIT
            while st["room"] not in cl("sam").invited_rooms and time.time() < deadline:
                await cl("sam").sync(timeout=1000)
            j = await cl("sam").join(st["room"])
            if not isinstance(j, nio.JoinResponse):
                raise AssertionError(f"sam's join: {j}")
            await e2.knows_device(cl("alice"), cl("sam"), cl("sam").device_id)
            await e2.knows_device(cl("sam"), cl("alice"), cl("alice").device_id)
            a_sees = cl("alice").device_store[sam][cl("sam").device_id].ed25519
            if a_sees != cl("sam").olm.account.identity_keys["ed25519"]:
                raise AssertionError("the Synapse device's ed25519 key differs on Amtsbote")
            s_sees = cl("sam").device_store[alice][cl("alice").device_id].ed25519
            if s_sees != cl("alice").olm.account.identity_keys["ed25519"]:
                raise AssertionError("the Amtsbote device's ed25519 key differs on Synapse")
            return st["room"]

        async def a_to_s():
            text = "vertraulich " + uuid.uuid4().hex[:6]
            eid = await e2.send(cl("alice"), st["room"], text)
            await e2.expect_text(cl("sam"), text)
            # what reached Synapse is ciphertext
            code, raw = S.req("GET", f"{si.CS}/rooms/{si.q(st['room'])}/event/{si.q(eid)}",
                              token=cl("sam").access_token)
            if code != 200 or raw.get("type") != "m.room.encrypted" or "vertraulich" in \
                    str(raw.get("content")):
                raise AssertionError(f"on Synapse: {code} {raw}")
            return "keys claimed and room key sent to Synapse over federation"

        async def s_to_a():
            text = "verstanden " + uuid.uuid4().hex[:6]
            await e2.send(cl("sam"), st["room"], text)
            await e2.expect_text(cl("alice"), text)
            return "keys claimed and room key sent to Amtsbote over federation"

        async def new_device(owner, base, user_id, device_name, other, other_server):
            """owner logs in a second device on its server; `other` (on the other server)
            sees it in its key query and the next message of `other` decrypts on both."""
            dev = await e2.login(base, user_id, pw, device_name)
            await e2.knows_device(cl(other), cl(owner), dev.device_id)
            text = "an beide Geräte " + uuid.uuid4().hex[:6]
            await e2.send(cl(other), st["room"], text)
            await e2.expect_text(dev, text)
            await e2.expect_text(cl(owner), text)
            return f"{other_server} sees {dev.device_id}; both devices decrypt"

        def plain_room():
            rid = si.create(A, ctok, preset="public_chat", name="catch-up")
            si.join(S, utok, rid, amt.server_name)
            si.wait_sync(A, ctok, si.member_joined(rid, sue), "sue joined")
            si.wait_sync(S, utok, si.member_joined(rid, sue), "sue joined, on Synapse")
            st["plain"] = rid
            return rid

        def all_texts(rid, texts):
            return lambda v: all(si.timeline_has(rid, t)(v) for t in texts)

        def catch_up_synapse_down():
            rid = st["plain"]
            si.wait_sync(S, utok, lambda v: True, "a since token")
            log_at = len(amt.read_log())
            syn.halt()
            texts = [f"während Synapse schläft {i} {uuid.uuid4().hex[:4]}"
                     for i in range(N_OUTAGE)]
            for t in texts:
                si.send(A, ctok, rid, t)
            time.sleep(3)  # Amtsbote's first tries fail
            syn.run()
            t0 = time.time()
            si.wait_sync(S, utok, all_texts(rid, texts), f"all {N_OUTAGE} on Synapse",
                         wait=CATCH_UP_WAIT)
            m = re.findall(r"catching up with \S+: (\d+) older PDUs", amt.read_log()[log_at:])
            return (f"{N_OUTAGE} of {N_OUTAGE} arrived {time.time() - t0:.0f} s after the "
                    f"restart; Amtsbote sent the newest, left {sum(map(int, m))} to "
                    "/get_missing_events")

        def catch_up_amtsbote_down():
            rid = st["plain"]
            si.wait_sync(A, ctok, lambda v: True, "a since token")
            amt.pause()
            texts = [f"während Amtsbote schläft {i} {uuid.uuid4().hex[:4]}"
                     for i in range(N_OUTAGE)]
            try:
                for t in texts:
                    si.send(S, utok, rid, t)
                time.sleep(3)  # Synapse's first try fails
            finally:
                amt.resume()
            t0 = time.time()
            si.send(A, ctok, rid, "wieder da")  # a signed request: Synapse marks us up
            si.wait_sync(A, ctok, all_texts(rid, texts), f"all {N_OUTAGE} on Amtsbote",
                         wait=CATCH_UP_WAIT)
            si.wait_sync(S, utok, si.timeline_has(rid, "wieder da"), "Amtsbote's message")
            return f"{N_OUTAGE} of {N_OUTAGE} arrived {time.time() - t0:.0f} s after the restart"

        steps = [
            ("encrypted v10 room: Synapse user joins, device keys queried both ways",
             lambda: run(setup_encrypted()), []),
            ("encrypted message Amtsbote -> Synapse decrypts", lambda: run(a_to_s()),
             ["room"]),
            ("encrypted message Synapse -> Amtsbote decrypts", lambda: run(s_to_a()),
             ["room"]),
            ("device list update Synapse -> Amtsbote (new device gets keys)",
             lambda: run(new_device("sam", syn.client.base, sam, "sam tablet", "alice",
                                    "Amtsbote")), ["room"]),
            ("device list update Amtsbote -> Synapse (new device gets keys)",
             lambda: run(new_device("alice", amt.base, alice, "alice phone", "sam",
                                    "Synapse")), ["room"]),
            ("plain v10 room for catch-up: Synapse user joins", plain_room, []),
            ("catch-up: Synapse stopped, Amtsbote's messages all arrive after restart",
             catch_up_synapse_down, ["plain"]),
            ("catch-up: Amtsbote stopped, Synapse's messages all arrive after restart",
             catch_up_amtsbote_down, ["plain"]),
        ]
        si.run_steps(steps, st)
        failures = si.summary("e2ee and catch-up interop checks")
    except Exception as e:
        print(f"FAIL  set-up: {e}", flush=True)
        failures = max(failures, 1)
    finally:
        try:
            run(e2.close())
        finally:
            loop.close()
            si.close_pair(tmp, amt, syn, keep)
    return min(failures, 100)


if __name__ == "__main__":
    sys.exit(main())
