//! T2, T3, IO4, L1, IO1, L4: redirect, headers, generic errors, panics, body limits, metrics.

use actix_web::{HttpResponse, web};
use gatehouse_testkit::TestDatabase;
use reqwest::StatusCode;

use crate::oauth::{backend_client, cc_token, tenant};
use crate::support::{TestServer, config};

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
    // T5: a forwarded-proto header from a peer nobody trusts changes nothing.
    let res = http.get(format!("{base}/healthz")).header("X-Forwarded-Proto", "https").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT);
}

/// T5: behind a TLS-terminating proxy the operator trusts, requests it received over HTTPS are
/// served on the plain-HTTP listener; anything else from it is still redirected.
#[actix_web::test]
async fn a_trusted_tls_terminating_proxy_is_served_over_plain_http() {
    let db = TestDatabase::sqlite();
    let server = TestServer::start_with(config(&db, &[("GATEHOUSE_TRUSTED_PROXIES", "127.0.0.1")]), None).await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let url = format!("http://127.0.0.1:{}/healthz", server.running.http_addr.unwrap().port());
    let res = http.get(&url).header("X-Forwarded-Proto", "https").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().contains_key("strict-transport-security"), "the same stack as over HTTPS");
    for proto in [None, Some("http")] {
        let req = http.get(&url);
        let req = match proto {
            Some(p) => req.header("X-Forwarded-Proto", p),
            None => req,
        };
        assert_eq!(req.send().await.unwrap().status(), StatusCode::PERMANENT_REDIRECT, "{proto:?}");
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

/// A person who opens the server's root URL gets a page saying what this is, under the
/// pages' CSP, instead of a JSON 404.
#[actix_web::test]
async fn the_root_url_is_a_small_page() {
    let db = TestDatabase::sqlite();
    let server = TestServer::start(&db, None).await;
    let res = server.client.get(server.url("/")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let csp = res.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    let html = res.text().await.unwrap();
    assert!(html.contains("OpenID Connect identity provider") && html.contains(".well-known/openid-configuration"));
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

#[actix_web::test]
async fn metrics_need_the_configured_token_and_count_what_happened() {
    let db = TestDatabase::sqlite();
    let server = TestServer::start(&db, None).await;
    let res = server.client.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "L4: no token configured, no endpoint");
    drop(server);

    let db = TestDatabase::sqlite();
    let token = "metrics-token-".repeat(3);
    let server = TestServer::start_with(config(&db, &[("GATEHOUSE_METRICS_TOKEN", &token)]), None).await;
    tenant(&server, "acme");
    let mut creds = backend_client(&server, "acme", "Reports", None);
    assert_eq!(cc_token(&server, "acme", &creds, None).await.status(), StatusCode::OK);
    creds.secret = "not-the-secret".into();
    assert_eq!(cc_token(&server, "acme", &creds, None).await.status(), StatusCode::UNAUTHORIZED);

    let scrape = |bearer: Option<String>| {
        let req = server.client.get(server.url("/metrics"));
        match bearer {
            Some(b) => req.bearer_auth(b),
            None => req,
        }
        .send()
    };
    let res = scrape(None).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.headers().contains_key("www-authenticate"));
    assert_eq!(scrape(Some(token.replace('m', "n"))).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let res = scrape(Some(token.clone())).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let text = res.text().await.unwrap();
    let value = |series: &str| -> u64 {
        let line = text.lines().find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '));
        line.unwrap_or_else(|| panic!("{series} in {text}")).rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert_eq!(value("gatehouse_tokens_issued_total{grant=\"client_credentials\"}"), 1);
    assert_eq!(value("gatehouse_client_auth_failures_total"), 1);
    assert!(value("gatehouse_http_responses_total{class=\"2xx\"}") >= 1);
    assert_eq!(value("gatehouse_http_responses_total{class=\"4xx\"}"), 3, "two refused scrapes and a refused client");
}
