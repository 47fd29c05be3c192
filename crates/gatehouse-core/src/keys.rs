//! Signing-key lifecycle per tenant (O4): created on first need, rotated by command with an
//! overlap window in which old keys stay in the JWKS, private keys sealed at rest (D1).

use serde_json::json;

use crate::audit::AuditEvent;
use crate::crypto::{KeyKind, Vault};
use crate::jose::{self, JoseError, Signer, SigningAlg};
use crate::store::{SigningKeyStore, StoredSigningKey};
use crate::{StoreError, UnixTime};

/// Default overlap: old keys verify for a day after rotation.
pub const DEFAULT_OVERLAP_SECS: i64 = 86_400;

/// Why a key operation failed.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("signing key: {0}")]
    Jose(#[from] JoseError),
    #[error("signing key: {0}")]
    Crypto(#[from] crate::crypto::CryptoError),
}

/// AAD context binding a sealed private key to its tenant and kid.
fn seal_context(tenant_id: &str, kid: &str) -> Vec<u8> {
    format!("{tenant_id}/{kid}").into_bytes()
}

/// The tenant's published keys, parsed: `(signer, current)`, oldest first.
#[derive(Debug, Default)]
pub struct TenantKeys {
    pub keys: Vec<(Signer, bool)>,
}

impl TenantKeys {
    /// The newest current key of `alg`.
    pub fn signer(&self, alg: SigningAlg) -> Option<&Signer> {
        self.keys.iter().rev().find(|(s, current)| *current && s.alg() == alg).map(|(s, _)| s)
    }

    /// The public JWKS document (RFC 7517 §5): every published key, public members only.
    pub fn jwks(&self) -> serde_json::Value {
        json!({ "keys": self.keys.iter().map(|(s, _)| s.public_jwk()).collect::<Vec<_>>() })
    }

    /// Verifiers for every published key (current and overlapping).
    pub fn verifiers(&self) -> Vec<jose::Verifier> {
        self.keys.iter().map(|(s, _)| s.verifier()).collect()
    }
}

/// Loads and unseals the tenant's published keys.
pub fn load(
    store: &impl SigningKeyStore,
    vault: &Vault,
    tenant_id: &str,
    now: UnixTime,
) -> Result<TenantKeys, KeyError> {
    let mut keys = Vec::new();
    for k in store.published_keys(tenant_id, now.0)? {
        let alg = SigningAlg::parse(&k.alg)?;
        let der = vault.open(KeyKind::SigningKeys, &seal_context(tenant_id, &k.kid), &k.sealed_private_key)?;
        keys.push((Signer::from_pkcs8(Some(&k.kid), alg, der.expose())?, k.retire_at.is_none()));
    }
    Ok(TenantKeys { keys })
}

/// Generates a key of `alg`, makes it current, and keeps the previous one published for
/// `overlap_secs` (O4). Returns the new kid.
pub fn rotate(
    store: &impl SigningKeyStore,
    vault: &Vault,
    tenant_id: &str,
    alg: SigningAlg,
    overlap_secs: i64,
    actor: &str,
    now: UnixTime,
) -> Result<String, KeyError> {
    let generated = jose::generate(alg)?;
    let sealed =
        vault.seal(KeyKind::SigningKeys, &seal_context(tenant_id, &generated.kid), generated.pkcs8.expose())?;
    let stored = StoredSigningKey {
        kid: generated.kid.clone(),
        tenant_id: tenant_id.to_owned(),
        alg: alg.as_str().to_owned(),
        sealed_private_key: sealed,
        public_jwk: generated.public_jwk.to_string(),
        created_at: now.0,
        retire_at: None,
    };
    let audit = AuditEvent::new(actor, "key.rotate")
        .tenant(tenant_id)
        .target(format!("key:{}", generated.kid))
        .details(json!({ "alg": alg.as_str(), "overlap_secs": overlap_secs }));
    store.add_signing_key(&stored, now.0 + overlap_secs, &audit)?;
    Ok(generated.kid)
}

/// The tenant's keys, first creating a current key of `alg` if there is none (first use).
pub fn ensure(
    store: &impl SigningKeyStore,
    vault: &Vault,
    tenant_id: &str,
    alg: SigningAlg,
    now: UnixTime,
) -> Result<TenantKeys, KeyError> {
    let keys = load(store, vault, tenant_id, now)?;
    if keys.signer(alg).is_some() {
        return Ok(keys);
    }
    rotate(store, vault, tenant_id, alg, DEFAULT_OVERLAP_SECS, "system", now)?;
    load(store, vault, tenant_id, now)
}
