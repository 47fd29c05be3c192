//! Passwords: Argon2id hashing (A1), the password policy (A2) and brute-force lockout (A4).

pub mod common;
pub mod hash;
pub mod lockout;
pub mod policy;

pub use common::CommonPasswords;
pub use hash::{PasswordHasher, Verification};
pub use lockout::{LockoutPolicy, LockoutState, failure_delay};
pub use policy::{PasswordPolicy, PasswordRule};
