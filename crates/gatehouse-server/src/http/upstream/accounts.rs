//! O8: the local account of an upstream identity — linked, linked by a verified address under
//! the upstream's policy, or provisioned just in time — and its roles from the upstream's rules.

use actix_web::web;
use gatehouse_core::UnixTime;
use gatehouse_core::admin::new_id;
use gatehouse_core::audit::AuditEvent;
use gatehouse_core::federation::account::{AddressOwner, address_for, trusted_email, username_for};
use gatehouse_core::federation::rules::roles_after;
use gatehouse_core::federation::{LinkedIdentity, Resolution, Upstream, UpstreamClaims, resolve};
use gatehouse_core::model::User;
use gatehouse_core::store::{AdminStore, StoreError, UpstreamStore, UserStore};
use gatehouse_types::{ProtocolError, RoleName};
use serde_json::json;

use crate::http::oauth::context::{TenantEntry, blocking};
use crate::http::oauth::steps::is_administrator;
use crate::state::AppState;

/// What an upstream identity comes to.
pub enum Account {
    /// Sign in as this (enabled) account; `how` says how it was found (for the audit record).
    Ready { user: User, how: &'static str },
    /// The person signs in locally once; the identity is linked then.
    AskLocalSignIn,
    /// Nothing is done; the reason is audited.
    Refused(&'static str),
}

/// O8: the account `claims` sign in as through `upstream` (linked, linked by verified address,
/// or provisioned), or why not.
pub async fn account_for(
    state: &AppState,
    tenant: &TenantEntry,
    upstream: &Upstream,
    claims: &UpstreamClaims,
) -> Result<Account, ProtocolError> {
    let t = tenant.tenant.id.clone();
    let (store, t1, u, s) = (state.store.clone(), t.clone(), upstream.id.clone(), claims.subject.clone());
    let linked = blocking(move || store.identity_user(&t1, &u, &s)).await?;
    let owner = match (&linked, claims.verified_email()) {
        (None, Some(address)) => address_owner(state, &t, &address).await?,
        _ => None,
    };
    match resolve(&upstream.settings, linked, owner.as_ref()) {
        Resolution::SignIn(user_id) => {
            let (store, t1, id) = (state.store.clone(), t.clone(), user_id);
            match blocking(move || store.user_by_id(&t1, &id)).await?.filter(|u| !u.disabled) {
                Some(user) => {
                    let (store, t1, u, s) =
                        (state.store.clone(), t.clone(), upstream.id.clone(), claims.subject.clone());
                    blocking(move || store.identity_used(&t1, &u, &s, UnixTime::now().0)).await?;
                    Ok(Account::Ready { user, how: "linked" })
                }
                None => Ok(Account::Refused("the linked account is disabled")),
            }
        }
        Resolution::LinkByEmail(user_id) => {
            let (store, t1, id) = (state.store.clone(), t.clone(), user_id);
            let Some(user) = blocking(move || store.user_by_id(&t1, &id)).await? else {
                return Ok(Account::Refused("the account to link is gone"));
            };
            if !link(state, upstream, &claims.subject, &user, "verified-email").await? {
                return Ok(Account::Refused("the account has another identity of this upstream"));
            }
            Ok(Account::Ready { user, how: "linked by verified e-mail" })
        }
        Resolution::Provision => provision(state, tenant, upstream, claims).await,
        Resolution::AskLocalSignIn => Ok(Account::AskLocalSignIn),
        Resolution::Refuse(reason) => Ok(Account::Refused(reason)),
    }
}

/// The account holding `address`, and whether it is an administrator's (AC4).
async fn address_owner(
    state: &AppState,
    tenant_id: &str,
    address: &str,
) -> Result<Option<AddressOwner>, ProtocolError> {
    let (store, t, a) = (state.store.clone(), tenant_id.to_owned(), address.to_owned());
    let Some(user) = blocking(move || store.user_by_email(&t, &a)).await? else { return Ok(None) };
    let administrator = is_administrator(state, &user).await?;
    Ok(Some(AddressOwner { user_id: user.id, administrator, disabled: user.disabled }))
}

/// O8: links (upstream, `subject`) to `user`, audited with `how`; `false` when the identity
/// is linked already or the account has another identity of this upstream.
pub async fn link(
    state: &AppState,
    upstream: &Upstream,
    subject: &str,
    user: &User,
    how: &'static str,
) -> Result<bool, ProtocolError> {
    let identity = LinkedIdentity::new(&user.tenant_id, &upstream.id, subject, &user.id, UnixTime::now().0);
    let audit = AuditEvent::new(format!("user:{}", user.id), "user.upstream_link")
        .tenant(&user.tenant_id)
        .target(format!("user:{}", user.id))
        .details(json!({ "upstream": upstream.name, "how": how }));
    let store = state.store.clone();
    match web::block(move || store.link_identity(&identity, &audit)).await.map_err(ProtocolError::server)? {
        Ok(()) => Ok(true),
        Err(StoreError::Conflict(_)) => Ok(false),
        Err(e) => Err(ProtocolError::server(e)),
    }
}

/// JIT (O8): a new account for `claims`, with the roles its rules grant, linked in the same
/// transaction. No password: the person signs in through the upstream (or adds a passkey).
async fn provision(
    state: &AppState,
    tenant: &TenantEntry,
    upstream: &Upstream,
    claims: &UpstreamClaims,
) -> Result<Account, ProtocolError> {
    let t = tenant.tenant.id.clone();
    let wanted = claims.preferred_username.as_deref().and_then(|p| gatehouse_types::Username::parse(p).ok());
    let taken = match wanted {
        Some(name) => {
            let (store, t1) = (state.store.clone(), t.clone());
            blocking(move || store.user_by_username(&t1, name.as_str())).await?.is_some()
        }
        None => false,
    };
    let now = UnixTime::now().0;
    let user = User {
        id: new_id(),
        tenant_id: t.clone(),
        username: username_for(&upstream.name, claims, |_| !taken),
        email: address_for(&upstream.name, &upstream.settings, claims),
        password_hash: None,
        must_change_password: false,
        disabled: false,
        created_at: now,
        display_name: claims.name.clone().unwrap_or_default().chars().take(100).collect(),
        // A trusted upstream's verified address, or an undeliverable placeholder (not verified).
        email_verified: trusted_email(&upstream.settings, claims).is_some(),
        password_changed_at: None,
    };
    let roles: Vec<RoleName> = roles_after(&[], &upstream.settings.role_rules, &claims.all)
        .iter()
        .filter_map(|r| RoleName::parse(r).ok())
        .collect();
    let identity = LinkedIdentity::new(&t, &upstream.id, &claims.subject, &user.id, now);
    let audit = AuditEvent::new(format!("upstream:{}", upstream.name), "user.provision")
        .tenant(&t)
        .target(format!("user:{}", user.id))
        .details(json!({
            "upstream": upstream.name,
            "username": user.username,
            "roles": roles.iter().map(RoleName::as_str).collect::<Vec<_>>(),
        }));
    let (store, created) = (state.store.clone(), user.clone());
    match web::block(move || store.provision_identity(&created, &roles, &identity, &audit))
        .await
        .map_err(ProtocolError::server)?
    {
        Ok(()) => Ok(Account::Ready { user, how: "provisioned" }),
        // Taken meanwhile (another sign-in of the same identity, or the name or address).
        Err(StoreError::Conflict(_)) => Ok(Account::Refused("the new account's username or address is taken")),
        Err(e) => Err(ProtocolError::server(e)),
    }
}

/// O8: the roles the upstream's rules manage follow `claims` at every sign-in (roles they do
/// not name stay); a change is audited.
pub async fn map_roles(
    state: &AppState,
    upstream: &Upstream,
    user: &User,
    claims: &UpstreamClaims,
) -> Result<(), ProtocolError> {
    if upstream.settings.role_rules.is_empty() {
        return Ok(());
    }
    let (store, t, u) = (state.store.clone(), user.tenant_id.clone(), user.id.clone());
    let mut held = blocking(move || store.user_roles(&t, &u)).await?;
    held.sort();
    let after = roles_after(&held, &upstream.settings.role_rules, &claims.all);
    if after == held {
        return Ok(());
    }
    let audit = AuditEvent::new(format!("upstream:{}", upstream.name), "user.roles")
        .tenant(&user.tenant_id)
        .target(format!("user:{}", user.id))
        .details(json!({ "before": held, "after": after, "by": "upstream role rules" }));
    let (store, t, u) = (state.store.clone(), user.tenant_id.clone(), user.id.clone());
    blocking(move || store.set_user_roles(&t, &u, &held, &after, &audit)).await
}

/// O8 `sync_profile`: the account's display name and verified address follow the upstream's
/// at every sign-in. An address another account holds is left as it was (never a conflict
/// that stops the sign-in); the change is audited.
pub async fn sync_profile(
    state: &AppState,
    upstream: &Upstream,
    user: User,
    claims: &UpstreamClaims,
) -> Result<User, ProtocolError> {
    if !upstream.settings.sync_profile {
        return Ok(user);
    }
    let mut after = user.clone();
    if let Some(name) = &claims.name {
        after.display_name = name.chars().filter(|c| !c.is_control()).take(100).collect();
    }
    if let Some(address) = trusted_email(&upstream.settings, claims) {
        after.email = address;
        after.email_verified = true;
    }
    if after == user {
        return Ok(user);
    }
    let audit = AuditEvent::new(format!("upstream:{}", upstream.name), "user.update")
        .tenant(&user.tenant_id)
        .target(format!("user:{}", user.id))
        .details(json!({ "by": "upstream profile", "display_name": after.display_name, "email": after.email }));
    let (store, before, changed) = (state.store.clone(), user.clone(), after.clone());
    match web::block(move || store.update_user(&before, &changed, UnixTime::now().0, &audit))
        .await
        .map_err(ProtocolError::server)?
    {
        Ok(()) => Ok(after),
        Err(StoreError::Conflict(why)) => {
            tracing::info!(user = %user.id, why, "upstream profile not applied");
            Ok(user)
        }
        Err(e) => Err(ProtocolError::server(e)),
    }
}
