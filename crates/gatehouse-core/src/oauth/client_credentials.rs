//! The client-credentials grant (RFC 6749 §4.4; O3).

use gatehouse_types::{ClientType, GrantType, OAuthErrorCode, ProtocolError, ScopeSet};
use serde_json::json;

use super::Params;
use super::access_token::{self, AccessTokenClaims, Audience, SignedAccessToken};
use crate::UnixTime;
use crate::audit::AuditEvent;
use crate::jose::Signer;
use crate::model::{Client, Tenant};

/// A token response for this grant: no refresh token (RFC 6749 §4.4.3).
#[derive(Debug)]
pub struct Issued {
    pub access_token: SignedAccessToken,
    pub expires_in: i64,
    pub scope: String,
}

/// RFC 6749 §4.4: only confidential clients registered for the grant may use it.
fn check_grant_allowed(client: &Client) -> Result<(), ProtocolError> {
    if client.client_type != ClientType::Confidential || !client.grant_types.contains(&GrantType::ClientCredentials) {
        return Err(ProtocolError::new(OAuthErrorCode::UnauthorizedClient, "the client may not use this grant"));
    }
    Ok(())
}

/// RFC 6749 §3.3: requested scopes must be registered for the client; none requested means
/// all registered ones. User scopes (`openid`, `offline_access`) mean nothing without a user.
pub fn granted_scope(client: &Client, requested: Option<&str>) -> Result<ScopeSet, ProtocolError> {
    let invalid = ProtocolError::new(OAuthErrorCode::InvalidScope, "the requested scope is invalid or not allowed");
    let allowed = ScopeSet::parse(&client.scope).map_err(ProtocolError::server)?;
    let scope = match requested {
        Some(r) => ScopeSet::parse(r).map_err(|_| invalid.clone())?,
        None => allowed.clone(),
    };
    if scope.iter().any(|s| !allowed.contains(s.as_str()) || matches!(s.as_str(), "openid" | "offline_access")) {
        return Err(invalid);
    }
    Ok(scope)
}

/// Issues an access token whose subject is the client itself, and its audit record.
pub fn issue(
    tenant: &Tenant,
    issuer: &str,
    client: &Client,
    params: &Params,
    signer: &Signer,
    now: UnixTime,
) -> Result<(Issued, AuditEvent), ProtocolError> {
    check_grant_allowed(client)?;
    let scope = granted_scope(client, params.get("scope"))?.to_string();
    let audience = client.token_audience();
    let jti = access_token::new_jti();
    let claims = AccessTokenClaims {
        iss: issuer,
        sub: &client.client_id,
        aud: Audience::of(&audience),
        exp: 0,
        iat: 0,
        nbf: 0,
        jti: &jti,
        client_id: &client.client_id,
        scope: &scope,
        tenant: &tenant.slug,
        roles: None,
        auth_time: None,
        acr: None,
        amr: None,
    };
    let token = access_token::sign(signer, claims, now, client.access_token_ttl).map_err(ProtocolError::server)?;
    let audit = AuditEvent::new(format!("client:{}", client.client_id), "token.issue")
        .tenant(&tenant.id)
        .target(format!("client:{}", client.client_id))
        .details(json!({ "grant": "client_credentials", "jti": token.jti, "scope": scope, "exp": token.expires_at }));
    Ok((Issued { access_token: token, expires_in: client.access_token_ttl, scope }, audit))
}
