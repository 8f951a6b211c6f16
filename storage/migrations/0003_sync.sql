-- Sync: what /sync reports besides room events. Every row that a client learns about
-- incrementally carries `stream`, a position taken from stream_ordering_seq in the writing
-- transaction (the one stream of server/notify.c), so one sync token covers them all.

-- Filters a user uploaded (POST /user/{userId}/filter); immutable once stored.
CREATE SEQUENCE filter_id_seq;
CREATE TABLE filters (
    user_id    text   NOT NULL,
    filter_id  bigint NOT NULL DEFAULT nextval('filter_id_seq'),
    json       text   NOT NULL,
    PRIMARY KEY (user_id, filter_id)
);

-- Account data, global (room_id = '') and per room; the newest content per type.
CREATE TABLE account_data (
    user_id  text   NOT NULL,
    room_id  text   NOT NULL DEFAULT '',
    type     text   NOT NULL,
    content  text   NOT NULL,        -- a JSON object; '{}' after a delete
    stream   bigint NOT NULL,
    PRIMARY KEY (user_id, room_id, type)
);
CREATE INDEX account_data_stream ON account_data (user_id, stream);

-- Receipts: the newest one per (room, type, user, thread); thread_id '' = unthreaded.
CREATE TABLE receipts (
    room_id       text   NOT NULL,
    receipt_type  text   NOT NULL,   -- m.read, m.read.private
    user_id       text   NOT NULL,
    thread_id     text   NOT NULL DEFAULT '',
    event_id      text   NOT NULL,
    event_stream  bigint NOT NULL,   -- stream ordering of the receipted event
    ts            bigint NOT NULL,
    stream        bigint NOT NULL,
    PRIMARY KEY (room_id, receipt_type, user_id, thread_id)
);
CREATE INDEX receipts_stream ON receipts (room_id, stream);
CREATE INDEX receipts_user ON receipts (user_id, room_id);

-- What an event means for each local member's notifications (push rule actions), written
-- with the event: unread and highlight counts are counts of rows after the user's receipt.
CREATE TABLE event_push_actions (
    user_id    text    NOT NULL,
    room_id    text    NOT NULL,
    stream     bigint  NOT NULL,     -- the event's stream ordering
    event_id   text    NOT NULL,
    thread_id  text    NOT NULL DEFAULT 'main',
    highlight  boolean NOT NULL,
    PRIMARY KEY (user_id, room_id, stream)
);

-- To-device messages waiting for a device (filled by the E2EE endpoints); deleted once the
-- device's next sync acknowledges them.
CREATE TABLE device_inbox (
    user_id    text   NOT NULL,
    device_id  text   NOT NULL,
    stream     bigint NOT NULL,
    sender     text   NOT NULL,
    type       text   NOT NULL,
    content    text   NOT NULL,
    PRIMARY KEY (user_id, device_id, stream)
);

-- Users whose device list changed (filled by the E2EE endpoints); /sync reports the ones
-- the syncing user shares a room with.
CREATE TABLE device_list_changes (
    user_id  text   NOT NULL,
    stream   bigint NOT NULL,
    PRIMARY KEY (stream, user_id)
);
CREATE INDEX device_list_changes_user ON device_list_changes (user_id, stream);

-- Presence (only used when presence.enabled is set).
CREATE TABLE presence (
    user_id         text   PRIMARY KEY,
    presence        text   NOT NULL,
    status_msg      text,
    last_active_ts  bigint NOT NULL,
    stream          bigint NOT NULL
);
CREATE INDEX presence_stream ON presence (stream);

-- /sync tells the sending device its transaction ID (unsigned.transaction_id).
CREATE INDEX event_txns_event ON event_txns (event_id);
