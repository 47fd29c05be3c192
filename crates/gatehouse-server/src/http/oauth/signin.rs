//! Checking a sign-in: the password (A1, A3) and the account's lockout state (A4). Every
//! outcome costs one Argon2 verification, so neither unknown nor locked accounts answer faster.

use actix_web::web;
use gatehouse_core::UnixTime;
use gatehouse_core::audit::{AuditEvent, Outcome};
use gatehouse_core::crypto::KeyKind;
use gatehouse_core::model::User;
use gatehouse_core::password::{LockoutPolicy, LockoutState, Verification};
use gatehouse_core::store::{LockoutStore, UserStore};
use gatehouse_types::{ProtocolError, Secret};
use serde_json::json;

use super::context::blocking;
use crate::state::AppState;

/// What a sign-in attempt came to.
pub enum Attempt {
    /// The password is right and the account not locked; `lock` is its failure state.
    Valid { user: User, lock: LockoutState },
    /// Wrong password, or no such (enabled) account.
    Invalid(Option<User>),
    /// A4: the account is locked; the password was not looked at.
    Locked(User),
}

/// A1, A3, A4: verifies off the executor with bounded concurrency; an unknown, disabled or
/// locked account is checked against a dummy hash, so every answer costs the same.
pub async fn check(
    state: &AppState,
    tenant_id: &str,
    username: &str,
    password: Secret<String>,
) -> Result<Attempt, ProtocolError> {
    let (store, t, u) = (state.store.clone(), tenant_id.to_owned(), username.to_owned());
    let account = blocking(move || store.user_by_username(&t, &u)).await?.filter(|u| !u.disabled);
    // A3: the lockout read happens for unknown names too (an id no account has), so its
    // cost does not tell them apart.
    let id = account.as_ref().map_or_else(String::new, |u| u.id.clone());
    let (store, t) = (state.store.clone(), tenant_id.to_owned());
    let lock = blocking(move || store.lockout(&t, &id)).await?;
    let locked = lock.is_locked(UnixTime::now());
    let hash = account
        .as_ref()
        .filter(|_| !locked)
        .and_then(|u| u.password_hash.as_ref())
        .map(|h| h.expose().clone())
        .unwrap_or_else(|| state.dummy_hash.clone());
    let _permit = state.hash_permits.acquire().await.map_err(ProtocolError::server)?;
    let hasher = state.hasher.clone();
    let verdict = web::block(move || hasher.verify(&password, &hash)).await.map_err(ProtocolError::server)?;
    let ok = matches!(verdict, Verification::Valid | Verification::ValidNeedsRehash);
    Ok(match account {
        Some(user) if locked => Attempt::Locked(user),
        Some(user) if ok && user.password_hash.is_some() => Attempt::Valid { user, lock },
        other => Attempt::Invalid(other),
    })
}

/// A4: counts a wrong password against `user` before answering, so the next attempt already
/// sees it; the failure that starts a lockout is audited. (The write makes a known name's
/// failure a millisecond slower than an unknown one's, well inside the progressive delay's
/// and Argon2's own variation.)
pub async fn count_failure(state: &AppState, tenant_id: &str, user: &User) -> Result<(), ProtocolError> {
    let policy = LockoutPolicy::default();
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

/// A successful sign-in clears the account's failures (only when it has any: no write per login).
pub async fn clear_failures(
    state: &AppState,
    tenant_id: &str,
    user: &User,
    lock: LockoutState,
) -> Result<(), ProtocolError> {
    if lock == LockoutState::default() {
        return Ok(());
    }
    let (store, t, id) = (state.store.clone(), tenant_id.to_owned(), user.id.clone());
    blocking(move || store.clear_lockout(&t, &id, None)).await.map(|_| ())
}

/// L2: what the audit log names a failed sign-in's account by: an existing account by its
/// random id, an unknown name only by a keyed hash (people type passwords into the username
/// field; the hash still shows the same name tried again and again).
pub fn attempted_account(state: &AppState, tenant_id: &str, username: &str, failed: &Attempt) -> String {
    match failed {
        Attempt::Invalid(Some(user)) | Attempt::Locked(user) | Attempt::Valid { user, .. } => {
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
