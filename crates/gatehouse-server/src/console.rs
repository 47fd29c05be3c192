//! The admin console (AC1–AC6, A6): `/console` leads to `/tenants/{tenant}/console`, where an
//! administrator of that tenant, signed in through Gatehouse's own sign-in with a second
//! factor, administers it (and, as a platform administrator, every tenant under
//! `/console/t/{target}`). Pages come from `gatehouse-console`; every action goes through the
//! admin API's permission check (`api::admit_as`, refusals audited) and the same core use
//! case the API and the CLI call. Changes need a recent sign-in (the tenant's window) and a
//! form from this origin with the session's token (IO3).

mod audit;
mod clients;
mod sessions;
mod settings;
mod tenants;
mod upstreams;
mod users;

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use gatehouse_console::{Frame, MessagePage};
use gatehouse_core::admin::authz::{Action, Level};
use gatehouse_core::flow::interaction::{Continuation, SignIn};
use gatehouse_core::flow::session::{account_form_token, logout_confirmation};
use gatehouse_core::mfa::ACR_MFA;
use gatehouse_core::store::TenantStore;
use gatehouse_types::ProtocolError;
use serde::Deserialize;

use crate::api::admit_as;
use crate::api::auth::{Caller, refuse, user_caller};
use crate::api::problem::Problem;
use crate::http::account::{Visitor, failure, form_ok, refused, visitor};
use crate::http::errors::request_id;
use crate::http::oauth::authorize::login_page;
use crate::http::oauth::context::{TenantEntry, TenantScope, blocking};
use crate::http::pages::{PAGE_CSP, render};
use crate::state::AppState;

/// Routes under `/tenants/{tenant}`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/console", web::get().to(home))
        .route("/console/tenants", web::get().to(tenants::list))
        .route("/console/tenants", web::post().to(tenants::create))
        .route("/console/t/{target}", web::get().to(settings::overview))
        .route("/console/t/{target}/users", web::get().to(users::list))
        .route("/console/t/{target}/users", web::post().to(users::create))
        .route("/console/t/{target}/users/{username}", web::get().to(users::show_user))
        .route("/console/t/{target}/users/{username}/{action}", web::post().to(users::act))
        .route("/console/t/{target}/clients", web::get().to(clients::list))
        .route("/console/t/{target}/clients", web::post().to(clients::create))
        .route("/console/t/{target}/clients/new", web::get().to(clients::new))
        .route("/console/t/{target}/clients/{client_id}", web::get().to(clients::show_client))
        .route("/console/t/{target}/clients/{client_id}/edit", web::get().to(clients::edit))
        .route("/console/t/{target}/clients/{client_id}/settings", web::post().to(clients::update))
        .route("/console/t/{target}/clients/{client_id}/{action}", web::post().to(clients::act))
        .route("/console/t/{target}/roles", web::get().to(settings::roles))
        .route("/console/t/{target}/sessions", web::get().to(sessions::list))
        .route("/console/t/{target}/keys", web::get().to(settings::keys))
        .route("/console/t/{target}/keys", web::post().to(settings::rotate_key))
        .route("/console/t/{target}/upstreams", web::get().to(upstreams::list))
        .route("/console/t/{target}/upstreams", web::post().to(upstreams::add))
        .route("/console/t/{target}/upstreams/{name}", web::get().to(upstreams::edit))
        .route("/console/t/{target}/upstreams/{name}", web::post().to(upstreams::update))
        .route("/console/t/{target}/upstreams/{name}/remove", web::post().to(upstreams::remove))
        .route("/console/t/{target}/policy", web::get().to(settings::policy))
        .route("/console/t/{target}/policy", web::post().to(settings::save_policy))
        .route("/console/t/{target}/audit", web::get().to(audit::page_view))
        .route("/console/t/{target}/audit/export", web::get().to(audit::export));
}

/// Which tenant's console `/console` opens.
#[derive(Deserialize)]
pub struct Entry {
    tenant: Option<String>,
}

/// `GET /console`: the platform tenant's console, or `?tenant=slug`'s.
pub async fn entry(req: HttpRequest, q: web::Query<Entry>, state: web::Data<AppState>) -> HttpResponse {
    let slug = match q.into_inner().tenant {
        Some(s)
            if !s.is_empty()
                && s.len() <= 63
                && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') =>
        {
            s
        }
        Some(_) => {
            return crate::http::pages::message(
                StatusCode::NOT_FOUND,
                "Unknown tenant",
                "No tenant has this name.",
                None,
            );
        }
        None => {
            let store = state.store.clone();
            match blocking(move || store.platform_tenant()).await {
                Ok(Some(t)) => t.slug,
                Ok(None) => {
                    return crate::http::pages::message(
                        StatusCode::NOT_FOUND,
                        "No platform tenant",
                        "Run `gatehouse bootstrap` first.",
                        None,
                    );
                }
                Err(e) => return failure(&req, &e),
            }
        }
    };
    see_other(&format!("/tenants/{slug}/console"))
}

/// `GET /tenants/{tenant}/console`: the signed-in tenant's overview.
async fn home(t: TenantScope) -> HttpResponse {
    see_other(&format!("/tenants/{}/console/t/{}", t.tenant.slug, t.tenant.slug))
}

/// A signed-in administrator.
pub struct Admin {
    pub visitor: Visitor,
    pub caller: Caller,
    pub tenant: Arc<TenantEntry>,
}

/// The administrator of this request, or the response that stands in its way: the sign-in
/// (none, no second factor, or not recent enough for a change) or a refusal (not an
/// administrator; audited).
pub async fn admin(
    req: &HttpRequest,
    state: &AppState,
    t: &TenantScope,
    path: &str,
    fresh: bool,
) -> Result<Result<Admin, HttpResponse>, ProtocolError> {
    let v = match visitor(state, req, t, path, fresh).await? {
        Ok(v) => v,
        Err(login) => return Ok(Err(login)),
    };
    // A6: the console needs a sign-in with a second factor.
    if v.session.acr != ACR_MFA {
        let sign_in = SignIn::new(Continuation::Page { path: path.to_owned() });
        return Ok(Err(login_page(state, t, None, &sign_in, None).await?));
    }
    let caller = user_caller(state, t.0.clone(), &v.user).await?;
    if caller.operator.level == Level::User {
        let target = format!("tenant:{}", t.tenant.id);
        let _ = refuse(req, state, &caller, "console.open", &target, "not an administrator").await;
        return Ok(Err(plain(StatusCode::FORBIDDEN, "Not permitted", "Your account does not administer this tenant.")));
    }
    Ok(Ok(Admin { visitor: v, caller, tenant: t.0.clone() }))
}

impl Admin {
    /// The administered tenant, once `action` there is permitted (the API's one check, AC2).
    pub async fn admit(
        &self,
        req: &HttpRequest,
        state: &AppState,
        target: &str,
        action: Action,
    ) -> Result<Arc<TenantEntry>, Problem> {
        admit_as(req, state, &self.caller, target, action).await
    }

    /// The frame of a page about `target` in section `tab`.
    pub fn frame(&self, state: &AppState, target: &TenantEntry, tab: &'static str) -> Result<Frame, ProtocolError> {
        let vault = state.store.vault();
        let home = format!("/tenants/{}/console", self.tenant.tenant.slug);
        let level = self.caller.operator.level;
        Ok(Frame {
            base: format!("{home}/t/{}", target.tenant.slug),
            home,
            tenant_name: self.tenant.tenant.display_name.clone(),
            target_name: target.tenant.display_name.clone(),
            username: self.visitor.user.username.clone(),
            level: level_text(level),
            tab,
            csrf: account_form_token(vault, &self.visitor.session).map_err(ProtocolError::server)?,
            platform: level == Level::PlatformAdmin,
            admin: level >= Level::TenantAdmin,
            notice: None,
            error: None,
            logout_action: format!("/tenants/{}/logout", self.tenant.tenant.slug),
            logout_confirm: logout_confirmation(vault, &self.visitor.session).map_err(ProtocolError::server)?,
        })
    }

    /// IO3: a form from this origin with the session's token.
    pub fn form_ok(&self, req: &HttpRequest, state: &AppState, csrf: &str) -> bool {
        form_ok(req, state, &self.visitor, csrf)
    }

    /// The audit actor.
    pub fn actor(&self) -> String {
        self.caller.actor()
    }
}

/// An administrative level as a person reads it.
pub fn level_text(level: Level) -> &'static str {
    match level {
        Level::PlatformAdmin => "platform administrator",
        Level::TenantAdmin => "tenant administrator",
        Level::Helpdesk => "help desk",
        Level::User => "user",
    }
}

/// The page of a refused or failed action: the problem's fixed title and rule.
pub fn problem_page(req: &HttpRequest, frame: Frame, p: &Problem) -> HttpResponse {
    let text = match p.status {
        StatusCode::FORBIDDEN => "Your account may not do this here. The attempt was recorded.",
        StatusCode::NOT_FOUND => "There is nothing here, or it was deleted.",
        StatusCode::PRECONDITION_FAILED => {
            "Someone changed this since you opened it. Open it again and repeat the change."
        }
        StatusCode::INTERNAL_SERVER_ERROR => "Something went wrong. Please try again later.",
        _ => "The request could not be carried out.",
    };
    let page = MessagePage {
        title: if p.status == StatusCode::FORBIDDEN { "Not permitted" } else { p.title },
        frame: Frame { error: p.detail.as_deref().map(str::to_owned), ..frame },
        text,
        reference: Some(request_id(req)),
    };
    render(&page, p.status, PAGE_CSP)
}

/// A page with a fixed title and text, outside any frame.
fn plain(status: StatusCode, title: &'static str, text: &'static str) -> HttpResponse {
    crate::http::pages::message(status, title, text, None)
}

/// Renders a console page.
pub fn show(page: &impl Template) -> HttpResponse {
    render(page, StatusCode::OK, PAGE_CSP)
}

/// 303 to `location` (after a form, the browser loads it with GET).
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((header::LOCATION, location.to_owned())).finish()
}

/// Runs a page handler, turning failures into the generic page.
pub async fn page(req: &HttpRequest, f: impl std::future::Future<Output = Result<HttpResponse, Halt>>) -> HttpResponse {
    match f.await {
        Ok(res) | Err(Halt::Respond(res)) => res,
        Err(Halt::Fail(e)) => failure(req, &e),
    }
}

/// What ends a page handler early: a response to give instead (the sign-in, a refusal), or a
/// failure (the generic page).
pub enum Halt {
    Respond(HttpResponse),
    Fail(ProtocolError),
}

impl From<ProtocolError> for Halt {
    fn from(e: ProtocolError) -> Self {
        Self::Fail(e)
    }
}

/// A form the origin or token check refused (IO3).
pub fn form_refused(req: &HttpRequest) -> HttpResponse {
    refused(req)
}

/// `?done=` codes of the console's pages, each with its fixed text.
#[derive(Deserialize, Default)]
pub struct Done {
    pub done: Option<String>,
}

impl Done {
    /// The notice of the code.
    pub fn notice(&self) -> Option<String> {
        let text = match self.done.as_deref()? {
            "tenant" => "The tenant is created.",
            "invited" => "The user is created and an invitation is on its way.",
            "roles" => "The roles are saved.",
            "profile" => "The profile is saved.",
            "unlock" => "The account is unlocked.",
            "mfa-reset" => "The second factors are removed; the user enrols again at the next sign-in.",
            "end-sessions" => "The user's sessions have ended.",
            "end-session" => "The session has ended.",
            "password" => "The one-time password is set; the user chooses a new one at the next sign-in.",
            "deleted" => "Deleted.",
            "key" => "A new signing key is current; the previous one stays published for the overlap.",
            "policy" => "The policies are saved.",
            "upstream" => "The upstream is added.",
            "upstream-saved" => "The upstream is saved.",
            "unlink" => "The upstream sign-in is disconnected from the account.",
            _ => return None,
        };
        Some(text.to_owned())
    }
}

/// What a page handler works with once everything in its way is out of it.
pub struct Opened {
    pub admin: Admin,
    /// The administered tenant.
    pub target: Arc<TenantEntry>,
    pub frame: Frame,
}

/// Which page, about which tenant, for which action, in which section.
pub struct At<'a> {
    pub target: &'a str,
    pub path: &'a str,
    pub action: Action,
    pub tab: &'static str,
}

/// Opens page `path` (under the tenant) about tenant `target` for `action` in section `tab`:
/// the administrator (signed in with a second factor; a `change` also recently and from a
/// form of this origin carrying `csrf`), admitted by the permission table.
pub async fn open(
    req: &HttpRequest,
    state: &AppState,
    t: &TenantScope,
    at: At<'_>,
    change: Option<&str>,
) -> Result<Opened, Halt> {
    let At { target, path, action, tab } = at;
    let admin = admin(req, state, t, path, change.is_some()).await?.map_err(Halt::Respond)?;
    if let Some(csrf) = change
        && !admin.form_ok(req, state, csrf)
    {
        return Err(Halt::Respond(form_refused(req)));
    }
    match admin.admit(req, state, target, action).await {
        Ok(entry) => {
            let frame = admin.frame(state, &entry, tab)?;
            Ok(Opened { admin, target: entry, frame })
        }
        Err(p) => {
            let own = admin.tenant.clone();
            Err(Halt::Respond(problem_page(req, admin.frame(state, &own, tab)?, &p)))
        }
    }
}

/// A change's outcome: back to `location` with its notice, or the problem's page.
pub fn outcome<T>(req: &HttpRequest, frame: Frame, result: Result<T, Problem>, location: &str) -> HttpResponse {
    match result {
        Ok(_) => see_other(location),
        Err(p) => problem_page(req, frame, &p),
    }
}
