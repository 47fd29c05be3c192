//! Server-rendered pages (IO2, IO4): askama templates escape by default; each page carries a
//! CSP that allows only this server's own stylesheet and scripts, and no framing.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use askama::Template;

use super::errors::PublicBody;

/// The CSP of every page: own files only, forms post to this origin only.
pub const PAGE_CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; \
                            form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    pub tenant_name: &'a str,
    pub client_name: &'a str,
    pub action: String,
    pub request_id: &'a str,
    pub csrf: &'a str,
    pub login_hint: &'a str,
    pub error: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "consent.html")]
pub struct ConsentPage<'a> {
    pub tenant_name: &'a str,
    pub client_name: &'a str,
    pub username: &'a str,
    pub scopes: Vec<&'a str>,
    pub action: String,
    pub logout_action: String,
    /// Confirms the logout form's request (RP-Initiated Logout 1.0 §6).
    pub logout_confirm: &'a str,
    pub request_id: &'a str,
    pub csrf: &'a str,
}

#[derive(Template)]
#[template(path = "logout.html")]
pub struct LogoutPage<'a> {
    pub tenant_name: &'a str,
    pub action: String,
    pub confirm: &'a str,
    /// The request's parameters, carried to the confirmed request.
    pub fields: Vec<(&'static str, &'a str)>,
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage<'a> {
    pub title: &'static str,
    pub text: &'static str,
    pub reference: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "form_post.html")]
pub struct FormPostPage<'a> {
    pub action: &'a str,
    pub fields: Vec<(&'static str, &'a str)>,
}

/// Renders `page` with `status` and `csp`; a render failure is a generic 500.
pub fn render(page: &impl Template, status: StatusCode, csp: &str) -> HttpResponse {
    let body = match page.render() {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            return HttpResponse::InternalServerError().finish();
        }
    };
    let mut res = HttpResponse::build(status).content_type("text/html; charset=utf-8").body(body);
    if let Ok(v) = HeaderValue::from_str(csp) {
        res.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res.extensions_mut().insert(PublicBody);
    res
}

/// A page with a fixed title and text.
pub fn message(status: StatusCode, title: &'static str, text: &'static str, reference: Option<&str>) -> HttpResponse {
    render(&MessagePage { title, text, reference }, status, PAGE_CSP)
}
