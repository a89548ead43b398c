//! The cache of token objects, keyed by handle and tagged with the row's
//! version, holding each key once it is parsed so that an operation never
//! decrypts or parses key material twice.
//!
//! An entry is believed only while its version is the row's: the object
//! functions read the row first and [`KeyCache::current`] replaces a stale
//! entry; a search drops every stale entry ([`KeyCache::keep_versions`]).

use super::database::ObjectRow;
use super::store::Entry;
use crate::object::Handle;
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::Arc;

/// Token objects by handle, with their parsed keys once loaded.
#[derive(Default)]
pub(super) struct KeyCache(RwLock<HashMap<Handle, Arc<Entry>>>);

impl KeyCache {
    /// The cached entry of `handle` if its key is parsed already.
    pub(super) fn loaded(&self, handle: Handle) -> Option<Arc<Entry>> {
        let entries = self.0.read();
        entries
            .get(&handle)
            .filter(|entry| entry.key.is_some())
            .cloned()
    }

    /// The entry for `row`: the cached one while it has the row's version,
    /// else a new one (without a parsed key) that replaces it.
    pub(super) fn current(&self, row: ObjectRow) -> Arc<Entry> {
        if let Some(cached) = self.0.read().get(&row.handle) {
            if cached.version == row.version {
                return cached.clone();
            }
        }
        let entry = Arc::new(Entry {
            handle: row.handle,
            version: row.version,
            attributes: row.attributes,
            sealed: row.sealed,
            key: None,
        });
        self.0.write().insert(row.handle, entry.clone());
        entry
    }

    /// Caches `entry`, written by this process, replacing what was there.
    pub(super) fn insert(&self, entry: Entry) {
        self.0.write().insert(entry.handle, Arc::new(entry));
    }

    /// Caches `entry` with its newly parsed key, unless another thread
    /// cached a newer version meanwhile.
    pub(super) fn keep_loaded(&self, entry: Entry) {
        let mut entries = self.0.write();
        if entries
            .get(&entry.handle)
            .is_none_or(|current| current.version <= entry.version)
        {
            entries.insert(entry.handle, Arc::new(entry));
        }
    }

    /// Forgets `handle`.
    pub(super) fn remove(&self, handle: Handle) {
        self.0.write().remove(&handle);
    }

    /// Keeps only the entries whose version is the one in `versions` (the
    /// rows of the database now).
    pub(super) fn keep_versions(&self, versions: &HashMap<Handle, i64>) {
        self.0
            .write()
            .retain(|handle, entry| versions.get(handle) == Some(&entry.version));
    }

    /// Forgets every entry and the keys they hold.
    pub(super) fn clear(&self) {
        self.0.write().clear();
    }
}
