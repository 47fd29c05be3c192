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

/// A relying party's back-channel logout endpoint: every logout token it receives, with the
/// client it was for (`/bc/{name}`).
struct BackchannelRp {
    port: u16,
    received: tokio::sync::mpsc::UnboundedReceiver<(String, String)>,
    handle: actix_web::dev::ServerHandle,
}

impl BackchannelRp {
    fn start() -> Self {
        use actix_web::{App, HttpServer, web};
        let (tx, received) = tokio::sync::mpsc::unbounded_channel();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = HttpServer::new(move || {
            let tx = tx.clone();
            App::new().route(
                "/bc/{name}",
                web::post().to(
                    move |name: web::Path<String>, form: web::Form<std::collections::HashMap<String, String>>| {
                        let _ = tx.send((name.into_inner(), form.get("logout_token").cloned().unwrap_or_default()));
                        async { actix_web::HttpResponse::Ok().finish() }
                    },
                ),
            )
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Self { port, received, handle }
    }

    fn uri(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/bc/{name}", self.port)
    }

    /// The names of the clients told of the next `n` logouts, sorted, with the `sid` each
    /// token names.
    async fn next(&mut self, n: usize) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for _ in 0..n {
            let (name, token) = tokio::time::timeout(std::time::Duration::from_secs(15), self.received.recv())
                .await
                .expect("a logout token arrives")
                .unwrap();
            let claims = jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(&token).unwrap().claims;
            out.push((name, claims["sid"].as_str().unwrap().to_owned()));
        }
        out.sort();
        out
    }
}

/// A first-party public client of `acme` with refresh tokens and a back-channel URI.
fn bc_client(server: &crate::support::TestServer, name: &str, rp: &BackchannelRp) -> String {
    use gatehouse_core::admin::{self, CreateClient};
    let store = &server.running.store;
    let input = CreateClient {
        tenant: "acme".into(),
        name: name.into(),
        client_type: "public".into(),
        redirect_uris: vec![crate::code_flow::REDIRECT.into()],
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        scope: "openid offline_access".into(),
        first_party: true,
        backchannel_logout_uri: Some(rp.uri(name)),
        ..Default::default()
    };
    admin::create_client(store, store.vault(), "test", &input, gatehouse_core::UnixTime::now())
        .unwrap()
        .client
        .client_id
}

/// Signs `b` in to `client` (or reuses its session) and returns the tokens.
async fn tokens_for(server: &crate::support::TestServer, b: &reqwest::Client, client: &str) -> serde_json::Value {
    use crate::code_flow::{REDIRECT, VERIFIER, exchange, location_params, param, submit_login};
    let extra = [("scope", "openid offline_access")];
    let res = b.get(authorize_url(server, "acme", client, &extra)).send().await.unwrap();
    let res = if res.status() == StatusCode::OK {
        let page = res.text().await.unwrap();
        submit_login(server, b, "acme", &page, "alice", PASSWORD).await
    } else {
        res
    };
    let code = param(&location_params(&res).1, "code").unwrap().to_owned();
    exchange(server, "acme", client, &code, VERIFIER, REDIRECT).await.json().await.unwrap()
}

/// S6: every client that took part in a session hears of its end, however long ago it signed
/// in (its codes purged), however the session ends (logout, an operator's password reset in
/// another process, a binding mismatch), and its refresh token dies with the session.
#[actix_web::test]
async fn every_client_of_a_session_is_told_of_its_end_however_it_ends() {
    use crate::code_flow::refresh;
    use gatehouse_core::admin::{self, CreateTenant};
    for db in databases() {
        let mut rp = BackchannelRp::start();
        let env = [
            ("GATEHOUSE_CACHE_TTL_SECS", "0"),
            ("GATEHOUSE_OUTBOX_POLL_SECS", "1"),
            ("GATEHOUSE_TRUSTED_PROXIES", "127.0.0.1"),
        ];
        let server = crate::support::TestServer::start_with(crate::support::config(&db, &env), None).await;
        let store = &server.running.store;
        let input = CreateTenant { slug: "acme".into(), bind_sessions: true, ..Default::default() };
        admin::create_tenant(store, "test", &input, gatehouse_core::UnixTime::now()).unwrap();
        user(&server, "acme", "alice");
        let (early, late) = (bc_client(&server, "early", &rp), bc_client(&server, "late", &rp));

        // Logout: the early client's codes are long purged when the session ends.
        let b = browser(&server);
        let early_tokens = tokens_for(&server, &b, &early).await;
        db.execute("DELETE FROM auth_codes");
        let late_tokens = tokens_for(&server, &b, &late).await;
        let sid =
            jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(late_tokens["id_token"].as_str().unwrap())
                .unwrap()
                .claims["sid"]
                .as_str()
                .unwrap()
                .to_owned();
        let hint = late_tokens["id_token"].as_str().unwrap();
        let res = b.get(server.url("/tenants/acme/logout")).query(&[("id_token_hint", hint)]).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);

        assert_eq!(rp.next(2).await, [("early".into(), sid.clone()), ("late".into(), sid)], "{db:?}: logout");
        for (client, tokens) in [(&early, &early_tokens), (&late, &late_tokens)] {
            let rt = tokens["refresh_token"].as_str().unwrap();
            assert_eq!(refresh(&server, "acme", client, rt).await.status(), StatusCode::BAD_REQUEST, "{db:?}");
        }

        // An operator's password reset, from the CLI process: delivered by the server's poll.
        let b = browser(&server);
        let tokens = tokens_for(&server, &b, &early).await;
        let out = crate::support::gatehouse(
            &db,
            &["user", "reset-password", "--tenant", "acme", "--username", "alice", "--password-stdin", "--json"],
            Some("marmalade-quartz-violet"),
        );
        crate::support::json_ok(&out);
        let told = rp.next(1).await;
        assert_eq!(told[0].0, "early", "{db:?}: password reset");
        let rt = tokens["refresh_token"].as_str().unwrap();
        assert_eq!(refresh(&server, "acme", &early, rt).await.status(), StatusCode::BAD_REQUEST, "{db:?}");

        // S5: a session presented from another address ends, and its clients hear of it.
        let admin_reset = |pw: &str| {
            let out = crate::support::gatehouse(
                &db,
                &["user", "reset-password", "--tenant", "acme", "--username", "alice", "--password-stdin", "--json"],
                Some(pw),
            );
            crate::support::json_ok(&out);
        };
        admin_reset(PASSWORD);
        let b = browser(&server);
        tokens_for(&server, &b, &late).await;
        let res = b
            .get(authorize_url(&server, "acme", &late, &[("prompt", "none"), ("scope", "openid")]))
            .header("X-Forwarded-For", "203.0.113.7")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(rp.next(1).await[0].0, "late", "{db:?}: binding mismatch");
        rp.handle.stop(false).await;
    }
}

/// The session cookie's value in a response, if it sets `name`.
fn set_cookie(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(|c| c.split(';').next().unwrap_or_default().trim_start_matches(&format!("{name}=")).to_owned())
}

/// Whether a browser that presents only `cookie` as tenant `slug`'s session is signed in.
async fn signed_in_with(server: &crate::support::TestServer, slug: &str, client: &str, cookie: &str) -> bool {
    use crate::code_flow::{location_params, param};
    let res = crate::support::https_client(&server.cert_pem)
        .get(authorize_url(server, slug, client, &[("prompt", "none")]))
        .header("Cookie", format!("__Host-gh_session_{slug}={cookie}"))
        .send()
        .await
        .unwrap();
    param(&location_params(&res).1, "code").is_some()
}

/// S2, S6: each tenant has its own session cookie: signing in to one leaves the other's
/// session alone, and logging out of one (even confirmed) ends and clears only its own.
#[actix_web::test]
async fn each_tenant_has_its_own_session_cookie() {
    use crate::code_flow::{location_params, param, submit_login};
    let db = gatehouse_testkit::TestDatabase::sqlite();
    let server = server(&db).await;
    let mut clients = Vec::new();
    let b = browser(&server);
    let mut cookies = Vec::new();
    for slug in ["acme", "globex"] {
        tenant(&server, slug);
        user(&server, slug, "alice");
        let client = spa(&server, slug, "Web App", true);
        let page = b.get(authorize_url(&server, slug, &client, &[])).send().await.unwrap().text().await.unwrap();
        let res = submit_login(&server, &b, slug, &page, "alice", PASSWORD).await;
        cookies.push(set_cookie(&res, &format!("__Host-gh_session_{slug}")).expect("a cookie named after the tenant"));
        clients.push(client);
    }
    let signed_in = |i: usize| {
        let (slug, client) = (["acme", "globex"][i], clients[i].clone());
        let b = b.clone();
        let server = &server;
        async move {
            let res = b.get(authorize_url(server, slug, &client, &[("prompt", "none")])).send().await.unwrap();
            param(&location_params(&res).1, "code").is_some()
        }
    };
    assert!(signed_in(0).await && signed_in(1).await, "signing in to globex kept acme's session");

    // A logout request for globex without a hint asks first, and changes nothing yet.
    let res = b.get(server.url("/tenants/globex/logout")).send().await.unwrap();
    assert!(
        set_cookie(&res, "__Host-gh_session_acme").is_none() && set_cookie(&res, "__Host-gh_session_globex").is_none()
    );
    let page = res.text().await.unwrap();
    assert!(signed_in(0).await && signed_in(1).await);
    let confirm = hidden(&page, "confirm");
    let res = b.post(server.url("/tenants/globex/logout")).form(&[("confirm", confirm)]).send().await.unwrap();
    assert_eq!(set_cookie(&res, "__Host-gh_session_globex").as_deref(), Some(""), "globex's cookie cleared");
    assert!(set_cookie(&res, "__Host-gh_session_acme").is_none(), "acme's cookie untouched");
    assert!(signed_in(0).await, "acme's session lives on");
    assert!(!signed_in(1).await, "globex's session ended");
    assert!(signed_in_with(&server, "acme", &clients[0], &cookies[0]).await);
    assert!(!signed_in_with(&server, "globex", &clients[1], &cookies[1]).await);
}

/// S1: only the hash of a session id is stored. S3: signing in again replaces the id (same
/// user: the session is renewed under a new id, so the old one is dead; another user: the
/// previous session ends).
#[actix_web::test]
async fn a_new_sign_in_replaces_the_session_id() {
    use crate::code_flow::submit_login;
    for db in databases() {
        let server = server(&db).await;
        tenant(&server, "acme");
        user(&server, "acme", "alice");
        user(&server, "acme", "bob");
        let client = spa(&server, "acme", "Web App", true);
        let b = browser(&server);
        let name = "__Host-gh_session_acme";
        let login = async |username: &str, extra: &[(&str, &str)]| {
            let page =
                b.get(authorize_url(&server, "acme", &client, extra)).send().await.unwrap().text().await.unwrap();
            set_cookie(&submit_login(&server, &b, "acme", &page, username, PASSWORD).await, name).unwrap()
        };
        let first = login("alice", &[]).await;
        let dump = db_dump(&db);
        assert!(!dump.contains(&first), "{db:?}: the id itself is not stored");
        assert!(dump.contains(&hex(&gatehouse_core::flow::secret_hash(&first))), "{db:?}: its hash is");

        let second = login("alice", &[("prompt", "login")]).await;
        assert_ne!(first, second);
        assert!(!signed_in_with(&server, "acme", &client, &first).await, "{db:?}: the old id is dead");
        assert!(signed_in_with(&server, "acme", &client, &second).await, "{db:?}");

        let third = login("bob", &[("prompt", "login")]).await;
        assert!(!signed_in_with(&server, "acme", &client, &second).await, "{db:?}: alice's session ended");
        assert!(signed_in_with(&server, "acme", &client, &third).await, "{db:?}");
        let records = server.running.store.audit_page(0, 10_000).unwrap();
        assert!(records.iter().any(|r| r.action == "logout" && r.details.contains("another user signed in")));
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every session row, as text (ids hex-encoded), for looking for a value at rest.
fn db_dump(db: &gatehouse_testkit::TestDatabase) -> String {
    let hex = if db.backend == "postgres" { "encode(id_hash, 'hex')" } else { "lower(hex(id_hash))" };
    db.query_text(&format!("SELECT sid || ' ' || user_id || ' ' || {hex} AS row FROM sessions")).join("\n")
}

/// IO1, A8: usernames are one whatever their case or Unicode compatibility form: stored
/// normalized, unique in that form, found in it at sign-in and by the CLI.
#[actix_web::test]
async fn usernames_are_case_insensitive() {
    use crate::code_flow::submit_login;
    use crate::support::{gatehouse, json_ok, refused};
    for db in databases() {
        let server = server(&db).await;
        tenant(&server, "acme");
        let create = |name: &str, email: &str| {
            let args = ["user", "create", "--tenant", "acme", "--username", name, "--email", email, "--password-stdin"];
            gatehouse(&db, &[&args[..], &["--json"]].concat(), Some(PASSWORD))
        };
        let created = json_ok(&create("Alice", "a1@example.com"));
        assert_eq!(created["username"], "alice", "{db:?}: stored normalized");
        refused(&create("ALICE", "a2@example.com"), "username already exists");
        refused(&create("\u{ff41}lice", "a3@example.com"), "username already exists");
        let client = spa(&server, "acme", "Web App", true);
        let b = browser(&server);
        let page = b.get(authorize_url(&server, "acme", &client, &[])).send().await.unwrap().text().await.unwrap();
        let res = submit_login(&server, &b, "acme", &page, "ALICE", PASSWORD).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{db:?}: signs in whatever the case");
        json_ok(&gatehouse(&db, &["user", "unlock", "--tenant", "acme", "--username", "aLiCe", "--json"], None));
    }
}

/// The usernames migration refuses to run while two accounts of a tenant differ only in case,
/// naming them and changing nothing; once one is gone it runs.
#[actix_web::test]
async fn the_usernames_migration_refuses_accounts_that_differ_only_in_case() {
    use crate::support::{gatehouse, json_ok, refused};
    for db in databases() {
        json_ok(&gatehouse(&db, &["tenant", "create", "acme", "--json"], None));
        let tenant_id = db.query_text("SELECT id AS row FROM tenants WHERE slug = 'acme'").remove(0);
        for (id, name) in [("u1", "alice"), ("u2", "Alice"), ("u3", "Bob")] {
            db.execute(&format!(
                "INSERT INTO users (id, tenant_id, username, email, password_hash, must_change_password, disabled, created_at) \
                 VALUES ('{id}', '{tenant_id}', '{name}', '{id}@example.com', NULL, false, false, 0)"
            ));
        }
        db.execute("DELETE FROM __diesel_schema_migrations WHERE version = '20261204000010'");
        let out = gatehouse(&db, &["migrate", "--json"], None);
        refused(&out, "acme/alice");
        assert!(!String::from_utf8_lossy(&out.stderr).contains("bob"), "{db:?}: only the colliding names");
        let names = db.query_text("SELECT username AS row FROM users WHERE tenant_id <> '' ORDER BY id");
        assert!(names.contains(&"Alice".to_owned()) && names.contains(&"Bob".to_owned()), "{db:?}: nothing changed");

        db.execute("DELETE FROM users WHERE id = 'u2'");
        json_ok(&gatehouse(&db, &["migrate", "--json"], None));
        let names = db.query_text("SELECT username AS row FROM users WHERE id IN ('u1', 'u3') ORDER BY id");
        assert_eq!(names, ["alice", "bob"], "{db:?}");
    }
}

/// D1, OP1: production refuses a TLS private key, a data directory or a SQLite file that group
/// or others can use, as it refuses such a master key; development makes its own private.
#[test]
fn production_refuses_shared_keys_and_data() {
    use std::os::unix::fs::PermissionsExt;

    use base64::Engine;

    use crate::support::{gatehouse_in, json_ok, refused, write_cert};
    let chmod =
        |p: &std::path::Path, mode: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let db = gatehouse_testkit::TestDatabase::sqlite();
    let dir = db.dir.path();
    // Development: a database file created under a permissive umask is made private.
    json_ok(&gatehouse_in(dir, &db.url, &["tenant", "create", "acme", "--json"], None, &[]));
    let db_file = dir.join("gatehouse.db");
    assert_eq!(mode(&db_file), 0o600, "development makes the database file private");

    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = write_cert(certs.path(), "prod");
    let master = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    let prod = [
        ("GATEHOUSE_MODE", "production"),
        ("GATEHOUSE_TLS_CERT", cert.to_str().unwrap()),
        ("GATEHOUSE_TLS_KEY", key.to_str().unwrap()),
        ("GATEHOUSE_MASTER_KEY", master.as_str()),
    ];
    let list = ["tenant", "create", "globex", "--json"];
    chmod(dir, 0o755);
    refused(&gatehouse_in(dir, &db.url, &list, None, &prod), "data directory");
    chmod(dir, 0o700);
    chmod(&db_file, 0o644);
    refused(&gatehouse_in(dir, &db.url, &list, None, &prod), "SQLite database file");
    assert_eq!(mode(&db_file), 0o644, "production refuses, it does not repair");
    chmod(&db_file, 0o600);
    // The master key of the development run is not the production one: a fresh database.
    let prod_db = gatehouse_testkit::TestDatabase::sqlite();
    let prod_dir = prod_db.dir.path();
    chmod(prod_dir, 0o700);
    chmod(&key, 0o644);
    let serve = gatehouse_in(
        prod_dir,
        &prod_db.url,
        &["serve"],
        None,
        &[&prod[..], &[("GATEHOUSE_HTTPS_ADDR", "127.0.0.1:0"), ("GATEHOUSE_HTTP_ADDR", "")]].concat(),
    );
    refused(&serve, "TLS private key");
    chmod(&key, 0o600);
    json_ok(&gatehouse_in(prod_dir, &prod_db.url, &list, None, &prod));
}

/// L4: readiness commits a write through the audit writer, so a database that answers reads
/// but takes no writes (here: its write lock held elsewhere) is not ready; once it takes
/// writes again, it is.
#[actix_web::test]
async fn readiness_needs_a_database_that_takes_writes() {
    for db in databases() {
        let server = server(&db).await;
        let ready = || async { server.client.get(server.url("/readyz")).send().await.unwrap().status() };
        assert_eq!(ready().await, StatusCode::OK, "{db:?}");
        let lock = db.lock_writes();
        assert_eq!(ready().await, StatusCode::SERVICE_UNAVAILABLE, "{db:?}: writes are blocked");
        let healthz = server.client.get(server.url("/healthz")).send().await.unwrap().status();
        assert_eq!(healthz, StatusCode::OK, "{db:?}: alive all the same");
        drop(lock);
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
        while ready().await != StatusCode::OK {
            assert!(tokio::time::Instant::now() < deadline, "{db:?}: ready again once writes go through");
        }
    }
}

/// IO2: what an administrator or a request puts on a page is escaped: a tenant's display name
/// and a reflected `login_hint` full of markup arrive as text, never as markup.
#[actix_web::test]
async fn page_output_is_escaped() {
    use gatehouse_core::admin::{self, CreateTenant};
    let db = gatehouse_testkit::TestDatabase::sqlite();
    let server = server(&db).await;
    let name = "Acme <script>alert(\"x\")</script> & Co";
    let input = CreateTenant { slug: "acme".into(), display_name: Some(name.into()), ..Default::default() };
    admin::create_tenant(&server.running.store, "test", &input, gatehouse_core::UnixTime::now()).unwrap();
    let client = spa(&server, "acme", "Web App", true);
    let hint = "\"><img src=x onerror=alert(1)>";
    let page = browser(&server)
        .get(authorize_url(&server, "acme", &client, &[("login_hint", hint)]))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains("<script>alert") && !page.contains("<img src=x"), "{page}");
    assert!(page.contains("Acme &#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62; &#38; Co"), "{page}");
    assert!(page.contains("value=\"&#34;&#62;&#60;img src=x onerror=alert(1)&#62;\""), "{page}");
}

/// L2: the running server's own log, at trace level, of a whole session — sign-in with a
/// password, code, tokens, refresh, userinfo, client credentials with a secret, introspection,
/// revocation, logout — holds none of the secrets that went through it.
#[actix_web::test]
async fn the_server_log_of_a_full_run_holds_no_secret() {
    use crate::code_flow::{REDIRECT, VERIFIER, hidden, location_params, param};
    use crate::support::{BinaryServer, https_client};
    let db = gatehouse_testkit::TestDatabase::sqlite();
    let (dir, url) = (db.dir.path().to_owned(), db.url.clone());
    let env = [("GATEHOUSE_LOG", "trace"), ("GATEHOUSE_LOG_FORMAT", "json")];
    let gh = tokio::task::spawn_blocking(move || BinaryServer::start_with(&dir, &url, &env)).await.unwrap();
    let cli = |args: &[&str], stdin: Option<&str>| gh.cli_json(&db.url, args, stdin);
    cli(&["tenant", "create", "acme", "--json"], None);
    cli(
        &[
            "user",
            "create",
            "--tenant",
            "acme",
            "--username",
            "alice",
            "--email",
            "a@example.com",
            "--password-stdin",
            "--json",
        ],
        Some(PASSWORD),
    );
    let spa = cli(
        &[
            "client",
            "create",
            "--tenant",
            "acme",
            "--name",
            "Web App",
            "--type",
            "public",
            "--redirect-uri",
            REDIRECT,
            "--grant",
            "authorization_code",
            "refresh_token",
            "--scope",
            "openid profile offline_access",
            "--first-party",
            "--json",
        ],
        None,
    )["client_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let backend = cli(
        &[
            "client",
            "create",
            "--tenant",
            "acme",
            "--name",
            "Reports",
            "--type",
            "confidential",
            "--grant",
            "client_credentials",
            "--scope",
            "reports:read",
            "--json",
        ],
        None,
    );
    let (backend_id, backend_secret) =
        (backend["client_id"].as_str().unwrap(), backend["client_secret"].as_str().unwrap());

    let issuer = format!("{}/tenants/acme", gh.base);
    let cert = reqwest::Certificate::from_pem(&gh.cert_pem).unwrap();
    let b = reqwest::Client::builder()
        .tls_certs_only([cert])
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let challenge = gatehouse_core::flow::pkce::challenge_s256(VERIFIER);
    let authorize = format!(
        "{issuer}/authorize?response_type=code&client_id={spa}&redirect_uri={}&scope=openid%20profile%20offline_access&state=s&nonce=n&code_challenge={challenge}&code_challenge_method=S256",
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
    );
    let page = b.get(&authorize).send().await.unwrap().text().await.unwrap();
    let (request_id, csrf) = (hidden(&page, "request_id"), hidden(&page, "csrf"));
    let form =
        [("request_id", request_id.as_str()), ("csrf", csrf.as_str()), ("username", "alice"), ("password", PASSWORD)];
    let res = b.post(format!("{issuer}/login")).header("Origin", gh.base.as_str()).form(&form).send().await.unwrap();
    let mut secrets = vec![PASSWORD.to_owned(), backend_secret.to_owned(), csrf.clone(), VERIFIER.to_owned()];
    for c in res.headers().get_all("set-cookie") {
        let value = c.to_str().unwrap().split(';').next().unwrap().split_once('=').unwrap().1.to_owned();
        if !value.is_empty() {
            secrets.push(value);
        }
    }
    let code = param(&location_params(&res).1, "code").unwrap().to_owned();
    secrets.push(code.clone());
    let http = https_client(&gh.cert_pem);
    let token = format!("{issuer}/token");
    let tokens: serde_json::Value = http
        .post(&token)
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", &spa),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let refreshed: serde_json::Value = http
        .post(&token)
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ("client_id", &spa),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let at = refreshed["access_token"].as_str().unwrap();
    assert_eq!(http.get(format!("{issuer}/userinfo")).bearer_auth(at).send().await.unwrap().status(), StatusCode::OK);
    let cc: serde_json::Value = http
        .post(&token)
        .basic_auth(backend_id, Some(backend_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let introspected = http
        .post(format!("{issuer}/introspect"))
        .basic_auth(backend_id, Some(backend_secret))
        .form(&[("token", at)])
        .send()
        .await
        .unwrap();
    assert_eq!(introspected.status(), StatusCode::OK);
    let revoked = http
        .post(format!("{issuer}/revoke"))
        .form(&[("token", refreshed["refresh_token"].as_str().unwrap()), ("client_id", &spa)])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    let logout = b
        .get(format!("{issuer}/logout"))
        .query(&[("id_token_hint", refreshed["id_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::OK);
    for t in [&tokens, &refreshed] {
        for field in ["access_token", "refresh_token", "id_token"] {
            secrets.push(t[field].as_str().unwrap().to_owned());
        }
    }
    secrets.push(cc["access_token"].as_str().unwrap().to_owned());

    let log = gh.log_lines("");
    assert!(log.len() > 50, "a trace-level log: {} lines", log.len());
    assert!(log.iter().any(|l| l.contains("\"request_id\"")), "the log names requests");
    assert!(log.iter().any(|l| l.contains("/tenants/acme/token")), "the scan sees what the requests were");
    for secret in &secrets {
        // JWTs: their signature part alone is already unique.
        let needle = secret.rsplit('.').next().unwrap_or(secret);
        assert!(needle.len() >= 16, "a distinctive needle");
        let found: Vec<&String> = log.iter().filter(|l| l.contains(needle)).collect();
        assert!(found.is_empty(), "L2: a secret in the server log: {found:#?}");
    }
}

/// O2: a code lives 60 seconds: stored to expire a minute after issue, and refused (never
/// redeemed) once that minute is over.
#[actix_web::test]
async fn a_code_expires_after_sixty_seconds() {
    use crate::code_flow::{REDIRECT, VERIFIER, exchange, login_for_code};
    for db in databases() {
        let server = server(&db).await;
        tenant(&server, "acme");
        user(&server, "acme", "alice");
        let client = spa(&server, "acme", "Web App", true);
        let b = browser(&server);
        let issued_at = gatehouse_core::UnixTime::now().0;
        let code = login_for_code(&server, &b, "acme", &client, "alice").await;
        let expiry: i64 =
            db.query_text("SELECT CAST(expires_at AS TEXT) AS row FROM auth_codes").remove(0).parse().unwrap();
        assert!((issued_at + 60..=issued_at + 62).contains(&expiry), "{db:?}: {expiry} vs {issued_at}");
        // The minute passes.
        db.execute("UPDATE auth_codes SET expires_at = expires_at - 61");
        let res = exchange(&server, "acme", &client, &code, VERIFIER, REDIRECT).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{db:?}");
        assert_eq!(res.json::<serde_json::Value>().await.unwrap()["error"], "invalid_grant");
        // A fresh one is redeemed: the refusal was the expiry's.
        let res = b.get(authorize_url(&server, "acme", &client, &[])).send().await.unwrap();
        let code = crate::code_flow::param(&crate::code_flow::location_params(&res).1, "code").unwrap().to_owned();
        assert_eq!(exchange(&server, "acme", &client, &code, VERIFIER, REDIRECT).await.status(), StatusCode::OK);
    }
}
