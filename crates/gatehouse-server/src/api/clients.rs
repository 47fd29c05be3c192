//! OAuth clients of a tenant (O2, O3, O4, O7, AC5): listed, registered, read, changed under
//! `If-Match`, their secret rotated (shown once), deleted. A service client's roles are an
//! account's level (AC4): an operator registers or touches only clients below their own.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use gatehouse_core::UnixTime;
use gatehouse_core::admin::authz::Action;
use gatehouse_core::admin::{self, CreateClient, settings_of};
use gatehouse_core::model::Client;
use gatehouse_core::store::AdminStore;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::auth::Caller;
use super::problem::{Problem, ProblemBody, internal};
use super::{admit, below_caller, check_if_match, run, with_etag};
use crate::http::oauth::context::{TenantEntry, blocking};
use crate::state::AppState;

/// A client as the API shows it: its settings, never its secret (O3).
pub fn view(c: &Client) -> Value {
    let mut v = settings_of(c);
    v["client_id"] = json!(c.client_id);
    v["created_at"] = json!(c.created_at);
    v["has_secret"] = json!(c.secret_hash.is_some());
    v
}

/// AC4: a service client's roles are a level; the operator must be above it. Refusals audited.
async fn check_level(
    req: &HttpRequest,
    state: &AppState,
    caller: &Caller,
    t: &TenantEntry,
    roles: &[String],
    action: Action,
    target: &str,
) -> Result<(), HttpResponse> {
    below_caller(req, state, caller, t, roles, action, target).await.map(drop).map_err(|p| p.respond(req))
}

/// The tenant's clients, by name.
#[utoipa::path(get, path = "/tenants/{slug}/clients", tag = "clients",
    params(("slug" = String, Path, description = "The tenant's slug")),
    responses(
        (status = 200, description = "`{\"items\": [client]}`", body = Object),
        (status = 401, description = "No valid token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn list(req: HttpRequest, slug: web::Path<String>, state: web::Data<AppState>) -> HttpResponse {
    let (_, t) = match admit(&req, &state, &slug, Action::ClientList).await {
        Ok(ok) => ok,
        Err(res) => return res,
    };
    let (store, tid) = (state.store.clone(), t.tenant.id.clone());
    match blocking(move || store.list_clients(&tid)).await {
        Ok(all) => HttpResponse::Ok().json(json!({ "items": all.iter().map(view).collect::<Vec<_>>() })),
        Err(e) => internal(&req, &e),
    }
}

/// A client's settings. On creation, absent fields take their defaults; on change, absent
/// fields keep their value.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientSettings {
    /// 1–100 letters, digits, spaces, `.`, `_`, `-`; unique in the tenant.
    name: Option<String>,
    /// `public` (a browser or mobile app: no secret, PKCE) or `confidential` (a server that
    /// keeps a secret). Fixed once registered.
    #[serde(rename = "type")]
    client_type: Option<String>,
    /// Exact redirect URIs (https, or http on loopback).
    redirect_uris: Option<Vec<String>>,
    post_logout_redirect_uris: Option<Vec<String>>,
    /// `authorization_code`, `refresh_token`, `client_credentials`.
    grant_types: Option<Vec<String>>,
    /// Space-separated scopes the client may ask for.
    scope: Option<String>,
    /// A first-party client is not asked for consent.
    first_party: Option<bool>,
    /// Audiences of its access tokens.
    audiences: Option<Vec<String>>,
    /// Seconds (60–86400, default 300).
    access_token_ttl: Option<i64>,
    /// Seconds (300–31536000, default 2592000).
    refresh_token_ttl: Option<i64>,
    /// `ES256` (default), `EdDSA` or `RS256`.
    signing_alg: Option<String>,
    /// Origins allowed to call the token endpoint from a browser (CORS).
    web_origins: Option<Vec<String>>,
    /// OIDC Back-Channel Logout URI.
    backchannel_logout_uri: Option<String>,
    /// A JWK Set (as JSON text) for `private_key_jwt`.
    jwks: Option<String>,
    /// Roles of a service client (confidential, client credentials only).
    roles: Option<Vec<String>>,
}

impl ClientSettings {
    /// These settings over `base`.
    fn over(self, mut base: CreateClient) -> CreateClient {
        macro_rules! set {
            ($($field:ident),*) => { $(if let Some(v) = self.$field { base.$field = v; })* };
        }
        set!(name, client_type, redirect_uris, post_logout_redirect_uris, grant_types, scope, first_party);
        set!(audiences, web_origins, roles);
        if self.access_token_ttl.is_some() {
            base.access_token_ttl = self.access_token_ttl;
        }
        if self.refresh_token_ttl.is_some() {
            base.refresh_token_ttl = self.refresh_token_ttl;
        }
        if self.signing_alg.is_some() {
            base.signing_alg = self.signing_alg;
        }
        if self.backchannel_logout_uri.is_some() {
            base.backchannel_logout_uri = self.backchannel_logout_uri.filter(|u| !u.is_empty());
        }
        if self.jwks.is_some() {
            base.jwks = self.jwks.filter(|j| !j.is_empty());
        }
        base
    }
}

/// Registers a client; a confidential client's secret is in the answer, once.
#[utoipa::path(post, path = "/tenants/{slug}/clients", tag = "clients", request_body = ClientSettings,
    params(("slug" = String, Path, description = "The tenant's slug")),
    responses(
        (status = 201, description = "`{\"client\": client, \"client_secret\": string or null}`", body = Object),
        (status = 400, description = "Invalid input", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted", body = ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "Name taken", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn create(
    req: HttpRequest,
    slug: web::Path<String>,
    body: web::Json<ClientSettings>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (caller, t) = match admit(&req, &state, &slug, Action::ClientCreate).await {
        Ok(ok) => ok,
        Err(res) => return res,
    };
    let input = body.into_inner().over(CreateClient { tenant: t.tenant.slug.clone(), ..Default::default() });
    let target = format!("tenant:{}", t.tenant.id);
    if let Err(res) = check_level(&req, &state, &caller, &t, &input.roles, Action::ClientCreate, &target).await {
        return res;
    }
    let (store, actor) = (state.store.clone(), caller.actor());
    match run(&req, move || admin::create_client(&store, store.vault(), &actor, &input, UnixTime::now())).await {
        Ok(created) => HttpResponse::build(StatusCode::CREATED).json(json!({
            "client": view(&created.client),
            "client_secret": created.client_secret.as_ref().map(|s| s.expose().clone()),
        })),
        Err(res) => res,
    }
}

/// The client `id` of the tenant, if the caller may act on it with `action`.
async fn target(
    req: &HttpRequest,
    state: &AppState,
    slug: &str,
    id: &str,
    action: Action,
) -> Result<(Caller, std::sync::Arc<TenantEntry>, Client), HttpResponse> {
    let (caller, t) = admit(req, state, slug, action).await?;
    let client = client_target_as(req, state, &caller, &t, id, action).await.map_err(|p| p.respond(req))?;
    Ok((caller, t, client))
}

/// AC4: the client `id` of `t`, if `caller` may act on it with `action`: a service client's
/// roles must be below the caller's level (the refusal audited). The API and the console
/// both find clients here.
pub async fn client_target_as(
    req: &HttpRequest,
    state: &AppState,
    caller: &Caller,
    t: &TenantEntry,
    id: &str,
    action: Action,
) -> Result<Client, Problem> {
    let (store, tid, cid) = (state.store.clone(), t.tenant.id.clone(), id.to_owned());
    let client = super::run_as(move || admin::require_client(&store, &tid, &cid)).await?;
    let name = format!("client:{}", client.client_id);
    below_caller(req, state, caller, t, &client.roles, action, &name).await?;
    Ok(client)
}

/// A client, with its ETag.
#[utoipa::path(get, path = "/tenants/{slug}/clients/{client_id}", tag = "clients",
    params(("slug" = String, Path, description = "The tenant's slug"), ("client_id" = String, Path, description = "The client id")),
    responses(
        (status = 200, description = "The client (ETag header)", body = Object),
        (status = 401, description = "No valid token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such client", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn read(req: HttpRequest, path: web::Path<(String, String)>, state: web::Data<AppState>) -> HttpResponse {
    let (slug, id) = path.into_inner();
    match target(&req, &state, &slug, &id, Action::ClientRead).await {
        Ok((_, _, client)) => with_etag(view(&client)),
        Err(res) => res,
    }
}

/// Changes a client's settings (absent fields keep their value); needs `If-Match`.
#[utoipa::path(patch, path = "/tenants/{slug}/clients/{client_id}", tag = "clients", request_body = ClientSettings,
    params(
        ("slug" = String, Path, description = "The tenant's slug"),
        ("client_id" = String, Path, description = "The client id"),
        ("If-Match" = String, Header, description = "The ETag of the client as read"),
    ),
    responses(
        (status = 200, description = "The client (ETag header)", body = Object),
        (status = 400, description = "Invalid input", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such client", body = ProblemBody, content_type = "application/problem+json"),
        (status = 412, description = "Changed since read", body = ProblemBody, content_type = "application/problem+json"),
        (status = 428, description = "No If-Match", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn update(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Json<ClientSettings>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (slug, id) = path.into_inner();
    let (caller, t, before) = match target(&req, &state, &slug, &id, Action::ClientUpdate).await {
        Ok(found) => found,
        Err(res) => return res,
    };
    if let Err(p) = check_if_match(&req, &view(&before)) {
        return p.respond(&req);
    }
    let input = body.into_inner().over(admin::input_of(&before, &t.tenant.slug));
    let name = format!("client:{}", before.client_id);
    if let Err(res) = check_level(&req, &state, &caller, &t, &input.roles, Action::ClientUpdate, &name).await {
        return res;
    }
    let (store, actor) = (state.store.clone(), caller.actor());
    match run(&req, move || admin::update_client(&store, &actor, &before, &input)).await {
        Ok(after) => {
            state.caches.forget_client(&after.tenant_id, &after.client_id);
            with_etag(view(&after))
        }
        Err(res) => res,
    }
}

/// A new secret for a confidential client, in the answer once; the old one stops working.
#[utoipa::path(post, path = "/tenants/{slug}/clients/{client_id}/secret", tag = "clients",
    params(("slug" = String, Path, description = "The tenant's slug"), ("client_id" = String, Path, description = "The client id")),
    responses(
        (status = 200, description = "`{\"client_secret\": string}`", body = Object),
        (status = 400, description = "A public client", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such client", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn rotate_secret(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (slug, id) = path.into_inner();
    let (caller, _, before) = match target(&req, &state, &slug, &id, Action::ClientRotateSecret).await {
        Ok(found) => found,
        Err(res) => return res,
    };
    let (store, actor, tid, cid) =
        (state.store.clone(), caller.actor(), before.tenant_id.clone(), before.client_id.clone());
    match run(&req, move || admin::rotate_client_secret(&store, store.vault(), &actor, &before)).await {
        Ok(secret) => {
            state.caches.forget_client(&tid, &cid);
            let mut res = HttpResponse::Ok().json(json!({ "client_secret": secret.expose() }));
            res.headers_mut().insert(
                actix_web::http::header::CACHE_CONTROL,
                actix_web::http::header::HeaderValue::from_static("no-store"),
            );
            res
        }
        Err(res) => res,
    }
}

/// Deletes a client with what it was issued; needs `If-Match`.
#[utoipa::path(delete, path = "/tenants/{slug}/clients/{client_id}", tag = "clients",
    params(
        ("slug" = String, Path, description = "The tenant's slug"),
        ("client_id" = String, Path, description = "The client id"),
        ("If-Match" = String, Header, description = "The ETag of the client as read"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such client", body = ProblemBody, content_type = "application/problem+json"),
        (status = 412, description = "Changed since read", body = ProblemBody, content_type = "application/problem+json"),
        (status = 428, description = "No If-Match", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn delete(req: HttpRequest, path: web::Path<(String, String)>, state: web::Data<AppState>) -> HttpResponse {
    let (slug, id) = path.into_inner();
    let (caller, _, client) = match target(&req, &state, &slug, &id, Action::ClientDelete).await {
        Ok(found) => found,
        Err(res) => return res,
    };
    if let Err(p) = check_if_match(&req, &view(&client)) {
        return p.respond(&req);
    }
    let (store, actor, tid, cid) =
        (state.store.clone(), caller.actor(), client.tenant_id.clone(), client.client_id.clone());
    match run(&req, move || admin::delete_client(&store, &actor, &client)).await {
        Ok(()) => {
            state.caches.forget_client(&tid, &cid);
            HttpResponse::NoContent().finish()
        }
        Err(res) => res,
    }
}
