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
//! Layout: the magic line, the entry count (u64), then per entry, in
//! increasing handle order, the handle (u64), the version (u32 length,
//! bytes) and the searchable attributes packed as the index packs them
//! (u32 length, bytes: see [`Searchable`]); at the end the SHA-256 of all
//! that. Integers are little-endian. Decoding costs two allocations per
//! entry (its version and its attributes), taken as they are by the index.

use crate::certstore::index::Searchable;
use crate::object::Handle;

const MAGIC: &[u8] = b"azcloudhsm-pkcs11 index cache 2\n";
const DIGEST: usize = 32;
/// Bounds a cache of any size must keep: more is not ours.
const MAX_ENTRIES: u64 = 50_000_000;
const MAX_SEARCHABLE: u32 = 1 << 22;
const MAX_VERSION: u32 = 4_096;

/// What the cache says of one handle: its blob's version and the
/// searchable attributes of that version.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Cached {
    pub handle: Handle,
    pub version: String,
    pub search: Searchable,
}

/// The cache of `entries` (handle, version, searchable attributes), in
/// increasing handle order.
pub(super) fn encode<'a>(
    entries: impl ExactSizeIterator<Item = (Handle, &'a str, &'a Searchable)>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(MAGIC.len() + 8 + entries.len() * 320 + DIGEST);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(entries.len() as u64).to_le_bytes());
    for (handle, version, search) in entries {
        out.extend_from_slice(&handle.to_le_bytes());
        out.extend_from_slice(&(version.len() as u32).to_le_bytes());
        out.extend_from_slice(version.as_bytes());
        let packed = search.packed();
        out.extend_from_slice(&(packed.len() as u32).to_le_bytes());
        out.extend_from_slice(packed);
    }
    let digest = openssl::sha::sha256(&out);
    out.extend_from_slice(&digest);
    out
}

/// Reads a cache, in increasing handle order; `None` (the cache is
/// ignored) when it is not one intact cache of this format.
pub(super) fn decode(bytes: &[u8]) -> Option<Vec<Cached>> {
    let (body, digest) = bytes.split_at_checked(bytes.len().checked_sub(DIGEST)?)?;
    if openssl::sha::sha256(body) != digest {
        return None;
    }
    let mut reader = Reader(body.strip_prefix(MAGIC)?);
    let count = reader.u64()?;
    if count > MAX_ENTRIES {
        return None;
    }
    let mut cached: Vec<Cached> = Vec::with_capacity(usize::try_from(count).ok()?.min(1 << 20));
    for _ in 0..count {
        let handle: Handle = reader.u64()?;
        if cached.last().is_some_and(|last| last.handle >= handle) {
            return None;
        }
        let version_len = reader.u32()?;
        if version_len > MAX_VERSION {
            return None;
        }
        let version = std::str::from_utf8(reader.take(version_len as usize)?)
            .ok()?
            .to_string();
        let packed_len = reader.u32()?;
        if packed_len > MAX_SEARCHABLE {
            return None;
        }
        let search = Searchable::from_packed(reader.take(packed_len as usize)?)?;
        cached.push(Cached {
            handle,
            version,
            search,
        });
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
    use crate::object::Attributes;

    fn sample() -> Vec<Cached> {
        (0..3)
            .map(|i: Handle| {
                let mut search = Attributes::new();
                search.set(3, format!("label-{i}").into_bytes());
                search.set(0x101, vec![i as u8; 5]);
                Cached {
                    handle: 0xFFF0_0000 + i,
                    version: format!("unread-{i}"),
                    search: Searchable::of(&search),
                }
            })
            .collect()
    }

    fn encoded(entries: &[Cached]) -> Vec<u8> {
        encode(
            entries
                .iter()
                .map(|c| (c.handle, c.version.as_str(), &c.search)),
        )
    }

    #[test]
    fn a_cache_round_trips_its_entries() {
        let entries = sample();
        let cached = decode(&encoded(&entries)).expect("an intact cache");
        assert_eq!(cached, entries);
        assert_eq!(
            cached[1].search.get(3),
            Some(b"label-1".as_slice()),
            "the attributes read back"
        );
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
        // Well-checksummed bodies that lie: about the count, about the
        // order of the handles, about the packed attributes' lengths.
        let sealed = |body: Vec<u8>| {
            let mut body = body;
            let digest = openssl::sha::sha256(&body);
            body.extend_from_slice(&digest);
            body
        };
        let mut body = MAGIC.to_vec();
        body.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(decode(&sealed(body)).is_none());

        let mut reversed = sample();
        reversed.reverse();
        let unsorted = encoded(&reversed);
        assert!(decode(&unsorted).is_none(), "handles out of order");

        let mut body = MAGIC.to_vec();
        body.extend_from_slice(&1u64.to_le_bytes());
        body.extend_from_slice(&0xFFF0_0000u64.to_le_bytes());
        body.extend_from_slice(&1u32.to_le_bytes());
        body.push(b'v');
        // One field claiming 100 bytes of value where there are 2.
        let mut packed = 3u64.to_le_bytes().to_vec();
        packed.extend_from_slice(&100u32.to_le_bytes());
        packed.extend_from_slice(b"ab");
        body.extend_from_slice(&(packed.len() as u32).to_le_bytes());
        body.extend_from_slice(&packed);
        assert!(decode(&sealed(body)).is_none(), "a torn attribute");
    }
}
