//! What every handler shares.

use std::sync::Arc;

use gatehouse_core::password::PasswordHasher;
use gatehouse_store::Store;
use tokio::sync::Semaphore;

use crate::config::Config;
use crate::http::oauth::context::Caches;

/// Shared application state: the store (with its vault), the configuration, the caches.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    pub caches: Arc<Caches>,
    pub hasher: Arc<PasswordHasher>,
    /// A1: at most this many password hashes at once.
    pub hash_permits: Arc<Semaphore>,
    /// A3: what an unknown user's password is checked against, so failures cost the same.
    pub dummy_hash: String,
    /// Group commit of audit records.
    pub audit_writer: crate::audit_writer::AuditWriter,
    /// Outbound HTTPS (back-channel logout), with a short timeout and no redirects.
    pub outbound: reqwest::Client,
    /// O8: outbound HTTPS to upstream providers and their cached metadata.
    pub upstreams: Arc<crate::http::upstream::client::Upstreams>,
    /// A4: sign-in attempts per client IP (`None`: no limit).
    pub login_limit: Option<Arc<crate::rate_limit::IpLimit>>,
    /// A4: token requests per client IP (`None`: no limit).
    pub token_limit: Option<Arc<crate::rate_limit::IpLimit>>,
    /// A4: failed sign-ins in a row per username, for the progressive delay.
    pub failure_streaks: Arc<crate::rate_limit::FailureStreaks>,
    /// L4: the counters `GET /metrics` renders.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// L4: intrusion signals to the operator's webhook.
    pub alerts: Arc<crate::alerts::Alerter>,
    /// S6: wakes the back-channel logout delivery when this node ended a session.
    pub logout_wakeup: Arc<tokio::sync::Notify>,
    /// Wakes the mail worker when this node queued mail.
    pub mail_wakeup: Arc<tokio::sync::Notify>,
    /// A4, A9: reset links are counted and issued one at a time, so requests that arrive
    /// together cannot all pass the hourly limit.
    pub reset_sends: Arc<tokio::sync::Mutex<()>>,
}

impl AppState {
    /// Mail was queued here; send it now.
    pub fn wake_mail(&self) {
        self.mail_wakeup.notify_one();
    }

    /// S6: a session ended here; deliver its back-channel logout notices now.
    pub fn wake_logout_delivery(&self) {
        self.logout_wakeup.notify_one();
    }

    /// L4: raises an intrusion signal (alert webhook, at most one per signal and tenant per
    /// minute).
    pub fn signal(&self, signal: crate::alerts::Signal, tenant_id: &str, details: serde_json::Value) {
        self.alerts.raise(&self.outbound, signal, tenant_id, details);
    }
}
