//! The second-factor steps' POST handlers (A4, A5, A6, A7): presenting a TOTP code, a
//! recovery code or a passkey; enrolling an authenticator app or a passkey (then the
//! recovery codes, shown once); and signing in with a passkey alone. A failed code counts
//! against the account like a wrong password (A4); nothing here makes a session before every
//! required factor is in (A7): that is `steps::advance`'s last step.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use gatehouse_core::UnixTime;
use gatehouse_core::audit::{AuditEvent, Outcome};
use gatehouse_core::flow::interaction::{Progress, Step};
use gatehouse_core::mfa::{self, FactorKind, amr, check_factor_name, recovery, totp};
use gatehouse_core::oauth::params::has_control;
use gatehouse_core::store::{FlowStore, LockoutStore, MfaStore, UserStore};
use gatehouse_types::{ProtocolError, Secret};
use serde::Deserialize;
use serde_json::json;

use super::browser::{PageRefused, load_pending, refused_page};
use super::context::{TenantEntry, TenantScope, blocking};
use super::signin;
use super::step_pages::StepView;
use super::steps::{self, Waiting, advance, enter, failure_page, load_step};
use crate::http::client_ip::client_ip;
use crate::http::pages;
use crate::http::passkeys;
use crate::state::AppState;

/// A5: one text for every wrong or used code.
const CODE_REFUSED: &str = "That code is not valid. Try the current one.";
/// A5: one text for a passkey that did not verify.
const PASSKEY_REFUSED: &str = "The passkey could not be verified. Try again, or use another way.";

#[derive(Deserialize)]
pub struct FactorForm {
    request_id: String,
    csrf: String,
    code: Option<String>,
    recovery_code: Option<Secret<String>>,
}

#[derive(Deserialize)]
pub struct PasskeyForm {
    request_id: String,
    csrf: String,
    credential: String,
    name: Option<String>,
}

#[derive(Deserialize)]
pub struct ContinueForm {
    request_id: String,
    csrf: String,
}

async fn audit_step(
    req: &HttpRequest,
    state: &AppState,
    tenant: &TenantEntry,
    user_id: &str,
    action: &'static str,
    outcome: Outcome,
    details: serde_json::Value,
) -> Result<(), ProtocolError> {
    let mut event = AuditEvent::new(format!("user:{user_id}"), action)
        .tenant(&tenant.tenant.id)
        .target(format!("user:{user_id}"))
        .details(details);
    event.outcome = outcome;
    event.source_ip = client_ip(req).map(|ip| ip.to_string());
    state.audit(event).await
}

/// A4: a sign-in whose account locked ends here (the same answer whatever locked it).
async fn end_locked(
    req: &HttpRequest,
    state: &AppState,
    tenant: &TenantEntry,
    w: &Waiting,
) -> Result<HttpResponse, ProtocolError> {
    audit_step(req, state, tenant, &w.user.id, "login", Outcome::Denied, json!({ "reason": "account locked" })).await?;
    let (store, t, id) = (state.store.clone(), tenant.tenant.id.clone(), w.pending.id.clone());
    blocking(move || store.delete_request(&t, &id)).await?;
    Ok(pages::message(
        StatusCode::TOO_MANY_REQUESTS,
        "Too many attempts",
        "This sign-in cannot go on. Wait a while, then sign in again.",
        None,
    ))
}

/// `POST {issuer}/login/factor`: a TOTP code or a recovery code (A5, A6).
pub async fn present(
    req: HttpRequest,
    tenant: TenantScope,
    form: web::Form<FactorForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    match handle_present(&req, &state, &tenant, form.into_inner()).await {
        Ok(res) => res,
        Err(e) => failure_page(&req, &e),
    }
}

/// The method a TOTP code proves, when one of the user's confirmed TOTP factors accepts it
/// at a step not accepted before (RFC 6238 §5.2; on any node).
async fn check_totp(
    state: &AppState,
    tenant: &TenantEntry,
    w: &Waiting,
    code: &str,
) -> Result<Option<&'static str>, ProtocolError> {
    let (store, t, u) = (state.store.clone(), tenant.tenant.id.clone(), w.user.id.clone());
    let factors = blocking(move || store.factors(&t, &u)).await?;
    let now = UnixTime::now();
    for f in factors.iter().filter(|f| f.confirmed && f.kind == FactorKind::Totp) {
        let Some(sealed) = &f.secret else { continue };
        let secret =
            totp::open(state.store.vault(), &f.tenant_id, &f.user_id, &f.id, sealed).map_err(ProtocolError::server)?;
        if let Some(step) = totp::matching_step(&secret, code, now) {
            let (store, t, id) = (state.store.clone(), tenant.tenant.id.clone(), f.id.clone());
            if blocking(move || store.use_totp_step(&t, &id, step, now.0)).await? {
                return Ok(Some(amr::OTP));
            }
        }
    }
    Ok(None)
}

/// A recovery code of the user's, used once (audited with how many remain).
async fn check_recovery(
    req: &HttpRequest,
    state: &AppState,
    tenant: &TenantEntry,
    w: &Waiting,
    typed: &Secret<String>,
) -> Result<Option<i64>, ProtocolError> {
    let Some(code) = recovery::normalize(typed.expose()) else { return Ok(None) };
    let hash =
        recovery::hash(state.store.vault(), &tenant.tenant.id, &w.user.id, &code).map_err(ProtocolError::server)?;
    let mut audit = AuditEvent::new(format!("user:{}", w.user.id), "mfa.recovery_code_used")
        .tenant(&tenant.tenant.id)
        .target(format!("user:{}", w.user.id))
        .details(json!({}));
    audit.source_ip = client_ip(req).map(|ip| ip.to_string());
    let (store, t, u) = (state.store.clone(), tenant.tenant.id.clone(), w.user.id.clone());
    blocking(move || store.use_recovery_code(&t, &u, &hash, UnixTime::now().0, &audit)).await
}

async fn handle_present(
    req: &HttpRequest,
    state: &AppState,
    tenant: &TenantEntry,
    form: FactorForm,
) -> Result<HttpResponse, ProtocolError> {
    let (w, progress) = match load_step(req, state, tenant, &form.request_id, &form.csrf, Step::SecondFactor).await? {
        Ok(loaded) => loaded,
        Err(why) => return Ok(refused_page(req, &why)),
    };
    let (t, u) = (tenant.tenant.id.clone(), w.user.id.clone());
    // A4: the attempt is admitted before the code is looked at and decided after.
    let store = state.store.clone();
    let (t2, u2) = (t.clone(), u.clone());
    let lockout = tenant.tenant.policy.lockout();
    if !blocking(move || store.admit_attempt(&t2, &u2, lockout, UnixTime::now())).await? {
        return end_locked(req, state, tenant, &w).await;
    }
    let (method, remaining) = match (&form.code, &form.recovery_code) {
        (Some(code), _) if !has_control(code) => (check_totp(state, tenant, &w, code).await?, None),
        (None, Some(typed)) => match check_recovery(req, state, tenant, &w, typed).await? {
            Some(left) => (Some(amr::OTP), Some(left)),
            None => (None, None),
        },
        _ => (None, None),
    };
    let Some(method) = method else {
        signin::count_failure(state, tenant, &w.user).await?;
        let kind = if form.code.is_some() { "totp" } else { "recovery_code" };
        audit_step(req, state, tenant, &u, "login.factor", Outcome::Failure, json!({ "factor": kind })).await?;
        return enter(state, tenant, w, progress.amr, Step::SecondFactor, StepView::error(CODE_REFUSED)).await;
    };
    let store = state.store.clone();
    if !blocking(move || store.record_success(&t, &u, UnixTime::now())).await? {
        return end_locked(req, state, tenant, &w).await;
    }
    let methods = mfa::with_method(&progress.amr, method);
    match remaining {
        // A5: tell the user how many codes remain before going on.
        Some(left) => {
            let view = StepView { remaining: Some(left), ..StepView::default() };
            enter(state, tenant, w, methods, Step::RecoveryCodes, view).await
        }
        None => advance(req, state, tenant, w, methods, Some(Step::SecondFactor)).await,
    }
}

/// `POST {issuer}/login/factor/passkey`: a passkey as the second factor (A5).
pub async fn present_passkey(
    req: HttpRequest,
    tenant: TenantScope,
    form: web::Form<PasskeyForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    match handle_present_passkey(&req, &state, &tenant, form.into_inner()).await {
        Ok(res) => res,
        Err(e) => failure_page(&req, &e),
    }
}

async fn handle_present_passkey(
    req: &HttpRequest,
    state: &AppState,
    tenant: &TenantEntry,
    form: PasskeyForm,
) -> Result<HttpResponse, ProtocolError> {
    let (w, progress) = match load_step(req, state, tenant, &form.request_id, &form.csrf, Step::SecondFactor).await? {
        Ok(loaded) => loaded,
        Err(why) => return Ok(refused_page(req, &why)),
    };
    let Some(ceremony) = progress.ceremony.clone() else {
        return Ok(refused_page(req, &PageRefused("no passkey ceremony")));
    };
    let (store, t, u) = (state.store.clone(), tenant.tenant.id.clone(), w.user.id.clone());
    let lockout = tenant.tenant.policy.lockout();
    if !blocking(move || store.admit_attempt(&t, &u, lockout, UnixTime::now())).await? {
        return end_locked(req, state, tenant, &w).await;
    }
    match passkeys::finish_authentication(state, tenant, &w.user.id, &ceremony, &form.credential).await? {
        Ok(method) => {
            let (store, t, u) = (state.store.clone(), tenant.tenant.id.clone(), w.user.id.clone());
            if !blocking(move || store.record_success(&t, &u, UnixTime::now())).await? {
                return end_locked(req, state, tenant, &w).await;
            }
            let methods = mfa::with_method(&progress.amr, method);
            advance(req, state, tenant, w, methods, Some(Step::SecondFactor)).await
        }
        Err(why) => {
            tracing::info!(reason = why.0, "passkey as second factor refused");
            signin::count_failure(state, tenant, &w.user).await?;
            let details = json!({ "factor": "passkey" });
            audit_step(req, state, tenant, &w.user.id, "login.factor", Outcome::Failure, details).await?;
            enter(state, tenant, w, progress.amr, Step::SecondFactor, StepView::error(PASSKEY_REFUSED)).await
        }
    }
}

/// A5: a new set of recovery codes for the user (the old set stops working), audited.
pub async fn new_recovery_codes(
    req: &HttpRequest,
    state: &AppState,
    tenant: &TenantEntry,
    user_id: &str,
) -> Result<Vec<Secret<String>>, ProtocolError> {
    let codes = recovery::generate();
    let vault = state.store.vault();
    let hashes = codes
        .iter()
        .map(|c| recovery::normalize(c.expose()).map(|n| recovery::hash(vault, &tenant.tenant.id, user_id, &n)))
        .collect::<Option<Result<Vec<_>, _>>>()
        .ok_or_else(|| ProtocolError::server("a generated recovery code did not normalize"))?
        .map_err(ProtocolError::server)?;
    let mut audit = AuditEvent::new(format!("user:{user_id}"), "mfa.recovery_codes")
        .tenant(&tenant.tenant.id)
        .target(format!("user:{user_id}"))
        .details(json!({ "count": codes.len() }));
    audit.source_ip = client_ip(req).map(|ip| ip.to_string());
    let (store, t, u) = (state.store.clone(), tenant.tenant.id.clone(), user_id.to_owned());
    blocking(move || store.replace_recovery_codes(&t, &u, &hashes, UnixTime::now().0, &audit)).await?;
    Ok(codes)
}

/// After a first factor was enrolled: the recovery codes, shown once, then on.
async fn enrolled(
    req: &HttpRequest,
    state: &AppState,
    tenant: &TenantEntry,
    w: Waiting,
    progress: Progress,
    method: &str,
) -> Result<HttpResponse, ProtocolError> {
    let codes = new_recovery_codes(req, state, tenant, &w.user.id).await?;
    let methods = mfa::with_method(&progress.amr, method);
    let view = StepView { codes: Some(codes), ..StepView::default() };
    enter(state, tenant, w, methods, Step::RecoveryCodes, view).await
}

/// `POST {issuer}/login/enroll`: the first code of the authenticator app being enrolled.
pub async fn enroll_totp(
    req: HttpRequest,
    tenant: TenantScope,
    form: web::Form<FactorForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    match handle_enroll_totp(&req, &state, &tenant, form.into_inner()).await {
        Ok(res) => res,
        Err(e) => failure_page(&req, &e),
    }
}

/// A5: confirms the pending TOTP factor `factor_id` of `user_id` with a first valid code;
/// `false` when the code is not one of its current steps.
pub async fn confirm_totp(
    req: &HttpRequest,
    state: &AppState,
    tenant: &TenantEntry,
    user_id: &str,
    factor_id: &str,
    name: &str,
    code: &str,
) -> Result<bool, ProtocolError> {
    let (store, t, u) = (state.store.clone(), tenant.tenant.id.clone(), user_id.to_owned());
    let factors = blocking(move || store.factors(&t, &u)).await?;
    let Some(f) = factors.iter().find(|f| f.id == factor_id && !f.confirmed && f.kind == FactorKind::Totp) else {
        return Ok(false);
    };
    let Some(sealed) = &f.secret else { return Ok(false) };
    let secret =
        totp::open(state.store.vault(), &f.tenant_id, user_id, &f.id, sealed).map_err(ProtocolError::server)?;
    let Some(step) = totp::matching_step(&secret, code, UnixTime::now()) else { return Ok(false) };
    let mut audit = AuditEvent::new(format!("user:{user_id}"), "mfa.enrol")
        .tenant(&tenant.tenant.id)
        .target(format!("user:{user_id}"))
        .details(json!({ "factor": "totp", "id": f.id, "name": name }));
    audit.source_ip = client_ip(req).map(|ip| ip.to_string());
    let (store, t, id, name) = (state.store.clone(), tenant.tenant.id.clone(), f.id.clone(), name.to_owned());
    blocking(move || store.confirm_totp(&t, &id, &name, step, &audit)).await
}

async fn handle_enroll_totp(
    req: &HttpRequest,
    state: &AppState,
    tenant: &TenantEntry,
    form: FactorForm,
) -> Result<HttpResponse, ProtocolError> {
    let (w, progress) = match load_step(req, state, tenant, &form.request_id, &form.csrf, Step::EnrollFactor).await? {
        Ok(loaded) => loaded,
        Err(why) => return Ok(refused_page(req, &why)),
    };
    let code = form.code.as_deref().filter(|c| !has_control(c)).unwrap_or_default();
    let factor_id = progress.factor_id.clone().unwrap_or_default();
    if !confirm_totp(req, state, tenant, &w.user.id, &factor_id, "Authenticator app", code).await? {
        return enter(state, tenant, w, progress.amr.clone(), Step::EnrollFactor, StepView::error(CODE_REFUSED)).await;
    }
    enrolled(req, state, tenant, w, progress, amr::OTP).await
}

/// `POST {issuer}/login/enroll/passkey`: the passkey being enrolled (A5).
pub async fn enroll_passkey(
    req: HttpRequest,
    tenant: TenantScope,
    form: web::Form<PasskeyForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    match handle_enroll_passkey(&req, &state, &tenant, form.into_inner()).await {
        Ok(res) => res,
        Err(e) => failure_page(&req, &e),
    }
}

async fn handle_enroll_passkey(
    req: &HttpRequest,
    state: &AppState,
    tenant: &TenantEntry,
    form: PasskeyForm,
) -> Result<HttpResponse, ProtocolError> {
    let (w, progress) = match load_step(req, state, tenant, &form.request_id, &form.csrf, Step::EnrollFactor).await? {
        Ok(loaded) => loaded,
        Err(why) => return Ok(refused_page(req, &why)),
    };
    let name = form.name.as_deref().unwrap_or("Passkey").trim().to_owned();
    if let Err(rule) = check_factor_name(&name) {
        return enter(state, tenant, w, progress.amr.clone(), Step::EnrollFactor, StepView::error(rule)).await;
    }
    let ceremony = progress.ceremony.clone().unwrap_or_default();
    let mut audit = AuditEvent::new(format!("user:{}", w.user.id), "mfa.enrol")
        .tenant(&tenant.tenant.id)
        .target(format!("user:{}", w.user.id))
        .details(json!({ "factor": "passkey", "name": name }));
    audit.source_ip = client_ip(req).map(|ip| ip.to_string());
    match passkeys::finish_registration(state, tenant, &w.user, &ceremony, &form.credential, &name, audit).await? {
        Ok(factor) => {
            let method = factor
                .credential
                .as_deref()
                .and_then(|c| serde_json::from_str(c).ok())
                .map_or(amr::HWK, |p| passkeys::method_of(&p));
            enrolled(req, state, tenant, w, progress, method).await
        }
        Err(why) => {
            tracing::info!(reason = why.0, "passkey enrolment refused");
            let view = StepView::error("The passkey could not be registered. Try again, or use an authenticator app.");
            enter(state, tenant, w, progress.amr.clone(), Step::EnrollFactor, view).await
        }
    }
}

/// `POST {issuer}/login/continue`: past the recovery codes page.
pub async fn continue_after_codes(
    req: HttpRequest,
    tenant: TenantScope,
    form: web::Form<ContinueForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let form = form.into_inner();
    let run = async {
        match load_step(&req, &state, &tenant, &form.request_id, &form.csrf, Step::RecoveryCodes).await? {
            Ok((w, progress)) => advance(&req, &state, &tenant, w, progress.amr, Some(Step::RecoveryCodes)).await,
            Err(why) => Ok(refused_page(&req, &why)),
        }
    };
    match run.await {
        Ok(res) => res,
        Err(e) => failure_page(&req, &e),
    }
}

/// `POST {issuer}/login/passkey`: signing in with a passkey alone, where the tenant allows
/// it (A5). The passkey verifies its user, so it is a sign-in with more than one factor.
pub async fn passwordless(
    req: HttpRequest,
    tenant: TenantScope,
    form: web::Form<PasskeyForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    match handle_passwordless(&req, &state, &tenant, form.into_inner()).await {
        Ok(res) => res,
        Err(e) => failure_page(&req, &e),
    }
}

async fn handle_passwordless(
    req: &HttpRequest,
    state: &AppState,
    tenant: &TenantEntry,
    form: PasskeyForm,
) -> Result<HttpResponse, ProtocolError> {
    if has_control(&form.request_id) || has_control(&form.csrf) {
        return Ok(refused_page(req, &PageRefused("control character")));
    }
    let (pending, sign_in) = match load_pending(req, state, tenant, &form.request_id, &form.csrf).await? {
        Ok(p) => p,
        Err(why) => return Ok(refused_page(req, &why)),
    };
    let (Some(ceremony), None, true) = (sign_in.ceremony.clone(), &sign_in.progress, tenant.tenant.policy.passwordless)
    else {
        return Ok(refused_page(req, &PageRefused("no passwordless sign-in on this page")));
    };
    let user_id = match passkeys::finish_discoverable(state, tenant, &ceremony, &form.credential).await? {
        Ok(found) => Some(found),
        Err(why) => {
            tracing::info!(reason = why.0, "passwordless sign-in refused");
            None
        }
    };
    let (store, t) = (state.store.clone(), tenant.tenant.id.clone());
    let found = match user_id {
        Some((id, method)) => {
            let user = blocking(move || store.user_by_id(&t, &id)).await?;
            user.filter(|u| !u.disabled && u.email_verified).map(|u| (u, method))
        }
        None => None,
    };
    let locked = match &found {
        Some((u, _)) => {
            let (store, t, id) = (state.store.clone(), tenant.tenant.id.clone(), u.id.clone());
            blocking(move || store.lockout(&t, &id)).await?.is_locked(UnixTime::now())
        }
        None => false,
    };
    let Some((user, method)) = found.filter(|_| !locked) else {
        let mut event = AuditEvent::new("anonymous", "login")
            .tenant(&tenant.tenant.id)
            .target("passkey")
            .details(json!({ "reason": if locked { "account locked" } else { "passkey refused" } }));
        event.outcome = Outcome::Failure;
        event.source_ip = client_ip(req).map(|ip| ip.to_string());
        state.audit(event).await?;
        let client = match &sign_in.continuation {
            gatehouse_core::flow::interaction::Continuation::Authorize(areq) => {
                Some(super::browser::pending_client(state, tenant, areq).await?)
            }
            _ => None,
        };
        let (store, t, id) = (state.store.clone(), tenant.tenant.id.clone(), pending.id.clone());
        blocking(move || store.delete_request(&t, &id)).await?;
        let fresh = gatehouse_core::flow::interaction::SignIn::new(sign_in.continuation);
        return super::authorize::login_page(state, tenant, client.as_deref(), &fresh, Some(PASSKEY_REFUSED)).await;
    };
    let w = Waiting { pending, csrf: form.csrf, sign_in, user };
    steps::advance(req, state, tenant, w, mfa::with_method(&[], method), None).await
}
