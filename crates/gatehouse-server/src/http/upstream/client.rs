//! Gatehouse as the relying party of an upstream (O8): outbound HTTPS (system roots plus the
//! optional `upstream_ca_file`, a timeout, no redirects followed), and each upstream's
//! discovery document with its JWKS, cached and fetched again when a token names a key the
//! cache does not hold.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClient, CoreClientAuthMethod, CoreGrantType, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm, CoreResponseMode, CoreResponseType,
    CoreSubjectIdentifierType,
};
use openidconnect::{
    AdditionalProviderMetadata, EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, ProviderMetadata,
};
use serde::{Deserialize, Serialize};

/// How long a discovery document and its keys are used before they are fetched again.
const METADATA_TTL: Duration = Duration::from_secs(3600);
/// At most one fetch per upstream this often for an unknown `kid` (a token cannot make
/// Gatehouse hammer the upstream).
const REFRESH_SPACING: Duration = Duration::from_secs(30);
/// How long a failed discovery is answered from memory (an unreachable upstream costs one
/// fetch per this time, however many browsers ask).
const FAILURE_TTL: Duration = Duration::from_secs(30);
/// Every outbound request's limit.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Discovery fields beyond the core ones that the flow reads.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ExtraMetadata {
    /// RFC 9207 §3: the upstream sends `iss` with its authorization responses.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: Option<bool>,
    /// OpenID Connect RP-Initiated Logout 1.0 §2.1.
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
}

impl AdditionalProviderMetadata for ExtraMetadata {}

/// An upstream's discovery document with its keys.
pub type Metadata = ProviderMetadata<
    ExtraMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// The relying-party client of one upstream, as built from its metadata.
pub type RpClient =
    CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

/// `openidconnect`'s requests over this client (answers above 1 MiB refused).
pub struct Http(reqwest::Client);

impl<'c> openidconnect::AsyncHttpClient<'c> for Http {
    type Error = HttpError;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<openidconnect::HttpResponse, HttpError>> + 'c>>;

    fn call(&'c self, req: openidconnect::HttpRequest) -> Self::Future {
        let http = self.0.clone();
        Box::pin(async move {
            let mut out = http.request(req.method().clone(), req.uri().to_string());
            for (name, value) in req.headers() {
                out = out.header(name, value);
            }
            let mut res = out.body(req.body().clone()).send().await.map_err(|e| HttpError(e.to_string()))?;
            let mut builder = openidconnect::http::Response::builder().status(res.status().as_u16());
            for (name, value) in res.headers() {
                builder = builder.header(name.as_str(), value.as_bytes());
            }
            // Discovery documents, key sets and token responses are small.
            let mut body = Vec::new();
            while let Some(chunk) = res.chunk().await.map_err(|e| HttpError(e.to_string()))? {
                if body.len() + chunk.len() > MAX_ANSWER {
                    return Err(HttpError("answer larger than 1 MiB".into()));
                }
                body.extend_from_slice(&chunk);
            }
            builder.body(body).map_err(|e| HttpError(e.to_string()))
        })
    }
}

/// The largest answer read from an upstream.
const MAX_ANSWER: usize = 1 << 20;

/// Why talking to an upstream failed (for the audit record; never shown).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

struct Cached {
    issuer: String,
    metadata: Arc<Metadata>,
    fetched: Instant,
    /// When a token's unknown `kid` last made it fetch again.
    refreshed: Option<Instant>,
}

/// Outbound HTTPS to upstreams and their cached metadata.
pub struct Upstreams {
    http: reqwest::Client,
    cache: Mutex<HashMap<String, Cached>>,
    /// Recent discovery failures: (issuer, when, why).
    failures: Mutex<HashMap<String, (String, Instant, String)>>,
}

impl std::fmt::Debug for Upstreams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstreams").finish_non_exhaustive()
    }
}

impl Upstreams {
    /// T1-style outbound TLS: the system's roots plus the PEM certificates of `ca_file`.
    pub fn new(ca_file: Option<&std::path::Path>) -> anyhow::Result<Self> {
        let mut builder = reqwest::Client::builder().timeout(TIMEOUT).redirect(reqwest::redirect::Policy::none());
        if let Some(path) = ca_file {
            let pem = std::fs::read(path)?;
            builder = builder.tls_certs_merge(reqwest::Certificate::from_pem_bundle(&pem)?);
        }
        Ok(Self { http: builder.build()?, cache: Mutex::new(HashMap::new()), failures: Mutex::new(HashMap::new()) })
    }

    /// The adapter `openidconnect` sends its requests through.
    pub fn http(&self) -> Http {
        Http(self.http.clone())
    }

    /// The metadata of the upstream `id` at `issuer`: cached for an hour; `refresh` asks for a
    /// fresh copy (an unknown `kid`), at most once per [`REFRESH_SPACING`].
    pub async fn metadata(&self, id: &str, issuer: &str, refresh: bool) -> Result<Arc<Metadata>, String> {
        if let Some(hit) = self.cached(id, issuer, refresh) {
            return Ok(hit);
        }
        if let Some(why) = self.recent_failure(id, issuer) {
            return Err(why);
        }
        let issuer_url = IssuerUrl::new(issuer.to_owned()).map_err(|e| format!("issuer: {e}"))?;
        // OIDC Discovery §4.3: the document's issuer must be the configured one (checked by
        // the crate), and its keys come from its `jwks_uri`.
        let http = self.http();
        let metadata = match Metadata::discover_async(issuer_url, &http).await {
            Ok(m) => m,
            Err(e) => {
                let why = format!("discovery: {}", error_chain(&e));
                if let Ok(mut failures) = self.failures.lock() {
                    failures.insert(id.to_owned(), (issuer.to_owned(), Instant::now(), why.clone()));
                }
                return Err(why);
            }
        };
        if let Ok(mut failures) = self.failures.lock() {
            failures.remove(id);
        }
        let metadata = Arc::new(metadata);
        if let Ok(mut cache) = self.cache.lock() {
            let now = Instant::now();
            let entry = Cached {
                issuer: issuer.to_owned(),
                metadata: metadata.clone(),
                fetched: now,
                refreshed: refresh.then_some(now),
            };
            cache.insert(id.to_owned(), entry);
        }
        Ok(metadata)
    }

    fn recent_failure(&self, id: &str, issuer: &str) -> Option<String> {
        let failures = self.failures.lock().ok()?;
        let (at_issuer, when, why) = failures.get(id)?;
        (at_issuer == issuer && when.elapsed() < FAILURE_TTL).then(|| format!("{why} (at most one attempt per 30 s)"))
    }

    fn cached(&self, id: &str, issuer: &str, refresh: bool) -> Option<Arc<Metadata>> {
        let cache = self.cache.lock().ok()?;
        let hit = cache.get(id).filter(|c| c.issuer == issuer)?;
        let fresh = if refresh {
            hit.refreshed.is_some_and(|at| at.elapsed() < REFRESH_SPACING)
        } else {
            hit.fetched.elapsed() < METADATA_TTL
        };
        fresh.then(|| hit.metadata.clone())
    }
}

/// An error with its sources, for the audit record.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text.chars().take(300).collect()
}
