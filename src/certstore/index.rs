//! The in-memory index of token certificates: for each handle, the blob
//! version it describes, the searchable attributes, and the verified
//! object once it has been loaded. Searches by label go through a label
//! map so that a warm search never reads or parses a blob.

use super::rules::searchable_kinds;
use crate::object::{Attributes, Handle, Template};
use cryptoki_sys::*;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// What the index knows about one token certificate blob.
#[derive(Clone, Debug, Default)]
pub struct TokenEntry {
    /// The blob version this entry describes.
    pub version: String,
    /// The searchable attributes (unverified until `verified` is set).
    pub search: Attributes,
    /// `search` came from unsigned blob metadata and must agree with the payload.
    pub from_metadata: bool,
    /// The verified certificate of this version, once loaded.
    pub verified: Option<Arc<Attributes>>,
    /// The blob of this version failed verification (already logged); it
    /// is never returned, but its handle stays taken.
    pub rejected: bool,
}

impl TokenEntry {
    /// An entry for a blob that failed verification.
    pub fn rejected(version: String) -> Self {
        TokenEntry {
            version,
            rejected: true,
            ..TokenEntry::default()
        }
    }

    /// Private, as far as the index knows.
    pub fn is_private(&self) -> bool {
        self.search.bool_or(CKA_PRIVATE, false)
    }
}

/// Token certificates by handle, with a label map.
///
/// Every insert and remove takes the next number of a sequence and an
/// entry remembers the number it was put in with, so that a listing of
/// the store, which may take long while other threads read and write
/// blobs, applies only to the entries it is news for: see
/// [`TokenIndex::changed_since`].
#[derive(Debug, Default)]
pub struct TokenIndex {
    entries: BTreeMap<Handle, (TokenEntry, u64)>,
    sequence: u64,
    /// Label -> handles in increasing order: a vector, because a label
    /// almost always names one certificate, and a one-element set costs a
    /// tree node per certificate at 100,000 certificates.
    by_label: HashMap<Vec<u8>, Vec<Handle>>,
}

impl TokenIndex {
    /// The entry of `handle`.
    pub fn get(&self, handle: Handle) -> Option<&TokenEntry> {
        self.entries.get(&handle).map(|(entry, _)| entry)
    }

    /// The number of the last insert or remove.
    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    /// True when the entry of `handle` was put in after the moment
    /// [`TokenIndex::sequence`] was `sequence`: by a read or a write of
    /// the blob that came after it, so newer than anything a listing begun
    /// at that moment can say.
    pub fn changed_since(&self, handle: Handle, sequence: u64) -> bool {
        self.entries
            .get(&handle)
            .is_some_and(|(_, inserted)| *inserted > sequence)
    }

    /// Forgets every entry; the sequence goes on.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.by_label.clear();
        self.sequence += 1;
    }

    /// True when a blob of `handle` is known (verified or not).
    pub fn contains(&self, handle: Handle) -> bool {
        self.entries.contains_key(&handle)
    }

    /// The highest known token handle.
    pub fn highest(&self) -> Option<Handle> {
        self.entries.last_key_value().map(|(handle, _)| *handle)
    }

    /// Every known handle with its version.
    pub fn versions(&self) -> impl Iterator<Item = (Handle, &str)> {
        self.entries
            .iter()
            .map(|(handle, (entry, _))| (*handle, entry.version.as_str()))
    }

    /// Every known handle with its entry.
    pub fn entries(&self) -> impl Iterator<Item = (Handle, &TokenEntry)> {
        self.entries
            .iter()
            .map(|(handle, (entry, _))| (*handle, entry))
    }

    /// Number of known blobs.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no blob is known.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds or replaces the entry of `handle`.
    pub fn insert(&mut self, handle: Handle, entry: TokenEntry) {
        self.remove(handle);
        if let Some(label) = entry.search.get(CKA_LABEL) {
            let handles = self.by_label.entry(label.to_vec()).or_default();
            if let Err(position) = handles.binary_search(&handle) {
                handles.insert(position, handle);
            }
        }
        self.sequence += 1;
        self.entries.insert(handle, (entry, self.sequence));
    }

    /// Forgets `handle`.
    pub fn remove(&mut self, handle: Handle) -> Option<TokenEntry> {
        let (entry, _) = self.entries.remove(&handle)?;
        self.sequence += 1;
        if let Some(label) = entry.search.get(CKA_LABEL) {
            if let Some(handles) = self.by_label.get_mut(label) {
                handles.retain(|known| *known != handle);
                if handles.is_empty() {
                    self.by_label.remove(label);
                }
            }
        }
        Some(entry)
    }

    /// The handles that may match `template`, judged on the searchable
    /// attributes only, leaving out rejected blobs and, unless
    /// `sees_private`, private ones. In increasing order.
    pub fn candidates(&self, template: &Template, sees_private: bool) -> Vec<Handle> {
        let searchable: Vec<_> = template
            .iter()
            .filter(|a| searchable_kinds().any(|k| k == a.kind))
            .collect();
        let keep = |entry: &TokenEntry| {
            !entry.rejected
                && (sees_private || !entry.is_private())
                && searchable
                    .iter()
                    .all(|a| entry.search.get(a.kind) == Some(a.value.as_slice()))
        };
        match template.iter().find(|a| a.kind == CKA_LABEL) {
            Some(label) => self
                .by_label
                .get(&label.value)
                .into_iter()
                .flatten()
                .filter(|handle| self.get(**handle).is_some_and(keep))
                .copied()
                .collect(),
            None => self
                .entries
                .iter()
                .filter(|(_, (entry, _))| keep(entry))
                .map(|(handle, _)| *handle)
                .collect(),
        }
    }

    /// Handles whose searchable CKA_SUBJECT is `subject`.
    pub fn with_subject(&self, subject: &[u8]) -> Vec<Handle> {
        self.entries
            .iter()
            .filter(|(_, (entry, _))| {
                !entry.rejected && entry.search.get(CKA_SUBJECT) == Some(subject)
            })
            .map(|(handle, _)| *handle)
            .collect()
    }
}
