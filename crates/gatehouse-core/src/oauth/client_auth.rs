//! Client authentication at the token, introspection and revocation endpoints (RFC 6749
//! §2.3.1, RFC 7523; O3): `client_secret_basic`, `client_secret_post`, `private_key_jwt`,
//! and `none` for public clients.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use gatehouse_types::{ClientType, OAuthErrorCode, ProtocolError, Secret};
use subtle::ConstantTimeEq;

use super::Params;
use super::client_assertion::{self, AssertionId};
use crate::UnixTime;
use crate::admin::client_secret_hash;
use crate::crypto::Vault;
use crate::model::Client;

/// What the client presented.
#[derive(Debug)]
pub enum ClientAuth {
    /// `client_secret_basic` (`basic = true`) or `client_secret_post`.
    Secret { client_id: String, secret: Secret<String>, basic: bool },
    /// `none`: a public client names itself.
    None { client_id: String },
    /// `private_key_jwt`: a JWT signed with one of the client's registered keys.
    Assertion { client_id: String, assertion: String },
}

impl ClientAuth {
    /// The client id presented.
    pub fn client_id(&self) -> &str {
        match self {
            Self::Secret { client_id, .. } | Self::None { client_id } | Self::Assertion { client_id, .. } => client_id,
        }
    }

    /// Whether the client used HTTP Basic (then a 401 carries a Basic challenge).
    pub fn used_basic(&self) -> bool {
        matches!(self, Self::Secret { basic: true, .. })
    }
}

const INVALID_CLIENT: ProtocolError = ProtocolError::new(OAuthErrorCode::InvalidClient, "client authentication failed");

/// RFC 6749 §2.3.1: Basic credentials are form-urlencoded before base64.
fn parse_basic(header: &str) -> Result<(String, Secret<String>), ProtocolError> {
    let b64 = header.strip_prefix("Basic ").ok_or(INVALID_CLIENT)?;
    let raw = STANDARD.decode(b64.trim()).map_err(|_| INVALID_CLIENT)?;
    let text = String::from_utf8(raw).map_err(|_| INVALID_CLIENT)?;
    let (id, secret) = text.split_once(':').ok_or(INVALID_CLIENT)?;
    let decode = |s: &str| -> String {
        url::form_urlencoded::parse(format!("x={s}").as_bytes()).map(|(_, v)| v.into_owned()).next().unwrap_or_default()
    };
    let id = decode(id);
    // IO1: a client id is printable, like every protocol value.
    if super::params::has_control(&id) {
        return Err(INVALID_CLIENT.detail("control character in the client id"));
    }
    Ok((id, Secret::new(decode(secret))))
}

/// Reads the client's credentials; more than one method at once is `invalid_request`
/// (RFC 6749 §2.3), none at all is `invalid_client`.
pub fn from_request(authorization: Option<&str>, params: &Params) -> Result<ClientAuth, ProtocolError> {
    if params.get("client_assertion").is_some() || params.get("client_assertion_type").is_some() {
        return from_assertion(authorization, params);
    }
    match authorization {
        Some(h) if h.starts_with("Basic ") => {
            if params.get("client_secret").is_some() {
                return Err(ProtocolError::new(
                    OAuthErrorCode::InvalidRequest,
                    "more than one client authentication method",
                ));
            }
            let (client_id, secret) = parse_basic(h)?;
            if params.get("client_id").is_some_and(|id| id != client_id) {
                return Err(ProtocolError::new(
                    OAuthErrorCode::InvalidRequest,
                    "client_id does not match the credentials",
                ));
            }
            Ok(ClientAuth::Secret { client_id, secret, basic: true })
        }
        _ => {
            let client_id =
                params.get("client_id").ok_or(INVALID_CLIENT.detail("no client authentication"))?.to_owned();
            match params.get("client_secret") {
                Some(s) => Ok(ClientAuth::Secret { client_id, secret: Secret::new(s.to_owned()), basic: false }),
                None => Ok(ClientAuth::None { client_id }),
            }
        }
    }
}

/// RFC 7523 §2.2: the assertion type, the assertion, and nothing else that authenticates.
fn from_assertion(authorization: Option<&str>, params: &Params) -> Result<ClientAuth, ProtocolError> {
    if authorization.is_some_and(|h| h.starts_with("Basic ")) || params.get("client_secret").is_some() {
        return Err(ProtocolError::new(OAuthErrorCode::InvalidRequest, "more than one client authentication method"));
    }
    if params.get("client_assertion_type") != Some(client_assertion::ASSERTION_TYPE) {
        return Err(INVALID_CLIENT.detail("unsupported client_assertion_type"));
    }
    let assertion = params.get("client_assertion").ok_or(INVALID_CLIENT.detail("client_assertion missing"))?.to_owned();
    let claimed = client_assertion::claimed_client_id(&assertion);
    let client_id = match (params.get("client_id"), claimed) {
        (Some(id), Some(sub)) if id != sub => {
            return Err(INVALID_CLIENT.detail("client_id does not match the assertion"));
        }
        (Some(id), _) => id.to_owned(),
        (None, Some(sub)) => sub,
        (None, None) => return Err(INVALID_CLIENT.detail("assertion names no client")),
    };
    Ok(ClientAuth::Assertion { client_id, assertion })
}

/// O3: the client exists in this tenant and proved itself: a confidential client by its
/// secret (keyed hash compared in constant time), a public client by name only.
/// A `private_key_jwt` success returns the assertion's id, which the caller records so the
/// same assertion is refused next time (RFC 7523 §3 item 7).
pub fn authenticate(
    client: Option<&Client>,
    auth: &ClientAuth,
    vault: &Vault,
    audiences: &[String],
    now: UnixTime,
) -> Result<Option<AssertionId>, ProtocolError> {
    let client = client.ok_or(INVALID_CLIENT.detail("unknown client"))?;
    match (client.client_type, auth) {
        (ClientType::Confidential, ClientAuth::Assertion { assertion, .. }) => {
            client_assertion::verify(client, assertion, audiences, now).map(Some)
        }
        (ClientType::Public, ClientAuth::Assertion { .. }) => {
            Err(INVALID_CLIENT.detail("public client sent an assertion"))
        }
        (ClientType::Confidential, ClientAuth::Secret { secret, .. }) => {
            let presented = client_secret_hash(vault, &client.client_id, secret).map_err(ProtocolError::server)?;
            let stored = client.secret_hash.as_deref().unwrap_or_default();
            if bool::from(presented.as_slice().ct_eq(stored)) {
                Ok(None)
            } else {
                Err(INVALID_CLIENT.detail("wrong client secret"))
            }
        }
        (ClientType::Confidential, ClientAuth::None { .. }) => {
            Err(INVALID_CLIENT.detail("confidential client sent no secret"))
        }
        (ClientType::Public, ClientAuth::None { .. }) => Ok(None),
        (ClientType::Public, ClientAuth::Secret { .. }) => Err(INVALID_CLIENT.detail("public client sent a secret")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded() {
        let h = format!("Basic {}", STANDARD.encode("my%3Aclient:s%2Bcret"));
        let (id, secret) = parse_basic(&h).unwrap();
        assert_eq!(id, "my:client");
        assert_eq!(secret.expose(), "s+cret");
    }

    #[test]
    fn two_methods_at_once_are_refused() {
        let h = format!("Basic {}", STANDARD.encode("a:b"));
        let p = Params::parse(b"client_secret=b").unwrap();
        assert_eq!(from_request(Some(&h), &p).unwrap_err().code, OAuthErrorCode::InvalidRequest);
        let p = Params::parse(b"").unwrap();
        assert_eq!(from_request(None, &p).unwrap_err().code, OAuthErrorCode::InvalidClient);
    }
}
