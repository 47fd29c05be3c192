-- A2, A8, A9, S8, AC3: accounts. A user's display name, whether their e-mail is confirmed
-- (self-registered users must confirm it before they sign in), when their password was set
-- (optional expiry); a tenant's policies (JSON, defaults in code); the user agent a session
-- was started from, shown to its user (S8).
ALTER TABLE users ADD COLUMN display_name TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE users ADD COLUMN password_changed_at BIGINT;
ALTER TABLE tenants ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';
ALTER TABLE sessions ADD COLUMN user_agent TEXT;

-- A2: earlier password hashes, so the last N are refused.
CREATE TABLE password_history (
    tenant_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX password_history_user ON password_history (tenant_id, user_id, created_at);

-- A8, A9, AC3: single-use links (invitation, reset, e-mail change, sign-up confirmation);
-- only the SHA-256 of the random token is stored.
CREATE TABLE user_tokens (
    token_hash BYTEA PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    purpose TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX user_tokens_user ON user_tokens (tenant_id, user_id, purpose);

-- E-mail waiting to be sent: sealed (it carries links), sent by a worker with retries.
CREATE TABLE mail_outbox (
    id TEXT PRIMARY KEY,
    tenant_id TEXT,
    sealed BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at BIGINT NOT NULL
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at);
