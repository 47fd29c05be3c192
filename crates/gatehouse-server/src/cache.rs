//! Small read-mostly caches for the hot paths (tenants, clients, signing keys). Entries live
//! for a short TTL, so a change made by another process (the CLI, another node) is seen within
//! that time. No lock is held across an await.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// A map of `Arc` values that expire after `ttl`.
#[derive(Debug)]
pub struct TtlCache<V> {
    ttl: Duration,
    map: RwLock<HashMap<String, (Instant, Arc<V>)>>,
}

impl<V> TtlCache<V> {
    /// An empty cache.
    pub fn new(ttl: Duration) -> Self {
        Self { ttl, map: RwLock::new(HashMap::new()) }
    }

    /// The fresh entry for `key`, if any.
    pub fn get(&self, key: &str) -> Option<Arc<V>> {
        let map = self.map.read().ok()?;
        map.get(key).filter(|(at, _)| at.elapsed() < self.ttl).map(|(_, v)| Arc::clone(v))
    }

    /// Stores `value` under `key`.
    pub fn put(&self, key: String, value: Arc<V>) {
        if let Ok(mut map) = self.map.write() {
            map.insert(key, (Instant::now(), value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire() {
        let c = TtlCache::new(Duration::ZERO);
        c.put("a".into(), Arc::new(1));
        assert!(c.get("a").is_none(), "a zero TTL never serves");
        let c = TtlCache::new(Duration::from_secs(60));
        c.put("a".into(), Arc::new(1));
        assert_eq!(c.get("a").as_deref(), Some(&1));
        assert!(c.get("b").is_none());
    }
}
