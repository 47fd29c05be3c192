//! What every handler shares.

use std::sync::Arc;

use gatehouse_store::Store;

use crate::config::Config;
use crate::http::oauth::context::Caches;

/// Shared application state: the store (with its vault), the configuration, the caches.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    pub caches: Arc<Caches>,
}
