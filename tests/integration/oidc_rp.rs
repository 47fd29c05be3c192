//! End to end with an independent relying party: the `openidconnect` crate discovers the
//! issuer, runs Authorization Code + PKCE against the running server, and validates the ID
//! token (signature via the JWKS, iss, aud, exp, nonce, at_hash) with its own checks.

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    RedirectUrl, Scope, TokenResponse,
};
use reqwest::StatusCode;

use crate::code_flow::{PASSWORD, REDIRECT, browser, hidden, location_params, param, spa, user};
use crate::oauth::{server, tenant};
use crate::support::{PUBLIC_URL, TestServer};

#[derive(Debug)]
struct HttpError(String);

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HttpError {}

/// The test network: the public URL's authority (localhost:8443) reaches this test's server.
fn to_server(url: &str, server: &TestServer) -> String {
    url.replacen("https://localhost:8443", &server.base, 1)
}

#[actix_web::test]
async fn openidconnect_crate_completes_the_code_flow_and_validates_the_id_token() {
    let db = gatehouse_testkit::TestDatabase::sqlite();
    let server = server(&db).await;
    tenant(&server, "acme");
    let alice = user(&server, "acme", "alice");
    let client_id = spa(&server, "acme", "Web App", true);

    let http = server.client.clone();
    let base = server.base.clone();
    let http_client = move |req: openidconnect::HttpRequest| {
        let http = http.clone();
        let url = req.uri().to_string().replacen("https://localhost:8443", &base, 1);
        async move {
            let mut out = http.request(req.method().clone(), url);
            for (name, value) in req.headers() {
                out = out.header(name, value);
            }
            let res = out.body(req.body().clone()).send().await.map_err(|e| HttpError(e.to_string()))?;
            let mut builder = openidconnect::http::Response::builder().status(res.status().as_u16());
            for (name, value) in res.headers() {
                builder = builder.header(name.as_str(), value.as_bytes());
            }
            let body = res.bytes().await.map_err(|e| HttpError(e.to_string()))?.to_vec();
            builder.body(body).map_err(|e| HttpError(e.to_string()))
        }
    };

    let issuer = IssuerUrl::new(format!("{PUBLIC_URL}/tenants/acme")).unwrap();
    let metadata = CoreProviderMetadata::discover_async(issuer, &http_client).await.unwrap();
    let client = CoreClient::from_provider_metadata(metadata, ClientId::new(client_id.clone()), None)
        .set_redirect_uri(RedirectUrl::new(REDIRECT.to_owned()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, csrf, nonce) = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();

    // The user's browser.
    let b = browser(&server);
    let page = b.get(to_server(auth_url.as_str(), &server)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    let form = [
        ("request_id", hidden(&html, "request_id")),
        ("csrf", hidden(&html, "csrf")),
        ("username", "alice".to_owned()),
        ("password", PASSWORD.to_owned()),
    ];
    let res = b.post(server.url("/tenants/acme/login")).form(&form).send().await.unwrap();
    let (_, params) = location_params(&res);
    assert_eq!(param(&params, "state"), Some(csrf.secret().as_str()));
    let code = param(&params, "code").unwrap().to_owned();

    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http_client)
        .await
        .unwrap();
    let id_token = tokens.id_token().expect("an ID token");
    let id_verifier = client.id_token_verifier();
    let claims = id_token.claims(&id_verifier, &nonce).expect("the RP library accepts the ID token");
    assert_eq!(claims.subject().as_str(), alice);
    assert_eq!(claims.issuer().as_str(), format!("{PUBLIC_URL}/tenants/acme"));
    let expected_hash = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&id_verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected_hash));

    let info: CoreUserInfoClaims =
        client.user_info(tokens.access_token().clone(), None).unwrap().request_async(&http_client).await.unwrap();
    assert_eq!(info.subject().as_str(), alice);
    assert_eq!(info.email().map(|e| e.as_str()), Some("alice@example.com"));
}
