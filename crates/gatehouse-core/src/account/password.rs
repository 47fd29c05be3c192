//! A2: a new password must pass the policy, differ from the current one and from the last N
//! (history), and is hashed off the caller's transaction. Expiry is a tenant option.

use gatehouse_types::Secret;

use crate::UnixTime;
use crate::model::{TenantPolicy, User};
use crate::password::{PasswordHasher, PasswordPolicy, Verification};

/// Why a new password was refused; the text names the rule (A2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordChange {
    #[error("{0}")]
    Policy(#[from] crate::password::PasswordRule),
    #[error("the new password must differ from the current one")]
    Same,
    #[error("this password was used recently; choose one you have not used before")]
    Reused,
    #[error("password hashing failed")]
    Hashing,
}

/// A2: checks `new` for `user` against the policy, the current password and `history` (the
/// user's earlier hashes, newest first), and returns its hash. Costs one Argon2 hash plus one
/// verification per remembered password: call it off the async executor.
pub fn check_new_password(
    hasher: &PasswordHasher,
    policy: &PasswordPolicy,
    user: &User,
    new: &Secret<String>,
    history: &[String],
) -> Result<String, PasswordChange> {
    policy.check(new.expose(), &[user.username.as_str(), user.email.as_str()])?;
    let used = |hash: &String| matches!(hasher.verify(new, hash), Verification::Valid | Verification::ValidNeedsRehash);
    if user.password_hash.as_ref().is_some_and(|h| used(h.expose())) {
        return Err(PasswordChange::Same);
    }
    if history.iter().any(used) {
        return Err(PasswordChange::Reused);
    }
    hasher.hash(new).map_err(|_| PasswordChange::Hashing)
}

/// A2: whether `user`'s password is older than the tenant allows (never when expiry is off,
/// or when the time it was set is unknown).
pub fn password_expired(user: &User, policy: &TenantPolicy, now: UnixTime) -> bool {
    policy.password_max_age_days > 0
        && user.password_changed_at.is_some_and(|at| now.0 - at >= i64::from(policy.password_max_age_days) * 86_400)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn user(hash: Option<String>, changed: Option<i64>) -> User {
        User {
            id: "u".into(),
            tenant_id: "t".into(),
            username: "alice".into(),
            email: "alice@example.com".into(),
            password_hash: hash.map(Secret::new),
            must_change_password: false,
            disabled: false,
            created_at: 0,
            display_name: String::new(),
            email_verified: true,
            password_changed_at: changed,
        }
    }

    #[test]
    fn the_current_and_remembered_passwords_are_refused() {
        let h = PasswordHasher::new(8 * 1024, 1, 1).unwrap();
        let secret = |s: &str| Secret::new(s.to_owned());
        let current = h.hash(&secret("marmalade-quartz-violet")).unwrap();
        let older = h.hash(&secret("tangerine-orbit-delta")).unwrap();
        let u = user(Some(current), None);
        let p = PasswordPolicy::default();
        let history = vec![older];
        assert_eq!(
            check_new_password(&h, &p, &u, &secret("marmalade-quartz-violet"), &history),
            Err(PasswordChange::Same)
        );
        assert_eq!(
            check_new_password(&h, &p, &u, &secret("tangerine-orbit-delta"), &history),
            Err(PasswordChange::Reused)
        );
        assert!(matches!(check_new_password(&h, &p, &u, &secret("short"), &history), Err(PasswordChange::Policy(_))));
        let fresh = check_new_password(&h, &p, &u, &secret("juniper-canyon-ember"), &history).unwrap();
        assert!(fresh.starts_with("$argon2id$"));
    }

    #[test]
    fn expiry_is_a_tenant_option() {
        let mut policy = TenantPolicy::default();
        let u = user(None, Some(0));
        assert!(!password_expired(&u, &policy, UnixTime(10 * 86_400)), "off by default");
        policy.password_max_age_days = 10;
        assert!(!password_expired(&u, &policy, UnixTime(10 * 86_400 - 1)));
        assert!(password_expired(&u, &policy, UnixTime(10 * 86_400)));
        assert!(!password_expired(&user(None, None), &policy, UnixTime(i64::MAX / 2)), "unknown age: not expired");
    }
}
