-- L3 retention: records older than the retention are pruned; the last pruned record's
-- sequence number and hash stay here, under an HMAC, so the rest of the chain still verifies.
CREATE TABLE audit_anchor (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL,
    hash BLOB NOT NULL,
    mac BLOB NOT NULL,
    pruned_at BIGINT NOT NULL
);
