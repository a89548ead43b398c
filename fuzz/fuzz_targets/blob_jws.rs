//! Certificate blobs: the fuzzer's bytes as a blob's content (read by
//! `blob_key_id`, `peek_blob` and `BlobVerifier::check_blob`), or as the
//! payload or the protected header of a blob signed with the fuzzing key,
//! so that the checks behind a good signature are reached too; and as
//! base64url text.
//!
//! Properties: a blob that verifies also peeks, and every attribute the
//! peek indexes is the verified one; a signed payload verifies exactly when
//! `read_payload` accepts it, with the same attributes; what verifies is
//! written back (`payload`) into a payload that reads back the same; a blob
//! verifies only with `alg` RS512 and the verifier's `kid`; base64url has
//! one encoding per value.
#![no_main]

use azcloudhsm_pkcs11::certstore::encoding::{base64url_decode, base64url_encode};
use azcloudhsm_pkcs11::certstore::jws::{
    blob_key_id, payload, peek_blob, read_payload, BlobVerifier,
};
use azcloudhsm_pkcs11::object::{Attributes, Handle};
use azcloudhsm_pkcs11_fuzz::{FuzzBlobKey, Reader, FUZZ_BLOB_KEY_ID};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn verifier() -> &'static BlobVerifier {
    static VERIFIER: OnceLock<BlobVerifier> = OnceLock::new();
    VERIFIER.get_or_init(|| BlobVerifier::new(FuzzBlobKey::get()).expect("the verifier"))
}

/// Reads `content` every way the store does and checks they agree.
fn read_blob(handle: Handle, content: &[u8]) -> Option<Attributes> {
    let kid = blob_key_id(content);
    let peeked = peek_blob(handle, content);
    let verified = verifier().check_blob(handle, content).ok()?;
    assert_eq!(
        kid.expect("a verified blob has a header"),
        Some(FUZZ_BLOB_KEY_ID.to_string())
    );
    let peeked = peeked.expect("a verified blob peeks");
    for (kind, value) in &peeked.0 {
        assert_eq!(
            verified.get(*kind),
            Some(value.as_slice()),
            "the peek indexes 0x{kind:x} with another value than the blob holds"
        );
    }
    let written = payload(handle, &verified);
    assert_eq!(
        read_payload(handle, &written).as_ref(),
        Ok(&verified),
        "a verified certificate does not read back from its own payload"
    );
    Some(verified)
}

fuzz_target!(|data: &[u8]| {
    let mut reader = Reader::new(data);
    let mode = reader.byte();
    let handle: Handle = match reader.byte() % 4 {
        0 => 0xFFF0_0000,
        1 => 0xFFFF_FFFE,
        2 => 0xFFF0_0001,
        _ => reader.ulong(),
    };
    match mode % 4 {
        0 => {
            read_blob(handle, reader.rest());
        }
        1 => {
            let text = reader.rest();
            let blob = FuzzBlobKey::get().compact(
                format!(r#"{{"alg":"RS512","kid":"{FUZZ_BLOB_KEY_ID}"}}"#).as_bytes(),
                text,
            );
            let verified = read_blob(handle, blob.as_bytes());
            assert_eq!(
                verified.as_ref(),
                read_payload(handle, text).ok().as_ref(),
                "a signed payload verifies differently from how it reads"
            );
        }
        2 => {
            let header_length = usize::from(reader.byte());
            let header = reader.bytes(header_length).to_vec();
            let text = reader.rest();
            let blob = FuzzBlobKey::get().compact(&header, text);
            if read_blob(handle, blob.as_bytes()).is_some() {
                let header: serde_json::Value =
                    serde_json::from_slice(&header).expect("a verified header is JSON");
                assert_eq!(header["alg"], "RS512");
                assert_eq!(header["kid"], FUZZ_BLOB_KEY_ID);
            }
        }
        _ => {
            let bytes = reader.rest();
            assert_eq!(
                base64url_decode(&base64url_encode(bytes)).as_deref(),
                Some(bytes)
            );
            if let Ok(text) = std::str::from_utf8(bytes) {
                if let Some(decoded) = base64url_decode(text) {
                    assert_eq!(
                        base64url_encode(&decoded),
                        text,
                        "two encodings of one value"
                    );
                }
            }
        }
    }
});
