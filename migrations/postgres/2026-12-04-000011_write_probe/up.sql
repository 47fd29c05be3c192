-- L4: readiness proves the database takes writes by updating this one row.
CREATE TABLE write_probe (
    id INTEGER PRIMARY KEY,
    at BIGINT NOT NULL
);
INSERT INTO write_probe (id, at) VALUES (1, 0);
