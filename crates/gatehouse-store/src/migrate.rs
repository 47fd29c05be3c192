//! Embedded migrations for both backends, applied by `gatehouse migrate` and at every start.
//! Concurrent starters (server and CLI) serialise on a lock, so each migration runs once.

use diesel::RunQueryDsl;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use gatehouse_core::StoreError;

use crate::conn::{Database, DbConnection};
use crate::error::unavailable;

const SQLITE: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const POSTGRES: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// Arbitrary key of the PostgreSQL advisory lock held while migrating.
const MIGRATION_LOCK: i64 = 0x6761_7465_686f;

impl Database {
    /// D2: whether migrations are pending on a database that already holds data (one with
    /// migrations applied), which must be backed up before they run.
    pub fn needs_backup_before_migrating(&self) -> Result<bool, StoreError> {
        let mut conn = self.conn()?;
        let (applied, pending) = match &mut *conn {
            DbConnection::Sqlite(c) => (c.applied_migrations(), c.pending_migrations(SQLITE).map(|p| p.len())),
            DbConnection::Pg(c) => (c.applied_migrations(), c.pending_migrations(POSTGRES).map(|p| p.len())),
        };
        let applied = applied.map_err(unavailable)?;
        Ok(!applied.is_empty() && pending.map_err(unavailable)? > 0)
    }

    /// Applies pending migrations in one write transaction (all or none); returns the versions
    /// applied. Concurrent migrators (server and CLI starting together) wait for each other:
    /// on SQLite on the write transaction's file lock, on PostgreSQL on a transaction-scoped
    /// advisory lock.
    pub fn migrate(&self) -> Result<Vec<String>, StoreError> {
        self.write_tx(|conn| {
            let applied = match conn {
                DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE),
                DbConnection::Pg(c) => {
                    diesel::sql_query(format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
                        .execute(c)
                        .map_err(unavailable)?;
                    c.run_pending_migrations(POSTGRES)
                }
            }
            .map_err(unavailable)?;
            Ok(applied.iter().map(ToString::to_string).collect())
        })
    }
}
