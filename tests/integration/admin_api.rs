//! AC1, AC2, AC4, AC6 over HTTPS on SQLite and PostgreSQL: the admin API with real tokens
//! (a sign-in with a second factor, for the API's audience), the permission table as seen
//! from outside (every level × action × own and other tenant, each refusal audited), AC4's
//! lower-level rule, cursor pages and search, `If-Match`, problem details, and the OpenAPI
//! document read by an independent parser and holding every route.

use gatehouse_core::UnixTime;
use gatehouse_core::admin::{self, CreateClient, CreateTenant, CreateUser};
use gatehouse_core::store::AuditStore;
use gatehouse_server::api::ROUTES;
use gatehouse_testkit::databases;
use gatehouse_types::Secret;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::code_flow::{PASSWORD, REDIRECT, VERIFIER, authorize_url, browser, exchange, hidden, submit_login};
use crate::mfa::{code, secret_in};
use crate::oauth::server;
use crate::support::{PUBLIC_URL, TestServer};

pub(crate) fn api_audience() -> String {
    format!("{PUBLIC_URL}/api")
}

/// A first-party public client of `tenant` whose tokens are for the admin API.
pub(crate) fn console_client(server: &TestServer, tenant: &str) -> String {
    let store = &server.running.store;
    let input = CreateClient {
        tenant: tenant.into(),
        name: "Console".into(),
        client_type: "public".into(),
        redirect_uris: vec![REDIRECT.into()],
        grant_types: vec!["authorization_code".into()],
        scope: "openid".into(),
        first_party: true,
        audiences: vec![api_audience()],
        ..Default::default()
    };
    admin::create_client(store, store.vault(), "test", &input, UnixTime::now()).unwrap().client.client_id
}

pub(crate) fn member(server: &TestServer, tenant: &str, username: &str, roles: &[&str]) {
    let input = CreateUser {
        tenant: tenant.into(),
        username: username.into(),
        email: format!("{username}@{tenant}.example.com"),
        password: Some(Secret::new(PASSWORD.into())),
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        must_change_password: false,
        self_registered: false,
    };
    admin::create_user(
        &server.running.store,
        &server.running_hasher(),
        &Default::default(),
        "test",
        &input,
        UnixTime::now(),
    )
    .unwrap();
}

/// An access token of `username` from a sign-in through `client`: enrolling TOTP on the way
/// where a factor is required (administrators), with the password alone otherwise.
pub(crate) async fn token(server: &TestServer, tenant: &str, client: &str, username: &str) -> String {
    let b = browser(server);
    let page = b.get(authorize_url(server, tenant, client, &[("scope", "openid")])).send().await.unwrap();
    let page = page.text().await.unwrap();
    let mut res = submit_login(server, &b, tenant, &page, username, PASSWORD).await;
    if res.status() == StatusCode::OK {
        let html = res.text().await.unwrap();
        assert!(html.contains("Set up a second factor"), "{html}");
        let form = |extra: Vec<(&'static str, String)>, html: &str| {
            let mut f = vec![("request_id", hidden(html, "request_id")), ("csrf", hidden(html, "csrf"))];
            f.extend(extra);
            f
        };
        let enrol = form(vec![("code", code(&secret_in(&html), 0))], &html);
        let codes = b.post(server.url(&format!("/tenants/{tenant}/login/enroll"))).form(&enrol).send().await.unwrap();
        let codes = codes.text().await.unwrap();
        let next = form(vec![], &codes);
        res = b.post(server.url(&format!("/tenants/{tenant}/login/continue"))).form(&next).send().await.unwrap();
    }
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "{username}");
    let loc = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    let code = loc.query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned();
    let body: Value = exchange(server, tenant, client, &code, VERIFIER, REDIRECT).await.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

/// Calls the API: status, headers and JSON body.
pub(crate) async fn call(
    server: &TestServer,
    token: Option<&str>,
    method: Method,
    path: &str,
    body: Option<Value>,
    if_match: Option<&str>,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut req = server.client.request(method, server.url(&format!("/api/v1{path}")));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    if let Some(m) = if_match {
        req = req.header("if-match", m);
    }
    let res = req.send().await.unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    let text = res.text().await.unwrap();
    (status, headers, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Two tenants with operators of every level, and their tokens.
pub(crate) struct World {
    pub server: TestServer,
    pub platform: String,
    pub tenant_admin: String,
    pub helpdesk: String,
    /// acme's console client.
    pub acme_client: String,
    /// globex's console client.
    pub globex_client: String,
}

pub(crate) async fn world(db: &gatehouse_testkit::TestDatabase) -> World {
    let server = server(db).await;
    for slug in ["acme", "globex"] {
        admin::create_tenant(
            &server.running.store,
            "test",
            &CreateTenant { slug: slug.into(), ..Default::default() },
            UnixTime::now(),
        )
        .unwrap();
    }
    member(&server, "platform", "pat", &["platform-admin"]);
    member(&server, "acme", "tara", &["tenant-admin"]);
    member(&server, "acme", "ted", &["tenant-admin"]);
    member(&server, "acme", "hank", &["helpdesk"]);
    for user in ["uma", "ulf", "una"] {
        member(&server, "acme", user, &[]);
    }
    member(&server, "globex", "gus", &[]);
    let (pc, ac) = (console_client(&server, "platform"), console_client(&server, "acme"));
    let platform = token(&server, "platform", &pc, "pat").await;
    let tenant_admin = token(&server, "acme", &ac, "tara").await;
    let helpdesk = token(&server, "acme", &ac, "hank").await;
    let globex_client = console_client(&server, "globex");
    World { server, platform, tenant_admin, helpdesk, acme_client: ac, globex_client }
}

pub(crate) fn denials(server: &TestServer) -> usize {
    server.running.store.audit_page(0, 100_000).unwrap().iter().filter(|r| r.action == "api.denied").count()
}

#[actix_web::test]
async fn every_level_action_and_tenant_is_allowed_or_refused_as_the_table_says() {
    for db in databases() {
        let w = world(&db).await;
        let s = &w.server;
        // (method, path in acme's or globex's terms, body, status when allowed, help desk may)
        let cases: Vec<(Method, &str, Option<Value>, StatusCode, bool)> = vec![
            (Method::GET, "/tenants/{t}", None, StatusCode::OK, true),
            (
                Method::PATCH,
                "/tenants/{t}/policy",
                Some(json!({ "password_history": 6 })),
                StatusCode::PRECONDITION_REQUIRED,
                false,
            ),
            (Method::GET, "/tenants/{t}/users", None, StatusCode::OK, true),
            (Method::GET, "/tenants/{t}/users/{u}", None, StatusCode::OK, true),
            (Method::DELETE, "/tenants/{t}/users/{u}", None, StatusCode::PRECONDITION_REQUIRED, false),
            (Method::PATCH, "/tenants/{t}/users/{u}", Some(json!({})), StatusCode::PRECONDITION_REQUIRED, false),
            (Method::POST, "/tenants/{t}/users/{u}/unlock", None, StatusCode::OK, true),
            (Method::POST, "/tenants/{t}/users/{u}/mfa/reset", None, StatusCode::OK, true),
            (Method::POST, "/tenants/{t}/users/{u}/sessions/end", None, StatusCode::OK, true),
            (Method::GET, "/tenants/{t}/users/{u}/sessions", None, StatusCode::OK, true),
            (Method::DELETE, "/tenants/{t}/users/{u}/sessions/nosuch", None, StatusCode::BAD_REQUEST, true),
            (Method::GET, "/tenants/{t}/users/{u}/identities", None, StatusCode::OK, true),
            (Method::DELETE, "/tenants/{t}/users/{u}/identities/nosuch", None, StatusCode::NOT_FOUND, false),
            (
                Method::POST,
                "/tenants/{t}/users/{u}/password",
                Some(json!({ "password": "short" })),
                StatusCode::BAD_REQUEST,
                true,
            ),
            (
                Method::PUT,
                "/tenants/{t}/users/{u}/roles",
                Some(json!({ "roles": [] })),
                StatusCode::PRECONDITION_REQUIRED,
                false,
            ),
            (Method::GET, "/tenants/{t}/roles", None, StatusCode::OK, true),
            (Method::GET, "/tenants/{t}/sessions", None, StatusCode::OK, false),
            (Method::GET, "/tenants/{t}/clients", None, StatusCode::OK, false),
            (Method::POST, "/tenants/{t}/clients", Some(json!({ "name": "" })), StatusCode::BAD_REQUEST, false),
            (Method::GET, "/tenants/{t}/clients/{c}", None, StatusCode::OK, false),
            (Method::PATCH, "/tenants/{t}/clients/{c}", Some(json!({})), StatusCode::PRECONDITION_REQUIRED, false),
            (Method::DELETE, "/tenants/{t}/clients/{c}", None, StatusCode::PRECONDITION_REQUIRED, false),
            (Method::POST, "/tenants/{t}/clients/{c}/secret", None, StatusCode::BAD_REQUEST, false),
            (Method::GET, "/tenants/{t}/keys", None, StatusCode::OK, false),
            (
                Method::POST,
                "/tenants/{t}/keys/rotate",
                Some(json!({ "overlap_secs": -1 })),
                StatusCode::BAD_REQUEST,
                false,
            ),
            (Method::GET, "/tenants/{t}/audit", None, StatusCode::OK, false),
            (Method::GET, "/tenants/{t}/upstreams", None, StatusCode::OK, false),
            (Method::POST, "/tenants/{t}/upstreams", Some(json!({ "name": "x" })), StatusCode::BAD_REQUEST, false),
            (Method::GET, "/tenants/{t}/upstreams/nosuch", None, StatusCode::NOT_FOUND, false),
        ];
        // (caller, may in acme, may in globex) for a case whose help-desk flag is the argument.
        type May = fn(bool) -> bool;
        let callers: [(&str, &String, May, May); 3] = [
            ("platform", &w.platform, |_| true, |_| true),
            ("tenant-admin", &w.tenant_admin, |_| true, |_| false),
            ("helpdesk", &w.helpdesk, |helpdesk| helpdesk, |_| false),
        ];
        for (who, token, in_acme, in_globex) in callers {
            for (method, path, body, ok, helpdesk) in &cases {
                for (tenant, user, client, allowed) in [
                    ("acme", "uma", &w.acme_client, in_acme(*helpdesk)),
                    ("globex", "gus", &w.globex_client, in_globex(*helpdesk)),
                ] {
                    let path = path.replace("{t}", tenant).replace("{u}", user).replace("{c}", client);
                    let before = denials(s);
                    let (status, headers, problem) =
                        call(s, Some(token), method.clone(), &path, body.clone(), None).await;
                    if allowed {
                        assert_eq!(status, *ok, "{db:?}: {who} {method} {path}: {problem}");
                    } else {
                        assert_eq!(status, StatusCode::FORBIDDEN, "{db:?}: {who} {method} {path}");
                        assert_eq!(headers["content-type"], "application/problem+json");
                        assert_eq!(problem["title"], "Forbidden");
                        assert_eq!(denials(s), before + 1, "{db:?}: AC6: {who} {method} {path} audited");
                    }
                }
            }
            // The platform-wide audit log and the chain's verification: platform administrators.
            for path in ["/audit", "/audit/verify"] {
                let before = denials(s);
                let (status, _, _) = call(s, Some(token), Method::GET, path, None, None).await;
                if who == "platform" {
                    assert_eq!(status, StatusCode::OK, "{db:?}: {who} {path}");
                } else {
                    assert_eq!(status, StatusCode::FORBIDDEN, "{db:?}: {who} {path}");
                    assert_eq!(denials(s), before + 1, "{db:?}: AC6: {who} {path} audited");
                }
            }
        }
        // Creating: tenants by platform administrators only; users in reach.
        let new_tenant = json!({ "slug": "initech" });
        for (who, token, status) in
            [("tenant-admin", &w.tenant_admin, 403), ("helpdesk", &w.helpdesk, 403), ("platform", &w.platform, 201)]
        {
            let (got, _, _) = call(s, Some(token), Method::POST, "/tenants", Some(new_tenant.clone()), None).await;
            assert_eq!(got.as_u16(), status, "{db:?}: {who} creates a tenant");
        }
        let (_, _, list) = call(s, Some(&w.platform), Method::GET, "/tenants", None, None).await;
        assert_eq!(list["items"].as_array().unwrap().len(), 4, "{db:?}: platform, acme, globex, initech");
        let (_, _, list) = call(s, Some(&w.tenant_admin), Method::GET, "/tenants", None, None).await;
        let slugs: Vec<&str> = list["items"].as_array().unwrap().iter().map(|t| t["slug"].as_str().unwrap()).collect();
        assert_eq!(slugs, ["acme"], "{db:?}: AC1: a tenant administrator sees their own tenant only");
        // AC1: refused before lookup, so existence is not revealed; a platform admin gets 404.
        let (status, _, _) = call(s, Some(&w.tenant_admin), Method::GET, "/tenants/nowhere", None, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _, _) = call(s, Some(&w.platform), Method::GET, "/tenants/nowhere", None, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        // AC4: only accounts of a lower level.
        for (who, token, target) in [
            ("tenant-admin", &w.tenant_admin, "ted"),
            ("helpdesk", &w.helpdesk, "tara"),
            ("helpdesk", &w.helpdesk, "hank"),
        ] {
            let (status, _, _) =
                call(s, Some(token), Method::POST, &format!("/tenants/acme/users/{target}/mfa/reset"), None, None)
                    .await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{db:?}: {who} on {target}");
        }
        let peer = json!({ "username": "tim", "email": "tim@acme.example.com", "roles": ["tenant-admin"] });
        let (status, _, _) =
            call(s, Some(&w.tenant_admin), Method::POST, "/tenants/acme/users", Some(peer), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{db:?}: no tenant administrator makes another");
        let helper = json!({ "username": "tim", "email": "tim@acme.example.com", "roles": ["helpdesk"] });
        let (status, _, created) =
            call(s, Some(&w.tenant_admin), Method::POST, "/tenants/acme/users", Some(helper), None).await;
        assert_eq!(status, StatusCode::CREATED, "{db:?}: {created}");
        assert_eq!((created["invited"].as_bool(), created["level"].as_str()), (Some(true), Some("helpdesk")));
    }
}

#[actix_web::test]
async fn tokens_without_a_second_factor_the_audience_or_validity_are_refused() {
    for db in databases() {
        let w = world(&db).await;
        let s = &w.server;
        // A user's own token, password only: no second factor, and a user besides.
        let acme = w.acme_client.clone();
        let plain = token(s, "acme", &acme, "uma").await;
        let (status, headers, problem) = call(s, Some(&plain), Method::GET, "/tenants/acme/users", None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{db:?}");
        assert!(headers["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
        assert_eq!((problem["type"].as_str(), problem["status"].as_u64()), (Some("about:blank"), Some(401)));
        // No token; a tampered token.
        let (status, _, _) = call(s, None, Method::GET, "/tenants", None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let mut forged = w.tenant_admin.clone();
        forged.pop();
        forged.push(if w.tenant_admin.ends_with('A') { 'B' } else { 'A' });
        let (status, _, _) = call(s, Some(&forged), Method::GET, "/tenants", None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{db:?}: a bad signature");
        // An administrator's token for another audience (an ordinary application's).
        let app = crate::code_flow::spa(s, "acme", "App", true);
        let other = token(s, "acme", &app, "ted").await;
        let (status, _, _) = call(s, Some(&other), Method::GET, "/tenants", None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{db:?}: wrong audience");
        // A revoked token (RFC 7009) stops working at once.
        let res = s
            .client
            .post(s.url("/tenants/acme/revoke"))
            .form(&[("token", w.helpdesk.as_str()), ("client_id", &acme)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let (status, _, _) = call(s, Some(&w.helpdesk), Method::GET, "/tenants/acme/users", None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{db:?}: revoked");
        // A role taken away counts at once, whatever the token says.
        let (status, _, _) = call(s, Some(&w.tenant_admin), Method::GET, "/tenants/acme/users", None, None).await;
        assert_eq!(status, StatusCode::OK);
        let t = admin::require_tenant(&s.running.store, "acme").unwrap();
        let tara = admin::require_user(&s.running.store, &t.id, "tara").unwrap();
        admin::delete_user(&s.running.store, "acme", &tara.username, "test", UnixTime::now()).unwrap();
        let (status, _, _) = call(s, Some(&w.tenant_admin), Method::GET, "/tenants/acme/users", None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{db:?}: the user is gone");
    }
}

#[actix_web::test]
async fn users_page_by_cursor_and_changes_need_the_version_they_were_made_against() {
    for db in databases() {
        let w = world(&db).await;
        let s = &w.server;
        let t = &w.tenant_admin;
        // acme: hank, ted, tara, ulf, uma, una — two at a time, by username.
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let path = match &after {
                Some(a) => format!("/tenants/acme/users?limit=2&after={a}"),
                None => "/tenants/acme/users?limit=2".to_owned(),
            };
            let (status, _, page) = call(s, Some(t), Method::GET, &path, None, None).await;
            assert_eq!(status, StatusCode::OK, "{db:?}");
            seen.extend(page["items"].as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap().to_owned()));
            match page["next"].as_str() {
                Some(next) => after = Some(next.to_owned()),
                None => break,
            }
        }
        assert_eq!(seen, ["hank", "tara", "ted", "ulf", "uma", "una"], "{db:?}");
        let (_, _, found) = call(s, Some(t), Method::GET, "/tenants/acme/users?search=U%25", None, None).await;
        assert_eq!(found["items"].as_array().unwrap().len(), 0, "{db:?}: % is a character, not a wildcard");
        let (_, _, found) =
            call(s, Some(t), Method::GET, "/tenants/acme/users?search=ACME.EXAMPLE.COM&limit=100", None, None).await;
        assert_eq!(found["items"].as_array().unwrap().len(), 6, "{db:?}: e-mail, case-insensitively");
        let (_, _, found) = call(s, Some(t), Method::GET, "/tenants/acme/users?search=ul", None, None).await;
        assert_eq!(found["items"][0]["username"], "ulf");

        // If-Match: a policy change needs the ETag of what was read; a stale one is refused.
        let (_, headers, _) = call(s, Some(t), Method::GET, "/tenants/acme", None, None).await;
        let etag = headers["etag"].to_str().unwrap().to_owned();
        let change = json!({ "mfa": "required", "password_history": 8 });
        let (status, headers, tenant) =
            call(s, Some(t), Method::PATCH, "/tenants/acme/policy", Some(change.clone()), Some(&etag)).await;
        assert_eq!(status, StatusCode::OK, "{db:?}: {tenant}");
        assert_eq!(
            (tenant["policy"]["mfa"].as_str(), tenant["policy"]["password_history"].as_u64()),
            (Some("required"), Some(8))
        );
        assert_ne!(headers["etag"].to_str().unwrap(), etag);
        let (status, _, _) = call(s, Some(t), Method::PATCH, "/tenants/acme/policy", Some(change), Some(&etag)).await;
        assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{db:?}: the other administrator's stale copy");
        let (status, _, problem) = call(
            s,
            Some(t),
            Method::PATCH,
            "/tenants/acme/policy",
            Some(json!({ "mfa": "sometimes" })),
            Some(headers["etag"].to_str().unwrap()),
        )
        .await;
        assert_eq!(
            (status, problem["detail"].as_str()),
            (StatusCode::BAD_REQUEST, Some("mfa must be off, optional or required"))
        );
        let (status, _, problem) =
            call(s, Some(t), Method::PATCH, "/tenants/acme/policy", Some(json!({ "colour": "red" })), Some("x")).await;
        assert_eq!(
            (status, problem["title"].as_str()),
            (StatusCode::BAD_REQUEST, Some("Invalid request")),
            "{db:?}: unknown field"
        );

        // Deleting a user: the same rule.
        let (_, headers, _) = call(s, Some(t), Method::GET, "/tenants/acme/users/una", None, None).await;
        let etag = headers["etag"].to_str().unwrap().to_owned();
        let (status, _, _) = call(s, Some(t), Method::DELETE, "/tenants/acme/users/una", None, Some("W/\"0\"")).await;
        assert_eq!(status, StatusCode::PRECONDITION_FAILED);
        let (status, _, _) = call(s, Some(t), Method::DELETE, "/tenants/acme/users/una", None, Some(&etag)).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{db:?}");
        let (status, _, _) = call(s, Some(t), Method::GET, "/tenants/acme/users/una", None, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        // Bad input changes nothing and names the rule.
        let bad = json!({ "username": "Bad Name!", "email": "x@acme.example.com" });
        let (status, _, problem) = call(s, Some(t), Method::POST, "/tenants/acme/users", Some(bad), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{db:?}: {problem}");
        let dup = json!({ "username": "uma", "email": "other@acme.example.com" });
        let (status, _, _) = call(s, Some(t), Method::POST, "/tenants/acme/users", Some(dup), None).await;
        assert_eq!(status, StatusCode::CONFLICT);
    }
}

#[actix_web::test]
async fn the_openapi_document_parses_and_holds_every_route() {
    let db = gatehouse_testkit::TestDatabase::sqlite();
    let s = server(&db).await;
    let res = s.client.get(s.url("/api/v1/openapi.json")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.unwrap();
    let spec = oas3::from_json(&text).expect("an independent parser reads the document");
    assert!(spec.openapi.starts_with("3.1"), "{}", spec.openapi);
    let paths = spec.paths.expect("paths");
    for (method, path) in ROUTES {
        let item = paths.get(*path).unwrap_or_else(|| panic!("{path} is not in the document"));
        let op = match *method {
            "get" => &item.get,
            "post" => &item.post,
            "patch" => &item.patch,
            "delete" => &item.delete,
            "put" => &item.put,
            other => panic!("unexpected method {other}"),
        };
        assert!(op.is_some(), "{method} {path} is not in the document");
    }
    let operations: usize = paths
        .values()
        .map(|i| [&i.get, &i.post, &i.patch, &i.delete, &i.put].iter().filter(|o| o.is_some()).count())
        .sum();
    assert_eq!(operations, ROUTES.len(), "the document lists no route the server lacks");
    // The browsable reference draws the same document, served here with the page CSP.
    let res = s.client.get(s.url("/api/v1/reference")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-security-policy"].to_str().unwrap().starts_with("default-src 'none'"));
    let html = res.text().await.unwrap();
    for (method, path) in ROUTES {
        let heading = format!("<code>{} {}</code>", method.to_uppercase(), path);
        assert!(html.contains(&heading), "{heading} is in the reference");
    }
    assert!(html.contains("<code>client_credentials</code>") || html.contains("grant_types"), "body fields are listed");
    assert!(!html.contains("http://") && !html.contains("https://"), "no third-party requests or links");
}

/// The shell block of `docs/admin-api.md`, run as written against the real binary.
#[actix_web::test]
async fn the_documented_automation_example_works_as_written() {
    let doc = include_str!("../../docs/admin-api.md");
    let start = doc.find("```sh\n").expect("a shell block") + "```sh\n".len();
    let script = &doc[start..start + doc[start..].find("```").unwrap()];
    let db = gatehouse_testkit::TestDatabase::sqlite();
    let (dir, url) = (db.dir.path().to_owned(), db.url.clone());
    let gh = tokio::task::spawn_blocking(move || crate::support::BinaryServer::start(&dir, &url)).await.unwrap();
    let mut cmd = std::process::Command::new("bash");
    for (k, _) in std::env::vars() {
        if k.starts_with("GATEHOUSE_") {
            cmd.env_remove(k);
        }
    }
    cmd.arg("-euo")
        .arg("pipefail")
        .arg("-c")
        .arg(script)
        .env("BASE", &gh.base)
        .env("CA", gh.cert_path())
        .env("GATEHOUSE", env!("CARGO_BIN_EXE_gatehouse"))
        .env("GATEHOUSE_DATA_DIR", db.dir.path())
        .env("GATEHOUSE_DATABASE_URL", &db.url)
        .env("GATEHOUSE_PUBLIC_URL", &gh.base);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "the example failed: {}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    // curl prints the bodies back to back: the last JSON value is the page of users.
    let values: Vec<Value> = serde_json::Deserializer::from_str(&stdout).into_iter().collect::<Result<_, _>>().unwrap();
    assert_eq!(values.len(), 3, "a tenant, a user, a page: {stdout}");
    assert_eq!(values[0]["slug"], "acme");
    let page = &values[2];
    assert_eq!(page["items"][0]["username"], "alice", "{stdout}");
    assert_eq!(page["items"][0]["invited"], true);
}

/// A confidential client-credentials client of `tenant` for the API, with `roles`.
pub(crate) fn service_client(server: &TestServer, tenant: &str, name: &str, roles: &[&str]) -> (String, String) {
    let store = &server.running.store;
    let input = CreateClient {
        tenant: tenant.into(),
        name: name.into(),
        client_type: "confidential".into(),
        grant_types: vec!["client_credentials".into()],
        scope: "admin".into(),
        audiences: vec![api_audience()],
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        ..Default::default()
    };
    let created = admin::create_client(store, store.vault(), "test", &input, UnixTime::now()).unwrap();
    (created.client.client_id, created.client_secret.unwrap().expose().clone())
}

#[actix_web::test]
async fn service_clients_act_at_the_level_of_their_roles() {
    for db in databases() {
        let w = world(&db).await;
        let s = &w.server;
        let cc = |(id, secret): (String, String)| async move {
            let res = s
                .client
                .post(s.url("/tenants/acme/token"))
                .basic_auth(&id, Some(&secret))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .unwrap();
            let body: Value = res.json().await.unwrap();
            body["access_token"].as_str().unwrap().to_owned()
        };
        let admin_token = cc(service_client(s, "acme", "provisioning", &["tenant-admin"])).await;
        // AC5: the roles reach the token exactly as administered.
        assert_eq!(crate::mfa::payload_of(&admin_token)["roles"], json!(["tenant-admin"]), "{db:?}");
        let (status, _, _) = call(s, Some(&admin_token), Method::GET, "/tenants/acme/users", None, None).await;
        assert_eq!(status, StatusCode::OK, "{db:?}");
        let (status, _, _) =
            call(s, Some(&admin_token), Method::POST, "/tenants/acme/users/uma/mfa/reset", None, None).await;
        assert_eq!(status, StatusCode::OK, "{db:?}");
        let (status, _, _) = call(s, Some(&admin_token), Method::GET, "/tenants/globex/users", None, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{db:?}: another tenant");
        let records = s.running.store.audit_page(0, 100_000).unwrap();
        let reset = records.iter().rev().find(|r| r.action == "user.mfa_reset").expect("the reset is audited");
        assert!(reset.actor.starts_with("client:"), "{db:?}: the service client is the actor: {}", reset.actor);
        // A client without an administrative role administers nothing.
        let plain = cc(service_client(s, "acme", "reports", &[])).await;
        let (status, _, _) = call(s, Some(&plain), Method::GET, "/tenants/acme/users", None, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{db:?}");
        // Roles are for service clients only; platform-admin only in the platform tenant.
        let store = &s.running.store;
        for (tenant, kind, grants, role) in [
            ("acme", "public", vec!["authorization_code"], "tenant-admin"),
            ("acme", "confidential", vec!["client_credentials"], "platform-admin"),
        ] {
            let input = CreateClient {
                tenant: tenant.into(),
                name: format!("bad-{kind}-{role}"),
                client_type: kind.into(),
                redirect_uris: vec![REDIRECT.into()],
                grant_types: grants.into_iter().map(str::to_owned).collect(),
                scope: "admin".into(),
                roles: vec![role.into()],
                ..Default::default()
            };
            let refused = admin::create_client(store, store.vault(), "test", &input, UnixTime::now());
            assert!(matches!(refused, Err(admin::AdminError::Invalid(_))), "{db:?}: {kind} {role}: {refused:?}");
        }
    }
}
