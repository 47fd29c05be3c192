//! A9: an administrator's password reset ends the user's sessions and refresh tokens.
//! S5: a tenant that binds sessions ends one presented from another user agent or address.

use gatehouse_core::UnixTime;
use gatehouse_core::admin::{self, CreateTenant, PasswordReset};
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
use crate::support::{TestServer, config};

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

/// Whether `b`, sending `headers`, still has a session in `tenant` (prompt=none yields a code).
async fn signed_in(
    server: &TestServer,
    b: &reqwest::Client,
    tenant: &str,
    spa: &str,
    headers: &[(&str, &str)],
) -> bool {
    let mut req = b.get(authorize_url(server, tenant, spa, &[("prompt", "none")]));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    param(&location_params(&req.send().await.unwrap()).1, "code").is_some()
}

#[actix_web::test]
async fn a_bound_session_ends_when_presented_from_another_user_agent_or_address() {
    for db in databases() {
        // The test client is the trusted proxy, so X-Forwarded-For sets the client address.
        let env = [("GATEHOUSE_CACHE_TTL_SECS", "0"), ("GATEHOUSE_TRUSTED_PROXIES", "127.0.0.1")];
        let server = TestServer::start_with(config(&db, &env), None).await;
        let store = &server.running.store;
        for (slug, bind_sessions) in [("acme", true), ("globex", false)] {
            let input = CreateTenant { slug: slug.into(), bind_sessions, ..Default::default() };
            admin::create_tenant(store, "test", &input, UnixTime::now()).unwrap();
            user(&server, slug, "alice");
        }
        let (acme, globex) = (spa(&server, "acme", "Web App", true), spa(&server, "globex", "Web App", true));

        for (other, value) in [("X-Forwarded-For", "203.0.113.7"), ("User-Agent", "another-browser/1.0")] {
            let b = browser(&server);
            login_for_code(&server, &b, "acme", &acme, "alice").await;
            assert!(signed_in(&server, &b, "acme", &acme, &[]).await, "{db:?}: same agent and address");
            assert!(!signed_in(&server, &b, "acme", &acme, &[(other, value)]).await, "{db:?}: {other}");
            assert!(!signed_in(&server, &b, "acme", &acme, &[]).await, "{db:?}: {other}: the session ended");

            // A tenant that does not bind keeps the session wherever it comes from.
            login_for_code(&server, &b, "globex", &globex, "alice").await;
            assert!(signed_in(&server, &b, "globex", &globex, &[(other, value)]).await, "{db:?}: unbound");
        }
        let records = store.audit_page(0, 10_000).unwrap();
        assert_eq!(records.iter().filter(|r| r.action == "session.binding_mismatch").count(), 2, "{db:?}");
    }
}

/// D3: a deleted user leaves no session, token or name behind; AC4: the last platform
/// administrator cannot be deleted.
#[actix_web::test]
async fn a_deleted_user_leaves_no_session_token_or_name_behind() {
    for db in databases() {
        let server = server(&db).await;
        tenant(&server, "acme");
        let alice = user(&server, "acme", "alice");
        let spa = spa(&server, "acme", "Web App", true);
        let b = browser(&server);
        let code = login_for_code(&server, &b, "acme", &spa, "alice").await;
        let tokens: Value = exchange(&server, "acme", &spa, &code, VERIFIER, REDIRECT).await.json().await.unwrap();
        let store = &server.running.store;
        let tenant_id = gatehouse_core::store::TenantStore::tenant_by_slug(store, "acme").unwrap().unwrap().id;
        let consent = gatehouse_core::audit::AuditEvent::new("test", "consent");
        gatehouse_core::store::FlowStore::save_consent(store, &tenant_id, &alice, &spa, "openid", 0, &consent).unwrap();
        let tables =
            ["sessions", "consents", "role_assignments", "auth_codes", "refresh_tokens", "account_lockouts", "users"];
        let rows_of = |table: &str| {
            let column = if table == "users" { "id" } else { "user_id" };
            db.query_text(&format!("SELECT CAST(COUNT(*) AS TEXT) AS row FROM {table} WHERE {column} = '{alice}'"))
                .remove(0)
        };
        for table in ["sessions", "consents", "role_assignments", "auth_codes", "refresh_tokens", "users"] {
            assert_ne!(rows_of(table), "0", "{db:?}: alice has {table} before");
        }

        admin::delete_user(store, "acme", "alice", "cli:test", UnixTime::now()).unwrap();
        for table in tables {
            assert_eq!(rows_of(table), "0", "{db:?}: D3: alice's {table} are gone");
        }
        let res = b.get(authorize_url(&server, "acme", &spa, &[("prompt", "none")])).send().await.unwrap();
        assert_eq!(param(&location_params(&res).1, "error"), Some("login_required"), "{db:?}");
        let refused = refresh(&server, "acme", &spa, tokens["refresh_token"].as_str().unwrap()).await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{db:?}");
        let html = b.get(authorize_url(&server, "acme", &spa, &[])).send().await.unwrap().text().await.unwrap();
        assert_eq!(
            submit_login(&server, &b, "acme", &html, "alice", PASSWORD).await.status(),
            StatusCode::UNAUTHORIZED
        );

        let records = store.audit_page(0, 10_000).unwrap();
        let deleted: Vec<_> = records.iter().filter(|r| r.action == "user.delete").collect();
        assert_eq!(deleted.len(), 1, "{db:?}");
        assert_eq!(deleted[0].target.as_deref(), Some(format!("user:{alice}").as_str()), "pseudonymous");
        assert!(!deleted[0].details.contains("alice"), "{db:?}");

        // L2: the failed sign-in of a name that no longer exists names it only by a keyed hash.
        let failed = records.iter().rev().find(|r| r.action == "login" && r.outcome == "failure").unwrap();
        let target = failed.target.as_deref().unwrap();
        assert!(target.starts_with("unknown-username:") && !target.contains("alice"), "{target}");
        assert_eq!(failed.actor, "anonymous");

        let last_admin = admin::delete_user(store, "platform", "admin", "cli:test", UnixTime::now()).unwrap_err();
        assert!(last_admin.to_string().contains("last platform administrator"), "{last_admin}");
    }
}
