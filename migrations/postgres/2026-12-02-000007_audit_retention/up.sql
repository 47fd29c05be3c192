-- L3 retention: records older than the retention are pruned; the last pruned record's
-- sequence number and hash stay here, under an HMAC, so the rest of the chain still verifies.
CREATE TABLE audit_anchor (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL,
    hash BYTEA NOT NULL,
    mac BYTEA NOT NULL,
    pruned_at BIGINT NOT NULL
);
-- Deletes pass only inside Gatehouse's prune transaction, which sets this setting locally.
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('gatehouse.audit_prune', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
