//! The per-tenant OAuth 2.0 / OpenID Connect endpoints, under each tenant's issuer (O1).

pub mod authorize;
pub mod backchannel;
pub mod browser;
pub mod context;
pub mod cors;
pub mod discovery;
pub mod error;
pub mod factors;
pub mod grants;
pub mod interact;
pub mod introspect;
pub mod logout;
pub mod revoke;
pub mod signin;
pub mod step_pages;
pub mod steps;
pub mod throttle;
pub mod token;
pub mod userinfo;

use actix_web::web;

/// Routes under `/tenants/{tenant}` plus the RFC 8414 well-known form.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/tenants/{tenant}")
            .route("/.well-known/openid-configuration", web::get().to(discovery::openid_configuration))
            .route("/.well-known/oauth-authorization-server", web::get().to(discovery::openid_configuration))
            .route("/jwks", web::get().to(discovery::jwks))
            .service(
                web::resource("/authorize")
                    .route(web::get().to(authorize::authorize))
                    .route(web::post().to(authorize::authorize)),
            )
            .service(web::resource("/login").route(web::post().to(interact::login)))
            .service(web::resource("/login/password").route(web::post().to(steps::change_password)))
            .service(web::resource("/login/factor").route(web::post().to(factors::present)))
            .service(web::resource("/login/factor/passkey").route(web::post().to(factors::present_passkey)))
            .service(web::resource("/login/enroll").route(web::post().to(factors::enroll_totp)))
            .service(web::resource("/login/enroll/passkey").route(web::post().to(factors::enroll_passkey)))
            .service(web::resource("/login/continue").route(web::post().to(factors::continue_after_codes)))
            .service(web::resource("/login/passkey").route(web::post().to(factors::passwordless)))
            .configure(crate::http::account::routes)
            .configure(crate::http::upstream::routes)
            .configure(crate::console::routes)
            .service(web::resource("/consent").route(web::post().to(interact::consent)))
            .service(
                web::resource("/userinfo")
                    .route(web::get().to(userinfo::userinfo))
                    .route(web::post().to(userinfo::userinfo))
                    .route(web::method(actix_web::http::Method::OPTIONS).to(cors::preflight)),
            )
            .service(
                web::resource("/logout").route(web::get().to(logout::logout)).route(web::post().to(logout::logout)),
            )
            // Resources, so a wrong method is 405 rather than 404.
            .service(
                web::resource("/token")
                    .route(web::post().to(token::token))
                    .route(web::method(actix_web::http::Method::OPTIONS).to(cors::preflight)),
            )
            .service(web::resource("/introspect").route(web::post().to(introspect::introspect)))
            .service(
                web::resource("/revoke")
                    .route(web::post().to(revoke::revoke))
                    .route(web::method(actix_web::http::Method::OPTIONS).to(cors::preflight)),
            ),
    )
    // RFC 8414 §3: the well-known segment goes before the issuer's path.
    .route("/.well-known/oauth-authorization-server/tenants/{tenant}", web::get().to(discovery::openid_configuration));
}
