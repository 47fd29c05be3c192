//! A small API protected by the guard. Run against a Gatehouse tenant:
//!
//! ```sh
//! GATEHOUSE_ISSUER=https://id.example.com/tenants/acme REPORTS_AUDIENCE=https://reports.example.com \
//!     cargo run -p gatehouse-guard --example reports_api
//! ```
//!
//! `GET /me` needs any valid token; `GET /reports` the `reports:read` scope; `GET /admin` the
//! `reports-admin` role. The integration tests mount [`routes`] on a real Gatehouse.

use actix_web::{HttpResponse, web};
use gatehouse_guard::Policy;
use gatehouse_guard::actix::{Authenticated, RequirePolicy};

/// The API's routes; the app must hold a `web::Data<Guard>`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/me", web::get().to(me))
        .service(
            web::scope("/reports")
                .wrap(RequirePolicy::new(Policy::new().scopes(["reports:read"])))
                .route("", web::get().to(list)),
        )
        .service(
            web::scope("/admin")
                .wrap(RequirePolicy::new(Policy::new().roles(["reports-admin"])))
                .route("", web::get().to(admin)),
        );
}

async fn me(user: Authenticated) -> HttpResponse {
    let c = user.claims();
    HttpResponse::Ok().json(serde_json::json!({
        "sub": c.subject, "client_id": c.client_id, "scopes": c.scopes, "roles": c.roles, "tenant": c.tenant,
    }))
}

async fn list(_user: Authenticated) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!(["2026-q3", "2026-q4"]))
}

async fn admin(user: Authenticated) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "admin": user.claims().subject }))
}

#[allow(dead_code)]
#[actix_web::main]
async fn main() -> std::io::Result<()> {
    use gatehouse_guard::{Guard, GuardConfig};
    let issuer = std::env::var("GATEHOUSE_ISSUER").map_err(|_| std::io::Error::other("set GATEHOUSE_ISSUER"))?;
    let audience = std::env::var("REPORTS_AUDIENCE").map_err(|_| std::io::Error::other("set REPORTS_AUDIENCE"))?;
    let http = reqwest::Client::new();
    let guard = Guard::discover(GuardConfig::new(issuer, [audience]), http).await.map_err(std::io::Error::other)?;
    let guard = web::Data::new(guard);
    actix_web::HttpServer::new(move || actix_web::App::new().app_data(guard.clone()).configure(routes))
        .bind(("127.0.0.1", 8090))?
        .run()
        .await
}
