-- Federation II (issue 13): the m.device_list_update EDUs a local user's changes went out as.
-- A change announced as one names its device; prev_id of the next EDU for the user is the
-- latest such stream position (Server-Server API "Device Management"). NULL: a change not
-- sent as an m.device_list_update (cross-signing keys, a remote user's update, a private one).
ALTER TABLE device_list_changes ADD COLUMN device_id text;
