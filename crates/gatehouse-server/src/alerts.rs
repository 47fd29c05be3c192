//! L4: intrusion signals (lockout storms, credential stuffing, token replay) raise an alert, a
//! JSON POST to the operator's webhook. At most one per signal and tenant per minute (the
//! metrics carry the counts), sent in the background so no request waits for it.

use std::num::NonZeroU32;

use gatehouse_core::UnixTime;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde_json::{Value, json};
use url::Url;

/// An intrusion signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signal {
    /// A4: an account was locked by repeated failures.
    AccountLocked,
    /// A4: a client address went over a rate limit.
    RateLimited,
    /// O2/O3: a replayed code or a reused refresh token; the family was revoked.
    TokenReplay,
}

impl Signal {
    /// The name in the alert body.
    pub fn name(self) -> &'static str {
        match self {
            Self::AccountLocked => "account_locked",
            Self::RateLimited => "rate_limited",
            Self::TokenReplay => "token_replay",
        }
    }
}

/// Sends alerts to the configured webhook, if any.
pub struct Alerter {
    url: Option<Url>,
    gate: DefaultKeyedRateLimiter<(Signal, String)>,
}

impl std::fmt::Debug for Alerter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Alerter").field("enabled", &self.url.is_some()).finish()
    }
}

impl Alerter {
    /// An alerter posting to `url`, or doing nothing without one.
    pub fn new(url: Option<Url>) -> Self {
        Self { url, gate: RateLimiter::keyed(Quota::per_minute(NonZeroU32::MIN)) }
    }

    /// Whether `signal` for `tenant_id` is the first of its minute (and so gets an alert).
    fn first_of_minute(&self, signal: Signal, tenant_id: &str) -> bool {
        self.gate.check_key(&(signal, tenant_id.to_owned())).is_ok()
    }

    /// Raises `signal`; `true` when an alert is on its way.
    pub fn raise(&self, outbound: &reqwest::Client, signal: Signal, tenant_id: &str, details: Value) -> bool {
        let Some(url) = &self.url else { return false };
        if !self.first_of_minute(signal, tenant_id) {
            return false;
        }
        let body =
            json!({ "signal": signal.name(), "tenant_id": tenant_id, "at": UnixTime::now().0, "details": details });
        let (client, url) = (outbound.clone(), url.clone());
        actix_web::rt::spawn(async move {
            match client.post(url).json(&body).send().await {
                Ok(res) if res.status().is_success() => {}
                Ok(res) => tracing::warn!(status = res.status().as_u16(), "alert webhook refused the alert"),
                Err(e) => tracing::warn!(error = %e, "alert webhook unreachable"),
            }
        });
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_alert_per_signal_and_tenant_per_minute() {
        let a = Alerter::new(None);
        assert!(a.first_of_minute(Signal::TokenReplay, "t1"));
        assert!(!a.first_of_minute(Signal::TokenReplay, "t1"), "a storm is one alert");
        assert!(a.first_of_minute(Signal::AccountLocked, "t1"), "another signal");
        assert!(a.first_of_minute(Signal::TokenReplay, "t2"), "another tenant");
        assert!(!a.raise(&reqwest::Client::new(), Signal::RateLimited, "t1", Value::Null), "no webhook, no alert");
    }
}
