//! Message digesting (PKCS#11 3.0 §5.10).

use super::convert::{bytes, capacity, deliver, mechanism};
use super::{guard, session_provider};
use crate::provider::provider;
use cryptoki_sys::*;

/// `C_DigestInit`.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_DigestInit` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_DigestInit(
    session: CK_SESSION_HANDLE,
    mech: *mut CK_MECHANISM,
) -> CK_RV {
    guard("C_DigestInit", || {
        let provider = session_provider(session)?;
        // SAFETY: `mech` is NULL or the caller's CK_MECHANISM, its parameter readable for its
        // length; `mechanism` refuses NULL and copies what it reads
        provider.digest_init(session, &unsafe { mechanism(mech) }?)
    })
}

/// `C_Digest`.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_Digest` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_Digest(
    session: CK_SESSION_HANDLE,
    data: *mut CK_BYTE,
    data_len: CK_ULONG,
    digest: *mut CK_BYTE,
    digest_len: *mut CK_ULONG,
) -> CK_RV {
    guard("C_Digest", || {
        let provider = session_provider(session)?;
        // SAFETY: `digest_len` is NULL or the caller's length word, and `digest` NULL (a length
        // query) or a buffer of that many bytes (PKCS#11 3.0 §5.2); `capacity` refuses a NULL
        // length
        let capacity = unsafe { capacity(digest, digest_len) }?;
        // SAFETY: `data` is NULL or the caller's `data_len` readable bytes (PKCS#11 buffer
        // rule); `bytes` refuses NULL with a non-zero length
        let output = provider.digest(session, unsafe { bytes(data, data_len) }?, capacity)?;
        // SAFETY: `digest` and `digest_len` are the caller's buffer and length word, as for
        // `capacity`; `deliver` writes no more bytes than the length word allows
        unsafe { deliver(output, digest, digest_len) }
    })
}

/// `C_DigestUpdate`.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_DigestUpdate` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_DigestUpdate(
    session: CK_SESSION_HANDLE,
    part: *mut CK_BYTE,
    part_len: CK_ULONG,
) -> CK_RV {
    guard("C_DigestUpdate", || {
        let provider = session_provider(session)?;
        // SAFETY: `part` is NULL or the caller's `part_len` readable bytes (PKCS#11 buffer
        // rule); `bytes` refuses NULL with a non-zero length
        provider.digest_update(session, unsafe { bytes(part, part_len) }?)
    })
}

/// `C_DigestKey`: digests a non-sensitive secret key's value;
/// `CKR_KEY_INDIGESTIBLE` for any other key.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_DigestKey` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_DigestKey(session: CK_SESSION_HANDLE, key: CK_OBJECT_HANDLE) -> CK_RV {
    guard("C_DigestKey", || provider()?.digest_key(session, key))
}

/// `C_DigestFinal`.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_DigestFinal` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_DigestFinal(
    session: CK_SESSION_HANDLE,
    digest: *mut CK_BYTE,
    digest_len: *mut CK_ULONG,
) -> CK_RV {
    guard("C_DigestFinal", || {
        let provider = session_provider(session)?;
        // SAFETY: `digest_len` is NULL or the caller's length word, and `digest` NULL (a length
        // query) or a buffer of that many bytes (PKCS#11 3.0 §5.2); `capacity` refuses a NULL
        // length
        let capacity = unsafe { capacity(digest, digest_len) }?;
        let output = provider.digest_final(session, capacity)?;
        // SAFETY: `digest` and `digest_len` are the caller's buffer and length word, as for
        // `capacity`; `deliver` writes no more bytes than the length word allows
        unsafe { deliver(output, digest, digest_len) }
    })
}
