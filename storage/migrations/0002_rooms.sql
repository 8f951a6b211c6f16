-- Rooms: the event DAG, state groups, current state, memberships, transaction IDs,
-- aliases, relations and reports.

CREATE TABLE rooms (
    room_id        text PRIMARY KEY,
    room_version   text    NOT NULL,
    creator        text    NOT NULL,
    created_ts     bigint  NOT NULL,
    is_public      boolean NOT NULL DEFAULT false,  -- published in the room directory
    state_group    bigint                            -- state after the newest event
);

-- One position for every event of every room, in the order this server accepted them:
-- the stream /sync reads.
CREATE SEQUENCE stream_ordering_seq;

-- Every PDU the server holds. `json` is the PDU in canonical JSON; a redacted event has its
-- redacted form there (the content is gone for good) and redacted_by names the redaction.
CREATE TABLE events (
    event_nid         bigserial PRIMARY KEY,
    event_id          text    NOT NULL UNIQUE,
    room_id           text    NOT NULL REFERENCES rooms (room_id) ON DELETE CASCADE,
    type              text    NOT NULL,
    state_key         text,                 -- NULL: not a state event
    sender            text    NOT NULL,
    origin_server_ts  bigint  NOT NULL,
    depth             bigint  NOT NULL,     -- topological ordering
    stream_ordering   bigint  UNIQUE,       -- NULL for outliers
    state_group       bigint,               -- the state after this event
    rejected          text,                 -- why it was rejected; NULL if accepted
    outlier           boolean NOT NULL DEFAULT false,
    redacted_by       text,
    json              text    NOT NULL
);
CREATE INDEX events_room_stream ON events (room_id, stream_ordering);
CREATE INDEX events_room_topo ON events (room_id, depth, stream_ordering);
CREATE INDEX events_room_ts ON events (room_id, origin_server_ts);

CREATE TABLE event_edges (
    event_nid      bigint NOT NULL REFERENCES events (event_nid) ON DELETE CASCADE,
    prev_event_id  text   NOT NULL,
    PRIMARY KEY (event_nid, prev_event_id)
);

-- The room's forward extremities: events with no successor yet (prev_events of the next).
CREATE TABLE room_extremities (
    room_id   text NOT NULL REFERENCES rooms (room_id) ON DELETE CASCADE,
    event_id  text NOT NULL,
    PRIMARY KEY (room_id, event_id)
);

-- State groups. A group is a room state; it is stored as a delta against `base`, an
-- ancestor on its chain of derivations chosen like a Fenwick tree: for the group with
-- sequence number s (parent's + 1), base is the ancestor with sequence s & (s - 1). Every
-- state is then at most log2(s) deltas away from an empty base, and the deltas of n state
-- changes hold O(n log n) rows in all: storage never grows with events x state size.
CREATE TABLE state_groups (
    id       bigserial PRIMARY KEY,
    room_id  text   NOT NULL REFERENCES rooms (room_id) ON DELETE CASCADE,
    seq      bigint NOT NULL,
    parent   bigint REFERENCES state_groups (id),
    base     bigint REFERENCES state_groups (id)
);

CREATE TABLE state_group_entries (
    state_group  bigint NOT NULL REFERENCES state_groups (id) ON DELETE CASCADE,
    type         text   NOT NULL,
    state_key    text   NOT NULL,
    event_id     text,               -- NULL: absent here although present in the base
    PRIMARY KEY (state_group, type, state_key)
);

-- The state after the room's newest event, for sends and reads that need "now".
CREATE TABLE current_state (
    room_id     text NOT NULL REFERENCES rooms (room_id) ON DELETE CASCADE,
    type        text NOT NULL,
    state_key   text NOT NULL,
    event_id    text NOT NULL,
    membership  text,                -- for m.room.member: content.membership
    PRIMARY KEY (room_id, type, state_key)
);
CREATE INDEX current_state_members ON current_state (state_key, membership)
    WHERE type = 'm.room.member';

-- Rooms a user has forgotten (spec: /forget); cleared when they join again.
CREATE TABLE room_forgotten (
    user_id  text NOT NULL,
    room_id  text NOT NULL REFERENCES rooms (room_id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, room_id)
);

-- Client transaction IDs, scoped to the device that sent them (spec: "Transaction
-- identifiers").
CREATE TABLE event_txns (
    user_id     text   NOT NULL,
    device_id   text   NOT NULL,
    txn_id      text   NOT NULL,
    event_id    text   NOT NULL,
    created_ts  bigint NOT NULL,
    PRIMARY KEY (user_id, device_id, txn_id)
);

CREATE TABLE room_aliases (
    alias       text PRIMARY KEY,
    room_id     text   NOT NULL REFERENCES rooms (room_id) ON DELETE CASCADE,
    creator     text   NOT NULL,
    created_ts  bigint NOT NULL
);
CREATE INDEX room_aliases_room ON room_aliases (room_id);

-- m.relates_to of events (threads, edits, reactions, references).
CREATE TABLE event_relations (
    event_id         text PRIMARY KEY,
    room_id          text NOT NULL,
    relates_to       text NOT NULL,
    rel_type         text NOT NULL,
    aggregation_key  text,
    sender           text NOT NULL
);
CREATE INDEX event_relations_parent ON event_relations (relates_to, rel_type);

CREATE TABLE event_reports (
    id           bigserial PRIMARY KEY,
    room_id      text   NOT NULL,
    event_id     text,
    user_id      text   NOT NULL,
    reason       text,
    score        integer,
    received_ts  bigint NOT NULL
);
