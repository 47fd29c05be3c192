//! Who calls the admin API (AC2, A6): a Gatehouse access token, validated with
//! `gatehouse-guard` (the library resource servers use) against the issuing tenant's keys, for
//! the admin API's audience, not revoked; either a user's, from a sign-in with a second factor
//! (`acr`), or a service client's (client credentials: automation). The caller's level comes
//! from the roles as stored now, not as the token remembers them, so a role taken away stops
//! working at once. Anything that cannot be evaluated refuses (fail closed).

use actix_web::HttpRequest;
use actix_web::http::header;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_core::admin::authz::{Level, Operator};
use gatehouse_core::audit::{AuditEvent, Outcome};
use gatehouse_core::jose::SigningAlg;
use gatehouse_core::mfa::ACR_MFA;
use gatehouse_core::store::{ClientStore, RevocationStore, UserStore};
use gatehouse_guard::{Guard, GuardConfig, Policy};
use gatehouse_types::ProtocolError;
use gatehouse_types::{ClientType, GrantType};
use serde_json::json;
use std::sync::Arc;

use super::problem::Problem;
use crate::http::client_ip::client_ip;
use crate::http::oauth::context::{TenantEntry, blocking};
use crate::state::AppState;

/// The audience admin API tokens must carry: `{public_url}/api`.
pub fn audience(public_url: &str) -> String {
    format!("{}/api", public_url.trim_end_matches('/'))
}

/// A caller the API accepted.
#[derive(Debug, Clone)]
pub struct Caller {
    pub operator: Operator,
    pub tenant: Arc<TenantEntry>,
    /// The audit actor: `user:{id}` or `client:{id}`.
    actor: String,
}

impl Caller {
    /// The audit actor of the caller.
    pub fn actor(&self) -> String {
        self.actor.clone()
    }
}

/// RFC 6750 §2.1: the bearer token of the request.
fn bearer(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()).then(|| token.trim())
}

/// The `tenant` claim of an unverified token: only which tenant's keys to verify it with.
fn claimed_tenant(token: &str) -> Option<String> {
    let payload = URL_SAFE_NO_PAD.decode(token.split('.').nth(1)?).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&payload).ok()?;
    claims.get("tenant")?.as_str().map(str::to_owned)
}

/// Authenticates the request, or the 401 problem (the reason goes to the log).
pub async fn authenticate(req: &HttpRequest, state: &AppState) -> Result<Caller, Problem> {
    match try_authenticate(req, state).await {
        Ok(Ok(caller)) => Ok(caller),
        Ok(Err(why)) => {
            tracing::info!(reason = why, "admin API request not authenticated");
            Err(Problem::UNAUTHORIZED)
        }
        Err(e) => {
            tracing::error!(error = %e, "admin API authentication failed");
            Err(Problem::SERVER)
        }
    }
}

async fn try_authenticate(req: &HttpRequest, state: &AppState) -> Result<Result<Caller, &'static str>, ProtocolError> {
    let Some(token) = bearer(req) else { return Ok(Err("no bearer token")) };
    let Some(slug) = claimed_tenant(token) else { return Ok(Err("no tenant claim")) };
    let Some(tenant) = state.tenant(&slug).await? else { return Ok(Err("unknown tenant")) };
    let keys = state.keys(&tenant.tenant.id, SigningAlg::Es256).await?;
    let jwks = std::str::from_utf8(&keys.jwks).map_err(ProtocolError::server)?;
    let config = GuardConfig::new(tenant.issuer.clone(), [audience(&state.config.public_url)]);
    let guard = Guard::with_jwks(config, jwks).map_err(|e| ProtocolError::server(e.to_string()))?;
    let Ok(claims) = guard.validate(token).await else { return Ok(Err("token refused by the guard")) };
    if claims.tenant.as_deref() != Some(tenant.tenant.slug.as_str()) {
        return Ok(Err("tenant claim mismatch"));
    }
    if let Some(jti) = claims.jti.clone() {
        let (store, t) = (state.store.clone(), tenant.tenant.id.clone());
        if blocking(move || store.is_revoked(&t, &jti)).await? {
            return Ok(Err("revoked token"));
        }
    }
    // A client-credentials token names the client as its subject and has no sign-in.
    let service = claims.auth_time.is_none() && claims.subject == claims.client_id;
    let (roles, actor) = if service {
        let (store, t, c) = (state.store.clone(), tenant.tenant.id.clone(), claims.client_id.clone());
        let Some(client) = blocking(move || store.client_by_id(&t, &c)).await?.filter(|c| {
            c.client_type == ClientType::Confidential && c.grant_types.contains(&GrantType::ClientCredentials)
        }) else {
            return Ok(Err("no such service client"));
        };
        (client.roles, format!("client:{}", client.client_id))
    } else {
        // A6: administrative actions need a sign-in with a second factor.
        if Policy::new().acr([ACR_MFA]).check(&claims, gatehouse_core::UnixTime::now().0).is_err() {
            return Ok(Err("no second factor in the token"));
        }
        let (store, t, u) = (state.store.clone(), tenant.tenant.id.clone(), claims.subject.clone());
        let Some(user) = blocking(move || store.user_by_id(&t, &u)).await?.filter(|u| !u.disabled) else {
            return Ok(Err("no such enabled user"));
        };
        return Ok(Ok(user_caller(state, tenant, &user).await?));
    };
    let operator =
        Operator { tenant_id: tenant.tenant.id.clone(), level: Level::of(&roles, tenant.tenant.is_platform) };
    Ok(Ok(Caller { operator, tenant, actor }))
}

/// `user` of `tenant` as an administrative caller, at the level of their roles as stored now
/// (the console's visitor, or the subject of a token).
pub async fn user_caller(
    state: &AppState,
    tenant: Arc<TenantEntry>,
    user: &gatehouse_core::model::User,
) -> Result<Caller, ProtocolError> {
    let (store, t, u) = (state.store.clone(), tenant.tenant.id.clone(), user.id.clone());
    let roles = blocking(move || store.user_roles(&t, &u)).await?;
    let operator =
        Operator { tenant_id: tenant.tenant.id.clone(), level: Level::of(&roles, tenant.tenant.is_platform) };
    Ok(Caller { operator, tenant, actor: format!("user:{}", user.id) })
}

/// AC6: a refused administrative request is audited, then answered 403.
pub async fn refuse(
    req: &HttpRequest,
    state: &AppState,
    caller: &Caller,
    action: &str,
    target: &str,
    reason: &str,
) -> Problem {
    let mut event = AuditEvent::new(caller.actor(), "api.denied")
        .tenant(&caller.operator.tenant_id)
        .target(target.to_owned())
        .details(json!({ "action": action, "reason": reason, "level": caller.operator.level }));
    event.outcome = Outcome::Denied;
    event.source_ip = client_ip(req).map(|ip| ip.to_string());
    if let Err(e) = state.audit(event).await {
        tracing::error!(error = %e, "a refused admin request could not be audited");
        return Problem::SERVER;
    }
    Problem::FORBIDDEN
}
