//! The user grants of the token endpoint: authorization code (O2) and refresh token (O3).

use gatehouse_core::UnixTime;
use gatehouse_core::audit::{AuditEvent, Outcome};
use gatehouse_core::flow::code_grant::{self, Grant, IssueIds, new_refresh_token, wants_refresh};
use gatehouse_core::flow::refresh_grant::{INVALID_REFRESH, narrowed_scope};
use gatehouse_core::flow::secret_hash;
use gatehouse_core::model::{Client, User};
use gatehouse_core::oauth::Params;
use gatehouse_core::store::{CodeUse, FlowStore, RefreshRecord, RefreshUse, RevocationStore, UserStore};
use gatehouse_types::{GrantType, OAuthErrorCode, ProtocolError};
use serde_json::json;

use super::context::TenantEntry;
use super::context::blocking;
use crate::state::AppState;

const INVALID_CODE: ProtocolError =
    ProtocolError::new(OAuthErrorCode::InvalidGrant, "the authorization code is invalid, expired or already used");

/// The user and roles a grant is for; a deleted or disabled user gets nothing.
async fn user_and_roles(
    state: &AppState,
    tenant_id: &str,
    user_id: &str,
    refused: ProtocolError,
) -> Result<(User, Vec<String>), ProtocolError> {
    let (store, t, u) = (state.store.clone(), tenant_id.to_owned(), user_id.to_owned());
    let user = blocking(move || store.user_by_id(&t, &u))
        .await?
        .filter(|u| !u.disabled)
        .ok_or(refused.detail("user missing or disabled"))?;
    let (store, t, u) = (state.store.clone(), tenant_id.to_owned(), user_id.to_owned());
    let roles = blocking(move || store.user_roles(&t, &u)).await?;
    Ok((user, roles))
}

/// Records an intrusion signal (O2 code replay, O3 refresh reuse) and revokes the family.
async fn revoke_after_replay(
    state: &AppState,
    tenant: &TenantEntry,
    client: &Client,
    action: &'static str,
    family_id: Option<String>,
    access_jti: Option<String>,
) -> Result<(), ProtocolError> {
    let mut event = AuditEvent::new(format!("client:{}", client.client_id), action)
        .tenant(&tenant.tenant.id)
        .target(format!("client:{}", client.client_id))
        .details(json!({ "family": family_id, "revoked": true }));
    event.outcome = Outcome::Denied;
    tracing::warn!(action, client = %client.client_id, "token replay detected; revoking what was issued");
    state.metrics.count(crate::metrics::Event::TokenReplay);
    let details = json!({ "action": action, "client_id": client.client_id });
    state.signal(crate::alerts::Signal::TokenReplay, &tenant.tenant.id, details);
    let now = UnixTime::now().0;
    if let Some(jti) = access_jti {
        let (store, t, c, e) = (state.store.clone(), tenant.tenant.id.clone(), client.client_id.clone(), event.clone());
        let exp = now + client.access_token_ttl;
        blocking(move || store.revoke_jti(&t, &jti, &c, exp, &e)).await?;
    }
    if let Some(family) = family_id {
        let (store, t) = (state.store.clone(), tenant.tenant.id.clone());
        blocking(move || store.revoke_family(&t, &family, now, &event)).await?;
    }
    Ok(())
}

/// `grant_type=authorization_code` (RFC 6749 §4.1.3).
pub async fn authorization_code(
    state: &AppState,
    tenant: &TenantEntry,
    client: &Client,
    params: &Params,
) -> Result<Vec<u8>, ProtocolError> {
    if !client.grant_types.contains(&GrantType::AuthorizationCode) {
        return Err(ProtocolError::new(OAuthErrorCode::UnauthorizedClient, "the client may not use this grant"));
    }
    let code = params.require("code", "code is required")?;
    let ids = IssueIds::new();
    let (store, t, hash, i) = (state.store.clone(), tenant.tenant.id.clone(), secret_hash(code), ids.clone());
    let used = blocking(move || store.consume_code(&t, &hash, UnixTime::now().0, &i.family_id, &i.access_jti)).await?;
    let record = match used {
        CodeUse::Fresh(r) => r,
        CodeUse::Replayed { client_id, family_id, access_jti } => {
            // O2: a replayed code revokes every token issued from it.
            if client_id == client.client_id {
                revoke_after_replay(state, tenant, client, "code.replay", family_id, access_jti).await?;
            }
            return Err(INVALID_CODE.detail("authorization code replayed"));
        }
        CodeUse::Invalid => return Err(INVALID_CODE.detail("unknown or expired code")),
    };
    code_grant::check_code(&record, client, params)?;
    let (user, roles) = user_and_roles(state, &tenant.tenant.id, &record.user_id, INVALID_CODE).await?;
    let keys = state.keys(&tenant.tenant.id, client.signing_alg).await?;
    let signer = keys.signer(client.signing_alg)?;
    let grant = Grant {
        tenant: &tenant.tenant,
        issuer: &tenant.issuer,
        client,
        user: &user,
        roles: &roles,
        scope: &record.scope,
        sid: &record.sid,
        auth_time: record.auth_time,
        amr: &record.amr,
        acr: &record.acr,
        nonce: record.nonce.as_deref(),
    };
    let refresh = wants_refresh(client, &record.scope).then(new_refresh_token);
    let (set, refresh_record) = code_grant::issue(&grant, &ids, signer, refresh, UnixTime::now())?;
    let audit = code_grant::audit(&grant, "authorization_code", &set);
    persist(state, refresh_record, audit).await?;
    super::token::body(&set.response())
}

/// Stores the refresh token with the issuance's audit record, or just the record.
async fn persist(state: &AppState, refresh: Option<RefreshRecord>, audit: AuditEvent) -> Result<(), ProtocolError> {
    match refresh {
        Some(r) => {
            let store = state.store.clone();
            blocking(move || store.save_refresh(&r, &audit)).await
        }
        None => state.audit(audit).await,
    }
}

/// `grant_type=refresh_token` (RFC 6749 §6): rotation on every use; reuse revokes the family.
pub async fn refresh_token(
    state: &AppState,
    tenant: &TenantEntry,
    client: &Client,
    params: &Params,
) -> Result<Vec<u8>, ProtocolError> {
    if !client.grant_types.contains(&GrantType::RefreshToken) {
        return Err(ProtocolError::new(OAuthErrorCode::UnauthorizedClient, "the client may not use this grant"));
    }
    let presented = params.require("refresh_token", "refresh_token is required")?;
    let hash = secret_hash(presented);
    let (store, t, h) = (state.store.clone(), tenant.tenant.id.clone(), hash.clone());
    let current = blocking(move || store.refresh_by_hash(&t, &h)).await?;
    // RFC 6749 §6: a narrower scope may be asked for; checked before anything is rotated.
    let scope = match &current {
        Some(r) if r.client_id == client.client_id => narrowed_scope(r, params.get("scope"))?,
        _ => String::new(),
    };
    let now = UnixTime::now();
    let next_token = new_refresh_token();
    let ids = IssueIds::new();
    let (store, t, c) = (state.store.clone(), tenant.tenant.id.clone(), client.client_id.clone());
    let (next_hash, jti, ttl, scope_for_next) =
        (secret_hash(&next_token), ids.access_jti.clone(), client.refresh_token_ttl, scope.clone());
    let used = blocking(move || {
        store.rotate_refresh(&t, &hash, &c, now.0, &|old: &RefreshRecord| {
            let next = RefreshRecord {
                token_hash: next_hash.clone(),
                scope: if scope_for_next.is_empty() { old.scope.clone() } else { scope_for_next.clone() },
                access_jti: jti.clone(),
                created_at: now.0,
                expires_at: now.0 + ttl,
                ..old.clone()
            };
            let audit = AuditEvent::new(format!("user:{}", old.user_id), "token.refresh")
                .tenant(&old.tenant_id)
                .target(format!("client:{}", old.client_id))
                .details(json!({ "family": old.family_id, "jti": jti }));
            (next, audit)
        })
    })
    .await?;
    let old = match used {
        RefreshUse::Rotated(old) => old,
        RefreshUse::Reused { client_id, family_id } => {
            if client_id == client.client_id {
                revoke_after_replay(state, tenant, client, "token.refresh_reuse", Some(family_id), None).await?;
            }
            return Err(INVALID_REFRESH.detail("refresh token reused"));
        }
        RefreshUse::Invalid => return Err(INVALID_REFRESH.detail("unknown, expired or foreign refresh token")),
    };
    let scope = if scope.is_empty() { old.scope.clone() } else { scope };
    let (user, roles) = user_and_roles(state, &tenant.tenant.id, &old.user_id, INVALID_REFRESH).await?;
    let keys = state.keys(&tenant.tenant.id, client.signing_alg).await?;
    let signer = keys.signer(client.signing_alg)?;
    let grant = Grant {
        tenant: &tenant.tenant,
        issuer: &tenant.issuer,
        client,
        user: &user,
        roles: &roles,
        scope: &scope,
        sid: &old.sid,
        auth_time: old.auth_time,
        amr: &old.amr,
        acr: &old.acr,
        nonce: None,
    };
    let ids = IssueIds { family_id: old.family_id.clone(), access_jti: ids.access_jti };
    // The successor is already stored (with its audit record); only sign here.
    let (set, _) = code_grant::issue(&grant, &ids, signer, Some(next_token), now)?;
    super::token::body(&set.response())
}
