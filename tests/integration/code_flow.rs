//! O2–O6, S1–S4, S6, A3, IO3: the Authorization Code + PKCE flow driven by a cookie-keeping
//! client, with every negative case the issue lists.

use gatehouse_core::UnixTime;
use gatehouse_core::admin::{self, CreateClient, CreateUser};
use gatehouse_core::flow::pkce::challenge_s256;
use gatehouse_core::store::AuditStore;
use gatehouse_testkit::{TestDatabase, databases};
use gatehouse_types::Secret;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::StatusCode;
use serde_json::Value;

use crate::oauth::{Creds, backend_client, server, tenant};
use crate::support::{PUBLIC_URL, TestServer, https_client};

pub const PASSWORD: &str = "tangerine-orbit-delta";
pub const REDIRECT: &str = "https://app.example.com/cb";
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-and-some-more";

/// A browser: keeps cookies, never follows redirects.
pub fn browser(server: &TestServer) -> reqwest::Client {
    let cert = reqwest::Certificate::from_pem(&server.cert_pem).unwrap();
    reqwest::Client::builder()
        .tls_certs_only([cert])
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub fn user(server: &TestServer, tenant: &str, username: &str) -> String {
    let input = CreateUser {
        tenant: tenant.into(),
        username: username.into(),
        email: format!("{username}@example.com"),
        password: Some(Secret::new(PASSWORD.into())),
        roles: vec!["reports-reader".into()],
        must_change_password: false,
        self_registered: false,
    };
    admin::create_user(
        &server.running.store,
        &server.running_hasher(),
        &Default::default(),
        "test",
        &input,
        UnixTime::now(),
    )
    .unwrap()
    .id
}

pub fn spa(server: &TestServer, tenant: &str, name: &str, first_party: bool) -> String {
    let store = &server.running.store;
    let input = CreateClient {
        tenant: tenant.into(),
        name: name.into(),
        client_type: "public".into(),
        redirect_uris: vec![REDIRECT.into()],
        post_logout_redirect_uris: vec!["https://app.example.com/".into()],
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        scope: "openid profile email offline_access".into(),
        first_party,
        web_origins: vec!["https://app.example.com".into()],
        ..Default::default()
    };
    admin::create_client(store, store.vault(), "test", &input, UnixTime::now()).unwrap().client.client_id
}

pub fn authorize_url(server: &TestServer, tenant: &str, client_id: &str, extra: &[(&str, &str)]) -> String {
    let challenge = challenge_s256(VERIFIER);
    let mut url = url::Url::parse(&server.url(&format!("/tenants/{tenant}/authorize"))).unwrap();
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in [
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", REDIRECT),
            ("scope", "openid profile email offline_access"),
            ("state", "st-123"),
            ("nonce", "n-456"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ] {
            if !extra.iter().any(|(ek, _)| *ek == k) {
                q.append_pair(k, v);
            }
        }
        for (k, v) in extra {
            if !v.is_empty() {
                q.append_pair(k, v);
            }
        }
    }
    url.to_string()
}

/// The value of a hidden input in a page.
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("no {name} in {html}")) + marker.len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

/// The query parameters of a redirect response's Location.
pub fn location_params(res: &reqwest::Response) -> (String, Vec<(String, String)>) {
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "expected a redirect");
    let loc = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    let base = format!("{}://{}{}", loc.scheme(), loc.host_str().unwrap(), loc.path());
    (base, loc.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
}

pub fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Logs in on the login page `page` and returns the response to the POST.
pub async fn submit_login(
    server: &TestServer,
    b: &reqwest::Client,
    tenant: &str,
    page: &str,
    username: &str,
    password: &str,
) -> reqwest::Response {
    let form = login_form(page, username, password);
    b.post(server.url(&format!("/tenants/{tenant}/login"))).form(&form).send().await.unwrap()
}

/// The fields the login page `page` posts for `username` and `password`.
pub fn login_form(page: &str, username: &str, password: &str) -> [(&'static str, String); 4] {
    [
        ("request_id", hidden(page, "request_id")),
        ("csrf", hidden(page, "csrf")),
        ("username", username.to_owned()),
        ("password", password.to_owned()),
    ]
}

/// Runs authorize + login and returns the code.
pub async fn login_for_code(
    server: &TestServer,
    b: &reqwest::Client,
    tenant: &str,
    client_id: &str,
    username: &str,
) -> String {
    let page = b.get(authorize_url(server, tenant, client_id, &[])).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    let res = submit_login(server, b, tenant, &html, username, PASSWORD).await;
    let (base, params) = location_params(&res);
    assert_eq!(base, REDIRECT);
    assert_eq!(param(&params, "state"), Some("st-123"));
    assert_eq!(param(&params, "iss"), Some(format!("{PUBLIC_URL}/tenants/{tenant}").as_str()), "RFC 9207");
    param(&params, "code").unwrap().to_owned()
}

pub async fn exchange(
    server: &TestServer,
    tenant: &str,
    client_id: &str,
    code: &str,
    verifier: &str,
    redirect: &str,
) -> reqwest::Response {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect),
        ("code_verifier", verifier),
        ("client_id", client_id),
    ];
    server.client.post(server.url(&format!("/tenants/{tenant}/token"))).form(&form).send().await.unwrap()
}

pub async fn refresh(server: &TestServer, tenant: &str, client_id: &str, token: &str) -> reqwest::Response {
    let form = [("grant_type", "refresh_token"), ("refresh_token", token), ("client_id", client_id)];
    server.client.post(server.url(&format!("/tenants/{tenant}/token"))).form(&form).send().await.unwrap()
}

async fn error_code(res: reqwest::Response) -> String {
    let v: Value = res.json().await.unwrap();
    v["error"].as_str().unwrap_or_default().to_owned()
}

async fn active(server: &TestServer, tenant: &str, rs: &Creds, token: &str) -> bool {
    let res = server
        .client
        .post(server.url(&format!("/tenants/{tenant}/introspect")))
        .basic_auth(&rs.id, Some(&rs.secret))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    res.json::<Value>().await.unwrap()["active"] == true
}

impl TestServer {
    /// A password hasher with the server's parameters.
    pub fn running_hasher(&self) -> gatehouse_core::password::PasswordHasher {
        gatehouse_core::password::PasswordHasher::default()
    }
}

#[actix_web::test]
async fn full_code_flow_with_pkce_refresh_userinfo_and_logout() {
    for db in databases() {
        let server = server(&db).await;
        tenant(&server, "acme");
        let alice = user(&server, "acme", "alice");
        let spa = spa(&server, "acme", "Web App", true);
        let rs = backend_client(&server, "acme", "resource-server", None);
        let b = browser(&server);

        let code = login_for_code(&server, &b, "acme", &spa, "alice").await;
        let res = exchange(&server, "acme", &spa, &code, VERIFIER, REDIRECT).await;
        assert_eq!(res.status(), StatusCode::OK, "{db:?}");
        assert_eq!(res.headers()["cache-control"], "no-store");
        let tokens: Value = res.json().await.unwrap();
        let (at, id_token, rt) = (
            tokens["access_token"].as_str().unwrap(),
            tokens["id_token"].as_str().unwrap(),
            tokens["refresh_token"].as_str().unwrap(),
        );

        // The ID token, checked by an independent library.
        let set: JwkSet =
            server.client.get(server.url("/tenants/acme/jwks")).send().await.unwrap().json().await.unwrap();
        let header = jsonwebtoken::decode_header(id_token).unwrap();
        let key = DecodingKey::from_jwk(set.find(header.kid.as_deref().unwrap()).unwrap()).unwrap();
        let mut v = Validation::new(Algorithm::ES256);
        v.set_audience(&[&spa]);
        v.set_issuer(&[format!("{PUBLIC_URL}/tenants/acme")]);
        let claims = jsonwebtoken::decode::<Value>(id_token, &key, &v).unwrap().claims;
        assert_eq!(claims["sub"], alice.as_str());
        assert_eq!(claims["nonce"], "n-456");
        assert_eq!(claims["preferred_username"], "alice");
        assert_eq!(claims["email"], "alice@example.com");
        assert_eq!(claims["amr"], serde_json::json!(["pwd"]));
        assert_eq!(claims["roles"], serde_json::json!(["reports-reader"]));
        assert!(claims["sid"].is_string() && claims["auth_time"].is_i64() && claims["acr"].is_string());
        let at_hash = {
            use base64::Engine;
            let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, at.as_bytes());
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&d.as_ref()[..16])
        };
        assert_eq!(claims["at_hash"], at_hash.as_str());

        // The access token carries the user's roles and the tenant (AC5).
        let mut av = Validation::new(Algorithm::ES256);
        av.set_audience(&[&spa]);
        let at_claims = jsonwebtoken::decode::<Value>(at, &key, &av).unwrap().claims;
        assert_eq!(at_claims["roles"], serde_json::json!(["reports-reader"]));
        assert_eq!(at_claims["client_id"], spa.as_str());

        let info: Value = server
            .client
            .get(server.url("/tenants/acme/userinfo"))
            .bearer_auth(at)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(info["sub"], alice.as_str());
        assert_eq!(info["email"], "alice@example.com");

        // Refresh rotation; the rotated token presented again revokes the whole family.
        let res = refresh(&server, "acme", &spa, rt).await;
        assert_eq!(res.status(), StatusCode::OK, "{db:?}");
        let next: Value = res.json().await.unwrap();
        let rt2 = next["refresh_token"].as_str().unwrap();
        let at2 = next["access_token"].as_str().unwrap();
        assert_ne!(rt, rt2);
        assert!(active(&server, "acme", &rs, at2).await);
        assert_eq!(error_code(refresh(&server, "acme", &spa, rt).await).await, "invalid_grant", "{db:?}: reuse");
        assert_eq!(
            error_code(refresh(&server, "acme", &spa, rt2).await).await,
            "invalid_grant",
            "{db:?}: family revoked"
        );
        assert!(!active(&server, "acme", &rs, at2).await, "{db:?}: access tokens of the family revoked");
        let records = server.running.store.audit_page(0, 10_000).unwrap();
        assert!(records.iter().any(|r| r.action == "token.refresh_reuse"), "{db:?}: reuse audited");

        // Single sign-on: the session cookie yields a code with no login page.
        let res = b.get(authorize_url(&server, "acme", &spa, &[])).send().await.unwrap();
        let (_, params) = location_params(&res);
        assert!(param(&params, "code").is_some());

        // RP-initiated logout without an id_token_hint: the user is asked first (RP-Initiated
        // Logout 1.0 §6), and the session survives until they confirm.
        let res = b
            .get(server.url("/tenants/acme/logout"))
            .query(&[
                ("client_id", spa.as_str()),
                ("post_logout_redirect_uri", "https://app.example.com/"),
                ("state", "bye"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let page = res.text().await.unwrap();
        assert!(page.contains("Sign out?"), "{page}");
        let res = b.get(authorize_url(&server, "acme", &spa, &[("prompt", "none")])).send().await.unwrap();
        assert!(param(&location_params(&res).1, "code").is_some(), "{db:?}: a GET alone signs nobody out");
        // A forged confirmation, or the right one in a URL, changes nothing.
        let confirm = hidden(&page, "confirm");
        let forged = [("confirm", "A".repeat(43)), ("client_id", spa.clone())];
        let res = b.post(server.url("/tenants/acme/logout")).form(&forged).send().await.unwrap();
        assert!(res.text().await.unwrap().contains("Sign out?"), "{db:?}: forged confirmation");
        let res = b.get(server.url("/tenants/acme/logout")).query(&[("confirm", &confirm)]).send().await.unwrap();
        assert!(res.text().await.unwrap().contains("Sign out?"), "{db:?}: confirmation in a URL");
        // Confirmed: back to the registered URI with state; the session is over.
        let form = [
            ("confirm", confirm),
            ("client_id", hidden(&page, "client_id")),
            ("post_logout_redirect_uri", hidden(&page, "post_logout_redirect_uri")),
            ("state", hidden(&page, "state")),
        ];
        let res = b.post(server.url("/tenants/acme/logout")).form(&form).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(res.headers()["location"], "https://app.example.com/?state=bye");
        let res = b.get(authorize_url(&server, "acme", &spa, &[("prompt", "none")])).send().await.unwrap();
        let (_, params) = location_params(&res);
        assert_eq!(param(&params, "error"), Some("login_required"), "{db:?}");
    }
}

#[actix_web::test]
async fn session_cookie_has_the_required_attributes() {
    let db = TestDatabase::sqlite();
    let server = server(&db).await;
    tenant(&server, "acme");
    user(&server, "acme", "alice");
    let spa = spa(&server, "acme", "Web App", true);
    let b = browser(&server);
    let html = b.get(authorize_url(&server, "acme", &spa, &[])).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("type=\"password\"") && html.contains("autocomplete=\"current-password\""), "A10");
    let res = submit_login(&server, &b, "acme", &html, "alice", PASSWORD).await;
    let cookies: Vec<&str> = res.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap()).collect();
    let session = cookies.iter().find(|c| c.starts_with("__Host-gh_session_acme=")).expect("session cookie");
    for attr in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(session.contains(attr), "{session}");
    }
    assert!(!session.to_lowercase().contains("domain"), "{session}");
    let value = session.split(';').next().unwrap().trim_start_matches("__Host-gh_session_acme=");
    assert_eq!(value.len(), 43, "256-bit id");
    let loc = res.headers()["location"].to_str().unwrap();
    assert!(!loc.contains(value), "S7: never in a URL");
}

#[actix_web::test]
async fn authorize_refuses_bad_requests() {
    let db = TestDatabase::sqlite();
    let server = server(&db).await;
    tenant(&server, "acme");
    let spa = spa(&server, "acme", "Web App", true);
    let b = browser(&server);

    // Phase one: an error page, never a redirect.
    for url in [
        authorize_url(&server, "acme", &spa, &[("redirect_uri", "https://evil.example/cb")]),
        authorize_url(&server, "acme", &spa, &[("redirect_uri", "https://app.example.com/cb/../x")]),
        authorize_url(&server, "acme", &spa, &[("redirect_uri", "https://app.example.com/cb?x=1")]),
        authorize_url(&server, "acme", "no-such-client", &[]),
    ] {
        let res = b.get(&url).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{url}");
        assert!(res.headers().get("location").is_none(), "{url}");
    }

    // Phase two: back to the client with error, state and iss.
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![("code_challenge", "")], "invalid_request"),
        (vec![("code_challenge_method", "plain")], "invalid_request"),
        (vec![("code_challenge_method", "")], "invalid_request"),
        (vec![("response_type", "token")], "unsupported_response_type"),
        (vec![("scope", "openid admin")], "invalid_scope"),
        (vec![("prompt", "none")], "login_required"),
        (vec![("request", "eyJ")], "invalid_request"),
    ];
    for (extra, code) in cases {
        let res = b.get(authorize_url(&server, "acme", &spa, &extra)).send().await.unwrap();
        let (base, params) = location_params(&res);
        assert_eq!(base, REDIRECT, "{extra:?}");
        assert_eq!(param(&params, "error"), Some(code), "{extra:?}");
        assert_eq!(param(&params, "state"), Some("st-123"));
        assert_eq!(param(&params, "iss"), Some(format!("{PUBLIC_URL}/tenants/acme").as_str()));
    }
    // AC6: the refused requests are audited (prompt=none without a session is a normal
    // outcome of the decision, not a refused request).
    let refused = server
        .running
        .store
        .audit_page(0, 1000)
        .unwrap()
        .into_iter()
        .filter(|r| r.action == "authorize" && r.outcome == "denied")
        .count();
    assert_eq!(refused, 4 + 6);
}

#[actix_web::test]
async fn token_endpoint_refuses_wrong_verifier_redirect_client_and_replay() {
    let db = TestDatabase::sqlite();
    let server = server(&db).await;
    tenant(&server, "acme");
    user(&server, "acme", "alice");
    let spa = spa(&server, "acme", "Web App", true);
    let other = self::spa(&server, "acme", "Other App", true);
    let rs = backend_client(&server, "acme", "resource-server", None);
    let b = browser(&server);

    // A wrong verifier burns the code.
    let code = login_for_code(&server, &b, "acme", &spa, "alice").await;
    assert_eq!(
        error_code(exchange(&server, "acme", &spa, &code, &format!("{VERIFIER}x"), REDIRECT).await).await,
        "invalid_grant"
    );
    assert_eq!(error_code(exchange(&server, "acme", &spa, &code, VERIFIER, REDIRECT).await).await, "invalid_grant");

    let res = b.get(authorize_url(&server, "acme", &spa, &[])).send().await.unwrap();
    let code = param(&location_params(&res).1, "code").unwrap().to_owned();
    assert_eq!(
        error_code(exchange(&server, "acme", &spa, &code, VERIFIER, "https://app.example.com/other").await).await,
        "invalid_grant"
    );

    let res = b.get(authorize_url(&server, "acme", &spa, &[])).send().await.unwrap();
    let code = param(&location_params(&res).1, "code").unwrap().to_owned();
    assert_eq!(
        error_code(exchange(&server, "acme", &other, &code, VERIFIER, REDIRECT).await).await,
        "invalid_grant",
        "code of another client"
    );

    // Replay: the second exchange fails and revokes what the first one issued.
    let res = b.get(authorize_url(&server, "acme", &spa, &[])).send().await.unwrap();
    let code = param(&location_params(&res).1, "code").unwrap().to_owned();
    let tokens: Value = exchange(&server, "acme", &spa, &code, VERIFIER, REDIRECT).await.json().await.unwrap();
    let at = tokens["access_token"].as_str().unwrap();
    let rt = tokens["refresh_token"].as_str().unwrap();
    assert!(active(&server, "acme", &rs, at).await);
    assert_eq!(error_code(exchange(&server, "acme", &spa, &code, VERIFIER, REDIRECT).await).await, "invalid_grant");
    assert!(!active(&server, "acme", &rs, at).await, "access token from a replayed code is revoked");
    assert_eq!(error_code(refresh(&server, "acme", &spa, rt).await).await, "invalid_grant", "refresh token too");
}

#[actix_web::test]
async fn login_failures_are_generic_and_posts_need_the_browser_binding() {
    let db = TestDatabase::sqlite();
    let server = server(&db).await;
    tenant(&server, "acme");
    user(&server, "acme", "alice");
    let spa = spa(&server, "acme", "Web App", true);
    let b = browser(&server);
    let html = b.get(authorize_url(&server, "acme", &spa, &[])).send().await.unwrap().text().await.unwrap();

    let wrong_password = submit_login(&server, &b, "acme", &html, "alice", "not-the-password").await;
    assert_eq!(wrong_password.status(), StatusCode::UNAUTHORIZED);
    let page1 = wrong_password.text().await.unwrap();
    let html2 = b.get(authorize_url(&server, "acme", &spa, &[])).send().await.unwrap().text().await.unwrap();
    let unknown_user = submit_login(&server, &b, "acme", &html2, "mallory", PASSWORD).await;
    assert_eq!(unknown_user.status(), StatusCode::UNAUTHORIZED);
    let page2 = unknown_user.text().await.unwrap();
    assert!(page1.contains("Invalid username or password.") && page2.contains("Invalid username or password."), "A3");

    // IO3, IO4: the page names this origin in `Origin` on its own posts, sends nothing
    // cross-site, and lets its form be answered by a redirect to the client and nowhere else.
    let page3 = b.get(authorize_url(&server, "acme", &spa, &[])).send().await.unwrap();
    assert_eq!(page3.headers()["referrer-policy"], "same-origin");
    let csp = page3.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("form-action 'self' https://app.example.com;"), "{csp}");
    assert!(csp.contains("script-src 'self';") && !csp.contains("unsafe-inline"), "{csp}");
    let html3 = page3.text().await.unwrap();

    // Another browser (no binding cookie), a forged CSRF token, a cross-site or opaque
    // (`null`) Origin: refused with the expired page, and the waiting request is untouched.
    let stranger = browser(&server);
    assert_eq!(
        submit_login(&server, &stranger, "acme", &html3, "alice", PASSWORD).await.status(),
        StatusCode::BAD_REQUEST
    );
    let forged = html3.replace(&hidden(&html3, "csrf"), "forged-token");
    assert_eq!(submit_login(&server, &b, "acme", &forged, "alice", PASSWORD).await.status(), StatusCode::BAD_REQUEST);
    let form = [
        ("request_id", hidden(&html3, "request_id")),
        ("csrf", hidden(&html3, "csrf")),
        ("username", "alice".into()),
        ("password", PASSWORD.into()),
    ];
    for origin in ["https://evil.example", "null", "https://localhost:8443.evil.example"] {
        let res = b.post(server.url("/tenants/acme/login")).header("Origin", origin).form(&form).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{origin}");
        assert!(res.text().await.unwrap().contains("This sign-in page has expired"), "{origin}");
    }
    // The same form from this origin (as a browser under `same-origin` sends it) signs in.
    let res = b.post(server.url("/tenants/acme/login")).header("Origin", PUBLIC_URL).form(&form).send().await.unwrap();
    assert!(param(&location_params(&res).1, "code").is_some(), "the refusals were the Origin's alone");

    let failures = server
        .running
        .store
        .audit_page(0, 1000)
        .unwrap()
        .into_iter()
        .filter(|r| r.action == "login" && r.outcome == "failure")
        .count();
    assert_eq!(failures, 2, "failed logins are audited");
}

#[actix_web::test]
async fn third_party_clients_ask_for_consent_once() {
    let db = TestDatabase::sqlite();
    let server = server(&db).await;
    tenant(&server, "acme");
    user(&server, "acme", "alice");
    let app = spa(&server, "acme", "Partner App", false);
    let b = browser(&server);
    let html = b.get(authorize_url(&server, "acme", &app, &[])).send().await.unwrap().text().await.unwrap();
    let consent = submit_login(&server, &b, "acme", &html, "alice", PASSWORD).await;
    assert_eq!(consent.status(), StatusCode::OK);
    let page = consent.text().await.unwrap();
    assert!(page.contains("Partner App wants access") && page.contains("offline_access"), "{page}");
    assert!(page.contains("/tenants/acme/logout"), "S6: a logout control on the authenticated page");
    assert_eq!(hidden(&page, "confirm").len(), 43, "the logout control carries its confirmation");

    let deny =
        [("request_id", hidden(&page, "request_id")), ("csrf", hidden(&page, "csrf")), ("decision", "deny".to_owned())];
    let res = b.post(server.url("/tenants/acme/consent")).form(&deny).send().await.unwrap();
    assert_eq!(param(&location_params(&res).1, "error"), Some("access_denied"));

    let page = b.get(authorize_url(&server, "acme", &app, &[])).send().await.unwrap().text().await.unwrap();
    let allow = [
        ("request_id", hidden(&page, "request_id")),
        ("csrf", hidden(&page, "csrf")),
        ("decision", "allow".to_owned()),
    ];
    let res = b.post(server.url("/tenants/acme/consent")).form(&allow).send().await.unwrap();
    assert!(param(&location_params(&res).1, "code").is_some());

    // Remembered: the next request goes straight to a code; prompt=consent asks again.
    let res = b.get(authorize_url(&server, "acme", &app, &[])).send().await.unwrap();
    assert!(param(&location_params(&res).1, "code").is_some());
    let res = b.get(authorize_url(&server, "acme", &app, &[("prompt", "consent")])).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    assert!(page.contains("Partner App wants access") && page.contains("value=\"allow\""), "the consent page: {page}");
    assert!(!page.contains("name=\"password\""), "not the login page: the session is alive");
}

#[actix_web::test]
async fn form_post_and_logout_redirect_rules() {
    let db = TestDatabase::sqlite();
    let server = server(&db).await;
    tenant(&server, "acme");
    user(&server, "acme", "alice");
    let spa = spa(&server, "acme", "Web App", true);
    let b = browser(&server);
    login_for_code(&server, &b, "acme", &spa, "alice").await;

    let res = b.get(authorize_url(&server, "acme", &spa, &[("response_mode", "form_post")])).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let csp = res.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("form-action https://app.example.com") && !csp.contains("unsafe-inline"), "{csp}");
    let html = res.text().await.unwrap();
    assert!(html.contains(&format!("action=\"{REDIRECT}\"")));
    assert!(!hidden(&html, "code").is_empty());
    assert_eq!(hidden(&html, "state"), "st-123");
    assert!(html.contains("src=\"/assets/form_post.js\""));

    let res = b
        .get(server.url("/tenants/acme/logout"))
        .query(&[("client_id", spa.as_str()), ("post_logout_redirect_uri", "https://evil.example/")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.headers().get("location").is_none());
    // The session survived the refused logout.
    let res = b.get(authorize_url(&server, "acme", &spa, &[("prompt", "none")])).send().await.unwrap();
    assert!(param(&location_params(&res).1, "code").is_some());
}

#[actix_web::test]
async fn tokens_of_one_tenant_do_not_work_in_another() {
    let db = TestDatabase::sqlite();
    let server = server(&db).await;
    tenant(&server, "acme");
    tenant(&server, "globex");
    user(&server, "acme", "alice");
    let spa = spa(&server, "acme", "Web App", true);
    let b = browser(&server);
    let code = login_for_code(&server, &b, "acme", &spa, "alice").await;
    let tokens: Value = exchange(&server, "acme", &spa, &code, VERIFIER, REDIRECT).await.json().await.unwrap();
    let at = tokens["access_token"].as_str().unwrap();
    let res = server.client.get(server.url("/tenants/globex/userinfo")).bearer_auth(at).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()["www-authenticate"], "Bearer realm=\"gatehouse\", error=\"invalid_token\"");
    // The acme session does not log the browser in at globex.
    let gspa = self::spa(&server, "globex", "Web App", true);
    let res = b.get(authorize_url(&server, "globex", &gspa, &[])).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "login page, not a code");
    let _ = https_client;
}

#[actix_web::test]
async fn concurrent_use_of_one_refresh_token_continues_at_most_one_family_member() {
    for db in databases() {
        let server = server(&db).await;
        tenant(&server, "acme");
        user(&server, "acme", "alice");
        let spa = spa(&server, "acme", "Web App", true);
        let b = browser(&server);
        for round in 0..4 {
            let code = if round == 0 {
                login_for_code(&server, &b, "acme", &spa, "alice").await
            } else {
                let res = b.get(authorize_url(&server, "acme", &spa, &[])).send().await.unwrap();
                param(&location_params(&res).1, "code").unwrap().to_owned()
            };
            let tokens: Value = exchange(&server, "acme", &spa, &code, VERIFIER, REDIRECT).await.json().await.unwrap();
            // One use on its own rotates: refresh works at all.
            let first = tokens["refresh_token"].as_str().unwrap().to_owned();
            let res = refresh(&server, "acme", &spa, &first).await;
            assert_eq!(res.status(), StatusCode::OK, "{db:?} round {round}");
            let rt = res.json::<Value>().await.unwrap()["refresh_token"].as_str().unwrap().to_owned();
            assert_ne!(rt, first, "rotated");
            let (a, c) = tokio::join!(refresh(&server, "acme", &spa, &rt), refresh(&server, "acme", &spa, &rt));
            let mut successors = Vec::new();
            let mut refused = 0;
            for res in [a, c] {
                match res.status() {
                    StatusCode::OK => successors
                        .push(res.json::<Value>().await.unwrap()["refresh_token"].as_str().unwrap().to_owned()),
                    StatusCode::BAD_REQUEST => {
                        assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_grant");
                        refused += 1;
                    }
                    other => panic!("{db:?} round {round}: {other}"),
                }
            }
            // Exactly one rotates; the other is a reuse, refused.
            assert_eq!((successors.len(), refused), (1, 1), "{db:?} round {round}");
            // Whatever was handed out, at most one member of the family still works.
            let mut alive = 0;
            for s in &successors {
                if refresh(&server, "acme", &spa, s).await.status() == StatusCode::OK {
                    alive += 1;
                }
            }
            assert!(alive <= 1, "{db:?} round {round}");
        }
    }
}

#[actix_web::test]
async fn cors_only_for_the_clients_registered_origins() {
    let db = TestDatabase::sqlite();
    let server = server(&db).await;
    tenant(&server, "acme");
    user(&server, "acme", "alice");
    let spa = spa(&server, "acme", "Web App", true);
    let rs = backend_client(&server, "acme", "resource-server", None);
    for path in ["/tenants/acme/token", "/tenants/acme/userinfo", "/tenants/acme/revoke"] {
        let ok = server
            .client
            .request(reqwest::Method::OPTIONS, server.url(path))
            .header("Origin", "https://app.example.com")
            .header("Access-Control-Request-Method", "POST")
            .send()
            .await
            .unwrap();
        assert_eq!(ok.headers()["access-control-allow-origin"], "https://app.example.com", "{path}");
        let evil = server
            .client
            .request(reqwest::Method::OPTIONS, server.url(path))
            .header("Origin", "https://evil.example")
            .send()
            .await
            .unwrap();
        assert!(evil.headers().get("access-control-allow-origin").is_none(), "{path}");
    }
    let b = browser(&server);
    let code = login_for_code(&server, &b, "acme", &spa, "alice").await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
        ("client_id", spa.as_str()),
    ];
    let res = server
        .client
        .post(server.url("/tenants/acme/token"))
        .header("Origin", "https://app.example.com")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["access-control-allow-origin"], "https://app.example.com");
    let at = res.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned();
    let info = server
        .client
        .get(server.url("/tenants/acme/userinfo"))
        .header("Origin", "https://app.example.com")
        .bearer_auth(&at)
        .send()
        .await
        .unwrap();
    assert_eq!(info.headers()["access-control-allow-origin"], "https://app.example.com");
    // The backend client registered no origin: its responses allow none, even for an origin
    // another client of the tenant registered.
    let res = server
        .client
        .post(server.url("/tenants/acme/token"))
        .basic_auth(&rs.id, Some(&rs.secret))
        .header("Origin", "https://app.example.com")
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("access-control-allow-origin").is_none());
}

#[actix_web::test]
async fn logout_notifies_clients_over_the_back_channel() {
    use actix_web::{App, HttpServer, web};

    // The relying party's back-channel endpoint.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let rp = HttpServer::new(move || {
        let tx = tx.clone();
        App::new().route(
            "/bc",
            web::post().to(move |form: web::Form<std::collections::HashMap<String, String>>| {
                let tx = tx.clone();
                async move {
                    let _ = tx.send(form.get("logout_token").cloned().unwrap_or_default());
                    actix_web::HttpResponse::Ok().finish()
                }
            }),
        )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    let rp_handle = rp.handle();
    actix_web::rt::spawn(rp);

    let db = TestDatabase::sqlite();
    let server = server(&db).await;
    tenant(&server, "acme");
    let alice = user(&server, "acme", "alice");
    let store = &server.running.store;
    let input = CreateClient {
        tenant: "acme".into(),
        name: "Web App".into(),
        client_type: "public".into(),
        redirect_uris: vec![REDIRECT.into()],
        post_logout_redirect_uris: vec!["https://app.example.com/".into()],
        grant_types: vec!["authorization_code".into()],
        scope: "openid".into(),
        first_party: true,
        backchannel_logout_uri: Some(format!("http://127.0.0.1:{port}/bc")),
        ..Default::default()
    };
    let spa = admin::create_client(store, store.vault(), "test", &input, UnixTime::now()).unwrap().client.client_id;
    let b = browser(&server);
    let page =
        b.get(authorize_url(&server, "acme", &spa, &[("scope", "openid")])).send().await.unwrap().text().await.unwrap();
    let res = submit_login(&server, &b, "acme", &page, "alice", PASSWORD).await;
    let code = param(&location_params(&res).1, "code").unwrap().to_owned();
    let tokens: Value = exchange(&server, "acme", &spa, &code, VERIFIER, REDIRECT).await.json().await.unwrap();
    let id_token = tokens["id_token"].as_str().unwrap();
    let sid = jsonwebtoken::dangerous::insecure_decode::<Value>(id_token).unwrap().claims["sid"].clone();

    // The relying party's own ID token (this session's sid) ends the session without asking.
    let res = b.get(server.url("/tenants/acme/logout")).query(&[("id_token_hint", id_token)]).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("You are signed out"));
    let logout_token =
        tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv()).await.expect("delivered").unwrap();

    let header = jsonwebtoken::decode_header(&logout_token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("logout+jwt"));
    let set: JwkSet = server.client.get(server.url("/tenants/acme/jwks")).send().await.unwrap().json().await.unwrap();
    let key = DecodingKey::from_jwk(set.find(header.kid.as_deref().unwrap()).unwrap()).unwrap();
    let mut v = Validation::new(Algorithm::ES256);
    v.set_audience(&[&spa]);
    v.set_issuer(&[format!("{PUBLIC_URL}/tenants/acme")]);
    let claims = jsonwebtoken::decode::<Value>(&logout_token, &key, &v).unwrap().claims;
    assert_eq!(claims["sid"], sid);
    assert_eq!(claims["sub"], alice.as_str());
    assert!(claims["events"].get("http://schemas.openid.net/event/backchannel-logout").is_some());
    assert!(claims.get("nonce").is_none());
    rp_handle.stop(false).await;
}

#[actix_web::test]
async fn refresh_tokens_are_introspected_and_revoked_with_their_family() {
    for db in databases() {
        let server = server(&db).await;
        tenant(&server, "acme");
        user(&server, "acme", "alice");
        let spa = spa(&server, "acme", "Web App", true);
        let other = self::spa(&server, "acme", "Other App", true);
        let rs = backend_client(&server, "acme", "resource-server", None);
        let b = browser(&server);
        let code = login_for_code(&server, &b, "acme", &spa, "alice").await;
        let tokens: Value = exchange(&server, "acme", &spa, &code, VERIFIER, REDIRECT).await.json().await.unwrap();
        let (at, rt) = (tokens["access_token"].as_str().unwrap(), tokens["refresh_token"].as_str().unwrap());

        let info: Value = server
            .client
            .post(server.url("/tenants/acme/introspect"))
            .basic_auth(&rs.id, Some(&rs.secret))
            .form(&[("token", rt), ("token_type_hint", "refresh_token")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(info["active"], true, "{db:?}");
        assert_eq!(info["token_type"], "refresh_token");
        assert_eq!(info["client_id"], spa.as_str());
        crate::cli::assert_no_secrets(&info);
        crate::cli::assert_no_secrets(&tokens);

        let revoke = |client: String, token: String| {
            let (c, url) = (server.client.clone(), server.url("/tenants/acme/revoke"));
            async move {
                c.post(url).form(&[("token", token.as_str()), ("client_id", client.as_str())]).send().await.unwrap()
            }
        };
        // Another client may not revoke it.
        let res = revoke(other.clone(), rt.to_owned()).await;
        assert_eq!(error_code(res).await, "unauthorized_client", "{db:?}");
        assert!(active(&server, "acme", &rs, at).await);
        // Its own client revokes the family, access token included.
        assert_eq!(revoke(spa.clone(), rt.to_owned()).await.status(), StatusCode::OK);
        assert_eq!(error_code(refresh(&server, "acme", &spa, rt).await).await, "invalid_grant", "{db:?}");
        assert!(!active(&server, "acme", &rs, at).await, "{db:?}: access token of the grant revoked too");
    }
}

/// IO4: a browser's form navigation answered with a redirect to another origin gets a page that
/// navigates there (Chromium would hold the rest of the chain to the form's `form-action`); the
/// same form from a non-browser client keeps its 303, and so does a same-origin redirect.
#[actix_web::test]
async fn a_browsers_form_answered_with_a_cross_origin_redirect_gets_a_page_that_navigates_on() {
    let db = TestDatabase::sqlite();
    let server = server(&db).await;
    tenant(&server, "acme");
    user(&server, "acme", "alice");
    let spa = spa(&server, "acme", "Web App", true);
    let b = browser(&server);
    let html = b.get(authorize_url(&server, "acme", &spa, &[])).send().await.unwrap().text().await.unwrap();
    let form = login_form(&html, "alice", PASSWORD);
    let res = b
        .post(server.url("/tenants/acme/login"))
        .header("sec-fetch-mode", "navigate")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers().get_all("set-cookie").iter().any(|c| c.to_str().unwrap().starts_with("__Host-gh_session_acme="))
    );
    let csp = res.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
    let page = res.text().await.unwrap();
    assert!(page.contains(&format!("http-equiv=\"refresh\" content=\"0; url={REDIRECT}?")), "{page}");
    assert!(page.contains("id=\"continue\""), "a link for browsers that do not refresh");
}
