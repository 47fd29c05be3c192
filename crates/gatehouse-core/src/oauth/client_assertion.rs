//! `private_key_jwt` client authentication (RFC 7523 §2.2, §3; OIDC Core §9; O3).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_types::{OAuthErrorCode, ProtocolError};
use serde_json::Value;

use crate::UnixTime;
use crate::jose::{self, Verifier};
use crate::model::Client;

/// RFC 7523 §2.2.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Assertions may live at most this long, which bounds how long their ids are kept.
const MAX_LIFETIME: i64 = 600;
/// Clock skew tolerated on `exp` and `iat`.
const LEEWAY: i64 = 30;

const INVALID: ProtocolError = ProtocolError::new(OAuthErrorCode::InvalidClient, "client authentication failed");

/// The unverified `sub` of an assertion: only to find the client whose keys then verify it.
pub fn claimed_client_id(assertion: &str) -> Option<String> {
    let payload = assertion.split('.').nth(1)?;
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    claims.get("sub").and_then(Value::as_str).map(str::to_owned)
}

/// The identifier and expiry of a verified assertion, to be recorded against replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssertionId {
    pub jti: String,
    pub exp: i64,
}

/// RFC 7523 §3: signed by one of the client's registered keys; `iss` and `sub` are the client;
/// `aud` names this server (the issuer or the endpoint); `exp` is near; `jti` present.
pub fn verify(
    client: &Client,
    assertion: &str,
    audiences: &[String],
    now: UnixTime,
) -> Result<AssertionId, ProtocolError> {
    let keys: Vec<Verifier> = client
        .jwks
        .as_ref()
        .and_then(|s| s.get("keys"))
        .and_then(Value::as_array)
        .map(|ks| ks.iter().filter_map(|k| Verifier::from_jwk(k).ok()).collect())
        .unwrap_or_default();
    if keys.is_empty() {
        return Err(INVALID.detail("client registered no keys for private_key_jwt"));
    }
    let claims = jose::verify(assertion, &keys).map_err(|e| INVALID.detail(format!("assertion: {e}")))?.claims;
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    if text("iss") != Some(&client.client_id) || text("sub") != Some(&client.client_id) {
        return Err(INVALID.detail("assertion iss/sub is not the client"));
    }
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => audiences.contains(a),
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).any(|a| audiences.iter().any(|x| x == a)),
        _ => false,
    };
    if !aud_ok {
        return Err(INVALID.detail("assertion audience is not this server"));
    }
    let exp = claims.get("exp").and_then(Value::as_i64).ok_or(INVALID.detail("assertion has no exp"))?;
    if exp + LEEWAY <= now.0 || exp > now.0 + MAX_LIFETIME {
        return Err(INVALID.detail("assertion expired or too long-lived"));
    }
    if claims.get("iat").and_then(Value::as_i64).is_some_and(|iat| iat > now.0 + LEEWAY) {
        return Err(INVALID.detail("assertion issued in the future"));
    }
    let jti = text("jti").filter(|j| !j.is_empty() && j.len() <= 256).ok_or(INVALID.detail("assertion has no jti"))?;
    Ok(AssertionId { jti: jti.to_owned(), exp: exp + LEEWAY })
}
