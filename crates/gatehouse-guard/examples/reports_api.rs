//! A small API protected by the guard. Run against a Gatehouse tenant:
//!
//! ```sh
//! GATEHOUSE_ISSUER=https://localhost:8443/tenants/demo REPORTS_AUDIENCE=http://localhost:8090 \
//!     GATEHOUSE_CA_FILE=gatehouse-data/tls/dev-cert.pem REPORTS_CORS_ORIGINS=http://localhost:5173 \
//!     cargo run -p gatehouse-guard --example reports_api
//! ```
//!
//! - `GATEHOUSE_ISSUER`: the tenant's issuer (discovery and JWKS are fetched from it);
//! - `REPORTS_AUDIENCE`: this API's identifier, which must appear in the tokens' `aud`;
//! - `REPORTS_ADDR`: where to listen (default `127.0.0.1:8090`);
//! - `REPORTS_CORS_ORIGINS`: space-separated browser origins allowed to call it (a SPA);
//! - `GATEHOUSE_CA_FILE`: a PEM certificate to trust for the issuer instead of the system's
//!   roots (the development certificate Gatehouse generates).
//!
//! `GET /me` needs any valid token; `GET /reports` the `reports:read` scope; `GET /summary`
//! the `reports:read` scope and the `reports-viewer` role; `GET /admin` the `reports-admin`
//! role. The guard's tests mount [`routes`]; the browser tests run [`serve`] for the SPA.

use actix_web::{HttpResponse, web};
use gatehouse_guard::actix::{Authenticated, RequirePolicy};
use gatehouse_guard::{Guard, Policy};

/// The API's routes; the app must hold a `web::Data<Guard>`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/me", web::get().to(me))
        .service(
            web::scope("/reports")
                .wrap(RequirePolicy::new(Policy::new().scopes(["reports:read"])))
                .route("", web::get().to(list)),
        )
        .service(
            web::scope("/summary")
                .wrap(RequirePolicy::new(Policy::new().scopes(["reports:read"]).roles(["reports-viewer"])))
                .route("", web::get().to(summary)),
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

async fn summary(user: Authenticated) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "for": user.claims().subject, "reports": 2, "revenue": "1.2M" }))
}

async fn admin(user: Authenticated) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "admin": user.claims().subject }))
}

/// CORS for the browser apps allowed to call the API: GET with a bearer token; the
/// `WWW-Authenticate` challenge stays readable so an app can tell 401 from 403.
pub fn cors(origins: &[String]) -> actix_cors::Cors {
    origins
        .iter()
        .fold(actix_cors::Cors::default(), |c, o| c.allowed_origin(o))
        .allowed_methods(["GET"])
        .allowed_headers([actix_web::http::header::AUTHORIZATION])
        .expose_headers([actix_web::http::header::WWW_AUTHENTICATE])
        .max_age(600)
}

/// Serves the API on `listener` with `guard`, allowing `origins` by CORS.
pub fn serve(
    listener: std::net::TcpListener,
    guard: Guard,
    origins: Vec<String>,
) -> std::io::Result<actix_web::dev::Server> {
    let guard = web::Data::new(guard);
    Ok(actix_web::HttpServer::new(move || {
        actix_web::App::new().wrap(cors(&origins)).app_data(guard.clone()).configure(routes)
    })
    .workers(1)
    .listen(listener)?
    .run())
}

/// An HTTP client for the guard that trusts `ca_file` only, or the system's roots.
pub fn http_client(ca_file: Option<&str>) -> std::io::Result<reqwest::Client> {
    let builder = reqwest::Client::builder();
    let builder = match ca_file {
        Some(path) => {
            let pem = std::fs::read(path)?;
            builder.tls_certs_only([reqwest::Certificate::from_pem(&pem).map_err(std::io::Error::other)?])
        }
        None => builder,
    };
    builder.build().map_err(std::io::Error::other)
}

#[allow(dead_code)]
#[actix_web::main]
async fn main() -> std::io::Result<()> {
    use gatehouse_guard::GuardConfig;
    let var = |name: &str| std::env::var(name).map_err(|_| std::io::Error::other(format!("set {name}")));
    let issuer = var("GATEHOUSE_ISSUER")?;
    let audience = var("REPORTS_AUDIENCE")?;
    let addr = std::env::var("REPORTS_ADDR").unwrap_or_else(|_| "127.0.0.1:8090".to_owned());
    let origins: Vec<String> =
        std::env::var("REPORTS_CORS_ORIGINS").unwrap_or_default().split_whitespace().map(str::to_owned).collect();
    let http = http_client(std::env::var("GATEHOUSE_CA_FILE").ok().as_deref())?;
    let guard = Guard::discover(GuardConfig::new(issuer, [audience]), http).await.map_err(std::io::Error::other)?;
    let listener = std::net::TcpListener::bind(&addr)?;
    println!("reports_api listening on http://{addr}");
    serve(listener, guard, origins)?.await
}
