DROP TABLE webauthn_ceremonies;
DROP TABLE recovery_codes;
DROP TABLE mfa_factors;
