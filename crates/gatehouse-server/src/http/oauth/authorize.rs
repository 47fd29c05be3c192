//! `GET|POST {issuer}/authorize` (RFC 6749 §4.1.1, OIDC Core §3.1.2; O2, O6): phase one (client
//! and exact redirect URI) fails on a page; phase two fails back to the client; then one
//! decision: log in, consent, or issue a code.

use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use gatehouse_core::UnixTime;
use gatehouse_core::audit::AuditEvent;
use gatehouse_core::flow::authorize::{self, AuthorizeRequest, Interaction, TrustError};
use gatehouse_core::flow::code_grant::new_code;
use gatehouse_core::flow::interaction::{Continuation, SignIn};
use gatehouse_core::flow::session::logout_confirmation;
use gatehouse_core::model::Client;
use gatehouse_core::oauth::Params;
use gatehouse_core::store::{CodeRecord, FlowStore, SessionRecord, UpstreamStore, UserStore};
use gatehouse_types::ProtocolError;
use serde_json::json;

use super::browser::{self, current_session, redirect_error, respond, respond_error, start_pending};
use super::context::{TenantEntry, TenantScope, blocking};
use crate::http::client_ip::client_ip;
use crate::http::errors::request_id;
use crate::http::pages::{self, ConsentPage, LoginPage};
use crate::state::AppState;

/// The authorization endpoint, GET (query) or POST (form).
pub async fn authorize(req: HttpRequest, tenant: TenantScope, body: Bytes, state: web::Data<AppState>) -> HttpResponse {
    let raw = if req.method() == actix_web::http::Method::POST {
        body.to_vec()
    } else {
        req.query_string().as_bytes().to_vec()
    };
    match handle(&req, &state, &tenant, &raw).await {
        Ok(res) => res,
        Err(e) => {
            tracing::error!(error = %e, "authorize failed");
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

/// Phase one failed: an error page, never a redirect (RFC 6749 §4.1.2.1).
fn trust_error_page(req: &HttpRequest, e: TrustError) -> HttpResponse {
    tracing::info!(error = ?e, "authorization request refused before trust was established");
    let id = request_id(req);
    pages::message(
        StatusCode::BAD_REQUEST,
        "This sign-in request is not valid",
        "The application sent an invalid or unregistered request. Contact its support.",
        Some(&id),
    )
}

async fn handle(
    req: &HttpRequest,
    state: &AppState,
    tenant: &TenantEntry,
    raw: &[u8],
) -> Result<HttpResponse, ProtocolError> {
    let Ok(params) = Params::parse(raw) else { return Ok(trust_error_page(req, TrustError::UnknownClient)) };
    let client = match params.get("client_id") {
        Some(id) => state.client(&tenant.tenant.id, id).await?,
        None => None,
    };
    let (client, redirect_uri) = match authorize::check_redirect_uri(client.as_deref(), &params) {
        Ok((c, r)) => (c.clone(), r),
        Err(e) => {
            audit_refusal(req, state, tenant, params.get("client_id"), &format!("{e:?}")).await?;
            return Ok(trust_error_page(req, e));
        }
    };
    let areq = match authorize::parse(&client, redirect_uri, &params) {
        Ok(a) => a,
        Err(e) => {
            audit_refusal(req, state, tenant, Some(&client.client_id), e.error.code.as_str()).await?;
            return Ok(respond_error(&e, &tenant.issuer));
        }
    };
    let session = current_session(req, state, tenant).await?.map(|(_, s)| s);
    continue_flow(req, state, tenant, &client, &areq, session.as_ref(), false).await
}

/// AC6, L3: a refused authorization request is audited (client id truncated: it is input).
async fn audit_refusal(
    req: &HttpRequest,
    state: &AppState,
    tenant: &TenantEntry,
    client_id: Option<&str>,
    reason: &str,
) -> Result<(), ProtocolError> {
    let client: String = client_id.unwrap_or("-").chars().take(128).collect();
    let mut event = AuditEvent::new(format!("client:{client}"), "authorize")
        .tenant(&tenant.tenant.id)
        .target(format!("client:{client}"))
        .details(json!({ "error": reason }));
    event.outcome = gatehouse_core::audit::Outcome::Denied;
    event.source_ip = client_ip(req).map(|ip| ip.to_string());
    state.audit(event).await
}

/// Decides and performs the next step for a validated request.
pub async fn continue_flow(
    req: &HttpRequest,
    state: &AppState,
    tenant: &TenantEntry,
    client: &Client,
    areq: &AuthorizeRequest,
    session: Option<&SessionRecord>,
    fresh_login: bool,
) -> Result<HttpResponse, ProtocolError> {
    let consented = match session {
        Some(s) => {
            let (store, t, u, c) =
                (state.store.clone(), tenant.tenant.id.clone(), s.user_id.clone(), client.client_id.clone());
            blocking(move || store.consent(&t, &u, &c)).await?
        }
        None => None,
    };
    let now = UnixTime::now();
    match (authorize::decide(areq, client, session, fresh_login, consented.as_deref(), now), session) {
        (Err(e), _) => Ok(respond_error(&redirect_error(areq, e), &tenant.issuer)),
        (Ok(Interaction::Issue), Some(s)) => issue_code(state, tenant, areq, s).await,
        (Ok(Interaction::Consent), Some(s)) => consent_page(state, tenant, client, areq, s).await,
        (Ok(_), _) => {
            let interaction = SignIn::new(Continuation::Authorize(Box::new(areq.clone())));
            match routed_upstream(state, tenant, areq).await? {
                Some(name) => straight_to_upstream(req, state, tenant, interaction, &name).await,
                None => login_page(state, tenant, Some(client), &interaction, None).await,
            }
        }
    }
}

/// O8: the upstream an authorization request goes straight to: the one `upstream=` names, or
/// the one whose routing domains hold the domain of the `login_hint` address.
async fn routed_upstream(
    state: &AppState,
    tenant: &TenantEntry,
    areq: &AuthorizeRequest,
) -> Result<Option<String>, ProtocolError> {
    if let Some(name) = &areq.upstream {
        return Ok(Some(name.clone()));
    }
    let Some(hint) = areq.login_hint.as_deref().filter(|h| h.contains('@')) else { return Ok(None) };
    let (store, t) = (state.store.clone(), tenant.tenant.id.clone());
    let upstreams = blocking(move || store.upstreams(&t)).await?;
    Ok(gatehouse_core::federation::upstream::routed_by_hint(&upstreams, hint).map(|u| u.name.clone()))
}

/// O8: `upstream=NAME` on the authorization request: no login page, the browser goes
/// straight to that upstream (its waiting sign-in bound to the browser as on the page).
async fn straight_to_upstream(
    req: &HttpRequest,
    state: &AppState,
    tenant: &TenantEntry,
    interaction: SignIn,
    name: &str,
) -> Result<HttpResponse, ProtocolError> {
    let pending = start_pending(state, tenant, &interaction).await?;
    use crate::http::upstream::start::{Via, to_upstream};
    let mut res = to_upstream(req, state, tenant, &pending.id, interaction, name, Via::Navigation).await?;
    res.add_cookie(&pending.binding).map_err(ProtocolError::server)?;
    Ok(res)
}

/// Renders the login page for a new waiting sign-in (`client`: the one an authorization
/// request is for; `None` for the tenant's own pages).
pub async fn login_page(
    state: &AppState,
    tenant: &TenantEntry,
    client: Option<&Client>,
    interaction: &SignIn,
    error: Option<&'static str>,
) -> Result<HttpResponse, ProtocolError> {
    // A5: where the tenant allows it, the page offers a passkey alone (its ceremony waits
    // with the sign-in).
    let passkey = if tenant.tenant.policy.passwordless && interaction.progress.is_none() {
        Some(crate::http::passkeys::start_discoverable(state, tenant).await?)
    } else {
        None
    };
    let mut interaction = interaction.clone();
    interaction.ceremony = passkey.as_ref().map(|(_, id)| id.clone());
    let pending = start_pending(state, tenant, &interaction).await?;
    let (hint, redirect) = match &interaction.continuation {
        Continuation::Authorize(areq) => (areq.login_hint.as_deref().unwrap_or(""), Some(areq.redirect_uri.as_str())),
        Continuation::Page { .. } => ("", None),
    };
    let (store, t) = (state.store.clone(), tenant.tenant.id.clone());
    let upstreams = blocking(move || store.upstreams(&t)).await?;
    let policy = &tenant.tenant.policy;
    let page = LoginPage {
        tenant_name: &tenant.tenant.display_name,
        client_name: client.map_or("your account", |c| c.name.as_str()),
        action: format!("/tenants/{}/login", tenant.tenant.slug),
        request_id: &pending.id,
        csrf: &pending.csrf,
        login_hint: hint,
        error,
        forgot: policy.password_reset.then(|| format!("/tenants/{}/account/forgot", tenant.tenant.slug)),
        signup: policy.self_registration.then(|| format!("/tenants/{}/account/signup", tenant.tenant.slug)),
        passkey_options: passkey.map(|(options, _)| options),
        upstreams: upstreams.iter().map(|u| (u.name.as_str(), u.display_name.as_str())).collect(),
        linking: interaction.link.as_ref().map(|l| l.display_name.as_str()),
    };
    let status = if error.is_some() { StatusCode::UNAUTHORIZED } else { StatusCode::OK };
    // The login form may be answered with a redirect to the client (first-party, errors), and
    // "Continue with …" with one to an upstream (O8).
    let targets: Vec<&str> = redirect.into_iter().chain(upstreams.iter().map(|u| u.issuer.as_str())).collect();
    let mut res = pages::render(&page, status, &pages::page_csp(&targets));
    res.add_cookie(&pending.binding).map_err(ProtocolError::server)?;
    Ok(res)
}

async fn consent_page(
    state: &AppState,
    tenant: &TenantEntry,
    client: &Client,
    areq: &AuthorizeRequest,
    session: &SessionRecord,
) -> Result<HttpResponse, ProtocolError> {
    let (store, t, u) = (state.store.clone(), tenant.tenant.id.clone(), session.user_id.clone());
    let user = blocking(move || store.user_by_id(&t, &u))
        .await?
        .ok_or_else(|| ProtocolError::server("session user is gone"))?;
    let pending = start_pending(state, tenant, &SignIn::new(Continuation::Authorize(Box::new(areq.clone())))).await?;
    let logout_confirm = logout_confirmation(state.store.vault(), session).map_err(ProtocolError::server)?;
    let page = ConsentPage {
        tenant_name: &tenant.tenant.display_name,
        client_name: &client.name,
        username: &user.username,
        scopes: areq.scope.split(' ').filter(|s| !s.is_empty()).collect(),
        action: format!("/tenants/{}/consent", tenant.tenant.slug),
        logout_action: format!("/tenants/{}/logout", tenant.tenant.slug),
        logout_confirm: &logout_confirm,
        request_id: &pending.id,
        csrf: &pending.csrf,
    };
    let mut res = pages::render(&page, StatusCode::OK, &pages::page_csp(&[&areq.redirect_uri]));
    res.add_cookie(&pending.binding).map_err(ProtocolError::server)?;
    Ok(res)
}

/// Issues a single-use code bound to the client, redirect URI, PKCE challenge and session, and
/// sends it with `state` and `iss` (O2, RFC 9207).
pub async fn issue_code(
    state: &AppState,
    tenant: &TenantEntry,
    areq: &AuthorizeRequest,
    s: &SessionRecord,
) -> Result<HttpResponse, ProtocolError> {
    let now = UnixTime::now();
    let template = CodeRecord {
        code_hash: Vec::new(),
        tenant_id: tenant.tenant.id.clone(),
        client_id: areq.client_id.clone(),
        user_id: s.user_id.clone(),
        sid: s.sid.clone(),
        redirect_uri: areq.redirect_uri.clone(),
        scope: areq.scope.clone(),
        nonce: areq.nonce.clone(),
        code_challenge: areq.code_challenge.clone(),
        auth_time: s.auth_time,
        amr: s.amr.clone(),
        acr: s.acr.clone(),
        expires_at: 0,
    };
    let (code, record) = new_code(template, now);
    let audit = AuditEvent::new(format!("user:{}", s.user_id), "code.issue")
        .tenant(&tenant.tenant.id)
        .target(format!("client:{}", areq.client_id))
        .details(json!({ "scope": areq.scope }));
    let store = state.store.clone();
    blocking(move || store.save_code(&record, &audit)).await?;
    let mut fields = vec![("code", code)];
    if let Some(st) = &areq.state {
        fields.push(("state", st.clone()));
    }
    Ok(respond(&areq.redirect_uri, areq.response_mode, fields, &tenant.issuer))
}

/// Convenience for the interaction handlers: a flow error as an authorization error response.
pub fn flow_error(tenant: &TenantEntry, areq: &AuthorizeRequest, e: ProtocolError) -> HttpResponse {
    respond_error(&browser::redirect_error(areq, e), &tenant.issuer)
}
