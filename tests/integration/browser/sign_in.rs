//! O2, O6, IO3, IO4, A3, A10, S6 in a real browser: the sign-in, consent and logout pages of
//! the running `gatehouse` binary, driven in headless Chromium, which sends `Origin` as a
//! browser does, enforces the pages' CSP (also on the redirects that answer a form) and runs
//! their scripts.

use gatehouse_core::flow::pkce::challenge_s256;
use gatehouse_testkit::TestDatabase;
use reqwest::StatusCode;
use serde_json::Value;

use super::harness::{Browser, with_browser};
use super::rp::{RelyingParty, echoed};
use crate::code_flow::{PASSWORD, VERIFIER};
use crate::support::{BinaryServer, https_client};

/// The binary on SQLite with a tenant `acme` and a user `alice`, and a relying party.
pub struct Site {
    pub db: TestDatabase,
    pub gh: BinaryServer,
    pub rp: RelyingParty,
}

impl Site {
    pub async fn start() -> Self {
        Self::start_with(Vec::new()).await
    }

    /// As [`Site::start`], with more `GATEHOUSE_*` settings for the binary.
    pub async fn start_with(env: Vec<(String, String)>) -> Self {
        let db = TestDatabase::sqlite();
        let (dir, url) = (db.dir.path().to_owned(), db.url.clone());
        let gh = tokio::task::spawn_blocking(move || {
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            BinaryServer::start_with(&dir, &url, &env)
        })
        .await
        .unwrap();
        let rp = RelyingParty::start().await;
        let site = Self { db, gh, rp };
        site.cli(&["tenant", "create", "acme", "--display-name", "Acme Corp", "--json"], None);
        site.user("alice", &[]);
        site
    }

    /// The CLI against the running server's database.
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> Value {
        self.gh.cli_json(&self.db.url, args, stdin)
    }

    /// Creates a user of `acme` with [`PASSWORD`] and `roles`.
    pub fn user(&self, username: &str, roles: &[&str]) {
        let email = format!("{username}@example.com");
        let mut args = vec![
            "user",
            "create",
            "--tenant",
            "acme",
            "--username",
            username,
            "--email",
            &email,
            "--password-stdin",
            "--json",
        ];
        if !roles.is_empty() {
            args.push("--role");
            args.extend_from_slice(roles);
        }
        self.cli(&args, Some(PASSWORD));
    }

    /// Registers a public client whose redirect and post-logout URIs are the relying party's.
    pub fn client(&self, name: &str, first_party: bool) -> String {
        let (callback, signed_out) = (self.rp.url("/callback"), self.rp.url("/signed-out"));
        let mut args = vec![
            "client",
            "create",
            "--tenant",
            "acme",
            "--name",
            name,
            "--type",
            "public",
            "--redirect-uri",
            &callback,
            "--post-logout-redirect-uri",
            &signed_out,
            "--grant",
            "authorization_code",
            "refresh_token",
            "--scope",
            "openid profile offline_access",
            "--json",
        ];
        if first_party {
            args.push("--first-party");
        }
        self.cli(&args, None)["client_id"].as_str().unwrap().to_owned()
    }

    pub fn issuer(&self) -> String {
        format!("{}/tenants/acme", self.gh.base)
    }

    /// An authorization request for `client` with PKCE (S256 of [`VERIFIER`]); `extra`
    /// parameters are added.
    pub fn authorize(&self, client: &str, extra: &[(&str, &str)]) -> String {
        self.authorize_to(client, &self.rp.url("/callback"), extra)
    }

    /// As [`Site::authorize`], with the redirect URI `callback`.
    pub fn authorize_to(&self, client: &str, callback: &str, extra: &[(&str, &str)]) -> String {
        let mut url = url::Url::parse(&format!("{}/authorize", self.issuer())).unwrap();
        let challenge = challenge_s256(VERIFIER);
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", client)
            .append_pair("redirect_uri", callback)
            .append_pair("scope", "openid profile")
            .append_pair("nonce", "n-1")
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256")
            .extend_pairs(extra);
        url.to_string()
    }

    /// Redeems `code` at the token endpoint as the public client would.
    pub async fn exchange(&self, client: &str, code: &str) -> Value {
        let callback = self.rp.url("/callback");
        let res = https_client(&self.gh.cert_pem)
            .post(format!("{}/token", self.issuer()))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &callback),
                ("client_id", client),
                ("code_verifier", VERIFIER),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "the code is redeemed");
        res.json().await.unwrap()
    }

    pub fn pins(&self) -> Vec<String> {
        vec![self.gh.spki_pin()]
    }
}

/// Fills in and submits the login form on the current page.
pub async fn sign_in(b: &Browser, username: &str, password: &str) {
    b.fill("#username", username).await;
    b.fill("#password", password).await;
    b.click("form button[type=submit]").await;
}

/// The query parameters of `url`.
fn query(url: &url::Url) -> serde_json::Map<String, Value> {
    url.query_pairs().map(|(k, v)| (k.into_owned(), Value::String(v.into_owned()))).collect()
}

/// Whether the browser shows the login form (that is: it has no session).
async fn shows_login_form(b: &Browser) -> bool {
    b.wait_for("main").await;
    b.has("input#password").await
}

#[actix_web::test]
async fn third_party_sign_in_asks_for_consent_once_then_the_code_is_redeemed() {
    let site = Site::start().await;
    let client = site.client("Partner App", false);
    with_browser("third_party_sign_in", &site.pins(), async |b| {
        b.goto(&site.authorize(&client, &[("state", "s-1")])).await;
        sign_in(b, "alice", PASSWORD).await;
        b.heading("Partner App wants access").await;
        b.click("button[value=allow]").await;
        // The 303 that answers the consent form reaches the client (CSP form-action allows it).
        let url = b.wait_for_path("/callback").await;
        let params = query(&url);
        assert_eq!(params["state"], "s-1");
        assert_eq!(params["iss"], site.issuer().as_str(), "RFC 9207");
        let tokens = site.exchange(&client, params["code"].as_str().unwrap()).await;
        assert!(tokens["id_token"].is_string() && tokens["access_token"].is_string(), "{tokens}");
        // Consent is remembered and the session alive: the next request comes straight back.
        b.goto(&site.authorize(&client, &[("state", "s-2")])).await;
        let url = b.wait_for_path("/callback").await;
        assert_eq!(query(&url)["state"], "s-2");
    })
    .await;
}

#[actix_web::test]
async fn first_party_sign_in_prompt_login_and_form_post() {
    let site = Site::start().await;
    let client = site.client("Web App", true);
    with_browser("first_party_sign_in", &site.pins(), async |b| {
        b.goto(&site.authorize(&client, &[("state", "s-1")])).await;
        // A10: the password field is a password field the browser may fill.
        let password = b.wait_for("#password").await;
        assert_eq!(password.attr("type").await.unwrap().as_deref(), Some("password"));
        assert_eq!(password.attr("autocomplete").await.unwrap().as_deref(), Some("current-password"));
        sign_in(b, "alice", PASSWORD).await;
        // No consent for a first-party client: the login form's answer is the redirect.
        let url = b.wait_for_path("/callback").await;
        assert_eq!(query(&url)["state"], "s-1");
        site.exchange(&client, query(&url)["code"].as_str().unwrap()).await;

        // prompt=login asks again although the session is alive; form_post answers with a
        // page whose script (served by Gatehouse, under its CSP) posts the response.
        let extra = [("state", "s-2"), ("prompt", "login"), ("response_mode", "form_post")];
        b.goto(&site.authorize(&client, &extra)).await;
        assert!(shows_login_form(b).await, "prompt=login shows the login form");
        sign_in(b, "alice", PASSWORD).await;
        let fields = echoed(&b.wait_for_text("#params", |t| t.contains("code")).await);
        assert_eq!(b.text("#method").await, "POST");
        assert_eq!(fields["state"], "s-2");
        assert_eq!(fields["iss"], site.issuer().as_str());
        site.exchange(&client, fields["code"].as_str().unwrap()).await;
    })
    .await;
}

#[actix_web::test]
async fn a_wrong_password_shows_the_generic_message_and_the_form_stays_usable() {
    let site = Site::start().await;
    let client = site.client("Web App", true);
    with_browser("wrong_password", &site.pins(), async |b| {
        b.goto(&site.authorize(&client, &[("state", "s-1")])).await;
        for (username, password) in [("alice", "not-the-password-at-all"), ("nobody", PASSWORD)] {
            sign_in(b, username, password).await;
            // A3: the same words whichever part was wrong.
            assert_eq!(b.text("[role=alert]").await, "Invalid username or password.");
            assert!(shows_login_form(b).await);
        }
        sign_in(b, "alice", PASSWORD).await;
        let url = b.wait_for_path("/callback").await;
        assert_eq!(query(&url)["state"], "s-1");
    })
    .await;
}

#[actix_web::test]
async fn rp_initiated_logout_with_a_hint_at_once_and_without_one_after_confirmation() {
    let site = Site::start().await;
    let client = site.client("Web App", true);
    let signed_out = site.rp.url("/signed-out");
    with_browser("rp_initiated_logout", &site.pins(), async |b| {
        b.goto(&site.authorize(&client, &[("state", "s-1")])).await;
        sign_in(b, "alice", PASSWORD).await;
        let url = b.wait_for_path("/callback").await;
        let tokens = site.exchange(&client, query(&url)["code"].as_str().unwrap()).await;
        let hint = tokens["id_token"].as_str().unwrap();

        // With an id_token_hint of this session: signed out at once, back at the client.
        let mut logout = url::Url::parse(&format!("{}/logout", site.issuer())).unwrap();
        logout
            .query_pairs_mut()
            .append_pair("id_token_hint", hint)
            .append_pair("post_logout_redirect_uri", &signed_out)
            .append_pair("state", "bye-1");
        b.goto(logout.as_str()).await;
        let url = b.wait_for_path("/signed-out").await;
        assert_eq!(query(&url)["state"], "bye-1");
        b.goto(&site.authorize(&client, &[("state", "s-2")])).await;
        assert!(shows_login_form(b).await, "the session ended");

        // Without a hint: the user confirms first (RP-Initiated Logout §6), then goes back.
        sign_in(b, "alice", PASSWORD).await;
        b.wait_for_path("/callback").await;
        let mut logout = url::Url::parse(&format!("{}/logout", site.issuer())).unwrap();
        logout
            .query_pairs_mut()
            .append_pair("client_id", &client)
            .append_pair("post_logout_redirect_uri", &signed_out)
            .append_pair("state", "bye-2");
        b.goto(logout.as_str()).await;
        b.heading("Sign out?").await;
        assert_eq!(b.url().await.path(), "/tenants/acme/logout", "nothing ended before the user confirms");
        b.click("form button[type=submit]").await;
        let url = b.wait_for_path("/signed-out").await;
        assert_eq!(query(&url)["state"], "bye-2");
        b.goto(&site.authorize(&client, &[("state", "s-3")])).await;
        assert!(shows_login_form(b).await, "the session ended");
    })
    .await;
}

#[actix_web::test]
async fn a_login_form_posted_from_another_site_is_refused() {
    let site = Site::start().await;
    site.user("mallory", &[]);
    let client = site.client("Web App", true);
    with_browser("cross_site_post", &site.pins(), async |b| {
        // The victim's browser holds a waiting request; assume the attacker even knows its
        // request id and synchronizer token, and posts their own credentials (login CSRF).
        b.goto(&site.authorize(&client, &[("state", "s-1")])).await;
        let request_id = b.value("input[name=request_id]").await;
        let csrf = b.value("input[name=csrf]").await;
        let attack = format!(
            "<!doctype html><form method=\"post\" action=\"{}/login\">\
             <input type=\"hidden\" name=\"request_id\" value=\"{request_id}\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <input type=\"hidden\" name=\"username\" value=\"mallory\">\
             <input type=\"hidden\" name=\"password\" value=\"{PASSWORD}\">\
             <button id=\"go\" type=\"submit\">Win a prize</button></form>",
            site.issuer()
        );
        b.goto(&site.rp.other_site(&attack)).await;
        b.click("#go").await;
        b.heading("This sign-in page has expired").await;
        assert!(
            !site.gh.log_lines("cross-origin form post").is_empty(),
            "refused by the Origin check (IO3), before the binding cookie or token are looked at"
        );
        b.goto(&site.authorize(&client, &[("state", "s-2")])).await;
        assert!(shows_login_form(b).await, "no session was created");
    })
    .await;
}

/// IO4 in Chromium: a client whose redirect URI sends the browser on to another site (a
/// broker such as a downstream Gatehouse or Keycloak) is reached after the login form, whose
/// CSP `form-action` Chromium applies to every redirect of the chain.
#[actix_web::test]
async fn a_client_that_redirects_on_to_another_site_is_reached_after_the_login_form() {
    let site = Site::start().await;
    let hop = site.rp.url("/callback-hop");
    let created = site.cli(
        &[
            "client",
            "create",
            "--tenant",
            "acme",
            "--name",
            "Broker",
            "--type",
            "public",
            "--redirect-uri",
            &hop,
            "--grant",
            "authorization_code",
            "--scope",
            "openid profile",
            "--first-party",
            "--json",
        ],
        None,
    );
    let client = created["client_id"].as_str().unwrap().to_owned();
    with_browser("redirect_chain", &site.pins(), async |b| {
        b.goto(&site.authorize_to(&client, &hop, &[("state", "s-9")])).await;
        sign_in(b, "alice", PASSWORD).await;
        let url = b.wait_for_path("/callback").await;
        assert_eq!(url.host_str(), Some("127.0.0.1"), "on to the other site");
        let params = query(&url);
        assert_eq!(params["state"], "s-9");
        assert!(params["code"].as_str().is_some_and(|c| !c.is_empty()));
    })
    .await;
}
