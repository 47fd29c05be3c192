//! The admin REST API under `/api/v1` (AC1, AC2, AC4, AC6): JSON, one core use case per
//! endpoint (the same functions the CLI calls), authenticated by Gatehouse access tokens
//! (`auth`), authorised by the one permission table (`core::admin::authz`) before every use
//! case, refusals audited, errors as RFC 9457 problems, changes guarded by `If-Match`, and an
//! OpenAPI 3.1 document generated from the handlers.

pub mod accounts;
pub mod audit;
pub mod auth;
pub mod clients;
pub mod identities;
pub mod keys;
pub mod problem;
pub mod reference;
pub mod tenants;
pub mod upstreams;
pub mod users;

use std::sync::Arc;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use gatehouse_core::StoreError;
use gatehouse_core::admin::AdminError;
use gatehouse_core::admin::authz::{
    Action, Denied, Level, may_act_on, permitted, platform_sign_in, reaches_other_tenants,
};
use gatehouse_core::flow::secret_hash;
use gatehouse_core::store::CHANGED_MEANWHILE;
use gatehouse_types::ProtocolError;
use utoipa::OpenApi;

use self::auth::{Caller, authenticate, refuse};
use self::problem::Problem;
use crate::http::oauth::context::TenantEntry;
use crate::state::AppState;

/// The API's routes, one table: the router and the route-coverage test both read it, and the
/// OpenAPI document must list exactly these.
macro_rules! api_routes {
    ($each:ident) => {
        $each! {
            (get, "/tenants", tenants::list),
            (post, "/tenants", tenants::create),
            (get, "/tenants/{slug}", tenants::read),
            (patch, "/tenants/{slug}/policy", tenants::update_policy),
            (get, "/tenants/{slug}/users", users::list),
            (post, "/tenants/{slug}/users", users::create),
            (get, "/tenants/{slug}/users/{username}", users::read),
            (delete, "/tenants/{slug}/users/{username}", users::delete),
            (patch, "/tenants/{slug}/users/{username}", accounts::update),
            (post, "/tenants/{slug}/users/{username}/unlock", users::unlock),
            (post, "/tenants/{slug}/users/{username}/mfa/reset", users::reset_mfa),
            (post, "/tenants/{slug}/users/{username}/sessions/end", users::end_sessions),
            (put, "/tenants/{slug}/users/{username}/roles", accounts::set_roles),
            (post, "/tenants/{slug}/users/{username}/password", accounts::reset_password),
            (get, "/tenants/{slug}/users/{username}/sessions", accounts::sessions),
            (delete, "/tenants/{slug}/users/{username}/sessions/{sid}", accounts::end_session),
            (get, "/tenants/{slug}/users/{username}/identities", identities::list),
            (delete, "/tenants/{slug}/users/{username}/identities/{name}", identities::unlink),
            (get, "/tenants/{slug}/roles", accounts::roles),
            (get, "/tenants/{slug}/sessions", accounts::tenant_sessions),
            (get, "/tenants/{slug}/clients", clients::list),
            (post, "/tenants/{slug}/clients", clients::create),
            (get, "/tenants/{slug}/clients/{client_id}", clients::read),
            (patch, "/tenants/{slug}/clients/{client_id}", clients::update),
            (delete, "/tenants/{slug}/clients/{client_id}", clients::delete),
            (post, "/tenants/{slug}/clients/{client_id}/secret", clients::rotate_secret),
            (get, "/tenants/{slug}/keys", keys::list),
            (post, "/tenants/{slug}/keys/rotate", keys::rotate),
            (get, "/tenants/{slug}/audit", audit::tenant),
            (get, "/audit", audit::all),
            (get, "/audit/verify", audit::verify),
            (get, "/tenants/{slug}/upstreams", upstreams::list),
            (post, "/tenants/{slug}/upstreams", upstreams::create),
            (get, "/tenants/{slug}/upstreams/{name}", upstreams::read),
            (patch, "/tenants/{slug}/upstreams/{name}", upstreams::update),
            (delete, "/tenants/{slug}/upstreams/{name}", upstreams::delete),
        }
    };
}

macro_rules! register {
    ($(($method:ident, $path:literal, $handler:path)),* $(,)?) => {
        fn register(cfg: &mut web::ServiceConfig) {
            $(cfg.route($path, web::$method().to($handler));)*
        }

        /// Every route of the API: (method, path).
        pub const ROUTES: &[(&str, &str)] = &[$((stringify!($method), $path)),*];
    };
}

api_routes!(register);

/// The OpenAPI 3.1 document of the API.
#[derive(OpenApi)]
#[openapi(
    info(title = "Gatehouse admin API", description = "Administration of tenants, users, roles, clients, signing keys and the audit log (AC1–AC6)."),
    servers((url = "/api/v1")),
    paths(
        tenants::list,
        tenants::create,
        tenants::read,
        tenants::update_policy,
        users::list,
        users::create,
        users::read,
        users::delete,
        users::unlock,
        users::reset_mfa,
        users::end_sessions,
        accounts::set_roles,
        accounts::update,
        accounts::reset_password,
        accounts::sessions,
        accounts::end_session,
        identities::list,
        identities::unlink,
        accounts::roles,
        accounts::tenant_sessions,
        clients::list,
        clients::create,
        clients::read,
        clients::update,
        clients::delete,
        clients::rotate_secret,
        keys::list,
        keys::rotate,
        audit::tenant,
        audit::all,
        audit::verify,
        upstreams::list,
        upstreams::create,
        upstreams::read,
        upstreams::update,
        upstreams::delete,
    ),
    components(schemas(problem::ProblemBody)),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
)]
pub struct ApiDoc;

/// The bearer scheme every operation requires.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT")
            .description(Some(
                "A Gatehouse access token for the audience `{public_url}/api`, from a sign-in with a second factor.",
            ))
            .build();
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// `GET /api/v1/openapi.json`.
async fn openapi_json() -> HttpResponse {
    match ApiDoc::openapi().to_json() {
        Ok(json) => HttpResponse::Ok().content_type("application/json").body(json),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}

/// Routes under `/api/v1`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1")
            .app_data(web::JsonConfig::default().error_handler(|e, req| {
                // L2: serde's message can quote the body's values (a secret in the wrong field):
                // only where and what kind of error is logged.
                match &e {
                    actix_web::error::JsonPayloadError::Deserialize(d) => {
                        tracing::info!(kind = ?d.classify(), line = d.line(), column = d.column(), "admin API body refused")
                    }
                    other => tracing::info!(error = %other, "admin API body refused"),
                }
                actix_web::error::InternalError::from_response(
                    e,
                    Problem::explained(
                        actix_web::http::StatusCode::BAD_REQUEST,
                        "Invalid request",
                        "the body is not the JSON this operation takes",
                    )
                    .respond(req),
                )
                .into()
            }))
            .route("/openapi.json", web::get().to(openapi_json))
            .route("/reference", web::get().to(reference::reference))
            .configure(register),
    );
}

/// The authenticated caller and the tenant `slug`, once `action` there is permitted (AC2);
/// a refusal is audited (AC6).
pub async fn admit(
    req: &HttpRequest,
    state: &AppState,
    slug: &str,
    action: Action,
) -> Result<(Caller, Arc<TenantEntry>), HttpResponse> {
    let caller = authenticate(req, state).await.map_err(|p| p.respond(req))?;
    let target = admit_as(req, state, &caller, slug, action).await.map_err(|p| p.respond(req))?;
    Ok((caller, target))
}

/// The one permission check (AC2) for an authenticated `caller` (a token's or the console's):
/// the tenant `slug` once `action` there is permitted; a refusal is audited (AC6). An operator
/// who may not reach other tenants is refused before the tenant is looked up, so a refusal
/// never tells whether it exists (AC1).
pub async fn admit_as(
    req: &HttpRequest,
    state: &AppState,
    caller: &Caller,
    slug: &str,
    action: Action,
) -> Result<Arc<TenantEntry>, Problem> {
    let own = caller.tenant.tenant.slug == slug;
    let reaches_others = reaches_other_tenants(&caller.operator, action);
    let target = if own {
        Some(caller.tenant.clone())
    } else if reaches_others {
        state.tenant(slug).await.map_err(|e| {
            tracing::error!(error = %e, "tenant lookup failed");
            Problem::SERVER
        })?
    } else {
        None
    };
    let Some(target) = target else {
        if reaches_others {
            return Err(Problem::NOT_FOUND);
        }
        return Err(refuse(req, state, caller, action_name(action), &format!("tenant:{slug}"), "other tenant").await);
    };
    let allowed = permitted(&caller.operator, action, &target.tenant.id)
        .and_then(|()| platform_sign_in(&caller.operator, action, target.tenant.is_platform));
    if let Err(why) = allowed {
        let reason = denied_text(why);
        let target_name = format!("tenant:{}", target.tenant.id);
        return Err(refuse(req, state, caller, action_name(action), &target_name, reason).await);
    }
    Ok(target)
}

/// AC4: the caller acts only on, and gives only, roles of a level below their own (an
/// account's, a new or changed account's, a service client's); returns that level. A refusal
/// is audited (AC6). The one check the API and the console share.
pub async fn below_caller(
    req: &HttpRequest,
    state: &AppState,
    caller: &Caller,
    t: &TenantEntry,
    roles: &[String],
    action: Action,
    target: &str,
) -> Result<Level, Problem> {
    let level = Level::of(roles, t.tenant.is_platform);
    match may_act_on(&caller.operator, level) {
        Ok(()) => Ok(level),
        Err(why) => Err(refuse(req, state, caller, action_name(action), target, denied_text(why)).await),
    }
}

/// The audited name of an action.
pub fn action_name(action: Action) -> &'static str {
    match action {
        Action::TenantList => "tenant.list",
        Action::TenantCreate => "tenant.create",
        Action::TenantRead => "tenant.read",
        Action::TenantPolicyUpdate => "tenant.policy",
        Action::UserList => "user.list",
        Action::UserRead => "user.read",
        Action::UserCreate => "user.create",
        Action::UserDelete => "user.delete",
        Action::UserUnlock => "user.unlock",
        Action::UserResetMfa => "user.mfa_reset",
        Action::UserEndSessions => "user.end_sessions",
        Action::UserSetRoles => "user.roles",
        Action::UserUpdate => "user.update",
        Action::UserResetPassword => "user.password_reset",
        Action::UserSessions => "user.sessions",
        Action::SessionList => "session.list",
        Action::RoleList => "role.list",
        Action::ClientList => "client.list",
        Action::ClientRead => "client.read",
        Action::ClientCreate => "client.create",
        Action::ClientUpdate => "client.update",
        Action::ClientRotateSecret => "client.rotate_secret",
        Action::ClientDelete => "client.delete",
        Action::KeyList => "key.list",
        Action::KeyRotate => "key.rotate",
        Action::AuditRead => "audit.read",
        Action::AuditVerify => "audit.verify",
        Action::UpstreamList => "upstream.list",
        Action::UpstreamCreate => "upstream.add",
        Action::UpstreamUpdate => "upstream.update",
        Action::UpstreamDelete => "upstream.remove",
    }
}

/// The audited reason of a refusal.
pub fn denied_text(why: Denied) -> &'static str {
    match why {
        Denied::NotPermitted => "not permitted at this level",
        Denied::TargetLevel => "the account is not of a lower level",
        Denied::PlatformSignIn => "the platform's sign-in is for platform administrators",
    }
}

/// A core use case's failure as a problem: invalid input names its rule; a conflict and a
/// missing record their fixed texts; anything else is internal.
pub fn admin_problem(req: &HttpRequest, e: AdminError) -> HttpResponse {
    problem_of(e).respond(req)
}

/// A core use case's failure as a problem (see [`admin_problem`]).
pub fn problem_of(e: AdminError) -> Problem {
    match e {
        AdminError::Store(e) if e == CHANGED_MEANWHILE => Problem::PRECONDITION_FAILED,
        AdminError::Invalid(rule) => Problem::invalid(rule),
        AdminError::Store(StoreError::Conflict(text)) => Problem { detail: Some(text.into()), ..Problem::CONFLICT },
        AdminError::Store(StoreError::NotFound(_)) => Problem::NOT_FOUND,
        AdminError::Store(StoreError::Refused(text)) => Problem::invalid(text),
        other => {
            tracing::error!(error = %other, "admin use case failed");
            Problem::SERVER
        }
    }
}

/// Runs a blocking core use case; its failure as a problem ([`admin_problem`]).
pub async fn run<T: Send + 'static>(
    req: &HttpRequest,
    f: impl FnOnce() -> Result<T, AdminError> + Send + 'static,
) -> Result<T, HttpResponse> {
    run_as(f).await.map_err(|p| p.respond(req))
}

/// Runs a blocking core use case; its failure as a [`Problem`].
pub async fn run_as<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, AdminError> + Send + 'static,
) -> Result<T, Problem> {
    match web::block(f).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(problem_of(e)),
        Err(e) => {
            tracing::error!(error = %ProtocolError::server(e), "admin use case did not run");
            Err(Problem::SERVER)
        }
    }
}

/// A weak ETag of a representation (its SHA-256, shortened).
pub fn etag_of(body: &serde_json::Value) -> String {
    let hash = secret_hash(&body.to_string());
    let hex: String = hash[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("W/\"{hex}\"")
}

/// A JSON response with its ETag.
pub fn with_etag(body: serde_json::Value) -> HttpResponse {
    let etag = etag_of(&body);
    let mut res = HttpResponse::Ok().json(body);
    if let Ok(v) = HeaderValue::from_str(&etag) {
        res.headers_mut().insert(header::ETAG, v);
    }
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// RFC 9110 §13.1.1: a change must name the version it was made against (428 without, 412
/// when the resource changed since).
pub fn check_if_match(req: &HttpRequest, current: &serde_json::Value) -> Result<(), Problem> {
    let Some(sent) = req.headers().get(header::IF_MATCH).and_then(|v| v.to_str().ok()) else {
        return Err(Problem::PRECONDITION_REQUIRED);
    };
    let etag = etag_of(current);
    let matches = sent
        .split(',')
        .map(str::trim)
        .any(|t| t == etag || t.trim_start_matches("W/") == etag.trim_start_matches("W/"));
    if matches { Ok(()) } else { Err(Problem::PRECONDITION_FAILED) }
}
