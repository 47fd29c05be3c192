//! D3, L3: the server purges expired codes, tokens, sessions and requests, and audit records
//! past their retention, in the background.

use std::time::Duration;

use actix_web::web;
use gatehouse_core::UnixTime;
use gatehouse_core::audit::AuditEvent;
use gatehouse_core::flow::session::SessionPolicy;
use gatehouse_core::store::AuditStore;
use gatehouse_store::Store;
use gatehouse_store::purge::Purged;
use serde_json::json;

/// How often the server purges.
pub const INTERVAL: Duration = Duration::from_secs(15 * 60);

/// D3: purges expired records once, off the executor.
pub async fn once(store: Store) -> anyhow::Result<Purged> {
    // Sessions idle longer than any tenant may allow are over everywhere (S4).
    let idle = SessionPolicy::MAX_IDLE_SECS;
    Ok(web::block(move || store.purge_expired(UnixTime::now().0, idle)).await??)
}

/// L3: prunes audit records older than `days` (none when 0); how many went.
pub fn prune_audit(store: &Store, days: u32, actor: &str) -> anyhow::Result<u64> {
    if days == 0 {
        return Ok(0);
    }
    let before = UnixTime::now().0 - i64::from(days) * 86_400;
    let audit = AuditEvent::new(actor, "audit.prune").details(json!({ "older_than_days": days, "before": before }));
    Ok(store.prune_audit(before, &audit)?)
}

/// Purges every `interval`, first one `interval` after the start; failures are logged and
/// retried at the next tick.
pub async fn every(store: Store, interval: Duration, audit_retention_days: u32) {
    let mut tick = actix_web::rt::time::interval_at(actix_web::rt::time::Instant::now() + interval, interval);
    loop {
        tick.tick().await;
        match once(store.clone()).await {
            Ok(purged) => tracing::info!(?purged, "purged expired records"),
            Err(e) => tracing::error!(error = %e, "purging expired records failed"),
        }
        let s = store.clone();
        match web::block(move || prune_audit(&s, audit_retention_days, "system")).await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::info!(records = n, "pruned audit records past their retention"),
            Ok(Err(e)) => tracing::error!(error = %e, "pruning the audit log failed"),
            Err(e) => tracing::error!(error = %e, "pruning the audit log failed"),
        }
    }
}
