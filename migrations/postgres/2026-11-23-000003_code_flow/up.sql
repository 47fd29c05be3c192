-- Authorization Code flow, sessions and refresh tokens (PostgreSQL). Every secret value (session
-- id, code, refresh token, browser binding, CSRF token) is stored as its SHA-256 hash only.

-- Server-side sessions (S1): the cookie holds a random 256-bit id, this table its hash.
CREATE TABLE sessions (
    id_hash BYTEA PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- Public session id for the `sid` claim and back-channel logout (OIDC).
    sid TEXT NOT NULL UNIQUE,
    auth_time BIGINT NOT NULL,
    amr TEXT NOT NULL,
    acr TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    ended_at BIGINT
);
CREATE INDEX sessions_user ON sessions (tenant_id, user_id);

-- Authorization requests waiting for login or consent, bound to the browser that made them.
CREATE TABLE auth_requests (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    params TEXT NOT NULL,
    binding_hash BYTEA NOT NULL,
    csrf_hash BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- Authorization codes (O2): single use, 60 s, bound to client, redirect URI and PKCE challenge.
CREATE TABLE auth_codes (
    code_hash BYTEA PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    sid TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    scope TEXT NOT NULL,
    nonce TEXT,
    code_challenge TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    amr TEXT NOT NULL,
    acr TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    consumed_at BIGINT,
    -- What was issued from it, revoked if the code is replayed.
    family_id TEXT,
    access_jti TEXT
);

-- Refresh tokens (O3): opaque, rotated on every use; a family shares family_id.
CREATE TABLE refresh_tokens (
    token_hash BYTEA PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    family_id TEXT NOT NULL,
    sid TEXT NOT NULL,
    scope TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    amr TEXT NOT NULL,
    acr TEXT NOT NULL,
    access_jti TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    rotated_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (tenant_id, family_id);

-- Remembered consent per user and client (O6).
CREATE TABLE consents (
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, user_id, client_id)
);
