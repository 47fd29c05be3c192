//! Users of a tenant (A8, A4, A5, S8, D3, AC4): listed with search and a cursor, created by
//! invitation, read, deleted, unlocked, their factors reset and sessions ended. Every action
//! on an account needs the account to be of a lower level than the operator (AC4).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use gatehouse_core::account::TokenPurpose;
use gatehouse_core::admin::authz::{Action, Level};
use gatehouse_core::admin::{self, CreateUser};
use gatehouse_core::audit::AuditEvent;
use gatehouse_core::model::User;
use gatehouse_core::store::UserStore;
use gatehouse_core::{StoreError, UnixTime};
use gatehouse_types::ProtocolError;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use super::auth::Caller;
use super::problem::{Problem, ProblemBody, internal};
use super::{admin_problem, admit, check_if_match, run_as, with_etag};
use crate::api::below_caller;
use crate::http::oauth::context::{TenantEntry, blocking};
use crate::state::AppState;

/// The most users one page holds.
const MAX_PAGE: i64 = 100;

fn summary(u: &User) -> Value {
    json!({
        "id": u.id,
        "username": u.username,
        "email": u.email,
        "display_name": u.display_name,
        "email_verified": u.email_verified,
        "disabled": u.disabled,
        "invited": u.password_hash.is_none(),
        "created_at": u.created_at,
    })
}

pub fn view(u: &User, roles: &[String], level: Level) -> Value {
    let mut v = summary(u);
    v["roles"] = json!(roles);
    v["level"] = json!(level);
    v["must_change_password"] = json!(u.must_change_password);
    v
}

/// A page of the list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ListQuery {
    /// Part of a username or e-mail address (case-insensitive).
    search: Option<String>,
    /// The `next` cursor of the previous page.
    after: Option<String>,
    /// At most this many (1–100, default 50).
    limit: Option<i64>,
}

/// The tenant's users, by username, a page at a time.
#[utoipa::path(get, path = "/tenants/{slug}/users", tag = "users",
    params(("slug" = String, Path, description = "The tenant's slug"), ListQuery),
    responses(
        (status = 200, description = "`{\"items\": [user], \"next\": cursor or null}`", body = Object),
        (status = 401, description = "No valid token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn list(
    req: HttpRequest,
    slug: web::Path<String>,
    q: web::Query<ListQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (_, t) = match admit(&req, &state, &slug, Action::UserList).await {
        Ok(ok) => ok,
        Err(res) => return res,
    };
    let q = q.into_inner();
    let limit = q.limit.unwrap_or(50).clamp(1, MAX_PAGE);
    if q.search.as_deref().is_some_and(|s| s.len() > 254 || s.chars().any(char::is_control))
        || q.after.as_deref().is_some_and(|s| s.len() > 254 || s.chars().any(char::is_control))
    {
        return Problem::invalid("search and after are at most 254 printable characters".into()).respond(&req);
    }
    let (store, tid) = (state.store.clone(), t.tenant.id.clone());
    let (search, after) = (q.search.clone(), q.after.clone());
    let rows = blocking(move || store.list_users(&tid, search.as_deref(), after.as_deref(), limit + 1)).await;
    match rows {
        Ok(mut users) => {
            let more = users.len() as i64 > limit;
            users.truncate(limit as usize);
            let next = if more { users.last().map(|u| u.username.clone()) } else { None };
            HttpResponse::Ok().json(json!({ "items": users.iter().map(summary).collect::<Vec<_>>(), "next": next }))
        }
        Err(e) => internal(&req, &e),
    }
}

/// A new user, invited by mail to choose a password (A8).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    username: String,
    email: String,
    /// Roles to assign; each must be of a lower level than the caller's (AC4).
    #[serde(default)]
    roles: Vec<String>,
}

/// Creates a user and mails them a set-password link (72 hours).
#[utoipa::path(post, path = "/tenants/{slug}/users", tag = "users", request_body = NewUser,
    params(("slug" = String, Path, description = "The tenant's slug")),
    responses(
        (status = 201, description = "The user", body = Object),
        (status = 400, description = "Invalid input", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted", body = ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "Username or address taken", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn create(
    req: HttpRequest,
    slug: web::Path<String>,
    body: web::Json<NewUser>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (caller, t) = match admit(&req, &state, &slug, Action::UserCreate).await {
        Ok(ok) => ok,
        Err(res) => return res,
    };
    let body = body.into_inner();
    match invite(&req, &state, &caller, &t, body.username, body.email, body.roles).await {
        Ok((user, roles, level)) => HttpResponse::build(StatusCode::CREATED).json(view(&user, &roles, level)),
        Err(p) => p.respond(&req),
    }
}

/// A8: creates a user of `t` without a password, with `roles` below the caller's level (AC4,
/// the refusal audited), and mails them a set-password link (72 hours). The API and the
/// console both create users here.
pub async fn invite(
    req: &HttpRequest,
    state: &AppState,
    caller: &Caller,
    t: &TenantEntry,
    username: String,
    email: String,
    roles: Vec<String>,
) -> Result<(User, Vec<String>, Level), Problem> {
    let level =
        below_caller(req, state, caller, t, &roles, Action::UserCreate, &format!("tenant:{}", t.tenant.id)).await?;
    let input = CreateUser {
        tenant: t.tenant.slug.clone(),
        username,
        email,
        password: None,
        roles: roles.clone(),
        must_change_password: false,
        self_registered: false,
    };
    let (store, hasher, policy, actor) =
        (state.store.clone(), state.hasher.clone(), state.config.password_policy.clone(), caller.actor());
    let user = run_as(move || admin::create_user(&store, &hasher, &policy, &actor, &input, UnixTime::now())).await?;
    let audit = AuditEvent::new(caller.actor(), "user.invite").tenant(&t.tenant.id).target(format!("user:{}", user.id));
    let (store, mail, public_url, tenant, invited) = (
        state.store.clone(),
        state.config.mail.clone(),
        state.config.public_url.clone(),
        t.tenant.clone(),
        user.clone(),
    );
    let sent = blocking(move || {
        let to = invited.email.clone();
        crate::mail::send_link(
            &store,
            &mail,
            &public_url,
            &tenant,
            &invited,
            TokenPurpose::Invite,
            &to,
            "",
            &audit,
            UnixTime::now(),
        )
    })
    .await;
    if let Err(e) = sent {
        tracing::error!(error = %e, "the invitation could not be queued");
        return Err(Problem::SERVER);
    }
    state.wake_mail();
    let mut roles = roles;
    roles.sort();
    roles.dedup();
    Ok((user, roles, level))
}

/// An account an API caller acts on: the caller admitted for the action in the tenant, and the
/// account of a lower level than theirs (AC4).
pub(super) struct Account {
    pub caller: Caller,
    pub tenant: std::sync::Arc<TenantEntry>,
    pub user: User,
    pub roles: Vec<String>,
    pub level: Level,
}

/// The account `username` of tenant `slug`, for `action` (AC2, AC4; refusals audited).
pub(super) async fn account(
    req: &HttpRequest,
    state: &AppState,
    slug: &str,
    username: &str,
    action: Action,
) -> Result<Account, HttpResponse> {
    let (caller, tenant) = admit(req, state, slug, action).await?;
    let (user, roles, level) = target(req, state, &caller, &tenant, username, action).await?;
    Ok(Account { caller, tenant, user, roles, level })
}

/// [`account`], for a change: `If-Match` must name the version of the account as read.
pub(super) async fn account_to_change(
    req: &HttpRequest,
    state: &AppState,
    slug: &str,
    username: &str,
    action: Action,
) -> Result<Account, HttpResponse> {
    let a = account(req, state, slug, username, action).await?;
    check_if_match(req, &view(&a.user, &a.roles, a.level)).map_err(|p| p.respond(req))?;
    Ok(a)
}

/// The account `username` of `t` with its roles and level, if the caller may act on it.
pub(super) async fn target(
    req: &HttpRequest,
    state: &AppState,
    caller: &Caller,
    t: &TenantEntry,
    username: &str,
    action: Action,
) -> Result<(User, Vec<String>, Level), HttpResponse> {
    target_as(req, state, caller, t, username, action).await.map_err(|p| p.respond(req))
}

/// [`target`] for any caller (the API's or the console's): AC4's lower-level rule, the
/// refusal audited (AC6).
pub async fn target_as(
    req: &HttpRequest,
    state: &AppState,
    caller: &Caller,
    t: &TenantEntry,
    username: &str,
    action: Action,
) -> Result<(User, Vec<String>, Level), Problem> {
    let (store, tid, name) = (state.store.clone(), t.tenant.id.clone(), username.to_owned());
    let user = run_as(move || admin::require_user(&store, &tid, &name)).await?;
    let (store, tid, uid) = (state.store.clone(), t.tenant.id.clone(), user.id.clone());
    let roles = blocking(move || store.user_roles(&tid, &uid)).await.map_err(|e| {
        tracing::error!(error = %e, "roles lookup failed");
        Problem::SERVER
    })?;
    let level = below_caller(req, state, caller, t, &roles, action, &format!("user:{}", user.id)).await?;
    Ok((user, roles, level))
}

/// A user, with its ETag.
#[utoipa::path(get, path = "/tenants/{slug}/users/{username}", tag = "users",
    params(("slug" = String, Path, description = "The tenant's slug"), ("username" = String, Path, description = "The username")),
    responses(
        (status = 200, description = "The user (ETag header)", body = Object),
        (status = 401, description = "No valid token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn read(req: HttpRequest, path: web::Path<(String, String)>, state: web::Data<AppState>) -> HttpResponse {
    let (slug, username) = path.into_inner();
    match account(&req, &state, &slug, &username, Action::UserRead).await {
        Ok(a) => with_etag(view(&a.user, &a.roles, a.level)),
        Err(res) => res,
    }
}

/// Deletes a user with their personal data (D3); needs `If-Match`.
#[utoipa::path(delete, path = "/tenants/{slug}/users/{username}", tag = "users",
    params(
        ("slug" = String, Path, description = "The tenant's slug"),
        ("username" = String, Path, description = "The username"),
        ("If-Match" = String, Header, description = "The ETag of the user as read"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = ProblemBody, content_type = "application/problem+json"),
        (status = 412, description = "Changed since read", body = ProblemBody, content_type = "application/problem+json"),
        (status = 428, description = "No If-Match", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn delete(req: HttpRequest, path: web::Path<(String, String)>, state: web::Data<AppState>) -> HttpResponse {
    let (slug, username) = path.into_inner();
    let Account { caller, tenant: t, user, roles: _, level: _ } =
        match account_to_change(&req, &state, &slug, &username, Action::UserDelete).await {
            Ok(a) => a,
            Err(res) => return res,
        };
    let (store, s, actor) = (state.store.clone(), t.tenant.slug.clone(), caller.actor());
    match web::block(move || admin::delete_user(&store, &s, &user.username, &actor, UnixTime::now())).await {
        Ok(Ok(())) => {
            state.wake_logout_delivery();
            HttpResponse::NoContent().finish()
        }
        Ok(Err(e)) => admin_problem(&req, e),
        Err(e) => internal(&req, &ProtocolError::server(e)),
    }
}

/// Runs `f` on the target account of an action without a body; answers `{"done": value}`.
async fn act<T: serde::Serialize + Send + 'static>(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
    action: Action,
    f: impl FnOnce(&gatehouse_store::Store, &str, &str, &str) -> Result<T, admin::AdminError> + Send + 'static,
) -> HttpResponse {
    let (slug, username) = path.into_inner();
    let Account { caller, tenant: t, user, .. } = match account(&req, &state, &slug, &username, action).await {
        Ok(a) => a,
        Err(res) => return res,
    };
    let (store, s, actor) = (state.store.clone(), t.tenant.slug.clone(), caller.actor());
    match web::block(move || f(&store, &s, &user.username, &actor)).await {
        Ok(Ok(value)) => {
            state.wake_logout_delivery();
            HttpResponse::Ok().json(json!({ "done": value }))
        }
        Ok(Err(admin::AdminError::Store(StoreError::NotFound(_)))) => Problem::NOT_FOUND.respond(&req),
        Ok(Err(e)) => admin_problem(&req, e),
        Err(e) => internal(&req, &ProtocolError::server(e)),
    }
}

/// Lifts the account's lockout (A4); `done` says whether there was one.
#[utoipa::path(post, path = "/tenants/{slug}/users/{username}/unlock", tag = "users",
    params(("slug" = String, Path, description = "The tenant's slug"), ("username" = String, Path, description = "The username")),
    responses(
        (status = 200, description = "`{\"done\": bool}`", body = Object),
        (status = 401, description = "No valid token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn unlock(req: HttpRequest, path: web::Path<(String, String)>, state: web::Data<AppState>) -> HttpResponse {
    act(req, path, state, Action::UserUnlock, |store, tenant, user, actor| {
        admin::unlock_user(store, tenant, user, actor)
    })
    .await
}

/// Removes the account's second factors and recovery codes (A6); `done` is how many factors.
#[utoipa::path(post, path = "/tenants/{slug}/users/{username}/mfa/reset", tag = "users",
    params(("slug" = String, Path, description = "The tenant's slug"), ("username" = String, Path, description = "The username")),
    responses(
        (status = 200, description = "`{\"done\": factors removed}`", body = Object),
        (status = 401, description = "No valid token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn reset_mfa(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> HttpResponse {
    act(req, path, state, Action::UserResetMfa, |store, tenant, user, actor| {
        admin::reset_user_mfa(store, tenant, user, actor)
    })
    .await
}

/// Ends every session of the account (S6: its clients are told); `done` is how many.
#[utoipa::path(post, path = "/tenants/{slug}/users/{username}/sessions/end", tag = "users",
    params(("slug" = String, Path, description = "The tenant's slug"), ("username" = String, Path, description = "The username")),
    responses(
        (status = 200, description = "`{\"done\": sessions ended}`", body = Object),
        (status = 401, description = "No valid token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn end_sessions(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> HttpResponse {
    act(req, path, state, Action::UserEndSessions, |store, tenant, user, actor| {
        admin::end_user_sessions(store, tenant, user, None, actor, UnixTime::now())
    })
    .await
}
