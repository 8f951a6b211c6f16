-- Client transaction IDs are scoped to the device and the request path (Client-Server API
-- "Transaction identifiers": a retransmission is the same transaction ID on the same HTTP
-- path). Both tables were keyed by (user, device, txn_id) alone, so the same txnId in another
-- room, for another event type, for a redaction or for another to-device event type was
-- taken for a retransmission: the client got the first event's answer, its request was lost.

-- event_txns.scope: DB_TXN_SCOPE_HEX (64) hex digits, the SHA-256 of the request path's parts
-- as server/room_txn.c hashes them (each part as "<byte length>:<bytes>"):
--   PUT /rooms/{roomId}/send/{eventType}/{txnId}      ("send", room, event type)
--   PUT /rooms/{roomId}/redact/{eventId}/{txnId}      ("redact", room, event ID)
--   PUT /_synapse/admin/v1/send_server_notice/{txnId} ("send_server_notice"; device "admin:…")
-- Rows already stored get the scope of the path that made them, read from their event (a
-- redaction: the /redact path of its target); rows whose event is gone (purged) could only
-- answer an event that no longer exists, and go.
ALTER TABLE event_txns ADD COLUMN scope text;

UPDATE event_txns t SET scope = encode(sha256(convert_to(
    CASE
        WHEN t.device_id LIKE 'admin:%' THEN '18:send_server_notice'
        WHEN e.type = 'm.room.redaction' AND r.target IS NOT NULL THEN
            '6:redact' || octet_length(e.room_id) || ':' || e.room_id ||
            octet_length(r.target) || ':' || r.target
        ELSE
            '4:send' || octet_length(e.room_id) || ':' || e.room_id ||
            octet_length(e.type) || ':' || e.type
    END, 'UTF8')), 'hex')
FROM events e
LEFT JOIN LATERAL (SELECT coalesce(e.json::json ->> 'redacts',
                                   e.json::json -> 'content' ->> 'redacts') AS target
                   WHERE e.type = 'm.room.redaction') r ON true
WHERE e.event_id = t.event_id;

DELETE FROM event_txns WHERE scope IS NULL;
ALTER TABLE event_txns ALTER COLUMN scope SET NOT NULL;
ALTER TABLE event_txns DROP CONSTRAINT event_txns_pkey;
ALTER TABLE event_txns ADD PRIMARY KEY (user_id, device_id, txn_id, scope);

-- PUT /sendToDevice/{eventType}/{txnId}: the event type is the path's other part. Rows
-- stored before did not keep it: their event_type is '' (no event type is empty: the API
-- refuses one), which matches a retransmission of their txnId whatever its type
-- (storage/keys.c), as it did when they were written.
ALTER TABLE to_device_txns ADD COLUMN event_type text NOT NULL DEFAULT '';
ALTER TABLE to_device_txns ALTER COLUMN event_type DROP DEFAULT;
ALTER TABLE to_device_txns DROP CONSTRAINT to_device_txns_pkey;
ALTER TABLE to_device_txns ADD PRIMARY KEY (user_id, device_id, txn_id, event_type);
