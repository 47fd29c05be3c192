//! Server-rendered pages (IO2, IO3, IO4): askama templates escape by default; each page
//! carries a CSP that allows only this server's own stylesheet and scripts, no framing, and
//! form submissions only to this origin and the origins the page's forms are answered with a
//! redirect to; and a referrer policy under which the browser names this origin in `Origin`.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use askama::Template;

use super::errors::PublicBody;

/// The CSP of a page whose forms go to this origin only: own files only, no framing.
pub const PAGE_CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; \
                            form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// IO4: pages send `same-origin`, not `no-referrer`: under `no-referrer` a browser sends
/// `Origin: null` on every form POST (Fetch, "serializing a request origin"), which the
/// Origin check (IO3) must refuse; `same-origin` names this origin to this origin only and
/// still sends nothing to other sites.
pub const PAGE_REFERRER_POLICY: &str = "same-origin";

/// The CSP source expression for where a form's answer may redirect: the origin of an
/// http(s) URI, or the scheme of a private-use one (RFC 8252 §7.1); `None` if unparsable.
pub fn form_target_source(uri: &str) -> Option<String> {
    let url = url::Url::parse(uri).ok()?;
    match url.scheme() {
        "http" | "https" => Some(url.origin().ascii_serialization()),
        // Private-use schemes are `[a-z0-9+.-]+` once parsed: nothing that could end the directive.
        scheme => Some(format!("{scheme}:")),
    }
}

/// IO4, IO3: [`PAGE_CSP`] with `form-action` widened to `targets`: Chromium holds the
/// redirect that answers a form submission to `form-action` too, so a page whose form is
/// answered with a redirect to the client (login, consent, logout) must allow that origin,
/// and nothing else.
pub fn page_csp(targets: &[&str]) -> String {
    let mut form_action = String::from("'self'");
    for source in targets.iter().filter_map(|t| form_target_source(t)) {
        form_action.push(' ');
        form_action.push_str(&source);
    }
    format!(
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; \
         form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
    )
}

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
    /// A9: the "forgot your password?" page, where the tenant allows resets.
    pub forgot: Option<String>,
    /// AC3: the sign-up page, where the tenant allows it.
    pub signup: Option<String>,
    /// A5: the options of a passwordless (passkey) sign-in, where the tenant allows it.
    pub passkey_options: Option<String>,
    /// O8: the tenant's upstreams, (name, display name): "Continue with …".
    pub upstreams: Vec<(&'a str, &'a str)>,
    /// O8 `after-local-sign-in`: the upstream whose identity this sign-in will link.
    pub linking: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "change_password.html")]
pub struct ChangePasswordPage<'a> {
    pub tenant_name: &'a str,
    pub username: &'a str,
    pub action: String,
    pub request_id: &'a str,
    pub csrf: &'a str,
    pub error: Option<&'a str>,
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

#[derive(Template)]
#[template(path = "home.html")]
pub struct HomePage;

#[derive(Template)]
#[template(path = "navigate.html")]
struct NavigatePage<'a> {
    href: &'a str,
}

/// The redirect `res` as a page that navigates to its `Location` (meta refresh and a link),
/// with its cookies; `None` if `res` has no usable `Location`. A document ends a redirect
/// chain, which Chromium otherwise holds to the CSP `form-action` of the form that began it.
pub fn navigate_instead<B>(res: &HttpResponse<B>) -> Option<HttpResponse> {
    let href = res.headers().get(header::LOCATION).and_then(|v| v.to_str().ok())?;
    let mut page = render(&NavigatePage { href }, StatusCode::OK, PAGE_CSP);
    for cookie in res.headers().get_all(header::SET_COOKIE) {
        page.headers_mut().append(header::SET_COOKIE, cookie.clone());
    }
    Some(page)
}

/// `GET /`: what this server is, for a person who lands on it.
pub async fn home() -> HttpResponse {
    render(&HomePage, StatusCode::OK, PAGE_CSP)
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
    res.headers_mut().insert(header::REFERRER_POLICY, HeaderValue::from_static(PAGE_REFERRER_POLICY));
    res.extensions_mut().insert(PublicBody);
    res
}

/// A page with a fixed title and text.
pub fn message(status: StatusCode, title: &'static str, text: &'static str, reference: Option<&str>) -> HttpResponse {
    render(&MessagePage { title, text, reference }, status, PAGE_CSP)
}
