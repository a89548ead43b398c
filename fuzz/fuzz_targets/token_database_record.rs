//! The token database's attribute records: the fuzzer's bytes as the
//! encoded attributes of a row of the soft token's SQLite database (a file
//! on disk anyone with the directory's permissions could edit).
//!
//! Property: a record that decodes encodes back to a record that decodes
//! the same.
#![no_main]

use azcloudhsm_pkcs11::device::soft::database::{decode_attributes, encode_attributes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(attributes) = decode_attributes(data) {
        let encoded = encode_attributes(&attributes);
        assert_eq!(
            decode_attributes(&encoded).as_ref(),
            Some(&attributes),
            "a record does not decode back to what it encodes"
        );
    }
});
