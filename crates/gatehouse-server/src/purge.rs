//! D3: the server purges expired codes, tokens, sessions and requests in the background.

use std::time::Duration;

use actix_web::web;
use gatehouse_core::UnixTime;
use gatehouse_core::flow::session::SessionPolicy;
use gatehouse_store::Store;
use gatehouse_store::purge::Purged;

/// How often the server purges.
pub const INTERVAL: Duration = Duration::from_secs(15 * 60);

/// Purges once, off the executor.
pub async fn once(store: Store) -> anyhow::Result<Purged> {
    let idle = SessionPolicy::default().idle_secs;
    Ok(web::block(move || store.purge_expired(UnixTime::now().0, idle)).await??)
}

/// Purges every `interval`, first one `interval` after the start; failures are logged and
/// retried at the next tick.
pub async fn every(store: Store, interval: Duration) {
    let mut tick = actix_web::rt::time::interval_at(actix_web::rt::time::Instant::now() + interval, interval);
    loop {
        tick.tick().await;
        match once(store.clone()).await {
            Ok(purged) => tracing::info!(?purged, "purged expired records"),
            Err(e) => tracing::error!(error = %e, "purging expired records failed"),
        }
    }
}
