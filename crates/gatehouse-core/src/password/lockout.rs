//! Brute-force protection per account (A4): after `threshold` consecutive failed sign-ins the
//! account is locked for `base_secs`, doubling with each further lockout (capped), and a lock
//! answers exactly like a wrong password. A successful sign-in clears the count. Before that,
//! each failure is answered after a delay that doubles with the failures in a row.

use std::time::Duration;

use crate::UnixTime;

/// The longest progressive delay of a failed sign-in.
pub const MAX_FAILURE_DELAY: Duration = Duration::from_secs(4);

/// A4 progressive delay: `base` after the first failure in a row, doubling with each further
/// one, at most [`MAX_FAILURE_DELAY`]; nothing before any failure.
pub fn failure_delay(base: Duration, failures_in_a_row: u32) -> Duration {
    let Some(doublings) = failures_in_a_row.checked_sub(1) else { return Duration::ZERO };
    base.saturating_mul(1u32.checked_shl(doublings.min(31)).unwrap_or(u32::MAX)).min(MAX_FAILURE_DELAY)
}

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

    #[test]
    fn failure_delays_double_up_to_four_seconds() {
        let base = Duration::from_millis(250);
        let delays: Vec<u64> = (0..7).map(|n| failure_delay(base, n).as_millis() as u64).collect();
        assert_eq!(delays, [0, 250, 500, 1000, 2000, 4000, 4000]);
        assert_eq!(failure_delay(base, u32::MAX), MAX_FAILURE_DELAY);
        assert_eq!(failure_delay(Duration::ZERO, 5), Duration::ZERO, "0 turns the delay off");
    }
}
