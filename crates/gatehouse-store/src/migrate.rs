//! Embedded migrations for both backends, applied by `gatehouse migrate` and at every start.
//! Concurrent starters (server and CLI) serialise on a lock, so each migration runs once.

use diesel::RunQueryDsl;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use gatehouse_core::StoreError;

use crate::conn::{Database, DbConnection};
use crate::error::unavailable;

const SQLITE: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const POSTGRES: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// The migration that stores usernames lower-cased (issue 14): it cannot run while two
/// accounts of a tenant differ only in case.
const USERNAMES_MIGRATION: &str = "20261204000010";

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
            refuse_username_collisions(conn)?;
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

/// Before the usernames migration: accounts whose usernames differ only in case would become
/// one name; the operator must rename or delete all but one first, so nothing is merged or
/// lost silently. Refuses with the list of such names.
fn refuse_username_collisions(conn: &mut DbConnection) -> Result<(), StoreError> {
    let (applied, pending) = match conn {
        DbConnection::Sqlite(c) => (c.applied_migrations(), c.pending_migrations(SQLITE).map(versions)),
        DbConnection::Pg(c) => (c.applied_migrations(), c.pending_migrations(POSTGRES).map(versions)),
    };
    if applied.map_err(unavailable)?.is_empty()
        || !pending.map_err(unavailable)?.iter().any(|v| v == USERNAMES_MIGRATION)
    {
        return Ok(());
    }
    #[derive(diesel::QueryableByName)]
    struct Collision {
        #[diesel(sql_type = diesel::sql_types::Text)]
        slug: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        username: String,
    }
    let sql = "SELECT t.slug AS slug, lower(u.username) AS username FROM users u JOIN tenants t ON t.id = u.tenant_id \
               GROUP BY t.slug, lower(u.username) HAVING COUNT(*) > 1 ORDER BY 1, 2";
    let found: Vec<Collision> = diesel::sql_query(sql).load(conn).map_err(unavailable)?;
    if found.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = found.iter().map(|c| format!("{}/{}", c.slug, c.username)).collect();
    Err(StoreError::Refused(format!(
        "usernames are now compared without regard to case, and these name several accounts each (tenant/username): \
         {}. Rename or delete all but one of each with the previous Gatehouse version, then upgrade again",
        names.join(", ")
    )))
}

/// The versions of `migrations`, as diesel prints them.
fn versions<M>(migrations: Vec<Box<dyn diesel::migration::Migration<M>>>) -> Vec<String>
where
    M: diesel::backend::Backend,
{
    migrations.iter().map(|m| m.name().version().to_string()).collect()
}
