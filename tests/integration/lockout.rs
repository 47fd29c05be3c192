//! A4: repeated sign-in failures lock the account, the lock answers like a wrong password,
//! it is audited, and an administrator can lift it.

use gatehouse_core::admin;
use gatehouse_core::store::{AuditStore, LockoutStore, TenantStore};
use gatehouse_testkit::databases;
use reqwest::StatusCode;

use crate::code_flow::{PASSWORD, authorize_url, browser, spa, submit_login, user};
use crate::oauth::{server, tenant};
use crate::support::TestServer;

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
        let records = store.audit_page(0, 10_000).unwrap();
        assert_eq!(records.iter().filter(|r| r.action == "account.unlock").count(), 1, "{db:?}");
        assert_eq!(attempt(&server, &b, &spa, PASSWORD).await.0, StatusCode::SEE_OTHER, "{db:?}");
    }
}
