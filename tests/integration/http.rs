//! T2, T3, IO4, L1, IO1: redirect, headers, generic errors, panics, body limits.

use actix_web::{HttpResponse, web};
use gatehouse_testkit::TestDatabase;
use reqwest::StatusCode;

use crate::support::TestServer;

async fn boom() -> HttpResponse {
    panic!("test handler panics on purpose")
}

fn panic_route(cfg: &mut web::ServiceConfig) {
    cfg.route("/test/panic", web::get().to(boom));
}

#[actix_web::test]
async fn http_listener_redirects_everything_with_308() {
    let db = TestDatabase::sqlite();
    let server = TestServer::start(&db, None).await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let base = format!("http://127.0.0.1:{}", server.running.http_addr.unwrap().port());
    for (method, path) in [
        (reqwest::Method::GET, "/tenants/acme/.well-known/openid-configuration?x=1&y=%20z"),
        (reqwest::Method::POST, "/tenants/acme/token"),
        (reqwest::Method::GET, "/"),
    ] {
        let res =
            http.request(method.clone(), format!("{base}{path}")).header("Host", "evil.example").send().await.unwrap();
        assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT, "{method} {path}");
        assert_eq!(
            res.headers()["location"],
            format!("https://localhost:8443{path}").as_str(),
            "configured host, same path and query"
        );
        assert!(res.bytes().await.unwrap().is_empty(), "no content over plain HTTP");
    }
}

#[actix_web::test]
async fn security_headers_on_every_https_response() {
    let db = TestDatabase::sqlite();
    let server = TestServer::start(&db, None).await;
    for path in ["/healthz", "/no/such/page"] {
        let res = server.client.get(server.url(path)).send().await.unwrap();
        let h = res.headers();
        assert_eq!(h["strict-transport-security"], "max-age=31536000; includeSubDomains", "{path}");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert_eq!(h["x-request-id"].len(), 32);
    }
}

#[actix_web::test]
async fn errors_are_generic_with_a_correlation_id() {
    let db = TestDatabase::sqlite();
    let server = TestServer::start(&db, None).await;
    let res = server.client.get(server.url("/no/such/<script>")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({ "error": "not_found", "error_description": "Nothing is here.", "correlation_id": id })
    );

    let page = server.client.get(server.url("/nope")).header("Accept", "text/html").send().await.unwrap();
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let id = page.headers()["x-request-id"].to_str().unwrap().to_owned();
    let html = page.text().await.unwrap();
    assert!(html.contains(&id) && !html.contains("nope"), "{html}");

    // An extractor's own error text (here: a method actix refuses) is replaced too.
    let res = server.client.post(server.url("/healthz")).body("x").send().await.unwrap();
    assert!(res.status().is_client_error());
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(body["correlation_id"].is_string(), "{body}");
}

#[actix_web::test]
async fn a_panicking_handler_answers_500_and_the_server_keeps_serving() {
    let db = TestDatabase::sqlite();
    let server = TestServer::start(&db, Some(panic_route)).await;
    for _ in 0..3 {
        let res = server.client.get(server.url("/test/panic")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(res.headers()["strict-transport-security"], "max-age=31536000; includeSubDomains");
        let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
        let body = res.text().await.unwrap();
        assert!(body.contains(&id) && !body.contains("on purpose"), "{body}");
    }
    // One worker: it survived the panics.
    let res = server.client.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[actix_web::test]
async fn oversized_bodies_are_refused_with_413() {
    let db = TestDatabase::sqlite();
    let server = TestServer::start(&db, None).await;
    let res = server.client.post(server.url("/healthz")).body(vec![b'a'; 4097]).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], "payload_too_large");
}

#[actix_web::test]
async fn health_and_readiness() {
    for db in gatehouse_testkit::databases() {
        let server = TestServer::start(&db, None).await;
        let live: serde_json::Value =
            server.client.get(server.url("/healthz")).send().await.unwrap().json().await.unwrap();
        assert_eq!(live["status"], "ok");
        let res = server.client.get(server.url("/readyz")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{db:?}");
    }
}
