//! S8: an operator sees and ends a user's sessions (the console will call the same).

use serde_json::json;

use super::user::require_user;
use super::{AdminError, require_tenant};
use crate::UnixTime;
use crate::audit::AuditEvent;
use crate::store::{AccountStore, SessionRecord, SessionsToEnd, TenantStore, UserStore};

/// The live sessions of `username` in `tenant`, newest activity first.
pub fn user_sessions(
    store: &(impl TenantStore + UserStore + AccountStore),
    tenant: &str,
    username: &str,
    now: UnixTime,
) -> Result<Vec<SessionRecord>, AdminError> {
    let t = require_tenant(store, tenant)?;
    let user = require_user(store, &t.id, username)?;
    Ok(store.sessions_of(&t.id, &user.id, now.0)?)
}

/// Ends one session (`sid`) or all of `username`'s sessions; their clients are told (S6).
/// Returns how many ended; an unknown `sid` ends none and is refused.
pub fn end_user_sessions(
    store: &(impl TenantStore + UserStore + AccountStore + crate::store::AuditStore),
    tenant: &str,
    username: &str,
    sid: Option<&str>,
    actor: &str,
    now: UnixTime,
) -> Result<usize, AdminError> {
    let t = require_tenant(store, tenant)?;
    let user = require_user(store, &t.id, username)?;
    let which = sid.map_or(SessionsToEnd::All, SessionsToEnd::One);
    let audit = AuditEvent::new(actor, "session.end")
        .tenant(&t.id)
        .target(format!("user:{}", user.id))
        .details(json!({ "sid": sid, "all": sid.is_none() }));
    let ended = store.end_sessions(&t.id, &user.id, which, now.0, &audit)?;
    if ended == 0 && sid.is_some() {
        return Err(AdminError::invalid("the user has no live session with this sid"));
    }
    if ended == 0 {
        // AC6: an administrator's action is recorded even when there was nothing to end.
        store.append_audit(&audit)?;
    }
    Ok(ended)
}
