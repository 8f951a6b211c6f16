-- Federation transactions (Server-Server API "Transactions").
--
-- fed_txns_in: the answer given to each transaction another server sent, so that a repeated
-- PUT /send/{txnId} from the same origin gets the same answer without being processed again.
-- Rows older than a day are dropped as new ones arrive (a sender retries within hours).
--
-- fed_queue: PDUs (kind 0) and EDUs (kind 1) waiting to be sent, one row per destination,
-- in id order. txn_id is set on the rows of the transaction in flight to that destination
-- (the same ID is sent again on a retry); the rows go once the destination answers 200.
--
-- fed_destinations: the transaction in flight and the back-off of each destination, so that a
-- restart resends the same transaction and keeps the retry interval.
CREATE TABLE fed_txns_in (
    origin    text   NOT NULL,
    txn_id    text   NOT NULL,
    response  text   NOT NULL,
    ts        bigint NOT NULL,
    PRIMARY KEY (origin, txn_id)
);
CREATE INDEX fed_txns_in_ts ON fed_txns_in (ts);

CREATE TABLE fed_queue (
    id           bigserial PRIMARY KEY,
    destination  text     NOT NULL,
    kind         smallint NOT NULL,  -- 0 PDU, 1 EDU
    body         text     NOT NULL,  -- the PDU or EDU as sent
    txn_id       text
);
CREATE INDEX fed_queue_destination ON fed_queue (destination, id);

CREATE TABLE fed_destinations (
    destination  text   PRIMARY KEY,
    txn_id       text,              -- the transaction in flight, NULL when none
    retry_ms     bigint NOT NULL DEFAULT 0,
    next_ts      bigint NOT NULL DEFAULT 0
);
