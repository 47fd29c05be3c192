//! The admin API's objects end to end on SQLite and PostgreSQL (O3, O4, AC4, AC5, AC6, L3,
//! S6, A9): clients registered, changed under `If-Match`, their secret rotated and deleted;
//! roles assigned and reaching tokens; signing keys rotated; sessions listed and ended; the
//! audit log filtered, paged, exported and verified.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_core::UnixTime;
use gatehouse_core::store::{UpstreamStore, UserStore};
use gatehouse_testkit::databases;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::admin_api::{api_audience, call, denials, member, token, world};
use crate::code_flow::REDIRECT;
use crate::mfa::payload_of;
use crate::support::TestServer;

/// A client-credentials grant: the status and the access token, if any.
async fn cc(s: &TestServer, id: &str, secret: &str) -> (StatusCode, Option<String>) {
    let res = s
        .client
        .post(s.url("/tenants/acme/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    (status, body["access_token"].as_str().map(str::to_owned))
}

fn etag(headers: &reqwest::header::HeaderMap) -> String {
    headers["etag"].to_str().unwrap().to_owned()
}

fn actions_of(s: &TestServer, target: &str) -> Vec<String> {
    use gatehouse_core::store::AuditStore;
    let all = s.running.store.audit_page(0, 100_000).unwrap();
    all.into_iter().filter(|r| r.target.as_deref() == Some(target)).map(|r| r.action).collect()
}

#[actix_web::test]
async fn clients_are_registered_changed_rotated_and_deleted_under_if_match() {
    for db in databases() {
        let w = world(&db).await;
        let (s, admin) = (&w.server, Some(w.tenant_admin.as_str()));
        let service = json!({
            "name": "Billing",
            "type": "confidential",
            "grant_types": ["client_credentials"],
            "scope": "reports",
            "audiences": ["https://api.example.com"],
        });
        let (status, _, created) = call(s, admin, Method::POST, "/tenants/acme/clients", Some(service), None).await;
        assert_eq!(status, StatusCode::CREATED, "{db:?}: {created}");
        let id = created["client"]["client_id"].as_str().unwrap().to_owned();
        let secret = created["client_secret"].as_str().unwrap().to_owned();
        assert_eq!(cc(s, &id, &secret).await.0, StatusCode::OK, "{db:?}: the new client works");
        let path = format!("/tenants/acme/clients/{id}");
        let (status, headers, read) = call(s, admin, Method::GET, &path, None, None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(read["has_secret"], true);
        assert!(!read.to_string().contains(&secret) && read.get("secret_hash").is_none(), "O3: never shown again");
        let v1 = etag(&headers);

        // Changes need the version they were made against.
        let change = json!({ "scope": "reports invoices" });
        let (status, _, _) = call(s, admin, Method::PATCH, &path, Some(change.clone()), None).await;
        assert_eq!(status, StatusCode::PRECONDITION_REQUIRED, "{db:?}");
        let (status, _, _) = call(s, admin, Method::PATCH, &path, Some(change.clone()), Some("W/\"stale\"")).await;
        assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{db:?}");
        let (status, headers, changed) = call(s, admin, Method::PATCH, &path, Some(change.clone()), Some(&v1)).await;
        assert_eq!((status, changed["scope"].as_str()), (StatusCode::OK, Some("invoices reports")), "{db:?}");
        let v2 = etag(&headers);
        let (status, _, _) = call(s, admin, Method::PATCH, &path, Some(change), Some(&v1)).await;
        assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{db:?}: the first version is stale now");

        // Bad input is refused with its rule and changes nothing (IO1).
        for bad in [
            json!({ "redirect_uris": ["javascript:alert(1)"] }),
            json!({ "type": "public" }),
            json!({ "access_token_ttl": 5 }),
            json!({ "scope": "openid" }),
            json!({ "unknown": true }),
        ] {
            let (status, _, problem) = call(s, admin, Method::PATCH, &path, Some(bad.clone()), Some(&v2)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{db:?}: {bad}: {problem}");
            assert!(problem["detail"].is_string(), "{db:?}: {bad}: the rule is named");
        }
        let (_, headers, _) = call(s, admin, Method::GET, &path, None, None).await;
        assert_eq!(etag(&headers), v2, "{db:?}: nothing changed");

        // Rotation: the new secret once, the old one dead at once.
        let (status, headers, rotated) = call(s, admin, Method::POST, &format!("{path}/secret"), None, None).await;
        assert_eq!(status, StatusCode::OK, "{db:?}");
        assert_eq!(headers["cache-control"], "no-store");
        let new_secret = rotated["client_secret"].as_str().unwrap();
        assert_eq!(cc(s, &id, &secret).await.0, StatusCode::UNAUTHORIZED, "{db:?}: the old secret");
        assert_eq!(cc(s, &id, new_secret).await.0, StatusCode::OK, "{db:?}: the new secret");

        // AC4: a tenant administrator registers service clients below their own level only.
        for (roles, expected) in
            [(json!(["tenant-admin"]), StatusCode::FORBIDDEN), (json!(["helpdesk"]), StatusCode::CREATED)]
        {
            let body = json!({
                "name": format!("Robot {}", roles[0].as_str().unwrap()),
                "type": "confidential",
                "grant_types": ["client_credentials"],
                "scope": "admin",
                "roles": roles,
            });
            let before = denials(s);
            let (status, _, _) = call(s, admin, Method::POST, "/tenants/acme/clients", Some(body), None).await;
            assert_eq!(status, expected, "{db:?}: {roles}");
            assert_eq!(denials(s), before + usize::from(expected == StatusCode::FORBIDDEN), "{db:?}: AC6");
        }

        // A public client: no secret, and the form's fields as registered.
        let spa = json!({
            "name": "SPA",
            "type": "public",
            "redirect_uris": [REDIRECT],
            "grant_types": ["authorization_code", "refresh_token"],
            "scope": "openid profile offline_access",
            "web_origins": ["https://app.example.com"],
            "access_token_ttl": 600,
            "signing_alg": "EdDSA",
        });
        let (status, _, created) = call(s, admin, Method::POST, "/tenants/acme/clients", Some(spa), None).await;
        assert_eq!(status, StatusCode::CREATED, "{db:?}: {created}");
        assert_eq!(created["client_secret"], Value::Null);
        assert_eq!(created["client"]["signing_alg"], "EdDSA");
        let (_, _, list) = call(s, admin, Method::GET, "/tenants/acme/clients", None, None).await;
        let names: Vec<&str> = list["items"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["Billing", "Console", "Robot helpdesk", "SPA"], "{db:?}");

        // Deletion needs the current version; the client and its secret are gone.
        let (_, headers, _) = call(s, admin, Method::GET, &path, None, None).await;
        let (status, _, _) = call(s, admin, Method::DELETE, &path, None, Some(&etag(&headers))).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{db:?}");
        let (status, _, _) = call(s, admin, Method::GET, &path, None, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{db:?}");
        assert_eq!(cc(s, &id, new_secret).await.0, StatusCode::UNAUTHORIZED, "{db:?}: a deleted client");
        let mut admin_actions = actions_of(s, &format!("client:{id}"));
        admin_actions.retain(|a| a.starts_with("client."));
        assert_eq!(
            admin_actions,
            ["client.create", "client.update", "client.secret_rotate", "client.delete"],
            "{db:?}: AC6, L3"
        );
    }
}

#[actix_web::test]
async fn roles_are_assigned_under_if_match_and_reach_tokens() {
    for db in databases() {
        let w = world(&db).await;
        let (s, admin) = (&w.server, Some(w.tenant_admin.as_str()));
        let (_, headers, _) = call(s, admin, Method::GET, "/tenants/acme/users/ulf", None, None).await;
        let v1 = etag(&headers);
        let roles = json!({ "roles": ["reports-reader", "helpdesk"] });
        let (status, _, user) =
            call(s, admin, Method::PUT, "/tenants/acme/users/ulf/roles", Some(roles.clone()), Some(&v1)).await;
        assert_eq!(status, StatusCode::OK, "{db:?}: {user}");
        assert_eq!(user["roles"], json!(["helpdesk", "reports-reader"]));
        assert_eq!(user["level"], "helpdesk");
        let (status, _, _) = call(s, admin, Method::PUT, "/tenants/acme/users/ulf/roles", Some(roles), Some(&v1)).await;
        assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{db:?}: stale");
        // AC5: the roles reach the user's next token exactly as administered.
        let ulf = token(s, "acme", &w.acme_client, "ulf").await;
        assert_eq!(payload_of(&ulf)["roles"], json!(["helpdesk", "reports-reader"]), "{db:?}");
        // AC4: nobody raises an account to their own level; bad names name their rule.
        let (_, headers, _) = call(s, admin, Method::GET, "/tenants/acme/users/una", None, None).await;
        let v = etag(&headers);
        let before = denials(s);
        let up = json!({ "roles": ["tenant-admin"] });
        let (status, _, _) = call(s, admin, Method::PUT, "/tenants/acme/users/una/roles", Some(up), Some(&v)).await;
        assert_eq!((status, denials(s)), (StatusCode::FORBIDDEN, before + 1), "{db:?}");
        for bad in [json!({ "roles": ["Not A Role!"] }), json!({ "roles": ["platform-admin"] })] {
            let (status, _, _) =
                call(s, admin, Method::PUT, "/tenants/acme/users/una/roles", Some(bad), Some(&v)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{db:?}");
        }
        let (_, _, list) = call(s, admin, Method::GET, "/tenants/acme/roles", None, None).await;
        let reader = list["items"].as_array().unwrap().iter().find(|r| r["name"] == "reports-reader").cloned();
        assert_eq!(reader, Some(json!({ "name": "reports-reader", "members": 1, "level": "user" })), "{db:?}");
        let user_id = user["id"].as_str().unwrap();
        assert_eq!(actions_of(s, &format!("user:{user_id}")).iter().filter(|a| *a == "user.roles").count(), 1);
    }
}

#[actix_web::test]
async fn sessions_are_listed_and_ended_and_passwords_reset() {
    for db in databases() {
        let w = world(&db).await;
        let (s, platform) = (&w.server, Some(w.platform.as_str()));
        let (status, _, list) = call(s, platform, Method::GET, "/tenants/acme/users/tara/sessions", None, None).await;
        assert_eq!(status, StatusCode::OK, "{db:?}");
        let items = list["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{db:?}: tara signed in once");
        assert!(items[0]["amr"].as_array().unwrap().contains(&json!("otp")), "{db:?}: {list}");
        let sid = items[0]["sid"].as_str().unwrap();
        // S8: the tenant-wide list has it, with its user.
        let (_, _, all) = call(s, platform, Method::GET, "/tenants/acme/sessions", None, None).await;
        let listed = all["items"].as_array().unwrap().iter().find(|i| i["sid"] == sid).cloned();
        assert_eq!(listed.map(|i| i["username"].clone()), Some(json!("tara")), "{db:?}: {all}");
        let path = format!("/tenants/acme/users/tara/sessions/{sid}");
        let (status, _, _) = call(s, platform, Method::DELETE, &path, None, None).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{db:?}");
        let (_, _, list) = call(s, platform, Method::GET, "/tenants/acme/users/tara/sessions", None, None).await;
        assert_eq!(list["items"], json!([]), "{db:?}");
        let (status, _, _) = call(s, platform, Method::DELETE, &path, None, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{db:?}: already ended");

        // A9: the help desk sets a one-time password; the policy still applies.
        let helpdesk = Some(w.helpdesk.as_str());
        let weak = json!({ "password": "password" });
        let (status, _, _) =
            call(s, helpdesk, Method::POST, "/tenants/acme/users/uma/password", Some(weak), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{db:?}");
        let good = json!({ "password": "vermilion-quartz-harbour" });
        let (status, _, done) =
            call(s, helpdesk, Method::POST, "/tenants/acme/users/uma/password", Some(good), None).await;
        assert_eq!(status, StatusCode::OK, "{db:?}: {done}");
        assert!(done["sessions_ended"].is_number());
        let (_, _, uma) = call(s, helpdesk, Method::GET, "/tenants/acme/users/uma", None, None).await;
        assert_eq!(uma["must_change_password"], true, "{db:?}");
        assert!(
            actions_of(s, &format!("user:{}", uma["id"].as_str().unwrap())).contains(&"user.password_reset".into())
        );
    }
}

fn kid_of(jwt: &str) -> String {
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(jwt.split('.').next().unwrap()).unwrap()).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

#[actix_web::test]
async fn keys_rotate_and_the_audit_log_filters_pages_exports_and_verifies() {
    for db in databases() {
        let w = world(&db).await;
        let (s, admin) = (&w.server, Some(w.tenant_admin.as_str()));
        let (_, _, before) = call(s, admin, Method::GET, "/tenants/acme/keys", None, None).await;
        let old: Vec<String> =
            before["items"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect();
        assert_eq!(old.len(), 1, "{db:?}: {before}");
        assert!(before.to_string().find("\"d\"").is_none(), "{db:?}: public parts only");
        let (status, _, rotated) =
            call(s, admin, Method::POST, "/tenants/acme/keys/rotate", Some(json!({ "overlap_secs": 3600 })), None)
                .await;
        assert_eq!(status, StatusCode::OK, "{db:?}: {rotated}");
        let kid = rotated["kid"].as_str().unwrap();
        let (_, _, after) = call(s, admin, Method::GET, "/tenants/acme/keys", None, None).await;
        let items = after["items"].as_array().unwrap();
        assert_eq!(items.len(), 2, "{db:?}: the old key is still published");
        assert!(items.iter().any(|k| k["kid"] == kid && k["retire_at"].is_null()));
        assert!(items.iter().any(|k| k["kid"] == old[0].as_str() && k["retire_at"].is_number()));
        let jwks: Value = s.client.get(s.url("/tenants/acme/jwks")).send().await.unwrap().json().await.unwrap();
        assert!(jwks.to_string().contains(kid) && jwks.to_string().contains(&old[0]), "{db:?}: {jwks}");
        let (id, secret) = crate::admin_api::service_client(s, "acme", "signer", &[]);
        let (_, fresh) = cc(s, &id, &secret).await;
        assert_eq!(kid_of(&fresh.unwrap()), kid, "{db:?}: new tokens are signed with the new key");

        // The audit log: filtered, newest first, a tenant administrator sees their tenant only.
        let q = "/tenants/acme/audit?action=key.rotate";
        let (status, _, page) = call(s, admin, Method::GET, q, None, None).await;
        assert_eq!(status, StatusCode::OK, "{db:?}");
        let first = &page["items"][0];
        assert_eq!(first["target"], format!("key:{kid}"), "{db:?}: {page}");
        assert!(first["actor"].as_str().unwrap().starts_with("user:"));
        assert_eq!(first["details"]["overlap_secs"], 3600);
        let (_, _, all) = call(s, admin, Method::GET, "/tenants/acme/audit?limit=500", None, None).await;
        let acme_id = first["tenant_id"].clone();
        assert!(all["items"].as_array().unwrap().iter().all(|r| r["tenant_id"] == acme_id), "{db:?}: AC1");
        // Pages by cursor: two pages of one hold the two newest records, in order.
        let (_, _, p1) = call(s, admin, Method::GET, "/tenants/acme/audit?limit=1", None, None).await;
        let next = p1["next"].as_i64().unwrap();
        let (_, _, p2) =
            call(s, admin, Method::GET, &format!("/tenants/acme/audit?limit=1&before={next}"), None, None).await;
        assert_eq!(p1["items"][0]["seq"], all["items"][0]["seq"]);
        assert_eq!(p2["items"][0]["seq"], all["items"][1]["seq"], "{db:?}");
        // Export as CSV, and bad filters named.
        let res = s
            .client
            .get(s.url("/api/v1/tenants/acme/audit?format=csv&action=key.rotate"))
            .bearer_auth(&w.tenant_admin)
            .send()
            .await
            .unwrap();
        assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
        let text = res.text().await.unwrap();
        assert!(text.starts_with("seq,at,tenant_id,actor,action,target,source_ip,outcome,details\r\n"), "{text}");
        assert!(text.contains(&format!("\"key:{kid}\"")), "{db:?}: {text}");
        for bad in ["format=xml", "actor=%01"] {
            let (status, _, _) = call(s, admin, Method::GET, &format!("/tenants/acme/audit?{bad}"), None, None).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{db:?}: {bad}");
        }
        // L3: the platform verifies the whole chain.
        let (_, _, verified) = call(s, Some(&w.platform), Method::GET, "/audit/verify", None, None).await;
        assert_eq!(verified["ok"], true, "{db:?}: {verified}");
        assert!(verified["records"].as_u64().unwrap() > 10);
        let (_, _, everything) = call(s, Some(&w.platform), Method::GET, "/audit?limit=500", None, None).await;
        let tenants: std::collections::BTreeSet<String> = everything["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r["tenant_id"].as_str().map(str::to_owned))
            .collect();
        assert!(tenants.len() >= 3, "{db:?}: the platform sees every tenant's records");
    }
}

#[actix_web::test]
async fn users_are_changed_under_if_match_and_disabling_ends_their_sessions() {
    for db in databases() {
        let w = world(&db).await;
        let (s, admin) = (&w.server, Some(w.tenant_admin.as_str()));
        token(s, "acme", &w.acme_client, "uma").await;
        let (_, _, sessions) = call(s, admin, Method::GET, "/tenants/acme/users/uma/sessions", None, None).await;
        assert_eq!(sessions["items"].as_array().unwrap().len(), 1, "{db:?}: uma is signed in");
        let (_, headers, _) = call(s, admin, Method::GET, "/tenants/acme/users/uma", None, None).await;
        let v1 = etag(&headers);
        // Bad input names its rule and changes nothing; a taken address is a conflict.
        for (bad, status) in [
            (json!({ "email": "not an address" }), StatusCode::BAD_REQUEST),
            (json!({ "display_name": " padded " }), StatusCode::BAD_REQUEST),
            (json!({ "email": "ulf@acme.example.com" }), StatusCode::CONFLICT),
            (json!({ "username": "renamed" }), StatusCode::BAD_REQUEST),
        ] {
            let (got, _, problem) =
                call(s, admin, Method::PATCH, "/tenants/acme/users/uma", Some(bad.clone()), Some(&v1)).await;
            assert_eq!(got, status, "{db:?}: {bad}: {problem}");
        }
        let change = json!({ "display_name": "Uma Thurman", "email": "uma@new.example.com" });
        let (status, headers, user) =
            call(s, admin, Method::PATCH, "/tenants/acme/users/uma", Some(change.clone()), Some(&v1)).await;
        assert_eq!(status, StatusCode::OK, "{db:?}: {user}");
        assert_eq!(
            (user["display_name"].as_str(), user["email"].as_str()),
            (Some("Uma Thurman"), Some("uma@new.example.com"))
        );
        assert_eq!(user["email_verified"], true, "an administrator's address counts as confirmed");
        let (status, _, _) = call(s, admin, Method::PATCH, "/tenants/acme/users/uma", Some(change), Some(&v1)).await;
        assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{db:?}: stale");
        // S6: disabling ends the sessions.
        let disable = json!({ "disabled": true });
        let (status, _, user) =
            call(s, admin, Method::PATCH, "/tenants/acme/users/uma", Some(disable), Some(&etag(&headers))).await;
        assert_eq!((status, user["disabled"].as_bool()), (StatusCode::OK, Some(true)), "{db:?}");
        let (_, _, sessions) = call(s, admin, Method::GET, "/tenants/acme/users/uma/sessions", None, None).await;
        assert_eq!(sessions["items"], json!([]), "{db:?}: the session ended with the account");
        let uid = user["id"].as_str().unwrap();
        let actions = actions_of(s, &format!("user:{uid}"));
        assert_eq!(actions.iter().filter(|a| *a == "user.update").count(), 2, "{db:?}: {actions:?}");
    }
}

#[actix_web::test]
async fn upstreams_are_added_changed_under_if_match_and_removed_without_showing_the_secret() {
    const SECRET: &str = "the-upstream-secret-0042";
    for db in databases() {
        let w = world(&db).await;
        let (s, admin) = (&w.server, Some(w.tenant_admin.as_str()));
        let body = json!({
            "name": "corp",
            "display_name": "Corp SSO",
            "issuer": "https://login.corp.example",
            "client_id": "gatehouse",
            "client_secret": SECRET,
        });
        let (status, _, created) =
            call(s, admin, Method::POST, "/tenants/acme/upstreams", Some(body.clone()), None).await;
        assert_eq!(status, StatusCode::CREATED, "{db:?}: {created}");
        assert!(!created.to_string().contains(SECRET) && created["has_secret"] == true, "{db:?}: {created}");
        let (status, _, _) = call(s, admin, Method::POST, "/tenants/acme/upstreams", Some(body), None).await;
        assert_eq!(status, StatusCode::CONFLICT, "{db:?}: the name is taken");
        let (_, headers, read) = call(s, admin, Method::GET, "/tenants/acme/upstreams/corp", None, None).await;
        assert_eq!(read["link"], "never", "{db:?}: never links by default");
        let v1 = etag(&headers);
        let path = "/tenants/acme/upstreams/corp";
        let untrusted = json!({ "link": "verified-email" });
        let (status, _, problem) = call(s, admin, Method::PATCH, path, Some(untrusted), Some(&v1)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{db:?}: {problem}");
        let admin_rule = json!({ "role_rules": ["groups=x:tenant-admin"] });
        let (status, _, problem) = call(s, admin, Method::PATCH, path, Some(admin_rule), Some(&v1)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{db:?}: an upstream never grants an administrator: {problem}");
        let trusted = json!({
            "link": "verified-email", "trusted_email": true, "role_rules": ["groups=eng:staff"], "trust_mfa": true,
            "auth": "private-key-jwt", "end_session": true,
        });
        let (status, _, changed) = call(s, admin, Method::PATCH, path, Some(trusted.clone()), None).await;
        assert_eq!(status, StatusCode::PRECONDITION_REQUIRED, "{db:?}: {changed}");
        let (status, headers, changed) = call(s, admin, Method::PATCH, path, Some(trusted), Some(&v1)).await;
        assert_eq!((status, changed["link"].as_str()), (StatusCode::OK, Some("verified-email")), "{db:?}: {changed}");
        assert_eq!(changed["role_rules"], json!(["groups=eng:staff"]), "{db:?}");
        assert_eq!((changed["trust_mfa"].as_bool(), changed["auth"].as_str()), (Some(true), Some("private-key-jwt")));
        let (status, _, _) = call(s, admin, Method::DELETE, path, None, Some(&v1)).await;
        assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{db:?}: stale");
        let (status, _, _) = call(s, admin, Method::DELETE, path, None, Some(&etag(&headers))).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{db:?}");
        let (_, _, list) = call(s, admin, Method::GET, "/tenants/acme/upstreams", None, None).await;
        assert_eq!(list["items"], json!([]), "{db:?}");
        use gatehouse_core::store::AuditStore;
        let records = s.running.store.audit_page(0, 100_000).unwrap();
        let actions: Vec<&str> =
            records.iter().map(|r| r.action.as_str()).filter(|a| a.starts_with("upstream.")).collect();
        assert_eq!(actions, ["upstream.add", "upstream.update", "upstream.remove"], "{db:?}");
        assert!(records.iter().all(|r| !r.details.contains(SECRET)), "{db:?}: L4: never in the audit log");
    }
}

#[actix_web::test]
async fn only_platform_administrators_change_how_the_platform_signs_in() {
    use gatehouse_core::admin::{self, CreateClient};
    for db in databases() {
        let w = world(&db).await;
        let s = &w.server;
        member(s, "platform", "pia", &["tenant-admin"]);
        let input = CreateClient {
            tenant: "platform".into(),
            name: "Ops Console".into(),
            client_type: "public".into(),
            redirect_uris: vec![REDIRECT.into()],
            grant_types: vec!["authorization_code".into()],
            scope: "openid".into(),
            first_party: true,
            audiences: vec![api_audience()],
            ..Default::default()
        };
        let store = &s.running.store;
        let client =
            admin::create_client(store, store.vault(), "test", &input, gatehouse_core::UnixTime::now()).unwrap();
        let pia = token(s, "platform", &client.client.client_id, "pia").await;
        let (status, _, _) = call(s, Some(&pia), Method::GET, "/tenants/platform/users", None, None).await;
        assert_eq!(status, StatusCode::OK, "{db:?}: a tenant administrator of the platform tenant");
        let upstream =
            json!({ "name": "corp", "issuer": "https://idp.example", "client_id": "g", "client_secret": "s-1" });
        let before = denials(s);
        let (status, _, _) =
            call(s, Some(&pia), Method::POST, "/tenants/platform/upstreams", Some(upstream.clone()), None).await;
        assert_eq!((status, denials(s)), (StatusCode::FORBIDDEN, before + 1), "{db:?}: AC4, AC6");
        let (_, headers, _) = call(s, Some(&pia), Method::GET, "/tenants/platform", None, None).await;
        let weaker = json!({ "lockout_threshold": 20 });
        let (status, _, _) =
            call(s, Some(&pia), Method::PATCH, "/tenants/platform/policy", Some(weaker), Some(&etag(&headers))).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{db:?}: the platform's policies");
        let (status, _, _) =
            call(s, Some(&w.platform), Method::POST, "/tenants/platform/upstreams", Some(upstream), None).await;
        assert_eq!(status, StatusCode::CREATED, "{db:?}: a platform administrator may");
    }
}

#[actix_web::test]
async fn an_administrator_lists_and_disconnects_a_users_upstream_identity() {
    for db in databases() {
        let w = world(&db).await;
        let (s, admin) = (&w.server, Some(w.tenant_admin.as_str()));
        let store = &s.running.store;
        let input = gatehouse_core::admin::UpstreamInput {
            issuer: Some("https://login.corp.example".into()),
            client_id: Some("gatehouse".into()),
            client_secret: Some(gatehouse_types::Secret::new("s".into())),
            ..Default::default()
        };
        let corp =
            gatehouse_core::admin::add_upstream(store, store.vault(), "test", "acme", "corp", &input, UnixTime::now())
                .unwrap();
        let uma = store.user_by_username(&corp.tenant_id, "uma").unwrap().unwrap();
        let link = gatehouse_core::federation::LinkedIdentity::new(&corp.tenant_id, &corp.id, "corp-sub-1", &uma.id, 7);
        store.link_identity(&link, &gatehouse_core::audit::AuditEvent::new("test", "x")).unwrap();
        let path = "/tenants/acme/users/uma/identities";
        let (status, _, listed) = call(s, admin, Method::GET, path, None, None).await;
        assert_eq!(status, StatusCode::OK, "{db:?}: {listed}");
        assert_eq!(listed["items"][0]["upstream"], "corp");
        assert_eq!(listed["items"][0]["subject"], "corp-sub-1");
        let (status, _, _) = call(s, admin, Method::DELETE, &format!("{path}/corp"), None, None).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{db:?}");
        let (_, _, listed) = call(s, admin, Method::GET, path, None, None).await;
        assert_eq!(listed["items"], json!([]), "{db:?}");
        let (status, _, _) = call(s, admin, Method::DELETE, &format!("{path}/corp"), None, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{db:?}: once");
        assert!(actions_of(s, &format!("user:{}", uma.id)).contains(&"user.upstream_unlink".to_owned()), "{db:?}");
    }
}
