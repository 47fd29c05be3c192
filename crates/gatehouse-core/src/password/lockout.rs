//! Brute-force protection per account (A4): after `threshold` consecutive failed sign-ins the
//! account is locked for `base_secs`, doubling with each further lockout (capped), and a lock
//! answers exactly like a wrong password. A successful sign-in clears the count.

use crate::UnixTime;

/// A4 defaults: 5 failures → 15 minutes, doubling on repeat, at most one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    pub threshold: i32,
    pub base_secs: i64,
    pub max_secs: i64,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        Self { threshold: 5, base_secs: 15 * 60, max_secs: 86_400 }
    }
}

/// An account's failure state as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LockoutState {
    /// Consecutive failures since the last success or lockout.
    pub failures: i32,
    /// Lockouts so far (the next one lasts twice as long).
    pub lockouts: i32,
    pub locked_until: Option<i64>,
}

impl LockoutState {
    /// A4: whether sign-in is refused at `now` (even with the right password).
    pub fn is_locked(&self, now: UnixTime) -> bool {
        self.locked_until.is_some_and(|until| now.0 < until)
    }

    /// The state after one more failure at `now`; `true` when this failure starts a lockout.
    pub fn after_failure(self, policy: LockoutPolicy, now: UnixTime) -> (Self, bool) {
        let failures = self.failures.saturating_add(1);
        if failures < policy.threshold {
            return (Self { failures, ..self }, false);
        }
        let factor = 1i64.checked_shl(self.lockouts.clamp(0, 30) as u32).unwrap_or(i64::MAX);
        let secs = policy.base_secs.saturating_mul(factor).min(policy.max_secs);
        let locked = Self { failures: 0, lockouts: self.lockouts.saturating_add(1), locked_until: Some(now.0 + secs) };
        (locked, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_lock_for_fifteen_minutes_doubling_on_repeat() {
        let p = LockoutPolicy::default();
        let mut s = LockoutState::default();
        for i in 1..5 {
            let (next, locked) = s.after_failure(p, UnixTime(1000));
            assert!(!locked && !next.is_locked(UnixTime(1000)), "failure {i}");
            s = next;
        }
        let (s, locked) = s.after_failure(p, UnixTime(1000));
        assert!(locked);
        assert!(s.is_locked(UnixTime(1000 + 899)));
        assert!(!s.is_locked(UnixTime(1000 + 900)), "15 minutes");
        let mut again = s;
        for _ in 0..4 {
            again = again.after_failure(p, UnixTime(5000)).0;
        }
        let (again, locked) = again.after_failure(p, UnixTime(5000));
        assert!(locked);
        assert_eq!(again.locked_until, Some(5000 + 1800), "doubled");
        let many = LockoutState { failures: 4, lockouts: 40, locked_until: None };
        assert_eq!(many.after_failure(p, UnixTime(0)).0.locked_until, Some(86_400), "capped at a day");
    }
}
