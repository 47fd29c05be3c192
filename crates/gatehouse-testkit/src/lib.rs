//! Test support shared by the store contract tests and the server integration tests.
//!
//! [`databases`] yields one fresh, empty database per backend: a SQLite file in a temporary
//! directory always, and, when `GATEHOUSE_TEST_POSTGRES_URL` is set, a private schema in that
//! PostgreSQL database (dropped again when the handle is dropped). Tests written once against
//! the handle therefore run on both backends.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use diesel::{Connection, PgConnection, RunQueryDsl, SqliteConnection};

/// The variable that names the PostgreSQL server for tests.
pub const POSTGRES_ENV: &str = "GATEHOUSE_TEST_POSTGRES_URL";

/// A temporary directory for the owner only, as Gatehouse's data directory must be.
fn private_dir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).expect("chmod 700");
    dir
}

/// One fresh, empty database.
pub struct TestDatabase {
    /// The URL to give Gatehouse (`GATEHOUSE_DATABASE_URL`).
    pub url: String,
    /// `sqlite` or `postgres`, for assertion messages.
    pub backend: &'static str,
    /// Holds the data directory of a SQLite database.
    pub dir: tempfile::TempDir,
    pg: Option<(String, String)>,
}

impl std::fmt::Debug for TestDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.backend)
    }
}

impl TestDatabase {
    /// A SQLite database file in a new temporary directory.
    pub fn sqlite() -> Self {
        let dir = private_dir();
        let url = format!("sqlite://{}", dir.path().join("gatehouse.db").display());
        Self { url, backend: "sqlite", dir, pg: None }
    }

    /// A new schema in the PostgreSQL database at `base`, reached through `search_path`.
    pub fn postgres(base: &str) -> Self {
        let schema = format!("gh_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = PgConnection::establish(base).unwrap_or_else(|e| panic!("{POSTGRES_ENV}: cannot connect: {e}"));
        diesel::sql_query(format!("CREATE SCHEMA {schema}")).execute(&mut conn).expect("create schema");
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-csearch_path%3D{schema}");
        let dir = private_dir();
        Self { url, backend: "postgres", dir, pg: Some((base.to_owned(), schema)) }
    }
}

impl TestDatabase {
    /// Runs raw SQL on the database behind Gatehouse's back, as someone with database access
    /// could; panics if the database refuses it.
    pub fn execute(&self, sql: &str) {
        if let Some(path) = self.url.strip_prefix("sqlite://") {
            let mut c = SqliteConnection::establish(path).expect("open sqlite");
            diesel::sql_query(sql).execute(&mut c).unwrap_or_else(|e| panic!("{sql}: {e}"));
        } else {
            let mut c = PgConnection::establish(&self.url).expect("connect postgres");
            diesel::sql_query(sql).execute(&mut c).unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
    }

    /// Runs a query whose one column, named `row`, is text, and returns its rows: for
    /// looking at what is stored, as someone with database access could.
    pub fn query_text(&self, sql: &str) -> Vec<String> {
        #[derive(diesel::QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Text)]
            row: String,
        }
        let rows: Vec<Row> = if let Some(path) = self.url.strip_prefix("sqlite://") {
            let mut c = SqliteConnection::establish(path).expect("open sqlite");
            diesel::sql_query(sql).load(&mut c).unwrap_or_else(|e| panic!("{sql}: {e}"))
        } else {
            let mut c = PgConnection::establish(&self.url).expect("connect postgres");
            diesel::sql_query(sql).load(&mut c).unwrap_or_else(|e| panic!("{sql}: {e}"))
        };
        rows.into_iter().map(|r| r.row).collect()
    }

    /// Like [`execute`](Self::execute), but returns whether the database accepted it.
    pub fn try_execute(&self, sql: &str) -> bool {
        std::panic::catch_unwind(|| self.execute(sql)).is_ok()
    }
}

/// A connection holding the database's write lock (SQLite) or exclusive locks on the tables
/// every request writes (PostgreSQL) until dropped: a database that takes no writes.
pub enum WriteLock {
    Sqlite(SqliteConnection),
    Pg(PgConnection),
}

impl TestDatabase {
    /// Takes the write lock; see [`WriteLock`].
    pub fn lock_writes(&self) -> WriteLock {
        if let Some(path) = self.url.strip_prefix("sqlite://") {
            let mut c = SqliteConnection::establish(path).expect("open sqlite");
            diesel::sql_query("BEGIN EXCLUSIVE").execute(&mut c).expect("take the write lock");
            WriteLock::Sqlite(c)
        } else {
            let mut c = PgConnection::establish(&self.url).expect("connect postgres");
            diesel::sql_query("BEGIN").execute(&mut c).expect("begin");
            diesel::sql_query("LOCK TABLE audit_log, write_probe IN ACCESS EXCLUSIVE MODE")
                .execute(&mut c)
                .expect("lock the tables");
            WriteLock::Pg(c)
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((base, schema)) = &self.pg
            && let Ok(mut conn) = PgConnection::establish(base)
        {
            let _ = diesel::sql_query(format!("DROP SCHEMA {schema} CASCADE")).execute(&mut conn);
        }
    }
}

/// Fresh databases on every backend available: SQLite, and PostgreSQL when configured.
pub fn databases() -> Vec<TestDatabase> {
    let mut out = vec![TestDatabase::sqlite()];
    if let Ok(base) = std::env::var(POSTGRES_ENV)
        && !base.is_empty()
    {
        out.push(TestDatabase::postgres(&base));
    }
    out
}
