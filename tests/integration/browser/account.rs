//! A5, A6, A8, A9, S6, S8 in Chromium: the bootstrap administrator's first sign-in (a new
//! password, then TOTP enrolment, then the session), the account pages
//! (a password change, another session ended and gone), and a reset from the login page
//! through the mailed link.

use gatehouse_core::UnixTime;
use gatehouse_core::mfa::totp;

use super::harness::{Browser, with_browser};
use super::sign_in::{Site, sign_in};
use crate::code_flow::PASSWORD;
use crate::smtp::{SmtpServer, link_in};

const NEW_PASSWORD: &str = "marmalade-quartz-violet";

/// Fills the two new-password fields and submits.
async fn choose_password(b: &Browser, password: &str) {
    b.fill("#new_password", password).await;
    b.fill("#confirm_password", password).await;
    b.click("form button[type=submit]").await;
}

#[actix_web::test]
async fn the_bootstrap_administrator_completes_the_first_sign_in_with_a_new_password_and_totp() {
    let site = Site::start().await;
    let printed = site.gh.log_lines("one-time password:");
    let otp = printed.first().expect("the one-time password is printed").rsplit(' ').next().unwrap().trim().to_owned();
    let account = format!("{}/tenants/platform/account", site.gh.base);
    with_browser("bootstrap_admin", &site.pins(), async |b| {
        b.goto(&account).await;
        sign_in(b, "admin", &otp).await;
        b.heading("Choose a new password").await;
        choose_password(b, "bluebird-99").await;
        assert_eq!(b.text("[role=alert]").await, "password must be at least 12 characters");
        choose_password(b, NEW_PASSWORD).await;
        // A6, A7: an administrator enrols a second factor before any session.
        b.heading("Set up a second factor").await;
        assert!(b.has("svg.qr").await, "the QR code is drawn in the page");
        let secret = totp::from_base32(&b.text("#totp-secret").await).expect("the key as text");
        b.fill("#totp-form #code", &totp::code_at(&secret, UnixTime::now())).await;
        b.click("#totp-form button[type=submit]").await;
        b.heading("Save your recovery codes").await;
        let codes = b.eval("return document.querySelectorAll('#recovery-codes li').length").await;
        assert_eq!(codes, 10);
        b.click("#continue").await;
        assert_eq!(b.text("#signed-in-as").await, "admin");
        // The enrolled factor is on the security page; signing in again asks for it.
        b.click("nav a[href$='/account/security']").await;
        assert!(b.text("#factors").await.contains("Authenticator app"));
        b.click("#sign-out").await;
        b.heading("You are signed out").await;
        b.goto(&account).await;
        sign_in(b, "admin", &otp).await;
        assert_eq!(b.text("[role=alert]").await, "Invalid username or password.");
        sign_in(b, "admin", NEW_PASSWORD).await;
        b.heading("Confirm it's you").await;
        b.fill("#code", &totp::code_at(&secret, UnixTime(UnixTime::now().0 + 30))).await;
        b.click("#totp-form button[type=submit]").await;
        assert_eq!(b.text("#signed-in-as").await, "admin");
    })
    .await;
}

#[actix_web::test]
async fn a_user_ends_another_session_changes_the_password_and_signs_out() {
    let site = Site::start().await;
    let account = format!("{}/tenants/acme/account", site.gh.base);
    // Another session of alice's, in another "browser".
    let other = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&site.gh.cert_pem).unwrap()])
        .cookie_store(true)
        .user_agent("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:140.0) Gecko/20100101 Firefox/140.0")
        .build()
        .unwrap();
    let page = other.get(&account).send().await.unwrap().text().await.unwrap();
    let form = [
        ("request_id", crate::code_flow::hidden(&page, "request_id")),
        ("csrf", crate::code_flow::hidden(&page, "csrf")),
        ("username", "alice".to_owned()),
        ("password", PASSWORD.to_owned()),
    ];
    let signed_in = other.post(format!("{}/tenants/acme/login", site.gh.base)).form(&form).send().await.unwrap();
    assert!(signed_in.text().await.unwrap().contains("signed-in-as"), "the other session is signed in");
    with_browser("account_pages", &site.pins(), async |b| {
        b.goto(&account).await;
        sign_in(b, "alice", PASSWORD).await;
        assert_eq!(b.text("#signed-in-as").await, "alice");
        b.click("nav a[href$='/account/sessions']").await;
        b.wait_for_path("/tenants/acme/account/sessions").await;
        let rows = b.eval("return document.querySelectorAll('#sessions tbody tr').length").await;
        assert_eq!(rows, 2, "this session and the other");
        assert!(b.text("#sessions").await.contains("Firefox on Windows"), "S8: the device, read from its user agent");
        b.click("#sessions tbody tr:not(:has(strong)) button").await;
        assert_eq!(b.wait_for_text("[role=status]", |t| !t.is_empty()).await, "The session has ended.");
        let rows = b.eval("return document.querySelectorAll('#sessions tbody tr').length").await;
        assert_eq!(rows, 1, "the other session is gone");
        let other_page = other.get(&account).send().await.unwrap().text().await.unwrap();
        assert!(other_page.contains("name=\"password\""), "the other browser must sign in again");

        b.click("nav a[href$='/account/password']").await;
        b.wait_for_path("/tenants/acme/account/password").await;
        b.fill("#current_password", PASSWORD).await;
        b.fill("#new_password", NEW_PASSWORD).await;
        b.fill("#confirm_password", NEW_PASSWORD).await;
        b.click("#change-password").await;
        assert_eq!(b.text("[role=status]").await, "Your password is changed. Your other sessions have ended.");
        b.click("nav a[href$='/account/activity']").await;
        b.wait_for_path("/tenants/acme/account/activity").await;
        assert!(b.text("#events").await.contains("user.password_change"));

        // S6: the sign-out control of every account page.
        b.click("#sign-out").await;
        b.heading("You are signed out").await;
        b.goto(&account).await;
        sign_in(b, "alice", NEW_PASSWORD).await;
        assert_eq!(b.text("#signed-in-as").await, "alice");
    })
    .await;
}

#[actix_web::test]
async fn a_forgotten_password_is_reset_from_the_login_page_through_the_mailed_link() {
    let Some(smtp) = SmtpServer::start("browser_reset") else { return };
    let site = Site::start_with(smtp.env()).await;
    site.cli(&["tenant", "update", "acme", "--password-reset", "on", "--json"], None);
    let account = format!("{}/tenants/acme/account", site.gh.base);
    with_browser("reset_by_mail", &site.pins(), async |b| {
        b.goto(&account).await;
        b.click("a[href$='/account/forgot']").await;
        b.fill("#account", "alice@example.com").await;
        b.click("form button[type=submit]").await;
        b.heading("Check your mail").await;
        let (_, link) = link_in(&smtp.next().await, "/account/reset");
        b.goto(&link).await;
        b.heading("Choose a new password").await;
        choose_password(b, NEW_PASSWORD).await;
        b.heading("Your password is set").await;
        b.goto(&link).await;
        b.heading("This link is not valid").await;
        b.goto(&account).await;
        sign_in(b, "alice", NEW_PASSWORD).await;
        assert_eq!(b.text("#signed-in-as").await, "alice");
    })
    .await;
}
