//! A user's linked upstream identities (O8): listed, and disconnected by an administrator.

use actix_web::{HttpRequest, HttpResponse, web};
use gatehouse_core::admin::authz::Action;
use gatehouse_core::admin::{self, IdentityView};
use serde_json::json;

use super::problem::ProblemBody;
use super::run;
use super::users::{Account, account};
use crate::state::AppState;

/// The user's linked upstream identities, oldest first.
#[utoipa::path(get, path = "/tenants/{slug}/users/{username}/identities", tag = "users",
    params(
        ("slug" = String, Path, description = "The tenant's slug"),
        ("username" = String, Path, description = "The username"),
    ),
    responses(
        (status = 200, description = "`{\"items\": [{\"upstream\", \"display_name\", \"subject\", \"created_at\", \"last_used_at\"}]}`", body = Object),
        (status = 401, description = "No valid token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn list(req: HttpRequest, path: web::Path<(String, String)>, state: web::Data<AppState>) -> HttpResponse {
    let (slug, username) = path.into_inner();
    let Account { user, .. } = match account(&req, &state, &slug, &username, Action::UserRead).await {
        Ok(a) => a,
        Err(res) => return res,
    };
    let store = state.store.clone();
    match run(&req, move || admin::user_identities(&store, &user)).await {
        Ok(all) => HttpResponse::Ok().json(json!({ "items": all.iter().map(IdentityView::json).collect::<Vec<_>>() })),
        Err(res) => res,
    }
}

/// Disconnects the user's identity at the upstream `name` (the user can no longer sign in
/// with it until it is linked again; an account left without a way in gets a one-time
/// password).
#[utoipa::path(delete, path = "/tenants/{slug}/users/{username}/identities/{name}", tag = "users",
    params(
        ("slug" = String, Path, description = "The tenant's slug"),
        ("username" = String, Path, description = "The username"),
        ("name" = String, Path, description = "The upstream's name"),
    ),
    responses(
        (status = 204, description = "Disconnected"),
        (status = 401, description = "No valid token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such user, or no identity of this upstream", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn unlink(
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (slug, username, name) = path.into_inner();
    let Account { caller, user, .. } = match account(&req, &state, &slug, &username, Action::UserUpdate).await {
        Ok(a) => a,
        Err(res) => return res,
    };
    let (store, actor) = (state.store.clone(), caller.actor());
    match run(&req, move || admin::unlink_user_identity(&store, &actor, &user, &name)).await {
        Ok(()) => HttpResponse::NoContent().finish(),
        Err(res) => res,
    }
}
