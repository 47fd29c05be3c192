//! The pages of a sign-in's steps (A5, A6, A8): what each needs prepared (a TOTP secret
//! waiting for its first code, a WebAuthn ceremony) and its rendering. Their forms post to
//! this origin; the answer may redirect to the client, so the CSP's `form-action` names it.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use askama::Template;
use gatehouse_core::UnixTime;
use gatehouse_core::flow::interaction::{Continuation, Progress, Step};
use gatehouse_core::mfa::{Factor, FactorKind, totp};
use gatehouse_core::store::MfaStore;
use gatehouse_types::{ProtocolError, Secret};

use super::context::{TenantEntry, blocking};
use super::steps::{Waiting, factor_required};
use crate::http::pages::{self, ChangePasswordPage};
use crate::http::{passkeys, qr};
use crate::state::AppState;

/// What a step's page shows besides its form.
#[derive(Default)]
pub struct StepView {
    pub error: Option<String>,
    /// RecoveryCodes: a new set, shown this once.
    pub codes: Option<Vec<Secret<String>>>,
    /// RecoveryCodes: after a code was used, how many are left.
    pub remaining: Option<i64>,
}

impl StepView {
    pub fn error(text: &str) -> Self {
        Self { error: Some(text.to_owned()), ..Self::default() }
    }
}

#[derive(Template)]
#[template(path = "second_factor.html")]
struct SecondFactorPage<'a> {
    tenant_name: &'a str,
    username: &'a str,
    base: String,
    request_id: &'a str,
    csrf: &'a str,
    error: Option<&'a str>,
    totp: bool,
    passkey_options: Option<String>,
    recovery_codes: bool,
}

#[derive(Template)]
#[template(path = "enroll_factor.html")]
struct EnrollFactorPage<'a> {
    tenant_name: &'a str,
    username: &'a str,
    reason: &'a str,
    base: String,
    request_id: &'a str,
    csrf: &'a str,
    error: Option<&'a str>,
    qr_svg: String,
    secret: String,
    passkey_options: String,
}

#[derive(Template)]
#[template(path = "recovery_codes.html")]
struct RecoveryCodesPage<'a> {
    tenant_name: &'a str,
    action: String,
    request_id: &'a str,
    csrf: &'a str,
    codes: Vec<&'a str>,
    remaining: Option<i64>,
}

/// The CSP of a step page: its answer may be the redirect to the client.
fn csp(w: &Waiting) -> String {
    match &w.sign_in.continuation {
        Continuation::Authorize(areq) => pages::page_csp(&[&areq.redirect_uri]),
        Continuation::Page { .. } => pages::page_csp(&[]),
    }
}

/// A base32 secret in groups of four, as people copy it.
fn grouped(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    chars.chunks(4).map(|c| c.iter().collect::<String>()).collect::<Vec<_>>().join(" ")
}

/// The user's TOTP factor waiting for its first code: the one this sign-in started, else a
/// new one (its secret sealed, D1). Returns the factor's id and secret.
pub async fn pending_totp(
    state: &AppState,
    tenant: &TenantEntry,
    user_id: &str,
    factors: &[Factor],
    earlier: Option<&str>,
) -> Result<(String, Secret<Vec<u8>>), ProtocolError> {
    let vault = state.store.vault();
    let t = &tenant.tenant.id;
    if let Some(f) = factors.iter().find(|f| Some(f.id.as_str()) == earlier && !f.confirmed)
        && let Some(sealed) = &f.secret
    {
        let secret = totp::open(vault, t, user_id, &f.id, sealed).map_err(ProtocolError::server)?;
        return Ok((f.id.clone(), secret));
    }
    let id = uuid::Uuid::new_v4().to_string();
    let secret = totp::new_secret();
    let factor = Factor {
        id: id.clone(),
        tenant_id: t.clone(),
        user_id: user_id.to_owned(),
        kind: FactorKind::Totp,
        name: "Authenticator app".to_owned(),
        confirmed: false,
        secret: Some(totp::seal(vault, t, user_id, &id, &secret).map_err(ProtocolError::server)?),
        last_step: None,
        credential_id: None,
        credential: None,
        transports: None,
        created_at: UnixTime::now().0,
        last_used_at: None,
    };
    let store = state.store.clone();
    blocking(move || store.add_pending_totp(&factor)).await?;
    Ok((id, secret))
}

/// The QR code (SVG) and the grouped base32 text of a TOTP secret for `username`.
pub fn totp_display(tenant: &TenantEntry, username: &str, secret: &Secret<Vec<u8>>) -> (String, String) {
    let uri = totp::otpauth_uri(&tenant.tenant.display_name, username, secret);
    (qr::svg(uri.expose()).unwrap_or_default(), grouped(totp::base32(secret).expose()))
}

/// Prepares and renders the page of `progress.step`; returns the progress with what the
/// page started.
pub async fn prepare(
    state: &AppState,
    tenant: &TenantEntry,
    w: &Waiting,
    mut progress: Progress,
    view: StepView,
) -> Result<(Progress, HttpResponse), ProtocolError> {
    let slug = &tenant.tenant.slug;
    let base = format!("/tenants/{slug}/login");
    let status = if view.error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    let error = view.error.as_deref();
    let (store, t, u) = (state.store.clone(), tenant.tenant.id.clone(), w.user.id.clone());
    let factors = blocking(move || store.factors(&t, &u)).await?;
    let page = match progress.step {
        Step::ChangePassword => {
            let page = ChangePasswordPage {
                tenant_name: &tenant.tenant.display_name,
                username: &w.user.username,
                action: format!("{base}/password"),
                request_id: &w.pending.id,
                csrf: &w.csrf,
                error,
            };
            pages::render(&page, status, &csp(w))
        }
        Step::SecondFactor => {
            let confirmed: Vec<Factor> = factors.into_iter().filter(|f| f.confirmed).collect();
            let passkey = passkeys::start_authentication(state, tenant, &w.user.id, &confirmed).await?;
            let (store, t, u) = (state.store.clone(), tenant.tenant.id.clone(), w.user.id.clone());
            let codes_left = blocking(move || store.recovery_codes_left(&t, &u)).await?;
            progress.ceremony = passkey.as_ref().map(|(_, id)| id.clone());
            let page = SecondFactorPage {
                tenant_name: &tenant.tenant.display_name,
                username: &w.user.username,
                base,
                request_id: &w.pending.id,
                csrf: &w.csrf,
                error,
                totp: confirmed.iter().any(|f| f.kind == FactorKind::Totp),
                passkey_options: passkey.map(|(options, _)| options),
                recovery_codes: codes_left > 0,
            };
            pages::render(&page, status, &csp(w))
        }
        Step::EnrollFactor => {
            let reason = factor_required(state, tenant, &w.user, &w.sign_in.continuation).await?.unwrap_or_default();
            let (factor_id, secret) =
                pending_totp(state, tenant, &w.user.id, &factors, progress.factor_id.as_deref()).await?;
            let (qr_svg, text) = totp_display(tenant, &w.user.username, &secret);
            let (options, ceremony) = passkeys::start_registration(state, tenant, &w.user, &factors).await?;
            progress.factor_id = Some(factor_id);
            progress.ceremony = Some(ceremony);
            let page = EnrollFactorPage {
                tenant_name: &tenant.tenant.display_name,
                username: &w.user.username,
                reason,
                base,
                request_id: &w.pending.id,
                csrf: &w.csrf,
                error,
                qr_svg,
                secret: text,
                passkey_options: options,
            };
            pages::render(&page, status, &csp(w))
        }
        Step::RecoveryCodes => {
            let codes: Vec<&str> = view.codes.iter().flatten().map(|c| c.expose().as_str()).collect();
            let page = RecoveryCodesPage {
                tenant_name: &tenant.tenant.display_name,
                action: format!("{base}/continue"),
                request_id: &w.pending.id,
                csrf: &w.csrf,
                codes,
                remaining: view.remaining,
            };
            pages::render(&page, StatusCode::OK, &csp(w))
        }
    };
    Ok((progress, page))
}
