//! CORS on the token, userinfo and revocation endpoints (O7): a browser origin is allowed only
//! if the client the request is for registered it. Preflights, which carry no client, are
//! answered for origins some client of the tenant registered; the real response then carries
//! `Access-Control-Allow-Origin` only for the calling client's own origins.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use gatehouse_core::store::ClientStore;

use super::context::TenantScope;
use super::context::blocking;
use super::error;
use crate::state::AppState;

/// The request's `Origin`, if any.
fn origin(req: &HttpRequest) -> Option<&str> {
    req.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok())
}

/// Adds the CORS response headers when the request's origin is one of `allowed`.
pub fn allow(res: &mut HttpResponse, req: &HttpRequest, allowed: &[String]) {
    res.headers_mut().insert(header::VARY, HeaderValue::from_static("Origin"));
    let Some(o) = origin(req) else { return };
    if !allowed.iter().any(|a| a == o) {
        return;
    }
    if let Ok(v) = HeaderValue::from_str(o) {
        res.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
    }
    res.headers_mut().insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static("WWW-Authenticate"));
}

/// `OPTIONS` on the CORS-enabled endpoints.
pub async fn preflight(req: HttpRequest, tenant: TenantScope, state: web::Data<AppState>) -> HttpResponse {
    let (store, t) = (state.store.clone(), tenant.tenant.id.clone());
    let origins = match blocking(move || store.tenant_web_origins(&t)).await {
        Ok(o) => o,
        Err(e) => return error::response(&e),
    };
    let mut res = HttpResponse::NoContent().finish();
    allow(&mut res, &req, &origins);
    if res.headers().contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN) {
        let h = res.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST"));
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("authorization, content-type"));
        h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    }
    res
}
