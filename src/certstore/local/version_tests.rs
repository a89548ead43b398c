//! Versions of the local store's blobs: identity versions of old files
//! never hashed, and content digests.

use super::*;

const NAME: &str = "pkcs11_certificate_4293918720";

fn store(dir: &Path) -> LocalStore {
    LocalStore::open(dir).unwrap()
}

/// A store that sees every file as older than the racy margin.
fn store_later(dir: &Path) -> LocalStore {
    let mut store = store(dir);
    store.clock_ahead = RACY_MARGIN * 2;
    store
}

fn created(store: &LocalStore, content: &[u8]) -> String {
    match store.create(NAME, content, &Metadata::new()).unwrap() {
        CreateOutcome::Created(version) => version,
        CreateOutcome::AlreadyExists => panic!("exists"),
    }
}

#[test]
fn an_old_file_never_hashed_has_the_same_identity_version_in_listings_and_reads() {
    let dir = tempfile::tempdir().unwrap();
    created(&store(dir.path()), b"one");
    let later = store_later(dir.path());
    let listed = later.list(crate::certstore::BLOB_PREFIX).unwrap()[0]
        .version
        .clone();
    assert!(listed.starts_with(UNREAD_PREFIX), "{listed}");
    let (content, read) = later.read(NAME).unwrap().unwrap();
    assert_eq!((content.as_slice(), read), (&b"one"[..], listed.clone()));
    assert_eq!(
        later.list(crate::certstore::BLOB_PREFIX).unwrap()[0].version,
        listed
    );
}

/// An old file "one" seen by a store later, and the version a read gives.
fn old_file_read_later(dir: &Path) -> (LocalStore, String) {
    created(&store(dir), b"one");
    let later = store_later(dir);
    let (_, version) = later.read(NAME).unwrap().unwrap();
    (later, version)
}

/// Replaces the file with "two" if its version is still `version`.
fn update_to_two(store: &LocalStore, version: &str) -> UpdateOutcome {
    store
        .update(NAME, b"two", &Metadata::new(), version)
        .unwrap()
}

#[test]
fn update_accepts_an_identity_version_while_the_file_is_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let (later, version) = old_file_read_later(dir.path());
    let outcome = update_to_two(&later, &version);
    assert_eq!(outcome, UpdateOutcome::Updated(version_of_content(b"two")));
}

#[test]
fn update_refuses_an_identity_version_once_the_file_changed_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let (later, version) = old_file_read_later(dir.path());
    std::thread::sleep(Duration::from_millis(20));
    fs::write(dir.path().join(NAME), b"six").unwrap();
    assert_eq!(update_to_two(&later, &version), UpdateOutcome::Conflict);
    assert_ne!(later.read(NAME).unwrap().unwrap().1, version);
}

#[test]
fn update_still_accepts_the_content_digest_of_an_old_file() {
    let dir = tempfile::tempdir().unwrap();
    created(&store(dir.path()), b"one");
    let later = store_later(dir.path());
    let outcome = update_to_two(&later, &version_of_content(b"one"));
    assert!(matches!(outcome, UpdateOutcome::Updated(_)));
}

#[test]
fn a_file_hashed_while_young_keeps_its_digest_as_it_ages() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = store(dir.path());
    let version = created(&store, b"one");
    assert_eq!(
        store.list(crate::certstore::BLOB_PREFIX).unwrap()[0].version,
        version
    );
    store.clock_ahead = RACY_MARGIN * 2;
    assert_eq!(
        store.list(crate::certstore::BLOB_PREFIX).unwrap()[0].version,
        version
    );
    assert_eq!(store.read(NAME).unwrap().unwrap().1, version);
}
