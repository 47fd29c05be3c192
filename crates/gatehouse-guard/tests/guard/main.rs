//! G1–G4 against a real Gatehouse: tokens from client credentials and the code flow, every
//! refusal with its RFC 6750 answer, key rotation picked up without a restart, and revocation
//! seen in introspection mode.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)]
#[path = "../../examples/reports_api.rs"]
mod reports_api;

use std::time::Duration;

use actix_web::{App, test, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use gatehouse_core::UnixTime;
use gatehouse_core::admin::{self, CreateClient, CreateTenant, CreateUser};
use gatehouse_core::flow::pkce::challenge_s256;
use gatehouse_guard::{AuthError, Guard, GuardConfig, Policy};
use gatehouse_server::Running;
use gatehouse_server::config::{Config, Settings};
use gatehouse_testkit::TestDatabase;
use gatehouse_types::Secret;
use serde_json::Value;

const AUDIENCE: &str = "https://reports.example.com";

struct Gatehouse {
    running: Running,
    base: String,
    http: reqwest::Client,
    _db: TestDatabase,
}

impl Drop for Gatehouse {
    fn drop(&mut self) {
        self.running.shutdown();
    }
}

/// A Gatehouse on a free port whose public URL is that port, so discovery works unmodified.
async fn gatehouse() -> Gatehouse {
    let db = TestDatabase::sqlite();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("https://localhost:{port}");
    let env: Vec<(String, String)> = [
        ("GATEHOUSE_DATA_DIR", db.dir.path().display().to_string()),
        ("GATEHOUSE_DATABASE_URL", db.url.clone()),
        ("GATEHOUSE_HTTPS_ADDR", format!("127.0.0.1:{port}")),
        ("GATEHOUSE_HTTP_ADDR", String::new()),
        ("GATEHOUSE_PUBLIC_URL", base.clone()),
        ("GATEHOUSE_WORKERS", "1".into()),
        ("GATEHOUSE_CACHE_TTL_SECS", "0".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let config = Config::from_settings(Settings::load(None, &env).unwrap()).unwrap();
    let cert_path = gatehouse_server::tls::dev_paths(&config.data_dir).0;
    let running = gatehouse_server::start(config, None).await.unwrap();
    let cert = reqwest::Certificate::from_pem(&std::fs::read(cert_path).unwrap()).unwrap();
    let http = reqwest::Client::builder()
        .tls_certs_only([cert])
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let store = &running.store;
    for slug in ["acme", "globex"] {
        admin::create_tenant(store, "test", &CreateTenant { slug: slug.into(), ..Default::default() }, UnixTime::now())
            .unwrap();
    }
    Gatehouse { running, base, http, _db: db }
}

impl Gatehouse {
    fn issuer(&self, tenant: &str) -> String {
        format!("{}/tenants/{tenant}", self.base)
    }

    fn client(&self, tenant: &str, name: &str, scope: &str) -> (String, String) {
        let store = &self.running.store;
        let input = CreateClient {
            tenant: tenant.into(),
            name: name.into(),
            client_type: "confidential".into(),
            grant_types: vec!["client_credentials".into()],
            scope: scope.into(),
            audiences: vec![AUDIENCE.into()],
            ..Default::default()
        };
        let c = admin::create_client(store, store.vault(), "test", &input, UnixTime::now()).unwrap();
        (c.client.client_id, c.client_secret.unwrap().expose().clone())
    }

    async fn token(&self, tenant: &str, creds: &(String, String)) -> String {
        let res = self
            .http
            .post(format!("{}/token", self.issuer(tenant)))
            .basic_auth(&creds.0, Some(&creds.1))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        res.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned()
    }

    async fn guard(&self, config: GuardConfig) -> Guard {
        Guard::discover(config, self.http.clone()).await.unwrap()
    }

    /// A user token from the Authorization Code + PKCE flow, for a user with `role`.
    async fn user_token(&self, tenant: &str, role: &str) -> String {
        let store = &self.running.store;
        let password = "tangerine-orbit-delta";
        let user = CreateUser {
            tenant: tenant.into(),
            username: "alice".into(),
            email: "alice@example.com".into(),
            password: Some(Secret::new(password.into())),
            roles: vec![role.into()],
            must_change_password: false,
            self_registered: false,
        };
        admin::create_user(store, &Default::default(), &Default::default(), "test", &user, UnixTime::now()).unwrap();
        let redirect = "https://app.example.com/cb";
        let spa = CreateClient {
            tenant: tenant.into(),
            name: "spa".into(),
            client_type: "public".into(),
            redirect_uris: vec![redirect.into()],
            grant_types: vec!["authorization_code".into()],
            scope: "openid reports:read".into(),
            first_party: true,
            audiences: vec![AUDIENCE.into()],
            ..Default::default()
        };
        let spa = admin::create_client(store, store.vault(), "test", &spa, UnixTime::now()).unwrap().client.client_id;
        let verifier = "a-verifier-that-is-long-enough-for-rfc-7636-section-4-1";
        let mut url = url::Url::parse(&format!("{}/authorize", self.issuer(tenant))).unwrap();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &spa)
            .append_pair("redirect_uri", redirect)
            .append_pair("scope", "openid reports:read")
            .append_pair("code_challenge", &challenge_s256(verifier))
            .append_pair("code_challenge_method", "S256");
        let html = self.http.get(url.as_str()).send().await.unwrap().text().await.unwrap();
        let field = |name: &str| {
            let marker = format!("name=\"{name}\" value=\"");
            let start = html.find(&marker).unwrap() + marker.len();
            html[start..start + html[start..].find('"').unwrap()].to_owned()
        };
        let form = [
            ("request_id", field("request_id")),
            ("csrf", field("csrf")),
            ("username", "alice".into()),
            ("password", password.into()),
        ];
        let res = self.http.post(format!("{}/login", self.issuer(tenant))).form(&form).send().await.unwrap();
        let location = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
        let code = location.query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned();
        let form = [
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", redirect),
            ("code_verifier", verifier),
            ("client_id", &spa),
        ];
        let tokens: Value = self
            .http
            .post(format!("{}/token", self.issuer(tenant)))
            .form(&form)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        tokens["access_token"].as_str().unwrap().to_owned()
    }
}

fn invalid(r: Result<gatehouse_guard::Claims, AuthError>) -> &'static str {
    match r {
        Err(AuthError::InvalidToken(why)) => why,
        other => panic!("expected invalid_token, got {other:?}"),
    }
}

/// A token with its payload replaced (`claims`) or its signature flipped.
fn tamper_payload(token: &str, f: impl FnOnce(&mut Value)) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: Value = serde_json::from_slice(&B64.decode(parts[1]).unwrap()).unwrap();
    f(&mut claims);
    format!("{}.{}.{}", parts[0], B64.encode(claims.to_string()), parts[2])
}

#[actix_web::test]
async fn valid_tokens_pass_and_the_api_answers_per_rfc6750() {
    let gh = gatehouse().await;
    let reader = gh.client("acme", "reader", "reports:read");
    let writer = gh.client("acme", "writer", "reports:write");
    let guard = gh.guard(GuardConfig::new(gh.issuer("acme"), [AUDIENCE])).await;
    let app = test::init_service(App::new().app_data(web::Data::new(guard)).configure(reports_api::routes)).await;

    let token = gh.token("acme", &reader).await;
    let res = test::call_service(
        &app,
        test::TestRequest::get()
            .uri("/reports")
            .insert_header(("Authorization", format!("Bearer {token}")))
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), 200);
    let me: Value = test::call_and_read_body_json(
        &app,
        test::TestRequest::get().uri("/me").insert_header(("Authorization", format!("bearer {token}"))).to_request(),
    )
    .await;
    assert_eq!(me["client_id"], reader.0.as_str());
    assert_eq!(me["tenant"], "acme");

    let res = test::call_service(&app, test::TestRequest::get().uri("/reports").to_request()).await;
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers().get("www-authenticate").unwrap(), "Bearer realm=\"api\"");

    let res = test::call_service(
        &app,
        test::TestRequest::get().uri("/reports").insert_header(("Authorization", "Bearer not.a.token")).to_request(),
    )
    .await;
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers().get("www-authenticate").unwrap(), "Bearer realm=\"api\", error=\"invalid_token\"");

    let wtoken = gh.token("acme", &writer).await;
    let res = test::call_service(
        &app,
        test::TestRequest::get()
            .uri("/reports")
            .insert_header(("Authorization", format!("Bearer {wtoken}")))
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), 403);
    assert_eq!(
        res.headers().get("www-authenticate").unwrap(),
        "Bearer realm=\"api\", error=\"insufficient_scope\", scope=\"reports:read\""
    );

    // Roles come from user tokens (code flow); a client-credentials token has none.
    let res = test::call_service(
        &app,
        test::TestRequest::get().uri("/admin").insert_header(("Authorization", format!("Bearer {token}"))).to_request(),
    )
    .await;
    assert_eq!(res.status(), 403);
    let user_token = gh.user_token("acme", "reports-admin").await;
    let res = test::call_service(
        &app,
        test::TestRequest::get()
            .uri("/admin")
            .insert_header(("Authorization", format!("Bearer {user_token}")))
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), 200);
}

#[actix_web::test]
async fn every_forgery_and_mismatch_is_refused() {
    let gh = gatehouse().await;
    let svc = gh.client("acme", "svc", "reports:read");
    let token = gh.token("acme", &svc).await;
    let guard = gh.guard(GuardConfig::new(gh.issuer("acme"), [AUDIENCE])).await;
    let claims = guard.validate(&token).await.unwrap();
    assert_eq!(claims.subject, svc.0);
    assert_eq!(claims.scopes, vec!["reports:read"]);
    let now = gatehouse_guard::now_secs();

    assert_eq!(invalid(guard.validate_at(&token, now + 3600).await), "expired");
    assert_eq!(invalid(guard.validate_at(&token, now - 3600).await), "not yet valid");
    let other_aud = gh.guard(GuardConfig::new(gh.issuer("acme"), ["https://other.example.com"])).await;
    assert_eq!(invalid(other_aud.validate(&token).await), "wrong audience");
    let jwks_url = format!("{}/jwks", gh.issuer("acme"));
    let wrong_iss = Guard::with_jwks_url(GuardConfig::new(gh.issuer("globex"), [AUDIENCE]), jwks_url, gh.http.clone());
    assert_eq!(invalid(wrong_iss.validate(&token).await), "wrong issuer");

    let tampered = tamper_payload(&token, |c| c["scope"] = "reports:read reports:write".into());
    assert_eq!(invalid(guard.validate(&tampered).await), "bad signature");
    let mut sig = token.clone();
    let last = sig.pop().unwrap();
    sig.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(invalid(guard.validate(&sig).await), "bad signature");

    let parts: Vec<&str> = token.split('.').collect();
    let header: Value = serde_json::from_slice(&B64.decode(parts[0]).unwrap()).unwrap();
    let kid = header["kid"].as_str().unwrap();
    let none = format!(
        "{}.{}.",
        B64.encode(serde_json::json!({ "alg": "none", "typ": "at+jwt", "kid": kid }).to_string()),
        parts[1]
    );
    assert_eq!(invalid(guard.validate(&none).await), "malformed token");

    // HS256 with the public key as the HMAC secret (the classic confusion attack).
    let jwks: Value = gh.http.get(format!("{}/jwks", gh.issuer("acme"))).send().await.unwrap().json().await.unwrap();
    let public = jwks["keys"][0].to_string();
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    h.typ = Some("at+jwt".into());
    h.kid = Some(kid.to_owned());
    let payload: Value = serde_json::from_slice(&B64.decode(parts[1]).unwrap()).unwrap();
    let hs = jsonwebtoken::encode(&h, &payload, &jsonwebtoken::EncodingKey::from_secret(public.as_bytes())).unwrap();
    assert_eq!(invalid(guard.validate(&hs).await), "algorithm not allowed");

    // Not an access token: an ID-token-like typ is refused.
    let id_like = format!(
        "{}.{}.{}",
        B64.encode(serde_json::json!({ "alg": "ES256", "typ": "JWT", "kid": kid }).to_string()),
        parts[1],
        parts[2]
    );
    assert_eq!(invalid(guard.validate(&id_like).await), "not an access token");

    // Another tenant's token: its key is not in this issuer's JWKS.
    let globex = gh.client("globex", "svc", "reports:read");
    let foreign = gh.token("globex", &globex).await;
    assert_eq!(invalid(guard.validate(&foreign).await), "unknown signing key");

    // A flood of unknown kids refetches the JWKS at most once per interval.
    let before = guard.jwks_fetches();
    for i in 0..50 {
        let forged = format!(
            "{}.{}.{}",
            B64.encode(serde_json::json!({ "alg": "ES256", "typ": "at+jwt", "kid": format!("k{i}") }).to_string()),
            parts[1],
            parts[2]
        );
        assert_eq!(invalid(guard.validate(&forged).await), "unknown signing key");
    }
    assert!(guard.jwks_fetches() - before <= 1, "fetched {} times", guard.jwks_fetches() - before);

    // Policies on the validated claims.
    assert!(matches!(Policy::new().tenant("globex").check(&claims, now), Err(AuthError::Forbidden(_))));
    assert!(matches!(Policy::new().acr(["urn:gatehouse:acr:mfa"]).check(&claims, now), Err(AuthError::StepUp { .. })));
}

#[actix_web::test]
async fn key_rotation_is_picked_up_without_restart() {
    let gh = gatehouse().await;
    let svc = gh.client("acme", "svc", "reports:read");
    let mut config = GuardConfig::new(gh.issuer("acme"), [AUDIENCE]);
    config.refresh_interval = Duration::ZERO;
    let guard = gh.guard(config).await;
    let first = gh.token("acme", &svc).await;
    guard.validate(&first).await.unwrap();
    let fetched = guard.jwks_fetches();

    let store = &gh.running.store;
    let tenant_id = gatehouse_core::store::TenantStore::tenant_by_slug(store, "acme").unwrap().unwrap().id;
    gatehouse_core::keys::rotate(
        store,
        store.vault(),
        &tenant_id,
        gatehouse_core::jose::SigningAlg::Es256,
        3600,
        "test",
        UnixTime::now(),
    )
    .unwrap();
    let second = gh.token("acme", &svc).await;
    assert_ne!(jsonwebtoken::decode_header(&first).unwrap().kid, jsonwebtoken::decode_header(&second).unwrap().kid);
    guard.validate(&second).await.expect("the new key is fetched on its first use");
    guard.validate(&first).await.expect("the old key is still published");
    assert_eq!(guard.jwks_fetches(), fetched + 1);
}

#[actix_web::test]
async fn introspection_mode_refuses_a_revoked_token() {
    let gh = gatehouse().await;
    let svc = gh.client("acme", "svc", "reports:read");
    let api = gh.client("acme", "reports-api", "reports:read");
    let mut config = GuardConfig::new(gh.issuer("acme"), [AUDIENCE]);
    config.introspection_cache = Duration::ZERO;
    let guard = Guard::introspecting(config, gh.http.clone(), api.0.clone(), Secret::new(api.1.clone())).await.unwrap();
    let token = gh.token("acme", &svc).await;
    let claims = guard.validate(&token).await.unwrap();
    assert_eq!(claims.client_id, svc.0);

    let res = gh
        .http
        .post(format!("{}/revoke", gh.issuer("acme")))
        .basic_auth(&svc.0, Some(&svc.1))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(invalid(guard.validate(&token).await), "inactive");
    // A JWT-mode guard would still accept it until it expires: that is what G4 is for.
    let jwt_guard = gh.guard(GuardConfig::new(gh.issuer("acme"), [AUDIENCE])).await;
    assert!(jwt_guard.validate(&token).await.is_ok());
}

/// G1: tokens signed with RS256 and EdDSA (clients registered for them) validate, and a token
/// whose header names another algorithm than its key's is refused before any verification.
#[actix_web::test]
async fn rs256_and_eddsa_tokens_validate_and_a_key_algorithm_mismatch_is_refused() {
    let gh = gatehouse().await;
    // Each algorithm's key appears when its first token is signed: refetch at once.
    let mut config = GuardConfig::new(gh.issuer("acme"), [AUDIENCE]);
    config.refresh_interval = Duration::ZERO;
    let guard = gh.guard(config).await;
    let mut others = Vec::new();
    for alg in ["RS256", "EdDSA"] {
        let store = &gh.running.store;
        let input = CreateClient {
            tenant: "acme".into(),
            name: format!("svc-{alg}"),
            client_type: "confidential".into(),
            grant_types: vec!["client_credentials".into()],
            scope: "reports:read".into(),
            audiences: vec![AUDIENCE.into()],
            signing_alg: Some(alg.into()),
            ..Default::default()
        };
        let c = admin::create_client(store, store.vault(), "test", &input, UnixTime::now()).unwrap();
        let creds = (c.client.client_id.clone(), c.client_secret.unwrap().expose().clone());
        let token = gh.token("acme", &creds).await;
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(format!("{:?}", header.alg), alg, "signed with the client's algorithm");
        let claims = guard.validate(&token).await.unwrap_or_else(|e| panic!("{alg}: {e:?}"));
        assert_eq!(claims.client_id, c.client.client_id);

        // The same token claiming ES256 for this key: the key's own `alg` decides.
        let parts: Vec<&str> = token.split('.').collect();
        let mut h: Value = serde_json::from_slice(&B64.decode(parts[0]).unwrap()).unwrap();
        h["alg"] = "ES256".into();
        let relabelled = format!("{}.{}.{}", B64.encode(h.to_string()), parts[1], parts[2]);
        assert_eq!(invalid(guard.validate(&relabelled).await), "algorithm does not match the key", "{alg}");
        others.push(token);
    }
    // A guard that allows ES256 only refuses the others outright.
    let mut es_only = GuardConfig::new(gh.issuer("acme"), [AUDIENCE]);
    es_only.algorithms = vec![jsonwebtoken::Algorithm::ES256];
    let es_only = gh.guard(es_only).await;
    let rs = gh.client("acme", "svc-plain", "reports:read");
    let es_token = gh.token("acme", &rs).await;
    assert!(es_only.validate(&es_token).await.is_ok());
    for token in others {
        assert_eq!(invalid(es_only.validate(&token).await), "algorithm not allowed");
    }
}

/// G4: introspection mode reuses a positive answer for the configured time (a revoked token
/// still passes inside it), and never longer.
#[actix_web::test]
async fn introspection_mode_reuses_positive_answers_for_its_cache_time() {
    let gh = gatehouse().await;
    let svc = gh.client("acme", "svc", "reports:read");
    let api = gh.client("acme", "reports-api", "reports:read");
    let introspecting = |cache: Duration| {
        let mut config = GuardConfig::new(gh.issuer("acme"), [AUDIENCE]);
        config.introspection_cache = cache;
        Guard::introspecting(config, gh.http.clone(), api.0.clone(), Secret::new(api.1.clone()))
    };
    let cached = introspecting(Duration::from_secs(3600)).await.unwrap();
    let uncached = introspecting(Duration::ZERO).await.unwrap();
    let token = gh.token("acme", &svc).await;
    cached.validate(&token).await.unwrap();
    uncached.validate(&token).await.unwrap();
    let res = gh
        .http
        .post(format!("{}/revoke", gh.issuer("acme")))
        .basic_auth(&svc.0, Some(&svc.1))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(cached.validate(&token).await.is_ok(), "the positive answer is reused");
    assert_eq!(invalid(uncached.validate(&token).await), "inactive");
    // Reuse never outlives the token: asked at a time past its expiry, the cache is bypassed.
    let later = gatehouse_guard::now_secs() + 3 * 3600;
    assert_eq!(invalid(cached.validate_at(&token, later).await), "expired", "not past the token's own expiry");
}
