-- A user's own push rules and their changes to the predefined ones (the "store" of
-- server/push.h), as JSON text; users without a row have the predefined rules.
CREATE TABLE push_rules (
    user_id  text PRIMARY KEY REFERENCES users (user_id) ON DELETE CASCADE,
    store    text NOT NULL
);
