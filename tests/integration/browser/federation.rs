//! O8 in a real browser: "Continue with Corp" on the login page of the `gatehouse` binary
//! under test, the sign-in at the upstream (a second `gatehouse` process, its own tenant,
//! keys and users), and back to the application with a code. Chromium holds the redirect
//! that answers the button's form to the login page's CSP `form-action`, which an HTTP
//! client would not; then the account page lists the linked sign-in and keeps it when it is
//! the account's only way in.

use serde_json::Value;

use super::harness::with_browser;
use super::sign_in::{Site, sign_in};
use crate::code_flow::PASSWORD;
use crate::federation::RealUpstream;

#[actix_web::test]
async fn continue_with_an_upstream_signs_in_there_and_comes_back_to_the_application() {
    // The site's address is known only once it runs, and the upstream's certificate must be
    // trusted when it starts: the upstream's client is registered for the site afterwards.
    let corp = RealUpstream::start_for("https://localhost:1/tenants/acme").await;
    let ca = corp.gh.cert_path().display().to_string();
    let site = Site::start_with(vec![("GATEHOUSE_UPSTREAM_CA_FILE".into(), ca)]).await;
    let callback = format!("{}/upstream/callback", site.issuer());
    let registered = corp.cli(
        &[
            "client",
            "create",
            "--tenant",
            "corp",
            "--name",
            "Acme",
            "--type",
            "confidential",
            "--redirect-uri",
            &callback,
            "--grant",
            "authorization_code",
            "--scope",
            "openid profile email",
            "--first-party",
            "--json",
        ],
        None,
    );
    let (id, secret) = (registered["client_id"].as_str().unwrap(), registered["client_secret"].as_str().unwrap());
    let issuer = corp.issuer();
    site.cli(
        &[
            "upstream",
            "add",
            "--tenant",
            "acme",
            "--name",
            "corp",
            "--display-name",
            "Corp",
            "--issuer",
            &issuer,
            "--client-id",
            id,
            "--client-secret-stdin",
            "--json",
        ],
        Some(secret),
    );
    let app = site.client("Web App", true);
    let pins = [site.gh.spki_pin(), corp.gh.spki_pin()];
    with_browser("federation_sign_in", &pins, async |b| {
        b.goto(&site.authorize(&app, &[("state", "s-1")])).await;
        b.heading("Sign in to Acme Corp").await;
        assert_eq!(b.text("button[name=upstream][value=corp]").await, "Continue with Corp");
        b.click("button[name=upstream][value=corp]").await;
        // The upstream's own login page, on its own origin.
        b.heading("Sign in to Corp").await;
        assert_eq!(b.url().await.port(), url::Url::parse(&corp.gh.base).unwrap().port());
        sign_in(b, "ursula", PASSWORD).await;
        let url = b.wait_for_path("/callback").await;
        let params: serde_json::Map<String, Value> =
            url.query_pairs().map(|(k, v)| (k.into_owned(), Value::String(v.into_owned()))).collect();
        assert_eq!(params["state"], "s-1");
        assert_eq!(params["iss"], site.issuer().as_str());
        let tokens = site.exchange(&app, params["code"].as_str().unwrap()).await;
        assert!(tokens["access_token"].is_string(), "{tokens}");

        // The account page lists the linked sign-in; it is the account's only way in, so it stays.
        b.goto(&format!("{}/account/security", site.issuer())).await;
        let how = b.text("#no-factors").await;
        assert!(how.contains("with a provider below") && !how.contains("password"), "{how}");
        let row = b.text("#linked-identities tr[data-upstream=corp]").await;
        assert!(row.contains("Corp"), "{row}");
        b.click("#linked-identities button").await;
        let refusal = b.text("[role=alert], .error").await;
        assert!(refusal.contains("only way to sign in"), "{refusal}");
        assert!(b.has("#linked-identities tr[data-upstream=corp]").await, "still linked");
    })
    .await;
}

#[actix_web::test]
async fn an_upstream_whose_authorization_endpoint_is_elsewhere_is_reached_through_a_link_page() {
    let site = Site::start().await;
    let fake = crate::federation::fake_idp::FakeIdp::start_with("gatehouse-acme", true).await;
    let issuer = fake.issuer();
    let add = [
        "upstream",
        "add",
        "--tenant",
        "acme",
        "--name",
        "fake",
        "--display-name",
        "Fake",
        "--issuer",
        &issuer,
        "--client-id",
        "gatehouse-acme",
        "--client-secret-stdin",
        "--json",
    ];
    site.cli(&add, Some("fake-secret"));
    let app = site.client("Web App", true);
    with_browser("federation_link_page", &site.pins(), async |b| {
        b.goto(&site.authorize(&app, &[])).await;
        b.click("button[name=upstream][value=fake]").await;
        b.heading("Continue with Fake").await;
        b.click("#continue-upstream").await;
        let url = b.wait_for_path("/authorize").await;
        assert_eq!(url.host_str(), Some("localhost"), "the upstream's authorization endpoint");
        assert_eq!(url.port(), Some(fake.port));
        b.heading("Fake upstream").await;
    })
    .await;
}
