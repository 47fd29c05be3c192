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
    /// Applies pending migrations; returns the versions applied.
    pub fn migrate(&self) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn()?;
        let conn: &mut DbConnection = &mut conn;
        let applied = match conn {
            DbConnection::Sqlite(c) => {
                // The file lock of an immediate transaction serialises migrators.
                diesel::connection::AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")
                    .map_err(unavailable)?;
                let r = c.run_pending_migrations(SQLITE).map(|v| v.iter().map(|m| m.to_string()).collect::<Vec<_>>());
                use diesel::connection::TransactionManager;
                match r {
                    Ok(v) => diesel::connection::AnsiTransactionManager::commit_transaction(c)
                        .map(|_| v)
                        .map_err(unavailable)?,
                    Err(e) => {
                        let _ = diesel::connection::AnsiTransactionManager::rollback_transaction(c);
                        return Err(unavailable(e));
                    }
                }
            }
            DbConnection::Pg(c) => {
                diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))
                    .execute(c)
                    .map_err(unavailable)?;
                let r = c.run_pending_migrations(POSTGRES).map(|v| v.iter().map(|m| m.to_string()).collect::<Vec<_>>());
                let _ = diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})")).execute(c);
                r.map_err(unavailable)?
            }
        };
        Ok(applied)
    }
}
