//! Several threads and several `Certificates` over one directory (standing
//! in for several processes) creating certificates at once.

use super::*;
use crate::certstore::handles::handle_of_blob;
use crate::certstore::jws::BlobVerifier;
use crate::certstore::{Metadata, Updated};
use std::collections::BTreeSet;

/// Runs `work(i)` for each `i` below `count`, each on its own thread, all at
/// once; returns what each gave, in order of `i`.
fn on_threads<T: Send>(count: usize, work: impl Fn(usize) -> Vec<T> + Sync) -> Vec<Vec<T>> {
    std::thread::scope(|scope| {
        let work = &work;
        let workers: Vec<_> = (0..count).map(|i| scope.spawn(move || work(i))).collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    })
}

#[test]
fn concurrent_creators_get_distinct_handles_and_verifying_blobs() {
    const PER_THREAD: usize = 150;
    let fixture = Fixture::new();
    let processes = [fixture.reopen(), fixture.reopen()];
    // Two threads in each "process".
    let handles: Vec<Handle> = on_threads(4, |worker| {
        let certificates = &processes[worker / 2];
        let access = Access {
            session: worker as CK_SESSION_HANDLE + 1,
            ..user()
        };
        (0..PER_THREAD)
            .map(|i| {
                let template = reference_template(true, &format!("w{worker}-{i}"));
                certificates.create(&access, &template).unwrap()
            })
            .collect()
    })
    .concat();
    let distinct: BTreeSet<Handle> = handles.iter().copied().collect();
    assert_eq!(distinct.len(), 4 * PER_THREAD, "600 distinct handles");
    assert!(distinct
        .iter()
        .all(|h| crate::object::is_certificate_handle(*h)));

    let verifier = BlobVerifier::new(fixture.device.key().as_ref()).unwrap();
    let mut on_disk = BTreeSet::new();
    for name in fixture.file_names() {
        let Some(handle) = handle_of_blob(&name) else {
            continue;
        };
        let content = fixture.blob(handle);
        verifier
            .verify_blob(handle, &content)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        on_disk.insert(handle);
    }
    assert_eq!(on_disk, distinct, "600 verifying blobs, one per handle");
    let leftovers = fixture
        .file_names()
        .iter()
        .filter(|name| name.starts_with(".tmp-"))
        .count();
    assert_eq!(leftovers, 0, "no temporary file is left behind");
    assert_eq!(
        find_all(&fixture.certificates, &public()),
        distinct.into_iter().collect::<Vec<_>>()
    );
}

#[test]
fn concurrent_updates_of_one_certificate_are_all_applied() {
    // set_attributes re-applies a conflicting update on the newer version up
    // to UPDATE_ATTEMPTS (3) times. Each conflict means the other writer
    // succeeded since this one read the version, and versions (content
    // digests) never repeat here, so every failed call is paid for by three
    // distinct successes of the other writer.
    const ATTEMPTS_PER_UPDATE: usize = 3;
    const ROUNDS: usize = 20;
    let fixture = Fixture::new();
    let handle = fixture.create_reference(true, "x");
    let processes = [fixture.reopen(), fixture.reopen()];
    let kinds = [CKA_LABEL, CKA_URL];
    // Per "process", in order: each value it tried to write and whether the
    // call succeeded.
    let outcomes: Vec<Vec<(Vec<u8>, bool)>> = on_threads(2, |i| {
        let (certificates, kind) = (&processes[i], kinds[i]);
        (0..ROUNDS)
            .map(|round| {
                let text = format!("p{i}-{round}").into_bytes();
                let succeeded =
                    match certificates.set_attributes(&user(), handle, &[bytes(kind, &text)]) {
                        Ok(()) => true,
                        Err(Error::ChangedConcurrently(message))
                            if message.contains("too many concurrent updates") =>
                        {
                            false
                        }
                        Err(other) => panic!("round {round}: {other}"),
                    };
                (text, succeeded)
            })
            .collect()
    });
    let succeeded: Vec<usize> = outcomes
        .iter()
        .map(|writes| writes.iter().filter(|(_, ok)| *ok).count())
        .collect();
    for (i, other) in [(0, 1), (1, 0)] {
        let failed = ROUNDS - succeeded[i];
        assert!(
            ATTEMPTS_PER_UPDATE * failed <= succeeded[other],
            "process {i} failed {failed} updates while process {other} succeeded only {} times",
            succeeded[other]
        );
    }
    // Consequences of the bound: each process has at least 14 successes,
    // and at least 30 of the 40 updates are applied.
    assert!(succeeded
        .iter()
        .all(|s| *s >= ROUNDS - ROUNDS / ATTEMPTS_PER_UPDATE));
    let reopened = fixture.reopen();
    for (i, kind) in kinds.into_iter().enumerate() {
        // Only process i writes `kind`, and every later write by the other
        // process was applied on top of the version holding it.
        let last_success = outcomes[i]
            .iter()
            .rev()
            .find(|(_, ok)| *ok)
            .map(|(text, _)| text.clone())
            .expect("at least one success");
        assert_eq!(
            String::from_utf8(value_of(&reopened, &public(), handle, kind)).unwrap(),
            String::from_utf8(last_success).unwrap(),
            "attribute 0x{kind:x} holds the last value process {i} wrote successfully"
        );
    }
    assert_eq!(
        value_of(&reopened, &public(), handle, CKA_ID),
        vec![123],
        "the blob still verifies"
    );
}

#[test]
fn searches_by_label_among_many_certificates_find_exactly_the_labelled_one_cold_and_warm() {
    // Timing at scale is measured through the C ABI in benches/certificates.rs.
    const COUNT: usize = 200;
    let fixture = Fixture::new();
    let handles: Vec<Handle> = (0..COUNT)
        .map(|i| fixture.create_reference(true, &format!("label-{i}")))
        .collect();
    let wanted = vec![handles[123]];
    let label = [bytes(CKA_LABEL, b"label-123")];
    let reader = fixture.reopen();
    assert_eq!(reader.find(&public(), &label).unwrap(), wanted, "cold");
    assert_eq!(
        reader.find(&public(), &label).unwrap(),
        wanted,
        "warm, freshness 0"
    );
    reader.set_freshness(std::time::Duration::from_secs(60));
    assert_eq!(
        reader.find(&public(), &label).unwrap(),
        wanted,
        "warm, fresh index"
    );
    let mut all = handles.clone();
    all.sort_unstable();
    assert_eq!(
        find_all(&reader, &public()),
        all,
        "every certificate is found"
    );
}

/// A local store whose next listing, once armed, is taken and then held
/// until the test lets it go: what a slow listing looks like to the
/// threads that create and change certificates meanwhile.
struct HeldListing {
    inner: LocalStore,
    armed: parking_lot::Mutex<Option<(std::sync::mpsc::Sender<()>, std::sync::mpsc::Receiver<()>)>>,
}

impl BlobStore for HeldListing {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn list(&self, prefix: &str) -> Result<Vec<super::super::BlobEntry>> {
        let listed = self.inner.list(prefix);
        let armed = self.armed.lock().take();
        if let Some((listing_taken, go_on)) = armed {
            listing_taken.send(()).unwrap();
            go_on.recv().unwrap();
        }
        listed
    }
    fn read(&self, name: &str) -> Result<Option<(Vec<u8>, String)>> {
        self.inner.read(name)
    }
    fn create(
        &self,
        name: &str,
        content: &[u8],
        metadata: &std::collections::BTreeMap<String, String>,
    ) -> Result<super::super::CreateOutcome> {
        self.inner.create(name, content, metadata)
    }
    fn update(&self, name: &str, content: &[u8], metadata: &Metadata, expected: &str) -> Updated {
        self.inner.update(name, content, metadata, expected)
    }
    fn delete(&self, name: &str) -> Result<()> {
        self.inner.delete(name)
    }
}

/// Runs a search whose listing is taken before `meanwhile` runs and
/// applied after it, then returns what a search by `label` on the index
/// alone (no new listing) finds.
fn search_after_a_listing_older_than(
    meanwhile: impl FnOnce(&Certificates),
    label: &str,
) -> Vec<Handle> {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(HeldListing {
        inner: LocalStore::open(dir.path()).unwrap(),
        armed: parking_lot::Mutex::new(None),
    });
    let certificates = Certificates::open(store.clone(), TestDevice::new(), None).unwrap();
    certificates
        .create(&user(), &reference_template(true, "first"))
        .unwrap();
    let (listing_taken, taken) = std::sync::mpsc::channel();
    let (go_on, go) = std::sync::mpsc::channel();
    *store.armed.lock() = Some((listing_taken, go));
    std::thread::scope(|scope| {
        let slow = scope.spawn(|| certificates.find(&public(), &[]).unwrap());
        taken.recv().unwrap();
        meanwhile(&certificates);
        go_on.send(()).unwrap();
        slow.join().unwrap();
    });
    certificates.set_freshness(std::time::Duration::from_secs(3600));
    certificates
        .find(&public(), &[bytes(CKA_LABEL, label.as_bytes())])
        .unwrap()
}

#[test]
fn a_listing_taken_before_a_create_does_not_drop_the_new_certificate_from_the_index() {
    let mut created = None;
    let found = search_after_a_listing_older_than(
        |certificates| {
            created = Some(
                certificates
                    .create(&user(), &reference_template(true, "new"))
                    .unwrap(),
            );
        },
        "new",
    );
    assert_eq!(found, vec![created.unwrap()]);
}

#[test]
fn signatures_refused_at_once_on_many_threads_each_report_why() {
    const THREADS: usize = 8;
    const ROUNDS: usize = 200;
    let key = TestKey::refusing_together(THREADS);
    // One signer shared by every thread, as the certificate store shares it.
    let signer = super::super::jws::DeviceSigner::new(key).unwrap();
    let object = sample_object("refused");
    let wrong: Vec<String> = on_threads(THREADS, |_| {
        (0..ROUNDS)
            .map(|_| super::super::jws::sign_blob(&signer, FIRST, &object))
            .filter(|outcome| !matches!(outcome, Err(Error::UserNotLoggedIn)))
            .map(|outcome| format!("{outcome:?}"))
            .collect()
    })
    .concat();
    assert!(
        wrong.is_empty(),
        "{} of {} refused signatures did not report the device's reason, e.g. {:?}",
        wrong.len(),
        THREADS * ROUNDS,
        wrong.first()
    );
}

const FIRST: Handle = crate::object::FIRST_CERTIFICATE_HANDLE;
