//! A2, A8, A9, S8, AC3 over HTTPS, with mail through a real SMTP server (STARTTLS): invitation
//! and reset links (once, not twice, not expired, not after a newer one), sign-up with e-mail
//! confirmation, the first sign-in's password change, and the account pages.

use gatehouse_core::store::AuditStore;
use gatehouse_testkit::{TestDatabase, databases};
use reqwest::StatusCode;
use serde_json::Value;

use crate::code_flow::{
    PASSWORD, authorize_url, browser, hidden, location_params, login_for_code, param, spa, submit_login, user,
};
use crate::oauth::tenant;
use crate::smtp::{SmtpServer, link_in, recipient};
use crate::support::{PUBLIC_URL, TestServer, config, gatehouse_in, json_ok};

const NEW_PASSWORD: &str = "marmalade-quartz-violet";
const THIRD_PASSWORD: &str = "juniper-canyon-ember";

/// A server whose mail goes to `smtp`, with caches that see CLI changes at once.
async fn server(db: &TestDatabase, smtp: &SmtpServer) -> TestServer {
    let mut env: Vec<(String, String)> = smtp.env();
    env.push(("GATEHOUSE_CACHE_TTL_SECS".into(), "0".into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    TestServer::start_with(config(db, &env), None).await
}

/// The CLI with the mail settings of `smtp`.
fn cli(db: &TestDatabase, smtp: &SmtpServer, args: &[&str]) -> std::process::Output {
    let env = smtp.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    gatehouse_in(db.dir.path(), &db.url, args, None, &env)
}

/// A link from a message, pointed at the test server.
fn local(server: &TestServer, link: &str) -> String {
    link.replace(PUBLIC_URL, &server.base)
}

/// The token of a link.
fn token_of(link: &str) -> String {
    link.split("token=").nth(1).unwrap().to_owned()
}

/// Posts a new password to a password link's form.
async fn set_password(server: &TestServer, path: &str, token: &str, password: &str) -> (StatusCode, String) {
    let form = [("token", token), ("new_password", password), ("confirm_password", password)];
    let res = browser(server).post(server.url(path)).form(&form).send().await.unwrap();
    (res.status(), res.text().await.unwrap())
}

/// The answer to signing in as `username` with `password` (a fresh browser, the code flow).
async fn sign_in(server: &TestServer, client: &str, username: &str, password: &str) -> (StatusCode, String) {
    let b = browser(server);
    let page = b.get(authorize_url(server, "acme", client, &[])).send().await.unwrap().text().await.unwrap();
    let res = submit_login(server, &b, "acme", &page, username, password).await;
    (res.status(), res.text().await.unwrap())
}

/// Whether `username` can sign in with `password` to the first-party `client`.
async fn can_sign_in(server: &TestServer, client: &str, username: &str, password: &str) -> bool {
    sign_in(server, client, username, password).await.0 == StatusCode::SEE_OTHER
}

#[actix_web::test]
async fn an_invitation_link_sets_the_first_password_once() {
    let Some(smtp) = SmtpServer::start("invitation") else { return };
    for db in databases() {
        let server = server(&db, &smtp).await;
        tenant(&server, "acme");
        let client = spa(&server, "acme", "Web App", true);
        let created = json_ok(&cli(
            &db,
            &smtp,
            &["user", "create", "--tenant", "acme", "--username", "ivy", "--email", "ivy@example.com", "--json"],
        ));
        assert_eq!(created["invited"], true);
        let message = smtp.next().await;
        assert_eq!(recipient(&message), "ivy@example.com");
        let (subject, link) = link_in(&message, "/account/set-password");
        assert_eq!(subject, "Your account at acme");
        assert!(!message.contains(PASSWORD), "no password by mail (A8)");
        let link = local(&server, &link);
        let page = browser(&server).get(&link).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK, "{db:?}: opening the link changes nothing");
        let token = token_of(&link);

        // A refused password leaves the link as it was.
        let (status, page) = set_password(&server, "/tenants/acme/account/set-password", &token, "short").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(page.contains("at least 12 characters"), "{page}");
        let (status, page) = set_password(&server, "/tenants/acme/account/set-password", &token, NEW_PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(page.contains("Your password is set"));
        let (status, page) = set_password(&server, "/tenants/acme/account/set-password", &token, THIRD_PASSWORD).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{db:?}: single use");
        assert!(page.contains("This link is not valid"));
        assert!(can_sign_in(&server, &client, "ivy", NEW_PASSWORD).await, "{db:?}");

        // A newer link voids the earlier one; an expired one does nothing.
        json_ok(&cli(
            &db,
            &smtp,
            &["user", "create", "--tenant", "acme", "--username", "joe", "--email", "joe@example.com", "--json"],
        ));
        json_ok(&cli(&db, &smtp, &["user", "invite", "--tenant", "acme", "--username", "joe", "--json"]));
        let first = token_of(&link_in(&smtp.next().await, "/account/set-password").1);
        let second = token_of(&link_in(&smtp.next().await, "/account/set-password").1);
        let voided = set_password(&server, "/tenants/acme/account/set-password", &first, NEW_PASSWORD).await;
        assert_eq!(voided.0, StatusCode::BAD_REQUEST, "{db:?}: voided by the newer link");
        db.execute("UPDATE user_tokens SET expires_at = 0");
        let expired = set_password(&server, "/tenants/acme/account/set-password", &second, NEW_PASSWORD).await;
        assert_eq!(expired.0, StatusCode::BAD_REQUEST, "{db:?}: expired");
        assert!(!can_sign_in(&server, &client, "joe", NEW_PASSWORD).await, "{db:?}: nothing was set");
        let refused = cli(&db, &smtp, &["user", "invite", "--tenant", "acme", "--username", "ivy"]);
        crate::support::refused(&refused, "already has a password");
    }
}

/// The account page's synchronizer token, from a page of a signed-in browser.
async fn account_csrf(server: &TestServer, b: &reqwest::Client, path: &str) -> String {
    let page = b.get(server.url(path)).send().await.unwrap().text().await.unwrap();
    hidden(&page, "csrf")
}

/// Signs `b` in at the account pages (the sign-in comes back to `/account`).
async fn sign_in_to_account(server: &TestServer, b: &reqwest::Client, username: &str, password: &str) {
    let page = b.get(server.url("/tenants/acme/account")).send().await.unwrap().text().await.unwrap();
    let res = submit_login(server, b, "acme", &page, username, password).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/tenants/acme/account");
}

#[actix_web::test]
async fn a_reset_by_mail_ends_every_session_and_the_answer_never_tells_who_exists() {
    let Some(smtp) = SmtpServer::start("reset") else { return };
    for db in databases() {
        let server = server(&db, &smtp).await;
        tenant(&server, "acme");
        user(&server, "acme", "alice");
        let client = spa(&server, "acme", "Web App", true);
        let forgot = |account: &'static str| {
            let b = browser(&server);
            let url = server.url("/tenants/acme/account/forgot");
            async move {
                let page = b.get(&url).send().await.unwrap();
                if page.status() != StatusCode::OK {
                    return (page.status(), String::new());
                }
                let token = hidden(&page.text().await.unwrap(), "form_token");
                let res =
                    b.post(&url).form(&[("form_token", token.as_str()), ("account", account)]).send().await.unwrap();
                (res.status(), res.text().await.unwrap())
            }
        };
        assert_eq!(forgot("alice").await.0, StatusCode::NOT_FOUND, "{db:?}: off unless the tenant enables it");
        json_ok(&cli(&db, &smtp, &["tenant", "update", "acme", "--password-reset", "on", "--json"]));

        let b = browser(&server);
        let code = login_for_code(&server, &b, "acme", &client, "alice").await;
        let tokens: Value = crate::code_flow::exchange(
            &server,
            "acme",
            &client,
            &code,
            crate::code_flow::VERIFIER,
            crate::code_flow::REDIRECT,
        )
        .await
        .json()
        .await
        .unwrap();
        let before = smtp.count();
        let (known, unknown) = (forgot("alice").await, forgot("nobody-here").await);
        assert_eq!(known, unknown, "{db:?}: the same answer for an unknown name");
        assert_eq!(known.0, StatusCode::OK);
        let message = smtp.next().await;
        assert_eq!(recipient(&message), "alice@example.com");
        let (subject, link) = link_in(&message, "/account/reset");
        assert_eq!(subject, "Reset your acme password");
        let token = token_of(&local(&server, &link));
        let (status, _) = set_password(&server, "/tenants/acme/account/reset", &token, NEW_PASSWORD).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(smtp.count(), before + 1, "{db:?}: no mail for the unknown name");
        let again = set_password(&server, "/tenants/acme/account/reset", &token, THIRD_PASSWORD).await;
        assert_eq!(again.0, StatusCode::BAD_REQUEST, "{db:?}: single use");

        // Every session and refresh token ended; the new password works.
        let res = b.get(authorize_url(&server, "acme", &client, &[("prompt", "none")])).send().await.unwrap();
        assert_eq!(param(&location_params(&res).1, "error"), Some("login_required"), "{db:?}");
        let refused =
            crate::code_flow::refresh(&server, "acme", &client, tokens["refresh_token"].as_str().unwrap()).await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
        assert!(can_sign_in(&server, &client, "alice", NEW_PASSWORD).await);

        // A4: at most three links an hour for one account.
        for _ in 0..3 {
            forgot("alice@example.com").await;
        }
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
        loop {
            let records = server.running.store.audit_page(0, 10_000).unwrap();
            let denied =
                records.iter().filter(|r| r.action == "user.password_reset_requested" && r.outcome == "denied").count();
            if denied == 1 {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "{db:?}: the fourth link this hour is refused");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        for _ in 0..2 {
            link_in(&smtp.next().await, "/account/reset");
        }
    }
}

#[actix_web::test]
async fn sign_up_needs_a_confirmed_address_and_an_address_changes_only_by_its_link() {
    let Some(smtp) = SmtpServer::start("signup") else { return };
    for db in databases() {
        let server = server(&db, &smtp).await;
        tenant(&server, "acme");
        let client = spa(&server, "acme", "Web App", true);
        let url = server.url("/tenants/acme/account/signup");
        assert_eq!(browser(&server).get(&url).send().await.unwrap().status(), StatusCode::NOT_FOUND, "off by default");
        json_ok(&cli(&db, &smtp, &["tenant", "update", "acme", "--self-registration", "on", "--json"]));
        let b = browser(&server);
        let token = hidden(&b.get(&url).send().await.unwrap().text().await.unwrap(), "form_token");
        let form = |username: &'static str, email: &'static str, password: &'static str| {
            [
                ("form_token", token.clone()),
                ("username", username.into()),
                ("email", email.into()),
                ("new_password", password.into()),
                ("confirm_password", password.into()),
            ]
        };
        let weak = b.post(&url).form(&form("sam", "sam@example.com", "password1234")).send().await.unwrap();
        assert_eq!(weak.status(), StatusCode::BAD_REQUEST);
        assert!(weak.text().await.unwrap().contains("too common"), "A2: the common-password list");
        let token = hidden(&b.get(&url).send().await.unwrap().text().await.unwrap(), "form_token");
        let form = |username: &'static str, email: &'static str, password: &'static str| {
            [
                ("form_token", token.clone()),
                ("username", username.into()),
                ("email", email.into()),
                ("new_password", password.into()),
                ("confirm_password", password.into()),
            ]
        };
        let res = b.post(&url).form(&form("Sam", "sam@example.com", PASSWORD)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res.text().await.unwrap().contains("Check your mail"));
        // Not before the address is confirmed (said only to whoever has the password).
        let (status, page) = sign_in(&server, &client, "sam", PASSWORD).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{db:?}");
        assert!(page.contains("Confirm your e-mail address first"), "{page}");
        let (status, page) = sign_in(&server, &client, "sam", NEW_PASSWORD).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(page.contains("Invalid username or password."));
        let (_, link) = link_in(&smtp.next().await, "/account/verify");
        let token_v = token_of(&link);
        assert_eq!(browser(&server).get(local(&server, &link)).send().await.unwrap().status(), StatusCode::OK);
        let res = browser(&server)
            .post(server.url("/tenants/acme/account/verify"))
            .form(&[("token", token_v.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert!(can_sign_in(&server, &client, "sam", PASSWORD).await, "{db:?}: confirmed");

        // An e-mail change from the account page takes effect only through the new address.
        let b = browser(&server);
        sign_in_to_account(&server, &b, "sam", PASSWORD).await;
        let csrf = account_csrf(&server, &b, "/tenants/acme/account").await;
        let res = b
            .post(server.url("/tenants/acme/account/email"))
            .form(&[("csrf", csrf.as_str()), ("email", "sam@new.example")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let page = b.get(server.url("/tenants/acme/account")).send().await.unwrap().text().await.unwrap();
        assert!(page.contains("sam@example.com"), "unchanged until confirmed");
        let message = smtp.next().await;
        assert_eq!(recipient(&message), "sam@new.example");
        let token_e = token_of(&link_in(&message, "/account/email/confirm").1);
        let res = browser(&server)
            .post(server.url("/tenants/acme/account/email/confirm"))
            .form(&[("token", token_e.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let page = b.get(server.url("/tenants/acme/account")).send().await.unwrap().text().await.unwrap();
        assert!(page.contains("sam@new.example"), "{db:?}");
        // A forged form (no token) changes nothing.
        let res = b
            .post(server.url("/tenants/acme/account/email"))
            .form(&[("csrf", "forged"), ("email", "evil@example.com")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        let records = server.running.store.audit_page(0, 10_000).unwrap();
        for action in [
            "user.create",
            "user.verify_requested",
            "user.email_verified",
            "user.email_change_requested",
            "user.email_change",
        ] {
            assert!(records.iter().any(|r| r.action == action), "{db:?}: {action} audited");
        }
    }
}

#[actix_web::test]
async fn the_first_sign_in_changes_the_password_before_any_session() {
    for db in databases() {
        let server = TestServer::start_with(config(&db, &[("GATEHOUSE_CACHE_TTL_SECS", "0")]), None).await;
        tenant(&server, "acme");
        let client = spa(&server, "acme", "Web App", true);
        let out = gatehouse_in(
            db.dir.path(),
            &db.url,
            &[
                "user",
                "create",
                "--tenant",
                "acme",
                "--username",
                "olga",
                "--email",
                "olga@example.com",
                "--password-stdin",
                "--must-change-password",
                "--json",
            ],
            Some(PASSWORD),
            &[],
        );
        json_ok(&out);
        let b = browser(&server);
        let page = b.get(authorize_url(&server, "acme", &client, &[])).send().await.unwrap().text().await.unwrap();
        let res = submit_login(&server, &b, "acme", &page, "olga", PASSWORD).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert!(
            res.headers().get_all("set-cookie").iter().all(|c| !c.to_str().unwrap().starts_with("__Host-gh_session")),
            "A7: no session yet"
        );
        let page = res.text().await.unwrap();
        assert!(page.contains("Choose a new password") && page.contains("autocomplete=\"new-password\""), "{page}");
        let change = |password: &'static str| {
            [
                ("request_id", hidden(&page, "request_id")),
                ("csrf", hidden(&page, "csrf")),
                ("new_password", password.into()),
                ("confirm_password", password.into()),
            ]
        };
        let url = server.url("/tenants/acme/login/password");
        let same = b.post(&url).form(&change(PASSWORD)).send().await.unwrap();
        assert_eq!(same.status(), StatusCode::BAD_REQUEST);
        assert!(same.text().await.unwrap().contains("must differ from the current one"));
        let res = b.post(&url).form(&change(NEW_PASSWORD)).send().await.unwrap();
        let (base, params) = location_params(&res);
        assert_eq!(base, crate::code_flow::REDIRECT);
        assert!(param(&params, "code").is_some(), "{db:?}: signed in after the change");
        assert!(
            res.headers()
                .get_all("set-cookie")
                .iter()
                .any(|c| c.to_str().unwrap().starts_with("__Host-gh_session_acme="))
        );
        // A replay of the change form is refused: the sign-in is over.
        assert_eq!(b.post(&url).form(&change(THIRD_PASSWORD)).send().await.unwrap().status(), StatusCode::BAD_REQUEST);

        // A2: history. Back to a remembered password is refused at the next change.
        json_ok(&gatehouse_in(
            db.dir.path(),
            &db.url,
            &[
                "user",
                "reset-password",
                "--tenant",
                "acme",
                "--username",
                "olga",
                "--password-stdin",
                "--must-change-password",
                "--json",
            ],
            Some(THIRD_PASSWORD),
            &[],
        ));
        let b = browser(&server);
        let page = b.get(authorize_url(&server, "acme", &client, &[])).send().await.unwrap().text().await.unwrap();
        let page = submit_login(&server, &b, "acme", &page, "olga", THIRD_PASSWORD).await.text().await.unwrap();
        let form = [
            ("request_id", hidden(&page, "request_id")),
            ("csrf", hidden(&page, "csrf")),
            ("new_password", NEW_PASSWORD.to_owned()),
            ("confirm_password", NEW_PASSWORD.to_owned()),
        ];
        let reused = b.post(&url).form(&form).send().await.unwrap();
        assert_eq!(reused.status(), StatusCode::BAD_REQUEST, "{db:?}");
        assert!(reused.text().await.unwrap().contains("used recently"));
    }
}

#[actix_web::test]
async fn the_account_pages_show_and_end_sessions_change_the_password_and_revoke_applications() {
    for db in databases() {
        let server = TestServer::start_with(config(&db, &[("GATEHOUSE_CACHE_TTL_SECS", "0")]), None).await;
        tenant(&server, "acme");
        user(&server, "acme", "alice");
        user(&server, "acme", "bob");
        let partner = spa(&server, "acme", "Partner App", false);
        let first = spa(&server, "acme", "Web App", true);
        // A second session of alice's, somewhere else, with a consent and a refresh token.
        let elsewhere = browser(&server);
        let page =
            elsewhere.get(authorize_url(&server, "acme", &partner, &[])).send().await.unwrap().text().await.unwrap();
        let consent = submit_login(&server, &elsewhere, "acme", &page, "alice", PASSWORD).await.text().await.unwrap();
        let allow = [
            ("request_id", hidden(&consent, "request_id")),
            ("csrf", hidden(&consent, "csrf")),
            ("decision", "allow".to_owned()),
        ];
        let res = elsewhere.post(server.url("/tenants/acme/consent")).form(&allow).send().await.unwrap();
        let code = param(&location_params(&res).1, "code").unwrap().to_owned();
        let tokens: Value = crate::code_flow::exchange(
            &server,
            "acme",
            &partner,
            &code,
            crate::code_flow::VERIFIER,
            crate::code_flow::REDIRECT,
        )
        .await
        .json()
        .await
        .unwrap();
        let rt = tokens["refresh_token"].as_str().unwrap().to_owned();

        let b = browser(&server);
        sign_in_to_account(&server, &b, "alice", PASSWORD).await;
        let sessions = b.get(server.url("/tenants/acme/account/sessions")).send().await.unwrap().text().await.unwrap();
        assert_eq!(sessions.matches("data-sid=").count(), 2, "{db:?}: both sessions: {sessions}");
        let apps = b.get(server.url("/tenants/acme/account/applications")).send().await.unwrap().text().await.unwrap();
        assert!(apps.contains("Partner App"), "{apps}");
        let activity = b.get(server.url("/tenants/acme/account/activity")).send().await.unwrap().text().await.unwrap();
        assert!(activity.contains("login") && activity.contains("consent"), "{activity}");

        // Revoking the application withdraws the consent and its refresh token.
        let csrf = account_csrf(&server, &b, "/tenants/acme/account/applications").await;
        let res = b
            .post(server.url("/tenants/acme/account/applications/revoke"))
            .form(&[("csrf", csrf.as_str()), ("client_id", partner.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            crate::code_flow::refresh(&server, "acme", &partner, &rt).await.status(),
            StatusCode::BAD_REQUEST,
            "{db:?}"
        );

        // Ending all others ends the one elsewhere; this one stays.
        let res = b
            .post(server.url("/tenants/acme/account/sessions/end"))
            .form(&[("csrf", csrf.as_str()), ("sid", "others")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let res = elsewhere.get(authorize_url(&server, "acme", &partner, &[("prompt", "none")])).send().await.unwrap();
        assert_eq!(param(&location_params(&res).1, "error"), Some("login_required"), "{db:?}");
        let sessions = b.get(server.url("/tenants/acme/account/sessions")).send().await.unwrap().text().await.unwrap();
        assert_eq!(sessions.matches("data-sid=").count(), 1, "{db:?}");

        // A password change needs the current password and a recent sign-in.
        let change = |current: &'static str, new: &'static str| {
            [
                ("csrf", csrf.clone()),
                ("current_password", current.to_owned()),
                ("new_password", new.to_owned()),
                ("confirm_password", new.to_owned()),
            ]
        };
        let wrong = b
            .post(server.url("/tenants/acme/account/password"))
            .form(&change("not-it-at-all", NEW_PASSWORD))
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
        assert!(wrong.text().await.unwrap().contains("current password is not right"));
        db.execute("UPDATE sessions SET auth_time = auth_time - 700");
        let stale = b
            .post(server.url("/tenants/acme/account/password"))
            .form(&change(PASSWORD, NEW_PASSWORD))
            .send()
            .await
            .unwrap();
        assert_eq!(stale.status(), StatusCode::OK);
        assert!(stale.text().await.unwrap().contains("name=\"password\""), "{db:?}: sign in again first");
        let page = b.get(server.url("/tenants/acme/account/password")).send().await.unwrap().text().await.unwrap();
        let res = submit_login(&server, &b, "acme", &page, "alice", PASSWORD).await;
        assert_eq!(res.headers()["location"], "/tenants/acme/account/password");
        let res = b
            .post(server.url("/tenants/acme/account/password"))
            .form(&change(PASSWORD, NEW_PASSWORD))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{db:?}");
        assert!(!can_sign_in(&server, &first, "alice", PASSWORD).await);
        assert!(can_sign_in(&server, &first, "alice", NEW_PASSWORD).await, "{db:?}");

        // S8: nobody else's events: bob sees his own only.
        let bob = browser(&server);
        sign_in_to_account(&server, &bob, "bob", PASSWORD).await;
        let activity =
            bob.get(server.url("/tenants/acme/account/activity")).send().await.unwrap().text().await.unwrap();
        assert!(!activity.contains("consent") && !activity.contains("password_change"), "{db:?}: {activity}");
    }
}

/// L2, S7: the running server's log at TRACE over invitation, reset by mail, sign-in and a
/// password change on the account pages holds no password, link token, session id or form
/// token.
#[actix_web::test]
async fn the_trace_log_of_the_account_flows_holds_no_secret() {
    use crate::support::BinaryServer;
    let Some(smtp) = SmtpServer::start("account_trace_log") else { return };
    let db = TestDatabase::sqlite();
    let mut env = smtp.env();
    env.push(("GATEHOUSE_LOG".into(), "trace".into()));
    env.push(("GATEHOUSE_LOG_FORMAT".into(), "json".into()));
    let (dir, url) = (db.dir.path().to_owned(), db.url.clone());
    let gh = tokio::task::spawn_blocking(move || {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        BinaryServer::start_with(&dir, &url, &env)
    })
    .await
    .unwrap();
    let run = |args: &[&str]| gh.cli_json(&db.url, args, None);
    run(&["tenant", "create", "acme", "--json"]);
    run(&["tenant", "update", "acme", "--password-reset", "on", "--json"]);
    run(&["user", "create", "--tenant", "acme", "--username", "ivy", "--email", "ivy@example.com", "--json"]);
    let cert = reqwest::Certificate::from_pem(&gh.cert_pem).unwrap();
    let client = || {
        reqwest::Client::builder()
            .tls_certs_only([cert.clone()])
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    };
    let base = format!("{}/tenants/acme", gh.base);
    let mut secrets: Vec<String> = vec![NEW_PASSWORD.into(), THIRD_PASSWORD.into(), PASSWORD.into()];
    let set = |path: &'static str, token: String, password: &'static str| {
        let (c, url) = (client(), format!("{base}{path}"));
        async move {
            let form = [("token", token.as_str()), ("new_password", password), ("confirm_password", password)];
            assert_eq!(c.post(url).form(&form).send().await.unwrap().status(), StatusCode::OK);
        }
    };
    let invite = token_of(&link_in(&smtp.next().await, "/account/set-password").1);
    set("/account/set-password", invite.clone(), PASSWORD).await;
    secrets.push(invite);
    let b = client();
    let page = b.get(format!("{base}/account/forgot")).send().await.unwrap().text().await.unwrap();
    let form_token = hidden(&page, "form_token");
    let res = b
        .post(format!("{base}/account/forgot"))
        .form(&[("form_token", form_token.as_str()), ("account", "ivy")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    secrets.push(form_token);
    let reset = token_of(&link_in(&smtp.next().await, "/account/reset").1);
    set("/account/reset", reset.clone(), NEW_PASSWORD).await;
    secrets.push(reset);

    let b = client();
    let page = b.get(format!("{base}/account")).send().await.unwrap().text().await.unwrap();
    let (request_id, login_csrf) = (hidden(&page, "request_id"), hidden(&page, "csrf"));
    let form = [
        ("request_id", request_id.as_str()),
        ("csrf", login_csrf.as_str()),
        ("username", "ivy"),
        ("password", NEW_PASSWORD),
    ];
    let res = b.post(format!("{base}/login")).form(&form).send().await.unwrap();
    for c in res.headers().get_all("set-cookie") {
        secrets.push(c.to_str().unwrap().split(';').next().unwrap().split_once('=').unwrap().1.to_owned());
    }
    secrets.push(login_csrf);
    let page = b.get(format!("{base}/account/password")).send().await.unwrap().text().await.unwrap();
    let csrf = hidden(&page, "csrf");
    let form = [
        ("csrf", csrf.as_str()),
        ("current_password", NEW_PASSWORD),
        ("new_password", THIRD_PASSWORD),
        ("confirm_password", THIRD_PASSWORD),
    ];
    let res = b.post(format!("{base}/account/password")).form(&form).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    secrets.push(csrf);

    let log = gh.log_lines("");
    assert!(log.len() > 100 && log.iter().any(|l| l.contains("/account/reset")), "a trace log of these requests");
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        let found: Vec<&String> = log.iter().filter(|l| l.contains(secret.as_str())).collect();
        assert!(found.is_empty(), "L2: {} in the server log: {found:#?}", &secret[..4.min(secret.len())]);
    }
}
