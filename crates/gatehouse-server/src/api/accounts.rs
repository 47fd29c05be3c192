//! What an administrator does to one account beyond the basics (AC4, AC5, A9, S6, S8): its
//! roles replaced under `If-Match`, its password reset, its sessions listed and ended one by
//! one. The tenant's roles with their member counts.

use actix_web::{HttpRequest, HttpResponse, web};
use gatehouse_core::UnixTime;
use gatehouse_core::admin::authz::{Action, Level};
use gatehouse_core::admin::{self};
use gatehouse_core::store::AdminStore;
use gatehouse_types::Secret;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::problem::{ProblemBody, internal};
use super::users::{Account, account, account_to_change, view};
use super::{admit, run, with_etag};
use crate::api::below_caller;
use crate::http::oauth::context::blocking;
use crate::state::AppState;

/// The tenant's roles and how many users hold each.
#[utoipa::path(get, path = "/tenants/{slug}/roles", tag = "roles",
    params(("slug" = String, Path, description = "The tenant's slug")),
    responses(
        (status = 200, description = "`{\"items\": [{\"name\", \"members\", \"level\"}]}`", body = Object),
        (status = 401, description = "No valid token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn roles(req: HttpRequest, slug: web::Path<String>, state: web::Data<AppState>) -> HttpResponse {
    let (_, t) = match admit(&req, &state, &slug, Action::RoleList).await {
        Ok(ok) => ok,
        Err(res) => return res,
    };
    let (store, tid, platform) = (state.store.clone(), t.tenant.id.clone(), t.tenant.is_platform);
    match blocking(move || store.list_roles(&tid)).await {
        Ok(all) => {
            let items: Vec<_> = all
                .iter()
                .map(|(name, members)| {
                    let level = Level::of(std::slice::from_ref(name), platform);
                    json!({ "name": name, "members": members, "level": level })
                })
                .collect();
            HttpResponse::Ok().json(json!({ "items": items }))
        }
        Err(e) => internal(&req, &e),
    }
}

/// The roles a user is to hold (AC5: they reach the user's tokens as the `roles` claim).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RolesBody {
    roles: Vec<String>,
}

/// Replaces the user's roles; needs `If-Match`. The user and the new roles must both be below
/// the caller's level (AC4).
#[utoipa::path(put, path = "/tenants/{slug}/users/{username}/roles", tag = "roles", request_body = RolesBody,
    params(
        ("slug" = String, Path, description = "The tenant's slug"),
        ("username" = String, Path, description = "The username"),
        ("If-Match" = String, Header, description = "The ETag of the user as read"),
    ),
    responses(
        (status = 200, description = "The user (ETag header)", body = Object),
        (status = 400, description = "Invalid role", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = ProblemBody, content_type = "application/problem+json"),
        (status = 412, description = "Changed since read", body = ProblemBody, content_type = "application/problem+json"),
        (status = 428, description = "No If-Match", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn set_roles(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Json<RolesBody>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (slug, username) = path.into_inner();
    let Account { caller, tenant: t, user, roles: before, level: _ } =
        match account_to_change(&req, &state, &slug, &username, Action::UserSetRoles).await {
            Ok(a) => a,
            Err(res) => return res,
        };
    let roles = body.into_inner().roles;
    let name = format!("user:{}", user.id);
    let new_level = match below_caller(&req, &state, &caller, &t, &roles, Action::UserSetRoles, &name).await {
        Ok(level) => level,
        Err(p) => return p.respond(&req),
    };
    let (store, actor, s, u) = (state.store.clone(), caller.actor(), t.tenant.slug.clone(), user.clone());
    match run(&req, move || admin::set_user_roles(&store, &actor, &s, &u, &before, &roles)).await {
        Ok(after) => with_etag(view(&user, &after, new_level)),
        Err(res) => res,
    }
}

/// What changes of an account; absent fields stay.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserChangeBody {
    /// At most 100 printable characters.
    display_name: Option<String>,
    /// The new address; an administrator's counts as confirmed.
    email: Option<String>,
    /// A disabled account cannot sign in; disabling ends its sessions and refresh tokens.
    disabled: Option<bool>,
}

/// Changes a user's display name, address or disabled flag; needs `If-Match`.
#[utoipa::path(patch, path = "/tenants/{slug}/users/{username}", tag = "users", request_body = UserChangeBody,
    params(
        ("slug" = String, Path, description = "The tenant's slug"),
        ("username" = String, Path, description = "The username"),
        ("If-Match" = String, Header, description = "The ETag of the user as read"),
    ),
    responses(
        (status = 200, description = "The user (ETag header)", body = Object),
        (status = 400, description = "Invalid input", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "Address taken", body = ProblemBody, content_type = "application/problem+json"),
        (status = 412, description = "Changed since read", body = ProblemBody, content_type = "application/problem+json"),
        (status = 428, description = "No If-Match", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn update(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Json<UserChangeBody>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (slug, username) = path.into_inner();
    let Account { caller, tenant: _t, user, roles, level } =
        match account_to_change(&req, &state, &slug, &username, Action::UserUpdate).await {
            Ok(a) => a,
            Err(res) => return res,
        };
    let b = body.into_inner();
    let change = admin::UserChange { display_name: b.display_name, email: b.email, disabled: b.disabled };
    let (store, actor) = (state.store.clone(), caller.actor());
    match run(&req, move || admin::update_user(&store, &actor, &user, &change, UnixTime::now())).await {
        Ok(after) => {
            state.wake_logout_delivery();
            with_etag(view(&after, &roles, level))
        }
        Err(res) => res,
    }
}

/// A password an administrator sets for a user (A9).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    /// Checked against the tenant's password policy (A2).
    #[schema(value_type = String, format = Password)]
    password: Secret<String>,
    /// The user must choose a new one at the next sign-in (default true).
    #[serde(default = "yes")]
    must_change_password: bool,
}

fn yes() -> bool {
    true
}

/// Sets a new password; every session and refresh token of the user ends with the old one (A9).
#[utoipa::path(post, path = "/tenants/{slug}/users/{username}/password", tag = "users", request_body = PasswordBody,
    params(("slug" = String, Path, description = "The tenant's slug"), ("username" = String, Path, description = "The username")),
    responses(
        (status = 200, description = "`{\"sessions_ended\": n, \"refresh_tokens_revoked\": n}`", body = Object),
        (status = 400, description = "The password breaks the policy", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn reset_password(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Json<PasswordBody>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (slug, username) = path.into_inner();
    let Account { caller, tenant: t, user, .. } =
        match account(&req, &state, &slug, &username, Action::UserResetPassword).await {
            Ok(a) => a,
            Err(res) => return res,
        };
    let body = body.into_inner();
    let (store, hasher, policy, actor, s) = (
        state.store.clone(),
        state.hasher.clone(),
        state.config.password_policy.clone(),
        caller.actor(),
        t.tenant.slug.clone(),
    );
    let done = run(&req, move || {
        let (password, must_change) = (&body.password, body.must_change_password);
        admin::reset_password(
            &store,
            &hasher,
            &policy,
            &actor,
            &s,
            &user.username,
            password,
            must_change,
            UnixTime::now(),
        )
    })
    .await;
    match done {
        Ok(r) => {
            state.wake_logout_delivery();
            HttpResponse::Ok()
                .json(json!({ "sessions_ended": r.sessions_ended, "refresh_tokens_revoked": r.refresh_tokens_revoked }))
        }
        Err(res) => res,
    }
}

/// The user's live sessions (S8).
#[utoipa::path(get, path = "/tenants/{slug}/users/{username}/sessions", tag = "sessions",
    params(("slug" = String, Path, description = "The tenant's slug"), ("username" = String, Path, description = "The username")),
    responses(
        (status = 200, description = "`{\"items\": [session]}`", body = Object),
        (status = 401, description = "No valid token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn sessions(req: HttpRequest, path: web::Path<(String, String)>, state: web::Data<AppState>) -> HttpResponse {
    let (slug, username) = path.into_inner();
    let Account { caller: _, tenant: t, user, .. } =
        match account(&req, &state, &slug, &username, Action::UserSessions).await {
            Ok(a) => a,
            Err(res) => return res,
        };
    let (store, s) = (state.store.clone(), t.tenant.slug.clone());
    match run(&req, move || admin::user_sessions(&store, &s, &user.username, UnixTime::now())).await {
        Ok(all) => HttpResponse::Ok().json(json!({ "items": all.iter().map(session_json).collect::<Vec<_>>() })),
        Err(res) => res,
    }
}

/// A session as the API shows it.
fn session_json(s: &gatehouse_core::store::SessionRecord) -> serde_json::Value {
    json!({
        "sid": s.sid,
        "auth_time": s.auth_time,
        "amr": s.amr.split_whitespace().collect::<Vec<_>>(),
        "acr": s.acr,
        "created_at": s.created_at,
        "last_seen_at": s.last_seen_at,
        "expires_at": s.expires_at,
        "client_ip": s.client_ip,
        "user_agent": s.user_agent,
    })
}

/// The most sessions the tenant-wide list holds.
const MAX_SESSIONS: i64 = 500;

/// S8: the tenant's live sessions, most recently active first (tenant administrators).
#[utoipa::path(get, path = "/tenants/{slug}/sessions", tag = "sessions",
    params(("slug" = String, Path, description = "The tenant's slug")),
    responses(
        (status = 200, description = "`{\"items\": [session with username]}` (at most 500)", body = Object),
        (status = 401, description = "No valid token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn tenant_sessions(req: HttpRequest, slug: web::Path<String>, state: web::Data<AppState>) -> HttpResponse {
    let (_, t) = match admit(&req, &state, &slug, Action::SessionList).await {
        Ok(ok) => ok,
        Err(res) => return res,
    };
    let (store, tid) = (state.store.clone(), t.tenant.id.clone());
    match blocking(move || store.tenant_sessions(&tid, UnixTime::now().0, MAX_SESSIONS)).await {
        Ok(all) => {
            let items: Vec<_> = all
                .iter()
                .map(|(s, username)| {
                    let mut v = session_json(s);
                    v["username"] = json!(username);
                    v
                })
                .collect();
            HttpResponse::Ok().json(json!({ "items": items }))
        }
        Err(e) => internal(&req, &e),
    }
}

/// Ends one session of the user (S6: its clients are told).
#[utoipa::path(delete, path = "/tenants/{slug}/users/{username}/sessions/{sid}", tag = "sessions",
    params(
        ("slug" = String, Path, description = "The tenant's slug"),
        ("username" = String, Path, description = "The username"),
        ("sid" = String, Path, description = "The session's sid"),
    ),
    responses(
        (status = 204, description = "Ended"),
        (status = 400, description = "No live session with this sid", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn end_session(
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (slug, username, sid) = path.into_inner();
    let Account { caller, tenant: t, user, .. } =
        match account(&req, &state, &slug, &username, Action::UserEndSessions).await {
            Ok(a) => a,
            Err(res) => return res,
        };
    let (store, s, actor) = (state.store.clone(), t.tenant.slug.clone(), caller.actor());
    let ended =
        run(&req, move || admin::end_user_sessions(&store, &s, &user.username, Some(&sid), &actor, UnixTime::now()))
            .await;
    match ended {
        Ok(_) => {
            state.wake_logout_delivery();
            HttpResponse::NoContent().finish()
        }
        Err(res) => res,
    }
}
