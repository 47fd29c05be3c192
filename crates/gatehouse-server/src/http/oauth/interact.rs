//! The pages' POST handlers: login (A1, A3, A4, AC3) and consent (O6); what follows the
//! password is in `steps`.

use actix_web::http::StatusCode;
use actix_web::web;
use actix_web::{HttpRequest, HttpResponse};
use gatehouse_core::UnixTime;
use gatehouse_core::audit::{AuditEvent, Outcome};
use gatehouse_core::flow::interaction::Continuation;
use gatehouse_core::oauth::params::has_control;
use gatehouse_core::password::failure_delay;
use gatehouse_core::store::FlowStore;
use gatehouse_types::{OAuthErrorCode, ProtocolError, Secret, Username};
use serde::Deserialize;
use serde_json::json;

use super::authorize::{flow_error, issue_code, login_page};
use super::browser::{PageRefused, current_session, load_pending, pending_client, refused_page};
use super::context::{TenantEntry, TenantScope, blocking};
use super::signin::{self, Attempt};
use super::steps;
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
    let (pending, interaction) = match load_pending(req, state, tenant, &form.request_id, &form.csrf).await? {
        Ok(p) => p,
        Err(why) => return Ok(refused_page(req, &why)),
    };
    if interaction.progress.is_some() {
        return Ok(refused_page(req, &PageRefused("the password of this sign-in was already given")));
    }
    let client = match &interaction.continuation {
        Continuation::Authorize(areq) => Some(pending_client(state, tenant, areq).await?),
        Continuation::Page { .. } => None,
    };
    // Usernames are compared in their normalized form (A8: `Alice` is `alice`).
    let username = Username::normalize(&form.username.chars().take(254).collect::<String>());
    let source_ip = client_ip(req).map(|ip| ip.to_string());
    let user = match signin::check(state, tenant, &username, form.password).await? {
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
                .details(json!({ "client_id": pending.client_id, "reason": reason }));
            event.outcome = if matches!(failed, Attempt::Locked(_)) { Outcome::Denied } else { Outcome::Failure };
            event.source_ip = source_ip;
            state.audit(event).await?;
            state.metrics.count(Event::LoginFailed);
            // A4: the answer comes later with every failure in a row for this username.
            let streak = state.failure_streaks.note_failure(&tenant.tenant.id, &username);
            tokio::time::sleep(failure_delay(state.config.login_failure_delay, streak)).await;
            // A3, A4: a locked account gets the same answer as a wrong password.
            return login_page(state, tenant, client.as_deref(), &interaction, Some(LOGIN_FAILED)).await;
        }
    };
    if !user.email_verified {
        // AC3: a self-registered account signs in once its address is confirmed (said only
        // to whoever knows the password).
        let mut event = AuditEvent::new(format!("user:{}", user.id), "login")
            .tenant(&tenant.tenant.id)
            .target(format!("user:{}", user.id))
            .details(json!({ "reason": "e-mail address not confirmed" }));
        event.outcome = Outcome::Denied;
        event.source_ip = source_ip;
        state.audit(event).await?;
        return Ok(pages::message(
            StatusCode::FORBIDDEN,
            "Confirm your e-mail address first",
            "Open the link in the message we sent when you signed up, then sign in.",
            None,
        ));
    }
    let waiting = steps::Waiting { pending, csrf: form.csrf, sign_in: interaction, user };
    steps::after_password(req, state, tenant, waiting).await
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
    let (pending, interaction) = match load_pending(req, state, tenant, &form.request_id, &form.csrf).await? {
        Ok(p) => p,
        Err(why) => return Ok(refused_page(req, &why)),
    };
    let Continuation::Authorize(areq) = &interaction.continuation else {
        return Ok(refused_page(req, &PageRefused("consent for a sign-in without a client")));
    };
    let client = pending_client(state, tenant, areq).await?;
    let Some((_, session)) = current_session(req, state, tenant).await? else {
        return login_page(state, tenant, Some(&client), &interaction, None).await;
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
        return Ok(flow_error(tenant, areq, denied));
    }
    let (store, t, u, c, scope) = (
        state.store.clone(),
        tenant.tenant.id.clone(),
        session.user_id.clone(),
        client.client_id.clone(),
        areq.scope.clone(),
    );
    blocking(move || store.save_consent(&t, &u, &c, &scope, UnixTime::now().0, &event)).await?;
    issue_code(state, tenant, areq, &session).await
}
