//! The signed-in account pages: profile and e-mail, password, sessions (S8), applications
//! (O6), activity. Each change is a POST answered with a redirect to its page (which names
//! what happened by a fixed code), audited, and refused from another origin (IO3).

use actix_web::http::StatusCode;
use actix_web::web;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use gatehouse_core::UnixTime;
use gatehouse_core::account::{PasswordChange, TokenPurpose, check_display_name, check_new_password};
use gatehouse_core::audit::AuditEvent;
use gatehouse_core::password::Verification;
use gatehouse_core::store::{AccountStore, NewPassword, SessionsToEnd};
use gatehouse_types::{Email, ProtocolError, Secret};
use serde::Deserialize;
use serde_json::json;

use super::{Frame, Visitor, device, failure, form_ok, refused, see_other, utc, visitor};
use crate::http::client_ip::client_ip;
use crate::http::oauth::context::{TenantEntry, TenantScope, blocking};
use crate::http::pages::{self, PAGE_CSP};
use crate::state::AppState;

/// `?done=` codes of the pages, each with its fixed text.
#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

fn notice(done: &Done) -> Option<&'static str> {
    match done.done.as_deref()? {
        "profile" => Some("Your profile is saved."),
        "email" => Some("We sent a confirmation link to the new address. The address changes once you open it."),
        "password" => Some("Your password is changed. Your other sessions have ended."),
        "session" => Some("The session has ended."),
        "sessions" => Some("Your other sessions have ended."),
        "revoked" => Some("The application can no longer use your account."),
        _ => None,
    }
}

/// An audit record of the visitor's own, from this request.
pub(super) fn event(req: &HttpRequest, tenant: &TenantEntry, v: &Visitor, action: &'static str) -> AuditEvent {
    let mut e = AuditEvent::new(format!("user:{}", v.user.id), action)
        .tenant(&tenant.tenant.id)
        .target(format!("user:{}", v.user.id));
    e.source_ip = client_ip(req).map(|ip| ip.to_string());
    e
}

/// Runs a page handler, turning failures into the generic page.
pub(super) async fn page(
    req: &HttpRequest,
    f: impl std::future::Future<Output = Result<HttpResponse, ProtocolError>>,
) -> HttpResponse {
    f.await.unwrap_or_else(|e| failure(req, &e))
}

#[derive(Template)]
#[template(path = "account_profile.html")]
struct ProfilePage<'a> {
    frame: Frame,
    display_name: &'a str,
    email: &'a str,
}

/// `GET /account`.
pub async fn profile(
    req: HttpRequest,
    t: TenantScope,
    q: web::Query<Done>,
    state: web::Data<AppState>,
) -> HttpResponse {
    page(&req, async {
        let v = match visitor(&state, &req, &t, "/account", false).await? {
            Ok(v) => v,
            Err(login) => return Ok(login),
        };
        let mut frame = Frame::new(&state, &t, &v, "profile")?;
        frame.notice = notice(&q);
        let p = ProfilePage { frame, display_name: &v.user.display_name, email: &v.user.email };
        Ok(pages::render(&p, StatusCode::OK, PAGE_CSP))
    })
    .await
}

#[derive(Deserialize)]
pub struct ProfileForm {
    csrf: String,
    display_name: String,
}

/// `POST /account/profile`.
pub async fn save_profile(
    req: HttpRequest,
    t: TenantScope,
    form: web::Form<ProfileForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    page(&req, async {
        let v = match visitor(&state, &req, &t, "/account", false).await? {
            Ok(v) => v,
            Err(login) => return Ok(login),
        };
        if !form_ok(&req, &state, &v, &form.csrf) {
            return Ok(refused(&req));
        }
        let name = form.display_name.trim().to_owned();
        if let Err(rule) = check_display_name(&name) {
            let mut frame = Frame::new(&state, &t, &v, "profile")?;
            frame.error = Some(rule.to_owned());
            let p = ProfilePage { frame, display_name: &name, email: &v.user.email };
            return Ok(pages::render(&p, StatusCode::BAD_REQUEST, PAGE_CSP));
        }
        let audit = event(&req, &t, &v, "user.profile")
            .details(json!({ "before": { "display_name": v.user.display_name }, "after": { "display_name": name } }));
        let (store, tid, uid) = (state.store.clone(), t.tenant.id.clone(), v.user.id.clone());
        blocking(move || store.set_display_name(&tid, &uid, &name, &audit)).await?;
        Ok(see_other(&t, "/account?done=profile"))
    })
    .await
}

#[derive(Deserialize)]
pub struct EmailForm {
    csrf: String,
    email: String,
}

/// `POST /account/email`: a confirmation link to the new address; the address changes when
/// it is opened (so nobody moves an account to an address they cannot read).
pub async fn change_email(
    req: HttpRequest,
    t: TenantScope,
    form: web::Form<EmailForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    page(&req, async {
        let v = match visitor(&state, &req, &t, "/account", false).await? {
            Ok(v) => v,
            Err(login) => return Ok(login),
        };
        if !form_ok(&req, &state, &v, &form.csrf) {
            return Ok(refused(&req));
        }
        let email = match Email::parse(form.email.trim()) {
            Ok(e) => e.to_string(),
            Err(rule) => {
                let mut frame = Frame::new(&state, &t, &v, "profile")?;
                frame.error = Some(rule.to_string());
                let p = ProfilePage { frame, display_name: &v.user.display_name, email: &v.user.email };
                return Ok(pages::render(&p, StatusCode::BAD_REQUEST, PAGE_CSP));
            }
        };
        let audit = event(&req, &t, &v, "user.email_change_requested").details(json!({ "to": email }));
        let (store, config, tenant, user) =
            (state.store.clone(), state.config.clone(), t.tenant.clone(), v.user.clone());
        blocking(move || {
            crate::mail::send_link(
                &store,
                &config.mail,
                &config.public_url,
                &tenant,
                &user,
                TokenPurpose::Email,
                &email,
                &email,
                &audit,
                UnixTime::now(),
            )
        })
        .await?;
        state.wake_mail();
        Ok(see_other(&t, "/account?done=email"))
    })
    .await
}

#[derive(Template)]
#[template(path = "account_password.html")]
struct PasswordPage {
    frame: Frame,
}

/// `GET /account/password` (asks for a recent sign-in first).
pub async fn password(
    req: HttpRequest,
    t: TenantScope,
    q: web::Query<Done>,
    state: web::Data<AppState>,
) -> HttpResponse {
    page(&req, async {
        let v = match visitor(&state, &req, &t, "/account/password", true).await? {
            Ok(v) => v,
            Err(login) => return Ok(login),
        };
        let mut frame = Frame::new(&state, &t, &v, "password")?;
        frame.notice = notice(&q);
        Ok(pages::render(&PasswordPage { frame }, StatusCode::OK, PAGE_CSP))
    })
    .await
}

#[derive(Deserialize)]
pub struct PasswordForm {
    csrf: String,
    current_password: Secret<String>,
    new_password: Secret<String>,
    confirm_password: Secret<String>,
}

/// `POST /account/password`: current password, a recent sign-in, the policy and history (A2);
/// the user's other sessions and their refresh tokens end (the session in use stays, renewed
/// in spirit: it was authenticated moments ago).
pub async fn change_password(
    req: HttpRequest,
    t: TenantScope,
    form: web::Form<PasswordForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    page(&req, async {
        let v = match visitor(&state, &req, &t, "/account/password", true).await? {
            Ok(v) => v,
            Err(login) => return Ok(login),
        };
        let form = form.into_inner();
        if !form_ok(&req, &state, &v, &form.csrf) {
            return Ok(refused(&req));
        }
        let refuse = |text: String| -> Result<HttpResponse, ProtocolError> {
            let mut frame = Frame::new(&state, &t, &v, "password")?;
            frame.error = Some(text);
            Ok(pages::render(&PasswordPage { frame }, StatusCode::BAD_REQUEST, PAGE_CSP))
        };
        if form.new_password.expose() != form.confirm_password.expose() {
            return refuse("The two new passwords differ.".to_owned());
        }
        let keep = t.tenant.policy.password_history;
        let (store, tid, uid) = (state.store.clone(), t.tenant.id.clone(), v.user.id.clone());
        let history = blocking(move || store.password_history(&tid, &uid, usize::from(keep))).await?;
        let _permit = state.hash_permits.acquire().await.map_err(ProtocolError::server)?;
        let (hasher, policy, user) = (state.hasher.clone(), state.config.password_policy.clone(), v.user.clone());
        let (current, new) = (form.current_password, form.new_password);
        let checked = web::block(move || {
            let stored = user.password_hash.as_ref().map(|h| h.expose().as_str()).unwrap_or("");
            if !matches!(hasher.verify(&current, stored), Verification::Valid | Verification::ValidNeedsRehash) {
                return Err(None);
            }
            check_new_password(&hasher, &policy, &user, &new, &history).map_err(Some)
        })
        .await
        .map_err(ProtocolError::server)?;
        let hash = match checked {
            Ok(hash) => hash,
            Err(None) => return refuse("The current password is not right.".to_owned()),
            Err(Some(PasswordChange::Hashing)) => return Err(ProtocolError::server("password hashing failed")),
            Err(Some(rule)) => return refuse(rule.to_string()),
        };
        let audit = event(&req, &t, &v, "user.password_change")
            .details(json!({ "at": "account", "other_sessions_and_refresh_tokens": "revoked" }));
        let (store, tid, uid, sid, now) =
            (state.store.clone(), t.tenant.id.clone(), v.user.id.clone(), v.session.sid.clone(), UnixTime::now().0);
        blocking(move || {
            let change = NewPassword {
                tenant_id: &tid,
                user_id: &uid,
                hash: &hash,
                now,
                must_change: false,
                keep_history: keep,
                end: SessionsToEnd::AllBut(&sid),
            };
            store.set_password(&change, &audit)
        })
        .await?;
        state.wake_logout_delivery();
        Ok(see_other(&t, "/account/password?done=password"))
    })
    .await
}

/// One row of the sessions page.
struct SessionRow {
    sid: String,
    device: String,
    address: String,
    started: String,
    last_seen: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "account_sessions.html")]
struct SessionsPage {
    frame: Frame,
    sessions: Vec<SessionRow>,
    others: bool,
}

/// `GET /account/sessions` (S8).
pub async fn sessions(
    req: HttpRequest,
    t: TenantScope,
    q: web::Query<Done>,
    state: web::Data<AppState>,
) -> HttpResponse {
    page(&req, async {
        let v = match visitor(&state, &req, &t, "/account/sessions", false).await? {
            Ok(v) => v,
            Err(login) => return Ok(login),
        };
        let (store, tid, uid) = (state.store.clone(), t.tenant.id.clone(), v.user.id.clone());
        let list = blocking(move || store.sessions_of(&tid, &uid, UnixTime::now().0)).await?;
        let sessions: Vec<SessionRow> = list
            .iter()
            .map(|s| SessionRow {
                sid: s.sid.clone(),
                device: device(s.user_agent.as_deref()),
                address: s.client_ip.clone().unwrap_or_else(|| "unknown".to_owned()),
                started: utc(s.created_at),
                last_seen: utc(s.last_seen_at),
                current: s.sid == v.session.sid,
            })
            .collect();
        let mut frame = Frame::new(&state, &t, &v, "sessions")?;
        frame.notice = notice(&q);
        let others = sessions.iter().any(|s| !s.current);
        Ok(pages::render(&SessionsPage { frame, sessions, others }, StatusCode::OK, PAGE_CSP))
    })
    .await
}

#[derive(Deserialize)]
pub struct EndForm {
    csrf: String,
    /// A session's `sid`, or `others`.
    sid: String,
}

/// `POST /account/sessions/end`: one of the user's other sessions, or all of them (S8).
pub async fn end_session(
    req: HttpRequest,
    t: TenantScope,
    form: web::Form<EndForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    page(&req, async {
        let v = match visitor(&state, &req, &t, "/account/sessions", false).await? {
            Ok(v) => v,
            Err(login) => return Ok(login),
        };
        if !form_ok(&req, &state, &v, &form.csrf) {
            return Ok(refused(&req));
        }
        let all_others = form.sid == "others";
        if !all_others && form.sid == v.session.sid {
            // This session ends by signing out.
            return Ok(see_other(&t, "/account/sessions"));
        }
        let audit = event(&req, &t, &v, "session.end").details(json!({ "sid": form.sid, "others": all_others }));
        let (store, tid, uid, sid, mine) =
            (state.store.clone(), t.tenant.id.clone(), v.user.id.clone(), form.sid.clone(), v.session.sid.clone());
        let ended = blocking(move || {
            let which = if all_others { SessionsToEnd::AllBut(&mine) } else { SessionsToEnd::One(&sid) };
            store.end_sessions(&tid, &uid, which, UnixTime::now().0, &audit)
        })
        .await?;
        if ended > 0 {
            state.wake_logout_delivery();
        }
        Ok(see_other(&t, if all_others { "/account/sessions?done=sessions" } else { "/account/sessions?done=session" }))
    })
    .await
}

/// One consent on the applications page.
struct AppRow {
    client_id: String,
    name: String,
    scope: String,
    since: String,
}

#[derive(Template)]
#[template(path = "account_applications.html")]
struct ApplicationsPage {
    frame: Frame,
    apps: Vec<AppRow>,
}

/// `GET /account/applications` (O6): the consents given.
pub async fn applications(
    req: HttpRequest,
    t: TenantScope,
    q: web::Query<Done>,
    state: web::Data<AppState>,
) -> HttpResponse {
    page(&req, async {
        let v = match visitor(&state, &req, &t, "/account/applications", false).await? {
            Ok(v) => v,
            Err(login) => return Ok(login),
        };
        let (store, tid, uid) = (state.store.clone(), t.tenant.id.clone(), v.user.id.clone());
        let consents = blocking(move || store.consents_of(&tid, &uid)).await?;
        let mut apps = Vec::with_capacity(consents.len());
        for c in consents {
            let name = state
                .client(&t.tenant.id, &c.client_id)
                .await?
                .map_or_else(|| c.client_id.clone(), |cl| cl.name.clone());
            apps.push(AppRow { client_id: c.client_id, name, scope: c.scope, since: utc(c.granted_at) });
        }
        let mut frame = Frame::new(&state, &t, &v, "applications")?;
        frame.notice = notice(&q);
        Ok(pages::render(&ApplicationsPage { frame, apps }, StatusCode::OK, PAGE_CSP))
    })
    .await
}

#[derive(Deserialize)]
pub struct RevokeForm {
    csrf: String,
    client_id: String,
}

/// `POST /account/applications/revoke`: the consent goes, with that client's refresh tokens
/// for the user.
pub async fn revoke_application(
    req: HttpRequest,
    t: TenantScope,
    form: web::Form<RevokeForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    page(&req, async {
        let v = match visitor(&state, &req, &t, "/account/applications", false).await? {
            Ok(v) => v,
            Err(login) => return Ok(login),
        };
        if !form_ok(&req, &state, &v, &form.csrf) {
            return Ok(refused(&req));
        }
        let audit = event(&req, &t, &v, "consent.revoke")
            .target(format!("client:{}", form.client_id))
            .details(json!({ "user": v.user.id }));
        let (store, tid, uid, cid) =
            (state.store.clone(), t.tenant.id.clone(), v.user.id.clone(), form.client_id.clone());
        blocking(move || store.revoke_consent(&tid, &uid, &cid, UnixTime::now().0, &audit)).await?;
        Ok(see_other(&t, "/account/applications?done=revoked"))
    })
    .await
}

/// One line of the activity page.
struct EventRow {
    at: String,
    what: String,
    outcome: String,
    address: String,
}

#[derive(Template)]
#[template(path = "account_activity.html")]
struct ActivityPage {
    frame: Frame,
    events: Vec<EventRow>,
}

/// `GET /account/activity`: the newest audit records done by or to this user, nobody else's.
pub async fn activity(req: HttpRequest, t: TenantScope, state: web::Data<AppState>) -> HttpResponse {
    page(&req, async {
        let v = match visitor(&state, &req, &t, "/account/activity", false).await? {
            Ok(v) => v,
            Err(login) => return Ok(login),
        };
        let (store, tid, uid) = (state.store.clone(), t.tenant.id.clone(), v.user.id.clone());
        let records = blocking(move || store.audit_of_user(&tid, &uid, 50)).await?;
        let events = records
            .into_iter()
            .map(|r| EventRow {
                at: utc(r.at),
                what: r.action,
                outcome: r.outcome,
                address: r.source_ip.unwrap_or_default(),
            })
            .collect();
        let frame = Frame::new(&state, &t, &v, "activity")?;
        Ok(pages::render(&ActivityPage { frame, events }, StatusCode::OK, PAGE_CSP))
    })
    .await
}
