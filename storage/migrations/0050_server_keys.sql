-- Remote servers' signing keys (Server-Server API "Retrieving server keys"), fetched directly
-- or through a notary and kept with their validity. A key from verify_keys is usable for a
-- signature made at time T while T <= valid_until_ts (the server's value, at most 7 days
-- ahead of the fetch); a key from old_verify_keys while T < expired_ts, and never for
-- requests.
CREATE TABLE server_signature_keys (
    server_name     text   NOT NULL,
    key_id          text   NOT NULL,
    verify_key      text   NOT NULL,   -- unpadded base64 ed25519 public key
    valid_until_ts  bigint NOT NULL,
    expired_ts      bigint,            -- NULL: a current key (verify_keys)
    fetched_ts      bigint NOT NULL,
    PRIMARY KEY (server_name, key_id)
);

-- The latest signed /_matrix/key/v2/server answer of each server, as received, which this
-- server returns as a notary (/_matrix/key/v2/query) after adding its own signature.
CREATE TABLE server_keys_json (
    server_name     text   PRIMARY KEY,
    valid_until_ts  bigint NOT NULL,
    key_json        text   NOT NULL,
    fetched_ts      bigint NOT NULL
);
