//! The in-memory index of token certificates: for each handle, the blob
//! version it describes, the searchable attributes, and the verified
//! object once it has been loaded. Searches by label go through a label
//! map so that a warm search never reads or parses a blob.

use super::rules::searchable_kinds;
use crate::object::{decode_bool, AttributeType, Attributes, Handle, Template};
use cryptoki_sys::*;
use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, BTreeSet};
use std::hash::BuildHasher;
use std::sync::Arc;

/// The searchable attributes of one certificate packed in one allocation:
/// an index of 100,000 certificates holds 100,000 of these, and a map of
/// nine vectors each would cost ten allocations per certificate at
/// start-up. Per attribute, in increasing type order: the type (u64), the
/// value's length (u32), both little-endian, and the value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Searchable(Box<[u8]>);

/// The bytes before each value: its type and its length.
const FIELD_HEADER: usize = 12;

impl Searchable {
    /// Packs `attributes` (all of them: pass the searchable ones).
    pub fn of(attributes: &Attributes) -> Self {
        let size = attributes
            .0
            .values()
            .map(|value| FIELD_HEADER + value.len())
            .sum();
        let mut packed = Vec::with_capacity(size);
        for (kind, value) in &attributes.0 {
            packed.extend_from_slice(&kind.to_le_bytes());
            packed.extend_from_slice(&(value.len() as u32).to_le_bytes());
            packed.extend_from_slice(value);
        }
        Searchable(packed.into_boxed_slice())
    }

    /// Takes packed bytes read back (from the index cache): `None` unless
    /// they are well-formed, with types in strictly increasing order.
    pub fn from_packed(packed: &[u8]) -> Option<Self> {
        let mut rest = packed;
        let mut previous: Option<AttributeType> = None;
        while !rest.is_empty() {
            let (kind, _, after) = split_field(rest)?;
            if previous.is_some_and(|p| p >= kind) {
                return None;
            }
            previous = Some(kind);
            rest = after;
        }
        Some(Searchable(packed.into()))
    }

    /// The packed bytes, as [`Searchable::from_packed`] takes them.
    pub fn packed(&self) -> &[u8] {
        &self.0
    }

    /// Every attribute, in increasing type order.
    pub fn iter(&self) -> impl Iterator<Item = (AttributeType, &[u8])> {
        let mut rest: &[u8] = &self.0;
        std::iter::from_fn(move || {
            let (kind, value, after) = split_field(rest)?;
            rest = after;
            Some((kind, value))
        })
    }

    /// The value of `kind`, if present.
    pub fn get(&self, kind: AttributeType) -> Option<&[u8]> {
        self.iter()
            .take_while(|(k, _)| *k <= kind)
            .find(|(k, _)| *k == kind)
            .map(|(_, value)| value)
    }

    /// The attributes as a map.
    pub fn to_attributes(&self) -> Attributes {
        let mut attributes = Attributes::new();
        for (kind, value) in self.iter() {
            attributes.set(kind, value.to_vec());
        }
        attributes
    }
}

/// The first field of packed bytes: its type, its value and what follows.
/// `None` when the bytes are too short for what they claim.
fn split_field(packed: &[u8]) -> Option<(AttributeType, &[u8], &[u8])> {
    let (header, rest) = packed.split_at_checked(FIELD_HEADER)?;
    let kind = u64::from_le_bytes(header[..8].try_into().ok()?);
    let length = u32::from_le_bytes(header[8..].try_into().ok()?) as usize;
    let (value, rest) = rest.split_at_checked(length)?;
    Some((kind as AttributeType, value, rest))
}

/// What the index knows about one token certificate blob.
#[derive(Clone, Debug, Default)]
pub struct TokenEntry {
    /// The blob version this entry describes.
    pub version: String,
    /// The searchable attributes (unverified until `verified` is set).
    pub search: Searchable,
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
        self.search
            .get(CKA_PRIVATE)
            .and_then(decode_bool)
            .unwrap_or(false)
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
    /// (hash of the label, handle): the handles of a label are one range,
    /// in increasing order, with no allocation per certificate. Two labels
    /// of one hash share a range; the search compares the labels.
    by_label: BTreeSet<(u64, Handle)>,
    hasher: RandomState,
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
            self.by_label.insert((self.hasher.hash_one(label), handle));
        }
        self.sequence += 1;
        self.entries.insert(handle, (entry, self.sequence));
    }

    /// Forgets `handle`.
    pub fn remove(&mut self, handle: Handle) -> Option<TokenEntry> {
        let (entry, _) = self.entries.remove(&handle)?;
        self.sequence += 1;
        if let Some(label) = entry.search.get(CKA_LABEL) {
            self.by_label.remove(&(self.hasher.hash_one(label), handle));
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
            Some(label) => {
                let hash = self.hasher.hash_one(label.value.as_slice());
                self.by_label
                    .range((hash, Handle::MIN)..=(hash, Handle::MAX))
                    .map(|(_, handle)| *handle)
                    .filter(|handle| self.get(*handle).is_some_and(keep))
                    .collect()
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::Attribute;

    fn attributes() -> Attributes {
        let mut attributes = Attributes::new();
        attributes.set(CKA_SUBJECT, vec![0x30, 0x00]);
        attributes.set(CKA_LABEL, b"one".to_vec());
        attributes.set(CKA_ID, Vec::new());
        attributes.set_bool(CKA_PRIVATE, true);
        attributes
    }

    #[test]
    fn packed_attributes_give_back_each_value() {
        let packed = Searchable::of(&attributes());
        assert_eq!(packed.get(CKA_LABEL), Some(b"one".as_slice()));
        assert_eq!(
            packed.get(CKA_ID),
            Some([].as_slice()),
            "an empty value is present"
        );
        assert_eq!(packed.get(CKA_SUBJECT), Some([0x30, 0x00].as_slice()));
        assert_eq!(packed.get(CKA_ISSUER), None);
        assert_eq!(packed.to_attributes(), attributes());
        assert_eq!(Searchable::from_packed(packed.packed()), Some(packed));
        assert_eq!(Searchable::of(&Attributes::new()).get(CKA_LABEL), None);
    }

    #[test]
    fn packed_bytes_out_of_order_or_torn_are_refused() {
        let packed = Searchable::of(&attributes());
        let bytes = packed.packed();
        // The ends of the fields: only a cut there is well-formed.
        let mut ends = Vec::new();
        let mut end = 0;
        for (_, value) in packed.iter() {
            end += FIELD_HEADER + value.len();
            ends.push(end);
        }
        assert_eq!(end, bytes.len());
        for cut in 1..bytes.len() {
            let kept = Searchable::from_packed(&bytes[..cut]).map(|s| s.iter().count());
            let whole = ends.iter().position(|end| *end == cut).map(|at| at + 1);
            assert_eq!(kept, whole, "cut at {cut}");
        }
        let label = Searchable::of(&Attributes(
            [(CKA_LABEL, b"x".to_vec())].into_iter().collect(),
        ));
        let class = Searchable::of(&Attributes([(CKA_CLASS, vec![1; 8])].into_iter().collect()));
        let mut swapped = label.packed().to_vec();
        swapped.extend_from_slice(class.packed());
        assert!(
            Searchable::from_packed(&swapped).is_none(),
            "CKA_LABEL before CKA_CLASS"
        );
        let mut twice = label.packed().to_vec();
        twice.extend_from_slice(label.packed());
        assert!(Searchable::from_packed(&twice).is_none(), "one type twice");
    }

    #[test]
    fn a_label_search_finds_exactly_the_handles_of_that_label() {
        let mut index = TokenIndex::default();
        let entry = |label: &[u8]| {
            let mut search = Attributes::new();
            search.set(CKA_LABEL, label.to_vec());
            TokenEntry {
                version: "v".into(),
                search: Searchable::of(&search),
                ..TokenEntry::default()
            }
        };
        index.insert(30, entry(b"a"));
        index.insert(10, entry(b"a"));
        index.insert(20, entry(b"b"));
        let by = |index: &TokenIndex, label: &[u8]| {
            index.candidates(&[Attribute::new(CKA_LABEL, label.to_vec())], true)
        };
        assert_eq!(by(&index, b"a"), vec![10, 30]);
        assert_eq!(by(&index, b"b"), vec![20]);
        assert_eq!(by(&index, b"c"), Vec::<Handle>::new());
        index.insert(30, entry(b"b"));
        assert_eq!(
            by(&index, b"a"),
            vec![10],
            "a relabelled entry leaves its old label"
        );
        assert_eq!(by(&index, b"b"), vec![20, 30]);
        index.remove(10);
        assert_eq!(by(&index, b"a"), Vec::<Handle>::new());
    }
}
