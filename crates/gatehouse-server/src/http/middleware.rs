//! Middleware of the HTTPS server, outermost first: request context (request ID, span, access
//! log), security headers, generic errors, panic catcher, body limit.

use std::panic::AssertUnwindSafe;
use std::time::Instant;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::{DefaultHeaders, Next};
use actix_web::{Error, HttpMessage, web};
use futures_util::FutureExt;
use tracing::Instrument;

use super::errors::{RequestId, generic};

/// Limits the middleware reads from app data.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// L2: a fresh request ID per request, a span carrying it around the handler, the ID echoed in
/// `X-Request-Id`, and one access-log line. The query string is not logged: it carries codes.
pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    // 128 random bits from the user-space DRBG: no system call per request.
    let id = format!("{:032x}", u128::from_be_bytes(gatehouse_core::crypto::random_bytes::<16>()));
    req.extensions_mut().insert(RequestId(id.clone()));
    // T5: the forwarded client address only from a trusted proxy.
    let client_ip = match (req.peer_addr(), req.app_data::<web::Data<crate::state::AppState>>()) {
        (Some(peer), Some(state)) => {
            super::client_ip::resolve(peer.ip(), req.headers(), &state.config.trusted_proxies).to_string()
        }
        (Some(peer), None) => peer.ip().to_string(),
        (None, _) => String::new(),
    };
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.path(), client_ip = %client_ip);
    let started = Instant::now();
    let metrics = req.app_data::<web::Data<crate::state::AppState>>().map(|s| s.metrics.clone());
    let mut res = next.call(req).instrument(span.clone()).await?;
    if let Some(m) = metrics {
        m.response(res.status().as_u16());
    }
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(HeaderName::from_static("x-request-id"), v);
    }
    span.in_scope(|| {
        tracing::info!(status = res.status().as_u16(), elapsed_us = started.elapsed().as_micros() as u64, "response")
    });
    Ok(res)
}

/// T3, IO4: HSTS on every response; a CSP that allows nothing (pages that need more set their
/// own, which this does not overwrite), no framing, no sniffing, no referrer.
pub fn security_headers(hsts_max_age: u64) -> DefaultHeaders {
    DefaultHeaders::new()
        .add((header::STRICT_TRANSPORT_SECURITY, format!("max-age={hsts_max_age}; includeSubDomains")))
        .add((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "no-referrer"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((HeaderName::from_static("cross-origin-opener-policy"), "same-origin"))
}

/// L1: a panicking handler is answered with a generic 500 and logged; the worker lives on.
/// The router needs sole ownership of the request, so no clone is kept across the call: the
/// 500 is built on a fresh request that carries only the request ID and `Accept`.
pub async fn catch_panic(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let id = req.extensions().get::<RequestId>().cloned();
    let accept = req.headers().get(header::ACCEPT).cloned();
    match AssertUnwindSafe(next.call(req)).catch_unwind().await {
        Ok(res) => res.map(ServiceResponse::map_into_left_body),
        Err(_) => {
            tracing::error!("handler panicked; answered 500");
            let mut fresh = actix_web::test::TestRequest::default();
            if let Some(accept) = accept {
                fresh = fresh.insert_header((header::ACCEPT, accept));
            }
            let http_req = fresh.to_http_request();
            if let Some(id) = id {
                http_req.extensions_mut().insert(id);
            }
            let body = generic(&http_req, StatusCode::INTERNAL_SERVER_ERROR);
            Ok(ServiceResponse::new(http_req, body).map_into_right_body())
        }
    }
}

/// IO1: a declared body over the limit is refused with 413 before any handler reads it;
/// extractors enforce the same limit on bodies without a length.
pub async fn body_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let limit = req.app_data::<web::Data<BodyLimit>>().map(|l| l.0).unwrap_or(64 * 1024);
    let declared =
        req.headers().get(header::CONTENT_LENGTH).map(|v| v.to_str().ok().and_then(|s| s.parse::<u64>().ok()));
    let refuse = match declared {
        Some(None) => Some(StatusCode::BAD_REQUEST),
        Some(Some(n)) if n > limit as u64 => Some(StatusCode::PAYLOAD_TOO_LARGE),
        _ => None,
    };
    match refuse {
        Some(status) => {
            let (http_req, _) = req.into_parts();
            let body = generic(&http_req, status);
            Ok(ServiceResponse::new(http_req, body).map_into_right_body())
        }
        None => next.call(req).await.map(ServiceResponse::map_into_left_body),
    }
}

/// IO3, IO4: Chromium holds every redirect that follows a form submission to the submitting
/// page's CSP `form-action`, which lists this origin and the client's. A client whose redirect
/// URI answers with a redirect to yet another origin (a broker with Gatehouse as its
/// upstream, an application whose callback lives on another host) would be blocked after
/// the login, consent, step or logout form. So a browser's form navigation (a POST with
/// `Sec-Fetch-Mode: navigate`) answered with a 303 to another origin gets a page that
/// navigates on instead, which ends the chain; other clients keep the 303.
pub async fn end_form_redirect_chains(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    // Only a header lookup on other requests (the token endpoint is a hot path).
    let form_navigation = req.method() == actix_web::http::Method::POST
        && req.headers().get("sec-fetch-mode").is_some_and(|v| v.as_bytes() == b"navigate");
    let res = next.call(req).await?;
    if !form_navigation || res.status() != StatusCode::SEE_OTHER {
        return Ok(res.map_into_left_body());
    }
    let own = res
        .request()
        .app_data::<web::Data<crate::state::AppState>>()
        .and_then(|s| url::Url::parse(&s.config.public_url).ok())
        .map(|u| u.origin());
    let target = res
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|l| url::Url::parse(l).ok())
        .map(|u| u.origin());
    // A relative Location is this origin; only another origin ends the chain.
    if target.is_none() || target == own {
        return Ok(res.map_into_left_body());
    }
    let (http_req, answer) = res.into_parts();
    match crate::http::pages::navigate_instead(&answer) {
        Some(page) => Ok(ServiceResponse::new(http_req, page).map_into_right_body()),
        None => Ok(ServiceResponse::new(http_req, answer).map_into_left_body()),
    }
}
