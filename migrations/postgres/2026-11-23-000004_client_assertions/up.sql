-- private_key_jwt (RFC 7523): assertion ids seen, kept until the assertion expires, so a
-- replayed assertion is refused (O3).
CREATE TABLE client_assertion_jtis (
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    jti TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, client_id, jti)
);
