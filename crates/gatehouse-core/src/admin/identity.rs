//! O8: a user's linked upstream identities as administrators see them, and disconnecting one
//! (support: a link made by mistake, an upstream account that changed hands).

use serde_json::json;

use super::AdminError;
use crate::audit::AuditEvent;
use crate::federation::LinkedIdentity;
use crate::model::User;
use crate::store::UpstreamStore;

/// A linked identity with its upstream's name and button text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityView {
    pub upstream: String,
    pub display_name: String,
    pub identity: LinkedIdentity,
}

impl IdentityView {
    /// As the admin API shows it.
    pub fn json(&self) -> serde_json::Value {
        json!({
            "upstream": self.upstream,
            "display_name": self.display_name,
            "subject": self.identity.subject,
            "created_at": self.identity.created_at,
            "last_used_at": self.identity.last_used_at,
        })
    }
}

/// The upstream identities linked to `user`, oldest first (AC1: of its tenant only).
pub fn user_identities(store: &impl UpstreamStore, user: &User) -> Result<Vec<IdentityView>, AdminError> {
    let upstreams = store.upstreams(&user.tenant_id)?;
    let linked = store.identities_of(&user.tenant_id, &user.id)?;
    Ok(linked
        .into_iter()
        .filter_map(|identity| {
            let up = upstreams.iter().find(|u| u.id == identity.upstream_id)?;
            Some(IdentityView { upstream: up.name.clone(), display_name: up.display_name.clone(), identity })
        })
        .collect())
}

/// O8: disconnects `user`'s identity at the upstream `name`, audited as done by `actor`.
/// (An administrator may leave an account without a way in; it gets a one-time password.)
pub fn unlink_user_identity(
    store: &impl UpstreamStore,
    actor: &str,
    user: &User,
    name: &str,
) -> Result<(), AdminError> {
    let found = user_identities(store, user)?.into_iter().find(|v| v.upstream == name);
    let Some(view) = found else {
        return Err(AdminError::Store(crate::StoreError::NotFound("no identity of this upstream is linked")));
    };
    let audit = AuditEvent::new(actor, "user.upstream_unlink")
        .tenant(&user.tenant_id)
        .target(format!("user:{}", user.id))
        .details(json!({ "upstream": name }));
    let i = &view.identity;
    if !store.unlink_identity(&user.tenant_id, &user.id, &i.upstream_id, &i.subject, &audit)? {
        return Err(AdminError::Store(crate::StoreError::NotFound("no identity of this upstream is linked")));
    }
    Ok(())
}
