-- IO1, A8: usernames are compared case-insensitively, so they are stored normalized (lower
-- case; NFKC is the identity on the allowlisted ASCII characters). The existing unique index
-- on (tenant_id, username) then holds for the normalized form. Before this runs, Gatehouse
-- refuses to migrate (naming them) when two accounts of a tenant differ only in case.
UPDATE users SET username = lower(username);
