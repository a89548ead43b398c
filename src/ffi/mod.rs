//! The C boundary: every exported `C_*` function, the function lists and
//! interfaces, the calls this crate makes into C itself (`os`, `openssl`),
//! and the vendor's PKCS#11 module that the vendor device forwards to
//! (`vendor`). This is the only code the crate root lets use `unsafe`
//! (`#![deny(unsafe_code)]`); every block says why it is sound
//! (`clippy::undocumented_unsafe_blocks`).
//!
//! Each export is a thin shell: convert the arguments (checking pointers),
//! call one safe function, map the result with `guard`, which also stops
//! any panic from crossing into the caller. Each chapter's file lists its
//! exports in one `export!` table (`export.rs`), which writes each C shape
//! once. The safety contract of every
//! export is the PKCS#11 specification's: pointers are either NULL (refused
//! with `CKR_ARGUMENTS_BAD` where the specification does not allow NULL) or
//! valid for the lengths the caller gives.
#![allow(non_snake_case)]

mod convert;
mod export;
mod fork;
mod kdf_params;
pub(crate) mod openssl;
pub(crate) mod os;
pub(crate) mod vendor;

/// Declares the chapters of exported C functions: public to the crate's
/// own tests and fuzz targets (feature `testing`), which call them as Rust
/// functions; private otherwise, since a C caller reaches them through
/// their exported symbols and the function lists, never a Rust path.
macro_rules! chapters {
    ($($name:ident),* $(,)?) => {
        $(
            #[cfg(feature = "testing")]
            pub mod $name;
            #[cfg(not(feature = "testing"))]
            #[allow(unreachable_pub)]
            mod $name;
        )*
    };
}

chapters!(
    decrypt,
    digest,
    encrypt,
    general,
    key,
    message,
    object,
    random,
    session,
    sign,
    slot_token,
    unsupported,
    verify,
);

use crate::error::{Error, Result};
use crate::provider::{provider, Provider};
use cryptoki_sys::*;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

/// The provider, once `session` is known to be one of its open sessions.
/// PKCS#11 3.0 §5.1.7: the codes of §5.1.2 (`CKR_SESSION_HANDLE_INVALID`)
/// take precedence over those of §5.1.6 (`CKR_ARGUMENTS_BAD`, ...), so a
/// session function checks its handle before any pointer or length.
pub(crate) fn session_provider(session: CK_SESSION_HANDLE) -> Result<Arc<Provider>> {
    let provider = provider()?;
    provider.check_session(session)?;
    Ok(provider)
}

/// The operation a call of `function` continues, by the flag
/// `C_SessionCancel` names it by; 0 for a function that continues none.
fn continued_operation(function: &str) -> CK_FLAGS {
    match function {
        "C_Encrypt" | "C_EncryptUpdate" | "C_EncryptFinal" => CKF_ENCRYPT,
        "C_Decrypt" | "C_DecryptUpdate" | "C_DecryptFinal" => CKF_DECRYPT,
        "C_Digest" | "C_DigestUpdate" | "C_DigestFinal" => CKF_DIGEST,
        "C_Sign" | "C_SignUpdate" | "C_SignFinal" => CKF_SIGN,
        "C_Verify" | "C_VerifyUpdate" | "C_VerifyFinal" => CKF_VERIFY,
        _ => 0,
    }
}

/// `arguments`, the caller's arguments read by `convert.rs`; when they
/// are refused, the operation `function` continues ends before the error
/// returns: every error of a call but `CKR_BUFFER_TOO_SMALL` and a length
/// query ends its operation (PKCS#11 3.0 §5.2, and "A call to C_X which
/// results in an error terminates the current operation" of each one).
pub(crate) fn ending_on_error<T>(
    provider: &Provider,
    session: CK_SESSION_HANDLE,
    function: &'static str,
    arguments: Result<T>,
) -> Result<T> {
    if arguments.is_err() {
        let operation = continued_operation(function);
        if operation != 0 {
            // The session was checked before the arguments; a failure to
            // cancel changes nothing the caller can see.
            let _ = provider.cancel(session, operation);
        }
    }
    arguments
}

/// Runs `f`, turning its result into a `CK_RV` and a panic into
/// `CKR_GENERAL_ERROR`, and logging failures with the function's name.
pub(crate) fn guard(function: &'static str, f: impl FnOnce() -> Result<()>) -> CK_RV {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => CKR_OK,
        Ok(Err(error)) => {
            log_error(function, &error);
            error.rv()
        }
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!("{function}: internal error (panic): {message}");
            CKR_GENERAL_ERROR
        }
    }
}

fn log_error(function: &'static str, error: &Error) {
    match error {
        // Part of the normal flow of the two-call conventions and probes.
        Error::BufferTooSmall
        | Error::AttributeTypeInvalid(_)
        | Error::AttributeSensitive(_)
        | Error::UserAlreadyLoggedIn
        | Error::InterfaceNotOffered(_)
        | Error::KeyIndigestible
        | Error::RandomSeedNotSupported
        | Error::FunctionNotParallel
        | Error::NotInitialized
        | Error::AlreadyInitialized => tracing::debug!("{function}: {error}"),
        Error::ArgumentsBad(_) => tracing::warn!("{function}: {error}"),
        // The vendor device is lost or broken: worth an error line.
        Error::Vendor { rv, .. }
            if matches!(
                *rv,
                CKR_DEVICE_ERROR
                    | CKR_DEVICE_REMOVED
                    | CKR_DEVICE_MEMORY
                    | CKR_TOKEN_NOT_PRESENT
                    | CKR_SESSION_HANDLE_INVALID
                    | CKR_SESSION_CLOSED
                    | CKR_GENERAL_ERROR
                    | CKR_FUNCTION_FAILED
                    | CKR_CRYPTOKI_NOT_INITIALIZED
            ) =>
        {
            tracing::error!("{function}: {error}")
        }
        Error::Vendor {
            rv: CKR_ATTRIBUTE_TYPE_INVALID | CKR_ATTRIBUTE_SENSITIVE | CKR_USER_ALREADY_LOGGED_IN,
            ..
        } => tracing::debug!("{function}: {error}"),
        // The token, its storage or the library failed: worth an error line.
        Error::Vendor { .. } => tracing::info!("{function}: {error}"),
        _ if matches!(
            error.rv(),
            CKR_DEVICE_ERROR | CKR_DEVICE_MEMORY | CKR_GENERAL_ERROR | CKR_FUNCTION_FAILED
        ) =>
        {
            tracing::error!("{function}: {error}")
        }
        _ => tracing::info!("{function}: {error}"),
    }
}
