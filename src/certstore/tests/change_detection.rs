//! Searches over a local store that has not changed list nothing: the
//! directory's change stamp stands for the listing. Every create, update
//! and destroy of another process still shows in the next search, and a
//! blob rewritten in place (which leaves the directory alone) is probed and
//! left out.

use super::*;
use crate::certstore::local::RACY_MARGIN;
use crate::certstore::{
    blob_name, BlobEntry, ChangeStamp, CreateOutcome, Metadata, Probe, Updated,
};
use std::sync::atomic::AtomicUsize;

/// A local store counting its listings.
struct CountingStore {
    inner: LocalStore,
    listings: AtomicUsize,
    reads: AtomicUsize,
}

impl BlobStore for CountingStore {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn list(&self, prefix: &str) -> Result<Vec<BlobEntry>> {
        self.listings.fetch_add(1, Ordering::SeqCst);
        self.inner.list(prefix)
    }
    fn read(&self, name: &str) -> Result<Option<(Vec<u8>, String)>> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.read(name)
    }
    fn create(&self, name: &str, content: &[u8], metadata: &Metadata) -> Result<CreateOutcome> {
        self.inner.create(name, content, metadata)
    }
    fn update(&self, name: &str, content: &[u8], metadata: &Metadata, expected: &str) -> Updated {
        self.inner.update(name, content, metadata, expected)
    }
    fn delete(&self, name: &str) -> Result<()> {
        self.inner.delete(name)
    }
    fn change_stamp(&self) -> Result<Option<ChangeStamp>> {
        self.inner.change_stamp()
    }
    fn probe(&self, name: &str) -> Result<Probe> {
        self.inner.probe(name)
    }
    fn read_cache(&self) -> Option<Vec<u8>> {
        self.inner.read_cache()
    }
    fn write_cache(&self, content: &[u8]) {
        self.inner.write_cache(content)
    }
}

/// `Certificates` over `dir` whose store sees every file (and the
/// directory) as settled when `settled`, and counts its listings.
fn counted(
    dir: &std::path::Path,
    device: Arc<TestDevice>,
    settled: bool,
) -> (Certificates, Arc<CountingStore>) {
    let ahead = if settled {
        RACY_MARGIN * 2
    } else {
        Duration::ZERO
    };
    let store = Arc::new(CountingStore {
        inner: LocalStore::open(dir)
            .expect("store")
            .with_clock_ahead(ahead),
        listings: AtomicUsize::new(0),
        reads: AtomicUsize::new(0),
    });
    let certificates = Certificates::open(store.clone(), device, None).expect("open");
    (certificates, store)
}

fn listings(store: &CountingStore) -> usize {
    store.listings.load(Ordering::SeqCst)
}

fn by_label(certificates: &Certificates, label: &str) -> Vec<Handle> {
    certificates
        .find(&public(), &[bytes(CKA_LABEL, label.as_bytes())])
        .expect("find")
}

use std::time::Duration;

#[test]
fn searches_over_an_unchanged_directory_list_it_once() {
    let fixture = Fixture::new();
    let first = fixture.create_reference(true, "steady");
    let second = fixture.create_reference(true, "other");
    let (reader, store) = counted(fixture.dir.path(), fixture.device.clone(), true);
    assert_eq!(by_label(&reader, "steady"), vec![first]);
    assert_eq!(listings(&store), 1);
    for _ in 0..5 {
        assert_eq!(by_label(&reader, "steady"), vec![first]);
        assert_eq!(by_label(&reader, "other"), vec![second]);
        assert_eq!(find_all(&reader, &public()), vec![first, second]);
    }
    assert_eq!(listings(&store), 1, "the directory did not change");
}

#[test]
fn a_directory_changed_within_the_clock_margin_is_listed_on_every_search() {
    let fixture = Fixture::new();
    let handle = fixture.create_reference(true, "young");
    let (reader, store) = counted(fixture.dir.path(), fixture.device.clone(), false);
    for _ in 0..3 {
        assert_eq!(by_label(&reader, "young"), vec![handle]);
    }
    assert_eq!(
        listings(&store),
        3,
        "a change in the same clock tick could hide"
    );
}

#[test]
fn another_processs_create_update_and_destroy_show_in_the_next_search() {
    let fixture = Fixture::new();
    let kept = fixture.create_reference(true, "shared");
    let (reader, store) = counted(fixture.dir.path(), fixture.device.clone(), true);
    assert_eq!(by_label(&reader, "shared"), vec![kept]);
    assert_eq!(by_label(&reader, "shared"), vec![kept]);
    let before = listings(&store);

    let other = fixture.reopen();
    let created = other
        .create(&user(), &reference_template(true, "shared"))
        .expect("create");
    assert_eq!(
        by_label(&reader, "shared"),
        vec![kept, created],
        "a create elsewhere"
    );

    other
        .set_attributes(&user(), created, &[bytes(CKA_LABEL, b"renamed")])
        .expect("update elsewhere");
    assert_eq!(
        by_label(&reader, "shared"),
        vec![kept],
        "an update elsewhere"
    );
    assert_eq!(by_label(&reader, "renamed"), vec![created]);

    other.destroy(&user(), created).expect("destroy elsewhere");
    assert_eq!(
        by_label(&reader, "renamed"),
        Vec::<Handle>::new(),
        "a destroy elsewhere"
    );
    assert!(listings(&store) > before, "each change moved the stamp");
}

#[test]
fn a_blob_rewritten_in_place_is_probed_and_left_out_without_a_listing() {
    let fixture = Fixture::new();
    let victim = fixture.create_reference(true, "in-place");
    let intact = fixture.create_reference(true, "in-place");
    let (reader, store) = counted(fixture.dir.path(), fixture.device.clone(), true);
    assert_eq!(by_label(&reader, "in-place"), vec![victim, intact]);
    let listed = listings(&store);

    // Rewritten in place: same inode, same directory entry, so the
    // directory's stamp stays; the file's own identity moves.
    let mut blob = fixture.blob(victim);
    let middle = blob.len() / 2;
    blob[middle] = if blob[middle] == b'A' { b'B' } else { b'A' };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(fixture.blob_path(victim))
        .expect("open the blob in place");
    std::io::Write::write_all(&mut file, &blob).expect("rewrite in place");
    drop(file);

    let (found, logs) = capture_logs(|| by_label(&reader, "in-place"));
    assert_eq!(found, vec![intact]);
    assert_eq!(listings(&store), listed, "the directory's stamp stood");
    assert!(logs.contains(&blob_name(victim)), "logged: {logs:?}");

    // A blob deleted without the directory's stamp seen moving (the stamp
    // is checked first, so this one does move it): gone either way.
    std::fs::remove_file(fixture.blob_path(intact)).expect("delete");
    assert_eq!(by_label(&reader, "in-place"), Vec::<Handle>::new());
}

#[test]
fn a_blob_key_replaced_elsewhere_is_noticed_within_a_second_without_a_change_of_the_directory() {
    let fixture = Fixture::new();
    let old = fixture.create_reference(true, "rekeyed");
    let (reader, store) = counted(fixture.dir.path(), fixture.device.clone(), true);
    assert_eq!(by_label(&reader, "rekeyed"), vec![old]);
    assert_eq!(by_label(&reader, "rekeyed"), vec![old]);
    let listed = listings(&store);
    fixture.device.replace_key(1, "after-reinit");
    // Past the interval of the key check (1 s); no blob changed.
    std::thread::sleep(Duration::from_millis(1_100));
    assert_eq!(
        by_label(&reader, "rekeyed"),
        Vec::<Handle>::new(),
        "a blob signed by the replaced key is left out"
    );
    assert_eq!(
        listings(&store),
        listed + 1,
        "the new key's index is listed afresh"
    );
}

fn reads(store: &CountingStore) -> usize {
    store.reads.load(Ordering::SeqCst)
}

#[test]
fn a_new_process_takes_the_index_from_the_cache_and_rebuilds_a_damaged_one() {
    const COUNT: usize = 300;
    let fixture = Fixture::new();
    let handles: Vec<Handle> = (0..COUNT)
        .map(|i| fixture.create_reference(true, &format!("cached-{i}")))
        .collect();
    let cache = fixture.dir.path().join(".index").join("certificates");

    // The first process reads every blob, then writes the cache.
    let (first, store) = counted(fixture.dir.path(), fixture.device.clone(), true);
    assert_eq!(by_label(&first, "cached-7"), vec![handles[7]]);
    assert!(reads(&store) >= COUNT, "{} reads", reads(&store));
    assert!(cache.is_file(), "the cache is written");

    // The next one reads only what it returns (verified before it is).
    let (second, store) = counted(fixture.dir.path(), fixture.device.clone(), true);
    assert_eq!(by_label(&second, "cached-8"), vec![handles[8]]);
    assert_eq!(reads(&store), 1);
    assert_eq!(find_all(&second, &public()), handles, "the whole index");

    // A blob changed since the cache was written is read again: destroyed
    // here, its entry is not taken from the cache.
    fixture
        .certificates
        .destroy(&user(), handles[9])
        .expect("destroy");
    let (third, _) = counted(fixture.dir.path(), fixture.device.clone(), true);
    assert_eq!(by_label(&third, "cached-9"), Vec::<Handle>::new());

    // A damaged cache is ignored and written again.
    let mut bytes = std::fs::read(&cache).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&cache, &bytes).unwrap();
    let (fourth, store) = counted(fixture.dir.path(), fixture.device.clone(), true);
    assert_eq!(by_label(&fourth, "cached-10"), vec![handles[10]]);
    assert!(reads(&store) >= COUNT - 1, "{} reads", reads(&store));
    let (fifth, store) = counted(fixture.dir.path(), fixture.device.clone(), true);
    assert_eq!(by_label(&fifth, "cached-11"), vec![handles[11]]);
    assert_eq!(reads(&store), 1, "the rebuilt cache serves");
}

#[test]
fn a_blob_rewritten_in_place_is_never_taken_from_the_cache() {
    // The cache names a version: a blob rewritten in place (here with a
    // valid blob of another label) gets a new identity, so its entry is
    // read from the blob, not taken from the cache, and the next process
    // finds it under its new label.
    let fixture = Fixture::new();
    let handles: Vec<Handle> = (0..260)
        .map(|i| fixture.create_reference(true, &format!("kept-{i}")))
        .collect();
    let (first, _) = counted(fixture.dir.path(), fixture.device.clone(), true);
    assert_eq!(by_label(&first, "kept-3"), vec![handles[3]]);
    write_signed_blob(&fixture, handles[3], "relabelled");
    let (second, _) = counted(fixture.dir.path(), fixture.device.clone(), true);
    assert_eq!(by_label(&second, "relabelled"), vec![handles[3]]);
    assert_eq!(by_label(&second, "kept-3"), Vec::<Handle>::new());
    assert_eq!(by_label(&second, "kept-4"), vec![handles[4]]);
}
