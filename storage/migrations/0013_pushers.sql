-- Pushers (POST /pushers/set): where a device wants its notifications delivered (an HTTP push
-- gateway). Gone with the device that set them.
CREATE TABLE pushers (
    user_id              text   NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    device_id            text,
    app_id               text   NOT NULL,
    pushkey              text   NOT NULL,
    kind                 text   NOT NULL,
    app_display_name     text   NOT NULL,
    device_display_name  text   NOT NULL,
    profile_tag          text,
    lang                 text   NOT NULL,
    data                 text   NOT NULL,   -- JSON object, as given (url, format, ...)
    created_ts           bigint NOT NULL,
    PRIMARY KEY (app_id, pushkey, user_id),
    FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE
);
CREATE INDEX pushers_user ON pushers (user_id);

-- Notifications waiting for delivery to a pusher, filled in the same statement that records
-- an event's push actions; the sender (server/pusher.c) retries with back-off.
CREATE TABLE push_queue (
    id          bigserial PRIMARY KEY,
    user_id     text   NOT NULL,
    app_id      text   NOT NULL,
    pushkey     text   NOT NULL,
    event_id    text   NOT NULL,
    room_id     text   NOT NULL,
    attempts    integer NOT NULL DEFAULT 0,
    next_ts     bigint NOT NULL,
    created_ts  bigint NOT NULL,
    FOREIGN KEY (app_id, pushkey, user_id) REFERENCES pushers (app_id, pushkey, user_id)
        ON DELETE CASCADE
);
CREATE INDEX push_queue_due ON push_queue (next_ts);
