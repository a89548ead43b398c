//! The index cache: the searchable attributes of each blob version, kept
//! beside a local store so that a new process need not read every blob at
//! start-up ([`crate::certstore::BlobStore::read_cache`]).
//!
//! It is only a cache. An entry is used for a blob only when the listing
//! gives that blob the very version the entry names (a content digest, or
//! an identity that pins the content), and what it says is unverified
//! search data, as a peek at the blob would give: every certificate is
//! still read and its signature verified before it is returned, and one
//! whose verified attributes do not match the search is left out. A cache
//! that is torn, of another format, or fails its checksum is ignored, and
//! one that many blobs disagree with is written again.
//!
//! Layout: the magic line, the entry count (u64), then per entry the handle
//! (u64), the version (u32 length, bytes) and the attributes (u32 count;
//! each a u64 type, a u32 length and the value); at the end the SHA-256 of
//! all that. Integers are little-endian.

use crate::object::{Attributes, Handle};
use std::collections::HashMap;

const MAGIC: &[u8] = b"azcloudhsm-pkcs11 index cache 1\n";
const DIGEST: usize = 32;
/// Bounds a cache of any size must keep: more is not ours.
const MAX_ENTRIES: u64 = 50_000_000;
const MAX_VALUE: u32 = 1 << 20;
const MAX_VERSION: u32 = 4_096;

/// What the cache says of one handle: its blob's version and the
/// searchable attributes of that version.
pub(super) type Cached = HashMap<Handle, (String, Attributes)>;

/// The cache of `entries` (handle, version, searchable attributes).
pub(super) fn encode<'a>(
    entries: impl ExactSizeIterator<Item = (Handle, &'a str, &'a Attributes)>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(MAGIC.len() + 8 + entries.len() * 320 + DIGEST);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(entries.len() as u64).to_le_bytes());
    for (handle, version, search) in entries {
        out.extend_from_slice(&handle.to_le_bytes());
        out.extend_from_slice(&(version.len() as u32).to_le_bytes());
        out.extend_from_slice(version.as_bytes());
        out.extend_from_slice(&(search.0.len() as u32).to_le_bytes());
        for (kind, value) in &search.0 {
            out.extend_from_slice(&kind.to_le_bytes());
            out.extend_from_slice(&(value.len() as u32).to_le_bytes());
            out.extend_from_slice(value);
        }
    }
    let digest = openssl::sha::sha256(&out);
    out.extend_from_slice(&digest);
    out
}

/// Reads a cache; `None` (the cache is ignored) when it is not one intact
/// cache of this format.
pub(super) fn decode(bytes: &[u8]) -> Option<Cached> {
    let (body, digest) = bytes.split_at_checked(bytes.len().checked_sub(DIGEST)?)?;
    if openssl::sha::sha256(body) != digest {
        return None;
    }
    let mut reader = Reader(body.strip_prefix(MAGIC)?);
    let count = reader.u64()?;
    if count > MAX_ENTRIES {
        return None;
    }
    let mut cached = HashMap::with_capacity(usize::try_from(count).ok()?.min(1 << 20));
    for _ in 0..count {
        let handle = reader.u64()?;
        let version_len = reader.u32()?;
        if version_len > MAX_VERSION {
            return None;
        }
        let version = std::str::from_utf8(reader.take(version_len as usize)?)
            .ok()?
            .to_string();
        let mut search = Attributes::new();
        for _ in 0..reader.u32()? {
            let kind = reader.u64()?;
            let length = reader.u32()?;
            if length > MAX_VALUE {
                return None;
            }
            search.set(kind, reader.take(length as usize)?.to_vec());
        }
        cached.insert(handle, (version, search));
    }
    reader.0.is_empty().then_some(cached)
}

/// Reads little-endian fields off the front of a slice.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, length: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(length)?;
        self.0 = rest;
        Some(head)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<(Handle, String, Attributes)> {
        (0..3u64)
            .map(|i| {
                let mut search = Attributes::new();
                search.set(3, format!("label-{i}").into_bytes());
                search.set(0x101, vec![i as u8; 5]);
                (0xFFF0_0000 + i, format!("unread-{i}"), search)
            })
            .collect()
    }

    fn encoded(entries: &[(Handle, String, Attributes)]) -> Vec<u8> {
        encode(entries.iter().map(|(h, v, s)| (*h, v.as_str(), s)))
    }

    #[test]
    fn a_cache_round_trips_its_entries() {
        let entries = sample();
        let cached = decode(&encoded(&entries)).expect("an intact cache");
        assert_eq!(cached.len(), 3);
        for (handle, version, search) in entries {
            assert_eq!(cached[&handle], (version, search));
        }
        assert_eq!(decode(&encoded(&[])).map(|c| c.len()), Some(0));
    }

    #[test]
    fn a_torn_flipped_or_foreign_cache_is_ignored() {
        let bytes = encoded(&sample());
        for cut in [0, 1, MAGIC.len(), bytes.len() / 2, bytes.len() - 1] {
            assert!(decode(&bytes[..cut]).is_none(), "cut at {cut}");
        }
        for position in [0, MAGIC.len() + 3, bytes.len() / 2, bytes.len() - 1] {
            let mut flipped = bytes.clone();
            flipped[position] ^= 1;
            assert!(decode(&flipped).is_none(), "flipped at {position}");
        }
        // A well-checksummed body that lies about its count.
        let mut body = MAGIC.to_vec();
        body.extend_from_slice(&u64::MAX.to_le_bytes());
        let digest = openssl::sha::sha256(&body);
        body.extend_from_slice(&digest);
        assert!(decode(&body).is_none());
    }
}
