//! Cryptographic helpers on the tree's one provider, aws-lc-rs: randomness, keyed hashes and
//! the envelope encryption of secrets at rest (D1).

pub mod random;
pub mod vault;

pub use random::{random_bytes, random_token};
pub use vault::{CryptoError, KeyKind, MasterKey, Vault, WrappedKey};
