//! Generic errors (L1): users see a fixed text and a correlation ID; the detail goes to the log
//! only. Any error response not built here (extractor errors, actix defaults) is replaced.

use actix_web::body::{BoxBody, EitherBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpMessage, HttpRequest, HttpResponse};

/// The request's correlation ID, set by the request-context middleware.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Marks a response whose body is already a fixed public text.
#[derive(Debug, Clone, Copy)]
pub struct PublicBody;

/// The request ID of `req`, or `-` outside the middleware.
pub fn request_id(req: &HttpRequest) -> String {
    req.extensions().get::<RequestId>().map(|r| r.0.clone()).unwrap_or_else(|| "-".to_owned())
}

/// Whether the client asked for a page rather than JSON.
fn wants_html(req: &HttpRequest) -> bool {
    req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"))
}

/// Fixed machine code and human text per status; nothing from the request or the database.
fn public_text(status: StatusCode) -> (&'static str, &'static str) {
    match status.as_u16() {
        400 => ("invalid_request", "The request is malformed."),
        401 => ("unauthorized", "Authentication is required."),
        403 => ("access_denied", "Access is denied."),
        404 => ("not_found", "Nothing is here."),
        405 => ("method_not_allowed", "This method is not allowed here."),
        408 => ("request_timeout", "The request took too long."),
        413 => ("payload_too_large", "The request body is too large."),
        415 => ("unsupported_media_type", "This content type is not accepted here."),
        429 => ("too_many_requests", "Too many requests; try again later."),
        503 => ("temporarily_unavailable", "The service is temporarily unavailable."),
        s if s >= 500 => ("server_error", "Something went wrong on our side."),
        _ => ("error", "The request could not be completed."),
    }
}

/// L1: the generic error response for `status`, as JSON or, for browsers, a page.
pub fn generic(req: &HttpRequest, status: StatusCode) -> HttpResponse {
    let id = request_id(req);
    let (code, text) = public_text(status);
    let mut res = if wants_html(req) {
        HttpResponse::build(status).content_type("text/html; charset=utf-8").body(format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Error</title></head>\
             <body><h1>{text}</h1><p>If you contact support, quote this reference: <code>{id}</code></p></body></html>"
        ))
    } else {
        HttpResponse::build(status).json(serde_json::json!({
            "error": code,
            "error_description": text,
            "correlation_id": id,
        }))
    };
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res.extensions_mut().insert(PublicBody);
    res
}

/// Fallback route: 404.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    generic(&req, StatusCode::NOT_FOUND)
}

/// `ErrorHandlers` default: logs the private detail and swaps in the generic body, unless the
/// response is already a public one.
pub fn replace_error<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    if res.response().extensions().contains::<PublicBody>() {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let (req, inner) = res.into_parts();
    let status = inner.status();
    match inner.error() {
        Some(err) if status.is_server_error() => {
            tracing::error!(status = status.as_u16(), error = %err, "request failed")
        }
        Some(err) => tracing::info!(status = status.as_u16(), error = %err, "request refused"),
        None => tracing::info!(status = status.as_u16(), "request refused"),
    }
    let body: HttpResponse<BoxBody> = generic(&req, status);
    let res: ServiceResponse<EitherBody<B>> = ServiceResponse::new(req, body).map_into_right_body();
    Ok(ErrorHandlerResponse::Response(res))
}
