//! Refusals, with their RFC 6750 §3 (and RFC 9470 §3) challenges. Texts are fixed.

use std::fmt::Write;

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No bearer token: 401 with a bare challenge (RFC 6750 §3.1).
    #[error("no bearer token")]
    MissingToken,
    /// Malformed, unverifiable, expired, wrong issuer or audience, revoked: 401 `invalid_token`.
    #[error("invalid token: {0}")]
    InvalidToken(&'static str),
    /// 403 `insufficient_scope`, naming the scopes needed.
    #[error("insufficient scope")]
    InsufficientScope { scope: String },
    /// A role or tenant the token lacks: 403 `insufficient_scope`.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// Authentication too weak or too old: 401 `insufficient_user_authentication` (RFC 9470).
    #[error("insufficient user authentication")]
    StepUp { acr_values: Option<String>, max_age: Option<u64> },
    /// The issuer could not be reached: fail closed with 503.
    #[error("token validation unavailable: {0}")]
    Unavailable(String),
}

/// Status code and `WWW-Authenticate` value of a refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub status: u16,
    pub www_authenticate: Option<String>,
}

impl AuthError {
    /// The RFC 6750 response for this refusal in `realm`.
    pub fn challenge(&self, realm: &str) -> Challenge {
        let base = format!("Bearer realm=\"{realm}\"");
        let (status, header) = match self {
            Self::MissingToken => (401, Some(base)),
            Self::InvalidToken(_) => (401, Some(format!("{base}, error=\"invalid_token\""))),
            Self::InsufficientScope { scope } => {
                (403, Some(format!("{base}, error=\"insufficient_scope\", scope=\"{scope}\"")))
            }
            Self::Forbidden(_) => (403, Some(format!("{base}, error=\"insufficient_scope\""))),
            Self::StepUp { acr_values, max_age } => {
                let mut h = format!("{base}, error=\"insufficient_user_authentication\"");
                if let Some(a) = acr_values {
                    let _ = write!(h, ", acr_values=\"{a}\"");
                }
                if let Some(m) = max_age {
                    let _ = write!(h, ", max_age={m}");
                }
                (401, Some(h))
            }
            Self::Unavailable(_) => (503, None),
        };
        Challenge { status, www_authenticate: header }
    }

    /// The RFC 6750 `error` code, if any.
    pub fn code(&self) -> Option<&'static str> {
        match self {
            Self::MissingToken | Self::Unavailable(_) => None,
            Self::InvalidToken(_) => Some("invalid_token"),
            Self::InsufficientScope { .. } | Self::Forbidden(_) => Some("insufficient_scope"),
            Self::StepUp { .. } => Some("insufficient_user_authentication"),
        }
    }
}
