//! A tenant's upstream OpenID Connect providers (O8): listed, added (the client secret is
//! sealed, never shown again), read, changed under `If-Match`, removed.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use gatehouse_core::UnixTime;
use gatehouse_core::admin::authz::Action;
use gatehouse_core::admin::{self, UpstreamInput};
use gatehouse_core::federation::Upstream;
use gatehouse_types::Secret;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::problem::ProblemBody;
use super::{admit, check_if_match, run, with_etag};
use crate::state::AppState;

/// An upstream as the API shows it: never its secret.
pub fn view(u: &Upstream) -> Value {
    let mut v = u.summary();
    v["created_at"] = json!(u.created_at);
    // A fingerprint of the sealed secret (random ciphertext, says nothing of the secret), so
    // the ETag changes when the secret is replaced.
    v["secret_version"] = json!(u.sealed_secret.as_ref().map(|s| {
        let hash = gatehouse_core::flow::secret_hash(&base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            s,
        ));
        hash[..6].iter().map(|b| format!("{b:02x}")).collect::<String>()
    }));
    v
}

/// The tenant's upstreams, by name.
#[utoipa::path(get, path = "/tenants/{slug}/upstreams", tag = "upstreams",
    params(("slug" = String, Path, description = "The tenant's slug")),
    responses(
        (status = 200, description = "`{\"items\": [upstream]}`", body = Object),
        (status = 401, description = "No valid token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn list(req: HttpRequest, slug: web::Path<String>, state: web::Data<AppState>) -> HttpResponse {
    let (_, t) = match admit(&req, &state, &slug, Action::UpstreamList).await {
        Ok(ok) => ok,
        Err(res) => return res,
    };
    let (store, s) = (state.store.clone(), t.tenant.slug.clone());
    match run(&req, move || admin::list_upstreams(&store, &s)).await {
        Ok(all) => HttpResponse::Ok().json(json!({ "items": all.iter().map(view).collect::<Vec<_>>() })),
        Err(res) => res,
    }
}

/// An upstream's settings; on a change, absent fields stay.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpstreamBody {
    /// Lower-case letters, digits and hyphens (creation only; it names the upstream in URLs).
    name: Option<String>,
    /// The button's text: "Continue with …".
    display_name: Option<String>,
    /// The upstream's issuer (https; its discovery document is under it).
    issuer: Option<String>,
    client_id: Option<String>,
    /// Sealed at rest, never shown again.
    #[schema(value_type = Option<String>, format = Password)]
    client_secret: Option<Secret<String>>,
    /// Space-separated; must include `openid`.
    scope: Option<String>,
    /// `never`, `after-local-sign-in` or `verified-email`.
    link: Option<String>,
    /// The upstream verifies e-mail addresses (needed for `verified-email`).
    trusted_email: Option<bool>,
    /// Create a local account for an unknown identity at its first sign-in.
    jit: Option<bool>,
    /// Count the upstream's multi-factor sign-ins (by its `amr`/`acr`) as multi-factor here.
    trust_mfa: Option<bool>,
    /// `claim=value:role` rules, evaluated at every sign-in; when given, they replace the rules.
    role_rules: Option<Vec<String>>,
    /// End the upstream's session too when a session that began there ends (RP-initiated logout).
    end_session: Option<bool>,
    /// The account's display name and verified address follow the upstream's at every sign-in.
    sync_profile: Option<bool>,
    /// `client-secret` (default) or `private-key-jwt` (the tenant's key; the upstream reads
    /// `{issuer}/jwks`).
    auth: Option<String>,
    /// Domains whose addresses (`login_hint`) go straight to this upstream; when given, they
    /// replace the upstream's.
    domains: Option<Vec<String>>,
}

impl UpstreamBody {
    fn input(self) -> (Option<String>, UpstreamInput) {
        let input = UpstreamInput {
            display_name: self.display_name,
            issuer: self.issuer,
            client_id: self.client_id,
            client_secret: self.client_secret,
            scope: self.scope,
            link: self.link,
            trusted_email: self.trusted_email,
            jit: self.jit,
            trust_mfa: self.trust_mfa,
            role_rules: self.role_rules,
            end_session: self.end_session,
            sync_profile: self.sync_profile,
            auth: self.auth,
            domains: self.domains,
        };
        (self.name, input)
    }
}

/// Adds an upstream (the issuer, client id, client secret and name are required).
#[utoipa::path(post, path = "/tenants/{slug}/upstreams", tag = "upstreams", request_body = UpstreamBody,
    params(("slug" = String, Path, description = "The tenant's slug")),
    responses(
        (status = 201, description = "The upstream", body = Object),
        (status = 400, description = "Invalid input", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted", body = ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "Name taken", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn create(
    req: HttpRequest,
    slug: web::Path<String>,
    body: web::Json<UpstreamBody>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (caller, t) = match admit(&req, &state, &slug, Action::UpstreamCreate).await {
        Ok(ok) => ok,
        Err(res) => return res,
    };
    let (name, input) = body.into_inner().input();
    let (store, actor, s) = (state.store.clone(), caller.actor(), t.tenant.slug.clone());
    let name = name.unwrap_or_default();
    match run(&req, move || admin::add_upstream(&store, store.vault(), &actor, &s, &name, &input, UnixTime::now()))
        .await
    {
        Ok(u) => HttpResponse::build(StatusCode::CREATED).json(view(&u)),
        Err(res) => res,
    }
}

/// The upstream `name` of the opened tenant.
async fn find(req: &HttpRequest, state: &AppState, tenant_id: &str, name: &str) -> Result<Upstream, HttpResponse> {
    let (store, t, n) = (state.store.clone(), tenant_id.to_owned(), name.to_owned());
    run(req, move || admin::require_upstream(&store, &t, &n)).await
}

/// An upstream, with its ETag.
#[utoipa::path(get, path = "/tenants/{slug}/upstreams/{name}", tag = "upstreams",
    params(("slug" = String, Path, description = "The tenant's slug"), ("name" = String, Path, description = "The upstream's name")),
    responses(
        (status = 200, description = "The upstream (ETag header)", body = Object),
        (status = 401, description = "No valid token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such upstream", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn read(req: HttpRequest, path: web::Path<(String, String)>, state: web::Data<AppState>) -> HttpResponse {
    let (slug, name) = path.into_inner();
    let (_, t) = match admit(&req, &state, &slug, Action::UpstreamList).await {
        Ok(ok) => ok,
        Err(res) => return res,
    };
    match find(&req, &state, &t.tenant.id, &name).await {
        Ok(u) => with_etag(view(&u)),
        Err(res) => res,
    }
}

/// Changes an upstream (absent fields stay; a new secret replaces the old); needs `If-Match`.
#[utoipa::path(patch, path = "/tenants/{slug}/upstreams/{name}", tag = "upstreams", request_body = UpstreamBody,
    params(
        ("slug" = String, Path, description = "The tenant's slug"),
        ("name" = String, Path, description = "The upstream's name"),
        ("If-Match" = String, Header, description = "The ETag of the upstream as read"),
    ),
    responses(
        (status = 200, description = "The upstream (ETag header)", body = Object),
        (status = 400, description = "Invalid input", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such upstream", body = ProblemBody, content_type = "application/problem+json"),
        (status = 412, description = "Changed since read", body = ProblemBody, content_type = "application/problem+json"),
        (status = 428, description = "No If-Match", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn update(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Json<UpstreamBody>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (slug, name) = path.into_inner();
    let (caller, t) = match admit(&req, &state, &slug, Action::UpstreamUpdate).await {
        Ok(ok) => ok,
        Err(res) => return res,
    };
    let before = match find(&req, &state, &t.tenant.id, &name).await {
        Ok(u) => u,
        Err(res) => return res,
    };
    if let Err(p) = check_if_match(&req, &view(&before)) {
        return p.respond(&req);
    }
    let (renamed, input) = body.into_inner().input();
    if renamed.is_some_and(|n| n != before.name) {
        return super::problem::Problem::invalid("an upstream's name cannot change".into()).respond(&req);
    }
    let (store, actor) = (state.store.clone(), caller.actor());
    match run(&req, move || admin::update_upstream(&store, store.vault(), &actor, &before, &input)).await {
        Ok(u) => with_etag(view(&u)),
        Err(res) => res,
    }
}

/// Removes an upstream; needs `If-Match`.
#[utoipa::path(delete, path = "/tenants/{slug}/upstreams/{name}", tag = "upstreams",
    params(
        ("slug" = String, Path, description = "The tenant's slug"),
        ("name" = String, Path, description = "The upstream's name"),
        ("If-Match" = String, Header, description = "The ETag of the upstream as read"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "No valid token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such upstream", body = ProblemBody, content_type = "application/problem+json"),
        (status = 412, description = "Changed since read", body = ProblemBody, content_type = "application/problem+json"),
        (status = 428, description = "No If-Match", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn delete(req: HttpRequest, path: web::Path<(String, String)>, state: web::Data<AppState>) -> HttpResponse {
    let (slug, name) = path.into_inner();
    let (caller, t) = match admit(&req, &state, &slug, Action::UpstreamDelete).await {
        Ok(ok) => ok,
        Err(res) => return res,
    };
    let before = match find(&req, &state, &t.tenant.id, &name).await {
        Ok(u) => u,
        Err(res) => return res,
    };
    if let Err(p) = check_if_match(&req, &view(&before)) {
        return p.respond(&req);
    }
    let (store, actor) = (state.store.clone(), caller.actor());
    match run(&req, move || admin::remove_upstream(&store, &actor, &before)).await {
        Ok(()) => HttpResponse::NoContent().finish(),
        Err(res) => res,
    }
}
