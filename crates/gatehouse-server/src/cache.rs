//! Small read-mostly caches for the hot paths (tenants, clients, signing keys). Entries live
//! for a short TTL, so a change made by another process (the CLI, another node) is seen within
//! that time (plus a reload's grace of one second). No lock is held across an await.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// How long other callers keep getting an expired entry while one caller reloads it.
const RELOAD_GRACE: Duration = Duration::from_secs(1);

/// A map of `Arc` values that expire after `ttl`. When an entry expires, one caller is told
/// to reload it and the others keep the old value for at most [`RELOAD_GRACE`], so a busy
/// node does not send every request in flight to the database at once.
#[derive(Debug)]
pub struct TtlCache<V> {
    ttl: Duration,
    map: RwLock<HashMap<String, Entry<V>>>,
}

#[derive(Debug)]
struct Entry<V> {
    stored: Instant,
    /// When a caller was last sent to reload this entry.
    reloading: Option<Instant>,
    value: Arc<V>,
}

impl<V> TtlCache<V> {
    /// An empty cache.
    pub fn new(ttl: Duration) -> Self {
        Self { ttl, map: RwLock::new(HashMap::new()) }
    }

    /// The entry for `key` if it is fresh, or if another caller is reloading it; `None` tells
    /// the caller to load it and [`put`](Self::put) the result.
    pub fn get(&self, key: &str) -> Option<Arc<V>> {
        {
            let map = self.map.read().ok()?;
            let entry = map.get(key)?;
            if entry.stored.elapsed() < self.ttl {
                return Some(Arc::clone(&entry.value));
            }
        }
        let mut map = self.map.write().ok()?;
        let entry = map.get_mut(key)?;
        if entry.stored.elapsed() < self.ttl || entry.reloading.is_some_and(|at| at.elapsed() < RELOAD_GRACE) {
            return Some(Arc::clone(&entry.value));
        }
        // This caller reloads; a reload that fails or hangs is retried after the grace.
        entry.reloading = Some(Instant::now());
        None
    }

    /// Forgets `key`: a reload found nothing, so nobody may keep the old value.
    pub fn remove(&self, key: &str) {
        if let Ok(mut map) = self.map.write() {
            map.remove(key);
        }
    }

    /// Stores `value` under `key`.
    pub fn put(&self, key: String, value: Arc<V>) {
        if let Ok(mut map) = self.map.write() {
            map.insert(key, Entry { stored: Instant::now(), reloading: None, value });
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

    #[test]
    fn one_caller_reloads_an_expired_entry_the_others_keep_the_old_value() {
        let c = TtlCache::new(Duration::ZERO);
        c.put("a".into(), Arc::new(1));
        assert!(c.get("a").is_none(), "the first caller after expiry reloads");
        assert_eq!(c.get("a").as_deref(), Some(&1), "the others are not sent to the database too");
        assert_eq!(c.get("a").as_deref(), Some(&1));
        c.put("a".into(), Arc::new(2));
        assert!(c.get("a").is_none(), "the reloaded entry expires like any other");
        assert_eq!(c.get("a").as_deref(), Some(&2));
        c.remove("a");
        assert!(c.get("a").is_none(), "a reload that found nothing leaves nothing to serve");
        assert!(c.get("a").is_none());
    }
}
