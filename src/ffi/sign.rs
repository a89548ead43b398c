//! Signing and MACing (PKCS#11 3.0 §5.11).

use super::convert::{bytes, capacity, deliver, mechanism};
use super::{guard, session_provider};
use cryptoki_sys::*;

/// `C_SignInit`.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_SignInit` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_SignInit(
    session: CK_SESSION_HANDLE,
    mech: *mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
) -> CK_RV {
    guard("C_SignInit", || {
        let provider = session_provider(session)?;
        // SAFETY: `mech` is NULL or the caller's CK_MECHANISM, its parameter readable for its
        // length; `mechanism` refuses NULL and copies what it reads
        provider.sign_init(session, &unsafe { mechanism(mech) }?, key)
    })
}

/// `C_Sign`.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_Sign` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_Sign(
    session: CK_SESSION_HANDLE,
    data: *mut CK_BYTE,
    data_len: CK_ULONG,
    signature: *mut CK_BYTE,
    signature_len: *mut CK_ULONG,
) -> CK_RV {
    guard("C_Sign", || {
        let provider = session_provider(session)?;
        // SAFETY: `signature_len` is NULL or the caller's length word, and `signature` NULL (a
        // length query) or a buffer of that many bytes (PKCS#11 3.0 §5.2); `capacity` refuses a
        // NULL length
        let capacity = unsafe { capacity(signature, signature_len) }?;
        // SAFETY: `data` is NULL or the caller's `data_len` readable bytes (PKCS#11 buffer
        // rule); `bytes` refuses NULL with a non-zero length
        let output = provider.sign(session, unsafe { bytes(data, data_len) }?, capacity)?;
        // SAFETY: `signature` and `signature_len` are the caller's buffer and length word, as
        // for `capacity`; `deliver` writes no more bytes than the length word allows
        unsafe { deliver(output, signature, signature_len) }
    })
}

/// `C_SignUpdate`.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_SignUpdate` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_SignUpdate(
    session: CK_SESSION_HANDLE,
    part: *mut CK_BYTE,
    part_len: CK_ULONG,
) -> CK_RV {
    guard("C_SignUpdate", || {
        let provider = session_provider(session)?;
        // SAFETY: `part` is NULL or the caller's `part_len` readable bytes (PKCS#11 buffer
        // rule); `bytes` refuses NULL with a non-zero length
        provider.sign_update(session, unsafe { bytes(part, part_len) }?)
    })
}

/// `C_SignFinal`.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_SignFinal` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_SignFinal(
    session: CK_SESSION_HANDLE,
    signature: *mut CK_BYTE,
    signature_len: *mut CK_ULONG,
) -> CK_RV {
    guard("C_SignFinal", || {
        let provider = session_provider(session)?;
        // SAFETY: `signature_len` is NULL or the caller's length word, and `signature` NULL (a
        // length query) or a buffer of that many bytes (PKCS#11 3.0 §5.2); `capacity` refuses a
        // NULL length
        let capacity = unsafe { capacity(signature, signature_len) }?;
        let output = provider.sign_final(session, capacity)?;
        // SAFETY: `signature` and `signature_len` are the caller's buffer and length word, as
        // for `capacity`; `deliver` writes no more bytes than the length word allows
        unsafe { deliver(output, signature, signature_len) }
    })
}
