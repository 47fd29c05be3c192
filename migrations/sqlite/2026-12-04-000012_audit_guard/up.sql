-- L3: a record leaves the audit log only once the retention anchor covers it. Gatehouse's
-- prune writes the anchor (under an HMAC with the audit key) and then deletes in the same
-- transaction; a deletion with a forged anchor is caught by `gatehouse audit verify`.
DROP TRIGGER audit_log_no_delete;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
WHEN NOT EXISTS (SELECT 1 FROM audit_anchor WHERE audit_anchor.seq >= OLD.seq)
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
