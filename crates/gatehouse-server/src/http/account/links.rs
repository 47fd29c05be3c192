//! The pages single-use links open (A8, A9, AC3): set a first password (invitation), set a
//! new one (reset), confirm a new e-mail address, confirm a sign-up. Opening a link (GET)
//! changes nothing, so mail scanners that follow links do no harm; the form it shows does
//! (POST, from this origin), and a link is used only once its new password passed the policy,
//! so a refused attempt leaves it as it was. Wrong and expired links all get one page.

use actix_web::http::StatusCode;
use actix_web::web;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use gatehouse_core::account::{PasswordChange, TokenPurpose, UserToken, check_new_password};
use gatehouse_core::audit::AuditEvent;
use gatehouse_core::flow::secret_hash;
use gatehouse_core::model::User;
use gatehouse_core::oauth::params::has_control;
use gatehouse_core::store::{AccountStore, NewPassword, SessionsToEnd, UserStore};
use gatehouse_core::{StoreError, UnixTime};
use gatehouse_types::{ProtocolError, Secret};
use serde::Deserialize;
use serde_json::json;

use super::failure;
use crate::http::client_ip::client_ip;
use crate::http::oauth::browser::same_origin;
use crate::http::oauth::context::{TenantEntry, TenantScope, blocking};
use crate::http::pages::{self, PAGE_CSP};
use crate::state::AppState;

#[derive(Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

#[derive(Template)]
#[template(path = "link_password.html")]
struct PasswordLinkPage<'a> {
    title: &'static str,
    tenant_name: &'a str,
    username: &'a str,
    action: String,
    token: &'a str,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "link_confirm.html")]
struct ConfirmLinkPage<'a> {
    title: &'static str,
    text: String,
    tenant_name: &'a str,
    action: String,
    token: &'a str,
}

/// The one answer to a wrong, used or expired link.
fn invalid_link() -> HttpResponse {
    pages::message(
        StatusCode::BAD_REQUEST,
        "This link is not valid",
        "It may have been used already, replaced by a newer one, or expired. Ask for a new one.",
        None,
    )
}

/// The live link `token` of `purpose` and its user.
async fn lookup(
    state: &AppState,
    tenant: &TenantEntry,
    token: Option<&str>,
    purpose: TokenPurpose,
) -> Result<Option<(UserToken, User)>, ProtocolError> {
    let Some(token) = token.filter(|t| !t.is_empty() && t.len() <= 100 && !has_control(t)) else { return Ok(None) };
    let (store, tid, hash) = (state.store.clone(), tenant.tenant.id.clone(), secret_hash(token));
    let Some(record) = blocking(move || store.user_token(&tid, &hash, purpose, UnixTime::now().0)).await? else {
        return Ok(None);
    };
    let (store, tid, uid) = (state.store.clone(), tenant.tenant.id.clone(), record.user_id.clone());
    Ok(blocking(move || store.user_by_id(&tid, &uid)).await?.filter(|u| !u.disabled).map(|u| (record, u)))
}

/// Uses the link once; `false` when it was used meanwhile.
async fn use_link(
    state: &AppState,
    tenant: &TenantEntry,
    token: &str,
    purpose: TokenPurpose,
) -> Result<bool, ProtocolError> {
    let (store, tid, hash) = (state.store.clone(), tenant.tenant.id.clone(), secret_hash(token));
    Ok(blocking(move || store.use_user_token(&tid, &hash, purpose, UnixTime::now().0)).await?.is_some())
}

fn title(purpose: TokenPurpose) -> &'static str {
    match purpose {
        TokenPurpose::Invite => "Choose your password",
        _ => "Choose a new password",
    }
}

fn password_page(
    tenant: &TenantEntry,
    user: &User,
    purpose: TokenPurpose,
    token: &str,
    error: Option<&str>,
) -> HttpResponse {
    let page = PasswordLinkPage {
        title: title(purpose),
        tenant_name: &tenant.tenant.display_name,
        username: &user.username,
        action: format!("/tenants/{}{}", tenant.tenant.slug, crate::mail::link_path(purpose)),
        token,
        error,
    };
    let status = if error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    pages::render(&page, status, PAGE_CSP)
}

/// GET of a password link.
async fn show_password(
    req: HttpRequest,
    t: TenantScope,
    q: web::Query<TokenQuery>,
    state: web::Data<AppState>,
    purpose: TokenPurpose,
) -> HttpResponse {
    match lookup(&state, &t, q.token.as_deref(), purpose).await {
        Ok(Some((_, user))) => password_page(&t, &user, purpose, q.token.as_deref().unwrap_or(""), None),
        Ok(None) => invalid_link(),
        Err(e) => failure(&req, &e),
    }
}

#[derive(Deserialize)]
pub struct PasswordLinkForm {
    token: String,
    new_password: Secret<String>,
    confirm_password: Secret<String>,
}

/// POST of a password link: the new password passes the policy and history, then the link is
/// used and the password set; every session and refresh token of the user ends (A9).
async fn set_by_link(
    req: &HttpRequest,
    state: &AppState,
    t: &TenantEntry,
    form: PasswordLinkForm,
    purpose: TokenPurpose,
) -> Result<HttpResponse, ProtocolError> {
    if !same_origin(req, &state.config.public_url) {
        return Ok(invalid_link());
    }
    let Some((_, user)) = lookup(state, t, Some(&form.token), purpose).await? else { return Ok(invalid_link()) };
    if form.new_password.expose() != form.confirm_password.expose() {
        return Ok(password_page(t, &user, purpose, &form.token, Some("The two passwords differ.")));
    }
    let keep = t.tenant.policy.password_history;
    let (store, tid, uid) = (state.store.clone(), t.tenant.id.clone(), user.id.clone());
    let history = blocking(move || store.password_history(&tid, &uid, usize::from(keep))).await?;
    let _permit = state.hash_permits.acquire().await.map_err(ProtocolError::server)?;
    let (hasher, policy, candidate, new) =
        (state.hasher.clone(), state.config.password_policy.clone(), user.clone(), form.new_password);
    let checked = web::block(move || check_new_password(&hasher, &policy, &candidate, &new, &history))
        .await
        .map_err(ProtocolError::server)?;
    let hash = match checked {
        Ok(hash) => hash,
        Err(PasswordChange::Hashing) => return Err(ProtocolError::server("password hashing failed")),
        Err(rule) => return Ok(password_page(t, &user, purpose, &form.token, Some(&rule.to_string()))),
    };
    if !use_link(state, t, &form.token, purpose).await? {
        return Ok(invalid_link());
    }
    let action = if purpose == TokenPurpose::Invite { "user.password_set" } else { "user.password_reset" };
    let mut audit = AuditEvent::new(format!("user:{}", user.id), action)
        .tenant(&t.tenant.id)
        .target(format!("user:{}", user.id))
        .details(json!({ "by": "e-mailed link", "sessions_and_refresh_tokens": "revoked" }));
    audit.source_ip = client_ip(req).map(|ip| ip.to_string());
    let (store, tid, uid, now) = (state.store.clone(), t.tenant.id.clone(), user.id.clone(), UnixTime::now().0);
    blocking(move || {
        let change = NewPassword {
            tenant_id: &tid,
            user_id: &uid,
            hash: &hash,
            now,
            must_change: false,
            keep_history: keep,
            end: SessionsToEnd::All,
        };
        store.set_password(&change, &audit)
    })
    .await?;
    state.wake_logout_delivery();
    Ok(done_page("Your password is set", "Sign in with it now."))
}

/// A link's success page.
fn done_page(title: &'static str, text: &'static str) -> HttpResponse {
    pages::message(StatusCode::OK, title, text, None)
}

/// `GET /account/set-password?token=` (A8 invitation).
pub async fn set_password_page(
    req: HttpRequest,
    t: TenantScope,
    q: web::Query<TokenQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    show_password(req, t, q, state, TokenPurpose::Invite).await
}

/// `POST /account/set-password`.
pub async fn set_password(
    req: HttpRequest,
    t: TenantScope,
    form: web::Form<PasswordLinkForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    set_by_link(&req, &state, &t, form.into_inner(), TokenPurpose::Invite).await.unwrap_or_else(|e| failure(&req, &e))
}

/// `GET /account/reset?token=` (A9).
pub async fn reset_page(
    req: HttpRequest,
    t: TenantScope,
    q: web::Query<TokenQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    show_password(req, t, q, state, TokenPurpose::Reset).await
}

/// `POST /account/reset`.
pub async fn reset(
    req: HttpRequest,
    t: TenantScope,
    form: web::Form<PasswordLinkForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    set_by_link(&req, &state, &t, form.into_inner(), TokenPurpose::Reset).await.unwrap_or_else(|e| failure(&req, &e))
}

/// GET of a confirmation link: a page with one button.
async fn show_confirm(
    req: HttpRequest,
    t: TenantScope,
    q: web::Query<TokenQuery>,
    state: web::Data<AppState>,
    purpose: TokenPurpose,
) -> HttpResponse {
    match lookup(&state, &t, q.token.as_deref(), purpose).await {
        Ok(Some((record, user))) => {
            let (title, text) = match purpose {
                TokenPurpose::Email => {
                    ("Confirm your new address", format!("Make {} the address of {}.", record.data, user.username))
                }
                _ => (
                    "Confirm your address",
                    format!("Confirm {} to finish signing up as {}.", user.email, user.username),
                ),
            };
            let page = ConfirmLinkPage {
                title,
                text,
                tenant_name: &t.tenant.display_name,
                action: format!("/tenants/{}{}", t.tenant.slug, crate::mail::link_path(purpose)),
                token: q.token.as_deref().unwrap_or(""),
            };
            pages::render(&page, StatusCode::OK, PAGE_CSP)
        }
        Ok(None) => invalid_link(),
        Err(e) => failure(&req, &e),
    }
}

#[derive(Deserialize)]
pub struct ConfirmForm {
    token: String,
}

/// POST of a confirmation link: the link is used, and the address set (and confirmed).
async fn confirm(
    req: &HttpRequest,
    state: &AppState,
    t: &TenantEntry,
    token: &str,
    purpose: TokenPurpose,
) -> Result<HttpResponse, ProtocolError> {
    if !same_origin(req, &state.config.public_url) {
        return Ok(invalid_link());
    }
    let Some((record, user)) = lookup(state, t, Some(token), purpose).await? else { return Ok(invalid_link()) };
    if !use_link(state, t, token, purpose).await? {
        return Ok(invalid_link());
    }
    let (email, action) = match purpose {
        TokenPurpose::Email => (record.data.clone(), "user.email_change"),
        _ => (user.email.clone(), "user.email_verified"),
    };
    let mut audit = AuditEvent::new(format!("user:{}", user.id), action)
        .tenant(&t.tenant.id)
        .target(format!("user:{}", user.id))
        .details(json!({ "before": { "email": user.email }, "after": { "email": email } }));
    audit.source_ip = client_ip(req).map(|ip| ip.to_string());
    let (store, tid, uid) = (state.store.clone(), t.tenant.id.clone(), user.id.clone());
    let set = blocking(move || Ok::<_, StoreError>(store.set_email(&tid, &uid, &email, &audit))).await?;
    match set {
        Ok(()) => Ok(done_page("Your address is confirmed", "You can sign in with your account now.")),
        Err(StoreError::Conflict(_)) => Ok(pages::message(
            StatusCode::CONFLICT,
            "This address cannot be used",
            "Another account of this organisation has it already.",
            None,
        )),
        Err(e) => Err(ProtocolError::server(e)),
    }
}

/// `GET /account/email/confirm?token=`.
pub async fn email_page(
    req: HttpRequest,
    t: TenantScope,
    q: web::Query<TokenQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    show_confirm(req, t, q, state, TokenPurpose::Email).await
}

/// `POST /account/email/confirm`.
pub async fn confirm_email(
    req: HttpRequest,
    t: TenantScope,
    form: web::Form<ConfirmForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    confirm(&req, &state, &t, &form.token, TokenPurpose::Email).await.unwrap_or_else(|e| failure(&req, &e))
}

/// `GET /account/verify?token=` (AC3).
pub async fn verify_page(
    req: HttpRequest,
    t: TenantScope,
    q: web::Query<TokenQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    show_confirm(req, t, q, state, TokenPurpose::Verify).await
}

/// `POST /account/verify`.
pub async fn verify(
    req: HttpRequest,
    t: TenantScope,
    form: web::Form<ConfirmForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    confirm(&req, &state, &t, &form.token, TokenPurpose::Verify).await.unwrap_or_else(|e| failure(&req, &e))
}
