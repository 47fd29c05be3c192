//! A tenant's token signing keys (O4): listed (public parts only) and rotated. The previous
//! key stays published for the overlap window, so tokens it signed keep verifying.

use actix_web::{HttpRequest, HttpResponse, web};
use gatehouse_core::UnixTime;
use gatehouse_core::admin::AdminError;
use gatehouse_core::admin::authz::Action;
use gatehouse_core::jose::SigningAlg;
use gatehouse_core::keys::{self, DEFAULT_OVERLAP_SECS};
use gatehouse_core::store::SigningKeyStore;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::problem::{ProblemBody, internal};
use super::{admit, run};
use crate::http::oauth::context::blocking;
use crate::state::AppState;

/// The longest overlap window: 30 days.
const MAX_OVERLAP_SECS: i64 = 30 * 86_400;

/// The tenant's published keys: current ones (`retire_at` null) and those in their overlap.
#[utoipa::path(get, path = "/tenants/{slug}/keys", tag = "keys",
    params(("slug" = String, Path, description = "The tenant's slug")),
    responses(
        (status = 200, description = "`{\"items\": [{\"kid\", \"alg\", \"created_at\", \"retire_at\", \"public_jwk\"}]}`", body = Object),
        (status = 401, description = "No valid token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn list(req: HttpRequest, slug: web::Path<String>, state: web::Data<AppState>) -> HttpResponse {
    let (_, t) = match admit(&req, &state, &slug, Action::KeyList).await {
        Ok(ok) => ok,
        Err(res) => return res,
    };
    let (store, tid) = (state.store.clone(), t.tenant.id.clone());
    match blocking(move || store.published_keys(&tid, UnixTime::now().0)).await {
        Ok(all) => {
            let items: Vec<_> = all
                .iter()
                .map(|k| {
                    let jwk: Value = serde_json::from_str(&k.public_jwk).unwrap_or(Value::Null);
                    json!({ "kid": k.kid, "alg": k.alg, "created_at": k.created_at, "retire_at": k.retire_at, "public_jwk": jwk })
                })
                .collect();
            HttpResponse::Ok().json(json!({ "items": items }))
        }
        Err(e) => internal(&req, &e),
    }
}

/// How to rotate.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rotation {
    /// `ES256` (default), `EdDSA` or `RS256`.
    alg: Option<String>,
    /// Seconds the previous key stays published (0–2592000, default one day).
    overlap_secs: Option<i64>,
}

/// A new current key of `alg`; the previous one is published for the overlap.
#[utoipa::path(post, path = "/tenants/{slug}/keys/rotate", tag = "keys", request_body = Rotation,
    params(("slug" = String, Path, description = "The tenant's slug")),
    responses(
        (status = 200, description = "`{\"kid\", \"alg\", \"overlap_secs\"}`", body = Object),
        (status = 400, description = "Invalid input", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn rotate(
    req: HttpRequest,
    slug: web::Path<String>,
    body: web::Json<Rotation>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (caller, t) = match admit(&req, &state, &slug, Action::KeyRotate).await {
        Ok(ok) => ok,
        Err(res) => return res,
    };
    let body = body.into_inner();
    let (store, tid, actor) = (state.store.clone(), t.tenant.id.clone(), caller.actor());
    let rotated = run(&req, move || {
        let alg = match body.alg.as_deref() {
            Some(a) => {
                SigningAlg::parse(a).map_err(|_| AdminError::Invalid("alg must be ES256, RS256 or EdDSA".into()))?
            }
            None => SigningAlg::Es256,
        };
        let overlap = body.overlap_secs.unwrap_or(DEFAULT_OVERLAP_SECS);
        if !(0..=MAX_OVERLAP_SECS).contains(&overlap) {
            return Err(AdminError::Invalid("overlap_secs must be between 0 and 2592000".into()));
        }
        let kid = keys::rotate(&store, store.vault(), &tid, alg, overlap, &actor, UnixTime::now())
            .map_err(|e| AdminError::Internal(e.to_string()))?;
        Ok(json!({ "kid": kid, "alg": alg.as_str(), "overlap_secs": overlap }))
    })
    .await;
    match rotated {
        Ok(done) => {
            state.caches.forget_keys(&t.tenant.id);
            HttpResponse::Ok().json(done)
        }
        Err(res) => res,
    }
}
