//! A store with metadata (as Azure has): searches use the listing's
//! metadata and never read bodies of unchanged blobs; metadata that
//! disagrees with the signed payload is treated as tampering.

use super::*;
use crate::certstore::{BlobEntry, Cancel, CreateOutcome, Metadata, Probe, UpdateOutcome, Updated};
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

/// A stored blob: content, metadata, ETag.
type StoredBlob = (Vec<u8>, BTreeMap<String, String>, u64);

/// An in-memory blob store with metadata, counting body reads, whole
/// listings and (when `lists_from`) listings from a name.
#[derive(Default)]
struct MemoryStore {
    blobs: Mutex<BTreeMap<String, StoredBlob>>,
    reads: AtomicUsize,
    lists_from: bool,
    listings: AtomicUsize,
    listings_from: AtomicUsize,
    probes: AtomicUsize,
    /// How long each whole listing takes.
    listing_time: Mutex<Duration>,
    /// While true, a cancellable listing waits (until cancelled).
    hold: AtomicBool,
    cancellable_listings: AtomicUsize,
    cancelled_listings: AtomicUsize,
    cache: Mutex<Option<Vec<u8>>>,
    cache_writes: AtomicUsize,
}

impl MemoryStore {
    fn set_metadata(&self, name: &str, key: &str, value: &str) {
        let mut blobs = self.blobs.lock();
        let blob = blobs.get_mut(name).unwrap();
        blob.1.insert(key.into(), value.into());
        blob.2 += 1;
    }
}

impl MemoryStore {
    fn entries(&self, prefix: &str, start: &str) -> Vec<BlobEntry> {
        self.blobs
            .lock()
            .range(start.to_string()..)
            .filter(|(name, _)| name.starts_with(prefix))
            .map(|(name, (_, metadata, etag))| BlobEntry {
                name: name.clone(),
                version: etag.to_string(),
                metadata: Some(metadata.clone()),
            })
            .collect()
    }
}

impl BlobStore for MemoryStore {
    fn describe(&self) -> String {
        "memory".into()
    }
    fn list(&self, prefix: &str) -> Result<Vec<BlobEntry>> {
        self.listings.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(*self.listing_time.lock());
        Ok(self.entries(prefix, ""))
    }
    fn list_cancellable(&self, prefix: &str, cancel: &Arc<Cancel>) -> Result<Vec<BlobEntry>> {
        self.cancellable_listings.fetch_add(1, Ordering::SeqCst);
        while self.hold.load(Ordering::SeqCst) {
            if cancel.is_cancelled() {
                self.cancelled_listings.fetch_add(1, Ordering::SeqCst);
                return Err(Cancel::error());
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        self.list(prefix)
    }
    fn list_from(&self, prefix: &str, start: &str) -> Result<Option<Vec<BlobEntry>>> {
        if !self.lists_from {
            return Ok(None);
        }
        self.listings_from.fetch_add(1, Ordering::SeqCst);
        Ok(Some(self.entries(prefix, start)))
    }
    fn probe(&self, name: &str) -> Result<Probe> {
        if !self.lists_from {
            return Ok(Probe::NotCheap);
        }
        self.probes.fetch_add(1, Ordering::SeqCst);
        Ok(match self.blobs.lock().get(name) {
            Some((_, _, etag)) => Probe::Version(etag.to_string()),
            None => Probe::Gone,
        })
    }
    fn read(&self, name: &str) -> Result<Option<(Vec<u8>, String)>> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        Ok(self
            .blobs
            .lock()
            .get(name)
            .map(|(content, _, etag)| (content.clone(), etag.to_string())))
    }
    fn create(&self, name: &str, content: &[u8], metadata: &Metadata) -> Result<CreateOutcome> {
        let mut blobs = self.blobs.lock();
        if blobs.contains_key(name) {
            return Ok(CreateOutcome::AlreadyExists);
        }
        blobs.insert(name.into(), (content.to_vec(), metadata.clone(), 1));
        Ok(CreateOutcome::Created("1".into()))
    }
    fn update(&self, name: &str, content: &[u8], metadata: &Metadata, expected: &str) -> Updated {
        let mut blobs = self.blobs.lock();
        let Some(blob) = blobs.get_mut(name) else {
            return Ok(UpdateOutcome::NotFound);
        };
        if blob.2.to_string() != expected {
            return Ok(UpdateOutcome::Conflict);
        }
        *blob = (content.to_vec(), metadata.clone(), blob.2 + 1);
        Ok(UpdateOutcome::Updated(blob.2.to_string()))
    }
    fn delete(&self, name: &str) -> Result<()> {
        self.blobs.lock().remove(name);
        Ok(())
    }
    fn read_cache(&self) -> Option<Vec<u8>> {
        self.cache.lock().clone()
    }
    fn write_cache(&self, content: &[u8]) {
        self.cache_writes.fetch_add(1, Ordering::SeqCst);
        *self.cache.lock() = Some(content.to_vec());
    }
}

fn over(store: &Arc<MemoryStore>) -> Certificates {
    Certificates::open(store.clone(), TestDevice::new(), None).unwrap()
}

#[test]
fn a_warm_search_by_label_reads_no_blob_bodies() {
    let store = Arc::new(MemoryStore::default());
    let writer = over(&store);
    let handles = create_labelled(&writer, "label", 50);
    let reader = over(&store);
    let label = [bytes(CKA_LABEL, b"label-7")];
    assert_eq!(reader.find(&public(), &label).unwrap(), vec![handles[7]]);
    let reads = store.reads.load(Ordering::SeqCst);
    assert_eq!(
        reads, 1,
        "the cold search reads the one matching body, to verify it"
    );
    for _ in 0..10 {
        assert_eq!(reader.find(&public(), &label).unwrap(), vec![handles[7]]);
    }
    assert_eq!(
        store.reads.load(Ordering::SeqCst),
        reads,
        "warm searches read nothing"
    );
}

#[test]
fn metadata_that_disagrees_with_the_payload_is_treated_as_tampering() {
    let store = Arc::new(MemoryStore::default());
    let writer = over(&store);
    let handle = writer
        .create(&user(), &reference_template(true, "genuine"))
        .unwrap();
    let name = crate::certstore::blob_name(handle);
    store.set_metadata(
        &name,
        "cka_label",
        &crate::certstore::encoding::base64url_encode(b"forged"),
    );
    let reader = over(&store);
    let (found, logs) = capture_logs(|| {
        reader
            .find(&public(), &[bytes(CKA_LABEL, b"forged")])
            .unwrap()
    });
    assert_eq!(found, Vec::<Handle>::new());
    assert!(logs.contains(&name), "{logs}");
    assert_eq!(
        find_all(&reader, &public()),
        Vec::<Handle>::new(),
        "left out of every search"
    );
}

#[test]
fn metadata_carries_the_searchable_attributes() {
    let store = Arc::new(MemoryStore::default());
    let handle = over(&store)
        .create(&user(), &reference_template(true, "MyCertificate"))
        .unwrap();
    let metadata = store.blobs.lock()[&crate::certstore::blob_name(handle)]
        .1
        .clone();
    let decoded = crate::certstore::metadata::decode(&metadata).unwrap();
    assert_eq!(decoded.get(CKA_LABEL), Some(&b"MyCertificate"[..]));
    assert_eq!(decoded.get(CKA_SUBJECT), Some(REFERENCE_SUBJECT));
    assert_eq!(decoded.get(CKA_ID), Some(&[123u8][..]));
}

fn count(counter: &AtomicUsize) -> usize {
    counter.load(Ordering::SeqCst)
}

fn listing_from_store() -> Arc<MemoryStore> {
    Arc::new(MemoryStore {
        lists_from: true,
        ..MemoryStore::default()
    })
}

/// `count` token certificates labelled `<prefix>-0`, `<prefix>-1`, ...
fn create_labelled(writer: &Certificates, prefix: &str, count: usize) -> Vec<Handle> {
    (0..count)
        .map(|i| {
            writer
                .create(&user(), &reference_template(true, &format!("{prefix}-{i}")))
                .unwrap()
        })
        .collect()
}

fn labelled(certificates: &Certificates, label: &str) -> Vec<Handle> {
    certificates
        .find(&public(), &[bytes(CKA_LABEL, label.as_bytes())])
        .unwrap()
}

#[test]
fn between_whole_listings_a_search_asks_for_the_next_handle_and_lists_from_the_highest_name() {
    let store = listing_from_store();
    let writer = over(&store);
    let first = create_labelled(&writer, "n", 5);
    let reader = over(&store);
    assert_eq!(labelled(&reader, "n-2"), vec![first[2]]);
    assert_eq!(
        count(&store.listings),
        2,
        "the writer's first create and the reader's first search"
    );
    assert_eq!(labelled(&reader, "n-3"), vec![first[3]]);
    assert_eq!(
        count(&store.listings_from),
        0,
        "the next handle has no blob"
    );
    let probes = count(&store.probes);
    assert!(probes >= 1);

    let created = writer
        .create(&user(), &reference_template(true, "n-2"))
        .unwrap();
    assert!(created > first[4]);
    assert_eq!(
        labelled(&reader, "n-2"),
        vec![first[2], created],
        "found by the next search"
    );
    assert_eq!(count(&store.listings_from), 1, "one listing from a name");
    assert_eq!(labelled(&reader, "n-4"), vec![first[4]]);
    assert_eq!(
        count(&store.listings),
        2,
        "no whole listing within the interval"
    );
    assert_eq!(count(&store.listings_from), 1);
    assert_eq!(count(&store.probes), probes + 2, "one request per search");
}

#[test]
fn a_destroy_or_change_elsewhere_shows_once_the_next_whole_listing_is_due() {
    let store = listing_from_store();
    let writer = over(&store);
    let handles = create_labelled(&writer, "c", 4);
    let reader = over(&store);
    reader.set_full_listing_interval(Duration::from_millis(300));
    assert_eq!(labelled(&reader, "c-1"), vec![handles[1]]);
    let listed = count(&store.listings);

    writer.destroy(&user(), handles[1]).unwrap();
    writer
        .set_attributes(&user(), handles[2], &[bytes(CKA_LABEL, b"renamed")])
        .unwrap();
    std::thread::sleep(Duration::from_millis(350));
    assert_eq!(
        labelled(&reader, "c-1"),
        Vec::<Handle>::new(),
        "the destroy"
    );
    assert_eq!(labelled(&reader, "c-2"), Vec::<Handle>::new(), "the change");
    assert_eq!(labelled(&reader, "renamed"), vec![handles[2]]);
    assert_eq!(
        count(&store.listings),
        listed + 1,
        "one whole listing, then from a name again"
    );
}

#[test]
fn a_store_that_cannot_list_from_a_name_is_listed_whole_on_every_search() {
    let store = Arc::new(MemoryStore::default());
    let writer = over(&store);
    let handle = writer
        .create(&user(), &reference_template(true, "whole"))
        .unwrap();
    let reader = over(&store);
    for searches in 1..=3 {
        assert_eq!(labelled(&reader, "whole"), vec![handle]);
        assert_eq!(count(&store.listings), 1 + searches);
    }
    writer.destroy(&user(), handle).unwrap();
    assert_eq!(
        labelled(&reader, "whole"),
        Vec::<Handle>::new(),
        "seen at once"
    );
}

/// A store with metadata whose whole listings take a second, and a reader
/// over it that lists in the background once a listing took that long,
/// having made its first (inline) listing; `handles` labelled `b-0..`.
fn slow_listing_store(count: usize) -> (Arc<MemoryStore>, Certificates, Certificates, Vec<Handle>) {
    let store = listing_from_store();
    let writer = over(&store);
    let handles = create_labelled(&writer, "b", count);
    *store.listing_time.lock() = Duration::from_secs(1);
    let reader = over(&store);
    reader.set_background_listing(true);
    reader.set_inline_listing_limit(Duration::from_millis(500));
    reader.set_full_listing_interval(Duration::from_millis(50));
    assert_eq!(labelled(&reader, "b-1"), vec![handles[1]]);
    (store, writer, reader, handles)
}

/// `f` on another thread; panics when it has not returned after `limit`
/// (a watchdog against a hang, not a timing assertion).
fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(f());
    });
    receiver
        .recv_timeout(limit)
        .unwrap_or_else(|e| panic!("no answer after {limit:?}: {e}"))
}

/// Waits (at most 30 s) until `started` listings have begun on a thread
/// of the manager's: a thread just spawned may not have begun yet.
fn wait_for_listing_thread(store: &MemoryStore, started: usize) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while count(&store.cancellable_listings) < started {
        assert!(
            std::time::Instant::now() < deadline,
            "no listing began on its own thread"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(count(&store.cancellable_listings), started);
}

#[test]
fn a_long_whole_listing_runs_on_its_own_thread_and_no_search_waits_for_it() {
    let (store, writer, reader, handles) = slow_listing_store(4);
    assert_eq!(count(&store.cancellable_listings), 0, "the first is inline");
    store.hold.store(true, Ordering::SeqCst);
    writer.destroy(&user(), handles[1]).unwrap();
    writer
        .set_attributes(&user(), handles[2], &[bytes(CKA_LABEL, b"renamed")])
        .unwrap();
    std::thread::sleep(Duration::from_millis(60));
    let reader = Arc::new(reader);
    let searcher = reader.clone();
    // The listing cannot end while `hold` is set: a search that waited for
    // it would never return.
    let before = within(Duration::from_secs(30), move || labelled(&searcher, "b-1"));
    assert_eq!(before, vec![handles[1]], "not yet: the listing runs");
    wait_for_listing_thread(&store, 1);
    let created = writer
        .create(&user(), &reference_template(true, "b-3"))
        .unwrap();
    let searcher = reader.clone();
    let found = within(Duration::from_secs(30), move || labelled(&searcher, "b-3"));
    assert_eq!(
        found,
        vec![handles[3], created],
        "a new certificate is found while the listing runs"
    );
    assert_eq!(count(&store.cancellable_listings), 1, "one at a time");

    store.hold.store(false, Ordering::SeqCst);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !labelled(&reader, "b-1").is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the destroy never showed"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(labelled(&reader, "b-2"), Vec::<Handle>::new(), "the change");
    assert_eq!(labelled(&reader, "renamed"), vec![handles[2]]);
}

#[test]
fn a_search_after_a_pause_longer_than_the_bound_lists_whole_itself() {
    let (store, writer, reader, handles) = slow_listing_store(3);
    writer.destroy(&user(), handles[1]).unwrap();
    // Past interval + 2 x the listing's second: the index is too old to
    // answer from while a listing runs.
    std::thread::sleep(Duration::from_millis(2_200));
    let listed = count(&store.listings);
    assert_eq!(
        labelled(&reader, "b-1"),
        Vec::<Handle>::new(),
        "seen at once"
    );
    assert_eq!(count(&store.listings), listed + 1);
    assert_eq!(count(&store.cancellable_listings), 0, "listed inline");
}

#[test]
fn dropping_the_manager_stops_the_listing_thread_and_waits_for_it() {
    let (store, _writer, reader, _handles) = slow_listing_store(2);
    store.hold.store(true, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(60));
    let reader = within(Duration::from_secs(30), move || {
        labelled(&reader, "b-0");
        reader
    });
    wait_for_listing_thread(&store, 1);
    within(Duration::from_secs(30), move || drop(reader));
    assert_eq!(
        count(&store.cancelled_listings),
        1,
        "it was cancelled, and its thread had ended when the drop returned"
    );
}

#[test]
fn without_threads_a_long_whole_listing_is_made_by_the_search() {
    let (store, writer, reader, handles) = slow_listing_store(2);
    reader.set_background_listing(false);
    writer.destroy(&user(), handles[1]).unwrap();
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(labelled(&reader, "b-1"), Vec::<Handle>::new());
    assert_eq!(count(&store.cancellable_listings), 0);
}

#[test]
fn a_new_process_starts_from_the_index_cache_and_lists_whole_in_the_background() {
    let store = listing_from_store();
    let writer = over(&store);
    let handles = create_labelled(&writer, "b", 300);
    let first = over(&store);
    first.set_background_listing(true);
    assert_eq!(labelled(&first, "b-5"), vec![handles[5]]);
    assert_eq!(
        count(&store.cache_writes),
        1,
        "a whole listing of 300 new names writes the cache"
    );
    assert_eq!(labelled(&first, "b-6"), vec![handles[6]]);
    assert_eq!(count(&store.cache_writes), 1, "once");

    writer.destroy(&user(), handles[1]).unwrap();
    writer
        .set_attributes(&user(), handles[2], &[bytes(CKA_LABEL, b"b-7")])
        .unwrap();
    // A gap after the cache's highest handle: the one created first is
    // destroyed, so the blob of the next handle is gone.
    let gap = writer
        .create(&user(), &reference_template(true, "gap"))
        .unwrap();
    let created = writer
        .create(&user(), &reference_template(true, "fresh"))
        .unwrap();
    writer.destroy(&user(), gap).unwrap();
    store.hold.store(true, Ordering::SeqCst);
    let listings = count(&store.listings);
    let second = Arc::new(over(&store));
    second.set_background_listing(true);
    second.set_full_listing_interval(Duration::from_millis(300));
    assert_eq!(labelled(&second, "b-3"), vec![handles[3]]);
    assert_eq!(
        labelled(&second, "fresh"),
        vec![created],
        "listed from the cache's highest name, past the gap"
    );
    assert_eq!(count(&store.listings), listings, "no whole listing");
    assert_eq!(
        count(&store.cancellable_listings),
        0,
        "nor one in the background before the interval has passed"
    );
    std::thread::sleep(Duration::from_millis(350));
    let searcher = second.clone();
    // The background listing cannot end while `hold` is set: a search that
    // waited for it would never return.
    let (destroyed, new, changed) = within(Duration::from_secs(30), move || {
        (
            labelled(&searcher, "b-1"),
            labelled(&searcher, "fresh"),
            labelled(&searcher, "b-7"),
        )
    });
    assert_eq!(
        destroyed,
        Vec::<Handle>::new(),
        "read before it is returned"
    );
    assert_eq!(new, vec![created], "listed from the highest name");
    assert_eq!(changed, vec![handles[7]], "not yet: the cache said b-2");
    assert_eq!(
        count(&store.listings),
        listings,
        "no whole listing waited for"
    );
    wait_for_listing_thread(&store, 1);

    store.hold.store(false, Ordering::SeqCst);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while labelled(&second, "b-7") != vec![handles[2], handles[7]] {
        assert!(
            std::time::Instant::now() < deadline,
            "the change never showed"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(labelled(&second, "b-2"), Vec::<Handle>::new());
}

#[test]
fn a_damaged_index_cache_is_ignored_and_the_first_search_lists_whole() {
    let store = listing_from_store();
    let writer = over(&store);
    let handle = writer
        .create(&user(), &reference_template(true, "only"))
        .unwrap();
    *store.cache.lock() = Some(b"azcloudhsm-pkcs11 index cache 2\nnot a cache".to_vec());
    let reader = over(&store);
    reader.set_background_listing(true);
    let listings = count(&store.listings);
    assert_eq!(labelled(&reader, "only"), vec![handle]);
    assert_eq!(count(&store.listings), listings + 1, "listed whole, inline");
    assert_eq!(count(&store.cancellable_listings), 0);
}
