//! AC2, AC4: who may do what to which tenant, in one table, checked in one place before every
//! administrative use case. Deny by default: an action is allowed only by a row of
//! [`PERMISSIONS`]; an operator acts on a user account only if its level is strictly lower.

use serde::Serialize;

use crate::model::roles;

/// AC4 privilege levels, lowest first (the order is the comparison).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    User,
    Helpdesk,
    TenantAdmin,
    PlatformAdmin,
}

impl Level {
    /// The highest level `roles` give in a tenant; `platform-admin` counts only in the
    /// platform tenant (AC4), anywhere else it gives nothing.
    pub fn of(roles: &[String], platform_tenant: bool) -> Self {
        let has = |r: &str| roles.iter().any(|held| held == r);
        if platform_tenant && has(roles::PLATFORM_ADMIN) {
            Self::PlatformAdmin
        } else if has(roles::TENANT_ADMIN) {
            Self::TenantAdmin
        } else if has(roles::HELPDESK) {
            Self::Helpdesk
        } else {
            Self::User
        }
    }
}

/// Every administrative action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    TenantList,
    TenantCreate,
    TenantRead,
    TenantPolicyUpdate,
    UserList,
    UserRead,
    UserCreate,
    UserDelete,
    UserUnlock,
    UserResetMfa,
    UserEndSessions,
    UserSetRoles,
    UserUpdate,
    UserResetPassword,
    UserSessions,
    SessionList,
    RoleList,
    ClientList,
    ClientRead,
    ClientCreate,
    ClientUpdate,
    ClientRotateSecret,
    ClientDelete,
    KeyList,
    KeyRotate,
    AuditRead,
    AuditVerify,
    UpstreamList,
    UpstreamCreate,
    UpstreamUpdate,
    UpstreamDelete,
}

impl Action {
    /// Every action, for the table-driven tests and the documentation.
    pub const ALL: [Action; 31] = [
        Self::TenantList,
        Self::TenantCreate,
        Self::TenantRead,
        Self::TenantPolicyUpdate,
        Self::UserList,
        Self::UserRead,
        Self::UserCreate,
        Self::UserDelete,
        Self::UserUnlock,
        Self::UserResetMfa,
        Self::UserEndSessions,
        Self::UserSetRoles,
        Self::UserUpdate,
        Self::UserResetPassword,
        Self::UserSessions,
        Self::SessionList,
        Self::RoleList,
        Self::ClientList,
        Self::ClientRead,
        Self::ClientCreate,
        Self::ClientUpdate,
        Self::ClientRotateSecret,
        Self::ClientDelete,
        Self::KeyList,
        Self::KeyRotate,
        Self::AuditRead,
        Self::AuditVerify,
        Self::UpstreamList,
        Self::UpstreamCreate,
        Self::UpstreamUpdate,
        Self::UpstreamDelete,
    ];

    /// Whether the action changes a user account (the target's level is checked too).
    pub fn on_user(self) -> bool {
        matches!(
            self,
            Self::UserRead
                | Self::UserDelete
                | Self::UserUnlock
                | Self::UserResetMfa
                | Self::UserEndSessions
                | Self::UserSetRoles
                | Self::UserUpdate
                | Self::UserResetPassword
                | Self::UserSessions
        )
    }
}

/// Which tenants a row reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// The operator's own tenant only.
    Own,
    /// Every tenant.
    Any,
}

use Action::*;
use Level::*;
use Reach::*;

/// AC2, AC4: the permission table. A platform administrator administers every tenant and
/// alone verifies the whole audit chain; a tenant administrator administers their own tenant
/// (users, clients, keys, policies, its audit records); a help-desk operator looks users up,
/// unlocks them, resets their password and factors and ends their sessions, in their own
/// tenant. Nothing else is allowed.
pub const PERMISSIONS: &[(Level, Action, Reach)] = &[
    (PlatformAdmin, TenantList, Any),
    (PlatformAdmin, TenantCreate, Any),
    (PlatformAdmin, TenantRead, Any),
    (PlatformAdmin, TenantPolicyUpdate, Any),
    (PlatformAdmin, UserList, Any),
    (PlatformAdmin, UserRead, Any),
    (PlatformAdmin, UserCreate, Any),
    (PlatformAdmin, UserDelete, Any),
    (PlatformAdmin, UserUnlock, Any),
    (PlatformAdmin, UserResetMfa, Any),
    (PlatformAdmin, UserEndSessions, Any),
    (PlatformAdmin, UserSetRoles, Any),
    (PlatformAdmin, UserUpdate, Any),
    (PlatformAdmin, UserResetPassword, Any),
    (PlatformAdmin, UserSessions, Any),
    (PlatformAdmin, SessionList, Any),
    (PlatformAdmin, RoleList, Any),
    (PlatformAdmin, ClientList, Any),
    (PlatformAdmin, ClientRead, Any),
    (PlatformAdmin, ClientCreate, Any),
    (PlatformAdmin, ClientUpdate, Any),
    (PlatformAdmin, ClientRotateSecret, Any),
    (PlatformAdmin, ClientDelete, Any),
    (PlatformAdmin, KeyList, Any),
    (PlatformAdmin, KeyRotate, Any),
    (PlatformAdmin, AuditRead, Any),
    (PlatformAdmin, AuditVerify, Any),
    (PlatformAdmin, UpstreamList, Any),
    (PlatformAdmin, UpstreamCreate, Any),
    (PlatformAdmin, UpstreamUpdate, Any),
    (PlatformAdmin, UpstreamDelete, Any),
    (TenantAdmin, TenantRead, Own),
    (TenantAdmin, TenantPolicyUpdate, Own),
    (TenantAdmin, UserList, Own),
    (TenantAdmin, UserRead, Own),
    (TenantAdmin, UserCreate, Own),
    (TenantAdmin, UserDelete, Own),
    (TenantAdmin, UserUnlock, Own),
    (TenantAdmin, UserResetMfa, Own),
    (TenantAdmin, UserEndSessions, Own),
    (TenantAdmin, UserSetRoles, Own),
    (TenantAdmin, UserUpdate, Own),
    (TenantAdmin, UserResetPassword, Own),
    (TenantAdmin, UserSessions, Own),
    (TenantAdmin, SessionList, Own),
    (TenantAdmin, RoleList, Own),
    (TenantAdmin, ClientList, Own),
    (TenantAdmin, ClientRead, Own),
    (TenantAdmin, ClientCreate, Own),
    (TenantAdmin, ClientUpdate, Own),
    (TenantAdmin, ClientRotateSecret, Own),
    (TenantAdmin, ClientDelete, Own),
    (TenantAdmin, KeyList, Own),
    (TenantAdmin, KeyRotate, Own),
    (TenantAdmin, AuditRead, Own),
    (TenantAdmin, UpstreamList, Own),
    (TenantAdmin, UpstreamCreate, Own),
    (TenantAdmin, UpstreamUpdate, Own),
    (TenantAdmin, UpstreamDelete, Own),
    (Helpdesk, TenantRead, Own),
    (Helpdesk, UserList, Own),
    (Helpdesk, UserRead, Own),
    (Helpdesk, UserUnlock, Own),
    (Helpdesk, UserResetMfa, Own),
    (Helpdesk, UserEndSessions, Own),
    (Helpdesk, UserResetPassword, Own),
    (Helpdesk, UserSessions, Own),
    (Helpdesk, RoleList, Own),
];

/// Who asks: their level in their own tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    pub tenant_id: String,
    pub level: Level,
}

/// Why an action was refused (audited; never shown beyond "forbidden").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// No row of the table allows the action at the operator's level and reach.
    NotPermitted,
    /// AC4: the target account's level is not lower than the operator's.
    TargetLevel,
    /// AC4: how the platform tenant signs people in is for platform administrators only.
    PlatformSignIn,
}

/// AC2: whether `op` may perform `action` in the tenant `target_tenant_id`.
pub fn permitted(op: &Operator, action: Action, target_tenant_id: &str) -> Result<(), Denied> {
    let own = op.tenant_id == target_tenant_id;
    let allowed = PERMISSIONS.iter().any(|(l, a, r)| *l == op.level && *a == action && (own || *r == Any));
    if allowed { Ok(()) } else { Err(Denied::NotPermitted) }
}

/// AC4: in the platform tenant, what decides how its people sign in (its policies, its
/// upstream providers) is changed by platform administrators only: a lower administrator
/// there could otherwise weaken, or (with an upstream that asserts addresses) take over, the
/// platform administrators' sign-in.
pub fn platform_sign_in(op: &Operator, action: Action, target_is_platform: bool) -> Result<(), Denied> {
    let configures = matches!(action, TenantPolicyUpdate | UpstreamCreate | UpstreamUpdate | UpstreamDelete);
    if target_is_platform && configures && op.level < PlatformAdmin { Err(Denied::PlatformSignIn) } else { Ok(()) }
}

/// AC1: whether any row lets `op` perform `action` beyond their own tenant.
pub fn reaches_other_tenants(op: &Operator, action: Action) -> bool {
    PERMISSIONS.iter().any(|(l, a, r)| *l == op.level && *a == action && *r == Any)
}

/// AC4: an operator acts only on accounts of a lower level.
pub fn may_act_on(op: &Operator, target: Level) -> Result<(), Denied> {
    if target < op.level { Ok(()) } else { Err(Denied::TargetLevel) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(level: Level, tenant: &str) -> Operator {
        Operator { tenant_id: tenant.into(), level }
    }

    #[test]
    fn levels_come_from_roles_and_platform_admin_only_in_the_platform_tenant() {
        let r = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(Level::of(&r(&["platform-admin"]), true), PlatformAdmin);
        assert_eq!(Level::of(&r(&["platform-admin"]), false), User);
        assert_eq!(Level::of(&r(&["helpdesk", "tenant-admin"]), false), TenantAdmin);
        assert_eq!(Level::of(&r(&["reports-reader"]), false), User);
    }

    /// Every level × every action × own or other tenant, against the expected answer.
    #[test]
    fn the_table_allows_exactly_what_ac4_describes() {
        for action in Action::ALL {
            for (level, own_ok, other_ok) in [
                (PlatformAdmin, true, true),
                (TenantAdmin, !matches!(action, TenantList | TenantCreate | AuditVerify), false),
                (
                    Helpdesk,
                    matches!(
                        action,
                        TenantRead
                            | UserList
                            | UserRead
                            | UserUnlock
                            | UserResetMfa
                            | UserEndSessions
                            | UserResetPassword
                            | UserSessions
                            | RoleList
                    ),
                    false,
                ),
                (User, false, false),
            ] {
                let o = op(level, "t1");
                assert_eq!(permitted(&o, action, "t1").is_ok(), own_ok, "{level:?} {action:?} own tenant");
                assert_eq!(permitted(&o, action, "t2").is_ok(), other_ok, "{level:?} {action:?} other tenant");
            }
        }
    }

    #[test]
    fn only_platform_administrators_change_how_the_platform_signs_in() {
        assert_eq!(platform_sign_in(&op(TenantAdmin, "p"), UpstreamCreate, true), Err(Denied::PlatformSignIn));
        assert_eq!(platform_sign_in(&op(TenantAdmin, "p"), TenantPolicyUpdate, true), Err(Denied::PlatformSignIn));
        assert!(platform_sign_in(&op(TenantAdmin, "t"), UpstreamCreate, false).is_ok(), "their own tenant");
        assert!(platform_sign_in(&op(PlatformAdmin, "p"), UpstreamCreate, true).is_ok());
        assert!(platform_sign_in(&op(TenantAdmin, "p"), UserList, true).is_ok(), "other actions");
    }

    #[test]
    fn operators_act_only_on_lower_levels() {
        assert!(may_act_on(&op(Helpdesk, "t"), User).is_ok());
        assert_eq!(may_act_on(&op(Helpdesk, "t"), Helpdesk), Err(Denied::TargetLevel));
        assert_eq!(may_act_on(&op(TenantAdmin, "t"), TenantAdmin), Err(Denied::TargetLevel));
        assert!(may_act_on(&op(TenantAdmin, "t"), Helpdesk).is_ok());
        assert!(may_act_on(&op(PlatformAdmin, "t"), TenantAdmin).is_ok());
        assert_eq!(may_act_on(&op(PlatformAdmin, "t"), PlatformAdmin), Err(Denied::TargetLevel));
    }
}
