//! The machine's JWT signing ceiling: one thread per core signs access-token-sized claims for
//! a few seconds with a key parsed once (as the token endpoint does), then prints tokens/s.
//! `cargo run --release -p gatehouse-core --example sign_rate [ES256|RS256|EdDSA] [seconds]`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use gatehouse_core::jose::{self, Signer, SigningAlg};
use serde_json::json;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let alg = SigningAlg::parse(args.get(1).map(String::as_str).unwrap_or("ES256")).expect("ES256, RS256 or EdDSA");
    let secs: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(5);
    let key = jose::generate(alg).unwrap();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let claims = json!({
        "iss": "https://localhost:9443/tenants/bench", "sub": "f-msjZbPVlAUe9drNfDbIw", "aud": "f-msjZbPVlAUe9drNfDbIw",
        "exp": 1_795_472_168, "iat": 1_795_471_868, "nbf": 1_795_471_868, "jti": "KjMAf1hvbiaEGGYS122MQw",
        "client_id": "f-msjZbPVlAUe9drNfDbIw", "scope": "api", "tenant": "bench"
    });
    let deadline = Instant::now() + Duration::from_secs(secs);
    let total: u64 = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let (der, kid, claims) = (key.pkcs8.expose().clone(), key.kid.clone(), &claims);
                s.spawn(move || {
                    let signer = Signer::from_pkcs8(Some(&kid), alg, &der).unwrap();
                    let mut n = 0u64;
                    while Instant::now() < deadline {
                        std::hint::black_box(signer.sign("at+jwt", claims).unwrap());
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    println!("{} signatures/s on {threads} threads ({} in {secs} s)", total / secs, alg.as_str());
}
