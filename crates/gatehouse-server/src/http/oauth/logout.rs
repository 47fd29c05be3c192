//! `GET|POST {issuer}/logout`: OpenID Connect RP-Initiated Logout 1.0 (S6). Ends the server
//! session, clears the cookie, and redirects only to a post-logout URI registered for the
//! client, with `state`.

use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use gatehouse_core::UnixTime;
use gatehouse_core::audit::AuditEvent;
use gatehouse_core::jose::{self, SigningAlg};
use gatehouse_core::oauth::Params;
use gatehouse_core::store::{FlowStore, SessionRecord};
use gatehouse_types::ProtocolError;
use serde_json::json;

use super::backchannel;
use super::browser::{self, SESSION_COOKIE, current_session};
use super::context::{TenantEntry, TenantScope, blocking};
use crate::http::errors::request_id;
use crate::http::pages;
use crate::state::AppState;

/// The logout endpoint.
pub async fn logout(req: HttpRequest, tenant: TenantScope, body: Bytes, state: web::Data<AppState>) -> HttpResponse {
    let raw = if req.method() == actix_web::http::Method::POST {
        body.to_vec()
    } else {
        req.query_string().as_bytes().to_vec()
    };
    match handle(&req, &state, &tenant, &raw).await {
        Ok((res, ended)) => {
            if let Some(session) = ended {
                backchannel::notify(state.clone(), tenant.0.clone(), session);
            }
            res
        }
        Err(e) => {
            tracing::error!(error = %e, "logout failed");
            let id = request_id(&req);
            pages::message(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "Please try again later.",
                Some(&id),
            )
        }
    }
}

/// The client named by `client_id`, or by the `aud` of an `id_token_hint` this tenant signed
/// (expired hints are fine: RP-Initiated Logout §2).
async fn logout_client_id(
    state: &AppState,
    tenant: &TenantEntry,
    params: &Params,
) -> Result<Option<String>, ProtocolError> {
    if let Some(id) = params.get("client_id") {
        return Ok(Some(id.to_owned()));
    }
    let Some(hint) = params.get("id_token_hint") else { return Ok(None) };
    let keys = state.keys(&tenant.tenant.id, SigningAlg::Es256).await?;
    Ok(jose::verify(hint, &keys.verifiers)
        .ok()
        .filter(|v| v.claims.get("iss").and_then(|i| i.as_str()) == Some(tenant.issuer.as_str()))
        .and_then(|v| v.claims.get("aud").and_then(|a| a.as_str()).map(str::to_owned)))
}

/// Ends the session and answers; returns the ended session for back-channel notification.
async fn handle(
    req: &HttpRequest,
    state: &AppState,
    tenant: &TenantEntry,
    raw: &[u8],
) -> Result<(HttpResponse, Option<SessionRecord>), ProtocolError> {
    let Ok(params) = Params::parse(raw) else {
        return Ok((
            pages::message(StatusCode::BAD_REQUEST, "Invalid sign-out request", "The request was malformed.", None),
            None,
        ));
    };
    // Check the redirect target before ending anything: an unregistered one is never used.
    let target = match params.get("post_logout_redirect_uri") {
        None => None,
        Some(uri) => {
            let client = match logout_client_id(state, tenant, &params).await? {
                Some(id) => state.client(&tenant.tenant.id, &id).await?,
                None => None,
            };
            match client {
                Some(c) if c.post_logout_redirect_uris.iter().any(|u| u == uri) => Some(uri.to_owned()),
                _ => {
                    tracing::info!("logout refused: unregistered post_logout_redirect_uri");
                    let id = request_id(req);
                    return Ok((
                        pages::message(
                            StatusCode::BAD_REQUEST,
                            "This sign-out request is not valid",
                            "The application asked to return to an address it has not registered.",
                            Some(&id),
                        ),
                        None,
                    ));
                }
            }
        }
    };
    let mut ended = None;
    if let Some((hash, session)) = current_session(req, state, tenant).await? {
        let audit = AuditEvent::new(format!("user:{}", session.user_id), "logout")
            .tenant(&tenant.tenant.id)
            .target(format!("user:{}", session.user_id))
            .details(json!({ "sid": session.sid }));
        let (store, t) = (state.store.clone(), tenant.tenant.id.clone());
        ended = blocking(move || store.end_session(&t, &hash, UnixTime::now().0, &audit)).await?;
    }
    let mut res = match target {
        Some(uri) => {
            let mut url = url::Url::parse(&uri).map_err(ProtocolError::server)?;
            if let Some(s) = params.get("state") {
                url.query_pairs_mut().append_pair("state", s);
            }
            HttpResponse::SeeOther().insert_header((actix_web::http::header::LOCATION, url.as_str())).finish()
        }
        None => pages::message(StatusCode::OK, "You are signed out", "You can close this window.", None),
    };
    res.add_removal_cookie(&browser::clear(SESSION_COOKIE)).map_err(ProtocolError::server)?;
    Ok((res, ended))
}
