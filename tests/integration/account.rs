//! A9: an administrator's password reset ends the user's sessions and refresh tokens.

use gatehouse_core::UnixTime;
use gatehouse_core::admin::{self, PasswordReset};
use gatehouse_core::store::AuditStore;
use gatehouse_testkit::databases;
use gatehouse_types::Secret;
use reqwest::StatusCode;
use serde_json::Value;

use crate::code_flow::{
    PASSWORD, REDIRECT, VERIFIER, authorize_url, browser, exchange, location_params, login_for_code, param, refresh,
    spa, submit_login, user,
};
use crate::oauth::{server, tenant};

const NEW_PASSWORD: &str = "marmalade-quartz-violet";

#[actix_web::test]
async fn a_password_reset_ends_sessions_and_refresh_tokens() {
    for db in databases() {
        let server = server(&db).await;
        tenant(&server, "acme");
        user(&server, "acme", "alice");
        let spa = spa(&server, "acme", "Web App", true);
        let b = browser(&server);
        let code = login_for_code(&server, &b, "acme", &spa, "alice").await;
        let tokens: Value = exchange(&server, "acme", &spa, &code, VERIFIER, REDIRECT).await.json().await.unwrap();
        let rt = tokens["refresh_token"].as_str().unwrap().to_owned();
        let (store, hasher, policy) = (&server.running.store, server.running_hasher(), Default::default());
        let reset = |password: &str| {
            let password = Secret::new(password.to_owned());
            admin::reset_password(
                store,
                &hasher,
                &policy,
                "cli:test",
                "acme",
                "alice",
                &password,
                false,
                UnixTime::now(),
            )
        };

        // A2: a weak password is refused, naming the rule, and nothing changes.
        assert!(reset("short").unwrap_err().to_string().contains("at least"), "{db:?}");
        let res = b.get(authorize_url(&server, "acme", &spa, &[("prompt", "none")])).send().await.unwrap();
        assert!(param(&location_params(&res).1, "code").is_some(), "{db:?}: the session survived");

        let done = reset(NEW_PASSWORD).unwrap();
        assert_eq!(done, PasswordReset { sessions_ended: 1, refresh_tokens_revoked: 1 }, "{db:?}");
        let res = b.get(authorize_url(&server, "acme", &spa, &[("prompt", "none")])).send().await.unwrap();
        assert_eq!(param(&location_params(&res).1, "error"), Some("login_required"), "{db:?}");
        let refused = refresh(&server, "acme", &spa, &rt).await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{db:?}");
        assert_eq!(refused.json::<Value>().await.unwrap()["error"], "invalid_grant");

        // The old password no longer signs in; the new one does.
        let html = b.get(authorize_url(&server, "acme", &spa, &[])).send().await.unwrap().text().await.unwrap();
        assert_eq!(
            submit_login(&server, &b, "acme", &html, "alice", PASSWORD).await.status(),
            StatusCode::UNAUTHORIZED
        );
        let html = b.get(authorize_url(&server, "acme", &spa, &[])).send().await.unwrap().text().await.unwrap();
        assert_eq!(
            submit_login(&server, &b, "acme", &html, "alice", NEW_PASSWORD).await.status(),
            StatusCode::SEE_OTHER
        );
        let records = store.audit_page(0, 10_000).unwrap();
        assert_eq!(records.iter().filter(|r| r.action == "user.password_reset").count(), 1, "{db:?}");
    }
}
