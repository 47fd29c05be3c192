//! After the password (A6, A7, A8, S3): the steps a sign-in may still have to take — an
//! enrolled second factor to present, a required password change, a factor to enrol and
//! the recovery codes to keep — each on its own page bound to the waiting sign-in, and only
//! when none is left the session, and where the sign-in was going. The factor comes before
//! the password change, so a password alone never chooses the next password.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::web;
use actix_web::{HttpRequest, HttpResponse};
use gatehouse_core::UnixTime;
use gatehouse_core::account::{PasswordChange, check_new_password, password_expired};
use gatehouse_core::audit::AuditEvent;
use gatehouse_core::flow::interaction::{Continuation, PendingLink, Progress, SignIn, Step};
use gatehouse_core::flow::secret_hash;
use gatehouse_core::flow::session::{new_session, renewed_session};
use gatehouse_core::mfa::{self, FactorNeed, MfaPolicy, amr};
use gatehouse_core::model::{User, roles};
use gatehouse_core::oauth::params::has_control;
use gatehouse_core::store::{
    AccountStore, FlowStore, MfaStore, NewPassword, PendingRequest, SessionRecord, SessionsToEnd, UserStore,
};
use gatehouse_types::{ProtocolError, Secret};
use serde::Deserialize;
use serde_json::json;

use super::authorize::continue_flow;
use super::browser::{self, PageRefused, cookie, current_session, refused_page, session_cookie};
use super::context::{TenantEntry, TenantScope, blocking};
use super::step_pages::{self, StepView};
use crate::http::client_ip::client_ip;
use crate::http::errors::request_id;
use crate::http::pages;
use crate::state::AppState;

/// A6: whether `user` holds a role of an administrator of any level (AC4), who must sign in
/// with a second factor.
pub async fn is_administrator(state: &AppState, user: &User) -> Result<bool, ProtocolError> {
    let (store, t, u) = (state.store.clone(), user.tenant_id.clone(), user.id.clone());
    let held = blocking(move || store.user_roles(&t, &u)).await?;
    Ok(held.iter().any(|r| [roles::PLATFORM_ADMIN, roles::TENANT_ADMIN, roles::HELPDESK].contains(&r.as_str())))
}

/// Whether `user` has a confirmed second factor.
pub async fn has_factor(state: &AppState, user: &User) -> Result<bool, ProtocolError> {
    let (store, t, u) = (state.store.clone(), user.tenant_id.clone(), user.id.clone());
    Ok(blocking(move || store.factors(&t, &u)).await?.iter().any(|f| f.confirmed))
}

/// Why a sign-in must enrol a factor, if it must (A6): the account is an administrator's,
/// the tenant requires one, or the client asked for it with `acr_values`.
pub async fn factor_required(
    state: &AppState,
    tenant: &TenantEntry,
    user: &User,
    continuation: &Continuation,
) -> Result<Option<&'static str>, ProtocolError> {
    if is_administrator(state, user).await? {
        return Ok(Some("administrators sign in with a password and a second factor"));
    }
    if tenant.tenant.policy.mfa == MfaPolicy::Required {
        return Ok(Some("this organisation asks everyone to sign in with a second factor"));
    }
    match continuation {
        Continuation::Authorize(areq) if mfa::acr_requests_mfa(areq.acr_values.as_deref()) => {
            Ok(Some("the application asks for a sign-in with a second factor"))
        }
        _ => Ok(None),
    }
}

/// The next step of a sign-in that has presented `methods` (A6, A7, A8, A2 expiry).
async fn next_step(
    state: &AppState,
    tenant: &TenantEntry,
    user: &User,
    methods: &[String],
    continuation: &Continuation,
    done: Option<Step>,
) -> Result<Option<Step>, ProtocolError> {
    let required = factor_required(state, tenant, user, continuation).await?.is_some();
    let need = mfa::factor_need(methods, has_factor(state, user).await?, required);
    if need == FactorNeed::Present {
        return Ok(Some(Step::SecondFactor));
    }
    let by_password = methods.iter().any(|m| m == amr::PWD);
    let must_change = user.must_change_password || password_expired(user, &tenant.tenant.policy, UnixTime::now());
    if by_password && must_change && done != Some(Step::ChangePassword) {
        return Ok(Some(Step::ChangePassword));
    }
    if need == FactorNeed::Enrol {
        return Ok(Some(Step::EnrollFactor));
    }
    Ok(None)
}

/// A waiting sign-in that has shown who it is for, as the step handlers receive it.
pub struct Waiting {
    pub pending: PendingRequest,
    pub csrf: String,
    pub sign_in: SignIn,
    pub user: User,
}

/// Called once the password was right: the next step's page, or the session.
pub async fn after_password(
    req: &HttpRequest,
    state: &AppState,
    tenant: &TenantEntry,
    w: Waiting,
) -> Result<HttpResponse, ProtocolError> {
    advance(req, state, tenant, w, vec![amr::PWD.to_owned()], None).await
}

/// Takes the sign-in on after `done` with the methods `methods`: the next step, or the session.
pub async fn advance(
    req: &HttpRequest,
    state: &AppState,
    tenant: &TenantEntry,
    w: Waiting,
    methods: Vec<String>,
    done: Option<Step>,
) -> Result<HttpResponse, ProtocolError> {
    match next_step(state, tenant, &w.user, &methods, &w.sign_in.continuation, done).await? {
        None => finish(req, state, tenant, w, &methods).await,
        Some(step) => {
            let mut event = AuditEvent::new(format!("user:{}", w.user.id), "login.step")
                .tenant(&tenant.tenant.id)
                .target(format!("user:{}", w.user.id))
                .details(json!({ "step": step, "amr": methods }));
            event.source_ip = client_ip(req).map(|ip| ip.to_string());
            state.audit(event).await?;
            enter(state, tenant, w, methods, step, StepView::default()).await
        }
    }
}

/// Shows the page of `step` and records the sign-in's progress with what the page started
/// (a pending TOTP factor, a WebAuthn ceremony).
pub async fn enter(
    state: &AppState,
    tenant: &TenantEntry,
    w: Waiting,
    methods: Vec<String>,
    step: Step,
    view: StepView,
) -> Result<HttpResponse, ProtocolError> {
    let earlier = w.sign_in.progress.as_ref().filter(|p| p.step == step);
    let progress = Progress {
        user_id: w.user.id.clone(),
        amr: methods,
        step,
        factor_id: earlier.and_then(|p| p.factor_id.clone()),
        ceremony: None,
    };
    let (progress, page) = step_pages::prepare(state, tenant, &w, progress, view).await?;
    let stored = SignIn {
        continuation: w.sign_in.continuation,
        progress: Some(progress),
        ceremony: None,
        upstream: None,
        link: w.sign_in.link,
        federated: w.sign_in.federated,
    };
    let params = serde_json::to_string(&stored).map_err(ProtocolError::server)?;
    let (store, t, id) = (state.store.clone(), tenant.tenant.id.clone(), w.pending.id.clone());
    blocking(move || store.update_request(&t, &id, &params)).await?;
    Ok(page)
}

/// Every step done: the session (S3), then where the sign-in was going.
async fn finish(
    req: &HttpRequest,
    state: &AppState,
    tenant: &TenantEntry,
    w: Waiting,
    methods: &[String],
) -> Result<HttpResponse, ProtocolError> {
    let source_ip = client_ip(req).map(|ip| ip.to_string());
    if let Some(link) = &w.sign_in.link {
        link_after_local_sign_in(state, tenant, link, &w.user).await?;
    }
    let (session_id, session) =
        start_session(req, state, tenant, &w.user, &w.pending.client_id, source_ip, methods).await?;
    if let Some(federated) = &w.sign_in.federated {
        crate::http::upstream::logout::remember(state, tenant, &session.sid, federated).await?;
    }
    let (store, t, id) = (state.store.clone(), tenant.tenant.id.clone(), w.pending.id.clone());
    blocking(move || store.delete_request(&t, &id)).await?;
    let mut res = match w.sign_in.continuation {
        Continuation::Authorize(areq) => {
            let client = browser::pending_client(state, tenant, &areq).await?;
            continue_flow(req, state, tenant, &client, &areq, Some(&session), true).await?
        }
        Continuation::Page { path } => HttpResponse::SeeOther()
            .insert_header((header::LOCATION, format!("/tenants/{}{path}", tenant.tenant.slug)))
            .finish(),
    };
    res.add_cookie(&cookie(session_cookie(tenant), session_id)).map_err(ProtocolError::server)?;
    Ok(res)
}

/// O8 `after-local-sign-in`: the upstream identity that waited for this local sign-in is
/// linked to its account now (an upstream removed meanwhile links nothing).
async fn link_after_local_sign_in(
    state: &AppState,
    tenant: &TenantEntry,
    link: &PendingLink,
    user: &User,
) -> Result<(), ProtocolError> {
    use crate::http::upstream::{accounts, upstream_by_id};
    let Some(upstream) = upstream_by_id(state, tenant, &link.upstream_id).await? else { return Ok(()) };
    if !accounts::link(state, &upstream, &link.subject, user, "after-local-sign-in").await? {
        // The local sign-in stands; the link does not (linked meanwhile, or the account has
        // another identity of this upstream): said in the audit log.
        let mut event = AuditEvent::new(format!("user:{}", user.id), "login.upstream")
            .tenant(&tenant.tenant.id)
            .target(format!("user:{}", user.id))
            .details(json!({ "upstream": upstream.name, "reason": "not linked: the identity or the account is linked already" }));
        event.outcome = gatehouse_core::audit::Outcome::Failure;
        state.audit(event).await?;
    }
    Ok(())
}

/// S8: the user agent as shown to its user (the first 200 characters, printable only).
fn shown_user_agent(req: &HttpRequest) -> Option<String> {
    let ua = req.headers().get(header::USER_AGENT).and_then(|v| v.to_str().ok())?;
    Some(ua.chars().filter(|c| !c.is_control()).take(200).collect())
}

/// S3: the session of a user who just presented every required factor (`methods`, RFC 8176),
/// under a new identifier (the returned cookie value). The same user's live session in this
/// browser is renewed (same `sid` and clients, new id and authentication time); another
/// user's ends.
pub async fn start_session(
    req: &HttpRequest,
    state: &AppState,
    tenant: &TenantEntry,
    user: &User,
    client_id: &str,
    source_ip: Option<String>,
    methods: &[String],
) -> Result<(String, SessionRecord), ProtocolError> {
    let now = UnixTime::now();
    let amr: Vec<&str> = methods.iter().map(String::as_str).collect();
    let acr = mfa::acr_of(methods);
    let previous = current_session(req, state, tenant).await?;
    let (session_id, mut session, renewing) = match &previous {
        Some((_, old)) if old.user_id == user.id => {
            let (id, record) = renewed_session(old, &amr, acr, now);
            (id, record, true)
        }
        _ => {
            let (id, record) =
                new_session(&tenant.tenant.id, &user.id, &amr, acr, tenant.tenant.policy.sessions(), now);
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
        .details(json!({ "client_id": client_id, "sid": session.sid, "amr": amr, "acr": acr, "renewed": renewing }));
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

/// Loads the waiting sign-in a step's page posted back (origin, binding cookie, CSRF token:
/// IO3), which must be at `step`, with its (still enabled) user.
pub async fn load_step(
    req: &HttpRequest,
    state: &AppState,
    tenant: &TenantEntry,
    request_id: &str,
    csrf: &str,
    step: Step,
) -> Result<Result<(Waiting, Progress), PageRefused>, ProtocolError> {
    if has_control(request_id) || has_control(csrf) {
        return Ok(Err(PageRefused("control character")));
    }
    let (pending, sign_in) = match browser::load_pending(req, state, tenant, request_id, csrf).await? {
        Ok(p) => p,
        Err(why) => return Ok(Err(why)),
    };
    let Some(progress) = sign_in.progress.clone().filter(|p| p.step == step) else {
        return Ok(Err(PageRefused("the sign-in is not at this step")));
    };
    let (store, t, u) = (state.store.clone(), tenant.tenant.id.clone(), progress.user_id.clone());
    let Some(user) = blocking(move || store.user_by_id(&t, &u)).await?.filter(|u| !u.disabled) else {
        return Ok(Err(PageRefused("user gone")));
    };
    Ok(Ok((Waiting { pending, csrf: csrf.to_owned(), sign_in, user }, progress)))
}

/// The generic page of a step handler's failure (L1).
pub fn failure_page(req: &HttpRequest, e: &ProtocolError) -> HttpResponse {
    tracing::error!(error = %e, "sign-in step failed");
    let id = request_id(req);
    pages::message(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong", "Please try again later.", Some(&id))
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
        Err(e) => failure_page(&req, &e),
    }
}

async fn handle_change(
    req: &HttpRequest,
    state: &AppState,
    tenant: &TenantEntry,
    form: ChangePasswordForm,
) -> Result<HttpResponse, ProtocolError> {
    let (w, progress) = match load_step(req, state, tenant, &form.request_id, &form.csrf, Step::ChangePassword).await? {
        Ok(loaded) => loaded,
        Err(why) => return Ok(refused_page(req, &why)),
    };
    if form.new_password.expose() != form.confirm_password.expose() {
        let view = StepView::error("The two passwords differ.");
        return enter(state, tenant, w, progress.amr, Step::ChangePassword, view).await;
    }
    let keep = tenant.tenant.policy.password_history;
    let (store, t, u) = (state.store.clone(), tenant.tenant.id.clone(), w.user.id.clone());
    let history = blocking(move || store.password_history(&t, &u, usize::from(keep))).await?;
    let _permit = state.hash_permits.acquire().await.map_err(ProtocolError::server)?;
    let (hasher, policy, candidate, new) =
        (state.hasher.clone(), state.config.password_policy.clone(), w.user.clone(), form.new_password);
    let checked = web::block(move || check_new_password(&hasher, &policy, &candidate, &new, &history))
        .await
        .map_err(ProtocolError::server)?;
    let hash = match checked {
        Ok(hash) => hash,
        Err(PasswordChange::Hashing) => return Err(ProtocolError::server("password hashing failed")),
        Err(rule) => {
            let view = StepView::error(&rule.to_string());
            return enter(state, tenant, w, progress.amr, Step::ChangePassword, view).await;
        }
    };
    let user_id = w.user.id.clone();
    let mut audit = AuditEvent::new(format!("user:{user_id}"), "user.password_change")
        .tenant(&tenant.tenant.id)
        .target(format!("user:{user_id}"))
        .details(json!({ "at": "sign-in", "sessions_and_refresh_tokens": "revoked" }));
    audit.source_ip = client_ip(req).map(|ip| ip.to_string());
    let (store, t, now) = (state.store.clone(), tenant.tenant.id.clone(), UnixTime::now().0);
    blocking(move || {
        let change = NewPassword {
            tenant_id: &t,
            user_id: &user_id,
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
    let user = User { must_change_password: false, password_changed_at: Some(now), ..w.user };
    advance(req, state, tenant, Waiting { user, ..w }, progress.amr, Some(Step::ChangePassword)).await
}
