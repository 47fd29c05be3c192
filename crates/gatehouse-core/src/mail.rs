//! Outgoing mail (A8, A9, AC3). A message is composed by the caller, sealed under the mail
//! data key (it carries single-use links) and queued in the database in the transaction of
//! the change that sends it; a worker delivers it with retries, so a slow or failing mail
//! server never blocks a request and a crash loses nothing.

use serde::{Deserialize, Serialize};

use crate::crypto::{CryptoError, KeyKind, Vault};

/// One message, ready to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingMail {
    /// `Name <address>` or a bare address.
    pub from: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl OutgoingMail {
    /// Seals the message for the outbox row `id` (the id is bound in as associated data).
    pub fn seal(&self, vault: &Vault, id: &str) -> Result<Vec<u8>, CryptoError> {
        let json = serde_json::to_vec(self).map_err(|_| CryptoError::Tampered)?;
        vault.seal(KeyKind::Mail, id.as_bytes(), &json)
    }

    /// Opens the message of outbox row `id`.
    pub fn open(vault: &Vault, id: &str, sealed: &[u8]) -> Result<Self, CryptoError> {
        let json = vault.open(KeyKind::Mail, id.as_bytes(), sealed)?;
        serde_json::from_slice(json.expose()).map_err(|_| CryptoError::Tampered)
    }
}

/// A queued message as the worker sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMail {
    pub id: String,
    pub sealed: Vec<u8>,
    pub attempts: i32,
}
