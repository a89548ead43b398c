//! The local directory store: atomic create-if-absent, conditional update,
//! delete, listing.

use super::*;
use crate::certstore::{open_store, CreateOutcome, UpdateOutcome};
use std::collections::BTreeMap;

const NAME: &str = "pkcs11_certificate_4293918720";

fn store() -> (tempfile::TempDir, LocalStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::open(dir.path().join("nested/certificates")).unwrap();
    (dir, store)
}

fn no_metadata() -> BTreeMap<String, String> {
    BTreeMap::new()
}

#[test]
fn a_file_url_opens_a_directory_created_when_absent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b");
    let url = url::Url::from_directory_path(&path).unwrap().to_string();
    let store = open_store(&url).unwrap();
    assert!(path.is_dir());
    assert!(store.describe().contains("a/b"));
    assert!(open_store("file:relative/dir").is_err());
    assert!(open_store("ftp://example.com/x").is_err());
}

#[test]
fn create_claims_a_name_once_and_writes_exactly_the_content() {
    let (_dir, store) = store();
    let CreateOutcome::Created(version) = store
        .create(NAME, b"header.payload.signature", &no_metadata())
        .unwrap()
    else {
        panic!("not created")
    };
    assert_eq!(
        store.create(NAME, b"other", &no_metadata()).unwrap(),
        CreateOutcome::AlreadyExists
    );
    assert_eq!(
        std::fs::read(store.directory().join(NAME)).unwrap(),
        b"header.payload.signature"
    );
    assert_eq!(
        store.read(NAME).unwrap(),
        Some((b"header.payload.signature".to_vec(), version))
    );
}

#[test]
fn the_second_of_two_writers_sees_a_conflict() {
    let (_dir, store) = store();
    let CreateOutcome::Created(version) = store.create(NAME, b"v1", &no_metadata()).unwrap() else {
        panic!()
    };
    let first = store
        .update(NAME, b"v2 from writer one", &no_metadata(), &version)
        .unwrap();
    assert!(matches!(first, UpdateOutcome::Updated(_)));
    let second = store
        .update(NAME, b"v2 from writer two", &no_metadata(), &version)
        .unwrap();
    assert_eq!(second, UpdateOutcome::Conflict);
    assert_eq!(store.read(NAME).unwrap().unwrap().0, b"v2 from writer one");
}

#[test]
fn a_conflict_is_detected_even_when_the_content_changes_faster_than_timestamps() {
    let (_dir, store) = store();
    let CreateOutcome::Created(mut version) = store
        .create(NAME, b"same-length-0", &no_metadata())
        .unwrap()
    else {
        panic!()
    };
    let stale = version.clone();
    for i in 1..10 {
        let UpdateOutcome::Updated(next) = store
            .update(
                NAME,
                format!("same-length-{i}").as_bytes(),
                &no_metadata(),
                &version,
            )
            .unwrap()
        else {
            panic!()
        };
        version = next;
    }
    assert_eq!(
        store.update(NAME, b"late", &no_metadata(), &stale).unwrap(),
        UpdateOutcome::Conflict
    );
}

#[test]
fn updating_or_reading_a_missing_blob_says_so() {
    let (_dir, store) = store();
    assert_eq!(
        store.update(NAME, b"x", &no_metadata(), "any").unwrap(),
        UpdateOutcome::NotFound
    );
    assert_eq!(store.read(NAME).unwrap(), None);
    store.delete(NAME).expect("deleting a missing blob is fine");
}

#[test]
fn listing_shows_blobs_with_their_versions_and_hides_temporary_files() {
    let (_dir, store) = store();
    let CreateOutcome::Created(version) = store.create(NAME, b"one", &no_metadata()).unwrap()
    else {
        panic!()
    };
    std::fs::write(store.directory().join(".tmp-123"), b"partial").unwrap();
    std::fs::write(store.directory().join("unrelated"), b"x").unwrap();
    let listing = store.list(crate::certstore::BLOB_PREFIX).unwrap();
    assert_eq!(
        listing,
        vec![crate::certstore::BlobEntry {
            name: NAME.into(),
            version: version.clone(),
            metadata: None
        }]
    );
    // An outside change shows up as a new version in the next listing.
    std::fs::write(store.directory().join(NAME), b"two").unwrap();
    assert_ne!(
        store.list(crate::certstore::BLOB_PREFIX).unwrap()[0].version,
        version
    );
    store.delete(NAME).unwrap();
    assert_eq!(
        store.list(crate::certstore::BLOB_PREFIX).unwrap(),
        Vec::new()
    );
}

#[test]
fn names_that_could_escape_the_directory_are_refused() {
    let (_dir, store) = store();
    for name in ["../x", "a/b", "", ".lock"] {
        assert!(store.create(name, b"x", &no_metadata()).is_err(), "{name}");
        assert!(store.read(name).is_err(), "{name}");
    }
}

#[test]
fn file_urls_name_absolute_paths_with_escapes_decoded_and_localhost_as_host() {
    let dir = tempfile::tempdir().unwrap();
    let spaced = dir.path().join("with space %");
    let encoded = url::Url::from_directory_path(&spaced).unwrap().to_string();
    assert!(encoded.contains("with%20space%20%25"), "{encoded}");
    assert_eq!(LocalStore::from_url(&encoded).unwrap().directory(), spaced);
    let localhost = encoded.replacen("file://", "file://localhost", 1);
    assert_eq!(
        LocalStore::from_url(&localhost).unwrap().directory(),
        spaced
    );
    for refused in [
        "file://rel",
        "file://rel/dir",
        "file:rel",
        "file:./rel",
        "file://otherhost/srv/certs",
    ] {
        assert!(
            LocalStore::from_url(refused).is_err(),
            "{refused} was accepted"
        );
    }
}

#[test]
fn a_listing_removes_temporary_files_a_crashed_writer_left_once_a_minute_old() {
    let (_dir, store) = store();
    store.create(NAME, b"content", &no_metadata()).unwrap();
    let abandoned = store.directory().join(".tmp-1234-0-crashed");
    let young = store.directory().join(".tmp-1234-1-writing");
    std::fs::write(&abandoned, b"half").unwrap();
    std::fs::write(&young, b"half").unwrap();
    let two_minutes_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(120);
    std::fs::File::options()
        .write(true)
        .open(&abandoned)
        .unwrap()
        .set_modified(two_minutes_ago)
        .unwrap();
    let names: Vec<String> = store
        .list("")
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(
        names,
        vec![NAME.to_string()],
        "temporary files are never listed"
    );
    assert!(
        !abandoned.exists(),
        "the abandoned temporary file is removed"
    );
    assert!(
        young.exists(),
        "a live writer's temporary file is left alone"
    );
}
