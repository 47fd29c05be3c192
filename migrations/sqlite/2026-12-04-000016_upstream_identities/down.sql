DROP TABLE upstream_identities;
