-- Memberships of local users in rooms this server is not in (Server-Server API "Inviting to a
-- room", "Knocking upon a room", "Leaving Rooms (Rejecting Invites)"): an invite another server
-- had signed here, a knock sent through another server, and the rejection or withdrawal of
-- either. /sync lists them beside the memberships of current_state (which wins once this
-- server is in the room). stream_ordering comes from the events' sequence so that /sync's
-- positions order them with everything else.
CREATE TABLE remote_memberships (
    user_id          text   NOT NULL,
    room_id          text   NOT NULL,
    membership       text   NOT NULL,  -- invite, knock, leave
    event_id         text   NOT NULL,
    room_version     text   NOT NULL,
    sender           text   NOT NULL,
    servers          json   NOT NULL,  -- servers to try for a later join or rejection
    stripped         json   NOT NULL,  -- stripped state events for the client
    pdu              text   NOT NULL,  -- the membership event (signed)
    stream_ordering  bigint NOT NULL,
    PRIMARY KEY (user_id, room_id)
);
CREATE INDEX remote_memberships_stream ON remote_memberships (stream_ordering);
