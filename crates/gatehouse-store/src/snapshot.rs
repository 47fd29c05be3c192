//! D2: consistent snapshots of the database, and restoring them. SQLite: `VACUUM INTO`, a copy
//! made inside one read transaction while the server keeps running. PostgreSQL: `pg_dump` of
//! the schema Gatehouse uses, in the custom format, restored by `pg_restore` in one
//! transaction. Encrypting the snapshot is the caller's (`gatehouse_core::backup`).

use std::io::Write;
use std::process::{Command, Stdio};

use diesel::connection::SimpleConnection;
use diesel::sql_types::Text;
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl, SqliteConnection};
use gatehouse_core::StoreError;

use crate::conn::DbUrl;
use crate::error::unavailable;

/// The first bytes of every SQLite database file.
const SQLITE_MAGIC: &[u8] = b"SQLite format 3\0";

/// A consistent snapshot of the database at `url`.
pub fn snapshot(url: &DbUrl) -> Result<Vec<u8>, StoreError> {
    match url {
        DbUrl::Sqlite(path) => sqlite_snapshot(path),
        DbUrl::Postgres(url) => pg_snapshot(url),
    }
}

/// Replaces the database at `url` by `snapshot`. The server must be stopped (SQLite: its open
/// connections would keep the replaced file).
pub fn restore(url: &DbUrl, snapshot: &[u8]) -> Result<(), StoreError> {
    match url {
        DbUrl::Sqlite(path) => sqlite_restore(path, snapshot),
        DbUrl::Postgres(url) => pg_restore(url, snapshot),
    }
}

fn sqlite_snapshot(path: &str) -> Result<Vec<u8>, StoreError> {
    let tmp = format!("{path}.snapshot-{}", gatehouse_core::crypto::random_token());
    let mut c = SqliteConnection::establish(path).map_err(unavailable)?;
    c.batch_execute("PRAGMA busy_timeout = 10000;").map_err(unavailable)?;
    c.batch_execute(&format!("VACUUM INTO '{}'", tmp.replace('\'', "''"))).map_err(unavailable)?;
    let bytes = std::fs::read(&tmp).map_err(unavailable);
    let _ = std::fs::remove_file(&tmp);
    bytes
}

fn sqlite_restore(path: &str, snapshot: &[u8]) -> Result<(), StoreError> {
    if !snapshot.starts_with(SQLITE_MAGIC) {
        return Err(StoreError::Unavailable("the backup does not hold a SQLite database".into()));
    }
    let tmp = format!("{path}.restore-tmp");
    let mut file = std::fs::File::create(&tmp).map_err(unavailable)?;
    file.write_all(snapshot).and_then(|()| file.sync_all()).map_err(unavailable)?;
    // The old write-ahead log belongs to the old file; replaying it onto the snapshot would
    // corrupt it.
    for suffix in ["-wal", "-shm"] {
        match std::fs::remove_file(format!("{path}{suffix}")) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(unavailable(e)),
        }
    }
    std::fs::rename(&tmp, path).map_err(unavailable)?;
    if let Some(dir) = std::path::Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(unavailable)?;
    }
    Ok(())
}

fn pg_snapshot(url: &str) -> Result<Vec<u8>, StoreError> {
    let mut c = PgConnection::establish(url).map_err(unavailable)?;
    let schema = current_schema(&mut c)?;
    drop(c);
    let (target, password) = without_password(url)?;
    let args = ["--format=custom", "--no-owner", "--no-privileges", "--schema", &schema, "--dbname", &target];
    run(pg_tool("pg_dump", password).args(args), &[])
}

/// PostgreSQL restore, all or nothing: the archive is turned into SQL (without its schema
/// entry: the schema stays, with its grants), and psql runs, in one transaction, the drops of
/// everything now in the schema followed by that SQL. So a backup taken before a migration
/// restores onto the migrated schema too.
fn pg_restore(url: &str, snapshot: &[u8]) -> Result<(), StoreError> {
    let mut c = PgConnection::establish(url).map_err(unavailable)?;
    let schema = current_schema(&mut c)?;
    let drops = schema_drops(&mut c, &schema)?;
    drop(c);
    let (target, password) = without_password(url)?;
    let list = run(pg_tool("pg_restore", None).arg("--list"), snapshot)?;
    let entries: String = String::from_utf8_lossy(&list)
        .lines()
        .filter(|line| line.split_whitespace().nth(3) != Some("SCHEMA"))
        .map(|line| format!("{line}\n"))
        .collect();
    let list_file =
        std::env::temp_dir().join(format!("gatehouse-restore-{}.list", gatehouse_core::crypto::random_token()));
    std::fs::write(&list_file, entries).map_err(unavailable)?;
    let to_sql = ["--no-owner", "--no-privileges", "--file", "-", "--use-list"];
    let script = run(pg_tool("pg_restore", None).args(to_sql).arg(&list_file), snapshot);
    let _ = std::fs::remove_file(&list_file);
    let mut input = b"SET client_min_messages = warning;\n".to_vec();
    for statement in drops {
        input.extend_from_slice(statement.as_bytes());
        input.push(b'\n');
    }
    input.extend_from_slice(&script?);
    let psql = ["--no-psqlrc", "--quiet", "--set", "ON_ERROR_STOP=1", "--single-transaction", "--dbname", &target];
    run(pg_tool("psql", password).args(psql), &input).map(|_| ())
}

/// The schema the connection works in (its `search_path`).
fn current_schema(c: &mut PgConnection) -> Result<String, StoreError> {
    let current: Named = diesel::sql_query("SELECT current_schema() AS name").get_result(c).map_err(unavailable)?;
    Ok(current.name)
}

#[derive(QueryableByName)]
struct Named {
    #[diesel(sql_type = Text)]
    name: String,
}

/// `DROP` statements for every table, view, sequence and function in `schema`.
fn schema_drops(c: &mut PgConnection, schema: &str) -> Result<Vec<String>, StoreError> {
    const OBJECTS: &str = "\
        SELECT format('DROP TABLE IF EXISTS %I.%I CASCADE;', table_schema, table_name) AS name \
          FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE' \
        UNION ALL SELECT format('DROP VIEW IF EXISTS %I.%I CASCADE;', table_schema, table_name) \
          FROM information_schema.views WHERE table_schema = $1 \
        UNION ALL SELECT format('DROP SEQUENCE IF EXISTS %I.%I CASCADE;', sequence_schema, sequence_name) \
          FROM information_schema.sequences WHERE sequence_schema = $1 \
        UNION ALL SELECT format('DROP FUNCTION IF EXISTS %I.%I(%s) CASCADE;', n.nspname, p.proname, \
                                pg_get_function_identity_arguments(p.oid)) \
          FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1";
    let rows: Vec<Named> = diesel::sql_query(OBJECTS).bind::<Text, _>(schema).load(c).map_err(unavailable)?;
    Ok(rows.into_iter().map(|r| r.name).collect())
}

/// Runs `cmd` with `input` on its stdin; its stdout, or its stderr as the error.
fn run(cmd: &mut Command, input: &[u8]) -> Result<Vec<u8>, StoreError> {
    let name = cmd.get_program().to_string_lossy().into_owned();
    let mut child =
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().map_err(unavailable)?;
    let mut stdin = child.stdin.take().ok_or_else(|| StoreError::Unavailable(format!("{name} has no input")))?;
    let input = input.to_vec();
    // Fed from another thread, so full output pipes cannot deadlock against the input.
    let feeder = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().map_err(unavailable)?;
    let fed = feeder.join().map_err(|_| StoreError::Unavailable(format!("{name} input failed")))?;
    if !out.status.success() {
        return Err(StoreError::Unavailable(format!("{name} failed: {}", String::from_utf8_lossy(&out.stderr).trim())));
    }
    fed.map_err(unavailable)?;
    Ok(out.stdout)
}

/// A PostgreSQL client tool, quiet, with the password in its environment (never its argv).
fn pg_tool(name: &str, password: Option<String>) -> Command {
    let mut cmd = Command::new(name);
    if let Some(p) = password {
        cmd.env("PGPASSWORD", p);
    }
    cmd
}

/// The URL without its password, and the password, percent-decoded.
fn without_password(url: &str) -> Result<(String, Option<String>), StoreError> {
    let mut parsed = url::Url::parse(url).map_err(unavailable)?;
    let password = parsed.password().map(|p| percent_encoding::percent_decode_str(p).decode_utf8_lossy().into_owned());
    parsed.set_password(None).map_err(|()| StoreError::Unavailable("database URL".into()))?;
    Ok((parsed.to_string(), password))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_leaves_the_url_for_the_environment() {
        let (u, p) = without_password("postgres://gh:s%40cret@db:5432/gatehouse?sslmode=require").unwrap();
        assert_eq!(u, "postgres://gh@db:5432/gatehouse?sslmode=require");
        assert_eq!(p.as_deref(), Some("s@cret"));
        assert_eq!(without_password("postgres://postgres@127.0.0.1/x").unwrap().1, None);
    }
}
