//! Resolving a request's tenant, client and signing keys through the caches (hot path: one
//! read lock and an `Arc` clone when warm; the database only on a miss, off the executor).

use std::sync::Arc;

use actix_web::HttpRequest;
use actix_web::http::header;
use actix_web::web::{self, Bytes};
use gatehouse_core::UnixTime;
use gatehouse_core::audit::{AuditEvent, Outcome};
use gatehouse_core::jose::{SigningAlg, Verifier};
use gatehouse_core::keys::{self, TenantKeys};
use gatehouse_core::model::{Client, Tenant};
use gatehouse_core::oauth::Params;
use gatehouse_core::oauth::client_auth::{self, ClientAuth};
use gatehouse_core::store::{ClientStore, RevocationStore, TenantStore};
use gatehouse_types::{OAuthErrorCode, ProtocolError};

use crate::cache::TtlCache;
use crate::http::client_ip::client_ip;
use crate::http::oauth::discovery;
use crate::state::AppState;

/// A tenant with its issuer and its discovery document, serialized once.
#[derive(Debug)]
pub struct TenantEntry {
    pub tenant: Tenant,
    pub issuer: String,
    pub discovery: Bytes,
}

/// A tenant's unsealed keys with the JWKS serialized once.
#[derive(Debug)]
pub struct KeysEntry {
    pub keys: TenantKeys,
    pub jwks: Bytes,
    pub verifiers: Vec<Verifier>,
}

impl KeysEntry {
    /// The current signer of `alg`; [`AppState::keys`] only returns entries that have one.
    pub fn signer(&self, alg: SigningAlg) -> Result<&gatehouse_core::jose::Signer, ProtocolError> {
        self.keys.signer(alg).ok_or_else(|| ProtocolError::server("no signing key"))
    }
}

/// The caches of the OAuth endpoints.
#[derive(Debug)]
pub struct Caches {
    tenants: TtlCache<TenantEntry>,
    clients: TtlCache<Client>,
    keys: TtlCache<KeysEntry>,
}

impl Caches {
    /// Empty caches whose entries live for `ttl`.
    pub fn new(ttl: std::time::Duration) -> Self {
        Self { tenants: TtlCache::new(ttl), clients: TtlCache::new(ttl), keys: TtlCache::new(ttl) }
    }

    /// Drops this node's cached tenant `slug` after a change made here (other nodes see it
    /// when their entry expires).
    pub fn forget_tenant(&self, slug: &str) {
        self.tenants.remove(slug);
    }

    /// Drops this node's cached client after a change made here (as [`Self::forget_tenant`]).
    pub fn forget_client(&self, tenant_id: &str, client_id: &str) {
        self.clients.remove(&format!("{tenant_id}\n{client_id}"));
    }

    /// Drops this node's cached keys of a tenant after a rotation made here.
    pub fn forget_keys(&self, tenant_id: &str) {
        self.keys.remove(tenant_id);
    }
}

/// Runs blocking store work off the executor; any failure is `server_error`, its detail logged.
pub async fn blocking<T, E>(f: impl FnOnce() -> Result<T, E> + Send + 'static) -> Result<T, ProtocolError>
where
    T: Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    web::block(f).await.map_err(ProtocolError::server)?.map_err(ProtocolError::server)
}

impl AppState {
    /// The tenant named `slug`, or `None`.
    pub async fn tenant(&self, slug: &str) -> Result<Option<Arc<TenantEntry>>, ProtocolError> {
        if let Some(hit) = self.caches.tenants.get(slug) {
            return Ok(Some(hit));
        }
        let store = self.store.clone();
        let key = slug.to_owned();
        let Some(tenant) = blocking(move || store.tenant_by_slug(&key)).await? else {
            self.caches.tenants.remove(slug);
            return Ok(None);
        };
        let issuer = tenant.issuer(&self.config.public_url);
        let discovery = Bytes::from(discovery::document(&issuer).to_string());
        let entry = Arc::new(TenantEntry { tenant, issuer, discovery });
        self.caches.tenants.put(slug.to_owned(), entry.clone());
        Ok(Some(entry))
    }

    /// The client `client_id` of the tenant, or `None` (another tenant's client is `None`: AC1).
    pub async fn client(&self, tenant_id: &str, client_id: &str) -> Result<Option<Arc<Client>>, ProtocolError> {
        let key = format!("{tenant_id}\n{client_id}");
        if let Some(hit) = self.caches.clients.get(&key) {
            return Ok(Some(hit));
        }
        let store = self.store.clone();
        let (t, c) = (tenant_id.to_owned(), client_id.to_owned());
        let Some(client) = blocking(move || store.client_by_id(&t, &c)).await? else {
            self.caches.clients.remove(&key);
            return Ok(None);
        };
        let client = Arc::new(client);
        self.caches.clients.put(key, client.clone());
        Ok(Some(client))
    }

    /// The tenant's keys, with a current key of `alg` (created on first use).
    pub async fn keys(&self, tenant_id: &str, alg: SigningAlg) -> Result<Arc<KeysEntry>, ProtocolError> {
        if let Some(hit) = self.caches.keys.get(tenant_id).filter(|e| e.keys.signer(alg).is_some()) {
            return Ok(hit);
        }
        let store = self.store.clone();
        let t = tenant_id.to_owned();
        let keys = blocking(move || keys::ensure(&store, store.vault(), &t, alg, UnixTime::now())).await?;
        let jwks = Bytes::from(keys.jwks().to_string());
        let verifiers = keys.verifiers();
        let entry = Arc::new(KeysEntry { keys, jwks, verifiers });
        self.caches.keys.put(tenant_id.to_owned(), entry.clone());
        Ok(entry)
    }

    /// Appends an audit record durably (L3), batched with concurrent ones; the request fails
    /// if it cannot be written.
    pub async fn audit(&self, event: AuditEvent) -> Result<(), ProtocolError> {
        self.audit_writer.append(event).await
    }
}

/// RFC 6749 §3.2: token-style endpoints take `application/x-www-form-urlencoded` bodies.
pub fn require_form(req: &HttpRequest) -> Result<(), ProtocolError> {
    let ct = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if ct.split(';').next().map(str::trim) != Some("application/x-www-form-urlencoded") {
        return Err(ProtocolError::new(
            OAuthErrorCode::InvalidRequest,
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    Ok(())
}

/// O3: authenticates the calling client of `tenant`; a failure is audited (AC6) and is
/// `invalid_client`.
pub async fn authenticate_client(
    req: &HttpRequest,
    state: &AppState,
    tenant: &TenantEntry,
    params: &Params,
) -> Result<(Arc<Client>, ClientAuth), ProtocolError> {
    let authorization = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let attempt = match client_auth::from_request(authorization, params) {
        Ok(auth) => {
            let client = state.client(&tenant.tenant.id, auth.client_id()).await?;
            // RFC 7523 §3: the issuer or the endpoint itself is an acceptable audience; only
            // assertions need them, so secrets (the hot path) build nothing.
            let audiences = match auth {
                ClientAuth::Assertion { .. } => {
                    let endpoint = format!("{}/{}", tenant.issuer, req.path().rsplit('/').next().unwrap_or_default());
                    vec![tenant.issuer.clone(), endpoint]
                }
                _ => Vec::new(),
            };
            match client_auth::authenticate(client.as_deref(), &auth, state.store.vault(), &audiences, UnixTime::now())
            {
                Ok(None) => Ok((client, auth)),
                Ok(Some(id)) => {
                    let (store, t, c) = (state.store.clone(), tenant.tenant.id.clone(), auth.client_id().to_owned());
                    let fresh = blocking(move || store.use_assertion_jti(&t, &c, &id.jti, id.exp)).await?;
                    if fresh {
                        Ok((client, auth))
                    } else {
                        Err(ProtocolError::new(OAuthErrorCode::InvalidClient, "client authentication failed")
                            .detail("client assertion replayed"))
                    }
                }
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
    };
    match attempt {
        Ok((Some(client), auth)) => Ok((client, auth)),
        Ok((None, _)) => Err(ProtocolError::server("authenticated without a client")),
        Err(e) => {
            state.metrics.count(crate::metrics::Event::ClientAuthFailed);
            let presented: String = params.get("client_id").unwrap_or("-").chars().take(128).collect();
            let mut event = AuditEvent::new(format!("client:{presented}"), "client.authenticate")
                .tenant(&tenant.tenant.id)
                .target(format!("client:{presented}"))
                .details(serde_json::json!({ "reason": e.detail }));
            event.outcome = Outcome::Failure;
            event.source_ip = client_ip(req).map(|ip| ip.to_string());
            state.audit(event).await?;
            Err(e)
        }
    }
}

/// The tenant named by the `{tenant}` path segment, resolved through the cache. An unknown
/// tenant is a 404 and a failure a 500; both bodies are replaced by the generic error page
/// (with its correlation ID) on the way out.
#[derive(Debug, Clone)]
pub struct TenantScope(pub Arc<TenantEntry>);

impl std::ops::Deref for TenantScope {
    type Target = TenantEntry;
    fn deref(&self) -> &TenantEntry {
        &self.0
    }
}

/// Why a request's tenant could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    #[error("unknown tenant")]
    NotFound,
    #[error("tenant lookup failed: {0}")]
    Failed(ProtocolError),
}

impl actix_web::ResponseError for TenantError {
    fn status_code(&self) -> actix_web::http::StatusCode {
        match self {
            Self::NotFound => actix_web::http::StatusCode::NOT_FOUND,
            Self::Failed(_) => actix_web::http::StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl actix_web::FromRequest for TenantScope {
    type Error = TenantError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, TenantError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let slug = req.match_info().get("tenant").map(str::to_owned);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let (Some(slug), Some(state)) = (slug, state) else { return Err(TenantError::NotFound) };
            // IO1: a path segment that cannot be a slug names no tenant and is never looked up.
            if gatehouse_types::TenantSlug::parse(&slug).is_err() {
                return Err(TenantError::NotFound);
            }
            match state.tenant(&slug).await {
                Ok(Some(t)) => Ok(TenantScope(t)),
                Ok(None) => Err(TenantError::NotFound),
                Err(e) => Err(TenantError::Failed(e)),
            }
        })
    }
}
