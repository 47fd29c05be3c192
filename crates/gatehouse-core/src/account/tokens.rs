//! Single-use account links (A8, A9, AC3): 256 random bits, of which only the SHA-256 is
//! stored, for one purpose, expiring, used at most once (a conditional update in the store),
//! and void once a newer one of the same purpose is issued.

use crate::UnixTime;
use crate::crypto::random_token;
use crate::flow::secret_hash;

/// What a link is for, and how long it lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    /// A8: an invited user sets their first password (72 hours).
    Invite,
    /// A9: a user who forgot their password sets a new one (30 minutes).
    Reset,
    /// A new e-mail address is confirmed from its own mailbox (24 hours).
    Email,
    /// AC3: a self-registered user confirms their address (24 hours).
    Verify,
}

impl TokenPurpose {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invite => "invite",
            Self::Reset => "reset",
            Self::Email => "email",
            Self::Verify => "verify",
        }
    }

    /// How long a link lives.
    pub fn ttl_secs(self) -> i64 {
        match self {
            Self::Invite => 72 * 3600,
            Self::Reset => 30 * 60,
            Self::Email | Self::Verify => 24 * 3600,
        }
    }
}

/// A link as stored: its hash, never the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserToken {
    pub token_hash: Vec<u8>,
    pub tenant_id: String,
    pub user_id: String,
    pub purpose: TokenPurpose,
    /// What the link carries besides the user (the new address of an e-mail change).
    pub data: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A new link for `user_id`: the token to send, and the record to store.
pub fn issue_token(
    tenant_id: &str,
    user_id: &str,
    purpose: TokenPurpose,
    data: &str,
    now: UnixTime,
) -> (String, UserToken) {
    let token = random_token();
    let record = UserToken {
        token_hash: secret_hash(&token),
        tenant_id: tenant_id.to_owned(),
        user_id: user_id.to_owned(),
        purpose,
        data: data.to_owned(),
        created_at: now.0,
        expires_at: now.0 + purpose.ttl_secs(),
    };
    (token, record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_random_hashed_and_expire_by_purpose() {
        let (a, ra) = issue_token("t", "u", TokenPurpose::Reset, "", UnixTime(1000));
        let (b, _) = issue_token("t", "u", TokenPurpose::Reset, "", UnixTime(1000));
        assert_ne!(a, b);
        assert_eq!(a.len(), 43, "256 bits");
        assert_eq!(ra.token_hash, secret_hash(&a));
        assert_eq!(ra.expires_at, 1000 + 1800, "a reset link lives 30 minutes");
        assert_eq!(issue_token("t", "u", TokenPurpose::Invite, "", UnixTime(0)).1.expires_at, 72 * 3600);
    }
}
