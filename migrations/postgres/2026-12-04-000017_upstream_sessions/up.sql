-- O8: a session that began at an upstream, for RP-initiated logout there when it ends. The
-- upstream's ID token (the logout's id_token_hint) is sealed under `upstream_secrets` (D1).
-- It goes with its session and its upstream.
CREATE TABLE upstream_sessions (
    sid TEXT PRIMARY KEY NOT NULL REFERENCES sessions (sid) ON DELETE CASCADE,
    tenant_id TEXT NOT NULL,
    upstream_id TEXT NOT NULL REFERENCES upstreams (id) ON DELETE CASCADE,
    id_token BYTEA NOT NULL
);
