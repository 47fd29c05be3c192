//! The audit log core (L3): one event type, one hash chain, one verifier.
//!
//! Each record's `hash` is HMAC-SHA256, under the audit DEK (D1), of the previous record's
//! hash and this record's fields. Editing a row breaks its hash; deleting one breaks the
//! sequence and the next row's `prev_hash`; recomputing the chain needs the key.

use serde::Serialize;

use crate::UnixTime;
use crate::crypto::{CryptoError, KeyKind, Vault};

/// `prev_hash` of the first record.
pub const GENESIS: [u8; 32] = [0u8; 32];

/// Whether the audited action succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Success,
    Failure,
    Denied,
}

impl Outcome {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Denied => "denied",
        }
    }
}

/// Who did what, to what, from where, with what result (L3). Never holds a secret.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEvent {
    pub tenant_id: Option<String>,
    /// `user:<id>`, `client:<id>`, `cli:<os user>` or `system`.
    pub actor: String,
    /// Dotted verb, e.g. `tenant.create`.
    pub action: &'static str,
    pub target: Option<String>,
    pub source_ip: Option<String>,
    pub outcome: Outcome,
    /// Structured details: changed fields with before/after values, never secrets.
    pub details: serde_json::Value,
}

impl AuditEvent {
    /// A successful event with no target, source or details yet.
    pub fn new(actor: impl Into<String>, action: &'static str) -> Self {
        Self {
            tenant_id: None,
            actor: actor.into(),
            action,
            target: None,
            source_ip: None,
            outcome: Outcome::Success,
            details: serde_json::Value::Null,
        }
    }

    /// Sets the tenant.
    pub fn tenant(mut self, id: &str) -> Self {
        self.tenant_id = Some(id.to_owned());
        self
    }

    /// Sets the target.
    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    /// Sets the details.
    pub fn details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }
}

/// A stored audit record, as the store reads it back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRecord {
    pub seq: i64,
    pub at: i64,
    pub tenant_id: Option<String>,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub source_ip: Option<String>,
    pub outcome: String,
    pub details: String,
    #[serde(skip)]
    pub prev_hash: Vec<u8>,
    #[serde(skip)]
    pub hash: Vec<u8>,
}

impl AuditRecord {
    /// The record to append after `prev` (seq, hash) for `event` at `at`, hash filled in.
    pub fn next(
        vault: &Vault,
        prev: Option<(i64, Vec<u8>)>,
        at: UnixTime,
        event: &AuditEvent,
    ) -> Result<Self, CryptoError> {
        let (seq, prev_hash) = match prev {
            Some((seq, hash)) => (seq + 1, hash),
            None => (1, GENESIS.to_vec()),
        };
        let mut record = Self {
            seq,
            at: at.0,
            tenant_id: event.tenant_id.clone(),
            actor: event.actor.clone(),
            action: event.action.to_owned(),
            target: event.target.clone(),
            source_ip: event.source_ip.clone(),
            outcome: event.outcome.as_str().to_owned(),
            details: event.details.to_string(),
            prev_hash,
            hash: Vec::new(),
        };
        record.hash = record.compute_hash(vault)?.to_vec();
        Ok(record)
    }

    /// HMAC over the length-prefixed fields, so no two field lists encode alike.
    fn compute_hash(&self, vault: &Vault) -> Result<[u8; 32], CryptoError> {
        // 0xff never occurs in UTF-8, so an absent field cannot collide with any present one.
        fn opt(o: &Option<String>) -> &[u8] {
            o.as_deref().map(str::as_bytes).unwrap_or(b"\xff")
        }
        let fields: [&[u8]; 9] = [
            &self.prev_hash,
            opt(&self.tenant_id),
            self.actor.as_bytes(),
            self.action.as_bytes(),
            opt(&self.target),
            opt(&self.source_ip),
            self.outcome.as_bytes(),
            self.details.as_bytes(),
            b"",
        ];
        let seq = self.seq.to_be_bytes();
        let at = self.at.to_be_bytes();
        let lens: Vec<[u8; 8]> = fields.iter().map(|f| (f.len() as u64).to_be_bytes()).collect();
        let mut parts: Vec<&[u8]> = vec![b"gatehouse-audit-v1", &seq, &at];
        for (f, l) in fields.iter().zip(&lens) {
            parts.push(l);
            parts.push(f);
        }
        vault.keyed_hash(KeyKind::Audit, &parts)
    }
}

/// Where and why the chain is broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    #[error("record {seq}: expected sequence number {expected} (a record was deleted or inserted)")]
    Gap { seq: i64, expected: i64 },
    #[error("record {seq}: prev_hash does not match the previous record (a record was deleted or replaced)")]
    Link { seq: i64 },
    #[error("record {seq}: hash does not match its contents (the record was modified)")]
    Modified { seq: i64 },
    #[error(
        "the retention anchor after record {seq} was not written by Gatehouse (records were removed or the anchor moved)"
    )]
    Anchor { seq: i64 },
    #[error("audit key unavailable: {0}")]
    Key(#[from] CryptoError),
}

/// Running verification over records read in order, page by page (L3).
#[derive(Debug, Default)]
pub struct ChainVerifier {
    last: Option<(i64, Vec<u8>)>,
    pub checked: u64,
}

impl ChainVerifier {
    /// A verifier for a chain that starts at the genesis record.
    pub fn new() -> Self {
        Self::default()
    }

    /// A verifier for a chain pruned through `anchor` (checked by the caller).
    pub fn after(anchor: &AuditAnchor) -> Self {
        Self { last: Some((anchor.seq, anchor.hash.clone())), checked: 0 }
    }

    /// Checks the next record: its sequence, its link to the previous one, its own hash.
    pub fn check(&mut self, vault: &Vault, record: &AuditRecord) -> Result<(), ChainBreak> {
        let (expected, prev) = match &self.last {
            Some((seq, hash)) => (seq + 1, hash.as_slice()),
            None => (1, &GENESIS[..]),
        };
        if record.seq != expected {
            return Err(ChainBreak::Gap { seq: record.seq, expected });
        }
        if record.prev_hash != prev {
            return Err(ChainBreak::Link { seq: record.seq });
        }
        if record.compute_hash(vault)?.as_slice() != record.hash.as_slice() {
            return Err(ChainBreak::Modified { seq: record.seq });
        }
        self.last = Some((record.seq, record.hash.clone()));
        self.checked += 1;
        Ok(())
    }

    /// The last verified record's sequence number and hash, to anchor externally.
    pub fn head(&self) -> Option<&(i64, Vec<u8>)> {
        self.last.as_ref()
    }
}

/// L3 retention: the last pruned record's sequence number and hash, under an HMAC with the
/// audit key, so pruning cannot be faked (or the anchor moved) without the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditAnchor {
    pub seq: i64,
    pub hash: Vec<u8>,
    pub mac: Vec<u8>,
}

impl AuditAnchor {
    /// The anchor after the record `seq` with `hash`.
    pub fn new(vault: &Vault, seq: i64, hash: Vec<u8>) -> Result<Self, CryptoError> {
        let mac = Self::mac_of(vault, seq, &hash)?.to_vec();
        Ok(Self { seq, hash, mac })
    }

    fn mac_of(vault: &Vault, seq: i64, hash: &[u8]) -> Result<[u8; 32], CryptoError> {
        vault.keyed_hash(KeyKind::Audit, &[b"gatehouse-audit-anchor-v1", &seq.to_be_bytes(), hash])
    }

    /// Whether the anchor is one Gatehouse wrote.
    pub fn is_genuine(&self, vault: &Vault) -> bool {
        Self::mac_of(vault, self.seq, &self.hash).is_ok_and(|m| m.as_slice() == self.mac.as_slice())
    }
}

/// Result of verifying the whole chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub records: u64,
    /// Sequence number of the last record (0 for an empty log).
    pub head_seq: i64,
    /// Hex of the last record's hash: record it elsewhere to detect truncation later.
    pub head_hash: String,
}

/// Why verification failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("audit chain broken at {0}")]
    Broken(#[from] ChainBreak),
    #[error(transparent)]
    Store(#[from] crate::StoreError),
}

/// L3: reads the whole log in pages and checks every link (`gatehouse audit verify`).
pub fn verify_chain(store: &impl crate::store::AuditStore, vault: &Vault) -> Result<VerifyReport, VerifyError> {
    const PAGE: i64 = 1000;
    let (mut verifier, mut after) = match store.audit_anchor()? {
        Some(anchor) if anchor.is_genuine(vault) => (ChainVerifier::after(&anchor), anchor.seq),
        Some(anchor) => return Err(VerifyError::Broken(ChainBreak::Anchor { seq: anchor.seq })),
        None => (ChainVerifier::new(), 0),
    };
    loop {
        let page = store.audit_page(after, PAGE)?;
        for record in &page {
            verifier.check(vault, record)?;
            after = record.seq;
        }
        if (page.len() as i64) < PAGE {
            break;
        }
    }
    let (head_seq, head_hash) = match verifier.head() {
        Some((seq, hash)) => (*seq, hash.iter().map(|b| format!("{b:02x}")).collect()),
        None => (0, String::new()),
    };
    Ok(VerifyReport { records: verifier.checked, head_seq, head_hash })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::MasterKey;

    fn vault() -> Vault {
        let (m, _) = MasterKey::generate();
        let keys: Vec<_> = KeyKind::ALL.into_iter().map(|k| m.new_data_key(k, 1).unwrap()).collect();
        Vault::unlock(&m, &keys).unwrap()
    }

    fn chain(v: &Vault, n: usize) -> Vec<AuditRecord> {
        let mut out: Vec<AuditRecord> = Vec::new();
        for i in 0..n {
            let prev = out.last().map(|r| (r.seq, r.hash.clone()));
            let e = AuditEvent::new("cli:root", "tenant.create").target(format!("t{i}"));
            out.push(AuditRecord::next(v, prev, UnixTime(1_700_000_000 + i as i64), &e).unwrap());
        }
        out
    }

    fn verify(v: &Vault, records: &[AuditRecord]) -> Result<(), ChainBreak> {
        let mut c = ChainVerifier::new();
        records.iter().try_for_each(|r| c.check(v, r))
    }

    #[test]
    fn intact_chain_verifies() {
        let v = vault();
        assert_eq!(verify(&v, &chain(&v, 5)), Ok(()));
    }

    #[test]
    fn edits_and_deletions_detected() {
        let v = vault();
        let mut edited = chain(&v, 5);
        edited[2].actor = "someone else".into();
        assert_eq!(verify(&v, &edited), Err(ChainBreak::Modified { seq: 3 }));
        let mut deleted = chain(&v, 5);
        deleted.remove(2);
        assert_eq!(verify(&v, &deleted), Err(ChainBreak::Gap { seq: 4, expected: 3 }));
        let mut renumbered = chain(&v, 5);
        renumbered.remove(2);
        for r in renumbered.iter_mut().skip(2) {
            r.seq -= 1;
        }
        assert!(verify(&v, &renumbered).is_err());
        // Recomputing the chain with another key does not pass.
        let forged = chain(&vault(), 5);
        assert_eq!(verify(&v, &forged), Err(ChainBreak::Modified { seq: 1 }));
    }
}
