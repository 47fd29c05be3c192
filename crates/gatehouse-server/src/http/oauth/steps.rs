//! After the password (A6, A7, A8, S3): the steps a sign-in may still have to take — a
//! required password change (first sign-in, an operator's reset, expiry), a second factor to
//! enrol — each on its own page bound to the waiting sign-in, and only when none is left the
//! session, and where the sign-in was going.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::web;
use actix_web::{HttpRequest, HttpResponse};
use gatehouse_core::UnixTime;
use gatehouse_core::account::{PasswordChange, check_new_password, password_expired};
use gatehouse_core::audit::AuditEvent;
use gatehouse_core::flow::interaction::{Continuation, Progress, SignIn, Step};
use gatehouse_core::flow::session::{SessionPolicy, new_session, renewed_session};
use gatehouse_core::flow::{ACR_PASSWORD, secret_hash};
use gatehouse_core::model::{User, roles};
use gatehouse_core::oauth::params::has_control;
use gatehouse_core::store::{
    AccountStore, FlowStore, NewPassword, PendingRequest, SessionRecord, SessionsToEnd, UserStore,
};
use gatehouse_types::{ProtocolError, Secret};
use serde::Deserialize;
use serde_json::json;

use super::authorize::continue_flow;
use super::browser::{self, PageRefused, cookie, current_session, load_pending, refused_page, session_cookie};
use super::context::{TenantEntry, TenantScope, blocking};
use crate::http::client_ip::client_ip;
use crate::http::errors::request_id;
use crate::http::pages::{self, ChangePasswordPage, EnrollFactorPage, PAGE_CSP};
use crate::state::AppState;

/// A6: whether `user` holds a role of an administrator of any level (AC4), who must sign in
/// with a second factor.
async fn is_administrator(state: &AppState, user: &User) -> Result<bool, ProtocolError> {
    let (store, t, u) = (state.store.clone(), user.tenant_id.clone(), user.id.clone());
    let held = blocking(move || store.user_roles(&t, &u)).await?;
    Ok(held.iter().any(|r| [roles::PLATFORM_ADMIN, roles::TENANT_ADMIN, roles::HELPDESK].contains(&r.as_str())))
}

/// The next step `user` must take before a session, if any (A6, A8, A2 expiry).
async fn next_step(
    state: &AppState,
    tenant: &TenantEntry,
    user: &User,
    done: Option<Step>,
) -> Result<Option<Step>, ProtocolError> {
    let must_change = user.must_change_password || password_expired(user, &tenant.tenant.policy, UnixTime::now());
    if must_change && done.is_none() {
        return Ok(Some(Step::ChangePassword));
    }
    // A6: no administrator signs in on a password alone. Enrolment comes with MFA (A5); until
    // then the sign-in stops at the enrolment page, with no session.
    if is_administrator(state, user).await? {
        return Ok(Some(Step::EnrollFactor));
    }
    Ok(None)
}

/// Called once the password was right: the next step's page, or the session.
#[allow(clippy::too_many_arguments)]
pub async fn after_password(
    req: &HttpRequest,
    state: &AppState,
    tenant: &TenantEntry,
    pending: PendingRequest,
    csrf: &str,
    interaction: SignIn,
    user: User,
    done: Option<Step>,
) -> Result<HttpResponse, ProtocolError> {
    match next_step(state, tenant, &user, done).await? {
        None => finish(req, state, tenant, pending, interaction, &user).await,
        Some(step) => {
            let progress = Progress { user_id: user.id.clone(), amr: vec!["pwd".to_owned()], step };
            let stored = SignIn { continuation: interaction.continuation, progress: Some(progress) };
            let params = serde_json::to_string(&stored).map_err(ProtocolError::server)?;
            let (store, t, id) = (state.store.clone(), tenant.tenant.id.clone(), pending.id.clone());
            blocking(move || store.update_request(&t, &id, &params)).await?;
            let mut event = AuditEvent::new(format!("user:{}", user.id), "login.step")
                .tenant(&tenant.tenant.id)
                .target(format!("user:{}", user.id))
                .details(json!({ "step": step }));
            event.source_ip = client_ip(req).map(|ip| ip.to_string());
            state.audit(event).await?;
            Ok(step_page(tenant, &user, &pending.id, csrf, step, None))
        }
    }
}

/// The page of `step`, carrying the waiting sign-in's id and token.
fn step_page(
    tenant: &TenantEntry,
    user: &User,
    request_id: &str,
    csrf: &str,
    step: Step,
    error: Option<&str>,
) -> HttpResponse {
    match step {
        Step::ChangePassword => {
            let page = ChangePasswordPage {
                tenant_name: &tenant.tenant.display_name,
                username: &user.username,
                action: format!("/tenants/{}/login/password", tenant.tenant.slug),
                request_id,
                csrf,
                error,
            };
            let status = if error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
            pages::render(&page, status, PAGE_CSP)
        }
        Step::EnrollFactor => {
            let page = EnrollFactorPage { tenant_name: &tenant.tenant.display_name, username: &user.username };
            pages::render(&page, StatusCode::OK, PAGE_CSP)
        }
    }
}

/// Every step done: the session (S3), then where the sign-in was going.
async fn finish(
    req: &HttpRequest,
    state: &AppState,
    tenant: &TenantEntry,
    pending: PendingRequest,
    interaction: SignIn,
    user: &User,
) -> Result<HttpResponse, ProtocolError> {
    let source_ip = client_ip(req).map(|ip| ip.to_string());
    let (session_id, session) = start_session(req, state, tenant, user, &pending.client_id, source_ip).await?;
    let (store, t, id) = (state.store.clone(), tenant.tenant.id.clone(), pending.id.clone());
    blocking(move || store.delete_request(&t, &id)).await?;
    let mut res = match interaction.continuation {
        Continuation::Authorize(areq) => {
            let client = browser::pending_client(state, tenant, &areq).await?;
            continue_flow(state, tenant, &client, &areq, Some(&session), true).await?
        }
        Continuation::Page { path } => HttpResponse::SeeOther()
            .insert_header((header::LOCATION, format!("/tenants/{}{path}", tenant.tenant.slug)))
            .finish(),
    };
    res.add_cookie(&cookie(session_cookie(tenant), session_id)).map_err(ProtocolError::server)?;
    Ok(res)
}

/// S8: the user agent as shown to its user (the first 200 characters, printable only).
fn shown_user_agent(req: &HttpRequest) -> Option<String> {
    let ua = req.headers().get(header::USER_AGENT).and_then(|v| v.to_str().ok())?;
    Some(ua.chars().filter(|c| !c.is_control()).take(200).collect())
}

/// S3: the session of a user who just presented every required factor, under a new
/// identifier (the returned cookie value). The same user's live session in this browser is
/// renewed (same `sid` and clients, new id and authentication time); another user's ends.
pub async fn start_session(
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
    // S5: what the session is bound to, should its tenant bind sessions; S8: what its user sees.
    session.user_agent_hash = Some(browser::user_agent_hash(req));
    session.client_ip = client_ip(req).map(|ip| ip.to_string());
    session.user_agent = shown_user_agent(req);
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

#[derive(Deserialize)]
pub struct ChangePasswordForm {
    request_id: String,
    csrf: String,
    new_password: Secret<String>,
    confirm_password: Secret<String>,
}

/// `POST {issuer}/login/password`: the password change a sign-in requires (A8, A2).
pub async fn change_password(
    req: HttpRequest,
    tenant: TenantScope,
    form: web::Form<ChangePasswordForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    match handle_change(&req, &state, &tenant, form.into_inner()).await {
        Ok(res) => res,
        Err(e) => {
            tracing::error!(error = %e, "password change at sign-in failed");
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

async fn handle_change(
    req: &HttpRequest,
    state: &AppState,
    tenant: &TenantEntry,
    form: ChangePasswordForm,
) -> Result<HttpResponse, ProtocolError> {
    if has_control(&form.request_id) || has_control(&form.csrf) {
        return Ok(refused_page(req, &PageRefused("control character")));
    }
    let (pending, interaction) = match load_pending(req, state, tenant, &form.request_id, &form.csrf).await? {
        Ok(p) => p,
        Err(why) => return Ok(refused_page(req, &why)),
    };
    let Some(Progress { user_id, step: Step::ChangePassword, .. }) = &interaction.progress else {
        return Ok(refused_page(req, &PageRefused("no password change pending")));
    };
    let (store, t, u) = (state.store.clone(), tenant.tenant.id.clone(), user_id.clone());
    let Some(user) = blocking(move || store.user_by_id(&t, &u)).await?.filter(|u| !u.disabled) else {
        return Ok(refused_page(req, &PageRefused("user gone")));
    };
    let refuse = |text: &str| step_page(tenant, &user, &pending.id, &form.csrf, Step::ChangePassword, Some(text));
    if form.new_password.expose() != form.confirm_password.expose() {
        return Ok(refuse("The two passwords differ."));
    }
    let keep = tenant.tenant.policy.password_history;
    let (store, t, u) = (state.store.clone(), tenant.tenant.id.clone(), user.id.clone());
    let history = blocking(move || store.password_history(&t, &u, usize::from(keep))).await?;
    let _permit = state.hash_permits.acquire().await.map_err(ProtocolError::server)?;
    let (hasher, policy, candidate, new) =
        (state.hasher.clone(), state.config.password_policy.clone(), user.clone(), form.new_password);
    let checked = web::block(move || check_new_password(&hasher, &policy, &candidate, &new, &history))
        .await
        .map_err(ProtocolError::server)?;
    let hash = match checked {
        Ok(hash) => hash,
        Err(PasswordChange::Hashing) => return Err(ProtocolError::server("password hashing failed")),
        Err(rule) => return Ok(refuse(&rule.to_string())),
    };
    let mut audit = AuditEvent::new(format!("user:{}", user.id), "user.password_change")
        .tenant(&tenant.tenant.id)
        .target(format!("user:{}", user.id))
        .details(json!({ "at": "sign-in", "sessions_and_refresh_tokens": "revoked" }));
    audit.source_ip = client_ip(req).map(|ip| ip.to_string());
    let (store, t, u, now) = (state.store.clone(), tenant.tenant.id.clone(), user.id.clone(), UnixTime::now().0);
    blocking(move || {
        let change = NewPassword {
            tenant_id: &t,
            user_id: &u,
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
    let user = User { must_change_password: false, password_changed_at: Some(now), ..user };
    after_password(req, state, tenant, pending, &form.csrf, interaction, user, Some(Step::ChangePassword)).await
}
