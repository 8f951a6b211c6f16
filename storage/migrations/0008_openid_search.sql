-- OpenID tokens (POST /user/{userId}/openid/request_token), checked by other servers and
-- widgets through /_matrix/federation/v1/openid/userinfo. Stored as SHA-256 hashes only.
CREATE TABLE openid_tokens (
    token_hash  bytea  PRIMARY KEY,
    user_id     text   NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    expires_ts  bigint NOT NULL
);
CREATE INDEX openid_tokens_expiry ON openid_tokens (expires_ts);

-- Full-text search (/search) over unencrypted messages, room names and topics. A background
-- indexer (server/search.c) fills it from committed events in stream order, so the room
-- writer's hot path pays nothing; search_position is how far it got.
CREATE TABLE event_search (
    event_id  text     PRIMARY KEY,
    room_id   text     NOT NULL,
    stream    bigint   NOT NULL,
    ts        bigint   NOT NULL,
    key       text     NOT NULL,   -- content.body, content.name or content.topic
    vector    tsvector NOT NULL
);
CREATE INDEX event_search_vector ON event_search USING gin (vector);
CREATE INDEX event_search_room ON event_search (room_id, stream);
CREATE TABLE search_position (
    one       boolean PRIMARY KEY DEFAULT true CHECK (one),
    stream    bigint  NOT NULL
);
INSERT INTO search_position (stream) VALUES (0);
