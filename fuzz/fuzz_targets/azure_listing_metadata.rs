//! Azure listing metadata: the fuzzer's bytes as the name of a listed blob
//! and its metadata (key=value lines, as a listing returns them), read the
//! way the Azure store indexes a listing before it fetches any blob.
//!
//! Properties: a name is a certificate's only as `pkcs11_certificate_<n>`
//! with `n` in the certificate range, written one way (the name a handle
//! gives reads back as that handle and vice versa); metadata that decodes
//! encodes back into metadata that decodes the same.
#![no_main]

use azcloudhsm_pkcs11::certstore::blob_name;
use azcloudhsm_pkcs11::certstore::handles::handle_of_blob;
use azcloudhsm_pkcs11::certstore::metadata::{decode, encode};
use azcloudhsm_pkcs11::object::is_certificate_handle;
use azcloudhsm_pkcs11_fuzz::Reader;
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;

fuzz_target!(|data: &[u8]| {
    let mut reader = Reader::new(data);
    let name_length = usize::from(reader.byte());
    let name = String::from_utf8_lossy(reader.bytes(name_length)).into_owned();
    if let Some(handle) = handle_of_blob(&name) {
        assert!(is_certificate_handle(handle));
        assert_eq!(blob_name(handle), name, "one handle, two blob names");
    }
    let handle = reader.ulong();
    if is_certificate_handle(handle) {
        assert_eq!(handle_of_blob(&blob_name(handle)), Some(handle));
    }

    let text = String::from_utf8_lossy(reader.rest()).into_owned();
    let metadata: BTreeMap<String, String> = text
        .split('\n')
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect();
    if let Some(attributes) = decode(&metadata) {
        let encoded = encode(&attributes);
        assert_eq!(
            decode(&encoded).as_ref(),
            Some(&attributes),
            "metadata does not decode back to what it encodes"
        );
    }
});
