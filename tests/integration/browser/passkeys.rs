//! A5 in Chromium, with its virtual authenticator (WebAuthn WebDriver extension) as the
//! user's passkey provider, against the real pages and their script: register a passkey on
//! the account's security page, sign out, sign in with the passkey alone; then with the
//! password and the passkey as the second factor.

use super::harness::with_browser;
use super::sign_in::{Site, sign_in};
use crate::code_flow::PASSWORD;

#[actix_web::test]
async fn a_passkey_is_registered_then_signs_in_alone_and_as_a_second_factor() {
    let site = Site::start().await;
    site.cli(&["tenant", "update", "acme", "--passwordless", "on", "--json"], None);
    let account = format!("{}/tenants/acme/account", site.gh.base);
    with_browser("passkeys", &site.pins(), async |b| {
        b.add_virtual_authenticator().await;
        b.goto(&account).await;
        sign_in(b, "alice", PASSWORD).await;
        assert_eq!(b.text("#signed-in-as").await, "alice");
        b.click("nav a[href$='/account/security']").await;
        b.wait_for("#no-factors").await;
        b.click("#add-passkey").await;
        b.heading("Add a passkey").await;
        b.fill("#passkey_name", "This laptop").await;
        b.click("#create-passkey").await;
        // The first factor brings the recovery codes, shown once.
        b.heading("Save your recovery codes").await;
        b.click("#done").await;
        let factors = b.text("#factors").await;
        assert!(factors.contains("This laptop") && factors.contains("Passkey"), "{factors}");
        assert!(factors.contains("internal"), "the transport the authenticator reported: {factors}");

        b.click("#sign-out").await;
        b.heading("You are signed out").await;
        // The passkey alone (the tenant allows it): no username, no password.
        b.goto(&account).await;
        b.click("#sign-in-with-passkey").await;
        assert_eq!(b.text("#signed-in-as").await, "alice");
        b.click("nav a[href$='/account/activity']").await;
        assert!(b.text("#events").await.contains("login"));

        // The password, then the passkey as the second factor.
        b.click("#sign-out").await;
        b.heading("You are signed out").await;
        b.goto(&account).await;
        sign_in(b, "alice", PASSWORD).await;
        b.heading("Confirm it's you").await;
        b.click("#use-passkey").await;
        assert_eq!(b.text("#signed-in-as").await, "alice");
    })
    .await;
}
