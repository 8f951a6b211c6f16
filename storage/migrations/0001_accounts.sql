-- Accounts: users, devices, access tokens, user-interactive auth sessions, registration
-- tokens and the shared-secret registration nonces. Timestamps are milliseconds since the
-- epoch (bigint), as everywhere in Matrix.

CREATE TABLE users (
    user_id        text PRIMARY KEY,            -- full MXID, '@localpart:server'
    password_hash  text,                        -- argon2id (libsodium crypto_pwhash_str); NULL: no password login
    admin          boolean NOT NULL DEFAULT false,
    deactivated    boolean NOT NULL DEFAULT false,
    created_ts     bigint  NOT NULL,
    displayname    text,
    avatar_url     text
);

CREATE TABLE devices (
    user_id              text NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    device_id            text NOT NULL,
    display_name         text,
    created_ts           bigint NOT NULL,
    last_seen_ts         bigint,
    last_seen_ip         text,
    last_seen_user_agent text,
    PRIMARY KEY (user_id, device_id)
);

-- Access tokens are stored only as SHA-256 hashes.
CREATE TABLE access_tokens (
    id          bigserial PRIMARY KEY,
    token_hash  bytea  NOT NULL UNIQUE,
    user_id     text   NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    device_id   text,
    created_ts  bigint NOT NULL,
    FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE
);
CREATE INDEX access_tokens_user ON access_tokens (user_id, device_id);

-- User-interactive authentication sessions (spec: "User-Interactive Authentication API").
-- Kept in the database so any server process can continue a session.
CREATE TABLE uia_sessions (
    session_id   text PRIMARY KEY,
    method       text   NOT NULL,   -- the request the session authorises: method ...
    uri          text   NOT NULL,   -- ... and path; a session is bound to one of them
    user_id      text,              -- who must authenticate (NULL while registering)
    completed    jsonb  NOT NULL DEFAULT '[]',  -- stage types done so far
    reg_token    text,              -- registration token validated in this session
    created_ts   bigint NOT NULL
);

-- Registration tokens, as Synapse's admin API manages them.
CREATE TABLE registration_tokens (
    token         text PRIMARY KEY,
    uses_allowed  integer,          -- NULL: unlimited
    pending       integer NOT NULL DEFAULT 0,
    completed     integer NOT NULL DEFAULT 0,
    expiry_time   bigint            -- NULL: never expires
);

-- Nonces handed out by GET /_synapse/admin/v1/register, each usable once.
CREATE TABLE admin_register_nonces (
    nonce       text PRIMARY KEY,
    created_ts  bigint NOT NULL
);
