-- The media repository: uploaded files live on disk under media_store_path, named by the
-- SHA-256 of their content (identical uploads share one file); this table maps the media IDs
-- handed out in mxc:// URIs to them. A row without sha256 is a media ID created for an
-- asynchronous upload (POST /_matrix/media/v1/create) that has no content yet.
CREATE TABLE media (
    media_id      text   PRIMARY KEY,
    user_id       text   NOT NULL,
    content_type  text,
    upload_name   text,
    size          bigint,
    sha256        text,
    created_ts    bigint NOT NULL,
    expires_ts    bigint            -- for a pending ID: when it may no longer be uploaded to
);
CREATE INDEX media_pending ON media (user_id) WHERE sha256 IS NULL;

-- Thumbnails made on first request, stored like media (by SHA-256) under thumbnails/.
CREATE TABLE media_thumbnails (
    media_id      text    NOT NULL REFERENCES media (media_id) ON DELETE CASCADE,
    width         integer NOT NULL,
    height        integer NOT NULL,
    method        text    NOT NULL,
    content_type  text    NOT NULL,
    size          bigint  NOT NULL,
    sha256        text    NOT NULL,
    PRIMARY KEY (media_id, width, height, method)
);
