//! What a waiting sign-in is for, and how far it has come (A7, A8). A sign-in continues either
//! an authorization request or one of the tenant's own pages (the account pages); after the
//! password it may still have steps to take (a required password change, a factor to enrol),
//! and until the last one is done there is no session, only this record of progress, bound to
//! the browser like the request itself.

use serde::{Deserialize, Serialize};

use super::authorize::AuthorizeRequest;

/// Where the browser goes once signed in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "then", rename_all = "snake_case")]
pub enum Continuation {
    /// An authorization request (O2): a code, or consent first.
    Authorize(Box<AuthorizeRequest>),
    /// A page of the tenant's under its issuer (`/account`, ...).
    Page { path: String },
}

/// A step between the password and the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// A8, A2: the password must be replaced (first sign-in, reset by an operator, expiry).
    ChangePassword,
    /// A6: a second factor must be enrolled before any session (administrators, the
    /// tenant's policy, a client's `acr_values`).
    EnrollFactor,
    /// A6: an enrolled second factor must be presented.
    SecondFactor,
    /// A5: a new set of recovery codes is on screen; the user confirms having kept them.
    RecoveryCodes,
}

/// A sign-in that has passed the password (A7: no session yet).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub user_id: String,
    /// The methods presented so far (RFC 8176 values).
    pub amr: Vec<String>,
    pub step: Step,
    /// EnrollFactor: the TOTP factor waiting for its first code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factor_id: Option<String>,
    /// The WebAuthn ceremony the step's page started (its stored state's id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ceremony: Option<String>,
}

/// A waiting sign-in as stored with its pending request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignIn {
    pub continuation: Continuation,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<Progress>,
    /// A5: the passwordless (passkey) ceremony the login page started, if the tenant allows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ceremony: Option<String>,
    /// O8: the request this sign-in sent to an upstream, waiting for its answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<UpstreamLeg>,
    /// O8 `after-local-sign-in`: the upstream identity to link once the local sign-in is done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<PendingLink>,
    /// O8: the upstream this sign-in came through, with its ID token, when the session is to
    /// end there too (RP-Initiated Logout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub federated: Option<Federated>,
}

/// O8: a sign-in through an upstream whose session is ended there at logout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Federated {
    pub upstream_id: String,
    /// The upstream's ID token: the `id_token_hint` of the logout there.
    pub id_token: String,
}

/// O8: what a sign-in sent to an upstream, to check its answer by (single use).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamLeg {
    pub upstream_id: String,
    /// SHA-256 of the `state` sent (the browser brings it back; the stored hash proves it).
    pub state_hash: Vec<u8>,
    /// OIDC Core §3.1.2.1: the `nonce` the ID token must carry.
    pub nonce: String,
    /// RFC 7636: the PKCE verifier of the `code_challenge` sent.
    pub pkce_verifier: String,
    /// OIDC Core §3.1.2.1: the `max_age` passed on (the ID token's `auth_time` must honour it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<i64>,
    /// When the request was sent (Unix seconds).
    #[serde(default)]
    pub sent_at: i64,
}

/// O8: an upstream identity waiting to be linked to the account that signs in locally next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingLink {
    pub upstream_id: String,
    pub subject: String,
    /// The upstream's display name, for the page that asks for the local sign-in.
    pub display_name: String,
}

impl SignIn {
    /// A fresh sign-in for `continuation`.
    pub fn new(continuation: Continuation) -> Self {
        Self { continuation, progress: None, ceremony: None, upstream: None, link: None, federated: None }
    }

    /// Reads a stored interaction; a bare authorization request (stored before interactions
    /// existed) is one without progress.
    pub fn from_stored(json: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(json).or_else(|_| {
            serde_json::from_str::<AuthorizeRequest>(json).map(|a| Self::new(Continuation::Authorize(Box::new(a))))
        })
    }
}

/// A page path a sign-in may continue to: the tenant's account pages only (never another
/// site or an arbitrary path, so the sign-in cannot be used as an open redirect).
pub fn page_path(path: &str) -> Option<&str> {
    let ok = (path == "/account" || path.starts_with("/account/"))
        && path.len() <= 100
        && path.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_'));
    ok.then_some(path)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn only_account_paths_are_continued_to() {
        assert_eq!(page_path("/account/password"), Some("/account/password"));
        for bad in
            ["//evil.example", "/accountx", "https://evil.example/account", "/account/../authorize", "/account?x"]
        {
            assert_eq!(page_path(bad), None, "{bad}");
        }
    }

    #[test]
    fn progress_round_trips_and_old_records_still_read() {
        let i = SignIn {
            continuation: Continuation::Page { path: "/account".into() },
            progress: Some(Progress {
                user_id: "u".into(),
                amr: vec!["pwd".into()],
                step: Step::ChangePassword,
                factor_id: None,
                ceremony: Some("c".into()),
            }),
            ceremony: None,
            upstream: None,
            link: None,
            federated: None,
        };
        let json = serde_json::to_string(&i).unwrap();
        assert_eq!(SignIn::from_stored(&json).unwrap(), i);
        assert!(SignIn::from_stored("{not json").is_err());
    }
}
