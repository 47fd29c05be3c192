//! T2: the plain-HTTP listener serves nothing; every request gets 308 to the same path and
//! query under the public HTTPS URL. The target host is the configured one, never the
//! request's `Host` header, so the redirector cannot be used as an open redirect.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

/// The public base URL the redirector points to.
#[derive(Debug, Clone)]
pub struct RedirectBase(pub String);

/// Answers any request with `308 Permanent Redirect`.
pub async fn to_https(req: HttpRequest, base: web::Data<RedirectBase>) -> HttpResponse {
    let path = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let path = if path.starts_with('/') { path } else { "/" };
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, format!("{}{}", base.0, path)))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}
