//! Argon2id password hashes in PHC format (A1).

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use gatehouse_types::Secret;

use crate::crypto::random_bytes;

/// Outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    Invalid,
    Valid,
    /// Valid, but hashed with other parameters: rehash on this login (A1).
    ValidNeedsRehash,
}

/// Argon2id with the configured cost; default m=19456 KiB, t=2, p=1 (A1, OWASP).
#[derive(Debug, Clone)]
pub struct PasswordHasher {
    params: Params,
}

/// Why hashing failed (bad parameters); never carries the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(&'static str);

impl Default for PasswordHasher {
    fn default() -> Self {
        // The defaults are valid Argon2 parameters.
        match Self::new(19_456, 2, 1) {
            Ok(h) => h,
            Err(_) => unreachable!("default Argon2 parameters are valid"),
        }
    }
}

impl PasswordHasher {
    /// A hasher with memory `m_kib`, `t` passes and `p` lanes.
    pub fn new(m_kib: u32, t: u32, p: u32) -> Result<Self, HashError> {
        let params = Params::new(m_kib, t, p, None).map_err(|_| HashError("invalid Argon2 parameters"))?;
        Ok(Self { params })
    }

    fn argon2(&self) -> Argon2<'_> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// Hashes a password with a fresh 128-bit salt. CPU- and memory-heavy: call it off the
    /// async executor, with bounded concurrency (A1).
    pub fn hash(&self, password: &Secret<String>) -> Result<String, HashError> {
        let salt = SaltString::encode_b64(&random_bytes::<16>()).map_err(|_| HashError("salt"))?;
        self.argon2()
            .hash_password(password.expose().as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|_| HashError("argon2"))
    }

    /// Checks a password against a stored PHC string; a malformed hash is `Invalid` (fail closed).
    pub fn verify(&self, password: &Secret<String>, phc: &str) -> Verification {
        let Ok(parsed) = PasswordHash::new(phc) else { return Verification::Invalid };
        if self.argon2().verify_password(password.expose().as_bytes(), &parsed).is_err() {
            return Verification::Invalid;
        }
        let current = parsed.algorithm.as_str() == "argon2id"
            && Params::try_from(&parsed).is_ok_and(|p| {
                p.m_cost() == self.params.m_cost()
                    && p.t_cost() == self.params.t_cost()
                    && p.p_cost() == self.params.p_cost()
            });
        if current { Verification::Valid } else { Verification::ValidNeedsRehash }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let h = PasswordHasher::default();
        let pw = Secret::new("correct horse battery staple".to_string());
        let phc = h.hash(&pw).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert_eq!(h.verify(&pw, &phc), Verification::Valid);
        assert_eq!(h.verify(&Secret::new("wrong".into()), &phc), Verification::Invalid);
        assert_eq!(h.verify(&pw, "garbage"), Verification::Invalid);
        let stronger = PasswordHasher::new(19_456, 3, 1).unwrap();
        assert_eq!(stronger.verify(&pw, &phc), Verification::ValidNeedsRehash);
    }
}
