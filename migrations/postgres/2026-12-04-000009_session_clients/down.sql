DROP TABLE logout_notices;
DROP INDEX sessions_by_sid;
DROP TABLE session_clients;
