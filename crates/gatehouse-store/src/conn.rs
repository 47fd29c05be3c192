//! Connections: the backend is chosen by the URL scheme, never by trial (a mistyped PostgreSQL
//! URL must not silently become a SQLite file). Pooled with r2d2; write transactions on SQLite
//! take the write lock up front (`BEGIN IMMEDIATE`) so concurrent writers wait instead of failing.

use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::r2d2::{self, ManageConnection, Pool, PooledConnection, R2D2Connection};
use diesel::{Connection, PgConnection, SqliteConnection};
use gatehouse_core::StoreError;

use crate::error::unavailable;

/// The one connection type: either backend, behind one query code path.
#[derive(diesel::MultiConnection)]
pub(crate) enum DbConnection {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

/// Runs the same diesel code on the inner connection, for what `MultiConnection` cannot
/// express (upserts, backend-specific statements).
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::conn::DbConnection::Pg($c) => $body,
            $crate::conn::DbConnection::Sqlite($c) => $body,
        }
    };
}
pub(crate) use on_backend;

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A parsed `GATEHOUSE_DATABASE_URL`: `sqlite://PATH` or `postgres://...`.
#[derive(Clone, PartialEq, Eq)]
pub enum DbUrl {
    Sqlite(String),
    Postgres(String),
}

impl DbUrl {
    /// The file of a SQLite database (`None` for PostgreSQL or an in-memory database).
    pub fn sqlite_path(&self) -> Option<&std::path::Path> {
        match self {
            Self::Sqlite(path) if !path.starts_with(':') => Some(std::path::Path::new(path.as_str())),
            _ => None,
        }
    }

    /// Parses the URL by its scheme; anything else is refused with the accepted forms.
    pub fn parse(url: &str) -> Result<Self, &'static str> {
        if let Some(path) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
            if path.is_empty() {
                return Err("a sqlite:// database URL needs a file path");
            }
            return Ok(Self::Sqlite(path.to_owned()));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(url.to_owned()));
        }
        Err("database URL must start with sqlite:// or postgres://")
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        match self {
            Self::Sqlite(_) => Backend::Sqlite,
            Self::Postgres(_) => Backend::Postgres,
        }
    }
}

/// Never prints a password embedded in a PostgreSQL URL.
impl std::fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(p) => write!(f, "sqlite://{p}"),
            Self::Postgres(u) => match u.split_once("://").and_then(|(_, rest)| rest.rsplit_once('@')) {
                Some((_, host)) => write!(f, "postgres://[redacted]@{host}"),
                None => f.write_str(u),
            },
        }
    }
}

/// Per-connection SQLite settings: WAL for concurrent readers, a busy timeout so the CLI and the
/// server share the file, enforced foreign keys, and fully durable commits.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; \
     PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;";

/// r2d2 manager that connects by scheme.
pub(crate) struct Manager(DbUrl);

impl ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        match &self.0 {
            DbUrl::Sqlite(path) => {
                let mut c = SqliteConnection::establish(path).map_err(r2d2::Error::ConnectionError)?;
                c.batch_execute(SQLITE_PRAGMAS).map_err(r2d2::Error::QueryError)?;
                Ok(DbConnection::Sqlite(c))
            }
            DbUrl::Postgres(url) => {
                PgConnection::establish(url).map(DbConnection::Pg).map_err(r2d2::Error::ConnectionError)
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        conn.ping().map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        std::thread::panicking() || conn.is_broken()
    }
}

/// A pool of connections to one database.
#[derive(Clone)]
pub struct Database {
    pool: Pool<Manager>,
    backend: Backend,
}

pub(crate) type Conn = PooledConnection<Manager>;

impl Database {
    /// Opens a pool; the first connection is made now, so a bad URL fails at start.
    /// Connections are opened on demand only (`min_idle = 0`): a pool that refills itself in
    /// the background can be inside libpq's connect when a short-lived CLI process exits,
    /// which crashes it.
    pub fn connect(url: &DbUrl) -> Result<Self, StoreError> {
        let size = match url.backend() {
            Backend::Sqlite => 8,
            Backend::Postgres => 16,
        };
        let pool = Pool::builder()
            .max_size(size)
            .min_idle(Some(0))
            .connection_timeout(Duration::from_secs(10))
            .build(Manager(url.clone()))
            .map_err(unavailable)?;
        drop(pool.get().map_err(unavailable)?);
        Ok(Self { pool, backend: url.backend() })
    }

    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A pooled connection.
    pub(crate) fn conn(&self) -> Result<Conn, StoreError> {
        self.pool.get().map_err(unavailable)
    }

    /// Whether the database answers (readiness).
    pub fn ping(&self) -> Result<(), StoreError> {
        self.conn()?.ping().map_err(unavailable)
    }

    /// Runs `f` in one write transaction: committed if it returns `Ok`, rolled back otherwise.
    pub(crate) fn write_tx<T>(
        &self,
        f: impl FnOnce(&mut DbConnection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn()?;
        let conn: &mut DbConnection = &mut conn;
        on_backend!(&mut *conn, |c| c.begin_write()).map_err(unavailable)?;
        match f(conn) {
            Ok(v) => {
                on_backend!(&mut *conn, |c| AnsiTransactionManager::commit_transaction(c)).map_err(unavailable)?;
                Ok(v)
            }
            Err(e) => {
                let _ = on_backend!(&mut *conn, |c| AnsiTransactionManager::rollback_transaction(c));
                Err(e)
            }
        }
    }
}

/// Begins a transaction that will write.
trait BeginWrite {
    fn begin_write(&mut self) -> diesel::QueryResult<()>;
}

impl BeginWrite for SqliteConnection {
    fn begin_write(&mut self) -> diesel::QueryResult<()> {
        AnsiTransactionManager::begin_transaction_sql(self, "BEGIN IMMEDIATE")
    }
}

impl BeginWrite for PgConnection {
    fn begin_write(&mut self) -> diesel::QueryResult<()> {
        AnsiTransactionManager::begin_transaction(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_decides_backend() {
        assert_eq!(DbUrl::parse("sqlite:///tmp/x.db").unwrap().backend(), Backend::Sqlite);
        assert_eq!(DbUrl::parse("postgres://u@h/db").unwrap().backend(), Backend::Postgres);
        assert_eq!(DbUrl::parse("postgresql://u@h/db").unwrap().backend(), Backend::Postgres);
        assert!(DbUrl::parse("postgress://u@h/db").is_err());
        assert!(DbUrl::parse("/tmp/x.db").is_err());
        assert!(DbUrl::parse("sqlite://").is_err());
    }

    #[test]
    fn debug_hides_password() {
        let u = DbUrl::parse("postgres://app:s3cret@db.internal:5432/gh").unwrap();
        assert_eq!(format!("{u:?}"), "postgres://[redacted]@db.internal:5432/gh");
    }
}
