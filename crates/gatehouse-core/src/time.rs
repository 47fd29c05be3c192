//! Time is a parameter: core functions take `now`, so tests use a fixed clock and never sleep.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch; the unit every stored timestamp uses on both backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct UnixTime(pub i64);

impl UnixTime {
    /// The current wall-clock time; called only at the edges (handlers, CLI), never in checks.
    pub fn now() -> Self {
        let secs = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        Self(i64::try_from(secs).unwrap_or(i64::MAX))
    }
}
