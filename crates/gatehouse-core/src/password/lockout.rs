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

/// How long an admitted attempt may stay undecided before it stops counting: a node that
/// died between admitting and deciding must not keep the account closed.
pub const RESERVATION_TTL_SECS: i64 = 120;

/// An account's failure state as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LockoutState {
    /// Consecutive failures since the last success or lockout.
    pub failures: i32,
    /// Lockouts so far (the next one lasts twice as long).
    pub lockouts: i32,
    pub locked_until: Option<i64>,
    /// Attempts admitted whose password is still being checked.
    pub in_flight: i32,
    /// When the last attempt was admitted.
    pub reserved_at: Option<i64>,
}

impl LockoutState {
    /// A4: whether sign-in is refused at `now` (even with the right password).
    pub fn is_locked(&self, now: UnixTime) -> bool {
        self.locked_until.is_some_and(|until| now.0 < until)
    }

    /// Admitted attempts still undecided at `now` (stale reservations do not count).
    fn live_in_flight(&self, now: UnixTime) -> i32 {
        match self.reserved_at {
            Some(at) if now.0 - at < RESERVATION_TTL_SECS => self.in_flight.max(0),
            _ => 0,
        }
    }

    /// This state with one reservation fewer.
    fn released(self, now: UnixTime) -> Self {
        let in_flight = self.live_in_flight(now).saturating_sub(1).max(0);
        Self { in_flight, reserved_at: if in_flight > 0 { self.reserved_at } else { None }, ..self }
    }

    /// A4: admits one more attempt before its password is looked at, or `None`: while the
    /// account is locked, and while the attempts already undecided would lock it if they all
    /// failed. Admission and the decision are separate transactions, so a burst of guesses
    /// sent at once is checked at most `threshold` at a time and cannot outrun the lock.
    pub fn admit(self, policy: LockoutPolicy, now: UnixTime) -> Option<Self> {
        let in_flight = self.live_in_flight(now);
        if self.is_locked(now) || self.failures.saturating_add(in_flight) >= policy.threshold {
            return None;
        }
        Some(Self { in_flight: in_flight + 1, reserved_at: Some(now.0), ..self })
    }

    /// The state after one more failure at `now` (releasing its admission); `true` when this
    /// failure starts a lockout.
    pub fn after_failure(self, policy: LockoutPolicy, now: UnixTime) -> (Self, bool) {
        let this = self.released(now);
        let failures = this.failures.saturating_add(1);
        if failures < policy.threshold {
            return (Self { failures, ..this }, false);
        }
        let factor = 1i64.checked_shl(this.lockouts.clamp(0, 30) as u32).unwrap_or(i64::MAX);
        let secs = policy.base_secs.saturating_mul(factor).min(policy.max_secs);
        let locked =
            Self { failures: 0, lockouts: this.lockouts.saturating_add(1), locked_until: Some(now.0 + secs), ..this };
        (locked, true)
    }

    /// A4: the state after a right password at `now` (releasing its admission): failures and
    /// lockouts forgotten, or `Err` with the released state when the account was locked
    /// meanwhile, in which case the attempt fails like any other.
    pub fn after_success(self, now: UnixTime) -> Result<Self, Self> {
        let this = self.released(now);
        if this.is_locked(now) {
            return Err(this);
        }
        Ok(Self { in_flight: this.in_flight, reserved_at: this.reserved_at, ..Self::default() })
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
        let many = LockoutState { failures: 4, lockouts: 40, ..Default::default() };
        assert_eq!(many.after_failure(p, UnixTime(0)).0.locked_until, Some(86_400), "capped at a day");
    }

    #[test]
    fn at_most_threshold_attempts_are_undecided_at_once() {
        let p = LockoutPolicy::default();
        let now = UnixTime(1000);
        let mut s = LockoutState::default();
        for i in 0..5 {
            s = s.admit(p, now).unwrap_or_else(|| panic!("attempt {i} admitted"));
        }
        assert_eq!(s.in_flight, 5);
        assert_eq!(s.admit(p, now), None, "five undecided guesses could lock the account: a sixth waits");
        // Two fail: three still undecided plus two failures still fill the threshold.
        let (s, _) = s.after_failure(p, now);
        let (s, _) = s.after_failure(p, now);
        assert_eq!((s.failures, s.in_flight), (2, 3));
        assert_eq!(s.admit(p, now), None);
        // One succeeds: everything forgotten but the two still undecided.
        let s = s.after_success(now).unwrap();
        assert_eq!((s.failures, s.lockouts, s.in_flight), (0, 0, 2));
        assert!(s.admit(p, now).is_some());
    }

    #[test]
    fn a_right_password_decided_after_the_lock_fails() {
        // Locked while its password was checked (say its admission went stale under load):
        // the success is refused and its admission released.
        let now = UnixTime(1000);
        let s = LockoutState {
            locked_until: Some(now.0 + 60),
            in_flight: 1,
            reserved_at: Some(now.0),
            ..Default::default()
        };
        let decided = s.after_success(now).unwrap_err();
        assert!(decided.is_locked(now), "no success while locked");
        assert_eq!(decided.in_flight, 0);
        assert!(
            LockoutState { in_flight: 1, reserved_at: Some(now.0), ..Default::default() }.after_success(now).is_ok()
        );
    }

    #[test]
    fn stale_admissions_stop_counting() {
        let p = LockoutPolicy::default();
        let s = LockoutState { in_flight: 5, reserved_at: Some(1000), ..Default::default() };
        assert_eq!(s.admit(p, UnixTime(1000 + RESERVATION_TTL_SECS - 1)), None);
        let later = s.admit(p, UnixTime(1000 + RESERVATION_TTL_SECS)).unwrap();
        assert_eq!(later.in_flight, 1, "a crashed node's admissions are forgotten");
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
