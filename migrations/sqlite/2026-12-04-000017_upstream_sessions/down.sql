DROP TABLE upstream_sessions;
