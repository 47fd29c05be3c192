//! Sign-in through an upstream OpenID Connect provider (O8): the login page's "Continue with …"
//! (and `upstream=` on the authorization request) sends the browser to the upstream with
//! Authorization Code + PKCE, a browser-bound single-use `state` and a `nonce`; the callback
//! validates the answer as a relying party (`openidconnect`), finds or makes the local
//! account under the upstream's policies, maps its roles, and continues the sign-in's steps.

pub mod accounts;
pub mod callback;
pub mod client;
pub mod logout;
pub mod start;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use gatehouse_core::audit::{AuditEvent, Outcome};
use gatehouse_core::federation::Upstream;
use gatehouse_types::ProtocolError;
use serde_json::json;

use crate::http::client_ip::client_ip;
use crate::http::errors::request_id;
use gatehouse_core::store::UpstreamStore;

use crate::http::oauth::context::{TenantEntry, blocking};
use crate::http::pages;
use crate::state::AppState;

/// Routes under `/tenants/{tenant}`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/login/upstream", web::post().to(start::start))
        .route("/upstream/callback", web::get().to(callback::callback))
        .route("/upstream/logged-out", web::get().to(logout::logged_out));
}

/// The upstream `id` of `tenant` (it may have been removed meanwhile).
pub async fn upstream_by_id(
    state: &AppState,
    tenant: &TenantEntry,
    id: &str,
) -> Result<Option<Upstream>, ProtocolError> {
    let (store, t) = (state.store.clone(), tenant.tenant.id.clone());
    let all = blocking(move || store.upstreams(&t)).await?;
    Ok(all.into_iter().find(|u| u.id == id))
}

/// The redirect URI registered at every upstream of `tenant`.
pub fn redirect_uri(state: &AppState, tenant: &TenantEntry) -> String {
    format!("{}/tenants/{}/upstream/callback", state.config.public_url.trim_end_matches('/'), tenant.tenant.slug)
}

/// O8, L1: a failed upstream sign-in: audited with its reason, answered with one generic page
/// and the request's correlation id. Nothing was created.
pub async fn failed(
    req: &HttpRequest,
    state: &AppState,
    tenant: &TenantEntry,
    upstream: Option<&Upstream>,
    reason: &str,
) -> Result<HttpResponse, ProtocolError> {
    let mut event = AuditEvent::new("anonymous", "login.upstream")
        .tenant(&tenant.tenant.id)
        .target(upstream.map_or_else(|| "upstream:unknown".to_owned(), |u| format!("upstream:{}", u.name)))
        .details(json!({ "reason": reason }));
    event.outcome = Outcome::Failure;
    event.source_ip = client_ip(req).map(|ip| ip.to_string());
    state.audit(event).await?;
    state.metrics.count(crate::metrics::Event::UpstreamSignIn { ok: false });
    tracing::info!(reason, "upstream sign-in failed");
    Ok(failure_page(req))
}

/// The page every failed upstream sign-in shows (L1: the reason is in the audit log only).
pub fn failure_page(req: &HttpRequest) -> HttpResponse {
    let id = request_id(req);
    pages::message(
        StatusCode::BAD_GATEWAY,
        "Sign-in with your organisation failed",
        "Return to the application and try again. If it keeps failing, give your administrator the reference below.",
        Some(&id),
    )
}
