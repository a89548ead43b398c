//! The reference's flow (create, get, find, set, copy, destroy), handles,
//! persistence, session certificates and visibility.

use super::*;
use crate::certstore::blob_name;
use crate::object::{encode_bool, FIRST_CERTIFICATE_HANDLE, LAST_CERTIFICATE_HANDLE};

fn find_by_label(certificates: &Certificates, access: &Access, label: &str) -> Vec<Handle> {
    let template = [
        ulong(CKA_CLASS, CKO_CERTIFICATE),
        ulong(CKA_CERTIFICATE_TYPE, CKC_X_509),
        bytes(CKA_LABEL, label.as_bytes()),
    ];
    certificates.find(access, &template).unwrap()
}

#[test]
fn the_reference_sample_flow_works_end_to_end() {
    let fixture = Fixture::new();
    let handle = create_read_and_find(&fixture);
    set_as_the_sample_does(&fixture, handle);
    copy_and_destroy(&fixture, handle);
}

/// The sample's create_cert, get_cert_attribute and find_cert.
fn create_read_and_find(fixture: &Fixture) -> Handle {
    let certificates = &fixture.certificates;
    // create_cert
    let handle = certificates
        .create(&user(), &reference_template(true, "MyCertificate"))
        .unwrap();
    assert_eq!(handle, 4_293_918_720);
    assert!(fixture
        .dir
        .path()
        .join("pkcs11_certificate_4293918720")
        .is_file());
    // get_cert_attribute
    let kinds = [
        CKA_CLASS,
        CKA_CERTIFICATE_TYPE,
        CKA_TOKEN,
        CKA_LABEL,
        CKA_ID,
    ];
    let values = certificates
        .get_attributes(&user(), handle, &kinds)
        .unwrap();
    let expected = [
        encode_ulong(CKO_CERTIFICATE),
        encode_ulong(CKC_X_509),
        encode_bool(true),
        b"MyCertificate".to_vec(),
        vec![123],
    ];
    assert_eq!(values, expected.map(AttributeResult::Value).to_vec());
    // find_cert
    assert_eq!(
        find_by_label(certificates, &user(), "MyCertificate"),
        vec![handle]
    );
    handle
}

/// The sample's set_cert_attribute: the certificate becomes a session
/// object with new values, found by its new label only.
fn set_as_the_sample_does(fixture: &Fixture, handle: Handle) {
    let certificates = &fixture.certificates;
    // set_cert_attribute: all five attributes of the sample, CKA_TOKEN to false.
    let changes = [
        boolean(CKA_TOKEN, false),
        bytes(CKA_LABEL, b"This is a new label"),
        bytes(CKA_SUBJECT, &[0x40, 0x41, 0x42, 0x43, 0x44]),
        bytes(CKA_ID, &[254]),
        bytes(
            CKA_VALUE,
            &[
                0x10, 0x20, 0x30, 0x40, 0x50, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF,
            ],
        ),
    ];
    certificates
        .set_attributes(&user(), handle, &changes)
        .unwrap();
    for change in &changes {
        assert_eq!(
            value_of(certificates, &user(), handle, change.kind),
            change.value
        );
    }
    assert!(
        !fixture.blob_path(handle).exists(),
        "now a session certificate: its blob is gone"
    );
    assert_eq!(
        find_by_label(certificates, &user(), "This is a new label"),
        vec![handle]
    );
    assert_eq!(
        find_by_label(certificates, &user(), "MyCertificate"),
        Vec::<Handle>::new()
    );
}

/// The sample's copy_cert and delete_cert (twice).
fn copy_and_destroy(fixture: &Fixture, handle: Handle) {
    let certificates = &fixture.certificates;
    // copy_cert
    let copy = certificates.copy(&user(), handle, &[]).unwrap();
    assert_ne!(copy, handle);
    assert_eq!(
        value_of(certificates, &user(), copy, CKA_LABEL),
        b"This is a new label"
    );
    // delete_cert, twice
    certificates.destroy(&user(), copy).unwrap();
    certificates.destroy(&user(), handle).unwrap();
    assert_eq!(
        certificates.find(&user(), &[]).unwrap(),
        Vec::<Handle>::new()
    );
    assert_eq!(
        certificates.destroy(&user(), handle).unwrap_err().rv(),
        CKR_OBJECT_HANDLE_INVALID
    );
}

use crate::object::encode_ulong;

#[test]
fn token_handles_are_in_range_and_increasing() {
    let fixture = Fixture::new();
    let handles: Vec<Handle> = (0..5)
        .map(|i| fixture.create_reference(true, &format!("c{i}")))
        .collect();
    assert_eq!(
        handles,
        (0..5)
            .map(|i| FIRST_CERTIFICATE_HANDLE + i)
            .collect::<Vec<_>>()
    );
    assert_eq!(
        find_all(&fixture.certificates, &public()),
        handles,
        "find returns increasing handles"
    );
}

#[test]
fn after_the_top_handle_the_lowest_free_one_is_used() {
    let fixture = Fixture::new();
    let first = fixture.create_reference(true, "first");
    let second = fixture.create_reference(true, "second");
    // Another process stored a certificate at the very top of the range.
    write_signed_blob(&fixture, LAST_CERTIFICATE_HANDLE, "top");
    fixture.certificates.destroy(&user(), second).unwrap();
    let next = fixture.create_reference(true, "third");
    assert_eq!(
        (first, next),
        (FIRST_CERTIFICATE_HANDLE, FIRST_CERTIFICATE_HANDLE + 1)
    );
    assert_eq!(
        find_by_label(&fixture.certificates, &public(), "top"),
        vec![LAST_CERTIFICATE_HANDLE]
    );
}

#[test]
fn a_token_certificate_survives_a_restart_with_its_handle_and_attributes() {
    let fixture = Fixture::new();
    let handle = fixture.create_reference(true, "MyCertificate");
    let reopened = fixture.reopen();
    assert_eq!(
        find_by_label(&reopened, &public(), "MyCertificate"),
        vec![handle]
    );
    assert_eq!(value_of(&reopened, &public(), handle, CKA_ID), vec![123]);
    assert_eq!(
        value_of(&reopened, &public(), handle, CKA_SUBJECT),
        REFERENCE_SUBJECT
    );
    let next = reopened
        .create(&user(), &reference_template(true, "next"))
        .unwrap();
    assert_eq!(next, handle + 1);
}

#[test]
fn a_certificate_created_by_another_process_is_found_at_once() {
    let fixture = Fixture::new();
    let other = fixture.reopen();
    assert_eq!(
        find_all(&fixture.certificates, &public()),
        Vec::<Handle>::new()
    );
    let handle = other
        .create(&user(), &reference_template(true, "theirs"))
        .unwrap();
    assert_eq!(
        find_by_label(&fixture.certificates, &public(), "theirs"),
        vec![handle]
    );
    other.destroy(&user(), handle).unwrap();
    assert_eq!(
        find_all(&fixture.certificates, &public()),
        Vec::<Handle>::new()
    );
}

#[test]
fn moving_between_token_and_session_keeps_the_handle() {
    let fixture = Fixture::new();
    let handle = fixture.create_reference(true, "moving");
    fixture
        .set(&user(), handle, &[boolean(CKA_TOKEN, false)])
        .unwrap();
    assert!(!fixture.blob_path(handle).exists());
    assert_eq!(
        find_by_label(&fixture.certificates, &user(), "moving"),
        vec![handle]
    );
    assert_eq!(
        find_by_label(&fixture.reopen(), &user(), "moving"),
        Vec::<Handle>::new(),
        "not in the store"
    );
    fixture
        .set(&user(), handle, &[boolean(CKA_TOKEN, true)])
        .unwrap();
    assert!(fixture.blob_path(handle).exists());
    assert_eq!(
        find_by_label(&fixture.reopen(), &user(), "moving"),
        vec![handle],
        "in the store again"
    );
    assert_eq!(fixture.value(&user(), handle, CKA_TOKEN), encode_bool(true));
}

#[test]
fn a_session_certificate_moving_to_a_taken_handle_fails_and_stays() {
    let fixture = Fixture::new();
    let handle = fixture.create_reference(false, "session");
    assert_eq!(
        handle, LAST_CERTIFICATE_HANDLE,
        "session handles come from the top"
    );
    std::fs::write(fixture.blob_path(handle), b"someone else's blob").unwrap();
    let (result, logs) = capture_logs(|| fixture.set(&user(), handle, &[boolean(CKA_TOKEN, true)]));
    assert_eq!(result.unwrap_err().rv(), CKR_FUNCTION_FAILED);
    assert!(logs.contains(&blob_name(handle)), "{logs}");
    assert_eq!(
        fixture.value(&user(), handle, CKA_TOKEN),
        encode_bool(false)
    );
}

#[test]
fn session_certificates_are_shared_and_vanish_with_their_session() {
    let fixture = Fixture::new();
    let session_1 = user();
    let session_2 = Access {
        session: 2,
        ..user()
    };
    let first = fixture
        .certificates
        .create(&session_1, &reference_template(false, "one"))
        .unwrap();
    let second = fixture
        .certificates
        .create(&session_2, &reference_template(false, "two"))
        .unwrap();
    assert_eq!(
        (first, second),
        (LAST_CERTIFICATE_HANDLE, LAST_CERTIFICATE_HANDLE - 1)
    );
    assert_eq!(
        fixture.certificates.find(&session_2, &[]).unwrap(),
        vec![second, first],
        "visible to every session"
    );
    assert_eq!(fixture.file_names(), Vec::<String>::new(), "never stored");
    fixture.certificates.close_session(1);
    assert_eq!(
        fixture.certificates.find(&session_2, &[]).unwrap(),
        vec![second]
    );
    assert_eq!(fixture.value(&session_2, second, CKA_LABEL), b"two");
    assert_eq!(
        fixture
            .certificates
            .get_attributes(&session_2, first, &[CKA_LABEL])
            .unwrap_err()
            .rv(),
        CKR_OBJECT_HANDLE_INVALID
    );
    fixture.certificates.close_all_sessions();
    assert_eq!(
        fixture.certificates.find(&session_2, &[]).unwrap(),
        Vec::<Handle>::new()
    );
}

#[test]
fn token_allocation_skips_handles_of_session_certificates() {
    let fixture = Fixture::new();
    let session = fixture.create_reference(false, "s");
    assert_eq!(session, LAST_CERTIFICATE_HANDLE);
    // The highest token handle is just below it, so the next one would be the session's.
    write_signed_blob(&fixture, LAST_CERTIFICATE_HANDLE - 1, "high");
    let token = fixture.create_reference(true, "t");
    assert_eq!(
        token, FIRST_CERTIFICATE_HANDLE,
        "wrapped to the lowest free handle instead"
    );
}

#[test]
fn copy_with_template_is_refused_and_creates_nothing() {
    let fixture = Fixture::new();
    let handle = fixture.create_reference(true, "x");
    let copy = fixture.copy(&user(), handle, &[bytes(CKA_LABEL, b"y")]);
    assert_eq!(rv_of(copy), CKR_TEMPLATE_INCONSISTENT);
    assert_eq!(find_all(&fixture.certificates, &user()), vec![handle]);
    let names = fixture.file_names();
    let blobs = names.iter().filter(|name| !name.starts_with('.')).count();
    assert_eq!(blobs, 1, "{names:?}");
}

#[test]
fn copy_of_a_token_certificate_is_a_new_blob_with_its_own_handle() {
    let fixture = Fixture::new();
    let handle = fixture.create_reference(true, "x");
    let copy = fixture.copy(&user(), handle, &[]).unwrap();
    assert_eq!(copy, handle + 1);
    assert!(fixture.blob_path(copy).is_file());
    let reopened = fixture.reopen();
    assert_eq!(find_by_label(&reopened, &public(), "x"), vec![handle, copy]);
    assert_eq!(
        value_of(&reopened, &public(), copy, CKA_VALUE),
        REFERENCE_VALUE
    );
}

#[test]
fn copy_of_a_session_certificate_is_a_session_certificate() {
    let fixture = Fixture::new();
    let handle = fixture.create_reference(false, "x");
    let copy = fixture
        .copy(
            &Access {
                session: 2,
                ..user()
            },
            handle,
            &[],
        )
        .unwrap();
    assert_eq!(fixture.value(&user(), copy, CKA_TOKEN), encode_bool(false));
    fixture.certificates.close_session(2);
    assert_eq!(
        find_all(&fixture.certificates, &user()),
        vec![handle],
        "the copy belonged to session 2"
    );
}

#[test]
fn destroy_removes_the_blob_file() {
    let fixture = Fixture::new();
    let handle = fixture.create_reference(true, "x");
    assert!(fixture.blob_path(handle).is_file());
    fixture.certificates.destroy(&user(), handle).unwrap();
    assert!(!fixture.blob_path(handle).exists());
    assert_eq!(find_all(&fixture.reopen(), &public()), Vec::<Handle>::new());
}

#[test]
fn a_search_before_login_finds_public_certificates_only() {
    let fixture = Fixture::new();
    let public_one = fixture.create_reference(true, "public");
    let mut private_template = reference_template(true, "private");
    private_template.push(boolean(CKA_PRIVATE, true));
    let private_one = fixture.create(&private_template);
    let reopened = fixture.reopen();
    assert_eq!(find_all(&reopened, &public()), vec![public_one]);
    assert_eq!(
        reopened
            .get_attributes(&public(), private_one, &[CKA_LABEL])
            .unwrap_err()
            .rv(),
        CKR_OBJECT_HANDLE_INVALID
    );
    assert_eq!(find_all(&reopened, &user()), vec![public_one, private_one]);
    assert_eq!(
        value_of(&reopened, &public(), public_one, CKA_PRIVATE),
        encode_bool(false),
        "public by default"
    );
}

#[test]
fn unknown_handles_are_invalid() {
    let fixture = Fixture::new();
    let certificates = &fixture.certificates;
    for handle in [FIRST_CERTIFICATE_HANDLE, LAST_CERTIFICATE_HANDLE] {
        let calls = [
            (
                "get",
                rv_of(certificates.get_attributes(&user(), handle, &[CKA_LABEL])),
            ),
            ("destroy", rv_of(certificates.destroy(&user(), handle))),
            ("copy", rv_of(certificates.copy(&user(), handle, &[]))),
        ];
        for (what, rv) in calls {
            assert_eq!(rv, CKR_OBJECT_HANDLE_INVALID, "{what} of 0x{handle:x}");
        }
    }
}

#[test]
fn a_token_certificate_can_be_read_before_login_but_not_written() {
    let fixture = Fixture::new();
    let handle = fixture.create_reference(true, "x");
    fixture
        .device
        .logged_in
        .store(false, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        value_of(&fixture.reopen(), &public(), handle, CKA_LABEL),
        b"x"
    );
    // The provider says someone is logged in, but the device refuses to sign.
    let error = fixture
        .certificates
        .create(&user(), &reference_template(true, "y"))
        .unwrap_err();
    assert_eq!(error.rv(), CKR_USER_NOT_LOGGED_IN);
    assert_eq!(find_all(&fixture.reopen(), &public()), vec![handle]);
}

#[test]
fn find_matches_on_any_attribute_of_the_table() {
    let fixture = Fixture::new();
    let a = fixture.create_reference(true, "a");
    let mut template = reference_template(true, "b");
    template.push(bytes(CKA_URL, b"https://example.com/b.cer"));
    let b = fixture.create(&template);
    let found = |t: &[Attribute]| fixture.reopen().find(&public(), t).unwrap();
    assert_eq!(
        found(&[bytes(CKA_URL, b"https://example.com/b.cer")]),
        vec![b]
    );
    assert_eq!(found(&[bytes(CKA_ID, &[123])]), vec![a, b]);
    assert_eq!(
        found(&[ulong(CKA_CLASS, CKO_PRIVATE_KEY)]),
        Vec::<Handle>::new()
    );
    assert_eq!(
        found(&[boolean(CKA_TOKEN, true), bytes(CKA_LABEL, b"a")]),
        vec![a]
    );
    assert!(object_size(&fixture.certificates, a) > REFERENCE_VALUE.len() as CK_ULONG);
}

fn object_size(certificates: &Certificates, handle: Handle) -> CK_ULONG {
    certificates.object_size(&public(), handle).unwrap()
}
