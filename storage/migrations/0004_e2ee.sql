-- End-to-end encryption: what clients upload so that other devices can encrypt to them
-- (Client-Server API "End-to-End Encryption"). The server never reads the key material; it
-- stores each object as the JSON text the client sent and hands it back unchanged.

-- Identity keys of a device (/keys/upload device_keys), gone with the device.
CREATE TABLE e2e_device_keys (
    user_id    text NOT NULL,
    device_id  text NOT NULL,
    key_json   text NOT NULL,           -- the DeviceKeys object as uploaded
    PRIMARY KEY (user_id, device_id),
    FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE
);

-- One-time keys; a claim deletes the row it hands out (each key at most once).
CREATE TABLE e2e_one_time_keys (
    user_id    text NOT NULL,
    device_id  text NOT NULL,
    algorithm  text NOT NULL,
    key_id     text NOT NULL,
    key_json   text NOT NULL,           -- a string or a signed key object
    PRIMARY KEY (user_id, device_id, algorithm, key_id),
    FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE
);

-- Fallback keys: one per algorithm, handed out when the one-time keys are gone, and marked
-- used (not deleted) then.
CREATE TABLE e2e_fallback_keys (
    user_id    text NOT NULL,
    device_id  text NOT NULL,
    algorithm  text NOT NULL,
    key_id     text NOT NULL,
    key_json   text NOT NULL,
    used       boolean NOT NULL DEFAULT false,
    PRIMARY KEY (user_id, device_id, algorithm),
    FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE
);

-- Cross-signing keys (usage: master, self_signing, user_signing), the newest per usage.
CREATE TABLE e2e_cross_signing_keys (
    user_id    text NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    usage      text NOT NULL,
    public_key text NOT NULL,           -- unpadded base64 ed25519 key
    key_json   text NOT NULL,           -- the CrossSigningKey object as uploaded
    PRIMARY KEY (user_id, usage)
);

-- Signatures uploaded through /keys/signatures/upload, each verified before it is stored;
-- merged into the signed object when it is served. target_key is a device ID or the public
-- key of a cross-signing key.
CREATE TABLE e2e_signatures (
    signer_user   text NOT NULL,
    signer_key    text NOT NULL,        -- "ed25519:<key id>"
    target_user   text NOT NULL,
    target_key    text NOT NULL,
    signature     text NOT NULL,
    PRIMARY KEY (target_user, target_key, signer_user, signer_key)
);

-- Transaction IDs of /sendToDevice, per device, for idempotency.
CREATE TABLE to_device_txns (
    user_id    text   NOT NULL,
    device_id  text   NOT NULL,
    txn_id     text   NOT NULL,
    ts         bigint NOT NULL,
    PRIMARY KEY (user_id, device_id, txn_id)
);
