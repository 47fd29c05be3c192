//! Gatehouse storage: the only diesel code. One schema and one code path over SQLite and
//! PostgreSQL (a `MultiConnection`), chosen by the URL scheme; the implementation of the
//! storage traits of `gatehouse-core`.

mod accounts;
mod admin;
mod audit;
mod clients;
mod conn;
mod error;
mod flow;
mod health;
mod keys;
mod lockout;
mod mail;
mod mfa;
mod migrate;
pub mod purge;
mod schema;
mod session_end;
mod signing_keys;
pub mod snapshot;
mod tenants;
mod upstreams;
mod users;

use std::sync::Arc;

use gatehouse_core::StoreError;
use gatehouse_core::crypto::{MasterKey, Vault};

pub use conn::{Backend, Database, DbUrl};

/// The database and the unlocked vault: what every use case runs against.
#[derive(Clone)]
pub struct Store {
    db: Database,
    vault: Arc<Vault>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("backend", &self.db.backend()).finish_non_exhaustive()
    }
}

/// Why the store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("database: {0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Crypto(#[from] gatehouse_core::crypto::CryptoError),
}

impl Store {
    /// Connects, applies pending migrations, creates missing data keys, and unlocks them with
    /// the master key (D1). A wrong master key fails here, before anything is served.
    pub fn open(url: &DbUrl, master: &MasterKey) -> Result<Self, OpenError> {
        Self::on(Database::connect(url)?, master)
    }

    /// [`Store::open`] on a database already connected (e.g. one checked for a pre-migration
    /// backup first).
    pub fn on(db: Database, master: &MasterKey) -> Result<Self, OpenError> {
        db.migrate()?;
        let vault = keys::unlock_vault(&db, master)?;
        Ok(Self { db, vault: Arc::new(vault) })
    }

    /// The unlocked data keys.
    pub fn vault(&self) -> &Arc<Vault> {
        &self.vault
    }

    /// The database underneath.
    pub fn database(&self) -> &Database {
        &self.db
    }
}
