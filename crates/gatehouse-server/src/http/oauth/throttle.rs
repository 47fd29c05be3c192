//! A4: requests over a per-client-IP limit, and the audit record of the first refusal of each
//! address and minute (AC6 without letting a flood fill the audit log).

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderValue, RETRY_AFTER};
use actix_web::{HttpRequest, HttpResponse};
use gatehouse_core::audit::{AuditEvent, Outcome};
use gatehouse_types::ProtocolError;

use super::context::TenantEntry;
use crate::http::client_ip::client_ip;
use crate::metrics::{Event, Limited};
use crate::rate_limit::{IpLimit, retry_after_secs};
use crate::state::AppState;

/// How long the request's client must wait, or `None` when it is within `limit`.
pub async fn over_limit(
    req: &HttpRequest,
    state: &AppState,
    tenant: &TenantEntry,
    limit: Option<&IpLimit>,
    endpoint: Limited,
) -> Result<Option<Duration>, ProtocolError> {
    // Every TCP request has a peer; only a request without one (none reach here) goes unkeyed.
    let (Some(limit), Some(ip)) = (limit, client_ip(req)) else { return Ok(None) };
    let Err(wait) = limit.check(ip) else { return Ok(None) };
    state.metrics.count(Event::RateLimited(endpoint));
    if limit.audit_refusal(ip) {
        tracing::warn!(endpoint = endpoint.name(), client_ip = %ip, "rate limit reached");
        let details = serde_json::json!({ "endpoint": endpoint.name(), "client_ip": ip.to_string() });
        state.signal(crate::alerts::Signal::RateLimited, &tenant.tenant.id, details);
        let mut event = AuditEvent::new("anonymous", "rate_limit")
            .tenant(&tenant.tenant.id)
            .target(format!("endpoint:{}", endpoint.name()));
        event.outcome = Outcome::Denied;
        event.source_ip = Some(ip.to_string());
        state.audit(event).await?;
    }
    Ok(Some(wait))
}

/// `429 Too Many Requests` with `Retry-After` (RFC 6585 §4) on `res`.
pub fn too_many(mut res: HttpResponse, wait: Duration) -> HttpResponse {
    *res.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    if let Ok(v) = HeaderValue::from_str(&retry_after_secs(wait).to_string()) {
        res.headers_mut().insert(RETRY_AFTER, v);
    }
    res
}
