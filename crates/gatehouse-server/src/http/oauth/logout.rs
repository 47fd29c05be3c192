//! `GET|POST {issuer}/logout`: OpenID Connect RP-Initiated Logout 1.0 (S6). Ends the server
//! session, clears the cookie, and redirects only to a post-logout URI registered for the
//! client, with `state`. A request that does not prove it comes from the session's relying
//! party (an `id_token_hint` of this session) is confirmed by the user first (§6).

use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use gatehouse_core::UnixTime;
use gatehouse_core::audit::AuditEvent;
use gatehouse_core::flow::session::{logout_confirmation, logout_confirmed};
use gatehouse_core::jose::{self, SigningAlg};
use gatehouse_core::oauth::Params;
use gatehouse_core::store::{FlowStore, SessionRecord};
use gatehouse_types::ProtocolError;
use serde_json::json;

use super::browser::{self, current_session, session_cookie};
use super::context::{TenantEntry, TenantScope, blocking};
use crate::http::errors::request_id;
use crate::http::pages::{self, LogoutPage};
use crate::http::upstream;
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
            if ended.is_some() {
                state.wake_logout_delivery();
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

/// The claims of an `id_token_hint` this tenant signed (expired hints are fine: RP-Initiated
/// Logout §2); `None` when absent or not ours.
async fn hint_claims(
    state: &AppState,
    tenant: &TenantEntry,
    params: &Params,
) -> Result<Option<serde_json::Value>, ProtocolError> {
    let Some(hint) = params.get("id_token_hint") else { return Ok(None) };
    let keys = state.keys(&tenant.tenant.id, SigningAlg::Es256).await?;
    Ok(jose::verify(hint, &keys.verifiers)
        .ok()
        .map(|v| v.claims)
        .filter(|c| c.get("iss").and_then(|i| i.as_str()) == Some(tenant.issuer.as_str())))
}

/// The client named by `client_id`, or by the `aud` of the `id_token_hint`.
fn logout_client_id(params: &Params, hint: Option<&serde_json::Value>) -> Option<String> {
    if let Some(id) = params.get("client_id") {
        return Some(id.to_owned());
    }
    hint.and_then(|c| c.get("aud")).and_then(|a| a.as_str()).map(str::to_owned)
}

/// RP-Initiated Logout 1.0 §6: the session ends at once only for its own relying party (a
/// hint naming this session's `sid`) or for the user's confirmation, which is POSTed (never
/// in a URL) and bound to the session.
fn confirmed(
    req: &HttpRequest,
    state: &AppState,
    params: &Params,
    hint: Option<&serde_json::Value>,
    session: &SessionRecord,
) -> bool {
    let hint_sid = hint.and_then(|c| c.get("sid")).and_then(|s| s.as_str());
    if hint_sid == Some(session.sid.as_str()) {
        return true;
    }
    req.method() == actix_web::http::Method::POST
        && params.get("confirm").is_some_and(|c| logout_confirmed(state.store.vault(), session, c))
}

/// The page that asks the user to confirm, carrying the request's parameters; its form is
/// answered with a redirect to `target` (already checked against the client's registration).
fn confirmation_page(
    tenant: &TenantEntry,
    state: &AppState,
    params: &Params,
    session: &SessionRecord,
    targets: &[&str],
) -> HttpResponse {
    let confirm = match logout_confirmation(state.store.vault(), session) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "logout confirmation failed");
            return pages::message(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "Please try again later.",
                None,
            );
        }
    };
    let fields = ["client_id", "post_logout_redirect_uri", "state", "ui_locales"]
        .into_iter()
        .filter_map(|name| params.get(name).map(|v| (name, v)))
        .collect();
    let page = LogoutPage {
        tenant_name: &tenant.tenant.display_name,
        action: format!("/tenants/{}/logout", tenant.tenant.slug),
        confirm: &confirm,
        fields,
    };
    pages::render(&page, StatusCode::OK, &pages::page_csp(targets))
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
    let hint = hint_claims(state, tenant, &params).await?;
    // Check the redirect target before ending anything: an unregistered one is never used.
    let target = match params.get("post_logout_redirect_uri") {
        None => None,
        Some(uri) => {
            let client = match logout_client_id(&params, hint.as_ref()) {
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
        if !confirmed(req, state, &params, hint.as_ref(), &session) {
            // The confirmation's answer may go to the upstream's logout first (O8).
            let upstream = upstream::logout::end_session_endpoint(state, tenant, &session.sid).await?;
            let targets: Vec<&str> =
                target.as_deref().into_iter().chain(upstream.as_ref().map(|(_, e, _)| e.as_str())).collect();
            return Ok((confirmation_page(tenant, state, &params, &session, &targets), None));
        }
        let audit = AuditEvent::new(format!("user:{}", session.user_id), "logout")
            .tenant(&tenant.tenant.id)
            .target(format!("user:{}", session.user_id))
            .details(json!({ "sid": session.sid }));
        let (store, t) = (state.store.clone(), tenant.tenant.id.clone());
        ended = blocking(move || store.end_session(&t, &hash, UnixTime::now().0, &audit)).await?;
    }
    let then = match target {
        Some(uri) => {
            let mut url = url::Url::parse(&uri).map_err(ProtocolError::server)?;
            if let Some(s) = params.get("state") {
                url.query_pairs_mut().append_pair("state", s);
            }
            Some(url.to_string())
        }
        None => None,
    };
    // O8: a session that began at an upstream set up for it ends there too, then comes back.
    let upstream_logout = match &ended {
        Some(session) => upstream::logout::logout_url(state, tenant, &session.sid, then.clone()).await?,
        None => None,
    };
    let mut res = match upstream_logout.or(then) {
        Some(url) => HttpResponse::SeeOther().insert_header((actix_web::http::header::LOCATION, url)).finish(),
        None => pages::message(StatusCode::OK, "You are signed out", "You can close this window.", None),
    };
    // Only this tenant's cookie, and only once its session is over (ended now, or no longer live).
    if req.cookie(&session_cookie(tenant)).is_some() {
        res.add_removal_cookie(&browser::clear(session_cookie(tenant))).map_err(ProtocolError::server)?;
    }
    Ok((res, ended))
}
