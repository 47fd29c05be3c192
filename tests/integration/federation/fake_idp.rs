//! A stand-in upstream provider on plain HTTP at `http://127.0.0.1:{port}` (an issuer on the
//! loopback interface may be http), with its own ES256 keys, for the answers a well-behaved
//! upstream never gives: a foreign signature, another issuer or audience, a wrong or missing
//! nonce, an expired token, a rotated key. Its token endpoint checks the PKCE verifier against
//! the challenge the authorization request carried.

use std::sync::{Arc, Mutex};

use actix_web::{HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_core::flow::pkce::challenge_s256;
use serde_json::{Value, json};

/// An ES256 key with its id.
pub struct Key {
    pub kid: String,
    encoding: jsonwebtoken::EncodingKey,
    jwk: Value,
}

impl Key {
    pub fn new(kid: &str) -> Self {
        let pair = rcgen::KeyPair::generate().unwrap();
        let raw = pair.public_key_raw();
        let (x, y) = (&raw[1..33], &raw[33..65]);
        let jwk = json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
            "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y),
        });
        let encoding = jsonwebtoken::EncodingKey::from_ec_der(&pair.serialize_der());
        Self { kid: kid.to_owned(), encoding, jwk }
    }

    pub fn sign(&self, claims: &Value, kid: &str) -> String {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }
}

/// What the next token response holds.
pub struct Scenario {
    /// The claims of the ID token (the test fills in what it changes).
    pub claims: Value,
    /// Signed by the published key (`true`) or a foreign one with the same `kid`.
    pub published_key: bool,
    /// The code challenge the authorization request carried.
    pub challenge: String,
    /// The token request's form, as last received.
    pub last_token_request: Vec<(String, String)>,
}

pub struct FakeIdp {
    pub port: u16,
    pub client_id: String,
    pub scenario: Arc<Mutex<Scenario>>,
    /// The published keys (the first one signs).
    pub keys: Arc<Mutex<Vec<Key>>>,
    foreign: Arc<Key>,
    server: actix_web::dev::ServerHandle,
}

impl FakeIdp {
    pub async fn start(client_id: &str) -> Self {
        Self::start_with(client_id, false).await
    }

    /// As [`FakeIdp::start`]; `split`: its authorization endpoint is on another origin
    /// (`http://localhost:{port}`) than its issuer.
    pub async fn start_with(client_id: &str, split: bool) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let issuer = format!("http://127.0.0.1:{port}");
        let scenario = Arc::new(Mutex::new(Scenario {
            claims: json!({}),
            published_key: true,
            challenge: String::new(),
            last_token_request: Vec::new(),
        }));
        let keys = Arc::new(Mutex::new(vec![Key::new("k1")]));
        let foreign = Arc::new(Key::new("k1"));
        let (s, k, f) = (scenario.clone(), keys.clone(), foreign.clone());
        let server = actix_web::HttpServer::new(move || {
            let issuer = issuer.clone();
            let (s, k, f) = (s.clone(), k.clone(), f.clone());
            let authorize =
                if split { format!("http://localhost:{port}/authorize") } else { format!("{issuer}/authorize") };
            let discovery = json!({
                "issuer": issuer,
                "authorization_endpoint": authorize,
                "token_endpoint": format!("{issuer}/token"),
                "jwks_uri": format!("{issuer}/jwks"),
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["ES256"],
                "authorization_response_iss_parameter_supported": true,
            });
            actix_web::App::new()
                .route(
                    "/authorize",
                    web::get().to(|| async {
                        HttpResponse::Ok()
                            .content_type("text/html")
                            .body("<!doctype html><title>Fake</title><h1>Fake upstream</h1>")
                    }),
                )
                .route(
                    "/.well-known/openid-configuration",
                    web::get().to(move || {
                        let d = discovery.clone();
                        async move { HttpResponse::Ok().json(d) }
                    }),
                )
                .route(
                    "/jwks",
                    web::get().to({
                        let k = k.clone();
                        move || {
                            let keys: Vec<Value> = k.lock().unwrap().iter().map(|key| key.jwk.clone()).collect();
                            async move { HttpResponse::Ok().json(json!({ "keys": keys })) }
                        }
                    }),
                )
                .route(
                    "/token",
                    web::post().to(move |body: web::Bytes| {
                        let (s, k, f) = (s.clone(), k.clone(), f.clone());
                        async move { token(&s, &k, &f, &body) }
                    }),
                )
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Self { port, client_id: client_id.to_owned(), scenario, keys, foreign, server: handle }
    }

    pub fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Valid claims for `nonce` (the test changes what it tests).
    pub fn claims(&self, nonce: &str) -> Value {
        let now = gatehouse_core::UnixTime::now().0;
        json!({
            "iss": self.issuer(), "sub": "fake-sub-1", "aud": self.client_id, "exp": now + 300, "iat": now,
            "nonce": nonce, "email": "fay@fake.example", "email_verified": true, "preferred_username": "fay",
            "amr": ["pwd", "otp"], "groups": ["eng"],
        })
    }

    /// The next token response carries `claims`, signed by the published (or a foreign) key.
    pub fn answer_with(&self, claims: Value, published_key: bool) {
        let mut s = self.scenario.lock().unwrap();
        s.claims = claims;
        s.published_key = published_key;
    }

    /// Replaces the published keys with a new one (`kid`), as a rotation does.
    pub fn rotate(&self, kid: &str) {
        *self.keys.lock().unwrap() = vec![Key::new(kid)];
    }

    #[allow(dead_code)]
    pub fn foreign_kid(&self) -> &str {
        &self.foreign.kid
    }
}

fn token(s: &Mutex<Scenario>, keys: &Mutex<Vec<Key>>, foreign: &Key, body: &[u8]) -> HttpResponse {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body).into_owned().collect();
    let mut s = s.lock().unwrap();
    s.last_token_request = form.clone();
    let verifier = form.iter().find(|(k, _)| k == "code_verifier").map(|(_, v)| v.clone()).unwrap_or_default();
    if challenge_s256(&verifier) != s.challenge {
        return HttpResponse::BadRequest().json(json!({ "error": "invalid_grant" }));
    }
    let keys = keys.lock().unwrap();
    let signer = if s.published_key { &keys[0] } else { foreign };
    let id_token = signer.sign(&s.claims, &keys[0].kid);
    HttpResponse::Ok().json(json!({
        "access_token": "fake-access-token", "token_type": "Bearer", "expires_in": 300, "id_token": id_token,
    }))
}

impl Drop for FakeIdp {
    fn drop(&mut self) {
        drop(self.server.stop(false));
    }
}
