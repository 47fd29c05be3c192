//! `GET|POST {issuer}/userinfo` (OIDC Core §5.3; O5) with RFC 6750 bearer errors.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use gatehouse_core::UnixTime;
use gatehouse_core::flow::id_token::scoped_claims;
use gatehouse_core::jose::SigningAlg;
use gatehouse_core::oauth::Params;
use gatehouse_core::oauth::introspect::check_access_token;
use gatehouse_core::store::{RevocationStore, UserStore};
use serde_json::json;

use super::context::TenantScope;
use super::context::blocking;
use super::{cors, error};
use crate::http::errors::PublicBody;
use crate::state::AppState;

/// RFC 6750 §3: 401 with a Bearer challenge (an error code only when a token was sent), or
/// 403 `insufficient_scope`.
fn bearer_error(status: StatusCode, code: Option<&'static str>) -> HttpResponse {
    let challenge = match code {
        Some(c) => format!("Bearer realm=\"gatehouse\", error=\"{c}\""),
        None => "Bearer realm=\"gatehouse\"".to_owned(),
    };
    let mut res = match code {
        Some(c) => HttpResponse::build(status).json(json!({ "error": c })),
        None => HttpResponse::build(status).finish(),
    };
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    error::no_store(&mut res);
    res.extensions_mut().insert(PublicBody);
    res
}

/// RFC 6750 §2.1, §2.2: the token from the Authorization header, or from a form body.
fn bearer_token(req: &HttpRequest, body: &[u8]) -> Option<String> {
    if let Some(h) = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        return h.strip_prefix("Bearer ").map(|t| t.trim().to_owned());
    }
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    if req.method() == actix_web::http::Method::POST && is_form {
        return Params::parse(body).ok().and_then(|p| p.get("access_token").map(str::to_owned));
    }
    None
}

/// The UserInfo endpoint.
pub async fn userinfo(req: HttpRequest, tenant: TenantScope, body: Bytes, state: web::Data<AppState>) -> HttpResponse {
    let Some(token) = bearer_token(&req, &body) else { return bearer_error(StatusCode::UNAUTHORIZED, None) };
    let keys = match state.keys(&tenant.tenant.id, SigningAlg::Es256).await {
        Ok(k) => k,
        Err(e) => return error::response(&e),
    };
    let Some(active) = check_access_token(&token, &keys.verifiers, &tenant.issuer, UnixTime::now()) else {
        return bearer_error(StatusCode::UNAUTHORIZED, Some("invalid_token"));
    };
    let (store, t, jti) = (state.store.clone(), tenant.tenant.id.clone(), active.jti.clone());
    match blocking(move || store.is_revoked(&t, &jti)).await {
        Ok(false) => {}
        Ok(true) => return bearer_error(StatusCode::UNAUTHORIZED, Some("invalid_token")),
        Err(e) => return error::response(&e),
    }
    let scope = active.claims.get("scope").and_then(|s| s.as_str()).unwrap_or("").to_owned();
    if !scope.split(' ').any(|s| s == "openid") {
        return bearer_error(StatusCode::FORBIDDEN, Some("insufficient_scope"));
    }
    let sub = active.claims.get("sub").and_then(|s| s.as_str()).unwrap_or("").to_owned();
    let (store, t, s) = (state.store.clone(), tenant.tenant.id.clone(), sub.clone());
    let user = match blocking(move || store.user_by_id(&t, &s)).await {
        Ok(Some(u)) if !u.disabled => u,
        Ok(_) => return bearer_error(StatusCode::UNAUTHORIZED, Some("invalid_token")),
        Err(e) => return error::response(&e),
    };
    let (preferred_username, email, email_verified) = scoped_claims(&user, &scope);
    let mut body = json!({ "sub": user.id, "tenant": tenant.tenant.slug });
    if let Some(u) = preferred_username {
        body["preferred_username"] = json!(u);
    }
    if let Some(e) = email {
        body["email"] = json!(e);
        body["email_verified"] = json!(email_verified);
    }
    if let Some(roles) = active.claims.get("roles") {
        body["roles"] = roles.clone();
    }
    let mut res = HttpResponse::Ok().json(body);
    error::no_store(&mut res);
    // O7: the browser origins of the client the token was issued to.
    let client_id = active.claims.get("client_id").and_then(|c| c.as_str()).unwrap_or_default();
    if let Ok(Some(client)) = state.client(&tenant.tenant.id, client_id).await {
        cors::allow(&mut res, &req, &client.web_origins);
    }
    res
}
