-- A5, A6, A7: second factors. A TOTP factor's shared secret is sealed under the `totp` data
-- key and bound to its row (D1); it is usable once confirmed by a first code, and the last
-- accepted time step is kept so no code is accepted twice, on any node (a conditional
-- update). A passkey keeps its WebAuthn credential (public key, counter) and the transports
-- the browser reported (a hint shown to the user); its credential id is unique in the
-- tenant, which is how a passwordless sign-in finds it.
CREATE TABLE mfa_factors (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    confirmed BOOLEAN NOT NULL,
    secret BYTEA,
    last_step BIGINT,
    credential_id TEXT,
    credential TEXT,
    transports TEXT,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX mfa_factors_user ON mfa_factors (tenant_id, user_id);
CREATE UNIQUE INDEX mfa_factors_credential ON mfa_factors (tenant_id, credential_id);

-- A5: single-use recovery codes, stored as keyed hashes.
CREATE TABLE recovery_codes (
    tenant_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    code_hash BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    used_at BIGINT,
    PRIMARY KEY (tenant_id, user_id, code_hash),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

-- A5: WebAuthn ceremonies between the page that started them and the answer (the
-- challenge and what it allows), taken once.
CREATE TABLE webauthn_ceremonies (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    user_id TEXT,
    purpose TEXT NOT NULL,
    state TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX webauthn_ceremonies_expiry ON webauthn_ceremonies (expires_at);
