-- O8: an upstream identity is the pair (upstream, `sub`); it signs in as one local account.
-- It goes with its upstream and with its user.
CREATE TABLE upstream_identities (
    tenant_id TEXT NOT NULL,
    upstream_id TEXT NOT NULL REFERENCES upstreams (id) ON DELETE CASCADE,
    subject TEXT NOT NULL,
    user_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    PRIMARY KEY (tenant_id, upstream_id, subject),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX upstream_identities_user ON upstream_identities (tenant_id, user_id, upstream_id);
