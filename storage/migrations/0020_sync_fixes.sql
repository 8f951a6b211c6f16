-- Sync: private device-list changes, the lazy-loading record of each device, and an index
-- of who ignores whom.

-- A change only one user may learn of (the owner's new user-signing key; a signature the
-- user made on someone else's key with it): NULL for a change everyone who shares a room
-- with user_id learns of.
ALTER TABLE device_list_changes ADD COLUMN only_for text;

-- The member events /sync sent to a device under lazy-loading (Client-Server API
-- "Lazy-loading room members": without include_redundant_members a device gets each member
-- event once). A sync without `since` clears the device's rows; at most a bounded number are
-- kept per device (the oldest go first: forgetting one only costs a redundant resend).
CREATE TABLE sync_lazy_members (
    user_id    text   NOT NULL,
    device_id  text   NOT NULL,
    room_id    text   NOT NULL,
    state_key  text   NOT NULL,
    event_id   text   NOT NULL,
    stream     bigint NOT NULL,      -- the sync position when it was sent
    PRIMARY KEY (user_id, device_id, room_id, state_key),
    FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE
);
CREATE INDEX sync_lazy_members_age ON sync_lazy_members (user_id, device_id, stream);

-- Who ignores a user (m.ignored_user_list), for the push rules of an event they send: one
-- probe however many members the room has.
CREATE INDEX account_data_ignorers ON account_data USING gin ((content::jsonb -> 'ignored_users'))
    WHERE type = 'm.ignored_user_list' AND room_id = '';
