//! O1, O3, O4, O5, AC1: discovery, JWKS, client credentials, client authentication, error
//! responses, introspection, revocation, key rotation, tenant isolation.

use gatehouse_core::UnixTime;
use gatehouse_core::admin::{self, CreateClient, CreateTenant};
use gatehouse_core::store::AuditStore;
use gatehouse_testkit::{TestDatabase, databases};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{PUBLIC_URL, TestServer, config, gatehouse, json_ok};

/// A confidential client's credentials.
pub struct Creds {
    pub id: String,
    pub secret: String,
}

/// Starts a server whose caches expire at once, so CLI changes are seen immediately.
pub async fn server(db: &TestDatabase) -> TestServer {
    TestServer::start_with(config(db, &[("GATEHOUSE_CACHE_TTL_SECS", "0")]), None).await
}

pub fn tenant(server: &TestServer, slug: &str) {
    let input = CreateTenant { slug: slug.into(), ..Default::default() };
    admin::create_tenant(&server.running.store, "test", &input, UnixTime::now()).unwrap();
}

pub fn backend_client(server: &TestServer, tenant: &str, name: &str, alg: Option<&str>) -> Creds {
    let store = &server.running.store;
    let input = CreateClient {
        tenant: tenant.into(),
        name: name.into(),
        client_type: "confidential".into(),
        grant_types: vec!["client_credentials".into()],
        scope: "reports:read reports:write".into(),
        audiences: vec!["https://api.example.com".into()],
        signing_alg: alg.map(str::to_owned),
        ..Default::default()
    };
    let created = admin::create_client(store, store.vault(), "test", &input, UnixTime::now()).unwrap();
    Creds { id: created.client.client_id, secret: created.client_secret.unwrap().expose().clone() }
}

fn issuer(tenant: &str) -> String {
    format!("{PUBLIC_URL}/tenants/{tenant}")
}

pub async fn cc_token(server: &TestServer, tenant: &str, c: &Creds, scope: Option<&str>) -> reqwest::Response {
    let mut form = vec![("grant_type", "client_credentials")];
    if let Some(s) = scope {
        form.push(("scope", s));
    }
    server
        .client
        .post(server.url(&format!("/tenants/{tenant}/token")))
        .basic_auth(&c.id, Some(&c.secret))
        .form(&form)
        .send()
        .await
        .unwrap()
}

pub async fn access_token(server: &TestServer, tenant: &str, c: &Creds) -> String {
    let res = cc_token(server, tenant, c, Some("reports:read")).await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned()
}

async fn post_form(server: &TestServer, path: &str, c: &Creds, form: &[(&str, &str)]) -> reqwest::Response {
    server.client.post(server.url(path)).basic_auth(&c.id, Some(&c.secret)).form(form).send().await.unwrap()
}

async fn introspect(server: &TestServer, tenant: &str, c: &Creds, token: &str) -> Value {
    let res = post_form(server, &format!("/tenants/{tenant}/introspect"), c, &[("token", token)]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    res.json().await.unwrap()
}

async fn error_of(res: reqwest::Response) -> (StatusCode, String) {
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    (status, body["error"].as_str().unwrap_or_default().to_owned())
}

async fn jwks(server: &TestServer, tenant: &str) -> JwkSet {
    server.client.get(server.url(&format!("/tenants/{tenant}/jwks"))).send().await.unwrap().json().await.unwrap()
}

#[actix_web::test]
async fn discovery_names_the_issuer_and_its_endpoints() {
    let db = TestDatabase::sqlite();
    let server = server(&db).await;
    tenant(&server, "acme");
    for path in
        ["/tenants/acme/.well-known/openid-configuration", "/.well-known/oauth-authorization-server/tenants/acme"]
    {
        let res = server.client.get(server.url(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        let d: Value = res.json().await.unwrap();
        let iss = issuer("acme");
        assert_eq!(d["issuer"], iss.as_str());
        assert_eq!(d["token_endpoint"], format!("{iss}/token"));
        assert_eq!(d["jwks_uri"], format!("{iss}/jwks"));
        assert_eq!(d["introspection_endpoint"], format!("{iss}/introspect"));
        assert_eq!(d["revocation_endpoint"], format!("{iss}/revoke"));
        assert_eq!(d["code_challenge_methods_supported"], serde_json::json!(["S256"]));
        assert_eq!(d["authorization_response_iss_parameter_supported"], true);
    }
    // Public metadata, readable from any web origin (a SPA's OIDC library fetches it).
    for path in ["/tenants/acme/.well-known/openid-configuration", "/tenants/acme/jwks"] {
        let res = server.client.get(server.url(path)).header("Origin", "https://spa.example").send().await.unwrap();
        assert_eq!(res.headers()["access-control-allow-origin"], "*", "{path}");
        assert!(res.headers().get("access-control-allow-credentials").is_none(), "{path}");
    }
    let res = server.client.get(server.url("/tenants/nope/.well-known/openid-configuration")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "not_found", "an unknown tenant gets the generic error: {body}");
    assert!(body["correlation_id"].is_string());
}

#[actix_web::test]
async fn client_credentials_tokens_are_rfc9068_jwts_an_independent_library_verifies() {
    for db in databases() {
        let server = server(&db).await;
        tenant(&server, "acme");
        for (alg, jwt_alg) in
            [(None, Algorithm::ES256), (Some("RS256"), Algorithm::RS256), (Some("EdDSA"), Algorithm::EdDSA)]
        {
            let c = backend_client(&server, "acme", &format!("svc-{jwt_alg:?}"), alg);
            let res = cc_token(&server, "acme", &c, Some("reports:read")).await;
            assert_eq!(res.status(), StatusCode::OK, "{db:?} {jwt_alg:?}");
            assert_eq!(res.headers()["cache-control"], "no-store");
            let body: Value = res.json().await.unwrap();
            assert_eq!(body["token_type"], "Bearer");
            assert_eq!(body["expires_in"], 300);
            assert_eq!(body["scope"], "reports:read");
            assert!(body.get("refresh_token").is_none(), "no refresh token for client credentials");
            let token = body["access_token"].as_str().unwrap();

            let header = jsonwebtoken::decode_header(token).unwrap();
            assert_eq!(header.typ.as_deref(), Some("at+jwt"));
            assert_eq!(header.alg, jwt_alg);
            let set = jwks(&server, "acme").await;
            let jwk = set.find(header.kid.as_deref().unwrap()).expect("kid is in the JWKS");
            let mut v = Validation::new(jwt_alg);
            v.set_audience(&["https://api.example.com"]);
            v.set_issuer(&[issuer("acme")]);
            let claims = jsonwebtoken::decode::<Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &v).unwrap().claims;
            assert_eq!(claims["sub"], c.id.as_str());
            assert_eq!(claims["client_id"], c.id.as_str());
            assert_eq!(claims["scope"], "reports:read");
            assert_eq!(claims["tenant"], "acme");
            assert_eq!(claims["jti"].as_str().unwrap().len(), 22);
            assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 300);
        }
        // The JWKS holds public keys only, each with kid, alg and use.
        let raw: Value =
            server.client.get(server.url("/tenants/acme/jwks")).send().await.unwrap().json().await.unwrap();
        let keys = raw["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 3, "{db:?}: one key per algorithm in use");
        for k in keys {
            assert!(k["kid"].is_string() && k["alg"].is_string() && k["use"] == "sig", "{k}");
            for private in ["d", "p", "q", "dp", "dq", "qi"] {
                assert!(k.get(private).is_none(), "{k}");
            }
        }
        // Every issuance is on the audit record (L3).
        let issued =
            server.running.store.audit_page(0, 1000).unwrap().into_iter().filter(|r| r.action == "token.issue").count();
        assert_eq!(issued, 3, "{db:?}");
    }
}

#[actix_web::test]
async fn client_authentication_methods_and_failures() {
    let db = TestDatabase::sqlite();
    let server = server(&db).await;
    tenant(&server, "acme");
    let c = backend_client(&server, "acme", "svc", None);
    let url = server.url("/tenants/acme/token");

    // client_secret_post
    let res = server
        .client
        .post(&url)
        .form(&[("grant_type", "client_credentials"), ("client_id", &c.id), ("client_secret", &c.secret)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    let wrong = Creds { id: c.id.clone(), secret: "wrong".into() };
    let res = cc_token(&server, "acme", &wrong, None).await;
    assert_eq!(res.headers()["www-authenticate"], "Basic realm=\"gatehouse\"");
    assert_eq!(error_of(res).await, (StatusCode::UNAUTHORIZED, "invalid_client".into()));
    let unknown = Creds { id: "no-such-client".into(), secret: c.secret.clone() };
    assert_eq!(
        error_of(cc_token(&server, "acme", &unknown, None).await).await,
        (StatusCode::UNAUTHORIZED, "invalid_client".into())
    );
    let res = server.client.post(&url).form(&[("grant_type", "client_credentials")]).send().await.unwrap();
    assert_eq!(error_of(res).await, (StatusCode::UNAUTHORIZED, "invalid_client".into()));
    let res = server
        .client
        .post(&url)
        .basic_auth(&c.id, Some(&c.secret))
        .form(&[("grant_type", "client_credentials"), ("client_secret", &c.secret)])
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(res).await, (StatusCode::BAD_REQUEST, "invalid_request".into()));

    // A public client authenticates by name but may not use client credentials.
    let store = &server.running.store;
    let spa = CreateClient {
        tenant: "acme".into(),
        name: "spa".into(),
        client_type: "public".into(),
        redirect_uris: vec!["https://app.example.com/cb".into()],
        grant_types: vec!["authorization_code".into()],
        scope: "openid".into(),
        ..Default::default()
    };
    let spa = admin::create_client(store, store.vault(), "test", &spa, UnixTime::now()).unwrap().client;
    let res = server
        .client
        .post(&url)
        .form(&[("grant_type", "client_credentials"), ("client_id", &spa.client_id)])
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(res).await, (StatusCode::BAD_REQUEST, "unauthorized_client".into()));

    // Refused authentications (wrong secret, unknown client, none, two methods) and the
    // refused grant are audited (AC6).
    let records = store.audit_page(0, 1000).unwrap();
    let failures = records.iter().filter(|r| r.action == "client.authenticate" && r.outcome == "failure").count();
    assert_eq!(failures, 4);
    let denied = records.iter().filter(|r| r.action == "token.issue" && r.outcome == "denied").count();
    assert_eq!(denied, 1);
}

/// RFC 6749 §3.3: without a `scope` parameter a client gets its registered scopes that make
/// sense without a user; registration refuses user scopes for a client-credentials-only client.
#[actix_web::test]
async fn client_credentials_without_scope_get_the_registered_machine_scopes() {
    let db = TestDatabase::sqlite();
    let server = server(&db).await;
    tenant(&server, "acme");
    let store = &server.running.store;
    let input = CreateClient {
        tenant: "acme".into(),
        name: "portal".into(),
        client_type: "confidential".into(),
        redirect_uris: vec!["https://portal.example.com/cb".into()],
        grant_types: vec!["authorization_code".into(), "client_credentials".into()],
        scope: "openid profile email offline_access reports:read".into(),
        ..Default::default()
    };
    let created = admin::create_client(store, store.vault(), "test", &input, UnixTime::now()).unwrap();
    let c = Creds { id: created.client.client_id, secret: created.client_secret.unwrap().expose().clone() };
    let res = cc_token(&server, "acme", &c, None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["scope"], "reports:read", "{body}");

    // Only user scopes registered: nothing to default to.
    let input = CreateClient { name: "portal-2".into(), scope: "openid profile".into(), ..input };
    let created = admin::create_client(store, store.vault(), "test", &input, UnixTime::now()).unwrap();
    let c = Creds { id: created.client.client_id, secret: created.client_secret.unwrap().expose().clone() };
    assert_eq!(
        error_of(cc_token(&server, "acme", &c, None).await).await,
        (StatusCode::BAD_REQUEST, "invalid_scope".into())
    );

    // A machine-only client cannot register user scopes, and nothing is created.
    let before = server.running.store.audit_page(0, 1000).unwrap().len();
    let input = CreateClient {
        name: "robot".into(),
        redirect_uris: vec![],
        grant_types: vec!["client_credentials".into()],
        scope: "openid reports:read".into(),
        ..input
    };
    let err = admin::create_client(store, store.vault(), "test", &input, UnixTime::now()).unwrap_err();
    assert!(err.to_string().contains("client_credentials-only client has no user"), "{err}");
    assert_eq!(server.running.store.audit_page(0, 1000).unwrap().len(), before, "nothing recorded");
}

#[actix_web::test]
async fn token_request_errors_follow_rfc6749() {
    let db = TestDatabase::sqlite();
    let server = server(&db).await;
    tenant(&server, "acme");
    let c = backend_client(&server, "acme", "svc", None);
    let path = "/tenants/acme/token";
    type Case<'a> = (Vec<(&'a str, &'a str)>, StatusCode, &'a str);
    let cases: Vec<Case> = vec![
        (
            vec![("grant_type", "password"), ("username", "a"), ("password", "b")],
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
        ),
        (vec![("scope", "reports:read")], StatusCode::BAD_REQUEST, "invalid_request"),
        (vec![("grant_type", "client_credentials"), ("scope", "admin")], StatusCode::BAD_REQUEST, "invalid_scope"),
        (
            vec![("grant_type", "client_credentials"), ("scope", "openid reports:read")],
            StatusCode::BAD_REQUEST,
            "invalid_scope",
        ),
    ];
    for (form, status, code) in cases {
        assert_eq!(error_of(post_form(&server, path, &c, &form).await).await, (status, code.to_owned()), "{form:?}");
    }
    let repeated = server
        .client
        .post(server.url(path))
        .basic_auth(&c.id, Some(&c.secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(repeated).await, (StatusCode::BAD_REQUEST, "invalid_request".into()));
    let json = server
        .client
        .post(server.url(path))
        .basic_auth(&c.id, Some(&c.secret))
        .json(&serde_json::json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(json).await, (StatusCode::BAD_REQUEST, "invalid_request".into()));
    let get = server.client.get(server.url(path)).send().await.unwrap();
    assert_eq!(get.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[actix_web::test]
async fn introspection_before_and_after_revocation() {
    for db in databases() {
        let server = server(&db).await;
        tenant(&server, "acme");
        let owner = backend_client(&server, "acme", "owner", None);
        let api = backend_client(&server, "acme", "resource-server", None);
        let token = access_token(&server, "acme", &owner).await;

        let active = introspect(&server, "acme", &api, &token).await;
        assert_eq!(active["active"], true, "{db:?}: a resource server introspects another client's token");
        assert_eq!(active["client_id"], owner.id.as_str());
        assert_eq!(active["scope"], "reports:read");
        assert_eq!(active["iss"], issuer("acme").as_str());
        crate::cli::assert_no_secrets(&active);

        // Another client may not revoke it; the token stays active.
        let res = post_form(&server, "/tenants/acme/revoke", &api, &[("token", &token)]).await;
        assert_eq!(error_of(res).await, (StatusCode::BAD_REQUEST, "unauthorized_client".into()));
        assert_eq!(introspect(&server, "acme", &api, &token).await["active"], true);

        let res = post_form(
            &server,
            "/tenants/acme/revoke",
            &owner,
            &[("token", &token), ("token_type_hint", "access_token")],
        )
        .await;
        assert_eq!(res.status(), StatusCode::OK, "{db:?}");
        assert_eq!(introspect(&server, "acme", &api, &token).await, serde_json::json!({ "active": false }));
        // Revoking again, or revoking garbage, is still 200 (RFC 7009 §2.2).
        assert_eq!(
            post_form(&server, "/tenants/acme/revoke", &owner, &[("token", &token)]).await.status(),
            StatusCode::OK
        );
        assert_eq!(
            post_form(&server, "/tenants/acme/revoke", &owner, &[("token", "garbage")]).await.status(),
            StatusCode::OK
        );
        assert_eq!(introspect(&server, "acme", &api, "garbage").await, serde_json::json!({ "active": false }));
        let audited = server
            .running
            .store
            .audit_page(0, 1000)
            .unwrap()
            .into_iter()
            .filter(|r| r.action == "token.revoke")
            .count();
        assert_eq!(audited, 2, "{db:?}");
    }
}

#[actix_web::test]
async fn tokens_and_clients_of_one_tenant_are_refused_in_another() {
    let db = TestDatabase::sqlite();
    let server = server(&db).await;
    tenant(&server, "acme");
    tenant(&server, "globex");
    let a = backend_client(&server, "acme", "svc", None);
    let b = backend_client(&server, "globex", "svc", None);
    let token = access_token(&server, "acme", &a).await;
    assert_eq!(introspect(&server, "globex", &b, &token).await, serde_json::json!({ "active": false }));
    assert_eq!(
        error_of(cc_token(&server, "globex", &a, None).await).await,
        (StatusCode::UNAUTHORIZED, "invalid_client".into())
    );
    let res = post_form(&server, "/tenants/globex/introspect", &a, &[("token", &token)]).await;
    assert_eq!(error_of(res).await, (StatusCode::UNAUTHORIZED, "invalid_client".into()));
}

#[actix_web::test]
async fn rotated_keys_overlap_then_retire() {
    let db = TestDatabase::sqlite();
    let server = server(&db).await;
    tenant(&server, "acme");
    let c = backend_client(&server, "acme", "svc", None);
    let first = access_token(&server, "acme", &c).await;
    let kid1 = jsonwebtoken::decode_header(&first).unwrap().kid.unwrap();

    let rotated = json_ok(&gatehouse(&db, &["keys", "rotate", "--tenant", "acme", "--json"], None));
    let kid2 = rotated["kid"].as_str().unwrap().to_owned();
    assert_ne!(kid1, kid2);
    let set = jwks(&server, "acme").await;
    assert!(set.find(&kid1).is_some() && set.find(&kid2).is_some(), "old key kept for the overlap window");
    let second = access_token(&server, "acme", &c).await;
    assert_eq!(jsonwebtoken::decode_header(&second).unwrap().kid.unwrap(), kid2, "the new key signs");
    assert_eq!(introspect(&server, "acme", &c, &first).await["active"], true);

    // Rotating with no overlap retires kid2 at once; kid1 is still inside its window.
    json_ok(&gatehouse(&db, &["keys", "rotate", "--tenant", "acme", "--overlap-secs", "0", "--json"], None));
    let set = jwks(&server, "acme").await;
    assert!(set.find(&kid2).is_none(), "retired key unpublished");
    assert!(set.find(&kid1).is_some());
    assert_eq!(introspect(&server, "acme", &c, &second).await["active"], false);
    assert_eq!(introspect(&server, "acme", &c, &first).await["active"], true);
}

#[actix_web::test]
async fn private_key_jwt_with_replay_protection() {
    for db in databases() {
        let server = server(&db).await;
        tenant(&server, "acme");
        let key = gatehouse_core::jose::generate(gatehouse_core::jose::SigningAlg::Es256).unwrap();
        let jwks = serde_json::json!({ "keys": [key.public_jwk] }).to_string();
        let store = &server.running.store;
        let input = CreateClient {
            tenant: "acme".into(),
            name: "jwt-client".into(),
            client_type: "confidential".into(),
            grant_types: vec!["client_credentials".into()],
            scope: "reports:read".into(),
            jwks: Some(jwks),
            ..Default::default()
        };
        let client_id =
            admin::create_client(store, store.vault(), "test", &input, UnixTime::now()).unwrap().client.client_id;
        // The client signs with an independent JWT library.
        let encoding = jsonwebtoken::EncodingKey::from_ec_der(key.pkcs8.expose());
        let mut header = jsonwebtoken::Header::new(Algorithm::ES256);
        header.kid = Some(key.kid.clone());
        let now = UnixTime::now().0;
        let assertion = |aud: &str, exp: i64, jti: &str, iss: &str, enc: &jsonwebtoken::EncodingKey| {
            let claims =
                serde_json::json!({ "iss": iss, "sub": client_id, "aud": aud, "exp": exp, "iat": now, "jti": jti });
            jsonwebtoken::encode(&header, &claims, enc).unwrap()
        };
        let token_url = format!("{}/token", issuer("acme"));
        let send = |a: String| {
            let url = server.url("/tenants/acme/token");
            let client = server.client.clone();
            async move {
                client
                    .post(url)
                    .form(&[
                        ("grant_type", "client_credentials"),
                        ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                        ("client_assertion", a.as_str()),
                    ])
                    .send()
                    .await
                    .unwrap()
            }
        };
        let good = assertion(&token_url, now + 60, "a-1", &client_id, &encoding);
        assert_eq!(send(good.clone()).await.status(), StatusCode::OK, "{db:?}");
        assert_eq!(
            error_of(send(good).await).await,
            (StatusCode::UNAUTHORIZED, "invalid_client".into()),
            "{db:?}: replay"
        );
        assert_eq!(
            send(assertion(&issuer("acme"), now + 60, "a-2", &client_id, &encoding)).await.status(),
            StatusCode::OK,
            "issuer as audience"
        );
        let other_key = gatehouse_core::jose::generate(gatehouse_core::jose::SigningAlg::Es256).unwrap();
        let forged = jsonwebtoken::EncodingKey::from_ec_der(other_key.pkcs8.expose());
        for (why, a) in [
            ("wrong audience", assertion("https://elsewhere.example/token", now + 60, "a-3", &client_id, &encoding)),
            ("expired", assertion(&token_url, now - 120, "a-4", &client_id, &encoding)),
            ("too long-lived", assertion(&token_url, now + 3600, "a-5", &client_id, &encoding)),
            ("another key", assertion(&token_url, now + 60, "a-6", &client_id, &forged)),
            ("issuer not the client", assertion(&token_url, now + 60, "a-7", "someone-else", &encoding)),
        ] {
            assert_eq!(
                error_of(send(a).await).await,
                (StatusCode::UNAUTHORIZED, "invalid_client".into()),
                "{db:?}: {why}"
            );
        }
    }
}
