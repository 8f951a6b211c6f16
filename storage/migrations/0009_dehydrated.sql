-- Dehydrated devices (MSC3814, org.matrix.msc3814.v1): one per user, a device with keys but
-- no access token, whose to-device messages a new login picks up. device_data is the
-- client's encrypted pickle, stored as given.
CREATE TABLE dehydrated_devices (
    user_id      text PRIMARY KEY REFERENCES users (user_id) ON DELETE CASCADE,
    device_id    text NOT NULL,
    device_data  text NOT NULL,
    FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE
);
