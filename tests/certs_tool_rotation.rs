//! `azcloudhsm-certs` migrate and resign: what changes in the stores, and
//! what the library (through the C ABI) reads afterwards.
//!
//! "New key only" (`src/bin/azcloudhsm-certs/commands/resign.rs`): the
//! library verifies every blob with the one configured signing key. After
//! `resign --new-key-id new-key`, every blob names and verifies with the new
//! key: a library still configured with the old key sees none of them, and
//! one configured with `CERTSTORAGE_SIGNING_KEYID=new-key` reads every one
//! even after the old key pair is destroyed.

mod common;

use common::*;
use cryptoki::object::{Attribute, AttributeType};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The library's own store over `url`, with the fixture's configuration
/// (and so its authentication keys).
fn store_at(fixture: &ToolFixture, url: &str) -> Box<dyn azcloudhsm_pkcs11::certstore::BlobStore> {
    let text = std::fs::read_to_string(fixture.config_path()).unwrap();
    let mut config = format!("CERTSTORAGE_URL={url}\n");
    for line in text.lines().filter(|l| !l.starts_with("CERTSTORAGE_URL=")) {
        config.push_str(line);
        config.push('\n');
    }
    let path = fixture.directory.root().join("other-store.cfg");
    std::fs::write(&path, config).unwrap();
    open_blob_store(&path)
}

/// The `kid` in a blob's JWS header.
fn kid_of(blob: &[u8]) -> String {
    let text = std::str::from_utf8(blob).unwrap();
    let header = text.split('.').next().unwrap();
    let header = azcloudhsm_pkcs11::certstore::encoding::base64url_decode(header).unwrap();
    let header: serde_json::Value = serde_json::from_slice(&header).unwrap();
    header["kid"].as_str().unwrap().to_string()
}

/// The kid a key pair signs blobs with, computed outside the provider's
/// JWS code: hex of the first 16 bytes of SHA-256 of its public key info.
fn kid_of_key(session: &cryptoki::session::Session, id: &[u8]) -> String {
    let found = session
        .find_objects(&[
            Attribute::Class(cryptoki::object::ObjectClass::PRIVATE_KEY),
            Attribute::Id(id.to_vec()),
        ])
        .unwrap();
    assert_eq!(found.len(), 1);
    let info = session
        .get_attributes(found[0], &[AttributeType::PublicKeyInfo])
        .unwrap();
    let [Attribute::PublicKeyInfo(der)] = info.as_slice() else {
        panic!("no public key info: {info:?}");
    };
    openssl::sha::sha256(der)[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

// ----- migrate -----

#[test]
fn migrate_round_trip_local_to_azurite_to_local_keeps_handles_and_bytes() {
    let Some(account) = azurite_url() else {
        return;
    };
    let auth = azurite_auth_lines(&account);
    let extra: Vec<(&str, &str)> = auth.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let fixture = ToolFixture::new(Store::Local, &extra).expect("the local store");
    let mut expected_values = BTreeMap::new();
    fixture.with_provider(|provider| {
        let session = provider.user_session();
        for (n, label) in ["alpha", "beta", "gamma"].iter().enumerate() {
            let certificate = make_certificate(&format!("{label}.example.com"), n as u32, -1, 90);
            store_certificate(&session, label, &[n as u8], &certificate);
            expected_values.insert(label.to_string(), certificate.to_der().unwrap());
        }
    });
    let source = fixture.blobs();
    assert_eq!(source.len(), 3);
    let garbage = blob_name(FIRST_CERTIFICATE_HANDLE + 50);
    std::fs::write(
        fixture.directory.certificates_dir().join(&garbage),
        "garbage",
    )
    .unwrap();

    let azure = format!("{account}/{}", unique_container("migrate"));
    let first = fixture.tool(&["migrate", "--to", &azure]);
    first.expect_status(1);
    assert!(
        first
            .stdout
            .contains("3 copied and verified, 0 already there, 1 not verified"),
        "{}",
        first.stdout
    );
    assert!(
        first
            .stdout
            .lines()
            .any(|l| l.starts_with(&garbage) && l.contains("not a JWS")),
        "{}",
        first.stdout
    );
    let in_azure = blobs_of(store_at(&fixture, &azure).as_ref());
    assert_eq!(
        in_azure, source,
        "same names (handles), same bytes; the bad blob stays behind"
    );

    // Resumable: a second run copies nothing and overwrites nothing.
    let again = fixture.tool(&["migrate", "--to", &azure]);
    again.expect_status(1);
    assert!(
        again
            .stdout
            .contains("0 copied and verified, 3 already there"),
        "{}",
        again.stdout
    );
    std::fs::remove_file(fixture.directory.certificates_dir().join(&garbage)).unwrap();
    fixture.tool(&["migrate", "--to", &azure]).expect_status(0);
    // The copies carry metadata that agrees with their payloads.
    let checked = fixture.tool(&["--store", &azure, "verify"]);
    checked.expect_status(0);
    assert!(
        checked.stdout.contains("3 good, 0 bad"),
        "{}",
        checked.stdout
    );

    let back: PathBuf = fixture.directory.root().join("back");
    let home = fixture.tool(&["--store", &azure, "migrate", "--to", &file_url(&back)]);
    home.expect_status(0);
    assert!(
        home.stdout.contains("3 copied and verified"),
        "{}",
        home.stdout
    );
    let in_back = blobs_of(store_at(&fixture, &file_url(&back)).as_ref());
    assert_eq!(in_back, source);

    let back_url = file_url(&back);
    fixture.write_config(&[("CERTSTORAGE_URL", &back_url)]);
    let read_back = fixture.with_provider(|provider| certificate_values(&provider.ro_session()));
    assert_eq!(
        read_back, expected_values,
        "the library reads every certificate from the copy"
    );

    // A different blob under a copied name is a conflict, never overwritten.
    let taken = source.keys().next().unwrap().clone();
    std::fs::write(back.join(&taken), "someone else's blob").unwrap();
    let conflict = fixture.tool(&["--store", &azure, "migrate", "--to", &back_url]);
    conflict.expect_status(1);
    assert!(
        conflict
            .stdout
            .lines()
            .any(|l| l.starts_with(&taken) && l.contains("conflict")),
        "{}",
        conflict.stdout
    );
    assert_eq!(
        std::fs::read(back.join(&taken)).unwrap(),
        b"someone else's blob"
    );
}

#[test]
fn migrate_refuses_to_copy_a_store_onto_itself() {
    let fixture = ToolFixture::new(Store::Local, &[]).expect("the local store");
    let run = fixture.tool(&["migrate", "--to", &fixture.store_url()]);
    run.expect_status(2);
    assert!(
        run.stderr.contains("is the store being migrated"),
        "{}",
        run.stderr
    );
}

// ----- resign -----

fn rotation_leaves_every_certificate_readable_with_the_new_key_only(store: Store) {
    let Some(fixture) = ToolFixture::new(store, &[("CERTSTORAGE_SIGNING_KEYID", "old-key")]) else {
        return;
    };
    let mut values = BTreeMap::new();
    let (old_kid, new_kid) = fixture.with_provider(|provider| {
        let session = provider.user_session();
        generate_rsa(&session, 2048, true, b"old-key");
        generate_rsa(&session, 2048, true, b"new-key");
        for (n, label) in ["a", "b", "c"].iter().enumerate() {
            let certificate = make_certificate(&format!("{label}.example.com"), n as u32, -1, 90);
            store_certificate(&session, label, &[n as u8], &certificate);
            values.insert(label.to_string(), certificate.to_der().unwrap());
        }
        (
            kid_of_key(&session, b"old-key"),
            kid_of_key(&session, b"new-key"),
        )
    });
    let before = fixture.blobs();
    assert!(before.values().all(|blob| kid_of(blob) == old_kid));

    let dry = fixture.tool(&["resign", "--new-key-id", "new-key", "--dry-run"]);
    dry.expect_status(0);
    assert!(
        dry.stdout.lines().next().unwrap().contains("3 to re-sign"),
        "{}",
        dry.stdout
    );
    assert_eq!(fixture.blobs(), before, "a dry run changes nothing");

    let run = fixture.tool_with_pin(&["resign", "--new-key-id", "new-key"]);
    run.expect_status(0);
    let first_line = run.stdout.lines().next().unwrap();
    assert!(
        first_line.starts_with("3 blobs in ") && first_line.contains("3 to re-sign"),
        "the count comes first: {}",
        run.stdout
    );
    assert!(run.stdout.contains("re-signed 3;"), "{}", run.stdout);
    let after = fixture.blobs();
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>()
    );
    assert!(
        after.values().all(|blob| kid_of(blob) == new_kid),
        "every blob names the new key"
    );

    // Still configured with the old key, the library sees none of them.
    let with_old_key = fixture.with_provider(|provider| certificate_values(&provider.ro_session()));
    assert!(with_old_key.is_empty(), "{with_old_key:?}");

    // A writer that has not switched yet adds one; resign again picks up just that one.
    let late = make_certificate("d.example.com", 9, -1, 90);
    fixture.with_provider(|provider| {
        store_certificate(&provider.user_session(), "d", &[9], &late);
    });
    values.insert("d".to_string(), late.to_der().unwrap());
    let resumed = fixture.tool_with_pin(&["resign", "--new-key-id", "new-key"]);
    resumed.expect_status(0);
    assert!(
        resumed.stdout.contains("1 to re-sign")
            && resumed.stdout.contains("3 signed by it already"),
        "{}",
        resumed.stdout
    );

    // Switch the configuration, destroy the old key pair, and read everything.
    fixture.write_config(&[("CERTSTORAGE_SIGNING_KEYID", "new-key")]);
    fixture.with_provider(|provider| {
        let session = provider.user_session();
        let old = session
            .find_objects(&[Attribute::Id(b"old-key".to_vec())])
            .unwrap();
        assert_eq!(old.len(), 2, "the old key pair");
        for handle in old {
            session.destroy_object(handle).unwrap();
        }
    });
    let with_new_key = fixture.with_provider(|provider| certificate_values(&provider.ro_session()));
    assert_eq!(with_new_key, values);
    let verified = fixture.tool(&["verify"]);
    verified.expect_status(0);
    assert!(
        verified.stdout.contains("4 good, 0 bad"),
        "{}",
        verified.stdout
    );
    let again = fixture.tool_with_pin(&["resign", "--new-key-id", "new-key"]);
    again.expect_status(2);
    assert!(
        again.stderr.contains("already signs with"),
        "{}",
        again.stderr
    );
}

#[test]
fn rotation_leaves_every_certificate_readable_with_the_new_key_only_on_the_local_store() {
    rotation_leaves_every_certificate_readable_with_the_new_key_only(Store::Local);
}

#[test]
fn rotation_leaves_every_certificate_readable_with_the_new_key_only_on_azurite() {
    rotation_leaves_every_certificate_readable_with_the_new_key_only(Store::Azurite);
}

#[test]
fn resign_leaves_blobs_that_do_not_verify_untouched_and_exits_1() {
    let fixture = ToolFixture::new(Store::Local, &[]).expect("the local store");
    let certificate = make_certificate("x.example.com", 1, -1, 90);
    fixture.with_provider(|provider| {
        let session = provider.user_session();
        generate_rsa(&session, 2048, true, b"new-key");
        store_certificate(&session, "x", &[1], &certificate);
    });
    let garbage = blob_name(FIRST_CERTIFICATE_HANDLE + 7);
    let garbage_path = fixture.directory.certificates_dir().join(&garbage);
    std::fs::write(&garbage_path, "garbage").unwrap();
    let run = fixture.tool_with_pin(&["resign", "--new-key-id", "new-key"]);
    run.expect_status(1);
    assert!(
        run.stdout.contains("1 to re-sign") && run.stdout.contains("1 that do not verify"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("re-signed 1;"), "{}", run.stdout);
    assert_eq!(std::fs::read(&garbage_path).unwrap(), b"garbage");
}

#[test]
fn resign_with_an_unknown_key_id_changes_nothing() {
    let fixture = ToolFixture::new(Store::Local, &[]).expect("the local store");
    let certificate = make_certificate("x.example.com", 1, -1, 90);
    fixture.with_provider(|provider| {
        store_certificate(&provider.user_session(), "x", &[1], &certificate);
    });
    let before = fixture.blobs();
    let run = fixture.tool_with_pin(&["resign", "--new-key-id", "no-such-key"]);
    run.expect_status(2);
    assert!(
        run.stderr
            .contains("no RSA private key with CKA_ID \"no-such-key\""),
        "{}",
        run.stderr
    );
    assert_eq!(fixture.blobs(), before);
}
