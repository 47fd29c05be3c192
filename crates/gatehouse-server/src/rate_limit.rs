//! A4: per-client-IP rate limits on the sign-in and token endpoints (GCRA, `governor`), and
//! the failure streaks behind the progressive delay of failed sign-ins. The client IP is the
//! TCP peer, or the forwarded client when the peer is a trusted proxy (T5, `client_ip`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Checks between prunings of addresses whose allowance is full again (bounds memory).
const PRUNE_EVERY: u32 = 4096;

/// The period a limit is counted over.
#[derive(Debug, Clone, Copy)]
pub enum Per {
    Second,
    Minute,
}

/// One endpoint's limit per client IP.
pub struct IpLimit {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    /// AC6 without an audit flood: one audit record per address and minute of refusals.
    audit_gate: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
    checks: AtomicU32,
}

impl std::fmt::Debug for IpLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IpLimit").field("addresses", &self.limiter.len()).finish()
    }
}

impl IpLimit {
    /// `n` requests per period, with a burst of `n`; `None` when `n` is 0 (no limit).
    pub fn new(n: u32, per: Per) -> Option<Self> {
        let n = NonZeroU32::new(n)?;
        let quota = match per {
            Per::Second => Quota::per_second(n),
            Per::Minute => Quota::per_minute(n),
        };
        Some(Self {
            limiter: RateLimiter::keyed(quota),
            audit_gate: RateLimiter::keyed(Quota::per_minute(NonZeroU32::MIN)),
            clock: DefaultClock::default(),
            checks: AtomicU32::new(0),
        })
    }

    /// A4: `Ok` when `ip` may go on; otherwise how long it must wait.
    pub fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        if self.checks.fetch_add(1, Ordering::Relaxed).is_multiple_of(PRUNE_EVERY) {
            self.limiter.retain_recent();
            self.audit_gate.retain_recent();
        }
        self.limiter.check_key(&subscriber(ip)).map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Whether this refusal of `ip` is the one of its minute that gets an audit record.
    pub fn audit_refusal(&self, ip: IpAddr) -> bool {
        self.audit_gate.check_key(&subscriber(ip)).is_ok()
    }
}

/// The unit a limit counts: an IPv4 address, or an IPv6 /64 (one subscriber's network, which
/// it can fill with addresses at will).
fn subscriber(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        },
    }
}

/// A streak older than this is forgotten.
const STREAK_MEMORY: Duration = Duration::from_secs(15 * 60);
/// Streaks kept at most; beyond that they are all dropped (the durable lockout stays).
const MAX_STREAKS: usize = 100_000;

/// A4 progressive delay: failed sign-ins in a row per tenant and username, known or not, so
/// the delay says nothing about which usernames exist. Kept per node, in memory, at most
/// `capacity` names: when full, the names whose last failure is oldest go first, so a flood of
/// new names cannot reset the delay of one that is under attack right now.
#[derive(Debug)]
pub struct FailureStreaks {
    streaks: Mutex<HashMap<(String, String), (u32, Instant)>>,
    notes: AtomicU32,
    capacity: usize,
}

impl Default for FailureStreaks {
    fn default() -> Self {
        Self::with_capacity(MAX_STREAKS)
    }
}

/// Drops the oldest tenth of `streaks` (by last failure): amortised, a flood of new names
/// costs one pass per `capacity / 10` of them.
fn evict_oldest(streaks: &mut HashMap<(String, String), (u32, Instant)>) {
    let mut times: Vec<Instant> = streaks.values().map(|(_, at)| *at).collect();
    let cut = times.len() / 10;
    let (_, cutoff, _) = times.select_nth_unstable(cut);
    let cutoff = *cutoff;
    streaks.retain(|_, (_, at)| *at > cutoff);
}

impl FailureStreaks {
    /// Streaks for at most `capacity` names.
    pub fn with_capacity(capacity: usize) -> Self {
        Self { streaks: Mutex::default(), notes: AtomicU32::new(0), capacity: capacity.max(10) }
    }

    /// Counts a failure; the failures in a row so far, this one included.
    pub fn note_failure(&self, tenant_id: &str, username: &str) -> u32 {
        let mut streaks = self.streaks.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.notes.fetch_add(1, Ordering::Relaxed).is_multiple_of(PRUNE_EVERY) {
            streaks.retain(|_, (_, at)| at.elapsed() < STREAK_MEMORY);
        }
        let key = (tenant_id.to_owned(), username.to_owned());
        if streaks.len() >= self.capacity && !streaks.contains_key(&key) {
            streaks.retain(|_, (_, at)| at.elapsed() < STREAK_MEMORY);
            if streaks.len() >= self.capacity {
                evict_oldest(&mut streaks);
            }
        }
        let now = Instant::now();
        let entry = streaks.entry(key).or_insert((0, now));
        if entry.1.elapsed() >= STREAK_MEMORY {
            entry.0 = 0;
        }
        *entry = (entry.0.saturating_add(1), now);
        entry.0
    }

    /// A successful sign-in ends the streak.
    pub fn clear(&self, tenant_id: &str, username: &str) {
        let mut streaks = self.streaks.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        streaks.remove(&(tenant_id.to_owned(), username.to_owned()));
    }
}

/// Whole seconds for `Retry-After` (RFC 9110 §10.2.3), at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0).max(u64::from(wait.is_zero()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_refusals_per_address() {
        let limit = IpLimit::new(3, Per::Minute).unwrap();
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        for _ in 0..3 {
            assert!(limit.check(a).is_ok());
        }
        let wait = limit.check(a).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(20), "{wait:?}");
        assert!(limit.check(b).is_ok(), "another address has its own allowance");
        assert!(limit.audit_refusal(a) && !limit.audit_refusal(a), "one audit record per minute");
        assert!(IpLimit::new(0, Per::Second).is_none(), "0 means no limit");
        let six = IpLimit::new(1, Per::Minute).unwrap();
        assert!(six.check("2001:db8:1:2::1".parse().unwrap()).is_ok());
        assert!(six.check("2001:db8:1:2:ffff::9".parse().unwrap()).is_err(), "one IPv6 /64 is one client");
        assert!(six.check("2001:db8:1:3::1".parse().unwrap()).is_ok(), "another /64");
        assert!(six.check("::ffff:192.0.2.1".parse().unwrap()).is_ok());
        assert!(six.check("192.0.2.1".parse().unwrap()).is_err(), "IPv4-mapped is the IPv4 address");
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(3)), 3);
    }

    #[test]
    fn failure_streaks_count_per_tenant_and_username_until_a_success() {
        let s = FailureStreaks::default();
        assert_eq!((s.note_failure("t", "alice"), s.note_failure("t", "alice")), (1, 2));
        assert_eq!(s.note_failure("t", "nobody"), 1, "unknown names count the same way");
        assert_eq!(s.note_failure("t2", "alice"), 1, "per tenant");
        s.clear("t", "alice");
        assert_eq!(s.note_failure("t", "alice"), 1);
    }

    #[test]
    fn a_flood_of_new_names_evicts_the_oldest_not_the_target() {
        let s = FailureStreaks::with_capacity(1000);
        for _ in 0..3 {
            s.note_failure("t", "early-bystander");
        }
        for _ in 0..4 {
            s.note_failure("t", "target");
        }
        // The attacker floods new names while still guessing at the target now and then.
        for i in 0..5000 {
            s.note_failure("t", &format!("flood-{i}"));
            if i % 500 == 0 {
                s.note_failure("t", "target");
            }
        }
        assert_eq!(s.note_failure("t", "target"), 4 + 10 + 1, "the target's streak survived the flood");
        assert_eq!(s.note_failure("t", "early-bystander"), 1, "the oldest names went first");
        assert!(s.streaks.lock().unwrap().len() <= 1000, "bounded");
    }
}
