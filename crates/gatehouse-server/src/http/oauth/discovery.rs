//! Discovery (OpenID Connect Discovery 1.0 §3, RFC 8414 §2) and the JWKS (RFC 7517): the
//! same bytes for every caller, serialized once per tenant and served from the cache.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use gatehouse_core::jose::SigningAlg;
use serde_json::{Value, json};

use super::context::TenantScope;
use crate::http::oauth::error;
use crate::state::AppState;

/// The metadata of the issuer `iss`. Lists only what this server implements.
pub fn document(iss: &str) -> Value {
    let algs: Vec<&str> = SigningAlg::ALL.iter().map(|a| a.as_str()).collect();
    let auth_methods = ["client_secret_basic", "client_secret_post", "private_key_jwt"];
    json!({
        "issuer": iss,
        "authorization_endpoint": format!("{iss}/authorize"),
        "token_endpoint": format!("{iss}/token"),
        "userinfo_endpoint": format!("{iss}/userinfo"),
        "jwks_uri": format!("{iss}/jwks"),
        "end_session_endpoint": format!("{iss}/logout"),
        "introspection_endpoint": format!("{iss}/introspect"),
        "revocation_endpoint": format!("{iss}/revoke"),
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "token_endpoint_auth_methods_supported": auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": algs,
        "introspection_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "id_token_signing_alg_values_supported": algs,
        "access_token_signing_alg_values_supported": algs,
        "userinfo_signing_alg_values_supported": [],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
        "prompt_values_supported": ["none", "login", "consent"],
        // A6: a client asks for a second factor with acr_values=urn:gatehouse:acr:mfa.
        "acr_values_supported": gatehouse_core::mfa::ACR_VALUES_SUPPORTED,
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "claims_parameter_supported": false,
        "claims_supported": [
            "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid", "at_hash", "azp",
            "preferred_username", "email", "email_verified", "roles", "tenant"
        ],
    })
}

/// Public metadata: cacheable, and readable by any web origin (O7): a browser app's OIDC
/// library fetches discovery from its own origin, and nothing here depends on who asks (`*`
/// also means the browser sends no credentials).
fn json_bytes(body: web::Bytes, cache_secs: u32) -> HttpResponse {
    let mut res = HttpResponse::Ok().content_type("application/json").body(body);
    res.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    if let Ok(v) = HeaderValue::from_str(&format!("public, max-age={cache_secs}")) {
        res.headers_mut().insert(header::CACHE_CONTROL, v);
    }
    res
}

/// `GET {issuer}/.well-known/openid-configuration` (and the RFC 8414 forms).
pub async fn openid_configuration(tenant: TenantScope) -> HttpResponse {
    json_bytes(tenant.discovery.clone(), 300)
}

/// `GET {issuer}/jwks`: public keys only, current and inside their overlap window (O4).
pub async fn jwks(_req: HttpRequest, tenant: TenantScope, state: web::Data<AppState>) -> HttpResponse {
    match state.keys(&tenant.tenant.id, SigningAlg::Es256).await {
        // Short cache lifetime: a rotated key must reach resource servers quickly.
        Ok(keys) => json_bytes(keys.jwks.clone(), 60),
        Err(e) => error::response(&e),
    }
}
