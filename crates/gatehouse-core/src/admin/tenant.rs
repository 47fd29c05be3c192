//! `tenant create` (AC1).

use gatehouse_types::TenantSlug;
use serde_json::json;

use super::{AdminError, new_id};
use crate::UnixTime;
use crate::audit::AuditEvent;
use crate::model::Tenant;
use crate::store::TenantStore;

/// Input of `tenant create`.
#[derive(Debug, Clone, Default)]
pub struct CreateTenant {
    pub slug: String,
    pub display_name: Option<String>,
    /// S5: bind sessions to the user agent and address that created them.
    pub bind_sessions: bool,
}

/// IO1: display names are printable text of 1–100 characters.
pub(super) fn check_display_name(name: &str) -> Result<(), AdminError> {
    let n = name.chars().count();
    if n == 0 || n > 100 || name.chars().any(char::is_control) || name.trim() != name {
        return Err(AdminError::invalid(
            "display name must be 1-100 printable characters without leading or trailing spaces",
        ));
    }
    Ok(())
}

/// Creates a tenant with its own issuer (AC1).
pub fn create_tenant(
    store: &impl TenantStore,
    actor: &str,
    input: &CreateTenant,
    now: UnixTime,
) -> Result<Tenant, AdminError> {
    let slug = TenantSlug::parse(&input.slug).map_err(AdminError::invalid)?;
    let display_name = input.display_name.clone().unwrap_or_else(|| slug.to_string());
    check_display_name(&display_name)?;
    let tenant = Tenant {
        id: new_id(),
        slug: slug.to_string(),
        display_name,
        is_platform: false,
        created_at: now.0,
        bind_sessions: input.bind_sessions,
        policy: Default::default(),
    };
    let audit = AuditEvent::new(actor, "tenant.create")
        .tenant(&tenant.id)
        .target(format!("tenant:{}", tenant.id))
        .details(json!({ "after": { "slug": tenant.slug, "display_name": tenant.display_name } }));
    store.create_tenant(&tenant, &audit)?;
    Ok(tenant)
}

/// Changes to a tenant's account policies; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct PolicyChange {
    pub password_history: Option<u8>,
    pub password_max_age_days: Option<u32>,
    pub password_reset: Option<bool>,
    pub self_registration: Option<bool>,
    /// `Some("")` clears the tenant's own sender.
    pub mail_from: Option<String>,
    pub mfa: Option<crate::mfa::MfaPolicy>,
    pub passwordless: Option<bool>,
    pub recent_auth_minutes: Option<u16>,
    pub session_idle_minutes: Option<u32>,
    pub session_max_hours: Option<u32>,
    pub lockout_threshold: Option<u8>,
    pub lockout_minutes: Option<u32>,
    /// The policies the change was made against (the API's `If-Match`): if the stored ones
    /// differ, nothing changes (`Conflict`).
    pub expected: Option<crate::model::TenantPolicy>,
}

/// A2, A4, A9, AC3, S4: changes a tenant's account policies, audited with before and after.
pub fn update_tenant_policy(
    store: &(impl TenantStore + crate::store::AccountStore),
    actor: &str,
    slug: &str,
    change: &PolicyChange,
) -> Result<Tenant, AdminError> {
    let mut tenant = super::require_tenant(store, slug)?;
    let before = tenant.policy.clone();
    if change.expected.as_ref().is_some_and(|expected| *expected != before) {
        return Err(AdminError::Store(crate::StoreError::Conflict("the tenant's policies changed meanwhile")));
    }
    let p = &mut tenant.policy;
    if let Some(n) = change.password_history {
        if n > 24 {
            return Err(AdminError::invalid("password history must be between 0 and 24"));
        }
        p.password_history = n;
    }
    if let Some(days) = change.password_max_age_days {
        if days > 3650 {
            return Err(AdminError::invalid("password maximum age must be between 0 (never) and 3650 days"));
        }
        p.password_max_age_days = days;
    }
    if let Some(on) = change.password_reset {
        p.password_reset = on;
    }
    if let Some(on) = change.self_registration {
        p.self_registration = on;
    }
    if let Some(from) = &change.mail_from {
        p.mail_from = match from.as_str() {
            "" => None,
            f if crate::model::is_mailbox(f) => Some(f.to_owned()),
            _ => return Err(AdminError::invalid("mail sender must be an address, or a name and <address>")),
        };
    }
    if let Some(mfa) = change.mfa {
        p.mfa = mfa;
    }
    if let Some(on) = change.passwordless {
        p.passwordless = on;
    }
    if let Some(minutes) = change.recent_auth_minutes {
        if !(1..=1440).contains(&minutes) {
            return Err(AdminError::invalid("recent sign-in window must be between 1 and 1440 minutes"));
        }
        p.recent_auth_minutes = minutes;
    }
    if let Some(minutes) = change.session_idle_minutes {
        if !(5..=1440).contains(&minutes) {
            return Err(AdminError::invalid("session idle timeout must be between 5 and 1440 minutes"));
        }
        p.session_idle_minutes = minutes;
    }
    if let Some(hours) = change.session_max_hours {
        if !(1..=720).contains(&hours) {
            return Err(AdminError::invalid("session lifetime must be between 1 and 720 hours"));
        }
        p.session_max_hours = hours;
    }
    if let Some(n) = change.lockout_threshold {
        if !(3..=20).contains(&n) {
            return Err(AdminError::invalid("lockout threshold must be between 3 and 20 failures"));
        }
        p.lockout_threshold = n;
    }
    if let Some(minutes) = change.lockout_minutes {
        if !(1..=1440).contains(&minutes) {
            return Err(AdminError::invalid("lockout duration must be between 1 and 1440 minutes"));
        }
        p.lockout_minutes = minutes;
    }
    let audit = AuditEvent::new(actor, "tenant.policy")
        .tenant(&tenant.id)
        .target(format!("tenant:{}", tenant.id))
        .details(json!({ "before": before, "after": tenant.policy }));
    store.set_tenant_policy(&tenant.id, &before, &tenant.policy, &audit)?;
    Ok(tenant)
}
