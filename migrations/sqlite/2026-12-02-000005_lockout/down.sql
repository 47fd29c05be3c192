DROP TABLE account_lockouts;
