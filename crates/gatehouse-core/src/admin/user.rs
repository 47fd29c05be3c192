//! `user create` (A1, A2, AC3).

use gatehouse_types::{Email, RoleName, Secret, Username};
use serde_json::json;

use super::{AdminError, new_id, require_tenant};
use crate::UnixTime;
use crate::audit::AuditEvent;
use crate::model::{User, roles};
use crate::password::{PasswordHasher, PasswordPolicy};
use crate::store::{LockoutStore, TenantStore, UserStore};

/// Input of `user create`.
#[derive(Debug, Clone)]
pub struct CreateUser {
    pub tenant: String,
    pub username: String,
    pub email: String,
    /// `None`: the user gets no password and sets one through an invitation link (A8).
    pub password: Option<Secret<String>>,
    pub roles: Vec<String>,
    /// One-time passwords must be changed at first login (A8).
    pub must_change_password: bool,
    /// AC3: signed up on their own; the address must be confirmed before signing in.
    pub self_registered: bool,
}

/// AC4: the platform-administrator role exists only in the platform tenant.
pub(super) fn check_role_scope(role: &RoleName, is_platform: bool) -> Result<(), AdminError> {
    if role.as_str() == roles::PLATFORM_ADMIN && !is_platform {
        return Err(AdminError::invalid("the platform-admin role exists only in the platform tenant"));
    }
    Ok(())
}

/// Creates a user with an Argon2id password hash (A1) that passed the policy (A2), or without
/// a password, to be invited (A8). Hashing happens before, never inside, the write
/// transaction.
pub fn create_user(
    store: &(impl TenantStore + UserStore),
    hasher: &PasswordHasher,
    policy: &PasswordPolicy,
    actor: &str,
    input: &CreateUser,
    now: UnixTime,
) -> Result<User, AdminError> {
    let username = Username::parse(&input.username).map_err(AdminError::invalid)?;
    let email = Email::parse(&input.email).map_err(AdminError::invalid)?;
    let mut role_names =
        input.roles.iter().map(|r| RoleName::parse(r)).collect::<Result<Vec<_>, _>>().map_err(AdminError::invalid)?;
    role_names.sort();
    role_names.dedup();
    if let Some(password) = &input.password {
        policy.check(password.expose(), &[username.as_str(), email.as_str()]).map_err(AdminError::invalid)?;
    }
    let tenant = require_tenant(store, &input.tenant)?;
    for role in &role_names {
        check_role_scope(role, tenant.is_platform)?;
    }
    let hash =
        input.password.as_ref().map(|p| hasher.hash(p).map_err(|e| AdminError::Internal(e.to_string()))).transpose()?;
    let user = User {
        id: new_id(),
        tenant_id: tenant.id.clone(),
        username: username.to_string(),
        email: email.to_string(),
        password_changed_at: hash.as_ref().map(|_| now.0),
        password_hash: hash.map(Secret::new),
        must_change_password: input.must_change_password && input.password.is_some(),
        disabled: false,
        created_at: now.0,
        display_name: String::new(),
        email_verified: !input.self_registered,
    };
    let audit = AuditEvent::new(actor, "user.create")
        .tenant(&tenant.id)
        .target(format!("user:{}", user.id))
        .details(json!({ "after": { "username": user.username, "email": user.email, "roles": role_names } }));
    store.create_user(&user, &role_names, &audit)?;
    Ok(user)
}

/// The user `username` names in the tenant (compared in its normalized form).
pub fn require_user(store: &impl UserStore, tenant_id: &str, username: &str) -> Result<User, AdminError> {
    store
        .user_by_username(tenant_id, &Username::normalize(username))?
        .ok_or(AdminError::Store(crate::StoreError::NotFound("unknown user")))
}

/// A4: an administrator lifts the lockout of `username` in `tenant`; `Ok(false)` when the
/// account had no failures to clear. The lift is audited in the same transaction.
pub fn unlock_user(
    store: &(impl TenantStore + UserStore + LockoutStore + crate::store::AuditStore),
    tenant: &str,
    username: &str,
    actor: &str,
) -> Result<bool, AdminError> {
    let t = require_tenant(store, tenant)?;
    let user = require_user(store, &t.id, username)?;
    let audit = AuditEvent::new(actor, "account.unlock").tenant(&t.id).target(format!("user:{}", user.id));
    let cleared = store.clear_lockout(&t.id, &user.id, Some(&audit))?;
    if !cleared {
        // AC6: an administrator's action is recorded even when there was nothing to lift.
        store.append_audit(&audit.details(json!({ "cleared": false })))?;
    }
    Ok(cleared)
}

/// What an administrator's password reset changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordReset {
    pub sessions_ended: usize,
    pub refresh_tokens_revoked: usize,
}

/// A9: an administrator sets a new password for `username` (checked against the policy, A2);
/// every session and refresh token of the user is revoked with it, failed sign-ins are
/// forgotten, and the reset is audited, all in one transaction.
#[allow(clippy::too_many_arguments)]
pub fn reset_password(
    store: &(impl TenantStore + UserStore + crate::store::AccountStore),
    hasher: &PasswordHasher,
    policy: &PasswordPolicy,
    actor: &str,
    tenant: &str,
    username: &str,
    password: &Secret<String>,
    must_change_password: bool,
    now: UnixTime,
) -> Result<PasswordReset, AdminError> {
    let t = require_tenant(store, tenant)?;
    let user = require_user(store, &t.id, username)?;
    policy.check(password.expose(), &[user.username.as_str(), user.email.as_str()]).map_err(AdminError::invalid)?;
    let hash = hasher.hash(password).map_err(|e| AdminError::Internal(e.to_string()))?;
    let audit = AuditEvent::new(actor, "user.password_reset")
        .tenant(&t.id)
        .target(format!("user:{}", user.id))
        .details(json!({ "must_change_password": must_change_password, "sessions_and_refresh_tokens": "revoked" }));
    let change = crate::store::NewPassword {
        tenant_id: &t.id,
        user_id: &user.id,
        hash: &hash,
        now: now.0,
        must_change: must_change_password,
        keep_history: t.policy.password_history,
        end: crate::store::SessionsToEnd::All,
    };
    let (sessions_ended, refresh_tokens_revoked) = store.set_password(&change, &audit)?;
    Ok(PasswordReset { sessions_ended, refresh_tokens_revoked })
}

/// D3: deletes `username` with their personal data. The audit record names the user only by
/// their random id (pseudonymous). AC4: the last platform administrator cannot be deleted.
pub fn delete_user(
    store: &(impl TenantStore + UserStore),
    tenant: &str,
    username: &str,
    actor: &str,
    now: UnixTime,
) -> Result<(), AdminError> {
    let t = require_tenant(store, tenant)?;
    let user = require_user(store, &t.id, username)?;
    let is_admin = store.user_roles(&t.id, &user.id)?.iter().any(|r| r == roles::PLATFORM_ADMIN);
    if is_admin && store.count_role_members(&t.id, roles::PLATFORM_ADMIN)? <= 1 {
        return Err(AdminError::invalid("the last platform administrator cannot be deleted"));
    }
    let audit = AuditEvent::new(actor, "user.delete").tenant(&t.id).target(format!("user:{}", user.id));
    Ok(store.delete_user(&t.id, &user.id, now.0, &audit)?)
}

/// AC5: replaces the roles of `user` (whose roles were `before` when the administrator read
/// them) with `roles`; names are checked as at creation, and the platform's last
/// administrator keeps the role (AC4). A change made meanwhile is a conflict.
pub fn set_user_roles(
    store: &(impl TenantStore + UserStore + crate::store::AdminStore),
    actor: &str,
    tenant: &str,
    user: &User,
    before: &[String],
    roles: &[String],
) -> Result<Vec<String>, AdminError> {
    let t = require_tenant(store, tenant)?;
    let mut names =
        roles.iter().map(|r| RoleName::parse(r)).collect::<Result<Vec<_>, _>>().map_err(AdminError::invalid)?;
    for role in &names {
        check_role_scope(role, t.is_platform)?;
    }
    names.sort();
    names.dedup();
    let after: Vec<String> = names.iter().map(|r| r.as_str().to_owned()).collect();
    let loses_admin =
        before.iter().any(|r| r == roles::PLATFORM_ADMIN) && !after.iter().any(|r| r == roles::PLATFORM_ADMIN);
    if loses_admin && store.count_role_members(&t.id, roles::PLATFORM_ADMIN)? <= 1 {
        return Err(AdminError::invalid("the last platform administrator keeps the role"));
    }
    let audit = AuditEvent::new(actor, "user.roles")
        .tenant(&t.id)
        .target(format!("user:{}", user.id))
        .details(json!({ "before": before, "after": after }));
    store.set_user_roles(&t.id, &user.id, before, &after, &audit)?;
    Ok(after)
}

/// What an administrator changes of an account (absent: unchanged).
#[derive(Debug, Clone, Default)]
pub struct UserChange {
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub disabled: Option<bool>,
}

/// IO1, A8, S6: changes the display name, address or disabled flag of `before` (the user as
/// the administrator read them). An address an administrator sets counts as confirmed (they
/// vouch for it, as at creation); disabling ends every session and refresh token. Audited
/// with before and after; a change made meanwhile is a conflict.
pub fn update_user(
    store: &impl crate::store::AdminStore,
    actor: &str,
    before: &User,
    change: &UserChange,
    now: UnixTime,
) -> Result<User, AdminError> {
    let mut after = before.clone();
    if let Some(name) = &change.display_name {
        crate::account::check_display_name(name).map_err(AdminError::invalid)?;
        after.display_name = name.clone();
    }
    if let Some(email) = &change.email {
        after.email = Email::parse(email).map_err(AdminError::invalid)?.to_string();
        if after.email != before.email {
            after.email_verified = true;
        }
    }
    if let Some(disabled) = change.disabled {
        after.disabled = disabled;
    }
    let shown = |u: &User| json!({ "display_name": u.display_name, "email": u.email, "disabled": u.disabled });
    let audit = AuditEvent::new(actor, "user.update")
        .tenant(&before.tenant_id)
        .target(format!("user:{}", before.id))
        .details(json!({ "before": shown(before), "after": shown(&after) }));
    store.update_user(before, &after, now.0, &audit)?;
    Ok(after)
}
