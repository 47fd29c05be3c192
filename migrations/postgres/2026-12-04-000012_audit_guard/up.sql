-- L3: a record leaves the audit log only when an anchor written in the same transaction
-- covers it. Gatehouse's prune writes the anchor (under an HMAC with the audit key) and then
-- deletes; no setting any role could switch on lets deletes through any more, and a deletion
-- with a forged anchor is caught by `gatehouse audit verify`. TRUNCATE is refused outright.
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND EXISTS (
        SELECT 1 FROM audit_anchor
        WHERE audit_anchor.seq >= OLD.seq AND audit_anchor.xmin::text = (txid_current() % 4294967296)::text
    ) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
CREATE FUNCTION audit_log_no_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
FOR EACH STATEMENT EXECUTE FUNCTION audit_log_no_truncate();
