//! The few static files the pages use, compiled into the binary.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};

use super::errors;

const FILES: &[(&str, &str, &str)] = &[
    ("gatehouse.css", "text/css; charset=utf-8", include_str!("../../assets/gatehouse.css")),
    ("form_post.js", "text/javascript; charset=utf-8", include_str!("../../assets/form_post.js")),
    ("webauthn.js", "text/javascript; charset=utf-8", include_str!("../../assets/webauthn.js")),
    ("console.css", "text/css; charset=utf-8", gatehouse_console::CONSOLE_CSS),
];

/// `GET /assets/{name}`.
pub async fn asset(req: HttpRequest, name: web::Path<String>) -> HttpResponse {
    match FILES.iter().find(|(n, _, _)| *n == name.as_str()) {
        Some((_, ct, body)) => {
            let mut res = HttpResponse::Ok().content_type(*ct).body(*body);
            res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
            res
        }
        None => errors::generic(&req, actix_web::http::StatusCode::NOT_FOUND),
    }
}
