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
    };
    let audit = AuditEvent::new(actor, "tenant.create")
        .tenant(&tenant.id)
        .target(format!("tenant:{}", tenant.id))
        .details(json!({ "after": { "slug": tenant.slug, "display_name": tenant.display_name } }));
    store.create_tenant(&tenant, &audit)?;
    Ok(tenant)
}
