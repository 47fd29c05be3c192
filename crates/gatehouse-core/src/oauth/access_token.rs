//! JWT access tokens per RFC 9068 (O4): `typ: at+jwt`, `iss`, `sub`, `aud`, `client_id`,
//! `scope`, `jti`, `exp`, `iat`, plus the tenant and, for user tokens, roles (AC5).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;

use crate::UnixTime;
use crate::crypto::random_bytes;
use crate::jose::{JoseError, Signer};

/// The JOSE `typ` of access tokens (RFC 9068 §2.1).
pub const TYP: &str = "at+jwt";

/// One audience is a string, several an array (RFC 7519 §4.1.3).
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Audience<'a> {
    One(&'a str),
    Many(&'a [String]),
}

impl<'a> Audience<'a> {
    /// The compact form for `list`.
    pub fn of(list: &'a [String]) -> Self {
        match list {
            [one] => Self::One(one),
            many => Self::Many(many),
        }
    }
}

/// RFC 9068 §2.2 claims.
#[derive(Debug, Serialize)]
pub struct AccessTokenClaims<'a> {
    pub iss: &'a str,
    pub sub: &'a str,
    pub aud: Audience<'a>,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    pub jti: &'a str,
    pub client_id: &'a str,
    pub scope: &'a str,
    /// The tenant's slug.
    pub tenant: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acr: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amr: Option<&'a [String]>,
}

/// A fresh 128-bit token identifier.
pub fn new_jti() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<16>())
}

/// The token endpoint's success body (RFC 6749 §5.1), serialized without an intermediate map.
#[derive(Debug, Serialize)]
pub struct TokenResponse<'a> {
    pub access_token: &'a str,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub scope: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<&'a str>,
}

/// A signed access token and what was put in it.
#[derive(Debug)]
pub struct SignedAccessToken {
    pub token: String,
    pub jti: String,
    pub expires_at: i64,
}

/// Signs the claims; `exp` is `now + ttl`.
pub fn sign(
    signer: &Signer,
    mut claims: AccessTokenClaims<'_>,
    now: UnixTime,
    ttl: i64,
) -> Result<SignedAccessToken, JoseError> {
    claims.iat = now.0;
    claims.nbf = now.0;
    claims.exp = now.0 + ttl;
    let token = signer.sign(TYP, &claims)?;
    Ok(SignedAccessToken { token, jti: claims.jti.to_owned(), expires_at: claims.exp })
}
