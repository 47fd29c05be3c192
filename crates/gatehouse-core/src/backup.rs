//! D2: the encrypted backup file. A fresh data key per backup (kind `backup`) seals the
//! database snapshot with AES-256-GCM; the key travels in the file wrapped by the master key,
//! and the header is the associated data, so neither can be swapped or edited.
//!
//! Layout: the magic line, one line of JSON header, then the sealed snapshot.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::crypto::{CryptoError, KeyKind, MasterKey, Vault, WrappedKey};

const MAGIC: &[u8] = b"GATEHOUSE-BACKUP-1\n";

/// What a backup says about itself (readable without the key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupHeader {
    /// `sqlite` or `postgres`: where it can be restored.
    pub backend: String,
    pub created_at: i64,
    /// The snapshot key, wrapped by the master key (base64).
    wrapped_key: String,
}

/// Why a backup file cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("not a Gatehouse backup file")]
    Format,
    #[error("the backup does not open with this master key, or it was altered")]
    Key(#[from] CryptoError),
}

/// Seals `snapshot` of a `backend` database into a backup file.
pub fn seal(master: &MasterKey, backend: &str, created_at: i64, snapshot: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let key = master.new_data_key(KeyKind::Backup, 1)?;
    let header = BackupHeader { backend: backend.to_owned(), created_at, wrapped_key: STANDARD.encode(&key.wrapped) };
    let header_json = serde_json::to_vec(&header).map_err(|_| CryptoError::Tampered)?;
    let vault = Vault::unlock(master, &[key])?;
    let sealed = vault.seal(KeyKind::Backup, &header_json, snapshot)?;
    let mut out = Vec::with_capacity(MAGIC.len() + header_json.len() + 1 + sealed.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&header_json);
    out.push(b'\n');
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// The header of a backup file, without opening it.
pub fn header(file: &[u8]) -> Result<BackupHeader, BackupError> {
    split(file).map(|(h, _, _)| h)
}

/// Opens a backup file: its header and the snapshot.
pub fn open(master: &MasterKey, file: &[u8]) -> Result<(BackupHeader, Vec<u8>), BackupError> {
    let (header, header_json, sealed) = split(file)?;
    let wrapped = STANDARD.decode(&header.wrapped_key).map_err(|_| BackupError::Format)?;
    let key = WrappedKey { kind: KeyKind::Backup.as_str().to_owned(), version: 1, wrapped };
    let vault = Vault::unlock(master, &[key])?;
    let snapshot = vault.open(KeyKind::Backup, header_json, sealed)?;
    Ok((header, snapshot.expose().clone()))
}

fn split(file: &[u8]) -> Result<(BackupHeader, &[u8], &[u8]), BackupError> {
    let rest = file.strip_prefix(MAGIC).ok_or(BackupError::Format)?;
    let end = rest.iter().position(|&b| b == b'\n').ok_or(BackupError::Format)?;
    let (header_json, sealed) = (&rest[..end], &rest[end + 1..]);
    let header = serde_json::from_slice(header_json).map_err(|_| BackupError::Format)?;
    Ok((header, header_json, sealed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_every_alteration_is_refused() {
        let (master, _) = MasterKey::generate();
        let file = seal(&master, "sqlite", 1000, b"SQLite format 3\0 tenants acme").unwrap();
        assert!(!file.windows(4).any(|w| w == b"acme"), "the snapshot is encrypted");
        let (h, snapshot) = open(&master, &file).unwrap();
        assert_eq!((h.backend.as_str(), h.created_at), ("sqlite", 1000));
        assert_eq!(snapshot, b"SQLite format 3\0 tenants acme");
        assert_eq!(header(&file).unwrap(), h);

        let (other, _) = MasterKey::generate();
        assert!(matches!(open(&other, &file), Err(BackupError::Key(_))), "another master key");
        let mut edited = file.clone();
        let at = edited.windows(8).position(|w| w == b"\"sqlite\"").unwrap();
        edited[at + 6] = b'f';
        assert_eq!(header(&edited).unwrap().backend, "sqlitf");
        assert!(matches!(open(&master, &edited), Err(BackupError::Key(_))), "the header is authenticated");
        let mut flipped = file.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(matches!(open(&master, &flipped), Err(BackupError::Key(_))), "the snapshot is authenticated");
        assert!(matches!(open(&master, b"hello"), Err(BackupError::Format)));
    }
}
