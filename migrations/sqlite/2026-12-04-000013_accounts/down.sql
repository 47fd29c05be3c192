DROP TABLE mail_outbox;
DROP TABLE user_tokens;
DROP TABLE password_history;
ALTER TABLE sessions DROP COLUMN user_agent;
ALTER TABLE tenants DROP COLUMN settings;
ALTER TABLE users DROP COLUMN password_changed_at;
ALTER TABLE users DROP COLUMN email_verified;
ALTER TABLE users DROP COLUMN display_name;
