//! Tenants (AC1): listed and created by platform administrators; read and their policies
//! changed by their own administrators too.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use gatehouse_core::UnixTime;
use gatehouse_core::admin::authz::{Action, reaches_other_tenants};
use gatehouse_core::admin::{self, CreateTenant, PolicyChange};
use gatehouse_core::mfa::MfaPolicy;
use gatehouse_core::model::Tenant;
use gatehouse_core::store::TenantStore;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::auth::{authenticate, refuse};
use super::problem::{Problem, ProblemBody, internal};
use super::{action_name, admin_problem, admit, check_if_match, with_etag};
use crate::http::oauth::context::blocking;
use crate::state::AppState;

/// A tenant as the API shows it.
fn view(t: &Tenant, public_url: &str) -> Value {
    json!({
        "id": t.id,
        "slug": t.slug,
        "display_name": t.display_name,
        "issuer": t.issuer(public_url),
        "is_platform": t.is_platform,
        "bind_sessions": t.bind_sessions,
        "created_at": t.created_at,
        "policy": t.policy,
    })
}

/// Every tenant the caller may see: all for a platform administrator, their own otherwise.
#[utoipa::path(get, path = "/tenants", tag = "tenants",
    responses(
        (status = 200, description = "The tenants: `{\"items\": [tenant]}`", body = Object),
        (status = 401, description = "No valid token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let caller = match authenticate(&req, &state).await {
        Ok(c) => c,
        Err(p) => return p.respond(&req),
    };
    let public_url = &state.config.public_url;
    if reaches_other_tenants(&caller.operator, Action::TenantList) {
        let store = state.store.clone();
        return match blocking(move || store.list_tenants()).await {
            Ok(all) => {
                HttpResponse::Ok().json(json!({ "items": all.iter().map(|t| view(t, public_url)).collect::<Vec<_>>() }))
            }
            Err(e) => internal(&req, &e),
        };
    }
    match super::admit(&req, &state, &caller.tenant.tenant.slug.clone(), Action::TenantRead).await {
        Ok((_, own)) => HttpResponse::Ok().json(json!({ "items": [view(&own.tenant, public_url)] })),
        Err(res) => res,
    }
}

/// A new tenant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    /// Lower-case letters, digits and hyphens; it names the issuer (`/tenants/{slug}`).
    slug: String,
    display_name: Option<String>,
    /// S5: bind sessions to the user agent and address that created them.
    #[serde(default)]
    bind_sessions: bool,
}

/// Creates a tenant (platform administrators).
#[utoipa::path(post, path = "/tenants", tag = "tenants", request_body = NewTenant,
    responses(
        (status = 201, description = "The tenant", body = Object),
        (status = 400, description = "Invalid input", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted", body = ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "The slug is taken", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn create(req: HttpRequest, body: web::Json<NewTenant>, state: web::Data<AppState>) -> HttpResponse {
    let caller = match authenticate(&req, &state).await {
        Ok(c) => c,
        Err(p) => return p.respond(&req),
    };
    if !reaches_other_tenants(&caller.operator, Action::TenantCreate) {
        let name = action_name(Action::TenantCreate);
        return refuse(&req, &state, &caller, name, "tenant:new", "not permitted at this level").await.respond(&req);
    }
    let body = body.into_inner();
    let input = CreateTenant { slug: body.slug, display_name: body.display_name, bind_sessions: body.bind_sessions };
    let (store, actor) = (state.store.clone(), caller.actor());
    let created = actix_web::web::block(move || admin::create_tenant(&store, &actor, &input, UnixTime::now())).await;
    match created {
        Ok(Ok(t)) => HttpResponse::build(StatusCode::CREATED).json(view(&t, &state.config.public_url)),
        Ok(Err(e)) => admin_problem(&req, e),
        Err(e) => internal(&req, &gatehouse_types::ProtocolError::server(e)),
    }
}

/// A tenant, with its ETag.
#[utoipa::path(get, path = "/tenants/{slug}", tag = "tenants",
    params(("slug" = String, Path, description = "The tenant's slug")),
    responses(
        (status = 200, description = "The tenant (ETag header)", body = Object),
        (status = 401, description = "No valid token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such tenant", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn read(req: HttpRequest, slug: web::Path<String>, state: web::Data<AppState>) -> HttpResponse {
    match admit(&req, &state, &slug, Action::TenantRead).await {
        Ok((_, t)) => with_etag(view(
            &current(&state, &t.tenant.slug).await.unwrap_or_else(|| t.tenant.clone()),
            &state.config.public_url,
        )),
        Err(res) => res,
    }
}

/// The tenant as stored now (not as cached).
async fn current(state: &AppState, slug: &str) -> Option<Tenant> {
    let (store, s) = (state.store.clone(), slug.to_owned());
    blocking(move || store.tenant_by_slug(&s)).await.ok().flatten()
}

/// Changes to a tenant's policies; a field left out stays as it is.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyPatch {
    password_history: Option<u8>,
    password_max_age_days: Option<u32>,
    password_reset: Option<bool>,
    self_registration: Option<bool>,
    mail_from: Option<String>,
    /// `off`, `optional` or `required`.
    mfa: Option<String>,
    passwordless: Option<bool>,
    recent_auth_minutes: Option<u16>,
    /// S4: minutes without activity after which a session ends (5–1440).
    session_idle_minutes: Option<u32>,
    /// S4: hours after its sign-in after which a session ends (1–720).
    session_max_hours: Option<u32>,
    /// A4: failed sign-ins in a row that lock the account (3–20).
    lockout_threshold: Option<u8>,
    /// A4: minutes the first lockout lasts, doubling on repeat up to a day (1–1440).
    lockout_minutes: Option<u32>,
}

/// Changes a tenant's policies (A2, A4, A6, A9, AC3, S4); needs `If-Match`.
#[utoipa::path(patch, path = "/tenants/{slug}/policy", tag = "tenants", request_body = PolicyPatch,
    params(
        ("slug" = String, Path, description = "The tenant's slug"),
        ("If-Match" = String, Header, description = "The ETag of the tenant as read"),
    ),
    responses(
        (status = 200, description = "The tenant (new ETag)", body = Object),
        (status = 400, description = "Invalid input", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted", body = ProblemBody, content_type = "application/problem+json"),
        (status = 412, description = "Changed since read", body = ProblemBody, content_type = "application/problem+json"),
        (status = 428, description = "No If-Match", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn update_policy(
    req: HttpRequest,
    slug: web::Path<String>,
    body: web::Json<PolicyPatch>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (caller, t) = match admit(&req, &state, &slug, Action::TenantPolicyUpdate).await {
        Ok(ok) => ok,
        Err(res) => return res,
    };
    let Some(now) = current(&state, &t.tenant.slug).await else { return Problem::NOT_FOUND.respond(&req) };
    if let Err(p) = check_if_match(&req, &view(&now, &state.config.public_url)) {
        return p.respond(&req);
    }
    let p = body.into_inner();
    let mfa = match p.mfa.as_deref().map(MfaPolicy::parse) {
        Some(None) => return Problem::invalid("mfa must be off, optional or required".into()).respond(&req),
        other => other.flatten(),
    };
    let change = PolicyChange {
        password_history: p.password_history,
        password_max_age_days: p.password_max_age_days,
        password_reset: p.password_reset,
        self_registration: p.self_registration,
        mail_from: p.mail_from,
        mfa,
        passwordless: p.passwordless,
        recent_auth_minutes: p.recent_auth_minutes,
        session_idle_minutes: p.session_idle_minutes,
        session_max_hours: p.session_max_hours,
        lockout_threshold: p.lockout_threshold,
        lockout_minutes: p.lockout_minutes,
        expected: Some(now.policy.clone()),
    };
    let (store, actor, s) = (state.store.clone(), caller.actor(), t.tenant.slug.clone());
    match actix_web::web::block(move || admin::update_tenant_policy(&store, &actor, &s, &change)).await {
        Ok(Ok(updated)) => {
            state.caches.forget_tenant(&updated.slug);
            with_etag(view(&updated, &state.config.public_url))
        }
        // The policies changed between the If-Match check and the write: as a stale ETag.
        Ok(Err(admin::AdminError::Store(gatehouse_core::StoreError::Conflict(_)))) => {
            Problem::PRECONDITION_FAILED.respond(&req)
        }
        Ok(Err(e)) => admin_problem(&req, e),
        Err(e) => internal(&req, &gatehouse_types::ProtocolError::server(e)),
    }
}
