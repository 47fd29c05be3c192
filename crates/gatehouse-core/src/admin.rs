//! Administrative use cases: validate everything first, then one store call that writes the
//! change and its audit record in one transaction. Bad input changes nothing (IO1).

pub mod authz;
mod bootstrap;
mod client;
mod identity;
mod mfa;
mod sessions;
mod tenant;
mod upstream;
mod user;

pub use bootstrap::{Bootstrap, bootstrap_platform};
pub use client::{
    CreateClient, CreatedClient, client_secret_hash, create_client, delete_client, input_of, require_client,
    rotate_client_secret, settings_of, update_client,
};
pub use identity::{IdentityView, unlink_user_identity, user_identities};
pub use mfa::{FactorSummary, reset_user_mfa, user_factors};
pub use sessions::{end_user_sessions, user_sessions};
pub use tenant::{CreateTenant, PolicyChange, create_tenant, update_tenant_policy};
pub use upstream::{UpstreamInput, add_upstream, list_upstreams, remove_upstream, require_upstream, update_upstream};
pub use user::{
    CreateUser, PasswordReset, UserChange, create_user, delete_user, require_user, reset_password, set_user_roles,
    unlock_user, update_user,
};

use crate::StoreError;
use crate::model::Tenant;
use crate::store::TenantStore;

/// Why an administrative command was refused. Texts are fixed or name the failed rule.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl AdminError {
    fn invalid(what: impl std::fmt::Display) -> Self {
        Self::Invalid(what.to_string())
    }
}

/// A fresh random identifier for a stored row.
/// A new random object id.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The tenant with `slug`, or `NotFound`.
pub fn require_tenant(store: &impl TenantStore, slug: &str) -> Result<Tenant, AdminError> {
    store.tenant_by_slug(slug)?.ok_or(AdminError::Store(StoreError::NotFound("unknown tenant")))
}
