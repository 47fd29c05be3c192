//! Guard configuration.

use std::time::Duration;

use jsonwebtoken::Algorithm;

/// What the API accepts. `issuer` is the tenant's issuer exactly as it appears in `iss`;
/// `audiences` are the API's own identifiers (one must appear in `aud`).
#[derive(Debug, Clone)]
pub struct GuardConfig {
    pub issuer: String,
    pub audiences: Vec<String>,
    /// Clock skew tolerated on `exp`, `nbf` and `iat` (default 30 s).
    pub leeway: Duration,
    /// Signature algorithms accepted (default ES256, RS256, EdDSA; HMAC and `none` never).
    pub algorithms: Vec<Algorithm>,
    /// Minimum time between JWKS fetches triggered by an unknown `kid` (default 30 s).
    pub refresh_interval: Duration,
    /// JWKS lifetime when the response carries no `max-age` (default 5 min).
    pub default_jwks_ttl: Duration,
    /// Introspection mode: how long a positive answer is reused (default 5 s).
    pub introspection_cache: Duration,
    /// Realm in `WWW-Authenticate` challenges.
    pub realm: String,
}

impl GuardConfig {
    /// Defaults for `issuer` and `audiences`.
    pub fn new(issuer: impl Into<String>, audiences: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            issuer: issuer.into(),
            audiences: audiences.into_iter().map(Into::into).collect(),
            leeway: Duration::from_secs(30),
            algorithms: vec![Algorithm::ES256, Algorithm::RS256, Algorithm::EdDSA],
            refresh_interval: Duration::from_secs(30),
            default_jwks_ttl: Duration::from_secs(300),
            introspection_cache: Duration::from_secs(5),
            realm: "api".to_owned(),
        }
    }

    /// Only asymmetric algorithms Gatehouse signs with may ever be allowed (G1).
    pub(crate) fn allows(&self, alg: Algorithm) -> bool {
        matches!(alg, Algorithm::ES256 | Algorithm::RS256 | Algorithm::EdDSA) && self.algorithms.contains(&alg)
    }
}
