-- A4: consecutive failed sign-ins per account, and the temporary lockout they lead to.
-- Only existing accounts get a row; unknown usernames leave no trace here.
CREATE TABLE account_lockouts (
    tenant_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    failures INTEGER NOT NULL,
    lockouts INTEGER NOT NULL,
    locked_until BIGINT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, user_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
