//! O8 end to end: a real second `gatehouse` process is the upstream (its own tenant `corp`,
//! keys and users); the Gatehouse under test signs its users in through it, provisions or
//! links their accounts under each policy and maps their roles. A stand-in upstream gives the
//! answers a real one never does, each of which must be refused with the generic page, audited
//! with its reason, and create nothing.

pub mod fake_idp;

use gatehouse_core::UnixTime;
use gatehouse_core::admin::{self, UpstreamInput};
use gatehouse_core::store::{AdminStore, AuditFilter, UpstreamStore, UserStore};
use gatehouse_testkit::TestDatabase;
use gatehouse_types::Secret;
use reqwest::StatusCode;
use serde_json::Value;

use crate::code_flow::{PASSWORD, REDIRECT, VERIFIER, authorize_url, exchange, hidden, param};
use crate::oauth::tenant;
use crate::support::{BinaryServer, PUBLIC_URL, TestServer, config};
use fake_idp::FakeIdp;

/// The callback every upstream of `acme` sends its answers to.
const CALLBACK: &str = "/tenants/acme/upstream/callback";

/// The upstream: the real binary with tenant `corp`, user `ursula` (role `engineer`), and a
/// confidential client for the Gatehouse under test.
pub struct RealUpstream {
    pub db: TestDatabase,
    pub gh: BinaryServer,
    pub client_id: String,
    pub secret: String,
}

impl RealUpstream {
    /// For the Gatehouse under test at [`PUBLIC_URL`].
    async fn start() -> Self {
        Self::start_for(&format!("{PUBLIC_URL}/tenants/acme")).await
    }

    /// For the Gatehouse whose tenant `acme` has the issuer `acme` (its callback and
    /// post-logout URIs are registered).
    pub async fn start_for(acme: &str) -> Self {
        let db = TestDatabase::sqlite();
        let (dir, url) = (db.dir.path().to_owned(), db.url.clone());
        let gh = tokio::task::spawn_blocking(move || BinaryServer::start(&dir, &url)).await.unwrap();
        let up = Self { db, gh, client_id: String::new(), secret: String::new() };
        up.cli(&["tenant", "create", "corp", "--display-name", "Corp", "--json"], None);
        up.cli(
            &[
                "user",
                "create",
                "--tenant",
                "corp",
                "--username",
                "ursula",
                "--email",
                "ursula@corp.example",
                "--password-stdin",
                "--role",
                "engineer",
                "--json",
            ],
            Some(PASSWORD),
        );
        let redirect = format!("{acme}/upstream/callback");
        let logged_out = format!("{acme}/upstream/logged-out");
        let client = up.cli(
            &[
                "client",
                "create",
                "--tenant",
                "corp",
                "--name",
                "Acme Gatehouse",
                "--type",
                "confidential",
                "--redirect-uri",
                &redirect,
                "--post-logout-redirect-uri",
                &logged_out,
                "--grant",
                "authorization_code",
                "--scope",
                "openid profile email",
                "--first-party",
                "--json",
            ],
            None,
        );
        let client_id = client["client_id"].as_str().unwrap().to_owned();
        let secret = client["client_secret"].as_str().unwrap().to_owned();
        Self { client_id, secret, ..up }
    }

    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> Value {
        self.gh.cli_json(&self.db.url, args, stdin)
    }

    pub fn issuer(&self) -> String {
        format!("{}/tenants/corp", self.gh.base)
    }

    /// Replaces `ursula`'s roles at the upstream through its admin API.
    async fn set_roles(&self, roles: &[&str]) {
        let api = format!("{}/api", self.gh.base);
        let name = format!("ops-{}", &gatehouse_core::crypto::random_token()[..8]);
        let ops = self.cli(
            &[
                "client",
                "create",
                "--tenant",
                "corp",
                "--name",
                &name,
                "--type",
                "confidential",
                "--grant",
                "client_credentials",
                "--scope",
                "admin",
                "--audience",
                &api,
                "--role",
                "tenant-admin",
                "--json",
            ],
            None,
        );
        let http = crate::support::https_client(&self.gh.cert_pem);
        let token: Value = http
            .post(format!("{}/token", self.issuer()))
            .basic_auth(ops["client_id"].as_str().unwrap(), ops["client_secret"].as_str())
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let bearer = token["access_token"].as_str().unwrap().to_owned();
        let user = format!("{api}/v1/tenants/corp/users/ursula");
        let read = http.get(&user).bearer_auth(&bearer).send().await.unwrap();
        let etag = read.headers()["etag"].to_str().unwrap().to_owned();
        let res = http
            .put(format!("{user}/roles"))
            .bearer_auth(&bearer)
            .header("if-match", etag)
            .json(&serde_json::json!({ "roles": roles }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
    }
}

/// The Gatehouse under test, trusting the upstream's development certificate.
async fn downstream(db: &TestDatabase, up_cert: &std::path::Path) -> TestServer {
    let ca = up_cert.display().to_string();
    let env = [("GATEHOUSE_UPSTREAM_CA_FILE", ca.as_str()), ("GATEHOUSE_CACHE_TTL_SECS", "0")];
    let server = TestServer::start_with(config(db, &env), None).await;
    tenant(&server, "acme");
    server
}

fn add_upstream(server: &TestServer, name: &str, issuer: &str, client_id: &str, secret: &str, input: UpstreamInput) {
    let store = &server.running.store;
    let input = UpstreamInput {
        display_name: Some("Corp".into()),
        issuer: Some(issuer.into()),
        client_id: Some(client_id.into()),
        client_secret: Some(Secret::new(secret.into())),
        ..input
    };
    admin::add_upstream(store, store.vault(), "test", "acme", name, &input, UnixTime::now()).unwrap();
}

fn update_upstream(server: &TestServer, name: &str, input: UpstreamInput) {
    let store = &server.running.store;
    let t = admin::require_tenant(store, "acme").unwrap();
    let before = admin::require_upstream(store, &t.id, name).unwrap();
    admin::update_upstream(store, store.vault(), "test", &before, &input).unwrap();
}

/// A browser that trusts both servers, keeps cookies and follows no redirects.
fn browser(certs: &[&[u8]]) -> reqwest::Client {
    let certs: Vec<_> = certs.iter().map(|c| reqwest::Certificate::from_pem(c).unwrap()).collect();
    reqwest::Client::builder()
        .tls_certs_only(certs)
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A public client of `acme` (first party) redirecting to [`REDIRECT`].
fn spa(server: &TestServer) -> String {
    crate::code_flow::spa(server, "acme", "Web App", true)
}

/// The login page of a new authorization request, and "Continue with …" `upstream` on it:
/// the response (a redirect to the upstream's authorization endpoint, or a failure page).
async fn continue_with(server: &TestServer, b: &reqwest::Client, spa: &str, upstream: &str) -> reqwest::Response {
    let page = b.get(authorize_url(server, "acme", spa, &[])).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("Continue with Corp"), "the login page offers the upstream: {html}");
    let form =
        [("request_id", hidden(&html, "request_id")), ("csrf", hidden(&html, "csrf")), ("upstream", upstream.into())];
    b.post(server.url("/tenants/acme/login/upstream")).form(&form).send().await.unwrap()
}

/// Signs `ursula` in at the real upstream and brings its answer back to the Gatehouse under
/// test: that server's response to the callback.
async fn through_real_upstream(server: &TestServer, up: &RealUpstream, spa: &str) -> reqwest::Response {
    let b = browser(&[&server.cert_pem, &up.gh.cert_pem]);
    through_real_upstream_in(&b, server, up, spa, "corp").await
}

/// As [`through_real_upstream`], in the browser `b`.
async fn through_real_upstream_in(
    b: &reqwest::Client,
    server: &TestServer,
    up: &RealUpstream,
    spa: &str,
    name: &str,
) -> reqwest::Response {
    let out = continue_with(server, b, spa, name).await;
    let (to, params) = location_params(&out);
    assert_eq!(to, format!("{}/authorize", up.issuer()));
    assert_eq!(param(&params, "code_challenge_method"), Some("S256"), "PKCE");
    assert!(param(&params, "nonce").is_some_and(|n| n.len() >= 32), "a nonce");
    assert!(param(&params, "scope").is_some_and(|s| s.contains("openid")));
    let login = b.get(out.headers()["location"].to_str().unwrap()).send().await.unwrap();
    assert_eq!(login.status(), StatusCode::OK, "the upstream's login page");
    let html = login.text().await.unwrap();
    let form = crate::code_flow::login_form(&html, "ursula", PASSWORD);
    let answer = b.post(format!("{}/login", up.issuer())).form(&form).send().await.unwrap();
    let (back, params) = location_params(&answer);
    assert_eq!(back, format!("{PUBLIC_URL}{CALLBACK}"));
    assert_eq!(param(&params, "iss"), Some(up.issuer().as_str()), "RFC 9207");
    let query = url::Url::parse(answer.headers()["location"].to_str().unwrap()).unwrap().query().unwrap().to_owned();
    b.get(server.url(&format!("{CALLBACK}?{query}"))).send().await.unwrap()
}

/// A redirect's target without its query (port included), and its query parameters.
fn location_params(res: &reqwest::Response) -> (String, Vec<(String, String)>) {
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "expected a redirect");
    let loc = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    let base = loc.as_str().split('?').next().unwrap().to_owned();
    (base, loc.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
}

/// Where the page answering a callback navigates on (its meta refresh and link), with the
/// query parameters: the callback ends the redirect chain of the upstream's login form.
async fn navigated(res: reqwest::Response) -> (String, Vec<(String, String)>) {
    assert_eq!(res.status(), StatusCode::OK, "a page that navigates on");
    let html = res.text().await.unwrap();
    let refresh = html.find("http-equiv=\"refresh\" content=\"0; url=").expect("a meta refresh");
    let marker = "id=\"continue\" href=\"";
    let start = html.find(marker).unwrap_or_else(|| panic!("no link in {html}")) + marker.len();
    let href = html[start..start + html[start..].find('"').unwrap()].replace("&#38;", "&").replace("&amp;", "&");
    assert!(html[refresh..].contains(&html[start..start + html[start..].find('"').unwrap()]), "the same target");
    let loc = url::Url::parse(&href).unwrap();
    let base = loc.as_str().split('?').next().unwrap().to_owned();
    (base, loc.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
}

/// The `login.upstream` audit records of `acme`, newest first: (outcome, details).
fn upstream_audit(server: &TestServer) -> Vec<(String, Value)> {
    let store = &server.running.store;
    let t = admin::require_tenant(store, "acme").unwrap();
    let filter =
        AuditFilter { tenant_id: Some(t.id), action: Some("login.upstream".into()), limit: 50, ..Default::default() };
    let records = store.search_audit(&filter).unwrap();
    records.into_iter().map(|r| (r.outcome, serde_json::from_str(&r.details).unwrap())).collect()
}

fn users_of(server: &TestServer) -> Vec<String> {
    let store = &server.running.store;
    let t = admin::require_tenant(store, "acme").unwrap();
    store.list_users(&t.id, None, None, 100).unwrap().into_iter().map(|u| u.username).collect()
}

/// The claims of a JWT's payload (already verified by the token endpoint's client).
fn jwt_claims(jwt: &str) -> Value {
    use base64::Engine;
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

#[actix_web::test]
async fn an_upstream_user_is_provisioned_just_in_time_and_its_roles_follow_the_upstream() {
    let up = RealUpstream::start().await;
    for db in gatehouse_testkit::databases() {
        let server = downstream(&db, &up.gh.cert_path()).await;
        let spa = spa(&server);
        let rules = Some(vec!["roles=engineer:staff".to_owned(), "roles=manager:approver".to_owned()]);
        add_upstream(
            &server,
            "corp",
            &up.issuer(),
            &up.client_id,
            &up.secret,
            UpstreamInput { role_rules: rules, trusted_email: Some(true), ..Default::default() },
        );

        let res = through_real_upstream(&server, &up, &spa).await;
        let (to, params) = navigated(res).await;
        assert_eq!(to, REDIRECT, "{db:?}: back to the application");
        assert_eq!(param(&params, "state"), Some("st-123"));
        let code = param(&params, "code").unwrap().to_owned();
        let tokens: Value = exchange(&server, "acme", &spa, &code, VERIFIER, REDIRECT).await.json().await.unwrap();
        let id = jwt_claims(tokens["id_token"].as_str().unwrap());
        assert_eq!(id["preferred_username"], "ursula", "{db:?}: the upstream's preferred_username");
        assert_eq!(id["amr"], serde_json::json!(["fed"]), "{db:?}: a federated sign-in");
        assert_eq!(id["roles"], serde_json::json!(["staff"]), "{db:?}: granted by the rule");

        let store = &server.running.store;
        let t = admin::require_tenant(store, "acme").unwrap();
        let user = store.user_by_username(&t.id, "ursula").unwrap().unwrap();
        assert!(user.password_hash.is_none(), "{db:?}: no password");
        assert_eq!(user.email, "ursula@corp.example", "{db:?}: the upstream verified the address");
        assert_eq!(store.identities_of(&t.id, &user.id).unwrap().len(), 1);
        let audit = upstream_audit(&server);
        assert_eq!(audit[0].1["account"], "provisioned", "{db:?}: {audit:?}");
        assert_eq!(audit[0].1["upstream_amr"], serde_json::json!(["pwd"]), "{db:?}: the upstream's amr is recorded");

        // The same identity signs in as the same account; a local role stays, mapped ones follow.
        let held = store.user_roles(&t.id, &user.id).unwrap();
        let with_local = [held.clone(), vec!["reader".to_owned()]].concat();
        store
            .set_user_roles(&t.id, &user.id, &held, &with_local, &gatehouse_core::audit::AuditEvent::new("test", "x"))
            .unwrap();
        up.set_roles(&["manager"]).await;
        let res = through_real_upstream(&server, &up, &spa).await;
        assert_eq!(navigated(res).await.0, REDIRECT);
        let mut roles = store.user_roles(&t.id, &user.id).unwrap();
        roles.sort();
        assert_eq!(roles, ["approver", "reader"], "{db:?}: staff removed with engineer upstream; reader kept");
        assert_eq!(users_of(&server).iter().filter(|u| u.starts_with("ursula")).count(), 1, "{db:?}: one account");
        assert_eq!(upstream_audit(&server)[0].1["account"], "linked");
        up.set_roles(&["engineer"]).await;
    }
}

#[actix_web::test]
async fn an_upstream_identity_links_to_a_local_account_only_under_its_policy() {
    let up = RealUpstream::start().await;
    let db = TestDatabase::sqlite();
    let server = downstream(&db, &up.gh.cert_path()).await;
    let spa = spa(&server);
    let store = &server.running.store;
    let t = admin::require_tenant(store, "acme").unwrap();
    // A local account with the address the upstream verified.
    let input = admin::CreateUser {
        tenant: "acme".into(),
        username: "ula".into(),
        email: "ursula@corp.example".into(),
        password: Some(Secret::new(PASSWORD.into())),
        roles: Vec::new(),
        must_change_password: false,
        self_registered: false,
    };
    let ula = admin::create_user(store, &server.running_hasher(), &Default::default(), "test", &input, UnixTime::now())
        .unwrap();
    let trusted = UpstreamInput { trusted_email: Some(true), ..Default::default() };
    add_upstream(&server, "corp", &up.issuer(), &up.client_id, &up.secret, trusted);

    // never (the default): no silent link by address, and no second account with it.
    let res = through_real_upstream(&server, &up, &spa).await;
    assert_eq!(res.status(), StatusCode::BAD_GATEWAY);
    assert!(res.text().await.unwrap().contains("Reference"), "the generic page with a correlation id");
    assert_eq!(users_of(&server), ["ula"], "nothing created");
    assert!(store.identities_of(&t.id, &ula.id).unwrap().is_empty());
    assert_eq!(upstream_audit(&server)[0].1["reason"], "an account with this e-mail address exists");

    // after-local-sign-in: the login page asks for the local account once, then links.
    update_upstream(&server, "corp", UpstreamInput { link: Some("after-local-sign-in".into()), ..Default::default() });
    let res = through_real_upstream(&server, &up, &spa).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains("id=\"link-notice\""), "{html}");
    assert!(store.identities_of(&t.id, &ula.id).unwrap().is_empty(), "not linked before the local sign-in");
    link_after_local_sign_in(&server, &up, &spa).await;
    assert_eq!(store.identities_of(&t.id, &ula.id).unwrap().len(), 1, "linked after the local sign-in");
    let res = through_real_upstream(&server, &up, &spa).await;
    assert_eq!(navigated(res).await.0, REDIRECT, "the linked identity signs in as ula");
    assert_eq!(upstream_audit(&server)[0].1["account"], "linked");
    assert_eq!(users_of(&server), ["ula"]);

    // verified-email on a trusted upstream links by the verified address (ula unlinked first).
    let linked = store.identities_of(&t.id, &ula.id).unwrap();
    let audit = gatehouse_core::audit::AuditEvent::new("test", "x");
    store.unlink_identity(&t.id, &ula.id, &linked[0].upstream_id, &linked[0].subject, &audit).unwrap();
    update_upstream(
        &server,
        "corp",
        UpstreamInput { link: Some("verified-email".into()), trusted_email: Some(true), ..Default::default() },
    );
    let res = through_real_upstream(&server, &up, &spa).await;
    assert_eq!(navigated(res).await.0, REDIRECT);
    assert_eq!(store.identities_of(&t.id, &ula.id).unwrap().len(), 1);
    assert_eq!(upstream_audit(&server)[0].1["account"], "linked by verified e-mail");
    assert_eq!(users_of(&server), ["ula"]);
    // Links belong to the issuer: an upstream with linked identities keeps it.
    let before = admin::require_upstream(store, &t.id, "corp").unwrap();
    let moved = UpstreamInput { issuer: Some("https://elsewhere.example".into()), ..Default::default() };
    let refused = admin::update_upstream(store, store.vault(), "test", &before, &moved).unwrap_err();
    assert!(refused.to_string().contains("linked identities"), "{refused}");
}

/// after-local-sign-in, in one browser: the upstream's answer, then ula's password on the
/// login page that asks for it; the application gets its code.
async fn link_after_local_sign_in(server: &TestServer, up: &RealUpstream, spa: &str) {
    let b = browser(&[&server.cert_pem, &up.gh.cert_pem]);
    let page = through_real_upstream_in(&b, server, up, spa, "corp").await.text().await.unwrap();
    assert!(page.contains("id=\"link-notice\""));
    let res = crate::code_flow::submit_login(server, &b, "acme", &page, "ula", PASSWORD).await;
    assert_eq!(location_params(&res).0, REDIRECT, "signed in locally, back to the application");
}

/// Starts a sign-in through the stand-in upstream: (the browser, the `state` and `nonce` sent).
async fn start_fake(server: &TestServer, fake: &FakeIdp, spa: &str) -> (reqwest::Client, String, String) {
    let b = browser(&[&server.cert_pem]);
    let out = continue_with(server, &b, spa, "fake").await;
    let (to, params) = location_params(&out);
    assert_eq!(to, format!("{}/authorize", fake.issuer()));
    fake.scenario.lock().unwrap().challenge = param(&params, "code_challenge").unwrap().to_owned();
    (b, param(&params, "state").unwrap().to_owned(), param(&params, "nonce").unwrap().to_owned())
}

/// The Gatehouse under test with tenant `acme`, its SPA, and the stand-in upstream `fake` added
/// with `input` (the database first: it must outlive the server).
async fn with_stand_in(input: UpstreamInput) -> (TestDatabase, TestServer, String, FakeIdp) {
    let db = TestDatabase::sqlite();
    let server = TestServer::start_with(config(&db, &[("GATEHOUSE_CACHE_TTL_SECS", "0")]), None).await;
    tenant(&server, "acme");
    let spa = spa(&server);
    let fake = FakeIdp::start("gatehouse-acme").await;
    add_upstream(&server, "fake", &fake.issuer(), "gatehouse-acme", "fake-secret", input);
    (db, server, spa, fake)
}

/// A whole round through the stand-in: started, answered with valid claims, the callback's
/// response.
async fn good_round(server: &TestServer, fake: &FakeIdp, spa: &str) -> reqwest::Response {
    let (b, state, nonce) = start_fake(server, fake, spa).await;
    fake.answer_with(fake.claims(&nonce), true);
    answer(server, &b, &[("code", "c-1"), ("state", &state), ("iss", &fake.issuer())]).await
}

async fn answer(server: &TestServer, b: &reqwest::Client, query: &[(&str, &str)]) -> reqwest::Response {
    let q = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(query).finish();
    b.get(server.url(&format!("{CALLBACK}?{q}"))).send().await.unwrap()
}

#[actix_web::test]
async fn every_bad_answer_of_an_upstream_is_refused_audited_and_creates_nothing() {
    let db = TestDatabase::sqlite();
    let metrics = "metrics-token-for-the-federation-tests";
    let env = [("GATEHOUSE_CACHE_TTL_SECS", "0"), ("GATEHOUSE_METRICS_TOKEN", metrics)];
    let server = TestServer::start_with(config(&db, &env), None).await;
    tenant(&server, "acme");
    let spa = spa(&server);
    let fake = FakeIdp::start("gatehouse-acme").await;
    add_upstream(&server, "fake", &fake.issuer(), "gatehouse-acme", "fake-secret", UpstreamInput::default());
    let iss = fake.issuer();

    type Change = fn(&mut Value, &str);
    let cases: [(&str, Change, bool, &str); 9] = [
        ("wrong signature", |_, _| {}, false, "id token"),
        ("wrong iss", |c, _| c["iss"] = "http://127.0.0.1:1".into(), true, "id token"),
        ("wrong aud", |c, _| c["aud"] = "someone-else".into(), true, "id token"),
        ("another audience too", |c, id| c["aud"] = serde_json::json!([id, "someone-else"]), true, "id token"),
        ("wrong azp", |c, _| c["azp"] = "someone-else".into(), true, "azp"),
        ("wrong nonce", |c, _| c["nonce"] = "not-the-nonce".into(), true, "id token"),
        ("no nonce", |c, _| drop(c.as_object_mut().unwrap().remove("nonce")), true, "id token"),
        ("expired", |c, _| c["exp"] = (UnixTime::now().0 - 600).into(), true, "id token"),
        ("wrong at_hash", |c, _| c["at_hash"] = "AAAAAAAAAAAAAAAAAAAAAA".into(), true, "at_hash"),
    ];
    for (case, change, published_key, reason) in cases {
        let (b, state, nonce) = start_fake(&server, &fake, &spa).await;
        let mut claims = fake.claims(&nonce);
        change(&mut claims, "gatehouse-acme");
        fake.answer_with(claims, published_key);
        let res = answer(&server, &b, &[("code", "c-1"), ("state", &state), ("iss", &iss)]).await;
        assert_eq!(res.status(), StatusCode::BAD_GATEWAY, "{case}");
        assert!(res.text().await.unwrap().contains("Reference"), "{case}: a correlation id");
        let audit = upstream_audit(&server);
        assert_eq!(audit[0].0, "failure", "{case}");
        let why = audit[0].1["reason"].as_str().unwrap().to_owned();
        assert!(why.contains(reason), "{case}: {why}");
        assert!(users_of(&server).is_empty(), "{case}: nothing created");
    }

    // RFC 9207: this upstream sends `iss`; another one, or none, is a mix-up.
    for iss_param in [Some("http://127.0.0.1:1"), None] {
        let (b, state, nonce) = start_fake(&server, &fake, &spa).await;
        fake.answer_with(fake.claims(&nonce), true);
        let mut q = vec![("code", "c-1"), ("state", state.as_str())];
        q.extend(iss_param.map(|i| ("iss", i)));
        assert_eq!(answer(&server, &b, &q).await.status(), StatusCode::BAD_GATEWAY, "{iss_param:?}");
        assert!(upstream_audit(&server)[0].1["reason"].as_str().unwrap().contains("iss"));
    }

    // An error response from the upstream.
    let (b, state, _) = start_fake(&server, &fake, &spa).await;
    let res =
        answer(&server, &b, &[("error", "access_denied"), ("error_description", "<b>no</b>"), ("state", &state)]).await;
    assert_eq!(res.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(upstream_audit(&server)[0].1["reason"], "upstream error: access_denied");

    // A good answer signs in (JIT); the same state again is refused (single use).
    let (b, state, nonce) = start_fake(&server, &fake, &spa).await;
    fake.answer_with(fake.claims(&nonce), true);
    let good = [("code", "c-1"), ("state", state.as_str()), ("iss", iss.as_str())];
    let res = answer(&server, &b, &good).await;
    assert_eq!(navigated(res).await.0, REDIRECT, "the well-formed answer signs in");
    let sent = fake.scenario.lock().unwrap().last_token_request.clone();
    assert!(sent.iter().any(|(k, _)| k == "code_verifier"), "PKCE verifier sent: {sent:?}");
    assert!(!sent.iter().any(|(k, _)| k == "client_secret"), "the secret goes in the Authorization header");
    assert_eq!(users_of(&server), ["fay"]);
    let replay = answer(&server, &b, &good).await;
    assert_eq!(replay.status(), StatusCode::BAD_GATEWAY, "replayed state");
    assert!(upstream_audit(&server)[0].1["reason"].as_str().unwrap().starts_with("state"));

    // Another browser cannot bring this browser's answer (the state is bound to its cookie).
    let (_, state, nonce) = start_fake(&server, &fake, &spa).await;
    fake.answer_with(fake.claims(&nonce), true);
    let stranger = browser(&[&server.cert_pem]);
    let res = answer(&server, &stranger, &[("code", "c-1"), ("state", &state), ("iss", &iss)]).await;
    assert_eq!(res.status(), StatusCode::BAD_GATEWAY, "no binding cookie");

    // A rotated key: the unknown kid makes Gatehouse fetch the keys again, once.
    fake.rotate("k2");
    let res = good_round(&server, &fake, &spa).await;
    assert_eq!(navigated(res).await.0, REDIRECT, "signed with the new key, found after a fetch");
    assert_eq!(users_of(&server), ["fay"], "the same identity, the same account");

    // An unreachable upstream: the login page's button leads to the same page, nothing kept.
    let port = crate::support::free_port();
    add_upstream(&server, "gone", &format!("http://127.0.0.1:{port}"), "x", "y", UpstreamInput::default());
    let b = browser(&[&server.cert_pem]);
    let res = continue_with(&server, &b, &spa, "gone").await;
    assert_eq!(res.status(), StatusCode::BAD_GATEWAY);
    assert!(upstream_audit(&server)[0].1["reason"].as_str().unwrap().starts_with("discovery"));
    assert_eq!(users_of(&server), ["fay"]);
    // L4: counted by result, as audited.
    let text =
        server.client.get(server.url("/metrics")).bearer_auth(metrics).send().await.unwrap().text().await.unwrap();
    let audit = upstream_audit(&server);
    let failures = audit.iter().filter(|(o, _)| o == "failure").count();
    let successes = audit.len() - failures;
    assert!(text.contains(&format!("gatehouse_upstream_logins_total{{result=\"failure\"}} {failures}\n")), "{text}");
    assert!(text.contains(&format!("gatehouse_upstream_logins_total{{result=\"success\"}} {successes}\n")), "{text}");
}

#[actix_web::test]
async fn upstream_eq_routes_straight_to_the_upstream_and_mfa_is_trusted_only_when_configured() {
    let (_db, server, spa, fake) = with_stand_in(UpstreamInput {
        trust_mfa: Some(true),
        role_rules: Some(vec!["groups=eng:staff".into()]),
        ..Default::default()
    })
    .await;
    let b = browser(&[&server.cert_pem]);
    let res = b.get(authorize_url(&server, "acme", &spa, &[("upstream", "fake")])).send().await.unwrap();
    let (to, params) = location_params(&res);
    assert_eq!(to, format!("{}/authorize", fake.issuer()), "no login page");
    fake.scenario.lock().unwrap().challenge = param(&params, "code_challenge").unwrap().to_owned();
    let (state, nonce) = (param(&params, "state").unwrap().to_owned(), param(&params, "nonce").unwrap().to_owned());
    fake.answer_with(fake.claims(&nonce), true);
    let res = answer(&server, &b, &[("code", "c-1"), ("state", &state), ("iss", &fake.issuer())]).await;
    let (to, params) = navigated(res).await;
    assert_eq!(to, REDIRECT);
    let code = param(&params, "code").unwrap().to_owned();
    let tokens: Value = exchange(&server, "acme", &spa, &code, VERIFIER, REDIRECT).await.json().await.unwrap();
    let id = jwt_claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["amr"], serde_json::json!(["fed", "mfa"]), "the trusted upstream's pwd+otp counts");
    assert_eq!(id["acr"], gatehouse_core::mfa::ACR_MFA);
    assert_eq!(id["roles"], serde_json::json!(["staff"]));
    // Home-realm discovery: a login_hint at a routed domain goes there, with the hint.
    update_upstream(
        &server,
        "fake",
        UpstreamInput { domains: Some(vec!["Fake.Example".into()]), ..Default::default() },
    );
    let b = browser(&[&server.cert_pem]);
    let res = b.get(authorize_url(&server, "acme", &spa, &[("login_hint", "fay@FAKE.example")])).send().await.unwrap();
    let (to, params) = location_params(&res);
    assert_eq!(to, format!("{}/authorize", fake.issuer()), "routed by the hint's domain");
    assert_eq!(param(&params, "login_hint"), Some("fay@FAKE.example"), "the hint goes on");
    let res = b.get(authorize_url(&server, "acme", &spa, &[("login_hint", "al@other.example")])).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "another domain: the login page");
    // A domain routes to one upstream only.
    let taken = UpstreamInput {
        display_name: Some("Other".into()),
        issuer: Some(fake.issuer()),
        client_id: Some("x".into()),
        client_secret: Some(Secret::new("y".into())),
        domains: Some(vec!["fake.example".into()]),
        ..Default::default()
    };
    let store = &server.running.store;
    let refused = admin::add_upstream(store, store.vault(), "test", "acme", "other", &taken, UnixTime::now());
    assert!(refused.unwrap_err().to_string().contains("already goes to the upstream fake"));
    // An unknown upstream name is refused with the generic page.
    let b = browser(&[&server.cert_pem]);
    let res = b.get(authorize_url(&server, "acme", &spa, &[("upstream", "nope")])).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_GATEWAY);
}

/// Whether `b` has a session at the upstream (its account page, rather than its login form).
async fn signed_in_upstream(b: &reqwest::Client, up: &RealUpstream) -> bool {
    let res = b.get(format!("{}/account", up.issuer())).send().await.unwrap();
    res.status() == StatusCode::OK && !res.text().await.unwrap().contains("type=\"password\"")
}

#[actix_web::test]
async fn logout_ends_the_upstream_session_too_and_comes_back_to_the_application() {
    let up = RealUpstream::start().await;
    let db = TestDatabase::sqlite();
    let server = downstream(&db, &up.gh.cert_path()).await;
    let spa = spa(&server);
    add_upstream(
        &server,
        "corp",
        &up.issuer(),
        &up.client_id,
        &up.secret,
        UpstreamInput { end_session: Some(true), ..Default::default() },
    );
    let b = browser(&[&server.cert_pem, &up.gh.cert_pem]);
    let res = through_real_upstream_in(&b, &server, &up, &spa, "corp").await;
    let (_, params) = navigated(res).await;
    let code = param(&params, "code").unwrap().to_owned();
    let tokens: Value = exchange(&server, "acme", &spa, &code, VERIFIER, REDIRECT).await.json().await.unwrap();
    assert!(signed_in_upstream(&b, &up).await, "signed in at the upstream");

    let mut logout = url::Url::parse(&server.url("/tenants/acme/logout")).unwrap();
    logout
        .query_pairs_mut()
        .append_pair("id_token_hint", tokens["id_token"].as_str().unwrap())
        .append_pair("post_logout_redirect_uri", "https://app.example.com/")
        .append_pair("state", "lo-1");
    let res = b.get(logout.as_str()).send().await.unwrap();
    let (to, params) = location_params(&res);
    assert_eq!(to, format!("{}/logout", up.issuer()), "on to the upstream's end_session_endpoint");
    assert_eq!(param(&params, "client_id"), Some(up.client_id.as_str()));
    let hint = jwt_claims(param(&params, "id_token_hint").unwrap());
    assert_eq!(hint["iss"], up.issuer().as_str(), "the upstream's own ID token is the hint");
    let res = b.get(res.headers()["location"].to_str().unwrap()).send().await.unwrap();
    let (back, params) = location_params(&res);
    assert_eq!(back, format!("{PUBLIC_URL}/tenants/acme/upstream/logged-out"));
    let state = param(&params, "state").unwrap().to_owned();
    assert!(!signed_in_upstream(&b, &up).await, "the upstream's session ended");
    let res = b.get(server.url(&format!("/tenants/acme/upstream/logged-out?state={state}"))).send().await.unwrap();
    let (to, params) = location_params(&res);
    assert_eq!(to, "https://app.example.com/");
    assert_eq!(param(&params, "state"), Some("lo-1"), "the application's state");
    // The way back is used once.
    let again = b.get(server.url(&format!("/tenants/acme/upstream/logged-out?state={state}"))).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::OK, "the signed-out page, no redirect");
}

#[actix_web::test]
async fn profile_claims_follow_the_upstream_only_where_it_is_set_up() {
    let (_db, server, spa, fake) = with_stand_in(UpstreamInput::default()).await;
    let sign_in = async |claims: &dyn Fn(&str) -> Value| {
        let (b, state, nonce) = start_fake(&server, &fake, &spa).await;
        fake.answer_with(claims(&nonce), true);
        let res = answer(&server, &b, &[("code", "c-1"), ("state", &state), ("iss", &fake.issuer())]).await;
        assert_eq!(navigated(res).await.0, REDIRECT);
    };
    let renamed = |nonce: &str| {
        let mut c = fake.claims(nonce);
        c["name"] = "Fay Two".into();
        c["email"] = "fay.two@fake.example".into();
        c
    };
    sign_in(&|n: &str| fake.claims(n)).await;
    let store = &server.running.store;
    let t = admin::require_tenant(store, "acme").unwrap();
    let read = || store.user_by_username(&t.id, "fay").unwrap().unwrap();
    let placeholder = read().email;
    assert!(placeholder.ends_with("@fake.upstream.invalid"), "an untrusted upstream's address is not taken");
    assert!(!read().email_verified);
    sign_in(&renamed).await;
    assert_eq!(read().email, placeholder, "not kept in step by default");
    update_upstream(&server, "fake", UpstreamInput { sync_profile: Some(true), ..Default::default() });
    sign_in(&renamed).await;
    assert_eq!((read().display_name.as_str(), read().email.as_str()), ("Fay Two", placeholder.as_str()), "name only");
    update_upstream(&server, "fake", UpstreamInput { trusted_email: Some(true), ..Default::default() });
    sign_in(&renamed).await;
    let fay = read();
    assert_eq!((fay.display_name.as_str(), fay.email.as_str()), ("Fay Two", "fay.two@fake.example"));
}

#[actix_web::test]
async fn private_key_jwt_authenticates_gatehouse_at_the_upstream_with_the_tenants_key() {
    let up = RealUpstream::start().await;
    let db = TestDatabase::sqlite();
    let server = downstream(&db, &up.gh.cert_path()).await;
    let spa = spa(&server);
    // The upstream registers Gatehouse with the tenant's public keys (its JWKS), no secret.
    let jwks = server.client.get(server.url("/tenants/acme/jwks")).send().await.unwrap().text().await.unwrap();
    let jwks_file = up.db.dir.path().join("acme-jwks.json");
    std::fs::write(&jwks_file, jwks).unwrap();
    let redirect = format!("{PUBLIC_URL}{CALLBACK}");
    let registered = up.cli(
        &[
            "client",
            "create",
            "--tenant",
            "corp",
            "--name",
            "Acme keys",
            "--type",
            "confidential",
            "--redirect-uri",
            &redirect,
            "--grant",
            "authorization_code",
            "--scope",
            "openid profile email",
            "--first-party",
            "--jwks-file",
            jwks_file.to_str().unwrap(),
            "--json",
        ],
        None,
    );
    let store = &server.running.store;
    let input = UpstreamInput {
        display_name: Some("Corp".into()),
        issuer: Some(up.issuer()),
        client_id: Some(registered["client_id"].as_str().unwrap().to_owned()),
        auth: Some("private-key-jwt".into()),
        ..Default::default()
    };
    admin::add_upstream(store, store.vault(), "test", "acme", "corp", &input, UnixTime::now()).unwrap();
    let res = through_real_upstream(&server, &up, &spa).await;
    assert_eq!(navigated(res).await.0, REDIRECT, "the upstream accepted the assertion");
    assert_eq!(upstream_audit(&server)[0].1["account"], "provisioned");
}

#[actix_web::test]
async fn a_tenant_that_requires_mfa_asks_for_a_local_factor_unless_the_upstream_is_trusted_for_it() {
    let (_db, server, spa, fake) = with_stand_in(UpstreamInput::default()).await;
    let change = admin::PolicyChange { mfa: Some(gatehouse_core::mfa::MfaPolicy::Required), ..Default::default() };
    admin::update_tenant_policy(&server.running.store, "test", "acme", &change).unwrap();
    let res = good_round(&server, &fake, &spa).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains("action=\"/tenants/acme/login/enroll\""), "a local factor is enrolled first: {html}");

    update_upstream(&server, "fake", UpstreamInput { trust_mfa: Some(true), ..Default::default() });
    let res = good_round(&server, &fake, &spa).await;
    assert_eq!(navigated(res).await.0, REDIRECT, "the upstream's pwd+otp counts");
    // A6: not for an administrator, who presents (here: enrols) a local factor.
    let store = &server.running.store;
    let t = admin::require_tenant(store, "acme").unwrap();
    let fay = store.user_by_username(&t.id, "fay").unwrap().unwrap();
    let held = store.user_roles(&t.id, &fay.id).unwrap();
    let audit = gatehouse_core::audit::AuditEvent::new("test", "x");
    store.set_user_roles(&t.id, &fay.id, &held, &["tenant-admin".to_owned()], &audit).unwrap();
    let res = good_round(&server, &fake, &spa).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("action=\"/tenants/acme/login/enroll\""), "an administrator enrols");
}

#[actix_web::test]
async fn a_demand_for_a_fresh_sign_in_goes_upstream_and_is_checked_on_the_way_back() {
    let (_db, server, spa, fake) = with_stand_in(UpstreamInput::default()).await;
    let now = UnixTime::now().0;
    for (auth_time, signs_in) in [(None, false), (Some(now - 3600), false), (Some(now), true)] {
        let b = browser(&[&server.cert_pem]);
        let url = authorize_url(&server, "acme", &spa, &[("upstream", "fake"), ("prompt", "login")]);
        let res = b.get(url).send().await.unwrap();
        let (_, params) = location_params(&res);
        assert_eq!(param(&params, "prompt"), Some("login"), "passed on");
        fake.scenario.lock().unwrap().challenge = param(&params, "code_challenge").unwrap().to_owned();
        let mut claims = fake.claims(param(&params, "nonce").unwrap());
        if let Some(t) = auth_time {
            claims["auth_time"] = t.into();
        }
        fake.answer_with(claims, true);
        let state = param(&params, "state").unwrap();
        let res = answer(&server, &b, &[("code", "c-1"), ("state", state), ("iss", &fake.issuer())]).await;
        if signs_in {
            assert_eq!(navigated(res).await.0, REDIRECT);
        } else {
            assert_eq!(res.status(), StatusCode::BAD_GATEWAY, "{auth_time:?}");
            assert!(upstream_audit(&server)[0].1["reason"].as_str().unwrap().contains("auth_time"), "{auth_time:?}");
        }
    }
}

#[actix_web::test]
async fn an_authorization_endpoint_on_another_origin_than_the_issuer_is_reached_by_a_link_from_the_form() {
    let db = TestDatabase::sqlite();
    let server = TestServer::start_with(config(&db, &[("GATEHOUSE_CACHE_TTL_SECS", "0")]), None).await;
    tenant(&server, "acme");
    let spa = spa(&server);
    let fake = FakeIdp::start_with("gatehouse-acme", true).await;
    add_upstream(&server, "fake", &fake.issuer(), "gatehouse-acme", "fake-secret", UpstreamInput::default());
    let b = browser(&[&server.cert_pem]);
    let res = continue_with(&server, &b, &spa, "fake").await;
    assert_eq!(res.status(), StatusCode::OK, "the form's answer cannot redirect there (form-action)");
    let html = res.text().await.unwrap();
    let href = hidden_href(&html, "continue-upstream");
    assert!(href.starts_with(&format!("http://localhost:{}/authorize?", fake.port)), "{href}");
    // A navigation (upstream=) is not held to form-action: a redirect.
    let res = b.get(authorize_url(&server, "acme", &spa, &[("upstream", "fake")])).send().await.unwrap();
    assert_eq!(location_params(&res).0, format!("http://localhost:{}/authorize", fake.port));
}

/// The `href` of the link with `id` in a page.
fn hidden_href(html: &str, id: &str) -> String {
    let marker = format!("id=\"{id}\" href=\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("no {id} in {html}")) + marker.len();
    html[start..start + html[start..].find('"').unwrap()].replace("&#38;", "&").replace("&amp;", "&")
}
