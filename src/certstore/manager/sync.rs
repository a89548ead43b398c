//! Keeping the token index in step with the blob store: listing, indexing
//! new and changed blobs, and loading (verifying) a certificate before use.

use super::parallel::map_in_order;
use super::{cache, Certificates};
use crate::certstore::handles::handle_of_blob;
use crate::certstore::index::{Searchable, TokenEntry, TokenIndex};
use crate::certstore::jws::peek_blob;
use crate::certstore::rules::search_attributes;
use crate::certstore::{blob_name, metadata, BlobEntry, Cancel, ChangeStamp, Probe, BLOB_PREFIX};
use crate::error::{Error, Result};
use crate::object::{Attributes, Handle, LAST_CERTIFICATE_HANDLE};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A listing that had to read this many blobs rewrites the index cache.
const CACHE_REWRITE_READS: usize = 256;

/// A process writes the index cache of a store with metadata (Azure) at
/// most this often: each write uploads it whole.
const METADATA_CACHE_WRITE_INTERVAL: Duration = Duration::from_secs(300);

/// How often a search that lists nothing still checks the blob keys.
const KEY_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// How long after a whole listing of a store without a change stamp
/// (Azure) ended the next search lists it whole again. Between two such
/// listings a search asks whether the blob of the next handle exists (one
/// small request) and, when it does, lists the names from the highest
/// known one on: it finds every certificate created with a higher handle
/// (as new handles are), and a destroy or change of another certificate
/// by another process shows once the next whole listing ends.
pub const FULL_LISTING_INTERVAL: Duration = Duration::from_secs(20);

/// A whole listing of a store without a change stamp that took less than
/// this the last time is made by the search that finds it due: the search
/// waits that long. A longer one runs on a thread of its own (see
/// [`BackgroundListing`]).
pub const INLINE_LISTING_LIMIT: Duration = Duration::from_millis(250);

/// A whole listing of a store without a change stamp (Azure) running on a
/// thread of the library's own, so that no search waits for it. Searches
/// in the meantime go on from the index and list from the highest known
/// name, so they find every certificate created since; a destroy or change
/// by another process shows once such a listing that began after it has
/// ended. With the interval `I` ([`FULL_LISTING_INTERVAL`]) and a whole
/// listing taking `L`, that is within `I + 2L` while searches come (the
/// bound of a listing made by the search itself, too): a search that
/// finds the last listing ended longer ago than that waits for the
/// running one instead. The thread is stopped and joined by
/// `C_Finalize`, and by a change of the blob keys.
pub(super) struct BackgroundListing {
    cancel: Arc<Cancel>,
    thread: std::thread::JoinHandle<(Result<Vec<BlobEntry>>, Duration, Instant)>,
    /// The index's sequence when it began (see [`Certificates::refresh_if_due`]).
    sequence: u64,
}

/// What a search does about a whole listing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WholeListing {
    /// The last one is recent enough.
    NotDue,
    /// One runs on its own thread; the search goes on from the index.
    InBackground,
    /// The search makes one now.
    Now,
}

/// What [`Certificates::refresh_if_due`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Listing {
    /// The index is as current as the freshness interval asks: listed now,
    /// or within the interval.
    Current,
    /// The store's change stamp is the one of the last listing: no blob was
    /// created, replaced or deleted since, so the index's names and
    /// versions stand, but a blob rewritten in place is not seen this way:
    /// probe each certificate before it is returned.
    Unchanged,
}

impl Certificates {
    /// The verified token certificate `handle` and its version: from the
    /// cache when this version was verified already, else read and verified.
    pub(super) fn load_token(&self, handle: Handle) -> Result<(Arc<Attributes>, String)> {
        if let Some(entry) = self.index.read().get(handle) {
            if entry.rejected {
                return Err(Error::ObjectHandleInvalid);
            }
            if let Some(object) = &entry.verified {
                return Ok((object.clone(), entry.version.clone()));
            }
        }
        let name = blob_name(handle);
        let Some((content, version)) = self.store.read(&name)? else {
            self.index.write().remove(handle);
            return Err(Error::ObjectHandleInvalid);
        };
        self.verify_and_index(handle, &name, &content, version)
    }

    /// [`Certificates::load_token`] for a call on one certificate by handle
    /// (`C_GetAttributeValue`, `C_SetAttributeValue`, `C_DestroyObject`,
    /// ...): once the last listing is older than the freshness interval
    /// (always, with the default 0), the blob is read again, so a
    /// certificate another process destroyed answers
    /// `CKR_OBJECT_HANDLE_INVALID` and a changed one its new value. An
    /// unchanged blob is not verified again.
    pub(super) fn load_token_fresh(&self, handle: Handle) -> Result<(Arc<Attributes>, String)> {
        if !self.listing_is_stale() {
            return self.load_token(handle);
        }
        let name = blob_name(handle);
        let Some((content, version)) = self.store.read(&name)? else {
            self.index.write().remove(handle);
            return Err(Error::ObjectHandleInvalid);
        };
        if let Some(entry) = self.index.read().get(handle) {
            if entry.version == version {
                if entry.rejected {
                    return Err(Error::ObjectHandleInvalid);
                }
                if let Some(object) = &entry.verified {
                    return Ok((object.clone(), version));
                }
            }
        }
        self.verify_and_index(handle, &name, &content, version)
    }

    /// [`Certificates::load_token`] after a cheap look at the blob
    /// ([`crate::certstore::BlobStore::probe`]): a blob gone since the
    /// index learnt of it is forgotten, one whose version changed (a file
    /// rewritten in place) is read and verified again.
    pub(super) fn load_token_probed(&self, handle: Handle) -> Result<(Arc<Attributes>, String)> {
        let name = blob_name(handle);
        match self.store.probe(&name)? {
            Probe::NotCheap => self.load_token_fresh(handle),
            Probe::Gone => {
                self.index.write().remove(handle);
                Err(Error::ObjectHandleInvalid)
            }
            Probe::Version(version) => {
                let indexed = self
                    .index
                    .read()
                    .get(handle)
                    .map(|entry| entry.version.clone());
                if indexed.as_deref() == Some(version.as_str()) {
                    return self.load_token(handle);
                }
                let Some((content, version)) = self.store.read(&name)? else {
                    self.index.write().remove(handle);
                    return Err(Error::ObjectHandleInvalid);
                };
                self.verify_and_index(handle, &name, &content, version)
            }
        }
    }

    /// Whether `stamp`, the store's now, is the settled stamp of the last
    /// listing: no blob was created, replaced or deleted since.
    fn stamp_stands(&self, stamp: &Option<ChangeStamp>) -> bool {
        match (stamp, &*self.last_stamp.lock()) {
            (Some(now), Some(last)) => last.settled && now.value == last.value,
            _ => false,
        }
    }

    /// Whether the last listing is older than the freshness interval.
    fn listing_is_stale(&self) -> bool {
        match *self.last_refresh.lock() {
            None => true,
            Some(at) => at.elapsed() >= *self.freshness.lock(),
        }
    }

    /// Verifies `content`, the blob `name` of `handle` at `version`, and
    /// indexes the result: the certificate, or a rejection (logged).
    fn verify_and_index(
        &self,
        handle: Handle,
        name: &str,
        content: &[u8],
        version: String,
    ) -> Result<(Arc<Attributes>, String)> {
        let verifier = self.keys()?.1;
        let object = match verifier.verify_blob(handle, content) {
            Ok(object) => object,
            Err(reason) => {
                tracing::warn!(blob = %name, %reason, "certificate blob failed verification; it is left out");
                self.index
                    .write()
                    .insert(handle, TokenEntry::rejected(version));
                return Err(Error::ObjectHandleInvalid);
            }
        };
        let mut index = self.index.write();
        if let Some(entry) = index.get(handle) {
            if entry.from_metadata
                && entry.version == version
                && entry.search != Searchable::of(&search_attributes(&object))
            {
                tracing::warn!(blob = %name, "certificate blob metadata disagrees with its signed payload; it is left out");
                index.insert(handle, TokenEntry::rejected(version));
                return Err(Error::ObjectHandleInvalid);
            }
        }
        let object = Arc::new(object);
        let search = Searchable::of(&search_attributes(&object));
        let entry = TokenEntry {
            version: version.clone(),
            search,
            verified: Some(object.clone()),
            ..TokenEntry::default()
        };
        index.insert(handle, entry);
        Ok((object, version))
    }

    pub(super) fn index_verified(&self, handle: Handle, version: String, object: Attributes) {
        let search = Searchable::of(&search_attributes(&object));
        let entry = TokenEntry {
            version,
            search,
            verified: Some(Arc::new(object)),
            ..TokenEntry::default()
        };
        self.index.write().insert(handle, entry);
    }

    /// Re-lists the store when the last listing is older than the freshness
    /// interval, indexing new and changed blobs and forgetting deleted ones.
    ///
    /// A store with a change stamp is listed only when the stamp moved
    /// since the last listing (or was not yet settled then): a search over
    /// an unchanged directory costs one `stat`, not one per blob.
    pub(super) fn refresh_if_due(&self) -> Result<Listing> {
        if !self.listing_is_stale() {
            return Ok(Listing::Current);
        }
        let stamp = self.store.change_stamp()?;
        if self.stamp_stands(&stamp) {
            // The blob keys are checked as often as a listing would, but
            // at most once a second: a token re-initialised by another
            // process (a new blob-signing key) is noticed within a second
            // even when no blob changed. A changed key drops the stamp.
            let due = self
                .last_key_check
                .lock()
                .is_none_or(|at| at.elapsed() >= KEY_CHECK_INTERVAL);
            if due {
                self.check_keys();
                *self.last_key_check.lock() = Some(Instant::now());
            }
            if self.stamp_stands(&stamp) {
                return Ok(Listing::Unchanged);
            }
        }
        if stamp.is_none() {
            self.seed_from_cache();
            if let Some(listing) = self.list_new_blobs()? {
                return Ok(listing);
            }
        }
        self.check_keys();
        *self.last_key_check.lock() = Some(Instant::now());
        let started = Instant::now();
        // Taken before the listing: an entry put in after this moment came
        // from a read or write of its blob after the listing began, and
        // the listing (perhaps older than that blob, or than its change)
        // must neither remove nor replace it.
        let sequence = self.index.read().sequence();
        let listed = self.store.list(BLOB_PREFIX)?;
        let listing_took = started.elapsed();
        self.apply_whole_listing(listed, sequence, listing_took, Instant::now(), stamp)?;
        Ok(Listing::Current)
    }

    /// Brings the index in line with `listed`, a whole listing of the store
    /// that began when the index's sequence was `sequence`, took
    /// `listing_took` and ended at `ended`, the store's change stamp being
    /// `stamp` just before it.
    fn apply_whole_listing(
        &self,
        listed: Vec<BlobEntry>,
        sequence: u64,
        listing_took: Duration,
        ended: Instant,
        stamp: Option<ChangeStamp>,
    ) -> Result<()> {
        let started = Instant::now();
        let mut listed: Vec<(Handle, BlobEntry)> = listed
            .into_iter()
            .filter_map(|entry| Some((handle_of_blob(&entry.name)?, entry)))
            .collect();
        // Already in handle order when every name has ten digits (all
        // certificate handles do); sorting a sorted vector is one pass.
        listed.sort_unstable_by_key(|(handle, _)| *handle);
        listed.dedup_by_key(|(handle, _)| *handle);
        let (changed, gone) = differences(&self.index.read(), &listed, sequence);
        // At start-up every blob is new: the index cache names most of
        // them at the version listed (their entries are taken from it as
        // they are); the others are read and decoded, spread over the
        // worker threads.
        let bodies_to_read = changed.iter().any(|(_, entry)| entry.metadata.is_none());
        let cached = match self.index.read().is_empty() && bodies_to_read {
            true => self
                .store
                .read_cache()
                .and_then(|bytes| cache::decode(&bytes)),
            false => None,
        };
        let mut fresh: Vec<Option<TokenEntry>> = Vec::with_capacity(changed.len());
        let mut unknown = Vec::new();
        // Both in increasing handle order: one merge.
        let mut cached = cached.unwrap_or_default().into_iter().peekable();
        for (position, (handle, entry)) in changed.iter().enumerate() {
            while cached.next_if(|c| c.handle < *handle).is_some() {}
            let hit = cached.next_if(|c| {
                c.handle == *handle && entry.metadata.is_none() && c.version == entry.version
            });
            match hit {
                Some(hit) => fresh.push(Some(TokenEntry {
                    version: hit.version,
                    search: hit.search,
                    ..TokenEntry::default()
                })),
                None => {
                    fresh.push(None);
                    unknown.push(position);
                }
            }
        }
        drop(cached);
        let misses = AtomicUsize::new(0);
        let read = map_in_order(&unknown, self.worker_threads(), |position| {
            let (handle, entry) = &changed[*position];
            if entry.metadata.is_none() {
                misses.fetch_add(1, Ordering::Relaxed);
            }
            self.entry_from_listing(*handle, entry)
        })
        .into_iter()
        .collect::<Result<Vec<_>>>()?;
        for (position, entry) in unknown.into_iter().zip(read) {
            fresh[position] = entry;
        }
        let misses = misses.into_inner();
        let reading_took = started.elapsed();
        let mut index = self.index.write();
        for handle in gone {
            // A blob created (and indexed) while the listing ran stays.
            if !index.changed_since(handle, sequence) {
                index.remove(handle);
            }
        }
        for ((handle, _), entry) in changed.iter().zip(fresh) {
            match entry {
                Some(entry) if !index.changed_since(*handle, sequence) => {
                    index.insert(*handle, entry)
                }
                _ => {}
            }
        }
        drop(index);
        *self.last_refresh.lock() = Some(Instant::now());
        // From its end: a whole listing longer than the interval must not
        // make every search that follows another whole listing.
        *self.last_full_listing.lock() = Some(ended);
        *self.last_full_listing_took.lock() = listing_took;
        *self.last_stamp.lock() = stamp;
        // A store with metadata reads no body, but a new process over it
        // would wait for a whole listing without a cache (see
        // [`Certificates::seed_from_cache`]).
        let metadata_changes = changed.iter().filter(|(_, e)| e.metadata.is_some()).count();
        if misses >= CACHE_REWRITE_READS
            || (metadata_changes >= CACHE_REWRITE_READS && self.metadata_cache_write_due())
        {
            self.write_index_cache();
        }
        tracing::debug!(
            store = %self.store.describe(),
            listed = listed.len(),
            changed = changed.len(),
            read = misses,
            listing = ?listing_took,
            reading = ?reading_took,
            "certificate index refreshed"
        );
        Ok(())
    }

    /// Whether a store with metadata may have its index cache written now:
    /// at most once per [`METADATA_CACHE_WRITE_INTERVAL`] by a process, as
    /// each write uploads the whole cache.
    fn metadata_cache_write_due(&self) -> bool {
        let mut last = self.last_metadata_cache_write.lock();
        if last.is_some_and(|at| at.elapsed() < METADATA_CACHE_WRITE_INTERVAL) {
            return false;
        }
        *last = Some(Instant::now());
        true
    }

    /// The start of a process over a store without a change stamp that can
    /// list from a name (Azure), when the library may create threads: the
    /// index is taken from the store's index cache, and the store is
    /// listed whole only once the process has lived the listing interval
    /// (on a thread of its own), so a short-lived process never waits for
    /// a whole listing. Its searches still find every certificate created
    /// since the cache was written (they have higher handles: each search
    /// lists from the highest name when the next handle exists), and leave
    /// out those destroyed or changed since (a search reads and verifies
    /// each certificate before it first returns it, and matches it
    /// again). What only the whole listing shows is a certificate whose
    /// searchable attributes another process changed, since the cache was
    /// written, so that it now matches. A cache of another format, or that
    /// fails its checksum, is ignored. False when nothing was taken.
    fn seed_from_cache(&self) -> bool {
        if !self.background_allowed.load(Ordering::Relaxed)
            || self.full_listing_interval.lock().is_zero()
            || self.last_full_listing.lock().is_some()
            || self.background.lock().is_some()
            || !self.index.read().is_empty()
        {
            return false;
        }
        let Some(cached) = self
            .store
            .read_cache()
            .and_then(|bytes| cache::decode(&bytes))
            .filter(|cached| !cached.is_empty())
        else {
            return false;
        };
        {
            let mut index = self.index.write();
            if !index.is_empty() {
                return false;
            }
            for entry in cached {
                index.insert(
                    entry.handle,
                    TokenEntry {
                        version: entry.version,
                        search: entry.search,
                        ..TokenEntry::default()
                    },
                );
            }
        }
        tracing::debug!(store = %self.store.describe(), "certificate index taken from the index cache");
        *self.seeded_at.lock() = Some(Instant::now());
        self.listed_from_seed.store(false, Ordering::Relaxed);
        true
    }

    /// What the next search does about a whole listing of a store without a
    /// change stamp (see [`BackgroundListing`]).
    fn whole_listing_due(&self) -> WholeListing {
        let interval = *self.full_listing_interval.lock();
        let last = *self.last_full_listing.lock();
        let Some(ended) = last else {
            // Taken from the index cache: listed whole in the background
            // once the process has lived the interval.
            let seeded = *self.seeded_at.lock();
            return match seeded {
                Some(at) if at.elapsed() < interval => WholeListing::NotDue,
                Some(_) if self.start_background_listing() => WholeListing::InBackground,
                _ => WholeListing::Now,
            };
        };
        let since = ended.elapsed();
        if since < interval {
            return WholeListing::NotDue;
        }
        let took = *self.last_full_listing_took.lock();
        let in_background = self.background_allowed.load(Ordering::Relaxed)
            && !interval.is_zero()
            && took >= *self.inline_listing_limit.lock();
        if !in_background {
            return WholeListing::Now;
        }
        if since < interval + took * 2 {
            return match self.start_background_listing() {
                true => WholeListing::InBackground,
                false => WholeListing::Now,
            };
        }
        // Searches went on from an index older than the bound (none came
        // for a while, or the listing running is slow): wait for it.
        self.wait_for_background_listing();
        match self.last_full_listing.lock().map(|at| at.elapsed()) {
            Some(since) if since < interval => WholeListing::NotDue,
            _ => WholeListing::Now,
        }
    }

    /// Starts a whole listing on a thread of its own unless one runs
    /// already; false when no thread could be started.
    fn start_background_listing(&self) -> bool {
        let mut running = self.background.lock();
        if running.is_some() {
            return true;
        }
        let cancel = Arc::new(Cancel::default());
        let sequence = self.index.read().sequence();
        let (store, stop) = (self.store.clone(), cancel.clone());
        let spawned = std::thread::Builder::new()
            .name("azcloudhsm-list".to_string())
            .spawn(move || {
                let started = Instant::now();
                let listed = store.list_cancellable(BLOB_PREFIX, &stop);
                (listed, started.elapsed(), Instant::now())
            });
        match spawned {
            Ok(thread) => {
                *running = Some(BackgroundListing {
                    cancel,
                    thread,
                    sequence,
                });
                true
            }
            Err(error) => {
                tracing::warn!("cannot start a thread for the certificate listing ({error}); the search lists the store itself");
                false
            }
        }
    }

    /// Applies the whole listing that ran on its own thread, if it ended.
    fn collect_background_listing(&self) {
        let finished = {
            let mut running = self.background.lock();
            match &*running {
                Some(listing) if listing.thread.is_finished() => running.take(),
                _ => None,
            }
        };
        if let Some(listing) = finished {
            self.apply_background_listing(listing);
        }
    }

    /// Waits for the whole listing running on its own thread, if any, and
    /// applies it.
    fn wait_for_background_listing(&self) {
        let running = self.background.lock().take();
        if let Some(listing) = running {
            self.apply_background_listing(listing);
        }
    }

    fn apply_background_listing(&self, listing: BackgroundListing) {
        let outcome = match listing.thread.join() {
            Ok((listed, took, ended)) => listed.and_then(|listed| {
                self.apply_whole_listing(listed, listing.sequence, took, ended, None)
            }),
            Err(_) => Err(Error::StoreUnavailable(
                "the listing thread panicked".to_string(),
            )),
        };
        if let Err(error) = outcome {
            tracing::warn!(
                store = %self.store.describe(),
                "a whole listing of the certificate store failed ({error}); searches go on from the index and list from the highest name, and the next whole listing is tried after the listing interval"
            );
            *self.last_full_listing.lock() = Some(Instant::now());
        }
    }

    /// Stops the whole listing running on its own thread, if any, and
    /// waits for its thread (one page request at most, cut short).
    pub(super) fn stop_background_listing(&self) {
        let running = self.background.lock().take();
        if let Some(listing) = running {
            listing.cancel.cancel();
            let _ = listing.thread.join();
        }
    }

    /// Between two whole listings of a store that can list from a name
    /// ([`crate::certstore::BlobStore::list_from`]): when the blob of the
    /// handle after the highest known one exists (or the store cannot say
    /// cheaply), lists the names from the highest known handle on (one
    /// request), indexes the blobs new or changed among them, and forgets
    /// the highest known one if it is gone.
    /// `None` when a whole listing is due instead.
    fn list_new_blobs(&self) -> Result<Option<Listing>> {
        self.collect_background_listing();
        let highest = self.index.read().highest();
        let Some(highest) = highest else {
            return Ok(None);
        };
        if self.whole_listing_due() == WholeListing::Now {
            return Ok(None);
        }
        let key_check_due = self
            .last_key_check
            .lock()
            .is_none_or(|at| at.elapsed() >= KEY_CHECK_INTERVAL);
        if key_check_due {
            self.check_keys();
            *self.last_key_check.lock() = Some(Instant::now());
        }
        // Right after the index was taken from the cache, certificates
        // created since it was written are listed whatever the next handle
        // says: one of them may have been destroyed since.
        let probe_first =
            self.seeded_at.lock().is_none() || self.listed_from_seed.load(Ordering::Relaxed);
        if highest < LAST_CERTIFICATE_HANDLE && probe_first {
            if let Probe::Gone = self.store.probe(&blob_name(highest + 1))? {
                *self.last_refresh.lock() = Some(Instant::now());
                return Ok(Some(Listing::Current));
            }
        }
        let sequence = self.index.read().sequence();
        let Some(listed) = self.store.list_from(BLOB_PREFIX, &blob_name(highest))? else {
            return Ok(None);
        };
        let mut listed: Vec<(Handle, BlobEntry)> = listed
            .into_iter()
            .filter_map(|entry| Some((handle_of_blob(&entry.name)?, entry)))
            .filter(|(handle, _)| *handle >= highest)
            .collect();
        listed.sort_unstable_by_key(|(handle, _)| *handle);
        listed.dedup_by_key(|(handle, _)| *handle);
        let highest_gone = listed.first().map(|(handle, _)| *handle) != Some(highest);
        let changed: Vec<(Handle, &BlobEntry)> = {
            let index = self.index.read();
            listed
                .iter()
                .filter(|(handle, entry)| {
                    index
                        .get(*handle)
                        .is_none_or(|known| known.version != entry.version)
                })
                .map(|(handle, entry)| (*handle, entry))
                .collect()
        };
        let fresh = map_in_order(&changed, self.worker_threads(), |(handle, entry)| {
            self.entry_from_listing(*handle, entry)
        })
        .into_iter()
        .collect::<Result<Vec<_>>>()?;
        let mut index = self.index.write();
        if highest_gone && !index.changed_since(highest, sequence) {
            index.remove(highest);
        }
        for ((handle, _), entry) in changed.iter().zip(fresh) {
            match entry {
                Some(entry) if !index.changed_since(*handle, sequence) => {
                    index.insert(*handle, entry)
                }
                _ => {}
            }
        }
        drop(index);
        *self.last_refresh.lock() = Some(Instant::now());
        self.listed_from_seed.store(true, Ordering::Relaxed);
        if !changed.is_empty() || highest_gone {
            tracing::debug!(
                store = %self.store.describe(),
                from = highest,
                changed = changed.len(),
                highest_gone,
                "new certificate blobs indexed"
            );
        }
        Ok(Some(Listing::Current))
    }

    /// Writes the index cache from the index: the version and searchable
    /// attributes of every blob the store holds (not those of blobs
    /// rejected), from the blob's payload or from the metadata a listing
    /// gave. Encoded under the index's read lock (memory only, no copy of
    /// the entries), written with no lock held.
    fn write_index_cache(&self) {
        let bytes = {
            let index = self.index.read();
            let entries: Vec<(Handle, &str, &Searchable)> = index
                .entries()
                .filter(|(_, entry)| !entry.rejected)
                .map(|(handle, entry)| (handle, entry.version.as_str(), &entry.search))
                .collect();
            cache::encode(entries.into_iter())
        };
        self.store.write_cache(&bytes);
    }

    /// The index entry of a listed blob: from its metadata when it has some,
    /// else from its (not yet verified) payload. `None` when it vanished.
    pub(super) fn entry_from_listing(
        &self,
        handle: Handle,
        listed: &BlobEntry,
    ) -> Result<Option<TokenEntry>> {
        if let Some(map) = &listed.metadata {
            return Ok(Some(match metadata::decode(map) {
                Some(search) => TokenEntry {
                    version: listed.version.clone(),
                    search: Searchable::of(&search),
                    from_metadata: true,
                    ..TokenEntry::default()
                },
                None => {
                    tracing::warn!(blob = %listed.name, "certificate blob has unreadable metadata; it is left out");
                    TokenEntry::rejected(listed.version.clone())
                }
            }));
        }
        match self.entry_from_store(handle) {
            Err(Error::BlobUnreadable { blob, reason }) => {
                tracing::warn!(%blob, %reason, "certificate blob is unreadable; it is left out");
                Ok(Some(TokenEntry::rejected(listed.version.clone())))
            }
            other => other,
        }
    }

    /// The index entry of `handle` read from the store now.
    pub(super) fn entry_from_store(&self, handle: Handle) -> Result<Option<TokenEntry>> {
        let name = blob_name(handle);
        let Some((content, version)) = self.store.read(&name)? else {
            return Ok(None);
        };
        Ok(Some(match peek_blob(handle, &content) {
            Ok(search) => TokenEntry {
                version,
                search: Searchable::of(&search),
                ..TokenEntry::default()
            },
            Err(reason) => {
                tracing::warn!(blob = %name, %reason, "certificate blob is unreadable; it is left out");
                TokenEntry::rejected(version)
            }
        }))
    }
}

/// What a listing (in handle order) says of `index`: the blobs that are
/// new or changed, and the handles whose blob is gone (but not those the
/// index learnt of after `sequence`, when the listing began).
fn differences<'a>(
    index: &TokenIndex,
    listed: &'a [(Handle, BlobEntry)],
    sequence: u64,
) -> (Vec<(Handle, &'a BlobEntry)>, Vec<Handle>) {
    let changed = listed
        .iter()
        .filter(|(handle, entry)| {
            index
                .get(*handle)
                .is_none_or(|known| known.version != entry.version)
        })
        .map(|(handle, entry)| (*handle, entry))
        .collect();
    // Both sides are in handle order: one merge finds the gone ones.
    let mut gone = Vec::new();
    let mut remaining = listed.iter().map(|(handle, _)| *handle).peekable();
    for (handle, _) in index.versions() {
        while remaining.next_if(|listed| *listed < handle).is_some() {}
        if remaining.next_if_eq(&handle).is_none() && !index.changed_since(handle, sequence) {
            gone.push(handle);
        }
    }
    (changed, gone)
}
