//! The pages' POST handlers: login (A1, A3, A4, S1–S3) and consent (O6).

use actix_web::http::StatusCode;
use actix_web::web;
use actix_web::{HttpRequest, HttpResponse};
use gatehouse_core::UnixTime;
use gatehouse_core::audit::{AuditEvent, Outcome};
use gatehouse_core::flow::session::{SessionPolicy, new_session, renewed_session};
use gatehouse_core::flow::{ACR_PASSWORD, secret_hash};
use gatehouse_core::model::User;
use gatehouse_core::oauth::params::has_control;
use gatehouse_core::password::failure_delay;
use gatehouse_core::store::FlowStore;
use gatehouse_core::store::SessionRecord;
use gatehouse_types::{OAuthErrorCode, ProtocolError, Secret, Username};
use serde::Deserialize;
use serde_json::json;

use super::authorize::{continue_flow, flow_error, issue_code, login_page};
use super::browser::{self, cookie, current_session, load_pending, pending_client, refused_page, session_cookie};
use super::context::{TenantEntry, TenantScope, blocking};
use super::signin::{self, Attempt};
use super::throttle;
use crate::http::client_ip::client_ip;
use crate::http::errors::request_id;
use crate::http::pages;
use crate::metrics::{Event, Limited};
use crate::state::AppState;

/// A3: one message for every login failure.
const LOGIN_FAILED: &str = "Invalid username or password.";

#[derive(Deserialize)]
pub struct LoginForm {
    request_id: String,
    csrf: String,
    username: String,
    password: Secret<String>,
}

#[derive(Deserialize)]
pub struct ConsentForm {
    request_id: String,
    csrf: String,
    decision: String,
}

fn failure_page(req: &HttpRequest, e: &ProtocolError) -> HttpResponse {
    tracing::error!(error = %e, "interaction failed");
    let id = request_id(req);
    pages::message(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong", "Please try again later.", Some(&id))
}

/// `POST {issuer}/login`.
pub async fn login(
    req: HttpRequest,
    tenant: TenantScope,
    form: web::Form<LoginForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    // A4: a client IP over its limit is turned away before any password is looked at.
    match throttle::over_limit(&req, &state, &tenant, state.login_limit.as_deref(), Limited::Login).await {
        Ok(None) => {}
        Ok(Some(wait)) => {
            let page = pages::message(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many sign-in attempts",
                "Please wait a minute, then try again.",
                None,
            );
            return throttle::too_many(page, wait);
        }
        Err(e) => return failure_page(&req, &e),
    }
    match handle_login(&req, &state, &tenant, form.into_inner()).await {
        Ok(res) => res,
        Err(e) => failure_page(&req, &e),
    }
}

/// IO1: the page's answer when a posted field holds a control character (never looked up).
fn malformed_page(req: &HttpRequest) -> HttpResponse {
    let id = request_id(req);
    pages::message(StatusCode::BAD_REQUEST, "Invalid request", "The form held characters it may not hold.", Some(&id))
}

async fn handle_login(
    req: &HttpRequest,
    state: &AppState,
    tenant: &TenantEntry,
    form: LoginForm,
) -> Result<HttpResponse, ProtocolError> {
    if [&form.request_id, &form.csrf, &form.username].iter().any(|f| has_control(f)) {
        return Ok(malformed_page(req));
    }
    let (pending, areq) = match load_pending(req, state, tenant, &form.request_id, &form.csrf).await? {
        Ok(p) => p,
        Err(why) => return Ok(refused_page(req, &why)),
    };
    let client = pending_client(state, tenant, &areq).await?;
    // Usernames are compared in their normalized form (A8: `Alice` is `alice`).
    let username = Username::normalize(&form.username.chars().take(254).collect::<String>());
    let source_ip = client_ip(req).map(|ip| ip.to_string());
    let user = match signin::check(state, &tenant.tenant.id, &username, form.password).await? {
        Attempt::Valid(user) => {
            state.failure_streaks.clear(&tenant.tenant.id, &username);
            state.metrics.count(Event::LoginSucceeded);
            user
        }
        failed => {
            let reason = match &failed {
                Attempt::Locked(_) => "account locked",
                _ => "invalid credentials",
            };
            let mut event = AuditEvent::new("anonymous", "login")
                .tenant(&tenant.tenant.id)
                .target(signin::attempted_account(state, &tenant.tenant.id, &username, &failed))
                .details(json!({ "client_id": client.client_id, "reason": reason }));
            event.outcome = if matches!(failed, Attempt::Locked(_)) { Outcome::Denied } else { Outcome::Failure };
            event.source_ip = source_ip;
            state.audit(event).await?;
            state.metrics.count(Event::LoginFailed);
            // A4: the answer comes later with every failure in a row for this username.
            let streak = state.failure_streaks.note_failure(&tenant.tenant.id, &username);
            tokio::time::sleep(failure_delay(state.config.login_failure_delay, streak)).await;
            // A3, A4: a locked account gets the same answer as a wrong password.
            return login_page(state, tenant, &client, &areq, Some(LOGIN_FAILED)).await;
        }
    };
    if user.must_change_password {
        // A8: the password is right but must be replaced first; that page comes with the
        // account pages. Until then, no session is created.
        let mut event = AuditEvent::new(format!("user:{}", user.id), "login")
            .tenant(&tenant.tenant.id)
            .target(format!("user:{}", user.id));
        event.outcome = Outcome::Denied;
        event.details = json!({ "reason": "password change required" });
        state.audit(event).await?;
        return Ok(pages::message(
            StatusCode::FORBIDDEN,
            "Password change required",
            "Your password must be changed before you can sign in. Ask an administrator.",
            None,
        ));
    }
    let (session_id, session) = start_session(req, state, tenant, &user, &client.client_id, source_ip).await?;
    let (store, t, id) = (state.store.clone(), tenant.tenant.id.clone(), pending.id.clone());
    blocking(move || store.delete_request(&t, &id)).await?;
    let mut res = continue_flow(state, tenant, &client, &areq, Some(&session), true).await?;
    res.add_cookie(&cookie(session_cookie(tenant), session_id)).map_err(ProtocolError::server)?;
    Ok(res)
}

/// S3: the session of a user who just presented every required factor, under a new
/// identifier (the returned cookie value). The same user's live session in this browser is
/// renewed (same `sid` and clients, new id and authentication time); another user's ends.
async fn start_session(
    req: &HttpRequest,
    state: &AppState,
    tenant: &TenantEntry,
    user: &User,
    client_id: &str,
    source_ip: Option<String>,
) -> Result<(String, SessionRecord), ProtocolError> {
    let now = UnixTime::now();
    let previous = current_session(req, state, tenant).await?;
    let (session_id, mut session, renewing) = match &previous {
        Some((_, old)) if old.user_id == user.id => {
            let (id, record) = renewed_session(old, &["pwd"], ACR_PASSWORD, now);
            (id, record, true)
        }
        _ => {
            let (id, record) =
                new_session(&tenant.tenant.id, &user.id, &["pwd"], ACR_PASSWORD, SessionPolicy::default(), now);
            (id, record, false)
        }
    };
    // S5: what the session is bound to, should its tenant bind sessions.
    session.user_agent_hash = Some(browser::user_agent_hash(req));
    session.client_ip = client_ip(req).map(|ip| ip.to_string());
    let mut event = AuditEvent::new(format!("user:{}", user.id), "login")
        .tenant(&tenant.tenant.id)
        .target(format!("user:{}", user.id))
        .details(json!({ "client_id": client_id, "sid": session.sid, "amr": ["pwd"], "renewed": renewing }));
    event.source_ip = source_ip;
    let (store, hash, record) = (state.store.clone(), secret_hash(&session_id), session.clone());
    match previous {
        Some((old_hash, _)) if renewing => {
            let t = tenant.tenant.id.clone();
            if !blocking(move || store.renew_session(&t, &old_hash, &hash, &record, &event)).await? {
                return Err(ProtocolError::server("the session to renew ended meanwhile"));
            }
        }
        previous => {
            if let Some((old_hash, old)) = previous {
                // Another user signs in on this browser: the previous user's session ends.
                let audit = AuditEvent::new(format!("user:{}", old.user_id), "logout")
                    .tenant(&tenant.tenant.id)
                    .target(format!("user:{}", old.user_id))
                    .details(json!({ "sid": old.sid, "reason": "another user signed in" }));
                let (store, t) = (state.store.clone(), tenant.tenant.id.clone());
                blocking(move || store.end_session(&t, &old_hash, now.0, &audit)).await?;
                state.wake_logout_delivery();
            }
            blocking(move || store.create_session(&hash, &record, &event)).await?;
        }
    }
    Ok((session_id, session))
}

/// `POST {issuer}/consent`.
pub async fn consent(
    req: HttpRequest,
    tenant: TenantScope,
    form: web::Form<ConsentForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    match handle_consent(&req, &state, &tenant, form.into_inner()).await {
        Ok(res) => res,
        Err(e) => failure_page(&req, &e),
    }
}

async fn handle_consent(
    req: &HttpRequest,
    state: &AppState,
    tenant: &TenantEntry,
    form: ConsentForm,
) -> Result<HttpResponse, ProtocolError> {
    if [&form.request_id, &form.csrf, &form.decision].iter().any(|f| has_control(f)) {
        return Ok(malformed_page(req));
    }
    let (pending, areq) = match load_pending(req, state, tenant, &form.request_id, &form.csrf).await? {
        Ok(p) => p,
        Err(why) => return Ok(refused_page(req, &why)),
    };
    let client = pending_client(state, tenant, &areq).await?;
    let Some((_, session)) = current_session(req, state, tenant).await? else {
        return login_page(state, tenant, &client, &areq, None).await;
    };
    let (store, t, id) = (state.store.clone(), tenant.tenant.id.clone(), pending.id.clone());
    blocking(move || store.delete_request(&t, &id)).await?;
    let allow = form.decision == "allow";
    let mut event = AuditEvent::new(format!("user:{}", session.user_id), "consent")
        .tenant(&tenant.tenant.id)
        .target(format!("client:{}", client.client_id))
        .details(json!({ "scope": areq.scope, "decision": if allow { "allow" } else { "deny" } }));
    if !allow {
        event.outcome = Outcome::Denied;
        state.audit(event).await?;
        let denied = ProtocolError::new(OAuthErrorCode::AccessDenied, "the user denied the request");
        return Ok(flow_error(tenant, &areq, denied));
    }
    let (store, t, u, c, scope) = (
        state.store.clone(),
        tenant.tenant.id.clone(),
        session.user_id.clone(),
        client.client_id.clone(),
        areq.scope.clone(),
    );
    blocking(move || store.save_consent(&t, &u, &c, &scope, UnixTime::now().0, &event)).await?;
    issue_code(state, tenant, &areq, &session).await
}
