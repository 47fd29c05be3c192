//! The JWKS cache (G1): keys live for the response's `max-age`; an unknown `kid` triggers a
//! refetch at most once per `refresh_interval`, so a flood of tokens with random `kid`s cannot
//! make the guard hammer the issuer.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey};

use crate::error::AuthError;

type Key = (Arc<DecodingKey>, Algorithm);

#[derive(Default)]
struct Keys {
    by_kid: HashMap<String, Key>,
    expires: Option<Instant>,
    fetched: Option<Instant>,
}

/// Where keys come from.
enum Source {
    Url { url: String, http: reqwest::Client },
    Static,
}

pub(crate) struct KeyCache {
    source: Source,
    keys: RwLock<Keys>,
    fetch_lock: tokio::sync::Mutex<()>,
    fetches: AtomicU64,
    default_ttl: Duration,
    refresh_interval: Duration,
    allowed: Vec<Algorithm>,
}

/// The algorithm a key is for: its `alg`, or what its type implies. Keys for anything outside
/// the allowlist are dropped, so an HMAC or `none` key can never verify.
fn key_alg(jwk: &Jwk) -> Option<Algorithm> {
    if let Some(a) = jwk.common.key_algorithm {
        return match a {
            KeyAlgorithm::ES256 => Some(Algorithm::ES256),
            KeyAlgorithm::RS256 => Some(Algorithm::RS256),
            KeyAlgorithm::EdDSA => Some(Algorithm::EdDSA),
            _ => None,
        };
    }
    match &jwk.algorithm {
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => Some(Algorithm::ES256),
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => Some(Algorithm::EdDSA),
        AlgorithmParameters::RSA(_) => Some(Algorithm::RS256),
        _ => None,
    }
}

/// `max-age` of a `Cache-Control` header.
fn max_age(header: Option<&str>) -> Option<Duration> {
    header?
        .split(',')
        .filter_map(|d| d.trim().strip_prefix("max-age="))
        .find_map(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

impl KeyCache {
    pub(crate) fn from_url(
        url: String,
        http: reqwest::Client,
        default_ttl: Duration,
        refresh_interval: Duration,
        allowed: Vec<Algorithm>,
    ) -> Self {
        Self::new(Source::Url { url, http }, default_ttl, refresh_interval, allowed)
    }

    pub(crate) fn from_set(set: &JwkSet, allowed: Vec<Algorithm>) -> Self {
        let cache = Self::new(Source::Static, Duration::MAX, Duration::MAX, allowed);
        cache.install(set, None);
        cache
    }

    fn new(source: Source, default_ttl: Duration, refresh_interval: Duration, allowed: Vec<Algorithm>) -> Self {
        Self {
            source,
            keys: RwLock::new(Keys::default()),
            fetch_lock: tokio::sync::Mutex::new(()),
            fetches: AtomicU64::new(0),
            default_ttl,
            refresh_interval,
            allowed,
        }
    }

    /// How many times the JWKS was fetched.
    pub(crate) fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    fn install(&self, set: &JwkSet, ttl: Option<Duration>) {
        let mut by_kid = HashMap::new();
        for jwk in &set.keys {
            let (Some(kid), Some(alg)) = (jwk.common.key_id.clone(), key_alg(jwk)) else { continue };
            if !self.allowed.contains(&alg) {
                continue;
            }
            if let Ok(key) = DecodingKey::from_jwk(jwk) {
                by_kid.insert(kid, (Arc::new(key), alg));
            }
        }
        let now = Instant::now();
        if let Ok(mut keys) = self.keys.write() {
            *keys = Keys { by_kid, expires: ttl.and_then(|t| now.checked_add(t)), fetched: Some(now) };
        }
    }

    /// The key `kid`, fetching the JWKS when the cache expired or (rate-limited) when the kid
    /// is unknown.
    pub(crate) async fn key(&self, kid: &str) -> Result<Key, AuthError> {
        let (hit, expired, recently) = {
            let keys = self.keys.read().map_err(|_| AuthError::Unavailable("key cache poisoned".into()))?;
            let now = Instant::now();
            (
                keys.by_kid.get(kid).cloned(),
                keys.fetched.is_none() || keys.expires.is_some_and(|e| now >= e),
                keys.fetched.is_some_and(|f| now.duration_since(f) < self.refresh_interval),
            )
        };
        match hit {
            Some(k) if !expired => return Ok(k),
            None if !expired && recently => return Err(AuthError::InvalidToken("unknown signing key")),
            _ => {}
        }
        self.refresh().await?;
        let keys = self.keys.read().map_err(|_| AuthError::Unavailable("key cache poisoned".into()))?;
        keys.by_kid.get(kid).cloned().ok_or(AuthError::InvalidToken("unknown signing key"))
    }

    /// Fetches the JWKS once for all waiting callers.
    async fn refresh(&self) -> Result<(), AuthError> {
        let Source::Url { url, http } = &self.source else { return Ok(()) };
        let _one = self.fetch_lock.lock().await;
        // Someone else may have just fetched while we waited.
        let fresh = self
            .keys
            .read()
            .ok()
            .and_then(|k| k.fetched)
            .is_some_and(|f| f.elapsed() < self.refresh_interval.min(Duration::from_secs(1)));
        if fresh {
            return Ok(());
        }
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let res = http.get(url).send().await.map_err(|e| AuthError::Unavailable(format!("JWKS fetch: {e}")))?;
        if !res.status().is_success() {
            return Err(AuthError::Unavailable(format!("JWKS fetch: HTTP {}", res.status())));
        }
        let ttl = max_age(res.headers().get("cache-control").and_then(|v| v.to_str().ok())).unwrap_or(self.default_ttl);
        let set: JwkSet = res.json().await.map_err(|e| AuthError::Unavailable(format!("JWKS parse: {e}")))?;
        self.install(&set, Some(ttl.clamp(Duration::from_secs(1), Duration::from_secs(86_400))));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_max_age() {
        assert_eq!(max_age(Some("public, max-age=60")), Some(Duration::from_secs(60)));
        assert_eq!(max_age(Some("no-store")), None);
        assert_eq!(max_age(None), None);
    }
}
