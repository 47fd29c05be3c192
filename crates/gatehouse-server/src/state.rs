//! What every handler shares.

use std::sync::Arc;

use gatehouse_store::Store;

use crate::config::Config;

/// Shared application state: the store (with its vault) and the configuration.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
}
