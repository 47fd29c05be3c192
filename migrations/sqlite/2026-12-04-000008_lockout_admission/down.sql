ALTER TABLE account_lockouts DROP COLUMN reserved_at;
ALTER TABLE account_lockouts DROP COLUMN in_flight;
