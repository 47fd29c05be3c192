//! Checking a sign-in: the password (A1, A3) and the account's lockout state (A4). Every
//! outcome costs one Argon2 verification, so neither unknown nor locked accounts answer faster.
//! An attempt on an account is admitted atomically before its password is looked at and
//! decided atomically after, so a burst of guesses cannot outrun the lock.

use actix_web::web;
use gatehouse_core::UnixTime;
use gatehouse_core::audit::{AuditEvent, Outcome};
use gatehouse_core::crypto::KeyKind;
use gatehouse_core::model::User;
use gatehouse_core::password::Verification;
use gatehouse_core::store::{LockoutStore, UserStore};
use gatehouse_types::{ProtocolError, Secret};
use serde_json::json;

use super::context::{TenantEntry, blocking};
use crate::state::AppState;

/// What a sign-in attempt came to. Failures and successes are already recorded.
pub enum Attempt {
    /// The password is right and the account was not locked; its failures are forgotten.
    Valid(User),
    /// Wrong password (counted against the account), or no such (enabled) account.
    Invalid(Option<User>),
    /// A4: the account is locked, or so many attempts are undecided that they could lock it;
    /// the password was not looked at (or was right only after the account locked).
    Locked(User),
}

/// A1, A3, A4: admits the attempt, verifies off the executor with bounded concurrency, and
/// records the outcome; an unknown, disabled, locked or unadmitted account is checked against
/// a dummy hash, so every answer costs the same. A right password whose hash has old
/// parameters is rehashed (A1).
pub async fn check(
    state: &AppState,
    tenant: &TenantEntry,
    username: &str,
    password: Secret<String>,
) -> Result<Attempt, ProtocolError> {
    let (tenant_id, lockout) = (tenant.tenant.id.as_str(), tenant.tenant.policy.lockout());
    let (store, t, u) = (state.store.clone(), tenant_id.to_owned(), username.to_owned());
    let account = blocking(move || store.user_by_username(&t, &u)).await?.filter(|u| !u.disabled);
    let admitted = match &account {
        Some(user) => {
            let (store, t, id) = (state.store.clone(), tenant_id.to_owned(), user.id.clone());
            blocking(move || store.admit_attempt(&t, &id, lockout, UnixTime::now())).await?
        }
        None => {
            // A3: a lockout read for unknown names too (an id no account has), so its cost
            // does not tell them apart.
            let (store, t) = (state.store.clone(), tenant_id.to_owned());
            blocking(move || store.lockout(&t, "")).await?;
            false
        }
    };
    let stored =
        account.as_ref().filter(|_| admitted).and_then(|u| u.password_hash.as_ref()).map(|h| h.expose().clone());
    let hash = stored.clone().unwrap_or_else(|| state.dummy_hash.clone());
    let _permit = state.hash_permits.acquire().await.map_err(ProtocolError::server)?;
    let hasher = state.hasher.clone();
    let (verdict, rehashed) = web::block(move || {
        let verdict = hasher.verify(&password, &hash);
        let rehashed = (verdict == Verification::ValidNeedsRehash).then(|| hasher.hash(&password).ok()).flatten();
        (verdict, rehashed)
    })
    .await
    .map_err(ProtocolError::server)?;
    let right = matches!(verdict, Verification::Valid | Verification::ValidNeedsRehash) && stored.is_some();
    let Some(user) = account else { return Ok(Attempt::Invalid(None)) };
    if !admitted {
        return Ok(Attempt::Locked(user));
    }
    if !right {
        count_failure(state, tenant, &user).await?;
        return Ok(Attempt::Invalid(Some(user)));
    }
    // A4: decided only now, atomically: an account locked meanwhile gives no session.
    let (store, t, id) = (state.store.clone(), tenant_id.to_owned(), user.id.clone());
    if !blocking(move || store.record_success(&t, &id, UnixTime::now())).await? {
        return Ok(Attempt::Locked(user));
    }
    if let (Some(old), Some(new)) = (stored, rehashed) {
        let (store, t, id) = (state.store.clone(), tenant_id.to_owned(), user.id.clone());
        if blocking(move || store.rehash_password(&t, &id, &old, &new)).await? {
            tracing::info!(user = %user.id, "password rehashed with the current Argon2 parameters");
        }
    }
    Ok(Attempt::Valid(user))
}

/// A4: counts a wrong password (or second factor) against `user` before answering, so the next attempt already
/// sees it; the failure that starts a lockout is audited. (The write makes a known name's
/// failure a millisecond slower than an unknown one's, well inside the progressive delay's
/// and Argon2's own variation.)
pub async fn count_failure(state: &AppState, tenant: &TenantEntry, user: &User) -> Result<(), ProtocolError> {
    let (tenant_id, policy) = (tenant.tenant.id.as_str(), tenant.tenant.policy.lockout());
    let mut event = AuditEvent::new("system", "account.lockout")
        .tenant(tenant_id)
        .target(format!("user:{}", user.id))
        .details(json!({ "after_failures": policy.threshold }));
    event.outcome = Outcome::Denied;
    let (store, t, id) = (state.store.clone(), tenant_id.to_owned(), user.id.clone());
    let next = blocking(move || store.record_failure(&t, &id, policy, UnixTime::now(), &event)).await?;
    if next.is_locked(UnixTime::now()) {
        state.metrics.count(crate::metrics::Event::AccountLocked);
        state.signal(crate::alerts::Signal::AccountLocked, tenant_id, json!({ "user_id": user.id }));
        tracing::warn!(user = %user.id, "account locked after repeated sign-in failures");
    }
    Ok(())
}

/// L2: what the audit log names a failed sign-in's account by: an existing account by its
/// random id, an unknown name only by a keyed hash (people type passwords into the username
/// field; the hash still shows the same name tried again and again).
pub fn attempted_account(state: &AppState, tenant_id: &str, username: &str, failed: &Attempt) -> String {
    match failed {
        Attempt::Invalid(Some(user)) | Attempt::Locked(user) | Attempt::Valid(user) => {
            format!("user:{}", user.id)
        }
        Attempt::Invalid(None) => {
            let parts: [&[u8]; 4] = [b"gatehouse-username-v1\0", tenant_id.as_bytes(), b"\0", username.as_bytes()];
            match state.store.vault().keyed_hash(KeyKind::Audit, &parts) {
                Ok(mac) => format!(
                    "unknown-username:{:016x}",
                    u64::from_be_bytes([mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], mac[6], mac[7]])
                ),
                Err(_) => "unknown-username".to_owned(),
            }
        }
    }
}
