//! Issue 14, found from outside: control characters, per-tenant cookies, back-channel fan-out,
//! and what a database refusal must not spread to.

use gatehouse_core::audit::AuditEvent;
use gatehouse_core::store::AuditStore;
use gatehouse_server::audit_writer::AuditWriter;
use gatehouse_testkit::databases;
use reqwest::StatusCode;

use crate::code_flow::{PASSWORD, authorize_url, browser, hidden, spa, user};
use crate::oauth::{backend_client, cc_token, server, tenant};

/// IO1: a NUL or other control character in any parameter, form field or path segment is
/// refused with a 4xx before it reaches a query or the audit log (PostgreSQL refuses a NUL in
/// text, which used to surface as 500).
#[actix_web::test]
async fn control_characters_are_refused_before_they_reach_the_database() {
    for db in databases() {
        let server = server(&db).await;
        tenant(&server, "acme");
        user(&server, "acme", "alice");
        let spa = spa(&server, "acme", "Web App", true);
        let creds = backend_client(&server, "acme", "Reports", None);
        let b = browser(&server);
        let html = b.get(authorize_url(&server, "acme", &spa, &[])).send().await.unwrap().text().await.unwrap();
        let login = |request_id: String, username: &'static str| {
            let form = [
                ("request_id", request_id),
                ("csrf", hidden(&html, "csrf")),
                ("username", username.to_owned()),
                ("password", PASSWORD.to_owned()),
            ];
            b.post(server.url("/tenants/acme/login")).form(&form).send()
        };
        let request_id = hidden(&html, "request_id");
        for (what, res) in [
            ("login username", login(request_id.clone(), "al\0ice").await.unwrap()),
            ("login request_id", login(format!("{request_id}\0"), "alice").await.unwrap()),
            ("login username with a line break", login(request_id.clone(), "alice\r\nx").await.unwrap()),
        ] {
            assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{db:?}: {what}");
            assert!(res.text().await.unwrap().contains("Invalid request"), "{db:?}: {what}");
        }
        let token = server.url("/tenants/acme/token");
        let cases: Vec<(&str, reqwest::RequestBuilder, StatusCode)> = vec![
            (
                "token client_id (post)",
                server.client.post(&token).form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", "x\0y"),
                    ("client_secret", "s"),
                ]),
                StatusCode::BAD_REQUEST,
            ),
            (
                "token client_id (basic)",
                server.client.post(&token).basic_auth("x\0y", Some("s")).form(&[("grant_type", "client_credentials")]),
                StatusCode::UNAUTHORIZED,
            ),
            (
                "token scope",
                server
                    .client
                    .post(&token)
                    .basic_auth(&creds.id, Some(&creds.secret))
                    .form(&[("grant_type", "client_credentials"), ("scope", "reports:read\0")]),
                StatusCode::BAD_REQUEST,
            ),
            (
                "authorize client_id",
                server.client.get(server.url("/tenants/acme/authorize?response_type=code&client_id=a%00b")),
                StatusCode::BAD_REQUEST,
            ),
            (
                "tenant slug in the path",
                server.client.get(server.url("/tenants/ac%00me/.well-known/openid-configuration")),
                StatusCode::NOT_FOUND,
            ),
            (
                "revocation token",
                server
                    .client
                    .post(server.url("/tenants/acme/revoke"))
                    .basic_auth(&creds.id, Some(&creds.secret))
                    .form(&[("token", "abc\0def")]),
                StatusCode::BAD_REQUEST,
            ),
            (
                "introspection token",
                server
                    .client
                    .post(server.url("/tenants/acme/introspect"))
                    .basic_auth(&creds.id, Some(&creds.secret))
                    .form(&[("token", "abc\0def")]),
                StatusCode::BAD_REQUEST,
            ),
            (
                "logout state",
                server.client.get(server.url("/tenants/acme/logout?state=a%00b")),
                StatusCode::BAD_REQUEST,
            ),
        ];
        for (what, req, status) in cases {
            assert_eq!(req.send().await.unwrap().status(), status, "{db:?}: {what}");
        }
        // Nothing was poisoned: a legitimate request works and the chain verifies.
        assert_eq!(cc_token(&server, "acme", &creds, None).await.status(), StatusCode::OK, "{db:?}");
        let records = server.running.store.audit_page(0, 10_000).unwrap();
        assert!(records.iter().all(|r| !format!("{r:?}").contains('\0')), "{db:?}: no NUL on record");
    }
}

/// Mixed load: legitimate token requests among ones with a NUL in the client id; no 500, and
/// every legitimate one gets its token.
#[actix_web::test]
async fn control_characters_under_load_fail_only_their_own_requests() {
    for db in databases() {
        let server = server(&db).await;
        tenant(&server, "acme");
        let creds = backend_client(&server, "acme", "Reports", None);
        let token = server.url("/tenants/acme/token");
        let requests = (0..60).map(|i| {
            let req = if i % 2 == 0 {
                server.client.post(&token).basic_auth(&creds.id, Some(&creds.secret))
            } else {
                server.client.post(&token).basic_auth(format!("{}\0", creds.id), Some(&creds.secret))
            };
            async move { (i % 2 == 0, req.form(&[("grant_type", "client_credentials")]).send().await.unwrap().status()) }
        });
        let answers = futures_util::future::join_all(requests).await;
        for (legitimate, status) in answers {
            assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR, "{db:?}");
            assert_eq!(status == StatusCode::OK, legitimate, "{db:?}: {status}");
        }
    }
}

/// L3: the audit writer commits a batch in one transaction; when the database refuses one
/// record of it (PostgreSQL: a NUL in text), the others are still appended and only that
/// record's request fails.
#[actix_web::test]
async fn a_refused_audit_record_fails_only_its_own_request() {
    for db in databases().into_iter().filter(|d| d.backend == "postgres") {
        let server = server(&db).await;
        let writer = AuditWriter::start(server.running.store.clone()).unwrap();
        let before = server.running.store.audit_page(0, 10_000).unwrap().len();
        let appends = (0..40).map(|i| {
            let actor = if i == 7 { "bad\0actor".to_owned() } else { format!("actor-{i}") };
            let writer = writer.clone();
            async move { (i, writer.append(AuditEvent::new(actor, "test.append")).await) }
        });
        for (i, result) in futures_util::future::join_all(appends).await {
            assert_eq!(result.is_ok(), i != 7, "record {i}: {result:?}");
        }
        let after = server.running.store.audit_page(0, 10_000).unwrap();
        assert_eq!(after.len(), before + 39, "every other record appended");
        let store = &server.running.store;
        assert!(gatehouse_core::audit::verify_chain(store, store.vault()).is_ok(), "the chain verifies");
    }
}
