//! The account pages under each tenant's issuer (`{issuer}/account`; A2, A8, A9, S6, S8,
//! AC3, O6). They use the tenant's session directly rather than making Gatehouse an OIDC
//! client of itself: they are served by the identity provider on its own origin, where the
//! session cookie (first-party, HttpOnly, SameSite=Lax) already says who is there, so a client,
//! a code exchange and tokens would add moving parts and no protection. Without a session the
//! normal sign-in runs and comes back to the page. Pages carry the page CSP; every form
//! carries a synchronizer token bound to the session and is refused from another origin (IO3).

mod identities;
mod links;
mod pages;
mod public;
mod security;

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use gatehouse_core::UnixTime;
use gatehouse_core::flow::interaction::{Continuation, SignIn};
use gatehouse_core::flow::session::{account_form_ok, account_form_token, logout_confirmation};
use gatehouse_core::mfa::ACR_MFA;
use gatehouse_core::model::User;
use gatehouse_core::store::{SessionRecord, UserStore};
use gatehouse_types::ProtocolError;

use crate::http::errors::request_id;
use crate::http::oauth::authorize::login_page;
use crate::http::oauth::browser::{current_session, same_origin};
use crate::http::oauth::context::{TenantEntry, blocking};
use crate::http::pages as page;
use crate::state::AppState;

/// Routes under `/tenants/{tenant}`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/account", web::get().to(pages::profile))
        .route("/account/profile", web::post().to(pages::save_profile))
        .route("/account/email", web::post().to(pages::change_email))
        .route("/account/password", web::get().to(pages::password))
        .route("/account/password", web::post().to(pages::change_password))
        .route("/account/sessions", web::get().to(pages::sessions))
        .route("/account/sessions/end", web::post().to(pages::end_session))
        .route("/account/applications", web::get().to(pages::applications))
        .route("/account/applications/revoke", web::post().to(pages::revoke_application))
        .route("/account/activity", web::get().to(pages::activity))
        .route("/account/security", web::get().to(security::security))
        .route("/account/security/totp", web::get().to(security::totp_page))
        .route("/account/security/totp", web::post().to(security::add_totp))
        .route("/account/security/passkey", web::get().to(security::passkey_page))
        .route("/account/security/passkey", web::post().to(security::add_passkey))
        .route("/account/security/remove", web::post().to(security::remove))
        .route("/account/security/recovery-codes", web::post().to(security::regenerate_codes))
        .route("/account/security/unlink", web::post().to(identities::unlink))
        .route("/account/set-password", web::get().to(links::set_password_page))
        .route("/account/set-password", web::post().to(links::set_password))
        .route("/account/reset", web::get().to(links::reset_page))
        .route("/account/reset", web::post().to(links::reset))
        .route("/account/email/confirm", web::get().to(links::email_page))
        .route("/account/email/confirm", web::post().to(links::confirm_email))
        .route("/account/verify", web::get().to(links::verify_page))
        .route("/account/verify", web::post().to(links::verify))
        .route("/account/forgot", web::get().to(public::forgot_page))
        .route("/account/forgot", web::post().to(public::forgot))
        .route("/account/signup", web::get().to(public::signup_page))
        .route("/account/signup", web::post().to(public::signup));
}

/// Who is signed in on an account page.
pub struct Visitor {
    pub session: SessionRecord,
    pub user: User,
}

/// A6: whether `session` is a recent enough sign-in for a sensitive change (the password,
/// the factors): within the tenant's window, and with a second factor if the user has one.
async fn recent_enough(
    state: &AppState,
    tenant: &TenantEntry,
    session: &SessionRecord,
    user: &User,
) -> Result<bool, ProtocolError> {
    let window = i64::from(tenant.tenant.policy.recent_auth_minutes) * 60;
    if UnixTime::now().0 - session.auth_time >= window {
        return Ok(false);
    }
    Ok(session.acr == ACR_MFA || !crate::http::oauth::steps::has_factor(state, user).await?)
}

/// The signed-in user of this tenant, or the sign-in page that comes back to `path` (also
/// when `fresh` asks for a recent sign-in with every factor: A6 step-up).
pub async fn visitor(
    state: &AppState,
    req: &HttpRequest,
    tenant: &TenantEntry,
    path: &str,
    fresh: bool,
) -> Result<Result<Visitor, HttpResponse>, ProtocolError> {
    if let Some((_, session)) = current_session(req, state, tenant).await? {
        let (store, t, u) = (state.store.clone(), tenant.tenant.id.clone(), session.user_id.clone());
        if let Some(user) = blocking(move || store.user_by_id(&t, &u)).await?.filter(|u| !u.disabled)
            && (!fresh || recent_enough(state, tenant, &session, &user).await?)
        {
            return Ok(Ok(Visitor { session, user }));
        }
    }
    let sign_in = SignIn::new(Continuation::Page { path: path.to_owned() });
    Ok(Err(login_page(state, tenant, None, &sign_in, None).await?))
}

/// IO3: a form of the account pages: from this origin, with the session's token.
pub fn form_ok(req: &HttpRequest, state: &AppState, visitor: &Visitor, csrf: &str) -> bool {
    same_origin(req, &state.config.public_url) && account_form_ok(state.store.vault(), &visitor.session, csrf)
}

/// What every account page shows around its content.
pub struct Frame {
    pub tenant_name: String,
    pub username: String,
    /// `/tenants/{slug}/account`.
    pub base: String,
    pub tab: &'static str,
    pub csrf: String,
    pub logout_action: String,
    pub logout_confirm: String,
    pub notice: Option<&'static str>,
    pub error: Option<String>,
}

impl Frame {
    pub fn new(
        state: &AppState,
        tenant: &TenantEntry,
        visitor: &Visitor,
        tab: &'static str,
    ) -> Result<Self, ProtocolError> {
        let vault = state.store.vault();
        Ok(Self {
            tenant_name: tenant.tenant.display_name.clone(),
            username: visitor.user.username.clone(),
            base: format!("/tenants/{}/account", tenant.tenant.slug),
            tab,
            csrf: account_form_token(vault, &visitor.session).map_err(ProtocolError::server)?,
            logout_action: format!("/tenants/{}/logout", tenant.tenant.slug),
            logout_confirm: logout_confirmation(vault, &visitor.session).map_err(ProtocolError::server)?,
            notice: None,
            error: None,
        })
    }
}

/// 303 to an account page (after a form: the browser reloads it with GET).
pub fn see_other(tenant: &TenantEntry, path: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, format!("/tenants/{}{path}", tenant.tenant.slug)))
        .finish()
}

/// The generic page of a failure (L1).
pub fn failure(req: &HttpRequest, e: &ProtocolError) -> HttpResponse {
    tracing::error!(error = %e, "account page failed");
    let id = request_id(req);
    page::message(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong", "Please try again later.", Some(&id))
}

/// The page of a form refused by the origin or token check (IO3).
pub fn refused(req: &HttpRequest) -> HttpResponse {
    tracing::info!("account form refused: origin or token");
    let id = request_id(req);
    page::message(StatusCode::BAD_REQUEST, "This page has expired", "Reload the page and try again.", Some(&id))
}

/// A time as shown on the pages: `2026-12-04 05:12 UTC`.
pub fn utc(secs: i64) -> String {
    // Days since 1970-01-01 to a civil date (H. Hinnant's algorithm).
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02} UTC", rem / 3600, rem % 3600 / 60)
}

/// S8: a user agent as a person reads it: the browser and the system.
pub fn device(user_agent: Option<&str>) -> String {
    let Some(ua) = user_agent.filter(|u| !u.is_empty()) else { return "Unknown device".to_owned() };
    let browser = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chromium/", "Chromium"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
    ]
    .iter()
    .find(|(mark, _)| ua.contains(mark))
    .map_or("A browser", |(_, name)| name);
    let system = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(mark, _)| ua.contains(mark))
    .map_or("an unknown system", |(_, name)| name);
    format!("{browser} on {system}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_devices_read_as_people_read_them() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(1_796_360_000), "2026-12-04 04:53 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00 UTC");
        let chrome =
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36";
        assert_eq!(device(Some(chrome)), "Chrome on Linux");
        let firefox = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:140.0) Gecko/20100101 Firefox/140.0";
        assert_eq!(device(Some(firefox)), "Firefox on Windows");
        assert_eq!(device(None), "Unknown device");
    }
}
