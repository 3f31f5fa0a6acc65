//! A small in-process cache whose entries live a few seconds: for public answers that many
//! ask for at once and that may be a moment old (the warranty look-up). Bounded: when full,
//! expired entries go first, then everything (a burst of new keys cannot grow it).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Ttl<K, V> {
    ttl: Duration,
    capacity: usize,
    entries: Mutex<HashMap<K, (Instant, V)>>,
}

impl<K: Eq + Hash, V: Clone> Ttl<K, V> {
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        Ttl {
            ttl,
            capacity,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The value kept for `key` and whether the caller should fetch it again: a value past
    /// its time to live is still given (at most twice the time to live old), to one caller
    /// with `true` (its clock restarted, so the others keep taking it meanwhile). So when
    /// an entry expires, one request refreshes it and none waits.
    pub fn get_or_refresh(&self, key: &K) -> Option<(V, bool)> {
        let mut entries = self.entries.lock().ok()?;
        let (at, v) = entries.get_mut(key)?;
        let age = at.elapsed();
        if age < self.ttl {
            Some((v.clone(), false))
        } else if age < self.ttl * 2 {
            *at = Instant::now();
            Some((v.clone(), true))
        } else {
            None
        }
    }

    /// The value kept for `key`, if younger than the time to live.
    #[cfg(test)]
    fn get(&self, key: &K) -> Option<V> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(key)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, v)| v.clone())
    }

    pub fn put(&self, key: K, value: V) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            let ttl = self.ttl;
            entries.retain(|_, (at, _)| at.elapsed() < ttl);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(key, (Instant::now(), value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_the_cache_stays_bounded() {
        let c = Ttl::new(Duration::from_millis(50), 3);
        c.put("a", 1);
        assert_eq!(c.get(&"a"), Some(1));
        assert_eq!(c.get(&"b"), None);
        for (i, k) in ["b", "c", "d", "e"].into_iter().enumerate() {
            c.put(k, i);
        }
        assert!(c.entries.lock().unwrap().len() <= 3);
        assert_eq!(c.get(&"e"), Some(3));
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(c.get(&"e"), None, "expired");
        // Past its time: given once with "refresh", then as fresh to the others meanwhile.
        assert_eq!(c.get_or_refresh(&"e"), Some((3, true)));
        assert_eq!(c.get_or_refresh(&"e"), Some((3, false)));
        std::thread::sleep(Duration::from_millis(110));
        assert_eq!(c.get_or_refresh(&"e"), None, "too old to give at all");
    }
}
