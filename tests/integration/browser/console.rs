//! AC1–AC6, A6 in Chromium: the admin console. A platform administrator signs in with a
//! second factor, creates a tenant, a public client and a user (whose invitation arrives by
//! mail), assigns roles, resets the user's factors, ends their sessions and finds each action
//! in the audit log; a tenant administrator is refused another tenant's pages.

use gatehouse_core::UnixTime;
use gatehouse_core::mfa::totp;

use super::harness::{Browser, with_browser};
use super::sign_in::{Site, sign_in};
use crate::code_flow::PASSWORD;
use crate::smtp::{SmtpServer, link_in};

/// Completes an administrator's first sign-in: TOTP enrolment, then the recovery codes.
async fn enrol_totp(b: &Browser) {
    b.heading("Set up a second factor").await;
    let secret = totp::from_base32(&b.text("#totp-secret").await).expect("the key as text");
    b.fill("#totp-form #code", &totp::code_at(&secret, UnixTime::now())).await;
    b.click("#totp-form button[type=submit]").await;
    b.heading("Save your recovery codes").await;
    b.click("#continue").await;
}

/// The page is usable by keyboard and screen reader, and on a phone: every control has a
/// label (or an accessible name), the page has one `h1` and a skip link to `main`, and at a
/// phone's width nothing makes the page scroll sideways.
async fn accessible(b: &Browser) {
    let unlabelled = b
        .eval(
            "return [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button')]\
             .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.textContent.trim())\
             .map(e => e.outerHTML)",
        )
        .await;
    assert_eq!(unlabelled, serde_json::json!([]), "every control is labelled");
    assert_eq!(b.eval("return document.querySelectorAll('h1').length").await, 1);
    assert!(b.has("a.skip[href='#main']").await && b.has("main#main").await, "a skip link to the content");
    b.resize(390, 844).await;
    assert!(b.eval("return window.innerWidth").await.as_i64().unwrap() <= 390, "the window is a phone's");
    let overflow = b.eval("return document.documentElement.scrollWidth - window.innerWidth").await;
    b.resize(1024, 900).await;
    assert!(overflow.as_i64().unwrap() <= 0, "nothing scrolls sideways on a phone: {overflow}");
}

/// Whether the audit table lists `action`.
async fn audited(b: &Browser, action: &str) -> bool {
    b.text("#audit").await.lines().any(|row| row.split_whitespace().any(|cell| cell == action))
}

#[actix_web::test]
async fn an_administrator_manages_tenants_clients_users_and_roles_and_sees_it_audited() {
    let Some(smtp) = SmtpServer::start("browser_console") else { return };
    let site = Site::start_with(smtp.env()).await;
    site.cli(
        &[
            "user",
            "create",
            "--tenant",
            "platform",
            "--username",
            "root",
            "--email",
            "root@example.com",
            "--password-stdin",
            "--role",
            "platform-admin",
            "--json",
        ],
        Some(PASSWORD),
    );
    let console = format!("{}/console", site.gh.base);
    with_browser("console_admin", &site.pins(), async |b| {
        // A visitor without a session is sent to sign in; A6: a second factor first.
        b.goto(&console).await;
        sign_in(b, "root", PASSWORD).await;
        enrol_totp(b).await;
        b.heading("Overview").await;
        assert_eq!(b.text("#signed-in-as").await, "root");
        accessible(b).await;

        // A tenant.
        b.click("nav a[href$='/console/tenants']").await;
        b.heading("Tenants").await;
        b.fill("#slug", "initech").await;
        b.fill("#display_name", "Initech").await;
        b.click("#create-tenant").await;
        b.wait_for_text("#notice", |t| t == "The tenant is created.").await;
        b.click("a[href$='/console/t/initech']").await;
        b.heading("Overview").await;
        assert_eq!(b.text("#target-tenant").await, "Initech");

        // A public client, from the form that explains its fields.
        b.click("nav a[href$='/t/initech/clients']").await;
        b.click("#new-client").await;
        b.heading("Register a client").await;
        accessible(b).await;
        assert!(b.text("label[for=redirect_uris]").await.contains("compared exactly"));
        b.fill("#name", "Initech SPA").await;
        b.click("#type-public").await;
        b.fill("#redirect_uris", "https://spa.initech.example/callback").await;
        b.fill("#web_origins", "https://spa.initech.example").await;
        b.click("#save-client").await;
        b.heading("Client").await;
        assert!(!b.has("#client-secret").await, "a public client has no secret");
        let client_id = b.text("#client-id").await;
        assert!(!client_id.is_empty());
        // Its settings change from a form that shows them (and the version it was read at).
        b.click("#edit-client").await;
        b.heading("Change a client").await;
        assert_eq!(b.value("#redirect_uris").await, "https://spa.initech.example/callback");
        b.fill("#scope", "openid profile").await;
        b.fill("#redirect_uris", "javascript:alert(1)").await;
        b.click("#save-client").await;
        b.wait_for_text("#error", |t| t.contains("redirect")).await;
        assert_eq!(b.value("#scope").await, "openid profile", "the form keeps what was typed");
        b.fill("#redirect_uris", "https://spa.initech.example/callback").await;
        b.click("#save-client").await;
        b.wait_for_text("#notice", |t| t == "The settings are saved.").await;

        // A user, invited by mail.
        b.click("nav a[href$='/t/initech/users']").await;
        b.fill("#username", "ivy").await;
        b.fill("#email", "ivy@initech.example").await;
        b.click("#invite-user").await;
        b.heading("User").await;
        accessible(b).await;
        assert_eq!(b.text("#user-state").await, "invited");
        let (_, link) = link_in(&smtp.next().await, "/tenants/initech/account/set-password");
        assert!(link.contains("token="), "the invitation carries its link");

        // Profile, roles, factors, sessions.
        b.fill("#display_name", "Ivy Initech").await;
        b.click("#save-profile").await;
        b.wait_for_text("#notice", |t| t == "The profile is saved.").await;
        assert_eq!(b.text("#user-display-name").await, "Ivy Initech");
        b.fill("#roles", "helpdesk reports-reader").await;
        b.click("#save-roles").await;
        b.wait_for_text("#notice", |t| t == "The roles are saved.").await;
        assert_eq!(b.text("#user-roles").await, "helpdesk reports-reader");
        b.click("#reset-mfa").await;
        b.wait_for_text("#notice", |t| t.starts_with("The second factors are removed")).await;
        b.click("#end-sessions").await;
        b.wait_for_text("#notice", |t| t == "The user's sessions have ended.").await;

        // Each action is in the audit view, and the chain verifies.
        b.click("nav a[href$='/t/initech/audit']").await;
        b.heading("Audit log").await;
        accessible(b).await;
        assert!(b.text("#chain-status").await.starts_with("intact"), "L3");
        for action in [
            "client.create",
            "client.update",
            "user.create",
            "user.invite",
            "user.update",
            "user.roles",
            "user.mfa_reset",
            "session.end",
        ] {
            assert!(audited(b, action).await, "{action} is in the audit view");
        }
        b.fill("#f-action", "user.roles").await;
        b.click("#filter").await;
        b.wait_for_text("#audit", |t| !t.contains("client.create")).await;
        assert!(audited(b, "user.roles").await);
        let csv = b.eval("return document.querySelector('#export-csv').getAttribute('href')").await;
        assert!(csv.as_str().unwrap().contains("action=user.roles"), "the export is of this view: {csv}");
    })
    .await;
}

#[actix_web::test]
async fn a_tenant_administrator_is_refused_another_tenants_pages() {
    let site = Site::start().await;
    site.cli(&["tenant", "create", "globex", "--json"], None);
    site.user("tara", &["tenant-admin"]);
    // AC4: a service client at tara's own level, which she must not take over.
    let robot = site.cli(
        &[
            "client",
            "create",
            "--tenant",
            "acme",
            "--name",
            "Robot",
            "--type",
            "confidential",
            "--grant",
            "client_credentials",
            "--scope",
            "admin",
            "--role",
            "tenant-admin",
            "--json",
        ],
        None,
    )["client_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let base = &site.gh.base;
    with_browser("console_tenant_admin", &site.pins(), async |b| {
        b.goto(&format!("{base}/console?tenant=acme")).await;
        sign_in(b, "tara", PASSWORD).await;
        enrol_totp(b).await;
        b.heading("Overview").await;
        assert!(!b.has("nav a[href$='/console/tenants']").await, "no tenants section for a tenant administrator");
        let robot_page = format!("/tenants/acme/console/t/acme/clients/{robot}");
        for page in [
            "/tenants/acme/console/t/globex/users",
            "/tenants/acme/console/t/globex",
            "/tenants/acme/console/tenants",
            robot_page.as_str(),
        ] {
            b.goto(&format!("{base}{page}")).await;
            b.heading("Not permitted").await;
        }
        // Who is signed in: tara herself.
        b.click("nav a[href$='/t/acme/sessions']").await;
        b.heading("Sessions").await;
        assert!(b.text("#sessions").await.contains("tara"));
        // Her tenant's policies, sessions and lockout among them.
        b.click("nav a[href$='/t/acme/policy']").await;
        b.heading("Policies").await;
        accessible(b).await;
        assert_eq!(b.value("#lockout_threshold").await, "5");
        b.fill("#lockout_threshold", "4").await;
        b.fill("#session_idle_minutes", "45").await;
        b.click("#save-policy").await;
        b.wait_for_text("#notice", |t| t == "The policies are saved.").await;
        assert_eq!(b.value("#lockout_threshold").await, "4");
        assert_eq!(b.value("#session_idle_minutes").await, "45");
        // O8: an upstream provider, its secret taken and never shown again.
        b.click("nav a[href$='/t/acme/upstreams']").await;
        b.heading("Upstreams").await;
        accessible(b).await;
        b.fill("#u-name", "corp").await;
        b.fill("#u-display", "Corp SSO").await;
        b.fill("#u-issuer", "https://login.corp.example").await;
        b.fill("#u-client", "gatehouse").await;
        b.fill("#u-secret", "corp-secret-value-123").await;
        b.click("#add-upstream").await;
        b.wait_for_text("#notice", |t| t == "The upstream is added.").await;
        let listed = b.text("#upstreams").await;
        assert!(listed.contains("Continue with Corp SSO") && !listed.contains("corp-secret-value-123"), "{listed}");
        // Changed: a refused role rule shows its reason and keeps what was typed; then saved.
        b.click("a[aria-label='Change corp']").await;
        b.heading("Change an upstream").await;
        accessible(b).await;
        assert_eq!(b.value("#u-display").await, "Corp SSO");
        assert_eq!(b.value("#u-secret").await, "", "the secret is never shown");
        b.fill("#u-display", "Corp Login").await;
        b.fill("#u-rules", "groups=eng:tenant-admin").await;
        b.click("#save-upstream").await;
        b.wait_for_text("#error", |t| t.contains("administrative role")).await;
        assert_eq!(b.value("#u-display").await, "Corp Login", "what was typed stays");
        b.fill("#u-rules", "groups=eng:staff").await;
        b.fill("#u-secret", "corp-secret-value-456").await;
        b.click("#save-upstream").await;
        b.wait_for_text("#notice", |t| t == "The upstream is saved.").await;
        let listed = b.text("#upstreams").await;
        assert!(listed.contains("Continue with Corp Login") && listed.contains("groups=eng:staff"), "{listed}");
        // A9: a one-time password for a user of her own tenant; the policy still applies.
        b.goto(&format!("{base}/tenants/acme/console/t/acme/users/alice")).await;
        b.heading("User").await;
        b.fill("#password", "short").await;
        b.click("#reset-password").await;
        b.wait_for_text("#error", |t| t.contains("at least 12 characters")).await;
        b.goto(&format!("{base}/tenants/acme/console/t/acme/users/alice")).await;
        b.fill("#password", "saffron-lantern-meadow").await;
        b.click("#reset-password").await;
        b.wait_for_text("#notice", |t| t.starts_with("The one-time password is set")).await;
        assert_eq!(b.text("#user-state").await, "must change password");
        // AC6: the refusals are in acme's audit log.
        b.goto(&format!("{base}/tenants/acme/console/t/acme/audit?action=api.denied")).await;
        let denied = b.text("#audit").await;
        assert!(denied.contains("tenant:globex"), "{denied}");
    })
    .await;
}
