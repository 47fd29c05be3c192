//! A4, A5, A6, A7 over HTTPS on SQLite and PostgreSQL: TOTP enrolment at the first sign-in
//! of an administrator (no session before it), codes computed here from the enrolled secret,
//! each accepted once, one step of skew and no more, single-use recovery codes, failed
//! factors counted by the lockout, step-up with `acr_values` and `max_age=0` honoured by
//! `gatehouse-guard`, the tenant's `required` policy with the account's security page and an
//! operator's reset, and WebAuthn passkeys (a software authenticator) as second factor and
//! alone.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_core::UnixTime;
use gatehouse_core::admin::{self, CreateUser, PolicyChange};
use gatehouse_core::mfa::{MfaPolicy, totp};
use gatehouse_core::store::AuditStore;
use gatehouse_guard::{Guard, GuardConfig, Policy};
use gatehouse_testkit::databases;
use gatehouse_types::Secret;
use reqwest::StatusCode;
use serde_json::Value;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs_proto::{
    AllowCredentials, CreationChallengeResponse, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse,
};

use crate::code_flow::{PASSWORD, REDIRECT, VERIFIER, authorize_url, browser, exchange, hidden, param, spa};
use crate::oauth::{server, tenant};
use crate::support::{PUBLIC_URL, TestServer, gatehouse, json_ok};

const ACR_MFA: &str = "urn:gatehouse:acr:mfa";
const CODE_REFUSED: &str = "That code is not valid. Try the current one.";

/// Creates a user of `tenant` with [`PASSWORD`] and `roles`.
fn member(server: &TestServer, tenant: &str, username: &str, roles: &[&str]) {
    let input = CreateUser {
        tenant: tenant.into(),
        username: username.into(),
        email: format!("{username}@example.com"),
        password: Some(Secret::new(PASSWORD.into())),
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
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
    .unwrap();
}

/// Sets the MFA policy and passwordless sign-in of `tenant`.
fn policy(server: &TestServer, tenant: &str, mfa: MfaPolicy, passwordless: bool) {
    let change = PolicyChange { mfa: Some(mfa), passwordless: Some(passwordless), ..Default::default() };
    admin::update_tenant_policy(&server.running.store, "test", tenant, &change).unwrap();
}

async fn post(server: &TestServer, b: &reqwest::Client, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
    b.post(server.url(path)).form(form).send().await.unwrap()
}

/// Authorize (with `extra` parameters) and the password: the page that follows (200).
async fn password_step(
    server: &TestServer,
    b: &reqwest::Client,
    client: &str,
    user: &str,
    extra: &[(&str, &str)],
) -> String {
    let page = b.get(authorize_url(server, "acme", client, extra)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK, "the login page");
    let html = page.text().await.unwrap();
    let form = [
        ("request_id", hidden(&html, "request_id")),
        ("csrf", hidden(&html, "csrf")),
        ("username", user.to_owned()),
        ("password", PASSWORD.to_owned()),
    ];
    let res = b.post(server.url("/tenants/acme/login")).form(&form).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "a step after the password");
    res.text().await.unwrap()
}

/// The request id and CSRF token of a step page.
fn ids(html: &str) -> (String, String) {
    (hidden(html, "request_id"), hidden(html, "csrf"))
}

/// Posts `field`=`value` with the step page's ids to `path`.
async fn step(
    server: &TestServer,
    b: &reqwest::Client,
    html: &str,
    path: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let (rid, csrf) = ids(html);
    let mut form = vec![("request_id", rid.as_str()), ("csrf", csrf.as_str())];
    form.extend_from_slice(extra);
    post(server, b, path, &form).await
}

/// The TOTP secret an enrolment page shows.
pub fn secret_in(html: &str) -> Secret<Vec<u8>> {
    let start = html.find("id=\"totp-secret\">").expect("the secret is shown") + "id=\"totp-secret\">".len();
    totp::from_base32(&html[start..start + html[start..].find('<').unwrap()]).expect("base32")
}

/// The code of `secret` `offset` seconds from now.
pub fn code(secret: &Secret<Vec<u8>>, offset: i64) -> String {
    totp::code_at(secret, UnixTime(UnixTime::now().0 + offset))
}

/// The recovery codes a page lists.
fn codes_in(html: &str) -> Vec<String> {
    html.split("<li><code>").skip(1).map(|s| s[..s.find('<').unwrap()].to_owned()).collect()
}

/// HTML attribute text back to what the server put in it.
fn unescape(s: &str) -> String {
    s.replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The WebAuthn options a page's form carries.
fn options_in(html: &str) -> String {
    let start = html.find("data-options=\"").expect("WebAuthn options on the page") + "data-options=\"".len();
    unescape(&html[start..start + html[start..].find('"').unwrap()])
}

/// The ID token's and access token's claims of a redirect carrying a code.
async fn tokens_of(server: &TestServer, client: &str, res: reqwest::Response) -> (Value, String) {
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "a redirect to the client");
    let loc = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    assert!(loc.as_str().starts_with(REDIRECT), "to the client: {loc}");
    let params: Vec<(String, String)> = loc.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let code = param(&params, "code").expect("a code").to_owned();
    let tokens: Value = exchange(server, "acme", client, &code, VERIFIER, REDIRECT).await.json().await.unwrap();
    (payload(tokens["id_token"].as_str().unwrap()), tokens["access_token"].as_str().unwrap().to_owned())
}

/// The claims of a JWT (unverified: the tests' own tokens).
pub fn payload_of(jwt: &str) -> Value {
    payload(jwt)
}

fn payload(jwt: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(jwt.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

fn amr(claims: &Value) -> Vec<&str> {
    claims["amr"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect()
}

/// Whether `username` of `acme` has a session in `b` (prompt=none yields a code).
async fn has_session(server: &TestServer, b: &reqwest::Client, client: &str) -> bool {
    let res = b.get(authorize_url(server, "acme", client, &[("prompt", "none")])).send().await.unwrap();
    let loc = res.headers()["location"].to_str().unwrap().to_owned();
    loc.contains("code=")
}

/// The whole first sign-in of a user who must enrol: password, TOTP (the code of the step
/// before, A5 skew), the recovery codes, the code. Returns the secret, the first code and
/// the recovery codes.
async fn enrol_totp(server: &TestServer, client: &str, user: &str) -> (Secret<Vec<u8>>, String, Vec<String>) {
    let b = browser(server);
    let html = password_step(server, &b, client, user, &[]).await;
    assert!(html.contains("<h1>Set up a second factor</h1>"), "{html}");
    let secret = secret_in(&html);
    let first = code(&secret, -30);
    let res = step(server, &b, &html, "/tenants/acme/login/enroll", &[("code", &first)]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let codes_page = res.text().await.unwrap();
    let codes = codes_in(&codes_page);
    let res = step(server, &b, &codes_page, "/tenants/acme/login/continue", &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    (secret, first, codes)
}

#[actix_web::test]
async fn an_administrator_enrols_totp_first_then_each_code_works_once() {
    for db in databases() {
        let server = server(&db).await;
        tenant(&server, "acme");
        let client = spa(&server, "acme", "Web App", true);
        member(&server, "acme", "ada", &["tenant-admin"]);
        // A6, A7: the administrator's password leads to enrolment, and to no session.
        let b = browser(&server);
        let html = password_step(&server, &b, &client, "ada", &[]).await;
        assert!(html.contains("<h1>Set up a second factor</h1>"), "{db:?}");
        assert!(html.contains("administrators sign in with a password and a second factor"));
        assert!(html.contains("<svg") && html.contains("class=\"qr\""), "a server-side QR code");
        assert!(!has_session(&server, &b, &client).await, "{db:?}: no session before the factor");
        let secret = secret_in(&html);
        // A5: active only after a valid first code; a wrong one shows the same secret again.
        let wrong = step(&server, &b, &html, "/tenants/acme/login/enroll", &[("code", &code(&secret, -3600))]).await;
        assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
        let again = wrong.text().await.unwrap();
        assert!(again.contains(CODE_REFUSED));
        assert_eq!(secret_in(&again).expose(), secret.expose(), "the pending secret is kept");
        let first = code(&secret, -30);
        let res = step(&server, &b, &again, "/tenants/acme/login/enroll", &[("code", &first)]).await;
        assert_eq!(res.status(), StatusCode::OK, "{db:?}: one step of skew back");
        let page = res.text().await.unwrap();
        let codes = codes_in(&page);
        assert_eq!(codes.len(), 10, "{page}");
        assert!(!has_session(&server, &b, &client).await, "still none while the codes are shown");
        let res = step(&server, &b, &page, "/tenants/acme/login/continue", &[]).await;
        let (claims, _) = tokens_of(&server, &client, res).await;
        assert_eq!(amr(&claims), ["pwd", "otp", "mfa"], "{db:?}");
        assert_eq!(claims["acr"], ACR_MFA);

        // A5: the enrolment's code is not accepted again; beyond one step is refused.
        let b = browser(&server);
        let html = password_step(&server, &b, &client, "ada", &[]).await;
        assert!(html.contains("<h1>Confirm it's you</h1>"), "{html}");
        for refused in [first.clone(), code(&secret, 60), code(&secret, 90)] {
            let res = step(&server, &b, &html, "/tenants/acme/login/factor", &[("code", &refused)]).await;
            assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{db:?}: {refused}");
            assert!(res.text().await.unwrap().contains(CODE_REFUSED));
        }
        let ahead = code(&secret, 30);
        let res = step(&server, &b, &html, "/tenants/acme/login/factor", &[("code", &ahead)]).await;
        let (claims, _) = tokens_of(&server, &client, res).await;
        assert_eq!(amr(&claims), ["pwd", "otp", "mfa"], "{db:?}: one step of skew ahead");
        // The same code in another browser: used.
        let b = browser(&server);
        let html = password_step(&server, &b, &client, "ada", &[]).await;
        let res = step(&server, &b, &html, "/tenants/acme/login/factor", &[("code", &ahead)]).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{db:?}: a replayed code");

        // A5: a recovery code, once; the user is told how many remain; it is audited.
        let html = res.text().await.unwrap();
        let typed = codes[3].to_uppercase().replace('-', " ");
        let res = step(&server, &b, &html, "/tenants/acme/login/factor", &[("recovery_code", &typed)]).await;
        assert_eq!(res.status(), StatusCode::OK);
        let page = res.text().await.unwrap();
        assert!(page.contains("You have 9 recovery codes left."), "{page}");
        let res = step(&server, &b, &page, "/tenants/acme/login/continue", &[]).await;
        let (claims, _) = tokens_of(&server, &client, res).await;
        assert_eq!(amr(&claims), ["pwd", "otp", "mfa"]);
        let b = browser(&server);
        let html = password_step(&server, &b, &client, "ada", &[]).await;
        let res = step(&server, &b, &html, "/tenants/acme/login/factor", &[("recovery_code", &codes[3])]).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{db:?}: a used recovery code");
        let records = server.running.store.audit_page(0, 10_000).unwrap();
        let used: Vec<_> = records.iter().filter(|r| r.action == "mfa.recovery_code_used").collect();
        assert_eq!(used.len(), 1, "{db:?}");
        assert_eq!(serde_json::from_str::<Value>(&used[0].details).unwrap()["remaining"], 9);
        assert!(records.iter().any(|r| r.action == "mfa.enrol"), "{db:?}");
        let logged = records.iter().map(|r| r.details.as_str()).collect::<String>();
        assert!(
            !logged.contains(&codes[0]) && !logged.contains(totp::base32(&secret).expose()),
            "L2: no secret audited"
        );
    }
}

#[actix_web::test]
async fn failed_second_factors_count_towards_the_lockout() {
    for db in databases() {
        let server = server(&db).await;
        tenant(&server, "acme");
        let client = spa(&server, "acme", "Web App", true);
        member(&server, "acme", "ada", &["tenant-admin"]);
        let (secret, _, _) = enrol_totp(&server, &client, "ada").await;
        let b = browser(&server);
        let html = password_step(&server, &b, &client, "ada", &[]).await;
        // A4: five wrong codes lock the account (default policy), like five wrong passwords.
        let mut page = html;
        for _ in 0..5 {
            let res = step(&server, &b, &page, "/tenants/acme/login/factor", &[("code", &code(&secret, -3600))]).await;
            assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{db:?}");
            page = res.text().await.unwrap();
        }
        let res = step(&server, &b, &page, "/tenants/acme/login/factor", &[("code", &code(&secret, 0))]).await;
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "{db:?}: the right code, but locked");
        assert!(!has_session(&server, &b, &client).await);
        // The password alone is now refused with the generic answer too.
        let b = browser(&server);
        let page = b.get(authorize_url(&server, "acme", &client, &[])).send().await.unwrap().text().await.unwrap();
        let res = crate::code_flow::submit_login(&server, &b, "acme", &page, "ada", PASSWORD).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{db:?}");
    }
}

/// Validates `token` with the guard, as a resource server demanding MFA would.
async fn guard_allows_mfa_only(server: &TestServer, token: &str) -> bool {
    let jwks = server.client.get(server.url("/tenants/acme/jwks")).send().await.unwrap().text().await.unwrap();
    let aud = payload(token)["aud"].clone();
    let aud = aud.as_str().map(str::to_owned).unwrap_or_else(|| aud[0].as_str().unwrap().to_owned());
    let guard = Guard::with_jwks(GuardConfig::new(format!("{PUBLIC_URL}/tenants/acme"), [aud]), &jwks).unwrap();
    let claims = guard.validate(token).await.expect("a valid token");
    Policy::new().acr([ACR_MFA]).check(&claims, UnixTime::now().0).is_ok()
}

#[actix_web::test]
async fn clients_step_up_with_acr_values_and_max_age() {
    for db in databases() {
        let server = server(&db).await;
        tenant(&server, "acme");
        let client = spa(&server, "acme", "Web App", true);
        member(&server, "acme", "bob", &[]);
        // Optional MFA and no factor: the password alone.
        let b = browser(&server);
        let page = b.get(authorize_url(&server, "acme", &client, &[])).send().await.unwrap().text().await.unwrap();
        let res = crate::code_flow::submit_login(&server, &b, "acme", &page, "bob", PASSWORD).await;
        let (claims, access) = tokens_of(&server, &client, res).await;
        assert_eq!((amr(&claims), claims["acr"].as_str()), (vec!["pwd"], Some("urn:gatehouse:acr:pwd")), "{db:?}");
        assert!(!guard_allows_mfa_only(&server, &access).await, "{db:?}: the guard demands MFA");
        // A6: acr_values asks for a factor the session lacks: not without signing in again.
        let mfa = [("acr_values", ACR_MFA)];
        let res = b.get(authorize_url(&server, "acme", &client, &[mfa[0], ("prompt", "none")])).send().await.unwrap();
        assert!(res.headers()["location"].to_str().unwrap().contains("error=login_required"), "{db:?}");
        let html = password_step(&server, &b, &client, "bob", &mfa).await;
        assert!(html.contains("the application asks for a sign-in with a second factor"), "{html}");
        let secret = secret_in(&html);
        let res = step(&server, &b, &html, "/tenants/acme/login/enroll", &[("code", &code(&secret, 0))]).await;
        let page = res.text().await.unwrap();
        let res = step(&server, &b, &page, "/tenants/acme/login/continue", &[]).await;
        let (claims, access) = tokens_of(&server, &client, res).await;
        assert_eq!((amr(&claims), claims["acr"].as_str()), (vec!["pwd", "otp", "mfa"], Some(ACR_MFA)), "{db:?}");
        assert!(guard_allows_mfa_only(&server, &access).await, "{db:?}");
        let first_auth = claims["auth_time"].as_i64().unwrap();
        // The session has the factor now: asked again, a code at once.
        let res = b.get(authorize_url(&server, "acme", &client, &mfa)).send().await.unwrap();
        let (claims, _) = tokens_of(&server, &client, res).await;
        assert_eq!(claims["auth_time"].as_i64(), Some(first_auth));
        // max_age=0: a fresh sign-in with every factor, whatever the session.
        let html = password_step(&server, &b, &client, "bob", &[("max_age", "0")]).await;
        assert!(html.contains("<h1>Confirm it's you</h1>"), "{db:?}");
        let res = step(&server, &b, &html, "/tenants/acme/login/factor", &[("code", &code(&secret, 30))]).await;
        let (claims, _) = tokens_of(&server, &client, res).await;
        assert!(claims["auth_time"].as_i64().unwrap() >= first_auth);
        assert_eq!(amr(&claims), ["pwd", "otp", "mfa"]);
    }
}

#[actix_web::test]
async fn a_required_policy_enrols_everyone_keeps_a_factor_and_operators_reset_it() {
    for db in databases() {
        let server = server(&db).await;
        tenant(&server, "acme");
        policy(&server, "acme", MfaPolicy::Required, false);
        let client = spa(&server, "acme", "Web App", true);
        member(&server, "acme", "carol", &[]);
        let b = browser(&server);
        let html = password_step(&server, &b, &client, "carol", &[]).await;
        assert!(html.contains("this organisation asks everyone to sign in with a second factor"), "{db:?}");
        let secret = secret_in(&html);
        let res = step(&server, &b, &html, "/tenants/acme/login/enroll", &[("code", &code(&secret, 0))]).await;
        let page = res.text().await.unwrap();
        let res = step(&server, &b, &page, "/tenants/acme/login/continue", &[]).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        // The account's security page: one factor, ten codes; the last one stays.
        let security = b.get(server.url("/tenants/acme/account/security")).send().await.unwrap().text().await.unwrap();
        assert!(security.contains("id=\"factors\"") && security.contains("10 of 10 recovery codes left"), "{security}");
        let factor = hidden(&security, "factor_id");
        let csrf = hidden(&security, "csrf");
        let res =
            post(&server, &b, "/tenants/acme/account/security/remove", &[("csrf", &csrf), ("factor_id", &factor)])
                .await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{db:?}: the last factor where one is required");
        assert!(res.text().await.unwrap().contains("This is your last second factor"));
        // A second app, named by the user, then the first one goes.
        let page = b.get(server.url("/tenants/acme/account/security/totp")).send().await.unwrap().text().await.unwrap();
        let second = secret_in(&page);
        let form = [
            ("csrf", hidden(&page, "csrf")),
            ("factor_id", hidden(&page, "factor_id")),
            ("name", "Backup phone".to_owned()),
            ("code", code(&second, 0)),
        ];
        let res = b.post(server.url("/tenants/acme/account/security/totp")).form(&form).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{db:?}");
        let res =
            post(&server, &b, "/tenants/acme/account/security/remove", &[("csrf", &csrf), ("factor_id", &factor)])
                .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{db:?}");
        let security = b.get(server.url("/tenants/acme/account/security")).send().await.unwrap().text().await.unwrap();
        assert!(security.contains("Backup phone") && security.matches("data-factor=").count() == 1, "{security}");
        // A new set of recovery codes voids the old.
        let res = post(&server, &b, "/tenants/acme/account/security/recovery-codes", &[("csrf", &csrf)]).await;
        assert_eq!(codes_in(&res.text().await.unwrap()).len(), 10);
        // A6, AC4: an operator resets the factors (audited); the next sign-in enrols again.
        let list = json_ok(&gatehouse(
            &db,
            &["user", "mfa", "list", "--tenant", "acme", "--username", "carol", "--json"],
            None,
        ));
        assert_eq!(list["factors"].as_array().unwrap().len(), 1, "{list}");
        assert_eq!(list["factors"][0]["name"], "Backup phone");
        let reset = json_ok(&gatehouse(
            &db,
            &["user", "mfa", "reset", "--tenant", "acme", "--username", "carol", "--json"],
            None,
        ));
        assert_eq!(reset["factors_removed"], 1, "{db:?}");
        let html = password_step(&server, &browser(&server), &client, "carol", &[]).await;
        assert!(html.contains("<h1>Set up a second factor</h1>"), "{db:?}");
        let records = server.running.store.audit_page(0, 10_000).unwrap();
        assert_eq!(records.iter().filter(|r| r.action == "user.mfa_reset").count(), 1, "{db:?}");
    }
}

/// A software authenticator's registration on `page` (its options), as the page's script
/// would post it; and the credential's id and user handle.
fn register(key: &mut SoftPasskey, page: &str) -> (String, Vec<u8>, Vec<u8>) {
    let mut options: CreationChallengeResponse = serde_json::from_str(&options_in(page)).unwrap();
    let handle = options.public_key.user.id.to_vec();
    // The server asks for a discoverable credential (so it can sign in alone); the software
    // authenticator makes none (Chromium's virtual one does: the browser tests), so the
    // request is relaxed on the client side, which the server cannot see.
    let selection = options.public_key.authenticator_selection.as_mut().unwrap();
    assert!(selection.require_resident_key, "a discoverable credential is asked for");
    assert_eq!(selection.user_verification, webauthn_rs_proto::UserVerificationPolicy::Required);
    selection.require_resident_key = false;
    selection.resident_key = None;
    let origin = url::Url::parse(PUBLIC_URL).unwrap();
    let answer: RegisterPublicKeyCredential =
        key.do_registration(origin, options).expect("the authenticator registers");
    let id = answer.raw_id.to_vec();
    (serde_json::to_string(&answer).unwrap(), id, handle)
}

/// A software authenticator's assertion for `page`'s options; a discoverable request (no
/// allowed credentials) gets `credential` and the user handle, as a platform passkey would.
fn assert_with(key: &mut SoftPasskey, page: &str, credential: &[u8], handle: &[u8]) -> String {
    let mut options: RequestChallengeResponse = serde_json::from_str(&options_in(page)).unwrap();
    let discoverable = options.public_key.allow_credentials.is_empty();
    if discoverable {
        options.public_key.allow_credentials =
            vec![AllowCredentials { type_: "public-key".into(), id: credential.to_vec(), transports: None }];
    }
    let origin = url::Url::parse(PUBLIC_URL).unwrap();
    let mut answer: PublicKeyCredential = key.do_authentication(origin, options).expect("the authenticator signs");
    if discoverable {
        answer.response.user_handle = Some(handle.to_vec());
    }
    serde_json::to_string(&answer).unwrap()
}

#[actix_web::test]
async fn passkeys_register_then_sign_in_as_second_factor_and_alone() {
    for db in databases() {
        let server = server(&db).await;
        tenant(&server, "acme");
        policy(&server, "acme", MfaPolicy::Optional, true);
        let client = spa(&server, "acme", "Web App", true);
        member(&server, "acme", "dave", &[]);
        // A password sign-in to the account pages, then a passkey registered there.
        let b = browser(&server);
        let login = b.get(server.url("/tenants/acme/account")).send().await.unwrap().text().await.unwrap();
        let res = crate::code_flow::submit_login(&server, &b, "acme", &login, "dave", PASSWORD).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{db:?}");
        let page =
            b.get(server.url("/tenants/acme/account/security/passkey")).send().await.unwrap().text().await.unwrap();
        let mut key = SoftPasskey::new(true);
        let (answer, credential, handle) = register(&mut key, &page);
        let form = [
            ("csrf", hidden(&page, "csrf")),
            ("ceremony", hidden(&page, "ceremony")),
            ("name", "Laptop".to_owned()),
            ("credential", answer.clone()),
        ];
        let res = b.post(server.url("/tenants/acme/account/security/passkey")).form(&form).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{db:?}");
        assert_eq!(codes_in(&res.text().await.unwrap()).len(), 10, "the first factor brings recovery codes");
        let security = b.get(server.url("/tenants/acme/account/security")).send().await.unwrap().text().await.unwrap();
        assert!(security.contains("Laptop") && security.contains("Passkey"), "{security}");
        // A6: the user has a factor now and this session had the password only: changing
        // factors (even answering the same ceremony again) needs a sign-in with it first.
        let res = b.post(server.url("/tenants/acme/account/security/passkey")).form(&form).send().await.unwrap();
        assert!(res.text().await.unwrap().contains("name=\"password\""), "{db:?}: step-up first");
        let again =
            b.get(server.url("/tenants/acme/account/security/totp")).send().await.unwrap().text().await.unwrap();
        assert!(again.contains("name=\"password\""), "{db:?}: step-up first");

        // The passkey as the second factor.
        let b = browser(&server);
        let html = password_step(&server, &b, &client, "dave", &[]).await;
        assert!(html.contains("<h1>Confirm it's you</h1>") && html.contains("data-webauthn=\"get\""), "{html}");
        let assertion = assert_with(&mut key, &html, &credential, &handle);
        let res = step(&server, &b, &html, "/tenants/acme/login/factor/passkey", &[("credential", &assertion)]).await;
        let (claims, _) = tokens_of(&server, &client, res).await;
        assert_eq!(amr(&claims), ["pwd", "hwk", "mfa"], "{db:?}");
        assert_eq!(claims["acr"], ACR_MFA);

        // A5: the passkey alone, where the tenant allows it (a discoverable credential).
        let b = browser(&server);
        let page = b.get(authorize_url(&server, "acme", &client, &[])).send().await.unwrap().text().await.unwrap();
        assert!(page.contains("id=\"sign-in-with-passkey\""), "{db:?}");
        let assertion = assert_with(&mut key, &page, &credential, &handle);
        let res = step(&server, &b, &page, "/tenants/acme/login/passkey", &[("credential", &assertion)]).await;
        let (claims, _) = tokens_of(&server, &client, res).await;
        assert_eq!(amr(&claims), ["hwk", "mfa"], "{db:?}");
        // The same assertion on another page's ceremony does not verify.
        let b = browser(&server);
        let page = b.get(authorize_url(&server, "acme", &client, &[])).send().await.unwrap().text().await.unwrap();
        let res = step(&server, &b, &page, "/tenants/acme/login/passkey", &[("credential", &assertion)]).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{db:?}: a replayed assertion");
        // Another user's handle on dave's credential is refused.
        let page = b.get(authorize_url(&server, "acme", &client, &[])).send().await.unwrap().text().await.unwrap();
        let forged = assert_with(&mut key, &page, &credential, b"0123456789abcdef");
        let res = step(&server, &b, &page, "/tenants/acme/login/passkey", &[("credential", &forged)]).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{db:?}: a forged user handle");
        assert!(!has_session(&server, &b, &client).await);
    }
}
