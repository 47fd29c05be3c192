//! The per-tenant OAuth 2.0 / OpenID Connect endpoints, under each tenant's issuer (O1).

pub mod context;
pub mod discovery;
pub mod error;
pub mod introspect;
pub mod revoke;
pub mod token;

use actix_web::web;

/// Routes under `/tenants/{tenant}` plus the RFC 8414 well-known form.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/tenants/{tenant}")
            .route("/.well-known/openid-configuration", web::get().to(discovery::openid_configuration))
            .route("/.well-known/oauth-authorization-server", web::get().to(discovery::openid_configuration))
            .route("/jwks", web::get().to(discovery::jwks))
            // Resources, so a wrong method is 405 rather than 404.
            .service(web::resource("/token").route(web::post().to(token::token)))
            .service(web::resource("/introspect").route(web::post().to(introspect::introspect)))
            .service(web::resource("/revoke").route(web::post().to(revoke::revoke))),
    )
    // RFC 8414 §3: the well-known segment goes before the issuer's path.
    .route("/.well-known/oauth-authorization-server/tenants/{tenant}", web::get().to(discovery::openid_configuration));
}
