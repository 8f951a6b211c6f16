// Element's flow through matrix-js-sdk and its Rust crypto (matrix-sdk-crypto-wasm) in Node,
// against a running Amtsbote: password login of two clients, initRustCrypto with an in-memory
// store, first sync, an encrypted room, cross-signing, secret storage and a key backup,
// encrypted messages both ways, an upload and its thumbnail through authenticated media.
//
//   node element_flow.mjs [BASE_URL [USER_A PASSWORD_A USER_B PASSWORD_B]]
// or the environment: HS_URL, USER_A, PASSWORD_A, USER_B, PASSWORD_B (localparts or full IDs).
// JSSDK_DEBUG=1 lets the SDK log at debug level.
//
// Prints one line per check ("ok 4a - ..." / "FAIL 4a - ..."), then "N passed, N failed";
// exits 0 only if every check passed. Every step has its own timeout; the whole run is
// ended after 120 s (JSSDK_TIMEOUT_MS).
import zlib from "node:zlib";

import * as sdk from "matrix-js-sdk";
import { logger } from "matrix-js-sdk/lib/logger.js";

const argv = process.argv.slice(2);
const BASE = (argv[0] || process.env.HS_URL || "").replace(/\/+$/, "");
const USER_A = argv[1] || process.env.USER_A;
const PASSWORD_A = argv[2] || process.env.PASSWORD_A;
const USER_B = argv[3] || process.env.USER_B;
const PASSWORD_B = argv[4] || process.env.PASSWORD_B;
const OVERALL_MS = Number(process.env.JSSDK_TIMEOUT_MS || 120000);

if (!BASE || !USER_A || !PASSWORD_A || !USER_B || !PASSWORD_B) {
    console.error("usage: node element_flow.mjs BASE_URL USER_A PASSWORD_A USER_B PASSWORD_B");
    console.error("   or: HS_URL, USER_A, PASSWORD_A, USER_B, PASSWORD_B in the environment");
    process.exit(2);
}

// The SDK logs through loglevel, the WASM crypto's tracing through console.debug/info (it
// turns itself on at debug level): keep warnings and errors only unless asked.
if (!process.env.JSSDK_DEBUG) {
    logger.setLevel("warn", false);
    console.debug = () => {};
    console.info = () => {};
}

let passed = 0;
let failed = 0;
const t0 = Date.now();

function summaryAndExit(code) {
    console.log(`${passed} passed, ${failed} failed`);
    // The WASM crypto and pending timers may keep the event loop alive: leave explicitly.
    process.exit(code ?? (failed ? 1 : 0));
}

const overall = setTimeout(() => {
    console.log(`FAIL overall - the run took longer than ${OVERALL_MS / 1000} s`);
    failed += 1;
    dumpTraffic();
    summaryAndExit(1);
}, OVERALL_MS);

process.on("unhandledRejection", (e) => {
    if (process.env.JSSDK_DEBUG) console.error("unhandled rejection:", e);
});

// ---------------------------------------------------------------------------------------
// HTTP traffic, kept in a ring buffer and shown when a check fails (requests, statuses and
// the bodies of error responses), so a server bug comes with its evidence.
const traffic = [];
function note(line) {
    traffic.push(`${((Date.now() - t0) / 1000).toFixed(2)}s ${line}`);
    if (traffic.length > 60) traffic.shift();
}
function dumpTraffic(n = 25) {
    if (!traffic.length) return;
    console.log(`    last ${Math.min(n, traffic.length)} HTTP exchanges:`);
    for (const l of traffic.slice(-n)) console.log("    | " + l);
}
// Per client: /keys/query requests in flight and when the last one ended.
const keysQueries = {};
function tracingFetch(who) {
    const kq = (keysQueries[who] = { inflight: 0, last: 0 });
    return async (input, init = {}) => {
        const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
        const method = init.method || "GET";
        const path = url.replace(BASE, "").replace(/access_token=[^&]*/, "access_token=…");
        const isKq = path.startsWith("/_matrix/client/v3/keys/query");
        let res;
        if (isKq) kq.inflight += 1;
        try {
            res = await fetch(input, init);
        } catch (e) {
            note(`${who} ${method} ${path} -> network error ${e.message}`);
            throw e;
        } finally {
            if (isKq) {
                kq.inflight -= 1;
                kq.last = Date.now();
            }
        }
        if (path.startsWith("/_matrix/client/v3/sync") && res.ok) return res; // too chatty
        let extra = "";
        if (!res.ok) {
            try {
                extra = " " + (await res.clone().text()).slice(0, 400);
            } catch {
                /* body not readable */
            }
        }
        let sent = "";
        if (!res.ok && typeof init.body === "string") sent = ` body=${init.body.slice(0, 300)}`;
        note(`${who} ${method} ${path}${sent} -> ${res.status}${extra}`);
        return res;
    };
}

// ---------------------------------------------------------------------------------------
function withTimeout(promise, ms, what) {
    let timer;
    return Promise.race([
        promise,
        new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
        }),
    ]).finally(() => clearTimeout(timer));
}

async function waitFor(fn, ms, what, every = 100) {
    const deadline = Date.now() + ms;
    let last;
    while (Date.now() < deadline) {
        last = await fn();
        if (last) return last;
        await new Promise((r) => setTimeout(r, every));
    }
    throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

function describe(e) {
    if (!e) return String(e);
    let s = e.message || String(e);
    if (e.httpStatus) s += ` [HTTP ${e.httpStatus}${e.errcode ? " " + e.errcode : ""}]`;
    if (e.url) s += ` url=${String(e.url).replace(BASE, "")}`;
    if (e.data && Object.keys(e.data).length) s += ` data=${JSON.stringify(e.data).slice(0, 400)}`;
    return s;
}

const done = new Set();
async function check(id, title, needs, ms, fn) {
    const missing = needs.filter((n) => !done.has(n));
    if (missing.length) {
        failed += 1;
        console.log(`FAIL ${id} - ${title}: not run, needs ${missing.join(", ")}`);
        return;
    }
    const start = Date.now();
    try {
        const detail = await withTimeout(Promise.resolve().then(fn), ms, title);
        passed += 1;
        done.add(id);
        console.log(`ok ${id} - ${title} (${Date.now() - start} ms)${detail ? ": " + detail : ""}`);
    } catch (e) {
        failed += 1;
        console.log(`FAIL ${id} - ${title}: ${describe(e)}`);
        if (process.env.JSSDK_DEBUG && e?.stack) console.log(e.stack);
        dumpTraffic();
    }
}

function assert(cond, msg) {
    if (!cond) throw new Error(`assertion failed: ${msg}`);
}

// ---------------------------------------------------------------------------------------
// A small PNG made here: 64x64, RGB, a gradient.
function crc32(buf) {
    let c = ~0;
    for (const b of buf) {
        c ^= b;
        for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
    }
    return ~c >>> 0;
}
function pngChunk(type, data) {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, "ascii"), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
}
function makePng(w, h) {
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(w, 0);
    ihdr.writeUInt32BE(h, 4);
    ihdr[8] = 8; // bit depth
    ihdr[9] = 2; // colour type RGB
    const raw = Buffer.alloc((w * 3 + 1) * h);
    for (let y = 0; y < h; y++) {
        const row = y * (w * 3 + 1);
        raw[row] = 0; // filter: none
        for (let x = 0; x < w; x++) {
            raw[row + 1 + x * 3] = (x * 255) / (w - 1);
            raw[row + 2 + x * 3] = (y * 255) / (h - 1);
            raw[row + 3 + x * 3] = 128;
        }
    }
    return Buffer.concat([
        Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
        pngChunk("IHDR", ihdr),
        pngChunk("IDAT", zlib.deflateSync(raw)),
        pngChunk("IEND", Buffer.alloc(0)),
    ]);
}

// ---------------------------------------------------------------------------------------
// Secret storage keys created during the run, handed back when the SDK asks for them
// (as Element's SecurityManager does with its cache).
function cryptoCallbacks(name) {
    const keys = new Map();
    return {
        keys,
        getSecretStorageKey: async ({ keys: wanted }) => {
            for (const keyId of Object.keys(wanted)) {
                if (keys.has(keyId)) return [keyId, keys.get(keyId)];
            }
            throw new Error(`${name}: no secret storage key for ${Object.keys(wanted).join(",")}`);
        },
        cacheSecretStorageKey: (keyId, _info, key) => {
            keys.set(keyId, key);
        },
    };
}

const clients = {};

async function login(name, user, password) {
    const temp = sdk.createClient({ baseUrl: BASE, fetchFn: tracingFetch(name) });
    const identifier = { type: "m.id.user", user }; // a localpart or a full user ID
    const r = await temp.loginRequest({
        type: "m.login.password",
        identifier,
        password,
        initial_device_display_name: `js-sdk ${name}`,
    });
    assert(r.access_token && r.user_id && r.device_id, `login response ${JSON.stringify(r)}`);
    temp.stopClient();
    const callbacks = cryptoCallbacks(name);
    const client = sdk.createClient({
        baseUrl: BASE,
        userId: r.user_id,
        deviceId: r.device_id,
        accessToken: r.access_token,
        fetchFn: tracingFetch(name),
        cryptoCallbacks: callbacks,
        timelineSupport: true,
    });
    clients[name] = { client, callbacks, password, userId: r.user_id, deviceId: r.device_id, token: r.access_token };
    return r;
}

function waitForFirstSync(client, ms) {
    return withTimeout(
        new Promise((resolve, reject) => {
            const on = (state, _prev, data) => {
                if (state === sdk.SyncState.Prepared) {
                    client.off(sdk.ClientEvent.Sync, on);
                    resolve();
                } else if (state === sdk.SyncState.Error) {
                    client.off(sdk.ClientEvent.Sync, on);
                    reject(new Error(`sync error: ${describe(data?.error)}`));
                }
            };
            client.on(sdk.ClientEvent.Sync, on);
        }),
        ms,
        "first sync (ClientEvent.Sync PREPARED)",
    );
}

// Wait until `client` has a decrypted m.room.message with `body` in `roomId`.
async function waitForEncryptedMessage(client, roomId, body, ms) {
    let seen = [];
    try {
        return await waitFor(
            async () => {
                const room = client.getRoom(roomId);
                if (!room) return null;
                seen = [];
                for (const ev of room.getLiveTimeline().getEvents()) {
                    if (ev.isBeingDecrypted?.() || ev.isDecryptionFailure()) {
                        seen.push(`${ev.getId()} ${ev.getWireType()} decryption ${ev.isDecryptionFailure() ? "failed: " + (ev.decryptionFailureReason ?? "") : "pending"}`);
                        continue;
                    }
                    if (ev.getType() === "m.room.message") {
                        seen.push(`${ev.getId()} ${ev.getWireType()} body=${JSON.stringify(ev.getContent().body)}`);
                        if (ev.getContent().body === body) return ev;
                    }
                }
                return null;
            },
            ms,
            `"${body}" in ${roomId}`,
            150,
        );
    } catch (e) {
        e.message += `; messages seen: ${seen.join(" | ") || "none"}`;
        throw e;
    }
}

// ---------------------------------------------------------------------------------------
const roomState = {};

async function main() {
    console.log(`homeserver ${BASE}; matrix-js-sdk with Rust crypto on Node ${process.version}`);

    // /versions, noted for the report: Element uses authenticated media only when the
    // server advertises v1.11 and stays on the legacy /media/v3 endpoints otherwise.
    try {
        const v = await (await fetch(`${BASE}/_matrix/client/versions`)).json();
        const auth = v.versions?.includes("v1.11");
        console.log(`note: /versions ${JSON.stringify(v.versions)}; v1.11 (authenticated media in Element) ${auth ? "advertised" : "NOT advertised"}`);
    } catch (e) {
        console.log(`note: /versions unreadable: ${e.message}`);
    }

    await check("1", "password login of two clients", [], 20000, async () => {
        const a = await login("A", USER_A, PASSWORD_A);
        const b = await login("B", USER_B, PASSWORD_B);
        assert(a.user_id !== b.user_id, "two distinct users");
        return `${a.user_id} ${a.device_id}, ${b.user_id} ${b.device_id}`;
    });

    await check("2", "initRustCrypto (in-memory store), startClient, first sync", ["1"], 30000, async () => {
        for (const name of ["A", "B"]) {
            const { client } = clients[name];
            await client.initRustCrypto({ useIndexedDB: false });
            assert(client.getCrypto(), `${name}: getCrypto() after initRustCrypto`);
        }
        await Promise.all(
            ["A", "B"].map(async (name) => {
                const { client } = clients[name];
                const first = waitForFirstSync(client, 25000);
                await client.startClient({ initialSyncLimit: 20, lazyLoadMembers: true });
                await first;
            }),
        );
        // The Rust crypto uploads the device keys on start-up; both must be visible.
        const { client: a } = clients.A;
        const devices = await waitFor(
            async () => {
                const map = await a.getCrypto().getUserDeviceInfo([clients.A.userId, clients.B.userId], true);
                const own = map.get(clients.A.userId)?.get(clients.A.deviceId);
                const other = map.get(clients.B.userId)?.get(clients.B.deviceId);
                return own && other ? map : null;
            },
            10000,
            "both devices' keys in /keys/query",
            300,
        );
        return `device keys of both visible (${[...devices.values()].map((m) => m.size).join("+")} devices)`;
    });

    await check("3", "create an encrypted room, invite and join the second client", ["2"], 20000, async () => {
        const { client: a } = clients.A;
        const { client: b } = clients.B;
        const { room_id: roomId } = await a.createRoom({
            name: "js-sdk e2ee",
            preset: "private_chat",
            invite: [clients.B.userId],
            initial_state: [
                { type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } },
            ],
        });
        roomState.roomId = roomId;
        await waitFor(() => b.getRoom(roomId)?.getMyMembership() === "invite", 10000, "B sees the invite");
        await b.joinRoom(roomId);
        await waitFor(() => a.getRoom(roomId)?.getMember(clients.B.userId)?.membership === "join", 10000, "A sees B joined");
        const encA = await a.getCrypto().isEncryptionEnabledInRoom(roomId);
        const encB = await waitFor(() => b.getCrypto().isEncryptionEnabledInRoom(roomId), 10000, "B: encryption enabled");
        assert(encA && encB, "both clients see the room as encrypted");
        return roomId;
    });

    // Element's callback: try without auth, answer a 401 with the password. The first upload
    // needs no UIA (v1.11, MSC3967); replacing the keys must ask for it.
    const uia = [];
    const authUploadDeviceSigningKeys = async (makeRequest) => {
        const { password, userId } = clients.A;
        try {
            await makeRequest(null);
            uia.push("none");
        } catch (e) {
            if (e.httpStatus !== 401 || !e.data?.flows) throw e;
            const flows = e.data.flows.map((f) => f.stages.join(">"));
            assert(e.data.flows.some((f) => f.stages.length === 1 && f.stages[0] === "m.login.password"),
                `a password-only UIA flow, got ${JSON.stringify(flows)}`);
            await makeRequest({
                type: "m.login.password",
                identifier: { type: "m.id.user", user: userId },
                password,
                session: e.data.session,
            });
            uia.push(`password (flows ${flows.join(", ")})`);
        }
    };

    // Cross-signing of A is in place: its master key came back from /keys/query as the one it
    // holds, the private keys are cached, A's device is signed by the self-signing key, and B
    // has A's (new) master key after device_lists.changed.
    async function crossSigningSettled(previousMaster) {
        const { client, userId, deviceId } = clients.A;
        const crypto = client.getCrypto();
        const seen = [];
        try {
            const master = await waitFor(
                async () => {
                    const id = await crypto.getCrossSigningKeyId();
                    if (seen.at(-1) !== id) seen.push(id);
                    return id && id !== previousMaster ? id : null;
                },
                10000,
                previousMaster ? `a new master key (was ${previousMaster})` : "A's master key",
                200,
            );
            const status = await crypto.getCrossSigningStatus();
            const cached = status.privateKeysCachedLocally;
            assert(status.publicKeysOnDevice && cached.masterKey && cached.selfSigningKey && cached.userSigningKey,
                `keys on the device: ${JSON.stringify(status)}`);
            assert(await crypto.isCrossSigningReady(), "isCrossSigningReady()");
            await waitFor(
                async () => (await crypto.getDeviceVerificationStatus(userId, deviceId))?.signedByOwner,
                10000,
                "A's own device signed by its self-signing key",
                200,
            );
            await waitFor(
                async () => {
                    const bMap = await clients.B.client.getCrypto().getUserDeviceInfo([userId], false);
                    const bSees = await clients.B.client.getCrypto().userHasCrossSigningKeys(userId, false);
                    // B's view of A's master key, read through B's own /keys/query (device_lists)
                    const v = await clients.B.client.getCrypto().getUserVerificationStatus(userId);
                    return bSees && bMap.get(userId)?.has(deviceId) && v ? true : null;
                },
                10000,
                "B sees A's cross-signing keys (device_lists.changed, then /keys/query)",
                200,
            );
            return master;
        } catch (e) {
            const raw = await client.http.authedRequest(sdk.Method.Post, "/keys/query", undefined, {
                device_keys: { [userId]: [] },
            });
            e.message += `; getCrossSigningKeyId() gave ${JSON.stringify(seen)}; status ${JSON.stringify(
                await crypto.getCrossSigningStatus())}; /keys/query now answers ${JSON.stringify(raw).slice(0, 3000)}`;
            throw e;
        }
    }

    await check("4a", "bootstrap cross-signing", ["2"], 30000, async () => {
        await clients.A.client.getCrypto().bootstrapCrossSigning({ authUploadDeviceSigningKeys });
        roomState.master = await crossSigningSettled(null);
        return `master ${roomState.master}; UIA asked: ${uia[0]}`;
    });

    await check("4b", "reset cross-signing: the replacement asks for UIA, answered with the password", ["4a"], 30000, async () => {
        // A /keys/query of A's own keys still in flight when the reset makes new private keys
        // answers with the old public ones, and the Rust crypto then drops the new private
        // keys (a client-side race): start the reset once A's key queries have gone quiet.
        await waitFor(
            () => keysQueries.A.inflight === 0 && Date.now() - keysQueries.A.last > 1000,
            8000,
            "A's /keys/query requests to go quiet",
            100,
        );
        // As Element's "reset cross-signing" does: new keys replace the old ones.
        await clients.A.client.getCrypto().bootstrapCrossSigning({ setupNewCrossSigning: true, authUploadDeviceSigningKeys });
        assert(uia.length === 2 && uia[1] !== "none", `the replacement asked for UIA: ${JSON.stringify(uia)}`);
        roomState.master = await crossSigningSettled(roomState.master);
        // B pinned A's first identity: the new one must reach B as a change to approve
        // (device_lists.changed in B's sync, then B's /keys/query with the new master key).
        const bCrypto = clients.B.client.getCrypto();
        await waitFor(
            async () => (await bCrypto.getUserVerificationStatus(clients.A.userId)).needsUserApproval,
            10000,
            "B sees A's identity change (needsUserApproval)",
            200,
        );
        await bCrypto.pinCurrentUserIdentity(clients.A.userId); // Element's "OK" on the warning
        assert(!(await bCrypto.getUserVerificationStatus(clients.A.userId)).needsUserApproval, "B pinned A's new identity");
        return `new master ${roomState.master}; UIA: ${uia[1]}; B saw the identity change`;
    });

    await check("4c", "bootstrap secret storage with a new key backup", ["4a", "4b"], 30000, async () => {
        const { client } = clients.A;
        const crypto = client.getCrypto();
        let recoveryKey;
        await crypto.bootstrapSecretStorage({
            setupNewSecretStorage: true,
            setupNewKeyBackup: true,
            createSecretStorageKey: async () => {
                recoveryKey = await crypto.createRecoveryKeyFromPassphrase();
                return recoveryKey;
            },
        });
        assert(recoveryKey?.encodedPrivateKey, "a recovery key was made");
        assert(await crypto.isSecretStorageReady(), "isSecretStorageReady()");
        const status = await crypto.getCrossSigningStatus();
        assert(status.privateKeysInSecretStorage, `cross-signing keys in secret storage: ${JSON.stringify(status)}`);
        // checkKeyBackupAndEnable() reads GET /room_keys/version afresh (getKeyBackupInfo()
        // answers from the cache of the backup manager's first check, made before the backup).
        const check = await crypto.checkKeyBackupAndEnable();
        const info = check?.backupInfo;
        assert(info?.version, `a key backup version on the server: ${JSON.stringify(check)}`);
        assert(info.algorithm === "m.megolm_backup.v1.curve25519-aes-sha2" && info.auth_data?.public_key,
            `backup info ${JSON.stringify(info)}`);
        assert(check.trustInfo?.trusted, `the backup is trusted: ${JSON.stringify(check.trustInfo)}`);
        const active = await waitFor(() => crypto.getActiveSessionBackupVersion(), 5000, "an active backup version");
        assert(active === info.version, `active backup ${active} is ${info.version}`);
        roomState.backupVersion = active;
        return `backup version ${active}, algorithm ${info.algorithm}`;
    });

    await check("5a", "message A -> B, encrypted and decrypted", ["3"], 30000, async () => {
        const { client: a } = clients.A;
        const { client: b } = clients.B;
        const body = `hello from A ${Date.now()}`;
        const { event_id } = await a.sendTextMessage(roomState.roomId, body);
        const ev = await waitForEncryptedMessage(b, roomState.roomId, body, 20000);
        assert(ev.isEncrypted(), "the event arrived encrypted (m.room.encrypted on the wire)");
        assert(ev.getId() === event_id, `same event id ${ev.getId()} ${event_id}`);
        assert(ev.getSender() === clients.A.userId, "sender");
        roomState.sessionId = ev.getWireContent().session_id;
        return `${event_id} (${ev.getWireContent().algorithm})`;
    });

    await check("5b", "message B -> A, encrypted and decrypted", ["3"], 30000, async () => {
        const { client: a } = clients.A;
        const { client: b } = clients.B;
        const body = `hello from B ${Date.now()}`;
        const { event_id } = await b.sendTextMessage(roomState.roomId, body);
        const ev = await waitForEncryptedMessage(a, roomState.roomId, body, 20000);
        assert(ev.isEncrypted(), "the event arrived encrypted (m.room.encrypted on the wire)");
        assert(ev.getId() === event_id, `same event id ${ev.getId()} ${event_id}`);
        return event_id;
    });

    await check("5c", "A's megolm session reaches the key backup", ["4c", "5a"], 25000, async () => {
        const { client } = clients.A;
        const version = roomState.backupVersion;
        const path = `/_matrix/client/v3/room_keys/keys?version=${encodeURIComponent(version)}`;
        const keys = await waitFor(
            async () => {
                const r = await client.http.authedRequest(sdk.Method.Get, "/room_keys/keys", { version });
                const sessions = r?.rooms?.[roomState.roomId]?.sessions ?? {};
                return Object.keys(sessions).length ? sessions : null;
            },
            20000,
            `a session of ${roomState.roomId} in GET ${path}`,
            1000,
        );
        assert(!roomState.sessionId || roomState.sessionId in keys, `session ${roomState.sessionId} backed up: ${Object.keys(keys)}`);
        return `${Object.keys(keys).length} session(s) in backup ${version}`;
    });

    await check("6", "upload a PNG, fetch its thumbnail through authenticated media", ["1"], 20000, async () => {
        const { client, token } = clients.A;
        const png = makePng(64, 64);
        const up = await client.uploadContent(png, { type: "image/png", name: "gradient.png" });
        const mxc = up.content_uri;
        assert(typeof mxc === "string" && mxc.startsWith("mxc://"), `content_uri ${JSON.stringify(up)}`);
        const url = client.mxcUrlToHttp(mxc, 32, 32, "scale", false, true, true);
        assert(url && url.includes("/_matrix/client/v1/media/thumbnail/"), `authenticated thumbnail URL: ${url}`);
        // Without the token the authenticated endpoint must refuse.
        const anon = await fetch(url, { redirect: "follow" });
        note(`A GET ${url.replace(BASE, "")} (no token) -> ${anon.status}`);
        assert(anon.status === 401, `unauthenticated GET answers 401, got ${anon.status}`);
        const res = await fetch(url, { headers: { Authorization: `Bearer ${token}` }, redirect: "follow" });
        const bytes = Buffer.from(await res.arrayBuffer());
        const type = res.headers.get("content-type") || "";
        note(`A GET ${url.replace(BASE, "")} -> ${res.status} ${type} ${bytes.length} bytes${res.ok ? "" : " " + bytes.toString("utf8", 0, 300)}`);
        assert(res.status === 200, `thumbnail status ${res.status}: ${bytes.toString("utf8", 0, 300)}`);
        assert(type.startsWith("image/"), `Content-Type image/*, got ${type}`);
        const isPng = bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
        const isJpeg = bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
        assert(isPng || isJpeg, `PNG or JPEG magic bytes, got ${bytes.subarray(0, 8).toString("hex")}`);
        return `${mxc} -> ${type}, ${bytes.length} bytes`;
    });

    await check("7", "stop both clients cleanly", ["1"], 10000, async () => {
        for (const name of ["A", "B"]) {
            const { client } = clients[name];
            client.stopClient();
            assert(!client.clientRunning, `${name} stopped`);
        }
    });
}

main()
    .catch((e) => {
        failed += 1;
        console.log(`FAIL unexpected - ${describe(e)}`);
        if (e?.stack) console.log(e.stack);
    })
    .finally(() => {
        clearTimeout(overall);
        console.log(`time: ${((Date.now() - t0) / 1000).toFixed(1)}s`);
        summaryAndExit();
    });
