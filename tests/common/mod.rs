//! The shared harness of the integration tests and the benches: load the
//! built cdylib, give each test a fresh token in its own temporary
//! directory (with local or Azurite certificate storage), offer the raw C ABI
//! for the calls a safe client cannot make (NULL pointers, bad handles), and
//! run second processes.
//!
//! The provider is a process-wide singleton (one `C_Initialize` per process)
//! while `cargo test` runs the tests of one binary as threads of one process,
//! so every [`TestToken`] holds [`lock`] for its whole life, and a test that
//! initialises the provider any other way takes it first.
//!
//! Two-process tests re-run the test executable with one `#[ignore]`d worker
//! test selected (see [`spawn_worker`]); a worker panics when run without its
//! environment, so CI must never pass `--include-ignored`.
//!
//! Used from `tests/*.rs` as `mod common;` and from the benches as
//! `#[path = "../tests/common/mod.rs"] mod common;`; not every user needs
//! every helper.
#![allow(dead_code, unused_imports)]

mod abi;
mod azurite;
mod certs_tool;
mod derive;
mod kbkdf;
mod keys;
mod raw_objects;
mod store;
mod token;
mod vendor;
mod watchdog;
mod workers;

pub use abi::*;
pub use azurite::*;
pub use certs_tool::*;
pub use derive::*;
pub use kbkdf::*;
pub use keys::*;
pub use raw_objects::*;
pub use store::*;
pub use token::*;
pub use vendor::*;
pub use watchdog::*;
pub use workers::*;

use cryptoki::error::{Error, RvError};
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

/// The SO PIN every test token is initialised with.
pub const SO_PIN: &str = "so-pin-1234";
/// The user PIN, in the vendor's `<username>:<password>` form.
pub const USER_PIN: &str = "cu1:user1234";
/// The label of every test token.
pub const TOKEN_LABEL: &str = "test";
/// The slot the Azure Cloud HSM samples hard-code.
pub const SLOT_ID: u64 = 1;
/// The environment variable naming the configuration file.
pub const CONFIG_ENV: &str = "AZCLOUDHSM_CONFIG";

/// Serialises the tests of one binary: the provider is one per process.
static LOCK: Mutex<()> = Mutex::new(());

/// Takes the process-wide test lock, surviving a test that panicked with it.
pub fn lock() -> MutexGuard<'static, ()> {
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The crate's root directory (for `.ci/`, `include/` and `examples/`).
pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The built `libazcloudhsm_pkcs11.so`: `AZCLOUDHSM_PKCS11_LIB`, else beside
/// the test executable (`target/release/deps`), else its parent.
pub fn library_path() -> PathBuf {
    const NAME: &str = "libazcloudhsm_pkcs11.so";
    if let Some(path) = std::env::var_os("AZCLOUDHSM_PKCS11_LIB").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "AZCLOUDHSM_PKCS11_LIB names {} which is not a file",
            path.display()
        );
        return path;
    }
    let exe = std::env::current_exe().expect("the test executable's path");
    let deps = exe.parent().expect("the test executable's directory");
    let mut tried = Vec::new();
    for dir in [Some(deps), deps.parent()].into_iter().flatten() {
        let candidate = dir.join(NAME);
        if candidate.is_file() {
            return candidate;
        }
        tried.push(candidate);
    }
    panic!(
        "cannot find {NAME}: set AZCLOUDHSM_PKCS11_LIB or build with `cargo test --release` (tried {tried:?})"
    );
}

/// The PKCS#11 error code of a failed call, for assertions.
pub fn rv_of<T: std::fmt::Debug>(result: cryptoki::error::Result<T>) -> RvError {
    match result {
        Err(Error::Pkcs11(rv, _)) => rv,
        other => panic!("expected a PKCS#11 error, got {other:?}"),
    }
}

/// Asserts that `result` failed with `expected`.
#[track_caller]
pub fn assert_rv<T: std::fmt::Debug>(result: cryptoki::error::Result<T>, expected: RvError) {
    match result {
        Err(Error::Pkcs11(rv, function)) => assert_eq!(
            rv, expected,
            "{function:?} returned {rv:?}, expected {expected:?}"
        ),
        other => panic!("expected {expected:?}, got {other:?}"),
    }
}
