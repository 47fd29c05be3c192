-- A4: sign-in attempts are admitted before their password is checked, at most as many at
-- once as could lock the account; `reserved_at` lets a dead node's admissions expire.
ALTER TABLE account_lockouts ADD COLUMN in_flight INTEGER NOT NULL DEFAULT 0;
ALTER TABLE account_lockouts ADD COLUMN reserved_at BIGINT;
