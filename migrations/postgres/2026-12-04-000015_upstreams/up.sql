-- O8: upstream OpenID Connect providers a tenant's users may sign in with. The client secret
-- Gatehouse presents to the upstream is sealed under the `upstream_secrets` data key and
-- bound to its row (D1); the rest of an upstream's policy (how identities link to local
-- accounts, whether they are provisioned just in time) is JSON in `settings`.
CREATE TABLE upstreams (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    display_name TEXT NOT NULL,
    issuer TEXT NOT NULL,
    client_id TEXT NOT NULL,
    client_secret BYTEA,
    scopes TEXT NOT NULL,
    settings TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (tenant_id, name)
);
