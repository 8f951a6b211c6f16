-- Redactions received before the event they redact (room versions 3+, "Handling redactions":
-- applied once both are here). Taken and applied when the target is accepted.
CREATE TABLE pending_redactions (
    target        text NOT NULL,
    redaction_id  text NOT NULL,
    room_id       text NOT NULL REFERENCES rooms (room_id) ON DELETE CASCADE,
    PRIMARY KEY (target, redaction_id)
);
