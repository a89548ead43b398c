//! The local blob store: a directory laid out like the blob container, one
//! file per blob, named exactly like the blob, holding exactly the blob's
//! content (`CERTSTORAGE_URL=file:///abs/dir`).
//!
//! Atomicity without a server:
//! - create writes a hidden temporary file (`.tmp-<random>`, never listed)
//!   and hard-links it to the final name, which fails if the name exists,
//!   so a handle is claimed once and readers never see a partial file;
//! - update and delete hold an exclusive lock on `.lock` in the directory
//!   while they compare the current version with the expected one and
//!   rename the temporary file over the final name;
//! - the file is synced before it gets its name, and the directory after
//!   every link, rename and unlink, so what returned success survives a
//!   power cut; a temporary file a crashed writer left is removed by the
//!   next listing once it is a minute old.
//!
//! A version changes whenever the content does, whatever the file
//! system's timestamp granularity. It is one of two kinds, both accepted by
//! update (which compares under the lock):
//! - the hex SHA-256 of the content, for what create and update write and
//!   for any file the store has hashed;
//! - `unread-<identity>` for a file older than [`RACY_MARGIN`] that the store
//!   never hashed, the identity being device, inode, modification and
//!   change times, and length. Such a file's identity pins its content:
//!   changing it in place, or reusing its freed inode, stamps a later time
//!   (git's "racily clean" rule, with a margin past any file system's clock
//!   granularity). A start-up over 100,000 old blobs thus hashes none.
//!
//! Listings and reads give a file the same version: its trusted digest
//! (one computed while the file was old) when there is one; else, for an
//! old file never hashed, its `unread-` version; else (a young file, or an
//! old one hashed only while young) a digest computed now, so a listing
//! right after a write gives the version the write returned, and a file
//! keeps its digest as it ages. A listing reads no old file it never hashed,
//! so a start-up reads each blob once (for the index), not twice.
//!
//! A listing stats every blob file: at 100,000 blobs it costs a quarter
//! of a second. A search need not pay it when nothing changed, and the
//! directory says so cheaply: creates (link), updates (rename) and deletes
//! (unlink), by this process or any other, all change its modification
//! time. So the store gives a change stamp, the directory's identity, and
//! the manager lists again only when the stamp moved since its last
//! listing, or was younger than [`RACY_MARGIN`] then (a change in the same
//! clock tick would leave the time as it was). A blob rewritten in place
//! leaves the directory alone: each certificate a search would return is
//! therefore probed (one `stat`, [`BlobStore::probe`]) and read and
//! verified again when its file changed, so tampered content is never
//! returned. What an in-place rewrite can delay is only a new match: a
//! blob rewritten in place with another valid blob shows under its new
//! attributes at the next change of the directory (or when read by handle).
//!
//! Listing and reading a large directory for the first time is spread over
//! [`LocalStore::set_worker_threads`] threads (one, the caller's, unless
//! the application allows the library to create threads).

mod file;
mod group_sync;

use super::manager::parallel::map_in_order;
use super::{
    BlobEntry, BlobStore, ChangeStamp, CreateOutcome, Metadata, Probe, UpdateOutcome, Updated,
};
use crate::error::{Error, IoContext, Result};
pub use file::MAX_BLOB_BYTES;
use file::{read_file, Identity};
use group_sync::GroupSync;
use parking_lot::RwLock;
use std::collections::HashMap;
use std::fs::{self, DirEntry, File};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

const LOCK_FILE: &str = ".lock";
/// The index cache's directory in the store: writes inside it change its
/// own modification time, not the store directory's (whose change stamp
/// they would otherwise move for every process).
pub const CACHE_DIR: &str = ".index";
const CACHE_FILE: &str = "certificates";
/// The largest index cache read (100,000 certificates take about 30 MB).
const MAX_CACHE_BYTES: u64 = 1 << 30;
const TEMP_PREFIX: &str = ".tmp-";
/// How old a temporary file must be before a listing removes it.
const ABANDONED_TEMP_AGE: Duration = Duration::from_secs(60);

/// How much older than the moment it is looked at a file must be for its
/// digest to be remembered: more than any file system's timestamp
/// granularity (FAT's is 2 s; ext4's one clock tick).
pub const RACY_MARGIN: Duration = Duration::from_secs(3);

/// Numbers the index cache's temporary files within this process.
static CACHE_WRITES: AtomicU64 = AtomicU64::new(0);

/// How the version of a listed file whose content was not read begins.
pub const UNREAD_PREFIX: &str = "unread-";

/// A directory of blob files.
#[derive(Debug)]
pub struct LocalStore {
    directory: PathBuf,
    /// The digest of the content of each file identity the store hashed
    /// (see the module's doc). Keyed by identity, not
    /// name: a listing looks it up after the stat it makes anyway, with no
    /// string hashing or comparison.
    digests: RwLock<HashMap<Identity, Known>>,
    worker_threads: AtomicUsize,
    directory_sync: GroupSync,
    /// Added to the clock when judging a file's age: zero, except in tests
    /// that need files older than [`RACY_MARGIN`] without waiting.
    clock_ahead: Duration,
}

/// A digest the store computed for a file identity.
#[derive(Clone, Debug)]
struct Known {
    digest: String,
    /// Computed while the file was old: the identity pins this content.
    /// Otherwise computed while it was young, and computed again once the
    /// file is old before it is trusted.
    trusted: bool,
}

impl LocalStore {
    /// Opens `directory`, creating it (and its parents) when absent, with
    /// mode 0700; the files this store creates are 0600.
    pub fn open(directory: impl Into<PathBuf>) -> Result<Self> {
        let directory = directory.into();
        crate::owner_only::create_dir(&directory).at("create the certificate store", &directory)?;
        // Made now, not by the first cache write: making it changes the
        // store directory, and so its change stamp, which would make every
        // process re-list the store for RACY_MARGIN after that write.
        // Best effort: a store this process may not write still lists.
        if let Err(error) = crate::owner_only::create_dir(&directory.join(CACHE_DIR)) {
            tracing::debug!(directory = %directory.display(), %error, "no index cache directory");
        }
        Ok(LocalStore {
            directory,
            digests: RwLock::new(HashMap::new()),
            worker_threads: AtomicUsize::new(1),
            directory_sync: GroupSync::default(),
            clock_ahead: Duration::ZERO,
        })
    }

    /// This store with its clock `ahead`: every file (and the directory)
    /// older than `ahead` is old at once. For tests only.
    #[cfg(test)]
    pub(crate) fn with_clock_ahead(mut self, ahead: Duration) -> Self {
        self.clock_ahead = ahead;
        self
    }

    /// The moment files are looked at, to judge their age.
    fn now(&self) -> SystemTime {
        SystemTime::now() + self.clock_ahead
    }

    /// Lets listings read unknown files on up to `threads` threads (1, the
    /// default, creates no thread: for applications that forbid it).
    pub fn set_worker_threads(&self, threads: usize) {
        self.worker_threads.store(threads.max(1), Ordering::Relaxed);
    }

    /// The version of `content`, read from the file of `identity` as it was
    /// at `observed_at`: a trusted digest when there is one; for an old file
    /// never hashed, its `unread-` version (no hashing: a start-up over
    /// 100,000 blobs hashes none); else the digest, computed now and
    /// remembered.
    fn version_of_read(
        &self,
        content: &[u8],
        identity: Identity,
        observed_at: SystemTime,
    ) -> String {
        let old = identity.is_older_than(observed_at);
        match self.digests.read().get(&identity) {
            Some(known) if known.trusted => return known.digest.clone(),
            Some(_) => {}
            None if old => return identity.unread_version(),
            None => {}
        }
        let digest = version_of_content(content);
        self.digests.write().insert(
            identity,
            Known {
                digest: digest.clone(),
                trusted: old,
            },
        );
        digest
    }

    /// Opens the directory of a `file:///absolute/dir` URL.
    pub fn from_url(url: &str) -> Result<Self> {
        // The URL parser would make `file:relative/dir` absolute; only the
        // explicit `file:///abs/dir` (or `file://localhost/abs/dir`) form is taken.
        if !url.starts_with("file:///") && !url.starts_with("file://localhost/") {
            return Err(Error::Configuration(format!(
                "CERTSTORAGE_URL {url} is not a file:///absolute/dir URL"
            )));
        }
        let parsed = url::Url::parse(url)
            .map_err(|e| Error::Configuration(format!("CERTSTORAGE_URL {url}: {e}")))?;
        let path = parsed.to_file_path().map_err(|_| {
            Error::Configuration(format!(
                "CERTSTORAGE_URL {url} is not an absolute local path"
            ))
        })?;
        LocalStore::open(path)
    }

    /// The directory holding the blobs.
    pub fn directory(&self) -> &Path {
        &self.directory
    }

    fn path(&self, name: &str) -> Result<PathBuf> {
        // A blob name is a single file name: nothing that could escape the directory.
        let plain = !name.is_empty()
            && !name.starts_with('.')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !plain {
            return Err(Error::ArgumentsBad("blob name is not a plain file name"));
        }
        Ok(self.directory.join(name))
    }

    /// Writes `content` to a new hidden temporary file, flushed to disk.
    fn write_temp(&self, content: &[u8]) -> Result<PathBuf> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let mut random = [0u8; 8];
        openssl::rand::rand_bytes(&mut random)?;
        let name = format!(
            "{TEMP_PREFIX}{}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            super::encoding::base64url_encode(&random)
        );
        let path = self.directory.join(name);
        let mut file = crate::owner_only::file_options()
            .write(true)
            .create_new(true)
            .open(&path)
            .at("create", &path)?;
        // fdatasync: the content and the length needed to read it back
        // reach the disk before the file gets its name; timestamps need not.
        let written = file.write_all(content).and_then(|_| file.sync_data());
        if let Err(error) = written {
            let _ = fs::remove_file(&path);
            return Err(Error::storage("write", &path, error));
        }
        Ok(path)
    }

    /// Makes the directory's entries durable: a link, rename or unlink is
    /// only on disk once the directory itself is synced, not just the file.
    /// Concurrent writers share one sync ([`group_sync`]).
    fn sync_directory(&self) -> Result<()> {
        self.directory_sync
            .sync(|| File::open(&self.directory).and_then(|directory| directory.sync_all()))
            .at("sync", &self.directory)?;
        Ok(())
    }

    /// Removes `.tmp-*` files left by a writer that crashed between writing
    /// and linking one: older than [`ABANDONED_TEMP_AGE`], which no live
    /// writer's temporary file reaches (it exists for one fsync).
    fn remove_abandoned_temp(&self, name: &str, observed_at: SystemTime) {
        let path = self.directory.join(name);
        let abandoned = fs::symlink_metadata(&path)
            .and_then(|m| m.modified())
            .is_ok_and(|modified| modified + ABANDONED_TEMP_AGE <= observed_at);
        if abandoned {
            match fs::remove_file(&path) {
                Ok(()) => {
                    tracing::info!(file = %path.display(), "removed a temporary file a crashed writer left")
                }
                Err(error) if error.kind() == ErrorKind::NotFound => {}
                Err(error) => {
                    tracing::warn!(file = %path.display(), "cannot remove an abandoned temporary file: {error}")
                }
            }
        }
    }

    /// Holds the directory's exclusive lock until dropped.
    fn lock(&self) -> Result<File> {
        let file = crate::owner_only::file_options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.directory.join(LOCK_FILE))
            .at("open", &self.directory.join(LOCK_FILE))?;
        // An advisory lock (flock), std's since Rust 1.89, the rust-version
        // Cargo.toml declares.
        file.lock().at("lock", &self.directory.join(LOCK_FILE))?;
        Ok(file)
    }
}

/// The version of a content: its hex SHA-256.
pub fn version_of_content(content: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(64);
    for byte in openssl::sha::sha256(content) {
        text.push(char::from(HEX[usize::from(byte >> 4)]));
        text.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    text
}

/// What a listing found out about one file.
struct Listed {
    identity: Identity,
    version: String,
    /// A digest computed now, to remember.
    learnt: Option<Known>,
}

impl LocalStore {
    /// One file of a listing: its trusted digest when there is one; for an
    /// old file never hashed, its `unread-` version, as [`BlobStore::read`]
    /// gives it; else its content's digest, computed now (a young file's
    /// on every listing, an old file's once). `None` when it vanished or
    /// is not a regular file.
    fn list_one(
        &self,
        item: &DirEntry,
        digests: &HashMap<Identity, Known>,
        observed_at: SystemTime,
    ) -> Result<Option<Listed>> {
        // A file deleted between read_dir and stat is simply not listed.
        let identity = match item.metadata() {
            Ok(metadata) if !metadata.is_file() => return Ok(None),
            Ok(metadata) => Identity::of(&metadata),
            Err(error) if error.kind() == ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(Error::storage("stat", &item.path(), error)),
        };
        self.version_of_file(&item.path(), identity, digests.get(&identity), observed_at)
    }

    /// The version of the file at `path` whose stat gave `identity`, with
    /// what the store knows of that identity (`known`): see [`Self::list_one`].
    fn version_of_file(
        &self,
        path: &Path,
        identity: Identity,
        known: Option<&Known>,
        observed_at: SystemTime,
    ) -> Result<Option<Listed>> {
        let old = identity.is_older_than(observed_at);
        match known {
            Some(known) if known.trusted => {
                return Ok(Some(Listed {
                    identity,
                    version: known.digest.clone(),
                    learnt: None,
                }))
            }
            Some(_) => {}
            None if old => {
                return Ok(Some(Listed {
                    identity,
                    version: identity.unread_version(),
                    learnt: None,
                }))
            }
            None => {}
        }
        let (content, identity) = match read_file(path) {
            Ok(Some(read)) => read,
            Ok(None) => return Ok(None),
            // Listed as unread: the reader of the listing meets the same
            // error and leaves this one blob out.
            Err(Error::BlobUnreadable { .. }) => {
                return Ok(Some(Listed {
                    identity,
                    version: identity.unread_version(),
                    learnt: None,
                }))
            }
            Err(error) => return Err(error),
        };
        let digest = version_of_content(&content);
        Ok(Some(Listed {
            identity,
            version: digest.clone(),
            learnt: Some(Known {
                digest,
                trusted: identity.is_older_than(observed_at),
            }),
        }))
    }
}

/// The order of a listing: by name. The names share the listing's prefix,
/// so only what follows it is compared; when that fits in 16 bytes it is
/// compared as one big-endian number (then by length, so that "ab" sorts
/// before "ab0"), in a contiguous array instead of through 100,000
/// scattered strings.
fn sort_by_name(entries: &mut Vec<BlobEntry>, prefix: &str) {
    fn suffix<'a>(entry: &'a BlobEntry, prefix: &str) -> &'a [u8] {
        entry
            .name
            .as_bytes()
            .get(prefix.len()..)
            .unwrap_or_default()
    }
    if entries.iter().any(|entry| suffix(entry, prefix).len() > 16) {
        entries.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        return;
    }
    let mut keys: Vec<(u128, usize, usize)> = entries
        .iter()
        .enumerate()
        .map(|(position, entry)| {
            let mut padded = [0u8; 16];
            let bytes = suffix(entry, prefix);
            padded[..bytes.len()].copy_from_slice(bytes);
            (u128::from_be_bytes(padded), bytes.len(), position)
        })
        .collect();
    keys.sort_unstable();
    let mut slots: Vec<Option<BlobEntry>> = std::mem::take(entries).into_iter().map(Some).collect();
    entries.extend(
        keys.iter()
            .filter_map(|(_, _, position)| slots[*position].take()),
    );
}

impl BlobStore for LocalStore {
    fn describe(&self) -> String {
        format!("local directory {}", self.directory.display())
    }

    fn list(&self, prefix: &str) -> Result<Vec<BlobEntry>> {
        let observed_at = self.now();
        let mut items = Vec::new();
        for item in fs::read_dir(&self.directory).at("list", &self.directory)? {
            let item = item.at("list", &self.directory)?;
            let Ok(name) = item.file_name().into_string() else {
                continue;
            };
            if name.starts_with(TEMP_PREFIX) {
                self.remove_abandoned_temp(&name, observed_at);
                continue;
            }
            if name.starts_with('.') || !name.starts_with(prefix) {
                continue;
            }
            // The type comes with the directory entry on most file systems:
            // no system call to leave out directories and symbolic links.
            match item.file_type() {
                Ok(kind) if kind.is_file() => items.push((name, item)),
                Ok(_) => {}
                Err(error) if error.kind() == ErrorKind::NotFound => {}
                Err(error) => return Err(Error::storage("stat", &item.path(), error)),
            }
        }
        let listed = {
            let digests = self.digests.read();
            map_in_order(
                &items,
                self.worker_threads.load(Ordering::Relaxed),
                |(_, item)| self.list_one(item, &digests, observed_at),
            )
        };
        let mut entries = Vec::with_capacity(listed.len());
        let mut seen = Vec::with_capacity(listed.len());
        let mut learnt = Vec::new();
        for ((name, _), listed) in items.into_iter().zip(listed) {
            let Some(listed) = listed? else {
                continue;
            };
            if let Some(known) = listed.learnt {
                learnt.push((listed.identity, known));
            }
            seen.push(listed.identity);
            entries.push(BlobEntry {
                name,
                version: listed.version,
                metadata: None,
            });
        }
        let mut digests = self.digests.write();
        digests.extend(learnt);
        // The reads that follow a first listing remember a digest per file:
        // room for them now rather than rehashing 100,000 entries as it grows.
        let missing = entries.len().saturating_sub(digests.len());
        digests.reserve(missing);
        // A map larger than the listing remembers replaced or deleted files:
        // forget them (checked by size first, so a steady store costs nothing).
        if digests.len() > entries.len() {
            let seen: std::collections::HashSet<Identity> = seen.into_iter().collect();
            digests.retain(|identity, _| seen.contains(identity));
        }
        drop(digests);
        sort_by_name(&mut entries, prefix);
        Ok(entries)
    }

    fn read(&self, name: &str) -> Result<Option<(Vec<u8>, String)>> {
        let observed_at = self.now();
        Ok(read_file(&self.path(name)?)?.map(|(content, identity)| {
            let version = self.version_of_read(&content, identity, observed_at);
            (content, version)
        }))
    }

    fn create(&self, name: &str, content: &[u8], _metadata: &Metadata) -> Result<CreateOutcome> {
        let path = self.path(name)?;
        let temp = self.write_temp(content)?;
        let linked = fs::hard_link(&temp, &path);
        let _ = fs::remove_file(&temp);
        match linked {
            Ok(()) => {
                // The new name must survive a power cut once CKR_OK is given.
                self.sync_directory()?;
                Ok(CreateOutcome::Created(version_of_content(content)))
            }
            Err(error) if error.kind() == ErrorKind::AlreadyExists => {
                Ok(CreateOutcome::AlreadyExists)
            }
            Err(error) => Err(Error::storage("link", &path, error)),
        }
    }

    fn update(&self, name: &str, content: &[u8], _metadata: &Metadata, expected: &str) -> Updated {
        let path = self.path(name)?;
        let temp = self.write_temp(content)?;
        let outcome = (|| {
            let _lock = self.lock()?;
            match read_file(&path)? {
                None => Ok(UpdateOutcome::NotFound),
                Some((current, identity))
                    if identity.unread_version() != expected
                        && version_of_content(&current) != expected =>
                {
                    Ok(UpdateOutcome::Conflict)
                }
                Some(_) => {
                    fs::rename(&temp, &path).at("rename", &path)?;
                    self.sync_directory()?;
                    Ok(UpdateOutcome::Updated(version_of_content(content)))
                }
            }
        })();
        if !matches!(outcome, Ok(UpdateOutcome::Updated(_))) {
            let _ = fs::remove_file(&temp);
        }
        outcome
    }

    fn delete(&self, name: &str) -> Result<()> {
        let path = self.path(name)?;
        let _lock = self.lock()?;
        match fs::remove_file(&path) {
            Ok(()) => self.sync_directory(),
            Err(error) if error.kind() == ErrorKind::NotFound => Ok(()),
            Err(error) => Err(Error::storage("delete", &path, error)),
        }
    }

    /// The directory's identity: creates (a link), updates (a rename) and
    /// deletes (an unlink) all change its modification time, in this
    /// process or any other. Settled once that time is [`RACY_MARGIN`] in
    /// the past, so that a change in the same clock tick cannot hide.
    fn change_stamp(&self) -> Result<Option<ChangeStamp>> {
        let observed_at = self.now();
        let metadata = fs::metadata(&self.directory).at("stat", &self.directory)?;
        let identity = Identity::of(&metadata);
        Ok(Some(ChangeStamp {
            value: identity.unread_version(),
            settled: identity.is_older_than(observed_at),
        }))
    }

    /// `.index/certificates`, read without following a symbolic link.
    fn read_cache(&self) -> Option<Vec<u8>> {
        use std::io::Read;
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.directory.join(CACHE_DIR).join(CACHE_FILE);
        let file = fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(&path);
        let file = match file {
            Ok(file) => file,
            Err(error) if error.kind() == ErrorKind::NotFound => return None,
            Err(error) => {
                tracing::debug!(path = %path.display(), %error, "the index cache is not read");
                return None;
            }
        };
        let length = file.metadata().ok().filter(|m| m.is_file())?.len();
        if length > MAX_CACHE_BYTES {
            return None;
        }
        let mut content = Vec::with_capacity(length as usize);
        file.take(MAX_CACHE_BYTES).read_to_end(&mut content).ok()?;
        Some(content)
    }

    /// Written to a temporary file in `.index/` and renamed over the cache:
    /// a reader sees the old cache or the new one. Not synced: a cache torn
    /// by a power cut fails its checksum and is rebuilt.
    fn write_cache(&self, content: &[u8]) {
        let directory = self.directory.join(CACHE_DIR);
        let written = (|| -> std::io::Result<()> {
            crate::owner_only::create_dir(&directory)?;
            let temporary = directory.join(format!(
                "{TEMP_PREFIX}{}-{}",
                std::process::id(),
                CACHE_WRITES.fetch_add(1, Ordering::Relaxed)
            ));
            let result = crate::owner_only::file_options()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&temporary)
                .and_then(|mut file| file.write_all(content))
                .and_then(|()| fs::rename(&temporary, directory.join(CACHE_FILE)));
            if result.is_err() {
                let _ = fs::remove_file(&temporary);
            }
            result
        })();
        if let Err(error) = written {
            tracing::warn!(directory = %directory.display(), %error, "the index cache was not written; start-ups read every blob");
        }
    }

    /// One `stat` (and, for a file changed in the last [`RACY_MARGIN`], a
    /// read): the version a listing would give the file now, so a blob
    /// rewritten in place, which leaves the directory alone, is noticed.
    fn probe(&self, name: &str) -> Result<Probe> {
        let path = self.path(name)?;
        let observed_at = self.now();
        let identity = match fs::symlink_metadata(&path) {
            Ok(metadata) if !metadata.is_file() => return Ok(Probe::Gone),
            Ok(metadata) => Identity::of(&metadata),
            Err(error) if error.kind() == ErrorKind::NotFound => return Ok(Probe::Gone),
            Err(error) => return Err(Error::storage("stat", &path, error)),
        };
        let known = self.digests.read().get(&identity).cloned();
        let Some(listed) = self.version_of_file(&path, identity, known.as_ref(), observed_at)?
        else {
            return Ok(Probe::Gone);
        };
        if let Some(learnt) = listed.learnt {
            self.digests.write().insert(listed.identity, learnt);
        }
        Ok(Probe::Version(listed.version))
    }
}

#[cfg(test)]
mod version_tests;
