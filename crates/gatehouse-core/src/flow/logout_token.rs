//! Logout tokens (OpenID Connect Back-Channel Logout 1.0 §2.4; S6).

use serde::Serialize;
use serde_json::{Value, json};

use crate::UnixTime;
use crate::jose::{JoseError, Signer};
use crate::oauth::access_token::new_jti;

/// The `events` member that makes a JWT a logout token.
pub const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// The JOSE `typ` of logout tokens (§2.4).
pub const TYP: &str = "logout+jwt";

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
    jti: String,
    sub: &'a str,
    sid: &'a str,
    events: Value,
}

/// A logout token for `client_id` about session `sid` of user `sub`; never has a `nonce`.
pub fn sign(
    signer: &Signer,
    issuer: &str,
    client_id: &str,
    sub: &str,
    sid: &str,
    now: UnixTime,
) -> Result<String, JoseError> {
    let claims = Claims {
        iss: issuer,
        aud: client_id,
        iat: now.0,
        exp: now.0 + 120,
        jti: new_jti(),
        sub,
        sid,
        events: json!({ EVENT: {} }),
    };
    signer.sign(TYP, &claims)
}
