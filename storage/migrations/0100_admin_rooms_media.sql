-- Synapse's admin API for rooms, media and server notices (api/admin_rooms.c, admin_media.c).

-- Rooms local users may not join, nor other servers join through this one (PUT
-- /_synapse/admin/v1/rooms/{roomId}/block, DELETE /_synapse/admin/v2/rooms/{roomId} with
-- block). A room need not be known here to be blocked; no foreign key, so the block outlives
-- a purge of the room.
CREATE TABLE blocked_rooms (
    room_id     text   PRIMARY KEY,
    user_id     text   NOT NULL,   -- the admin who blocked it
    created_ts  bigint NOT NULL
);

-- Quarantined media, local (server_name = this server's name) or of other servers, cached or
-- not: downloads and thumbnails of it answer 404. The file stays on disk.
CREATE TABLE media_quarantine (
    server_name     text   NOT NULL,
    media_id        text   NOT NULL,
    quarantined_by  text   NOT NULL,
    created_ts      bigint NOT NULL,
    PRIMARY KEY (server_name, media_id)
);

-- Local media an admin protected from quarantine (sticker packs and the like).
ALTER TABLE media ADD COLUMN safe_from_quarantine boolean NOT NULL DEFAULT false;
CREATE INDEX media_user_created ON media (user_id, created_ts);
CREATE INDEX media_created ON media (created_ts);

-- The server-notices room of each local user: created by the notices user on the first
-- notice, used again while the user has not left it.
CREATE TABLE server_notice_rooms (
    user_id  text PRIMARY KEY,
    room_id  text NOT NULL
);

-- Event reports by room, for the admin listing's filter.
CREATE INDEX event_reports_room ON event_reports (room_id);
