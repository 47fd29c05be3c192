//! Envelope encryption at rest (D1): AES-256-GCM under a data-encryption key (DEK) per kind of
//! secret; each DEK is stored wrapped (AES-256-GCM) by the master key.

use std::collections::HashMap;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use gatehouse_types::Secret;

use super::random::random_bytes;

/// Why a cryptographic operation refused; no variant carries key or plaintext material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("the master key must be 32 bytes, base64-encoded")]
    MasterKeyFormat,
    #[error("the master key does not open this database's data keys (wrong master key?)")]
    WrongMasterKey,
    #[error("no data key of kind {0} is loaded")]
    MissingKey(&'static str),
    #[error("encryption failed")]
    SealFailed,
    #[error("ciphertext is malformed, tampered with, or sealed for another context")]
    Tampered,
}

/// The kinds of secret, each under its own DEK, so one leaked DEK exposes one kind only (D1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// Token signing private keys.
    SigningKeys,
    /// TOTP shared secrets.
    Totp,
    /// Client secrets of upstream identity providers.
    UpstreamSecrets,
    /// HMAC key for client-secret hashes (O3).
    ClientSecrets,
    /// HMAC key of the audit chain (L3).
    Audit,
    /// Backup snapshots (D2).
    Backup,
    /// Mail waiting in the outbox (it carries single-use links).
    Mail,
}

impl KeyKind {
    /// Every kind; all are created at first start.
    pub const ALL: [KeyKind; 7] = [
        Self::SigningKeys,
        Self::Totp,
        Self::UpstreamSecrets,
        Self::ClientSecrets,
        Self::Audit,
        Self::Backup,
        Self::Mail,
    ];

    /// The stored name of the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SigningKeys => "signing_keys",
            Self::Totp => "totp",
            Self::UpstreamSecrets => "upstream_secrets",
            Self::ClientSecrets => "client_secrets",
            Self::Audit => "audit",
            Self::Backup => "backup",
            Self::Mail => "mail",
        }
    }

    /// The kind named `name`, if any.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// A DEK as stored: wrapped by the master key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKey {
    pub kind: String,
    pub version: i32,
    pub wrapped: Vec<u8>,
}

/// The master key: 256 bits from a file or the environment; it only wraps DEKs.
pub struct MasterKey(LessSafeKey);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

/// AAD binding a wrapped DEK to its kind and version, so one cannot be swapped for another.
fn wrap_aad(kind: &str, version: i32) -> String {
    format!("gatehouse-dek:{kind}:{version}")
}

/// Seals `plaintext` as `nonce || ciphertext || tag` under `key`.
fn seal_raw(key: &LessSafeKey, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let nonce = random_bytes::<NONCE_LEN>();
    let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + AES_256_GCM.tag_len());
    out.extend_from_slice(&nonce);
    let mut body = plaintext.to_vec();
    key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), &mut body)
        .map_err(|_| CryptoError::SealFailed)?;
    out.extend_from_slice(&body);
    Ok(out)
}

/// Opens `nonce || ciphertext || tag`; any change to either part, or another AAD, fails.
fn open_raw(key: &LessSafeKey, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if sealed.len() < NONCE_LEN + AES_256_GCM.tag_len() {
        return Err(CryptoError::Tampered);
    }
    let (nonce, body) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError::Tampered)?;
    let mut body = body.to_vec();
    let plain = key.open_in_place(nonce, Aad::from(aad), &mut body).map_err(|_| CryptoError::Tampered)?;
    let len = plain.len();
    body.truncate(len);
    Ok(body)
}

/// An AES-256-GCM key from 32 raw bytes.
fn aead_key(bytes: &[u8; 32]) -> Result<LessSafeKey, CryptoError> {
    UnboundKey::new(&AES_256_GCM, bytes).map(LessSafeKey::new).map_err(|_| CryptoError::MasterKeyFormat)
}

impl MasterKey {
    /// Parses the base64 text of a master key file or variable.
    pub fn from_base64(text: &str) -> Result<Self, CryptoError> {
        let bytes = STANDARD.decode(text.trim()).map_err(|_| CryptoError::MasterKeyFormat)?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::MasterKeyFormat)?;
        Ok(Self(aead_key(&bytes)?))
    }

    /// A new random master key and its base64 text, for a development data directory.
    pub fn generate() -> (Self, Secret<String>) {
        let text = STANDARD.encode(random_bytes::<32>());
        // A fresh 32-byte value always parses.
        match Self::from_base64(&text) {
            Ok(key) => (key, Secret::new(text)),
            Err(_) => unreachable!("32 random bytes are a valid key"),
        }
    }

    /// A new random DEK of `kind`, wrapped by this master key.
    pub fn new_data_key(&self, kind: KeyKind, version: i32) -> Result<WrappedKey, CryptoError> {
        let dek = random_bytes::<32>();
        let wrapped = seal_raw(&self.0, wrap_aad(kind.as_str(), version).as_bytes(), &dek)?;
        Ok(WrappedKey { kind: kind.as_str().to_owned(), version, wrapped })
    }

    /// Unwraps a stored DEK; a wrong master key or a swapped row fails.
    fn unwrap_key(&self, key: &WrappedKey) -> Result<[u8; 32], CryptoError> {
        let raw = open_raw(&self.0, wrap_aad(&key.kind, key.version).as_bytes(), &key.wrapped)
            .map_err(|_| CryptoError::WrongMasterKey)?;
        raw.try_into().map_err(|_| CryptoError::WrongMasterKey)
    }

    /// Re-wraps a stored DEK under `new`: master-key rotation leaves every secret as it is.
    pub fn rewrap(&self, key: &WrappedKey, new: &MasterKey) -> Result<WrappedKey, CryptoError> {
        let dek = self.unwrap_key(key)?;
        let wrapped = seal_raw(&new.0, wrap_aad(&key.kind, key.version).as_bytes(), &dek)?;
        Ok(WrappedKey { kind: key.kind.clone(), version: key.version, wrapped })
    }
}

/// One unwrapped DEK in both the forms it is used in.
struct DataKey {
    version: i32,
    aead: LessSafeKey,
    mac: hmac::Key,
}

/// Format byte of sealed values, so the layout can change later.
const SEALED_V1: u8 = 1;

/// The unwrapped DEKs; the helper every secret stored at rest goes through (D1).
pub struct Vault {
    keys: HashMap<KeyKind, Vec<DataKey>>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault([redacted])")
    }
}

impl Vault {
    /// Unwraps every stored DEK with `master`; fails closed on the first that does not open.
    pub fn unlock(master: &MasterKey, stored: &[WrappedKey]) -> Result<Self, CryptoError> {
        let mut keys: HashMap<KeyKind, Vec<DataKey>> = HashMap::new();
        for w in stored {
            let Some(kind) = KeyKind::parse(&w.kind) else { continue };
            let raw = master.unwrap_key(w)?;
            let aead = aead_key(&raw)?;
            let mac = hmac::Key::new(hmac::HMAC_SHA256, &raw);
            keys.entry(kind).or_default().push(DataKey { version: w.version, aead, mac });
        }
        for list in keys.values_mut() {
            list.sort_by_key(|k| k.version);
        }
        Ok(Self { keys })
    }

    /// Kinds that have no DEK yet (to be created and stored before unlocking again).
    pub fn missing_kinds(stored: &[WrappedKey]) -> Vec<KeyKind> {
        KeyKind::ALL.into_iter().filter(|k| !stored.iter().any(|w| w.kind == k.as_str())).collect()
    }

    fn newest(&self, kind: KeyKind) -> Result<&DataKey, CryptoError> {
        self.keys.get(&kind).and_then(|v| v.last()).ok_or(CryptoError::MissingKey(kind.as_str()))
    }

    /// Associated data: the kind and the caller's context (e.g. tenant and row id), so a sealed
    /// value copied into another row or kind does not open.
    fn aad(kind: KeyKind, context: &[u8]) -> Vec<u8> {
        let mut aad = Vec::with_capacity(16 + context.len());
        aad.extend_from_slice(kind.as_str().as_bytes());
        aad.push(0);
        aad.extend_from_slice(context);
        aad
    }

    /// Encrypts a secret for storage: `1 || dek version || nonce || ciphertext || tag`.
    pub fn seal(&self, kind: KeyKind, context: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let key = self.newest(kind)?;
        let mut out = vec![SEALED_V1];
        out.extend_from_slice(&key.version.to_be_bytes());
        out.extend_from_slice(&seal_raw(&key.aead, &Self::aad(kind, context), plaintext)?);
        Ok(out)
    }

    /// Decrypts a stored secret sealed with [`Vault::seal`] under the same kind and context.
    pub fn open(&self, kind: KeyKind, context: &[u8], sealed: &[u8]) -> Result<Secret<Vec<u8>>, CryptoError> {
        let (&format, rest) = sealed.split_first().ok_or(CryptoError::Tampered)?;
        if format != SEALED_V1 || rest.len() < 4 {
            return Err(CryptoError::Tampered);
        }
        let (version, body) = rest.split_at(4);
        let version = i32::from_be_bytes([version[0], version[1], version[2], version[3]]);
        let key =
            self.keys.get(&kind).and_then(|v| v.iter().find(|k| k.version == version)).ok_or(CryptoError::Tampered)?;
        open_raw(&key.aead, &Self::aad(kind, context), body).map(Secret::new)
    }

    /// HMAC-SHA256 under the newest DEK of `kind`: keyed hashes of client secrets (O3) and the
    /// audit chain (L3). These kinds are never re-keyed, only re-wrapped.
    pub fn keyed_hash(&self, kind: KeyKind, data: &[&[u8]]) -> Result<[u8; 32], CryptoError> {
        let key = self.newest(kind)?;
        let mut ctx = hmac::Context::with_key(&key.mac);
        for part in data {
            ctx.update(part);
        }
        let tag = ctx.sign();
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault(master: &MasterKey) -> (Vault, Vec<WrappedKey>) {
        let stored: Vec<_> = KeyKind::ALL.into_iter().map(|k| master.new_data_key(k, 1).unwrap()).collect();
        (Vault::unlock(master, &stored).unwrap(), stored)
    }

    #[test]
    fn round_trip() {
        let (master, _) = MasterKey::generate();
        let (v, _) = vault(&master);
        let sealed = v.seal(KeyKind::Totp, b"tenant-1/user-1", b"JBSWY3DPEHPK3PXP").unwrap();
        assert!(!sealed.windows(8).any(|w| w == b"JBSWY3DP"));
        let opened = v.open(KeyKind::Totp, b"tenant-1/user-1", &sealed).unwrap();
        assert_eq!(opened.expose(), b"JBSWY3DPEHPK3PXP");
    }

    #[test]
    fn wrong_master_key_refused() {
        let (master, _) = MasterKey::generate();
        let (_, stored) = vault(&master);
        let (other, _) = MasterKey::generate();
        assert_eq!(Vault::unlock(&other, &stored).unwrap_err(), CryptoError::WrongMasterKey);
    }

    #[test]
    fn tampered_ciphertext_refused() {
        let (master, _) = MasterKey::generate();
        let (v, _) = vault(&master);
        let sealed = v.seal(KeyKind::SigningKeys, b"ctx", b"private key").unwrap();
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            assert!(v.open(KeyKind::SigningKeys, b"ctx", &bad).is_err(), "byte {i}");
        }
        assert!(v.open(KeyKind::SigningKeys, b"other ctx", &sealed).is_err());
        assert!(v.open(KeyKind::Totp, b"ctx", &sealed).is_err());
        assert!(v.open(KeyKind::SigningKeys, b"ctx", &sealed[..sealed.len() - 1]).is_err());
    }

    #[test]
    fn dek_kinds_are_separate_keys() {
        let (master, _) = MasterKey::generate();
        let (v, _) = vault(&master);
        let a = v.keyed_hash(KeyKind::ClientSecrets, &[b"x"]).unwrap();
        let b = v.keyed_hash(KeyKind::Audit, &[b"x"]).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn rewrap_keeps_secrets_readable() {
        let (old, _) = MasterKey::generate();
        let (v, stored) = vault(&old);
        let sealed = v.seal(KeyKind::Totp, b"c", b"s").unwrap();
        let (new, _) = MasterKey::generate();
        let rewrapped: Vec<_> = stored.iter().map(|w| old.rewrap(w, &new).unwrap()).collect();
        let v2 = Vault::unlock(&new, &rewrapped).unwrap();
        assert_eq!(v2.open(KeyKind::Totp, b"c", &sealed).unwrap().expose(), b"s");
        assert!(Vault::unlock(&old, &rewrapped).is_err());
    }

    #[test]
    fn master_key_format() {
        assert_eq!(MasterKey::from_base64("c2hvcnQ=").unwrap_err(), CryptoError::MasterKeyFormat);
        assert_eq!(MasterKey::from_base64("not base64!").unwrap_err(), CryptoError::MasterKeyFormat);
    }
}
