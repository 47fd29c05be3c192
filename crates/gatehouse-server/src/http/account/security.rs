//! The account's security page (A5, A6): the user's second factors (authenticator apps and
//! passkeys, named by the user) and recovery codes. Adding or removing a factor, and a new
//! set of codes, need a recent sign-in with every factor (step-up); the last factor cannot be
//! removed where one is required (administrators, the tenant's policy).

use actix_web::http::StatusCode;
use actix_web::web;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use gatehouse_core::StoreError;
use gatehouse_core::mfa::{Factor, FactorKind, MfaPolicy, check_factor_name};
use gatehouse_core::oauth::params::has_control;
use gatehouse_core::store::MfaStore;
use gatehouse_types::{ProtocolError, Secret};
use serde::Deserialize;
use serde_json::json;

use super::pages::{event, page};
use super::{Frame, Visitor, form_ok, refused, see_other, utc, visitor};
use crate::http::oauth::context::{TenantEntry, TenantScope, blocking};
use crate::http::oauth::factors::{confirm_totp, new_recovery_codes};
use crate::http::oauth::step_pages::{pending_totp, totp_display};
use crate::http::oauth::steps::is_administrator;
use crate::http::pages::{self, PAGE_CSP};
use crate::http::passkeys;
use crate::state::AppState;

const PATH: &str = "/account/security";

/// `?done=` codes of the page, each with its fixed text.
#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

fn notice(done: &Done) -> Option<&'static str> {
    match done.done.as_deref()? {
        "added" => Some("The factor is added. You will be asked for it when you sign in."),
        "removed" => Some("The factor is removed."),
        "unlinked" => Some("The sign-in is disconnected from your account."),
        _ => None,
    }
}

/// A factor as the page lists it.
struct Row {
    id: String,
    name: String,
    kind: &'static str,
    added: String,
    last_used: String,
    details: String,
}

#[derive(Template)]
#[template(path = "account_security.html")]
struct SecurityPage {
    frame: Frame,
    offered: bool,
    factors: Vec<Row>,
    codes_left: i64,
    /// O8: the upstream identities linked to the account.
    identities: Vec<super::identities::IdentityRow>,
    /// Whether the account has a password (a provisioned one may not).
    has_password: bool,
}

#[derive(Template)]
#[template(path = "account_totp.html")]
struct TotpPage {
    frame: Frame,
    factor_id: String,
    qr_svg: String,
    secret: String,
}

#[derive(Template)]
#[template(path = "account_passkey.html")]
struct PasskeyPage {
    frame: Frame,
    ceremony: String,
    options: String,
}

#[derive(Template)]
#[template(path = "account_recovery_codes.html")]
struct CodesPage<'a> {
    frame: Frame,
    codes: Vec<&'a str>,
}

async fn factors_of(state: &AppState, tenant: &TenantEntry, v: &Visitor) -> Result<Vec<Factor>, ProtocolError> {
    let (store, t, u) = (state.store.clone(), tenant.tenant.id.clone(), v.user.id.clone());
    blocking(move || store.factors(&t, &u)).await
}

/// A6: whether one factor must stay (administrators, a tenant that requires one).
async fn factor_required(state: &AppState, tenant: &TenantEntry, v: &Visitor) -> Result<bool, ProtocolError> {
    Ok(tenant.tenant.policy.mfa == MfaPolicy::Required || is_administrator(state, &v.user).await?)
}

fn row(f: &Factor) -> Row {
    let details = match f.kind {
        FactorKind::Totp => "Six-digit codes".to_owned(),
        FactorKind::Passkey => {
            let (transports, counter) = passkeys::describe(f);
            let via = if transports.is_empty() { "any".to_owned() } else { transports.join(", ") };
            format!("Transports: {via}; signatures: {counter}")
        }
    };
    Row {
        id: f.id.clone(),
        name: f.name.clone(),
        kind: match f.kind {
            FactorKind::Totp => "Authenticator app",
            FactorKind::Passkey => "Passkey",
        },
        added: utc(f.created_at),
        last_used: f.last_used_at.map_or_else(|| "never".to_owned(), utc),
        details,
    }
}

async fn render_security(
    state: &AppState,
    tenant: &TenantEntry,
    v: &Visitor,
    notice_text: Option<&'static str>,
    error: Option<String>,
) -> Result<HttpResponse, ProtocolError> {
    let factors: Vec<Factor> = factors_of(state, tenant, v).await?.into_iter().filter(|f| f.confirmed).collect();
    let (store, t, u) = (state.store.clone(), tenant.tenant.id.clone(), v.user.id.clone());
    let codes_left = blocking(move || store.recovery_codes_left(&t, &u)).await?;
    let offered =
        tenant.tenant.policy.mfa != MfaPolicy::Off || !factors.is_empty() || is_administrator(state, &v.user).await?;
    let mut frame = Frame::new(state, tenant, v, "security")?;
    frame.notice = notice_text;
    let status = if error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    frame.error = error;
    let identities = super::identities::linked(state, v).await?;
    let has_password = v.user.password_hash.is_some();
    let p = SecurityPage {
        frame,
        offered,
        factors: factors.iter().map(row).collect(),
        codes_left,
        identities,
        has_password,
    };
    Ok(pages::render(&p, status, PAGE_CSP))
}

/// The security page with `error` (a refused change).
pub(super) async fn render_with_error(
    state: &AppState,
    tenant: &TenantEntry,
    v: &Visitor,
    error: String,
) -> Result<HttpResponse, ProtocolError> {
    render_security(state, tenant, v, None, Some(error)).await
}

/// `GET /account/security`.
pub async fn security(
    req: HttpRequest,
    t: TenantScope,
    q: web::Query<Done>,
    state: web::Data<AppState>,
) -> HttpResponse {
    page(&req, async {
        match visitor(&state, &req, &t, PATH, false).await? {
            Ok(v) => render_security(&state, &t, &v, notice(&q), None).await,
            Err(login) => Ok(login),
        }
    })
    .await
}

/// `GET /account/security/totp`: a new authenticator app's QR code and key (step-up).
pub async fn totp_page(req: HttpRequest, t: TenantScope, state: web::Data<AppState>) -> HttpResponse {
    page(&req, async {
        let v = match visitor(&state, &req, &t, "/account/security/totp", true).await? {
            Ok(v) => v,
            Err(login) => return Ok(login),
        };
        let factors = factors_of(&state, &t, &v).await?;
        let (factor_id, secret) = pending_totp(&state, &t, &v.user.id, &factors, None).await?;
        totp_response(&state, &t, &v, factor_id, &secret, None)
    })
    .await
}

fn totp_response(
    state: &AppState,
    tenant: &TenantEntry,
    v: &Visitor,
    factor_id: String,
    secret: &Secret<Vec<u8>>,
    error: Option<&str>,
) -> Result<HttpResponse, ProtocolError> {
    let (qr_svg, text) = totp_display(tenant, &v.user.username, secret);
    let mut frame = Frame::new(state, tenant, v, "security")?;
    frame.error = error.map(str::to_owned);
    let status = if error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    Ok(pages::render(&TotpPage { frame, factor_id, qr_svg, secret: text }, status, PAGE_CSP))
}

#[derive(Deserialize)]
pub struct TotpForm {
    csrf: String,
    factor_id: String,
    name: String,
    code: String,
}

/// After a factor was added: the first one brings recovery codes (shown once).
async fn added(
    req: &HttpRequest,
    state: &AppState,
    tenant: &TenantEntry,
    v: &Visitor,
) -> Result<HttpResponse, ProtocolError> {
    let (store, t, u) = (state.store.clone(), tenant.tenant.id.clone(), v.user.id.clone());
    if blocking(move || store.recovery_codes_left(&t, &u)).await? > 0 {
        return Ok(see_other(tenant, "/account/security?done=added"));
    }
    let codes = new_recovery_codes(req, state, tenant, &v.user.id).await?;
    let frame = Frame::new(state, tenant, v, "security")?;
    let p = CodesPage { frame, codes: codes.iter().map(|c| c.expose().as_str()).collect() };
    Ok(pages::render(&p, StatusCode::OK, PAGE_CSP))
}

/// `POST /account/security/totp`: the new app's first code turns it on (A5).
pub async fn add_totp(
    req: HttpRequest,
    t: TenantScope,
    form: web::Form<TotpForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    page(&req, async {
        let v = match visitor(&state, &req, &t, "/account/security/totp", true).await? {
            Ok(v) => v,
            Err(login) => return Ok(login),
        };
        let form = form.into_inner();
        if !form_ok(&req, &state, &v, &form.csrf) || [&form.factor_id, &form.code].iter().any(|f| has_control(f)) {
            return Ok(refused(&req));
        }
        let factors = factors_of(&state, &t, &v).await?;
        let Some(pending) = factors.iter().find(|f| f.id == form.factor_id && !f.confirmed) else {
            return Ok(refused(&req));
        };
        let name = form.name.trim().to_owned();
        let secret = match &pending.secret {
            Some(sealed) => {
                gatehouse_core::mfa::totp::open(state.store.vault(), &t.tenant.id, &v.user.id, &pending.id, sealed)
                    .map_err(ProtocolError::server)?
            }
            None => return Ok(refused(&req)),
        };
        if let Err(rule) = check_factor_name(&name) {
            return totp_response(&state, &t, &v, pending.id.clone(), &secret, Some(rule));
        }
        if !confirm_totp(&req, &state, &t, &v.user.id, &pending.id, &name, &form.code).await? {
            let text = "That code is not valid. Try the current one.";
            return totp_response(&state, &t, &v, pending.id.clone(), &secret, Some(text));
        }
        added(&req, &state, &t, &v).await
    })
    .await
}

/// `GET /account/security/passkey`: registering a passkey (step-up).
pub async fn passkey_page(req: HttpRequest, t: TenantScope, state: web::Data<AppState>) -> HttpResponse {
    page(&req, async {
        let v = match visitor(&state, &req, &t, "/account/security/passkey", true).await? {
            Ok(v) => v,
            Err(login) => return Ok(login),
        };
        passkey_response(&state, &t, &v, None).await
    })
    .await
}

async fn passkey_response(
    state: &AppState,
    tenant: &TenantEntry,
    v: &Visitor,
    error: Option<String>,
) -> Result<HttpResponse, ProtocolError> {
    let factors = factors_of(state, tenant, v).await?;
    let (options, ceremony) = passkeys::start_registration(state, tenant, &v.user, &factors).await?;
    let mut frame = Frame::new(state, tenant, v, "security")?;
    let status = if error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    frame.error = error;
    Ok(pages::render(&PasskeyPage { frame, ceremony, options }, status, PAGE_CSP))
}

#[derive(Deserialize)]
pub struct PasskeyForm {
    csrf: String,
    ceremony: String,
    name: String,
    credential: String,
}

/// `POST /account/security/passkey`: the browser's answer to the registration (A5).
pub async fn add_passkey(
    req: HttpRequest,
    t: TenantScope,
    form: web::Form<PasskeyForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    page(&req, async {
        let v = match visitor(&state, &req, &t, "/account/security/passkey", true).await? {
            Ok(v) => v,
            Err(login) => return Ok(login),
        };
        let form = form.into_inner();
        if !form_ok(&req, &state, &v, &form.csrf) || has_control(&form.ceremony) {
            return Ok(refused(&req));
        }
        let name = form.name.trim().to_owned();
        if let Err(rule) = check_factor_name(&name) {
            return passkey_response(&state, &t, &v, Some(rule.to_owned())).await;
        }
        let audit = event(&req, &t, &v, "mfa.enrol").details(json!({ "factor": "passkey", "name": name }));
        match passkeys::finish_registration(&state, &t, &v.user, &form.ceremony, &form.credential, &name, audit).await?
        {
            Ok(_) => added(&req, &state, &t, &v).await,
            Err(why) => {
                tracing::info!(reason = why.0, "passkey registration on the account page refused");
                let text = "The passkey could not be registered. Try again.".to_owned();
                passkey_response(&state, &t, &v, Some(text)).await
            }
        }
    })
    .await
}

#[derive(Deserialize)]
pub struct RemoveForm {
    csrf: String,
    factor_id: String,
}

/// `POST /account/security/remove`: removes one of the user's factors (step-up); the last
/// one stays where a factor is required.
pub async fn remove(
    req: HttpRequest,
    t: TenantScope,
    form: web::Form<RemoveForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    page(&req, async {
        let v = match visitor(&state, &req, &t, PATH, true).await? {
            Ok(v) => v,
            Err(login) => return Ok(login),
        };
        if !form_ok(&req, &state, &v, &form.csrf) || has_control(&form.factor_id) {
            return Ok(refused(&req));
        }
        let keep_one = factor_required(&state, &t, &v).await?;
        let audit = event(&req, &t, &v, "mfa.remove").details(json!({ "id": form.factor_id }));
        let (store, tid, uid, id) =
            (state.store.clone(), t.tenant.id.clone(), v.user.id.clone(), form.factor_id.clone());
        let removed = web::block(move || store.remove_factor(&tid, &uid, &id, keep_one, &audit))
            .await
            .map_err(ProtocolError::server)?;
        match removed {
            Ok(()) => Ok(see_other(&t, "/account/security?done=removed")),
            Err(StoreError::Refused(_)) => {
                let text = "This is your last second factor, and you need one: add another first.".to_owned();
                render_security(&state, &t, &v, None, Some(text)).await
            }
            Err(StoreError::NotFound(_)) => Ok(refused(&req)),
            Err(e) => Err(ProtocolError::server(e)),
        }
    })
    .await
}

#[derive(Deserialize)]
pub struct CodesForm {
    csrf: String,
}

/// `POST /account/security/recovery-codes`: a new set (the old one stops working; step-up).
pub async fn regenerate_codes(
    req: HttpRequest,
    t: TenantScope,
    form: web::Form<CodesForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    page(&req, async {
        let v = match visitor(&state, &req, &t, PATH, true).await? {
            Ok(v) => v,
            Err(login) => return Ok(login),
        };
        if !form_ok(&req, &state, &v, &form.csrf) {
            return Ok(refused(&req));
        }
        if !factors_of(&state, &t, &v).await?.iter().any(|f| f.confirmed) {
            return render_security(&state, &t, &v, None, Some("Add a second factor first.".to_owned())).await;
        }
        let codes = new_recovery_codes(&req, &state, &t, &v.user.id).await?;
        let frame = Frame::new(&state, &t, &v, "security")?;
        let p = CodesPage { frame, codes: codes.iter().map(|c| c.expose().as_str()).collect() };
        Ok(pages::render(&p, StatusCode::OK, PAGE_CSP))
    })
    .await
}
