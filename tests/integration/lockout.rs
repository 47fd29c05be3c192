//! A4: repeated sign-in failures lock the account, the lock answers like a wrong password,
//! it is audited, and an administrator can lift it; sign-in and token requests are limited
//! per client IP.

use gatehouse_core::admin;
use gatehouse_core::store::{AuditStore, LockoutStore, TenantStore};
use gatehouse_testkit::{TestDatabase, databases};
use reqwest::StatusCode;
use serde_json::Value;

use crate::code_flow::{PASSWORD, authorize_url, browser, spa, submit_login, user};
use crate::oauth::{backend_client, cc_token, server, tenant};
use crate::support::{TestServer, config};

/// One sign-in attempt from a fresh login page; the status and whether the page is the
/// generic failure.
async fn attempt(server: &TestServer, b: &reqwest::Client, spa: &str, password: &str) -> (StatusCode, bool) {
    let html = b.get(authorize_url(server, "acme", spa, &[])).send().await.unwrap().text().await.unwrap();
    let res = submit_login(server, b, "acme", &html, "alice", password).await;
    let status = res.status();
    (status, res.text().await.unwrap().contains("Invalid username or password."))
}

#[actix_web::test]
async fn five_wrong_passwords_lock_the_account_and_the_lock_looks_like_a_wrong_password() {
    for db in databases() {
        let server = server(&db).await;
        tenant(&server, "acme");
        let alice = user(&server, "acme", "alice");
        let spa = spa(&server, "acme", "Web App", true);
        let b = browser(&server);
        let store = &server.running.store;
        let tenant_id = store.tenant_by_slug("acme").unwrap().unwrap().id;

        // A success clears earlier failures: four, a success, four more do not lock.
        for _ in 0..4 {
            assert_eq!(attempt(&server, &b, &spa, "wrong-guess").await, (StatusCode::UNAUTHORIZED, true));
        }
        assert_eq!(attempt(&server, &b, &spa, PASSWORD).await.0, StatusCode::SEE_OTHER, "{db:?}");
        assert_eq!(store.lockout(&tenant_id, &alice).unwrap(), Default::default(), "{db:?}: cleared");
        let b = browser(&server);
        for _ in 0..5 {
            assert_eq!(attempt(&server, &b, &spa, "wrong-guess").await, (StatusCode::UNAUTHORIZED, true));
        }
        // Locked: the right password gets exactly the wrong-password answer.
        assert_eq!(attempt(&server, &b, &spa, PASSWORD).await, (StatusCode::UNAUTHORIZED, true), "{db:?}");
        let records = store.audit_page(0, 10_000).unwrap();
        assert_eq!(records.iter().filter(|r| r.action == "account.lockout").count(), 1, "{db:?}");
        assert!(records.iter().any(|r| r.action == "login" && r.outcome == "denied"), "{db:?}: refusal audited");

        // An administrator lifts it (audited); the right password works again.
        assert!(admin::unlock_user(store, "acme", "alice", "cli:test").unwrap(), "{db:?}");
        assert!(!admin::unlock_user(store, "acme", "alice", "cli:test").unwrap(), "{db:?}: nothing left to lift");
        // AC6: both attempts are recorded; the second says it lifted nothing.
        let records = store.audit_page(0, 10_000).unwrap();
        let unlocks: Vec<_> = records.iter().filter(|r| r.action == "account.unlock").collect();
        assert_eq!(unlocks.len(), 2, "{db:?}");
        assert!(unlocks[1].details.contains("\"cleared\":false"), "{db:?}: {}", unlocks[1].details);
        assert_eq!(attempt(&server, &b, &spa, PASSWORD).await.0, StatusCode::SEE_OTHER, "{db:?}");
    }
}

/// A4 under concurrency: 24 wrong passwords and the right one sent at once. At most the
/// threshold of passwords is checked, no session is created after the lockout was recorded,
/// and the stored state is exactly what the checked attempts say.
#[actix_web::test]
async fn a_burst_of_guesses_cannot_outrun_the_lock() {
    for db in databases() {
        let server = TestServer::start_with(config(&db, &[("GATEHOUSE_WORKERS", "2")]), None).await;
        tenant(&server, "acme");
        let alice = user(&server, "acme", "alice");
        let spa = spa(&server, "acme", "Web App", true);
        let mut attempts = Vec::new();
        for i in 0..25 {
            let b = browser(&server);
            let html = b.get(authorize_url(&server, "acme", &spa, &[])).send().await.unwrap().text().await.unwrap();
            attempts.push((b, html, if i == 12 { PASSWORD } else { "wrong-guess" }));
        }
        let answers = futures_util::future::join_all(
            attempts.iter().map(|(b, html, password)| submit_login(&server, b, "acme", html, "alice", password)),
        )
        .await;
        let redirects = answers.iter().filter(|r| r.status() == StatusCode::SEE_OTHER).count();
        assert!(answers.iter().all(|r| [StatusCode::SEE_OTHER, StatusCode::UNAUTHORIZED].contains(&r.status())));

        let store = &server.running.store;
        let records = store.audit_page(0, 10_000).unwrap();
        let logins: Vec<_> = records.iter().filter(|r| r.action == "login").collect();
        assert_eq!(logins.len(), 25, "{db:?}: every attempt audited");
        let checked_wrong = logins.iter().filter(|r| r.outcome == "failure").count();
        let successes: Vec<i64> = logins.iter().filter(|r| r.outcome == "success").map(|r| r.seq).collect();
        let lockouts: Vec<i64> = records.iter().filter(|r| r.action == "account.lockout").map(|r| r.seq).collect();
        assert_eq!(successes.len(), redirects, "{db:?}: one session per success");
        // Five wrong passwords in a row lock the account; the right one (before the lock) resets
        // the row, so with a success at most four before it and five after it are checked.
        let allowed = if successes.is_empty() { 5 } else { 4 + 5 };
        assert!(checked_wrong <= allowed, "{db:?}: {checked_wrong} wrong passwords checked, the lock allows {allowed}");
        assert!(successes.len() <= 1 && lockouts.len() <= 1, "{db:?}");
        if let (Some(success), Some(lockout)) = (successes.first(), lockouts.first()) {
            assert!(success < lockout, "{db:?}: a session after the lockout was recorded");
        }
        let tenant_id = store.tenant_by_slug("acme").unwrap().unwrap().id;
        let state = store.lockout(&tenant_id, &alice).unwrap();
        assert_eq!(state.in_flight, 0, "{db:?}: every admission decided");
        if !lockouts.is_empty() {
            assert!(state.locked_until.is_some() && state.failures == 0, "{db:?}: {state:?}");
        }
        if successes.is_empty() {
            // Nothing reset the count: every checked wrong password counted, or became the lock.
            let expected = if lockouts.is_empty() { checked_wrong } else { 0 };
            assert_eq!(state.failures as usize, expected, "{db:?}: counts exact");
            assert!(lockouts.is_empty() || checked_wrong == 5, "{db:?}: locked by exactly five failures");
        } else {
            // The success reset the count. Among concurrent requests the audit log's order need
            // not be the order the database applied the counts in, so only the bound holds.
            assert!(state.failures as usize <= checked_wrong, "{db:?}: {state:?}, {checked_wrong} checked");
        }
    }
}

/// The `Retry-After` seconds of a 429.
fn retry_after(res: &reqwest::Response) -> u64 {
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    res.headers()["retry-after"].to_str().unwrap().parse().unwrap()
}

#[actix_web::test]
async fn sign_in_and_token_requests_are_limited_per_client_ip() {
    let db = TestDatabase::sqlite();
    let limits = [
        ("GATEHOUSE_LOGIN_ATTEMPTS_PER_MINUTE", "3"),
        ("GATEHOUSE_TOKEN_REQUESTS_PER_SECOND", "1"),
        // The progressive delay's path, at 1 ms, 2 ms, 4 ms.
        ("GATEHOUSE_LOGIN_FAILURE_DELAY_MS", "1"),
    ];
    let config = config(&db, &limits);
    assert_eq!(config.login_failure_delay, std::time::Duration::from_millis(1));
    let server = TestServer::start_with(config, None).await;
    tenant(&server, "acme");
    let alice = user(&server, "acme", "alice");
    let spa = spa(&server, "acme", "Web App", true);
    let b = browser(&server);
    for _ in 0..3 {
        assert_eq!(attempt(&server, &b, &spa, "wrong-guess").await, (StatusCode::UNAUTHORIZED, true));
    }
    // The fourth attempt in the minute is turned away before its password is looked at.
    let html = b.get(authorize_url(&server, "acme", &spa, &[])).send().await.unwrap().text().await.unwrap();
    let res = submit_login(&server, &b, "acme", &html, "alice", PASSWORD).await;
    assert!((1..=60).contains(&retry_after(&res)));
    assert!(res.text().await.unwrap().contains("Too many sign-in attempts"));
    let store = &server.running.store;
    let tenant_id = store.tenant_by_slug("acme").unwrap().unwrap().id;
    assert_eq!(store.lockout(&tenant_id, &alice).unwrap().failures, 3, "the refused attempt was not counted");
    let res = submit_login(&server, &b, "acme", &html, "alice", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);

    // Token requests: one per second per address here.
    let creds = backend_client(&server, "acme", "Reports", None);
    assert_eq!(cc_token(&server, "acme", &creds, None).await.status(), StatusCode::OK);
    // Three at once: whatever the first request cost, at most one of them fits the second.
    let burst = futures_util::future::join_all((0..3).map(|_| cc_token(&server, "acme", &creds, None))).await;
    let res = burst.into_iter().find(|r| r.status() == StatusCode::TOO_MANY_REQUESTS).expect("a refusal");
    assert!((1..=2).contains(&retry_after(&res)));
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");

    // AC6: refusals are audited, once per address, endpoint and minute.
    let records = store.audit_page(0, 10_000).unwrap();
    let limited: Vec<_> = records.iter().filter(|r| r.action == "rate_limit").collect();
    assert_eq!(limited.len(), 2, "{limited:?}");
    assert!(limited.iter().all(|r| r.outcome == "denied" && r.source_ip.as_deref() == Some("127.0.0.1")));
}

/// T5: `X-Forwarded-For` decides the client address (audit, rate limits) only when the peer
/// is a trusted proxy.
#[actix_web::test]
async fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
    for (trusted, expected) in [("", "127.0.0.1"), ("10.0.0.0/8, 127.0.0.1", "203.0.113.9")] {
        let db = TestDatabase::sqlite();
        let server = TestServer::start_with(config(&db, &[("GATEHOUSE_TRUSTED_PROXIES", trusted)]), None).await;
        tenant(&server, "acme");
        let creds = backend_client(&server, "acme", "Reports", None);
        let res = server
            .client
            .post(server.url("/tenants/acme/token"))
            .basic_auth(&creds.id, Some("not-the-secret"))
            .header("X-Forwarded-For", "203.0.113.9")
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        let records = server.running.store.audit_page(0, 10_000).unwrap();
        let failed = records.iter().find(|r| r.action == "client.authenticate").unwrap();
        assert_eq!(failed.source_ip.as_deref(), Some(expected), "trusted proxies {trusted:?}");
    }
}

/// L4: an intrusion signal reaches the operator's webhook as JSON.
#[actix_web::test]
async fn a_rate_limit_reached_raises_an_alert_on_the_webhook() {
    use actix_web::{App, HttpServer, web};

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Value>();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let hook = HttpServer::new(move || {
        let tx = tx.clone();
        App::new().route(
            "/alerts",
            web::post().to(move |body: web::Json<Value>| {
                let tx = tx.clone();
                async move {
                    let _ = tx.send(body.into_inner());
                    actix_web::HttpResponse::NoContent().finish()
                }
            }),
        )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    let hook_handle = hook.handle();
    actix_web::rt::spawn(hook);

    let db = TestDatabase::sqlite();
    let url = format!("http://127.0.0.1:{port}/alerts");
    let env = [("GATEHOUSE_ALERT_WEBHOOK_URL", url.as_str()), ("GATEHOUSE_LOGIN_ATTEMPTS_PER_MINUTE", "1")];
    let server = TestServer::start_with(config(&db, &env), None).await;
    tenant(&server, "acme");
    user(&server, "acme", "alice");
    let spa = spa(&server, "acme", "Web App", true);
    let b = browser(&server);
    assert_eq!(attempt(&server, &b, &spa, "wrong-guess").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(attempt(&server, &b, &spa, "wrong-guess").await.0, StatusCode::TOO_MANY_REQUESTS);

    let alert = tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv()).await.expect("alerted").unwrap();
    assert_eq!(alert["signal"], "rate_limited");
    assert_eq!(alert["details"]["endpoint"], "login");
    assert_eq!(alert["details"]["client_ip"], "127.0.0.1");
    let tenant_id = server.running.store.tenant_by_slug("acme").unwrap().unwrap().id;
    assert_eq!(alert["tenant_id"], tenant_id.as_str());
    hook_handle.stop(true).await;
}

/// A1: a right password whose hash has other parameters than the configured ones is rehashed
/// with them at sign-in; a wrong one changes nothing.
#[actix_web::test]
async fn a_hash_with_old_parameters_is_rehashed_at_sign_in() {
    use gatehouse_core::store::UserStore;
    for db in databases() {
        let server = TestServer::start_with(config(&db, &[("GATEHOUSE_ARGON2_ITERATIONS", "3")]), None).await;
        tenant(&server, "acme");
        user(&server, "acme", "alice"); // hashed with the default t=2
        let spa = spa(&server, "acme", "Web App", true);
        let store = &server.running.store;
        let tenant_id = store.tenant_by_slug("acme").unwrap().unwrap().id;
        let hash =
            || store.user_by_username(&tenant_id, "alice").unwrap().unwrap().password_hash.unwrap().expose().clone();
        let old = hash();
        assert!(old.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{old}");
        let b = browser(&server);
        assert_eq!(attempt(&server, &b, &spa, "wrong-guess").await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(hash(), old, "{db:?}: a wrong password rehashes nothing");
        assert_eq!(attempt(&server, &b, &spa, PASSWORD).await.0, StatusCode::SEE_OTHER);
        let new = hash();
        assert!(new.starts_with("$argon2id$v=19$m=19456,t=3,p=1$"), "{db:?}: {new}");
        let b = browser(&server);
        assert_eq!(
            attempt(&server, &b, &spa, PASSWORD).await.0,
            StatusCode::SEE_OTHER,
            "{db:?}: the new hash verifies"
        );
        assert_eq!(hash(), new, "{db:?}: rehashed once");
    }
}

/// A4, S4 per tenant: a tenant's own lockout threshold and duration, and session lifetime,
/// set through the policy use case the API, the console and the CLI share.
#[actix_web::test]
async fn a_tenant_sets_its_own_lockout_and_session_lifetime() {
    use gatehouse_core::store::AccountStore;
    for db in databases() {
        let server = server(&db).await;
        tenant(&server, "acme");
        let alice = user(&server, "acme", "alice");
        let spa = spa(&server, "acme", "Web App", true);
        let store = &server.running.store;
        for bad in [
            admin::PolicyChange { lockout_threshold: Some(2), ..Default::default() },
            admin::PolicyChange { lockout_minutes: Some(0), ..Default::default() },
            admin::PolicyChange { session_idle_minutes: Some(4), ..Default::default() },
            admin::PolicyChange { session_max_hours: Some(721), ..Default::default() },
        ] {
            assert!(matches!(
                admin::update_tenant_policy(store, "test", "acme", &bad),
                Err(admin::AdminError::Invalid(_))
            ));
        }
        let change = admin::PolicyChange {
            lockout_threshold: Some(3),
            lockout_minutes: Some(2),
            session_max_hours: Some(2),
            ..Default::default()
        };
        let t = admin::update_tenant_policy(store, "test", "acme", &change).unwrap();
        let b = browser(&server);
        for _ in 0..3 {
            assert_eq!(attempt(&server, &b, &spa, "wrong-guess").await, (StatusCode::UNAUTHORIZED, true), "{db:?}");
        }
        assert_eq!(attempt(&server, &b, &spa, PASSWORD).await, (StatusCode::UNAUTHORIZED, true), "{db:?}: locked at 3");
        let lock = store.lockout(&t.id, &alice).unwrap();
        let until = lock.locked_until.expect("locked");
        let now = gatehouse_core::UnixTime::now().0;
        assert!((now + 100..=now + 120).contains(&until), "{db:?}: two minutes, not fifteen: {}", until - now);
        admin::unlock_user(store, "acme", "alice", "test").unwrap();
        assert_eq!(attempt(&server, &b, &spa, PASSWORD).await.0, StatusCode::SEE_OTHER, "{db:?}");
        let sessions = store.sessions_of(&t.id, &alice, now).unwrap();
        assert_eq!(sessions[0].expires_at - sessions[0].created_at, 2 * 3600, "{db:?}: the tenant's lifetime");
    }
}
