//! Guard validations per second with a cached JWKS, next to the raw signature verification of
//! the same algorithm on the same machine (the ratio is the figure that matters).
//! `cargo bench -p gatehouse-guard --bench validate`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_lc_rs::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use criterion::{Criterion, criterion_group, criterion_main};
use gatehouse_core::jose::{self, Signer, SigningAlg};
use gatehouse_guard::{Guard, GuardConfig};
use serde_json::{Value, json};

const ISSUER: &str = "https://id.example.com/tenants/acme";
const AUDIENCE: &str = "https://reports.example.com";

/// Verifies (message, signature) with aws-lc-rs directly, from the public JWK.
fn raw_verify(jwk: &Value, alg: SigningAlg, msg: &[u8], sig: &[u8]) -> bool {
    let field = |n: &str| B64.decode(jwk[n].as_str().unwrap()).unwrap();
    match alg {
        SigningAlg::Es256 => {
            let mut point = vec![4u8];
            point.extend(field("x"));
            point.extend(field("y"));
            UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, &point).verify(msg, sig).is_ok()
        }
        SigningAlg::EdDsa => UnparsedPublicKey::new(&signature::ED25519, &field("x")).verify(msg, sig).is_ok(),
        SigningAlg::Rs256 => {
            let (n, e) = (field("n"), field("e"));
            RsaPublicKeyComponents { n: &n, e: &e }.verify(&signature::RSA_PKCS1_2048_8192_SHA256, msg, sig).is_ok()
        }
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let now = gatehouse_guard::now_secs();
    let claims = json!({
        "iss": ISSUER, "sub": "f-msjZbPVlAUe9drNfDbIw", "aud": AUDIENCE, "exp": now + 86_400, "iat": now, "nbf": now,
        "jti": "KjMAf1hvbiaEGGYS122MQw", "client_id": "f-msjZbPVlAUe9drNfDbIw", "scope": "reports:read", "tenant": "acme"
    });
    let mut group = c.benchmark_group("validate");
    for alg in SigningAlg::ALL {
        let key = jose::generate(alg).unwrap();
        let signer = Signer::from_pkcs8(Some(&key.kid), alg, key.pkcs8.expose()).unwrap();
        let token = signer.sign("at+jwt", &claims).unwrap();
        let jwks = json!({ "keys": [signer.public_jwk()] }).to_string();
        let guard = Guard::with_jwks(GuardConfig::new(ISSUER, [AUDIENCE]), &jwks).unwrap();
        rt.block_on(guard.validate(&token)).unwrap();
        group.bench_function(format!("guard {}", alg.as_str()), |b| {
            b.iter(|| rt.block_on(guard.validate(std::hint::black_box(&token))).unwrap())
        });

        let (msg, sig) = token.rsplit_once('.').unwrap();
        let sig = B64.decode(sig).unwrap();
        assert!(raw_verify(signer.public_jwk(), alg, msg.as_bytes(), &sig));
        group.bench_function(format!("raw verify {}", alg.as_str()), |b| {
            b.iter(|| raw_verify(signer.public_jwk(), alg, std::hint::black_box(msg.as_bytes()), &sig))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
