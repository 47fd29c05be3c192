//! Token introspection (RFC 7662; O5) of Gatehouse's own access tokens.

use serde_json::{Value, json};

use super::access_token;
use crate::UnixTime;
use crate::jose::{self, Verifier};

/// A verified, unexpired access token of this tenant, by its claims.
#[derive(Debug, Clone)]
pub struct ActiveToken {
    pub claims: Value,
    pub jti: String,
    pub client_id: String,
    pub exp: i64,
}

/// Checks signature (tenant keys only, so another tenant's token fails), `typ`, `iss` and
/// `exp`. Revocation is checked by the caller, which has the store.
pub fn check_access_token(token: &str, keys: &[Verifier], issuer: &str, now: UnixTime) -> Option<ActiveToken> {
    let verified = jose::verify(token, keys).ok()?;
    if verified.typ.as_deref() != Some(access_token::TYP) {
        return None;
    }
    let c = &verified.claims;
    let exp = c.get("exp").and_then(Value::as_i64)?;
    if c.get("iss").and_then(Value::as_str) != Some(issuer) || exp <= now.0 {
        return None;
    }
    let jti = c.get("jti").and_then(Value::as_str)?.to_owned();
    let client_id = c.get("client_id").and_then(Value::as_str)?.to_owned();
    Some(ActiveToken { claims: verified.claims, jti, client_id, exp })
}

/// RFC 7662 §2.2: the response for an active token.
pub fn active_response(t: &ActiveToken) -> Value {
    let mut out = json!({ "active": true, "token_type": "Bearer" });
    for name in [
        "scope",
        "client_id",
        "sub",
        "aud",
        "iss",
        "exp",
        "iat",
        "nbf",
        "jti",
        "tenant",
        "roles",
        "auth_time",
        "acr",
        "amr",
    ] {
        if let Some(v) = t.claims.get(name) {
            out[name] = v.clone();
        }
    }
    out
}

/// RFC 7662 §2.2: everything else is just inactive, with no reason given.
pub fn inactive_response() -> Value {
    json!({ "active": false })
}
