//! Liveness, readiness and metrics (L4).

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use subtle::ConstantTimeEq;

use super::errors::generic;
use crate::state::AppState;

/// Liveness: the process answers.
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

/// How long readiness waits for the write probe (orchestrators time probes out at 1–3 s).
const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// L4 readiness: the audit writer thread commits a write transaction in time, which needs a
/// database that takes writes (every token's audit record does); otherwise 503.
pub async fn ready(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    match tokio::time::timeout(PROBE_TIMEOUT, state.audit_writer.probe()).await {
        Ok(Ok(())) => HttpResponse::Ok().json(serde_json::json!({ "status": "ready" })),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "readiness: the database refused a write");
            generic(&req, StatusCode::SERVICE_UNAVAILABLE)
        }
        Err(_) => {
            tracing::error!("readiness: no write committed within the probe timeout");
            generic(&req, StatusCode::SERVICE_UNAVAILABLE)
        }
    }
}

/// L4: `GET /metrics` for a scraper that presents the configured bearer token; without a
/// configured token the endpoint does not exist (404), and a wrong token is a 401.
pub async fn metrics(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let Some(expected) = &state.config.metrics_token else { return generic(&req, StatusCode::NOT_FOUND) };
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !bool::from(presented.as_bytes().ct_eq(expected.expose().as_bytes())) {
        let mut res = generic(&req, StatusCode::UNAUTHORIZED);
        res.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"gatehouse-metrics\""));
        return res;
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(state.metrics.render())
}
