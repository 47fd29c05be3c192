DROP TABLE revoked_tokens;
DROP TABLE signing_keys;
ALTER TABLE clients DROP COLUMN settings;
