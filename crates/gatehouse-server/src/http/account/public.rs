//! The pages anyone may open where the tenant allows them: "forgot your password?" (A9) and
//! sign-up (AC3). Both are limited per client address like sign-in (A4), their forms carry a
//! token bound to a cookie of the browser that opened them (IO3), and the reset request is
//! answered before anything is looked up, so neither the answer nor its timing tells whether
//! an account exists.

use actix_web::http::StatusCode;
use actix_web::web;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use gatehouse_core::account::TokenPurpose;
use gatehouse_core::admin::{self, AdminError, CreateUser};
use gatehouse_core::audit::{AuditEvent, Outcome};
use gatehouse_core::crypto::random_token;
use gatehouse_core::flow::session::browser_form_token;
use gatehouse_core::oauth::params::has_control;
use gatehouse_core::store::{AccountStore, UserStore};
use gatehouse_core::{StoreError, UnixTime};
use gatehouse_types::{Email, ProtocolError, Secret, Username};
use serde::Deserialize;
use serde_json::json;
use subtle::ConstantTimeEq;

use super::failure;
use crate::http::client_ip::client_ip;
use crate::http::oauth::browser::{cookie, same_origin};
use crate::http::oauth::context::{TenantEntry, TenantScope, blocking};
use crate::http::oauth::throttle;
use crate::http::pages::{self, PAGE_CSP};
use crate::metrics::Limited;
use crate::state::AppState;

/// Reset links an account may be sent per hour (A4: a mailbox is not flooded).
const RESETS_PER_HOUR: i64 = 3;

fn form_cookie(tenant: &TenantEntry) -> String {
    format!("__Host-gh_form_{}", tenant.tenant.slug)
}

/// IO3: the token a form carries for the browser holding `cookie_value`.
fn form_token(state: &AppState, tenant: &TenantEntry, cookie_value: &str) -> Result<String, ProtocolError> {
    browser_form_token(state.store.vault(), &tenant.tenant.id, cookie_value).map_err(ProtocolError::server)
}

/// A form page with a fresh cookie and the token bound to it.
fn with_form_cookie(
    state: &AppState,
    tenant: &TenantEntry,
    render: impl FnOnce(&str) -> HttpResponse,
) -> Result<HttpResponse, ProtocolError> {
    let value = random_token();
    let token = form_token(state, tenant, &value)?;
    let mut res = render(&token);
    res.add_cookie(&cookie(form_cookie(tenant), value)).map_err(ProtocolError::server)?;
    Ok(res)
}

/// IO3: the post comes from this origin, from the browser the form was given to.
fn form_ok(req: &HttpRequest, state: &AppState, tenant: &TenantEntry, presented: &str) -> bool {
    let Some(c) = req.cookie(&form_cookie(tenant)) else { return false };
    let expected = form_token(state, tenant, c.value()).unwrap_or_default();
    same_origin(req, &state.config.public_url)
        && !expected.is_empty()
        && bool::from(expected.as_bytes().ct_eq(presented.as_bytes()))
}

fn not_offered() -> HttpResponse {
    pages::message(StatusCode::NOT_FOUND, "Not available", "This organisation does not offer this.", None)
}

fn expired_form() -> HttpResponse {
    pages::message(StatusCode::BAD_REQUEST, "This page has expired", "Reload the page and try again.", None)
}

/// A4: the client address over the sign-in limit gets 429 before anything is looked at.
async fn over_limit(
    req: &HttpRequest,
    state: &AppState,
    tenant: &TenantEntry,
) -> Result<Option<HttpResponse>, ProtocolError> {
    Ok(throttle::over_limit(req, state, tenant, state.login_limit.as_deref(), Limited::Login).await?.map(|wait| {
        let page = pages::message(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many attempts",
            "Please wait a minute, then try again.",
            None,
        );
        throttle::too_many(page, wait)
    }))
}

#[derive(Template)]
#[template(path = "forgot.html")]
struct ForgotPage<'a> {
    tenant_name: &'a str,
    action: String,
    form_token: &'a str,
}

/// `GET /account/forgot`.
pub async fn forgot_page(req: HttpRequest, t: TenantScope, state: web::Data<AppState>) -> HttpResponse {
    if !t.tenant.policy.password_reset {
        return not_offered();
    }
    with_form_cookie(&state, &t, |token| {
        let page = ForgotPage {
            tenant_name: &t.tenant.display_name,
            action: format!("/tenants/{}/account/forgot", t.tenant.slug),
            form_token: token,
        };
        pages::render(&page, StatusCode::OK, PAGE_CSP)
    })
    .unwrap_or_else(|e| failure(&req, &e))
}

#[derive(Deserialize)]
pub struct ForgotForm {
    form_token: String,
    account: String,
}

/// `POST /account/forgot`: always the same answer, given at once; the link (if any) is
/// issued afterwards.
pub async fn forgot(
    req: HttpRequest,
    t: TenantScope,
    form: web::Form<ForgotForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    if !t.tenant.policy.password_reset {
        return not_offered();
    }
    match over_limit(&req, &state, &t).await {
        Ok(Some(page)) => return page,
        Ok(None) => {}
        Err(e) => return failure(&req, &e),
    }
    if !form_ok(&req, &state, &t, &form.form_token) {
        return expired_form();
    }
    let account: String = form.account.trim().chars().take(254).collect();
    if !account.is_empty() && !has_control(&account) {
        let (state, tenant, ip) = (state.clone(), t.0.clone(), client_ip(&req).map(|ip| ip.to_string()));
        actix_web::rt::spawn(async move {
            if let Err(e) = send_reset(&state, &tenant, &account, ip).await {
                tracing::error!(error = %e, "password reset request failed");
            }
        });
    }
    pages::message(
        StatusCode::OK,
        "Check your mail",
        "If the name or address belongs to an account, a link to choose a new password is on its way. It works once, for 30 minutes.",
        None,
    )
}

/// A9: the reset link for the account `account` names (username or address), unless it was
/// sent too many already this hour; audited either way.
async fn send_reset(
    state: &AppState,
    tenant: &TenantEntry,
    account: &str,
    ip: Option<String>,
) -> Result<(), ProtocolError> {
    let (store, tid, name) = (state.store.clone(), tenant.tenant.id.clone(), account.to_owned());
    let user = blocking(move || {
        let by_email = Email::parse(&name).ok().map(|e| store.user_by_email(&tid, e.as_str())).transpose()?.flatten();
        match by_email {
            Some(u) => Ok::<_, StoreError>(Some(u)),
            None => store.user_by_username(&tid, &Username::normalize(&name)),
        }
    })
    .await?;
    let Some(user) = user.filter(|u| !u.disabled && u.email_verified) else { return Ok(()) };
    // The count and the new link, together (within this node; see docs/security.md A9).
    let _one_at_a_time = state.reset_sends.lock().await;
    let now = UnixTime::now();
    let (store, tid, uid) = (state.store.clone(), tenant.tenant.id.clone(), user.id.clone());
    let sent = blocking(move || store.tokens_issued_since(&tid, &uid, TokenPurpose::Reset, now.0 - 3600)).await?;
    let mut audit = AuditEvent::new(format!("user:{}", user.id), "user.password_reset_requested")
        .tenant(&tenant.tenant.id)
        .target(format!("user:{}", user.id));
    audit.source_ip = ip;
    if sent >= RESETS_PER_HOUR {
        audit.outcome = Outcome::Denied;
        audit.details = json!({ "reason": "too many reset links this hour" });
        return state.audit(audit).await;
    }
    let (store, config, t, to) = (state.store.clone(), state.config.clone(), tenant.tenant.clone(), user.email.clone());
    blocking(move || {
        crate::mail::send_link(
            &store,
            &config.mail,
            &config.public_url,
            &t,
            &user,
            TokenPurpose::Reset,
            &to,
            "",
            &audit,
            now,
        )
    })
    .await?;
    state.wake_mail();
    Ok(())
}

#[derive(Template)]
#[template(path = "signup.html")]
struct SignupPage<'a> {
    tenant_name: &'a str,
    action: String,
    form_token: &'a str,
    username: &'a str,
    email: &'a str,
    error: Option<&'a str>,
}

fn signup_form(
    state: &AppState,
    t: &TenantEntry,
    username: &str,
    email: &str,
    error: Option<&str>,
) -> Result<HttpResponse, ProtocolError> {
    let status = if error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    with_form_cookie(state, t, |token| {
        let page = SignupPage {
            tenant_name: &t.tenant.display_name,
            action: format!("/tenants/{}/account/signup", t.tenant.slug),
            form_token: token,
            username,
            email,
            error,
        };
        pages::render(&page, status, PAGE_CSP)
    })
}

/// `GET /account/signup`.
pub async fn signup_page(req: HttpRequest, t: TenantScope, state: web::Data<AppState>) -> HttpResponse {
    if !t.tenant.policy.self_registration {
        return not_offered();
    }
    signup_form(&state, &t, "", "", None).unwrap_or_else(|e| failure(&req, &e))
}

#[derive(Deserialize)]
pub struct SignupForm {
    form_token: String,
    username: String,
    email: String,
    new_password: Secret<String>,
    confirm_password: Secret<String>,
}

fn check_email_sent() -> HttpResponse {
    pages::message(
        StatusCode::OK,
        "Check your mail",
        "We sent a link to your address. Your account works once you open it (within 24 hours).",
        None,
    )
}

/// `POST /account/signup` (AC3): the account is created unconfirmed and a confirmation link
/// sent; a taken address gets the same answer as a new one, and no mail.
pub async fn signup(
    req: HttpRequest,
    t: TenantScope,
    form: web::Form<SignupForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    if !t.tenant.policy.self_registration {
        return not_offered();
    }
    match over_limit(&req, &state, &t).await {
        Ok(Some(page)) => return page,
        Ok(None) => {}
        Err(e) => return failure(&req, &e),
    }
    if !form_ok(&req, &state, &t, &form.form_token) {
        return expired_form();
    }
    let form = form.into_inner();
    let refuse = |text: &str| {
        signup_form(&state, &t, &form.username, &form.email, Some(text)).unwrap_or_else(|e| failure(&req, &e))
    };
    if form.new_password.expose() != form.confirm_password.expose() {
        return refuse("The two passwords differ.");
    }
    let input = CreateUser {
        tenant: t.tenant.slug.clone(),
        username: form.username.clone(),
        email: form.email.clone(),
        password: Some(form.new_password.clone()),
        roles: Vec::new(),
        must_change_password: false,
        self_registered: true,
    };
    let Ok(_permit) = state.hash_permits.acquire().await else {
        return failure(&req, &ProtocolError::server("permits"));
    };
    let (store, hasher, policy) = (state.store.clone(), state.hasher.clone(), state.config.password_policy.clone());
    let actor = format!("signup:{}", client_ip(&req).map(|ip| ip.to_string()).unwrap_or_default());
    let created =
        web::block(move || admin::create_user(&store, &hasher, &policy, &actor, &input, UnixTime::now())).await;
    let user = match created {
        Ok(Ok(user)) => user,
        Ok(Err(AdminError::Store(StoreError::Conflict(c)))) if c.contains("email") => return check_email_sent(),
        Ok(Err(AdminError::Invalid(rule))) => return refuse(&rule),
        Ok(Err(AdminError::Store(StoreError::Conflict(c)))) => return refuse(c),
        Ok(Err(e)) => return failure(&req, &ProtocolError::server(e)),
        Err(e) => return failure(&req, &ProtocolError::server(e)),
    };
    let audit = AuditEvent::new(format!("user:{}", user.id), "user.verify_requested")
        .tenant(&t.tenant.id)
        .target(format!("user:{}", user.id));
    let (store, config, tenant, to) = (state.store.clone(), state.config.clone(), t.tenant.clone(), user.email.clone());
    let sent = blocking(move || {
        crate::mail::send_link(
            &store,
            &config.mail,
            &config.public_url,
            &tenant,
            &user,
            TokenPurpose::Verify,
            &to,
            "",
            &audit,
            UnixTime::now(),
        )
    })
    .await;
    match sent {
        Ok(()) => {
            state.wake_mail();
            check_email_sent()
        }
        Err(e) => failure(&req, &e),
    }
}
