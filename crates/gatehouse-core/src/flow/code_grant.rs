//! The authorization-code grant (RFC 6749 §4.1.3, RFC 7636 §4.5; O2, O3, O4): the code is
//! single-use, short-lived and bound to the client, the redirect URI and the PKCE verifier.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_types::{GrantType, OAuthErrorCode, ProtocolError};
use serde_json::json;

use super::id_token::{IdTokenClaims, scoped_claims};
use super::{pkce, secret_hash};
use crate::UnixTime;
use crate::audit::AuditEvent;
use crate::crypto::{random_bytes, random_token};

pub use crate::crypto::random_token as new_refresh_token;
use crate::jose::Signer;
use crate::model::{Client, Tenant, User};
use crate::oauth::Params;
use crate::oauth::access_token::{self, AccessTokenClaims, Audience, TokenResponse};
use crate::store::{CodeRecord, RefreshRecord};

/// Authorization codes live 60 seconds (O2).
pub const CODE_TTL: i64 = 60;

/// A new code for `record` (whose hash field is filled in here); returns the code itself.
pub fn new_code(mut record: CodeRecord, now: UnixTime) -> (String, CodeRecord) {
    let code = random_token();
    record.code_hash = secret_hash(&code);
    record.expires_at = now.0 + CODE_TTL;
    (code, record)
}

const INVALID_GRANT: ProtocolError =
    ProtocolError::new(OAuthErrorCode::InvalidGrant, "the authorization code is invalid, expired or already used");

/// RFC 6749 §4.1.3: the code was issued to this client, for this redirect URI; RFC 7636 §4.6:
/// the verifier matches the S256 challenge.
pub fn check_code(record: &CodeRecord, client: &Client, params: &Params) -> Result<(), ProtocolError> {
    if record.client_id != client.client_id {
        return Err(INVALID_GRANT.detail("code issued to another client"));
    }
    if params.get("redirect_uri") != Some(record.redirect_uri.as_str()) {
        return Err(INVALID_GRANT.detail("redirect_uri does not match the authorization request"));
    }
    let verifier = params.get("code_verifier").ok_or(INVALID_GRANT.detail("code_verifier missing"))?;
    if !pkce::verify_s256(verifier, &record.code_challenge) {
        return Err(INVALID_GRANT.detail("PKCE verifier does not match"));
    }
    Ok(())
}

/// Who and how, for the tokens about to be issued.
#[derive(Debug)]
pub struct Grant<'a> {
    pub tenant: &'a Tenant,
    pub issuer: &'a str,
    pub client: &'a Client,
    pub user: &'a User,
    pub roles: &'a [String],
    pub scope: &'a str,
    pub sid: &'a str,
    pub auth_time: i64,
    pub amr: &'a str,
    pub acr: &'a str,
    pub nonce: Option<&'a str>,
}

/// A token response (RFC 6749 §5.1).
#[derive(Debug)]
pub struct TokenSet {
    pub access_token: String,
    pub access_jti: String,
    pub access_exp: i64,
    pub id_token: Option<String>,
    pub refresh_token: Option<String>,
    pub expires_in: i64,
    pub scope: String,
}

impl TokenSet {
    /// The response body (RFC 6749 §5.1, OIDC Core §3.1.3.3).
    pub fn response(&self) -> TokenResponse<'_> {
        TokenResponse {
            access_token: &self.access_token,
            token_type: "Bearer",
            expires_in: self.expires_in,
            scope: &self.scope,
            id_token: self.id_token.as_deref(),
            refresh_token: self.refresh_token.as_deref(),
        }
    }
}

/// Ids fixed before the code is consumed, so a replay can revoke what this use issues.
#[derive(Debug, Clone)]
pub struct IssueIds {
    pub family_id: String,
    pub access_jti: String,
}

impl IssueIds {
    /// Fresh random ids.
    pub fn new() -> Self {
        Self { family_id: URL_SAFE_NO_PAD.encode(random_bytes::<16>()), access_jti: access_token::new_jti() }
    }
}

impl Default for IssueIds {
    fn default() -> Self {
        Self::new()
    }
}

/// O3: a refresh token when the client may use the grant and `offline_access` was granted.
pub fn wants_refresh(client: &Client, scope: &str) -> bool {
    client.grant_types.contains(&GrantType::RefreshToken) && scope.split(' ').any(|s| s == "offline_access")
}

/// Signs the access token and the ID token (with `openid`), and makes the record of
/// `refresh_token` when one is given (see [`wants_refresh`]).
pub fn issue(
    g: &Grant<'_>,
    ids: &IssueIds,
    signer: &Signer,
    refresh_token: Option<String>,
    now: UnixTime,
) -> Result<(TokenSet, Option<RefreshRecord>), ProtocolError> {
    let audience = g.client.token_audience();
    let amr: Vec<String> = g.amr.split(' ').map(str::to_owned).collect();
    let claims = AccessTokenClaims {
        iss: g.issuer,
        sub: &g.user.id,
        aud: Audience::of(&audience),
        exp: 0,
        iat: 0,
        nbf: 0,
        jti: &ids.access_jti,
        client_id: &g.client.client_id,
        scope: g.scope,
        tenant: &g.tenant.slug,
        roles: Some(g.roles),
        auth_time: Some(g.auth_time),
        acr: Some(g.acr),
        amr: Some(&amr),
    };
    let at = access_token::sign(signer, claims, now, g.client.access_token_ttl).map_err(ProtocolError::server)?;
    let id_token = if g.scope.split(' ').any(|s| s == "openid") {
        let (preferred_username, email, email_verified) = scoped_claims(g.user, g.scope);
        let claims = IdTokenClaims {
            iss: g.issuer,
            sub: &g.user.id,
            aud: &g.client.client_id,
            azp: &g.client.client_id,
            exp: now.0 + g.client.access_token_ttl,
            iat: now.0,
            auth_time: g.auth_time,
            nonce: g.nonce,
            at_hash: signer.half_hash(&at.token),
            sid: g.sid,
            acr: g.acr,
            amr: g.amr.split(' ').collect(),
            roles: g.roles,
            tenant: &g.tenant.slug,
            preferred_username,
            email,
            email_verified,
        };
        Some(signer.sign("JWT", &claims).map_err(ProtocolError::server)?)
    } else {
        None
    };
    let (refresh_token, record) = if let Some(token) = refresh_token {
        let record = RefreshRecord {
            token_hash: secret_hash(&token),
            tenant_id: g.tenant.id.clone(),
            client_id: g.client.client_id.clone(),
            user_id: g.user.id.clone(),
            family_id: ids.family_id.clone(),
            sid: g.sid.to_owned(),
            scope: g.scope.to_owned(),
            auth_time: g.auth_time,
            amr: g.amr.to_owned(),
            acr: g.acr.to_owned(),
            access_jti: ids.access_jti.clone(),
            created_at: now.0,
            expires_at: now.0 + g.client.refresh_token_ttl,
        };
        (Some(token), Some(record))
    } else {
        (None, None)
    };
    let set = TokenSet {
        access_token: at.token,
        access_jti: at.jti,
        access_exp: at.expires_at,
        id_token,
        refresh_token,
        expires_in: g.client.access_token_ttl,
        scope: g.scope.to_owned(),
    };
    Ok((set, record))
}

/// The audit record of an issuance from a code or a refresh token.
pub fn audit(g: &Grant<'_>, grant: &str, set: &TokenSet) -> AuditEvent {
    AuditEvent::new(format!("user:{}", g.user.id), "token.issue")
        .tenant(&g.tenant.id)
        .target(format!("client:{}", g.client.client_id))
        .details(json!({
            "grant": grant,
            "jti": set.access_jti,
            "scope": set.scope,
            "refresh_token": set.refresh_token.is_some(),
            "id_token": set.id_token.is_some(),
        }))
}
