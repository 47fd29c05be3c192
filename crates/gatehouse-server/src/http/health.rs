//! Liveness and readiness (L4).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::errors::generic;
use crate::state::AppState;

/// Liveness: the process answers.
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

/// Readiness: the database answers; otherwise 503.
pub async fn ready(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let store = state.store.clone();
    match web::block(move || store.database().ping()).await {
        Ok(Ok(())) => HttpResponse::Ok().json(serde_json::json!({ "status": "ready" })),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "readiness: database unavailable");
            generic(&req, StatusCode::SERVICE_UNAVAILABLE)
        }
        Err(e) => {
            tracing::error!(error = %e, "readiness: blocking pool failed");
            generic(&req, StatusCode::SERVICE_UNAVAILABLE)
        }
    }
}
