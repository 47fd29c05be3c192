//! `gatehouse keys …`: signing-key rotation (O4) and master-key rotation (D1).

use anyhow::bail;
use gatehouse_core::UnixTime;
use gatehouse_core::admin;
use gatehouse_core::audit::AuditEvent;
use gatehouse_core::jose::SigningAlg;
use gatehouse_core::keys;
use serde_json::json;

use super::{Output, actor, store};
use crate::config::Config;

/// O4: `keys rotate`. Running servers pick the new key up within their cache lifetime; the
/// previous key stays published for the overlap window, so tokens it signed keep verifying.
pub(super) fn keys_rotate(config: &Config, tenant: &str, alg: &str, overlap_secs: i64) -> anyhow::Result<Output> {
    let alg = SigningAlg::parse(alg).map_err(|_| anyhow::anyhow!("signing algorithm must be ES256, RS256 or EdDSA"))?;
    if !(0..=30 * 86_400).contains(&overlap_secs) {
        bail!("overlap must be between 0 and 2592000 seconds");
    }
    let store = store(config)?;
    let t = admin::require_tenant(&store, tenant)?;
    let kid = keys::rotate(&store, store.vault(), &t.id, alg, overlap_secs, &actor(), UnixTime::now())?;
    Ok(Output {
        text: format!(
            "new {} signing key {kid} for tenant {}; the previous one is published for {overlap_secs} s",
            alg.as_str(),
            t.slug
        ),
        json: json!({ "kid": kid, "alg": alg.as_str(), "tenant": t.slug, "overlap_secs": overlap_secs }),
    })
}

/// D1: re-wraps the data keys under a new master key written to `path`. The new file is
/// removed again if the database refuses the change, so a failure leaves nothing behind.
pub(super) fn rotate_master(config: &Config, path: &std::path::Path) -> anyhow::Result<Output> {
    if path.exists() {
        bail!("{} already exists; the new master key goes to a new file", path.display());
    }
    let store = store(config)?;
    let current = crate::master_key::load(config)?;
    let new = crate::master_key::create(path)?;
    let shown = path.display().to_string();
    let audit =
        AuditEvent::new(actor(), "master_key.rotate").target("data_keys").details(json!({ "new_key_file": shown }));
    let rewrapped = match store.rotate_master_key(&current, &new, &audit) {
        Ok(n) => n,
        Err(e) => {
            let _ = std::fs::remove_file(path);
            return Err(e.into());
        }
    };
    Ok(Output {
        text: format!(
            "re-wrapped {rewrapped} data key(s) under the new master key in {shown}; point master_key_file \
             (or GATEHOUSE_MASTER_KEY) at it before the next start: the old key no longer opens the data"
        ),
        json: json!({ "rewrapped": rewrapped, "new_key_file": shown }),
    })
}
