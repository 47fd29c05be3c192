-- OAuth 2.0 / OpenID Connect core (SQLite).

-- Per-client token settings as one JSON object (O3, O4, O7, S6): audiences, token
-- lifetimes, signing algorithm, web origins, back-channel logout URI.
ALTER TABLE clients ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';

-- Token signing keys per tenant (O4); private keys sealed under the signing-key DEK (D1).
-- retire_at NULL: current. Otherwise published in the JWKS until retire_at (overlap window).
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    alg TEXT NOT NULL CHECK (alg IN ('ES256', 'RS256', 'EdDSA')),
    private_key BLOB NOT NULL,
    public_jwk TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    retire_at BIGINT
);
CREATE INDEX signing_keys_tenant ON signing_keys (tenant_id, alg, created_at);

-- Access tokens revoked by jti (RFC 7009), kept until they expire anyway.
CREATE TABLE revoked_tokens (
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    jti TEXT NOT NULL,
    client_id TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, jti)
);
