//! Blobs that fail verification are never returned: left out of searches,
//! refused by handle, logged with their blob name, and nothing crashes.

use super::*;
use crate::certstore::blob_name;
use crate::certstore::jws::{BlobVerifier, Rejection};
use crate::object::FIRST_CERTIFICATE_HANDLE;

/// Flips one character of a base64url text at `position` (staying in the alphabet).
fn flip(blob: &mut [u8], position: usize) {
    blob[position] = if blob[position] == b'A' { b'B' } else { b'A' };
}

type Tamper = fn(&Fixture, Handle, Vec<u8>);

/// What each case of [`tamper_cases`] must be refused as.
fn expected_rejection(what: &str, handle: Handle) -> Rejection {
    let bad_signature = Rejection::BadSignature(String::new());
    match what {
        "a flipped byte in the payload" => bad_signature,
        "a flipped byte in the signature" => bad_signature,
        "a blob signed by another key" => bad_signature,
        "a blob signed with another key id" => Rejection::UnknownKid(Some("another-key-id".into())),
        "another handle's blob copied to this name" => Rejection::HandleMismatch {
            named: handle + 100,
            handle,
        },
        "garbage" | "an empty file" => Rejection::NotJws(String::new()),
        "a JWS of malformed JSON" => Rejection::BadPayload(String::new()),
        "a signed payload naming a member twice" => Rejection::BadPayload(String::new()),
        "a signed header naming alg twice" => Rejection::NotJws(String::new()),
        other => panic!("no expected rejection for {other}"),
    }
}

/// The rejection's kind, and its data where the data is exact (not a message).
fn shape(rejection: &Rejection) -> Rejection {
    match rejection {
        Rejection::NotJws(_) => Rejection::NotJws(String::new()),
        Rejection::BadSignature(_) => Rejection::BadSignature(String::new()),
        Rejection::BadPayload(_) => Rejection::BadPayload(String::new()),
        exact => exact.clone(),
    }
}

fn tamper_cases() -> Vec<(&'static str, Tamper)> {
    vec![
        ("a flipped byte in the payload", |f, h, mut blob| {
            let dot = blob.iter().position(|b| *b == b'.').unwrap();
            flip(&mut blob, dot + 20);
            std::fs::write(f.blob_path(h), blob).unwrap();
        }),
        ("a flipped byte in the signature", |f, h, mut blob| {
            let dot = blob.iter().rposition(|b| *b == b'.').unwrap();
            flip(&mut blob, dot + 10);
            std::fs::write(f.blob_path(h), blob).unwrap();
        }),
        ("a blob signed by another key", |f, h, _| {
            let other = TestDevice::with_key(1, "blob-signing-key");
            write_blob_signed_by(f, &other, h, "victim");
        }),
        ("a blob signed with another key id", |f, h, _| {
            let other = TestDevice::with_key(0, "another-key-id");
            write_blob_signed_by(f, &other, h, "victim");
        }),
        ("another handle's blob copied to this name", |f, h, _| {
            write_signed_blob(f, h + 100, "victim");
            std::fs::rename(f.blob_path(h + 100), f.blob_path(h)).unwrap();
        }),
        ("garbage", |f, h, _| {
            std::fs::write(f.blob_path(h), b"\x00\xffnot a JWS at all").unwrap()
        }),
        ("an empty file", |f, h, _| {
            std::fs::write(f.blob_path(h), b"").unwrap()
        }),
        ("a JWS of malformed JSON", |f, h, _| {
            let blob = signed_by_the_store(f, HEADER.as_bytes(), b"{not json");
            std::fs::write(f.blob_path(h), blob).unwrap();
        }),
        ("a signed payload naming a member twice", |f, h, blob| {
            // The same member twice, with the same value: still two ways to
            // read one text, so refused.
            let payload = String::from_utf8(payload_of(&blob)).unwrap();
            let doubled = format!("{{\"format\":1,{}", &payload[1..]);
            assert!(payload.starts_with("{\"format\":1,"), "{payload}");
            let blob = signed_by_the_store(f, HEADER.as_bytes(), doubled.as_bytes());
            std::fs::write(f.blob_path(h), blob).unwrap();
        }),
        ("a signed header naming alg twice", |f, h, blob| {
            let header = r#"{"alg":"RS512","alg":"RS512","kid":"blob-signing-key"}"#;
            let blob = signed_by_the_store(f, header.as_bytes(), &payload_of(&blob));
            std::fs::write(f.blob_path(h), blob).unwrap();
        }),
    ]
}

/// The protected header the store writes.
const HEADER: &str = r#"{"alg":"RS512","kid":"blob-signing-key"}"#;

/// The decoded payload of a blob.
fn payload_of(blob: &[u8]) -> Vec<u8> {
    let text = std::str::from_utf8(blob).unwrap();
    crate::certstore::encoding::base64url_decode(text.split('.').nth(1).unwrap()).unwrap()
}

/// A compact JWS of `header` and `payload`, signed with the store's own key.
fn signed_by_the_store(fixture: &Fixture, header: &[u8], payload: &[u8]) -> String {
    use crate::certstore::encoding::base64url_encode;
    let message = format!("{}.{}", base64url_encode(header), base64url_encode(payload));
    let signature = fixture.device.key().sign_rs512(message.as_bytes()).unwrap();
    format!("{message}.{}", base64url_encode(&signature))
}

#[test]
fn tampered_blobs_are_left_out_of_searches_with_a_log_line() {
    for (what, tamper) in tamper_cases() {
        let fixture = Fixture::new();
        let good = fixture.create_reference(true, "victim");
        let victim = fixture.create_reference(true, "victim");
        let blob = fixture.blob(victim);
        tamper(&fixture, victim, blob);
        for certificates in [&fixture.certificates, &fixture.reopen()] {
            let label = [bytes(CKA_LABEL, b"victim")];
            let (found, logs) = capture_logs(|| {
                (
                    certificates.find(&public(), &label).unwrap(),
                    certificates.find(&user(), &[]).unwrap(),
                )
            });
            assert_eq!(found, (vec![good], vec![good]), "{what}");
            assert!(
                logs.contains(&blob_name(victim)) && logs.contains("WARN"),
                "{what}: logs were {logs:?}"
            );
            let error = certificates
                .get_attributes(&user(), victim, &[CKA_LABEL])
                .unwrap_err();
            assert_eq!(error.rv(), CKR_OBJECT_HANDLE_INVALID, "{what}");
        }
    }
}

#[test]
fn each_kind_of_tampering_is_refused_with_its_own_reason() {
    for (what, tamper) in tamper_cases() {
        let fixture = Fixture::new();
        let victim = fixture.create_reference(true, "victim");
        let blob = fixture.blob(victim);
        let verifier = BlobVerifier::new(fixture.device.key().as_ref()).unwrap();
        assert!(
            verifier.check_blob(victim, &blob).is_ok(),
            "{what}: untouched"
        );
        tamper(&fixture, victim, blob);
        let tampered = fixture.blob(victim);
        let rejection = verifier.check_blob(victim, &tampered).unwrap_err();
        assert_eq!(
            shape(&rejection),
            expected_rejection(what, victim),
            "{what}: {rejection}"
        );
    }
}

#[test]
fn a_rejected_blob_is_logged_once_per_version_not_on_every_search() {
    let fixture = Fixture::new();
    std::fs::write(fixture.blob_path(FIRST_CERTIFICATE_HANDLE), b"garbage").unwrap();
    let (_, first) = capture_logs(|| find_all(&fixture.certificates, &public()));
    let (_, second) = capture_logs(|| find_all(&fixture.certificates, &public()));
    assert!(first.contains(&blob_name(FIRST_CERTIFICATE_HANDLE)));
    assert_eq!(second, "");
}

#[test]
fn a_tampered_handle_is_not_reused_for_new_certificates() {
    let fixture = Fixture::new();
    std::fs::write(fixture.blob_path(FIRST_CERTIFICATE_HANDLE), b"garbage").unwrap();
    let handle = fixture.create_reference(true, "x");
    assert_eq!(handle, FIRST_CERTIFICATE_HANDLE + 1);
}

#[test]
fn files_that_are_not_certificate_blobs_are_ignored() {
    let fixture = Fixture::new();
    let handle = fixture.create_reference(true, "x");
    for name in [
        "README",
        "pkcs11_certificate_12",
        "pkcs11_certificate_0x1",
        ".tmp-leftover",
        "pkcs11_certificate_04293918720",
    ] {
        std::fs::write(fixture.dir.path().join(name), b"whatever").unwrap();
    }
    std::fs::create_dir(fixture.dir.path().join("pkcs11_certificate_4293918730")).unwrap();
    assert_eq!(find_all(&fixture.reopen(), &public()), vec![handle]);
}

#[test]
fn peeking_a_blob_gives_exactly_its_searchable_attributes() {
    // The index is built by peeking; it must see what verification will see.
    let fixture = Fixture::new();
    let handle = FIRST_CERTIFICATE_HANDLE + 5;
    write_signed_blob(&fixture, handle, "peeked");
    let content = fixture.blob(handle);
    let peeked = crate::certstore::jws::peek_blob(handle, &content).unwrap();
    let verifier = crate::certstore::jws::BlobVerifier::new(fixture.device.key().as_ref()).unwrap();
    let verified = verifier.verify_blob(handle, &content).unwrap();
    assert_eq!(
        peeked,
        crate::certstore::rules::search_attributes(&verified)
    );
    assert_eq!(
        crate::certstore::rules::searchable_kinds().count(),
        peeked.0.len()
    );
}
