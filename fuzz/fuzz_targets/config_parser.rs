//! The configuration file: the fuzzer's bytes as the text of
//! `azcloudhsm_application.cfg`, parsed as `C_Initialize` parses it.
//!
//! Properties: no panic and no hang on any text, and the error of a text
//! that is refused never quotes a value: the key of a line is named only
//! when it is one of the known keys (a misplaced secret stays out of the
//! log).
#![no_main]

use azcloudhsm_pkcs11::config::Config;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

/// A marker no key name contains: if the refusal of a text holding it
/// quotes it, it quoted a value.
const SECRET: &str = "S3CR3T";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("/nonexistent/azcloudhsm_application.cfg");
    if let Err(error) = Config::parse(text, path) {
        let message = error.to_string();
        if text.contains(SECRET) {
            assert!(
                !message.contains(SECRET),
                "a refused configuration quotes its text: {message}"
            );
        }
    }
});
