//! D2: `gatehouse backup` and `gatehouse restore`. A backup is a consistent snapshot of the
//! database sealed under a fresh key that the master key wraps (`gatehouse_core::backup`); a
//! restore brings it back into the same kind of database, then checks it opens with the master
//! key and that its audit chain verifies.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use gatehouse_core::UnixTime;
use gatehouse_core::audit::{AuditEvent, verify_chain};
use gatehouse_core::backup;
use gatehouse_core::store::AuditStore;
use gatehouse_store::snapshot;
use serde_json::{Value, json};

use crate::config::Config;

fn backend_name(config: &Config) -> String {
    format!("{:?}", config.database.backend()).to_lowercase()
}

/// Writes an encrypted snapshot to `out` (a new file, mode 0600); the backup is audited.
pub fn backup(config: &Config, out: &Path, actor: &str) -> anyhow::Result<(String, Value)> {
    if out.exists() {
        bail!("{} already exists; a backup never overwrites a file", out.display());
    }
    // Opening the store first proves the master key opens this database's data keys.
    let store = crate::open_store(config)?;
    let master = crate::master_key::load(config)?;
    let taken = snapshot::snapshot(&config.database)?;
    let backend = backend_name(config);
    let sealed = backup::seal(&master, &backend, UnixTime::now().0, &taken)?;
    write_new(out, &sealed)?;
    let shown = out.display().to_string();
    let audit = AuditEvent::new(actor, "backup.create").details(json!({ "file": shown, "bytes": sealed.len() }));
    store.append_audit(&audit)?;
    Ok((
        format!("{backend} backup written to {shown} ({} bytes, encrypted)", sealed.len()),
        json!({ "file": shown, "backend": backend, "bytes": sealed.len() }),
    ))
}

/// Replaces the database by the backup in `from`; refuses a backup of the other backend, one
/// the master key does not open, or one that was altered, and then changes nothing.
pub fn restore(config: &Config, from: &Path, actor: &str) -> anyhow::Result<(String, Value)> {
    let file = std::fs::read(from).with_context(|| format!("reading {}", from.display()))?;
    let master = crate::master_key::load(config)?;
    let (header, taken) = backup::open(&master, &file)?;
    let backend = backend_name(config);
    if header.backend != backend {
        bail!("this backup holds a {} database; the configured database is {backend}", header.backend);
    }
    crate::ensure_data_dir(config)?;
    snapshot::restore(&config.database, &taken)?;
    let store = crate::open_store(config)?;
    let report = verify_chain(&store, store.vault()).context("the restored audit chain")?;
    let audit = AuditEvent::new(actor, "backup.restore")
        .details(json!({ "file": from.display().to_string(), "backup_created_at": header.created_at }));
    store.append_audit(&audit)?;
    Ok((
        format!(
            "restored the {backend} backup of {} from {}; audit chain intact ({} records before the restore's own)",
            header.created_at,
            from.display(),
            report.records
        ),
        json!({ "backend": backend, "backup_created_at": header.created_at, "audit_records": report.records }),
    ))
}

/// D2: migrations take a backup first. When migrations are pending on a database that holds
/// data, a backup is written to `<data dir>/backups/pre-migration-<unix time>-<random>.ghbak` before
/// they run; its path is returned.
pub fn before_migrating(config: &Config, db: &gatehouse_store::Database) -> anyhow::Result<Option<PathBuf>> {
    if !db.needs_backup_before_migrating()? {
        return Ok(None);
    }
    let master = crate::master_key::load(config)?;
    let dir = config.data_dir.join("backups");
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&dir)?;
    let now = UnixTime::now().0;
    // The random part keeps two backups of the same second apart.
    let path = dir.join(format!("pre-migration-{now}-{}.ghbak", &gatehouse_core::crypto::random_token()[..8]));
    let sealed = backup::seal(&master, &backend_name(config), now, &snapshot::snapshot(&config.database)?)?;
    write_new(&path, &sealed)?;
    tracing::warn!(path = %path.display(), "migrations pending: the database was backed up first");
    Ok(Some(path))
}

fn write_new(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}
