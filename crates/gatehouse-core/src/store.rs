//! Storage traits, named after domain operations; `gatehouse-store` implements them with diesel
//! on SQLite and PostgreSQL. Every operation that reads or writes tenant data takes the tenant
//! (AC1); every write that an administrator causes takes its audit event and records it in the
//! same transaction (L3).

use gatehouse_types::RoleName;

use crate::audit::{AuditEvent, AuditRecord};
use crate::crypto::WrappedKey;
use crate::model::{Client, Tenant, User};

/// A storage failure. `Conflict` and `NotFound` carry fixed texts fit for the operator; the
/// detail of `Unavailable` goes to the log only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    Conflict(&'static str),
    #[error("{0}")]
    NotFound(&'static str),
    #[error("storage unavailable: {0}")]
    Unavailable(String),
}

/// Tenants (AC1).
pub trait TenantStore {
    /// Inserts a tenant; a taken slug is `Conflict`.
    fn create_tenant(&self, tenant: &Tenant, audit: &AuditEvent) -> Result<(), StoreError>;
    /// The tenant with this slug.
    fn tenant_by_slug(&self, slug: &str) -> Result<Option<Tenant>, StoreError>;
    /// The platform tenant, if created.
    fn platform_tenant(&self) -> Result<Option<Tenant>, StoreError>;
}

/// Users and their roles (A1, AC5).
pub trait UserStore {
    /// Inserts a user with roles (created in the tenant if new); a taken username or e-mail is
    /// `Conflict`, and then nothing is written.
    fn create_user(&self, user: &User, roles: &[RoleName], audit: &AuditEvent) -> Result<(), StoreError>;
    /// The user of `tenant_id` called `username`.
    fn user_by_username(&self, tenant_id: &str, username: &str) -> Result<Option<User>, StoreError>;
    /// The role names of a user in a tenant, sorted.
    fn user_roles(&self, tenant_id: &str, user_id: &str) -> Result<Vec<String>, StoreError>;
    /// How many users of the tenant hold `role`.
    fn count_role_members(&self, tenant_id: &str, role: &str) -> Result<i64, StoreError>;
}

/// OAuth clients (O3).
pub trait ClientStore {
    /// Inserts a client; a taken name in the tenant is `Conflict`.
    fn create_client(&self, client: &Client, audit: &AuditEvent) -> Result<(), StoreError>;
    /// The client `client_id` of tenant `tenant_id`; another tenant's client is `None`.
    fn client_by_id(&self, tenant_id: &str, client_id: &str) -> Result<Option<Client>, StoreError>;
}

/// The audit log (L3).
pub trait AuditStore {
    /// Appends one event to the chain; returns its sequence number.
    fn append_audit(&self, event: &AuditEvent) -> Result<i64, StoreError>;
    /// Up to `limit` records with `seq > after`, in order.
    fn audit_page(&self, after: i64, limit: i64) -> Result<Vec<AuditRecord>, StoreError>;
}

/// A token signing key as stored: the private key sealed under the signing-key DEK (D1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSigningKey {
    pub kid: String,
    pub tenant_id: String,
    pub alg: String,
    pub sealed_private_key: Vec<u8>,
    pub public_jwk: String,
    pub created_at: i64,
    /// `None` while current; then published until this time (overlap window).
    pub retire_at: Option<i64>,
}

/// Token signing keys per tenant (O4).
pub trait SigningKeyStore {
    /// The tenant's keys that are current or still inside their overlap window at `now`,
    /// oldest first.
    fn published_keys(&self, tenant_id: &str, now: i64) -> Result<Vec<StoredSigningKey>, StoreError>;
    /// Adds `key` as the current key of its algorithm; the previous current key(s) of that
    /// algorithm stay published until `retire_previous_at`. One transaction, audited.
    fn add_signing_key(
        &self,
        key: &StoredSigningKey,
        retire_previous_at: i64,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;
}

/// Revoked access tokens, by `jti` (RFC 7009).
pub trait RevocationStore {
    /// Records the revocation (idempotent) with its audit record.
    fn revoke_jti(
        &self,
        tenant_id: &str,
        jti: &str,
        client_id: &str,
        expires_at: i64,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;
    /// Whether `jti` of the tenant is revoked.
    fn is_revoked(&self, tenant_id: &str, jti: &str) -> Result<bool, StoreError>;
}

/// Wrapped data-encryption keys (D1).
pub trait KeyStore {
    /// Every stored DEK.
    fn data_keys(&self) -> Result<Vec<WrappedKey>, StoreError>;
    /// Stores a new DEK; one of the same kind and version already stored is `Conflict`.
    fn insert_data_key(&self, key: &WrappedKey) -> Result<(), StoreError>;
}
