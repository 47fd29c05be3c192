//! Introspection mode (G4, RFC 7662): the issuer decides on every token; positive answers are
//! reused briefly (bounded by the token's own expiry), negative ones never.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_lc_rs::digest;
use gatehouse_types::Secret;
use serde_json::{Map, Value};

use crate::claims::Claims;
use crate::config::GuardConfig;
use crate::error::AuthError;
use crate::guard::check_issuer_and_audience;

/// Cache entries beyond which the cache is cleared (a flood of distinct tokens cannot grow it).
const MAX_ENTRIES: usize = 10_000;

pub(crate) struct Introspection {
    endpoint: String,
    client_id: String,
    client_secret: Secret<String>,
    http: reqwest::Client,
    ttl: Duration,
    cache: Mutex<HashMap<Vec<u8>, (Instant, Claims)>>,
}

impl Introspection {
    pub(crate) fn new(
        endpoint: String,
        client_id: String,
        client_secret: Secret<String>,
        http: reqwest::Client,
        ttl: Duration,
    ) -> Self {
        Self { endpoint, client_id, client_secret, http, ttl, cache: Mutex::new(HashMap::new()) }
    }

    pub(crate) async fn check(&self, token: &str, config: &GuardConfig, now: i64) -> Result<Claims, AuthError> {
        // The token itself is never a cache key (it could leak through a heap dump): its hash is.
        let key = digest::digest(&digest::SHA256, token.as_bytes()).as_ref().to_vec();
        // A cached answer is as good as the token: never past its expiry at `now`.
        if let Some(claims) = self.cached(&key) {
            if claims.expires_at <= now {
                return Err(AuthError::InvalidToken("expired"));
            }
            return Ok(claims);
        }
        let res = self
            .http
            .post(&self.endpoint)
            .basic_auth(&self.client_id, Some(self.client_secret.expose()))
            .form(&[("token", token), ("token_type_hint", "access_token")])
            .send()
            .await
            .map_err(|e| AuthError::Unavailable(format!("introspection: {e}")))?;
        if !res.status().is_success() {
            return Err(AuthError::Unavailable(format!("introspection: HTTP {}", res.status())));
        }
        let body: Map<String, Value> =
            res.json().await.map_err(|e| AuthError::Unavailable(format!("introspection: {e}")))?;
        if body.get("active") != Some(&Value::Bool(true)) {
            return Err(AuthError::InvalidToken("inactive"));
        }
        if body.get("token_type").and_then(Value::as_str).is_some_and(|t| t != "Bearer") {
            return Err(AuthError::InvalidToken("not an access token"));
        }
        check_issuer_and_audience(&body, config)?;
        let claims = Claims::from_map(body).ok_or(AuthError::InvalidToken("missing claims"))?;
        if claims.expires_at <= now {
            return Err(AuthError::InvalidToken("expired"));
        }
        let ttl = self.ttl.min(Duration::from_secs((claims.expires_at - now).max(0) as u64));
        if let (Ok(mut cache), false) = (self.cache.lock(), ttl.is_zero()) {
            if cache.len() >= MAX_ENTRIES {
                cache.clear();
            }
            cache.insert(key, (Instant::now() + ttl, claims.clone()));
        }
        Ok(claims)
    }

    fn cached(&self, key: &[u8]) -> Option<Claims> {
        let cache = self.cache.lock().ok()?;
        cache.get(key).filter(|(until, _)| Instant::now() < *until).map(|(_, c)| c.clone())
    }
}
