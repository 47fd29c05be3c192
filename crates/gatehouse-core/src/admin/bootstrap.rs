//! First start (A8): the platform tenant and its first administrator, with a one-time password.

use gatehouse_types::Secret;
use serde_json::json;

use super::{AdminError, CreateUser, create_user, new_id};
use crate::UnixTime;
use crate::audit::AuditEvent;
use crate::crypto::random_token;
use crate::model::{Tenant, roles};
use crate::password::{PasswordHasher, PasswordPolicy};
use crate::store::{TenantStore, UserStore};

/// Slug of the platform tenant.
pub const PLATFORM_SLUG: &str = "platform";
/// Username of the first administrator.
pub const FIRST_ADMIN: &str = "admin";

/// What bootstrapping created: the administrator's one-time password, to print once.
#[derive(Debug)]
pub struct Bootstrap {
    pub tenant: Tenant,
    pub username: String,
    pub one_time_password: Secret<String>,
}

/// A8: creates the platform tenant and, if it has no platform administrator, the first one
/// with a random one-time password that must be changed (with MFA enrolled) at first login.
/// Returns `None` when there is nothing to do: no default password ever exists.
pub fn bootstrap_platform(
    store: &(impl TenantStore + UserStore),
    hasher: &PasswordHasher,
    now: UnixTime,
) -> Result<Option<Bootstrap>, AdminError> {
    let tenant = match store.platform_tenant()? {
        Some(t) => t,
        None => {
            let tenant = Tenant {
                id: new_id(),
                slug: PLATFORM_SLUG.to_owned(),
                display_name: "Platform".to_owned(),
                is_platform: true,
                created_at: now.0,
                bind_sessions: false,
                policy: Default::default(),
            };
            let audit = AuditEvent::new("system", "tenant.create")
                .tenant(&tenant.id)
                .target(format!("tenant:{}", tenant.id))
                .details(json!({ "after": { "slug": tenant.slug, "platform": true } }));
            store.create_tenant(&tenant, &audit)?;
            tenant
        }
    };
    if store.count_role_members(&tenant.id, roles::PLATFORM_ADMIN)? > 0 {
        return Ok(None);
    }
    let password = Secret::new(random_token());
    let input = CreateUser {
        tenant: tenant.slug.clone(),
        username: FIRST_ADMIN.to_owned(),
        email: "admin@gatehouse.invalid".to_owned(),
        password: Some(password.clone()),
        roles: vec![roles::PLATFORM_ADMIN.to_owned()],
        must_change_password: true,
        self_registered: false,
    };
    create_user(store, hasher, &PasswordPolicy::default(), "system", &input, now)?;
    Ok(Some(Bootstrap { tenant, username: FIRST_ADMIN.to_owned(), one_time_password: password }))
}
