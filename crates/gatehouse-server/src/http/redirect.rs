//! T2: the plain-HTTP listener answers every request with 308 to the same path and query under
//! the public HTTPS URL. The target host is the configured one, never the request's `Host`
//! header, so the redirector cannot be used as an open redirect. T5: a request from a proxy
//! the operator trusts, which received it over HTTPS (`X-Forwarded-Proto: https`), is served.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{Error, HttpRequest, HttpResponse, web};

use crate::state::AppState;

/// The public base URL the redirector points to.
#[derive(Debug, Clone)]
pub struct RedirectBase(pub String);

/// `308 Permanent Redirect` to the same path and query under `base`.
fn redirect(req: &HttpRequest, base: &str) -> HttpResponse {
    let path = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let path = if path.starts_with('/') { path } else { "/" };
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, format!("{base}{path}")))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// T5: whether a plain-HTTP request comes from a trusted proxy that received it over HTTPS.
fn from_trusted_proxy(req: &ServiceRequest) -> bool {
    let (Some(peer), Some(state)) = (req.peer_addr(), req.app_data::<web::Data<AppState>>()) else { return false };
    let trusted = state.config.trusted_proxies.iter().any(|net| net.contains(&peer.ip()));
    let mut proto = req.headers().get_all("x-forwarded-proto");
    let https = matches!((proto.next(), proto.next()), (Some(v), None) if v.as_bytes().eq_ignore_ascii_case(b"https"));
    trusted && https
}

/// Outermost middleware: requests on the HTTPS listener, and proxied ones (T5), go on; every
/// other plain-HTTP request is redirected (T2).
pub async fn plain_http(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    if req.app_config().secure() || from_trusted_proxy(&req) {
        return next.call(req).await.map(ServiceResponse::map_into_left_body);
    }
    let base = req.app_data::<web::Data<RedirectBase>>().map(|b| b.0.clone()).unwrap_or_default();
    let (http_req, _) = req.into_parts();
    let res = redirect(&http_req, &base);
    Ok(ServiceResponse::new(http_req, res).map_into_right_body())
}
