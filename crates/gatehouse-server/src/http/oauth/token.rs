//! `POST {issuer}/token` (RFC 6749 §3.2; O3). Parses, authenticates the client, dispatches on
//! `grant_type`, signs, records the issuance durably, answers with `no-store`.

use actix_web::http::header::ContentType;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use gatehouse_core::UnixTime;
use gatehouse_core::audit::{AuditEvent, Outcome};
use gatehouse_core::model::Client;
use gatehouse_core::oauth::access_token::TokenResponse;
use gatehouse_core::oauth::{Params, client_credentials};
use gatehouse_types::{OAuthErrorCode, ProtocolError};
use serde_json::json;

use super::context::{TenantEntry, TenantScope, authenticate_client, require_form};
use super::{cors, error, grants, throttle};
use crate::http::client_ip::client_ip;
use crate::metrics::{Event, Grant, Limited};
use crate::state::AppState;

/// The token endpoint.
pub async fn token(req: HttpRequest, tenant: TenantScope, body: Bytes, state: web::Data<AppState>) -> HttpResponse {
    // A4: a client IP over its limit is answered before any client authentication.
    match throttle::over_limit(&req, &state, &tenant, state.token_limit.as_deref(), Limited::Token).await {
        Ok(None) => {}
        Ok(Some(wait)) => {
            let busy = ProtocolError::new(OAuthErrorCode::TemporarilyUnavailable, "too many requests; retry later");
            return throttle::too_many(error::response(&busy), wait);
        }
        Err(e) => return error::response(&e),
    }
    // O7: filled with the authenticated client's web origins.
    let mut origins = Vec::new();
    let mut res = match handle(&req, &state, &tenant, &body, &mut origins).await {
        Ok(body) => {
            let mut res = HttpResponse::Ok().content_type(ContentType::json()).body(body);
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
) -> Result<Vec<u8>, ProtocolError> {
    require_form(req)?;
    let params = Params::parse(body)?;
    let grant = params.require("grant_type", "grant_type is required")?;
    let (client, _) = authenticate_client(req, state, tenant, &params).await?;
    origins.clone_from(&client.web_origins);
    match issue(state, tenant, &client, grant, &params).await {
        Ok(v) => {
            let counted = match grant {
                "client_credentials" => Grant::ClientCredentials,
                "authorization_code" => Grant::AuthorizationCode,
                _ => Grant::RefreshToken,
            };
            state.metrics.count(Event::TokenIssued(counted));
            Ok(v)
        }
        Err(e) if e.code == OAuthErrorCode::ServerError => Err(e),
        Err(e) => {
            // AC6, L3: a refused grant is audited like a refused login.
            let mut event = AuditEvent::new(format!("client:{}", client.client_id), "token.issue")
                .tenant(&tenant.tenant.id)
                .target(format!("client:{}", client.client_id))
                .details(json!({ "grant": grant.chars().take(64).collect::<String>(), "error": e.code.as_str() }));
            event.outcome = Outcome::Denied;
            event.source_ip = client_ip(req).map(|ip| ip.to_string());
            state.audit(event).await?;
            Err(e)
        }
    }
}

/// Dispatches on the grant type (one module per grant in core).
async fn issue(
    state: &AppState,
    tenant: &TenantEntry,
    client: &Client,
    grant: &str,
    params: &Params,
) -> Result<Vec<u8>, ProtocolError> {
    match grant {
        "client_credentials" => {
            let keys = state.keys(&tenant.tenant.id, client.signing_alg).await?;
            let signer = keys.signer(client.signing_alg)?;
            let (issued, audit) =
                client_credentials::issue(&tenant.tenant, &tenant.issuer, client, params, signer, UnixTime::now())?;
            // The token is returned only once its issuance is on record (L3).
            state.audit(audit).await?;
            body(&TokenResponse {
                access_token: &issued.access_token.token,
                token_type: "Bearer",
                expires_in: issued.expires_in,
                scope: &issued.scope,
                id_token: None,
                refresh_token: None,
            })
        }
        "authorization_code" => grants::authorization_code(state, tenant, client, params).await,
        "refresh_token" => grants::refresh_token(state, tenant, client, params).await,
        _ => Err(ProtocolError::new(OAuthErrorCode::UnsupportedGrantType, "the grant type is not supported")),
    }
}

/// The serialized success body (RFC 6749 §5.1).
pub fn body(response: &TokenResponse<'_>) -> Result<Vec<u8>, ProtocolError> {
    serde_json::to_vec(response).map_err(ProtocolError::server)
}
