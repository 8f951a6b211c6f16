-- Server-side key backups (Client-Server API "Server-side key backups", /room_keys). The
-- server never reads the keys: auth_data and session_data are stored as the JSON text the
-- client sent and served through PostgreSQL's json type, which keeps that text as it is.

-- The last backup version number a user was given. Versions are numbered per user from 1 and
-- never reused: a deleted version's number stays taken, and "1 .. last_version" are exactly
-- the versions that exist or once existed.
CREATE TABLE key_backup_counters (
    user_id       text   PRIMARY KEY REFERENCES users (user_id) ON DELETE CASCADE,
    last_version  bigint NOT NULL
);

-- Backup versions that exist; the user's current one is the highest. A row is also the lock
-- that serialises writes to its keys (read FOR UPDATE first), and it carries the version's
-- etag (bumped whenever its keys change) and key_count (the number of rows in
-- key_backup_sessions), both kept in the writing transaction.
CREATE TABLE key_backup_versions (
    user_id    text   NOT NULL REFERENCES key_backup_counters (user_id) ON DELETE CASCADE,
    version    bigint NOT NULL,
    algorithm  text   NOT NULL,
    auth_data  text   NOT NULL,          -- a JSON object, as uploaded
    etag       bigint NOT NULL DEFAULT 0,
    key_count  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, version)
);

-- One backed-up Megolm session per (version, room, session), gone with its version.
CREATE TABLE key_backup_sessions (
    user_id              text    NOT NULL,
    version              bigint  NOT NULL,
    room_id              text    NOT NULL,
    session_id           text    NOT NULL,
    first_message_index  bigint  NOT NULL,
    forwarded_count      bigint  NOT NULL,
    is_verified          boolean NOT NULL,
    session_data         text    NOT NULL,  -- a JSON object, as uploaded
    PRIMARY KEY (user_id, version, room_id, session_id),
    FOREIGN KEY (user_id, version) REFERENCES key_backup_versions (user_id, version)
        ON DELETE CASCADE
);
