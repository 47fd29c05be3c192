//! End to end with an independent relying party: the `openidconnect` crate discovers the
//! issuer, runs Authorization Code + PKCE against the running `gatehouse` binary (provisioned
//! with its CLI while it runs), and validates the ID token (signature via the JWKS, iss, aud,
//! exp, nonce, at_hash) with its own checks.

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    RedirectUrl, Scope, TokenResponse,
};
use reqwest::StatusCode;

use crate::code_flow::{PASSWORD, REDIRECT, hidden, location_params, param};
use crate::support::{BinaryServer, https_client, json_ok};

#[derive(Debug)]
struct HttpError(String);

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HttpError {}

#[actix_web::test]
async fn openidconnect_crate_completes_the_code_flow_against_the_running_binary() {
    let db = gatehouse_testkit::TestDatabase::sqlite();
    let dir = db.dir.path().to_owned();
    let server = tokio::task::spawn_blocking({
        let (dir, url) = (dir.clone(), db.url.clone());
        move || BinaryServer::start(&dir, &url)
    })
    .await
    .unwrap();
    // Provisioned with the CLI while the server runs.
    json_ok(&server.cli(&dir, &db.url, &["tenant", "create", "acme", "--json"], None));
    let created = json_ok(&server.cli(
        &dir,
        &db.url,
        &[
            "user",
            "create",
            "--tenant",
            "acme",
            "--username",
            "alice",
            "--email",
            "alice@example.com",
            "--password-stdin",
            "--json",
        ],
        Some(PASSWORD),
    ));
    let alice = created["id"].as_str().unwrap().to_owned();
    let client = json_ok(&server.cli(
        &dir,
        &db.url,
        &[
            "client",
            "create",
            "--tenant",
            "acme",
            "--name",
            "Web App",
            "--type",
            "public",
            "--redirect-uri",
            REDIRECT,
            "--grant",
            "authorization_code",
            "--scope",
            "openid profile email",
            "--first-party",
            "--json",
        ],
        None,
    ));
    let client_id = client["client_id"].as_str().unwrap().to_owned();

    let http = https_client(&server.cert_pem);
    let http_client = move |req: openidconnect::HttpRequest| {
        let http = http.clone();
        async move {
            let mut out = http.request(req.method().clone(), req.uri().to_string());
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

    let issuer = IssuerUrl::new(format!("{}/tenants/acme", server.base)).unwrap();
    let metadata = CoreProviderMetadata::discover_async(issuer.clone(), &http_client).await.unwrap();
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
    let cert = reqwest::Certificate::from_pem(&server.cert_pem).unwrap();
    let b = reqwest::Client::builder()
        .tls_certs_only([cert])
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = b.get(auth_url.as_str()).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    let form = [
        ("request_id", hidden(&html, "request_id")),
        ("csrf", hidden(&html, "csrf")),
        ("username", "alice".to_owned()),
        ("password", PASSWORD.to_owned()),
    ];
    let res = b.post(format!("{}/tenants/acme/login", server.base)).form(&form).send().await.unwrap();
    let (_, params) = location_params(&res);
    assert_eq!(param(&params, "state"), Some(csrf.secret().as_str()));
    assert_eq!(param(&params, "iss"), Some(issuer.as_str()));
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
    assert_eq!(claims.issuer(), &issuer);
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
