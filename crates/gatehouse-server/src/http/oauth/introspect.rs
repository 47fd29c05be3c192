//! `POST {issuer}/introspect` (RFC 7662; O5). Any authenticated confidential client of the
//! tenant may introspect: resource servers introspect tokens issued to other clients. A token
//! of another tenant, an expired or a revoked one is `active: false`.

use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use gatehouse_core::UnixTime;
use gatehouse_core::flow::secret_hash;
use gatehouse_core::jose::SigningAlg;
use gatehouse_core::oauth::Params;
use gatehouse_core::oauth::introspect::{active_response, check_access_token, inactive_response};
use gatehouse_core::store::FlowStore;
use gatehouse_core::store::RevocationStore;
use gatehouse_types::{ClientType, OAuthErrorCode, ProtocolError};

use super::context::blocking;

use super::context::{TenantEntry, TenantScope, authenticate_client, require_form};
use super::error;
use crate::state::AppState;

/// The introspection endpoint.
pub async fn introspect(
    req: HttpRequest,
    tenant: TenantScope,
    body: Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    match handle(&req, &state, &tenant, &body).await {
        Ok(v) => {
            let mut res = HttpResponse::Ok().json(v);
            error::no_store(&mut res);
            res
        }
        Err(e) => error::response(&e),
    }
}

async fn handle(
    req: &HttpRequest,
    state: &AppState,
    tenant: &TenantEntry,
    body: &[u8],
) -> Result<serde_json::Value, ProtocolError> {
    require_form(req)?;
    let params = Params::parse(body)?;
    let (client, _) = authenticate_client(req, state, tenant, &params).await?;
    if client.client_type != ClientType::Confidential {
        return Err(ProtocolError::new(OAuthErrorCode::UnauthorizedClient, "only confidential clients may introspect"));
    }
    let token = params.require("token", "token is required")?;
    let keys = state.keys(&tenant.tenant.id, SigningAlg::Es256).await?;
    let now = UnixTime::now();
    let Some(active) = check_access_token(token, &keys.verifiers, &tenant.issuer, now) else {
        return introspect_refresh(state, tenant, token, now).await;
    };
    let store = state.store.clone();
    let (tenant_id, jti) = (tenant.tenant.id.clone(), active.jti.clone());
    let revoked = blocking(move || store.is_revoked(&tenant_id, &jti)).await?;
    Ok(if revoked { inactive_response() } else { active_response(&active) })
}

/// RFC 7662 §2.2 for an opaque refresh token: active while unrotated, unrevoked, unexpired.
async fn introspect_refresh(
    state: &AppState,
    tenant: &TenantEntry,
    token: &str,
    now: UnixTime,
) -> Result<serde_json::Value, ProtocolError> {
    let (store, t, hash) = (state.store.clone(), tenant.tenant.id.clone(), secret_hash(token));
    let record = blocking(move || store.refresh_by_hash(&t, &hash)).await?;
    Ok(match record {
        Some(r) if r.expires_at > now.0 => serde_json::json!({
            "active": true,
            "token_type": "refresh_token",
            "client_id": r.client_id,
            "sub": r.user_id,
            "scope": r.scope,
            "exp": r.expires_at,
            "iat": r.created_at,
            "iss": tenant.issuer,
        }),
        _ => inactive_response(),
    })
}
