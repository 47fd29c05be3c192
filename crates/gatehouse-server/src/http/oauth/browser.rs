//! The browser side of the code flow: the session cookie (S1–S3), authorization requests
//! waiting for login or consent and bound to the browser (IO3), and authorization responses
//! (query or form_post, always with `iss`: RFC 9207).

use std::sync::Arc;

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use gatehouse_core::UnixTime;
use gatehouse_core::audit::{AuditEvent, Outcome};
use gatehouse_core::crypto::random_token;
use gatehouse_core::flow::authorize::{AuthorizeRequest, RedirectError, ResponseMode};
use gatehouse_core::flow::interaction::{Continuation, SignIn};
use gatehouse_core::flow::secret_hash;
use gatehouse_core::flow::session::{binding_holds, is_live};
use gatehouse_core::model::Client;
use gatehouse_core::store::{FlowStore, PendingRequest, SessionRecord};
use gatehouse_types::ProtocolError;
use subtle::ConstantTimeEq;

use super::context::TenantEntry;
use super::context::blocking;
use crate::http::client_ip::client_ip;
use crate::http::pages::{self, FormPostPage};
use crate::state::AppState;

/// S2: the session cookie of one tenant: `__Host-` prefix (so Path=/ and no Domain, which
/// leaves the name to tell tenants apart), one per tenant so signing in to or out of one
/// never touches another's session.
pub fn session_cookie(tenant: &TenantEntry) -> String {
    format!("__Host-gh_session_{}", tenant.tenant.slug)
}

/// The cookie that binds a tenant's waiting authorization request to the browser that
/// started it (IO3).
fn binding_cookie(tenant: &TenantEntry) -> String {
    format!("__Host-gh_auth_{}", tenant.tenant.slug)
}
/// How long a login or consent page stays usable.
const PENDING_TTL: i64 = 600;

/// A cookie with the S2 attributes.
pub fn cookie(name: String, value: String) -> Cookie<'static> {
    Cookie::build(name, value).secure(true).http_only(true).same_site(SameSite::Lax).path("/").finish()
}

/// An expired cookie that clears `name`.
pub fn clear(name: String) -> Cookie<'static> {
    let mut c = cookie(name, String::new());
    c.set_max_age(CookieDuration::ZERO);
    c
}

/// The live session of this browser in `tenant` (S1, S4): `(id hash, record)`. Activity is
/// recorded so the idle timeout counts from the last request.
pub async fn current_session(
    req: &HttpRequest,
    state: &AppState,
    tenant: &TenantEntry,
) -> Result<Option<(Vec<u8>, SessionRecord)>, ProtocolError> {
    let Some(c) = req.cookie(&session_cookie(tenant)) else { return Ok(None) };
    let ip = client_ip(req).map(|ip| ip.to_string());
    let hash = secret_hash(c.value());
    let now = UnixTime::now();
    let (store, tenant_id, h) = (state.store.clone(), tenant.tenant.id.clone(), hash.clone());
    let Some(session) = blocking(move || store.session(&tenant_id, &h, now.0)).await? else { return Ok(None) };
    if !is_live(&session, tenant.tenant.policy.sessions(), now) {
        return Ok(None);
    }
    if tenant.tenant.bind_sessions && !binding_holds(&session, &user_agent_hash(req), ip.as_deref()) {
        // S5: presented from another user agent or address: the session ends here.
        let mut audit = AuditEvent::new(format!("user:{}", session.user_id), "session.binding_mismatch")
            .tenant(&tenant.tenant.id)
            .target(format!("user:{}", session.user_id))
            .details(serde_json::json!({ "sid": session.sid }));
        audit.outcome = Outcome::Denied;
        audit.source_ip = ip;
        let (store, tenant_id, h) = (state.store.clone(), tenant.tenant.id.clone(), hash.clone());
        blocking(move || store.end_session(&tenant_id, &h, now.0, &audit)).await?;
        state.wake_logout_delivery();
        return Ok(None);
    }
    let (store, tenant_id, h) = (state.store.clone(), tenant.tenant.id.clone(), hash.clone());
    blocking(move || store.touch_session(&tenant_id, &h, now.0)).await?;
    Ok(Some((hash, session)))
}

/// S5: the SHA-256 of the request's `User-Agent` (empty when absent).
pub fn user_agent_hash(req: &HttpRequest) -> Vec<u8> {
    secret_hash(req.headers().get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or(""))
}

/// A waiting request as handed to a page: its id, its CSRF token, and the binding cookie.
pub struct Pending {
    pub id: String,
    pub csrf: String,
    pub binding: Cookie<'static>,
}

/// Stores a waiting sign-in (for an authorization request, or one of the tenant's pages) for
/// the login or consent page; only this browser (binding cookie) with the page's
/// synchronizer token (IO3) can continue it.
pub async fn start_pending(
    state: &AppState,
    tenant: &TenantEntry,
    interaction: &SignIn,
) -> Result<Pending, ProtocolError> {
    Ok(start_pending_record(state, tenant, interaction).await?.0)
}

/// As [`start_pending`], with the stored record.
pub async fn start_pending_record(
    state: &AppState,
    tenant: &TenantEntry,
    interaction: &SignIn,
) -> Result<(Pending, PendingRequest), ProtocolError> {
    let (id, csrf, binding) = (random_token(), random_token(), random_token());
    let now = UnixTime::now().0;
    let client_id = match &interaction.continuation {
        Continuation::Authorize(areq) => areq.client_id.clone(),
        Continuation::Page { .. } => String::new(),
    };
    let record = PendingRequest {
        id: id.clone(),
        tenant_id: tenant.tenant.id.clone(),
        client_id,
        params: serde_json::to_string(interaction).map_err(ProtocolError::server)?,
        binding_hash: secret_hash(&binding),
        csrf_hash: secret_hash(&csrf),
        created_at: now,
        expires_at: now + PENDING_TTL,
    };
    let (store, saved) = (state.store.clone(), record.clone());
    blocking(move || store.save_request(&saved)).await?;
    Ok((Pending { id, csrf, binding: cookie(binding_cookie(tenant), binding) }, record))
}

/// Why a posted page could not continue; every case shows the same page (no oracle).
#[derive(Debug)]
pub struct PageRefused(pub &'static str);

/// IO3: a form post must come from this origin. Any other `Origin` is refused, `null`
/// included: it is what sandboxed frames, cross-origin redirects and pages under
/// `no-referrer` send, and it proves nothing; our pages send `Referrer-Policy: same-origin`,
/// under which the browser names this origin. A missing `Origin` (older browsers) falls back
/// on the synchronizer token and the SameSite binding cookie, which are checked anyway.
fn check_origin(req: &HttpRequest, public_url: &str) -> Result<(), PageRefused> {
    let Some(origin) = req.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok()) else { return Ok(()) };
    let expected = url::Url::parse(public_url).map(|u| u.origin().ascii_serialization()).unwrap_or_default();
    if origin != expected {
        return Err(PageRefused("cross-origin form post"));
    }
    Ok(())
}

/// IO3: whether a form post comes from this origin (see `check_origin`).
pub fn same_origin(req: &HttpRequest, public_url: &str) -> bool {
    check_origin(req, public_url).is_ok()
}

/// Loads the waiting sign-in a page posted back, checking origin, binding cookie and CSRF
/// token (IO3), each compared in constant time.
pub async fn load_pending(
    req: &HttpRequest,
    state: &AppState,
    tenant: &TenantEntry,
    request_id: &str,
    csrf: &str,
) -> Result<Result<(PendingRequest, SignIn), PageRefused>, ProtocolError> {
    if let Err(e) = check_origin(req, &state.config.public_url) {
        return Ok(Err(e));
    }
    let (pending, interaction) = match load_bound(req, state, tenant, request_id).await? {
        Ok(found) => found,
        Err(why) => return Ok(Err(why)),
    };
    let csrf_ok: bool = secret_hash(csrf).ct_eq(&pending.csrf_hash).into();
    if !csrf_ok {
        return Ok(Err(PageRefused("binding cookie or CSRF token mismatch")));
    }
    Ok(Ok((pending, interaction)))
}

/// IO3: the waiting sign-in `request_id` if this browser holds its binding cookie (compared in
/// constant time). For a cross-site navigation back (an upstream's answer, O8), which carries
/// no synchronizer token; a form post checks that too (`load_pending`).
pub async fn load_bound(
    req: &HttpRequest,
    state: &AppState,
    tenant: &TenantEntry,
    request_id: &str,
) -> Result<Result<(PendingRequest, SignIn), PageRefused>, ProtocolError> {
    let Some(binding) = req.cookie(&binding_cookie(tenant)) else {
        return Ok(Err(PageRefused("no binding cookie")));
    };
    let (store, tenant_id, id) = (state.store.clone(), tenant.tenant.id.clone(), request_id.to_owned());
    let Some(pending) = blocking(move || store.pending_request(&tenant_id, &id, UnixTime::now().0)).await? else {
        return Ok(Err(PageRefused("unknown or expired request")));
    };
    let binding_ok: bool = secret_hash(binding.value()).ct_eq(&pending.binding_hash).into();
    if !binding_ok {
        return Ok(Err(PageRefused("binding cookie or CSRF token mismatch")));
    }
    let interaction = SignIn::from_stored(&pending.params).map_err(ProtocolError::server)?;
    Ok(Ok((pending, interaction)))
}

/// The page shown when a posted login or consent cannot continue.
pub fn refused_page(req: &HttpRequest, why: &PageRefused) -> HttpResponse {
    tracing::info!(reason = why.0, "page post refused");
    let id = crate::http::errors::request_id(req);
    pages::message(
        StatusCode::BAD_REQUEST,
        "This sign-in page has expired",
        "Return to the application and start signing in again.",
        Some(&id),
    )
}

/// Sends an authorization response to the client's verified redirect URI (RFC 6749 §4.1.2,
/// RFC 9207): a 303 with query parameters, or an auto-submitted form (form_post).
pub fn respond(
    redirect_uri: &str,
    mode: ResponseMode,
    mut fields: Vec<(&'static str, String)>,
    issuer: &str,
) -> HttpResponse {
    fields.push(("iss", issuer.to_owned()));
    match mode {
        ResponseMode::Query => {
            let Ok(mut url) = url::Url::parse(redirect_uri) else {
                return HttpResponse::InternalServerError().finish();
            };
            {
                let mut q = url.query_pairs_mut();
                for (k, v) in &fields {
                    q.append_pair(k, v);
                }
            }
            let mut res = HttpResponse::SeeOther().finish();
            if let Ok(v) = HeaderValue::from_str(url.as_str()) {
                res.headers_mut().insert(header::LOCATION, v);
            }
            res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res
        }
        ResponseMode::FormPost => {
            let target = pages::form_target_source(redirect_uri).unwrap_or_else(|| "'none'".to_owned());
            let csp = format!(
                "default-src 'none'; script-src 'self'; form-action {target}; frame-ancestors 'none'; base-uri 'none'"
            );
            let page =
                FormPostPage { action: redirect_uri, fields: fields.iter().map(|(k, v)| (*k, v.as_str())).collect() };
            let mut res = pages::render(&page, StatusCode::OK, &csp);
            // The client sees this server's origin (not `null`) on the cross-origin POST, as
            // relying parties that check `Origin` expect; it knows that origin already.
            res.headers_mut().insert(header::REFERRER_POLICY, HeaderValue::from_static("origin"));
            res
        }
    }
}

/// A phase-two error, returned to the client (RFC 6749 §4.1.2.1).
pub fn respond_error(e: &RedirectError, issuer: &str) -> HttpResponse {
    tracing::info!(error = e.error.code.as_str(), detail = %e.error.detail, "authorization request refused");
    let mut fields =
        vec![("error", e.error.code.as_str().to_owned()), ("error_description", e.error.description.to_owned())];
    if let Some(s) = &e.state {
        fields.push(("state", s.clone()));
    }
    respond(&e.redirect_uri, e.response_mode, fields, issuer)
}

/// The `RedirectError` for `error` in the context of `areq`.
pub fn redirect_error(areq: &AuthorizeRequest, error: ProtocolError) -> RedirectError {
    RedirectError {
        error,
        redirect_uri: areq.redirect_uri.clone(),
        state: areq.state.clone(),
        response_mode: areq.response_mode,
    }
}

/// The client a waiting request belongs to (it may have been deleted meanwhile).
pub async fn pending_client(
    state: &AppState,
    tenant: &TenantEntry,
    areq: &AuthorizeRequest,
) -> Result<Arc<Client>, ProtocolError> {
    state
        .client(&tenant.tenant.id, &areq.client_id)
        .await?
        .ok_or_else(|| ProtocolError::server("client of a pending request is gone"))
}
