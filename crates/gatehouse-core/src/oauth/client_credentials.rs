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

/// Scopes that describe or act for a user (OIDC Core §5.4, §11): a client-credentials token
/// has no user, so they are never granted to one.
pub const USER_SCOPES: [&str; 6] = ["openid", "offline_access", "profile", "email", "address", "phone"];

/// Whether `scope` is one of [`USER_SCOPES`].
pub fn is_user_scope(scope: &str) -> bool {
    USER_SCOPES.contains(&scope)
}

/// RFC 6749 §3.3: requested scopes must be registered for the client and not user scopes;
/// none requested means the pre-defined default, every registered scope that is not a user
/// scope (and `invalid_scope` when that leaves none).
pub fn granted_scope(client: &Client, requested: Option<&str>) -> Result<ScopeSet, ProtocolError> {
    let invalid = ProtocolError::new(OAuthErrorCode::InvalidScope, "the requested scope is invalid or not allowed");
    let allowed = ScopeSet::parse(&client.scope).map_err(ProtocolError::server)?;
    let scope = match requested {
        Some(r) => ScopeSet::parse(r).map_err(|_| invalid.clone())?,
        None => {
            let machine: ScopeSet = allowed.iter().filter(|s| !is_user_scope(s.as_str())).cloned().collect();
            if machine.is_empty() {
                return Err(invalid);
            }
            machine
        }
    };
    if scope.iter().any(|s| !allowed.contains(s.as_str()) || is_user_scope(s.as_str())) {
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
        // AC5: a service client's roles, exactly as administered.
        roles: (!client.roles.is_empty()).then_some(client.roles.as_slice()),
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::jose::SigningAlg;

    fn client(scope: &str) -> Client {
        Client {
            client_id: "svc".into(),
            tenant_id: "t".into(),
            name: "svc".into(),
            client_type: ClientType::Confidential,
            secret_hash: None,
            redirect_uris: vec![],
            post_logout_redirect_uris: vec![],
            grant_types: vec![GrantType::AuthorizationCode, GrantType::ClientCredentials],
            scope: scope.into(),
            first_party: false,
            created_at: 0,
            audiences: vec![],
            access_token_ttl: 300,
            refresh_token_ttl: 3600,
            signing_alg: SigningAlg::Es256,
            web_origins: vec![],
            backchannel_logout_uri: None,
            jwks: None,
            roles: Vec::new(),
        }
    }

    #[test]
    fn no_scope_means_the_registered_machine_scopes() {
        let c = client("openid profile email offline_access reports:read reports:write");
        assert_eq!(granted_scope(&c, None).unwrap().to_string(), "reports:read reports:write");
    }

    #[test]
    fn no_machine_scope_registered_is_invalid_scope() {
        let e = granted_scope(&client("openid profile"), None).unwrap_err();
        assert_eq!(e.code, OAuthErrorCode::InvalidScope);
    }

    #[test]
    fn requested_user_or_unregistered_scopes_are_refused() {
        let c = client("openid profile reports:read");
        for asked in ["profile", "openid reports:read", "reports:write", "reports:read  profile"] {
            assert_eq!(granted_scope(&c, Some(asked)).unwrap_err().code, OAuthErrorCode::InvalidScope, "{asked}");
        }
        assert_eq!(granted_scope(&c, Some("reports:read")).unwrap().to_string(), "reports:read");
    }
}
