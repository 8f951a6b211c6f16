-- URL previews fetched (only when url_preview_enabled, from allow-listed hosts), kept for an
-- hour so that a link posted in a busy room is fetched once.
CREATE TABLE url_previews (
    url         text   PRIMARY KEY,
    fetched_ts  bigint NOT NULL,
    og          text   NOT NULL   -- the JSON answer
);
