//! Server-side sessions (S1–S4): a random 256-bit id in the cookie, its hash in the database,
//! an idle timeout and an absolute lifetime.

use crate::UnixTime;
use crate::crypto::random_token;
use crate::store::SessionRecord;

/// Session timeouts (S4). Defaults: 30 minutes idle, 12 hours absolute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    pub idle_secs: i64,
    pub absolute_secs: i64,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self { idle_secs: 30 * 60, absolute_secs: 12 * 3600 }
    }
}

/// A new session for a user who just presented every required factor (A7).
pub fn new_session(
    tenant_id: &str,
    user_id: &str,
    amr: &[&str],
    acr: &str,
    policy: SessionPolicy,
    now: UnixTime,
) -> (String, SessionRecord) {
    let cookie = random_token();
    let record = SessionRecord {
        sid: random_token(),
        tenant_id: tenant_id.to_owned(),
        user_id: user_id.to_owned(),
        auth_time: now.0,
        amr: amr.join(" "),
        acr: acr.to_owned(),
        created_at: now.0,
        last_seen_at: now.0,
        expires_at: now.0 + policy.absolute_secs,
    };
    (cookie, record)
}

/// S4: a session idle longer than the policy allows is over, whatever its absolute expiry.
pub fn is_live(s: &SessionRecord, policy: SessionPolicy, now: UnixTime) -> bool {
    now.0 < s.expires_at && now.0 - s.last_seen_at < policy.idle_secs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_and_absolute_timeouts() {
        let p = SessionPolicy::default();
        let (_, s) = new_session("t", "u", &["pwd"], "acr", p, UnixTime(1000));
        assert!(is_live(&s, p, UnixTime(1000 + 29 * 60)));
        assert!(!is_live(&s, p, UnixTime(1000 + 30 * 60)), "idle");
        let mut busy = s.clone();
        busy.last_seen_at = 1000 + 12 * 3600 - 1;
        assert!(!is_live(&busy, p, UnixTime(1000 + 12 * 3600)), "absolute");
    }
}
