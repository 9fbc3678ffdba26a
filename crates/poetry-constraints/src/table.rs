//! A bounded table from texts to values, for [`crate::Checker`]: the keys live back to back
//! in one string instead of one allocation each, and an entry is found by its hash and a
//! comparison against that string.

use std::hash::BuildHasher;

/// The tables' hasher: foldhash, several times faster than the standard SipHash on these
/// short texts and still seeded per process (a batch is read from stdin, so its lines could be
/// chosen to collide under a fixed hash).
type TextHasher = foldhash::fast::RandomState;

/// One entry: where its key is in [`TextTable::text`], and its value.
#[derive(Debug)]
struct Entry<T> {
    hash: u64,
    start: usize,
    end: usize,
    value: T,
}

#[derive(Debug)]
pub(crate) struct TextTable<T> {
    text: String,
    entries: hashbrown::HashTable<Entry<T>>,
    hasher: TextHasher,
    limit: usize,
}

impl<T> TextTable<T> {
    /// A table holding at most `limit` texts (at least 1); it starts afresh when full.
    pub(crate) fn new(limit: usize) -> TextTable<T> {
        TextTable {
            text: String::new(),
            entries: hashbrown::HashTable::new(),
            hasher: TextHasher::default(),
            limit: limit.max(1),
        }
    }

    pub(crate) fn clear(&mut self) {
        self.text.clear();
        self.entries.clear();
    }

    pub(crate) fn hash(&self, key: &str) -> u64 {
        self.hasher.hash_one(key)
    }

    /// The value of `key`, whose [`TextTable::hash`] is `hash`.
    pub(crate) fn get(&self, hash: u64, key: &str) -> Option<&T> {
        let text = &self.text;
        self.entries
            .find(hash, |e| e.hash == hash && &text[e.start..e.end] == key)
            .map(|e| &e.value)
    }

    /// Add `key` (not in the table, hash `hash`) with its value, and return the value.
    pub(crate) fn insert(&mut self, hash: u64, key: &str, value: T) -> &T {
        if self.entries.len() >= self.limit {
            self.clear();
        }
        let start = self.text.len();
        self.text.push_str(key);
        let entry = Entry {
            hash,
            start,
            end: self.text.len(),
            value,
        };
        &self
            .entries
            .insert_unique(hash, entry, |e| e.hash)
            .into_mut()
            .value
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_what_was_inserted_and_starts_afresh_when_full() {
        let mut t = TextTable::new(3);
        for (i, k) in ["a", "ab", "b"].into_iter().enumerate() {
            let h = t.hash(k);
            assert!(t.get(h, k).is_none());
            assert_eq!(*t.insert(h, k, i), i);
        }
        for (i, k) in ["a", "ab", "b"].into_iter().enumerate() {
            assert_eq!(t.get(t.hash(k), k), Some(&i));
        }
        // "a" and "ab" share bytes in the key text but are different keys.
        assert!(t.get(t.hash("ba"), "ba").is_none());
        let h = t.hash("c");
        t.insert(h, "c", 9);
        assert_eq!(t.len(), 1, "a full table is emptied before the next insert");
        assert!(t.get(t.hash("a"), "a").is_none());
        assert_eq!(t.get(h, "c"), Some(&9));
    }
}
