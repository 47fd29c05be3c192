DROP TABLE audit_log;
DROP TABLE data_keys;
DROP TABLE clients;
DROP TABLE role_assignments;
DROP TABLE roles;
DROP TABLE users;
DROP TABLE tenants;
