//! The framework-neutral validator (G1, G4).

use std::sync::Arc;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Validation, decode, decode_header};
use serde_json::{Map, Value};

use crate::claims::Claims;
use crate::config::GuardConfig;
use crate::error::AuthError;
use crate::introspection::Introspection;
use crate::jwks::KeyCache;

/// Validates Gatehouse access tokens; cheap to clone and share.
#[derive(Clone)]
pub struct Guard {
    inner: Arc<Inner>,
}

struct Inner {
    config: GuardConfig,
    keys: KeyCache,
    introspection: Option<Introspection>,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard").field("issuer", &self.inner.config.issuer).finish_non_exhaustive()
    }
}

/// The issuer metadata the guard needs.
struct Discovered {
    jwks_uri: String,
    introspection_endpoint: Option<String>,
}

/// OIDC Discovery §4.3: the metadata's `issuer` must be exactly the configured one.
async fn discover(config: &GuardConfig, http: &reqwest::Client) -> Result<Discovered, AuthError> {
    let url = format!("{}/.well-known/openid-configuration", config.issuer.trim_end_matches('/'));
    let res = http.get(&url).send().await.map_err(|e| AuthError::Unavailable(format!("discovery: {e}")))?;
    if !res.status().is_success() {
        return Err(AuthError::Unavailable(format!("discovery: HTTP {}", res.status())));
    }
    let meta: Value = res.json().await.map_err(|e| AuthError::Unavailable(format!("discovery: {e}")))?;
    if meta.get("issuer").and_then(Value::as_str) != Some(config.issuer.as_str()) {
        return Err(AuthError::Unavailable("discovery: issuer mismatch".into()));
    }
    let jwks_uri =
        meta.get("jwks_uri").and_then(Value::as_str).ok_or(AuthError::Unavailable("discovery: no jwks_uri".into()))?;
    Ok(Discovered {
        jwks_uri: jwks_uri.to_owned(),
        introspection_endpoint: meta.get("introspection_endpoint").and_then(Value::as_str).map(str::to_owned),
    })
}

/// RFC 9068 §2.1: `typ` is `at+jwt` (or its media-type form).
fn check_typ(typ: Option<&str>) -> Result<(), AuthError> {
    match typ.map(str::to_ascii_lowercase).as_deref() {
        Some("at+jwt" | "application/at+jwt") => Ok(()),
        _ => Err(AuthError::InvalidToken("not an access token")),
    }
}

/// RFC 7519 §4.1.4–4.1.6 with leeway: `exp` required and future, `nbf` past, `iat` not future.
fn check_time(claims: &Map<String, Value>, now: i64, leeway: i64) -> Result<(), AuthError> {
    let exp = claims.get("exp").and_then(Value::as_i64).ok_or(AuthError::InvalidToken("no expiry"))?;
    if now >= exp + leeway {
        return Err(AuthError::InvalidToken("expired"));
    }
    if claims.get("nbf").and_then(Value::as_i64).is_some_and(|nbf| now + leeway < nbf) {
        return Err(AuthError::InvalidToken("not yet valid"));
    }
    let iat = claims.get("iat").and_then(Value::as_i64).ok_or(AuthError::InvalidToken("no issue time"))?;
    if iat > now + leeway {
        return Err(AuthError::InvalidToken("issued in the future"));
    }
    Ok(())
}

/// RFC 9068 §4: `iss` is the issuer exactly; one of the API's audiences is in `aud`.
pub(crate) fn check_issuer_and_audience(claims: &Map<String, Value>, config: &GuardConfig) -> Result<(), AuthError> {
    if claims.get("iss").and_then(Value::as_str) != Some(config.issuer.as_str()) {
        return Err(AuthError::InvalidToken("wrong issuer"));
    }
    let ours = |a: &str| config.audiences.iter().any(|x| x == a);
    let ok = match claims.get("aud") {
        Some(Value::String(a)) => ours(a),
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).any(ours),
        _ => false,
    };
    if !ok {
        return Err(AuthError::InvalidToken("wrong audience"));
    }
    Ok(())
}

impl Guard {
    fn from_parts(config: GuardConfig, keys: KeyCache, introspection: Option<Introspection>) -> Self {
        Self { inner: Arc::new(Inner { config, keys, introspection }) }
    }

    /// Discovers the issuer and validates JWTs locally with its JWKS.
    pub async fn discover(config: GuardConfig, http: reqwest::Client) -> Result<Self, AuthError> {
        let d = discover(&config, &http).await?;
        Ok(Self::with_jwks_url(config, d.jwks_uri, http))
    }

    /// Validates JWTs with the keys at `jwks_url` (no discovery).
    pub fn with_jwks_url(config: GuardConfig, jwks_url: String, http: reqwest::Client) -> Self {
        let keys = KeyCache::from_url(
            jwks_url,
            http,
            config.default_jwks_ttl,
            config.refresh_interval,
            config.algorithms.clone(),
        );
        Self::from_parts(config, keys, None)
    }

    /// Validates JWTs with a fixed key set (offline use, tests, benchmarks).
    pub fn with_jwks(config: GuardConfig, jwks_json: &str) -> Result<Self, AuthError> {
        let set: JwkSet = serde_json::from_str(jwks_json).map_err(|_| AuthError::Unavailable("invalid JWKS".into()))?;
        let keys = KeyCache::from_set(&set, config.algorithms.clone());
        Ok(Self::from_parts(config, keys, None))
    }

    /// G4: asks the issuer's introspection endpoint about every token (with a short positive
    /// cache), authenticating as the API's own confidential client. A revoked token is
    /// refused as soon as that cache expires.
    pub async fn introspecting(
        config: GuardConfig,
        http: reqwest::Client,
        client_id: String,
        client_secret: gatehouse_types::Secret<String>,
    ) -> Result<Self, AuthError> {
        let d = discover(&config, &http).await?;
        let endpoint =
            d.introspection_endpoint.ok_or(AuthError::Unavailable("discovery: no introspection endpoint".into()))?;
        let keys = KeyCache::from_url(
            d.jwks_uri,
            http.clone(),
            config.default_jwks_ttl,
            config.refresh_interval,
            config.algorithms.clone(),
        );
        let introspection = Introspection::new(endpoint, client_id, client_secret, http, config.introspection_cache);
        Ok(Self::from_parts(config, keys, Some(introspection)))
    }

    /// The configuration.
    pub fn config(&self) -> &GuardConfig {
        &self.inner.config
    }

    /// How many times the JWKS has been fetched (for monitoring the refresh rate limit).
    pub fn jwks_fetches(&self) -> u64 {
        self.inner.keys.fetches()
    }

    /// Validates `token` now.
    pub async fn validate(&self, token: &str) -> Result<Claims, AuthError> {
        self.validate_at(token, crate::now_secs()).await
    }

    /// Validates `token` as of `now` (seconds since the epoch).
    pub async fn validate_at(&self, token: &str, now: i64) -> Result<Claims, AuthError> {
        let config = &self.inner.config;
        if let Some(i) = &self.inner.introspection {
            return i.check(token, config, now).await;
        }
        let header = decode_header(token).map_err(|_| AuthError::InvalidToken("malformed token"))?;
        if !config.allows(header.alg) {
            return Err(AuthError::InvalidToken("algorithm not allowed"));
        }
        check_typ(header.typ.as_deref())?;
        let kid = header.kid.as_deref().ok_or(AuthError::InvalidToken("no key id"))?;
        let (key, key_alg) = self.inner.keys.key(kid).await?;
        if key_alg != header.alg {
            return Err(AuthError::InvalidToken("algorithm does not match the key"));
        }
        // Signature only here; time, issuer and audience are checked below with our clock.
        let mut v = Validation::new(header.alg);
        v.validate_exp = false;
        v.validate_nbf = false;
        v.validate_aud = false;
        v.required_spec_claims.clear();
        let claims =
            decode::<Map<String, Value>>(token, &key, &v).map_err(|_| AuthError::InvalidToken("bad signature"))?.claims;
        check_time(&claims, now, config.leeway.as_secs() as i64)?;
        check_issuer_and_audience(&claims, config)?;
        Claims::from_map(claims).ok_or(AuthError::InvalidToken("missing claims"))
    }
}
