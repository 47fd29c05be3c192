//! The HTTP layer: the route table, middleware, generic errors, and the plain-HTTP redirector.

pub mod account;
pub mod assets;
pub mod client_ip;
pub mod errors;
pub mod health;
pub mod middleware;
pub mod oauth;
pub mod pages;
pub mod passkeys;
pub mod qr;
pub mod redirect;
pub mod upstream;

use actix_web::web;

/// The one route table of the HTTPS server.
pub fn routes(cfg: &mut web::ServiceConfig) {
    oauth::routes(cfg);
    crate::api::routes(cfg);
    cfg.route("/", web::get().to(pages::home))
        .route("/healthz", web::get().to(health::live))
        .route("/readyz", web::get().to(health::ready))
        .route("/metrics", web::get().to(health::metrics))
        .route("/assets/{name}", web::get().to(assets::asset))
        .route("/console", web::get().to(crate::console::entry))
        .default_service(web::to(errors::not_found));
}
