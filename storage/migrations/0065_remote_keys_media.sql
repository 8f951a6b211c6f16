-- Federation II (issue 13): what this server keeps of other servers' users and media.

-- Device lists of remote users who share a room with a local user, fetched with
-- GET /_matrix/federation/v1/user/devices/{userId}. A row is served to /keys/query while it
-- is not stale; an m.device_list_update or m.signing_key_update EDU marks it stale, and the
-- next query fetches it again.
CREATE TABLE remote_device_lists (
    user_id          text    PRIMARY KEY,
    stream_id        bigint  NOT NULL,
    stale            boolean NOT NULL DEFAULT false,
    devices          text    NOT NULL, -- {device_id: DeviceKeys} as the remote server sent them
    master_key       text,             -- CrossSigningKey JSON, or NULL
    self_signing_key text,
    fetched_ts       bigint  NOT NULL
);

-- Media of other servers, fetched through /_matrix/federation/v1/media/download and kept in
-- the media store (by SHA-256, as local media); remote thumbnails likewise.
CREATE TABLE remote_media (
    server_name  text   NOT NULL,
    media_id     text   NOT NULL,
    content_type text   NOT NULL,
    upload_name  text,
    size         bigint NOT NULL,
    sha256       text   NOT NULL,
    fetched_ts   bigint NOT NULL,
    PRIMARY KEY (server_name, media_id)
);

CREATE TABLE remote_media_thumbnails (
    server_name  text    NOT NULL,
    media_id     text    NOT NULL,
    width        integer NOT NULL,
    height       integer NOT NULL,
    method       text    NOT NULL,
    content_type text    NOT NULL,
    size         bigint  NOT NULL,
    sha256       text    NOT NULL,
    PRIMARY KEY (server_name, media_id, width, height, method)
);
