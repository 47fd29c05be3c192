//! `POST {issuer}/revoke` (RFC 7009; O5): access tokens by `jti`. A client may revoke only its
//! own tokens; an invalid or unknown token is answered 200 (RFC 7009 §2.2).

use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use gatehouse_core::UnixTime;
use gatehouse_core::audit::AuditEvent;
use gatehouse_core::flow::secret_hash;
use gatehouse_core::jose::SigningAlg;
use gatehouse_core::oauth::introspect::check_access_token;
use gatehouse_core::oauth::{Params, revoke};
use gatehouse_core::store::FlowStore;
use gatehouse_core::store::RevocationStore;
use gatehouse_types::{OAuthErrorCode, ProtocolError};

use super::context::blocking;

use super::context::{TenantEntry, TenantScope, authenticate_client, require_form};
use super::{cors, error};
use crate::state::AppState;

/// The revocation endpoint.
pub async fn revoke(req: HttpRequest, tenant: TenantScope, body: Bytes, state: web::Data<AppState>) -> HttpResponse {
    let mut origins = Vec::new();
    let mut res = match handle(&req, &state, &tenant, &body, &mut origins).await {
        Ok(()) => {
            let mut res = HttpResponse::Ok().finish();
            error::no_store(&mut res);
            res
        }
        Err(e) => error::response(&e),
    };
    cors::allow(&mut res, &req, &origins);
    res
}

async fn handle(
    req: &HttpRequest,
    state: &AppState,
    tenant: &TenantEntry,
    body: &[u8],
    origins: &mut Vec<String>,
) -> Result<(), ProtocolError> {
    require_form(req)?;
    let params = Params::parse(body)?;
    let (client, _) = authenticate_client(req, state, tenant, &params).await?;
    origins.clone_from(&client.web_origins);
    let token = params.require("token", "token is required")?;
    // RFC 7009 §2.1: the hint only orders the lookups; both kinds are tried.
    if params.get("token_type_hint") != Some("access_token")
        && revoke_refresh(state, tenant, &client.client_id, token).await?
    {
        return Ok(());
    }
    let keys = state.keys(&tenant.tenant.id, SigningAlg::Es256).await?;
    let Some(active) = check_access_token(token, &keys.verifiers, &tenant.issuer, UnixTime::now()) else {
        return revoke_refresh(state, tenant, &client.client_id, token).await.map(|_| ());
    };
    revoke::check_owner(&active, &client.client_id)?;
    let audit = revoke::audit(&tenant.tenant.id, &client.client_id, &active);
    let store = state.store.clone();
    let tenant_id = tenant.tenant.id.clone();
    blocking(move || store.revoke_jti(&tenant_id, &active.jti, &active.client_id, active.exp, &audit)).await
}

/// A refresh token of this client: its whole family is revoked, with the access tokens issued
/// alongside (RFC 7009 §2.1). Another client's refresh token is `unauthorized_client`.
async fn revoke_refresh(
    state: &AppState,
    tenant: &TenantEntry,
    client_id: &str,
    token: &str,
) -> Result<bool, ProtocolError> {
    let (store, t, hash) = (state.store.clone(), tenant.tenant.id.clone(), secret_hash(token));
    let Some(record) = blocking(move || store.refresh_by_hash(&t, &hash)).await? else { return Ok(false) };
    if record.client_id != client_id {
        return Err(ProtocolError::new(OAuthErrorCode::UnauthorizedClient, "the token was not issued to this client"));
    }
    let audit = AuditEvent::new(format!("client:{client_id}"), "token.revoke")
        .tenant(&tenant.tenant.id)
        .target(format!("family:{}", record.family_id))
        .details(serde_json::json!({ "kind": "refresh_token" }));
    let (store, t) = (state.store.clone(), tenant.tenant.id.clone());
    blocking(move || store.revoke_family(&t, &record.family_id, UnixTime::now().0, &audit)).await?;
    Ok(true)
}
