//! Passwords: Argon2id hashing (A1) and the password policy (A2).

pub mod hash;
pub mod policy;

pub use hash::{PasswordHasher, Verification};
pub use policy::{PasswordPolicy, PasswordRule};
