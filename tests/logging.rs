//! What the provider writes to its log during a normal client's use.
//!
//! Every test binary logs at `info` to one file per process (see
//! `common::process_log_path`), so a line that must not appear at the
//! default level (`warn`) must not appear at `info` either.

mod common;

use common::*;
use cryptoki_sys::*;
use std::ptr::null_mut;

/// python-pkcs11 asks `C_GetInterface` for versions newer than the ones
/// offered and falls back: the specified error, and no line above `debug`.
#[test]
fn probing_c_get_interface_for_a_version_not_offered_is_not_logged_above_debug() {
    let token = TestToken::new();
    let exports = raw_exports();
    let mut name = *b"PKCS 11\0";
    let mut interface: *mut CK_INTERFACE = null_mut();
    let mark = LogMark::now();
    for (major, minor) in [(3, 2), (3, 1), (4, 0), (2, 20)] {
        let mut version = CK_VERSION { major, minor };
        // SAFETY: valid pointers; the name is NUL-terminated.
        let rv =
            unsafe { exports.C_GetInterface(name.as_mut_ptr(), &mut version, &mut interface, 0) };
        assert_eq!(rv, CKR_ARGUMENTS_BAD, "C_GetInterface {major}.{minor}");
    }
    // A call that does log at info, so an empty log cannot pass for a quiet one.
    assert_eq!(ck!(C_CloseSession(0xdead_beef)), CKR_SESSION_HANDLE_INVALID);
    let log = mark.since();
    assert!(
        log.contains("C_CloseSession"),
        "the log is live at info level:\n{log}"
    );
    assert!(
        !log.contains("C_GetInterface"),
        "the probes were logged above debug:\n{log}"
    );
    drop(token);
}
