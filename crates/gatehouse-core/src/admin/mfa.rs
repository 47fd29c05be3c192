//! A5, A6, AC4: an operator lists a user's second factors, or removes them all (a lost phone
//! or key) so the user enrols again at the next sign-in where a factor is required. The
//! command line runs with the host's authority, above every level of AC4; the console
//! checks the operator's level against the user's.

use serde::Serialize;

use super::{AdminError, require_tenant, require_user};
use crate::audit::AuditEvent;
use crate::mfa::FactorKind;
use crate::store::{MfaStore, TenantStore, UserStore};

/// A factor as an operator sees it (never a secret or a key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FactorSummary {
    pub id: String,
    pub kind: FactorKind,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// The user's confirmed factors and how many recovery codes are left.
pub fn user_factors(
    store: &(impl TenantStore + UserStore + MfaStore),
    tenant: &str,
    username: &str,
) -> Result<(Vec<FactorSummary>, i64), AdminError> {
    let t = require_tenant(store, tenant)?;
    let user = require_user(store, &t.id, username)?;
    let factors = store
        .factors(&t.id, &user.id)?
        .into_iter()
        .filter(|f| f.confirmed)
        .map(|f| FactorSummary {
            id: f.id,
            kind: f.kind,
            name: f.name,
            created_at: f.created_at,
            last_used_at: f.last_used_at,
        })
        .collect();
    Ok((factors, store.recovery_codes_left(&t.id, &user.id)?))
}

/// A6: removes every factor and recovery code of `username`, audited; how many factors.
pub fn reset_user_mfa(
    store: &(impl TenantStore + UserStore + MfaStore),
    tenant: &str,
    username: &str,
    actor: &str,
) -> Result<usize, AdminError> {
    let t = require_tenant(store, tenant)?;
    let user = require_user(store, &t.id, username)?;
    let audit = AuditEvent::new(actor, "user.mfa_reset").tenant(&t.id).target(format!("user:{}", user.id));
    Ok(store.reset_mfa(&t.id, &user.id, &audit)?)
}
