// matrix-js-sdk's SlidingSync client (MSC4186, org.matrix.simplified_msc3575: the SDK's
// client.slidingSync posts to /_matrix/client/unstable/org.matrix.simplified_msc3575/sync)
// against a running Amtsbote: a room list of range [0,19] with timeline_limit 1, a
// subscription to a room outside the window with all its state, a message arriving in a room
// of the window while the SDK long-polls, and a room entering the window on new activity.
//
//   HS_URL, USER_A, TOKEN_A (the syncing user), TOKEN_B (a user in the same rooms, who
//   sends), ROOMS (JSON array of room IDs, oldest first, named "room <index>") in the
//   environment; node sliding_flow.mjs
//
// Prints one line per check ("ok N - ..." / "FAIL N - ..."), then "N passed, N failed"; exits
// 0 only if every check passed. Every wait has its own timeout; the run ends after 60 s.
import * as sdk from "matrix-js-sdk";
import { logger } from "matrix-js-sdk/lib/logger.js";
import { SlidingSync, SlidingSyncEvent, SlidingSyncState } from "matrix-js-sdk/lib/sliding-sync.js";

const BASE = (process.env.HS_URL || "").replace(/\/+$/, "");
const { USER_A, TOKEN_A, TOKEN_B } = process.env;
const ROOMS = JSON.parse(process.env.ROOMS || "[]");
if (!BASE || !USER_A || !TOKEN_A || !TOKEN_B || ROOMS.length < 22) {
    console.error("HS_URL, USER_A, TOKEN_A, TOKEN_B and ROOMS (22 or more) are needed");
    process.exit(2);
}
if (!process.env.JSSDK_DEBUG) logger.setLevel("warn", false);

let passed = 0;
let failed = 0;
function check(n, what, ok, detail) {
    if (ok) passed += 1;
    else failed += 1;
    console.log(`${ok ? "ok" : "FAIL"} ${n} - ${what}${ok || !detail ? "" : `: ${detail}`}`);
}
function done() {
    console.log(`${passed} passed, ${failed} failed`);
    process.exit(failed ? 1 : 0);
}
setTimeout(() => {
    check("overall", "the run ends within 60 s", false);
    done();
}, 60000);

// What the SDK reported: every response (Complete) and every room's data, in order.
const responses = [];
const roomData = [];
let waiters = [];
function notify() {
    for (const w of waiters) w();
}
function until(pred, ms, what) {
    return new Promise((resolve, reject) => {
        const t0 = Date.now();
        const tick = () => {
            const v = pred();
            if (v) {
                waiters = waiters.filter((w) => w !== tick);
                resolve(v);
            } else if (Date.now() - t0 > ms) {
                waiters = waiters.filter((w) => w !== tick);
                reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
            }
        };
        waiters.push(tick);
        setTimeout(tick, ms + 10);
        tick();
    });
}

const alice = sdk.createClient({ baseUrl: BASE, accessToken: TOKEN_A, userId: USER_A });
const bob = sdk.createClient({ baseUrl: BASE, accessToken: TOKEN_B });
const window20 = {
    ranges: [[0, 19]],
    timeline_limit: 1,
    required_state: [["m.room.name", ""], ["m.room.member", "$LAZY"], ["m.room.member", "$ME"]],
};
const sub = ROOMS[0]; // the oldest: outside the window
const ss = new SlidingSync(BASE, new Map([["all", window20]]),
    { timeline_limit: 10, required_state: [["*", "*"]] }, alice, 3000);
ss.modifyRoomSubscriptions(new Set([sub]));
ss.on(SlidingSyncEvent.RoomData, (roomId, data) => {
    roomData.push({ roomId, data, at: Date.now() });
    notify();
});
ss.on(SlidingSyncEvent.Lifecycle, (state, resp, err) => {
    if (err) console.log(`    (a request failed: ${err.httpStatus || ""} ${err.message})`);
    if (state === SlidingSyncState.Complete && resp) {
        responses.push(resp);
        notify();
    }
});
ss.start();

try {
    // 1. the first response: the list's count, its window of 20, the subscription
    const first = await until(() => responses[0], 15000, "the first response");
    check(1, "the list counts every room", first.lists?.all?.count === ROOMS.length,
        JSON.stringify(first.lists));
    const ids = Object.keys(first.rooms);
    const want = new Set([...ROOMS.slice(ROOMS.length - 20), sub]);
    check(2, "the window holds the 20 most active rooms and the subscription",
        ids.length === want.size && ids.every((id) => want.has(id)),
        `${ids.length} rooms`);
    const win = ROOMS.slice(ROOMS.length - 20);
    const stamps = win.map((id) => first.rooms[id]?.bump_stamp ?? -1);
    check(3, "bump_stamp orders the window by activity",
        stamps.every((s, i) => s > 0 && (i === 0 || s > stamps[i - 1])), JSON.stringify(stamps));
    const newest = first.rooms[ROOMS[ROOMS.length - 1]];
    check(4, "a room of the window: initial, its name, one timeline event",
        newest?.initial === true && newest?.name === `room ${ROOMS.length - 1}` &&
            newest?.timeline?.length === 1, JSON.stringify(newest)?.slice(0, 300));
    const s = first.rooms[sub];
    const types = new Set((s?.required_state || []).map((e) => e.type));
    check(5, "the subscription: its history and all its state",
        s?.timeline?.length > 1 && types.has("m.room.create") && types.has("m.room.join_rules"),
        JSON.stringify(s)?.slice(0, 300));

    // 2. bob sends in a room of the window while the SDK long-polls
    await until(() => responses.length >= 2, 10000, "a second (long-poll) response");
    const target = ROOMS[ROOMS.length - 5];
    const t0 = Date.now();
    const seen = roomData.length;
    await bob.sendEvent(target, "m.room.message", { msgtype: "m.text", body: "hello from js" });
    const got = await until(() => roomData.slice(seen).find((d) => d.roomId === target &&
        d.data.timeline?.some((e) => e.content?.body === "hello from js")), 10000,
    "the message");
    check(6, "the message arrives through the long-poll", got && got.at - t0 < 2500,
        `${got.at - t0} ms`);

    // 3. activity in a room below the window brings it in (initial: never sent before)
    const below = ROOMS[1];
    const seen2 = roomData.length;
    await bob.sendEvent(below, "m.room.message", { msgtype: "m.text", body: "up we go" });
    const up = await until(() => roomData.slice(seen2).find((d) => d.roomId === below), 10000,
        "the room below the window");
    check(7, "a room below the window enters it on new activity",
        up.data.initial === true && up.data.timeline?.at(-1)?.content?.body === "up we go",
        JSON.stringify(up.data).slice(0, 300));
} catch (e) {
    check("wait", "every wait ends in time", false, e.message);
}
ss.stop();
done();
