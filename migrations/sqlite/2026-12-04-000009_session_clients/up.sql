-- S6: every client that took part in a session (was issued a code in it), kept as long as the
-- session, so back-channel logout reaches them all however long ago they signed in.
CREATE TABLE session_clients (
    tenant_id TEXT NOT NULL,
    sid TEXT NOT NULL,
    client_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, sid, client_id)
);
INSERT INTO session_clients (tenant_id, sid, client_id, created_at)
    SELECT DISTINCT tenant_id, sid, client_id, 0 FROM auth_codes;
CREATE INDEX sessions_by_sid ON sessions (tenant_id, sid);

-- S6: back-channel logout notices waiting for delivery. Written in the transaction that ends
-- the session (whoever ends it: a request, the CLI, another node); any server node delivers.
CREATE TABLE logout_notices (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    sid TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at BIGINT NOT NULL
);
CREATE INDEX logout_notices_due ON logout_notices (next_attempt_at);
