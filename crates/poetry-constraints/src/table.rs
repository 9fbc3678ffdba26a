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

impl<T> Entry<T> {
    /// An entry for `key`, whose text is appended to `text`.
    fn new(text: &mut String, hash: u64, key: &str, value: T) -> Entry<T> {
        let start = text.len();
        text.push_str(key);
        Entry {
            hash,
            start,
            end: text.len(),
            value,
        }
    }
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

    /// The value of `key`, made by `make` and remembered if the table does not have it yet.
    pub(crate) fn get_or_insert_with(&mut self, key: &str, make: impl FnOnce() -> T) -> &T {
        let hash = self.hasher.hash_one(key);
        let TextTable {
            text,
            entries,
            limit,
            ..
        } = self;
        let full = entries.len() >= *limit;
        let found = entries.entry(
            hash,
            |e| e.hash == hash && &text[e.start..e.end] == key,
            |e| e.hash,
        );
        let vacant = match found {
            hashbrown::hash_table::Entry::Occupied(known) => return &known.into_mut().value,
            hashbrown::hash_table::Entry::Vacant(vacant) => vacant,
        };
        let value = make();
        if full {
            // Start afresh rather than grow without bound.
            let entries = vacant.into_table();
            text.clear();
            entries.clear();
            let entry = Entry::new(text, hash, key, value);
            return &entries
                .insert_unique(hash, entry, |e| e.hash)
                .into_mut()
                .value;
        }
        &vacant
            .insert(Entry::new(text, hash, key, value))
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
        let mut made = Vec::new();
        let mut get = |t: &mut TextTable<usize>, k: &'static str, v: usize| {
            *t.get_or_insert_with(k, || {
                made.push(k);
                v
            })
        };
        for (i, k) in ["a", "ab", "b"].into_iter().enumerate() {
            assert_eq!(get(&mut t, k, i), i);
        }
        for k in ["a", "ab", "b"] {
            // Remembered: the old value, nothing made.
            assert_eq!(
                get(&mut t, k, 99),
                ["a", "ab", "b"].iter().position(|x| *x == k).unwrap()
            );
        }
        // "ba" shares bytes with the key text "aabb" but is a different key; the table is
        // full, so it starts afresh with "ba" alone.
        assert_eq!(get(&mut t, "ba", 9), 9);
        assert_eq!(t.len(), 1, "a full table is emptied before the next insert");
        assert_eq!(
            get(&mut t, "a", 5),
            5,
            "forgotten when the table started afresh"
        );
        assert_eq!(get(&mut t, "ba", 0), 9);
        assert_eq!(made, ["a", "ab", "b", "ba", "a"]);
    }
}
