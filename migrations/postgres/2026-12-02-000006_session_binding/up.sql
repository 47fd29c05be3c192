-- S5: a tenant may bind each session to the user agent and address that created it.
ALTER TABLE tenants ADD COLUMN bind_sessions BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE sessions ADD COLUMN user_agent_hash BYTEA;
ALTER TABLE sessions ADD COLUMN client_ip TEXT;
